//! Backups of a configuration: started and stopped by action, followed by id, listed when
//! completed, and reported on (counts, sizes, duration, per-file errors).

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Value, json};

use super::{
    configurations::{configurations, plan_by_alias},
    date, duration, int_id, machine_agent,
};
use crate::{
    api::common::security::Caller,
    domain::{backup::Backup, identity::Principal, state::State},
    engine::{BackupPage, BackupSpec},
    error::CoreError,
    persistence::identity as ids,
    state::AppState,
};

#[derive(Tags)]
enum BackupTag {
    /// Backups of configurations.
    Backups,
}

pub struct BackupsApi;

#[derive(ApiResponse)]
enum Action {
    /// The new backup's id, a bare integer.
    #[oai(status = 200)]
    Started(Json<i64>),
    /// Stop requested.
    #[oai(status = 204)]
    Stopped,
}

/// Cloud Backup's word for a backup's state.
pub(super) fn current_state(state: State) -> &'static str {
    match state {
        State::Queued => "Queued",
        State::Running => "InProgress",
        State::Cancelling => "StopRequested",
        State::Succeeded | State::DeleteFailed => "Completed",
        State::SucceededWithErrors => "CompletedWithErrors",
        State::Failed => "Failed",
        State::Cancelled => "Stopped",
        State::Missed => "Missed",
        State::Skipped => "Skipped",
    }
}

/// Bytes as the service writes them ("3.7 GB").
pub(super) fn size(bytes: i64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

pub(super) async fn backup_by_alias(state: &AppState, p: &Principal, id: &str) -> Result<Backup, CoreError> {
    let not_found = || CoreError::not_found("backup", id);
    let uuid = ids::resolve_alias(&state.db, "backup", int_id(id, "backup")?).await?.ok_or_else(not_found)?;
    state.engine.backup(p, uuid).await.map_err(|_| not_found())
}

/// What the answers about one machine's backups share: its agent, and the configuration's alias and
/// name (the backup's own name for a backup no configuration made).
struct Origin {
    agent: (String, Option<i64>),
    configuration: Option<(i64, String)>,
}

impl Origin {
    async fn of(state: &AppState, p: &Principal, b: &Backup) -> Result<Origin, CoreError> {
        let configuration = match b.plan_id {
            Some(plan) => Some((
                ids::alias_for(&state.db, "configuration", plan).await?,
                state.engine.plan(p, plan).await.map(|p| p.name).unwrap_or_default(),
            )),
            None => None,
        };
        Ok(Origin { agent: machine_agent(state, p, b.source_id).await?, configuration })
    }

    /// The fields every backup answer shares: ids, configuration, machine.
    fn fields(&self, state: &AppState, b: &Backup, backup_alias: i64) -> serde_json::Map<String, Value> {
        let region = state.settings.regions.first().cloned().unwrap_or_else(|| "DFW".into());
        let (config_id, config_name) = match &self.configuration {
            Some((id, name)) => (Some(*id), name.clone()),
            None => (None, b.name.clone()),
        };
        let mut out = serde_json::Map::new();
        out.insert("BackupId".into(), json!(backup_alias));
        out.insert("BackupConfigurationId".into(), json!(config_id));
        out.insert("BackupConfigurationName".into(), json!(config_name));
        out.insert("MachineAgentId".into(), json!(self.agent.1));
        out.insert("MachineName".into(), json!(self.agent.0));
        out.insert("Datacenter".into(), json!(region));
        out.insert("BackupDatacenter".into(), json!(region));
        out
    }
}

/// The fields every backup answer shares, for one backup.
async fn common(state: &AppState, p: &Principal, b: &Backup) -> Result<serde_json::Map<String, Value>, CoreError> {
    let origin = Origin::of(state, p, b).await?;
    Ok(origin.fields(state, b, ids::alias_for(&state.db, "backup", b.id).await?))
}

#[OpenApi(tag = "BackupTag::Backups")]
impl BackupsApi {
    /// `{"Action": "StartManual", "Id": configurationId}` answers the new backup's id;
    /// `{"Action": "StopManual", "Id": backupId}` asks a running backup to stop (204).
    #[oai(path = "/v1.0/backup/action-requested", method = "post", operation_id = "cloudbackup_backup_action")]
    async fn action(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Action> {
        let p = caller.principal();
        let id = match super::int(body.0.get("Id"), "Id")? {
            Some(id) => id.to_string(),
            None => return Err(CoreError::BadRequest("Id is required".into()).into()),
        };
        match body.0.get("Action").and_then(Value::as_str) {
            Some("StartManual") => {
                let plan = plan_by_alias(&state, p, &id).await?;
                let spec = BackupSpec::for_plan(&plan);
                let (_, backup) = state.engine.start_backup(p, spec).await?;
                Ok(Action::Started(Json(ids::alias_for(&state.db, "backup", backup.id).await?)))
            }
            Some("StopManual") => {
                let backup = backup_by_alias(&state, p, &id).await?;
                let op = backup.operation_id.ok_or_else(|| CoreError::Unprocessable("the backup has no running operation".into()))?;
                state.engine.cancel(p, op).await?;
                Ok(Action::Stopped)
            }
            other => {
                Err(CoreError::BadRequest(format!("Action must be StartManual or StopManual, not {}", other.unwrap_or("missing"))).into())
            }
        }
    }

    /// The configurations with at least one backup to restore from.
    #[oai(path = "/v1.0/backup/availableforrestore", method = "get", operation_id = "cloudbackup_available_for_restore")]
    async fn available(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let mut out = Vec::new();
        for plan in configurations(&state, p).await? {
            let Some(last) = state.engine.last_completion(p, plan.source_id, Some(plan.id)).await? else { continue };
            let (machine, agent) = machine_agent(&state, p, plan.source_id).await?;
            out.push(json!({
                "BackupConfigurationId": ids::alias_for(&state.db, "configuration", plan.id).await?,
                "BackupConfigurationName": plan.name,
                "MachineName": machine,
                "MachineAgentId": agent,
                "IsEncrypted": state.settings.store_key.is_some(),
                "PublicKeyHex": "",
                "PublicKeyMod": "",
                "Flavor": "RaxCloudServer",
                "LastSuccessfulBackupTime": date(last),
            }));
        }
        Ok(Json(json!(out)))
    }

    /// A backup's state.
    #[oai(path = "/v1.0/backup/:id", method = "get", operation_id = "cloudbackup_backup")]
    async fn get(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let b = backup_by_alias(&state, p, &id).await?;
        let mut out = common(&state, p, &b).await?;
        out.insert("CurrentState".into(), json!(current_state(b.state)));
        out.insert("StateChangeTime".into(), json!(date(b.updated_at)));
        out.insert("IsEncrypted".into(), json!(state.settings.store_key.is_some()));
        out.insert("EncryptionKey".into(), json!({ "ModulusHex": "", "ExponentHex": "" }));
        Ok(Json(Value::Object(out)))
    }

    /// The completed (restorable) backups of a configuration, newest first.
    #[oai(path = "/v1.0/backup/completed/:configuration_id", method = "get", operation_id = "cloudbackup_completed_backups")]
    async fn completed(&self, state: Data<&AppState>, caller: Caller, configuration_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &configuration_id).await?;
        // Cloud Backup has no pages here: the list is every complete backup of the configuration.
        let page = BackupPage { source_id: Some(plan.source_id), plan_id: Some(Some(plan.id)), complete_only: true, ..Default::default() };
        let backups = state.engine.backups_page(p, &page).await?;
        let Some(first) = backups.first() else { return Ok(Json(json!([]))) };
        // One configuration on one machine: what the rows share is read once, the rest in batches.
        let origin = Origin::of(&state, p, first).await?;
        let details = state.engine.backup_details(p, &backups).await?;
        let aliases = ids::aliases_for(&state.db, "backup", &backups.iter().map(|b| b.id).collect::<Vec<_>>()).await?;
        let mut out = Vec::with_capacity(backups.len());
        for b in &backups {
            let errors: usize = details.nodes_of(b.id).iter().map(|n| n.detail["errors"].as_array().map_or(0, Vec::len)).sum();
            let mut row = origin.fields(&state, b, aliases[&b.id]);
            row.insert("CompletedTime".into(), json!(b.completed_at.map(date)));
            row.insert("BytesSearched".into(), json!(b.size_bytes));
            row.insert("NumErrors".into(), json!(errors));
            out.push(Value::Object(row));
        }
        Ok(Json(json!(out)))
    }

    /// What a backup searched and stored, how long it took, and each file it could not read.
    #[oai(path = "/v1.0/backup/report/:id", method = "get", operation_id = "cloudbackup_backup_report")]
    async fn report(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let b = backup_by_alias(&state, p, &id).await?;
        let parts = state.engine.backup_nodes(p, b.id).await?;
        // Paths in the backup are relative to the machine's root; the report names them as the machine does.
        let root = state.engine.source(p, b.source_id).await?.nodes.first().map(|n| n.location.clone()).unwrap_or_default();
        let absolute =
            |rel: &Value| Value::String(std::path::Path::new(&root).join(rel.as_str().unwrap_or_default()).display().to_string());
        let report_id = ids::alias_for(&state.db, "backup", b.id).await?;
        let errors: Vec<Value> = parts
            .iter()
            .flat_map(|n| n.detail["errors"].as_array().cloned().unwrap_or_default())
            .enumerate()
            .map(|(i, e)| {
                json!({
                    "BackupReportID": report_id,
                    "ListIndex": i,
                    "ErrorType": "File",
                    "ErrorDesc": e["message"],
                    "ExceptionDesc": e["message"],
                    "ExceptionDetails": "",
                    "ExceptionCode": 0,
                    "Path": absolute(&e["path"]),
                })
            })
            .collect();
        let started = b.created_at;
        let mut out = common(&state, p, &b).await?;
        out.insert("BackupConfigurationIsDeleted".into(), json!(b.plan_id.is_none()));
        out.insert("ComputerName".into(), out["MachineName"].clone());
        out.insert("State".into(), json!(current_state(b.state)));
        out.insert("CanRestore".into(), json!(b.state.is_success()));
        out.insert("StartTime".into(), json!(date(started)));
        out.insert("CompletedTime".into(), json!(b.completed_at.map(date)));
        out.insert("Duration".into(), json!(duration(started, b.completed_at)));
        out.insert("FilesSearched".into(), json!(b.file_count.to_string()));
        out.insert("BytesSearched".into(), json!(size(b.size_bytes)));
        out.insert("FilesBackedUp".into(), json!(b.file_count.to_string()));
        out.insert("BytesBackedUp".into(), json!(size(b.stored_bytes)));
        out.insert("NumErrors".into(), json!(errors.len()));
        // The seed's own example of a CompletedWithErrors report still says "Success" here and
        // leaves the errors to Diagnostics; a reason that contradicts the state misleads, so it is
        // the state unless every file was backed up.
        let reason = if b.state == State::Succeeded { "Success" } else { current_state(b.state) };
        out.insert("Reason".into(), json!(reason));
        let diagnostics = match (&b.error, b.state) {
            (Some(error), _) => error.clone(),
            (None, State::SucceededWithErrors) => format!("Completed With Errors: {} file(s) could not be read", errors.len()),
            (None, State::Succeeded) => "No errors".to_owned(),
            (None, _) => String::new(),
        };
        out.insert("Diagnostics".into(), json!(diagnostics));
        out.insert("ErrorList".into(), json!(errors));
        out.insert("SnapshotId".into(), json!(report_id));
        Ok(Json(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_the_service_writes_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3_972_844_749), "3.7 GB");
        assert_eq!(size(186_750_000), "178.1 MB");
    }
}
