//! A store backend that goes through the server's store proxy. Every call is idempotent (objects
//! are written whole under their names, deletes of missing objects succeed), so a call that finds
//! no server (one restarting, or gone behind a load balancer) or an overloaded one is sent again.

use std::{future::Future, ops::Range, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::StatusCode;

use crate::store::{Backend, ObjectInfo, StoreError};

/// The server's store, for a remote agent.
pub struct HttpBackend {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl HttpBackend {
    pub fn new(http: reqwest::Client, base: String, token: String) -> Self {
        Self { http, base, token }
    }

    fn object(&self, key: &str) -> String {
        format!("{}/objects/{key}", self.base)
    }
}

fn transport(e: reqwest::Error) -> StoreError {
    StoreError::Backend(format!("server store: {e}"))
}

/// Waits before the attempts after the first; about 6 s in all, longer than a load balancer takes
/// to pass over a server that went away.
const BACKOFF_MS: [u64; 5] = [100, 200, 400, 800, 1600];

/// Sends a request until it gets an answer that is not a server's trouble (connection failure,
/// 429, 502, 503, 504) or the attempts run out; answers the last outcome.
async fn sent<F, Fut>(request: F) -> Result<reqwest::Response, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let mut outcome = request().await;
    for wait in BACKOFF_MS {
        let again = match &outcome {
            Err(e) => !e.is_builder(),
            Ok(resp) => matches!(resp.status().as_u16(), 429 | 502 | 503 | 504),
        };
        if !again {
            break;
        }
        tokio::time::sleep(Duration::from_millis(wait)).await;
        outcome = request().await;
    }
    outcome.map_err(transport)
}

/// Reads a whole answer body, sending the request again when the body is cut off.
async fn body<F, Fut>(key: &str, request: F) -> Result<Bytes, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let mut last = None;
    for wait in std::iter::once(0).chain(BACKOFF_MS.into_iter().take(2)) {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        match check(key, sent(&request).await?).await?.bytes().await {
            Ok(bytes) => return Ok(bytes),
            Err(e) => last = Some(e),
        }
    }
    Err(transport(last.expect("at least one attempt")))
}

async fn check(key: &str, resp: reqwest::Response) -> Result<reqwest::Response, StoreError> {
    match resp.status() {
        s if s.is_success() => Ok(resp),
        StatusCode::NOT_FOUND => Err(StoreError::Missing(key.to_owned())),
        s => Err(StoreError::Backend(format!("server store answered {s}: {}", resp.text().await.unwrap_or_default()))),
    }
}

#[async_trait]
impl Backend for HttpBackend {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let resp = sent(|| self.http.put(self.object(key)).header("x-auth-token", &self.token).body(data.clone()).send()).await?;
        check(key, resp).await.map(|_| ())
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        body(key, || self.http.get(self.object(key)).header("x-auth-token", &self.token).send()).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let range = format!("bytes={}-{}", range.start, range.end - 1);
        body(key, || self.http.get(self.object(key)).header("x-auth-token", &self.token).header("range", &range).send()).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let resp = sent(|| self.http.delete(self.object(key)).header("x-auth-token", &self.token).send()).await?;
        match check(key, resp).await {
            Ok(_) | Err(StoreError::Missing(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let listed = body(prefix, || {
            self.http.get(format!("{}/list", self.base)).query(&[("prefix", prefix)]).header("x-auth-token", &self.token).send()
        })
        .await?;
        serde_json::from_slice(&listed).map_err(|e| StoreError::Backend(format!("server store listing: {e}")))
    }

    fn describe(&self) -> String {
        format!("server store at {}", self.base)
    }
}
