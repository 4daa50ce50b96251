//! OpenAPI documents: one per dialect, a merged one at `/openapi.json`, and the Swagger UI page
//! at `/docs` with a selector between them.

use serde_json::{Map, Value};

use super::statuses::ErrorDialect;

/// Completes a generated document: every operation documents the errors it may answer (see
/// [`super::statuses`]), and a body documented as any JSON value is an object (every such handler
/// reads named fields).
pub fn complete(doc: &str, dialect: ErrorDialect) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(doc) else { return doc.to_owned() };
    let doc_schemas = doc.pointer("/components/schemas").cloned().unwrap_or_default();
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
            let Some(operation) = operation.as_object_mut() else { continue };
            // OpsCenter reads an empty body as `{}` (its scripts post without one): a body none
            // of whose fields is required may be left out.
            if dialect == ErrorDialect::OpsCenter {
                let schemas = doc_schemas.clone();
                if let Some(body) = operation.get_mut("requestBody").and_then(Value::as_object_mut)
                    && body
                        .get("content")
                        .and_then(Value::as_object)
                        .is_some_and(|media| media.values().filter_map(|m| m.get("schema")).all(|s| !requires_fields(s, &schemas)))
                {
                    body.insert("required".into(), Value::Bool(false));
                }
            }
            if let Some(Value::Object(content)) = operation.get_mut("requestBody").and_then(|b| b.get_mut("content")) {
                for media in content.values_mut() {
                    if media.get("schema").is_some_and(|s| s.as_object().is_some_and(Map::is_empty)) {
                        media["schema"] = serde_json::json!({ "type": "object" });
                    }
                }
            }
        }
    }
    super::statuses::document_errors(&mut doc, dialect);
    optional_is_nullable(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Whether a body of `schema` must carry some field (following a `$ref` into `schemas`).
fn requires_fields(schema: &Value, schemas: &Value) -> bool {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => schemas.get(r.trim_start_matches("#/components/schemas/")).unwrap_or(&Value::Null),
        None => schema,
    };
    schema.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty())
}

/// Every handler reads a field sent as `null` as one left out (and leaves out, or answers `null`
/// for, a field it has no value for): so every optional property is documented nullable.
fn optional_is_nullable(doc: &mut Value) {
    fn walk(schema: &mut Value) {
        let Some(object) = schema.as_object_mut() else { return };
        let required: Vec<String> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                walk(property);
                if required.contains(name) {
                    continue;
                }
                if let Some(reference) = property.get("$ref").cloned() {
                    *property = serde_json::json!({ "allOf": [{ "$ref": reference }], "nullable": true });
                } else if let Some(p) = property.as_object_mut() {
                    p.insert("nullable".into(), Value::Bool(true));
                }
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(inner) = object.get_mut(key) {
                walk(inner);
            }
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(inner)) = object.get_mut(key) {
                inner.iter_mut().for_each(walk);
            }
        }
    }
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas.values_mut().for_each(walk);
    }
}

/// Merges several OpenAPI 3 documents: paths, component schemas, security schemes and tags.
pub fn merge(title: &str, version: &str, docs: &[Value]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut security = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    for doc in docs {
        for (section, target) in [("paths", &mut paths)] {
            if let Some(Value::Object(items)) = doc.get(section) {
                target.extend(items.clone());
            }
        }
        if let Some(Value::Object(items)) = doc.pointer("/components/schemas") {
            schemas.extend(items.clone());
        }
        if let Some(Value::Object(items)) = doc.pointer("/components/securitySchemes") {
            security.extend(items.clone());
        }
        if let Some(Value::Array(items)) = doc.get("tags") {
            for tag in items {
                if !tags.iter().any(|t| t.get("name") == tag.get("name")) {
                    tags.push(tag.clone());
                }
            }
        }
    }
    let mut merged = serde_json::json!({
        "openapi": "3.0.0",
        "info": { "title": title, "version": version },
        "tags": tags,
        "paths": paths,
        "components": { "schemas": schemas, "securitySchemes": security },
    });
    if let Some(servers) = docs.first().and_then(|d| d.get("servers")) {
        merged["servers"] = servers.clone();
    }
    merged
}

/// The Swagger UI page with a selector over `specs` (name, URL); `?spec=<name>` picks one.
/// `template` is poem-openapi's self-contained Swagger UI page (assets inlined, no CDN).
pub fn swagger_page(template: &str, specs: &[(&str, String)]) -> String {
    let options: String = specs.iter().map(|(name, url)| format!("<option value=\"{name}\" data-url=\"{url}\">{name}</option>")).collect();
    let urls: String = specs.iter().map(|(name, url)| format!("\"{name}\":\"{url}\",")).collect();
    let selector = format!(
        "<div style=\"padding:8px 16px;font-family:sans-serif;background:#1b1b1b;color:#fff\">Coffer API: \
         <select id=\"dialect\" onchange=\"location.search='?spec='+this.value\">{options}</select></div>\n<div id=\"ui\"></div>"
    );
    let picker = format!(
        "(function(){{const urls={{{urls}}};const want=new URLSearchParams(location.search).get('spec')||'all';\
         const sel=document.getElementById('dialect');if(urls[want]){{sel.value=want;}}return urls[sel.value];}})()"
    );
    template.replacen("<div id=\"ui\"></div>", &selector, 1).replacen("spec: spec,", &format!("url: {picker},"), 1)
}
