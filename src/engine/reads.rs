//! What callers read: backups (one, pages, the newest of a source, details for listings),
//! operations and their tasks (with connection strings hidden).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Engine, tenant_scope};
use crate::{
    domain::{
        backup::{Backup, BackupNode, Selection},
        identity::Principal,
        operation::{Operation, OperationKind, Task, TaskSpec},
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

fn visible_ids(caller: &Principal, backups: &[Backup]) -> Vec<Uuid> {
    backups.iter().filter(|b| caller.can_see_tenant(b.tenant_id)).map(|b| b.id).collect()
}

/// The per-node parts and the copies of a listing's backups, by backup id.
#[derive(Debug, Default)]
pub struct BackupDetails {
    pub nodes: HashMap<Uuid, Vec<BackupNode>>,
    pub copies: HashMap<Uuid, Vec<Uuid>>,
}

impl BackupDetails {
    pub fn nodes_of(&self, backup: Uuid) -> &[BackupNode] {
        self.nodes.get(&backup).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn copies_of(&self, backup: Uuid) -> &[Uuid] {
        self.copies.get(&backup).map(Vec::as_slice).unwrap_or_default()
    }
}

impl Engine {
    pub async fn backup(&self, caller: &Principal, id: Uuid) -> CoreResult<Backup> {
        catalog::get_backup(&self.inner.db, tenant_scope(caller), id).await?.ok_or_else(|| CoreError::not_found("backup", id.to_string()))
    }

    /// Where a listing continues after backup `id` (its created time and id); `None` when the
    /// caller has no such backup, and the listing starts from the newest.
    pub async fn backup_cursor(&self, caller: &Principal, id: Uuid) -> CoreResult<Option<(DateTime<Utc>, Uuid)>> {
        Ok(catalog::get_backup(&self.inner.db, Some(caller.tenant_id), id).await?.map(|b| (b.created_at, b.id)))
    }

    /// One page of the caller's backups (see [`catalog::BackupPage`] and [`Engine::backup_cursor`]).
    pub async fn backups_page(&self, caller: &Principal, page: &catalog::BackupPage) -> CoreResult<Vec<Backup>> {
        catalog::list_backups_page(&self.inner.db, caller.tenant_id, page).await
    }

    /// Every backup of the caller's (of one source), newest first. Listings that can grow without
    /// bound read pages instead ([`Engine::backups_page`]).
    pub async fn backups(&self, caller: &Principal, source_id: Option<Uuid>) -> CoreResult<Vec<Backup>> {
        catalog::list_backups(&self.inner.db, Some(caller.tenant_id), source_id).await
    }

    /// The newest complete backup of a source, made at or before `at` when given.
    pub async fn newest_complete_backup(
        &self,
        caller: &Principal,
        source_id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> CoreResult<Option<Backup>> {
        self.newest_backup_holding(caller, source_id, at, None).await
    }

    /// The newest complete backup of a source made at or before `at` (when given) that holds
    /// every table `selection` covers (when given; see [`Selection::holds_tables_of`]): a backup
    /// of some tables never stands for their keyspace or the cluster.
    pub async fn newest_backup_holding(
        &self,
        caller: &Principal,
        source_id: Uuid,
        at: Option<DateTime<Utc>>,
        selection: Option<&Selection>,
    ) -> CoreResult<Option<Backup>> {
        const PAGE: u64 = 100;
        // Just past `at`: the cursor is exclusive, and the nil id sorts first.
        let mut after = at.map(|t| (t + chrono::Duration::microseconds(1), Uuid::nil()));
        loop {
            let page =
                catalog::BackupPage { source_id: Some(source_id), complete_only: true, after, limit: Some(PAGE), ..Default::default() };
            let backups = self.backups_page(caller, &page).await?;
            let last = backups.last().map(|b| (b.created_at, b.id));
            let full = backups.len() as u64 == PAGE;
            if let Some(found) = backups.into_iter().find(|b| selection.is_none_or(|s| b.selection.holds_tables_of(s))) {
                return Ok(Some(found));
            }
            match last {
                Some(cursor) if full => after = Some(cursor),
                _ => return Ok(None),
            }
        }
    }

    /// The backups of a source whose stored tag is `tag`, or made within the second starting at
    /// `made_in` (for tags a dialect derives from the created time).
    pub async fn backups_tagged(
        &self,
        caller: &Principal,
        source_id: Uuid,
        tag: &str,
        made_in: Option<DateTime<Utc>>,
    ) -> CoreResult<Vec<Backup>> {
        catalog::backups_tagged(&self.inner.db, caller.tenant_id, source_id, tag, made_in).await
    }

    /// A source's complete backups in sum: when the newest finished and the bytes they store.
    pub async fn complete_backup_totals(&self, caller: &Principal, source_id: Uuid) -> CoreResult<(Option<DateTime<Utc>>, i64)> {
        catalog::complete_backup_totals(&self.inner.db, caller.tenant_id, source_id).await
    }

    /// When the source's complete backup (of one plan, when given) that finished last finished.
    pub async fn last_completion(&self, caller: &Principal, source_id: Uuid, plan_id: Option<Uuid>) -> CoreResult<Option<DateTime<Utc>>> {
        catalog::last_completion(&self.inner.db, caller.tenant_id, source_id, plan_id).await
    }

    /// A source's events of one kind (`backup.deleted`, ...), newest first.
    pub async fn source_events(&self, caller: &Principal, source_id: Uuid, kind: &str) -> CoreResult<Vec<crate::domain::operation::Event>> {
        catalog::source_events(&self.inner.db, caller.tenant_id, source_id, kind).await
    }

    /// The per-node parts and the copies of many backups at once, for listings (a few queries,
    /// not a few per backup); backups of tenants the caller cannot see are left out.
    pub async fn backup_details(&self, caller: &Principal, backups: &[Backup]) -> CoreResult<BackupDetails> {
        let ids = visible_ids(caller, backups);
        let db = &self.inner.db;
        Ok(BackupDetails { nodes: catalog::backup_nodes_of_many(db, &ids).await?, copies: catalog::backup_copies_of_many(db, &ids).await? })
    }

    /// Only the copies of many backups (for filtering by destination before reading more).
    pub async fn backup_copies_of_many(&self, caller: &Principal, backups: &[Backup]) -> CoreResult<HashMap<Uuid, Vec<Uuid>>> {
        catalog::backup_copies_of_many(&self.inner.db, &visible_ids(caller, backups)).await
    }

    pub async fn backup_nodes(&self, caller: &Principal, id: Uuid) -> CoreResult<Vec<BackupNode>> {
        self.backup(caller, id).await?;
        catalog::backup_nodes_of(&self.inner.db, id).await
    }

    pub async fn operation(&self, caller: &Principal, id: Uuid) -> CoreResult<Operation> {
        catalog::get_operation(&self.inner.db, tenant_scope(caller), id)
            .await?
            .ok_or_else(|| CoreError::not_found("operation", id.to_string()))
    }

    /// The caller's tenant's newest operations of the given kinds (every kind when none is given).
    pub async fn operations(&self, caller: &Principal, kinds: &[OperationKind], limit: u64) -> CoreResult<Vec<Operation>> {
        catalog::list_operations(&self.inner.db, Some(caller.tenant_id), kinds, limit).await
    }

    /// Operations of one kind on one source of the caller's tenant, newest first.
    pub async fn source_operations(
        &self,
        caller: &Principal,
        source_id: Uuid,
        kind: OperationKind,
        limit: u64,
    ) -> CoreResult<Vec<Operation>> {
        let source = self.source_row(caller, source_id).await?;
        catalog::source_operations(&self.inner.db, source.tenant_id, source.id, kind, limit).await
    }

    /// The tasks of many operations the caller may see, by operation (a listing's batch read).
    pub async fn tasks_of_many(&self, caller: &Principal, operations: &[Operation]) -> CoreResult<HashMap<Uuid, Vec<Task>>> {
        let ids: Vec<Uuid> = operations.iter().filter(|o| caller.can_see_tenant(o.tenant_id)).map(|o| o.id).collect();
        let mut tasks = catalog::tasks_of_many(&self.inner.db, &ids).await?;
        for t in tasks.values_mut().flatten() {
            hide_secrets(&mut t.spec);
        }
        Ok(tasks)
    }

    pub async fn tasks(&self, caller: &Principal, operation_id: Uuid) -> CoreResult<Vec<Task>> {
        self.operation(caller, operation_id).await?;
        let mut tasks = catalog::tasks_of(&self.inner.db, operation_id).await?;
        for t in &mut tasks {
            hide_secrets(&mut t.spec);
        }
        Ok(tasks)
    }
}

/// Removes connection strings from task specs shown to users.
fn hide_secrets(spec: &mut TaskSpec) {
    if let TaskSpec::BackupDatabase { location, .. } | TaskSpec::RestoreDatabase { target: location, .. } = spec {
        *location = "<sealed>".into();
    }
}
