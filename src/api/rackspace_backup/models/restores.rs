//! Restores: prepared, narrowed by file filters, started, followed and reported on.

use poem_openapi::Object;

use super::{ActionKind, EncryptionKey, NumericId, ReportError, RestoreFileItemType, RestoreFilter, RestoreState, RestoreStateId};
use crate::api::common::lenient::Flag;

/// `PUT /restore`: a restore of a completed backup into a directory on an agent.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupCreateRestore", rename_all = "PascalCase")]
pub struct CreateRestore {
    pub backup_id: NumericId,
    /// The agent of the backed-up machine; when given it must be the backup's.
    #[oai(nullable)]
    pub backup_machine_id: Option<NumericId>,
    /// The agent that writes the files.
    pub destination_machine_id: NumericId,
    /// An absolute directory, without a `..` component (at most 4096 characters); each file
    /// lands under it with its path on the backed-up machine.
    #[oai(validator(
        max_length = 4096,
        pattern = r"^/([^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+|\.)?(/([^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+|\.)?)*$"
    ))]
    pub destination_path: String,
    /// Replace files that exist; `false` when left out.
    pub overwrite_files: Option<Flag>,
    /// The region the backup is kept in; when given it must be the backup's.
    #[oai(nullable)]
    pub backup_data_center: Option<String>,
}

/// `POST /restore`: changes a restore that has not started. `BackupConfigurationId` and
/// `RestoreStateId` may be echoed and are ignored.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupUpdateRestore", rename_all = "PascalCase")]
pub struct UpdateRestore {
    pub restore_id: NumericId,
    #[oai(flatten)]
    pub restore: CreateRestore,
}

/// `POST /restore/action-requested`.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupRestoreAction", rename_all = "PascalCase")]
pub struct RestoreAction {
    pub action: ActionKind,
    /// The restore's id.
    pub id: NumericId,
    /// The vault password encrypted with the agent's public key. Not needed: Coffer holds the
    /// store's key itself, so it is accepted and not used.
    #[oai(nullable)]
    pub encrypted_password: Option<String>,
}

/// A restore file filter as a request names it.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupRestoreFileRequest", rename_all = "PascalCase")]
pub struct RestoreFileRequest {
    /// The restore's id.
    pub parent_id: NumericId,
    /// An absolute path on the backed-up machine, without a `..` component (at most 4096
    /// characters).
    #[oai(validator(
        max_length = 4096,
        pattern = r"^/([^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+|\.)?(/([^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+|\.)?)*$"
    ))]
    pub file_path: String,
    /// Folder when left out.
    pub file_item_type: Option<RestoreFileItemType>,
    /// Include when left out.
    pub filter: Option<RestoreFilter>,
    /// Ignored: `FilePath` names the path.
    #[oai(nullable)]
    pub file_path_encoded: Option<String>,
    /// Ignored: filters are known by their path.
    #[oai(nullable)]
    pub file_id: Option<NumericId>,
}

/// A restore file filter.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupRestoreFile", rename_all = "PascalCase")]
pub struct RestoreFile {
    pub file_path: String,
    pub filter: RestoreFilter,
    pub restore_id: i64,
    pub file_item_type: RestoreFileItemType,
}

/// A restore.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupRestore", rename_all = "PascalCase")]
pub struct Restore {
    pub restore_id: i64,
    pub backup_id: i64,
    #[oai(nullable)]
    pub backup_machine_id: Option<i64>,
    pub backup_machine_name: String,
    pub backup_flavor: String,
    #[oai(nullable)]
    pub backup_configuration_id: Option<i64>,
    pub backup_configuration_name: String,
    /// When the backup completed.
    #[oai(nullable)]
    pub backup_restore_point: Option<String>,
    pub backup_data_center: String,
    pub destination_machine_id: i64,
    pub destination_machine_name: String,
    pub destination_path: String,
    pub overwrite_files: bool,
    /// The destination agent.
    pub machine_agent_id: i64,
    pub is_encrypted: bool,
    /// Always `null`.
    #[oai(nullable)]
    pub encrypted_password: Option<String>,
    pub public_key: EncryptionKey,
    pub restore_state_id: RestoreStateId,
    pub inclusions: Vec<RestoreFile>,
    pub exclusions: Vec<RestoreFile>,
}

/// The report of a restore.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupRestoreReport", rename_all = "PascalCase")]
pub struct RestoreReport {
    pub restore_id: i64,
    #[oai(nullable)]
    pub backup_configuration_id: Option<i64>,
    pub backup_configuration_name: String,
    /// The restored backup's id.
    pub backup_report_id: i64,
    #[oai(nullable)]
    pub restore_point: Option<String>,
    #[oai(nullable)]
    pub start_time: Option<String>,
    #[oai(nullable)]
    pub completed_time: Option<String>,
    pub duration: String,
    pub originating_computer_name: String,
    pub state: RestoreState,
    pub num_files_restored: String,
    pub num_bytes_restored: String,
    /// Files left as they were (they existed and `OverwriteFiles` was false).
    pub num_files_skipped: String,
    pub restore_destination: String,
    pub restore_destination_machine_id: i64,
    pub restore_destination_machine_name: String,
    pub num_errors: String,
    pub reason: String,
    pub diagnostics: String,
    pub error_list: Vec<ReportError>,
}
