//! Request status: what clients poll after a request id (`/request/{id}/status`, and the older
//! cluster-scoped `/{cluster_id}/request/{id}/status`), and cancellation.

use poem::web::Data;
use poem_openapi::{OpenApi, Tags, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    cluster_row,
    models::{KeyspaceTables, RequestDetails, RequestState, RequestStatus, Subrequests},
    view,
};
use crate::{
    api::common::security::Caller,
    domain::{identity::Principal, operation::OperationKind},
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum RequestTag {
    /// Asynchronous requests.
    Requests,
}

pub struct RequestsApi;

fn request_id(id: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(id).map_err(|_| CoreError::not_found("request", id))
}

/// An operation's status document, or the record of a request carried out at once.
async fn status(state: &AppState, p: &Principal, id: &str) -> Result<RequestStatus, CoreError> {
    let uuid = request_id(id)?;
    match state.engine.operation(p, uuid).await {
        Ok(op) => view::request_status(state, p, &op).await,
        Err(CoreError::NotFound { .. }) => {
            let event = state.engine.recorded_request(p, uuid).await?.ok_or_else(|| CoreError::not_found("request", id))?;
            let cluster_id = match event.source_id {
                Some(s) => state.engine.source(p, s).await.map(|v| v.source.name).ok(),
                None => None,
            };
            Ok(RequestStatus {
                id: uuid.to_string(),
                kind: event.kind,
                state: RequestState::Success,
                started: view::epoch(event.at),
                finished: Some(view::epoch(event.at)),
                cluster_id,
                tag: None,
                destinations: Vec::new(),
                keyspaces: KeyspaceTables::default(),
                progress: 1.0,
                details: RequestDetails { message: event.message, subrequests: Subrequests::default() },
            })
        }
        Err(other) => Err(other),
    }
}

async fn cancel(state: &AppState, p: &Principal, id: &str) -> Result<RequestStatus, CoreError> {
    let op = match state.engine.cancel(p, request_id(id)?).await {
        Err(CoreError::NotFound { .. }) => return Err(CoreError::not_found("request", id)),
        other => other?,
    };
    view::request_status(state, p, &op).await
}

/// The request must be one on this cluster.
async fn of_cluster(state: &AppState, p: &Principal, cluster_id: &str, id: &str) -> Result<(), CoreError> {
    let source = cluster_row(state, p, cluster_id).await?.id;
    match state.engine.operation(p, request_id(id)?).await {
        Ok(op) if op.source_id != Some(source) => Err(CoreError::not_found("request", id)),
        _ => Ok(()),
    }
}

#[OpenApi(tag = "RequestTag::Requests")]
impl RequestsApi {
    /// A request's state with per-node, per-table progress.
    #[oai(path = "/request/:request_id/status", method = "get", operation_id = "opscenter_request_status")]
    async fn status(&self, state: Data<&AppState>, caller: Caller, request_id: Path<String>) -> poem::Result<Json<RequestStatus>> {
        Ok(Json(status(&state, caller.principal(), &request_id).await?))
    }

    /// Cancels a running request.
    #[oai(path = "/request/:request_id/cancel", method = "post", operation_id = "opscenter_request_cancel")]
    async fn cancel(&self, state: Data<&AppState>, caller: Caller, request_id: Path<String>) -> poem::Result<Json<RequestStatus>> {
        Ok(Json(cancel(&state, caller.principal(), &request_id).await?))
    }

    /// Recent requests of one type (`backup`, `restore`, `copy`, `delete`, `verify`), newest first.
    #[oai(path = "/request/:request_type", method = "get", operation_id = "opscenter_requests_of_type")]
    async fn of_type(&self, state: Data<&AppState>, caller: Caller, request_type: Path<String>) -> poem::Result<Json<Vec<RequestStatus>>> {
        let p = caller.principal();
        let mut out = Vec::new();
        // A type that names no operation kind has no requests.
        if let Ok(kind) = request_type.parse::<OperationKind>() {
            for op in state.engine.operations(p, &[kind], 200).await? {
                out.push(view::request_status(&state, p, &op).await?);
            }
        }
        Ok(Json(out))
    }

    /// A request's state (the cluster-scoped form of older OpsCenter versions).
    #[oai(path = "/:cluster_id/request/:request_id/status", method = "get", operation_id = "opscenter_cluster_request_status")]
    async fn cluster_status(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        request_id: Path<String>,
    ) -> poem::Result<Json<RequestStatus>> {
        of_cluster(&state, caller.principal(), &cluster_id, &request_id).await?;
        Ok(Json(status(&state, caller.principal(), &request_id).await?))
    }

    /// Cancels a running request (cluster-scoped form).
    #[oai(path = "/:cluster_id/request/:request_id/cancel", method = "post", operation_id = "opscenter_cluster_request_cancel")]
    async fn cluster_cancel(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        request_id: Path<String>,
    ) -> poem::Result<Json<RequestStatus>> {
        of_cluster(&state, caller.principal(), &cluster_id, &request_id).await?;
        Ok(Json(cancel(&state, caller.principal(), &request_id).await?))
    }
}
