//! Spawns the real server on 127.0.0.1:0 with a fresh database: a SQLite file in a temporary
//! directory, or a fresh PostgreSQL database when `COFFER_TEST_DATABASE_URL` names a server.

use std::path::PathBuf;

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
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        public_url: String::new(),
        admin_password: Some(ADMIN_PASSWORD.into()),
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
