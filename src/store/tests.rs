use std::{collections::BTreeMap, os::unix::fs::PermissionsExt, path::Path, sync::Arc};

use super::*;

/// Writes a small tree: text and random files of several sizes, a nested directory, a link.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/text.txt"), "hello world\n".repeat(100_000)).unwrap();
    let random: Vec<u8> = (0..3_000_000).map(|_| rand::random::<u8>()).collect();
    std::fs::write(root.join("a/b/random.bin"), &random).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("small"), b"tiny").unwrap();
    std::fs::set_permissions(root.join("small"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("a/text.txt", root.join("link")).unwrap();
}

/// Scans a tree the simple way (the real scanner lives in sources).
fn items(root: &Path) -> Vec<Item> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mtime_ns = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
            let source = if meta.is_dir() {
                stack.push(e.path());
                ItemSource::Dir
            } else if meta.file_type().is_symlink() {
                ItemSource::Symlink(std::fs::read_link(e.path()).unwrap().to_string_lossy().into_owned())
            } else {
                ItemSource::File(e.path())
            };
            out.push(Item { path: rel, source, size: meta.len(), mode: meta.permissions().mode(), mtime_ns });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn digest(root: &Path) -> BTreeMap<String, (String, u32, i64)> {
    let mut out = BTreeMap::new();
    for item in items(root) {
        let p = root.join(&item.path);
        let meta = p.symlink_metadata().unwrap();
        let content = match item.source {
            ItemSource::File(_) => blake3::hash(&std::fs::read(&p).unwrap()).to_hex().to_string(),
            ItemSource::Symlink(t) => format!("-> {t}"),
            _ => "dir".into(),
        };
        let mtime = if meta.is_dir() { 0 } else { item.mtime_ns };
        out.insert(item.path, (content, meta.permissions().mode() & 0o7777, mtime));
    }
    out
}

fn request(snapshot: &str, root: &Path, parent: Option<&str>) -> BackupRequest {
    BackupRequest {
        snapshot: snapshot.into(),
        node: "node1".into(),
        items: items(root),
        parent: parent.map(str::to_owned),
        metadata: serde_json::json!({}),
        throttle_bytes_per_sec: None,
    }
}

/// A whole-snapshot restore of node1 into `target`.
fn restore_to(snapshot: &str, target: &Path) -> RestoreRequest {
    RestoreRequest {
        rename_top: Default::default(),
        snapshot: snapshot.into(),
        node: "node1".into(),
        target: target.into(),
        include: vec![],
        exclude: vec![],
        overwrite: false,
        throttle_bytes_per_sec: None,
    }
}

async fn memory_store(key: Option<[u8; 32]>) -> Arc<Store> {
    Store::open(Arc::new(ObjectStoreBackend::memory()), key).await.unwrap()
}

#[tokio::test]
async fn a_tree_restores_bit_exact_with_modes_and_mtimes_plain_and_encrypted() {
    for key in [None, Some([5u8; 32])] {
        let src = tempfile::tempdir().unwrap();
        make_tree(src.path());
        let store = memory_store(key).await;
        let manifest = store.backup(request("s1", src.path(), None), Arc::default()).await.unwrap();
        assert_eq!(manifest.totals.files, 4);
        assert!(manifest.errors.is_empty());

        let out = tempfile::tempdir().unwrap();
        let req = restore_to("s1", out.path());
        let summary = store.restore(req, Arc::default()).await.unwrap();
        assert_eq!(summary.files, 4);
        assert_eq!(digest(src.path()), digest(out.path()));
        assert!(store.verify("s1").await.unwrap().ok());
    }
}

#[tokio::test]
async fn a_restore_takes_only_included_paths_and_leaves_excluded_ones_out() {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let store = memory_store(None).await;
    store.backup(request("s1", src.path(), None), Arc::default()).await.unwrap();

    let out = tempfile::tempdir().unwrap();
    let mut req = restore_to("s1", out.path());
    req.include = vec!["/a".into(), "small".into()];
    req.exclude = vec!["a/b/".into(), "".into()];
    let summary = store.restore(req, Arc::default()).await.unwrap();
    assert_eq!(summary.files, 2);
    let restored: Vec<String> = digest(out.path()).into_keys().collect();
    assert_eq!(restored, ["a", "a/text.txt", "small"]);
    assert_eq!(std::fs::read(out.path().join("a/text.txt")).unwrap(), std::fs::read(src.path().join("a/text.txt")).unwrap());
}

#[tokio::test]
async fn a_second_snapshot_stores_only_what_changed_and_reads_only_changed_files() {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let store = memory_store(None).await;
    let first = store.backup(request("s1", src.path(), None), Arc::default()).await.unwrap();
    std::fs::write(src.path().join("small"), b"changed").unwrap();
    let second = store.backup(request("s2", src.path(), Some("s1")), Arc::default()).await.unwrap();
    assert_eq!(second.totals.new_chunks, 1);
    assert!(second.totals.new_bytes_stored < first.totals.new_bytes_stored / 100);
    assert_eq!(second.totals.unchanged_files, 3);
    assert_eq!((first.totals.files, first.totals.stored_files), (4, 3), "every file but the empty one stores content");
    assert_eq!(second.totals.stored_files, 1, "only the changed file is stored again");

    let out = tempfile::tempdir().unwrap();
    let req = restore_to("s2", out.path());
    store.restore(req, Arc::default()).await.unwrap();
    assert_eq!(digest(src.path()), digest(out.path()));

    // Without a parent every file is read, and only the changed one stores anything new.
    std::fs::write(src.path().join("small"), b"changed again").unwrap();
    let third = store.backup(request("s3", src.path(), None), Arc::default()).await.unwrap();
    assert_eq!((third.totals.unchanged_files, third.totals.stored_files), (0, 1));
}

#[tokio::test]
async fn a_damaged_chunk_is_named_by_verify_and_refused_by_restore() {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Arc::new(ObjectStoreBackend::local(dir.path()).unwrap()), None).await.unwrap();
    store.backup(request("s1", src.path(), None), Arc::default()).await.unwrap();
    let pack = walk_files(&dir.path().join("data")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();

    let report = store.verify("s1").await.unwrap();
    assert!(!report.ok());
    assert!(report.problems[0].contains("snapshot s1") && report.problems[0].contains("damaged"), "{:?}", report.problems);

    let out = tempfile::tempdir().unwrap();
    let req = restore_to("s1", out.path());
    let err = store.restore(req, Arc::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::CorruptChunk { .. }), "{err}");
}

#[tokio::test]
async fn a_damaged_index_is_rebuilt_from_its_pack_and_a_lost_pack_affects_only_the_backups_using_it() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    make_tree(a.path());
    std::fs::write(b.path().join("other.bin"), (0..2_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let open = || async { Store::open(Arc::new(ObjectStoreBackend::local(dir.path()).unwrap()), None).await.unwrap() };
    let store = open().await;
    store.backup(request("a", a.path(), None), Arc::default()).await.unwrap();
    let packs_of_a = walk_files(&dir.path().join("data"));
    store.backup(request("b", b.path(), None), Arc::default()).await.unwrap();

    // Every index object garbled: a fresh store rebuilds them from the packs and restores both.
    for index in walk_files(&dir.path().join("index")) {
        std::fs::write(&index, b"garbage").unwrap();
    }
    let store = open().await;
    for (snapshot, src) in [("a", a.path()), ("b", b.path())] {
        let out = tempfile::tempdir().unwrap();
        store.restore(restore_to(snapshot, out.path()), Arc::default()).await.unwrap();
        assert_eq!(digest(src), digest(out.path()));
    }
    let index = walk_files(&dir.path().join("index")).into_iter().next().unwrap();
    assert_ne!(std::fs::read(&index).unwrap(), b"garbage", "the index object was rewritten");

    // A pack of a's with its index both destroyed: a is reported and refused, b is untouched.
    let lost = &packs_of_a[0];
    let id = lost.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::write(lost, b"truncated").unwrap();
    std::fs::write(dir.path().join("index").join(&id), b"garbage").unwrap();
    let store = open().await;
    assert!(!store.verify("a").await.unwrap().ok(), "a names what it lost");
    assert!(store.verify("b").await.unwrap().ok(), "b does not depend on it");
    let out = tempfile::tempdir().unwrap();
    let err = store.restore(restore_to("a", out.path()), Arc::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::MissingChunk { .. }), "{err}");
    let out = tempfile::tempdir().unwrap();
    store.restore(restore_to("b", out.path()), Arc::default()).await.unwrap();
    assert_eq!(digest(b.path()), digest(out.path()));

    // A garbled manifest: named by verify, refused by restore, never a panic.
    std::fs::write(dir.path().join("snapshots/b/node1"), b"{not a manifest").unwrap();
    let report = store.verify("b").await.unwrap();
    assert!(report.problems.iter().any(|p| p.contains("manifest unreadable")), "{:?}", report.problems);
    let err = store.restore(restore_to("b", tempfile::tempdir().unwrap().path()), Arc::default()).await.unwrap_err();
    assert!(err.to_string().contains("manifest") || matches!(err, StoreError::Corrupt(_)), "{err}");
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk_files(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

#[tokio::test]
async fn garbage_collection_keeps_chunks_other_snapshots_use_and_removes_the_rest() {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let store = memory_store(None).await;
    store.backup(request("s1", src.path(), None), Arc::default()).await.unwrap();
    let unique: Vec<u8> = (0..2_000_000).map(|_| rand::random::<u8>()).collect();
    std::fs::write(src.path().join("only-in-s2"), &unique).unwrap();
    store.backup(request("s2", src.path(), Some("s1")), Arc::default()).await.unwrap();
    let (chunks_before, _) = store.counts().await;

    store.delete_snapshot("s2").await.unwrap();
    let report = store.gc().await.unwrap();
    assert!(report.chunks_removed >= 1, "{report:?}");
    let (chunks_after, _) = store.counts().await;
    assert_eq!(chunks_after as u64, chunks_before as u64 - report.chunks_removed);
    let id = store.codec.chunk_id(&unique[..]);
    let _ = id;
    assert!(store.verify("s1").await.unwrap().ok());
    let out = tempfile::tempdir().unwrap();
    let req = restore_to("s1", out.path());
    store.restore(req, Arc::default()).await.unwrap();
    std::fs::remove_file(src.path().join("only-in-s2")).unwrap();
    assert_eq!(digest(src.path()), digest(out.path()));
}

#[tokio::test]
async fn a_stream_item_is_stored_and_read_back_in_order() {
    let store = memory_store(None).await;
    let data: Vec<u8> = (0..5_000_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    let item = Item {
        path: "dump.sql".into(),
        source: ItemSource::Stream(Box::new(std::io::Cursor::new(data.clone()))),
        size: 0,
        mode: 0o600,
        mtime_ns: 0,
    };
    let req = BackupRequest {
        snapshot: "d1".into(),
        node: "db".into(),
        items: vec![item],
        parent: None,
        metadata: serde_json::json!({"kind": "dump"}),
        throttle_bytes_per_sec: None,
    };
    let manifest = store.backup(req, Arc::default()).await.unwrap();
    assert_eq!(manifest.totals.bytes, data.len() as u64);
    let (back, n) = store.read_entry("d1", "db", "dump.sql", Vec::new()).await.unwrap();
    assert_eq!(n, data.len() as u64);
    assert!(back == data);
}

#[tokio::test]
async fn an_encrypted_repository_refuses_a_missing_or_wrong_key() {
    let backend: Arc<dyn Backend> = Arc::new(ObjectStoreBackend::memory());
    Store::open(backend.clone(), Some([1; 32])).await.unwrap();
    assert!(matches!(Store::open(backend.clone(), None).await, Err(StoreError::WrongKey)));
    assert!(matches!(Store::open(backend.clone(), Some([2; 32])).await, Err(StoreError::WrongKey)));
    assert!(Store::open(backend, Some([1; 32])).await.is_ok());
}

/// A backend on which the config's first and third reads find nothing: two processes opening it
/// one after the other each look for the repository as if the other had not written it yet.
struct BlindToConfig {
    inner: ObjectStoreBackend,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Backend for BlindToConfig {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.inner.put(key, data).await
    }
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let blind = key == keys::CONFIG && [0, 2].contains(&self.reads.fetch_add(1, Ordering::SeqCst));
        if blind { Err(StoreError::Missing(key.into())) } else { self.inner.get(key).await }
    }
    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes, StoreError> {
        self.inner.get_range(key, range).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.inner.list(prefix).await
    }
    fn describe(&self) -> String {
        "blind to config".into()
    }
}

#[tokio::test]
async fn two_processes_creating_one_repository_at_once_can_read_each_others_backups() {
    for key in [None, Some([9u8; 32])] {
        let dir = tempfile::tempdir().unwrap();
        let racing: Arc<dyn Backend> = Arc::new(BlindToConfig { inner: ObjectStoreBackend::local(dir.path()).unwrap(), reads: 0.into() });
        // Both find no repository and write their config; the second overwrites the first's.
        let first = Store::open(racing.clone(), key).await.unwrap();
        let second = Store::open(racing, key).await.unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        make_tree(a.path());
        std::fs::write(b.path().join("b.bin"), (0..1_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
        first.backup(request("by-first", a.path(), None), Arc::default()).await.unwrap();
        second.backup(request("by-second", b.path(), None), Arc::default()).await.unwrap();

        // A third process opens what is stored and reads both.
        let third = Store::open(Arc::new(ObjectStoreBackend::local(dir.path()).unwrap()), key).await.unwrap();
        for (snapshot, src) in [("by-first", a.path()), ("by-second", b.path())] {
            let report = third.verify(snapshot).await.unwrap();
            assert!(report.ok(), "{snapshot} (key {key:?}): {:?}", report.problems);
            let out = tempfile::tempdir().unwrap();
            third.restore(restore_to(snapshot, out.path()), Arc::default()).await.unwrap();
            assert_eq!(digest(src), digest(out.path()));
        }
    }
}
