//! Sources, backups, restores, operations and events over `/admin/v1`: what the dialects do
//! not create themselves, and what scripts and the CLI drive.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    api::common::security::Caller,
    domain::{
        backup::Selection,
        operation::{OperationKind, OperationOptions},
        plan::Schedule,
        source::{NodeSpec, SourceKind},
    },
    engine::{BackupPage, BackupSpec, DestinationSpec, InstanceSpec, PlanSpec, RestoreSpec, RestoreTarget},
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum EngineTag {
    /// Clusters, instances, HA groups and machines.
    Sources,
    /// Workers beside the data.
    Agents,
    /// Backups, restores and verification.
    Backups,
    /// Asynchronous operations and the activity log.
    Operations,
    /// Where backups are stored.
    Destinations,
    /// Schedules and retention.
    Plans,
}

#[derive(ApiResponse)]
enum NoContent {
    #[oai(status = 204)]
    Done,
}

fn destination_json(state: &AppState, row: crate::persistence::engine::DestinationRow) -> Value {
    let secret = state.engine.redacted_secret(&row);
    let mut v = value(&state.engine.destination_view(row));
    if let Some(s) = secret {
        v["secret"] = json!(s);
    }
    v
}

/// The engine part of the admin API.
pub struct EngineApi;

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<Value>),
}

#[derive(ApiResponse)]
enum Accepted {
    /// The operation was recorded and runs in the background.
    #[oai(status = 202)]
    Accepted(Json<Value>),
}

/// A machine: an agent's file system under a root directory.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct NewMachine {
    name: String,
    #[oai(default = "local_agent")]
    agent: String,
    root: String,
}

fn local_agent() -> String {
    crate::domain::source::local_agent()
}

/// Parses `body` as `T`, refusing any field `T` does not have (at any depth), so that a field
/// put in the wrong place is an error instead of a setting silently dropped.
fn parse<T: serde::de::DeserializeOwned>(what: &str, body: Value) -> Result<T, CoreError> {
    let mut unknown = Vec::new();
    let parsed = serde_ignored::deserialize(body, |path| unknown.push(path.to_string().replace("?.", "")))
        .map_err(|e| CoreError::BadRequest(format!("malformed {what}: {e}")))?;
    refuse_unknown(what, unknown)?;
    Ok(parsed)
}

/// Parses an internally tagged enum (a restore target, a schedule) like [`parse`]. Such an enum
/// reads its variant's fields from a buffer the check in `parse` does not see, so the body's
/// fields are also compared with the ones the parsed value writes back; `at` prefixes their names.
fn parse_tagged<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, at: &str, body: Value) -> Result<T, CoreError> {
    let parsed: T = parse(what, body.clone())?;
    refuse_unknown(what, unread(&parsed, &body, at, &[]))?;
    Ok(parsed)
}

/// A destination body. Its settings are flattened into it, which the check in [`parse`] does not
/// see either: they are compared with the settings the parsed value writes back.
fn destination_spec(body: Value) -> Result<DestinationSpec, CoreError> {
    let spec: DestinationSpec = parse("destination", body.clone())?;
    refuse_unknown("destination", unread(&spec.config, &body, "", &["name", "kind", "secret"]))?;
    Ok(spec)
}

/// The fields of `body` (other than `also` and those given as null) that `parsed`, read from it,
/// does not write back: the ones it did not read.
fn unread<T: serde::Serialize>(parsed: &T, body: &Value, at: &str, also: &[&str]) -> Vec<String> {
    let known = value(parsed);
    body.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| !v.is_null() && known.get(k.as_str()).is_none() && !also.contains(&k.as_str()))
        .map(|(k, _)| format!("{at}{k}"))
        .collect()
}

/// Refuses a body whose top level has fields other than `known` (for bodies read field by field).
fn only_fields(what: &str, body: &Value, known: &[&str]) -> Result<(), CoreError> {
    let unknown = body.as_object().into_iter().flatten().map(|(k, _)| k).filter(|k| !known.contains(&k.as_str())).cloned().collect();
    refuse_unknown(what, unknown)
}

fn refuse_unknown(what: &str, unknown: Vec<String>) -> Result<(), CoreError> {
    if unknown.is_empty() {
        return Ok(());
    }
    let names = unknown.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(", ");
    let fields = if unknown.len() == 1 { "field" } else { "fields" };
    Err(CoreError::BadRequest(format!(
        "unknown {fields} in the {what}: {names} (the admin API's bodies are described in /openapi/admin.json)"
    )))
}

/// The restore an admin body asks for (`target`, `selection`, `options`, `destination_id`, and
/// the fields `also` names, which the caller reads itself).
fn restore_spec(backup_id: Uuid, body: &Value, also: &[&str]) -> Result<RestoreSpec, CoreError> {
    let fields = ["target", "selection", "options", "destination_id"];
    only_fields("restore request", body, &[&fields[..], also].concat())?;
    let target = body.get("target").cloned().ok_or_else(|| {
        CoreError::BadRequest("target is required: {\"type\": \"same_nodes\" | \"new_cluster\" | \"path\" | \"new_instance\", ...}".into())
    })?;
    let target: RestoreTarget = parse_tagged("restore target", "target.", target)?;
    let selection: Selection = parse("selection", body.get("selection").cloned().unwrap_or(json!({})))?;
    let options: OperationOptions = parse("options", body.get("options").cloned().unwrap_or(json!({})))?;
    let destination_id: Option<Uuid> = parse("destination_id", body.get("destination_id").cloned().unwrap_or(Value::Null))?;
    Ok(RestoreSpec { backup_id, target, selection, options, destination_id, point_in_time: None })
}

/// A plan body; its schedule is a tagged enum, checked on its own.
fn plan_spec(body: Value) -> Result<PlanSpec, CoreError> {
    if let Some(schedule) = body.get("schedule").filter(|s| s.is_object()) {
        parse_tagged::<Schedule>("plan", "schedule.", schedule.clone())?;
    }
    parse("plan", body)
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[OpenApi(prefix_path = "/admin/v1")]
impl EngineApi {
    /// Registers a cluster: `{"name", "nodes": [{"name", "agent", "location" (data directory), "datacenter", "rack", "commitlog_dir"}]}`.
    #[oai(path = "/clusters", method = "post", operation_id = "admin_add_cluster", tag = "EngineTag::Sources")]
    async fn add_cluster(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Created> {
        only_fields("cluster", &body.0, &["name", "nodes"])?;
        let name = body.0.get("name").and_then(Value::as_str).ok_or_else(|| CoreError::BadRequest("name is required".into()))?.to_owned();
        let nodes: Vec<NodeSpec> = parse("nodes", body.0.get("nodes").cloned().unwrap_or(Value::Null))?;
        Ok(Created::Created(Json(value(&state.engine.add_cluster(caller.principal(), &name, nodes).await?))))
    }

    /// Registers a database instance: `{"name", "datastore": "sqlite|postgresql|mysql", "datastore_version", "location", "agent", "flavor", "flavor_ram_mb", "volume_gb"}`.
    #[oai(path = "/instances", method = "post", operation_id = "admin_add_instance", tag = "EngineTag::Sources")]
    async fn add_instance(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Created> {
        let spec: InstanceSpec = parse("instance", body.0)?;
        Ok(Created::Created(Json(value(&state.engine.add_instance(caller.principal(), spec).await?))))
    }

    /// Registers an HA group of instances: `{"name", "members": [instance ids]}`.
    #[oai(path = "/ha-groups", method = "post", operation_id = "admin_add_ha_group", tag = "EngineTag::Sources")]
    async fn add_ha_group(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Created> {
        only_fields("HA group", &body.0, &["name", "members"])?;
        let name = body.0.get("name").and_then(Value::as_str).ok_or_else(|| CoreError::BadRequest("name is required".into()))?.to_owned();
        let members: Vec<Uuid> = parse("members", body.0.get("members").cloned().unwrap_or(Value::Null))?;
        Ok(Created::Created(Json(value(&state.engine.add_ha_group(caller.principal(), &name, &members).await?))))
    }

    /// Registers a machine.
    #[oai(path = "/machines", method = "post", operation_id = "admin_add_machine", tag = "EngineTag::Sources")]
    async fn add_machine(&self, state: Data<&AppState>, caller: Caller, body: Json<NewMachine>) -> poem::Result<Created> {
        Ok(Created::Created(Json(value(&state.engine.add_machine(caller.principal(), &body.name, &body.agent, &body.root).await?))))
    }

    /// Lists sources, optionally of one kind (`cluster`, `instance`, `ha_group`, `machine`).
    #[oai(path = "/sources", method = "get", operation_id = "admin_list_sources", tag = "EngineTag::Sources")]
    async fn list_sources(&self, state: Data<&AppState>, caller: Caller, kind: Query<Option<String>>) -> poem::Result<Json<Value>> {
        let kind = kind.0.map(|k| k.parse::<SourceKind>()).transpose().map_err(CoreError::BadRequest)?;
        Ok(Json(value(&state.engine.list_sources(caller.principal(), kind).await?)))
    }

    /// Every source with its newest backup, its newest complete one, its next planned run and
    /// whether a plan's due run has no complete backup (`overdue` says which).
    #[oai(path = "/overview", method = "get", operation_id = "admin_overview", tag = "EngineTag::Sources")]
    async fn overview(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        Ok(Json(value(&state.engine.overview(caller.principal()).await?)))
    }

    /// One source with its nodes.
    #[oai(path = "/sources/:id", method = "get", operation_id = "admin_get_source", tag = "EngineTag::Sources")]
    async fn get_source(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<Value>> {
        Ok(Json(value(&state.engine.source(caller.principal(), id.0).await?)))
    }

    /// The moments a cluster can be restored to from its commitlog archive (`pit_destination_id`
    /// names the archive; the one the cluster archives to by default): `{"archiving",
    /// "destination_id", "earliest", "latest"}`, both ends null when no moment can be had yet.
    #[oai(path = "/sources/:id/point-in-time", method = "get", operation_id = "admin_point_in_time_window", tag = "EngineTag::Sources")]
    async fn point_in_time_window(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        pit_destination_id: Query<Option<Uuid>>,
    ) -> poem::Result<Json<Value>> {
        let window = state.engine.pit_window(caller.principal(), id.0, pit_destination_id.0).await?;
        Ok(Json(json!({
            "archiving": window.archiving,
            "destination_id": window.destination_id,
            "earliest": window.earliest,
            "latest": window.latest,
        })))
    }

    /// Restores a cluster as it was at a moment: `{"at" (RFC 3339), "target", "selection",
    /// "options", "destination_id" (where the backup is read), "pit_destination_id"}`. The newest
    /// complete backup at or before `at` is restored with the archived commitlogs up to `at`.
    #[oai(
        path = "/sources/:id/point-in-time/restore",
        method = "post",
        operation_id = "admin_restore_to_point_in_time",
        tag = "EngineTag::Backups"
    )]
    async fn restore_to_point_in_time(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: Json<Value>,
    ) -> poem::Result<Accepted> {
        let p = caller.principal();
        state.engine.source(p, id.0).await?;
        let at = match body.0.get("at") {
            Some(Value::String(at)) => chrono::DateTime::parse_from_rfc3339(at)
                .map_err(|e| CoreError::BadRequest(format!("at must be an RFC 3339 moment such as 2026-12-03T10:00:00Z ({e})")))?
                .to_utc(),
            _ => return Err(CoreError::BadRequest("at (an RFC 3339 moment such as 2026-12-03T10:00:00Z) is required".into()).into()),
        };
        let pit_destination: Option<Uuid> = parse("pit_destination_id", body.0.get("pit_destination_id").cloned().unwrap_or(Value::Null))?;
        let mut spec = restore_spec(Uuid::nil(), &body.0, &["at", "pit_destination_id"])?;
        let ask = crate::engine::PitAsk {
            at,
            selection: &spec.selection,
            snapshot_destination: spec.destination_id,
            pit_destination,
            unit: crate::engine::MomentUnit::Rfc3339,
        };
        let plan = state.engine.pit_plan(p, id.0, ask).await?;
        spec.backup_id = plan.backup.id;
        spec.point_in_time = Some(plan);
        Ok(Accepted::Accepted(Json(value(&state.engine.start_restore(p, spec).await?))))
    }

    /// Lists the tenant's agents with when they were last heard from.
    #[oai(path = "/agents", method = "get", operation_id = "admin_list_agents", tag = "EngineTag::Agents")]
    async fn list_agents(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let (now, down_after) = (chrono::Utc::now(), state.settings.agent_down_after_secs);
        let agents = state.engine.list_agents(caller.principal()).await?;
        let agents: Vec<Value> = agents.into_iter().map(|a| json!({ "up": a.is_up(now, down_after), "agent": a })).collect();
        Ok(Json(Value::Array(agents)))
    }

    /// Starts a backup: `{"source_id", "name", "description", "tag", "incremental", "parent_id", "selection": {"keyspaces", "tables", "include", "exclude"}, "options": {"throttle_bytes_per_sec", "excluded_nodes", "force"}, "destination_id", "copy_to": [regions], "copy_to_destinations": [destination ids], "plan_id"}`. A field not listed is refused (400).
    #[oai(path = "/backups", method = "post", operation_id = "admin_start_backup", tag = "EngineTag::Backups")]
    async fn start_backup(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Accepted> {
        let spec: BackupSpec = parse("backup request", body.0)?;
        let (op, backup) = state.engine.start_backup(caller.principal(), spec).await?;
        Ok(Accepted::Accepted(Json(json!({ "operation": op, "backup": backup }))))
    }

    /// Lists backups, newest first, optionally of one source: `limit` of them (100 unless given, at
    /// most 1,000), after the backup `marker` when given (the last id of the previous page). Each
    /// lists in `copies` the destinations holding a copy of it besides its own `destination_id`.
    #[oai(path = "/backups", method = "get", operation_id = "admin_list_backups", tag = "EngineTag::Backups")]
    async fn list_backups(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        source_id: Query<Option<Uuid>>,
        limit: Query<Option<u64>>,
        marker: Query<Option<Uuid>>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let after = match marker.0 {
            Some(id) => Some(state.engine.backup_cursor(p, id).await?.ok_or_else(|| CoreError::not_found("backup", id.to_string()))?),
            None => None,
        };
        let page = BackupPage { source_id: source_id.0, after, limit: Some(limit.0.unwrap_or(100).clamp(1, 1000)), ..Default::default() };
        let backups = state.engine.backups_page(p, &page).await?;
        let mut copies = state.engine.backup_copies_of_many(p, &backups).await?;
        let listed = backups
            .into_iter()
            .map(|b| {
                let mut v = value(&b);
                v["copies"] = value(&copies.remove(&b.id).unwrap_or_default());
                v
            })
            .collect();
        Ok(Json(Value::Array(listed)))
    }

    /// One backup with its per-node parts.
    #[oai(path = "/backups/:id", method = "get", operation_id = "admin_get_backup", tag = "EngineTag::Backups")]
    async fn get_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<Value>> {
        let backup = state.engine.backup(caller.principal(), id.0).await?;
        let nodes = state.engine.backup_nodes(caller.principal(), id.0).await?;
        let mut v = value(&backup);
        v["nodes"] = value(&nodes);
        v["copies"] = value(&state.engine.backup_copies(caller.principal(), id.0).await?);
        Ok(Json(v))
    }

    /// Deletes a backup and its incrementals; chunks no other backup uses are removed.
    #[oai(path = "/backups/:id", method = "delete", operation_id = "admin_delete_backup", tag = "EngineTag::Backups")]
    async fn delete_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Accepted> {
        Ok(Accepted::Accepted(Json(value(&state.engine.delete_backup(caller.principal(), id.0).await?))))
    }

    /// Re-reads every chunk of a backup and checks its hash.
    #[oai(path = "/backups/:id/verify", method = "post", operation_id = "admin_verify_backup", tag = "EngineTag::Backups")]
    async fn verify_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Accepted> {
        Ok(Accepted::Accepted(Json(value(&state.engine.start_verify(caller.principal(), id.0).await?))))
    }

    /// Restores a backup: `{"target": {"type": "same_nodes", "truncate", "truncate_only", "keyspace_renames"} | {"type": "new_cluster", "name", "locations", "all_tables"} | {"type": "path", "path", "agent", "overwrite"} | {"type": "new_instance", "name", "flavor", "flavor_ram_mb", "volume_gb"}, "selection", "options", "destination_id"}`.
    #[oai(path = "/backups/:id/restore", method = "post", operation_id = "admin_restore_backup", tag = "EngineTag::Backups")]
    async fn restore_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>, body: Json<Value>) -> poem::Result<Accepted> {
        // What the path names is found before the body is read: another tenant's id is 404 whatever the body.
        state.engine.backup(caller.principal(), id.0).await?;
        let op = state.engine.start_restore(caller.principal(), restore_spec(id.0, &body.0, &[])?).await?;
        Ok(Accepted::Accepted(Json(value(&op))))
    }

    /// Copies a backup to another destination (`{"destination_id"}`) or region (`{"region": "IAD"}`); only chunks the target lacks travel.
    #[oai(path = "/backups/:id/copy", method = "post", operation_id = "admin_copy_backup", tag = "EngineTag::Backups")]
    async fn copy_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>, body: Json<Value>) -> poem::Result<Accepted> {
        state.engine.backup(caller.principal(), id.0).await?;
        only_fields("copy request", &body.0, &["destination_id", "region"])?;
        let to = match (body.0.get("destination_id").and_then(Value::as_str), body.0.get("region").and_then(Value::as_str)) {
            (Some(d), _) => Uuid::parse_str(d).map_err(|_| CoreError::BadRequest(format!("'{d}' is not a destination id")))?,
            (None, Some(region)) => state.engine.region_destination(caller.principal(), region).await?,
            (None, None) => return Err(CoreError::BadRequest("give destination_id or region".into()).into()),
        };
        Ok(Accepted::Accepted(Json(value(&state.engine.start_copy(caller.principal(), id.0, to).await?))))
    }

    /// Lists the destinations the caller may use (the server's own, regions, and the tenant's); secrets are redacted.
    #[oai(path = "/destinations", method = "get", operation_id = "admin_list_destinations", tag = "EngineTag::Destinations")]
    async fn list_destinations(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let rows = state.engine.destinations(caller.principal()).await?;
        Ok(Json(Value::Array(rows.into_iter().map(|r| destination_json(&state, r)).collect())))
    }

    /// Adds a destination after writing, reading and deleting a probe object in it: `{"name", "kind": "localfs|s3|azure", "path", "region", "endpoint", "path_style", "access_key", "secret", "server_side_encryption", "storage_account_name", "container_name", "subfolder", "use_emulator", "throttle_bytes_per_second", "retention": {"keep_last", "max_age_secs"}}`.
    #[oai(path = "/destinations", method = "post", operation_id = "admin_add_destination", tag = "EngineTag::Destinations")]
    async fn add_destination(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Created> {
        let spec = destination_spec(body.0)?;
        let row = state.engine.add_destination(caller.principal(), spec).await?;
        Ok(Created::Created(Json(destination_json(&state, row))))
    }

    /// One destination; its secret is redacted.
    #[oai(path = "/destinations/:id", method = "get", operation_id = "admin_get_destination", tag = "EngineTag::Destinations")]
    async fn get_destination(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<Value>> {
        let row = state.engine.destination_row(caller.principal(), id.0).await?;
        Ok(Json(destination_json(&state, row)))
    }

    /// Replaces a destination's settings (the secret is kept unless a new one is given), validating it again.
    #[oai(path = "/destinations/:id", method = "put", operation_id = "admin_update_destination", tag = "EngineTag::Destinations")]
    async fn update_destination(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: Json<Value>,
    ) -> poem::Result<Json<Value>> {
        state.engine.destination_row(caller.principal(), id.0).await?;
        let spec = destination_spec(body.0)?;
        let row = state.engine.update_destination(caller.principal(), id.0, spec).await?;
        Ok(Json(destination_json(&state, row)))
    }

    /// Removes a destination that holds no backup.
    #[oai(path = "/destinations/:id", method = "delete", operation_id = "admin_delete_destination", tag = "EngineTag::Destinations")]
    async fn delete_destination(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<NoContent> {
        state.engine.delete_destination(caller.principal(), id.0).await?;
        Ok(NoContent::Done)
    }

    /// Creates a plan: `{"source_id", "name", "schedule": {"type": "interval", "first_run", "every_secs", "timezone"} | {"type": "calendar", "frequency": "hourly|daily|weekly", "hour", "minute", "day_of_week", "utc_offset_minutes", "timezone"}, "retention": {"keep_last", "max_age_secs"}, "selection", "options", "destination_id", "enabled", "annotations"}`.
    #[oai(path = "/plans", method = "post", operation_id = "admin_create_plan", tag = "EngineTag::Plans")]
    async fn create_plan(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Created> {
        let spec = plan_spec(body.0)?;
        Ok(Created::Created(Json(value(&state.engine.create_plan(caller.principal(), spec).await?))))
    }

    /// Lists the tenant's plans with their next run.
    #[oai(path = "/plans", method = "get", operation_id = "admin_list_plans", tag = "EngineTag::Plans")]
    async fn list_plans(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        Ok(Json(value(&state.engine.plans(caller.principal()).await?)))
    }

    #[oai(path = "/plans/:id", method = "get", operation_id = "admin_get_plan", tag = "EngineTag::Plans")]
    async fn get_plan(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<Value>> {
        Ok(Json(value(&state.engine.plan(caller.principal(), id.0).await?)))
    }

    /// Replaces a plan; its next run is computed again.
    #[oai(path = "/plans/:id", method = "put", operation_id = "admin_update_plan", tag = "EngineTag::Plans")]
    async fn update_plan(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>, body: Json<Value>) -> poem::Result<Json<Value>> {
        state.engine.plan(caller.principal(), id.0).await?;
        let spec = plan_spec(body.0)?;
        Ok(Json(value(&state.engine.update_plan(caller.principal(), id.0, spec).await?)))
    }

    #[oai(path = "/plans/:id", method = "delete", operation_id = "admin_delete_plan", tag = "EngineTag::Plans")]
    async fn delete_plan(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<NoContent> {
        state.engine.delete_plan(caller.principal(), id.0).await?;
        Ok(NoContent::Done)
    }

    /// Applies every plan's retention now; answers how many backups are being deleted.
    #[oai(path = "/prune", method = "post", operation_id = "admin_prune", tag = "EngineTag::Plans")]
    async fn prune(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        Ok(Json(json!({ "deleting": state.engine.prune(caller.principal()).await? })))
    }

    /// Lists operations, newest first.
    #[oai(path = "/operations", method = "get", operation_id = "admin_list_operations", tag = "EngineTag::Operations")]
    async fn list_operations(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        limit: Query<Option<u64>>,
        /// Only these kinds, comma separated (`backup,restore`); every kind when absent.
        kind: Query<Option<String>>,
    ) -> poem::Result<Json<Value>> {
        let kinds = kind
            .0
            .iter()
            .flat_map(|k| k.split(','))
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.trim().parse::<OperationKind>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::BadRequest)?;
        Ok(Json(value(&state.engine.operations(caller.principal(), &kinds, limit.0.unwrap_or(100).min(1000)).await?)))
    }

    /// One operation with its per-node tasks and their progress.
    #[oai(path = "/operations/:id", method = "get", operation_id = "admin_get_operation", tag = "EngineTag::Operations")]
    async fn get_operation(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<Value>> {
        let op = state.engine.operation(caller.principal(), id.0).await?;
        let tasks = state.engine.tasks(caller.principal(), id.0).await?;
        let mut v = value(&op);
        v["tasks"] = value(&tasks);
        Ok(Json(v))
    }

    /// Asks an operation to stop.
    #[oai(path = "/operations/:id/cancel", method = "post", operation_id = "admin_cancel_operation", tag = "EngineTag::Operations")]
    async fn cancel_operation(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Accepted> {
        Ok(Accepted::Accepted(Json(value(&state.engine.cancel(caller.principal(), id.0).await?))))
    }

    /// The activity log, newest first.
    #[oai(path = "/events", method = "get", operation_id = "admin_list_events", tag = "EngineTag::Operations")]
    async fn list_events(&self, state: Data<&AppState>, caller: Caller, limit: Query<Option<u64>>) -> poem::Result<Json<Value>> {
        Ok(Json(value(&state.engine.events(caller.principal(), limit.0.unwrap_or(100).min(1000)).await?)))
    }
}
