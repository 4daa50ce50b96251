//! Complete copies of backups kept in destinations other than their own.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr};
use uuid::Uuid;

use super::{IDS_PER_QUERY, destinations::detached_destinations};
use crate::{
    error::CoreResult,
    persistence::entities::{backup_copies, backups},
};

/// Records that `destination` holds a complete copy of `backup`.
pub async fn add_backup_copy(db: &impl ConnectionTrait, backup: Uuid, destination: Uuid) -> CoreResult<()> {
    backup_copies::Entity::delete_many()
        .filter(backup_copies::Column::BackupId.eq(backup))
        .filter(backup_copies::Column::DestinationId.eq(destination))
        .exec(db)
        .await?;
    backup_copies::ActiveModel { backup_id: Set(backup), destination_id: Set(destination), created_at: Set(Utc::now()) }.insert(db).await?;
    Ok(())
}

/// Forgets the copy of `backup` kept at `destination`.
pub async fn remove_backup_copy(db: &impl ConnectionTrait, backup: Uuid, destination: Uuid) -> CoreResult<()> {
    backup_copies::Entity::delete_many()
        .filter(backup_copies::Column::BackupId.eq(backup))
        .filter(backup_copies::Column::DestinationId.eq(destination))
        .exec(db)
        .await?;
    Ok(())
}

/// Destinations holding a complete copy of `backup` besides its own.
pub async fn backup_copies_of(db: &impl ConnectionTrait, backup: Uuid) -> CoreResult<Vec<Uuid>> {
    let rows = backup_copies::Entity::find()
        .filter(backup_copies::Column::BackupId.eq(backup))
        .order_by_asc(backup_copies::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.destination_id).collect())
}

/// Attached destinations holding a complete copy of `backup` besides its own (what lists show).
pub async fn attached_copies_of(db: &impl ConnectionTrait, backup: Uuid) -> CoreResult<Vec<Uuid>> {
    let rows = backup_copies::Entity::find()
        .filter(backup_copies::Column::BackupId.eq(backup))
        .filter(backup_copies::Column::DestinationId.not_in_subquery(detached_destinations()))
        .order_by_asc(backup_copies::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.destination_id).collect())
}

/// The attached destinations holding copies of many backups, by backup, oldest copy first.
pub async fn backup_copies_of_many(db: &impl ConnectionTrait, ids: &[Uuid]) -> CoreResult<HashMap<Uuid, Vec<Uuid>>> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = backup_copies::Entity::find()
            .filter(backup_copies::Column::BackupId.is_in(chunk.to_vec()))
            .filter(backup_copies::Column::DestinationId.not_in_subquery(detached_destinations()))
            .order_by_asc(backup_copies::Column::CreatedAt)
            .all(db)
            .await?;
        for r in rows {
            out.entry(r.backup_id).or_default().push(r.destination_id);
        }
    }
    Ok(out)
}

/// Makes the copy of `backup` at `to` its own place, and its former place `from` a copy.
pub(super) async fn move_backup(db: &impl ConnectionTrait, backup: Uuid, from: Uuid, to: Uuid) -> CoreResult<()> {
    remove_backup_copy(db, backup, to).await?;
    backups::Entity::update_many()
        .col_expr(backups::Column::DestinationId, Expr::value(to))
        .filter(backups::Column::Id.eq(backup))
        .exec(db)
        .await?;
    add_backup_copy(db, backup, from).await
}

/// Makes the copy of `backup` at `to` its own place, forgetting its former place (whose data a
/// delete removed).
pub async fn promote_backup_copy(db: &impl ConnectionTrait, backup: Uuid, to: Uuid) -> CoreResult<()> {
    remove_backup_copy(db, backup, to).await?;
    backups::Entity::update_many()
        .col_expr(backups::Column::DestinationId, Expr::value(to))
        .filter(backups::Column::Id.eq(backup))
        .exec(db)
        .await?;
    Ok(())
}
