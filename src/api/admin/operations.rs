//! Operations (every data-changing request, with its per-node tasks) and the activity log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Accepted, EngineTag,
    models::{AdminOperation, AdminState},
};
use crate::{
    api::common::security::Caller,
    domain::operation::{Event, OperationKind, Task, TaskProgress},
    error::CoreError,
    state::AppState,
};

/// An operation with its per-node tasks.
#[derive(Debug, Object)]
#[oai(rename = "AdminOperationDetail")]
pub struct AdminOperationDetail {
    #[oai(flatten)]
    pub operation: AdminOperation,
    pub tasks: Vec<AdminTask>,
}

/// One node's share of an operation.
#[derive(Debug, Object)]
#[oai(rename = "AdminTask")]
pub struct AdminTask {
    pub id: Uuid,
    pub operation_id: Uuid,
    #[oai(nullable)]
    pub node_id: Option<Uuid>,
    pub node_name: String,
    /// The agent that runs it.
    pub agent_id: Uuid,
    pub state: AdminState,
    /// What the task does, as handed to its agent (`type` says which kind; the agent protocol's
    /// document describes each as `AgentTaskSpec`).
    pub spec: Value,
    pub progress: AdminTaskProgress,
    /// How many times it was claimed.
    pub attempts: i32,
    #[oai(nullable)]
    pub error: Option<String>,
    /// What came of it (files, bytes, per-table detail, skipped items).
    pub result: Value,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A task's progress as its agent reported it.
#[derive(Debug, Object)]
#[oai(rename = "AdminTaskProgress")]
pub struct AdminTaskProgress {
    pub files_total: i64,
    pub files_done: i64,
    pub bytes_total: i64,
    pub bytes_done: i64,
    /// A cluster node's counts per `keyspace.table`.
    #[oai(default, skip_serializing_if_is_empty)]
    pub groups: BTreeMap<String, AdminGroupProgress>,
}

/// The progress of one table's files.
#[derive(Debug, Object)]
#[oai(rename = "AdminGroupProgress")]
pub struct AdminGroupProgress {
    pub files_total: i64,
    pub files_done: i64,
    pub bytes_total: i64,
}

impl From<TaskProgress> for AdminTaskProgress {
    fn from(p: TaskProgress) -> Self {
        AdminTaskProgress {
            files_total: p.files_total,
            files_done: p.files_done,
            bytes_total: p.bytes_total,
            bytes_done: p.bytes_done,
            groups: p
                .groups
                .into_iter()
                .map(|(k, g)| (k, AdminGroupProgress { files_total: g.files_total, files_done: g.files_done, bytes_total: g.bytes_total }))
                .collect(),
        }
    }
}

impl From<Task> for AdminTask {
    fn from(t: Task) -> Self {
        AdminTask {
            id: t.id,
            operation_id: t.operation_id,
            node_id: t.node_id,
            node_name: t.node_name,
            agent_id: t.agent_id,
            state: t.state.into(),
            spec: serde_json::to_value(&t.spec).unwrap_or_default(),
            progress: t.progress.into(),
            attempts: t.attempts,
            error: t.error,
            result: t.result,
            created_at: t.created_at,
            started_at: t.started_at,
            finished_at: t.finished_at,
        }
    }
}

/// One line of the activity log.
#[derive(Debug, Object)]
#[oai(rename = "AdminEvent")]
pub struct AdminEvent {
    pub id: i64,
    pub tenant_id: Uuid,
    pub at: DateTime<Utc>,
    /// What happened (`backup.started`, `restore.failed`...).
    pub kind: String,
    pub message: String,
    #[oai(nullable)]
    pub operation_id: Option<Uuid>,
    #[oai(nullable)]
    pub backup_id: Option<Uuid>,
    #[oai(nullable)]
    pub source_id: Option<Uuid>,
}

impl From<Event> for AdminEvent {
    fn from(e: Event) -> Self {
        AdminEvent {
            id: e.id,
            tenant_id: e.tenant_id,
            at: e.at,
            kind: e.kind,
            message: e.message,
            operation_id: e.operation_id,
            backup_id: e.backup_id,
            source_id: e.source_id,
        }
    }
}

/// Operations and events.
pub struct OperationsApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl OperationsApi {
    /// Lists operations, newest first.
    #[oai(path = "/operations", method = "get", operation_id = "admin_list_operations", tag = "EngineTag::Operations")]
    async fn list_operations(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// At most this many (100 unless given, at most 1,000).
        #[oai(validator(minimum(value = "0")))]
        limit: Query<Option<u64>>,
        /// Only these kinds, comma separated (`backup,restore`); every kind when absent.
        kind: Query<Option<String>>,
    ) -> poem::Result<Json<Vec<AdminOperation>>> {
        let kinds = kind
            .0
            .iter()
            .flat_map(|k| k.split(','))
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.trim().parse::<OperationKind>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::BadRequest)?;
        let ops = state.engine.operations(caller.principal(), &kinds, limit.0.unwrap_or(100).min(1000)).await?;
        Ok(Json(ops.into_iter().map(Into::into).collect()))
    }

    /// One operation with its per-node tasks and their progress.
    #[oai(path = "/operations/:id", method = "get", operation_id = "admin_get_operation", tag = "EngineTag::Operations")]
    async fn get_operation(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<AdminOperationDetail>> {
        let op = state.engine.operation(caller.principal(), id.0).await?;
        let tasks = state.engine.tasks(caller.principal(), id.0).await?;
        Ok(Json(AdminOperationDetail { operation: op.into(), tasks: tasks.into_iter().map(Into::into).collect() }))
    }

    /// Asks an operation to stop.
    #[oai(path = "/operations/:id/cancel", method = "post", operation_id = "admin_cancel_operation", tag = "EngineTag::Operations")]
    async fn cancel_operation(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Accepted<AdminOperation>> {
        Ok(Accepted::Accepted(Json(state.engine.cancel(caller.principal(), id.0).await?.into())))
    }

    /// The activity log, newest first.
    #[oai(path = "/events", method = "get", operation_id = "admin_list_events", tag = "EngineTag::Operations")]
    async fn list_events(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// At most this many (100 unless given, at most 1,000).
        #[oai(validator(minimum(value = "0")))]
        limit: Query<Option<u64>>,
    ) -> poem::Result<Json<Vec<AdminEvent>>> {
        Ok(Json(state.engine.events(caller.principal(), limit.0.unwrap_or(100).min(1000)).await?.into_iter().map(Into::into).collect()))
    }
}
