//! Database instances: rows change and are backed up through Cloud Databases (full and
//! incremental) and the admin API; every restore (Cloud Databases' `restorePoint`, the admin
//! API's and the CLI's new instance) creates a new database holding exactly the backup's rows and
//! leaves the original database's file byte for byte as it was.

use std::{path::Path, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

use crate::helpers::{ADMIN_PASSWORD, get, post, spawn_app, wait_for};

async fn connect(path: &Path) -> sqlx::SqliteConnection {
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&opts).await.unwrap()
}

async fn rows(path: &Path) -> Vec<(i64, String)> {
    let mut conn = connect(path).await;
    sqlx::query_as("SELECT id, v FROM t ORDER BY id").fetch_all(&mut conn).await.unwrap()
}

/// The original database as bytes, once no connection of the test holds it.
fn bytes(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap()).to_hex().to_string()
}

#[tokio::test]
async fn no_database_restore_touches_the_original_and_each_new_instance_holds_its_backups_rows() {
    let seed = super::seed("databases");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_app().await;
    let token = app.login("admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.sqlite");
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").execute(&mut connect(&db).await).await.unwrap();
    let body = json!({ "name": "shop", "datastore": "sqlite", "datastore_version": "3", "location": db, "flavor": "2", "flavor_ram_mb": 1024, "volume_gb": 2 });
    let (status, inst) = post(&app, &token, "/admin/v1/instances", body).await;
    assert_eq!(status, 201, "{inst}");
    let instance = inst["id"].as_str().unwrap().to_owned();
    let mut backups: Vec<(String, Vec<(i64, String)>)> = Vec::new();
    let mut log = vec![format!("seed {seed}")];
    let steps = super::steps().div_ceil(2);
    for step in 0..=steps {
        {
            let mut conn = connect(&db).await;
            for i in 0..rng.random_range(1..6) {
                let statement = match rng.random_range(0..3) {
                    0 => format!("UPDATE t SET v = 'changed {step}.{i}' WHERE id % 3 = {}", rng.random_range(0..3)),
                    1 => "DELETE FROM t WHERE id = (SELECT min(id) FROM t) AND (SELECT count(*) FROM t) > 3".to_owned(),
                    _ => format!("INSERT INTO t (v) VALUES ('row {step}.{i}')"),
                };
                sqlx::query(AssertSqlSafe(statement)).execute(&mut conn).await.unwrap();
            }
        }
        if backups.is_empty() || rng.random_bool(0.4) {
            let expected = rows(&db).await;
            let incremental = !backups.is_empty() && rng.random_bool(0.5);
            let body = json!({ "backup": { "instance": instance, "name": format!("b{step}"), "incremental": incremental } });
            let (status, created) = post(&app, &token, "/v1.0/default/backups", body).await;
            assert_eq!(status, 202, "{created}");
            let id = created["backup"]["id"].as_str().unwrap().to_owned();
            let mut state = Value::Null;
            for _ in 0..600 {
                state = get(&app, &token, &format!("/v1.0/default/backups/{id}")).await.1;
                if !matches!(state["backup"]["status"].as_str(), Some("NEW" | "BUILDING")) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(state["backup"]["status"], "COMPLETED", "{state}");
            log.push(format!("backup {id} of {} rows", expected.len()));
            backups.push((id, expected));
            continue;
        }
        let (backup, expected) = backups.choose(&mut rng).unwrap().clone();
        let (original, original_rows) = (bytes(&db), rows(&db).await);
        let name = format!("copy{step}");
        let new_instance = match rng.random_range(0..3) {
            0 => {
                let body = json!({ "instance": { "name": name, "flavorRef": 1, "volume": { "size": 2 }, "restorePoint": { "backupRef": backup } } });
                let (status, created) = post(&app, &token, "/v1.0/default/instances", body).await;
                assert_eq!(status, 200, "{created}");
                let id = created["instance"]["id"].as_str().unwrap().to_owned();
                for _ in 0..600 {
                    if get(&app, &token, &format!("/v1.0/default/instances/{id}")).await.1["instance"]["status"] != "BUILD" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                id
            }
            1 => {
                let body = json!({ "target": { "type": "new_instance", "name": name } });
                let (status, op) = post(&app, &token, &format!("/admin/v1/backups/{backup}/restore"), body).await;
                assert_eq!(status, 202, "{op}");
                let op = wait_for(&app, &token, op["id"].as_str().unwrap()).await;
                assert_eq!(op["state"], "succeeded", "{op}");
                op["result"]["source_id"].as_str().unwrap().to_owned()
            }
            _ => {
                let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
                    .args(["restore", &backup, "--new-instance", &name])
                    .env("COFFER_SERVER", &app.base)
                    .env("COFFER_USER", "admin")
                    .env("COFFER_PASSWORD", ADMIN_PASSWORD)
                    .output()
                    .await
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let done: Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
                done["result"]["source_id"].as_str().unwrap_or_else(|| panic!("{done}")).to_owned()
            }
        };
        log.push(format!("restore of {backup} into {name} ({new_instance})"));
        let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{new_instance}")).await;
        let location = source["nodes"][0]["location"].as_str().unwrap_or_else(|| panic!("{source}\n{}", log.join("\n")));
        assert_ne!(Path::new(location), db.as_path());
        assert_eq!(rows(Path::new(location)).await, expected, "the new instance holds its backup's rows\n{}", log.join("\n"));
        assert_eq!((bytes(&db), rows(&db).await), (original, original_rows), "the restore touched the original\n{}", log.join("\n"));
    }
}
