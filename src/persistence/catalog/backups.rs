//! Backups, their per-node parts, and the keyset pages listings read.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{IDS_PER_QUERY, destinations::detached_destinations, from_json, state, to_json};
use crate::{
    domain::{
        backup::{Backup, BackupNode, Selection},
        source::SourceKind,
        state::State,
    },
    error::CoreResult,
    persistence::{
        Db,
        entities::{backup_copies, backup_nodes, backups},
    },
};

fn backup(m: backups::Model) -> CoreResult<Backup> {
    Ok(Backup {
        id: m.id,
        tenant_id: m.tenant_id,
        source_id: m.source_id,
        parent_id: m.parent_id,
        plan_id: m.plan_id,
        operation_id: m.operation_id,
        destination_id: m.destination_id,
        name: m.name,
        description: m.description,
        tag: m.tag,
        selection: from_json::<Selection>("selection", m.selection)?,
        state: state(&m.state)?,
        size_bytes: m.size_bytes,
        stored_bytes: m.stored_bytes,
        file_count: m.file_count,
        error: m.error,
        metadata: m.metadata,
        created_at: m.created_at,
        updated_at: m.updated_at,
        completed_at: m.completed_at,
    })
}

pub(super) fn backup_model(b: &Backup) -> backups::ActiveModel {
    backups::ActiveModel {
        id: Set(b.id),
        tenant_id: Set(b.tenant_id),
        source_id: Set(b.source_id),
        parent_id: Set(b.parent_id),
        plan_id: Set(b.plan_id),
        operation_id: Set(b.operation_id),
        destination_id: Set(b.destination_id),
        name: Set(b.name.clone()),
        description: Set(b.description.clone()),
        tag: Set(b.tag.clone()),
        selection: Set(to_json(&b.selection)),
        state: Set(b.state.as_str().to_owned()),
        size_bytes: Set(b.size_bytes),
        stored_bytes: Set(b.stored_bytes),
        file_count: Set(b.file_count),
        error: Set(b.error.clone()),
        metadata: Set(b.metadata.clone()),
        source_kind: Set(b.metadata.get("source_kind").and_then(|k| k.as_str()).unwrap_or_default().to_owned()),
        created_at: Set(b.created_at),
        updated_at: Set(b.updated_at),
        completed_at: Set(b.completed_at),
    }
}

pub async fn get_backup(db: &impl ConnectionTrait, tenant_id: Option<Uuid>, id: Uuid) -> CoreResult<Option<Backup>> {
    let mut q = backups::Entity::find_by_id(id);
    if let Some(t) = tenant_id {
        q = q.filter(backups::Column::TenantId.eq(t));
    }
    q.one(db).await?.map(backup).transpose()
}

/// Backups of a tenant, newest first, optionally of one source.
pub async fn list_backups(db: &Db, tenant_id: Option<Uuid>, source_id: Option<Uuid>) -> CoreResult<Vec<Backup>> {
    let mut q = backups::Entity::find().order_by_desc(backups::Column::CreatedAt).order_by_desc(backups::Column::Id);
    if let Some(t) = tenant_id {
        q = q.filter(backups::Column::TenantId.eq(t));
    }
    if let Some(s) = source_id {
        q = q.filter(backups::Column::SourceId.eq(s));
    }
    q.all(db).await?.into_iter().map(backup).collect()
}

/// Which backups a page of a listing holds: of one source or of sources of some kinds, optionally
/// of one plan and only complete ones, newest (or oldest) first, after a cursor (the created time
/// and id of the previous page's last backup, in the walking direction).
#[derive(Clone, Debug, Default)]
pub struct BackupPage {
    pub source_id: Option<Uuid>,
    pub source_kinds: Vec<SourceKind>,
    /// `Some(None)`: backups no plan made (ad hoc).
    pub plan_id: Option<Option<Uuid>>,
    pub complete_only: bool,
    pub oldest_first: bool,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// `None`: every backup that matches.
    pub limit: Option<u64>,
}

const COMPLETE: [State; 2] = [State::Succeeded, State::SucceededWithErrors];

/// One page of a tenant's backups (those kept at a detached destination left out): a keyset query on (tenant, source or kind, created, id), so the
/// first page of a million backups costs what the first page of a hundred does. Several kinds are
/// read one kind at a time and merged: with `kind IN (...)` PostgreSQL sorts every matching row.
pub async fn list_backups_page(db: &Db, tenant_id: Uuid, page: &BackupPage) -> CoreResult<Vec<Backup>> {
    if page.source_kinds.len() > 1 {
        let mut merged = Vec::new();
        for kind in &page.source_kinds {
            let one = BackupPage { source_kinds: vec![*kind], ..page.clone() };
            merged.extend(Box::pin(list_backups_page(db, tenant_id, &one)).await?);
        }
        merged.sort_by_key(|b| std::cmp::Reverse((b.created_at, b.id)));
        if page.oldest_first {
            merged.reverse();
        }
        if let Some(limit) = page.limit {
            merged.truncate(limit as usize);
        }
        return Ok(merged);
    }
    let (created, id) = (backups::Column::CreatedAt, backups::Column::Id);
    let mut q = backups::Entity::find()
        .filter(backups::Column::TenantId.eq(tenant_id))
        .filter(backups::Column::DestinationId.not_in_subquery(detached_destinations()));
    q = match page.oldest_first {
        true => q.order_by_asc(created).order_by_asc(id),
        false => q.order_by_desc(created).order_by_desc(id),
    };
    if let Some(limit) = page.limit {
        q = q.limit(limit);
    }
    if let Some(s) = page.source_id {
        q = q.filter(backups::Column::SourceId.eq(s));
    }
    if let Some(kind) = page.source_kinds.first() {
        q = q.filter(backups::Column::SourceKind.eq(kind.as_str()));
    }
    match page.plan_id {
        Some(Some(plan)) => q = q.filter(backups::Column::PlanId.eq(plan)),
        Some(None) => q = q.filter(backups::Column::PlanId.is_null()),
        None => {}
    }
    if page.complete_only {
        q = q.filter(backups::Column::State.is_in(COMPLETE.map(State::as_str)));
    }
    // A row-value comparison, `(created_at, id) < (at, id)`: both SQLite and PostgreSQL seek the
    // index with it, where the equivalent OR of two conditions makes SQLite read every row.
    if let Some((at, after)) = page.after {
        let columns = Expr::tuple([Expr::col(created), Expr::col(id)]);
        let cursor = Expr::tuple([Expr::value(at), Expr::value(after)]);
        q = q.filter(if page.oldest_first { columns.gt(cursor) } else { columns.lt(cursor) });
    }
    q.all(db).await?.into_iter().map(backup).collect()
}

/// The backups of a source (not kept at a detached destination) whose stored tag is `tag`, or that were made within the second
/// `[from, from + 1 s)` (tags a dialect derives from the created time).
pub async fn backups_tagged(db: &Db, tenant_id: Uuid, source_id: Uuid, tag: &str, from: Option<DateTime<Utc>>) -> CoreResult<Vec<Backup>> {
    if !crate::persistence::storable(tag) {
        return Ok(Vec::new());
    }
    let mut which = Condition::any().add(backups::Column::Tag.eq(tag));
    if let Some(from) = from {
        which = which.add(backups::Column::CreatedAt.gte(from).and(backups::Column::CreatedAt.lt(from + Duration::seconds(1))));
    }
    backups::Entity::find()
        .filter(backups::Column::TenantId.eq(tenant_id))
        .filter(backups::Column::SourceId.eq(source_id))
        .filter(backups::Column::DestinationId.not_in_subquery(detached_destinations()))
        .filter(which)
        .order_by_desc(backups::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(backup)
        .collect()
}

/// The complete backups of a source in sum: when the newest finished and what they store (kept by
/// a trigger in `source_totals`, see migration 000011).
pub async fn complete_backup_totals(db: &Db, tenant_id: Uuid, source_id: Uuid) -> CoreResult<(Option<DateTime<Utc>>, i64)> {
    let newest = last_completion(db, tenant_id, source_id, None).await?;
    let stored = Query::select()
        .column(Alias::new("complete_stored_bytes"))
        .from(Alias::new("source_totals"))
        .and_where(Expr::col(Alias::new("source_id")).eq(source_id))
        .to_owned();
    let stored: Option<i64> = match db.query_one(&stored).await? {
        Some(row) => Some(row.try_get("", "complete_stored_bytes")?),
        None => None,
    };
    Ok((newest, stored.unwrap_or(0)))
}

/// When the complete backup of a source (of one plan, when given) that finished last finished.
pub async fn last_completion(db: &Db, tenant_id: Uuid, source_id: Uuid, plan_id: Option<Uuid>) -> CoreResult<Option<DateTime<Utc>>> {
    let mut q = backups::Entity::find()
        .filter(backups::Column::SourceId.eq(source_id))
        .filter(backups::Column::CompletedAt.is_not_null())
        .filter(backups::Column::State.is_in(COMPLETE.map(State::as_str)))
        .filter(backups::Column::TenantId.eq(tenant_id))
        .order_by_desc(backups::Column::CompletedAt);
    if let Some(plan) = plan_id {
        q = q.filter(backups::Column::PlanId.eq(plan));
    }
    Ok(q.one(db).await?.map(backup).transpose()?.and_then(|b| b.completed_at))
}

pub async fn children_of(db: &Db, parent: Uuid) -> CoreResult<Vec<Backup>> {
    backups::Entity::find().filter(backups::Column::ParentId.eq(parent)).all(db).await?.into_iter().map(backup).collect()
}

pub async fn save_backup(db: &impl ConnectionTrait, b: &Backup) -> CoreResult<()> {
    let exists = backups::Entity::find_by_id(b.id).one(db).await?.is_some();
    let model = backup_model(b);
    if exists {
        model.reset_all().update(db).await?;
    } else {
        model.insert(db).await?;
    }
    Ok(())
}

pub async fn delete_backup_row(db: &impl ConnectionTrait, id: Uuid) -> CoreResult<()> {
    backup_copies::Entity::delete_many().filter(backup_copies::Column::BackupId.eq(id)).exec(db).await?;
    backup_nodes::Entity::delete_many().filter(backup_nodes::Column::BackupId.eq(id)).exec(db).await?;
    backups::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

pub async fn save_backup_node(db: &impl ConnectionTrait, n: &BackupNode) -> CoreResult<()> {
    backup_nodes::Entity::delete_many()
        .filter(backup_nodes::Column::BackupId.eq(n.backup_id))
        .filter(backup_nodes::Column::NodeId.eq(n.node_id))
        .exec(db)
        .await?;
    backup_nodes::ActiveModel {
        backup_id: Set(n.backup_id),
        node_id: Set(n.node_id),
        node_name: Set(n.node_name.clone()),
        state: Set(n.state.as_str().to_owned()),
        files: Set(n.files),
        bytes: Set(n.bytes),
        stored_bytes: Set(n.stored_bytes),
        detail: Set(n.detail.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn backup_nodes_of(db: &impl ConnectionTrait, backup_id: Uuid) -> CoreResult<Vec<BackupNode>> {
    backup_nodes::Entity::find()
        .filter(backup_nodes::Column::BackupId.eq(backup_id))
        .order_by_asc(backup_nodes::Column::NodeName)
        .all(db)
        .await?
        .into_iter()
        .map(backup_node)
        .collect()
}

fn backup_node(m: backup_nodes::Model) -> CoreResult<BackupNode> {
    Ok(BackupNode {
        backup_id: m.backup_id,
        node_id: m.node_id,
        node_name: m.node_name,
        state: state(&m.state)?,
        files: m.files,
        bytes: m.bytes,
        stored_bytes: m.stored_bytes,
        detail: m.detail,
    })
}

/// The per-node parts of many backups, by backup, each in node name order: one query per
/// [`IDS_PER_QUERY`] backups instead of one per backup.
pub async fn backup_nodes_of_many(db: &impl ConnectionTrait, ids: &[Uuid]) -> CoreResult<HashMap<Uuid, Vec<BackupNode>>> {
    let mut out: HashMap<Uuid, Vec<BackupNode>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = backup_nodes::Entity::find()
            .filter(backup_nodes::Column::BackupId.is_in(chunk.to_vec()))
            .order_by_asc(backup_nodes::Column::NodeName)
            .all(db)
            .await?;
        for m in rows {
            out.entry(m.backup_id).or_default().push(backup_node(m)?);
        }
    }
    Ok(out)
}
