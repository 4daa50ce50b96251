//! Backups: each node's backup and restore events of the last 7 days, and a backup on demand.

use std::collections::HashMap;

use chrono::Utc;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{ProvisioningTag, cluster, cluster_status, clusters::status_document, models::*, ms, restore_operation};
use crate::{
    api::common::security::Caller,
    domain::{
        operation::{Operation, OperationKind, OperationOptions, Task},
        state::State,
    },
    engine::BackupSpec,
    error::CoreError,
    state::AppState,
};

/// The backups part of the provisioning API.
pub struct BackupsApi;

/// How far back the backup events go.
const EVENT_DAYS: i64 = 7;

#[derive(ApiResponse)]
enum Triggered {
    /// The backup was started.
    #[oai(status = 204)]
    Started,
}

/// One node's event of a backup (`snapshot-upload`) or restore (`snapshot-download`) task. A
/// node's part is COMPLETED once the whole operation ended: until then the backup cannot be
/// restored, and a script that restores on seeing every node COMPLETED would be refused.
fn event(kind: EventType, task: &Task, op: &Operation) -> BackupEvent {
    let state = match task.state {
        s if s.is_success() && op.state.is_terminal() => EventState::Completed,
        s if s.is_success() => EventState::Active,
        State::Queued | State::Running | State::Cancelling => EventState::Active,
        _ => EventState::Failed,
    };
    let progress = if task.state.is_terminal() { 1.0 } else { task.progress.fraction() };
    BackupEvent {
        kind,
        state,
        progress,
        start: ms(task.started_at.unwrap_or(task.created_at)),
        end: if task.state.is_terminal() { task.finished_at.map(ms) } else { None },
    }
}

#[OpenApi(tag = "ProvisioningTag::BackupAndRestore")]
impl BackupsApi {
    /// Backups and restores of each node over the last 7 days, with live progress.
    #[oai(path = "/provisioning/v1/:clusterId/backups", method = "get", operation_id = "instaclustr_backups")]
    async fn backups(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "clusterId")] cluster_id: Path<Uuid>,
    ) -> poem::Result<Json<ClusterBackups>> {
        let p = caller.principal();
        let view = cluster(&state, p, cluster_id.0).await?;
        let since = Utc::now() - chrono::Duration::days(EVENT_DAYS);
        let mut ops: Vec<(EventType, Operation)> = Vec::new();
        for op in state
            .engine
            .source_operations(p, view.source.id, OperationKind::Backup, 500)
            .await?
            .into_iter()
            .filter(|o| o.created_at >= since)
        {
            ops.push((EventType::SnapshotUpload, op));
        }
        // A restored cluster lists the restore that filled its nodes.
        if let Some(id) = restore_operation(&view)
            && let Ok(op) = state.engine.operation(p, id).await
            && op.created_at >= since
        {
            ops.push((EventType::SnapshotDownload, op));
        }
        ops.sort_by_key(|(_, op)| op.created_at);
        let tasks = state.engine.tasks_of_many(p, &ops.iter().map(|(_, op)| op.clone()).collect::<Vec<_>>()).await?;
        let mut per_node: HashMap<String, Vec<BackupEvent>> = HashMap::new();
        for (kind, op) in &ops {
            for task in tasks.get(&op.id).into_iter().flatten() {
                per_node.entry(task.node_name.clone()).or_default().push(event(*kind, task, op));
            }
        }
        let doc = status_document(&state, p, &view).await?;
        let cluster_data_centres = doc
            .data_centres
            .into_iter()
            .map(|dc| BackupDataCentre {
                id: dc.id,
                name: dc.name,
                nodes: dc
                    .nodes
                    .into_iter()
                    .map(|n| BackupNode {
                        id: n.id,
                        events: per_node.get(&n.public_address).cloned().unwrap_or_default(),
                        public_address: n.public_address,
                        private_address: n.private_address,
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(ClusterBackups { id: view.source.id, name: view.source.name, cluster_data_centres }))
    }

    /// Starts a backup of every node (204, no body needed); 503 when no node's agent can take it.
    #[oai(path = "/provisioning/v1/:clusterId/backups", method = "post", operation_id = "instaclustr_trigger_backup")]
    async fn trigger(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "clusterId")] cluster_id: Path<Uuid>,
    ) -> poem::Result<Triggered> {
        let p = caller.principal();
        let view = cluster(&state, p, cluster_id.0).await?;
        if cluster_status(&state, p, &view).await == ClusterStatus::Provisioning {
            return Err(CoreError::Conflict("the cluster is still being restored; back it up once it is RUNNING".into()).into());
        }
        let spec =
            BackupSpec { source_id: view.source.id, options: OperationOptions { force: true, ..Default::default() }, ..Default::default() };
        match state.engine.start_backup(p, spec).await {
            Ok(_) => Ok(Triggered::Started),
            Err(CoreError::Unavailable(_)) => Err(CoreError::Unavailable("Backup capability is not available".into()).into()),
            // A backup or a restore of the cluster already running is the cluster's state.
            Err(CoreError::Unprocessable(m)) => Err(CoreError::Conflict(m).into()),
            Err(e) => Err(e.into()),
        }
    }
}
