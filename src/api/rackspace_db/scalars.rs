//! Single values of the Cloud Databases bodies whose schema says more than "a string" or "an
//! integer": names with their limits, datastore names, flavor references in the forms clients
//! send them, and the automated flag the seed writes both as `0` and as `false`. Each reads a
//! request value once, with the refusal naming what is wrong.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::{domain::check_name, sources::database::DatastoreKind};

/// Implements poem-openapi's `Type` for a scalar wrapper: its schema name and inline schema.
macro_rules! scalar {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

/// Characters a name may hold, as a JSON Schema pattern: at least one that is not a space, none
/// a control character.
const NAME_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// A backup's short name: 1 to 64 characters, not only spaces, no control characters.
#[derive(Debug, Clone)]
pub struct BackupName(pub String);

scalar!(
    BackupName,
    "CloudDbBackupName",
    MetaSchema {
        description: Some("The backup's short name: 1 to 64 characters, not only spaces, no control characters."),
        max_length: Some(64),
        pattern: Some(NAME_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

impl ParseFromJSON for BackupName {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) if s.chars().count() > 64 => Err(ParseError::custom("Backup name must be at most 64 characters")),
            Some(Value::String(s)) => check_name("a backup name", &s).map(|()| BackupName(s)).map_err(ParseError::custom),
            _ => Err(ParseError::custom("the backup's name must be a string")),
        }
    }
}

impl ToJSON for BackupName {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// An instance's name: 1 to 255 characters, not only spaces, no control characters.
#[derive(Debug, Clone)]
pub struct InstanceName(pub String);

scalar!(
    InstanceName,
    "CloudDbInstanceName",
    MetaSchema {
        description: Some("The instance's name: 1 to 255 characters, not only spaces, no control characters."),
        max_length: Some(255),
        pattern: Some(NAME_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

impl ParseFromJSON for InstanceName {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => check_name("an instance's name", &s).map(|()| InstanceName(s)).map_err(ParseError::custom),
            _ => Err(ParseError::custom("an instance needs a name (a string)")),
        }
    }
}

impl ToJSON for InstanceName {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A datastore's type as clients name it: read in any case, `sqlite3`, `postgres` and `mariadb`
/// being other names of the three.
#[derive(Debug, Clone)]
pub struct DatastoreType(pub String);

scalar!(
    DatastoreType,
    "CloudDbDatastoreType",
    MetaSchema {
        description: Some("The datastore: sqlite, postgresql or mysql (also sqlite3, postgres, mariadb; any case)."),
        enum_items: ["sqlite", "sqlite3", "postgresql", "postgres", "mysql", "mariadb"].map(Value::from).to_vec(),
        ..MetaSchema::new("string")
    }
);

impl ParseFromJSON for DatastoreType {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) if s.parse::<DatastoreKind>().is_ok() => Ok(DatastoreType(s)),
            Some(other) => Err(ParseError::custom(format!("unknown datastore type {other} (expected sqlite, postgresql or mysql)"))),
            None => Err(ParseError::custom("a datastore type is needed")),
        }
    }
}

impl ToJSON for DatastoreType {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A flavor as clients name it: a number (troveclient), a numeric string, or an href ending in
/// `/flavors/{id}` (pyrax).
#[derive(Debug, Clone)]
pub enum FlavorRef {
    Number(u32),
    Text(String),
}

scalar!(
    FlavorRef,
    "CloudDbFlavorRef",
    MetaSchema {
        description: Some("A flavor id (a number or a numeric string) or a flavor's href."),
        any_of: vec![
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                minimum: Some(0.0),
                maximum: Some(f64::from(u32::MAX)),
                ..MetaSchema::new("integer")
            })),
            MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
        ],
        ..MetaSchema::ANY
    }
);

impl FlavorRef {
    /// The flavor id it names.
    pub fn id(&self) -> Option<String> {
        match self {
            FlavorRef::Number(n) => Some(n.to_string()),
            FlavorRef::Text(s) => s.rsplit('/').next().map(str::to_owned).filter(|s| !s.is_empty()),
        }
    }
}

impl ParseFromJSON for FlavorRef {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(FlavorRef::Number)
                .ok_or_else(|| ParseError::custom(format!("flavorRef {n} is not a flavor id"))),
            Some(Value::String(s)) => Ok(FlavorRef::Text(s)),
            other => Err(ParseError::custom(format!("flavorRef must be a flavor id or href, not {}", other.unwrap_or_default()))),
        }
    }
}

impl ToJSON for FlavorRef {
    fn to_json(&self) -> Option<Value> {
        Some(match self {
            FlavorRef::Number(n) => Value::from(*n),
            FlavorRef::Text(s) => Value::from(s.as_str()),
        })
    }
}

/// Whether a schedule made a backup: answered `0` or `1`, as Trove does; the seed also shows
/// `false`, so the schema takes either.
#[derive(Clone, Copy, Debug)]
pub struct Automated(pub bool);

scalar!(
    Automated,
    "CloudDbAutomated",
    MetaSchema {
        description: Some("1 when a schedule made the backup, else 0 (the seed also writes false)."),
        any_of: vec![
            MetaSchemaRef::Inline(Box::new(MetaSchema { enum_items: vec![0.into(), 1.into()], ..MetaSchema::new("integer") })),
            MetaSchemaRef::Inline(Box::new(MetaSchema::new("boolean"))),
        ],
        ..MetaSchema::ANY
    }
);

impl ParseFromJSON for Automated {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Bool(b)) => Ok(Automated(b)),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => Ok(Automated(n.as_u64() == Some(1))),
            other => Err(ParseError::custom(format!("expected 0, 1, true or false, not {}", other.unwrap_or_default()))),
        }
    }
}

impl ToJSON for Automated {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(i32::from(self.0)))
    }
}
