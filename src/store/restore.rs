//! Restoring a snapshot: files are created at their final size, then every pack that holds needed
//! chunks is read once, each chunk is checked against its hash and written at its offsets.

use std::{
    collections::HashMap,
    io::Write,
    os::unix::fs::{FileExt, PermissionsExt},
    path::{Component, Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures_util::{StreamExt, TryStreamExt};

use super::{
    Location, Progress, Store, StoreError,
    codec::ChunkId,
    manifest::{Entry, EntryKind, keys},
};

/// Reads spanning gaps smaller than this are merged into one range request.
const MERGE_GAP: u64 = 1 << 20;

/// What to restore and where.
pub struct RestoreRequest {
    pub snapshot: String,
    pub node: String,
    pub target: PathBuf,
    /// Only entries equal to or under one of these relative paths; everything when empty.
    pub include: Vec<String>,
    /// Entries equal to or under one of these relative paths are left out, even when included.
    pub exclude: Vec<String>,
    /// Replace existing files; otherwise they are left alone and counted as skipped.
    pub overwrite: bool,
    pub throttle_bytes_per_sec: Option<u64>,
    /// Entries whose first path component is a key here are written under its value instead
    /// (a keyspace restored under another name).
    pub rename_top: std::collections::BTreeMap<String, String>,
}

impl RestoreRequest {
    /// Where an entry goes, relative to the target.
    fn placed<'a>(&self, rel: &'a str) -> std::borrow::Cow<'a, str> {
        let (top, rest) = rel.split_once('/').unwrap_or((rel, ""));
        match self.rename_top.get(top) {
            Some(to) if rest.is_empty() => std::borrow::Cow::Owned(to.clone()),
            Some(to) => std::borrow::Cow::Owned(format!("{to}/{rest}")),
            None => std::borrow::Cow::Borrowed(rel),
        }
    }
}

/// What a restore wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestoreSummary {
    pub files: u64,
    pub bytes: u64,
    pub skipped: u64,
}

fn selected(entry: &Entry, include: &[String], exclude: &[String]) -> bool {
    let under = |p: &str| p.is_empty() || entry.path == p || entry.path.starts_with(&format!("{p}/"));
    let included = include.is_empty()
        || include.iter().any(|p| {
            let p = p.trim_matches('/');
            under(p) || p.starts_with(&format!("{}/", entry.path))
        });
    included && !exclude.iter().map(|p| p.trim_matches('/')).any(|p| !p.is_empty() && under(p))
}

/// The destination of a manifest path inside `root`, refusing paths that would escape it.
fn destination(root: &Path, rel: &str) -> Result<PathBuf, StoreError> {
    let rel_path = Path::new(rel);
    if rel.is_empty() || rel_path.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(StoreError::Corrupt(format!("unsafe path '{rel}' in manifest")));
    }
    Ok(root.join(rel_path))
}

/// The temporary name a restored file is written under before it replaces `dest`.
fn temporary(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.coffer-restore-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]))
}

fn system_time(ns: i64) -> SystemTime {
    if ns >= 0 { UNIX_EPOCH + Duration::from_nanos(ns as u64) } else { UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs()) }
}

fn apply_metadata(path: &Path, entry: &Entry) -> Result<(), StoreError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(entry.mode & 0o7777)).map_err(|e| StoreError::io(path, e))?;
    let file = std::fs::File::options().write(entry.kind == EntryKind::File).read(true).open(path).map_err(|e| StoreError::io(path, e))?;
    file.set_times(std::fs::FileTimes::new().set_modified(system_time(entry.mtime_ns))).map_err(|e| StoreError::io(path, e))
}

struct Target {
    path: PathBuf,
    offset: u64,
}

/// A needed chunk, where it is stored, and where it goes.
type Blob = (ChunkId, Location, Vec<Target>);

impl Store {
    /// Restores one node's snapshot under `req.target`, checking every chunk's hash as it writes.
    pub async fn restore(self: &Arc<Self>, req: RestoreRequest, progress: Arc<Progress>) -> Result<RestoreSummary, StoreError> {
        let manifest = self.manifest(&req.snapshot, &req.node).await?;
        self.refresh_index().await?;
        let entries: Vec<&Entry> = manifest.entries.iter().filter(|e| selected(e, &req.include, &req.exclude)).collect();
        std::fs::create_dir_all(&req.target).map_err(|e| StoreError::io(&req.target, e))?;

        let mut summary = RestoreSummary::default();
        let mut needs: HashMap<ChunkId, Vec<Target>> = HashMap::new();
        let mut written: Vec<(PathBuf, PathBuf, &Entry)> = Vec::new();
        for entry in &entries {
            let dest = destination(&req.target, &req.placed(&entry.path))?;
            match entry.kind {
                EntryKind::Dir => std::fs::create_dir_all(&dest).map_err(|e| StoreError::io(&dest, e))?,
                EntryKind::Symlink => {
                    if dest.symlink_metadata().is_ok() {
                        if !req.overwrite {
                            summary.skipped += 1;
                            continue;
                        }
                        std::fs::remove_file(&dest).map_err(|e| StoreError::io(&dest, e))?;
                    }
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
                    }
                    std::os::unix::fs::symlink(entry.target.as_deref().unwrap_or_default(), &dest).map_err(|e| StoreError::io(&dest, e))?;
                    let mtime = filetime::FileTime::from_system_time(system_time(entry.mtime_ns));
                    filetime::set_symlink_file_times(&dest, mtime, mtime).map_err(|e| StoreError::io(&dest, e))?;
                }
                EntryKind::File => {
                    if dest.exists() && !req.overwrite {
                        summary.skipped += 1;
                        continue;
                    }
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
                    }
                    // Written beside the destination and renamed over it only once every chunk
                    // checked out, so a damaged backup never replaces good data.
                    progress.plan_file(&entry.path, entry.size);
                    let temp = temporary(&dest);
                    let file = std::fs::File::create(&temp).map_err(|e| StoreError::io(&temp, e))?;
                    file.set_len(entry.size).map_err(|e| StoreError::io(&temp, e))?;
                    let mut offset = 0;
                    for c in &entry.chunks {
                        needs.entry(c.id).or_default().push(Target { path: temp.clone(), offset });
                        offset += u64::from(c.len);
                    }
                    summary.files += 1;
                    summary.bytes += entry.size;
                    written.push((dest, temp, entry));
                }
            }
        }
        progress.files_total.store(summary.files, Ordering::Relaxed);
        progress.bytes_total.store(summary.bytes, Ordering::Relaxed);

        let outcome = self.fill(&req, needs, progress.clone()).await;
        if let Err(e) = outcome {
            for (_, temp, _) in &written {
                let _ = std::fs::remove_file(temp);
            }
            return Err(e);
        }
        for (dest, temp, entry) in &written {
            std::fs::rename(temp, dest).map_err(|e| StoreError::io(dest, e))?;
            apply_metadata(dest, entry)?;
            progress.file_done(&entry.path);
        }
        let mut dirs: Vec<&&Entry> = entries.iter().filter(|e| e.kind == EntryKind::Dir).collect();
        dirs.sort_by_key(|e| std::cmp::Reverse(e.path.matches('/').count()));
        for entry in dirs {
            apply_metadata(&destination(&req.target, &req.placed(&entry.path))?, entry)?;
        }
        Ok(summary)
    }

    /// Reads every needed chunk once, checks it, and writes it at its offsets.
    async fn fill(
        self: &Arc<Self>,
        req: &RestoreRequest,
        needs: HashMap<ChunkId, Vec<Target>>,
        progress: Arc<Progress>,
    ) -> Result<(), StoreError> {
        let mut by_pack: HashMap<Arc<str>, Vec<Blob>> = HashMap::new();
        {
            let index = self.index.read().await;
            for (id, targets) in needs {
                let loc = index
                    .chunks
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| StoreError::MissingChunk { snapshot: req.snapshot.clone(), chunk: id.to_hex() })?;
                by_pack.entry(loc.pack.clone()).or_default().push((id, loc, targets));
            }
        }
        let throttle = Arc::new((req.throttle_bytes_per_sec, std::time::Instant::now(), AtomicU64::new(0)));
        futures_util::stream::iter(by_pack.into_iter().map(|(pack, mut blobs)| {
            blobs.sort_by_key(|b| b.1.offset);
            self.restore_pack(pack, blobs, progress.clone(), throttle.clone())
        }))
        .buffer_unordered(3)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }

    async fn restore_pack(
        &self,
        pack: Arc<str>,
        blobs: Vec<Blob>,
        progress: Arc<Progress>,
        throttle: Arc<(Option<u64>, std::time::Instant, AtomicU64)>,
    ) -> Result<(), StoreError> {
        let key = keys::pack(&pack);
        let mut spans: Vec<Vec<Blob>> = Vec::new();
        for blob in blobs {
            match spans.last_mut() {
                Some(span) if blob.1.offset <= span.last().map(|b| b.1.offset + u64::from(b.1.len)).unwrap_or(0) + MERGE_GAP => {
                    span.push(blob)
                }
                _ => spans.push(vec![blob]),
            }
        }
        for span in spans {
            if progress.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            let start = span[0].1.offset;
            let end = span.iter().map(|b| b.1.offset + u64::from(b.1.len)).max().unwrap_or(start);
            let bytes = super::backup::retrying(|| self.backend.get_range(&key, start..end)).await?;
            let (codec, progress, throttle) = (self.codec.clone(), progress.clone(), throttle.clone());
            tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                for (id, loc, targets) in span {
                    let from = (loc.offset - start) as usize;
                    let stored = bytes
                        .get(from..from + loc.len as usize)
                        .ok_or_else(|| StoreError::Corrupt(format!("pack {} is shorter than its index says", loc.pack)))?;
                    let plain = codec.open_chunk(&id, stored)?;
                    for t in targets {
                        let file = std::fs::File::options().write(true).open(&t.path).map_err(|e| StoreError::io(&t.path, e))?;
                        file.write_all_at(&plain, t.offset).map_err(|e| StoreError::io(&t.path, e))?;
                        progress.bytes_done.fetch_add(plain.len() as u64, Ordering::Relaxed);
                        let total = throttle.2.fetch_add(plain.len() as u64, Ordering::Relaxed) + plain.len() as u64;
                        if let Some(rate) = throttle.0.filter(|r| *r > 0) {
                            let due = Duration::from_secs_f64(total as f64 / rate as f64);
                            while let Some(wait) = due.checked_sub(throttle.1.elapsed()).filter(|w| !w.is_zero()) {
                                if progress.is_cancelled() {
                                    return Err(StoreError::Cancelled);
                                }
                                std::thread::sleep(wait.min(Duration::from_millis(100)));
                            }
                        }
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Backend(format!("restore worker failed: {e}")))??;
        }
        Ok(())
    }

    /// Streams one file of a snapshot into `sink` in order (database dumps), checking every chunk.
    /// Answers the sink back, so its owner can finish it, with the bytes written.
    pub async fn read_entry<W: Write + Send + 'static>(
        self: &Arc<Self>,
        snapshot: &str,
        node: &str,
        path: &str,
        sink: W,
    ) -> Result<(W, u64), StoreError> {
        let manifest = self.manifest(snapshot, node).await?;
        self.refresh_index().await?;
        let entry = manifest
            .entries
            .iter()
            .find(|e| e.path == path && e.kind == EntryKind::File)
            .ok_or_else(|| StoreError::Missing(format!("{path} in snapshot {snapshot}/{node}")))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let writer = tokio::task::spawn_blocking(move || -> Result<(W, u64), StoreError> {
            let mut sink = sink;
            let mut total = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                sink.write_all(&chunk).map_err(|e| StoreError::Io { path: "restore target".into(), message: e.to_string() })?;
                total += chunk.len() as u64;
            }
            sink.flush().map_err(|e| StoreError::Io { path: "restore target".into(), message: e.to_string() })?;
            Ok((sink, total))
        });
        let ids: Vec<ChunkId> = entry.chunks.iter().map(|c| c.id).collect();
        let mut chunks = futures_util::stream::iter(ids.into_iter().map(|id| {
            let (store, snapshot) = (self.clone(), snapshot.to_owned());
            async move { store.read_chunk(&snapshot, &id).await }
        }))
        .buffered(4);
        let mut failure = None;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(data) => {
                    if tx.send(data).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = writer.await.map_err(|e| StoreError::Backend(format!("restore writer failed: {e}")))?;
        match failure {
            Some(e) => Err(e),
            None => written,
        }
    }
}
