//! Objects whose fields obey a rule together ("exactly one credential kind", "a name or an id"):
//! the rule is stated in the object's schema as `oneOf`/`anyOf` partial schemas (its forms), and
//! checked once when the body is read, so the handler gets a value that already obeys it.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// A checked value read from an object type (`Fields`, which names the schema).
pub trait Forms: Sized + Send + Sync {
    /// The object as sent.
    type Fields: Type + ParseFromJSON + ToJSON;

    /// Partial schemas exactly one of which the object matches.
    fn one_of() -> Vec<MetaSchema> {
        Vec::new()
    }

    /// Partial schemas at least one of which the object matches.
    fn any_of() -> Vec<MetaSchema> {
        Vec::new()
    }

    /// The checked value, or what breaks the rule.
    fn read(fields: Self::Fields) -> Result<Self, String>;

    /// The object as it would be sent (for examples).
    fn fields(&self) -> Self::Fields;
}

/// A body part read as [`Forms`]: documented as its `Fields` schema with the forms added.
#[derive(Clone, Debug)]
pub struct Formed<T>(pub T);

/// A partial schema requiring `fields`, each of the JSON type named beside it: `null` is a field
/// left out (every optional field is documented nullable), so it does not count as given.
pub fn given(fields: &[(&'static str, &'static str)]) -> MetaSchema {
    MetaSchema {
        required: fields.iter().map(|(name, _)| *name).collect(),
        ..constraining(fields.iter().map(|(name, ty)| (*name, MetaSchema::new(ty))).collect())
    }
}

/// A partial schema constraining `fields` (when they are given) to `schemas`.
pub fn constraining(fields: Vec<(&'static str, MetaSchema)>) -> MetaSchema {
    MetaSchema {
        properties: fields.into_iter().map(|(name, schema)| (name, MetaSchemaRef::Inline(Box::new(schema)))).collect(),
        ..MetaSchema::ANY
    }
}

impl<T: Forms> Type for Formed<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::Fields::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::Fields::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::Fields::register(registry);
        let inline = |forms: Vec<MetaSchema>| forms.into_iter().map(|f| MetaSchemaRef::Inline(Box::new(f))).collect::<Vec<_>>();
        if let Some(schema) = registry.schemas.get_mut(T::Fields::name().as_ref()) {
            schema.one_of = inline(T::one_of());
            schema.any_of = inline(T::any_of());
        }
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: Forms> ParseFromJSON for Formed<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let fields = T::Fields::parse_from_json(value).map_err(ParseError::propagate)?;
        T::read(fields).map(Formed).map_err(ParseError::custom)
    }
}

impl<T: Forms> ToJSON for Formed<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.fields().to_json()
    }
}
