//! Spawns the real server on 127.0.0.1:0 with a fresh database: a SQLite file in a temporary
//! directory, or a fresh PostgreSQL database when `COFFER_TEST_DATABASE_URL` names a server.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use base64::Engine;
use coffer::{config::Settings, persistence, startup::Application, state::AppState};
use reqwest::Client;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running server and what tests need to talk to it.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub state: AppState,
    pub data_dir: PathBuf,
    pub database_url: String,
    shutdown: CancellationToken,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the server after `configure` has adjusted its settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("RUST_LOG").is_ok() {
        coffer::telemetry::init("text");
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        public_url: String::new(),
        admin_password: Some(ADMIN_PASSWORD.into()),
        // Tests keep their data in temporary directories; users may use those on the server.
        local_roots: vec![std::env::temp_dir()],
        ..Settings::default()
    };
    let postgres = match std::env::var("COFFER_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
            let url = persistence::create_postgres_database(&admin_url, &name).await.expect("create test database");
            settings.database_url = Some(url);
            Some((admin_url, name))
        }
        _ => None,
    };
    configure(&mut settings);
    let database_url = settings.database_url();
    let data_dir = settings.data_dir.clone();
    let (app, _) = Application::build(settings).await.expect("server builds");
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped(false));
    TestApp {
        base,
        client: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        state,
        data_dir,
        database_url,
        shutdown,
        postgres,
        _dir: dir,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some((admin_url, name)) = self.postgres.take() {
            // Dropping runs outside the test's runtime, on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(persistence::drop_postgres_database(&admin_url, &name))
            })
            .join();
        }
    }
}

pub fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in through `POST /login` and answers the session id.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let resp = self.client.post(self.url("/login")).json(&json!({ "username": user, "password": password })).send().await.unwrap();
        assert_eq!(resp.status(), 200, "login of {user} failed");
        resp.json::<Value>().await.unwrap()["sessionid"].as_str().unwrap().to_owned()
    }

    /// Creates a user as admin and answers its session id.
    pub async fn user_with_role(&self, name: &str, role: &str, tenant: Option<&str>) -> String {
        let password = format!("{name}-password");
        let mut body = json!({ "name": name, "password": password, "role": role });
        if let Some(t) = tenant {
            body["tenant"] = json!(t);
        }
        let resp = self
            .client
            .post(self.url("/admin/v1/users"))
            .header("authorization", basic("admin", ADMIN_PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "creating user {name}: {}", resp.text().await.unwrap());
        self.login(name, &password).await
    }

    /// Creates a tenant as admin.
    pub async fn tenant(&self, name: &str) {
        let resp = self
            .client
            .post(self.url("/admin/v1/tenants"))
            .header("authorization", basic("admin", ADMIN_PASSWORD))
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }

    /// Creates an API key for the session's user and answers the key.
    pub async fn api_key(&self, session: &str, read_only: bool) -> (String, String) {
        let resp = self
            .client
            .post(self.url("/admin/v1/keys"))
            .header("x-auth-token", session)
            .json(&json!({ "name": "test", "read_only": read_only }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        (body["key"].as_str().unwrap().to_owned(), body["id"].as_str().unwrap().to_owned())
    }

    pub async fn whoami(&self, header: (&str, &str)) -> reqwest::Response {
        self.client.get(self.url("/admin/v1/whoami")).header(header.0, header.1).send().await.unwrap()
    }
}

/// Polls an operation until it ends (bounded); answers its final body.
pub async fn wait_for(app: &TestApp, token: &str, operation_id: &str) -> Value {
    for _ in 0..600 {
        let op: Value = app
            .client
            .get(app.url(&format!("/admin/v1/operations/{operation_id}")))
            .header("x-auth-token", token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !matches!(op["state"].as_str(), Some("queued" | "running" | "cancelling")) {
            return op;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("operation {operation_id} did not end within a minute");
}

/// POSTs JSON with a token and answers (status, body).
pub async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = app.client.post(app.url(path)).header("x-auth-token", token).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let resp = app.client.get(app.url(path)).header("x-auth-token", token).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Starts a backup through the admin API and waits for it; answers the finished operation.
pub async fn backup_and_wait(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, started) = post(app, token, "/admin/v1/backups", body).await;
    assert_eq!(status, 202, "{started}");
    wait_for(app, token, started["operation"]["id"].as_str().unwrap()).await
}

/// Restores through the admin API and waits; answers the finished operation.
pub async fn restore_and_wait(app: &TestApp, token: &str, backup_id: &str, body: Value) -> Value {
    let (status, op) = post(app, token, &format!("/admin/v1/backups/{backup_id}/restore"), body).await;
    assert_eq!(status, 202, "{op}");
    wait_for(app, token, op["id"].as_str().unwrap()).await
}

pub mod tree {
    //! Generated file trees and their fingerprints.

    use std::{collections::BTreeMap, os::unix::fs::PermissionsExt, path::Path};

    /// Writes `files` files of mixed sizes (some compressible) under `root`, deterministic in `seed`.
    pub fn generate(root: &Path, files: usize, seed: u64) {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..files {
            let dir = root.join(format!("d{:02}/e{}", i % 20, i % 3));
            std::fs::create_dir_all(&dir).unwrap();
            let size = match next() % 10 {
                0 => (next() % 3_000_000) as usize,
                1..=3 => (next() % 100_000) as usize,
                _ => (next() % 8_000) as usize,
            };
            let data: Vec<u8> = if i % 2 == 0 {
                let words = ["alpha ", "betas ", "gamma ", "delta ", "backup"];
                (0..size).map(|j| words[(j / 6 + i) % 5].as_bytes()[j % 6]).collect()
            } else {
                (0..size).map(|_| next() as u8).collect()
            };
            let path = dir.join(format!("f{i}.bin"));
            std::fs::write(&path, data).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(if i % 7 == 0 { 0o600 } else { 0o644 })).unwrap();
            let mtime = filetime::FileTime::from_unix_time(1_700_000_000 + i as i64, 0);
            filetime::set_file_mtime(&path, mtime).unwrap();
        }
    }

    /// Every regular file's content hash, mode and mtime, by relative path.
    pub fn fingerprint(root: &Path) -> BTreeMap<String, (String, u32, i64)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                let meta = p.symlink_metadata().unwrap();
                if meta.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    let hash = blake3::hash(&std::fs::read(&p).unwrap()).to_hex().to_string();
                    let mtime = filetime::FileTime::from_last_modification_time(&meta).unix_seconds();
                    out.insert(rel, (hash, meta.permissions().mode() & 0o7777, mtime));
                }
            }
        }
        out
    }

    /// Rewrites a 64 KiB (or smaller) region in `pct`% of the files, and moves their mtime.
    pub fn mutate(root: &Path, pct: usize) -> usize {
        let mut files: Vec<_> = fingerprint(root).into_keys().collect();
        files.sort();
        let step = 100 / pct.max(1);
        let mut changed = 0;
        for (i, rel) in files.iter().enumerate().filter(|(i, _)| i % step == 0) {
            let p = root.join(rel);
            let mut data = std::fs::read(&p).unwrap();
            let n = data.len().min(64 << 10);
            for b in &mut data[..n] {
                *b = b.wrapping_add(1 + (i % 7) as u8);
            }
            if data.is_empty() {
                data.push(1);
            }
            std::fs::write(&p, data).unwrap();
            filetime::set_file_mtime(&p, filetime::FileTime::from_unix_time(1_800_000_000 + i as i64, 0)).unwrap();
            changed += 1;
        }
        changed
    }
}

/// A port nobody listens on at the moment of asking (another process may take it before use).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process (a server, an emulator) killed with SIGKILL when dropped.
pub struct Killed(pub Child);

impl Killed {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `len` bytes that do not compress (xorshift from `seed`).
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// A `coffer agent` process on 127.0.0.1; killed (SIGKILL) when dropped.
pub struct AgentProcess(Child);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl AgentProcess {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Starts `coffer agent` against the server at `base` without waiting for it to register.
    pub fn spawn(base: &str, credential: &str, name: &str) -> AgentProcess {
        Self::spawn_with(Command::new(env!("CARGO_BIN_EXE_coffer")), base, credential, name)
    }

    fn spawn_with(mut command: Command, base: &str, credential: &str, name: &str) -> AgentProcess {
        let child = command
            .args(["agent", "--server", base, "--token", credential, "--name", name])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("coffer agent starts");
        AgentProcess(child)
    }
}

/// Starts a `coffer agent` and waits until the server sees it up.
pub async fn start_agent(app: &TestApp, credential: &str, name: &str) -> AgentProcess {
    started(app, credential, name, AgentProcess::spawn(&app.base, credential, name)).await
}

/// An agent that file permissions bind: as root, it runs without the capabilities that let root
/// read any file (so a mode-000 file is unreadable to it, as to any user).
pub async fn start_agent_bound_by_permissions(app: &TestApp, credential: &str, name: &str) -> AgentProcess {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-dac_override,-dac_read_search", "--", env!("CARGO_BIN_EXE_coffer")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_coffer"))
    };
    started(app, credential, name, AgentProcess::spawn_with(command, &app.base, credential, name)).await
}

async fn started(app: &TestApp, credential: &str, name: &str, process: AgentProcess) -> AgentProcess {
    for _ in 0..100 {
        let (_, agents) = get(app, credential, "/admin/v1/agents").await;
        if agents.as_array().into_iter().flatten().any(|a| a["agent"]["name"] == name && a["up"] == true) {
            return process;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("agent {name} did not register within 10 s");
}

/// Registers a machine (a file tree the server's own agent reads) through the admin API; answers its id.
pub async fn machine(app: &TestApp, token: &str, name: &str, root: &std::path::Path) -> String {
    let (status, body) = post(app, token, "/admin/v1/machines", json!({ "name": name, "root": root })).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Whether this run must run every test: `COFFER_TEST_REQUIRE=1` (scripts/test.sh sets it in CI)
/// or `CI=true`.
pub fn every_test_required() -> bool {
    std::env::var("COFFER_TEST_REQUIRE").is_ok_and(|v| v == "1") || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says a test is skipped because `reason` (what it needs and cannot have), or fails the test when
/// the run requires every test: a CI run never passes by skipping.
pub fn skipping(reason: &str) {
    assert!(!every_test_required(), "this run requires every test (COFFER_TEST_REQUIRE=1 or CI=true), but {reason}");
    eprintln!("SKIPPED: {reason}");
}
