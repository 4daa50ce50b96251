//! Database instances: SQLite, PostgreSQL and MariaDB backed up and restored into a new instance,
//! compared row by row. The servers are the real ones on 127.0.0.1.

use std::process::Command;

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::helpers::{TestApp, backup_and_wait, get, post, restore_and_wait, spawn_app};

pub(crate) fn pg_admin_url() -> String {
    std::env::var("COFFER_TEST_PG_ADMIN_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub(crate) fn skip_or_fail(what: &str) -> bool {
    crate::helpers::skipping(&format!("{what} is not reachable on 127.0.0.1"));
    true
}

pub(crate) fn mariadb(sql: &str) -> Result<String, String> {
    let out = Command::new("mariadb").args(["-h", "127.0.0.1", "-u", "root", "-N", "-B", "-e", sql]).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Registers an instance, backs it up, restores into a new instance; answers the new instance's location.
async fn round_trip(app: &TestApp, token: &str, datastore: &str, location: &str) -> String {
    let (status, inst) = post(
        app,
        token,
        "/admin/v1/instances",
        json!({ "name": format!("{datastore}-source"), "datastore": datastore, "location": location }),
    )
    .await;
    assert_eq!(status, 201, "{inst}");
    let shown = inst["nodes"][0]["location"].as_str().unwrap();
    assert!(!shown.contains("secret-pw"), "a password must not be shown: {shown}");
    let op = backup_and_wait(app, token, json!({ "source_id": inst["id"] })).await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let restored = restore_and_wait(
        app,
        token,
        op["backup_id"].as_str().unwrap(),
        json!({ "target": { "type": "new_instance", "name": format!("{datastore}-copy") } }),
    )
    .await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(restored["result"]["files"], 1, "one dump was restored: {restored}");
    assert!(restored["result"]["bytes"].as_i64().unwrap() > 0, "{restored}");
    let (_, source) = get(app, token, &format!("/admin/v1/sources/{}", restored["result"]["source_id"].as_str().unwrap())).await;
    assert_eq!(source["config"]["restored_from"], op["backup_id"]);
    source["nodes"][0]["location"].as_str().unwrap().to_owned()
}

async fn sqlite_rows(conn: &mut sqlx::SqliteConnection) -> Vec<String> {
    sqlx::query(ROWS_SQL)
        .fetch_all(conn)
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}|{}|{:?}|{}", r.get::<i64, _>(0), r.get::<String, _>(1), r.get::<Option<String>, _>(2), r.get::<f64, _>(3)))
        .collect()
}

const ROWS_SQL: &str = "SELECT id, name, note, amount FROM items ORDER BY id";

#[tokio::test]
async fn a_sqlite_instance_restores_into_a_new_file_with_the_same_rows() {
    let app = spawn_app().await;
    let token = app.user_with_role("dba", "operator", None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.sqlite");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT, amount REAL)")
        .execute(&mut conn)
        .await
        .unwrap();
    for i in 0..500 {
        let note = if i % 5 == 0 { "NULL".to_owned() } else { format!("'note ü {i}'") };
        sqlx::query(AssertSqlSafe(format!("INSERT INTO items VALUES ({i}, 'item {i}', {note}, {}.25)", i * 7)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let original = sqlite_rows(&mut conn).await;
    let copy_path = round_trip(&app, &token, "sqlite", path.to_str().unwrap()).await;
    assert_ne!(copy_path, path.to_str().unwrap());
    let instances = std::path::absolute(app.data_dir.join("instances")).unwrap();
    assert!(std::path::Path::new(&copy_path).starts_with(&instances), "a new instance lives under {}: {copy_path}", instances.display());
    let mut copy = sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(&copy_path)).await.unwrap();
    assert_eq!(sqlite_rows(&mut copy).await, original);
    assert_eq!(original.len(), 500);
    assert_eq!(sqlite_rows(&mut conn).await, original, "the original is untouched");
}

#[tokio::test]
async fn a_postgresql_instance_restores_into_a_new_database_with_the_same_rows() {
    let admin_url = pg_admin_url();
    let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await else {
        skip_or_fail("PostgreSQL");
        return;
    };
    let app = spawn_app().await;
    let token = app.user_with_role("dba", "operator", None).await;
    let name = format!("coffer_src_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    sqlx::query(
        "CREATE TABLE items (id INT PRIMARY KEY, name TEXT NOT NULL, note TEXT, amount NUMERIC(12,2), at TIMESTAMPTZ DEFAULT now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO items (id, name, note, amount) SELECT g, 'item ' || g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'nötë ' || g END, g * 1.25 FROM generate_series(1, 2000) g").execute(&mut conn).await.unwrap();
    let dump = "SELECT json_agg(t ORDER BY id)::text FROM items t";
    let original: String = sqlx::query_scalar(dump).fetch_one(&mut conn).await.unwrap();

    let copy_url = round_trip(&app, &token, "postgresql", url.as_str()).await;
    let mut copy = sqlx::PgConnection::connect(&copy_url).await.unwrap();
    let restored: String = sqlx::query_scalar(dump).fetch_one(&mut copy).await.unwrap();
    assert_eq!(restored, original);
    let copy_name = url::Url::parse(&copy_url).unwrap().path().trim_start_matches('/').to_owned();
    assert_ne!(copy_name, name);
    drop((conn, copy));
    for db in [name, copy_name] {
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&mut admin).await.unwrap();
    }
}

#[tokio::test]
async fn a_mariadb_instance_restores_into_a_new_database_with_the_same_rows() {
    if mariadb("SELECT 1").is_err() {
        skip_or_fail("MariaDB");
        return;
    }
    let app = spawn_app().await;
    let token = app.user_with_role("dba", "operator", None).await;
    let name = format!("coffer_src_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    mariadb(&format!(
        "CREATE DATABASE {name}; USE {name}; CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT, amount DECIMAL(12,2), blob_col BLOB);
         INSERT INTO items VALUES (1, 'one', NULL, 1.50, X'00FF10'), (2, 'twö', 'ünïcode', 2.25, NULL), (3, 'three', 'x', 3.00, X'DEADBEEF');"
    ))
    .unwrap();
    let rows = |db: &str| mariadb(&format!("SELECT id, name, note, amount, HEX(blob_col) FROM {db}.items ORDER BY id")).unwrap();
    let original = rows(&name);
    let copy_url = round_trip(&app, &token, "mysql", &format!("mysql://root@127.0.0.1:3306/{name}")).await;
    let copy_name = url::Url::parse(&copy_url).unwrap().path().trim_start_matches('/').to_owned();
    assert_ne!(copy_name, name);
    assert_eq!(rows(&copy_name), original);
    assert_eq!(original.lines().count(), 3);
    mariadb(&format!("DROP DATABASE {name}; DROP DATABASE {copy_name};")).unwrap();
}

#[tokio::test]
async fn a_second_backup_of_a_busy_instance_is_refused_with_422() {
    let app = spawn_app().await;
    let token = app.user_with_role("dba", "operator", None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sqlite");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut conn).await.unwrap();
    let (_, inst) = post(&app, &token, "/admin/v1/instances", json!({ "name": "x", "datastore": "sqlite", "location": path })).await;
    // Throttled to keep the first backup busy while the second is asked for.
    let (status, first) =
        post(&app, &token, "/admin/v1/backups", json!({ "source_id": inst["id"], "options": { "throttle_bytes_per_sec": 1 } })).await;
    assert_eq!(status, 202);
    let (status, second): (u16, Value) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": inst["id"] })).await;
    assert_eq!(status, 422, "{second}");
    assert!(second["error"]["message"].as_str().unwrap().contains("already in progress"));
    let op_id = first["operation"]["id"].as_str().unwrap();
    let (status, _) = post(&app, &token, &format!("/admin/v1/operations/{op_id}/cancel"), json!({})).await;
    assert_eq!(status, 202);
    let ended = crate::helpers::wait_for(&app, &token, op_id).await;
    assert!(matches!(ended["state"].as_str(), Some("cancelled" | "succeeded")), "{ended}");
}
