//! Bodies several admin resources share: what a backup or restore selects, the options of every
//! data-moving operation, retention rules, states, and the operation every start answers with.
//! Request bodies are read through [`Strict`](crate::api::common::strict::Strict), which refuses
//! unknown fields at every depth; the types also deny them themselves.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object, types::Example};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::{
    backup::Selection,
    operation::{Operation, OperationKind, OperationOptions},
    plan::Retention,
    source::SourceKind,
    state::State,
};

/// What part of a source is covered; empty lists mean everything.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "AdminSelection", deny_unknown_fields, example)]
pub struct AdminSelection {
    /// Cluster keyspaces.
    #[oai(default, skip_serializing_if_is_empty)]
    pub keyspaces: Vec<String>,
    /// Cluster tables, written `keyspace.table`.
    #[oai(default, skip_serializing_if_is_empty)]
    pub tables: Vec<String>,
    /// Machine paths (globs) to include, relative to the root or absolute under it.
    #[oai(default, skip_serializing_if_is_empty)]
    pub include: Vec<String>,
    /// Machine paths (globs) left out.
    #[oai(default, skip_serializing_if_is_empty)]
    pub exclude: Vec<String>,
}

impl Example for AdminSelection {
    fn example() -> Self {
        AdminSelection { keyspaces: vec!["Keyspace1".into()], tables: vec!["system_auth.roles".into()], ..Default::default() }
    }
}

impl From<AdminSelection> for Selection {
    fn from(s: AdminSelection) -> Self {
        Selection { keyspaces: s.keyspaces, tables: s.tables, include: s.include, exclude: s.exclude }
    }
}

impl From<Selection> for AdminSelection {
    fn from(s: Selection) -> Self {
        AdminSelection { keyspaces: s.keyspaces, tables: s.tables, include: s.include, exclude: s.exclude }
    }
}

/// Options every data-moving operation (backup, restore, copy) accepts.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "AdminOperationOptions", deny_unknown_fields, example)]
pub struct AdminOperationOptions {
    /// Bytes per second per node's task; unlimited when absent or null.
    #[oai(nullable)]
    pub throttle_bytes_per_sec: Option<u64>,
    /// Nodes, by name, left out of the operation.
    #[oai(default)]
    pub excluded_nodes: Vec<String>,
    /// Go on when a node's agent is down: that node is skipped instead of failing the operation.
    #[oai(default)]
    pub force: bool,
}

impl Example for AdminOperationOptions {
    fn example() -> Self {
        AdminOperationOptions { throttle_bytes_per_sec: Some(50_000_000), excluded_nodes: vec!["node3".into()], force: false }
    }
}

impl From<AdminOperationOptions> for OperationOptions {
    fn from(o: AdminOperationOptions) -> Self {
        OperationOptions { throttle_bytes_per_sec: o.throttle_bytes_per_sec, excluded_nodes: o.excluded_nodes, force: o.force }
    }
}

impl From<OperationOptions> for AdminOperationOptions {
    fn from(o: OperationOptions) -> Self {
        AdminOperationOptions { throttle_bytes_per_sec: o.throttle_bytes_per_sec, excluded_nodes: o.excluded_nodes, force: o.force }
    }
}

/// How long backups are kept; both rules apply when both are set, none when neither is.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "AdminRetention", deny_unknown_fields, example)]
pub struct AdminRetention {
    /// Keep only the newest this many complete backups.
    #[oai(nullable)]
    pub keep_last: Option<u32>,
    /// Delete complete backups older than this many seconds.
    #[oai(nullable)]
    pub max_age_secs: Option<u64>,
}

impl Example for AdminRetention {
    fn example() -> Self {
        AdminRetention { keep_last: Some(7), max_age_secs: Some(30 * 86_400) }
    }
}

impl From<AdminRetention> for Retention {
    fn from(r: AdminRetention) -> Self {
        Retention { keep_last: r.keep_last, max_age_secs: r.max_age_secs }
    }
}

impl From<Retention> for AdminRetention {
    fn from(r: Retention) -> Self {
        AdminRetention { keep_last: r.keep_last, max_age_secs: r.max_age_secs }
    }
}

/// The state of an operation, a task or a backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "AdminState", rename_all = "snake_case")]
pub enum AdminState {
    /// Accepted, not started.
    Queued,
    /// Moving data.
    Running,
    /// Finished; the data is verified.
    Succeeded,
    /// Finished, some items skipped.
    SucceededWithErrors,
    /// No usable result.
    Failed,
    /// Asked to stop; its tasks are stopping.
    Cancelling,
    /// Stopped on request.
    Cancelled,
    /// A schedule could not start it in time.
    Missed,
    /// A schedule skipped it because the previous run was still going.
    Skipped,
    /// Its data could not be removed.
    DeleteFailed,
}

impl From<State> for AdminState {
    fn from(s: State) -> Self {
        match s {
            State::Queued => AdminState::Queued,
            State::Running => AdminState::Running,
            State::Succeeded => AdminState::Succeeded,
            State::SucceededWithErrors => AdminState::SucceededWithErrors,
            State::Failed => AdminState::Failed,
            State::Cancelling => AdminState::Cancelling,
            State::Cancelled => AdminState::Cancelled,
            State::Missed => AdminState::Missed,
            State::Skipped => AdminState::Skipped,
            State::DeleteFailed => AdminState::DeleteFailed,
        }
    }
}

/// What a source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "AdminSourceKind", rename_all = "snake_case")]
pub enum AdminSourceKind {
    /// A Cassandra-style cluster of nodes.
    Cluster,
    /// A database instance (SQLite, PostgreSQL, MySQL).
    Instance,
    /// An HA group of instances.
    HaGroup,
    /// An agent's file system under a root directory.
    Machine,
}

impl From<SourceKind> for AdminSourceKind {
    fn from(k: SourceKind) -> Self {
        match k {
            SourceKind::Cluster => AdminSourceKind::Cluster,
            SourceKind::Instance => AdminSourceKind::Instance,
            SourceKind::HaGroup => AdminSourceKind::HaGroup,
            SourceKind::Machine => AdminSourceKind::Machine,
        }
    }
}

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "AdminOperationKind", rename_all = "snake_case")]
pub enum AdminOperationKind {
    Backup,
    Restore,
    Copy,
    Delete,
    Verify,
    /// Reads what a source's nodes hold (keyspaces and tables); nothing is written.
    Inventory,
    /// Ships a cluster's new commitlog segments (one round of continuous archiving).
    Archive,
    /// Turns a cluster's commitlog archiving on or off, node after node.
    Configure,
}

impl From<OperationKind> for AdminOperationKind {
    fn from(k: OperationKind) -> Self {
        match k {
            OperationKind::Backup => AdminOperationKind::Backup,
            OperationKind::Restore => AdminOperationKind::Restore,
            OperationKind::Copy => AdminOperationKind::Copy,
            OperationKind::Delete => AdminOperationKind::Delete,
            OperationKind::Verify => AdminOperationKind::Verify,
            OperationKind::Inventory => AdminOperationKind::Inventory,
            OperationKind::Archive => AdminOperationKind::Archive,
            OperationKind::Configure => AdminOperationKind::Configure,
        }
    }
}

/// An asynchronous request; its per-node tasks do the work. Poll `GET /operations/{id}` until
/// its state is final.
#[derive(Clone, Debug, Object)]
#[oai(rename = "AdminOperation")]
pub struct AdminOperation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: AdminOperationKind,
    pub state: AdminState,
    #[oai(nullable)]
    pub source_id: Option<Uuid>,
    #[oai(nullable)]
    pub backup_id: Option<Uuid>,
    /// From 0 to 1: the mean of its tasks' progress.
    pub progress: f64,
    pub options: AdminOperationOptions,
    /// What was asked, by kind (a restore's target, a copy's destination...).
    pub params: Value,
    /// What came of it, by kind (the restored source's id, a verification's report...).
    pub result: Value,
    /// Why it failed.
    #[oai(nullable)]
    pub error: Option<String>,
    /// The user (or `scheduler`) that asked for it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Operation> for AdminOperation {
    fn from(o: Operation) -> Self {
        AdminOperation {
            id: o.id,
            tenant_id: o.tenant_id,
            kind: o.kind.into(),
            state: o.state.into(),
            source_id: o.source_id,
            backup_id: o.backup_id,
            progress: o.progress,
            options: o.options.into(),
            params: o.params,
            result: o.result,
            error: o.error,
            created_by: o.created_by,
            created_at: o.created_at,
            started_at: o.started_at,
            finished_at: o.finished_at,
        }
    }
}
