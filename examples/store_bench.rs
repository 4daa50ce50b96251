//! Benchmark driver for the store: backs up or restores a directory tree and prints one JSON line of figures.
//!
//! ```text
//! store_bench backup <data_dir> <repo_dir> <snapshot> [parent]
//! store_bench restore <repo_dir> <snapshot> <target_dir>
//! store_bench verify <repo_dir> <snapshot>
//! ```
//!
//! The repository is encrypted with a fixed benchmark key, as restic's always is; set
//! `STORE_BENCH_PLAIN=1` for an unencrypted one.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Instant, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use coffer::store::{BackupRequest, Item, ItemSource, ObjectStoreBackend, Progress, RestoreRequest, Store};
use serde_json::json;

const NODE: &str = "bench";
const KEY: [u8; 32] = [0x42; 32];

fn scan(root: &Path) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            let meta = path.symlink_metadata()?;
            let source = if meta.is_dir() {
                dirs.push(path.clone());
                ItemSource::Dir
            } else if meta.is_symlink() {
                ItemSource::Symlink(std::fs::read_link(&path)?.to_string_lossy().into_owned())
            } else if meta.is_file() {
                ItemSource::File(path.clone())
            } else {
                continue;
            };
            items.push(Item {
                path: path.strip_prefix(root)?.to_string_lossy().into_owned(),
                source,
                size: meta.len(),
                mode: meta.permissions().mode(),
                mtime_ns: meta.modified()?.duration_since(UNIX_EPOCH)?.as_nanos() as i64,
            });
        }
    }
    items.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(items)
}

async fn open(repo: &Path) -> anyhow::Result<Arc<Store>> {
    let key = if std::env::var_os("STORE_BENCH_PLAIN").is_some() { None } else { Some(KEY) };
    Ok(Store::open(Arc::new(ObjectStoreBackend::local(repo)?), key).await?)
}

fn report(op: &str, snapshot: &str, started: Instant, bytes: u64, extra: serde_json::Value) {
    let seconds = started.elapsed().as_secs_f64();
    let mut line = json!({
        "op": op,
        "snapshot": snapshot,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "bytes": bytes,
        "mb_per_s": (bytes as f64 / seconds / 1e5).round() / 10.0,
    });
    line.as_object_mut().expect("an object").extend(extra.as_object().cloned().unwrap_or_default());
    println!("{line}");
}

fn main() -> anyhow::Result<()> {
    coffer::limit_allocator_arenas();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["backup", data, repo, snapshot, ref parent @ ..] if parent.len() <= 1 => {
            let started = Instant::now();
            let items = scan(Path::new(data))?;
            let store = open(Path::new(repo)).await?;
            let request = BackupRequest {
                snapshot: snapshot.into(),
                node: NODE.into(),
                items,
                parent: parent.first().map(|p| p.to_string()),
                metadata: json!({}),
                throttle_bytes_per_sec: None,
            };
            let manifest = store.backup(request, Arc::new(Progress::default())).await?;
            let t = &manifest.totals;
            report(
                "backup",
                snapshot,
                started,
                t.bytes,
                json!({
                    "files": t.files,
                    "errors": manifest.errors.len(),
                    "new_bytes_stored": t.new_bytes_stored,
                    "new_chunks": t.new_chunks,
                    "reused_chunks": t.reused_chunks,
                    "unchanged_files": t.unchanged_files,
                }),
            );
        }
        ["restore", repo, snapshot, target] => {
            let started = Instant::now();
            let store = open(Path::new(repo)).await?;
            let request = RestoreRequest {
                snapshot: snapshot.into(),
                node: NODE.into(),
                target: PathBuf::from(target),
                include: vec![],
                exclude: vec![],
                overwrite: false,
                throttle_bytes_per_sec: None,
                rename_top: Default::default(),
            };
            let summary = store.restore(request, Arc::new(Progress::default())).await?;
            report("restore", snapshot, started, summary.bytes, json!({ "files": summary.files, "skipped": summary.skipped }));
        }
        ["verify", repo, snapshot] => {
            // Reads back every chunk the snapshot references and checks its hash (restic check --read-data).
            let started = Instant::now();
            let store = open(Path::new(repo)).await?;
            let verified = store.verify(snapshot).await?;
            if !verified.ok() {
                bail!("verify found problems: {:?}", verified.problems);
            }
            report("verify", snapshot, started, verified.bytes, json!({ "files": verified.files, "chunks": verified.chunks }));
        }
        _ => bail!(
            "usage: store_bench backup <data_dir> <repo_dir> <snapshot> [parent]\n       store_bench restore <repo_dir> <snapshot> <target_dir>\n       store_bench verify <repo_dir> <snapshot>"
        ),
    }
    Ok(())
}
