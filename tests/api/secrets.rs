//! Secrets stay secret: a whole session against a real `coffer serve` with debug logging (JSON
//! lines) uses passwords, an API key, tokens, a destination secret and a database password, then
//! the log output and the database files are searched for each of them.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::Duration,
};

use serde_json::{Value, json};

const ADMIN_PW: &str = "Adm1n-pw-for-the-log-scan";
const ALICE_PW: &str = "Al1ce-pw-for-the-log-scan";
const DB_PW: &str = "Pg-pw-for-the-log-scan";
const DEST_SECRET: &str = "S3-secret-for-the-log-scan";
const OPSC_SECRET: &str = "OpsC-secret-for-the-log-scan";

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(data: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = data.join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", &format!("127.0.0.1:{port}"), "--log-format", "json"])
        .env("RUST_LOG", "debug,hyper=info,h2=info,rustls=info")
        .env("COFFER_ADMIN_PASSWORD", ADMIN_PW)
        .env("COFFER_PUBLIC_URL", "")
        .env("COFFER_LOCAL_ROOTS", format!("[{}]", std::env::temp_dir().display()))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("coffer serve starts");
    let server = Server { child, base: format!("http://127.0.0.1:{port}"), log };
    for _ in 0..100 {
        if reqwest::get(format!("{}/v2.0", server.base)).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("coffer serve did not answer: {}", std::fs::read_to_string(&server.log).unwrap_or_default());
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_containing(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())) {
            found.push(p);
        }
    }
    found
}

#[tokio::test]
async fn no_password_key_token_or_secret_reaches_the_logs_or_the_database_in_clear() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.base);
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.json::<Value>().await.unwrap_or(Value::Null))
    };

    let (status, _, body) = send(http.post(url("/login")).json(&json!({ "username": "admin", "password": ADMIN_PW }))).await;
    assert_eq!(status, 200, "{body}");
    let session = body["sessionid"].as_str().unwrap().to_owned();
    let admin = |req: reqwest::RequestBuilder| req.basic_auth("admin", Some(ADMIN_PW));
    let (status, _, body) =
        send(admin(http.post(url("/admin/v1/users"))).json(&json!({ "name": "alice", "password": ALICE_PW, "role": "operator" }))).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, body) = send(
        http.post(url("/v2.0/tokens")).json(&json!({ "auth": { "passwordCredentials": { "username": "alice", "password": ALICE_PW } } })),
    )
    .await;
    let v2_token = body["access"]["token"]["id"].as_str().unwrap().to_owned();
    let (status, _, key) = send(http.post(url("/admin/v1/keys")).header("x-auth-token", &v2_token).json(&json!({ "name": "scan" }))).await;
    assert_eq!(status, 201, "{key}");
    let api_key = key["key"].as_str().unwrap().to_owned();
    let apikey_login = json!({ "auth": { "RAX-KSKEY:apiKeyCredentials": { "username": "alice", "apiKey": api_key } } });
    let (_, _, body) = send(http.post(url("/v2.0/tokens")).json(&apikey_login)).await;
    let key_token = body["access"]["token"]["id"].as_str().unwrap().to_owned();
    let v3 = json!({ "auth": { "identity": { "methods": ["password"], "password": { "user": { "name": "alice", "password": ALICE_PW, "domain": { "id": "default" } } } } } });
    let (status, headers, _) = send(http.post(url("/v3/auth/tokens")).json(&v3)).await;
    assert_eq!(status, 201);
    let v3_token = headers["x-subject-token"].to_str().unwrap().to_owned();

    // Credentials in every place a client puts them, right and wrong.
    for req in [
        http.get(url("/admin/v1/sources")).basic_auth("alice", Some(ALICE_PW)),
        http.get(url("/admin/v1/sources")).basic_auth("alice", Some(&api_key)),
        http.get(url("/admin/v1/sources")).basic_auth("alice", Some(format!("{ALICE_PW}-wrong"))),
        http.get(url("/admin/v1/sources")).header("x-auth-token", &key_token),
        http.get(url("/admin/v1/sources")).header("authorization", format!("Bearer {v3_token}")),
        http.get(url("/cluster-configs")).header("opscenter-session", &session),
        http.get(url("/v1.0/alice/backups")).header("x-auth-token", format!("{v2_token}x")),
    ] {
        send(req).await;
    }
    // Secrets inside bodies: a destination, an OpsCenter destination, a database instance.
    if let Some(s3) = crate::destinations::moto(None).await {
        crate::destinations::make_container(&["s3", &s3.endpoint, "scan"]);
        let body = json!({ "kind": "s3", "path": "scan", "endpoint": s3.endpoint, "path_style": true, "access_key": "AKSCAN", "secret": DEST_SECRET });
        let (status, _, dest) = send(admin(http.post(url("/admin/v1/destinations"))).json(&body)).await;
        assert_eq!(status, 201, "{dest}");
        assert!(!dest.to_string().contains(DEST_SECRET));
    }
    let cluster_dir = data.path().join("node/data");
    std::fs::create_dir_all(&cluster_dir).unwrap();
    let nodes = json!([{ "name": "10.2.0.1", "location": cluster_dir }]);
    let (status, _, body) = send(admin(http.post(url("/admin/v1/clusters"))).json(&json!({ "name": "ScanCluster", "nodes": nodes }))).await;
    assert_eq!(status, 201, "{body}");
    let opsc = json!({ "provider": "s3", "access_key": "AKOPSC", "access_secret": OPSC_SECRET, "path": "scan-bucket" });
    send(http.post(url("/ScanCluster/backups/destinations")).header("opscenter-session", &session).json(&opsc)).await;
    let instance =
        json!({ "name": "scan-pg", "datastore": "postgresql", "location": format!("postgres://scanner:{DB_PW}@127.0.0.1:5432/scan") });
    let (status, _, body) = send(admin(http.post(url("/admin/v1/instances"))).json(&instance)).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, sources) = send(admin(http.get(url("/admin/v1/sources")))).await;
    assert!(!sources.to_string().contains(DB_PW), "{sources}");
    send(http.post(url("/logout")).header("opscenter-session", &session)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.lines().count() > 20 && log.contains("\"level\""), "the session was logged as JSON lines: {log}");
    assert!(log.contains("/admin/v1/sources") && log.contains("/v2.0/tokens"), "every request is logged: {log}");
    for secret in [ADMIN_PW, ALICE_PW, DB_PW, DEST_SECRET, OPSC_SECRET, &api_key, &v2_token, &key_token, &v3_token, &session] {
        assert!(
            !log.contains(secret),
            "the log shows a secret ({}...): {}",
            &secret[..6],
            log.lines().find(|l| l.contains(secret)).unwrap()
        );
    }
    for secret in [ADMIN_PW, ALICE_PW, DB_PW, DEST_SECRET, OPSC_SECRET, &api_key] {
        let found: Vec<_> = files_containing(data.path(), secret).into_iter().filter(|p| p != &server.log).collect();
        assert!(found.is_empty(), "a secret ({}...) is in clear in {found:?}", &secret[..6]);
    }
}
