//! Activity rows: the backups, restores and cleanups of agents.

use poem_openapi::{Enum, Object};

use super::{CurrentState, RestoreStateId};

/// What an activity row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupActivityType")]
pub enum ActivityType {
    Backup,
    Restore,
    Cleanup,
}

/// A backup, restore or cleanup of an agent.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupActivity", rename_all = "PascalCase")]
pub struct Activity {
    /// The backup's id for a Backup row, the restore's for a Restore row.
    #[oai(rename = "ID")]
    pub id: i64,
    #[oai(rename = "Type")]
    pub kind: ActivityType,
    /// The configuration's id (0 when none).
    pub parent_id: i64,
    pub display_name: String,
    pub is_backup_configuration_deleted: bool,
    #[oai(nullable)]
    pub source_machine_agent_id: Option<i64>,
    pub source_machine_name: String,
    /// 0 for backups and cleanups.
    pub destination_machine_agent_id: i64,
    pub destination_machine_name: String,
    /// Backups and cleanups from their state alone: Queued until an agent runs them, then
    /// InProgress (`GET /backup/{id}` tells StartRequested and Preparing apart).
    pub current_state: CurrentState,
    /// Restore rows only.
    #[oai(skip_serializing_if_is_none)]
    pub restore_state_id: Option<RestoreStateId>,
    pub time_of_activity: String,
    pub backup_id: i64,
}
