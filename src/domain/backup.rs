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

    /// Whether a cluster backup taken with this selection holds every table `asked` names: a
    /// backup of all keyspaces holds everything, one of some keyspaces holds their tables, and
    /// one of some tables holds only those (so it never stands for a whole keyspace).
    pub fn holds_tables_of(&self, asked: &Selection) -> bool {
        if self.keyspaces.is_empty() && self.tables.is_empty() {
            return true;
        }
        if asked.keyspaces.is_empty() && asked.tables.is_empty() {
            return false;
        }
        let whole = |ks: &str| self.keyspaces.iter().any(|k| k == ks);
        asked.keyspaces.iter().all(|ks| whole(ks))
            && asked.tables.iter().all(|t| self.tables.contains(t) || t.split_once('.').is_some_and(|(ks, _)| whole(ks)))
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

#[cfg(test)]
mod tests {
    use super::Selection;

    fn sel(keyspaces: &[&str], tables: &[&str]) -> Selection {
        Selection {
            keyspaces: keyspaces.iter().map(|s| s.to_string()).collect(),
            tables: tables.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_table_subset_backup_never_holds_its_whole_keyspace() {
        let users_only = sel(&[], &["Keyspace1.users"]);
        assert!(!users_only.holds_tables_of(&sel(&[], &[])));
        assert!(!users_only.holds_tables_of(&sel(&["Keyspace1"], &[])));
        assert!(!users_only.holds_tables_of(&sel(&[], &["Keyspace1.users", "Keyspace1.dates"])));
        assert!(users_only.holds_tables_of(&sel(&[], &["Keyspace1.users"])));
    }

    #[test]
    fn a_keyspace_backup_holds_its_tables_and_a_full_backup_holds_everything() {
        let ks1 = sel(&["Keyspace1"], &[]);
        assert!(ks1.holds_tables_of(&sel(&["Keyspace1"], &[])));
        assert!(ks1.holds_tables_of(&sel(&[], &["Keyspace1.dates"])));
        assert!(!ks1.holds_tables_of(&sel(&["Keyspace2"], &[])));
        assert!(!ks1.holds_tables_of(&sel(&[], &[])));
        assert!(sel(&[], &[]).holds_tables_of(&sel(&["Keyspace2"], &["Keyspace1.users"])));
    }
}
