//! Activity: the backups, restores and cleanups of a user's agents, newest first. A backup row's
//! `ID` is its backup id (the SDK reads it so); `ParentId` is the configuration.

use std::collections::{HashMap, hash_map::Entry};

use poem::web::Data;
use poem_openapi::{OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Value, json};

use super::{
    agent_by_alias,
    backups::current_state,
    date, machine_agent,
    restores::{restore_state_id, restore_state_name},
};
use crate::{
    api::common::security::Caller,
    domain::{agent::Agent, identity::Principal, operation::OperationKind, source::SourceKind},
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

/// One agent's rows: its machine's backups and cleanups, and restores from or to it.
async fn rows_of(state: &AppState, p: &Principal, agent: &Agent) -> Result<Vec<(i64, Value)>, CoreError> {
    let mut rows = Vec::new();
    let agent_id = ids::alias_for(&state.db, "agent", agent.id).await?;
    let machine = state.engine.source_by_name(p, SourceKind::Machine, &agent.name).await.ok();
    if let Some(machine) = &machine {
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
                json!({
                    "ID": id,
                    "Type": "Backup",
                    "ParentId": config,
                    "DisplayName": if name.is_empty() { b.name.clone() } else { name },
                    "IsBackupConfigurationDeleted": gone,
                    "SourceMachineAgentId": agent_id,
                    "SourceMachineName": agent.name,
                    "DestinationMachineAgentId": 0,
                    "DestinationMachineName": "",
                    "CurrentState": current_state(b.state),
                    "TimeOfActivity": date(at),
                    "BackupId": id,
                }),
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
                json!({
                    "ID": cleanup_ids[&op.id],
                    "Type": "Cleanup",
                    "ParentId": 0,
                    "DisplayName": format!("Cleanup of {}", agent.name),
                    "IsBackupConfigurationDeleted": false,
                    "SourceMachineAgentId": agent_id,
                    "SourceMachineName": agent.name,
                    "DestinationMachineAgentId": 0,
                    "DestinationMachineName": "",
                    "CurrentState": current_state(op.state),
                    "TimeOfActivity": date(at),
                    "BackupId": backup,
                }),
            ));
        }
    }
    for draft in state.engine.started_restores(p, ROWS_PER_KIND as u64).await? {
        let Ok(backup) = state.engine.backup(p, draft.backup_id).await else { continue };
        let from_here = machine.as_ref().is_some_and(|m| m.source.id == backup.source_id);
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
        let op_state = op.as_ref().map(|o| o.state);
        rows.push((
            at.timestamp_millis(),
            json!({
                "ID": ids::alias_for(&state.db, "restore", draft.id).await?,
                "Type": "Restore",
                "ParentId": config,
                "DisplayName": if name.is_empty() { backup.name.clone() } else { name },
                "IsBackupConfigurationDeleted": gone,
                "SourceMachineAgentId": source_agent,
                "SourceMachineName": source_name,
                "DestinationMachineAgentId": ids::alias_for(&state.db, "agent", draft.agent_id).await?,
                "DestinationMachineName": destination.map(|a| a.name).unwrap_or_default(),
                "CurrentState": restore_state_name(op_state),
                "RestoreStateId": restore_state_id(op_state),
                "TimeOfActivity": date(at),
                "BackupId": ids::alias_for(&state.db, "backup", backup.id).await?,
            }),
        ));
    }
    Ok(rows)
}

fn newest_first(mut rows: Vec<(i64, Value)>) -> Json<Value> {
    rows.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    Json(json!(rows.into_iter().map(|(_, row)| row).collect::<Vec<_>>()))
}

#[OpenApi(tag = "ActivityTag::Activity")]
impl ActivityApi {
    /// The activity of all the caller's agents.
    #[oai(path = "/v1.0/activity", method = "get", operation_id = "cloudbackup_activity")]
    async fn all(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let mut rows = Vec::new();
        for agent in state.engine.list_agents(p).await? {
            for row in rows_of(&state, p, &agent).await? {
                // A restore between two of the caller's agents shows once.
                if !rows.iter().any(|(_, r): &(i64, Value)| r["Type"] == row.1["Type"] && r["ID"] == row.1["ID"]) {
                    rows.push(row);
                }
            }
        }
        Ok(newest_first(rows))
    }

    /// The activity of one agent.
    #[oai(path = "/v1.0/system/activity/:agent_id", method = "get", operation_id = "cloudbackup_agent_activity")]
    async fn of_agent(&self, state: Data<&AppState>, caller: Caller, agent_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &agent_id).await?;
        Ok(newest_first(rows_of(&state, p, &agent).await?))
    }
}
