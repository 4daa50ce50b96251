//! Destinations (where backups are kept), with their secrets sealed, and detaching them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::copies::move_backup;
use crate::{
    domain::state::State,
    error::CoreResult,
    persistence::{
        Db,
        entities::{backup_copies, backups, destinations},
    },
};

/// A destination row, with its secret still sealed.
#[derive(Clone, Debug)]
pub struct DestinationRow {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub kind: String,
    pub config: serde_json::Value,
    pub sealed_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the destination was removed while it still held backups: it is in no list, its
    /// data stays, and adding the same location again attaches it again.
    pub detached_at: Option<DateTime<Utc>>,
}

fn destination(m: destinations::Model) -> DestinationRow {
    DestinationRow {
        id: m.id,
        tenant_id: m.tenant_id,
        name: m.name,
        kind: m.kind,
        config: m.config,
        sealed_secret: m.secret,
        created_at: m.created_at,
        detached_at: m.detached_at,
    }
}

/// The ids of detached destinations, as a subquery.
pub(super) fn detached_destinations() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(destinations::Column::Id)
        .from(destinations::Entity)
        .and_where(destinations::Column::DetachedAt.is_not_null())
        .to_owned()
}

/// The server's own store destination, created on first use.
pub async fn ensure_server_destination(db: &Db) -> CoreResult<DestinationRow> {
    let found = destinations::Entity::find()
        .filter(destinations::Column::Kind.eq("server"))
        .filter(destinations::Column::TenantId.is_null())
        .one(db)
        .await?;
    if let Some(m) = found {
        return Ok(destination(m));
    }
    let row = destinations::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(None),
        name: Set("server".into()),
        kind: Set("server".into()),
        config: Set(serde_json::json!({})),
        secret: Set(None),
        created_at: Set(Utc::now()),
        detached_at: Set(None),
    };
    Ok(destination(row.insert(db).await?))
}

/// The server's destinations and the tenant's own, oldest first; detached ones are left out.
pub async fn list_destinations(db: &Db, tenant_id: Uuid) -> CoreResult<Vec<DestinationRow>> {
    let rows = destinations::Entity::find()
        .filter(destinations::Column::TenantId.is_null().or(destinations::Column::TenantId.eq(tenant_id)))
        .filter(destinations::Column::DetachedAt.is_null())
        .order_by_asc(destinations::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(destination).collect())
}

pub async fn global_destination_named(db: &Db, name: &str) -> CoreResult<Option<DestinationRow>> {
    let row = destinations::Entity::find()
        .filter(destinations::Column::TenantId.is_null())
        .filter(destinations::Column::Name.eq(name))
        .one(db)
        .await?;
    Ok(row.map(destination))
}

/// A destination, attached or detached (the engine's own reads; callers see attached ones only).
pub async fn get_destination(db: &Db, id: Uuid) -> CoreResult<Option<DestinationRow>> {
    Ok(destinations::Entity::find_by_id(id).one(db).await?.map(destination))
}

/// Inserts or replaces a destination.
pub async fn save_destination(db: &Db, d: &DestinationRow) -> CoreResult<()> {
    let model = destinations::ActiveModel {
        id: Set(d.id),
        tenant_id: Set(d.tenant_id),
        name: Set(d.name.clone()),
        kind: Set(d.kind.clone()),
        config: Set(d.config.clone()),
        secret: Set(d.sealed_secret.clone()),
        created_at: Set(d.created_at),
        detached_at: Set(d.detached_at),
    };
    if destinations::Entity::find_by_id(d.id).one(db).await?.is_some() {
        model.update(db).await?;
    } else {
        model.insert(db).await?;
    }
    Ok(())
}

pub async fn delete_destination(db: &Db, id: Uuid) -> CoreResult<()> {
    destinations::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Whether any backup keeps data in the destination.
pub async fn destination_in_use(db: &Db, id: Uuid) -> CoreResult<bool> {
    Ok(backups::Entity::find().filter(backups::Column::DestinationId.eq(id)).count(db).await? > 0
        || backup_copies::Entity::find().filter(backup_copies::Column::DestinationId.eq(id)).count(db).await? > 0)
}

/// A backup still being written to the destination, when one is.
pub async fn backup_being_written_to(db: &Db, destination: Uuid) -> CoreResult<Option<Uuid>> {
    let busy = backups::Entity::find()
        .filter(backups::Column::DestinationId.eq(destination))
        .filter(backups::Column::State.is_in([State::Queued, State::Running, State::Cancelling].map(State::as_str)))
        .one(db)
        .await?;
    Ok(busy.map(|b| b.id))
}

/// A tenant's detached destinations of one kind, newest first.
pub async fn detached_destinations_of(db: &Db, tenant_id: Uuid, kind: &str) -> CoreResult<Vec<DestinationRow>> {
    let rows = destinations::Entity::find()
        .filter(destinations::Column::TenantId.eq(tenant_id))
        .filter(destinations::Column::Kind.eq(kind))
        .filter(destinations::Column::DetachedAt.is_not_null())
        .order_by_desc(destinations::Column::DetachedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(destination).collect())
}

/// Detaches a destination in one transaction: a backup kept there that has a copy at an attached
/// destination is kept at that copy instead (and lists the detached one as a copy), so only
/// backups held nowhere else leave the lists with it.
pub async fn detach_destination(db: &Db, id: Uuid) -> CoreResult<()> {
    let txn = db.begin().await?;
    let now = Utc::now();
    destinations::Entity::update_many()
        .col_expr(destinations::Column::DetachedAt, Expr::value(now))
        .filter(destinations::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let kept_there = backups::Entity::find().filter(backups::Column::DestinationId.eq(id)).all(&txn).await?;
    for b in kept_there {
        let attached_copy = backup_copies::Entity::find()
            .filter(backup_copies::Column::BackupId.eq(b.id))
            .filter(backup_copies::Column::DestinationId.not_in_subquery(detached_destinations()))
            .order_by_asc(backup_copies::Column::CreatedAt)
            .one(&txn)
            .await?;
        let Some(copy) = attached_copy else { continue };
        move_backup(&txn, b.id, id, copy.destination_id).await?;
    }
    txn.commit().await?;
    Ok(())
}
