//! Verification (re-read every chunk of a snapshot and check its hash), snapshot deletion and
//! garbage collection of chunks no manifest references.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use bytes::Bytes;

use super::{
    Store, StoreError,
    codec::ChunkId,
    lock::{self, LockKind},
    manifest::keys,
    pack::PackBuilder,
};

/// What a verification found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    pub snapshot: String,
    pub nodes: usize,
    pub files: u64,
    pub chunks: u64,
    pub bytes: u64,
    /// Every problem, naming the snapshot, node, file and chunk.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What garbage collection removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    pub packs_deleted: u64,
    pub packs_rewritten: u64,
    pub chunks_removed: u64,
    pub bytes_freed: u64,
}

impl Store {
    /// Re-reads every chunk a snapshot references and checks its hash.
    pub async fn verify(self: &Arc<Self>, snapshot: &str) -> Result<VerifyReport, StoreError> {
        self.refresh_index().await?;
        let mut report = VerifyReport { snapshot: snapshot.to_owned(), ..Default::default() };
        let nodes = self.snapshot_nodes(snapshot).await?;
        if nodes.is_empty() {
            report.problems.push(format!("snapshot {snapshot} has no manifest"));
            return Ok(report);
        }
        report.nodes = nodes.len();
        // chunk -> where it is used (for the message)
        let mut used: HashMap<ChunkId, String> = HashMap::new();
        for node in &nodes {
            let manifest = match self.manifest(snapshot, node).await {
                Ok(m) => m,
                Err(e) => {
                    report.problems.push(format!("snapshot {snapshot}, node {node}: manifest unreadable: {e}"));
                    continue;
                }
            };
            report.files += manifest.totals.files;
            for entry in &manifest.entries {
                for c in &entry.chunks {
                    used.entry(c.id).or_insert_with(|| format!("node {node}, file {}", entry.path));
                }
            }
        }
        let mut by_pack: HashMap<Arc<str>, Vec<(ChunkId, super::Location)>> = HashMap::new();
        {
            let index = self.index.read().await;
            for (id, place) in &used {
                match index.chunks.get(id) {
                    Some(loc) => by_pack.entry(loc.pack.clone()).or_default().push((*id, loc.clone())),
                    None => report.problems.push(format!("snapshot {snapshot}: chunk {id} of {place} is missing from the store")),
                }
            }
        }
        for (pack, chunks) in by_pack {
            let bytes = match self.backend.get(&keys::pack(&pack)).await {
                Ok(b) => b,
                Err(e) => {
                    for (id, _) in &chunks {
                        report.problems.push(format!("snapshot {snapshot}: chunk {id} of {} cannot be read: {e}", used[id]));
                    }
                    continue;
                }
            };
            let codec = self.codec.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                chunks
                    .into_iter()
                    .map(|(id, loc)| {
                        let stored = bytes.get(loc.offset as usize..(loc.offset + u64::from(loc.len)) as usize);
                        let result = match stored {
                            Some(s) => codec.open_chunk(&id, s).map(|p| p.len() as u64),
                            None => Err(StoreError::Corrupt(format!("pack {pack} is shorter than its index says"))),
                        };
                        (id, result)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
            for (id, result) in outcome {
                match result {
                    Ok(n) => {
                        report.chunks += 1;
                        report.bytes += n;
                    }
                    Err(e) => report.problems.push(format!("snapshot {snapshot}: chunk {id} of {} is damaged: {e}", used[&id])),
                }
            }
        }
        report.problems.sort();
        Ok(report)
    }

    pub(super) async fn put_pack(&self, builder: PackBuilder) -> Result<(), StoreError> {
        let pack = builder.finish(|b| self.codec.seal(b));
        self.backend.put(&keys::pack(&pack.id), Bytes::from(pack.bytes)).await?;
        self.backend.put(&keys::index(&pack.id), Bytes::from(pack.sealed_header)).await?;
        self.index.write().await.add(pack.header);
        Ok(())
    }

    /// Removes a snapshot's manifests; its chunks go at the next garbage collection.
    pub async fn delete_snapshot(&self, snapshot: &str) -> Result<(), StoreError> {
        for node in self.snapshot_nodes(snapshot).await? {
            self.backend.delete(&keys::manifest(snapshot, &node)).await?;
        }
        Ok(())
    }

    /// Deletes packs whose chunks no manifest references and rewrites packs that are partly
    /// unreferenced. Holds the exclusive lock, so no backup runs meanwhile.
    pub async fn gc(self: &Arc<Self>) -> Result<GcReport, StoreError> {
        let _gate = self.gate.write().await;
        let _lock = lock::acquire(self.backend.clone(), LockKind::Exclusive).await?;
        self.refresh_index().await?;
        let mut referenced: HashSet<ChunkId> = HashSet::new();
        for snapshot in self.snapshots().await? {
            for node in self.snapshot_nodes(&snapshot).await? {
                referenced.extend(self.manifest(&snapshot, &node).await?.chunk_ids());
            }
        }
        let packs: Vec<_> = self.index.read().await.packs.values().cloned().collect();
        let mut report = GcReport::default();
        let mut rewrite = PackBuilder::default();
        let mut replaced: Vec<String> = Vec::new();
        let mut kept_in_rewrite: HashSet<ChunkId> = HashSet::new();
        for header in packs {
            let unused = header.entries.iter().filter(|e| !referenced.contains(&e.id)).count();
            if unused == 0 {
                continue;
            }
            let freed: u64 = header.entries.iter().filter(|e| !referenced.contains(&e.id)).map(|e| u64::from(e.len)).sum();
            if unused < header.entries.len() {
                let bytes = self.backend.get(&keys::pack(&header.pack)).await?;
                for e in header.entries.iter().filter(|e| referenced.contains(&e.id)) {
                    if kept_in_rewrite.insert(e.id) {
                        let stored = bytes
                            .get(e.offset as usize..(e.offset + u64::from(e.len)) as usize)
                            .ok_or_else(|| StoreError::Corrupt(format!("pack {} is shorter than its index says", header.pack)))?;
                        rewrite.add(e.id, stored, e.raw_len as usize);
                        if rewrite.is_full() {
                            self.put_pack(std::mem::take(&mut rewrite)).await?;
                        }
                    }
                }
                report.packs_rewritten += 1;
            } else {
                report.packs_deleted += 1;
            }
            report.chunks_removed += unused as u64;
            report.bytes_freed += freed;
            replaced.push(header.pack.clone());
        }
        if !rewrite.is_empty() {
            self.put_pack(rewrite).await?;
        }
        for pack in replaced {
            self.backend.delete(&keys::index(&pack)).await?;
            self.backend.delete(&keys::pack(&pack)).await?;
            self.index.write().await.remove_pack(&pack);
        }
        Ok(report)
    }
}
