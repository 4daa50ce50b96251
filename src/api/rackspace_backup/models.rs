//! The Cloud Backup v1.0 request and response bodies, named and cased as the seed and the API
//! reference write them (PascalCase). Answers carry ids as JSON integers and dates as
//! `"\/Date(ms)\/"` strings; requests may send ids and codes as numbers or numeric strings
//! ([`NumericId`]), as the SDK and the reference do. Unknown request keys are ignored: the SDK PUTs
//! back every field it read, read-only ones included.

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::api::common::lenient::Flag;

/// A whole number sent as a JSON number (`148325`) or as a numeric string (`"148325"`): the
/// reference's tables type ids as strings while its examples and the SDK send numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumericId(pub i64);

const NUMERIC_ID: &str = "CloudBackupNumericId";

impl Type for NumericId {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        NUMERIC_ID.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(NUMERIC_ID.into())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(NUMERIC_ID.into(), |_| MetaSchema {
            description: Some(
                "A whole number (an id, an hour, a code), sent as a JSON number (148325) or as a string of digits \
                 (\"148325\"): Cloud Backup's reference types these fields as strings and its examples send numbers. \
                 Answers always carry numbers.",
            ),
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("int64"), ..MetaSchema::new("integer") })),
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    pattern: Some("^\\s*-?[0-9]{1,18}\\s*$".into()),
                    ..MetaSchema::new("string")
                })),
            ],
            example: Some(148325.into()),
            ..MetaSchema::ANY
        })
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for NumericId {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Number(n) => n.as_i64().map(NumericId).ok_or_else(|| ParseError::custom(format!("expected a whole number, not {n}"))),
            Value::String(s) => {
                s.trim().parse().map(NumericId).map_err(|_| ParseError::custom(format!("expected a whole number, not '{s}'")))
            }
            other => Err(ParseError::custom(format!("expected a whole number, not {other}"))),
        }
    }
}

impl ToJSON for NumericId {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.into())
    }
}

/// A body read when the handler asks for it, documented as `T`. An operation on an object finds
/// the object first, so another tenant's is not found (404) whatever the body holds; a body that
/// is not a `T` is a 400 after that.
pub struct Later<T>(Result<T, String>);

impl<T> Later<T> {
    pub fn read(self) -> Result<T, crate::error::CoreError> {
        self.0.map_err(|e| crate::error::CoreError::BadRequest(format!("parse request payload error: {e}")))
    }
}

impl<T: Type> Type for Later<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry)
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Later<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let missing = missing_fields::<T>(value.as_ref());
        Ok(Later(T::parse_from_json(value).map_err(|e| match missing.as_slice() {
            [] => e.into_message(),
            names => format!("{} is required ({})", names.join(", "), e.into_message()),
        })))
    }
}

/// The required fields of `T`'s schema that `value` lacks (poem-openapi's own message names the
/// type, not the field).
fn missing_fields<T: Type>(value: Option<&Value>) -> Vec<&'static str> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let Some(schema) = registry.schemas.get(T::name().as_ref()) else { return Vec::new() };
    schema.required.iter().copied().filter(|k| value.and_then(|v| v.get(*k)).is_none_or(Value::is_null)).collect()
}

/// A closed set of integer codes: read from a number or a numeric string, written as a number,
/// documented as an integer enum.
macro_rules! int_codes {
    ($(#[$doc:meta])* $name:ident, $schema:literal, $description:literal, { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub fn code(self) -> i64 {
                match self {
                    $($name::$variant => $code),+
                }
            }

            pub fn from_code(code: i64) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $schema.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($schema.into())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>($schema.into(), |_| MetaSchema {
                    description: Some($description),
                    format: Some("int32"),
                    enum_items: vec![$(Value::from($code as i64)),+],
                    ..MetaSchema::new("integer")
                })
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let NumericId(code) = NumericId::parse_from_json(value).map_err(ParseError::propagate)?;
                $name::from_code(code).ok_or_else(|| ParseError::custom(format!("{code} is not one of: {}", $description)))
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(self.code().into())
            }
        }
    };
}

int_codes!(
    /// How long a configuration keeps the versions of changed and deleted files.
    VersionRetention, "CloudBackupVersionRetention", "0 (keep every version), 30 or 60 (days)",
    { Forever = 0, Days30 = 30, Days60 = 60 }
);

int_codes!(
    /// What happens to a scheduled run the agent missed.
    MissedBackupAction, "CloudBackupMissedBackupActionId",
    "1 (run it as soon as the agent can) or 2 (skip it and wait for the next scheduled time)",
    { RunSoon = 1, Skip = 2 }
);

int_codes!(
    /// A restore's state as a number.
    RestoreStateId, "CloudBackupRestoreStateId",
    "0 Creating (prepared, not started), 1 Queued, 2 InProgress, 3 Completed, 4 Stopped, 5 Failed, 6 StartRequested, \
     7 StopRequested, 8 CompletedWithErrors, 9 Preparing",
    {
        Creating = 0, Queued = 1, InProgress = 2, Completed = 3, Stopped = 4, Failed = 5, StartRequested = 6,
        StopRequested = 7, CompletedWithErrors = 8, Preparing = 9,
    }
);

int_codes!(
    /// Whether a restore file filter includes or leaves out its path.
    RestoreFilter, "CloudBackupRestoreFilter", "1 (include the path) or 2 (leave it out); also sent as \"1\" or \"2\"",
    { Include = 1, Exclude = 2 }
);

int_codes!(
    /// What a restore file filter names.
    RestoreFileItemType, "CloudBackupRestoreFileItemType",
    "0 (a file) or 1 (a folder); also sent as \"0\" or \"1\". Database items (2) are not supported",
    { File = 0, Folder = 1 }
);

impl RestoreStateId {
    /// The word for the state, as reports and activity rows write it.
    pub fn word(self) -> RestoreState {
        match self {
            RestoreStateId::Creating => RestoreState::Creating,
            RestoreStateId::Queued => RestoreState::Queued,
            RestoreStateId::InProgress => RestoreState::InProgress,
            RestoreStateId::Completed => RestoreState::Completed,
            RestoreStateId::Stopped => RestoreState::Stopped,
            RestoreStateId::Failed => RestoreState::Failed,
            RestoreStateId::StartRequested => RestoreState::StartRequested,
            RestoreStateId::StopRequested => RestoreState::StopRequested,
            RestoreStateId::CompletedWithErrors => RestoreState::CompletedWithErrors,
            RestoreStateId::Preparing => RestoreState::Preparing,
        }
    }
}

/// A backup's state, as the seed lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupCurrentState")]
pub enum CurrentState {
    /// Waiting again for its agent (a claim that lapsed is being retried).
    Queued,
    /// The agent is reading and storing files.
    InProgress,
    /// A scheduled run that could not start (the agent was busy or disabled).
    Skipped,
    /// A scheduled run that did not happen in time.
    Missed,
    /// Stopped on request.
    Stopped,
    /// Every selected file was backed up.
    Completed,
    /// No usable backup.
    Failed,
    /// The agent is scanning the selected folders.
    Preparing,
    /// Asked for by a client (StartManual); the agent has not taken it yet.
    StartRequested,
    /// Started by the configuration's schedule; the agent has not taken it yet.
    StartScheduled,
    /// A stop was asked for; the agent has not stopped yet.
    StopRequested,
    /// Restorable, but some files could not be read (they are in the report's ErrorList).
    CompletedWithErrors,
}

/// A restore's state as a word (beside its number, [`RestoreStateId`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupRestoreState")]
pub enum RestoreState {
    Creating,
    Queued,
    InProgress,
    Completed,
    Stopped,
    Failed,
    StartRequested,
    StopRequested,
    CompletedWithErrors,
    Preparing,
}

/// A key pair's public half. Coffer seals the store with a symmetric key of its own and has no
/// RSA pair: the modulus is empty and the exponent 0.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupEncryptionKey", rename_all = "PascalCase")]
pub struct EncryptionKey {
    /// The modulus, in hexadecimal.
    pub modulus_hex: String,
    /// The public exponent, a number as the seed writes it (`20010`).
    pub exponent_hex: i64,
}

impl EncryptionKey {
    /// The key of a vault with no key pair.
    pub fn none() -> Self {
        EncryptionKey { modulus_hex: String::new(), exponent_hex: 0 }
    }
}

/// Whether an agent has been heard from lately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupAgentStatus")]
pub enum AgentStatus {
    Online,
    Offline,
}

/// A machine's backup agent.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupAgent", rename_all = "PascalCase")]
pub struct Agent {
    pub agent_version: String,
    pub architecture: String,
    /// Always `RaxCloudServer`.
    pub flavor: String,
    /// What the agent's complete backups hold ("35.3 MB").
    pub backup_vault_size: String,
    pub backup_container: String,
    pub cleanup_allowed: bool,
    pub datacenter: String,
    #[oai(rename = "IPAddress")]
    pub ip_address: String,
    pub is_disabled: bool,
    pub is_encrypted: bool,
    pub machine_agent_id: i64,
    pub machine_name: String,
    pub operating_system: String,
    pub operating_system_version: String,
    pub public_key: EncryptionKey,
    pub status: AgentStatus,
    #[oai(nullable)]
    pub time_of_last_successful_backup: Option<String>,
    pub use_service_net: bool,
    /// The region its backups are kept in.
    pub backup_data_center: String,
    pub use_failover_uri: bool,
    /// The id of the server the agent runs on (a UUID).
    pub host_server_id: String,
    /// When the agent last called in (Coffer's addition).
    #[oai(nullable)]
    pub last_seen: Option<String>,
}

/// `POST /agent/enable`.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupEnableAgent", rename_all = "PascalCase")]
pub struct EnableAgent {
    pub machine_agent_id: NumericId,
    /// `true` to let the agent run backups, `false` to stop it starting any.
    pub enable: Option<Flag>,
    /// The same as `Enable`, as some clients spell it.
    pub enabled: Option<Flag>,
}

/// `POST /agent/delete`.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupAgentRef", rename_all = "PascalCase")]
pub struct AgentRef {
    pub machine_agent_id: NumericId,
}

/// `POST /agent/{agentId}`: an agent's settings; a field left out stays as it is.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupAgentSettings", rename_all = "PascalCase")]
pub struct AgentSettings {
    /// The region to keep its backups in (one of the server's regions).
    #[oai(nullable)]
    pub backup_data_center: Option<String>,
    /// Reach the store over the internal network.
    pub use_service_net: Option<Flag>,
}

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
    pub datacenter: String,
    pub backup_datacenter: String,
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
            datacenter: "DFW".into(),
            backup_datacenter: "DFW".into(),
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
    pub datacenter: String,
    pub backup_datacenter: String,
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
            datacenter: "DFW".into(),
            backup_datacenter: "DFW".into(),
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
    pub machine_name: String,
    pub datacenter: String,
    pub backup_datacenter: String,
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
    pub snapshot_id: i64,
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
            machine_name: "Database Server".into(),
            datacenter: "DFW".into(),
            backup_datacenter: "DFW".into(),
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
            snapshot_id: 92500,
        }
    }
}

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
    /// An absolute directory; each file lands under it with its path on the backed-up machine.
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
    /// An absolute path on the backed-up machine.
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
