//! Restores prepared step by step: a client names the backup, the agent and the directory, adds
//! paths to include or leave out, then starts it. Starting runs an ordinary restore operation
//! to that directory, so progress, cancelling and the result are those of any restore.

use std::path::{Component, Path};

use chrono::Utc;
use uuid::Uuid;

use super::{Engine, RestoreSpec, RestoreTarget};
use crate::{
    domain::{
        backup::{RestoreDraft, RestoreFile, Selection},
        identity::Principal,
        operation::Operation,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

/// An absolute path without `..`: restore directories and file filters name places plainly.
fn plain_absolute(path: &str, what: &str) -> CoreResult<()> {
    let p = Path::new(path);
    if path.chars().count() > 4096 || !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) || path.contains('\0') {
        return Err(CoreError::BadRequest(format!("{what} must be an absolute path without '..', not '{path}'")));
    }
    Ok(())
}

impl Engine {
    /// Prepares a restore of a complete backup into `path` on an agent of the caller's tenant.
    pub async fn prepare_restore(
        &self,
        caller: &Principal,
        backup_id: Uuid,
        agent_id: Uuid,
        path: &str,
        overwrite: bool,
    ) -> CoreResult<RestoreDraft> {
        let backup = self.backup(caller, backup_id).await?;
        if !backup.state.is_success() {
            return Err(CoreError::BadRequest(format!("backup {backup_id} is {}; only complete backups can be restored", backup.state)));
        }
        let agent = self.agent_of(caller, agent_id).await?;
        plain_absolute(path, "the restore directory")?;
        self.check_local_path(caller, &agent.name, path)?;
        let draft = RestoreDraft {
            id: Uuid::new_v4(),
            tenant_id: backup.tenant_id,
            backup_id,
            agent_id: agent.id,
            path: path.to_owned(),
            overwrite,
            files: vec![],
            operation_id: None,
            created_at: Utc::now(),
        };
        catalog::save_restore_draft(&self.inner.db, &draft).await?;
        Ok(draft)
    }

    pub async fn restore_draft(&self, caller: &Principal, id: Uuid) -> CoreResult<RestoreDraft> {
        catalog::get_restore_draft(&self.inner.db, caller.tenant_id, id)
            .await?
            .ok_or_else(|| CoreError::not_found("restore", id.to_string()))
    }

    /// The caller's started restores, newest first.
    pub async fn started_restores(&self, caller: &Principal, limit: u64) -> CoreResult<Vec<RestoreDraft>> {
        catalog::started_restore_drafts(&self.inner.db, caller.tenant_id, limit).await
    }

    /// Changes a restore that has not started: its directory, agent, overwrite choice and files.
    pub async fn update_restore_draft(&self, caller: &Principal, changed: RestoreDraft) -> CoreResult<RestoreDraft> {
        let old = self.restore_draft(caller, changed.id).await?;
        if old.operation_id.is_some() {
            return Err(CoreError::Conflict(format!("restore {} has started and can no longer change", old.id)));
        }
        let agent = self.agent_of(caller, changed.agent_id).await?;
        plain_absolute(&changed.path, "the restore directory")?;
        self.check_local_path(caller, &agent.name, &changed.path)?;
        for f in &changed.files {
            plain_absolute(&f.path, "a restore file path")?;
        }
        let draft = RestoreDraft { tenant_id: old.tenant_id, backup_id: old.backup_id, created_at: old.created_at, ..changed };
        catalog::save_restore_draft(&self.inner.db, &draft).await?;
        Ok(draft)
    }

    /// Adds a path to include or leave out.
    pub async fn add_restore_file(&self, caller: &Principal, id: Uuid, file: RestoreFile) -> CoreResult<RestoreDraft> {
        let mut draft = self.restore_draft(caller, id).await?;
        if !draft.files.contains(&file) {
            draft.files.push(file);
        }
        self.update_restore_draft(caller, draft).await
    }

    /// Starts a prepared restore; it starts once.
    pub async fn start_restore_draft(&self, caller: &Principal, id: Uuid) -> CoreResult<Operation> {
        let mut draft = self.restore_draft(caller, id).await?;
        if let Some(op) = draft.operation_id {
            return Err(CoreError::Unprocessable(format!("restore {id} already started (operation {op})")));
        }
        let backup = self.backup(caller, draft.backup_id).await?;
        let agent = self.agent_of(caller, draft.agent_id).await?;
        // File paths name places on the backed-up machine; the backup holds them relative to its root.
        let root = catalog::nodes_of(&self.inner.db, backup.source_id).await?.first().map(|n| n.location.clone()).unwrap_or_default();
        let relative = |f: &RestoreFile| {
            let path = Path::new(&f.path);
            path.strip_prefix(&root).unwrap_or(path).to_string_lossy().trim_matches('/').to_owned()
        };
        let selection = Selection {
            include: draft.files.iter().filter(|f| !f.exclude).map(relative).collect(),
            exclude: draft.files.iter().filter(|f| f.exclude).map(relative).collect(),
            ..Default::default()
        };
        let spec = RestoreSpec {
            backup_id: backup.id,
            target: RestoreTarget::Path { path: draft.path.clone(), agent: Some(agent.name.clone()), overwrite: draft.overwrite },
            selection,
            options: Default::default(),
            destination_id: None,
            point_in_time: None,
        };
        let op = self.start_restore(caller, spec).await?;
        draft.operation_id = Some(op.id);
        catalog::save_restore_draft(&self.inner.db, &draft).await?;
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_places_are_absolute_and_never_climb() {
        assert!(plain_absolute("/srv/restore", "d").is_ok());
        assert!(plain_absolute("srv/restore", "d").is_err());
        assert!(plain_absolute("/srv/../etc", "d").is_err());
        assert!(plain_absolute("", "d").is_err());
    }
}
