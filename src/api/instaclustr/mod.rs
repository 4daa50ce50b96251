//! Instaclustr provisioning API v1: clusters by UUID, their backup and restore events, a backup
//! on demand, and a restore to a new cluster at a point in time. A thin translator over the
//! engine; the clusters are the same sources the OpsCenter dialect serves by name.

mod backups;
mod clusters;
pub mod error;
pub mod models;
mod restore;

use chrono::{DateTime, Utc};
use poem::{Endpoint, IntoResponse, Request, Response, http::header};
use poem_openapi::Tags;
use serde_json::Value;
use uuid::Uuid;

pub use backups::BackupsApi;
pub use clusters::ClustersApi;
pub use restore::RestoreApi;
pub(crate) use restore::{restore_request, tables, valid_name};

use crate::{
    domain::{identity::Principal, source::SourceKind},
    engine::SourceView,
    error::CoreError,
    state::AppState,
};
use models::ClusterStatus;

#[derive(Tags)]
enum ProvisioningTag {
    /// Clusters.
    Clusters,
    /// Backups and restores.
    BackupAndRestore,
}

/// The provisioning API, one part per resource.
pub fn api() -> (ClustersApi, BackupsApi, RestoreApi) {
    (ClustersApi, BackupsApi, RestoreApi)
}

/// POST bodies must be JSON (415 otherwise); an empty body is an empty object, as the restore
/// endpoint documents.
pub async fn json_bodies<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    if *req.method() == poem::http::Method::POST {
        let bytes = req.take_body().into_bytes().await?;
        let is_json = req.content_type().is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
        if bytes.iter().all(u8::is_ascii_whitespace) {
            req.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
            req.set_body(b"{}".to_vec());
        } else if is_json {
            req.set_body(bytes);
        } else {
            return Err(CoreError::UnsupportedMediaType("the body must be application/json".into()).into());
        }
    }
    Ok(ep.call(req).await?.into_response())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stable id for a data centre of a cluster.
fn dc_id(cluster: Uuid, dc: &str) -> Uuid {
    Uuid::new_v5(&cluster, dc.as_bytes())
}

/// A node's data centre (`dc1` when it was registered without one).
fn dc_of(datacenter: Option<&str>) -> &str {
    datacenter.unwrap_or("dc1")
}

/// The caller's cluster `id` (404 for anything else).
async fn cluster(state: &AppState, p: &Principal, id: Uuid) -> Result<SourceView, CoreError> {
    let not_found = || CoreError::not_found("cluster", id.to_string());
    state.engine.source(p, id).await.ok().filter(|v| v.source.kind == SourceKind::Cluster).ok_or_else(not_found)
}

/// The restore that created the cluster, when it was restored.
fn restore_operation(view: &SourceView) -> Option<Uuid> {
    view.source.config.get("restore_operation").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
}

/// RUNNING, or PROVISIONING while the restore that creates it runs (FAILED if it failed).
async fn cluster_status(state: &AppState, p: &Principal, view: &SourceView) -> ClusterStatus {
    match restore_operation(view) {
        Some(op) => match state.engine.operation(p, op).await.map(|o| o.state) {
            Ok(s) if s.is_success() => ClusterStatus::Running,
            Ok(s) if s.is_terminal() => ClusterStatus::Failed,
            Ok(_) => ClusterStatus::Provisioning,
            Err(_) => ClusterStatus::Running,
        },
        None => ClusterStatus::Running,
    }
}
