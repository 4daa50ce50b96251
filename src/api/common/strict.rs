//! Request bodies read strictly: [`Strict<T>`] checks a body against `T`'s own OpenAPI schema
//! before `T` parses it, and refuses it with one message naming every field, at any depth, that
//! the schema does not have, lacks or holds a value of the wrong type (`'target.overwrite_all'`),
//! so that a setting put in the wrong place is an error instead of being silently dropped.

use std::{borrow::Cow, marker::PhantomData, ops::Deref};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    error::ParseRequestPayloadError,
    payload::{Json, ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::error::CoreError;

/// A JSON request body documented as `T` and read as `T` when the handler asks ([`StrictJson::read`]),
/// so a handler finds what its path names first: another tenant's object is 404 whatever the body.
/// Only JSON that does not parse at all is refused before the handler runs.
pub struct StrictJson<T> {
    value: Value,
    _type: PhantomData<fn() -> T>,
}

impl<T: ParseFromJSON> StrictJson<T> {
    /// The body as `T`, checked by [`Strict`]; a 400 naming every field that does not fit.
    pub fn read(self) -> Result<T, CoreError> {
        Strict::<T>::parse_from_json(Some(self.value))
            .map(Strict::into_inner)
            .map_err(|e| CoreError::BadRequest(format!("parse request payload error: {}", e.into_message())))
    }
}

impl<T: Type> Payload for StrictJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type> ParsePayload for StrictJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|e| ParseRequestPayloadError { reason: e.to_string() })?
        };
        Ok(StrictJson { value, _type: PhantomData })
    }
}

poem_openapi::impl_apirequest_for_payload!(StrictJson<T>, T: Type + ParseFromJSON);

/// A body of type `T` that was checked against `T`'s schema first. It documents itself as `T`.
#[derive(Debug)]
pub struct Strict<T>(pub T);

impl<T> Strict<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Strict<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Type for Strict<T> {
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
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Strict<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        let problems = problems::<T>(&value);
        if !problems.is_empty() {
            return Err(ParseError::custom(message::<T>(&problems)));
        }
        T::parse_from_json(Some(value)).map(Strict).map_err(|e| ParseError::custom(e.into_message()))
    }
}

impl<T: ToJSON> ToJSON for Strict<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

/// What is wrong with a body, each naming the field by its path (`options.throttle`, `nodes[0].name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    Unknown(String),
    Missing { path: String, about: Option<&'static str> },
    Invalid { path: String, expected: String, found: String },
}

/// Every problem of `value` as a body of type `T`; none when `T` would read all of it.
pub fn problems<T: Type>(value: &Value) -> Vec<Problem> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let mut found = Vec::new();
    Walk { registry: &registry, found: &mut found }.value(&T::schema_ref(), value, "");
    found
}

fn message<T: Type>(problems: &[Problem]) -> String {
    let quoted = |names: Vec<&str>| names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let unknown: Vec<&str> = problems.iter().filter_map(|p| if let Problem::Unknown(f) = p { Some(f.as_str()) } else { None }).collect();
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        let fields = if unknown.len() == 1 { "field" } else { "fields" };
        parts.push(format!("unknown {fields} in the {}: {}", T::name(), quoted(unknown)));
    }
    for problem in problems {
        match problem {
            Problem::Unknown(_) => {}
            Problem::Missing { path, about: Some(about) } => parts.push(format!("'{path}' is required ({})", lowered(about))),
            Problem::Missing { path, about: None } => parts.push(format!("'{path}' is required")),
            Problem::Invalid { path, expected, found } if path.is_empty() => {
                parts.push(format!("the body must be {expected} (a {}), not {found}", T::name()))
            }
            Problem::Invalid { path, expected, found } => parts.push(format!("'{path}' must be {expected}, not {found}")),
        }
    }
    let document = match T::name() {
        name if name.starts_with("Agent") => "/openapi/agent.json",
        _ => "/openapi/admin.json",
    };
    format!("{} (the bodies are described in {document})", parts.join("; "))
}

/// A description as a parenthesis: its first letter lowered, its full stop dropped.
fn lowered(about: &str) -> String {
    let about = about.trim().trim_end_matches('.');
    let mut chars = about.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

struct Walk<'a> {
    registry: &'a Registry,
    found: &'a mut Vec<Problem>,
}

/// A field's path below `at`.
fn below(at: &str, field: &str) -> String {
    if at.is_empty() { field.to_owned() } else { format!("{at}.{field}") }
}

fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}...", text.chars().take(60).collect::<String>()) } else { text }
}

/// The schema `schema` is or names.
fn resolve<'r>(registry: &'r Registry, schema: &'r MetaSchemaRef) -> Option<&'r MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(s) => Some(s),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name.trim_start_matches("#/components/schemas/")),
    }
}

impl Walk<'_> {
    fn invalid(&mut self, at: &str, expected: impl Into<String>, value: &Value) {
        self.found.push(Problem::Invalid { path: at.to_owned(), expected: expected.into(), found: shown(value) });
    }

    fn value(&mut self, schema: &MetaSchemaRef, value: &Value, at: &str) {
        self.checked(schema, value, at, None);
    }

    /// Checks `value` against `schema`; `tag` is a discriminator field the object may also hold.
    fn checked(&mut self, schema: &MetaSchemaRef, value: &Value, at: &str, tag: Option<&str>) {
        let Some(s) = resolve(self.registry, schema) else { return };
        if value.is_null() && s.nullable {
            return;
        }
        if let Some(discriminator) = &s.discriminator {
            let name = discriminator.property_name;
            let kinds: Vec<&str> = discriminator.mapping.iter().map(|(k, _)| k.as_str()).collect();
            let given = value.get(name).and_then(Value::as_str);
            match discriminator.mapping.iter().find(|(k, _)| Some(k.as_str()) == given) {
                Some((_, variant)) => {
                    let variant = MetaSchemaRef::Reference(variant.clone());
                    self.checked(&variant, value, at, Some(name));
                }
                None if !value.is_object() => self.invalid(at, "an object", value),
                None => self.invalid(&below(at, name), format!("one of {}", kinds.join(", ")), value.get(name).unwrap_or(&Value::Null)),
            }
            return;
        }
        let alternatives = if s.any_of.is_empty() { &s.one_of } else { &s.any_of };
        if !alternatives.is_empty() {
            let fits = alternatives.iter().any(|alt| {
                let mut found = Vec::new();
                Walk { registry: self.registry, found: &mut found }.checked(alt, value, at, tag);
                found.is_empty()
            });
            if !fits {
                self.invalid(at, s.description.unwrap_or("one of the forms the document lists"), value);
            }
            return;
        }
        if !s.all_of.is_empty() {
            let mut object = ObjectSchema::default();
            if self.gather(s, &mut object) {
                self.object(&object, value, at, tag);
            } else {
                for part in &s.all_of {
                    self.checked(part, value, at, tag);
                }
            }
            return;
        }
        match s.ty {
            "object" if s.title.is_some() || !s.properties.is_empty() => {
                let mut object = ObjectSchema::default();
                self.gather(s, &mut object);
                self.object(&object, value, at, tag);
            }
            "object" => match (value.as_object(), &s.additional_properties) {
                (Some(map), Some(values)) => {
                    for (k, v) in map {
                        self.value(values, v, &below(at, k));
                    }
                }
                (Some(_), None) => {}
                (None, _) => self.invalid(at, "an object", value),
            },
            "array" => match value.as_array() {
                Some(items) => {
                    if let Some(item) = &s.items {
                        for (i, v) in items.iter().enumerate() {
                            self.value(item, v, &format!("{at}[{i}]"));
                        }
                    }
                }
                None => self.invalid(at, "an array", value),
            },
            "string" => self.string(s, value, at),
            "integer" => {
                let unsigned = s.format.is_some_and(|f| f.starts_with("uint"));
                let fits = value.is_u64() || (value.is_i64() && !unsigned);
                if !fits {
                    self.invalid(at, if unsigned { "a whole number, 0 or more" } else { "a whole number" }, value);
                }
            }
            "number" if !value.is_number() => self.invalid(at, "a number", value),
            "boolean" if !value.is_boolean() => self.invalid(at, "true or false", value),
            _ => {}
        }
    }

    fn string(&mut self, s: &MetaSchema, value: &Value, at: &str) {
        let Some(text) = value.as_str() else {
            return self.invalid(at, "a string", value);
        };
        if !s.enum_items.is_empty() && !s.enum_items.iter().any(|e| e.as_str() == Some(text)) {
            let names: Vec<&str> = s.enum_items.iter().filter_map(Value::as_str).collect();
            return self.invalid(at, format!("one of {}", names.join(", ")), value);
        }
        match s.format {
            Some("uuid") if uuid::Uuid::parse_str(text).is_err() => self.invalid(at, "a UUID", value),
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                self.invalid(at, "an RFC 3339 moment such as 2026-12-03T10:00:00Z", value)
            }
            _ => {}
        }
    }

    /// Adds the properties of `s` and of the object schemas it is made of to `object`; false when
    /// a part is not an object schema (a nullable reference to something else).
    fn gather(&self, s: &MetaSchema, object: &mut ObjectSchema) -> bool {
        let mut all_objects = true;
        for part in &s.all_of {
            match resolve(self.registry, part) {
                Some(p) if p.ty == "object" && p.discriminator.is_none() && p.any_of.is_empty() && p.one_of.is_empty() => {
                    all_objects &= self.gather(p, object)
                }
                Some(p) if !p.all_of.is_empty() => all_objects &= self.gather(p, object),
                _ => all_objects = false,
            }
        }
        object.properties.extend(s.properties.iter().map(|(k, v)| (*k, v.clone())));
        object.required.extend(s.required.iter().copied());
        if let Some(extra) = &s.additional_properties {
            object.additional = Some((**extra).clone());
        }
        all_objects
    }

    fn object(&mut self, schema: &ObjectSchema, value: &Value, at: &str, tag: Option<&str>) {
        let Some(map) = value.as_object() else {
            return self.invalid(at, "an object", value);
        };
        for (key, v) in map {
            match schema.properties.iter().find(|(name, _)| name == key) {
                Some(_) if v.is_null() && !schema.required.contains(&key.as_str()) => {}
                Some((_, property)) => self.value(property, v, &below(at, key)),
                None if Some(key.as_str()) == tag => {}
                None => match &schema.additional {
                    Some(extra) => self.value(extra, v, &below(at, key)),
                    None => self.found.push(Problem::Unknown(below(at, key))),
                },
            }
        }
        for required in &schema.required {
            if map.get(*required).is_none_or(Value::is_null) {
                let about =
                    schema.properties.iter().find(|(name, _)| name == required).and_then(|(_, p)| resolve(self.registry, p)?.description);
                self.found.push(Problem::Missing { path: below(at, required), about });
            }
        }
    }
}

#[derive(Default)]
struct ObjectSchema {
    properties: Vec<(&'static str, MetaSchemaRef)>,
    required: Vec<&'static str>,
    additional: Option<MetaSchemaRef>,
}

/// Says in a document what [`Strict`] does: every object schema a request body reaches gets
/// `additionalProperties: false`. A discriminated variant (`allOf` of its tag and its object)
/// becomes one object first, since `additionalProperties` does not see through `allOf`.
pub fn close_request_bodies(doc: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(doc) else { return doc.to_owned() };
    let Some(Value::Object(schemas)) = doc.pointer("/components/schemas").cloned() else { return doc.to_string() };
    let mut flat = schemas.clone();
    for (name, schema) in &schemas {
        if let Some(merged) = merged_variant(schema, &schemas) {
            flat.insert(name.clone(), merged);
        }
    }
    let mut reached = std::collections::BTreeSet::new();
    let mut pending: Vec<String> = Vec::new();
    if let Some(Value::Object(paths)) = doc.get("paths") {
        for operation in paths.values().filter_map(Value::as_object).flat_map(|item| item.values()) {
            if let Some(body) = operation.get("requestBody") {
                references(body, &mut pending);
            }
        }
    }
    while let Some(name) = pending.pop() {
        if reached.insert(name.clone())
            && let Some(schema) = flat.get(&name)
        {
            references(schema, &mut pending);
        }
    }
    for name in &reached {
        if let Some(Value::Object(schema)) = flat.get_mut(name)
            && schema.get("type").and_then(Value::as_str) == Some("object")
            && schema.contains_key("properties")
            && !schema.contains_key("additionalProperties")
        {
            schema.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    doc["components"]["schemas"] = Value::Object(flat);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The schema names `value` refers to, at any depth.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.trim_start_matches("#/components/schemas/").to_owned());
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// A discriminated variant (`allOf: [{tag}, {$ref: object}]`) as one object schema.
fn merged_variant(schema: &Value, schemas: &serde_json::Map<String, Value>) -> Option<Value> {
    let [tag, Value::Object(reference)] = schema.get("allOf")?.as_array()?.as_slice() else { return None };
    let target = schemas.get(reference.get("$ref")?.as_str()?.trim_start_matches("#/components/schemas/"))?;
    if target.get("type")? != "object" || tag.get("type")? != "object" || target.get("allOf").is_some() {
        return None;
    }
    let mut merged = target.as_object()?.clone();
    let mut properties = tag.get("properties")?.as_object()?.clone();
    properties.extend(target.get("properties").and_then(Value::as_object).cloned().unwrap_or_default());
    let mut required: Vec<Value> = tag.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
    required.extend(target.get("required").and_then(Value::as_array).cloned().unwrap_or_default());
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert("required".into(), Value::Array(required));
    if let Some(description) = target.get("description").or_else(|| schema.get("description")) {
        merged.insert("description".into(), description.clone());
    }
    Some(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use poem_openapi::{Object, Union};
    use serde_json::json;

    use super::*;

    #[derive(Debug, Object)]
    #[oai(rename = "TestInner", deny_unknown_fields)]
    struct Inner {
        keep: Option<u32>,
        #[oai(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Object)]
    #[oai(rename = "TestPath")]
    struct PathTarget {
        path: String,
        #[oai(nullable)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Object)]
    #[oai(rename = "TestNothing")]
    struct Nothing {
        #[oai(default)]
        all: bool,
    }

    #[derive(Debug, Union)]
    #[oai(rename = "TestTarget", discriminator_name = "type")]
    enum Target {
        #[oai(mapping = "path")]
        Path(PathTarget),
        #[oai(mapping = "nothing")]
        Nothing(Nothing),
    }

    #[derive(Debug, Object)]
    #[oai(rename = "TestBody", deny_unknown_fields)]
    struct Body {
        id: uuid::Uuid,
        target: Target,
        #[oai(default)]
        items: Vec<Inner>,
        #[oai(default)]
        renames: BTreeMap<String, String>,
        free: Option<Value>,
    }

    fn problems_of(value: Value) -> Vec<Problem> {
        problems::<Body>(&value)
    }

    fn unknown(path: &str) -> Problem {
        Problem::Unknown(path.to_owned())
    }

    #[test]
    fn a_body_the_type_reads_whole_has_no_problem_and_parses() {
        let body = json!({
            "id": "0d6c2f6e-0f7a-4a57-b6a4-5e2b9d1c3e01",
            "target": { "type": "path", "path": "/x", "inner": { "keep": 3 } },
            "items": [{ "tags": ["a"] }],
            "renames": { "a": "b" },
            "free": { "anything": [1, 2] },
        });
        assert_eq!(problems_of(body.clone()), vec![]);
        assert!(Strict::<Body>::parse_from_json(Some(body)).is_ok());
        let nothing = json!({ "id": "0d6c2f6e-0f7a-4a57-b6a4-5e2b9d1c3e01", "target": { "type": "nothing", "inner": null } });
        assert_eq!(problems_of(nothing), vec![unknown("target.inner")], "a field of another variant is not this one's");
    }

    #[test]
    fn unknown_fields_are_named_by_their_path_at_every_depth() {
        let body = json!({
            "id": "0d6c2f6e-0f7a-4a57-b6a4-5e2b9d1c3e01",
            "colour": "red",
            "target": { "type": "path", "path": "/x", "overwrite": true, "inner": { "keep": 1, "kept": 2 } },
            "items": [{}, { "tag": "a" }],
        });
        assert_eq!(
            problems_of(body),
            vec![unknown("colour"), unknown("items[1].tag"), unknown("target.inner.kept"), unknown("target.overwrite")]
        );
    }

    #[test]
    fn missing_and_mistyped_fields_are_named_with_what_was_expected() {
        let body = json!({ "id": "not-a-uuid", "target": { "type": "path" }, "renames": { "a": 1 }, "items": [{ "keep": -1 }] });
        let found = problems_of(body);
        let expected = |path: &str, expected: &str, found: &str| Problem::Invalid {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
        };
        assert!(found.contains(&expected("id", "a UUID", "\"not-a-uuid\"")), "{found:?}");
        assert!(found.contains(&Problem::Missing { path: "target.path".into(), about: None }), "{found:?}");
        assert!(found.contains(&expected("renames.a", "a string", "1")), "{found:?}");
        assert!(found.contains(&expected("items[0].keep", "a whole number, 0 or more", "-1")), "{found:?}");
        let kinds = problems_of(json!({ "id": "0d6c2f6e-0f7a-4a57-b6a4-5e2b9d1c3e01", "target": { "type": "elsewhere" } }));
        assert_eq!(kinds, vec![expected("target.type", "one of path, nothing", "\"elsewhere\"")]);
    }

    #[test]
    fn the_message_names_every_problem_and_the_document() {
        let err = Strict::<Body>::parse_from_json(Some(json!({ "a": 1, "b": 2, "target": 3 }))).unwrap_err().into_message();
        assert!(err.contains("unknown fields in the TestBody: 'a', 'b'"), "{err}");
        assert!(err.contains("'target' must be an object, not 3"), "{err}");
        assert!(err.contains("'id' is required"), "{err}");
        assert!(err.contains("/openapi/admin.json"), "{err}");
    }

    #[test]
    fn a_document_closes_what_request_bodies_reach_and_merges_variants() {
        let doc = json!({
            "paths": { "/x": { "post": { "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Req" } } } } } } },
            "components": { "schemas": {
                "Req": { "type": "object", "properties": { "t": { "$ref": "#/components/schemas/T_P" } } },
                "T_P": { "allOf": [
                    { "type": "object", "required": ["type"], "properties": { "type": { "type": "string", "enum": ["p"] } } },
                    { "$ref": "#/components/schemas/P" }
                ] },
                "P": { "type": "object", "description": "p", "required": ["path"], "properties": { "path": { "type": "string" } } },
                "Answer": { "type": "object", "properties": { "x": { "type": "string" } } }
            } }
        });
        let closed: Value = serde_json::from_str(&close_request_bodies(&doc.to_string())).unwrap();
        let schemas = &closed["components"]["schemas"];
        assert_eq!(schemas["Req"]["additionalProperties"], false);
        assert_eq!(schemas["T_P"]["additionalProperties"], false);
        assert_eq!(schemas["T_P"]["required"], json!(["type", "path"]));
        assert!(schemas["T_P"]["properties"]["type"].is_object() && schemas["T_P"]["properties"]["path"].is_object());
        assert!(schemas["Answer"].get("additionalProperties").is_none());
    }
}
