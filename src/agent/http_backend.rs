//! A store backend that goes through the server's store proxy.

use std::ops::Range;

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
        let resp = self.http.put(self.object(key)).header("x-auth-token", &self.token).body(data).send().await.map_err(transport)?;
        check(key, resp).await.map(|_| ())
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let resp = self.http.get(self.object(key)).header("x-auth-token", &self.token).send().await.map_err(transport)?;
        check(key, resp).await?.bytes().await.map_err(transport)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let resp = self
            .http
            .get(self.object(key))
            .header("x-auth-token", &self.token)
            .header("range", format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
            .map_err(transport)?;
        check(key, resp).await?.bytes().await.map_err(transport)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let resp = self.http.delete(self.object(key)).header("x-auth-token", &self.token).send().await.map_err(transport)?;
        match check(key, resp).await {
            Ok(_) | Err(StoreError::Missing(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let resp = self
            .http
            .get(format!("{}/list", self.base))
            .query(&[("prefix", prefix)])
            .header("x-auth-token", &self.token)
            .send()
            .await
            .map_err(transport)?;
        check(prefix, resp).await?.json().await.map_err(transport)
    }

    fn describe(&self) -> String {
        format!("server store at {}", self.base)
    }
}
