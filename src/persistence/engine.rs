//! Queries for the engine: agents, destinations, sources and nodes, backups, operations, tasks
//! and events. Task claiming takes a row lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{
    Db,
    entities::{
        agents, backup_copies, backup_nodes, backups, commitlog_segments, destinations, events, nodes, operations, plans, restore_drafts,
        sources, tasks,
    },
};
use crate::{
    domain::{
        agent::{Agent, AgentSettings},
        archive::Segment,
        backup::{Backup, BackupNode, RestoreDraft, Selection},
        operation::{Event, Operation, OperationKind, Task, TaskOutcome, TaskProgress, TaskSpec},
        plan::Plan,
        source::{Node, Source, SourceKind},
        state::State,
    },
    error::{CoreError, CoreResult},
};

fn corrupt(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::internal(anyhow::anyhow!("stored {what} is unreadable: {e}"))
}

fn state(s: &str) -> CoreResult<State> {
    s.parse().map_err(|e| corrupt("state", e))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, v: serde_json::Value) -> CoreResult<T> {
    serde_json::from_value(v).map_err(|e| corrupt(what, e))
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain values serialise")
}

// ---- agents ----

fn agent(m: agents::Model) -> Agent {
    Agent {
        id: m.id,
        tenant_id: m.tenant_id,
        name: m.name,
        hostname: m.hostname,
        last_seen_at: m.last_seen_at,
        created_at: m.created_at,
        settings: serde_json::from_str(&m.settings).unwrap_or_default(),
    }
}

/// The agent `name` of a tenant, created on first use.
pub async fn get_or_create_agent(db: &Db, tenant_id: Uuid, name: &str, hostname: &str) -> CoreResult<Agent> {
    if let Some(found) = agent_by_name(db, tenant_id, name).await? {
        return Ok(found);
    }
    let row = agents::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        name: Set(name.to_owned()),
        hostname: Set(hostname.to_owned()),
        last_seen_at: Set(None),
        created_at: Set(Utc::now()),
        settings: Set("{}".into()),
    };
    match row.insert(db).await {
        Ok(m) => Ok(agent(m)),
        Err(_) => {
            agent_by_name(db, tenant_id, name).await?.ok_or_else(|| CoreError::Conflict(format!("agent '{name}' could not be created")))
        }
    }
}

pub async fn agent_by_name(db: &Db, tenant_id: Uuid, name: &str) -> CoreResult<Option<Agent>> {
    if !super::storable(name) {
        return Ok(None);
    }
    let row = agents::Entity::find().filter(agents::Column::TenantId.eq(tenant_id)).filter(agents::Column::Name.eq(name)).one(db).await?;
    Ok(row.map(agent))
}

/// Agents of every tenant with this name (the server's `local` agents).
pub async fn agents_named(db: &Db, name: &str) -> CoreResult<Vec<Agent>> {
    Ok(agents::Entity::find().filter(agents::Column::Name.eq(name)).all(db).await?.into_iter().map(agent).collect())
}

pub async fn get_agent(db: &Db, id: Uuid) -> CoreResult<Option<Agent>> {
    Ok(agents::Entity::find_by_id(id).one(db).await?.map(agent))
}

pub async fn list_agents(db: &Db, tenant_id: Uuid) -> CoreResult<Vec<Agent>> {
    Ok(agents::Entity::find()
        .filter(agents::Column::TenantId.eq(tenant_id))
        .order_by_asc(agents::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(agent)
        .collect())
}

/// Records that the agent was heard from now, writing the row only when its time is older than
/// `fresh_for`: an agent asks for work twice a second, and a write per ask would cost a commit
/// each and make every kept listing ([`super::writes`]) stale.
pub async fn touch_agent(db: &Db, id: Uuid, fresh_for: Duration) -> CoreResult<()> {
    let now = Utc::now();
    agents::Entity::update_many()
        .col_expr(agents::Column::LastSeenAt, Expr::value(now))
        .filter(agents::Column::Id.eq(id))
        .filter(Condition::any().add(agents::Column::LastSeenAt.is_null()).add(agents::Column::LastSeenAt.lt(now - fresh_for)))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the host a (re)registering agent runs on, and that it was heard from now.
pub async fn set_agent_hostname(db: &Db, id: Uuid, hostname: &str) -> CoreResult<()> {
    agents::Entity::update_many()
        .col_expr(agents::Column::LastSeenAt, Expr::value(Utc::now()))
        .col_expr(agents::Column::Hostname, Expr::value(hostname.to_owned()))
        .filter(agents::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_agent_settings(db: &Db, id: Uuid, settings: &AgentSettings) -> CoreResult<()> {
    agents::Entity::update_many()
        .col_expr(agents::Column::Settings, Expr::value(serde_json::to_string(settings).expect("settings serialise")))
        .filter(agents::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- commitlog segments ----

fn segment(m: commitlog_segments::Model) -> Segment {
    Segment { node_id: m.node_id, destination_id: m.destination_id, name: m.name, at: m.segment_at, size: m.size, snapshot: m.snapshot }
}

/// Records archived segments; one already recorded (the same node, destination and name) stays as it was.
pub async fn add_segments(db: &Db, tenant_id: Uuid, source_id: Uuid, segments: &[Segment]) -> CoreResult<usize> {
    let mut added = 0;
    for s in segments {
        let exists = commitlog_segments::Entity::find()
            .filter(commitlog_segments::Column::NodeId.eq(s.node_id))
            .filter(commitlog_segments::Column::DestinationId.eq(s.destination_id))
            .filter(commitlog_segments::Column::Name.eq(s.name.clone()))
            .count(db)
            .await?
            > 0;
        if exists {
            continue;
        }
        let row = commitlog_segments::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            source_id: Set(source_id),
            node_id: Set(s.node_id),
            destination_id: Set(s.destination_id),
            name: Set(s.name.clone()),
            segment_at: Set(s.at),
            size: Set(s.size),
            snapshot: Set(s.snapshot.clone()),
            created_at: Set(Utc::now()),
        };
        // A concurrent recorder of the same segment loses on the unique index, which is fine.
        if row.insert(db).await.is_ok() {
            added += 1;
        }
    }
    Ok(added)
}

/// Names of a node's segments archived in a destination.
pub async fn segment_names(db: &Db, node_id: Uuid, destination_id: Uuid) -> CoreResult<Vec<String>> {
    Ok(commitlog_segments::Entity::find()
        .filter(commitlog_segments::Column::NodeId.eq(node_id))
        .filter(commitlog_segments::Column::DestinationId.eq(destination_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect())
}

/// A source's segments in a destination, oldest first.
pub async fn segments_of(db: &Db, source_id: Uuid, destination_id: Uuid) -> CoreResult<Vec<Segment>> {
    Ok(commitlog_segments::Entity::find()
        .filter(commitlog_segments::Column::SourceId.eq(source_id))
        .filter(commitlog_segments::Column::DestinationId.eq(destination_id))
        .order_by_asc(commitlog_segments::Column::SegmentAt)
        .order_by_asc(commitlog_segments::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(segment)
        .collect())
}

/// A node's newest archived segment, in one destination or in any.
pub async fn newest_segment(db: &Db, node_id: Uuid, destination_id: Option<Uuid>) -> CoreResult<Option<Segment>> {
    let mut q = commitlog_segments::Entity::find().filter(commitlog_segments::Column::NodeId.eq(node_id));
    if let Some(d) = destination_id {
        q = q.filter(commitlog_segments::Column::DestinationId.eq(d));
    }
    Ok(q.order_by_desc(commitlog_segments::Column::SegmentAt).one(db).await?.map(segment))
}

/// Removes finished archive rounds older than `before` that shipped nothing (they only say "nothing new").
pub async fn prune_idle_archive_rounds(db: &Db, before: DateTime<Utc>) -> CoreResult<()> {
    let idle = operations::Entity::find()
        .filter(operations::Column::Kind.eq(OperationKind::Archive.as_str()))
        .filter(operations::Column::FinishedAt.lt(before))
        .filter(operations::Column::State.eq(State::Succeeded.as_str()))
        .limit(1000)
        .all(db)
        .await?
        .into_iter()
        .filter(|m| m.result["files"].as_i64().unwrap_or(0) == 0)
        .collect::<Vec<_>>();
    // A cluster's newest round stays: it is what says whether its archiving works now.
    let mut newest_of = std::collections::HashMap::new();
    for source in idle.iter().filter_map(|m| m.source_id).collect::<std::collections::BTreeSet<_>>() {
        let newest = operations::Entity::find()
            .filter(operations::Column::Kind.eq(OperationKind::Archive.as_str()))
            .filter(operations::Column::SourceId.eq(source))
            .order_by_desc(operations::Column::CreatedAt)
            .one(db)
            .await?;
        newest_of.insert(source, newest.map(|m| m.id));
    }
    let idle: Vec<Uuid> =
        idle.into_iter().filter(|m| m.source_id.is_none_or(|s| newest_of.get(&s).copied().flatten() != Some(m.id))).map(|m| m.id).collect();
    if idle.is_empty() {
        return Ok(());
    }
    tasks::Entity::delete_many().filter(tasks::Column::OperationId.is_in(idle.clone())).exec(db).await?;
    operations::Entity::delete_many().filter(operations::Column::Id.is_in(idle)).exec(db).await?;
    Ok(())
}

// ---- restore drafts ----

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

// ---- destinations ----

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
fn detached_destinations() -> sea_orm::sea_query::SelectStatement {
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

/// Makes the copy of `backup` at `to` its own place, and its former place `from` a copy.
async fn move_backup(db: &impl ConnectionTrait, backup: Uuid, from: Uuid, to: Uuid) -> CoreResult<()> {
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

// ---- copies of backups in other destinations ----

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

/// A destination, attached or detached (the engine's own reads; callers see attached ones only).
pub async fn get_destination(db: &Db, id: Uuid) -> CoreResult<Option<DestinationRow>> {
    Ok(destinations::Entity::find_by_id(id).one(db).await?.map(destination))
}

// ---- sources and nodes ----

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
    if !super::storable(name) {
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

// ---- backups ----

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

fn backup_model(b: &Backup) -> backups::ActiveModel {
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
    if !super::storable(tag) {
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

/// Whether the source has a backup still being made: a backup operation that has not ended (a
/// copy to a region is a backup of the source too, but it reads the store, not the source).
pub async fn has_backup_in_progress(db: &Db, source_id: Uuid) -> CoreResult<bool> {
    has_operation_in_progress(db, source_id, OperationKind::Backup).await
}

/// Whether an operation of this kind on the source has not ended yet.
pub async fn has_operation_in_progress(db: &Db, source_id: Uuid, kind: OperationKind) -> CoreResult<bool> {
    let n = operations::Entity::find()
        .filter(operations::Column::SourceId.eq(source_id))
        .filter(operations::Column::Kind.eq(kind.as_str()))
        .filter(operations::Column::State.is_in([State::Queued.as_str(), State::Running.as_str(), State::Cancelling.as_str()]))
        .count(db)
        .await?;
    Ok(n > 0)
}

/// Whether a restore into the source's own data is queued or running: onto its nodes, or to a
/// path inside (or containing) one of `locations` (a Cloud Backup restore into the machine's own
/// folders is a path restore). Restores to other places do not count.
pub async fn has_restore_in_place_in_progress(db: &Db, source_id: Uuid, locations: &[String]) -> CoreResult<bool> {
    let running = operations::Entity::find()
        .filter(operations::Column::SourceId.eq(source_id))
        .filter(operations::Column::Kind.eq(OperationKind::Restore.as_str()))
        .filter(operations::Column::State.is_in([State::Queued.as_str(), State::Running.as_str(), State::Cancelling.as_str()]))
        .all(db)
        .await?;
    let overlaps = |path: &str| {
        let path = std::path::Path::new(path);
        locations.iter().map(std::path::Path::new).any(|l| path.starts_with(l) || l.starts_with(path))
    };
    Ok(running.iter().any(|op| match op.params.get("type").and_then(|t| t.as_str()) {
        Some("same_nodes") => true,
        Some("path") => op.params.get("path").and_then(|p| p.as_str()).is_some_and(overlaps),
        _ => false,
    }))
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

/// Ids per query when many rows are read by id (well under every backend's parameter limit).
const IDS_PER_QUERY: usize = 500;

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

// ---- operations and tasks ----

fn operation(m: operations::Model) -> CoreResult<Operation> {
    Ok(Operation {
        id: m.id,
        tenant_id: m.tenant_id,
        kind: m.kind.parse::<OperationKind>().map_err(|e| corrupt("operation kind", e))?,
        state: state(&m.state)?,
        source_id: m.source_id,
        backup_id: m.backup_id,
        progress: m.progress,
        options: from_json("options", m.options)?,
        params: m.params,
        result: m.result,
        error: m.error,
        created_by: m.created_by,
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

fn task(m: tasks::Model) -> CoreResult<Task> {
    Ok(Task {
        id: m.id,
        operation_id: m.operation_id,
        node_id: m.node_id,
        node_name: m.node_name,
        agent_id: m.agent_id,
        state: state(&m.state)?,
        spec: from_json::<TaskSpec>("task spec", m.spec)?,
        progress: from_json::<TaskProgress>("task progress", m.progress)?,
        attempts: m.attempts,
        lease_owner: m.lease_owner,
        error: m.error,
        result: m.result,
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

/// Writes an operation, its tasks and (when given) its backup in one transaction.
pub async fn insert_operation(db: &Db, op: &Operation, new_tasks: &[Task], new_backup: Option<&Backup>) -> CoreResult<()> {
    let txn = db.begin().await?;
    if let Some(b) = new_backup {
        backup_model(b).insert(&txn).await?;
    }
    operations::ActiveModel {
        id: Set(op.id),
        tenant_id: Set(op.tenant_id),
        kind: Set(op.kind.as_str().to_owned()),
        state: Set(op.state.as_str().to_owned()),
        source_id: Set(op.source_id),
        backup_id: Set(op.backup_id),
        progress: Set(op.progress),
        options: Set(to_json(&op.options)),
        params: Set(op.params.clone()),
        result: Set(op.result.clone()),
        error: Set(op.error.clone()),
        created_by: Set(op.created_by.clone()),
        created_at: Set(op.created_at),
        started_at: Set(op.started_at),
        finished_at: Set(op.finished_at),
    }
    .insert(&txn)
    .await?;
    for t in new_tasks {
        tasks::ActiveModel {
            id: Set(t.id),
            operation_id: Set(t.operation_id),
            node_id: Set(t.node_id),
            node_name: Set(t.node_name.clone()),
            agent_id: Set(t.agent_id),
            state: Set(t.state.as_str().to_owned()),
            spec: Set(to_json(&t.spec)),
            progress: Set(to_json(&t.progress)),
            attempts: Set(t.attempts),
            lease_owner: Set(None),
            lease_expires_at: Set(None),
            cancel_requested: Set(false),
            error: Set(t.error.clone()),
            result: Set(t.result.clone()),
            created_at: Set(t.created_at),
            started_at: Set(None),
            finished_at: Set(t.finished_at),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn get_operation(db: &Db, tenant_id: Option<Uuid>, id: Uuid) -> CoreResult<Option<Operation>> {
    let mut q = operations::Entity::find_by_id(id);
    if let Some(t) = tenant_id {
        q = q.filter(operations::Column::TenantId.eq(t));
    }
    q.one(db).await?.map(operation).transpose()
}

/// Operations newest first.
pub async fn list_operations(db: &Db, tenant_id: Option<Uuid>, kinds: &[OperationKind], limit: u64) -> CoreResult<Vec<Operation>> {
    let mut q = operations::Entity::find().order_by_desc(operations::Column::CreatedAt).limit(limit);
    if let Some(t) = tenant_id {
        q = q.filter(operations::Column::TenantId.eq(t));
    }
    if !kinds.is_empty() {
        q = q.filter(operations::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    }
    q.all(db).await?.into_iter().map(operation).collect()
}

/// Operations of one kind on one source, newest first.
pub async fn source_operations(db: &Db, tenant_id: Uuid, source_id: Uuid, kind: OperationKind, limit: u64) -> CoreResult<Vec<Operation>> {
    operations::Entity::find()
        .filter(operations::Column::TenantId.eq(tenant_id))
        .filter(operations::Column::SourceId.eq(source_id))
        .filter(operations::Column::Kind.eq(kind.as_str()))
        .order_by_desc(operations::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(operation)
        .collect()
}

/// Operations in one of `states` (recovery).
pub async fn operations_in(db: &Db, states: &[State]) -> CoreResult<Vec<Operation>> {
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    operations::Entity::find().filter(operations::Column::State.is_in(names)).all(db).await?.into_iter().map(operation).collect()
}

pub async fn tasks_of(db: &Db, operation_id: Uuid) -> CoreResult<Vec<Task>> {
    tasks::Entity::find()
        .filter(tasks::Column::OperationId.eq(operation_id))
        .order_by_asc(tasks::Column::NodeName)
        .all(db)
        .await?
        .into_iter()
        .map(task)
        .collect()
}

/// The tasks of many operations, by operation, each in node name order.
pub async fn tasks_of_many(db: &Db, operation_ids: &[Uuid]) -> CoreResult<HashMap<Uuid, Vec<Task>>> {
    let mut out: HashMap<Uuid, Vec<Task>> = HashMap::new();
    for chunk in operation_ids.chunks(IDS_PER_QUERY) {
        let rows = tasks::Entity::find()
            .filter(tasks::Column::OperationId.is_in(chunk.to_vec()))
            .order_by_asc(tasks::Column::NodeName)
            .all(db)
            .await?;
        for m in rows {
            let t = task(m)?;
            out.entry(t.operation_id).or_default().push(t);
        }
    }
    Ok(out)
}

pub async fn get_task(db: &Db, id: Uuid) -> CoreResult<Option<Task>> {
    tasks::Entity::find_by_id(id).one(db).await?.map(task).transpose()
}

/// Moves an operation to `to` only if it is in one of `from`; answers whether it moved.
pub async fn transition_operation(
    db: &impl ConnectionTrait,
    id: Uuid,
    from: &[State],
    to: State,
    patch: OperationPatch,
) -> CoreResult<bool> {
    let names: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let mut update = operations::Entity::update_many()
        .col_expr(operations::Column::State, Expr::value(to.as_str()))
        .filter(operations::Column::Id.eq(id))
        .filter(operations::Column::State.is_in(names));
    if let Some(p) = patch.progress {
        update = update.col_expr(operations::Column::Progress, Expr::value(p));
    }
    if let Some(e) = patch.error {
        update = update.col_expr(operations::Column::Error, Expr::value(e));
    }
    if let Some(r) = patch.result {
        update = update.col_expr(operations::Column::Result, Expr::value(r));
    }
    if patch.started {
        update = update.col_expr(operations::Column::StartedAt, Expr::value(Utc::now()));
    }
    if to.is_terminal() {
        update = update.col_expr(operations::Column::FinishedAt, Expr::value(Utc::now()));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Optional fields set with a transition.
#[derive(Default)]
pub struct OperationPatch {
    pub progress: Option<f64>,
    pub error: Option<String>,
    pub result: Option<serde_json::Value>,
    pub started: bool,
}

pub async fn set_operation_progress(db: &Db, id: Uuid, progress: f64) -> CoreResult<()> {
    operations::Entity::update_many()
        .col_expr(operations::Column::Progress, Expr::value(progress))
        .filter(operations::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Serialises the check-then-record of starting operations across every server sharing the
/// database: on PostgreSQL a transaction holding an advisory lock (released when the guard is
/// committed or dropped); on SQLite one process serves the database and its own mutex suffices.
pub async fn lock_starts(db: &Db) -> CoreResult<Option<sea_orm::DatabaseTransaction>> {
    advisory_lock(db, START_LOCK).await
}

/// Serialises what a server does once at start (migrations, the first admin, the server's
/// destination) among servers starting together on one PostgreSQL database; `None` on SQLite.
pub async fn lock_startup(db: &Db) -> CoreResult<Option<sea_orm::DatabaseTransaction>> {
    advisory_lock(db, START_LOCK + 1).await
}

/// A transaction holding PostgreSQL advisory lock `key` until it ends; `None` on SQLite.
async fn advisory_lock(db: &Db, key: i64) -> CoreResult<Option<sea_orm::DatabaseTransaction>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})")).await?;
    Ok(Some(txn))
}

/// The advisory lock key of `lock_starts` ("coffer" in ASCII).
const START_LOCK: i64 = 0x636f_6666_6572;

/// Claims the oldest queued task of `agent_id` with a lease; `None` when there is none.
/// PostgreSQL locks the row with `FOR UPDATE SKIP LOCKED`, so replicas never hand out the same
/// task; SQLite does the pick and the update in one statement.
pub async fn claim_task(db: &Db, agent_id: Uuid, owner: &str, lease: Duration) -> CoreResult<Option<Task>> {
    let now = Utc::now();
    let backend = db.get_database_backend();
    let claimed: Option<Uuid> = if backend == DbBackend::Postgres {
        let txn = db.begin().await?;
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM tasks WHERE agent_id = $1 AND state = 'queued' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
            [agent_id.into()],
        );
        let id = txn.query_one_raw(stmt).await?.map(|row| row.try_get::<Uuid>("", "id")).transpose()?;
        if let Some(id) = id {
            tasks::Entity::update_many()
                .col_expr(tasks::Column::State, Expr::value(State::Running.as_str()))
                .col_expr(tasks::Column::LeaseOwner, Expr::value(owner.to_owned()))
                .col_expr(tasks::Column::LeaseExpiresAt, Expr::value(now + lease))
                .col_expr(tasks::Column::StartedAt, Expr::value(now))
                .col_expr(tasks::Column::Attempts, Expr::col(tasks::Column::Attempts).add(1))
                .filter(tasks::Column::Id.eq(id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        id
    } else {
        let stmt = Statement::from_sql_and_values(
            backend,
            "UPDATE tasks SET state = 'running', lease_owner = ?, lease_expires_at = ?, started_at = ?, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM tasks WHERE agent_id = ? AND state = 'queued' ORDER BY created_at LIMIT 1) AND state = 'queued' RETURNING id",
            [owner.into(), (now + lease).into(), now.into(), agent_id.into()],
        );
        db.query_one_raw(stmt).await?.map(|row| row.try_get::<Uuid>("", "id")).transpose()?
    };
    match claimed {
        Some(id) => get_task(db, id).await,
        None => Ok(None),
    }
}

/// The running claim of a task by one agent: the claim `attempt` when the agent names it.
fn running_claim(task_id: Uuid, agent_id: Uuid, attempt: Option<i32>) -> Condition {
    let claim = Condition::all()
        .add(tasks::Column::Id.eq(task_id))
        .add(tasks::Column::AgentId.eq(agent_id))
        .add(tasks::Column::State.eq(State::Running.as_str()));
    match attempt {
        Some(n) => claim.add(tasks::Column::Attempts.eq(n)),
        None => claim,
    }
}

/// Records progress and renews the lease; answers whether cancellation was requested, or
/// `None` when the task is no longer this agent's to run (or no longer this claim's).
pub async fn report_progress(
    db: &Db,
    task_id: Uuid,
    agent_id: Uuid,
    attempt: Option<i32>,
    progress: &TaskProgress,
    lease: Duration,
) -> CoreResult<Option<bool>> {
    let res = tasks::Entity::update_many()
        .col_expr(tasks::Column::Progress, Expr::value(to_json(progress)))
        .col_expr(tasks::Column::LeaseExpiresAt, Expr::value(Utc::now() + lease))
        .filter(running_claim(task_id, agent_id, attempt))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    Ok(tasks::Entity::find_by_id(task_id).one(db).await?.map(|t| t.cancel_requested))
}

/// Ends a running task with its outcome; answers whether it was still running (under that claim).
pub async fn finish_task(db: &Db, task_id: Uuid, agent_id: Uuid, attempt: Option<i32>, outcome: &TaskOutcome) -> CoreResult<bool> {
    let res = tasks::Entity::update_many()
        .col_expr(tasks::Column::State, Expr::value(outcome.state.as_str()))
        .col_expr(tasks::Column::Progress, Expr::value(to_json(&outcome.progress)))
        .col_expr(tasks::Column::Error, Expr::value(outcome.error.clone()))
        .col_expr(tasks::Column::Result, Expr::value(outcome.result.clone()))
        .col_expr(tasks::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(tasks::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(running_claim(task_id, agent_id, attempt))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Sets a task's state without an agent (cancel before start, skip, fail on recovery).
pub async fn set_task_state(db: &Db, task_id: Uuid, from: &[State], to: State, error: Option<String>) -> CoreResult<bool> {
    let names: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let mut update = tasks::Entity::update_many()
        .col_expr(tasks::Column::State, Expr::value(to.as_str()))
        .col_expr(tasks::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(tasks::Column::Id.eq(task_id))
        .filter(tasks::Column::State.is_in(names));
    if let Some(e) = error {
        update = update.col_expr(tasks::Column::Error, Expr::value(e));
    }
    if to.is_terminal() {
        update = update.col_expr(tasks::Column::FinishedAt, Expr::value(Utc::now()));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Ends or requeues the running claim `attempt` of a task whose holder is gone; `false` when the
/// claim already ended or another server took the task back first.
/// With `expired_only`, a claim whose lease its agent renewed meanwhile is left alone.
pub async fn take_back_task(
    db: &Db,
    task_id: Uuid,
    attempt: i32,
    expired_only: bool,
    to: State,
    error: Option<String>,
) -> CoreResult<bool> {
    let mut update = tasks::Entity::update_many()
        .col_expr(tasks::Column::State, Expr::value(to.as_str()))
        .col_expr(tasks::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(tasks::Column::Id.eq(task_id))
        .filter(tasks::Column::State.eq(State::Running.as_str()))
        .filter(tasks::Column::Attempts.eq(attempt));
    if expired_only {
        update = update.filter(tasks::Column::LeaseExpiresAt.lt(Utc::now()));
    }
    if let Some(e) = error {
        update = update.col_expr(tasks::Column::Error, Expr::value(e));
    }
    if to.is_terminal() {
        update = update.col_expr(tasks::Column::FinishedAt, Expr::value(Utc::now()));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

pub async fn request_task_cancel(db: &Db, operation_id: Uuid) -> CoreResult<()> {
    tasks::Entity::update_many()
        .col_expr(tasks::Column::CancelRequested, Expr::value(true))
        .filter(tasks::Column::OperationId.eq(operation_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Running tasks whose lease has run out (their agent died or lost contact).
pub async fn expired_tasks(db: &Db) -> CoreResult<Vec<Task>> {
    tasks::Entity::find()
        .filter(tasks::Column::State.eq(State::Running.as_str()))
        .filter(tasks::Column::LeaseExpiresAt.lt(Utc::now()))
        .all(db)
        .await?
        .into_iter()
        .map(task)
        .collect()
}

/// Tasks waiting for an agent.
pub async fn queued_tasks(db: &Db) -> CoreResult<Vec<Task>> {
    tasks::Entity::find().filter(tasks::Column::State.eq(State::Queued.as_str())).all(db).await?.into_iter().map(task).collect()
}

/// Running tasks of one agent (the local agent after a restart).
pub async fn running_tasks_of_agent(db: &Db, agent_id: Uuid) -> CoreResult<Vec<Task>> {
    tasks::Entity::find()
        .filter(tasks::Column::State.eq(State::Running.as_str()))
        .filter(tasks::Column::AgentId.eq(agent_id))
        .all(db)
        .await?
        .into_iter()
        .map(task)
        .collect()
}

// ---- plans ----

fn plan(m: plans::Model) -> CoreResult<Plan> {
    Ok(Plan {
        id: m.id,
        tenant_id: m.tenant_id,
        source_id: m.source_id,
        name: m.name,
        schedule: from_json("schedule", m.schedule)?,
        retention: from_json("retention", m.retention)?,
        selection: from_json("selection", m.selection)?,
        options: serde_json::from_str(&m.options).map_err(|e| corrupt("plan options", e))?,
        annotations: serde_json::from_str(&m.annotations).map_err(|e| corrupt("plan annotations", e))?,
        destination_id: m.destination_id,
        enabled: m.enabled,
        next_run_at: m.next_run_at,
        last_run_at: m.last_run_at,
        created_at: m.created_at,
    })
}

/// The row of a plan.
fn plan_model(p: &Plan) -> plans::ActiveModel {
    plans::ActiveModel {
        id: Set(p.id),
        tenant_id: Set(p.tenant_id),
        source_id: Set(p.source_id),
        name: Set(p.name.clone()),
        schedule: Set(to_json(&p.schedule)),
        retention: Set(to_json(&p.retention)),
        selection: Set(to_json(&p.selection)),
        options: Set(to_json(&p.options).to_string()),
        annotations: Set(p.annotations.to_string()),
        destination_id: Set(p.destination_id),
        enabled: Set(p.enabled),
        next_run_at: Set(p.next_run_at),
        last_run_at: Set(p.last_run_at),
        created_at: Set(p.created_at),
    }
}

/// Stores a new plan (one statement: its id was just made).
pub async fn insert_plan(db: &Db, p: &Plan) -> CoreResult<()> {
    plans::Entity::insert(plan_model(p)).exec_without_returning(db).await?;
    Ok(())
}

/// Replaces a stored plan; one deleted meanwhile is not found (and not stored again).
pub async fn update_plan(db: &Db, p: &Plan) -> CoreResult<()> {
    match plans::Entity::update(plan_model(p)).exec(db).await {
        Ok(_) => Ok(()),
        Err(DbErr::RecordNotUpdated) => Err(CoreError::not_found("plan", p.id.to_string())),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_plan(db: &Db, tenant_id: Option<Uuid>, id: Uuid) -> CoreResult<Option<Plan>> {
    let mut q = plans::Entity::find_by_id(id);
    if let Some(t) = tenant_id {
        q = q.filter(plans::Column::TenantId.eq(t));
    }
    q.one(db).await?.map(plan).transpose()
}

pub async fn list_plans(db: &Db, tenant_id: Uuid) -> CoreResult<Vec<Plan>> {
    plans::Entity::find()
        .filter(plans::Column::TenantId.eq(tenant_id))
        .order_by_asc(plans::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(plan)
        .collect()
}

pub async fn delete_plan(db: &Db, id: Uuid) -> CoreResult<()> {
    plans::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Enabled plans whose next run is due.
pub async fn due_plans(db: &Db, now: DateTime<Utc>) -> CoreResult<Vec<Plan>> {
    plans::Entity::find()
        .filter(plans::Column::Enabled.eq(true))
        .filter(plans::Column::NextRunAt.lte(now))
        .all(db)
        .await?
        .into_iter()
        .map(plan)
        .collect()
}

/// Moves a plan's next run from `seen` to `next`; only one caller (one replica) wins a run.
pub async fn claim_plan_run(db: &Db, id: Uuid, seen: DateTime<Utc>, next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> CoreResult<bool> {
    let res = plans::Entity::update_many()
        .col_expr(plans::Column::NextRunAt, Expr::value(next))
        .col_expr(plans::Column::LastRunAt, Expr::value(now))
        .filter(plans::Column::Id.eq(id))
        .filter(plans::Column::NextRunAt.eq(seen))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

// ---- events ----

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

// ---- metrics ----

/// How many operations there are of each kind in each state.
pub async fn operation_counts(db: &Db) -> CoreResult<Vec<(String, String, i64)>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT kind, state, COUNT(*) AS n FROM operations GROUP BY kind, state ORDER BY kind, state",
        ))
        .await?;
    rows.into_iter().map(|r| Ok((r.try_get("", "kind")?, r.try_get("", "state")?, r.try_get("", "n")?))).collect()
}

/// Every agent that is not deleted, of every tenant.
pub async fn all_agents(db: &Db) -> CoreResult<Vec<Agent>> {
    Ok(agents::Entity::find()
        .order_by_asc(agents::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(agent)
        .filter(|a| !a.settings.deleted)
        .collect())
}

/// Re-seals every sealed value (destination secrets, sealed node locations) with `reseal`, in one
/// transaction: either every value is under the new key or none is. Answers how many of each.
pub async fn reseal_secrets(db: &Db, reseal: impl Fn(&str) -> CoreResult<String>) -> CoreResult<(usize, usize)> {
    let txn = db.begin().await?;
    // Tasks waiting to run carry sealed locations of their own; they would not open afterwards.
    let unfinished = operations::Entity::find()
        .filter(operations::Column::State.is_in([State::Queued, State::Running, State::Cancelling].map(State::as_str)))
        .count(&txn)
        .await?;
    if unfinished > 0 {
        return Err(CoreError::Conflict(format!(
            "{unfinished} operation(s) have not ended; let them end (or cancel them) before sealing secrets again"
        )));
    }
    let mut counts = (0, 0);
    for row in destinations::Entity::find().filter(destinations::Column::Secret.is_not_null()).all(&txn).await? {
        let Some(sealed) = row.secret.clone() else { continue };
        let mut active: destinations::ActiveModel = row.into();
        active.secret = Set(Some(reseal(&sealed)?));
        active.update(&txn).await?;
        counts.0 += 1;
    }
    for row in nodes::Entity::find().filter(nodes::Column::Location.starts_with(crate::crypto::SEALED_PREFIX)).all(&txn).await? {
        let sealed = row.location.clone();
        let mut active: nodes::ActiveModel = row.into();
        active.location = Set(reseal(&sealed)?);
        active.update(&txn).await?;
        counts.1 += 1;
    }
    txn.commit().await?;
    Ok(counts)
}
