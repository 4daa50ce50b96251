//! Copying a snapshot to another repository: only chunks the target lacks travel, each checked
//! against its hash on the way; the target's manifests are written last.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, atomic::Ordering},
};

use super::{
    Progress, Store, StoreError,
    codec::ChunkId,
    lock::{self, LockKind},
    pack::PackBuilder,
};

/// What a copy moved.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    pub nodes: u64,
    pub chunks: u64,
    /// Chunks the target did not have.
    pub new_chunks: u64,
    /// Bytes those chunks took at rest in the target.
    pub new_bytes_stored: u64,
}

/// The name and parent a copied snapshot takes in the target, when it becomes a backup of its
/// own there (a copy to another region) rather than the same backup kept twice.
#[derive(Clone, Copy, Debug)]
pub struct CopyAs<'a> {
    pub snapshot: &'a str,
    pub parent: Option<&'a str>,
}

impl Store {
    /// Copies `snapshot` into `target`. Chunk ids are keyed per repository, so each chunk is
    /// read, checked, and identified again with the target's key.
    pub async fn copy_snapshot(
        self: &Arc<Self>,
        snapshot: &str,
        target: &Arc<Store>,
        progress: Arc<Progress>,
    ) -> Result<CopyReport, StoreError> {
        self.copy_snapshot_as(snapshot, target, &[], None, progress).await
    }

    /// Copies the parts of `snapshot` of the nodes `only` names (every node's when empty) into
    /// `target`, as [`Store::copy_snapshot`] does; with `rename`, the target's manifests name the
    /// new snapshot and parent, and record `copy_of` in their metadata.
    pub async fn copy_snapshot_as(
        self: &Arc<Self>,
        snapshot: &str,
        target: &Arc<Store>,
        only: &[String],
        rename: Option<CopyAs<'_>>,
        progress: Arc<Progress>,
    ) -> Result<CopyReport, StoreError> {
        let _gate = target.gate.read().await;
        let _lock = lock::acquire(target.backend.clone(), LockKind::Shared).await?;
        self.refresh_index().await?;
        target.refresh_index().await?;
        let mut nodes = self.snapshot_nodes(snapshot).await?;
        if !only.is_empty() {
            nodes.retain(|n| only.contains(n));
        }
        if nodes.is_empty() {
            return Err(StoreError::Missing(format!("snapshot {snapshot}")));
        }
        let mut manifests = Vec::new();
        for node in &nodes {
            manifests.push(self.manifest(snapshot, node).await?);
        }
        let total: u64 = manifests.iter().map(|m| m.totals.bytes).sum();
        progress.bytes_total.store(total, Ordering::Relaxed);
        progress.files_total.store(manifests.iter().map(|m| m.totals.files).sum(), Ordering::Relaxed);

        let mut known: HashSet<ChunkId> = target.index.read().await.chunks.keys().copied().collect();
        let mut translated: HashMap<ChunkId, ChunkId> = HashMap::new();
        let mut builder = PackBuilder::default();
        let mut report = CopyReport { nodes: nodes.len() as u64, ..Default::default() };
        for manifest in &mut manifests {
            for entry in &mut manifest.entries {
                for chunk in &mut entry.chunks {
                    if progress.is_cancelled() {
                        return Err(StoreError::Cancelled);
                    }
                    report.chunks += 1;
                    let id = match translated.get(&chunk.id) {
                        Some(id) => *id,
                        None => {
                            let plain = self.read_chunk(snapshot, &chunk.id).await?;
                            let id = target.codec.chunk_id(&plain);
                            if known.insert(id) {
                                let sealed = target.codec.seal(&plain);
                                report.new_chunks += 1;
                                report.new_bytes_stored += sealed.len() as u64;
                                builder.add(id, &sealed, plain.len());
                                if builder.is_full() {
                                    target.put_pack(std::mem::take(&mut builder)).await?;
                                }
                            }
                            translated.insert(chunk.id, id);
                            id
                        }
                    };
                    chunk.id = id;
                    progress.bytes_done.fetch_add(u64::from(chunk.len), Ordering::Relaxed);
                }
                progress.files_done.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !builder.is_empty() {
            target.put_pack(builder).await?;
        }
        if let Some(rename) = rename {
            for manifest in &mut manifests {
                manifest.snapshot = rename.snapshot.to_owned();
                manifest.parent = rename.parent.map(str::to_owned);
                if !manifest.metadata.is_object() {
                    manifest.metadata = serde_json::json!({});
                }
                manifest.metadata["copy_of"] = serde_json::json!(snapshot);
            }
        }
        for manifest in &manifests {
            target.write_manifest(manifest).await?;
        }
        Ok(report)
    }
}
