//! Backups: one point-in-time snapshot of a source, possibly incremental on a parent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::state::State;

/// What part of a source a backup covers; empty means everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Cluster keyspaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyspaces: Vec<String>,
    /// Cluster tables as `keyspace.table`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Machine paths (globs) to include, relative to the root or absolute under it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Machine paths (globs) to exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Selection {
    pub fn is_everything(&self) -> bool {
        self.keyspaces.is_empty() && self.tables.is_empty() && self.include.is_empty() && self.exclude.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backup {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub plan_id: Option<Uuid>,
    pub operation_id: Option<Uuid>,
    pub destination_id: Uuid,
    pub name: String,
    pub description: String,
    /// A dialect-facing tag (OpsCenter `opscenter_adhoc_...`).
    pub tag: String,
    pub selection: Selection,
    pub state: State,
    /// Bytes of data covered.
    pub size_bytes: i64,
    /// Bytes this backup added to the store.
    pub stored_bytes: i64,
    pub file_count: i64,
    pub error: Option<String>,
    /// Source facts at backup time (datastore, topology, node list...).
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Backup {
    pub fn is_incremental(&self) -> bool {
        self.parent_id.is_some()
    }
}

/// One node's part of a backup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupNode {
    pub backup_id: Uuid,
    pub node_id: Uuid,
    pub node_name: String,
    pub state: State,
    pub files: i64,
    pub bytes: i64,
    pub stored_bytes: i64,
    /// Per keyspace.table counts for clusters: {"ks.t": {"files": n, "bytes": n}}.
    pub detail: serde_json::Value,
}

/// A restore prepared step by step before it starts: Cloud Backup creates one, adds file filters,
/// then starts it, which runs an ordinary restore operation to a path on an agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RestoreDraft {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub backup_id: Uuid,
    /// The agent the files are written on.
    pub agent_id: Uuid,
    pub path: String,
    pub overwrite: bool,
    pub files: Vec<RestoreFile>,
    /// The restore operation, once started.
    pub operation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A path a restore includes or leaves out, as the source machine named it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreFile {
    pub path: String,
    pub folder: bool,
    pub exclude: bool,
}
