//! Sources (file trees, clusters, database instances) and their nodes.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait, sea_query::Expr};
use uuid::Uuid;

use super::corrupt;
use crate::{
    domain::source::{Node, Source, SourceKind},
    error::CoreResult,
    persistence::{
        Db,
        entities::{nodes, sources},
    },
};

fn source(m: sources::Model) -> CoreResult<Source> {
    Ok(Source {
        id: m.id,
        tenant_id: m.tenant_id,
        kind: m.kind.parse().map_err(|e| corrupt("source kind", e))?,
        name: m.name,
        config: m.config,
        created_at: m.created_at,
    })
}

fn node(m: nodes::Model) -> Node {
    Node {
        id: m.id,
        source_id: m.source_id,
        name: m.name,
        agent_id: m.agent_id,
        location: m.location,
        commitlog_dir: m.commitlog_dir,
        datacenter: m.datacenter,
        rack: m.rack,
        position: m.position,
    }
}

/// Creates a source and its nodes in one transaction. Node locations are stored as given
/// (the engine seals secret ones before calling).
pub async fn create_source(db: &Db, source_row: &Source, node_rows: &[Node]) -> CoreResult<()> {
    let txn = db.begin().await?;
    sources::ActiveModel {
        id: Set(source_row.id),
        tenant_id: Set(source_row.tenant_id),
        kind: Set(source_row.kind.as_str().to_owned()),
        name: Set(source_row.name.clone()),
        config: Set(source_row.config.clone()),
        created_at: Set(source_row.created_at),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    for n in node_rows {
        nodes::ActiveModel {
            id: Set(n.id),
            source_id: Set(n.source_id),
            name: Set(n.name.clone()),
            agent_id: Set(n.agent_id),
            location: Set(n.location.clone()),
            commitlog_dir: Set(n.commitlog_dir.clone()),
            datacenter: Set(n.datacenter.clone()),
            rack: Set(n.rack.clone()),
            position: Set(n.position),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A live source of the tenant (admins pass `None` to see every tenant).
pub async fn get_source(db: &Db, tenant_id: Option<Uuid>, id: Uuid) -> CoreResult<Option<Source>> {
    let mut q = sources::Entity::find_by_id(id).filter(sources::Column::DeletedAt.is_null());
    if let Some(t) = tenant_id {
        q = q.filter(sources::Column::TenantId.eq(t));
    }
    q.one(db).await?.map(source).transpose()
}

pub async fn find_source_by_name(db: &Db, tenant_id: Uuid, kind: SourceKind, name: &str) -> CoreResult<Option<Source>> {
    if !crate::persistence::storable(name) {
        return Ok(None);
    }
    let row = sources::Entity::find()
        .filter(sources::Column::TenantId.eq(tenant_id))
        .filter(sources::Column::Kind.eq(kind.as_str()))
        .filter(sources::Column::Name.eq(name))
        .filter(sources::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    row.map(source).transpose()
}

pub async fn list_sources(db: &Db, tenant_id: Option<Uuid>, kind: Option<SourceKind>) -> CoreResult<Vec<Source>> {
    let mut q = sources::Entity::find().filter(sources::Column::DeletedAt.is_null()).order_by_asc(sources::Column::CreatedAt);
    if let Some(t) = tenant_id {
        q = q.filter(sources::Column::TenantId.eq(t));
    }
    if let Some(k) = kind {
        q = q.filter(sources::Column::Kind.eq(k.as_str()));
    }
    q.all(db).await?.into_iter().map(source).collect()
}

pub async fn update_source_config(db: &Db, id: Uuid, config: serde_json::Value) -> CoreResult<()> {
    sources::Entity::update_many()
        .col_expr(sources::Column::Config, Expr::value(config))
        .filter(sources::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_source_deleted(db: &Db, id: Uuid) -> CoreResult<()> {
    sources::Entity::update_many()
        .col_expr(sources::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(sources::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn nodes_of(db: &Db, source_id: Uuid) -> CoreResult<Vec<Node>> {
    Ok(nodes::Entity::find()
        .filter(nodes::Column::SourceId.eq(source_id))
        .order_by_asc(nodes::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(node)
        .collect())
}

pub async fn get_node(db: &Db, id: Uuid) -> CoreResult<Option<Node>> {
    Ok(nodes::Entity::find_by_id(id).one(db).await?.map(node))
}
