//! Restore drafts: a Cloud Backup restore being put together, and once started, its record.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::corrupt;
use crate::{
    domain::backup::RestoreDraft,
    error::CoreResult,
    persistence::{Db, entities::restore_drafts},
};

fn draft(m: restore_drafts::Model) -> CoreResult<RestoreDraft> {
    Ok(RestoreDraft {
        id: m.id,
        tenant_id: m.tenant_id,
        backup_id: m.backup_id,
        agent_id: m.agent_id,
        path: m.path,
        overwrite: m.overwrite,
        files: serde_json::from_str(&m.files).map_err(|e| corrupt("restore files", e))?,
        operation_id: m.operation_id,
        created_at: m.created_at,
    })
}

/// Inserts or replaces a restore draft.
pub async fn save_restore_draft(db: &Db, d: &RestoreDraft) -> CoreResult<()> {
    let model = restore_drafts::ActiveModel {
        id: Set(d.id),
        tenant_id: Set(d.tenant_id),
        backup_id: Set(d.backup_id),
        agent_id: Set(d.agent_id),
        path: Set(d.path.clone()),
        overwrite: Set(d.overwrite),
        files: Set(serde_json::to_string(&d.files).expect("files serialise")),
        operation_id: Set(d.operation_id),
        created_at: Set(d.created_at),
    };
    if restore_drafts::Entity::find_by_id(d.id).one(db).await?.is_some() {
        model.update(db).await?;
    } else {
        model.insert(db).await?;
    }
    Ok(())
}

pub async fn get_restore_draft(db: &Db, tenant_id: Uuid, id: Uuid) -> CoreResult<Option<RestoreDraft>> {
    restore_drafts::Entity::find_by_id(id).filter(restore_drafts::Column::TenantId.eq(tenant_id)).one(db).await?.map(draft).transpose()
}

/// A tenant's started restores, newest first.
pub async fn started_restore_drafts(db: &Db, tenant_id: Uuid, limit: u64) -> CoreResult<Vec<RestoreDraft>> {
    restore_drafts::Entity::find()
        .filter(restore_drafts::Column::TenantId.eq(tenant_id))
        .filter(restore_drafts::Column::OperationId.is_not_null())
        .order_by_desc(restore_drafts::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(draft)
        .collect()
}
