//! Backup plans (schedules) and claiming their runs.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr};
use uuid::Uuid;

use super::{corrupt, from_json, to_json};
use crate::{
    domain::plan::Plan,
    error::{CoreError, CoreResult},
    persistence::{Db, entities::plans},
};

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
