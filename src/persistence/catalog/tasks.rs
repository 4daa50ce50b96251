//! Tasks: claimed by agents under a row lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), renewed
//! with progress, ended, taken back when their holder is gone.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{IDS_PER_QUERY, from_json, state, to_json};
use crate::{
    domain::{
        operation::{Task, TaskOutcome, TaskProgress, TaskSpec},
        state::State,
    },
    error::CoreResult,
    persistence::{Db, entities::tasks},
};

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
