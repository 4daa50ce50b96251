//! The data plane: running one task beside the data, what every agent does (remote, or the
//! engine's in-process one). The task's spec carries everything needed; the store is handed in
//! already opened.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read,
    path::Path,
    sync::{Arc, atomic::Ordering},
};

use serde_json::{Value, json};

use crate::{
    domain::{
        operation::{Assignment, GroupProgress, TaskOutcome, TaskProgress, TaskSpec},
        state::State,
    },
    sources::{
        cluster,
        database::{self, DatabaseLocation, DumpStream},
        tree,
    },
    store::{BackupRequest, CopyAs, EntryKind, Item, ItemSource, Manifest, Progress, RestoreRequest, Store, StoreError},
};

/// The file name a database dump has inside its snapshot.
pub const DUMP_ENTRY: &str = "dump";

/// A failed task with its message.
struct Failed(String);

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed(e.to_string())
    }
}

impl From<crate::sources::SourceError> for Failed {
    fn from(e: crate::sources::SourceError) -> Self {
        Failed(e.to_string())
    }
}

impl From<database::DatabaseError> for Failed {
    fn from(e: database::DatabaseError) -> Self {
        Failed(e.to_string())
    }
}

/// The live counters of a running task as a report.
pub fn snapshot(progress: &Progress) -> TaskProgress {
    TaskProgress {
        files_total: progress.files_total.load(Ordering::Relaxed) as i64,
        files_done: progress.files_done.load(Ordering::Relaxed) as i64,
        bytes_total: progress.bytes_total.load(Ordering::Relaxed) as i64,
        bytes_done: progress.bytes_done.load(Ordering::Relaxed) as i64,
        groups: progress
            .groups()
            .into_iter()
            .map(|(path, g)| {
                let (ks, dir) = path.split_once('/').unwrap_or((&path, ""));
                let counts =
                    GroupProgress { files_total: g.files_total as i64, files_done: g.files_done as i64, bytes_total: g.bytes_total as i64 };
                (format!("{ks}.{}", cluster::table_name(dir)), counts)
            })
            .collect(),
    }
}

/// The words an error starts with when a restore finds a table made again since its backup.
pub const SCHEMA_CHANGED: &str = "the schema changed since the backup";

/// Fails when a table directory about to be written (`keyspace/<table>-<id>`) has a live
/// directory of the same table under another id: the table was made again since the backup,
/// and the live table would not read the backup's files.
fn schema_unchanged(data_dir: &Path, written: &[String]) -> Result<(), Failed> {
    if !data_dir.exists() {
        return Ok(());
    }
    let live = cluster::discover(data_dir).map_err(|e| Failed(e.to_string()))?;
    let mut changed = Vec::new();
    for dir in written {
        let Some((ks, table_dir)) = dir.split_once('/') else { continue };
        let table = cluster::table_name(table_dir);
        for other in live.get(ks).into_iter().flatten().filter(|t| t.table == table && t.dir != table_dir) {
            changed.push(format!("table {ks}.{table} is {} now, {table_dir} in the backup", other.dir));
        }
    }
    match changed.is_empty() {
        true => Ok(()),
        false => Err(Failed(format!("{SCHEMA_CHANGED} ({}); nothing was written", changed.join("; ")))),
    }
}

/// Runs a task to its end. Never panics on bad input: every failure becomes a Failed outcome.
/// `target` is the destination store of a copy task.
pub async fn execute(assignment: &Assignment, store: Arc<Store>, target: Option<Arc<Store>>, progress: Arc<Progress>) -> TaskOutcome {
    if matches!(assignment.spec, TaskSpec::BackupClusterNode { .. } | TaskSpec::RestoreClusterNode { .. }) {
        progress.track_groups(2);
    }
    // A cancelled task stops at once, even inside a throttled transfer: its future is dropped,
    // which leaves only unreferenced data behind (manifests are written last) and releases locks.
    let cancelled = async {
        while !progress.is_cancelled() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let result = tokio::select! {
        result = run(assignment, &store, target.as_ref(), &progress) => result,
        () = cancelled => Err(Failed("cancelled".into())),
    };
    let (state, error, result) = match result {
        Ok((state, value)) => (state, None, value),
        Err(Failed(msg)) if progress.is_cancelled() => (State::Cancelled, Some(msg), Value::Null),
        Err(Failed(msg)) => (State::Failed, Some(msg), Value::Null),
    };
    TaskOutcome { state, error, progress: snapshot(&progress), result }
}

/// Counts of a written manifest, and per keyspace.table detail for cluster nodes.
fn backup_result(manifest: &Manifest, per_table: bool) -> Value {
    let mut detail: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    if per_table {
        for e in manifest.entries.iter().filter(|e| e.kind == EntryKind::File) {
            let mut parts = e.path.split('/');
            if let (Some(ks), Some(dir)) = (parts.next(), parts.next()) {
                let entry = detail.entry(format!("{ks}.{}", cluster::table_name(dir))).or_default();
                entry.0 += 1;
                entry.1 += e.size;
            }
        }
    }
    let t = &manifest.totals;
    json!({
        "files": t.files,
        "bytes": t.bytes,
        "stored_bytes": t.new_bytes_stored,
        "new_chunks": t.new_chunks,
        "reused_chunks": t.reused_chunks,
        "unchanged_files": t.unchanged_files,
        "stored_files": t.stored_files,
        "errors": manifest.errors.iter().map(|e| json!({"path": e.path, "message": e.message})).collect::<Vec<_>>(),
        "tables": detail.into_iter().map(|(k, (files, bytes))| (k, json!({"files": files, "bytes": bytes}))).collect::<serde_json::Map<_, _>>(),
    })
}

fn done(manifest: &Manifest, per_table: bool) -> (State, Value) {
    let state = if manifest.errors.is_empty() { State::Succeeded } else { State::SucceededWithErrors };
    (state, backup_result(manifest, per_table))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Failed> + Send + 'static) -> Result<T, Failed> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Failed(format!("worker thread failed: {e}")))?
}

/// A dump as a reader that fails at its end when the dumper failed, so a broken dump never
/// becomes a complete backup.
struct CheckedDump(Option<DumpStream>);

impl Read for CheckedDump {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(stream) = self.0.as_mut() else { return Ok(0) };
        let n = stream.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let stream = self.0.take().expect("checked above");
            stream.finish().map_err(std::io::Error::other)?;
        }
        Ok(n)
    }
}

async fn run(a: &Assignment, store: &Arc<Store>, target: Option<&Arc<Store>>, progress: &Arc<Progress>) -> Result<(State, Value), Failed> {
    let throttle = a.throttle_bytes_per_sec;
    match &a.spec {
        TaskSpec::BackupTree { snapshot, node_key, root: dir, selection, parent }
        | TaskSpec::BackupClusterNode { snapshot, node_key, data_dir: dir, selection, parent } => {
            let per_table = matches!(a.spec, TaskSpec::BackupClusterNode { .. });
            let (dir, sel) = (dir.clone(), selection.clone());
            let items =
                blocking(move || Ok(if per_table { cluster::scan(Path::new(&dir), &sel)? } else { tree::scan(Path::new(&dir), &sel)? }))
                    .await?;
            let req = BackupRequest {
                snapshot: snapshot.clone(),
                node: node_key.clone(),
                items,
                parent: parent.clone(),
                metadata: json!({}),
                throttle_bytes_per_sec: throttle,
            };
            Ok(done(&store.backup(req, progress.clone()).await?, per_table))
        }
        TaskSpec::BackupDatabase { snapshot, node_key, datastore, location } => {
            let kind = datastore.parse::<database::DatastoreKind>()?;
            let stream = database::start_dump(&DatabaseLocation::new(kind, location.clone())).await?;
            let item = Item {
                path: DUMP_ENTRY.into(),
                source: ItemSource::Stream(Box::new(CheckedDump(Some(stream)))),
                size: 0,
                mode: 0o600,
                mtime_ns: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
            };
            let req = BackupRequest {
                snapshot: snapshot.clone(),
                node: node_key.clone(),
                items: vec![item],
                parent: None,
                metadata: json!({ "datastore": datastore }),
                throttle_bytes_per_sec: throttle,
            };
            Ok(done(&store.backup(req, progress.clone()).await?, false))
        }
        TaskSpec::RestoreTree { snapshot, node_key, target, include, exclude, overwrite } => {
            let req = RestoreRequest {
                snapshot: snapshot.clone(),
                node: node_key.clone(),
                target: target.into(),
                include: include.clone(),
                exclude: exclude.clone(),
                overwrite: *overwrite,
                throttle_bytes_per_sec: throttle,
                rename_top: Default::default(),
            };
            let summary = store.restore(req, progress.clone()).await?;
            Ok((State::Succeeded, json!({ "files": summary.files, "bytes": summary.bytes, "skipped": summary.skipped })))
        }
        TaskSpec::RestoreClusterNode {
            snapshot,
            node_key,
            data_dir,
            selection,
            truncate,
            truncate_only,
            keyspace_renames,
            all_tables,
            check_schema,
        } => {
            let manifest = store.manifest(snapshot, node_key).await?;
            let include: Vec<String> = manifest
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::Dir && e.path.matches('/').count() == 1)
                .filter(|e| {
                    let (ks, dir) = e.path.split_once('/').unwrap_or_default();
                    cluster::selected(selection, ks, cluster::table_name(dir))
                })
                .map(|e| e.path.clone())
                .collect();
            if include.is_empty() {
                return Err(Failed("the backup holds none of the selected keyspaces or tables".into()));
            }
            std::fs::create_dir_all(data_dir).map_err(|e| Failed(format!("{data_dir}: {e}")))?;
            let renamed = |path: &str| match path.split_once('/') {
                Some((ks, rest)) => keyspace_renames.get(ks).map(|to| format!("{to}/{rest}")).unwrap_or_else(|| path.to_owned()),
                None => path.to_owned(),
            };
            let keep: std::collections::HashSet<String> = manifest
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::File && include.iter().any(|i| e.path.starts_with(&format!("{i}/"))))
                .map(|e| renamed(&e.path))
                .collect();
            // The table directories written, under the names they now have: only these are ever
            // emptied (a live directory of the same table under another id is not the backup's).
            let written: Vec<String> = include.iter().map(|dir| renamed(dir)).collect();
            let restored: BTreeSet<String> = written.iter().map(|dir| cluster::dotted(dir)).collect();
            if *check_schema {
                let (dir, dirs) = (data_dir.clone(), written.clone());
                blocking(move || schema_unchanged(Path::new(&dir), &dirs)).await?;
            }
            let req = RestoreRequest {
                snapshot: snapshot.clone(),
                node: node_key.clone(),
                target: data_dir.into(),
                include,
                exclude: vec![],
                overwrite: true,
                throttle_bytes_per_sec: throttle,
                rename_top: keyspace_renames.clone(),
            };
            let summary = store.restore(req, progress.clone()).await?;
            if *all_tables {
                for e in manifest.entries.iter().filter(|e| e.kind == EntryKind::Dir && e.path.matches('/').count() == 1) {
                    let dir = Path::new(data_dir).join(renamed(&e.path));
                    std::fs::create_dir_all(&dir).map_err(|err| Failed(format!("{}: {err}", dir.display())))?;
                }
            }
            // Only once every file is back: what the backup did not hold goes, from the written
            // directories of the tables asked to be truncated.
            if *truncate {
                let mut asked = truncate_only.clone().unwrap_or_else(|| selection.clone());
                if asked.is_everything() && !keyspace_renames.is_empty() {
                    // Everything restored under new names: only those keyspaces are emptied.
                    asked.keyspaces = keyspace_renames.keys().cloned().collect();
                }
                let asked = cluster::renamed_selection(&asked, keyspace_renames);
                let emptied: Vec<String> =
                    written.into_iter().filter(|dir| cluster::selected_dotted(&asked, &cluster::dotted(dir))).collect();
                let dir = data_dir.clone();
                blocking(move || Ok(cluster::truncate(Path::new(&dir), &emptied, &keep)?)).await?;
            }
            // What the request covered that this backup does not hold stays as it was; say so.
            let asked = cluster::renamed_selection(selection, keyspace_renames);
            let dir = data_dir.clone();
            let present = blocking(move || Ok(cluster::discover(Path::new(&dir))?)).await?;
            let left_alone: BTreeSet<String> = present
                .iter()
                .flat_map(|(ks, tables)| tables.iter().map(move |t| format!("{ks}.{}", t.table)))
                .filter(|t| cluster::selected_dotted(&asked, t) && !restored.contains(t))
                .collect();
            Ok((State::Succeeded, json!({ "files": summary.files, "bytes": summary.bytes, "tables": restored, "left_alone": left_alone })))
        }
        TaskSpec::RestoreDatabase { snapshot, node_key, datastore, target } => {
            let kind = datastore.parse::<database::DatastoreKind>()?;
            let location = DatabaseLocation::new(kind, target.clone());
            let sink = database::start_load(&location).await?;
            let outcome = store.read_entry(snapshot, node_key, DUMP_ENTRY, sink).await;
            match outcome {
                Ok((sink, bytes)) => {
                    blocking(move || Ok(sink.finish()?)).await?;
                    progress.bytes_done.store(bytes, Ordering::Relaxed);
                    Ok((State::Succeeded, json!({ "files": 1, "bytes": bytes, "database": location.redacted() })))
                }
                Err(e) => {
                    let _ = database::drop_database(&location).await;
                    Err(e.into())
                }
            }
        }
        TaskSpec::ListTables { data_dir } => {
            let dir = data_dir.clone();
            let found = blocking(move || Ok(cluster::discover(Path::new(&dir))?)).await?;
            let keyspaces: serde_json::Map<String, Value> =
                found.into_iter().map(|(ks, tables)| (ks, json!(tables.into_iter().map(|t| t.table).collect::<Vec<_>>()))).collect();
            Ok((State::Succeeded, json!({ "keyspaces": keyspaces })))
        }
        TaskSpec::Verify { snapshot, .. } => {
            let report = store.verify(snapshot).await?;
            let value = serde_json::to_value(&report).unwrap_or(Value::Null);
            if report.ok() { Ok((State::Succeeded, value)) } else { Err(Failed(report.problems.join("; "))) }
        }
        TaskSpec::CopySnapshot { snapshot, nodes, as_snapshot, as_parent, .. } => {
            let target = target.ok_or_else(|| Failed("copy tasks run on the server's own agent".into()))?;
            let rename = as_snapshot.as_deref().map(|s| CopyAs { snapshot: s, parent: as_parent.as_deref() });
            let report = store.copy_snapshot_as(snapshot, target, nodes, rename, progress.clone()).await?;
            let verified = target.verify(as_snapshot.as_deref().unwrap_or(snapshot)).await?;
            if !verified.ok() {
                return Err(Failed(format!("the copy does not verify: {}", verified.problems.join("; "))));
            }
            Ok((State::Succeeded, serde_json::to_value(report).unwrap_or(Value::Null)))
        }
        TaskSpec::DeleteSnapshots { snapshots, .. } => {
            for s in snapshots {
                store.delete_snapshot(s).await?;
            }
            let report = store.gc().await?;
            Ok((State::Succeeded, serde_json::to_value(report).unwrap_or(Value::Null)))
        }
        TaskSpec::ArchiveCommitlogs { snapshot, node_key, dir, known, .. } => {
            let (dir, known) = (dir.clone(), known.clone());
            let items = blocking(move || new_segments(Path::new(&dir), &known)).await?;
            if items.is_empty() {
                return Ok((State::Succeeded, json!({ "segments": [], "files": 0, "bytes": 0 })));
            }
            let times: BTreeMap<String, i64> = items.iter().map(|i| (i.path.clone(), i.mtime_ns / 1_000_000)).collect();
            let req = BackupRequest {
                snapshot: snapshot.clone(),
                node: node_key.clone(),
                items,
                parent: None,
                metadata: json!({ "commitlogs": true }),
                throttle_bytes_per_sec: throttle,
            };
            let manifest = store.backup(req, progress.clone()).await?;
            let segments: Vec<Value> = manifest
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(
                    |e| json!({ "name": e.path, "time_ms": times.get(&e.path).copied().unwrap_or(e.mtime_ns / 1_000_000), "size": e.size }),
                )
                .collect();
            let errors: Vec<Value> = manifest.errors.iter().map(|e| json!({ "path": e.path, "message": e.message })).collect();
            let state = if errors.is_empty() { State::Succeeded } else { State::SucceededWithErrors };
            Ok((state, json!({ "segments": segments, "errors": errors, "files": segments.len(), "bytes": manifest.totals.bytes })))
        }
        TaskSpec::ConfigureArchiving { dir, enabled, delay_secs } => {
            // Nodes are reconfigured one after the other: each waits its turn.
            tokio::time::sleep(std::time::Duration::from_secs(*delay_secs)).await;
            if *enabled {
                let dir = dir.clone();
                blocking(move || {
                    std::fs::create_dir_all(&dir).map_err(|e| Failed(format!("{dir}: {e}")))?;
                    std::fs::read_dir(&dir).map_err(|e| Failed(format!("{dir}: {e}")))?;
                    Ok(())
                })
                .await?;
            }
            Ok((State::Succeeded, json!({ "archiving": enabled, "dir": dir })))
        }
        TaskSpec::RestoreCommitlogs { node_key, restore_dir, point_in_time, segments, tables, .. } => {
            std::fs::create_dir_all(restore_dir).map_err(|e| Failed(format!("{restore_dir}: {e}")))?;
            // Only this restore's segments may be replayed: what an earlier one placed goes.
            for entry in std::fs::read_dir(restore_dir).map_err(|e| Failed(format!("{restore_dir}: {e}")))?.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()) {
                    std::fs::remove_file(entry.path()).map_err(|e| Failed(format!("{}: {e}", entry.path().display())))?;
                }
            }
            let mut by_snapshot: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (snapshot, name) in segments {
                by_snapshot.entry(snapshot).or_default().push(name.clone());
            }
            let (mut files, mut bytes) = (0, 0);
            for (snapshot, names) in by_snapshot {
                let req = RestoreRequest {
                    snapshot: snapshot.to_owned(),
                    node: node_key.clone(),
                    target: restore_dir.into(),
                    include: names,
                    exclude: vec![],
                    overwrite: true,
                    throttle_bytes_per_sec: throttle,
                    rename_top: Default::default(),
                };
                let summary = store.restore(req, progress.clone()).await?;
                files += summary.files;
                bytes += summary.bytes;
                // Each store restore counts only its own files; the task's totals are all of them.
                progress.files_total.store(files.max(progress.files_done.load(Ordering::Relaxed)), Ordering::Relaxed);
                progress.bytes_total.store(bytes.max(progress.bytes_done.load(Ordering::Relaxed)), Ordering::Relaxed);
            }
            let properties = Path::new(restore_dir).join(crate::domain::archive::RESTORE_PROPERTIES);
            std::fs::write(&properties, crate::domain::archive::restore_properties(restore_dir, *point_in_time, tables))
                .map_err(|e| Failed(format!("{}: {e}", properties.display())))?;
            let replay_list = (!tables.is_empty()).then(|| tables.join(","));
            Ok((
                State::Succeeded,
                json!({ "files": files, "bytes": bytes, "segments": segments.len(), "restore_dir": restore_dir, "replay_list": replay_list }),
            ))
        }
    }
}

/// The regular files in a commitlog archive directory that are not archived yet, by name.
fn new_segments(dir: &Path, known: &[String]) -> Result<Vec<Item>, Failed> {
    let known: std::collections::HashSet<&str> = known.iter().map(String::as_str).collect();
    let mut items = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Failed(format!("{}: {e}", dir.display())))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if known.contains(name.as_str()) || name.starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        if meta.is_file()
            && let Some(item) = crate::sources::item_for(&entry.path(), name, &meta)?
        {
            items.push(item);
        }
    }
    items.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(items)
}
