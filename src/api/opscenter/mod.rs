//! The OpsCenter backup API: cluster backups to destinations, restores, request status and job
//! schedules, over the engine. A thin translator: OpsCenter shapes in (JSON, or form-encoded, or
//! JSON sent as a form as `curl -d` does), engine calls, OpsCenter shapes out (tags, request ids
//! as bare JSON strings, `{"message", "type", "brief"}` errors).

mod backups;
mod clusters;
mod destinations;
pub mod error;
mod figures;
mod history;
pub mod models;
pub(crate) mod pit;
mod requests;
mod schedules;
mod session;
mod view;

use poem::{Endpoint, IntoResponse, Request, Response, http::header};
use serde_json::{Map, Value};

pub use backups::BackupsApi;
pub use clusters::ClustersApi;
pub use destinations::DestinationsApi;
pub use pit::PitApi;
pub use requests::RequestsApi;
pub use schedules::SchedulesApi;
pub use session::SessionApi;

/// Every OpsCenter endpoint group.
pub type OpsCenterApi = (SessionApi, ClustersApi, BackupsApi, PitApi, DestinationsApi, RequestsApi, SchedulesApi);

use crate::{
    domain::{
        identity::Principal,
        source::{Source, SourceKind},
    },
    engine::SourceView,
    error::CoreError,
    state::AppState,
};

/// The OpsCenter API, as one OpenAPI service.
pub fn api() -> OpsCenterApi {
    (SessionApi, ClustersApi, BackupsApi, PitApi, DestinationsApi, RequestsApi, SchedulesApi)
}

/// Errors name destinations by the id OpsCenter shows for them, not by the name it never shows
/// (see [`view::DestinationIds`]).
pub async fn destination_ids_in_errors<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let state = req.data::<AppState>().cloned();
    let caller = req.extensions().get::<Principal>().cloned();
    let err = match ep.call(req).await {
        Ok(resp) => return Ok(resp.into_response()),
        Err(err) => err,
    };
    let (Some(state), Some(caller)) = (state, caller) else { return Err(err) };
    if !err.is::<CoreError>() {
        return Err(err);
    }
    let core = err.downcast::<CoreError>().unwrap_or_else(|e| CoreError::internal(anyhow::anyhow!("{e}")));
    if !core.to_string().contains("destination '") {
        return Err(core.into());
    }
    let ids = view::DestinationIds::load(&state, &caller).await?;
    Err(core.map_message(|m| ids.apply(&m)).into())
}

/// OpsCenter clients send JSON as `application/x-www-form-urlencoded` (`curl -d '{...}'`) and
/// real forms (`requests.post(data=...)`). Every body reaches the handlers as JSON: a body that
/// parses as JSON is JSON whatever its label, a form becomes an object of strings (read by the
/// lenient types of [`models`]), and no body at all is `{}` (`curl -X DELETE .../backups/pit`).
/// A trailing `/` is dropped from the path (the docs write `pit/run/`).
pub async fn normalize_body<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        if let Ok(uri) = format!("{trimmed}{query}").parse() {
            *req.uri_mut() = uri;
        }
    }
    let is_json = req.content_type().is_some_and(|c| c.starts_with("application/json"));
    if matches!(*req.method(), poem::http::Method::POST | poem::http::Method::PUT | poem::http::Method::DELETE) {
        let bytes = req.take_body().into_bytes().await?;
        let json = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else if is_json {
            req.set_body(bytes);
            return Ok(ep.call(req).await?.into_response());
        } else if serde_json::from_slice::<Value>(&bytes).is_ok() {
            Some(bytes.to_vec())
        } else if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| matches!(b, b'{' | b'[' | b'"')) {
            // Meant as JSON but not JSON: running it with no options would do more than asked.
            let why = serde_json::from_slice::<Value>(&bytes).err().map(|e| e.to_string()).unwrap_or_default();
            return Err(CoreError::BadRequest(format!("the body is not valid JSON: {why}")).into());
        } else if req.content_type().is_none_or(|c| c.starts_with("application/x-www-form-urlencoded")) {
            Some(serde_json::to_vec(&form_to_json(&bytes)).map_err(CoreError::internal)?)
        } else {
            req.set_body(bytes);
            return Ok(ep.call(req).await?.into_response());
        };
        req.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
        req.set_body(json.unwrap_or_else(|| b"{}".to_vec()));
    }
    Ok(ep.call(req).await?.into_response())
}

/// `a=1&b=x&b=y` as `{"a": "1", "b": ["x", "y"]}`.
pub(crate) fn form_to_json(bytes: &[u8]) -> Value {
    let mut out = Map::new();
    for (key, value) in url::form_urlencoded::parse(bytes) {
        let value = Value::String(value.into_owned());
        match out.get_mut(key.as_ref()) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
            None => {
                out.insert(key.into_owned(), value);
            }
        }
    }
    Value::Object(out)
}

/// A cluster of the caller's tenant by its OpsCenter id (the cluster's name) or its UUID.
async fn cluster(state: &AppState, p: &Principal, id: &str) -> Result<SourceView, CoreError> {
    let source = cluster_row(state, p, id).await?;
    state.engine.with_nodes(source).await
}

/// The cluster [`cluster`] finds, without reading its nodes.
async fn cluster_row(state: &AppState, p: &Principal, id: &str) -> Result<Source, CoreError> {
    let not_found = || CoreError::not_found("cluster", id);
    match state.engine.source_row_by_name(p, SourceKind::Cluster, id).await {
        Ok(source) => Ok(source),
        Err(CoreError::NotFound { .. }) => match uuid::Uuid::parse_str(id) {
            Ok(uuid) => state.engine.source_row(p, uuid).await.ok().filter(|s| s.kind == SourceKind::Cluster).ok_or_else(not_found),
            Err(_) => Err(not_found()),
        },
        Err(other) => Err(other),
    }
}

/// A lenient boolean: JSON booleans, numbers, and the strings forms and old clients send
/// (`true`, `True`, `1`, `yes`); any other string (`Delete Backup Data`) is true, an empty one false.
pub(crate) fn flag(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !matches!(s.trim().to_ascii_lowercase().as_str(), "" | "false" | "0" | "no" | "off" | "none" | "null"),
        Some(_) => true,
    }
}

/// A lenient number: JSON numbers or numeric strings.
pub(crate) fn number(v: Option<&Value>, name: &str) -> Result<Option<f64>, CoreError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| CoreError::BadRequest(format!("{name} must be a number, not '{s}'")))
        }
        Some(other) => Err(CoreError::BadRequest(format!("{name} must be a number, not {other}"))),
    }
}

/// A list of strings: a JSON array, one string, or a comma-separated string.
pub(crate) fn strings(v: Option<&Value>, name: &str) -> Result<Vec<String>, CoreError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| CoreError::BadRequest(format!("{name} must list strings"))))
            .collect(),
        Some(_) => Err(CoreError::BadRequest(format!("{name} must be a list of strings"))),
    }
}

/// The body as an object; anything else is a 400.
pub(crate) fn object(body: Value) -> Result<Map<String, Value>, CoreError> {
    match body {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(CoreError::BadRequest("the body must be a JSON object".into())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn forms_become_objects_and_repeated_keys_lists() {
        assert_eq!(
            form_to_json(b"destination=abc&keyspaces=a&keyspaces=b&x=%20y"),
            json!({"destination": "abc", "keyspaces": ["a", "b"], "x": " y"})
        );
    }

    #[test]
    fn flags_accept_what_old_clients_send() {
        for yes in [json!(true), json!(1), json!("true"), json!("True"), json!("Delete Backup Data")] {
            assert!(flag(Some(&yes)), "{yes}");
        }
        for no in [json!(false), json!(0), json!("false"), json!("False"), json!(""), Value::Null] {
            assert!(!flag(Some(&no)), "{no}");
        }
    }
}
