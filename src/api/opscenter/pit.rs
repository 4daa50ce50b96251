//! Point in time: commitlog archiving (on, off, its settings, each node's newest archived moment),
//! checking a moment, and restoring the cluster to it.

use poem::web::Data;
use poem_openapi::{OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Map, Value, json};

use super::{
    backups::restore_spec,
    cluster,
    models::{
        ArchiveTargetView, Numeric, PitCheck, PitDisable, PitEnable, PitLogs, PitRestore, PitSegments, PitSettings, RequestId, numeric,
    },
    view,
};
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

/// Seconds between nodes while they are reconfigured (`sleep`, default 0).
pub(crate) fn sleep_secs(sleep: Option<Numeric>) -> Result<u64, CoreError> {
    match numeric(sleep) {
        None => Ok(0),
        Some(s) if (0.0..=3600.0).contains(&s) => Ok(s as u64),
        Some(s) => Err(CoreError::BadRequest(format!("sleep must be 0 to 3600 seconds, not {s}"))),
    }
}

/// `pit` in seconds since the epoch (a number or a numeric string).
pub(crate) fn moment(pit: Option<Numeric>) -> Result<chrono::DateTime<chrono::Utc>, CoreError> {
    let secs = numeric(pit).ok_or_else(|| CoreError::BadRequest("pit (seconds since the epoch) is required".into()))?;
    if secs > 32_503_680_000.0 {
        return Err(CoreError::BadRequest(format!("pit is in seconds since the epoch; {secs} looks like milliseconds")));
    }
    chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
        .filter(|_| secs.is_finite() && secs >= 0.0)
        .ok_or_else(|| CoreError::BadRequest(format!("pit {secs} is not a moment")))
}

/// The destination an id names (the server's own when absent or empty).
async fn destination(state: &AppState, p: &Principal, id: Option<&str>) -> Result<Option<uuid::Uuid>, CoreError> {
    match id.filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => Ok(Some(view::find_destination(state, p, d).await?.id)),
    }
}

/// A directory a client names for the nodes: absolute, without `..`.
fn directory(name: &str, dir: Option<&str>) -> Result<Option<String>, CoreError> {
    let Some(dir) = dir.map(str::trim).filter(|d| !d.is_empty()) else { return Ok(None) };
    let p = std::path::Path::new(dir);
    if !p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(CoreError::BadRequest(format!("{name} must be an absolute path without '..', not '{dir}'")));
    }
    Ok(Some(dir.to_owned()))
}

/// The plan a `pit_check` or `pit/run` body asks for: the restore (its backup still to be
/// chosen) and how its keyspaces are served at the moment.
async fn plan(state: &AppState, p: &Principal, view: &SourceView, body: &PitRestore) -> Result<(RestoreSpec, PitPlan), CoreError> {
    let at = moment(body.pit)?;
    let spec = restore_spec(uuid::Uuid::nil(), &body.restore, None, None)?;
    let snapshots = destination(state, p, body.restore.destination.as_deref()).await?;
    let pit_destination = destination(state, p, body.pit_destination.as_deref()).await?.or(snapshots);
    let ask = PitAsk { at, selection: &spec.selection, snapshot_destination: snapshots, pit_destination, unit: MomentUnit::Seconds };
    let plan = state.engine.pit_plan(p, view.source.id, ask).await?;
    Ok((spec, plan))
}

/// What a plan would use, for `pit_check`.
fn plan_view(state: &AppState, view: &SourceView, plan: &PitPlan) -> PitCheck {
    let seconds = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis() as f64 / 1000.0;
    let commitlogs = view
        .nodes
        .iter()
        .map(|n| {
            let segments = plan.segments.get(&n.id).cloned().unwrap_or_default();
            let range = PitSegments {
                count: segments.len() as u64,
                first: segments.first().map(|s| seconds(s.at)),
                last: segments.last().map(|s| seconds(s.at)),
                segments: segments.iter().map(|s| s.name.clone()).collect(),
            };
            (n.name.clone(), range)
        })
        .collect();
    PitCheck {
        pit: plan.at.timestamp(),
        pit_time: worded(plan.at),
        snapshot: view::tag(&plan.backup),
        snapshot_time: view::epoch(plan.backup.created_at),
        destination: view::destination_id(state, plan.backup.destination_id),
        pit_destination: view::destination_id(state, plan.destination_id),
        commitlogs,
    }
}

/// The settings a change of archiving records beside the engine's own, shown by `GET .../pit`.
fn notes(sleep: Option<Numeric>, drain_first: Option<bool>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(s) = numeric(sleep) {
        out.insert("sleep".into(), json!(s));
    }
    if let Some(d) = drain_first {
        out.insert("drain_first".into(), json!(d));
    }
    out
}

#[OpenApi(tag = "PitTag::PointInTime")]
impl PitApi {
    /// The cluster's commitlog archiving settings: `{"enabled", "destinations": {id: {"compressed"}}}`,
    /// with the directories, `sleep` and `drain_first` last given.
    #[oai(path = "/:cluster_id/backups/pit", method = "get", operation_id = "opscenter_pit_settings")]
    async fn settings(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<PitSettings>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let settings = state.engine.archiving(p, view.source.id).await?;
        let destinations = settings
            .destinations
            .iter()
            .map(|(id, t)| {
                let target =
                    ArchiveTargetView { compressed: t.compressed, throttle: t.throttle_bytes_per_sec.map(|bps| bps as f64 / 1_048_576.0) };
                (view::destination_id(&state, *id), target)
            })
            .collect();
        let shown = |k: &str| settings.annotations.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Json(PitSettings {
            enabled: settings.enabled,
            destinations,
            backup_staging_dir: shown("backup_staging_dir"),
            backup_directory: shown("backup_directory"),
            backup_storage_dir: shown("backup_storage_dir"),
            drain_first: settings.annotations.get("drain_first").and_then(Value::as_bool),
            sleep: settings.annotations.get("sleep").and_then(Value::as_f64),
        }))
    }

    /// Turns archiving on: `{"destinations": {id: {"compressed", "throttle" (MB/s)}}, "backup_staging_dir"
    /// (or the 6.1 edition's "backup_directory"), "backup_storage_dir", "sleep", "drain_first"}`. Answers the
    /// request id of the node-by-node reconfiguration.
    #[oai(path = "/:cluster_id/backups/pit", method = "post", operation_id = "opscenter_pit_enable")]
    async fn enable(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<PitEnable>,
    ) -> poem::Result<Json<RequestId>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = body.0;
        let mut request = ArchiveRequest::default();
        let destinations =
            body.destinations.ok_or_else(|| CoreError::BadRequest("destinations ({id: {\"compressed\": bool}}) is required".into()))?;
        for (id, options) in destinations {
            let row = view::find_destination(&state, p, &id).await?;
            let options = options.unwrap_or_default();
            let throttle = numeric(options.throttle);
            if throttle.is_some_and(|t| t < 0.0) {
                return Err(CoreError::BadRequest("throttle cannot be negative".into()).into());
            }
            let target = ArchiveTarget {
                compressed: options.compressed.is_some_and(|c| c.0),
                throttle_bytes_per_sec: throttle.filter(|t| *t > 0.0).map(|mb| (mb * 1_048_576.0) as u64),
            };
            request.destinations.insert(row.id, target);
        }
        let staging = directory("backup_staging_dir", body.backup_staging_dir.as_deref())?;
        let older = directory("backup_directory", body.backup_directory.as_deref())?;
        let storage = directory("backup_storage_dir", body.backup_storage_dir.as_deref())?;
        let mut annotations = notes(body.sleep, body.drain_first.map(|d| d.0));
        for (key, dir) in [("backup_staging_dir", &staging), ("backup_directory", &older), ("backup_storage_dir", &storage)] {
            if let Some(dir) = dir {
                annotations.insert(key.to_owned(), json!(dir));
            }
        }
        request.staging_dir = staging.or(older);
        request.annotations = Value::Object(annotations);
        let op = state.engine.set_archiving(p, view.source.id, Some(request), sleep_secs(body.sleep)?).await?;
        Ok(Json(RequestId::of(op.id)))
    }

    /// Turns archiving off (`{"sleep", "drain_first"}`, body optional). Answers the request id.
    #[oai(path = "/:cluster_id/backups/pit", method = "delete", operation_id = "opscenter_pit_disable")]
    async fn disable(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<Option<PitDisable>>,
    ) -> poem::Result<Json<RequestId>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = body.0.unwrap_or_default();
        let notes = notes(body.sleep, body.drain_first.map(|d| d.0));
        let op = state.engine.set_archiving_noted(p, view.source.id, None, sleep_secs(body.sleep)?, notes).await?;
        Ok(Json(RequestId::of(op.id)))
    }

    /// Each node's newest archived commitlog time, in seconds: the latest moment a restore can reach.
    #[oai(path = "/:cluster_id/backups/pit/logs", method = "get", operation_id = "opscenter_pit_logs")]
    async fn logs(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<PitLogs>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let newest = state
            .engine
            .newest_archived(p, view.source.id)
            .await?
            .into_iter()
            .filter_map(|(node, at)| at.map(|t| (node.name, t.timestamp_millis() as f64 / 1000.0)))
            .collect();
        Ok(Json(newest))
    }

    /// Checks a moment (`{"pit", "destination"}`): the snapshot and commitlogs a restore would use,
    /// or an InvalidArguments error.
    #[oai(path = "/:cluster_id/backups/pit_check", method = "post", operation_id = "opscenter_pit_check")]
    async fn check(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<PitRestore>,
    ) -> poem::Result<Json<PitCheck>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let (_, plan) = plan(&state, p, &view, &body).await?;
        Ok(Json(plan_view(&state, &view, &plan)))
    }

    /// Restores the cluster to a moment (`{"keyspaces", "destination", "pit_destination", "pit",
    /// "restart_pause"}`): the snapshot's table files, then the commitlogs to replay and the
    /// properties file naming the moment. Each node replays them on its next start: Coffer restarts
    /// no node, so `restart_pause` other than its default (60) is refused. Answers the request id.
    #[oai(path = "/:cluster_id/backups/pit/run", method = "post", operation_id = "opscenter_pit_run")]
    async fn run(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<PitRestore>,
    ) -> poem::Result<Json<RequestId>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let (mut spec, plan) = plan(&state, p, &view, &body).await?;
        spec.backup_id = plan.backup.id;
        spec.destination_id = destination(&state, p, body.restore.destination.as_deref()).await?;
        spec.point_in_time = Some(plan);
        Ok(Json(RequestId::of(state.engine.start_restore(p, spec).await?.id)))
    }
}
