//! Operations that only read: a cluster's inventory (what its nodes hold) and the verification
//! of a backup (every chunk re-read and its hash checked).

use chrono::Utc;
use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task},
    stored::NoParams,
};
use crate::{
    domain::{
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskSpec},
        source::SourceKind,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

impl Engine {
    /// Asks each node of a cluster whose agent is up which keyspaces and tables it holds; each
    /// task's result is `{"keyspaces": {ks: [tables]}}`.
    pub async fn start_inventory(&self, caller: &Principal, source_id: Uuid) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let source = self.source_row(caller, source_id).await?;
        if source.kind != SourceKind::Cluster {
            return Err(CoreError::BadRequest(format!("{} is not a cluster", source.name)));
        }
        let agents = catalog::list_agents(db, source.tenant_id).await?;
        let now = Utc::now();
        let op =
            new_operation(source.tenant_id, OperationKind::Inventory, caller, Some(source.id), None, OperationOptions::default(), NoParams);
        let tasks: Vec<Task> = catalog::nodes_of(db, source.id)
            .await?
            .iter()
            .filter(|n| agents.iter().any(|a| a.id == n.agent_id && a.is_up(now, self.inner.settings.agent_down_after_secs)))
            .map(|n| new_task(&op, Some(n), n.agent_id, TaskSpec::ListTables { data_dir: n.location.clone() }))
            .collect();
        if tasks.is_empty() {
            return Err(CoreError::Unavailable(format!("no agent of cluster '{}' is up", source.name)));
        }
        catalog::insert_operation(db, &op, &tasks, None).await?;
        self.wake_local();
        Ok(op)
    }

    /// Starts a verification: every chunk of the backup is re-read and its hash checked.
    pub async fn start_verify(&self, caller: &Principal, backup_id: Uuid) -> CoreResult<Operation> {
        let backup = self.backup(caller, backup_id).await?;
        if !backup.state.is_success() {
            return Err(CoreError::Unprocessable(format!(
                "backup {} is {}; only complete backups can be verified",
                backup.id, backup.state
            )));
        }
        let local = self.local_agent(backup.tenant_id).await?;
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Verify,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            NoParams,
        );
        let task = new_task(&op, None, local.id, TaskSpec::Verify { snapshot: backup.id.to_string(), destination: None });
        catalog::insert_operation(&self.inner.db, &op, &[task], None).await?;
        self.wake_local();
        Ok(op)
    }
}
