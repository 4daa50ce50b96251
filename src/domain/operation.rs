//! Operations: every data-changing request becomes one, then per-node tasks that agents claim,
//! report progress on and finish.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{backup::Selection, state::State};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Backup,
    Restore,
    Copy,
    Delete,
    Verify,
    /// Reads what a source's nodes hold (keyspaces and tables), nothing is written.
    Inventory,
    /// Ships a cluster's new commitlog segments (one round of continuous archiving).
    Archive,
    /// Turns a cluster's commitlog archiving on or off, node after node.
    Configure,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Backup => "backup",
            OperationKind::Restore => "restore",
            OperationKind::Copy => "copy",
            OperationKind::Delete => "delete",
            OperationKind::Verify => "verify",
            OperationKind::Inventory => "inventory",
            OperationKind::Archive => "archive",
            OperationKind::Configure => "configure",
        }
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            OperationKind::Backup,
            OperationKind::Restore,
            OperationKind::Copy,
            OperationKind::Delete,
            OperationKind::Verify,
            OperationKind::Inventory,
            OperationKind::Archive,
            OperationKind::Configure,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown operation kind '{s}'"))
    }
}

/// Options every data-moving operation accepts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationOptions {
    /// Bytes per second per task; none = unlimited.
    #[serde(default)]
    pub throttle_bytes_per_sec: Option<u64>,
    /// Nodes (by name) left out.
    #[serde(default)]
    pub excluded_nodes: Vec<String>,
    /// Go on when a node's agent is down: that node is skipped instead of failing the operation.
    #[serde(default)]
    pub force: bool,
}

/// An asynchronous request with per-node tasks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: OperationKind,
    pub state: State,
    pub source_id: Option<Uuid>,
    pub backup_id: Option<Uuid>,
    /// 0..=1, the mean of its tasks' progress.
    pub progress: f64,
    pub options: OperationOptions,
    /// Kind-specific request details (restore target, ...).
    pub params: serde_json::Value,
    /// Kind-specific outcome (restored source id, verify report, ...).
    pub result: serde_json::Value,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A task's progress as agents report it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskProgress {
    pub files_total: i64,
    pub files_done: i64,
    pub bytes_total: i64,
    pub bytes_done: i64,
    /// Per `keyspace.table` counts of a cluster node's task.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub groups: std::collections::BTreeMap<String, GroupProgress>,
}

/// Progress of one group of files (a table).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupProgress {
    pub files_total: i64,
    pub files_done: i64,
    pub bytes_total: i64,
}

impl TaskProgress {
    pub fn fraction(&self) -> f64 {
        if self.bytes_total > 0 {
            (self.bytes_done as f64 / self.bytes_total as f64).clamp(0.0, 1.0)
        } else if self.files_total > 0 {
            (self.files_done as f64 / self.files_total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// One node's share of an operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Task {
    pub id: Uuid,
    pub operation_id: Uuid,
    pub node_id: Option<Uuid>,
    pub node_name: String,
    pub agent_id: Uuid,
    pub state: State,
    pub spec: TaskSpec,
    pub progress: TaskProgress,
    pub attempts: i32,
    /// The server that handed the running claim out (`<server name>:<pid>:<random>`); not shown to clients.
    #[serde(default, skip_serializing)]
    pub lease_owner: Option<String>,
    pub error: Option<String>,
    pub result: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a task does: everything an agent needs, so it can run without the database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskSpec {
    /// Back up a machine's files under `root`.
    BackupTree { snapshot: String, node_key: String, root: String, selection: Selection, parent: Option<String> },
    /// Back up a cluster node's data directory (selected keyspaces and tables).
    BackupClusterNode { snapshot: String, node_key: String, data_dir: String, selection: Selection, parent: Option<String> },
    /// Dump a database into the store.
    BackupDatabase { snapshot: String, node_key: String, datastore: String, location: String },
    /// Restore files under `target`.
    RestoreTree {
        snapshot: String,
        node_key: String,
        target: String,
        include: Vec<String>,
        /// Paths left out even when under an included one.
        #[serde(default)]
        exclude: Vec<String>,
        overwrite: bool,
    },
    /// Restore table files into a node's data directory, optionally clearing the tables first.
    RestoreClusterNode {
        snapshot: String,
        node_key: String,
        data_dir: String,
        selection: Selection,
        truncate: bool,
        /// With `truncate`, only these keyspaces or tables are emptied (all restored ones when absent).
        #[serde(default)]
        truncate_only: Option<Selection>,
        /// Keyspaces restored under another name: backup keyspace → target keyspace.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        keyspace_renames: std::collections::BTreeMap<String, String>,
        /// Also create the (empty) directories of the tables the selection leaves out: the whole schema.
        #[serde(default)]
        all_tables: bool,
        /// Fail before writing when a restored table was made again since the backup.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        check_schema: bool,
    },
    /// Load a dump into a new database.
    RestoreDatabase { snapshot: String, node_key: String, datastore: String, target: String },
    /// Re-read and check every chunk of a snapshot (in `destination` when not the backup's own).
    Verify {
        snapshot: String,
        #[serde(default)]
        destination: Option<Uuid>,
    },
    /// Remove snapshots from a destination's store and collect garbage.
    DeleteSnapshots {
        snapshots: Vec<String>,
        #[serde(default)]
        destination: Option<Uuid>,
    },
    /// Copy a snapshot into another destination, moving only the chunks it lacks; only the
    /// parts of the nodes listed (by node key) when some are (a destination serving some data
    /// centres); with `as_snapshot` the copy is a backup of its own there, named so, on `as_parent`.
    CopySnapshot {
        snapshot: String,
        to: Uuid,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        nodes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        as_snapshot: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        as_parent: Option<String>,
    },
    /// List the keyspaces and tables of a cluster node's data directory.
    ListTables { data_dir: String },
    /// Ship the commitlog segments in `dir` not named in `known` into `destination` as one snapshot.
    ArchiveCommitlogs { snapshot: String, node_key: String, dir: String, destination: Uuid, known: Vec<String> },
    /// After `delay_secs`, get a node ready for archiving (its archive directory exists and reads) or note it off.
    ConfigureArchiving { dir: String, enabled: bool, delay_secs: u64 },
    /// Place archived segments in `restore_dir` with the properties file that stops replay at `point_in_time`.
    RestoreCommitlogs {
        node_key: String,
        restore_dir: String,
        point_in_time: chrono::DateTime<chrono::Utc>,
        destination: Uuid,
        /// (snapshot, segment name) pairs, oldest first.
        segments: Vec<(String, String)>,
        /// The `keyspace.table`s the replay is for (every table when empty): the database must
        /// replay only these (Cassandra's `-Dcassandra.replayList`), or it rewrites the others.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tables: Vec<String>,
    },
}

impl TaskSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            TaskSpec::BackupTree { .. } => "backup_tree",
            TaskSpec::BackupClusterNode { .. } => "backup_cluster_node",
            TaskSpec::BackupDatabase { .. } => "backup_database",
            TaskSpec::RestoreTree { .. } => "restore_tree",
            TaskSpec::RestoreClusterNode { .. } => "restore_cluster_node",
            TaskSpec::RestoreDatabase { .. } => "restore_database",
            TaskSpec::Verify { .. } => "verify",
            TaskSpec::DeleteSnapshots { .. } => "delete_snapshots",
            TaskSpec::CopySnapshot { .. } => "copy_snapshot",
            TaskSpec::ListTables { .. } => "list_tables",
            TaskSpec::ArchiveCommitlogs { .. } => "archive_commitlogs",
            TaskSpec::ConfigureArchiving { .. } => "configure_archiving",
            TaskSpec::RestoreCommitlogs { .. } => "restore_commitlogs",
        }
    }

    /// The destination the task works in, when it names one.
    pub fn destination(&self) -> Option<Uuid> {
        match self {
            TaskSpec::Verify { destination, .. } | TaskSpec::DeleteSnapshots { destination, .. } => *destination,
            TaskSpec::ArchiveCommitlogs { destination, .. } | TaskSpec::RestoreCommitlogs { destination, .. } => Some(*destination),
            _ => None,
        }
    }
}

/// A claimed task as handed to an agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Assignment {
    pub task_id: Uuid,
    pub operation_id: Uuid,
    pub destination_id: Uuid,
    pub spec: TaskSpec,
    pub throttle_bytes_per_sec: Option<u64>,
    /// The store encryption key (hex) when the store is encrypted.
    pub store_key: Option<String>,
    pub lease_secs: u64,
    /// Which claim of the task this is; progress and the end are accepted only from the latest,
    /// so an agent whose lease ran out cannot overwrite the run that took its place.
    #[serde(default)]
    pub attempt: i32,
}

/// How a task ended, as an agent reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskOutcome {
    pub state: State,
    pub error: Option<String>,
    pub progress: TaskProgress,
    /// Counts and facts: files, bytes, stored bytes, per-table detail, skipped items.
    pub result: serde_json::Value,
}

/// One line of the activity log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    pub tenant_id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub message: String,
    pub operation_id: Option<Uuid>,
    pub backup_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
}
