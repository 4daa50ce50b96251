//! Raw object access to the caller's tenant repository in a destination, for remote agents:
//! `GET|PUT|DELETE /agent/v1/stores/{destination}/objects/{key}` (GET honours `Range`) and
//! `GET /agent/v1/stores/{destination}/list?prefix=`.

use poem::{
    Body, Request, Response, Route, handler,
    http::{StatusCode, header},
    web::{Data, Path, Query},
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    api::common::principal,
    error::CoreError,
    state::AppState,
    store::{Backend, StoreError},
};

fn store_failure(e: StoreError) -> CoreError {
    match e {
        StoreError::Missing(key) => CoreError::not_found("object", key),
        other => crate::engine::stores::store_error(other),
    }
}

async fn backend(state: &AppState, req: &Request, destination: Uuid) -> Result<std::sync::Arc<dyn Backend>, CoreError> {
    let p = principal(req)?;
    if p.agent.is_none() {
        return Err(CoreError::Forbidden("the store is reached by agents with their own key only".into()));
    }
    if !p.can_write() {
        return Err(CoreError::Forbidden("agents need a read-write credential".into()));
    }
    state.engine.stores().backend(destination, p.tenant_id).await
}

fn check_key(key: &str) -> Result<(), CoreError> {
    if key.is_empty() || key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(CoreError::BadRequest(format!("'{key}' is not a valid object key")));
    }
    Ok(())
}

/// Parses `bytes=a-b` (inclusive) into a half-open range.
fn range(req: &Request) -> Result<Option<std::ops::Range<u64>>, CoreError> {
    let Some(value) = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let bad = || CoreError::BadRequest(format!("unsupported Range '{value}'"));
    let (a, b) = value.strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if b < a {
        return Err(bad());
    }
    Ok(Some(a..b + 1))
}

#[handler]
async fn get_object(state: Data<&AppState>, req: &Request, Path((destination, key)): Path<(Uuid, String)>) -> poem::Result<Response> {
    check_key(&key)?;
    let backend = backend(&state, req, destination).await?;
    let bytes = match range(req)? {
        Some(r) => backend.get_range(&key, r).await,
        None => backend.get(&key).await,
    }
    .map_err(store_failure)?;
    Ok(Response::builder().content_type("application/octet-stream").body(bytes))
}

#[handler]
async fn put_object(
    state: Data<&AppState>,
    req: &Request,
    Path((destination, key)): Path<(Uuid, String)>,
    body: Body,
) -> poem::Result<StatusCode> {
    check_key(&key)?;
    let backend = backend(&state, req, destination).await?;
    let bytes = body.into_bytes().await.map_err(|e| CoreError::BadRequest(format!("cannot read the body: {e}")))?;
    backend.put(&key, bytes).await.map_err(store_failure)?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn delete_object(state: Data<&AppState>, req: &Request, Path((destination, key)): Path<(Uuid, String)>) -> poem::Result<StatusCode> {
    check_key(&key)?;
    backend(&state, req, destination).await?.delete(&key).await.map_err(store_failure)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    prefix: String,
}

#[handler]
async fn list_objects(
    state: Data<&AppState>,
    req: &Request,
    Path(destination): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> poem::Result<poem::web::Json<Vec<crate::store::ObjectInfo>>> {
    let listed = backend(&state, req, destination).await?.list(&q.prefix).await.map_err(store_failure)?;
    Ok(poem::web::Json(listed))
}

/// The proxy's routes, mounted at `/agent/v1/stores`.
pub fn routes() -> Route {
    Route::new()
        .at("/:destination/objects/*key", poem::get(get_object).put(put_object).delete(delete_object))
        .at("/:destination/list", poem::get(list_objects))
}
