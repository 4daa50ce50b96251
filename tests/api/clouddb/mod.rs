//! Rackspace Cloud Databases v1.0 over the engine, asserting the Trove JSON bodies.

mod regions;

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

use crate::helpers::{ADMIN_PASSWORD, TestApp, get, post, spawn_app, spawn_app_with};

async fn v2_token(app: &TestApp, user: &str, password: &str) -> String {
    let body = json!({ "auth": { "passwordCredentials": { "username": user, "password": password }, "tenantId": "default" } });
    let resp: Value = app.client.post(app.url("/v2.0/tokens")).json(&body).send().await.unwrap().json().await.unwrap();
    resp["access"]["token"]["id"].as_str().unwrap().to_owned()
}

async fn sqlite_instance(app: &TestApp, token: &str, dir: &std::path::Path, rows: i64) -> (String, std::path::PathBuf) {
    named_sqlite_instance(app, token, dir, "shop", rows).await
}

async fn named_sqlite_instance(app: &TestApp, token: &str, dir: &std::path::Path, name: &str, rows: i64) -> (String, std::path::PathBuf) {
    let path = dir.join(format!("{name}.sqlite"));
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)").execute(&mut conn).await.unwrap();
    for i in 0..rows {
        sqlx::query(AssertSqlSafe(format!("INSERT INTO t (v) VALUES ('row {i}')"))).execute(&mut conn).await.unwrap();
    }
    let (status, inst) = post(app, token, "/admin/v1/instances", json!({ "name": name, "datastore": "sqlite", "datastore_version": "3", "location": path, "flavor": "2", "flavor_ram_mb": 1024, "volume_gb": 2 })).await;
    assert_eq!(status, 201, "{inst}");
    (inst["id"].as_str().unwrap().to_owned(), path)
}

async fn add_rows(path: &std::path::Path, n: i64) {
    let mut conn = sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(path)).await.unwrap();
    for i in 0..n {
        sqlx::query(AssertSqlSafe(format!("INSERT INTO t (v) VALUES ('later {i}')"))).execute(&mut conn).await.unwrap();
    }
}

async fn count_rows(path: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(path)).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&mut conn).await.unwrap()
}

/// Runs a client script from tests/compat with a private HOME (cdbclient caches tokens there) and
/// returns the JSON it printed.
async fn run_client(python: String, script: &str, args: &[String], home: &std::path::Path) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat").join(script);
    let (args, home) = (args.to_vec(), home.to_path_buf());
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(python).arg(&script).args(args).env("HOME", home).output().unwrap())
            .await
            .unwrap();
    assert!(out.status.success(), "the client failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn until_status(app: &TestApp, token: &str, path: &str, key: &str, want: &str) -> Value {
    for _ in 0..300 {
        let (_, body) = get(app, token, path).await;
        if body[key]["status"] == want {
            return body[key].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never became {want}");
}

#[tokio::test]
async fn an_instance_backup_lifecycle_speaks_trove_shapes_end_to_end() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, db_path) = sqlite_instance(&app, &token, dir.path(), 100).await;

    // Create, as troveclient sends it.
    let body = json!({ "backup": { "name": "snapshot", "incremental": 0, "instance": instance, "description": "My Backup" } });
    let (status, created) = post(&app, &token, "/v1.0/default/backups", body).await;
    assert_eq!(status, 202, "{created}");
    let b = &created["backup"];
    for field in [
        "id",
        "name",
        "description",
        "status",
        "instance_id",
        "parent_id",
        "locationRef",
        "size",
        "created",
        "updated",
        "datastore",
        "source",
        "is_automated",
        "flavor_ram",
        "type",
        "volume_size",
        "project_id",
    ] {
        assert!(b.get(field).is_some(), "backup lacks {field}: {b}");
    }
    assert!(matches!(b["status"].as_str(), Some("NEW" | "BUILDING" | "COMPLETED")));
    assert_eq!(b["instance_id"], instance.as_str());
    assert_eq!(b["source"], json!({ "type": "instance", "id": instance }));
    assert_eq!(b["datastore"]["type"], "sqlite");
    assert_eq!(b["flavor_ram"], 1024);
    assert_eq!(b["volume_size"], 2);
    assert_eq!(b["created"].as_str().unwrap().len(), 20, "YYYY-MM-DDTHH:MM:SSZ");
    let full = b["id"].as_str().unwrap().to_owned();
    let done = until_status(&app, &token, &format!("/v1.0/default/backups/{full}"), "backup", "COMPLETED").await;
    assert!(done["size"].as_f64().unwrap() > 0.0);
    assert!(done["locationRef"].is_string());

    // Incremental on the latest completed backup; the rows written before it must come back.
    add_rows(&db_path, 25).await;
    let (status, inc) =
        post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "inc", "incremental": 1, "instance": instance } })).await;
    assert_eq!(status, 202, "{inc}");
    assert_eq!(inc["backup"]["parent_id"], full.as_str());
    assert_eq!(inc["backup"]["type"], "SqliteSnapshot");
    let inc_id = inc["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("/v1.0/default/backups/{inc_id}"), "backup", "COMPLETED").await;

    // Lists, filters, pages (pyrax sends marker=0).
    let (_, all) = get(&app, &token, "/v1.0/default/backups").await;
    assert_eq!(all["backups"].as_array().unwrap().len(), 2);
    let (_, none) = get(&app, &token, "/v1.0/default/backups?datastore=mysql").await;
    assert_eq!(none["backups"], json!([]));
    let (_, first_page) = get(&app, &token, "/v1.0/default/backups?limit=1").await;
    assert_eq!(first_page["backups"].as_array().unwrap().len(), 1);
    let next = first_page["links"][0]["href"].as_str().unwrap();
    assert_eq!(first_page["links"][0]["rel"], "next");
    let marker = next.split("marker=").nth(1).unwrap();
    let (_, second_page) = get(&app, &token, &format!("/v1.0/default/backups?limit=1&marker={marker}")).await;
    assert_eq!(second_page["backups"].as_array().unwrap().len(), 1);
    assert_ne!(second_page["backups"][0]["id"], first_page["backups"][0]["id"]);
    assert!(second_page.get("links").is_none());
    let (_, filtered) = get(&app, &token, "/v1.0/default/backups?datastore=sqlite&limit=1").await;
    let next = filtered["links"][0]["href"].as_str().unwrap();
    assert!(next.contains("datastore=sqlite") && next.contains("limit=1&marker="), "the next page keeps the filter: {next}");
    let (_, of_instance) = get(&app, &token, &format!("/v1.0/default/instances/{instance}/backups?limit=20&marker=0")).await;
    assert_eq!(of_instance["backups"].as_array().unwrap().len(), 2);

    // Restore the incremental into a new instance, with a flavor href as pyrax sends it.
    let flavor_href = format!("{}/v1.0/default/flavors/1", app.base);
    let body = json!({ "instance": { "name": "json_restore", "flavorRef": flavor_href, "volume": { "size": 2 }, "restorePoint": { "backupRef": inc_id } } });
    let (status, restored) = post(&app, &token, "/v1.0/default/instances", body).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["instance"]["name"], "json_restore");
    assert_eq!(restored["instance"]["volume"]["size"], 2);
    let new_id = restored["instance"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("/v1.0/default/instances/{new_id}"), "instance", "ACTIVE").await;
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{new_id}")).await;
    assert_eq!(count_rows(source["nodes"][0]["location"].as_str().unwrap()).await, 125);

    // Copy to IAD; LON is refused.
    let (status, _) = post(
        &app,
        &token,
        &format!("/v1.0/default/backups/{full}/action"),
        json!({ "copy-backup": { "target_backup_region": "IAD", "name": null, "description": "" } }),
    )
    .await;
    assert_eq!(status, 202);
    // The copy is a backup of its own in IAD, named as the original when no name is given.
    let mut copies = Value::Null;
    for _ in 0..300 {
        copies = get(&app, &token, "/v1.0/default/regions/IAD/backups").await.1;
        if copies["backups"][0]["status"] == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (copies["backups"][0]["name"].as_str(), copies["backups"][0]["description"].as_str()),
        (Some("snapshot"), Some("My Backup"))
    );
    let (status, lon) =
        post(&app, &token, &format!("/v1.0/default/backups/{full}/action"), json!({ "copy-backup": { "target_backup_region": "LON" } }))
            .await;
    assert_eq!(status, 404, "a region not served here is not found: {lon}");
    assert_eq!(lon["itemNotFound"]["message"], "region 'LON' not found");

    // The backup is the engine's: listed by the admin API and it verifies.
    let (status, verify) = post(&app, &token, &format!("/admin/v1/backups/{full}/verify"), json!({})).await;
    assert_eq!(status, 202);
    assert_eq!(crate::helpers::wait_for(&app, &token, verify["id"].as_str().unwrap()).await["state"], "succeeded");

    // Deleting the parent takes the incremental with it.
    let resp = app.client.delete(app.url(&format!("/v1.0/default/backups/{full}"))).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    for _ in 0..100 {
        if get(&app, &token, &format!("/v1.0/default/backups/{inc_id}")).await.0 == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, gone) = get(&app, &token, &format!("/v1.0/default/backups/{inc_id}")).await;
    assert_eq!(status, 404);
    assert_eq!(gone["itemNotFound"]["code"], 404);
}

#[tokio::test]
async fn cloud_databases_errors_come_as_faults() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, _) = sqlite_instance(&app, &token, dir.path(), 1).await;

    let (status, body) = get(&app, &token, "/v1.0/default/backups/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["itemNotFound"]["code"], 404);
    let (status, body) =
        post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "x".repeat(65), "instance": instance } })).await;
    assert_eq!(status, 400);
    let message = body["badRequest"]["message"].as_str().unwrap();
    assert!(message.contains("Backup name must be at most 64 characters"), "{message}");
    let (status, ok) = post(
        &app,
        &token,
        "/v1.0/default/backups",
        json!({ "backup": { "name": "y".repeat(64), "instance": instance, "is_automated": false, "backup_type": "x" } }),
    )
    .await;
    assert_eq!(status, 202, "exactly 64 characters is fine: {ok}");
    let (status, body) =
        post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "n", "instance": uuid::Uuid::new_v4() } })).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["itemNotFound"]["code"], 404);
    let (status, body) =
        post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "c", "instance": instance, "copy_to": ["LON"] } })).await;
    assert_eq!(status, 404, "a region not served here is not found: {body}");
    assert_eq!(body["itemNotFound"]["message"], "region 'LON' not found");
    let (status, body) = get(&app, &token, "/v1.0/other-account/backups").await;
    assert_eq!(status, 404, "{body}");
    let missing = uuid::Uuid::new_v4();
    let (status, body) =
        post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "i", "instance": instance, "parent_id": missing } })).await;
    assert_eq!(status, 404, "an incremental of a missing parent: {body}");
    assert!(body["itemNotFound"]["message"].as_str().unwrap().contains(&missing.to_string()), "{body}");
    let body = json!({ "instance": { "name": "r", "flavorRef": 1, "restorePoint": { "backupRef": missing } } });
    let (status, body) = post(&app, &token, "/v1.0/default/instances", body).await;
    assert_eq!(status, 404, "a restore of a missing backup: {body}");
    assert_eq!(body["itemNotFound"]["code"], 404);
    let (status, flavor) = get(&app, &token, "/v1.0/default/flavors/1").await;
    assert_eq!(status, 200);
    assert!(flavor["flavor"]["links"][0]["href"].as_str().unwrap().ends_with("/v1.0/default/flavors/1"));
}

#[tokio::test]
async fn a_new_empty_instance_is_a_real_database_and_deleting_it_drops_it() {
    let pg = std::env::var("COFFER_TEST_PG_ADMIN_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pg_up = sqlx::PgConnection::connect(&pg).await.is_ok();
    let app = crate::helpers::spawn_app_with(move |s| {
        if pg_up {
            s.datastores.insert("postgresql".into(), pg);
        }
    })
    .await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let (_, datastores) = get(&app, &token, "/v1.0/default/datastores").await;
    assert!(datastores["datastores"].as_array().unwrap().iter().any(|d| d["name"] == "sqlite"));

    let mut kinds = vec!["sqlite"];
    if pg_up {
        kinds.push("postgresql");
    }
    for kind in kinds {
        let body = json!({ "instance": { "name": format!("fresh-{kind}"), "flavorRef": 2, "volume": { "size": 3 }, "datastore": { "type": kind, "version": "x" } } });
        let (status, created) = post(&app, &token, "/v1.0/default/instances", body).await;
        assert_eq!(status, 200, "{created}");
        let inst = &created["instance"];
        assert_eq!(inst["status"], "ACTIVE");
        assert_eq!(inst["datastore"]["type"], kind);
        assert_eq!(inst["volume"]["size"], 3);
        let id = inst["id"].as_str().unwrap().to_owned();
        let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{id}")).await;
        let location = source["nodes"][0]["location"].as_str().unwrap().to_owned();
        // It is a database one can use at once; a backup of it completes.
        if kind == "sqlite" {
            assert!(std::path::Path::new(&location).exists());
        } else {
            sqlx::PgConnection::connect(&location).await.expect("the new PostgreSQL database accepts connections");
        }
        let (status, b) = post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "first", "instance": id } })).await;
        assert_eq!(status, 202, "{b}");
        until_status(&app, &token, &format!("/v1.0/default/backups/{}", b["backup"]["id"].as_str().unwrap()), "backup", "COMPLETED").await;

        let resp =
            app.client.delete(app.url(&format!("/v1.0/default/instances/{id}"))).header("x-auth-token", &token).send().await.unwrap();
        assert_eq!(resp.status(), 202);
        assert_eq!(get(&app, &token, &format!("/v1.0/default/instances/{id}")).await.0, 404);
        if kind == "sqlite" {
            assert!(!std::path::Path::new(&location).exists(), "the database Coffer created is dropped");
        } else {
            assert!(sqlx::PgConnection::connect(&location).await.is_err(), "the database Coffer created is dropped");
        }
        assert_eq!(
            get(&app, &token, &format!("/v1.0/default/backups/{}", b["backup"]["id"].as_str().unwrap())).await.0,
            200,
            "backups outlive their instance"
        );
    }
    let (status, body) =
        post(&app, &token, "/v1.0/default/instances", json!({ "instance": { "name": "m", "datastore": { "type": "mysql" } } })).await;
    assert_eq!(status, 404, "a datastore with no server configured is not found, as Trove answers an unknown datastore: {body}");
    assert!(body["itemNotFound"]["message"].as_str().unwrap().contains("datastore with a server for new instances"), "{body}");
}

#[tokio::test]
async fn stock_python_troveclient_runs_the_backup_lifecycle() {
    let Some(python) = crate::keystoneauth::python() else { return };
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, db_path) = sqlite_instance(&app, &token, dir.path(), 40).await;
    let args = [app.base.clone(), "admin".into(), ADMIN_PASSWORD.into(), "default".into(), instance.clone(), db_path.display().to_string()];
    let r = run_client(python, "trove_lifecycle.py", &args, dir.path()).await;
    assert!(matches!(r["created_status"].as_str(), Some("NEW" | "BUILDING")), "{r}");
    assert_eq!(r["concurrent"], json!(["UnprocessableEntity", 422]), "{r}");
    assert_eq!(r["full"]["instance_id"], instance.as_str());
    assert_eq!(r["full"]["datastore"], "sqlite");
    assert_eq!(r["inc"]["parent_id"], r["full"]["id"]);
    assert_eq!((r["list"].as_u64(), r["list_sqlite"].as_u64(), r["list_mysql"].as_u64()), (Some(2), Some(2), Some(0)));
    assert_eq!(r["page1"], json!([1, true]));
    assert_eq!(r["page2_other"], true);
    assert_eq!(r["instance_backups"], 2);
    assert_eq!(r["restore_status"], "BUILD");
    assert_eq!(r["copy_status"], 202);
    assert_eq!(r["iad_copies"], json!(["snapshot"]), "the copy in IAD has the original's name: {r}");
    assert_eq!(r["copy_lon"], json!(["NotFound", 404]), "a region not served here is not found");
    assert_eq!(r["get_unknown"], json!(["NotFound", 404]));
    assert_eq!(r["long_name"], json!(["BadRequest", 400]));
    assert_eq!(r["incremental_gone"], true);
    assert_eq!(r["v3_list"], 0, "after the delete cascade no backup is left");
    assert_eq!(r["token_list"], 0);
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{}", r["restored_id"].as_str().unwrap())).await;
    assert_eq!(count_rows(source["nodes"][0]["location"].as_str().unwrap()).await, 40 + 15 + 20, "rows written before the incremental");
}

#[tokio::test]
async fn rackspace_cdbclient_runs_the_backup_lifecycle() {
    let Some(python) = crate::keystoneauth::python() else { return };
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, db_path) = sqlite_instance(&app, &token, dir.path(), 30).await;
    let (status, key) = post(&app, &token, "/admin/v1/keys", json!({ "name": "cdbclient" })).await;
    assert_eq!(status, 201, "{key}");
    let api_key = key["key"].as_str().unwrap().to_owned();
    let args = [
        app.base.clone(),
        "admin".into(),
        ADMIN_PASSWORD.into(),
        api_key,
        "default".into(),
        instance.clone(),
        db_path.display().to_string(),
    ];
    let r = run_client(python, "cdb_lifecycle.py", &args, dir.path()).await;
    assert!(matches!(r["created"].as_str(), Some("NEW" | "BUILDING")), "{r}");
    assert_eq!(r["concurrent"], json!(["UnprocessableEntity", 422]), "{r}");
    assert_eq!(r["parent"], true);
    assert_eq!((r["list"].as_u64(), r["list_limit"].as_u64(), r["instance_backups"].as_u64()), (Some(2), Some(1), Some(2)));
    assert_eq!(r["copy"], true);
    assert_eq!(r["iad"], json!(["snapshot", "My Backup"]), "the copy in IAD: {r}");
    assert_eq!(r["copy_lon"], json!(["NotFound", 404]), "a region not served here is not found");
    assert_eq!(r["restore"], "BUILD");
    assert_eq!(r["get_unknown"], json!(["NotFound", 404]));
    assert_eq!(r["long_name"], json!(["BadRequest", 400]));
    assert_eq!(r["incremental_gone"], true);
    assert_eq!(r["password_login_list"], 0, "a keystone password login sees that both backups are gone");
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{}", r["restored_id"].as_str().unwrap())).await;
    assert_eq!(count_rows(source["nodes"][0]["location"].as_str().unwrap()).await, 30);
}

#[tokio::test]
async fn an_ha_backup_reads_the_nearest_replica_and_lists_under_the_group() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (primary, _) = named_sqlite_instance(&app, &token, dir.path(), "primary", 10).await;
    let (replica, _) = named_sqlite_instance(&app, &token, dir.path(), "replica", 12).await;
    let (status, group) = post(&app, &token, "/admin/v1/ha-groups", json!({ "name": "pair", "members": [primary, replica] })).await;
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_str().unwrap().to_owned();

    let body = json!({ "backup": { "name": "ha", "instance": null, "source": { "type": "ha", "id": group } } });
    let (status, created) = post(&app, &token, "/v1.0/default/backups", body).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["backup"]["source"], json!({ "type": "ha", "id": group }));
    let id = created["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("/v1.0/default/backups/{id}"), "backup", "COMPLETED").await;

    let (_, listed) = get(&app, &token, &format!("/v1.0/default/ha/{group}/backups")).await;
    assert_eq!(listed["backups"].as_array().unwrap().iter().map(|b| b["id"].clone()).collect::<Vec<_>>(), vec![json!(id)]);
    let (_, of_primary) = get(&app, &token, &format!("/v1.0/default/instances/{primary}/backups")).await;
    assert_eq!(of_primary["backups"], json!([]), "the group's backups are the group's, not a member's");

    let body = json!({ "instance": { "name": "from_ha", "flavorRef": "1", "restorePoint": { "backupRef": id } } });
    let (status, restored) = post(&app, &token, "/v1.0/default/instances", body).await;
    assert_eq!(status, 200, "{restored}");
    let new_id = restored["instance"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("/v1.0/default/instances/{new_id}"), "instance", "ACTIVE").await;
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{new_id}")).await;
    assert_eq!(count_rows(source["nodes"][0]["location"].as_str().unwrap()).await, 12, "the replica was read, not the primary");

    let (status, body) = post(
        &app,
        &token,
        "/v1.0/default/backups",
        json!({ "backup": { "name": "x", "instance": null, "source": { "type": "ha", "id": primary } } }),
    )
    .await;
    assert_eq!(status, 404, "an instance is not an HA group: {body}");
}

#[tokio::test]
async fn a_second_backup_while_the_first_is_still_running_is_refused_with_422() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, path) = sqlite_instance(&app, &token, dir.path(), 5).await;

    // A writer holds the database, so the first backup cannot finish until it lets go.
    let mut writer = sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(&path)).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut writer).await.unwrap();
    let body = json!({ "backup": { "name": "first", "instance": instance } });
    let (status, first) = post(&app, &token, "/v1.0/default/backups", body.clone()).await;
    assert_eq!(status, 202, "{first}");
    let (status, second) = post(&app, &token, "/v1.0/default/backups", body.clone()).await;
    assert_eq!(status, 422, "{second}");
    assert_eq!(second["unprocessableEntity"]["code"], 422);
    assert!(second["unprocessableEntity"]["message"].as_str().unwrap().contains("already in progress"), "{second}");
    sqlx::query("COMMIT").execute(&mut writer).await.unwrap();

    let id = first["backup"]["id"].as_str().unwrap();
    until_status(&app, &token, &format!("/v1.0/default/backups/{id}"), "backup", "COMPLETED").await;
    let (status, third) = post(&app, &token, "/v1.0/default/backups", body).await;
    assert_eq!(status, 202, "once the first ended a new one starts: {third}");
}

#[tokio::test]
async fn rackspace_pyrax_logs_in_with_an_api_key_and_runs_the_backup_lifecycle() {
    let Some(python) = crate::keystoneauth::pyrax_python() else { return };
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, db_path) = sqlite_instance(&app, &token, dir.path(), 20).await;
    let (_, key) = post(&app, &token, "/admin/v1/keys", json!({ "name": "pyrax" })).await;
    let args = [
        app.base.clone(),
        "admin".into(),
        key["key"].as_str().unwrap().to_owned(),
        ADMIN_PASSWORD.into(),
        instance.clone(),
        db_path.display().to_string(),
    ];
    let r = run_client(python, "pyrax_lifecycle.py", &args, dir.path()).await;
    assert_eq!(r["authenticated"], true);
    assert_eq!(r["instance"], json!(["shop", 2]));
    assert_eq!(r["concurrent"], json!(["ClientException", 422]), "pyrax has no class of its own for 422: {r}");
    assert_eq!(r["full"], json!(["COMPLETED", "My Backup", true]));
    assert_eq!(r["shown"], "COMPLETED");
    assert_eq!(r["instance_backups"], 1);
    assert_eq!(r["long_name"], json!(["BadRequest", 400]));
    assert_eq!(r["get_unknown"], json!(["NotFound", 404]));
    // pyrax loads the instance again right away, so a quick restore may already be ACTIVE.
    assert!(matches!(r["restore"][0].as_str(), Some("BUILD" | "ACTIVE")), "{r}");
    assert_eq!(r["restore"][1], 2);
    assert_eq!(r["restored"][1], "ACTIVE");
    assert_eq!(r["deleted"], json!(["NotFound", 404]));
    assert_eq!(r["password_login"], json!([true, 0]), "the copy in IAD is not listed in DFW");
    assert_eq!(r["copy"], 202);
    assert_eq!(r["iad"], json!(["COMPLETED", "a copy", 1]), "pyrax logged in to IAD lists the copy: {r}");
    assert_eq!(r["iad_restored"][1], "ACTIVE");
    let (_, from_copy) = get(&app, &token, &format!("/admin/v1/sources/{}", r["iad_restored"][0].as_str().unwrap())).await;
    assert_eq!(count_rows(from_copy["nodes"][0]["location"].as_str().unwrap()).await, 20 + 7, "the copy restores in IAD");
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{}", r["restored"][0].as_str().unwrap())).await;
    assert_eq!(
        count_rows(source["nodes"][0]["location"].as_str().unwrap()).await,
        20 + 7,
        "the rows the writer committed while the backup waited"
    );
}

#[tokio::test]
async fn a_delete_whose_data_cannot_be_removed_shows_delete_failed_and_can_be_retried() {
    let app = spawn_app_with(|s| s.storage_retries = 1).await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, _) = sqlite_instance(&app, &token, dir.path(), 3).await;
    let (_, created) = post(&app, &token, "/v1.0/default/backups", json!({ "backup": { "name": "keep", "instance": instance } })).await;
    let id = created["backup"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1.0/default/backups/{id}");
    until_status(&app, &token, &path, "backup", "COMPLETED").await;

    // The store becomes unreachable: a file stands where its directory was.
    let store = app.data_dir.join("store");
    let aside = app.data_dir.join("store.aside");
    std::fs::rename(&store, &aside).unwrap();
    std::fs::write(&store, b"not a directory").unwrap();
    let resp = app.client.delete(app.url(&path)).header("X-Auth-Token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let failed = until_status(&app, &token, &path, "backup", "DELETE_FAILED").await;
    assert_eq!(failed["id"], id.as_str());

    // Once the store is back, deleting again removes it.
    std::fs::remove_file(&store).unwrap();
    std::fs::rename(&aside, &store).unwrap();
    let resp = app.client.delete(app.url(&path)).header("X-Auth-Token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    for _ in 0..300 {
        if get(&app, &token, &path).await.0 == 404 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the retried delete never removed the backup");
}

#[tokio::test]
async fn documented_backup_options_are_honoured_or_refused_at_once() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, _) = sqlite_instance(&app, &token, dir.path(), 200).await;

    // `source: {"type": "instance", "id"}` names the instance without `instance`.
    let body = json!({ "backup": { "name": "by source", "source": { "type": "instance", "id": instance } } });
    let (status, created) = post(&app, &token, "/v1.0/default/backups", body).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["backup"]["instance_id"], instance.as_str());
    let full = created["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("/v1.0/default/backups/{full}"), "backup", "COMPLETED").await;
    let body = json!({ "backup": { "name": "odd", "source": { "type": "volume", "id": instance } } });
    let (status, refused) = post(&app, &token, "/v1.0/default/backups", body).await;
    assert_eq!((status, refused["badRequest"]["code"].as_i64()), (400, Some(400)), "{refused}");

    // An incremental copied to a region its parent is not in: 400 at once, nothing started.
    let body = json!({ "backup": { "name": "inc", "instance": instance, "parent_id": full, "copy_to": ["IAD"] } });
    let (status, refused) = post(&app, &token, "/v1.0/default/backups", body.clone()).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["badRequest"]["message"].as_str().unwrap().contains("IAD"), "{refused}");
    let (_, listed) = get(&app, &token, &format!("/v1.0/default/instances/{instance}/backups")).await;
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1, "the refused incremental was never made: {listed}");
    let copy = json!({ "copy-backup": { "target_backup_region": "IAD" } });
    assert_eq!(post(&app, &token, &format!("/v1.0/default/backups/{full}/action"), copy).await.0, 202);
    let mut accepted = (0, Value::Null);
    for _ in 0..200 {
        accepted = post(&app, &token, "/v1.0/default/backups", body.clone()).await;
        if accepted.0 != 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.0, 202, "once the parent is in IAD the incremental is taken: {}", accepted.1);
    let inc = accepted.1["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("/v1.0/default/backups/{inc}"), "backup", "COMPLETED").await;

    // An instance being backed up cannot be deleted (422); its links carry bookmarks.
    let slow = json!({ "source_id": instance, "options": { "throttle_bytes_per_sec": 500 } });
    let (status, started) = post(&app, &token, "/admin/v1/backups", slow).await;
    assert_eq!(status, 202, "{started}");
    let resp =
        app.client.delete(app.url(&format!("/v1.0/default/instances/{instance}"))).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 422);
    let fault: Value = resp.json().await.unwrap();
    assert!(fault["unprocessableEntity"]["message"].as_str().unwrap().contains("backed up"), "{fault}");
    let operation = started["operation"]["id"].as_str().unwrap();
    assert_eq!(post(&app, &token, &format!("/admin/v1/operations/{operation}/cancel"), json!({})).await.0, 202);
    let (_, shown) = get(&app, &token, &format!("/v1.0/default/instances/{instance}")).await;
    let rels: Vec<&str> = shown["instance"]["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert_eq!(rels, ["self", "bookmark"]);
    let bookmark = shown["instance"]["links"][1]["href"].as_str().unwrap();
    assert!(bookmark.ends_with(&format!("/default/instances/{instance}")) && !bookmark.contains("/v1.0/"), "{bookmark}");
}
