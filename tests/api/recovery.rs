//! Crash safety: the server process is killed with SIGKILL in the middle of a backup and started
//! again on the same data directory and database.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, basic};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(data_dir: &Path, database_url: &str, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "--database-url", database_url, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("COFFER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("coffer serve starts");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    for _ in 0..200 {
        if reqwest::get(format!("{}/healthz", server.base)).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

async fn call(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req =
        reqwest::Client::new().request(method, format!("{}{path}", server.base)).header("authorization", basic("admin", ADMIN_PASSWORD));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

async fn wait_end(server: &Server, op: &str) -> Value {
    for _ in 0..900 {
        let v = call(server, reqwest::Method::GET, &format!("/admin/v1/operations/{op}"), None).await;
        if !matches!(v["state"].as_str(), Some("queued" | "running" | "cancelling")) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("operation {op} did not end");
}

#[tokio::test]
async fn a_server_killed_mid_backup_resumes_it_and_every_complete_backup_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (database_url, postgres) = match std::env::var("COFFER_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
            (coffer::persistence::create_postgres_database(&admin, &name).await.unwrap(), Some((admin, name)))
        }
        _ => {
            std::fs::create_dir_all(&data_dir).unwrap();
            (format!("sqlite://{}?mode=rwc", data_dir.join("coffer.db").display()), None)
        }
    };
    let src = dir.path().join("src");
    for i in 0..12 {
        std::fs::create_dir_all(&src).unwrap();
        let data: Vec<u8> = (0..2_000_000u32).map(|j| (j.wrapping_mul(2654435761).wrapping_add(i * 7919) >> 13) as u8).collect();
        std::fs::write(src.join(format!("big{i}.bin")), data).unwrap();
    }
    let port = free_port();
    let server = start(&data_dir, &database_url, port).await;
    let machine = call(&server, reqwest::Method::POST, "/admin/v1/machines", Some(json!({ "name": "files", "root": src }))).await;
    let first = call(&server, reqwest::Method::POST, "/admin/v1/backups", Some(json!({ "source_id": machine["id"] }))).await;
    assert_eq!(wait_end(&server, first["operation"]["id"].as_str().unwrap()).await["state"], "succeeded");

    // 24 MB at 4 MB/s: about six seconds, killed after the first.
    std::fs::write(src.join("new.bin"), vec![7u8; 1000]).unwrap();
    let started = call(
        &server,
        reqwest::Method::POST,
        "/admin/v1/backups",
        Some(json!({ "source_id": machine["id"], "options": { "throttle_bytes_per_sec": 4_000_000 } })),
    )
    .await;
    let op_id = started["operation"]["id"].as_str().unwrap().to_owned();
    let backup_id = started["backup"]["id"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        let op = call(&server, reqwest::Method::GET, &format!("/admin/v1/operations/{op_id}"), None).await;
        if op["tasks"][0]["progress"]["bytes_done"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server); // SIGKILL

    let server = start(&data_dir, &database_url, port).await;
    let backup = call(&server, reqwest::Method::GET, &format!("/admin/v1/backups/{backup_id}"), None).await;
    assert_ne!(backup["state"], "succeeded", "an interrupted backup is never shown complete: {backup}");
    let ended = wait_end(&server, &op_id).await;
    assert_eq!(ended["state"], "succeeded", "the interrupted backup is resumed: {ended}");
    assert_eq!(ended["tasks"][0]["attempts"], 2);

    let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
    let complete: Vec<&str> =
        list.as_array().unwrap().iter().filter(|b| b["state"] == "succeeded").map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(complete.len(), 2);
    for id in complete {
        let op = call(&server, reqwest::Method::POST, &format!("/admin/v1/backups/{id}/verify"), Some(json!({}))).await;
        let verified = wait_end(&server, op["id"].as_str().unwrap()).await;
        assert_eq!(verified["state"], "succeeded", "{verified}");
    }
    drop(server);
    if let Some((admin, name)) = postgres {
        coffer::persistence::drop_postgres_database(&admin, &name).await.unwrap();
    }
}

/// Random bytes from a fixed seed (the kill moments and the data repeat from run to run).
fn seeded(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[tokio::test]
async fn work_in_four_dialects_survives_three_kills_and_every_complete_backup_verifies_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let database_url = match std::env::var("COFFER_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
            coffer::persistence::create_postgres_database(&admin, &name).await.unwrap()
        }
        _ => format!("sqlite://{}?mode=rwc", data_dir.join("coffer.db").display()),
    };
    let mut next = seeded(20261123);
    // Two machines, a 3-node cluster and a SQLite instance, each with data of its own.
    let trees: Vec<_> = (0..2).map(|i| dir.path().join(format!("tree{i}"))).collect();
    for (i, t) in trees.iter().enumerate() {
        crate::helpers::tree::generate(t, 30, 40 + i as u64);
    }
    let nodes: Vec<Value> = (1..=3)
        .map(|n| {
            let data = dir.path().join(format!("node{n}/data"));
            crate::helpers::tree::generate(&data.join("ks").join("t-00112233445566778899aabbccddeeff"), 8, 70 + n);
            json!({ "name": format!("10.8.0.{n}"), "location": data })
        })
        .collect();
    let db_path = dir.path().join("shop.sqlite");
    {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&db_path).create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").execute(&mut conn).await.unwrap();
        for i in 0..500 {
            sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO t (v) VALUES ('row {i}')"))).execute(&mut conn).await.unwrap();
        }
    }

    let port = free_port();
    let mut server = start(&data_dir, &database_url, port).await;
    let mut machines = Vec::new();
    for (i, t) in trees.iter().enumerate() {
        let m = call(&server, reqwest::Method::POST, "/admin/v1/machines", Some(json!({ "name": format!("tree{i}"), "root": t }))).await;
        machines.push(m["id"].as_str().unwrap().to_owned());
    }
    let cluster = call(&server, reqwest::Method::POST, "/admin/v1/clusters", Some(json!({ "name": "Crashy", "nodes": nodes }))).await;
    let cluster_id = cluster["id"].as_str().unwrap().to_owned();
    let instance = json!({ "name": "shop", "datastore": "sqlite", "datastore_version": "3", "location": db_path, "flavor": "1" });
    let instance = call(&server, reqwest::Method::POST, "/admin/v1/instances", Some(instance)).await["id"].as_str().unwrap().to_owned();

    // Work through every dialect, then a kill at a seeded moment; three times.
    // Three kills in the test command; `scripts/crash.sh` runs the long form (COFFER_CRASH_KILLS=20).
    let kills: u32 = std::env::var("COFFER_CRASH_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(3);
    let mut launched = 0;
    for round in 0..kills {
        for m in &machines {
            let body = json!({ "source_id": m, "options": { "throttle_bytes_per_sec": 3_000_000 } });
            call(&server, reqwest::Method::POST, "/admin/v1/backups", Some(body)).await;
        }
        call(&server, reqwest::Method::POST, "/Crashy/backups/run", Some(json!({}))).await;
        let name = format!("round {round}");
        call(&server, reqwest::Method::POST, "/v1.0/default/backups", Some(json!({ "backup": { "name": name, "instance": instance } })))
            .await;
        call(&server, reqwest::Method::POST, &format!("/provisioning/v1/{cluster_id}/backups"), Some(json!({}))).await;
        let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
        if let Some(done) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["state"] == "succeeded" && machines.contains(&b["source_id"].as_str().unwrap().to_owned()))
        {
            let target = dir.path().join(format!("early-restore-{round}"));
            let body = json!({ "target": { "type": "path", "path": target }, "options": { "throttle_bytes_per_sec": 3_000_000 } });
            call(&server, reqwest::Method::POST, &format!("/admin/v1/backups/{}/restore", done["id"].as_str().unwrap()), Some(body)).await;
        }
        launched += 6;
        tokio::time::sleep(Duration::from_millis(300 + next() % 1200)).await;
        drop(server); // SIGKILL
        server = start(&data_dir, &database_url, port).await;
    }

    // Everything ends by itself within a minute.
    let mut pending = Vec::new();
    for _ in 0..600 {
        let ops = call(&server, reqwest::Method::GET, "/admin/v1/operations", None).await;
        pending = ops
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| matches!(o["state"].as_str(), Some("queued" | "running" | "cancelling")))
            .cloned()
            .collect();
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pending.is_empty(), "operations still running a minute after the last restart: {pending:?}");

    // Interrupted work either finished or failed saying why; new work runs as usual.
    let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
    for b in list.as_array().unwrap().iter().filter(|b| b["state"] == "failed") {
        assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()), "a failed backup says why: {b}");
    }
    for m in &machines {
        let op = call(&server, reqwest::Method::POST, "/admin/v1/backups", Some(json!({ "source_id": m }))).await;
        assert_eq!(wait_end(&server, op["operation"]["id"].as_str().unwrap()).await["state"], "succeeded");
    }

    // Every complete backup verifies; every complete machine backup restores byte for byte.
    let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
    let complete: Vec<Value> = list.as_array().unwrap().iter().filter(|b| b["state"] == "succeeded").cloned().collect();
    assert!(complete.len() >= 3, "work completed across the kills: {list}");
    for b in &complete {
        let id = b["id"].as_str().unwrap();
        let op = call(&server, reqwest::Method::POST, &format!("/admin/v1/backups/{id}/verify"), Some(json!({}))).await;
        let verified = wait_end(&server, op["id"].as_str().unwrap()).await;
        assert_eq!(verified["state"], "succeeded", "backup {id} shown complete must verify: {verified}");
        if let Some(i) = machines.iter().position(|m| m == b["source_id"].as_str().unwrap()) {
            let out = dir.path().join(format!("check-{id}"));
            let op = call(
                &server,
                reqwest::Method::POST,
                &format!("/admin/v1/backups/{id}/restore"),
                Some(json!({ "target": { "type": "path", "path": out } })),
            )
            .await;
            assert_eq!(wait_end(&server, op["id"].as_str().unwrap()).await["state"], "succeeded");
            assert_eq!(
                crate::helpers::tree::fingerprint(&out),
                crate::helpers::tree::fingerprint(&trees[i]),
                "backup {id} restores byte for byte"
            );
        }
    }
    let failed = list.as_array().unwrap().iter().filter(|b| b["state"] == "failed").count();
    eprintln!(
        "crash run: {kills} kills, {launched} requests, {} backups complete and verified, {failed} failed with a reason",
        complete.len()
    );
    drop(server);
}
