//! Request values that real clients send in more than one form, each a type of its own with its
//! own schema, so a handler never walks JSON to find out what a client meant.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// A yes or no sent as `true`/`false`, `1`/`0` or their strings (`"true"`, `"1"`...): troveclient
/// sends `incremental` as an integer, OpsCenter scripts send flags as strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Type for Flag {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "Flag".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let integer = MetaSchema { enum_items: vec![0.into(), 1.into()], ..MetaSchema::new("integer") };
        // The strings read below: "true" or "false" in any case, "1", "0", or empty (false).
        let text = MetaSchema { pattern: Some("^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?$".into()), ..MetaSchema::new("string") };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("true or false, also written 1 or 0, or as a string (\"true\", \"False\", \"1\", \"0\"; empty is false)"),
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema::new("boolean"))),
                MetaSchemaRef::Inline(Box::new(integer)),
                MetaSchemaRef::Inline(Box::new(text)),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Flag {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Bool(b) => Ok(Flag(b)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Flag(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Flag(false)),
            Value::String(s) if matches!(s.to_ascii_lowercase().as_str(), "true" | "1") => Ok(Flag(true)),
            Value::String(s) if matches!(s.to_ascii_lowercase().as_str(), "false" | "0" | "") => Ok(Flag(false)),
            other => Err(ParseError::custom(format!("expected true or false (or 1 or 0), not {other}"))),
        }
    }
}

impl ToJSON for Flag {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Bool(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_reads_booleans_ones_and_zeros_and_their_strings_and_nothing_else() {
        let read = |v: Value| Flag::parse_from_json(Some(v)).map(|f| f.0).ok();
        let yes = [Value::Bool(true), 1.into(), "1".into(), "TRUE".into()];
        let no = [Value::Bool(false), 0.into(), "0".into(), "false".into()];
        assert!(yes.into_iter().all(|v| read(v) == Some(true)));
        assert!(no.into_iter().all(|v| read(v) == Some(false)));
        assert_eq!(read(2.into()), None);
        assert_eq!(read("maybe".into()), None);
    }
}
