//! Restores: prepared (backup, destination agent and directory, overwrite choice), narrowed by
//! file filters, then started and stopped by action and followed by id and report. Each is an
//! engine restore draft; starting it runs an ordinary restore operation.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Map, Value, json};

use super::{agent_by_alias, backups::backup_by_alias, backups::size, boolean, date, duration, int, int_id, machine_agent, object, text};
use crate::{
    api::common::security::Caller,
    domain::{
        backup::{RestoreDraft, RestoreFile},
        identity::Principal,
        state::State,
    },
    error::CoreError,
    persistence::identity as ids,
    state::AppState,
};

#[derive(Tags)]
enum RestoreTag {
    /// Restores of completed backups to a directory on an agent.
    Restores,
}

pub struct RestoresApi;

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 200)]
    Ok,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Done, nothing to say.
    #[oai(status = 204)]
    NoContent,
}

/// Cloud Backup's number for a restore's state (0 until it starts).
pub(super) fn restore_state_id(state: Option<State>) -> i64 {
    match state {
        None => 0,
        Some(State::Queued) => 1,
        Some(State::Running) => 2,
        Some(State::Succeeded) => 3,
        Some(State::Cancelled) => 4,
        Some(State::Cancelling) => 7,
        Some(State::SucceededWithErrors) => 8,
        Some(State::Failed | State::Missed | State::Skipped | State::DeleteFailed) => 5,
    }
}

/// The words beside the numbers.
pub(super) fn restore_state_name(state: Option<State>) -> &'static str {
    ["Creating", "Queued", "InProgress", "Completed", "Stopped", "Failed", "StartRequested", "StopRequested", "CompletedWithErrors"]
        [restore_state_id(state) as usize]
}

async fn draft_by_alias(state: &AppState, p: &Principal, id: &str) -> Result<RestoreDraft, CoreError> {
    let not_found = || CoreError::not_found("restore", id);
    let uuid = ids::resolve_alias(&state.db, "restore", int_id(id, "restore")?).await?.ok_or_else(not_found)?;
    state.engine.restore_draft(p, uuid).await.map_err(|_| not_found())
}

fn body_id(body: &Map<String, Value>, name: &str) -> Result<i64, CoreError> {
    int(body.get(name), name)?.ok_or_else(|| CoreError::BadRequest(format!("{name} is required")))
}

/// A file filter as the service lists it.
fn file_view(restore_id: i64, f: &RestoreFile) -> Value {
    json!({
        "FilePath": f.path,
        "Filter": if f.exclude { 2 } else { 1 },
        "RestoreId": restore_id,
        "FileItemType": if f.folder { 1 } else { 0 },
    })
}

/// A restore with every field the SDK reads.
async fn view(state: &AppState, p: &Principal, d: &RestoreDraft) -> Result<Value, CoreError> {
    let restore_id = ids::alias_for(&state.db, "restore", d.id).await?;
    let backup = state.engine.backup(p, d.backup_id).await?;
    let (source_name, source_agent) = machine_agent(state, p, backup.source_id).await?;
    let destination = state.engine.agent_of(p, d.agent_id).await.ok();
    let destination_id = ids::alias_for(&state.db, "agent", d.agent_id).await?;
    let (config_id, config_name) = match backup.plan_id {
        Some(plan) => (
            Some(ids::alias_for(&state.db, "configuration", plan).await?),
            state.engine.plan(p, plan).await.map(|p| p.name).unwrap_or_default(),
        ),
        None => (None, backup.name.clone()),
    };
    let op_state = match d.operation_id {
        Some(op) => Some(state.engine.operation(p, op).await?.state),
        None => None,
    };
    let region = state.settings.regions.first().cloned().unwrap_or_else(|| "DFW".into());
    Ok(json!({
        "RestoreId": restore_id,
        "BackupId": ids::alias_for(&state.db, "backup", backup.id).await?,
        "BackupMachineId": source_agent,
        "BackupMachineName": source_name,
        "BackupFlavor": "RaxCloudServer",
        "BackupConfigurationId": config_id,
        "BackupConfigurationName": config_name,
        "BackupRestorePoint": backup.completed_at.map(date),
        "BackupDataCenter": region,
        "DestinationMachineId": destination_id,
        "DestinationMachineName": destination.map(|a| a.name).unwrap_or_default(),
        "DestinationPath": d.path,
        "OverwriteFiles": d.overwrite,
        "MachineAgentId": destination_id,
        "IsEncrypted": state.settings.store_key.is_some(),
        "EncryptedPassword": null,
        "PublicKey": { "ModulusHex": "", "ExponentHex": "" },
        "RestoreStateId": restore_state_id(op_state),
        "Inclusions": d.files.iter().filter(|f| !f.exclude).map(|f| file_view(restore_id, f)).collect::<Vec<_>>(),
        "Exclusions": d.files.iter().filter(|f| f.exclude).map(|f| file_view(restore_id, f)).collect::<Vec<_>>(),
    }))
}

/// The agent, directory and overwrite choice a create or update body names.
async fn placement(state: &AppState, p: &Principal, body: &Map<String, Value>) -> Result<(uuid::Uuid, String, bool), CoreError> {
    let agent = agent_by_alias(state, p, &body_id(body, "DestinationMachineId")?.to_string()).await?;
    let path = text(body.get("DestinationPath"));
    if path.trim().is_empty() {
        return Err(CoreError::BadRequest("DestinationPath is required".into()));
    }
    Ok((agent.id, path, boolean(body.get("OverwriteFiles"))))
}

#[OpenApi(tag = "RestoreTag::Restores")]
impl RestoresApi {
    /// Prepares a restore of a completed backup (`BackupId`) into `DestinationPath` on the agent
    /// `DestinationMachineId`; `RestoreStateId` is 0 until it is started.
    #[oai(path = "/v1.0/restore", method = "put", operation_id = "cloudbackup_create_restore")]
    async fn create(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let body = object(body.0)?;
        let backup = backup_by_alias(&state, p, &body_id(&body, "BackupId")?.to_string()).await?;
        let (agent, path, overwrite) = placement(&state, p, &body).await?;
        let draft = state.engine.prepare_restore(p, backup.id, agent, &path, overwrite).await?;
        Ok(Json(view(&state, p, &draft).await?))
    }

    /// Changes a restore before it starts (204).
    #[oai(path = "/v1.0/restore", method = "post", operation_id = "cloudbackup_update_restore")]
    async fn update(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let body = object(body.0)?;
        let mut draft = draft_by_alias(&state, p, &body_id(&body, "RestoreId")?.to_string()).await?;
        (draft.agent_id, draft.path, draft.overwrite) = placement(&state, p, &body).await?;
        state.engine.update_restore_draft(p, draft).await?;
        Ok(Accepted::NoContent)
    }

    /// `{"Action": "StartManual" | "StopManual", "Id": restoreId}` (204).
    #[oai(path = "/v1.0/restore/action-requested", method = "post", operation_id = "cloudbackup_restore_action")]
    async fn action(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let body = object(body.0)?;
        let id = body_id(&body, "Id")?.to_string();
        match body.get("Action").and_then(Value::as_str) {
            Some("StartManual") => {
                let draft = draft_by_alias(&state, p, &id).await?;
                if draft.operation_id.is_some() {
                    return Err(CoreError::Unprocessable(format!(
                        "restore {id} has already been started; create a new one to restore again"
                    ))
                    .into());
                }
                state.engine.start_restore_draft(p, draft.id).await?;
            }
            Some("StopManual") => {
                let draft = draft_by_alias(&state, p, &id).await?;
                let op = draft.operation_id.ok_or_else(|| CoreError::Unprocessable(format!("restore {id} has not started")))?;
                state.engine.cancel(p, op).await?;
            }
            other => {
                return Err(
                    CoreError::BadRequest(format!("Action must be StartManual or StopManual, not {}", other.unwrap_or("missing"))).into()
                );
            }
        }
        Ok(Accepted::NoContent)
    }

    /// A restore and its state (`RestoreStateId`).
    #[oai(path = "/v1.0/restore/:id", method = "get", operation_id = "cloudbackup_restore")]
    async fn get(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &id).await?;
        Ok(Json(view(&state, p, &draft).await?))
    }

    /// What a restore wrote, how long it took, and why it ended.
    #[oai(path = "/v1.0/restore/report/:id", method = "get", operation_id = "cloudbackup_restore_report")]
    async fn report(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &id).await?;
        let restore = view(&state, p, &draft).await?;
        let (op, tasks) = match draft.operation_id {
            Some(op) => (Some(state.engine.operation(p, op).await?), state.engine.tasks(p, op).await?),
            None => (None, vec![]),
        };
        let sum = |key: &str| tasks.iter().map(|t| t.result[key].as_i64().unwrap_or(0)).sum::<i64>();
        let errors: Vec<Value> = tasks
            .iter()
            .filter_map(|t| t.error.as_ref().map(|e| (t, e)))
            .enumerate()
            .map(|(i, (t, e))| json!({ "ListIndex": i, "ErrorType": "Restore", "ErrorDesc": e, "Path": t.node_name }))
            .collect();
        let op_state = op.as_ref().map(|o| o.state);
        let reason = match op_state {
            Some(State::Succeeded) => "Success".to_owned(),
            _ => op.as_ref().and_then(|o| o.error.clone()).unwrap_or_else(|| restore_state_name(op_state).to_owned()),
        };
        Ok(Json(json!({
            "RestoreId": restore["RestoreId"],
            "BackupConfigurationId": restore["BackupConfigurationId"],
            "BackupConfigurationName": restore["BackupConfigurationName"],
            "BackupReportId": restore["BackupId"],
            "RestorePoint": restore["BackupRestorePoint"],
            "StartTime": op.as_ref().and_then(|o| o.started_at).map(date),
            "CompletedTime": op.as_ref().and_then(|o| o.finished_at).map(date),
            "Duration": op.as_ref().map(|o| duration(o.started_at.unwrap_or(o.created_at), o.finished_at)).unwrap_or_else(|| "00:00:00".into()),
            "OriginatingComputerName": restore["BackupMachineName"],
            "State": restore_state_name(op_state),
            "NumFilesRestored": sum("files").to_string(),
            "NumBytesRestored": size(sum("bytes")),
            "NumFilesSkipped": sum("skipped").to_string(),
            "RestoreDestination": restore["DestinationPath"],
            "RestoreDestinationMachineId": restore["DestinationMachineId"],
            "RestoreDestinationMachineName": restore["DestinationMachineName"],
            "NumErrors": errors.len().to_string(),
            "Reason": reason,
            "Diagnostics": if errors.is_empty() { "No errors".to_owned() } else { format!("{} error(s)", errors.len()) },
            "ErrorList": errors,
        })))
    }

    /// Adds a path to include (`Filter` 1) or leave out (2); `FileItemType` 0 is a file, 1 a folder.
    #[oai(path = "/v1.0/restore/files", method = "put", operation_id = "cloudbackup_add_restore_file")]
    async fn add_file(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Done> {
        let p = caller.principal();
        let body = object(body.0)?;
        let draft = draft_by_alias(&state, p, &body_id(&body, "ParentId")?.to_string()).await?;
        let exclude = match int(body.get("Filter"), "Filter")?.unwrap_or(1) {
            1 => false,
            2 => true,
            other => return Err(CoreError::BadRequest(format!("Filter is 1 (include) or 2 (exclude), not {other}")).into()),
        };
        let folder = match int(body.get("FileItemType"), "FileItemType")?.unwrap_or(1) {
            0 => false,
            1 => true,
            other => return Err(CoreError::BadRequest(format!("FileItemType is 0 (file) or 1 (folder), not {other}")).into()),
        };
        let path = text(body.get("FilePath")).trim().to_owned();
        state.engine.add_restore_file(p, draft.id, RestoreFile { path, folder, exclude }).await?;
        Ok(Done::Ok)
    }

    /// The paths a restore includes and leaves out.
    #[oai(path = "/v1.0/restore/files/:id", method = "get", operation_id = "cloudbackup_restore_files")]
    async fn files(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &id).await?;
        let restore_id = ids::alias_for(&state.db, "restore", draft.id).await?;
        Ok(Json(json!(draft.files.iter().map(|f| file_view(restore_id, f)).collect::<Vec<_>>())))
    }

    /// Forgets a restore's file filters (204).
    #[oai(path = "/v1.0/restore/files/:id", method = "delete", operation_id = "cloudbackup_clear_restore_files")]
    async fn clear_files(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let mut draft = draft_by_alias(&state, p, &id).await?;
        draft.files.clear();
        state.engine.update_restore_draft(p, draft).await?;
        Ok(Accepted::NoContent)
    }
}
