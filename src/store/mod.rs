//! The content-addressed store: files are split into content-defined chunks, each chunk is
//! identified by its keyed BLAKE3 hash, compressed, optionally encrypted, and written once into a
//! pack. A snapshot is one manifest per node, written after every pack and index it needs, so a
//! crash leaves unreferenced garbage but never a manifest pointing at missing data.
//!
//! Layout: `config`, `data/<xx>/<pack>`, `index/<pack>`, `snapshots/<snapshot>/<node>`, `locks/<id>`.

pub mod backend;
mod backup;
pub mod codec;
mod copy;
mod lock;
mod maintenance;
pub mod manifest;
pub(crate) mod pack;
mod restore;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

pub use backend::{Backend, ObjectInfo, ObjectStoreBackend};
pub use backup::{BackupRequest, Item, ItemSource};
pub use codec::ChunkId;
pub use copy::{CopyAs, CopyReport};
pub use maintenance::{GcReport, VerifyReport};
pub use manifest::{Entry, EntryKind, Manifest, Totals};
pub use restore::{RestoreRequest, RestoreSummary};

use codec::Codec;
use manifest::keys;
use pack::PackHeader;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {0} is missing from the store")]
    Missing(String),
    #[error("storage backend: {0}")]
    Backend(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("chunk {chunk} is damaged: {reason}")]
    CorruptChunk { chunk: String, reason: String },
    #[error("snapshot {snapshot} needs chunk {chunk}, which the store does not have")]
    MissingChunk { snapshot: String, chunk: String },
    #[error("unexpected repository format: {0}")]
    Format(String),
    #[error("the repository is encrypted and the configured key does not open it")]
    WrongKey,
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error("the repository is locked by {0}; try again later")]
    Locked(String),
}

impl StoreError {
    pub fn io(path: impl AsRef<std::path::Path>, err: std::io::Error) -> Self {
        StoreError::Io { path: path.as_ref().display().to_string(), message: err.to_string() }
    }
}

/// Live counters of a backup, restore or verify, read by whoever reports progress.
#[derive(Debug, Default)]
pub struct Progress {
    pub files_total: AtomicU64,
    pub bytes_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    cancelled: AtomicBool,
    /// Files are also counted per group, the first `group_depth` components of their path (0: not).
    group_depth: std::sync::atomic::AtomicUsize,
    groups: parking_lot::Mutex<std::collections::BTreeMap<String, GroupCounts>>,
}

/// Counts of one group of files (a cluster node's table directory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub files_total: u64,
    pub files_done: u64,
    pub bytes_total: u64,
}

impl Progress {
    /// Counts files per group as well: by the first `depth` components of their paths.
    pub fn track_groups(&self, depth: usize) {
        self.group_depth.store(depth, Ordering::Relaxed);
    }

    /// The per-group counts so far.
    pub fn groups(&self) -> std::collections::BTreeMap<String, GroupCounts> {
        self.groups.lock().clone()
    }

    fn group_of(&self, path: &str) -> Option<String> {
        let depth = self.group_depth.load(Ordering::Relaxed);
        let parts: Vec<&str> = path.splitn(depth + 1, '/').collect();
        (depth > 0 && parts.len() > depth).then(|| parts[..depth].join("/"))
    }

    /// A file the task will handle.
    pub(crate) fn plan_file(&self, path: &str, size: u64) {
        if let Some(group) = self.group_of(path) {
            let mut groups = self.groups.lock();
            let g = groups.entry(group).or_default();
            g.files_total += 1;
            g.bytes_total += size;
        }
    }

    /// A file the task finished.
    pub(crate) fn file_done(&self, path: &str) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        if let Some(group) = self.group_of(path) {
            self.groups.lock().entry(group).or_default().files_done += 1;
        }
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Done fraction by bytes (files when there are no bytes), 0..=1.
    pub fn fraction(&self) -> f64 {
        let (bt, bd) = (self.bytes_total.load(Ordering::Relaxed), self.bytes_done.load(Ordering::Relaxed));
        let (ft, fd) = (self.files_total.load(Ordering::Relaxed), self.files_done.load(Ordering::Relaxed));
        if bt > 0 {
            (bd as f64 / bt as f64).min(1.0)
        } else if ft > 0 {
            (fd as f64 / ft as f64).min(1.0)
        } else {
            0.0
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RepoConfig {
    version: u32,
    id: String,
    encrypted: bool,
    /// The chunk id key: hex in clear for plain repositories, sealed with the encryption key otherwise.
    id_key: String,
}

/// The chunk-id key of a new repository. It is derived, not drawn at random, so that processes
/// creating the same repository at the same moment (several servers, or agents through different
/// servers, on a shared bucket) agree on it whichever config ends up stored; with a random key the
/// loser's chunks were unreadable to everyone else. Encrypted repositories derive it from their
/// encryption key (so ids reveal nothing to whoever lacks it); plain ones store data in clear, and a
/// fixed key hides nothing they do not already show.
fn new_id_key(encryption_key: Option<&[u8; 32]>) -> [u8; 32] {
    blake3::derive_key("coffer 2026-12 repository chunk-id key", encryption_key.map_or(&[][..], |k| &k[..]))
}

/// Where a chunk lives.
#[derive(Clone, Debug)]
struct Location {
    pack: Arc<str>,
    offset: u64,
    len: u32,
}

#[derive(Default)]
struct ChunkIndex {
    chunks: HashMap<ChunkId, Location>,
    packs: HashMap<String, PackHeader>,
}

impl ChunkIndex {
    fn add(&mut self, header: PackHeader) {
        let pack: Arc<str> = Arc::from(header.pack.as_str());
        for e in &header.entries {
            self.chunks.entry(e.id).or_insert_with(|| Location { pack: pack.clone(), offset: e.offset, len: e.len });
        }
        self.packs.insert(header.pack.clone(), header);
    }

    fn remove_pack(&mut self, pack: &str) {
        if let Some(header) = self.packs.remove(pack) {
            for e in header.entries {
                if self.chunks.get(&e.id).is_some_and(|l| &*l.pack == pack) {
                    self.chunks.remove(&e.id);
                }
            }
            // A chunk may live in another pack too; point it there.
            let others: Vec<PackHeader> = self.packs.values().cloned().collect();
            for h in others {
                let arc: Arc<str> = Arc::from(h.pack.as_str());
                for e in &h.entries {
                    self.chunks.entry(e.id).or_insert_with(|| Location { pack: arc.clone(), offset: e.offset, len: e.len });
                }
            }
        }
    }
}

/// One repository.
pub struct Store {
    backend: Arc<dyn Backend>,
    codec: Codec,
    index: RwLock<ChunkIndex>,
    /// Backups hold it shared, garbage collection exclusively (within this process; lock objects
    /// do the same across processes).
    gate: RwLock<()>,
}

impl Store {
    /// Opens the repository at `backend`, creating it on first use. `key` encrypts a new
    /// repository and must open an existing encrypted one.
    pub async fn open(backend: Arc<dyn Backend>, key: Option<[u8; 32]>) -> Result<Arc<Store>, StoreError> {
        let config = match backend.get(keys::CONFIG).await {
            Ok(bytes) => serde_json::from_slice::<RepoConfig>(&bytes).map_err(|e| StoreError::Format(format!("config: {e}")))?,
            Err(StoreError::Missing(_)) => {
                let id_key = new_id_key(key.as_ref());
                let config = RepoConfig {
                    version: 1,
                    id: hex::encode(rand::random::<[u8; 16]>()),
                    encrypted: key.is_some(),
                    id_key: match key {
                        Some(k) => hex::encode(Codec::new([0; 32], Some(k)).seal(&id_key)),
                        None => hex::encode(id_key),
                    },
                };
                backend.put(keys::CONFIG, Bytes::from(serde_json::to_vec(&config).expect("config serialises"))).await?;
                // Another process may have created the repository at the same moment, and one of
                // the two configs is overwritten while its writer goes on with it. That is harmless
                // because both carry the same chunk-id key (`new_id_key`); read back the stored one
                // anyway, so every process works from the repository's own config.
                let stored = backend.get(keys::CONFIG).await?;
                serde_json::from_slice::<RepoConfig>(&stored).map_err(|e| StoreError::Format(format!("config: {e}")))?
            }
            Err(e) => return Err(e),
        };
        if config.version != 1 {
            return Err(StoreError::Format(format!("repository version {} is not supported", config.version)));
        }
        let raw = hex::decode(&config.id_key).map_err(|_| StoreError::Format("config id_key".into()))?;
        let id_key: [u8; 32] = if config.encrypted {
            let key = key.ok_or(StoreError::WrongKey)?;
            Codec::new([0; 32], Some(key)).open(&raw).map_err(|_| StoreError::WrongKey)?.try_into().map_err(|_| StoreError::WrongKey)?
        } else {
            raw.try_into().map_err(|_| StoreError::Format("config id_key length".into()))?
        };
        let store = Store {
            backend,
            codec: Codec::new(id_key, if config.encrypted { key } else { None }),
            index: RwLock::new(ChunkIndex::default()),
            gate: RwLock::new(()),
        };
        store.refresh_index().await?;
        Ok(Arc::new(store))
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn encrypted(&self) -> bool {
        self.codec.encrypted()
    }

    /// Loads index objects written since the last refresh (by this or another process).
    pub async fn refresh_index(&self) -> Result<(), StoreError> {
        let listed = self.backend.list(keys::INDEX).await?;
        let known: HashSet<String> = self.index.read().await.packs.keys().cloned().collect();
        let listed_ids: HashSet<String> = listed.iter().filter_map(|o| o.key.strip_prefix(keys::INDEX).map(str::to_owned)).collect();
        let mut fresh = Vec::new();
        for id in listed_ids.iter().filter(|id| !known.contains(*id)) {
            match self.read_index(id).await {
                Ok(header) => fresh.push(header),
                Err(StoreError::Missing(_)) => continue, // removed since it was listed
                Err(damaged) => match self.header_from_pack(id).await {
                    Ok(header) => {
                        tracing::warn!(pack = %id, error = %damaged, "a damaged index object was rebuilt from its pack");
                        let sealed = self.codec.seal(&serde_json::to_vec(&header).expect("a header serialises"));
                        if let Err(e) = self.backend.put(&keys::index(id), sealed.into()).await {
                            tracing::warn!(pack = %id, error = %e, "could not rewrite the rebuilt index object");
                        }
                        fresh.push(header);
                    }
                    // Only the backups holding its chunks are affected: they fail verify and restore
                    // naming a missing chunk; every other backup goes on working.
                    Err(e) => tracing::warn!(pack = %id, index_error = %damaged, pack_error = %e, "a pack and its index are unreadable"),
                },
            }
        }
        let mut index = self.index.write().await;
        for gone in known.difference(&listed_ids) {
            index.remove_pack(gone);
        }
        for header in fresh {
            index.add(header);
        }
        Ok(())
    }

    async fn read_index(&self, id: &str) -> Result<PackHeader, StoreError> {
        let sealed = self.backend.get(&keys::index(id)).await?;
        let header = pack::parse_header(&self.codec.open(&sealed)?)?;
        if header.pack != id {
            return Err(StoreError::Corrupt(format!("index object {id} describes pack {}", header.pack)));
        }
        Ok(header)
    }

    /// A pack's header read from the pack itself (its trailer), for when its index object is damaged.
    async fn header_from_pack(&self, id: &str) -> Result<PackHeader, StoreError> {
        let key = keys::pack(id);
        let folder = key.rsplit_once('/').map(|(folder, _)| folder).unwrap_or_default();
        let listed = self.backend.list(folder).await?;
        let size = listed.into_iter().find(|o| o.key == key).map(|o| o.size).ok_or_else(|| StoreError::Missing(key.clone()))?;
        if size < pack::TRAILER_LEN {
            return Err(StoreError::Corrupt(format!("pack {id} is too short")));
        }
        let len = pack::sealed_header_len(&self.backend.get_range(&key, size - pack::TRAILER_LEN..size).await?)?;
        let start = (size - pack::TRAILER_LEN)
            .checked_sub(len)
            .ok_or_else(|| StoreError::Corrupt(format!("pack {id}: header longer than the pack")))?;
        let header = pack::parse_header(&self.codec.open(&self.backend.get_range(&key, start..size - pack::TRAILER_LEN).await?)?)?;
        if header.pack != id {
            return Err(StoreError::Corrupt(format!("pack {id} carries the header of {}", header.pack)));
        }
        Ok(header)
    }

    /// Whether the store has this chunk.
    pub async fn has_chunk(&self, id: &ChunkId) -> bool {
        self.index.read().await.chunks.contains_key(id)
    }

    /// Every chunk id the store holds (after reading new index objects).
    pub async fn chunk_ids(&self) -> Result<HashSet<ChunkId>, StoreError> {
        self.refresh_index().await?;
        Ok(self.index.read().await.chunks.keys().copied().collect())
    }

    /// Number of chunks and packs the index knows.
    pub async fn counts(&self) -> (usize, usize) {
        let index = self.index.read().await;
        (index.chunks.len(), index.packs.len())
    }

    /// Reads one node's manifest of a snapshot.
    pub async fn manifest(&self, snapshot: &str, node: &str) -> Result<Manifest, StoreError> {
        let sealed = self.backend.get(&keys::manifest(snapshot, node)).await?;
        serde_json::from_slice(&self.codec.open(&sealed)?).map_err(|e| StoreError::Corrupt(format!("manifest {snapshot}/{node}: {e}")))
    }

    /// The nodes that have a manifest in `snapshot`.
    pub async fn snapshot_nodes(&self, snapshot: &str) -> Result<Vec<String>, StoreError> {
        let prefix = keys::snapshot_prefix(snapshot);
        let mut nodes: Vec<String> =
            self.backend.list(&prefix).await?.into_iter().filter_map(|o| o.key.strip_prefix(&prefix).map(str::to_owned)).collect();
        nodes.sort();
        Ok(nodes)
    }

    /// Every snapshot id with at least one manifest.
    pub async fn snapshots(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self
            .backend
            .list(keys::SNAPSHOTS)
            .await?
            .into_iter()
            .filter_map(|o| o.key.strip_prefix(keys::SNAPSHOTS).and_then(|rest| rest.split('/').next()).map(str::to_owned))
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn write_manifest(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(manifest).map_err(|e| StoreError::Format(e.to_string()))?;
        let sealed = self.codec.seal(&plain);
        self.backend.put(&keys::manifest(&manifest.snapshot, &manifest.node), Bytes::from(sealed)).await
    }

    async fn locate(&self, id: &ChunkId) -> Option<Location> {
        self.index.read().await.chunks.get(id).cloned()
    }

    /// Reads, opens and checks one chunk.
    pub async fn read_chunk(&self, snapshot: &str, id: &ChunkId) -> Result<Vec<u8>, StoreError> {
        let loc = self.locate(id).await.ok_or_else(|| StoreError::MissingChunk { snapshot: snapshot.into(), chunk: id.to_hex() })?;
        let stored = self.backend.get_range(&keys::pack(&loc.pack), loc.offset..loc.offset + u64::from(loc.len)).await?;
        let codec = self.codec.clone();
        let id = *id;
        tokio::task::spawn_blocking(move || codec.open_chunk(&id, &stored)).await.map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

#[cfg(test)]
mod tests;
