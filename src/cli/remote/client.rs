//! What the scripting commands (`coffer backup|restore|verify`) use to drive a running server.

use std::{io::IsTerminal, time::Duration};

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::Value;

/// A server and a credential.
pub struct ServerClient {
    http: reqwest::Client,
    server: String,
    auth: (String, String),
}

impl ServerClient {
    /// Uses a token or API key when given, else HTTP Basic with user and password.
    pub fn new(server: &str, token: Option<String>, user: Option<String>, password: Option<String>) -> anyhow::Result<Self> {
        let auth = match (token, user, password) {
            (Some(t), _, _) => ("x-auth-token".to_owned(), t),
            (None, Some(u), Some(p)) => {
                ("authorization".to_owned(), format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
            }
            _ => bail!("give --token (or COFFER_TOKEN), or --user and --password (COFFER_USER, COFFER_PASSWORD)"),
        };
        Ok(Self { http: reqwest::Client::new(), server: server.trim_end_matches('/').to_owned(), auth })
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.server)).header(&self.auth.0, &self.auth.1);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the Coffer server at {} (--server or COFFER_SERVER names another)", self.server))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(text);
            bail!("{status}: {message}");
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
    }

    /// A source id from an id or a name.
    pub async fn source_id(&self, id_or_name: &str) -> anyhow::Result<String> {
        if uuid::Uuid::parse_str(id_or_name).is_ok() {
            return Ok(id_or_name.to_owned());
        }
        let sources = self.call(reqwest::Method::GET, "/admin/v1/sources", None).await?;
        let found = sources
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == id_or_name)
            .with_context(|| format!("no source named '{id_or_name}'"))?;
        Ok(found["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Polls an operation until it ends, with a progress bar on a terminal; answers it.
    pub async fn wait(&self, operation_id: &str) -> anyhow::Result<Value> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {percent}%").expect("template").progress_chars("=> "),
            );
            bar
        });
        loop {
            let op = self.call(reqwest::Method::GET, &format!("/admin/v1/operations/{operation_id}"), None).await?;
            let state = op["state"].as_str().unwrap_or_default().to_owned();
            if let Some(bar) = &bar {
                bar.set_position((op["progress"].as_f64().unwrap_or(0.0) * 1000.0) as u64);
                bar.set_message(format!("{} {state}", op["kind"].as_str().unwrap_or("operation")));
            }
            if !matches!(state.as_str(), "queued" | "running" | "cancelling") {
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                return Ok(op);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
