//! Opening destination stores: each tenant has its own repository in each destination, opened
//! once per process and shared. Destinations are `object_store` backends; secrets are opened
//! only here, when a backend is built.

use std::{
    collections::HashMap,
    ops::Range,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::{ObjectStore, RetryConfig};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{
    crypto::SecretBox,
    error::{CoreError, CoreResult},
    persistence::{
        Db,
        catalog::{self, DestinationRow},
    },
    store::{Backend, ObjectInfo, ObjectStoreBackend, Store, StoreError},
};

/// Converts store failures for callers outside the store.
pub fn store_error(e: StoreError) -> CoreError {
    match e {
        StoreError::Backend(msg) => CoreError::Unavailable(format!("backup storage is unavailable: {msg}")),
        other => CoreError::internal(anyhow::Error::new(other)),
    }
}

/// Opened repositories by (destination, tenant).
type OpenStores = HashMap<(Uuid, Uuid), Arc<Store>>;

/// Where the server's own destination lives.
#[derive(Clone, Debug)]
pub enum ServerStore {
    /// `<data_dir>/store`: one server alone.
    Directory(PathBuf),
    /// A bucket every server sharing the database reaches.
    S3 { bucket: String, prefix: Option<String>, endpoint: Option<String>, region: String },
}

impl ServerStore {
    /// Reads the `server_store` setting: empty for the data directory, or `s3://bucket[/prefix]`
    /// with optional `endpoint` and `region` query parameters.
    pub fn parse(setting: &str, data_dir: &std::path::Path) -> CoreResult<Self> {
        let setting = setting.trim();
        if setting.is_empty() {
            return Ok(Self::Directory(data_dir.join("store")));
        }
        let bad = |why: &str| CoreError::BadRequest(format!("server_store '{setting}': {why}"));
        let url = url::Url::parse(setting).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "s3" {
            return Err(bad("only s3://bucket[/prefix] is supported"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CoreError::BadRequest(
                "server_store takes no credentials in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            ));
        }
        let bucket = url.host_str().filter(|b| !b.is_empty()).ok_or_else(|| bad("no bucket"))?.to_owned();
        let prefix = Some(url.path().trim_matches('/').to_owned()).filter(|p| !p.is_empty());
        let (mut endpoint, mut region) = (None, "us-east-1".to_owned());
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "endpoint" => endpoint = Some(value.into_owned()),
                "region" => region = value.into_owned(),
                other => return Err(bad(&format!("unknown parameter '{other}' (endpoint and region are known)"))),
            }
        }
        Ok(Self::S3 { bucket, prefix, endpoint, region })
    }
}

/// The stores this process has opened.
#[derive(Clone)]
pub struct StoreRegistry {
    db: Db,
    server: ServerStore,
    key: Option<[u8; 32]>,
    secrets: SecretBox,
    retries: usize,
    open: Arc<Mutex<OpenStores>>,
}

fn invalid(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::BadRequest(format!("{what}: {e}"))
}

/// `base/coffer/<tenant>`, the repository of a tenant inside a destination.
fn repository_prefix(base: Option<&str>, tenant_id: Uuid) -> String {
    let base = base.map(|b| b.trim_matches('/')).filter(|b| !b.is_empty());
    match base {
        Some(b) => format!("{b}/coffer/{tenant_id}"),
        None => format!("coffer/{tenant_id}"),
    }
}

impl StoreRegistry {
    pub fn new(db: Db, server: ServerStore, key: Option<[u8; 32]>, secrets: SecretBox, retries: usize) -> Self {
        Self { db, server, key, secrets, retries, open: Arc::default() }
    }

    /// The encryption key new repositories get (and existing encrypted ones need).
    pub fn key(&self) -> Option<[u8; 32]> {
        self.key
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig { max_retries: self.retries, retry_timeout: Duration::from_secs(30), ..Default::default() }
    }

    /// Builds the backend of a tenant's repository in a destination.
    pub async fn backend_for(&self, row: &DestinationRow, tenant_id: Uuid) -> CoreResult<Arc<dyn Backend>> {
        let config = super::stored::destination_config(row)?;
        let secret = row.sealed_secret.as_deref().map(|s| self.secrets.open(s)).transpose()?;
        let label = format!("{} destination '{}'", row.kind, row.name);
        let backend: Arc<dyn Backend> = match row.kind.as_str() {
            "server" => match &self.server {
                ServerStore::Directory(root) => {
                    Arc::new(ObjectStoreBackend::local(&root.join(tenant_id.to_string())).map_err(store_error)?)
                }
                ServerStore::S3 { bucket, prefix, endpoint, region } => {
                    let mut b = object_store::aws::AmazonS3Builder::from_env()
                        .with_bucket_name(bucket)
                        .with_region(region)
                        .with_virtual_hosted_style_request(false)
                        .with_retry(self.retry());
                    if let Some(endpoint) = endpoint {
                        b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                    }
                    let store: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(|e| invalid(&label, e))?);
                    Arc::new(ObjectStoreBackend::new(store, &repository_prefix(prefix.as_deref(), tenant_id), label))
                }
            },
            "localfs" => {
                let path = PathBuf::from(config.path.clone().unwrap_or_default());
                let dir = path.join("coffer").join(tenant_id.to_string());
                Arc::new(ObjectStoreBackend::local(&dir).map_err(|e| CoreError::BadRequest(format!("{label}: {e}")))?)
            }
            "s3" => {
                let full = config.path.clone().unwrap_or_default();
                let (bucket, prefix) = full
                    .trim_matches('/')
                    .split_once('/')
                    .map(|(b, p)| (b.to_owned(), Some(p.to_owned())))
                    .unwrap_or((full.trim_matches('/').to_owned(), None));
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(config.region.clone().unwrap_or_else(|| "us-east-1".into()))
                    .with_virtual_hosted_style_request(!config.path_style)
                    .with_retry(self.retry());
                if let Some(endpoint) = config.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
                    // object_store panics on an endpoint it cannot parse as an absolute URL.
                    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) || url::Url::parse(endpoint).is_err() {
                        return Err(CoreError::BadRequest(format!("endpoint '{endpoint}' is not an http:// or https:// URL")));
                    }
                    b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let (Some(key), Some(secret)) = (&config.access_key, &secret) {
                    b = b.with_access_key_id(key).with_secret_access_key(secret);
                }
                if config.server_side_encryption {
                    let key: object_store::aws::AmazonS3ConfigKey = "aws_server_side_encryption".parse().map_err(|e| invalid(&label, e))?;
                    b = b.with_config(key, "AES256");
                }
                let store: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(|e| invalid(&label, e))?);
                Arc::new(ObjectStoreBackend::new(store, &repository_prefix(prefix.as_deref(), tenant_id), label))
            }
            "azure" => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::new()
                    .with_container_name(config.container_name.clone().unwrap_or_default())
                    .with_retry(self.retry());
                if config.use_emulator {
                    b = b.with_use_emulator(true);
                }
                if let Some(account) = &config.storage_account_name {
                    b = b.with_account(account);
                }
                if let Some(key) = &secret {
                    b = b.with_access_key(key);
                }
                if let Some(endpoint) = config.endpoint.clone().filter(|e| !config.use_emulator && !e.trim().is_empty()) {
                    if url::Url::parse(&endpoint).is_err() {
                        return Err(CoreError::BadRequest(format!("endpoint '{endpoint}' is not a URL")));
                    }
                    b = b.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
                }
                let store: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(|e| invalid(&label, e))?);
                Arc::new(ObjectStoreBackend::new(store, &repository_prefix(config.subfolder.as_deref(), tenant_id), label))
            }
            other => return Err(CoreError::BadRequest(format!("destination kind '{other}' is not supported"))),
        };
        Ok(match config.throttle_bytes_per_second {
            0 => backend,
            rate => Arc::new(Throttled { inner: backend, rate, start: Instant::now(), bytes: AtomicU64::new(0) }),
        })
    }

    /// The backend of a tenant's repository in a destination.
    pub async fn backend(&self, destination_id: Uuid, tenant_id: Uuid) -> CoreResult<Arc<dyn Backend>> {
        let row = catalog::get_destination(&self.db, destination_id)
            .await?
            .ok_or_else(|| CoreError::not_found("destination", destination_id.to_string()))?;
        self.backend_for(&row, tenant_id).await
    }

    /// The opened repository of a tenant in a destination.
    pub async fn store(&self, destination_id: Uuid, tenant_id: Uuid) -> CoreResult<Arc<Store>> {
        let mut open = self.open.lock().await;
        if let Some(s) = open.get(&(destination_id, tenant_id)) {
            return Ok(s.clone());
        }
        let backend = self.backend(destination_id, tenant_id).await?;
        let store = Store::open(backend, self.key).await.map_err(store_error)?;
        open.insert((destination_id, tenant_id), store.clone());
        Ok(store)
    }

    /// Drops opened stores of a destination whose settings changed.
    pub async fn forget(&self, destination_id: Uuid) {
        self.open.lock().await.retain(|(d, _), _| *d != destination_id);
    }
}

/// A backend limited to a number of bytes per second (a destination's throttle).
struct Throttled {
    inner: Arc<dyn Backend>,
    rate: u64,
    start: Instant,
    bytes: AtomicU64,
}

impl Throttled {
    async fn pace(&self, n: usize) {
        let total = self.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let due = Duration::from_secs_f64(total as f64 / self.rate as f64);
        if let Some(wait) = due.checked_sub(self.start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[async_trait]
impl Backend for Throttled {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.pace(data.len()).await;
        self.inner.put(key, data).await
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let data = self.inner.get(key).await?;
        self.pace(data.len()).await;
        Ok(data)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let data = self.inner.get_range(key, range).await?;
        self.pace(data.len()).await;
        Ok(data)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.inner.list(prefix).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_server_store_is_the_data_directory() {
        let parsed = ServerStore::parse(" ", std::path::Path::new("/var/lib/coffer")).unwrap();
        assert!(matches!(parsed, ServerStore::Directory(p) if p == std::path::Path::new("/var/lib/coffer/store")));
    }

    #[test]
    fn an_s3_server_store_names_bucket_prefix_endpoint_and_region() {
        let parsed =
            ServerStore::parse("s3://backups/coffer/prod?endpoint=http://minio:9000&region=eu-west-1", std::path::Path::new("/d")).unwrap();
        match parsed {
            ServerStore::S3 { bucket, prefix, endpoint, region } => {
                assert_eq!(
                    (bucket.as_str(), prefix.as_deref(), endpoint.as_deref(), region.as_str()),
                    ("backups", Some("coffer/prod"), Some("http://minio:9000"), "eu-west-1")
                );
            }
            other => panic!("expected S3, got {other:?}"),
        }
    }

    #[test]
    fn a_server_store_of_another_scheme_or_with_unknown_parameters_is_refused() {
        for bad in ["file:///tmp/x", "s3://bucket?secret=x", "s3:///nobucket", "not a url", "s3://key:secret@bucket"] {
            assert!(matches!(ServerStore::parse(bad, std::path::Path::new("/d")), Err(CoreError::BadRequest(_))), "{bad}");
        }
    }
}
