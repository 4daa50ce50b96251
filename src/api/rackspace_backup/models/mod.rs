//! The Cloud Backup v1.0 request and response bodies, named and cased as the seed and the API
//! reference write them (PascalCase). Answers carry ids as JSON integers and dates as
//! `"\/Date(ms)\/"` strings; requests may send ids and codes as numbers or numeric strings
//! ([`NumericId`]), as the SDK and the reference do. Unknown request keys are ignored: the SDK PUTs
//! back every field it read, read-only ones included.

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;

mod activity;
mod agents;
mod backups;
mod configurations;
mod restores;

pub use activity::*;
pub use agents::*;
pub use backups::*;
pub use configurations::*;
pub use restores::*;

/// The blanks a number sent as a string may have around it.
const BLANKS: [char; 4] = [' ', '\t', '\r', '\n'];

/// A whole number sent as a JSON number (`148325`) or as a numeric string (`"148325"`): the
/// reference's tables type ids as strings while its examples and the SDK send numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumericId(pub i64);

const NUMERIC_ID: &str = "CloudBackupNumericId";

/// Digits of a number sent as a string: blanks around them, `-` when `negative` may be.
fn digits_of(text: &str, negative: bool) -> Option<(bool, &str)> {
    let text = text.trim_matches(BLANKS);
    let (minus, digits) = match text.strip_prefix('-') {
        Some(rest) if negative => (true, rest),
        _ => (false, text),
    };
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some((minus, digits))
}

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
                "A whole number (an id), sent as a JSON number (148325) or as a string of at most 18 digits \
                 (\"148325\"): Cloud Backup's reference types these fields as strings and its examples send numbers. \
                 Answers always carry numbers.",
            ),
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("int64"), ..MetaSchema::new("integer") })),
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    pattern: Some("^[ \\t\\r\\n]*-?[0-9]{1,18}[ \\t\\r\\n]*$".into()),
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
            Value::String(s) => match digits_of(&s, true) {
                Some((minus, digits)) if digits.len() <= 18 => {
                    let n: i64 = digits.parse().map_err(|_| ParseError::custom(format!("expected a whole number, not '{s}'")))?;
                    Ok(NumericId(if minus { -n } else { n }))
                }
                _ => Err(ParseError::custom(format!("expected a whole number (at most 18 digits), not '{s}'"))),
            },
            other => Err(ParseError::custom(format!("expected a whole number, not {other}"))),
        }
    }
}

impl ToJSON for NumericId {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.into())
    }
}

/// A whole number from `MIN` to `MAX` (an hour, a minute, a day of the week), sent as a number
/// or as a string of digits (leading zeros allowed: `"05"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranged<const MIN: u8, const MAX: u8>(pub i64);

impl<const MIN: u8, const MAX: u8> Type for Ranged<MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("CloudBackupNumber{MIN}To{MAX}").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| {
            let values: Vec<String> = (MIN..=MAX).map(|n| n.to_string()).collect();
            MetaSchema {
                description: Some("A whole number in the range given, sent as a number or as a string of digits (\"05\")."),
                any_of: vec![
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        minimum: Some(f64::from(MIN)),
                        maximum: Some(f64::from(MAX)),
                        ..MetaSchema::new("integer")
                    })),
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        pattern: Some(format!("^[ \\t\\r\\n]*0*({})[ \\t\\r\\n]*$", values.join("|"))),
                        ..MetaSchema::new("string")
                    })),
                ],
                ..MetaSchema::ANY
            }
        })
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<const MIN: u8, const MAX: u8> ParseFromJSON for Ranged<MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let wrong = |v: &dyn std::fmt::Display| ParseError::custom(format!("expected a whole number from {MIN} to {MAX}, not {v}"));
        let n = match value.unwrap_or_default() {
            Value::Number(n) => n.as_i64().ok_or_else(|| wrong(&n))?,
            Value::String(s) => {
                let (_, digits) = digits_of(&s, false).ok_or_else(|| wrong(&format!("'{s}'")))?;
                let significant = digits.trim_start_matches('0');
                if significant.len() > 3 {
                    return Err(wrong(&format!("'{s}'")));
                }
                significant.parse().unwrap_or(0)
            }
            other => return Err(wrong(&other)),
        };
        if (i64::from(MIN)..=i64::from(MAX)).contains(&n) { Ok(Ranged(n)) } else { Err(wrong(&n)) }
    }
}

impl<const MIN: u8, const MAX: u8> ToJSON for Ranged<MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.into())
    }
}

/// An integer id in a path (`/backup/{backupId}`): every id Coffer gives is an integer. Text
/// that is not one names nothing, so it is not found (404) rather than refused. (`{agent_id}`
/// stays documented as text: scripts/schemathesis.sh fixes it to the demo's agent, and
/// schemathesis sends a fixed value even in the cases it means to break an integer's bounds.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathId(pub String);

impl Type for PathId {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "CloudBackupPathId".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("integer", "int64")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromParameter for PathId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(PathId(value.to_owned()))
    }
}

impl std::ops::Deref for PathId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
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
        int_codes!($(#[$doc])* $name, $schema, $description, strings: true, { $($variant = $code),+ });
    };
    ($(#[$doc:meta])* $name:ident, $schema:literal, $description:literal, strings: $strings:literal, { $($variant:ident = $code:literal),+ $(,)? }) => {
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
                registry.create_schema::<Self, _>($schema.into(), |_| {
                    let numbers = MetaSchema {
                        description: Some($description),
                        format: Some("int32"),
                        enum_items: vec![$(Value::from($code as i64)),+],
                        ..MetaSchema::new("integer")
                    };
                    if !$strings {
                        return numbers;
                    }
                    let strings = MetaSchema { enum_items: vec![$(Value::from(stringify!($code))),+], ..MetaSchema::new("string") };
                    MetaSchema {
                        description: Some($description),
                        any_of: vec![
                            MetaSchemaRef::Inline(Box::new(MetaSchema { description: None, ..numbers })),
                            MetaSchemaRef::Inline(Box::new(strings)),
                        ],
                        ..MetaSchema::ANY
                    }
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
                let value = value.unwrap_or_default();
                let code = match &value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) if $strings => [$(($code, stringify!($code))),+].iter().find(|(_, text)| text == s).map(|(code, _)| *code),
                    _ => None,
                };
                code.and_then($name::from_code).ok_or_else(|| ParseError::custom(format!("{value} is not one of: {}", $description)))
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
    "1 (run it as soon as the agent can: what Coffer does); 2 (skip it and wait for the next scheduled time) is not supported",
    { RunSoon = 1 }
);

int_codes!(
    /// A restore's state as a number.
    RestoreStateId, "CloudBackupRestoreStateId",
    "0 Creating (prepared, not started), 1 Queued, 2 InProgress, 3 Completed, 4 Stopped, 5 Failed, 6 StartRequested, \
     7 StopRequested, 8 CompletedWithErrors, 9 Preparing",
    strings: false,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_configuration_name_passes_the_schema_exactly_when_the_engine_takes_it() {
        let samples = [
            "site",
            "Weekly Website Backup",
            "é",
            " padded ",
            "\u{3000}x",
            "a\u{00a0}b",
            "",
            " ",
            "\u{3000}",
            "\u{2028}",
            "\u{feff}",
            "a\tb",
            "a\nb",
            "a\u{7f}",
            "a\u{85}b",
            "\u{1c}x",
            "\u{200b}",
        ];
        let long = ["é".repeat(255), "é".repeat(256), "x".repeat(255) + " "];
        for name in samples.iter().map(|s| s.to_string()).chain(long) {
            let body = json!({ "BackupConfigurationName": name, "MachineAgentId": 1 });
            let schema = ConfigurationRequest::parse_from_json(Some(body)).is_ok();
            let engine = crate::domain::check_name("a plan name", &name).is_ok();
            assert_eq!(schema, engine, "{name:?}");
        }
    }

    #[test]
    fn a_path_passes_the_schema_exactly_when_it_is_absolute_without_parent_components() {
        let plain = |p: &str| {
            let path = std::path::Path::new(p);
            path.is_absolute() && !path.components().any(|c| c == std::path::Component::ParentDir) && !p.contains('\0')
        };
        let samples = [
            "/", "/srv", "/srv/", "//srv", "/srv/./a", "/.", "/..", "/../x", "/x/..", "/x/../y", "/x/...", "/x/..y", "/x/.y", "/x/ ..",
            "/x/.. ", "relative", "", "./x", "/a\0b", "/a/b c", "/é/ü",
        ];
        for p in samples {
            let schema = PathRequest::parse_from_json(Some(json!({ "FilePath": p }))).is_ok();
            assert_eq!(schema, plain(p), "{p:?}");
        }
    }

    #[test]
    fn numbers_sent_as_strings_read_as_their_patterns_say() {
        let hour = |v: Value| Ranged::<1, 12>::parse_from_json(Some(v)).ok().map(|r| r.0);
        assert_eq!(
            [hour("07".into()), hour(" 12\n".into()), hour(12.into()), hour("0012".into())],
            [Some(7), Some(12), Some(12), Some(12)]
        );
        assert!(
            [hour("13".into()), hour("0".into()), hour("+1".into()), hour("".into()), hour("1 2".into()), hour(1.5.into())]
                .iter()
                .all(Option::is_none)
        );
        let id = |v: &str| NumericId::parse_from_json(Some(Value::from(v))).ok().map(|n| n.0);
        assert_eq!(
            [id(" -12 "), id("000000000000000001"), id("+1"), id("1234567890123456789"), id("\u{a0}1")],
            [Some(-12), Some(1), None, None, None]
        );
        let retention = |v: Value| VersionRetention::parse_from_json(Some(v)).ok();
        assert_eq!(
            [retention(30.into()), retention("60".into()), retention(" 30".into())],
            [Some(VersionRetention::Days30), Some(VersionRetention::Days60), None]
        );
    }

    #[test]
    fn every_time_zone_name_offered_is_one_the_schedule_reads() {
        for name in TimeZoneId::names() {
            let iana = TimeZoneId(name.to_owned()).iana().to_owned();
            assert!(iana.parse::<chrono_tz::Tz>().is_ok(), "{name:?} is {iana:?}");
        }
        assert!(TimeZoneId::parse_from_json(Some("eastern standard time".into())).is_err(), "names are matched exactly");
    }
}
