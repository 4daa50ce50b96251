//! Backups of a configuration: started and stopped by action, followed by id, listed when
//! completed, and reported on (counts, sizes, duration, per-file errors).

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json, types::ToJSON};
use serde_json::Value;

use super::{
    configurations::{configurations, plan_by_alias},
    date, duration, int_id, machine_agent,
    models::{
        ActionKind, AvailableForRestore, BackupAction, BackupDetails, BackupReport, CompletedBackup, CurrentState, EncryptionKey, PathId,
        ReportError,
    },
    region, state_conflict,
};
use crate::{
    api::common::security::Caller,
    domain::{
        backup::{Backup, BackupNode},
        identity::Principal,
        operation::{Operation, Task},
        state::State,
    },
    engine::{BackupPage, BackupSpec},
    error::CoreError,
    persistence::aliases as ids,
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
    /// StartManual: the new backup's id, a bare integer (`368785`).
    #[oai(status = 200)]
    Started(Json<i64>),
    /// StopManual: the stop is asked for; the backup reads StopRequested, then Stopped.
    #[oai(status = 204)]
    Stopped,
}

/// The error type of a file an agent could not read (the seed's "The agent experienced a problem").
const AGENT_PROBLEM: i64 = 101;

/// Who the engine's scheduler writes as the creator of the runs it starts.
const SCHEDULER: &str = "scheduler";

/// Cloud Backup's word for a backup's state, from the state alone (activity rows).
pub(super) fn current_state(state: State) -> CurrentState {
    match state {
        State::Queued => CurrentState::Queued,
        State::Running => CurrentState::InProgress,
        State::Cancelling => CurrentState::StopRequested,
        State::Succeeded | State::DeleteFailed => CurrentState::Completed,
        State::SucceededWithErrors => CurrentState::CompletedWithErrors,
        State::Failed => CurrentState::Failed,
        State::Cancelled => CurrentState::Stopped,
        State::Missed => CurrentState::Missed,
        State::Skipped => CurrentState::Skipped,
    }
}

/// A waiting or running backup's (or restore's) state as its agent's work shows it:
/// StartRequested until an agent takes it (StartScheduled when its schedule started it), Queued
/// when a claim lapsed and it waits to be taken again, Preparing while the agent scans what to
/// read, InProgress once it knows and is storing.
pub(super) fn live_state(state: State, op: Option<&Operation>, tasks: &[Task]) -> CurrentState {
    if !matches!(state, State::Queued | State::Running) {
        return current_state(state);
    }
    let running: Vec<&Task> = tasks.iter().filter(|t| t.state == State::Running).collect();
    if !running.is_empty() {
        let scanning = running.iter().all(|t| t.progress.files_total == 0 && t.progress.bytes_total == 0 && t.progress.files_done == 0);
        return if scanning { CurrentState::Preparing } else { CurrentState::InProgress };
    }
    if tasks.iter().any(|t| t.state.is_terminal()) {
        CurrentState::InProgress
    } else if tasks.iter().any(|t| t.attempts > 0) {
        CurrentState::Queued
    } else if op.is_some_and(|o| o.created_by == SCHEDULER) {
        CurrentState::StartScheduled
    } else {
        CurrentState::StartRequested
    }
}

/// A state as its word.
pub(super) fn word<T: ToJSON>(state: T) -> String {
    state.to_json().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
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

/// The operating system's error number in an agent's message ("... (os error 13)"), 0 when none.
fn os_error(message: &str) -> i64 {
    message.rsplit_once("(os error ").and_then(|(_, rest)| rest.split_once(')')).and_then(|(n, _)| n.parse().ok()).unwrap_or(0)
}

/// A file an agent could not read, as a report lists it.
pub(super) fn report_error(report_id: i64, index: usize, message: &str, path: String) -> ReportError {
    ReportError {
        backup_report_id: report_id,
        list_index: index as i64,
        error_type: AGENT_PROBLEM,
        error_desc: message.to_owned(),
        exception_desc: message.to_owned(),
        exception_details: message.to_owned(),
        exception_code: os_error(message),
        path,
    }
}

pub(super) async fn backup_by_alias(state: &AppState, p: &Principal, id: &str) -> Result<Backup, CoreError> {
    let not_found = || CoreError::not_found("backup", id);
    let uuid = ids::resolve_alias(&state.db, "backup", int_id(id, "backup")?).await?.ok_or_else(not_found)?;
    state.engine.backup(p, uuid).await.map_err(|_| not_found())
}

/// What the answers about one machine's backups share: its agent, and the configuration that made
/// them (its id, its name, whether it is deleted since). A deleted configuration keeps the name it
/// had when the backup ran; a backup no configuration made shows its own name.
struct Origin {
    agent: (String, Option<i64>),
    configuration: Option<i64>,
    name: String,
    deleted: bool,
}

impl Origin {
    async fn of(state: &AppState, p: &Principal, b: &Backup) -> Result<Origin, CoreError> {
        let agent = machine_agent(state, p, b.source_id).await?;
        let Some(plan) = b.plan_id else { return Ok(Origin { agent, configuration: None, name: b.name.clone(), deleted: false }) };
        let configuration = Some(ids::alias_for(&state.db, "configuration", plan).await?);
        Ok(match state.engine.plan(p, plan).await {
            Ok(plan) => Origin { agent, configuration, name: plan.name, deleted: false },
            // A scheduled run is named "<configuration> <when>" and described as below.
            Err(_) => {
                let name = b.description.strip_prefix("scheduled by plan '").and_then(|s| s.strip_suffix('\'')).unwrap_or(&b.name);
                Origin { agent, configuration, name: name.to_owned(), deleted: true }
            }
        })
    }
}

/// The operation of a backup and its tasks (none for a backup rebuilt from its store).
async fn work_of(state: &AppState, p: &Principal, b: &Backup) -> Result<(Option<Operation>, Vec<Task>), CoreError> {
    match b.operation_id {
        Some(op) => Ok((Some(state.engine.operation(p, op).await?), state.engine.tasks(p, op).await?)),
        None => Ok((None, Vec::new())),
    }
}

/// Files the nodes stored content for: what they read, less what the store already held (an
/// unchanged file, a copy of another, an empty one).
fn files_stored(nodes: &[BackupNode]) -> i64 {
    nodes.iter().map(|n| n.detail.get("stored_files").and_then(Value::as_i64).unwrap_or(n.files)).sum()
}

/// What happened, in a sentence.
fn diagnostics(b: &Backup, op: Option<&Operation>, tasks: &[Task], stored: i64, errors: &[ReportError]) -> String {
    let counts = format!("{} file(s) searched, {stored} backed up, {} already in the store", b.file_count, (b.file_count - stored).max(0));
    let first = errors.first().map(|e| format!(" (first: {}: {})", e.path, e.error_desc)).unwrap_or_default();
    match b.state {
        State::Succeeded => format!("Completed: {counts}, no errors"),
        State::SucceededWithErrors => format!("Completed With Errors: {counts}; {} file(s) could not be read{first}", errors.len()),
        State::Failed => format!("Failed: {}", b.error.clone().unwrap_or_else(|| "the agent gave no reason".into())),
        State::Cancelling => "Stop requested: waiting for the agent to stop".into(),
        State::Cancelled => "Stopped on request before it completed; nothing of it can be restored".into(),
        State::Missed | State::Skipped => b.error.clone().unwrap_or_else(|| "The scheduled run did not happen".into()),
        State::DeleteFailed => b.error.clone().unwrap_or_else(|| "Its stored data could not be removed".into()),
        State::Queued | State::Running => match live_state(b.state, op, tasks) {
            CurrentState::Preparing => "Preparing: the agent is scanning the selected folders".into(),
            CurrentState::InProgress => {
                let (done, total) = tasks.iter().fold((0, 0), |(d, t), task| (d + task.progress.files_done, t + task.progress.files_total));
                format!("In progress: {done} of {total} file(s) read")
            }
            CurrentState::Queued => "Queued: waiting for the agent to take it again".into(),
            _ => "Waiting for the agent to take it".into(),
        },
    }
}

#[OpenApi(tag = "BackupTag::Backups")]
impl BackupsApi {
    /// `{"Action": "StartManual", "Id": configurationId}` answers the new backup's id;
    /// `{"Action": "StopManual", "Id": backupId}` asks a running backup to stop (204).
    #[oai(path = "/v1.0/backup/action-requested", method = "post", operation_id = "cloudbackup_backup_action")]
    async fn action(&self, state: Data<&AppState>, caller: Caller, body: Json<BackupAction>) -> poem::Result<Action> {
        let p = caller.principal();
        let id = body.id.0.to_string();
        match body.action {
            ActionKind::StartManual => {
                let plan = plan_by_alias(&state, p, &id).await?;
                let spec = BackupSpec::for_plan(&plan);
                let (_, backup) = state.engine.start_backup(p, spec).await.map_err(state_conflict)?;
                Ok(Action::Started(Json(ids::alias_for(&state.db, "backup", backup.id).await?)))
            }
            ActionKind::StopManual => {
                let backup = backup_by_alias(&state, p, &id).await?;
                let op = backup.operation_id.ok_or_else(|| CoreError::Conflict(format!("backup {id} has no work to stop")))?;
                state.engine.cancel(p, op).await.map_err(state_conflict)?;
                Ok(Action::Stopped)
            }
        }
    }

    /// The configurations with at least one backup to restore from.
    #[oai(path = "/v1.0/backup/availableforrestore", method = "get", operation_id = "cloudbackup_available_for_restore")]
    async fn available(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<AvailableForRestore>>> {
        let p = caller.principal();
        let mut out = Vec::new();
        for plan in configurations(&state, p).await? {
            let Some(last) = state.engine.last_completion(p, plan.source_id, Some(plan.id)).await? else { continue };
            let (machine, agent) = machine_agent(&state, p, plan.source_id).await?;
            out.push(AvailableForRestore {
                backup_configuration_id: ids::alias_for(&state.db, "configuration", plan.id).await?,
                backup_configuration_name: plan.name,
                machine_name: machine,
                machine_agent_id: agent,
                is_encrypted: state.settings.store_key.is_some(),
                public_key_hex: String::new(),
                public_key_mod: String::new(),
                flavor: "RaxCloudServer".into(),
                last_successful_backup_time: date(last),
            });
        }
        Ok(Json(out))
    }

    /// A backup's state: StartRequested until its agent takes it, Preparing while the agent scans,
    /// InProgress while it stores, then Completed, CompletedWithErrors, Stopped or Failed.
    #[oai(path = "/v1.0/backup/:backupId", method = "get", operation_id = "cloudbackup_backup")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "backupId")] id: Path<PathId>,
    ) -> poem::Result<Json<BackupDetails>> {
        let p = caller.principal();
        let b = backup_by_alias(&state, p, &id).await?;
        let origin = Origin::of(&state, p, &b).await?;
        let (op, tasks) = if b.state.is_terminal() { (None, Vec::new()) } else { work_of(&state, p, &b).await? };
        Ok(Json(BackupDetails {
            backup_id: ids::alias_for(&state.db, "backup", b.id).await?,
            backup_configuration_id: origin.configuration,
            current_state: live_state(b.state, op.as_ref(), &tasks),
            backup_configuration_name: origin.name,
            machine_agent_id: origin.agent.1,
            machine_name: origin.agent.0,
            datacenter: Some(region(&state)),
            backup_datacenter: Some(region(&state)),
            state_change_time: date(b.updated_at),
            is_encrypted: state.settings.store_key.is_some(),
            encryption_key: EncryptionKey::none(),
        }))
    }

    /// The completed (restorable) backups of a configuration, newest first.
    #[oai(path = "/v1.0/backup/completed/:backupConfigurationId", method = "get", operation_id = "cloudbackup_completed_backups")]
    async fn completed(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "backupConfigurationId")] configuration_id: Path<PathId>,
    ) -> poem::Result<Json<Vec<CompletedBackup>>> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &configuration_id).await?;
        // Cloud Backup has no pages here: the list is every complete backup of the configuration.
        let page = BackupPage { source_id: Some(plan.source_id), plan_id: Some(Some(plan.id)), complete_only: true, ..Default::default() };
        let backups = state.engine.backups_page(p, &page).await?;
        let Some(first) = backups.first() else { return Ok(Json(Vec::new())) };
        // One configuration on one machine: what the rows share is read once, the rest in batches.
        let origin = Origin::of(&state, p, first).await?;
        let details = state.engine.backup_details(p, &backups).await?;
        let aliases = ids::aliases_for(&state.db, "backup", &backups.iter().map(|b| b.id).collect::<Vec<_>>()).await?;
        let out = backups
            .iter()
            .map(|b| CompletedBackup {
                backup_id: aliases[&b.id],
                backup_configuration_id: origin.configuration,
                backup_configuration_name: origin.name.clone(),
                machine_name: origin.agent.0.clone(),
                machine_agent_id: origin.agent.1,
                completed_time: b.completed_at.map(date),
                bytes_searched: b.size_bytes,
                num_errors: details.nodes_of(b.id).iter().map(|n| n.detail["errors"].as_array().map_or(0, Vec::len) as i64).sum(),
                datacenter: Some(region(&state)),
                backup_datacenter: Some(region(&state)),
            })
            .collect();
        Ok(Json(out))
    }

    /// What a backup searched and stored, when its agent started, how long it took, each file it
    /// could not read, and what happened in a sentence (`Diagnostics`).
    #[oai(path = "/v1.0/backup/report/:backupId", method = "get", operation_id = "cloudbackup_backup_report")]
    async fn report(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "backupId")] id: Path<PathId>,
    ) -> poem::Result<Json<BackupReport>> {
        let p = caller.principal();
        let b = backup_by_alias(&state, p, &id).await?;
        let parts = state.engine.backup_nodes(p, b.id).await?;
        let (op, tasks) = work_of(&state, p, &b).await?;
        // Paths in the backup are relative to the machine's root; the report names them as the machine does.
        let root = state.engine.source(p, b.source_id).await?.nodes.first().map(|n| n.location.clone()).unwrap_or_default();
        let absolute = |rel: &Value| std::path::Path::new(&root).join(rel.as_str().unwrap_or_default()).display().to_string();
        let report_id = ids::alias_for(&state.db, "backup", b.id).await?;
        let errors: Vec<ReportError> = parts
            .iter()
            .flat_map(|n| n.detail["errors"].as_array().cloned().unwrap_or_default())
            .enumerate()
            .map(|(i, e)| report_error(report_id, i, e["message"].as_str().unwrap_or_default(), absolute(&e["path"])))
            .collect();
        // The agent's start: its first claim of the work (the operation's start when tasks are gone).
        let started = tasks.iter().filter_map(|t| t.started_at).min().or_else(|| op.as_ref().and_then(|o| o.started_at));
        let stored = if parts.is_empty() { 0 } else { files_stored(&parts) };
        let origin = Origin::of(&state, p, &b).await?;
        // The seed's own example of a CompletedWithErrors report still says "Success" here and
        // leaves the errors to Diagnostics; a reason that contradicts the state misleads, so it is
        // the state unless every file was backed up.
        let state_word = live_state(b.state, op.as_ref(), &tasks);
        let reason = if b.state == State::Succeeded { "Success".to_owned() } else { word(state_word) };
        Ok(Json(BackupReport {
            backup_id: report_id,
            backup_configuration_id: origin.configuration,
            backup_configuration_name: origin.name,
            backup_configuration_is_deleted: origin.deleted,
            computer_name: origin.agent.0.clone(),
            machine_agent_id: origin.agent.1,
            machine_name: Some(origin.agent.0),
            datacenter: Some(region(&state)),
            backup_datacenter: Some(region(&state)),
            state: state_word,
            can_restore: b.state.is_success(),
            start_time: started.map(date),
            completed_time: b.completed_at.map(date),
            duration: started
                .map(|s| duration(s, b.completed_at.or(op.as_ref().and_then(|o| o.finished_at))))
                .unwrap_or_else(|| "00:00:00".into()),
            files_searched: b.file_count.to_string(),
            bytes_searched: size(b.size_bytes),
            files_backed_up: stored.to_string(),
            bytes_backed_up: size(b.stored_bytes),
            num_errors: errors.len() as i64,
            reason,
            diagnostics: diagnostics(&b, op.as_ref(), &tasks, stored, &errors),
            error_list: errors,
            snapshot_id: Some(report_id),
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::domain::operation::{TaskProgress, TaskSpec};

    #[test]
    fn sizes_read_as_the_service_writes_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3_972_844_749), "3.7 GB");
        assert_eq!(size(186_750_000), "178.1 MB");
    }

    #[test]
    fn an_agents_error_number_is_the_exception_code() {
        assert_eq!(os_error("Permission denied (os error 13)"), 13);
        assert_eq!(os_error("no such thing"), 0);
    }

    fn task(state: State, attempts: i32, files_total: i64) -> Task {
        Task {
            id: Uuid::new_v4(),
            operation_id: Uuid::new_v4(),
            node_id: None,
            node_name: "web01".into(),
            agent_id: Uuid::new_v4(),
            state,
            spec: TaskSpec::DeleteSnapshots { snapshots: vec![], destination: None },
            progress: TaskProgress { files_total, ..Default::default() },
            attempts,
            lease_owner: None,
            error: None,
            result: Value::Null,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_backup_reads_start_requested_then_preparing_then_in_progress_as_its_agent_works() {
        assert_eq!(live_state(State::Queued, None, &[task(State::Queued, 0, 0)]), CurrentState::StartRequested);
        assert_eq!(live_state(State::Running, None, &[task(State::Running, 1, 0)]), CurrentState::Preparing, "scanning");
        assert_eq!(live_state(State::Running, None, &[task(State::Running, 1, 8)]), CurrentState::InProgress, "storing");
        assert_eq!(live_state(State::Running, None, &[task(State::Queued, 1, 8)]), CurrentState::Queued, "a lapsed claim waits");
        assert_eq!(live_state(State::Cancelling, None, &[task(State::Running, 1, 8)]), CurrentState::StopRequested);
        assert_eq!(live_state(State::SucceededWithErrors, None, &[]), CurrentState::CompletedWithErrors);
    }
}
