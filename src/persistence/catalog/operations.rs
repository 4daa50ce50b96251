//! Operations: written with their tasks and backup in one transaction, moved between states,
//! and asked whether one is under way.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::{backups::backup_model, corrupt, from_json, state, to_json};
use crate::{
    domain::{
        backup::Backup,
        operation::{Operation, OperationKind, Task},
        state::State,
    },
    error::CoreResult,
    persistence::{
        Db,
        entities::{operations, tasks},
    },
};

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
