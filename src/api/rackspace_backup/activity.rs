//! Activity: the backups, restores and cleanups of a user's agents, newest first. A backup row's
//! `ID` is its backup id (the SDK reads it so); `ParentId` is the configuration.

use std::collections::{HashMap, hash_map::Entry};

use poem::web::Data;
use poem_openapi::{OpenApi, Tags, param::Path, payload::Json};

use super::{
    agent_by_alias,
    backups::current_state,
    date, machine_agent, machines_of,
    models::{Activity, ActivityType, CurrentState, RestoreStateId},
    restores::restore_state_id,
};
use crate::{
    api::common::security::Caller,
    domain::{agent::Agent, identity::Principal, operation::OperationKind},
    engine::BackupPage,
    error::CoreError,
    persistence::identity as ids,
    state::AppState,
};

#[derive(Tags)]
enum ActivityTag {
    /// What the agents did lately.
    Activity,
}

pub struct ActivityApi;

/// The newest rows of each kind shown per agent.
const ROWS_PER_KIND: usize = 100;

/// The configuration a plan id names, with its name and whether it is gone.
async fn configuration(state: &AppState, p: &Principal, plan: Option<uuid::Uuid>) -> Result<(i64, String, bool), CoreError> {
    match plan {
        Some(id) => {
            let alias = ids::alias_for(&state.db, "configuration", id).await?;
            match state.engine.plan(p, id).await {
                Ok(plan) => Ok((alias, plan.name, false)),
                Err(_) => Ok((alias, String::new(), true)),
            }
        }
        None => Ok((0, String::new(), false)),
    }
}

/// A restore's number as a backup state word (a started restore is never Creating).
fn restore_current_state(id: RestoreStateId) -> CurrentState {
    match id {
        RestoreStateId::Creating | RestoreStateId::Queued => CurrentState::Queued,
        RestoreStateId::InProgress => CurrentState::InProgress,
        RestoreStateId::Completed => CurrentState::Completed,
        RestoreStateId::Stopped => CurrentState::Stopped,
        RestoreStateId::Failed => CurrentState::Failed,
        RestoreStateId::StartRequested => CurrentState::StartRequested,
        RestoreStateId::StopRequested => CurrentState::StopRequested,
        RestoreStateId::CompletedWithErrors => CurrentState::CompletedWithErrors,
        RestoreStateId::Preparing => CurrentState::Preparing,
    }
}

/// One agent's rows: its machines' backups and cleanups, and restores from or to it.
async fn rows_of(state: &AppState, p: &Principal, agent: &Agent) -> Result<Vec<(i64, Activity)>, CoreError> {
    let mut rows = Vec::new();
    let agent_id = ids::alias_for(&state.db, "agent", agent.id).await?;
    let machines = machines_of(state, p, agent).await?;
    for machine in &machines {
        let page = BackupPage { source_id: Some(machine.source.id), limit: Some(ROWS_PER_KIND as u64), ..Default::default() };
        let backups = state.engine.backups_page(p, &page).await?;
        // The rows share a few configurations; aliases are read in one query.
        let aliases = ids::aliases_for(&state.db, "backup", &backups.iter().map(|b| b.id).collect::<Vec<_>>()).await?;
        let mut configurations = HashMap::new();
        for b in backups {
            let id = aliases[&b.id];
            if let Entry::Vacant(slot) = configurations.entry(b.plan_id) {
                slot.insert(configuration(state, p, b.plan_id).await?);
            }
            let (config, name, gone) = configurations[&b.plan_id].clone();
            let at = b.completed_at.unwrap_or(b.updated_at);
            rows.push((
                at.timestamp_millis(),
                Activity {
                    id,
                    kind: ActivityType::Backup,
                    parent_id: config,
                    display_name: if name.is_empty() { b.name.clone() } else { name },
                    is_backup_configuration_deleted: gone,
                    source_machine_agent_id: Some(agent_id),
                    source_machine_name: agent.name.clone(),
                    destination_machine_agent_id: 0,
                    destination_machine_name: String::new(),
                    current_state: current_state(b.state),
                    restore_state_id: None,
                    time_of_activity: date(at),
                    backup_id: id,
                },
            ));
        }
        let cleanups = state.engine.source_operations(p, machine.source.id, OperationKind::Delete, ROWS_PER_KIND as u64).await?;
        let cleaned = ids::aliases_for(&state.db, "backup", &cleanups.iter().filter_map(|op| op.backup_id).collect::<Vec<_>>()).await?;
        let cleanup_ids = ids::aliases_for(&state.db, "cleanup", &cleanups.iter().map(|op| op.id).collect::<Vec<_>>()).await?;
        for op in cleanups {
            let at = op.finished_at.unwrap_or(op.created_at);
            let backup = op.backup_id.map_or(0, |b| cleaned[&b]);
            rows.push((
                at.timestamp_millis(),
                Activity {
                    id: cleanup_ids[&op.id],
                    kind: ActivityType::Cleanup,
                    parent_id: 0,
                    display_name: format!("Cleanup of {}", agent.name),
                    is_backup_configuration_deleted: false,
                    source_machine_agent_id: Some(agent_id),
                    source_machine_name: agent.name.clone(),
                    destination_machine_agent_id: 0,
                    destination_machine_name: String::new(),
                    current_state: current_state(op.state),
                    restore_state_id: None,
                    time_of_activity: date(at),
                    backup_id: backup,
                },
            ));
        }
    }
    for draft in state.engine.started_restores(p, ROWS_PER_KIND as u64).await? {
        let Ok(backup) = state.engine.backup(p, draft.backup_id).await else { continue };
        let from_here = machines.iter().any(|m| m.source.id == backup.source_id);
        if !from_here && draft.agent_id != agent.id {
            continue;
        }
        let op = match draft.operation_id {
            Some(id) => Some(state.engine.operation(p, id).await?),
            None => None,
        };
        let (source_name, source_agent) = machine_agent(state, p, backup.source_id).await?;
        let destination = state.engine.agent_of(p, draft.agent_id).await.ok();
        let (config, name, gone) = configuration(state, p, backup.plan_id).await?;
        let at = op.as_ref().map(|o| o.finished_at.unwrap_or(o.created_at)).unwrap_or(draft.created_at);
        let state_id = restore_state_id(op.as_ref().map(|o| o.state));
        rows.push((
            at.timestamp_millis(),
            Activity {
                id: ids::alias_for(&state.db, "restore", draft.id).await?,
                kind: ActivityType::Restore,
                parent_id: config,
                display_name: if name.is_empty() { backup.name.clone() } else { name },
                is_backup_configuration_deleted: gone,
                source_machine_agent_id: source_agent,
                source_machine_name: source_name,
                destination_machine_agent_id: ids::alias_for(&state.db, "agent", draft.agent_id).await?,
                destination_machine_name: destination.map(|a| a.name).unwrap_or_default(),
                current_state: restore_current_state(state_id),
                restore_state_id: Some(state_id),
                time_of_activity: date(at),
                backup_id: ids::alias_for(&state.db, "backup", backup.id).await?,
            },
        ));
    }
    Ok(rows)
}

fn newest_first(mut rows: Vec<(i64, Activity)>) -> Json<Vec<Activity>> {
    rows.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    Json(rows.into_iter().map(|(_, row)| row).collect())
}

#[OpenApi(tag = "ActivityTag::Activity")]
impl ActivityApi {
    /// The activity of all the caller's agents.
    #[oai(path = "/v1.0/activity", method = "get", operation_id = "cloudbackup_activity")]
    async fn all(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<Activity>>> {
        let p = caller.principal();
        let mut rows = Vec::new();
        for agent in state.engine.list_agents(p).await? {
            for row in rows_of(&state, p, &agent).await? {
                // A restore between two of the caller's agents shows once.
                if !rows.iter().any(|(_, r): &(i64, Activity)| r.kind == row.1.kind && r.id == row.1.id) {
                    rows.push(row);
                }
            }
        }
        Ok(newest_first(rows))
    }

    /// The activity of one agent.
    #[oai(path = "/v1.0/system/activity/:agent_id", method = "get", operation_id = "cloudbackup_agent_activity")]
    async fn of_agent(&self, state: Data<&AppState>, caller: Caller, agent_id: Path<String>) -> poem::Result<Json<Vec<Activity>>> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &agent_id).await?;
        Ok(newest_first(rows_of(&state, p, &agent).await?))
    }
}
