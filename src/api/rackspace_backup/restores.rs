//! Restores: prepared (backup, destination agent and directory, overwrite choice), narrowed by
//! file filters, then started and stopped by action and followed by id and report. Each is an
//! engine restore draft; starting it runs an ordinary restore operation.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};

use super::{
    agent_by_alias,
    backups::{backup_by_alias, live_state, report_error, size},
    date, duration, int_id, machine_agent,
    models::{
        ActionKind, CreateRestore, CurrentState, EncryptionKey, PathId, ReportError, Restore, RestoreAction, RestoreFile,
        RestoreFileItemType, RestoreFileRequest, RestoreFilter, RestoreReport, RestoreStateId, UpdateRestore,
    },
    region, state_conflict,
};
use crate::{
    api::common::security::Caller,
    domain::{
        backup::{self, RestoreDraft},
        identity::Principal,
        operation::{Operation, Task},
        state::State,
    },
    error::CoreError,
    persistence::aliases as ids,
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

/// A restore's number from its operation's state alone (activity rows): 0 until it starts.
pub(super) fn restore_state_id(state: Option<State>) -> RestoreStateId {
    match state {
        None => RestoreStateId::Creating,
        Some(State::Queued) => RestoreStateId::Queued,
        Some(State::Running) => RestoreStateId::InProgress,
        Some(State::Succeeded) => RestoreStateId::Completed,
        Some(State::Cancelled) => RestoreStateId::Stopped,
        Some(State::Cancelling) => RestoreStateId::StopRequested,
        Some(State::SucceededWithErrors) => RestoreStateId::CompletedWithErrors,
        Some(State::Failed | State::Missed | State::Skipped | State::DeleteFailed) => RestoreStateId::Failed,
    }
}

/// A restore's number as its agent's work shows it: StartRequested (6) until the agent takes it,
/// Preparing (9) while it reads the backup's file list, InProgress (2) while it writes.
fn live_restore_state(op: Option<&Operation>, tasks: &[Task]) -> RestoreStateId {
    let Some(op) = op else { return RestoreStateId::Creating };
    match live_state(op.state, Some(op), tasks) {
        CurrentState::Queued => RestoreStateId::Queued,
        CurrentState::InProgress => RestoreStateId::InProgress,
        CurrentState::Preparing => RestoreStateId::Preparing,
        CurrentState::StartRequested | CurrentState::StartScheduled => RestoreStateId::StartRequested,
        CurrentState::StopRequested => RestoreStateId::StopRequested,
        CurrentState::Stopped => RestoreStateId::Stopped,
        CurrentState::Completed => RestoreStateId::Completed,
        CurrentState::CompletedWithErrors => RestoreStateId::CompletedWithErrors,
        CurrentState::Failed | CurrentState::Missed | CurrentState::Skipped => RestoreStateId::Failed,
    }
}

/// The restore's operation and tasks, once started.
async fn work_of(state: &AppState, p: &Principal, d: &RestoreDraft) -> Result<(Option<Operation>, Vec<Task>), CoreError> {
    match d.operation_id {
        Some(op) => {
            let op = state.engine.operation(p, op).await?;
            let tasks = state.engine.tasks(p, op.id).await?;
            Ok((Some(op), tasks))
        }
        None => Ok((None, Vec::new())),
    }
}

async fn draft_by_alias(state: &AppState, p: &Principal, id: &str) -> Result<RestoreDraft, CoreError> {
    let not_found = || CoreError::not_found("restore", id);
    let uuid = ids::resolve_alias(&state.db, "restore", int_id(id, "restore")?).await?.ok_or_else(not_found)?;
    state.engine.restore_draft(p, uuid).await.map_err(|_| not_found())
}

/// A file filter as the service lists it.
fn file_view(restore_id: i64, f: &backup::RestoreFile) -> RestoreFile {
    RestoreFile {
        file_path: f.path.clone(),
        filter: if f.exclude { RestoreFilter::Exclude } else { RestoreFilter::Include },
        restore_id,
        file_item_type: if f.folder { RestoreFileItemType::Folder } else { RestoreFileItemType::File },
    }
}

/// A restore with every field the SDK reads.
async fn view(state: &AppState, p: &Principal, d: &RestoreDraft, op: Option<&Operation>, tasks: &[Task]) -> Result<Restore, CoreError> {
    let restore_id = ids::alias_for(&state.db, "restore", d.id).await?;
    let backup = state.engine.backup(p, d.backup_id).await?;
    let (source_name, source_agent) = machine_agent(state, p, backup.source_id).await?;
    let destination = state.engine.agent_of(p, d.agent_id).await.ok();
    let destination_id = ids::alias_for(&state.db, "agent", d.agent_id).await?;
    let (config_id, config_name) = match backup.plan_id {
        Some(plan) => (
            Some(ids::alias_for(&state.db, "configuration", plan).await?),
            state.engine.plan(p, plan).await.map(|p| p.name).unwrap_or_else(|_| backup.name.clone()),
        ),
        None => (None, backup.name.clone()),
    };
    Ok(Restore {
        restore_id,
        backup_id: ids::alias_for(&state.db, "backup", backup.id).await?,
        backup_machine_id: source_agent,
        backup_machine_name: source_name,
        backup_flavor: "RaxCloudServer".into(),
        backup_configuration_id: config_id,
        backup_configuration_name: config_name,
        backup_restore_point: backup.completed_at.map(date),
        backup_data_center: region(state),
        destination_machine_id: destination_id,
        destination_machine_name: destination.map(|a| a.name).unwrap_or_default(),
        destination_path: d.path.clone(),
        overwrite_files: d.overwrite,
        machine_agent_id: destination_id,
        is_encrypted: state.settings.store_key.is_some(),
        encrypted_password: None,
        public_key: EncryptionKey::none(),
        restore_state_id: live_restore_state(op, tasks),
        inclusions: d.files.iter().filter(|f| !f.exclude).map(|f| file_view(restore_id, f)).collect(),
        exclusions: d.files.iter().filter(|f| f.exclude).map(|f| file_view(restore_id, f)).collect(),
    })
}

/// The agent, directory and overwrite choice a create or update body names, checked against the
/// backup it restores: `BackupMachineId` and `BackupDataCenter`, when given, must be the backup's.
async fn placement(
    state: &AppState,
    p: &Principal,
    body: &CreateRestore,
    backup: &backup::Backup,
) -> Result<(uuid::Uuid, String, bool), CoreError> {
    if let Some(machine) = body.backup_machine_id {
        let (name, agent) = machine_agent(state, p, backup.source_id).await?;
        if agent != Some(machine.0) {
            return Err(CoreError::Conflict(format!(
                "BackupMachineId {} is not the agent of the backed-up machine ('{name}', {})",
                machine.0,
                agent.map_or("gone".into(), |a| a.to_string())
            )));
        }
    }
    if let Some(region_asked) = body.backup_data_center.as_deref().filter(|r| !r.trim().is_empty())
        && !region_asked.eq_ignore_ascii_case(&region(state))
    {
        // A data centre this server does not serve is not found, as any unknown object; one it
        // serves is not where this backup is.
        if !state.settings.regions.iter().any(|known| known.eq_ignore_ascii_case(region_asked)) {
            return Err(CoreError::NotFound { what: "BackupDataCenter (data centre)", id: region_asked.to_owned() });
        }
        return Err(CoreError::Conflict(format!("BackupDataCenter '{region_asked}' is not where the backup is kept ({})", region(state))));
    }
    if !backup.state.is_success() {
        return Err(CoreError::Conflict(format!("backup {} is {}; only complete backups can be restored", body.backup_id.0, backup.state)));
    }
    let agent = agent_by_alias(state, p, &body.destination_machine_id.0.to_string()).await?;
    Ok((agent.id, body.destination_path.clone(), body.overwrite_files.is_some_and(|f| f.0)))
}

#[OpenApi(tag = "RestoreTag::Restores")]
impl RestoresApi {
    /// Prepares a restore of a completed backup (`BackupId`) into `DestinationPath` on the agent
    /// `DestinationMachineId`; `RestoreStateId` is 0 until it is started.
    #[oai(path = "/v1.0/restore", method = "put", operation_id = "cloudbackup_create_restore")]
    async fn create(&self, state: Data<&AppState>, caller: Caller, body: Json<CreateRestore>) -> poem::Result<Json<Restore>> {
        let p = caller.principal();
        let backup = backup_by_alias(&state, p, &body.backup_id.0.to_string()).await?;
        let (agent, path, overwrite) = placement(&state, p, &body, &backup).await?;
        let draft = state.engine.prepare_restore(p, backup.id, agent, &path, overwrite).await?;
        Ok(Json(view(&state, p, &draft, None, &[]).await?))
    }

    /// Changes a restore before it starts (204).
    #[oai(path = "/v1.0/restore", method = "post", operation_id = "cloudbackup_update_restore")]
    async fn update(&self, state: Data<&AppState>, caller: Caller, body: Json<UpdateRestore>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let mut draft = draft_by_alias(&state, p, &body.restore_id.0.to_string()).await?;
        let backup = backup_by_alias(&state, p, &body.restore.backup_id.0.to_string()).await?;
        if backup.id != draft.backup_id {
            return Err(CoreError::Conflict("BackupId cannot change: create a new restore for another backup".into()).into());
        }
        (draft.agent_id, draft.path, draft.overwrite) = placement(&state, p, &body.restore, &backup).await?;
        state.engine.update_restore_draft(p, draft).await?;
        Ok(Accepted::NoContent)
    }

    /// `{"Action": "StartManual" | "StopManual", "Id": restoreId}` (204).
    #[oai(path = "/v1.0/restore/action-requested", method = "post", operation_id = "cloudbackup_restore_action")]
    async fn action(&self, state: Data<&AppState>, caller: Caller, body: Json<RestoreAction>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let id = body.id.0.to_string();
        let draft = draft_by_alias(&state, p, &id).await?;
        match body.action {
            ActionKind::StartManual => {
                if draft.operation_id.is_some() {
                    return Err(
                        CoreError::Conflict(format!("restore {id} has already been started; create a new one to restore again")).into()
                    );
                }
                state.engine.start_restore_draft(p, draft.id).await.map_err(state_conflict)?;
            }
            ActionKind::StopManual => {
                let op = draft.operation_id.ok_or_else(|| CoreError::Conflict(format!("restore {id} has not started")))?;
                state.engine.cancel(p, op).await.map_err(state_conflict)?;
            }
        }
        Ok(Accepted::NoContent)
    }

    /// A restore and its state (`RestoreStateId`).
    #[oai(path = "/v1.0/restore/:id", method = "get", operation_id = "cloudbackup_restore")]
    async fn get(&self, state: Data<&AppState>, caller: Caller, id: Path<PathId>) -> poem::Result<Json<Restore>> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &id).await?;
        let (op, tasks) = work_of(&state, p, &draft).await?;
        Ok(Json(view(&state, p, &draft, op.as_ref(), &tasks).await?))
    }

    /// What a restore wrote, how long it took, and why it ended.
    #[oai(path = "/v1.0/restore/report/:id", method = "get", operation_id = "cloudbackup_restore_report")]
    async fn report(&self, state: Data<&AppState>, caller: Caller, id: Path<PathId>) -> poem::Result<Json<RestoreReport>> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &id).await?;
        let (op, tasks) = work_of(&state, p, &draft).await?;
        let restore = view(&state, p, &draft, op.as_ref(), &tasks).await?;
        let sum = |key: &str| tasks.iter().map(|t| t.result[key].as_i64().unwrap_or(0)).sum::<i64>();
        let errors: Vec<ReportError> = tasks
            .iter()
            .filter_map(|t| t.error.as_ref().map(|e| (t, e)))
            .enumerate()
            .map(|(i, (t, e))| report_error(restore.backup_id, i, e, t.node_name.clone()))
            .collect();
        let state_id = restore.restore_state_id;
        let reason = match op.as_ref().map(|o| o.state) {
            Some(State::Succeeded) => "Success".to_owned(),
            _ => op.as_ref().and_then(|o| o.error.clone()).unwrap_or_else(|| super::backups::word(state_id.word())),
        };
        let (files, bytes, skipped) = (sum("files"), sum("bytes"), sum("skipped"));
        let diagnostics = match state_id {
            RestoreStateId::Creating => "Prepared: start it with StartManual".to_owned(),
            RestoreStateId::Completed | RestoreStateId::CompletedWithErrors => format!(
                "Restored {files} file(s) ({}) to {}; {skipped} left as they were; {}",
                size(bytes),
                restore.destination_path,
                if errors.is_empty() { "no errors".to_owned() } else { format!("{} error(s)", errors.len()) }
            ),
            RestoreStateId::Failed => format!("Failed: {reason}"),
            RestoreStateId::Stopped => "Stopped on request".to_owned(),
            other => format!("{}: waiting for agent '{}'", super::backups::word(other.word()), restore.destination_machine_name),
        };
        Ok(Json(RestoreReport {
            restore_id: restore.restore_id,
            backup_configuration_id: restore.backup_configuration_id,
            backup_configuration_name: restore.backup_configuration_name,
            backup_report_id: restore.backup_id,
            restore_point: restore.backup_restore_point,
            start_time: op.as_ref().and_then(|o| o.started_at).map(date),
            completed_time: op.as_ref().and_then(|o| o.finished_at).map(date),
            duration: op
                .as_ref()
                .map(|o| duration(o.started_at.unwrap_or(o.created_at), o.finished_at))
                .unwrap_or_else(|| "00:00:00".into()),
            originating_computer_name: restore.backup_machine_name,
            state: state_id.word(),
            num_files_restored: files.to_string(),
            num_bytes_restored: size(bytes),
            num_files_skipped: skipped.to_string(),
            restore_destination: restore.destination_path,
            restore_destination_machine_id: restore.destination_machine_id,
            restore_destination_machine_name: restore.destination_machine_name,
            num_errors: errors.len().to_string(),
            reason,
            diagnostics,
            error_list: errors,
        }))
    }

    /// Adds a path to include (`Filter` 1) or leave out (2); `FileItemType` 0 is a file, 1 a folder.
    #[oai(path = "/v1.0/restore/files", method = "put", operation_id = "cloudbackup_add_restore_file")]
    async fn add_file(&self, state: Data<&AppState>, caller: Caller, body: Json<RestoreFileRequest>) -> poem::Result<Done> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &body.parent_id.0.to_string()).await?;
        let file = backup::RestoreFile {
            path: body.file_path.clone(),
            folder: body.file_item_type.unwrap_or(RestoreFileItemType::Folder) == RestoreFileItemType::Folder,
            exclude: body.filter.unwrap_or(RestoreFilter::Include) == RestoreFilter::Exclude,
        };
        state.engine.add_restore_file(p, draft.id, file).await?;
        Ok(Done::Ok)
    }

    /// The paths a restore includes and leaves out.
    #[oai(path = "/v1.0/restore/files/:id", method = "get", operation_id = "cloudbackup_restore_files")]
    async fn files(&self, state: Data<&AppState>, caller: Caller, id: Path<PathId>) -> poem::Result<Json<Vec<RestoreFile>>> {
        let p = caller.principal();
        let draft = draft_by_alias(&state, p, &id).await?;
        let restore_id = ids::alias_for(&state.db, "restore", draft.id).await?;
        Ok(Json(draft.files.iter().map(|f| file_view(restore_id, f)).collect()))
    }

    /// Forgets a restore's file filters (204).
    #[oai(path = "/v1.0/restore/files/:id", method = "delete", operation_id = "cloudbackup_clear_restore_files")]
    async fn clear_files(&self, state: Data<&AppState>, caller: Caller, id: Path<PathId>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let mut draft = draft_by_alias(&state, p, &id).await?;
        draft.files.clear();
        state.engine.update_restore_draft(p, draft).await?;
        Ok(Accepted::NoContent)
    }
}
