//! Backup configurations: what an agent backs up, when, and how long versions are kept.

use poem_openapi::{Enum, Object, types::Example};

use super::{EncryptionKey, MissedBackupAction, NumericId, VersionRetention};
use crate::api::common::lenient::Flag;

/// How often a configuration runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupFrequency")]
pub enum Frequency {
    /// Only when started (StartManual).
    Manually,
    /// Every `HourInterval` hours.
    Hourly,
    /// Every day at `StartTimeHour`:`StartTimeMinute` `StartTimeAmPm`.
    Daily,
    /// Every week on `DayOfWeekId` at the start time.
    Weekly,
}

/// Whether a configuration path is a file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupFileItemType")]
pub enum FileItemType {
    File,
    Folder,
}

/// Whether a configuration path is backed up or left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupFilter")]
pub enum Filter {
    Include,
    Exclude,
}

/// A path a configuration request includes or leaves out.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupPath", rename_all = "PascalCase")]
pub struct PathRequest {
    /// An absolute path on the agent's machine.
    pub file_path: String,
    /// `Folder` when left out.
    pub file_item_type: Option<FileItemType>,
}

/// `POST /backup-configuration` and `PUT /backup-configuration/{id}`: what an agent backs up,
/// when, and how long versions are kept. A PUT may echo every field a GET answered; the read-only
/// ones (ids, names, dates, `IsDeleted`...) are ignored.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupConfigurationRequest", rename_all = "PascalCase", example)]
pub struct ConfigurationRequest {
    /// At most 255 characters.
    pub backup_configuration_name: String,
    pub machine_agent_id: NumericId,
    /// Whether the schedule runs (a manual configuration never runs by itself).
    pub is_active: Option<Flag>,
    /// 30 when left out.
    pub version_retention: Option<VersionRetention>,
    /// 1 when left out.
    #[oai(nullable)]
    pub missed_backup_action_id: Option<MissedBackupAction>,
    /// `Manually` when left out.
    #[oai(nullable)]
    pub frequency: Option<Frequency>,
    /// 1-12 (Daily, Weekly).
    #[oai(nullable)]
    pub start_time_hour: Option<NumericId>,
    /// 0-59 (Daily, Weekly).
    #[oai(nullable)]
    pub start_time_minute: Option<NumericId>,
    /// `AM` or `PM` (Daily, Weekly); empty or `null` otherwise.
    #[oai(nullable)]
    pub start_time_am_pm: Option<String>,
    /// 0 (Sunday) to 6 (Saturday), for Weekly.
    #[oai(nullable)]
    pub day_of_week_id: Option<NumericId>,
    /// Hours between runs, for Hourly (1 when left out).
    #[oai(nullable)]
    pub hour_interval: Option<NumericId>,
    /// A Windows zone name (`Eastern Standard Time`) or an IANA one (`America/New_York`); UTC when left out.
    #[oai(nullable)]
    pub time_zone_id: Option<String>,
    /// Kept and shown; Coffer sends no mail.
    #[oai(nullable)]
    pub notify_recipients: Option<String>,
    /// Kept and shown; Coffer sends no mail.
    pub notify_success: Option<Flag>,
    /// Kept and shown; Coffer sends no mail.
    pub notify_failure: Option<Flag>,
    /// Kept and shown; Coffer runs no scripts on agents.
    #[oai(nullable)]
    pub backup_prescript: Option<String>,
    /// Kept and shown; Coffer runs no scripts on agents.
    #[oai(nullable)]
    pub backup_postscript: Option<String>,
    #[oai(nullable)]
    pub inclusions: Option<Vec<PathRequest>>,
    #[oai(nullable)]
    pub exclusions: Option<Vec<PathRequest>>,
}

impl Example for ConfigurationRequest {
    fn example() -> Self {
        ConfigurationRequest {
            backup_configuration_name: "Weekly Website Backup".into(),
            machine_agent_id: NumericId(224321),
            is_active: Some(Flag(true)),
            version_retention: Some(VersionRetention::Days30),
            missed_backup_action_id: Some(MissedBackupAction::RunSoon),
            frequency: Some(Frequency::Weekly),
            start_time_hour: Some(NumericId(11)),
            start_time_minute: Some(NumericId(30)),
            start_time_am_pm: Some("PM".into()),
            day_of_week_id: Some(NumericId(4)),
            hour_interval: None,
            time_zone_id: Some("Eastern Standard Time".into()),
            notify_recipients: Some("admin@example.com".into()),
            notify_success: Some(Flag(false)),
            notify_failure: Some(Flag(true)),
            backup_prescript: None,
            backup_postscript: None,
            inclusions: Some(vec![PathRequest { file_path: "/var/www".into(), file_item_type: Some(FileItemType::Folder) }]),
            exclusions: Some(vec![PathRequest { file_path: "/var/www/cache".into(), file_item_type: Some(FileItemType::Folder) }]),
        }
    }
}

/// A path of a configuration.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupConfigurationPath", rename_all = "PascalCase")]
pub struct ConfigurationPath {
    /// Unique within the configuration.
    pub file_id: i64,
    pub file_item_type: FileItemType,
    pub file_path: String,
    /// Always `null`.
    #[oai(nullable)]
    pub file_path_encoded: Option<String>,
    pub filter: Filter,
    /// The configuration's id.
    pub parent_id: i64,
}

/// A backup configuration.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupConfiguration", rename_all = "PascalCase")]
pub struct Configuration {
    pub backup_configuration_id: i64,
    /// `null` once the machine's agent is gone.
    #[oai(nullable)]
    pub machine_agent_id: Option<i64>,
    pub machine_name: String,
    pub datacenter: String,
    pub flavor: String,
    pub is_encrypted: bool,
    pub encryption_key: EncryptionKey,
    pub backup_configuration_name: String,
    pub is_active: bool,
    pub is_deleted: bool,
    pub version_retention: VersionRetention,
    pub backup_configuration_schedule_id: i64,
    pub missed_backup_action_id: MissedBackupAction,
    pub frequency: Frequency,
    #[oai(nullable)]
    pub start_time_hour: Option<i64>,
    #[oai(nullable)]
    pub start_time_minute: Option<i64>,
    /// `AM`, `PM`, or empty.
    pub start_time_am_pm: String,
    #[oai(nullable)]
    pub day_of_week_id: Option<i64>,
    #[oai(nullable)]
    pub hour_interval: Option<i64>,
    pub time_zone_id: String,
    /// `/Date(-62135578800000)/` (never) for a manual or inactive configuration.
    pub next_scheduled_run_time: String,
    #[oai(nullable)]
    pub last_run_time: Option<String>,
    /// The newest backup of the configuration (its report's id).
    #[oai(nullable)]
    pub last_run_backup_report_id: Option<i64>,
    pub notify_recipients: String,
    pub notify_success: bool,
    pub notify_failure: bool,
    pub backup_prescript: String,
    pub backup_postscript: String,
    pub inclusions: Vec<ConfigurationPath>,
    pub exclusions: Vec<ConfigurationPath>,
}

/// `POST /backup-configuration/enable/{id}`.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupEnableConfiguration", rename_all = "PascalCase")]
pub struct EnableConfiguration {
    /// `true` to run the schedule, `false` to stop it.
    pub enable: Option<Flag>,
    /// The same as `Enable`, as the SDK spells it.
    pub enabled: Option<Flag>,
}
