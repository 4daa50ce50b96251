//! Regions: every backup lives in one. The home region (the first of `regions`) holds the backups
//! made without naming a region, in their own destination; another region's backups are kept in
//! that region's destination. A copy to a region is a backup of its own there, with its own id,
//! name and status, made from the original's data (Cloud Databases' copy-backup and `copy_to`).

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task},
    stored::{CopyParams, RegionCopyParams},
};
use crate::{
    domain::{
        backup::{Backup, BackupNode},
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskSpec},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::{ConnectionTrait, catalog},
};

/// A copy of a backup to another region.
#[derive(Clone, Debug, Default)]
pub struct RegionCopy {
    pub backup_id: Uuid,
    pub region: String,
    /// The copy's name; the original's when absent or blank.
    pub name: Option<String>,
    /// The copy's description; the original's when absent or empty.
    pub description: Option<String>,
}

/// The backup a copy was made from, first of its line: a copy of a copy names the first original.
fn origin(b: &Backup) -> Uuid {
    b.metadata.get("origin").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()).unwrap_or(b.id)
}

impl Engine {
    /// The region backups are made in when none is named: the first served.
    pub fn home_region(&self) -> String {
        self.inner.settings.regions.first().map(|r| r.to_ascii_uppercase()).unwrap_or_default()
    }

    /// The served region `region` names (in any case), as the catalog writes it.
    pub fn served_region(&self, region: &str) -> Option<String> {
        let region = region.trim().to_ascii_uppercase();
        self.inner.settings.regions.iter().any(|r| r.eq_ignore_ascii_case(&region)).then_some(region)
    }

    /// The region a backup lives in.
    pub fn region_of(&self, b: &Backup) -> String {
        b.metadata.get("region").and_then(Value::as_str).map(str::to_ascii_uppercase).unwrap_or_else(|| self.home_region())
    }

    /// The newest complete backup in `region` that is `backup` or a copy of it (or of its original).
    pub(super) async fn complete_in_region(
        &self,
        db: &crate::persistence::Db,
        backup: &Backup,
        region: &str,
    ) -> CoreResult<Option<Backup>> {
        let line = origin(backup);
        Ok(catalog::list_backups(db, Some(backup.tenant_id), Some(backup.source_id))
            .await?
            .into_iter()
            .find(|b| b.state.is_success() && origin(b) == line && self.region_of(b) == region))
    }

    /// A copy to a region of one of `backups` that has not ended yet (it reads their data).
    pub(super) async fn region_copy_running(&self, backups: &[Backup]) -> CoreResult<Option<Backup>> {
        let Some(first) = backups.first() else { return Ok(None) };
        let copy_of = |b: &Backup| b.metadata.get("copy_of").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        Ok(catalog::list_backups(&self.inner.db, Some(first.tenant_id), Some(first.source_id))
            .await?
            .into_iter()
            .find(|c| !c.state.is_terminal() && copy_of(c).is_some_and(|of| backups.iter().any(|b| b.id == of))))
    }

    /// Starts a copy of a complete backup into another region: a new backup there, NEW until the
    /// copy runs, then BUILDING and COMPLETED (or FAILED). An incremental's parent must already be
    /// in that region; the copy is an incremental of the parent's copy there.
    pub async fn start_region_copy(&self, caller: &Principal, copy: RegionCopy) -> CoreResult<Backup> {
        let db = &self.inner.db;
        let original = self.backup(caller, copy.backup_id).await?;
        if !original.state.is_success() {
            return Err(CoreError::Unprocessable(format!(
                "backup {} is {}; only complete backups can be copied",
                original.id, original.state
            )));
        }
        let to = self.region_destination(caller, &copy.region).await?;
        let region = self.served_region(&copy.region).unwrap_or_default();
        let from = self.region_of(&original);
        if region == from {
            return Err(CoreError::BadRequest(format!("backup {} is in {region} already; copy it to another region", original.id)));
        }
        let parent = match original.parent_id {
            Some(id) => {
                let parent = catalog::get_backup(db, Some(original.tenant_id), id)
                    .await?
                    .ok_or_else(|| CoreError::not_found("backup", id.to_string()))?;
                let there = self.complete_in_region(db, &parent, &region).await?.ok_or_else(|| {
                    CoreError::BadRequest(format!("the parent backup {id} of this incremental is not in {region}; copy it there first"))
                })?;
                Some(there.id)
            }
            None => None,
        };
        let name = copy.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| original.name.clone());
        crate::domain::check_name("a backup name", &name).map_err(CoreError::BadRequest)?;
        let description = copy.description.filter(|d| !d.is_empty()).unwrap_or_else(|| original.description.clone());
        let local = self.local_agent(original.tenant_id).await?;

        let id = Uuid::new_v4();
        let now = Utc::now();
        let mut metadata = if original.metadata.is_object() { original.metadata.clone() } else { json!({}) };
        metadata["region"] = json!(region);
        metadata["source_region"] = json!(from);
        metadata["copy_of"] = json!(original.id);
        metadata["origin"] = json!(origin(&original));
        let op = new_operation(
            original.tenant_id,
            OperationKind::Copy,
            caller,
            Some(original.source_id),
            Some(id),
            OperationOptions::default(),
            // The task reads the original where it is kept (the claim opens `destination_id`); what
            // the copy will hold is taken now, so the original may go while it is copied.
            CopyParams::ToRegion(RegionCopyParams {
                region: region.clone(),
                copy_of: original.id,
                destination_id: original.destination_id,
                copied_nodes: catalog::backup_nodes_of(db, original.id).await?,
                size_bytes: original.size_bytes,
                file_count: original.file_count,
            }),
        );
        let backup = Backup {
            id,
            tenant_id: original.tenant_id,
            source_id: original.source_id,
            parent_id: parent,
            plan_id: None,
            operation_id: Some(op.id),
            destination_id: to,
            name,
            description,
            tag: id.to_string(),
            selection: original.selection.clone(),
            state: State::Queued,
            size_bytes: 0,
            stored_bytes: 0,
            file_count: 0,
            error: None,
            metadata,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        let spec = TaskSpec::CopySnapshot {
            snapshot: original.id.to_string(),
            to,
            nodes: Vec::new(),
            as_snapshot: Some(id.to_string()),
            as_parent: parent.map(|p| p.to_string()),
        };
        let task = new_task(&op, None, local.id, spec);
        catalog::insert_operation(db, &op, &[task], Some(&backup)).await?;
        catalog::add_event(
            db,
            original.tenant_id,
            "copy.started",
            &format!("copying backup '{}' from {from} to {region} as backup '{}'", original.name, backup.name),
            Some(op.id),
            Some(backup.id),
            Some(original.source_id),
        )
        .await?;
        self.wake_local();
        Ok(backup)
    }

    /// Records the end of a region copy inside its operation's ending transaction: the copy
    /// holds what the original held, node by node.
    pub(super) async fn finish_region_copy(
        &self,
        db: &impl ConnectionTrait,
        op: &Operation,
        copy: &RegionCopyParams,
        tasks: &[Task],
        state: State,
        error: Option<String>,
    ) -> CoreResult<Option<Backup>> {
        let Some(id) = op.backup_id else { return Ok(None) };
        let Some(mut backup) = catalog::get_backup(db, None, id).await? else { return Ok(None) };
        if state.is_success() {
            for node in &copy.copied_nodes {
                catalog::save_backup_node(db, &BackupNode { backup_id: backup.id, ..node.clone() }).await?;
            }
            backup.size_bytes = copy.size_bytes;
            backup.file_count = copy.file_count;
            backup.stored_bytes = tasks.iter().filter_map(|t| t.result.get("new_bytes_stored").and_then(Value::as_i64)).sum();
            backup.completed_at = Some(Utc::now());
        }
        backup.state = state;
        backup.error = error;
        backup.updated_at = Utc::now();
        catalog::save_backup(db, &backup).await?;
        Ok(Some(backup))
    }
}
