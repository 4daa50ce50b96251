//! Opening destination stores: each tenant has its own repository in each destination, opened
//! once per process and shared.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{
    error::{CoreError, CoreResult},
    persistence::{Db, engine as repo},
    store::{Backend, ObjectStoreBackend, Store, StoreError},
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

/// The stores this process has opened.
#[derive(Clone)]
pub struct StoreRegistry {
    db: Db,
    root: PathBuf,
    key: Option<[u8; 32]>,
    open: Arc<Mutex<OpenStores>>,
}

impl StoreRegistry {
    pub fn new(db: Db, data_dir: &std::path::Path, key: Option<[u8; 32]>) -> Self {
        Self { db, root: data_dir.join("store"), key, open: Arc::default() }
    }

    /// The encryption key new repositories get (and existing encrypted ones need).
    pub fn key(&self) -> Option<[u8; 32]> {
        self.key
    }

    /// The backend of a tenant's repository in a destination.
    pub async fn backend(&self, destination_id: Uuid, tenant_id: Uuid) -> CoreResult<Arc<dyn Backend>> {
        let dest = repo::get_destination(&self.db, destination_id)
            .await?
            .ok_or_else(|| CoreError::not_found("destination", destination_id.to_string()))?;
        match dest.kind.as_str() {
            "server" => Ok(Arc::new(ObjectStoreBackend::local(&self.root.join(tenant_id.to_string())).map_err(store_error)?)),
            other => Err(CoreError::BadRequest(format!("destination kind '{other}' is not supported yet"))),
        }
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
}
