//! Backup configurations: what an agent backs up, when, and how long versions are kept.

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use super::{EncryptionKey, MissedBackupAction, NumericId, Ranged, VersionRetention};
use crate::api::common::{
    forms::{Forms, constraining},
    lenient::Flag,
};

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
    /// An absolute path on the agent's machine, without a `..` component (and without NUL).
    #[oai(validator(
        pattern = r"^/([^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+|\.)?(/([^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+|\.)?)*$"
    ))]
    pub file_path: String,
    /// `Folder` when left out.
    pub file_item_type: Option<FileItemType>,
}

/// `POST /backup-configuration` and `PUT /backup-configuration/{id}`: what an agent backs up,
/// when, and how long versions are kept. A PUT may echo every field a GET answered; the read-only
/// ones (ids, names, dates, `IsDeleted`...) are ignored. A weekly configuration names its day.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupConfigurationRequest", rename_all = "PascalCase", example)]
pub struct ConfigurationRequest {
    /// 1 to 255 characters, not all blank, no control characters (line breaks, tabs...).
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    ))]
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
    pub start_time_hour: Option<Ranged<1, 12>>,
    /// 0-59 (Daily, Weekly).
    #[oai(nullable)]
    pub start_time_minute: Option<Ranged<0, 59>>,
    /// `AM` or `PM` (Daily, Weekly), in either case; empty or `null` otherwise.
    #[oai(nullable, validator(pattern = r"^[ \t\r\n]*([AaPp][Mm])?[ \t\r\n]*$"))]
    pub start_time_am_pm: Option<String>,
    /// 0 (Sunday) to 6 (Saturday); needed for Weekly.
    #[oai(nullable)]
    pub day_of_week_id: Option<Ranged<0, 6>>,
    /// Hours between runs, 1-24, for Hourly (1 when left out).
    #[oai(nullable)]
    pub hour_interval: Option<Ranged<1, 24>>,
    /// UTC when left out or empty.
    #[oai(nullable)]
    pub time_zone_id: Option<TimeZoneId>,
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

/// A configuration request whose schedule is whole: a weekly one names its day.
#[derive(Clone, Debug)]
pub struct Configured(pub ConfigurationRequest);

impl Forms for Configured {
    type Fields = ConfigurationRequest;

    /// Not weekly, or `DayOfWeekId` given.
    fn any_of() -> Vec<MetaSchema> {
        let not_weekly = MetaSchema {
            enum_items: vec!["Manually".into(), "Hourly".into(), "Daily".into(), Value::Null],
            nullable: true,
            ..MetaSchema::new("string")
        };
        let a_day = MetaSchema {
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema::new("integer"))),
                MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
            ],
            ..MetaSchema::ANY
        };
        vec![
            constraining(vec![("Frequency", not_weekly)]),
            MetaSchema { required: vec!["DayOfWeekId"], ..constraining(vec![("DayOfWeekId", a_day)]) },
        ]
    }

    fn read(fields: ConfigurationRequest) -> Result<Self, String> {
        if fields.frequency == Some(Frequency::Weekly) && fields.day_of_week_id.is_none() {
            return Err("a weekly configuration needs DayOfWeekId".into());
        }
        Ok(Configured(fields))
    }

    fn fields(&self) -> ConfigurationRequest {
        self.0.clone()
    }
}

/// Windows zone names the service uses, with the IANA zone each is.
pub const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("China Standard Time", "Asia/Shanghai"),
];

/// A time zone: one of the Windows names the service uses, an IANA name (`America/New_York`), or
/// empty for UTC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZoneId(pub String);

const TIME_ZONE_ID: &str = "CloudBackupTimeZoneId";

impl TimeZoneId {
    /// Every name accepted, Windows ones first.
    pub(super) fn names() -> impl Iterator<Item = &'static str> {
        std::iter::once("")
            .chain(WINDOWS_ZONES.iter().map(|(windows, _)| *windows))
            .chain(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).filter(|n| !WINDOWS_ZONES.iter().any(|(w, _)| w == n)))
    }

    /// The IANA zone the name is.
    pub fn iana(&self) -> &str {
        match self.0.as_str() {
            "" => "UTC",
            name => WINDOWS_ZONES.iter().find(|(windows, _)| *windows == name).map_or(name, |(_, iana)| *iana),
        }
    }
}

impl Type for TimeZoneId {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        TIME_ZONE_ID.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(TIME_ZONE_ID.into())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(TIME_ZONE_ID.into(), |_| MetaSchema {
            description: Some(
                "A Windows zone name the service uses (`Eastern Standard Time`) or an IANA one (`America/New_York`); empty is UTC.",
            ),
            enum_items: TimeZoneId::names().map(Value::from).collect(),
            example: Some("Eastern Standard Time".into()),
            ..MetaSchema::new("string")
        })
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for TimeZoneId {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(name) if TimeZoneId::names().any(|n| n == name) => Ok(TimeZoneId(name)),
            other => Err(ParseError::custom(format!(
                "unknown TimeZoneId {other}: a Windows name such as \"Eastern Standard Time\" or an IANA one such as \"America/New_York\""
            ))),
        }
    }
}

impl ToJSON for TimeZoneId {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
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
            start_time_hour: Some(Ranged(11)),
            start_time_minute: Some(Ranged(30)),
            start_time_am_pm: Some("PM".into()),
            day_of_week_id: Some(Ranged(4)),
            hour_interval: None,
            time_zone_id: Some(TimeZoneId("Eastern Standard Time".into())),
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
