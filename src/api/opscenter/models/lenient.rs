//! What OpsCenter scripts send in more than one form, each a type with a schema of its own:
//! flags as booleans, numbers or words (`"true"`, `"1"`, `"Delete Backup Data"`), numbers as
//! numeric strings (form bodies carry nothing else), lists as one comma-separated string, and
//! destinations as `{<id>: {...}}` or a list of ids. Request ids and the maps keyed by data
//! (`{<tag>: {...}}`, `{<node>: ...}`) are named components too, so every body has a model.

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON},
};
use serde_json::{Value, json};

use crate::api::opscenter::{flag, number, strings};

/// Implements `Type` for a type whose schema is the component `$name`, made by `$schema`.
macro_rules! component {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl poem_openapi::types::Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Reference($name.into())
            }

            fn register(registry: &mut poem_openapi::registry::Registry) {
                registry.create_schema::<Self, _>($name.into(), $schema);
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(std::iter::once(self))
            }
        }
    };
}
pub(crate) use component;

/// A map keyed by data (tags, ids, node names, keyspaces) as a named component.
macro_rules! map_of {
    ($name:ident, $oai:literal, $value:ty, $desc:literal, $example:expr) => {
        #[doc = $desc]
        #[derive(Clone, Debug, Default)]
        pub struct $name(pub std::collections::BTreeMap<String, $value>);

        $crate::api::opscenter::models::lenient::component!($name, $oai, |registry| {
            <$value as poem_openapi::types::Type>::register(registry);
            poem_openapi::registry::MetaSchema {
                description: Some($desc),
                additional_properties: Some(Box::new(<$value as poem_openapi::types::Type>::schema_ref())),
                example: Some($example),
                ..poem_openapi::registry::MetaSchema::new("object")
            }
        });

        impl poem_openapi::types::ToJSON for $name {
            fn to_json(&self) -> Option<serde_json::Value> {
                self.0.to_json()
            }
        }

        impl poem_openapi::types::ParseFromJSON for $name {
            fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
                std::collections::BTreeMap::parse_from_json(value).map(Self).map_err(poem_openapi::types::ParseError::propagate)
            }
        }

        impl FromIterator<(String, $value)> for $name {
            fn from_iter<I: IntoIterator<Item = (String, $value)>>(iter: I) -> Self {
                Self(iter.into_iter().collect())
            }
        }
    };
}
pub(crate) use map_of;

fn inline(schema: MetaSchema) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(schema))
}

/// A yes or no as OpsCenter scripts write it: `true`/`false`, a number (0 is no), or a string:
/// `""`, `false`, `0`, `no`, `off`, `none`, `null` (any case) are no, any other word is yes
/// (old scripts send `remove_destination=Delete Backup Data`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truthy(pub bool);

component!(Truthy, "OpsCenterFlag", |_| MetaSchema {
    description: Some(
        "A yes or no: a boolean, a number (0 is no) or a string (\"\", \"false\", \"0\", \"no\", \"off\" are no, other words yes), as form bodies and old scripts send it"
    ),
    any_of: vec![
        inline(MetaSchema::new("boolean")),
        inline(MetaSchema::new("number")),
        inline(MetaSchema { example: Some(json!("true")), ..MetaSchema::new("string") }),
    ],
    example: Some(json!(true)),
    ..MetaSchema::ANY
});

impl ParseFromJSON for Truthy {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(v @ (Value::Array(_) | Value::Object(_))) => Err(ParseError::custom(format!("expected true or false, not {v}"))),
            v => Ok(Truthy(flag(v.as_ref()))),
        }
    }
}

impl ParseFromParameter for Truthy {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Truthy(flag(Some(&Value::String(value.to_owned())))))
    }
}

impl ToJSON for Truthy {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Bool(self.0))
    }
}

/// A number, or a numeric string as forms send it; an empty string is no number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Numeric(pub Option<f64>);

component!(Numeric, "OpsCenterNumber", |_| MetaSchema {
    description: Some("A number, or the same number as a string (\"10\"), as form bodies send it; \"\" is no number"),
    any_of: vec![inline(MetaSchema::new("number")), inline(MetaSchema { example: Some(json!("10")), ..MetaSchema::new("string") })],
    example: Some(json!(10)),
    ..MetaSchema::ANY
});

impl ParseFromJSON for Numeric {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        number(value.as_ref(), "the value").map(Numeric).map_err(|e| ParseError::custom(e.to_string()))
    }
}

impl ToJSON for Numeric {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.map(Value::from).unwrap_or(Value::Null))
    }
}

/// The number an optional lenient field holds.
pub fn numeric(n: Option<Numeric>) -> Option<f64> {
    n.and_then(|n| n.0)
}

/// Names: a list of strings, or one string of comma-separated names (a form field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names(pub Vec<String>);

component!(Names, "OpsCenterNames", |_| MetaSchema {
    description: Some("Names: a list of strings, or one string of names separated by commas (as a form field carries them)"),
    any_of: vec![
        inline(MetaSchema { items: Some(Box::new(inline(MetaSchema::new("string")))), ..MetaSchema::new("array") }),
        inline(MetaSchema { example: Some(json!("Keyspace1,Keyspace2")), ..MetaSchema::new("string") }),
    ],
    example: Some(json!(["Keyspace1", "Keyspace2"])),
    ..MetaSchema::ANY
});

impl ParseFromJSON for Names {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        strings(value.as_ref(), "the list").map(Names).map_err(|e| ParseError::custom(e.to_string()))
    }
}

impl ToJSON for Names {
    fn to_json(&self) -> Option<Value> {
        Some(json!(self.0))
    }
}

/// The names an optional list holds.
pub fn names(n: Option<Names>) -> Vec<String> {
    n.map(|n| n.0).unwrap_or_default()
}

/// Destinations a backup or sync goes to: `{"<destination id>": {}}` as the seed writes it, or a
/// list of ids. The options inside each entry are not read for one-time backups and syncs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DestinationSet(pub Vec<String>);

component!(DestinationSet, "OpsCenterDestinationSet", |_| MetaSchema {
    description: Some(
        "Destinations by id: {\"<destination id>\": {}} as the seed writes it (the object of each is not read), or a list of ids; OPSC_ON_SERVER is the server itself"
    ),
    any_of: vec![
        inline(MetaSchema { additional_properties: Some(Box::new(inline(MetaSchema::new("object")))), ..MetaSchema::new("object") }),
        inline(MetaSchema { items: Some(Box::new(inline(MetaSchema::new("string")))), ..MetaSchema::new("array") }),
        inline(MetaSchema::new("string")),
    ],
    example: Some(json!({ "fe85800f3f4043a88fbe76fc45b22b19": {} })),
    ..MetaSchema::ANY
});

impl ParseFromJSON for DestinationSet {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Object(map)) => Ok(DestinationSet(map.keys().cloned().collect())),
            other => strings(other.as_ref(), "destinations").map(DestinationSet).map_err(|e| ParseError::custom(e.to_string())),
        }
    }
}

impl ToJSON for DestinationSet {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.0.iter().map(|id| (id.clone(), json!({}))).collect()))
    }
}

/// The id of an asynchronous request, answered as a bare JSON string; poll it at
/// `/request/{id}/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

component!(RequestId, "OpsCenterRequestId", |_| MetaSchema {
    description: Some("The id of the request, a bare JSON string; poll GET /request/{id}/status"),
    format: Some("uuid"),
    example: Some(json!("fee2232c-48ac-11e2-b1b9-e0b9a54a6d93")),
    ..MetaSchema::new("string")
});

impl RequestId {
    pub fn of(id: impl ToString) -> Self {
        RequestId(id.to_string())
    }
}

impl ToJSON for RequestId {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for RequestId {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        String::parse_from_json(value).map(RequestId).map_err(ParseError::propagate)
    }
}

/// The id of something made (a cluster, a job schedule), answered as a bare JSON string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewId(pub String);

component!(NewId, "OpsCenterNewId", |_| MetaSchema {
    description: Some("The new object's id, a bare JSON string"),
    example: Some(json!("Test_Cluster")),
    ..MetaSchema::new("string")
});

impl ToJSON for NewId {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for NewId {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        String::parse_from_json(value).map(NewId).map_err(ParseError::propagate)
    }
}
