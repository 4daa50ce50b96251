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
