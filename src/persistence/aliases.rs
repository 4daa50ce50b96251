//! Integer aliases: the stable numbers Cloud Backup shows for objects whose ids are UUIDs (agents,
//! configurations, backups, restores, cleanups), each made on first use, every kind in one table.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{Db, entities::aliases};
use crate::error::{CoreError, CoreResult};

/// The stable integer a dialect shows for `target` of `kind`, created on first use.
pub async fn alias_for(db: &Db, kind: &str, target: Uuid) -> CoreResult<i64> {
    let existing =
        aliases::Entity::find().filter(aliases::Column::Kind.eq(kind)).filter(aliases::Column::TargetId.eq(target)).one(db).await?;
    if let Some(row) = existing {
        return Ok(row.id);
    }
    let row = aliases::ActiveModel { kind: Set(kind.to_owned()), target_id: Set(target), ..Default::default() };
    match row.insert(db).await {
        Ok(m) => Ok(m.id),
        // Another request created it first; read theirs.
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            let row = aliases::Entity::find()
                .filter(aliases::Column::Kind.eq(kind))
                .filter(aliases::Column::TargetId.eq(target))
                .one(db)
                .await?
                .ok_or_else(|| CoreError::internal(anyhow::anyhow!("alias vanished after conflict")))?;
            Ok(row.id)
        }
        Err(e) => Err(e.into()),
    }
}

/// The integer alias of an object just made, which has none yet (one statement when no one
/// asked for it meanwhile).
pub async fn new_alias(db: &Db, kind: &str, target: Uuid) -> CoreResult<i64> {
    let row = aliases::ActiveModel { kind: Set(kind.to_owned()), target_id: Set(target), ..Default::default() };
    match aliases::Entity::insert(row).exec(db).await {
        Ok(done) => Ok(done.last_insert_id),
        // A listing gave it one between its creation and now.
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => alias_for(db, kind, target).await,
        Err(e) => Err(e.into()),
    }
}

/// The integer aliases of many objects of `kind` (one query for those that have one; the rest
/// get theirs one by one, as [`alias_for`] does).
pub async fn aliases_for(db: &Db, kind: &str, targets: &[Uuid]) -> CoreResult<std::collections::HashMap<Uuid, i64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in targets.chunks(500) {
        let rows = aliases::Entity::find()
            .filter(aliases::Column::Kind.eq(kind))
            .filter(aliases::Column::TargetId.is_in(chunk.to_vec()))
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|r| (r.target_id, r.id)));
    }
    for target in targets {
        if !out.contains_key(target) {
            out.insert(*target, alias_for(db, kind, *target).await?);
        }
    }
    Ok(out)
}

/// The object an integer alias of `kind` stands for.
pub async fn resolve_alias(db: &Db, kind: &str, alias: i64) -> CoreResult<Option<Uuid>> {
    let row = aliases::Entity::find_by_id(alias).filter(aliases::Column::Kind.eq(kind)).one(db).await?;
    Ok(row.map(|r| r.target_id))
}
