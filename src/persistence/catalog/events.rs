//! Events: the activity log operations write.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::{
    domain::operation::Event,
    error::CoreResult,
    persistence::{Db, entities::events},
};

pub async fn add_event(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    kind: &str,
    message: &str,
    operation_id: Option<Uuid>,
    backup_id: Option<Uuid>,
    source_id: Option<Uuid>,
) -> CoreResult<()> {
    events::ActiveModel {
        tenant_id: Set(tenant_id),
        at: Set(Utc::now()),
        kind: Set(kind.to_owned()),
        message: Set(message.to_owned()),
        operation_id: Set(operation_id),
        backup_id: Set(backup_id),
        source_id: Set(source_id),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A source's events of one kind, newest first.
pub async fn source_events(db: &Db, tenant_id: Uuid, source_id: Uuid, kind: &str) -> CoreResult<Vec<Event>> {
    Ok(events::Entity::find()
        .filter(events::Column::SourceId.eq(source_id))
        .filter(events::Column::Kind.eq(kind))
        .filter(events::Column::TenantId.eq(tenant_id))
        .order_by_desc(events::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(event)
        .collect())
}

/// Events newest first.
pub async fn list_events(db: &Db, tenant_id: Option<Uuid>, limit: u64) -> CoreResult<Vec<Event>> {
    let mut q = events::Entity::find().order_by_desc(events::Column::Id).limit(limit);
    if let Some(t) = tenant_id {
        q = q.filter(events::Column::TenantId.eq(t));
    }
    Ok(q.all(db).await?.into_iter().map(event).collect())
}

fn event(m: events::Model) -> Event {
    Event {
        id: m.id,
        tenant_id: m.tenant_id,
        at: m.at,
        kind: m.kind,
        message: m.message,
        operation_id: m.operation_id,
        backup_id: m.backup_id,
        source_id: m.source_id,
    }
}
