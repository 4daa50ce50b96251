//! Point in time: commitlog archiving (on, off, its settings, each node's newest archived moment),
//! checking a moment, and restoring the cluster to it.

use poem::web::Data;
use poem_openapi::{OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Map, Value, json};

use super::{backups::restore_spec, cluster, flag, number, object, view};
use crate::{
    api::common::security::Caller,
    domain::{archive::ArchiveTarget, identity::Principal},
    engine::{ArchiveRequest, MomentUnit, PitAsk, PitPlan, RestoreSpec, SourceView, worded},
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum PitTag {
    /// Commitlog archiving and point-in-time restores.
    PointInTime,
}

pub struct PitApi;

/// A body that may be absent (`DELETE` sends none): an object, `{}` when empty.
async fn optional_body(body: poem::Body) -> Result<Map<String, Value>, CoreError> {
    let bytes = body.into_bytes().await.map_err(|e| CoreError::BadRequest(e.to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| CoreError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    object(value)
}

/// Seconds between nodes while they are reconfigured (`sleep`, default 0).
pub(crate) fn sleep_secs(body: &Map<String, Value>) -> Result<u64, CoreError> {
    match number(body.get("sleep"), "sleep")? {
        None => Ok(0),
        Some(s) if (0.0..=3600.0).contains(&s) => Ok(s as u64),
        Some(s) => Err(CoreError::BadRequest(format!("sleep must be 0 to 3600 seconds, not {s}"))),
    }
}

/// `pit` in seconds since the epoch (a number or a numeric string).
pub(crate) fn moment(body: &Map<String, Value>) -> Result<chrono::DateTime<chrono::Utc>, CoreError> {
    let secs = number(body.get("pit"), "pit")?.ok_or_else(|| CoreError::BadRequest("pit (seconds since the epoch) is required".into()))?;
    if secs > 32_503_680_000.0 {
        return Err(CoreError::BadRequest(format!("pit is in seconds since the epoch; {secs} looks like milliseconds")));
    }
    chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
        .filter(|_| secs.is_finite() && secs >= 0.0)
        .ok_or_else(|| CoreError::BadRequest(format!("pit {secs} is not a moment")))
}

/// The destination a body names under `key` (the server's own when absent or empty).
async fn destination(state: &AppState, p: &Principal, body: &Map<String, Value>, key: &str) -> Result<Option<uuid::Uuid>, CoreError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(d)) if d.is_empty() => Ok(None),
        Some(Value::String(d)) => Ok(Some(view::find_destination(state, p, d).await?.id)),
        Some(other) => Err(CoreError::BadRequest(format!("{key} must be a destination id, not {other}"))),
    }
}

/// The plan a `pit_check` or `pit/run` body asks for: the restore (its backup still to be
/// chosen) and how its keyspaces are served at the moment.
async fn plan(state: &AppState, p: &Principal, view: &SourceView, body: &Map<String, Value>) -> Result<(RestoreSpec, PitPlan), CoreError> {
    let at = moment(body)?;
    let spec = restore_spec(uuid::Uuid::nil(), body, None, None)?;
    let snapshots = destination(state, p, body, "destination").await?;
    let pit_destination = destination(state, p, body, "pit_destination").await?.or(snapshots);
    let ask = PitAsk { at, selection: &spec.selection, snapshot_destination: snapshots, pit_destination, unit: MomentUnit::Seconds };
    let plan = state.engine.pit_plan(p, view.source.id, ask).await?;
    Ok((spec, plan))
}

/// What a plan would use, for `pit_check`.
fn plan_view(state: &AppState, view: &SourceView, plan: &PitPlan) -> Value {
    let commitlogs: Map<String, Value> = view
        .nodes
        .iter()
        .map(|n| {
            let segments = plan.segments.get(&n.id).cloned().unwrap_or_default();
            let range = json!({
                "count": segments.len(),
                "first": segments.first().map(|s| s.at.timestamp_millis() as f64 / 1000.0),
                "last": segments.last().map(|s| s.at.timestamp_millis() as f64 / 1000.0),
                "segments": segments.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            });
            (n.name.clone(), range)
        })
        .collect();
    json!({
        "pit": plan.at.timestamp(),
        "pit_time": worded(plan.at),
        "snapshot": view::tag(&plan.backup),
        "snapshot_time": view::epoch(plan.backup.created_at),
        "destination": view::destination_id(state, plan.backup.destination_id),
        "pit_destination": view::destination_id(state, plan.destination_id),
        "commitlogs": commitlogs,
    })
}

#[OpenApi(tag = "PitTag::PointInTime")]
impl PitApi {
    /// The cluster's commitlog archiving settings: `{"enabled", "destinations": {id: {"compressed"}}}`.
    #[oai(path = "/:cluster_id/backups/pit", method = "get", operation_id = "opscenter_pit_settings")]
    async fn settings(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let settings = state.engine.archiving(p, view.source.id).await?;
        let destinations: Map<String, Value> = settings
            .destinations
            .iter()
            .map(|(id, t)| {
                let mut d = json!({ "compressed": t.compressed });
                if let Some(bps) = t.throttle_bytes_per_sec {
                    d["throttle"] = json!(bps as f64 / 1_048_576.0);
                }
                (view::destination_id(&state, *id), d)
            })
            .collect();
        let mut out = json!({ "enabled": settings.enabled, "destinations": destinations });
        for (k, v) in settings.annotations.as_object().into_iter().flatten() {
            out[k] = v.clone();
        }
        Ok(Json(out))
    }

    /// Turns archiving on: `{"destinations": {id: {"compressed", "throttle" (MB/s)}}, "backup_staging_dir",
    /// "backup_storage_dir" (or "backup_directory"), "sleep", "drain_first"}`. Answers the request id of
    /// the node-by-node reconfiguration.
    #[oai(path = "/:cluster_id/backups/pit", method = "post", operation_id = "opscenter_pit_enable")]
    async fn enable(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = object(body.0)?;
        let mut request = ArchiveRequest::default();
        let destinations = match body.get("destinations") {
            Some(Value::Object(map)) => map.clone(),
            _ => return Err(CoreError::BadRequest("destinations ({id: {\"compressed\": bool}}) is required".into()).into()),
        };
        for (id, options) in destinations {
            let row = view::find_destination(&state, p, &id).await?;
            let throttle = number(options.get("throttle"), "throttle")?;
            if throttle.is_some_and(|t| t < 0.0) {
                return Err(CoreError::BadRequest("throttle cannot be negative".into()).into());
            }
            let target = ArchiveTarget {
                compressed: flag(options.get("compressed")),
                throttle_bytes_per_sec: throttle.filter(|t| *t > 0.0).map(|mb| (mb * 1_048_576.0) as u64),
            };
            request.destinations.insert(row.id, target);
        }
        let mut annotations = Map::new();
        for key in ["backup_staging_dir", "backup_storage_dir", "backup_directory", "drain_first"] {
            if let Some(v) = body.get(key) {
                annotations.insert(key.to_owned(), v.clone());
            }
        }
        request.staging_dir = match body.get("backup_staging_dir").or_else(|| body.get("backup_directory")) {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) if d.trim().is_empty() => None,
            Some(Value::String(d)) => Some(d.trim().to_owned()),
            Some(other) => return Err(CoreError::BadRequest(format!("backup_staging_dir must be a directory, not {other}")).into()),
        };
        request.annotations = Value::Object(annotations);
        let op = state.engine.set_archiving(p, view.source.id, Some(request), sleep_secs(&body)?).await?;
        Ok(Json(op.id.to_string()))
    }

    /// Turns archiving off (`{"sleep", "drain_first"}`, body optional). Answers the request id.
    #[oai(path = "/:cluster_id/backups/pit", method = "delete", operation_id = "opscenter_pit_disable")]
    async fn disable(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: poem::Body,
    ) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = optional_body(body).await?;
        let op = state.engine.set_archiving(p, view.source.id, None, sleep_secs(&body)?).await?;
        Ok(Json(op.id.to_string()))
    }

    /// Each node's newest archived commitlog time, in seconds: the latest moment a restore can reach.
    #[oai(path = "/:cluster_id/backups/pit/logs", method = "get", operation_id = "opscenter_pit_logs")]
    async fn logs(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let newest: Map<String, Value> = state
            .engine
            .newest_archived(p, view.source.id)
            .await?
            .into_iter()
            .filter_map(|(node, at)| at.map(|t| (node.name, json!(t.timestamp_millis() as f64 / 1000.0))))
            .collect();
        Ok(Json(Value::Object(newest)))
    }

    /// Checks a moment (`{"pit", "destination"}`): the snapshot and commitlogs a restore would use,
    /// or an InvalidArguments error.
    #[oai(path = "/:cluster_id/backups/pit_check", method = "post", operation_id = "opscenter_pit_check")]
    async fn check(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = object(body.0)?;
        let (_, plan) = plan(&state, p, &view, &body).await?;
        Ok(Json(plan_view(&state, &view, &plan)))
    }

    /// Restores the cluster to a moment (`{"keyspaces", "destination", "pit_destination", "pit",
    /// "restart_pause"}`): the snapshot's table files, then the commitlogs to replay and the
    /// properties file naming the moment. Answers the request id.
    #[oai(path = "/:cluster_id/backups/pit/run", method = "post", operation_id = "opscenter_pit_run")]
    async fn run(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>, body: Json<Value>) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = object(body.0)?;
        let (mut spec, plan) = plan(&state, p, &view, &body).await?;
        spec.backup_id = plan.backup.id;
        spec.destination_id = destination(&state, p, &body, "destination").await?;
        spec.point_in_time = Some(plan);
        Ok(Json(state.engine.start_restore(p, spec).await?.id.to_string()))
    }
}
