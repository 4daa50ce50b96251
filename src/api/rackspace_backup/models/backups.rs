//! Backups: start and stop, state, completed ones, reports.

use poem_openapi::{Enum, Object, types::Example};

use super::{CurrentState, EncryptionKey, NumericId};

/// What an `action-requested` asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupAction")]
pub enum ActionKind {
    StartManual,
    StopManual,
}

/// `POST /backup/action-requested`: `StartManual` takes a configuration's id and answers the new
/// backup's id; `StopManual` takes a backup's id.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupBackupAction", rename_all = "PascalCase", example)]
pub struct BackupAction {
    pub action: ActionKind,
    /// `BackupConfigurationId` to start, `BackupId` to stop.
    pub id: NumericId,
}

impl Example for BackupAction {
    fn example() -> Self {
        BackupAction { action: ActionKind::StartManual, id: NumericId(148325) }
    }
}

/// A backup's state.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupBackupDetails", rename_all = "PascalCase", example)]
pub struct BackupDetails {
    pub backup_id: i64,
    /// `null` for a backup no configuration made.
    #[oai(nullable)]
    pub backup_configuration_id: Option<i64>,
    pub current_state: CurrentState,
    pub backup_configuration_name: String,
    #[oai(nullable)]
    pub machine_agent_id: Option<i64>,
    pub machine_name: String,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub datacenter: Option<String>,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub backup_datacenter: Option<String>,
    pub state_change_time: String,
    pub is_encrypted: bool,
    pub encryption_key: EncryptionKey,
}

impl Example for BackupDetails {
    fn example() -> Self {
        BackupDetails {
            backup_id: 134332,
            backup_configuration_id: Some(158519),
            current_state: CurrentState::Queued,
            backup_configuration_name: "Weekly Website Backup".into(),
            machine_agent_id: Some(224321),
            machine_name: "Web Server".into(),
            datacenter: Some("DFW".into()),
            backup_datacenter: Some("DFW".into()),
            state_change_time: "/Date(1358530097000)/".into(),
            is_encrypted: false,
            encryption_key: EncryptionKey {
                modulus_hex: "a3261939975948bb7a58dffe5ff54e65f0498f9175f5a09288810b8975871e99af3b5dd94057b0fc07535f5f97444504fa35169d461d0d30cf0192e307727c065168c788771c561a9400fb49175e9e6aa4e23fe11af69e9412dd23b0cb6684c4c2429bce139e848ab26d0829073351f4acd36074eafd036a5eb83359d2a698d5".into(),
                exponent_hex: 20010,
            },
        }
    }
}

/// A completed (restorable) backup of a configuration.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupCompletedBackup", rename_all = "PascalCase", example)]
pub struct CompletedBackup {
    pub backup_id: i64,
    #[oai(nullable)]
    pub backup_configuration_id: Option<i64>,
    pub backup_configuration_name: String,
    pub machine_name: String,
    #[oai(nullable)]
    pub machine_agent_id: Option<i64>,
    #[oai(nullable)]
    pub completed_time: Option<String>,
    /// Bytes the backup covers.
    pub bytes_searched: i64,
    /// Files it could not read.
    pub num_errors: i64,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub datacenter: Option<String>,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub backup_datacenter: Option<String>,
}

impl Example for CompletedBackup {
    fn example() -> Self {
        CompletedBackup {
            backup_id: 134386,
            backup_configuration_id: Some(158638),
            backup_configuration_name: "Weekly Website Backup".into(),
            machine_name: "Web Server".into(),
            machine_agent_id: Some(224505),
            completed_time: Some("/Date(1358535352000)/".into()),
            bytes_searched: 10245674584,
            num_errors: 0,
            datacenter: Some("DFW".into()),
            backup_datacenter: Some("DFW".into()),
        }
    }
}

/// A configuration with a backup to restore from.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupAvailableForRestore", rename_all = "PascalCase")]
pub struct AvailableForRestore {
    pub backup_configuration_id: i64,
    pub backup_configuration_name: String,
    pub machine_name: String,
    #[oai(nullable)]
    pub machine_agent_id: Option<i64>,
    pub is_encrypted: bool,
    /// Empty: Coffer has no RSA key pair.
    pub public_key_hex: String,
    /// Empty: Coffer has no RSA key pair.
    pub public_key_mod: String,
    pub flavor: String,
    pub last_successful_backup_time: String,
}

/// One thing a backup or restore could not do.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupReportError", rename_all = "PascalCase")]
pub struct ReportError {
    /// The report's id (the backup's).
    #[oai(rename = "BackupReportID")]
    pub backup_report_id: i64,
    pub list_index: i64,
    /// 101: the agent could not read or write a file.
    pub error_type: i64,
    /// What went wrong.
    pub error_desc: String,
    pub exception_desc: String,
    /// The error as the agent's operating system gave it.
    pub exception_details: String,
    /// The operating system's error number (13: permission denied), 0 when it gave none.
    pub exception_code: i64,
    /// The file, as the machine names it.
    pub path: String,
}

/// The report of a backup: what it searched and stored, how long it took, what went wrong.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupBackupReport", rename_all = "PascalCase", example)]
pub struct BackupReport {
    pub backup_id: i64,
    #[oai(nullable)]
    pub backup_configuration_id: Option<i64>,
    /// The configuration's name, kept after it is deleted.
    pub backup_configuration_name: String,
    /// Whether the configuration that made the backup has been deleted since.
    pub backup_configuration_is_deleted: bool,
    pub computer_name: String,
    #[oai(nullable)]
    pub machine_agent_id: Option<i64>,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub machine_name: Option<String>,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub datacenter: Option<String>,
    // Always answered; optional in the schema because the seed's example lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub backup_datacenter: Option<String>,
    pub state: CurrentState,
    pub can_restore: bool,
    /// When the agent started on it; `null` until one has.
    #[oai(nullable)]
    pub start_time: Option<String>,
    #[oai(nullable)]
    pub completed_time: Option<String>,
    /// `HH:MM:SS` from the agent's start (to now while it runs).
    pub duration: String,
    /// Files the selection covers.
    pub files_searched: String,
    /// Bytes the selection covers ("3.7 GB").
    pub bytes_searched: String,
    /// Files whose content this backup stored: a file the store already held (unchanged since an
    /// earlier backup, a copy of another file, an empty one) is searched, not backed up.
    pub files_backed_up: String,
    /// What the backup added to the store, compressed ("178.1 MB").
    pub bytes_backed_up: String,
    pub num_errors: i64,
    /// `Success`, or the state when the backup is not a clean success.
    pub reason: String,
    /// What happened, in a sentence.
    pub diagnostics: String,
    pub error_list: Vec<ReportError>,
    /// The backup's id again (the SDK reads it).
    #[oai(skip_serializing_if_is_none)]
    pub snapshot_id: Option<i64>,
}

impl Example for BackupReport {
    fn example() -> Self {
        let error = |index: i64, file: &str| ReportError {
            backup_report_id: 48785,
            list_index: index,
            error_type: 101,
            error_desc: "The agent experienced a problem. (Rax)".into(),
            exception_desc: format!(
                "Cannot open file \"{file}\". The process cannot access the file because it is being used by another process. ."
            ),
            exception_details: format!("1: [WindowsFs.cpp: 157-rax::WindowsFs::Open]Error Code(313): Cannot open file \"{file}\"."),
            exception_code: 313,
            path: file.into(),
        };
        BackupReport {
            backup_id: 92500,
            backup_configuration_id: Some(101145),
            backup_configuration_name: "Database Server Backup".into(),
            backup_configuration_is_deleted: false,
            computer_name: "Database Server".into(),
            machine_agent_id: Some(95874),
            machine_name: Some("Database Server".into()),
            datacenter: Some("DFW".into()),
            backup_datacenter: Some("DFW".into()),
            state: CurrentState::CompletedWithErrors,
            can_restore: true,
            start_time: Some("/Date(1351118760000)/".into()),
            completed_time: Some("/Date(1351119033000)/".into()),
            duration: "00:04:33".into(),
            files_searched: "11936".into(),
            bytes_searched: "3.7 GB".into(),
            files_backed_up: "6".into(),
            bytes_backed_up: "178.1 MB".into(),
            num_errors: 2,
            reason: "Success".into(),
            diagnostics: "Completed With Errors".into(),
            error_list: vec![
                error(3210, "C:\\Program Files\\Microsoft SQL Server\\MSSQL10_50.MSSQLSERVER\\MSSQL\\DATA\\tempdb.mdf"),
                error(3211, "C:\\Program Files\\Microsoft SQL Server\\MSSQL10_50.MSSQLSERVER\\MSSQL\\DATA\\templog.ldf"),
            ],
            snapshot_id: Some(92500),
        }
    }
}
