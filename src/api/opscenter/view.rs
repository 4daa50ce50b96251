//! OpsCenter shapes: tags, destinations, backups by tag, activity events and request status.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::models::{
    BackupKeyspace, BackupKeyspaces, CommitlogReplay, DestinationView, KeyspaceTables, Provider, RequestDetails, RequestState,
    RequestStatus, Subrequest, SubrequestDetails, SubrequestMetadata, Subrequests, TableProgress,
};
use crate::{
    domain::{
        backup::{Backup, BackupNode, Selection},
        identity::Principal,
        operation::{Operation, Task},
        state::State,
    },
    error::CoreError,
    persistence::catalog::DestinationRow,
    state::AppState,
};

/// The id OpsCenter gives the destination on the server itself.
pub const ON_SERVER: &str = "OPSC_ON_SERVER";

/// `opscenter_adhoc_YYYY-MM-DD-HH-MM-SS-UTC`, or `opscenter_<schedule id>_...` for scheduled ones.
pub fn tag(b: &Backup) -> String {
    if b.tag.starts_with("opscenter_") {
        return b.tag.clone();
    }
    format!("opscenter_{}_{}", schedule_word(b), b.created_at.format("%Y-%m-%d-%H-%M-%S-UTC"))
}

/// The second a derived tag names (`..._YYYY-MM-DD-HH-MM-SS-UTC`), to find its backup by time.
pub fn tag_time(tag: &str) -> Option<DateTime<Utc>> {
    let (_, stamp) = tag.rsplit_once('_')?;
    Some(chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d-%H-%M-%S-UTC").ok()?.and_utc())
}

/// `adhoc` or the id of the job schedule that made the backup.
pub fn schedule_word(b: &Backup) -> String {
    b.plan_id.map(|id| id.to_string()).unwrap_or_else(|| "adhoc".into())
}

pub fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// OpsCenter's request and activity states.
pub fn state_word(state: State) -> RequestState {
    match state {
        State::Queued | State::Running | State::Cancelling => RequestState::Running,
        State::Succeeded | State::SucceededWithErrors => RequestState::Success,
        State::Cancelled => RequestState::Cancelled,
        State::Failed | State::DeleteFailed | State::Missed | State::Skipped => RequestState::Error,
    }
}

/// A destination's OpsCenter id: `OPSC_ON_SERVER` for the server's store, else its id without dashes.
pub fn destination_id(state: &AppState, id: Uuid) -> String {
    if id == state.engine.server_destination() { ON_SERVER.to_owned() } else { id.simple().to_string() }
}

/// Engine messages name a destination as `destination '<name>'`, by the name the admin API shows;
/// OpsCenter shows destinations by id only, so its answers name them by that id instead.
pub struct DestinationIds(Vec<(String, String)>);

impl DestinationIds {
    /// The destinations the caller may use.
    pub async fn load(state: &AppState, p: &Principal) -> Result<Self, CoreError> {
        let rows = state.engine.destinations(p).await?;
        let quoted = |r: &DestinationRow| (format!("destination '{}'", r.name), format!("destination '{}'", destination_id(state, r.id)));
        Ok(Self(rows.iter().map(quoted).collect()))
    }

    /// `text` with every destination named by its OpsCenter id.
    pub fn apply(&self, text: &str) -> String {
        self.0.iter().fold(text.to_owned(), |text, (name, id)| text.replace(name.as_str(), id))
    }
}

/// The destination an OpsCenter id names (`OPSC_ON_SERVER`, or an id with or without dashes).
pub async fn find_destination(state: &AppState, p: &Principal, id: &str) -> Result<DestinationRow, CoreError> {
    let not_found = || CoreError::not_found("backup destination", id);
    let uuid =
        if id.is_empty() || id == ON_SERVER { state.engine.server_destination() } else { Uuid::parse_str(id).map_err(|_| not_found())? };
    state.engine.destination_row(p, uuid).await.map_err(|_| not_found())
}

/// A destination as OpsCenter shows it: provider and its fields, the secret redacted.
pub fn destination(state: &AppState, row: &DestinationRow) -> DestinationView {
    let c = &row.config;
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let secret = state.engine.redacted_secret(row);
    let mut out = DestinationView { id: destination_id(state, row.id), ..Default::default() };
    match row.kind.as_str() {
        "server" => return DestinationView { path: Some(String::new()), provider: Some(Provider::Server), ..out },
        "s3" => {
            out.provider = Some(Provider::S3);
            out.path = text("path");
            out.access_key = text("access_key");
            out.access_secret = secret;
            out.region = text("region");
            out.server_side_encryption = Some(c.get("server_side_encryption").and_then(Value::as_bool).unwrap_or(false));
        }
        "azure" => {
            out.provider = Some(Provider::Azure);
            out.storage_account_name = text("storage_account_name");
            out.storage_key = secret;
            out.container_name = text("container_name");
            out.subfolder = text("subfolder");
        }
        _ => {
            out.provider = Some(Provider::Local);
            out.path = text("path");
        }
    }
    out.throttle_bytes_per_second = Some(c.get("throttle_bytes_per_second").and_then(Value::as_u64).unwrap_or(0).to_string());
    out.endpoint = text("endpoint");
    out.validation_dc_list =
        c.get("validation_dc_list").and_then(Value::as_array).map(|dcs| dcs.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    out
}

/// `{ks: {"cfs": [...], "nodes": [...], "size": n}}` from the nodes' per-table counts; a backup
/// still running shows the keyspaces it was asked for.
pub fn keyspaces(b: &Backup, parts: &[BackupNode]) -> BackupKeyspaces {
    let mut out: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>, i64)> = BTreeMap::new();
    for part in parts {
        if let Some(tables) = part.detail.get("tables").and_then(Value::as_object) {
            for (name, counts) in tables {
                let Some((ks, table)) = name.split_once('.') else { continue };
                let entry = out.entry(ks.to_owned()).or_default();
                entry.0.insert(table.to_owned());
                entry.1.insert(part.node_name.clone());
                entry.2 += counts.get("bytes").and_then(Value::as_i64).unwrap_or(0);
            }
        }
    }
    if out.is_empty() {
        for ks in &b.selection.keyspaces {
            out.entry(ks.clone()).or_default();
        }
    }
    out.into_iter()
        .map(|(ks, (cfs, nodes, size))| (ks, BackupKeyspace { cfs: cfs.into_iter().collect(), nodes: nodes.into_iter().collect(), size }))
        .collect()
}

/// `{ks: [tables]}` of a backup.
pub fn keyspace_tables(keyspaces: &BackupKeyspaces) -> KeyspaceTables {
    keyspaces.0.iter().map(|(ks, k)| (ks.clone(), k.cfs.clone())).collect()
}

/// `{ks: {table: {done_files, total_files, total_size, errors}}}` of one node's task: live from
/// its progress while it runs, from its result once it ended.
fn sstables(task: &Task) -> BTreeMap<String, BTreeMap<String, TableProgress>> {
    let mut out: BTreeMap<String, BTreeMap<String, TableProgress>> = BTreeMap::new();
    for (name, g) in &task.progress.groups {
        if let Some((ks, table)) = name.split_once('.') {
            out.entry(ks.to_owned()).or_default().insert(
                table.to_owned(),
                TableProgress { done_files: g.files_done, total_files: g.files_total, total_size: g.bytes_total, errors: Vec::new() },
            );
        }
    }
    if out.is_empty()
        && let Some(tables) = task.result.get("tables").and_then(Value::as_object)
    {
        for (name, counts) in tables {
            if let Some((ks, table)) = name.split_once('.') {
                let files = counts.get("files").and_then(Value::as_i64).unwrap_or(0);
                let done = if task.state.is_success() { files } else { 0 };
                let size = counts.get("bytes").and_then(Value::as_i64).unwrap_or(0);
                out.entry(ks.to_owned())
                    .or_default()
                    .insert(table.to_owned(), TableProgress { done_files: done, total_files: files, total_size: size, errors: Vec::new() });
            }
        }
    }
    out
}

/// An engine error as OpsCenter words it: a changed schema names the option that restores anyway.
fn worded_error(e: &str) -> String {
    if e.contains(crate::engine::SCHEMA_CHANGED) { format!("{e}; force_schema: true restores it anyway") } else { e.to_owned() }
}

/// The request-status document of an operation, with one subrequest per node.
pub async fn request_status(state: &AppState, p: &Principal, op: &Operation) -> Result<RequestStatus, CoreError> {
    let engine = &state.engine;
    let cluster_id = match op.source_id {
        Some(id) => engine.source(p, id).await.map(|s| s.source.name).ok(),
        None => None,
    };
    let backup = match op.backup_id {
        Some(id) => engine.backup(p, id).await.ok(),
        None => None,
    };
    let (tag, mut keyspaces, mut destinations) = match &backup {
        Some(b) => {
            let parts = engine.backup_nodes(p, b.id).await.unwrap_or_default();
            (Some(tag(b)), keyspace_tables(&keyspaces(b, &parts)), vec![destination_id(state, b.destination_id)])
        }
        None => (None, KeyspaceTables::default(), Vec::new()),
    };
    // A restore names what it restores and where it reads from.
    if let Some(selection) = op.params.get("selection").and_then(|s| serde_json::from_value::<Selection>(s.clone()).ok()) {
        keyspaces = restricted(&keyspaces, &selection);
    }
    if let Some(from) = op.params.get("destination_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()) {
        destinations = vec![destination_id(state, from)];
    }
    for copy in op.params.get("copy_to").and_then(Value::as_array).into_iter().flatten() {
        if let Some(id) = copy.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            destinations.push(destination_id(state, id));
        }
    }
    if let Some(to) = op.params.get("to").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()) {
        destinations = vec![destination_id(state, to)];
    }
    // One subrequest per node; a point-in-time restore has two tasks on a node (table files and commitlogs).
    let mut by_node: BTreeMap<String, Vec<Task>> = BTreeMap::new();
    let tasks = engine.tasks(p, op.id).await?;
    let ids = if op.error.is_some() || tasks.iter().any(|t| t.error.is_some()) {
        DestinationIds::load(state, p).await?
    } else {
        DestinationIds(Vec::new())
    };
    for task in tasks {
        by_node.entry(task.node_name.clone()).or_default().push(task);
    }
    let mut subrequests = Subrequests::default();
    for (node, tasks) in by_node {
        let (files, logs): (Vec<&Task>, Vec<&Task>) =
            tasks.iter().partition(|t| !matches!(t.spec, crate::domain::operation::TaskSpec::RestoreCommitlogs { .. }));
        let main = files.first().or(logs.first()).copied().expect("a node has a task");
        let errors: Vec<String> = tasks.iter().filter_map(|t| t.error.as_deref()).map(|e| worded_error(&ids.apply(e))).collect();
        let node_state = tasks.iter().map(|t| t.state).max_by_key(|s| match s {
            s if s.is_success() => 0,
            State::Queued => 1,
            s if !s.is_terminal() => 2,
            _ => 3,
        });
        let listed = |key: &str| -> Option<Vec<String>> {
            main.result.get(key).and_then(Value::as_array).map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        };
        let commitlogs = logs.first().map(|replay| CommitlogReplay {
            state: state_word(replay.state),
            segments: replay.result.get("segments").and_then(Value::as_i64).unwrap_or(0),
            restore_dir: replay.result.get("restore_dir").and_then(Value::as_str).map(str::to_owned),
            replay_list: replay.result.get("replay_list").and_then(Value::as_str).map(str::to_owned),
            done_files: replay.progress.files_done,
            total_files: replay.progress.files_total,
        });
        let finished = if tasks.iter().all(|t| t.finished_at.is_some()) { tasks.iter().filter_map(|t| t.finished_at).max() } else { None };
        let details = SubrequestDetails {
            metadata: SubrequestMetadata { created: tasks.iter().all(|t| t.state.is_success()), errors },
            sstables: sstables(main),
            id: main.id.to_string(),
            state: state_word(node_state.unwrap_or(main.state)),
            // A restore says which tables it wrote and which asked-for ones its backup does not hold.
            tables_restored: listed("tables"),
            tables_left_alone: listed("left_alone"),
            commitlogs,
        };
        subrequests.0.insert(
            node,
            Subrequest {
                started: tasks.iter().filter_map(|t| t.started_at).min().map(epoch),
                finished: finished.map(epoch),
                cluster_id: None,
                details,
            },
        );
    }
    Ok(RequestStatus {
        id: op.id.to_string(),
        kind: op.kind.as_str().to_owned(),
        state: state_word(op.state),
        started: epoch(op.started_at.unwrap_or(op.created_at)),
        finished: op.finished_at.map(epoch),
        cluster_id,
        tag,
        destinations,
        keyspaces,
        progress: op.progress,
        details: RequestDetails { message: worded_error(&ids.apply(op.error.as_deref().unwrap_or_default())), subrequests },
    })
}

/// `{ks: [tables]}` cut down to a selection (whole keyspaces, or `ks.table` names).
fn restricted(keyspaces: &KeyspaceTables, selection: &Selection) -> KeyspaceTables {
    keyspaces
        .0
        .iter()
        .map(|(ks, tables)| {
            (ks.clone(), tables.iter().filter(|t| crate::sources::cluster::selected(selection, ks, t)).cloned().collect::<Vec<_>>())
        })
        .filter(|(_, kept)| !kept.is_empty())
        .collect()
}

/// The week partition OpsCenter files an event under (`YYYYWW`).
pub fn week(t: DateTime<Utc>) -> String {
    t.format("%Y%U").to_string()
}
