//! The agents' side. [`worker`] is the data plane every agent runs (this one and the engine's
//! in-process one); it depends on domain, sources and store only, so the engine (the control
//! plane) uses it and nothing here uses the engine. The rest is `coffer agent`: the same worker on
//! another machine. It registers, then claims tasks over HTTP, runs them beside its data, reports
//! progress, and reaches the server's store through the store proxy.

mod http_backend;
pub mod worker;

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    domain::operation::{Assignment, TaskOutcome},
    store::{Progress, Store},
};
pub use http_backend::HttpBackend;

/// What asking for work answered.
enum Claim {
    Task(Box<Assignment>),
    Nothing,
    /// The server no longer knows this agent (deleted by its user, or its key revoked).
    Removed(String),
}

/// How long a removed agent waits before asking again.
const REMOVED_BACKOFF: Duration = Duration::from_secs(30);

/// A connection to the server as a registered agent.
#[derive(Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    server: String,
    token: String,
    pub id: Uuid,
    pub name: String,
}

impl AgentClient {
    /// Registers `name` with a user credential (API key or token) and switches to the agent's own token.
    pub async fn register(server: &str, credential: &str, name: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
        let server = server.trim_end_matches('/').to_owned();
        let hostname = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        let resp = http
            .post(format!("{server}/agent/v1/register"))
            .header("x-auth-token", credential)
            .json(&json!({ "name": name, "hostname": hostname }))
            .send()
            .await
            .with_context(|| format!("cannot reach the Coffer server at {server} (--server or COFFER_SERVER names another)"))?;
        if !resp.status().is_success() {
            bail!("{server} refused the registration ({}): {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        let body: Value = resp.json().await?;
        Ok(Self {
            http,
            server,
            token: body["token"].as_str().context("no token in the registration answer")?.to_owned(),
            id: body["agent_id"].as_str().context("no agent id")?.parse()?,
            name: name.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/agent/v1/agents/{}{path}", self.server, self.id)
    }

    async fn claim(&self) -> anyhow::Result<Claim> {
        let resp = self.http.post(self.url("/claim")).header("x-auth-token", &self.token).send().await?;
        match resp.status() {
            StatusCode::NO_CONTENT => Ok(Claim::Nothing),
            s if s.is_success() => Ok(Claim::Task(Box::new(resp.json().await?))),
            StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Ok(Claim::Removed(resp.text().await.unwrap_or_default()))
            }
            s => bail!("claim refused ({s}): {}", resp.text().await.unwrap_or_default()),
        }
    }

    async fn report(&self, task: Uuid, attempt: i32, progress: &Progress) -> anyhow::Result<bool> {
        let resp = self
            .http
            .post(self.url(&format!("/tasks/{task}/progress?attempt={attempt}")))
            .header("x-auth-token", &self.token)
            .json(&worker::snapshot(progress))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("progress refused ({})", resp.status());
        }
        let body: Value = resp.json().await?;
        Ok(body["cancel"].as_bool().unwrap_or(false))
    }

    /// Reports the end of a task; `Ok(false)` when the server no longer takes it from this claim
    /// (the lease ran out and the task was handed over).
    async fn finish(&self, task: Uuid, attempt: i32, outcome: &TaskOutcome) -> anyhow::Result<bool> {
        let url = self.url(&format!("/tasks/{task}/finish?attempt={attempt}"));
        let resp = self.http.post(url).header("x-auth-token", &self.token).json(outcome).send().await?;
        if resp.status() == StatusCode::CONFLICT {
            tracing::warn!(task = %task, reason = %resp.text().await.unwrap_or_default(), "the server did not take this run's end");
            return Ok(false);
        }
        if !resp.status().is_success() {
            bail!("finish refused ({}): {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        Ok(true)
    }

    fn backend(&self, destination: Uuid) -> HttpBackend {
        HttpBackend::new(self.http.clone(), format!("{}/agent/v1/stores/{destination}", self.server), self.token.clone())
    }
}

/// Runs the agent until `shutdown`: claim, run, report, finish, repeat.
pub async fn run(client: AgentClient, shutdown: CancellationToken) -> anyhow::Result<()> {
    tracing::info!(agent = %client.name, id = %client.id, "agent registered; waiting for tasks");
    let mut stores: HashMap<Uuid, Arc<Store>> = HashMap::new();
    while !shutdown.is_cancelled() {
        let assignment = match client.claim().await {
            Ok(Claim::Task(a)) => *a,
            Ok(Claim::Removed(why)) => {
                tracing::error!(agent = %client.name, reason = %why, "the server no longer knows this agent (deleted, or its key revoked); restart `coffer agent` to register it again");
                tokio::select! { _ = shutdown.cancelled() => break, _ = tokio::time::sleep(REMOVED_BACKOFF) => {} }
                continue;
            }
            Ok(Claim::Nothing) => {
                tokio::select! { _ = shutdown.cancelled() => break, _ = tokio::time::sleep(Duration::from_millis(500)) => {} }
                continue;
            }
            Err(e) => {
                tracing::warn!(server = %client.server, error = %e, "cannot reach the server; retrying");
                tokio::select! { _ = shutdown.cancelled() => break, _ = tokio::time::sleep(Duration::from_secs(2)) => {} }
                continue;
            }
        };
        let (task, attempt) = (assignment.task_id, assignment.attempt);
        tracing::info!(task = %task, kind = assignment.spec.kind(), "running task");
        let store = match stores.get(&assignment.destination_id) {
            Some(s) => Ok(s.clone()),
            None => {
                let key =
                    assignment.store_key.as_deref().map(|k| hex::decode(k).ok().and_then(|b| <[u8; 32]>::try_from(b).ok())).unwrap_or(None);
                Store::open(Arc::new(client.backend(assignment.destination_id)), key).await.inspect(|s| {
                    stores.insert(assignment.destination_id, s.clone());
                })
            }
        };
        let progress = Arc::new(Progress::default());
        let outcome = match store {
            Err(e) => TaskOutcome {
                state: crate::domain::state::State::Failed,
                error: Some(e.to_string()),
                progress: Default::default(),
                result: Value::Null,
            },
            Ok(store) => {
                let ticker = {
                    let (client, progress) = (client.clone(), progress.clone());
                    tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            match client.report(task, attempt, &progress).await {
                                Ok(true) => progress.cancel(),
                                Ok(false) => {}
                                Err(e) => tracing::warn!(task = %task, error = %e, "progress report failed"),
                            }
                        }
                    })
                };
                let outcome = worker::execute(&assignment, store, None, progress).await;
                ticker.abort();
                outcome
            }
        };
        tracing::info!(task = %task, state = %outcome.state, "task ended");
        for round in 1..=5 {
            match client.finish(task, attempt, &outcome).await {
                Ok(_) => break,
                Err(e) if round < 5 => {
                    tracing::warn!(task = %task, error = %e, "could not report the end of a task; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => tracing::error!(task = %task, error = %e, "giving up reporting the end of a task; its lease will expire"),
            }
        }
    }
    Ok(())
}
