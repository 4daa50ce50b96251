//! Deleting backups: a backup goes with every incremental built on it, in each destination that
//! holds it; the catalog rows go (or turn DeleteFailed) inside the operation's ending transaction.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task},
};
use crate::{
    domain::{
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskSpec},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::{ConnectionTrait, engine as repo},
};

impl Engine {
    /// Deletes a backup and every incremental built on it; their data goes unless other backups use it.
    pub async fn delete_backup(&self, caller: &Principal, backup_id: Uuid) -> CoreResult<Operation> {
        self.delete_backup_then(caller, backup_id, false).await
    }

    /// Deletes a backup as [`Engine::delete_backup`]; with `then_remove_destination` the backup's
    /// destination is removed once the delete ends, when nothing else is kept there (never the server's).
    pub async fn delete_backup_then(&self, caller: &Principal, backup_id: Uuid, then_remove_destination: bool) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let backup = self.backup(caller, backup_id).await?;
        let mut doomed = vec![backup.clone()];
        let mut i = 0;
        while i < doomed.len() {
            let children = repo::children_of(db, doomed[i].id).await?;
            doomed.extend(children);
            i += 1;
        }
        if let Some(busy) = doomed.iter().find(|b| !b.state.is_terminal()) {
            return Err(CoreError::Unprocessable(format!("backup {} is still {}; wait for it to end", busy.id, busy.state)));
        }
        if let Some(copy) = self.region_copy_running(&doomed).await? {
            return Err(CoreError::Unprocessable(format!(
                "backup {} is being copied to {} (as backup {}); delete it once the copy ends",
                copy.metadata.get("copy_of").and_then(Value::as_str).unwrap_or_default(),
                self.region_of(&copy),
                copy.id
            )));
        }
        let local = self.local_agent(backup.tenant_id).await?;
        let ids: Vec<Uuid> = doomed.iter().map(|b| b.id).collect();
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Delete,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            json!({
                "backups": ids,
                "remove_destination": (then_remove_destination && backup.destination_id != self.inner.server_destination).then_some(backup.destination_id),
            }),
        );
        let mut destinations: Vec<Uuid> = Vec::new();
        for b in &doomed {
            for d in std::iter::once(b.destination_id).chain(repo::backup_copies_of(db, b.id).await?) {
                if !destinations.contains(&d) {
                    destinations.push(d);
                }
            }
        }
        let snapshots: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let tasks: Vec<Task> = destinations
            .iter()
            .map(|d| new_task(&op, None, local.id, TaskSpec::DeleteSnapshots { snapshots: snapshots.clone(), destination: Some(*d) }))
            .collect();
        repo::insert_operation(db, &op, &tasks, None).await?;
        // The snapshots go for good: the catalog must not roll back to holding them.
        crate::persistence::make_durable(db).await;
        repo::add_event(
            db,
            backup.tenant_id,
            "backup.deleting",
            &format!("deleting backup '{}' and {} incremental(s)", backup.name, ids.len() - 1),
            Some(op.id),
            Some(backup.id),
            Some(backup.source_id),
        )
        .await?;
        self.wake_local();
        Ok(op)
    }
}

/// Removes the rows of deleted backups, or marks them DeleteFailed, inside the ending transaction.
pub(super) async fn finish_delete(db: &impl ConnectionTrait, op: &Operation, state: State, error: Option<String>) -> CoreResult<()> {
    if let (Some(backup), Some(at)) = (op.backup_id, op.params.get("copy_at").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()))
    {
        if !state.is_success() {
            return Ok(());
        }
        // The backup's own place went: a copy kept elsewhere becomes its place.
        let own_place = repo::get_backup(db, None, backup).await?.is_some_and(|b| b.destination_id == at);
        let asked = op.params.get("kept_at").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let copies = repo::backup_copies_of(db, backup).await?;
        let kept = asked.filter(|k| copies.contains(k)).or_else(|| copies.iter().copied().find(|c| *c != at));
        match kept {
            Some(kept) if own_place => repo::promote_backup_copy(db, backup, kept).await?,
            None if own_place => {
                if let Some(mut b) = repo::get_backup(db, None, backup).await? {
                    b.state = State::Failed;
                    b.error = Some("its data was deleted and no copy was left".into());
                    repo::save_backup(db, &b).await?;
                }
            }
            _ => repo::remove_backup_copy(db, backup, at).await?,
        }
        return Ok(());
    }
    let ids: Vec<Uuid> = op.params.get("backups").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    for id in ids.iter().rev() {
        if state.is_success() {
            // What the backup was stays in the event log, so histories can show it as deleted.
            if let Some(b) = repo::get_backup(db, None, *id).await? {
                let tables: Vec<String> = repo::backup_nodes_of(db, *id)
                    .await?
                    .iter()
                    .flat_map(|n| n.detail.get("tables").and_then(Value::as_object).into_iter().flatten().map(|(t, _)| t.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let record = json!({ "tag": b.tag, "created_at": b.created_at, "destination_id": b.destination_id, "state": b.state, "tables": tables });
                repo::add_event(db, b.tenant_id, "backup.deleted", &record.to_string(), Some(op.id), Some(b.id), Some(b.source_id)).await?;
            }
            repo::delete_backup_row(db, *id).await?;
        } else if let Some(mut b) = repo::get_backup(db, None, *id).await? {
            b.state = State::DeleteFailed;
            b.error = error.clone();
            repo::save_backup(db, &b).await?;
        }
    }
    Ok(())
}
