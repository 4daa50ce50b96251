//! Deleting backups: a backup goes with every incremental built on it, in each destination that
//! holds it, or only its data at one destination goes (a copy, or its own place while a copy is
//! kept elsewhere). One builder records either; the catalog rows go (or turn DeleteFailed, or the
//! kept copy becomes the backup's place) inside the operation's ending transaction.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task},
    stored::DeleteParams,
};
use crate::{
    domain::{
        backup::Backup,
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskSpec},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::{ConnectionTrait, catalog},
};

/// What becomes of a destination once a delete has taken the data it held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterDelete {
    /// It stays.
    KeepDestination,
    /// It is removed when nothing else is kept there (never the server's own).
    RemoveEmptyDestination,
}

/// What a delete takes.
enum Doomed {
    /// These backups (one and every incremental built on it), wherever they are kept.
    Backups(Vec<Backup>),
    /// One backup's data at one destination; `kept` becomes the backup's place when `at` was it.
    DataAt { at: Uuid, kept: Option<Uuid> },
}

impl Engine {
    /// Deletes a backup and every incremental built on it; their data goes unless other backups use it.
    pub async fn delete_backup(&self, caller: &Principal, backup_id: Uuid) -> CoreResult<Operation> {
        let backup = self.backup(caller, backup_id).await?;
        self.delete_with_incrementals(caller, backup, AfterDelete::KeepDestination).await
    }

    /// Deletes the data of a backup kept at one destination and nothing else: a copy goes, the
    /// backup and its other copies stay; the backup's own place, when a copy is kept elsewhere,
    /// goes and that copy becomes the backup's place; a backup kept nowhere else is deleted with
    /// its incrementals. A destination that does not hold the backup is a not-found `backup copy`.
    pub async fn delete_backup_at(&self, caller: &Principal, backup_id: Uuid, at: Uuid, after: AfterDelete) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let backup = self.backup(caller, backup_id).await?;
        if at != backup.destination_id {
            if !catalog::backup_copies_of(db, backup.id).await?.contains(&at) {
                return Err(CoreError::not_found("backup copy", format!("{backup_id} at {at}")));
            }
            return self.start_delete(caller, &backup, Doomed::DataAt { at, kept: None }, after).await;
        }
        let Some(kept) = catalog::attached_copies_of(db, backup.id).await?.first().copied() else {
            return self.delete_with_incrementals(caller, backup, after).await;
        };
        if !backup.state.is_terminal() {
            return Err(CoreError::Unprocessable(format!("backup {} is still {}; wait for it to end", backup.id, backup.state)));
        }
        self.start_delete(caller, &backup, Doomed::DataAt { at, kept: Some(kept) }, after).await
    }

    /// Deletes `backup` with every incremental built on it, once none is still being written or copied.
    async fn delete_with_incrementals(&self, caller: &Principal, backup: Backup, after: AfterDelete) -> CoreResult<Operation> {
        let mut doomed = vec![backup.clone()];
        let mut i = 0;
        while i < doomed.len() {
            let children = catalog::children_of(&self.inner.db, doomed[i].id).await?;
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
        self.start_delete(caller, &backup, Doomed::Backups(doomed), after).await
    }

    /// Records a delete of `backup`'s data: one task per destination whose data goes.
    async fn start_delete(&self, caller: &Principal, backup: &Backup, doomed: Doomed, after: AfterDelete) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let removed = |d: Uuid| (after == AfterDelete::RemoveEmptyDestination && d != self.inner.server_destination).then_some(d);
        let (params, destinations, snapshots) = match &doomed {
            Doomed::Backups(all) => {
                let mut destinations: Vec<Uuid> = Vec::new();
                for b in all {
                    for d in std::iter::once(b.destination_id).chain(catalog::backup_copies_of(db, b.id).await?) {
                        if !destinations.contains(&d) {
                            destinations.push(d);
                        }
                    }
                }
                let ids: Vec<Uuid> = all.iter().map(|b| b.id).collect();
                let params = DeleteParams { backups: ids, remove_destination: removed(backup.destination_id), ..Default::default() };
                (params, destinations, all.iter().map(|b| b.id.to_string()).collect())
            }
            Doomed::DataAt { at, kept } => {
                let params = DeleteParams { backups: Vec::new(), copy_at: Some(*at), kept_at: *kept, remove_destination: removed(*at) };
                (params, vec![*at], vec![backup.id.to_string()])
            }
        };
        let local = self.local_agent(backup.tenant_id).await?;
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Delete,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            params,
        );
        let tasks: Vec<Task> = destinations
            .iter()
            .map(|d| new_task(&op, None, local.id, TaskSpec::DeleteSnapshots { snapshots: snapshots.clone(), destination: Some(*d) }))
            .collect();
        catalog::insert_operation(db, &op, &tasks, None).await?;
        // The data goes for good: the catalog must not roll back to holding it.
        crate::persistence::make_durable(db).await;
        if let Doomed::Backups(all) = &doomed {
            catalog::add_event(
                db,
                backup.tenant_id,
                "backup.deleting",
                &format!("deleting backup '{}' and {} incremental(s)", backup.name, all.len() - 1),
                Some(op.id),
                Some(backup.id),
                Some(backup.source_id),
            )
            .await?;
        }
        self.wake_local();
        Ok(op)
    }
}

/// Removes the rows of deleted backups, or marks them DeleteFailed, inside the ending transaction.
pub(super) async fn finish_delete(
    db: &impl ConnectionTrait,
    op: &Operation,
    params: &DeleteParams,
    state: State,
    error: Option<String>,
) -> CoreResult<()> {
    if let (Some(backup), Some(at)) = (op.backup_id, params.copy_at) {
        if !state.is_success() {
            return Ok(());
        }
        // The backup's own place went: a copy kept elsewhere becomes its place.
        let own_place = catalog::get_backup(db, None, backup).await?.is_some_and(|b| b.destination_id == at);
        let asked = params.kept_at;
        let copies = catalog::backup_copies_of(db, backup).await?;
        let kept = asked.filter(|k| copies.contains(k)).or_else(|| copies.iter().copied().find(|c| *c != at));
        match kept {
            Some(kept) if own_place => catalog::promote_backup_copy(db, backup, kept).await?,
            None if own_place => {
                if let Some(mut b) = catalog::get_backup(db, None, backup).await? {
                    b.state = State::Failed;
                    b.error = Some("its data was deleted and no copy was left".into());
                    catalog::save_backup(db, &b).await?;
                }
            }
            _ => catalog::remove_backup_copy(db, backup, at).await?,
        }
        return Ok(());
    }
    for id in params.backups.iter().rev() {
        if state.is_success() {
            // What the backup was stays in the event log, so histories can show it as deleted.
            if let Some(b) = catalog::get_backup(db, None, *id).await? {
                let tables: Vec<String> = catalog::backup_nodes_of(db, *id)
                    .await?
                    .iter()
                    .flat_map(|n| n.detail.get("tables").and_then(Value::as_object).into_iter().flatten().map(|(t, _)| t.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let record = json!({ "tag": b.tag, "created_at": b.created_at, "destination_id": b.destination_id, "state": b.state, "tables": tables });
                catalog::add_event(db, b.tenant_id, "backup.deleted", &record.to_string(), Some(op.id), Some(b.id), Some(b.source_id))
                    .await?;
            }
            catalog::delete_backup_row(db, *id).await?;
        } else if let Some(mut b) = catalog::get_backup(db, None, *id).await? {
            b.state = State::DeleteFailed;
            b.error = error.clone();
            catalog::save_backup(db, &b).await?;
        }
    }
    Ok(())
}
