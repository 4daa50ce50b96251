//! Where repository objects live: any `object_store` backend (local directory, memory, and later
//! S3 and Azure) under a prefix, or, for remote agents, the server's store reached over HTTP.

use std::{ops::Range, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path};

use super::StoreError;

/// One stored object as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectInfo {
    /// Key relative to the repository root.
    pub key: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// The operations a repository needs from its storage.
#[async_trait]
pub trait Backend: Send + Sync {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Bytes, StoreError>;
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Objects whose key starts with `prefix` (a directory-like prefix such as `index/`).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError>;
    /// A human-readable description for messages (never contains secrets).
    fn describe(&self) -> String;
}

/// A repository inside an `object_store` at a prefix.
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    label: String,
}

impl ObjectStoreBackend {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, label: impl Into<String>) -> Self {
        let prefix = prefix.trim_matches('/').to_owned();
        Self { store, prefix, label: label.into() }
    }

    /// A repository in a local directory (created when missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", dir.display())))?
            .with_automatic_cleanup(true);
        Ok(Self::new(Arc::new(fs), "", format!("local directory {}", dir.display())))
    }

    /// A repository in memory (tests).
    pub fn memory() -> Self {
        Self::new(Arc::new(object_store::memory::InMemory::new()), "", "memory")
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() { Path::from(key) } else { Path::from(format!("{}/{key}", self.prefix)) }
    }

    fn relative(&self, location: &Path) -> String {
        let full = location.as_ref();
        if self.prefix.is_empty() { full.to_owned() } else { full.strip_prefix(&format!("{}/", self.prefix)).unwrap_or(full).to_owned() }
    }
}

fn backend_error(key: &str, err: object_store::Error) -> StoreError {
    match err {
        object_store::Error::NotFound { .. } => StoreError::Missing(key.to_owned()),
        other => StoreError::Backend(other.to_string()),
    }
}

#[async_trait]
impl Backend for ObjectStoreBackend {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.store.put(&self.path(key), PutPayload::from_bytes(data)).await.map(|_| ()).map_err(|e| match e {
            object_store::Error::NotFound { source, .. } => {
                StoreError::Backend(format!("the bucket or container does not exist ({source})"))
            }
            other => backend_error(key, other),
        })
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let got = self.store.get(&self.path(key)).await.map_err(|e| backend_error(key, e))?;
        got.bytes().await.map_err(|e| backend_error(key, e))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.store.get_range(&self.path(key), range).await.map_err(|e| backend_error(key, e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend_error(key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let base = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self.store.list(Some(&base)).try_collect().await.map_err(|e| backend_error(prefix, e))?;
        Ok(metas.into_iter().map(|m| ObjectInfo { key: self.relative(&m.location), size: m.size, modified: m.last_modified }).collect())
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}
