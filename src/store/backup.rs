//! Writing a snapshot: worker threads read and chunk files, hash and seal new chunks, and fill
//! packs; an uploader writes each full pack and its index object; the manifest goes last.
//! Memory stays bounded by the workers' buffers and two packs in flight, whatever the data size.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    io::Read,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use chrono::Utc;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{
    Progress, Store, StoreError,
    codec::{ChunkId, Codec},
    lock::{self, LockKind},
    manifest::{ChunkRef, Entry, EntryError, EntryKind, Manifest, Totals, keys},
    pack::{FinishedPack, PackBuilder},
};

const MIN_CHUNK: usize = 512 << 10;
const AVG_CHUNK: usize = 1 << 20;
const MAX_CHUNK: usize = 8 << 20;
/// Files up to this size are read whole and cut in memory; larger ones are streamed.
const IN_MEMORY_LIMIT: u64 = 16 << 20;

/// Where an item's content comes from.
pub enum ItemSource {
    /// A regular file to read.
    File(PathBuf),
    Dir,
    Symlink(String),
    /// A byte stream (a database dump); a read error fails the whole snapshot.
    Stream(Box<dyn Read + Send>),
    /// Something the scan could not read (a directory without permission): recorded as an error.
    Unreadable(String),
}

/// One thing to back up, with its path relative to the source root.
pub struct Item {
    pub path: String,
    pub source: ItemSource,
    pub size: u64,
    pub mode: u32,
    pub mtime_ns: i64,
}

/// What to write.
pub struct BackupRequest {
    pub snapshot: String,
    pub node: String,
    pub items: Vec<Item>,
    /// A previous snapshot of the same node: files with the same size and mtime are taken from it unread.
    pub parent: Option<String>,
    pub metadata: serde_json::Value,
    pub throttle_bytes_per_sec: Option<u64>,
}

enum Failure {
    /// The item is skipped and listed in the manifest's errors.
    Item(String),
    /// The snapshot cannot be completed.
    Fatal(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Fatal(e)
    }
}

#[derive(Default)]
struct Counters {
    new_chunks: AtomicU64,
    new_bytes_stored: AtomicU64,
    reused_chunks: AtomicU64,
    unchanged_files: AtomicU64,
    stored_files: AtomicU64,
}

struct Throttle {
    rate: Option<u64>,
    start: Instant,
    bytes: AtomicU64,
}

impl Throttle {
    /// Counts `n` bytes and sleeps while ahead of the rate, waking to notice a cancellation.
    fn account(&self, n: usize, progress: &Progress) -> Result<(), StoreError> {
        let total = self.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if let Some(rate) = self.rate.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(total as f64 / rate as f64);
            while let Some(wait) = due.checked_sub(self.start.elapsed()).filter(|w| !w.is_zero()) {
                if progress.is_cancelled() {
                    return Err(StoreError::Cancelled);
                }
                std::thread::sleep(wait.min(Duration::from_millis(100)));
            }
        }
        Ok(())
    }
}

struct Writer {
    codec: Codec,
    known: Mutex<HashSet<ChunkId>>,
    packer: Mutex<PackBuilder>,
    packs: Mutex<Option<mpsc::Sender<FinishedPack>>>,
    progress: Arc<Progress>,
    throttle: Throttle,
    counters: Counters,
    parent: HashMap<String, Entry>,
}

impl Writer {
    fn send(&self, pack: FinishedPack) -> Result<(), StoreError> {
        let sender = self.packs.lock().clone();
        match sender {
            Some(tx) => tx.blocking_send(pack).map_err(|_| StoreError::Backend("the upload of a pack failed".into())),
            None => Err(StoreError::Backend("uploader closed".into())),
        }
    }

    /// Stores a chunk the repository lacks; `fresh` becomes true when it was new.
    fn store_chunk(&self, data: &[u8], fresh: &mut bool) -> Result<ChunkRef, StoreError> {
        if self.progress.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        let id = self.codec.chunk_id(data);
        let new = self.known.lock().insert(id);
        *fresh |= new;
        if new {
            let sealed = self.codec.seal(data);
            self.counters.new_chunks.fetch_add(1, Ordering::Relaxed);
            self.counters.new_bytes_stored.fetch_add(sealed.len() as u64, Ordering::Relaxed);
            let full = {
                let mut packer = self.packer.lock();
                packer.add(id, &sealed, data.len());
                packer.is_full().then(|| std::mem::take(&mut *packer))
            };
            if let Some(builder) = full {
                self.send(builder.finish(|b| self.codec.seal(b)))?;
            }
        } else {
            self.counters.reused_chunks.fetch_add(1, Ordering::Relaxed);
        }
        self.progress.bytes_done.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.throttle.account(data.len(), &self.progress)?;
        Ok(ChunkRef { id, len: data.len() as u32 })
    }

    fn chunk_reader(&self, reader: impl Read, fresh: &mut bool) -> Result<(Vec<ChunkRef>, u64), Failure> {
        let mut refs = Vec::new();
        let mut size = 0;
        for chunk in fastcdc::v2020::StreamCDC::new(reader, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK) {
            let chunk = chunk.map_err(|e| Failure::Item(format!("read failed: {e}")))?;
            size += chunk.data.len() as u64;
            refs.push(self.store_chunk(&chunk.data, fresh)?);
        }
        Ok((refs, size))
    }

    fn file(&self, item: &Item, path: &std::path::Path) -> Result<Entry, Failure> {
        let mut entry = Entry {
            path: item.path.clone(),
            kind: EntryKind::File,
            size: item.size,
            mode: item.mode,
            mtime_ns: item.mtime_ns,
            chunks: vec![],
            target: None,
        };
        if let Some(prev) = self.parent.get(&item.path)
            && prev.kind == EntryKind::File
            && prev.size == item.size
            && prev.mtime_ns == item.mtime_ns
        {
            entry.chunks = prev.chunks.clone();
            self.counters.unchanged_files.fetch_add(1, Ordering::Relaxed);
            self.counters.reused_chunks.fetch_add(prev.chunks.len() as u64, Ordering::Relaxed);
            self.progress.bytes_done.fetch_add(item.size, Ordering::Relaxed);
            return Ok(entry);
        }
        // Read, it is stored when some of its content was new to the repository.
        let mut fresh = false;
        let (chunks, size) = if item.size <= IN_MEMORY_LIMIT {
            let data = std::fs::read(path).map_err(|e| Failure::Item(e.to_string()))?;
            let mut refs = Vec::new();
            if data.len() <= MIN_CHUNK {
                if !data.is_empty() {
                    refs.push(self.store_chunk(&data, &mut fresh)?);
                }
            } else {
                for c in fastcdc::v2020::FastCDC::new(&data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK) {
                    refs.push(self.store_chunk(&data[c.offset..c.offset + c.length], &mut fresh)?);
                }
            }
            (refs, data.len() as u64)
        } else {
            let file = std::fs::File::open(path).map_err(|e| Failure::Item(e.to_string()))?;
            self.chunk_reader(file, &mut fresh)?
        };
        if fresh {
            self.counters.stored_files.fetch_add(1, Ordering::Relaxed);
        }
        entry.chunks = chunks;
        entry.size = size;
        Ok(entry)
    }

    fn process(&self, item: Item) -> Result<Entry, Failure> {
        let result = match item.source {
            ItemSource::File(ref path) => self.file(&item, path),
            ItemSource::Stream(reader) => match self.chunk_reader(reader, &mut false) {
                Ok((chunks, size)) => Ok(Entry {
                    path: item.path.clone(),
                    kind: EntryKind::File,
                    size,
                    mode: item.mode,
                    mtime_ns: item.mtime_ns,
                    chunks,
                    target: None,
                }),
                Err(Failure::Item(message)) => Err(Failure::Fatal(StoreError::Io { path: item.path.clone(), message })),
                Err(fatal) => Err(fatal),
            },
            ItemSource::Dir | ItemSource::Symlink(_) | ItemSource::Unreadable(_) => unreachable!("only files and streams are queued"),
        };
        self.progress.file_done(&item.path);
        result
    }
}

async fn upload(backend: Arc<dyn super::Backend>, mut packs: mpsc::Receiver<FinishedPack>) -> Result<Vec<super::PackHeader>, StoreError> {
    let mut headers = Vec::new();
    while let Some(pack) = packs.recv().await {
        let (pack_key, index_key) = (keys::pack(&pack.id), keys::index(&pack.id));
        let (bytes, header) = (Bytes::from(pack.bytes), Bytes::from(pack.sealed_header));
        retrying(|| backend.put(&pack_key, bytes.clone())).await?;
        retrying(|| backend.put(&index_key, header.clone())).await?;
        headers.push(pack.header);
    }
    Ok(headers)
}

/// Runs `op` up to three times, backing off between attempts, for transient backend failures.
pub(super) async fn retrying<F, Fut, T>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 1.. {
        match op().await {
            Err(StoreError::Backend(msg)) if attempt < 3 => {
                tracing::warn!(attempt, error = %msg, "storage call failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            other => return other,
        }
    }
    unreachable!("the loop returns")
}

impl Store {
    /// Writes one node's snapshot and answers its manifest. The manifest is written only after
    /// every pack and index object it needs.
    pub async fn backup(self: &Arc<Self>, req: BackupRequest, progress: Arc<Progress>) -> Result<Manifest, StoreError> {
        let _gate = self.gate.read().await;
        let _lock = lock::acquire(self.backend.clone(), LockKind::Shared).await?;
        self.refresh_index().await?;
        let known: HashSet<ChunkId> = self.index.read().await.chunks.keys().copied().collect();
        let parent = match &req.parent {
            Some(p) => match self.manifest(p, &req.node).await {
                Ok(m) => {
                    m.entries.into_iter().filter(|e| e.chunks.iter().all(|c| known.contains(&c.id))).map(|e| (e.path.clone(), e)).collect()
                }
                Err(e) => {
                    tracing::warn!(parent = %p, error = %e, "parent snapshot unreadable; reading every file");
                    HashMap::new()
                }
            },
            None => HashMap::new(),
        };

        let mut entries: Vec<Option<Entry>> = Vec::with_capacity(req.items.len());
        let mut unreadable = Vec::new();
        let mut queue = VecDeque::new();
        let (mut files, mut dirs, mut bytes) = (0u64, 0u64, 0u64);
        for (i, item) in req.items.into_iter().enumerate() {
            match &item.source {
                ItemSource::Unreadable(message) => {
                    unreadable.push(EntryError { path: item.path.clone(), message: message.clone() });
                    entries.push(None);
                }
                ItemSource::Dir => {
                    dirs += 1;
                    entries.push(Some(Entry {
                        path: item.path,
                        kind: EntryKind::Dir,
                        size: 0,
                        mode: item.mode,
                        mtime_ns: item.mtime_ns,
                        chunks: vec![],
                        target: None,
                    }));
                }
                ItemSource::Symlink(target) => entries.push(Some(Entry {
                    path: item.path.clone(),
                    kind: EntryKind::Symlink,
                    size: 0,
                    mode: item.mode,
                    mtime_ns: item.mtime_ns,
                    chunks: vec![],
                    target: Some(target.clone()),
                })),
                ItemSource::File(_) | ItemSource::Stream(_) => {
                    files += 1;
                    bytes += item.size;
                    progress.plan_file(&item.path, item.size);
                    entries.push(None);
                    queue.push_back((i, item));
                }
            }
        }
        progress.files_total.store(files, Ordering::Relaxed);
        progress.bytes_total.store(bytes, Ordering::Relaxed);

        let (tx, rx) = mpsc::channel(2);
        let uploader = tokio::spawn(upload(self.backend.clone(), rx));
        let writer = Arc::new(Writer {
            codec: self.codec.clone(),
            known: Mutex::new(known),
            packer: Mutex::new(PackBuilder::default()),
            packs: Mutex::new(Some(tx)),
            progress: progress.clone(),
            throttle: Throttle { rate: req.throttle_bytes_per_sec, start: Instant::now(), bytes: AtomicU64::new(0) },
            counters: Counters::default(),
            parent,
        });
        let queue = Arc::new(Mutex::new(queue));
        let results = Arc::new(Mutex::new(Vec::new()));
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (writer, queue, results) = (writer.clone(), queue.clone(), results.clone());
                tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                    loop {
                        let Some((i, item)) = queue.lock().pop_front() else { return Ok(()) };
                        let path = item.path.clone();
                        match writer.process(item) {
                            Ok(entry) => results.lock().push((i, Ok(entry))),
                            Err(Failure::Item(message)) => results.lock().push((i, Err(EntryError { path, message }))),
                            Err(Failure::Fatal(e)) => {
                                queue.lock().clear();
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        let mut fatal = None;
        for h in handles {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => fatal = fatal.or(Some(e)),
                Err(join) => fatal = fatal.or(Some(StoreError::Backend(format!("backup worker failed: {join}")))),
            }
        }
        if fatal.is_none() {
            let last = std::mem::take(&mut *writer.packer.lock());
            if !last.is_empty() {
                let pack = last.finish(|b| writer.codec.seal(b));
                let tx = writer.packs.lock().clone();
                if let Some(tx) = tx
                    && tx.send(pack).await.is_err()
                {
                    fatal = Some(StoreError::Backend("the upload of a pack failed".into()));
                }
            }
        }
        writer.packs.lock().take();
        let uploaded = uploader.await.map_err(|e| StoreError::Backend(format!("uploader failed: {e}")))?;
        let headers = match (uploaded, fatal) {
            (Err(e), _) => return Err(e),
            (Ok(_), Some(e)) => return Err(e),
            (Ok(h), None) => h,
        };
        {
            let mut index = self.index.write().await;
            for h in headers {
                index.add(h);
            }
        }

        let mut errors = unreadable;
        for (i, result) in std::mem::take(&mut *results.lock()) {
            match result {
                Ok(entry) => entries[i] = Some(entry),
                Err(e) => errors.push(e),
            }
        }
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        let entries: Vec<Entry> = entries.into_iter().flatten().collect();
        let c = &writer.counters;
        let totals = Totals {
            files: entries.iter().filter(|e| e.kind == EntryKind::File).count() as u64,
            dirs,
            bytes: entries.iter().map(|e| e.size).sum(),
            new_chunks: c.new_chunks.load(Ordering::Relaxed),
            new_bytes_stored: c.new_bytes_stored.load(Ordering::Relaxed),
            reused_chunks: c.reused_chunks.load(Ordering::Relaxed),
            unchanged_files: c.unchanged_files.load(Ordering::Relaxed),
            stored_files: c.stored_files.load(Ordering::Relaxed),
        };
        let manifest = Manifest {
            version: 1,
            snapshot: req.snapshot,
            node: req.node,
            created_at: Utc::now(),
            parent: req.parent,
            entries,
            errors,
            metadata: req.metadata,
            totals,
        };
        retrying(|| self.write_manifest(&manifest)).await?;
        Ok(manifest)
    }
}
