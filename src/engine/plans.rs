//! Plans, the scheduler that fires them, and retention. With several servers on one PostgreSQL
//! database, each run is claimed by moving the plan's next run time conditionally, so exactly one
//! server starts it. A run that cannot start is recorded as Missed; one that finds the previous
//! backup still going is recorded as Skipped.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    BackupSpec, Engine,
    stored::{MissedRunParams, Params},
};
use crate::{
    domain::{
        backup::Selection,
        identity::{CredentialKind, Principal, Role},
        operation::{Operation, OperationKind, OperationOptions},
        plan::{Plan, Retention, Schedule},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

/// At most this many missed runs are recorded at once (after a long outage).
const MAX_MISSED: usize = 10;

/// A plan as a client describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct PlanSpec {
    pub source_id: Uuid,
    #[serde(default)]
    pub name: String,
    pub schedule: Schedule,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub selection: Selection,
    #[serde(default)]
    pub options: OperationOptions,
    #[serde(default)]
    pub destination_id: Option<Uuid>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Dialect fields kept as given (see [`Plan::annotations`]).
    #[serde(default)]
    pub annotations: serde_json::Value,
}

fn enabled() -> bool {
    true
}

/// The identity scheduled work runs as.
pub(crate) fn scheduler(tenant_id: Uuid) -> Principal {
    Principal {
        user_id: Uuid::nil(),
        user_name: "scheduler".into(),
        tenant_id,
        tenant_name: String::new(),
        role: Role::Operator,
        credential: CredentialKind::Token,
        read_only: false,
        token: None,
        agent: None,
    }
}

/// The first run a new or changed plan waits for: an interval's first run even when it is past
/// (so runs missed since are recorded), otherwise the next calendar time.
fn first_due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match schedule {
        Schedule::Interval { first_run, .. } => Some(*first_run),
        other => other.next_after(now),
    }
}

impl Engine {
    async fn plan_from_spec(&self, caller: &Principal, id: Uuid, created_at: DateTime<Utc>, mut spec: PlanSpec) -> CoreResult<Plan> {
        spec.schedule.validate().map_err(CoreError::BadRequest)?;
        if spec.retention.max_age_secs.is_some_and(|a| a > crate::domain::plan::MAX_SPAN_SECS) {
            return Err(CoreError::BadRequest("a retention age can be at most 100 years".into()));
        }
        // Whole seconds: every database stores them exactly, so due times compare equal.
        if let Schedule::Interval { first_run, .. } = &mut spec.schedule {
            *first_run = first_run.trunc_subsecs(0);
        }
        let source = self.source_row(caller, spec.source_id).await?;
        if let Some(d) = spec.destination_id {
            self.destination_row(caller, d).await?;
        }
        if !spec.name.trim().is_empty() {
            crate::domain::check_name("a plan name", &spec.name).map_err(CoreError::BadRequest)?;
        }
        Ok(Plan {
            id,
            tenant_id: source.tenant_id,
            source_id: source.id,
            name: if spec.name.trim().is_empty() { format!("{} schedule", source.name) } else { spec.name },
            next_run_at: if spec.enabled { first_due(&spec.schedule, Utc::now()) } else { None },
            schedule: spec.schedule,
            retention: spec.retention,
            selection: spec.selection,
            options: spec.options,
            annotations: spec.annotations,
            destination_id: spec.destination_id,
            enabled: spec.enabled,
            last_run_at: None,
            created_at,
        })
    }

    pub async fn create_plan(&self, caller: &Principal, spec: PlanSpec) -> CoreResult<Plan> {
        let plan = self.plan_from_spec(caller, Uuid::new_v4(), Utc::now(), spec).await?;
        catalog::insert_plan(&self.inner.db, &plan).await?;
        Ok(plan)
    }

    pub async fn update_plan(&self, caller: &Principal, id: Uuid, spec: PlanSpec) -> CoreResult<Plan> {
        let old = self.plan(caller, id).await?;
        let mut plan = self.plan_from_spec(caller, id, old.created_at, spec).await?;
        plan.last_run_at = old.last_run_at;
        catalog::update_plan(&self.inner.db, &plan).await?;
        Ok(plan)
    }

    pub async fn plan(&self, caller: &Principal, id: Uuid) -> CoreResult<Plan> {
        catalog::get_plan(&self.inner.db, Some(caller.tenant_id), id).await?.ok_or_else(|| CoreError::not_found("plan", id.to_string()))
    }

    pub async fn plans(&self, caller: &Principal) -> CoreResult<Vec<Plan>> {
        catalog::list_plans(&self.inner.db, caller.tenant_id).await
    }

    pub async fn delete_plan(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        self.plan(caller, id).await?;
        catalog::delete_plan(&self.inner.db, id).await
    }

    /// Records a run that did not happen, as an operation that ended at once.
    async fn record_run(&self, plan: &Plan, state: State, why: String, due: DateTime<Utc>) -> CoreResult<()> {
        let now = Utc::now();
        let op = Operation {
            id: Uuid::new_v4(),
            tenant_id: plan.tenant_id,
            kind: OperationKind::Backup,
            state,
            source_id: Some(plan.source_id),
            backup_id: None,
            progress: 1.0,
            options: plan.options.clone(),
            params: MissedRunParams { plan_id: plan.id, due_at: due }.to_json(),
            result: serde_json::Value::Null,
            error: Some(why.clone()),
            created_by: "scheduler".into(),
            created_at: now,
            started_at: None,
            finished_at: Some(now),
        };
        catalog::insert_operation(&self.inner.db, &op, &[], None).await?;
        catalog::add_event(
            &self.inner.db,
            plan.tenant_id,
            &format!("plan.{state}"),
            &format!("plan '{}': run due {due} {state}: {why}", plan.name),
            Some(op.id),
            None,
            Some(plan.source_id),
        )
        .await
    }

    /// Fires every due plan once; called every second by the scheduler loop.
    pub async fn run_due_plans(&self) -> CoreResult<()> {
        let now = Utc::now();
        for plan in catalog::due_plans(&self.inner.db, now).await? {
            let Some(seen) = plan.next_run_at else { continue };
            let next = plan.schedule.next_after(now);
            if !catalog::claim_plan_run(&self.inner.db, plan.id, seen, next, now).await? {
                continue;
            }
            // Every due time up to now: the latest runs, earlier ones were missed.
            let mut due = vec![seen];
            due.extend(plan.schedule.due_between(seen, now, MAX_MISSED + 1));
            let latest = due.pop().unwrap_or(seen);
            for missed in due.iter().rev().take(MAX_MISSED).rev() {
                self.record_run(&plan, State::Missed, "the server was not running when it was due".into(), *missed).await?;
            }
            let spec = BackupSpec {
                name: format!("{} {}", plan.name, latest.format("%Y-%m-%d %H:%M:%S")),
                description: format!("scheduled by plan '{}'", plan.name),
                ..BackupSpec::for_plan(&plan)
            };
            match self.start_backup(&scheduler(plan.tenant_id), spec).await {
                Ok(_) => {}
                Err(CoreError::Unprocessable(why)) => self.record_run(&plan, State::Skipped, why, latest).await?,
                Err(e) => self.record_run(&plan, State::Missed, e.to_string(), latest).await?,
            }
        }
        Ok(())
    }

    /// Deletes the backups (newest first in `backups`) that `retention` no longer keeps.
    async fn retain(&self, tenant_id: Uuid, retention: &Retention, backups: &[crate::domain::backup::Backup]) -> usize {
        let now = Utc::now();
        let mut deleted = 0;
        for (i, b) in backups.iter().enumerate() {
            let too_many = retention.keep_last.is_some_and(|n| i >= n as usize);
            let too_old = retention.max_age_secs.is_some_and(|age| b.created_at < now - Duration::seconds(age as i64));
            if too_many || too_old {
                match self.delete_backup(&scheduler(tenant_id), b.id).await {
                    Ok(_) => deleted += 1,
                    Err(e) => tracing::warn!(backup = %b.id, error = %e, "retention could not delete a backup"),
                }
            }
        }
        deleted
    }

    /// Applies a plan's retention to its completed backups, then the retention of the
    /// destination they are kept in.
    pub async fn apply_plan_retention(&self, plan_id: Uuid) -> CoreResult<usize> {
        let Some(plan) = catalog::get_plan(&self.inner.db, None, plan_id).await? else { return Ok(0) };
        let all = catalog::list_backups(&self.inner.db, Some(plan.tenant_id), None).await?;
        let mine: Vec<_> = all.iter().filter(|b| b.plan_id == Some(plan.id) && b.state.is_success()).cloned().collect();
        let mut deleted = if plan.retention.is_empty() { 0 } else { self.retain(plan.tenant_id, &plan.retention, &mine).await };
        let destination = plan.destination_id.unwrap_or(self.inner.server_destination);
        deleted += self.apply_destination_retention(plan.tenant_id, destination).await?;
        Ok(deleted)
    }

    /// Applies a destination's retention to the tenant's completed backups kept there.
    pub async fn apply_destination_retention(&self, tenant_id: Uuid, destination_id: Uuid) -> CoreResult<usize> {
        let Some(row) = catalog::get_destination(&self.inner.db, destination_id).await? else { return Ok(0) };
        let config = super::stored::destination_config(&row)?;
        let Some(retention) = config.retention.filter(|r| !r.is_empty()) else { return Ok(0) };
        let kept_there: Vec<_> = catalog::list_backups(&self.inner.db, Some(tenant_id), None)
            .await?
            .into_iter()
            .filter(|b| b.destination_id == destination_id && b.state.is_success())
            .collect();
        Ok(self.retain(tenant_id, &retention, &kept_there).await)
    }

    /// Applies the retention of every plan and destination of the caller's tenant now (`coffer prune`).
    pub async fn prune(&self, caller: &Principal) -> CoreResult<usize> {
        let mut deleted = 0;
        for plan in self.plans(caller).await? {
            deleted += self.apply_plan_retention(plan.id).await?;
        }
        for d in self.destinations(caller).await? {
            deleted += self.apply_destination_retention(caller.tenant_id, d.id).await?;
        }
        Ok(deleted)
    }
}

/// How long past a plan's due time its backup may take before the source counts as overdue.
const OVERDUE_GRACE_SECS: i64 = 600;

/// One source at a glance: its newest backup, its newest complete one, and what its plans promise.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceOverview {
    pub source: crate::domain::source::Source,
    /// The newest backup in any state.
    pub last_backup: Option<crate::domain::backup::Backup>,
    pub last_complete_at: Option<DateTime<Utc>>,
    /// The earliest next run of the source's enabled plans.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Set when a plan was due (more than ten minutes ago) after the newest complete backup.
    pub overdue: Option<String>,
    /// Set while the cluster's commitlog archiving fails.
    pub archive_problem: Option<String>,
}

impl Engine {
    /// Every source of the caller's tenant with its newest backups and whether its plans are kept.
    pub async fn overview(&self, caller: &Principal) -> CoreResult<Vec<SourceOverview>> {
        let now = Utc::now();
        let plans = catalog::list_plans(&self.inner.db, caller.tenant_id).await?;
        let mut out = Vec::new();
        for view in self.list_sources(caller, None).await? {
            let source = view.source;
            let page = catalog::BackupPage { source_id: Some(source.id), limit: Some(1), ..Default::default() };
            let last_backup = self.backups_page(caller, &page).await?.into_iter().next();
            let last_complete_at = self.newest_complete_backup(caller, source.id, None).await?.map(|b| b.created_at);
            let mine: Vec<&Plan> = plans.iter().filter(|p| p.source_id == source.id && p.enabled).collect();
            let next_run_at = mine.iter().filter_map(|p| p.next_run_at).min();
            let mut overdue = None;
            for plan in mine {
                let since = plan.created_at.max(now - Duration::days(2));
                let Some(due) = plan.schedule.due_between(since, now - Duration::seconds(OVERDUE_GRACE_SECS), 5000).pop() else { continue };
                if last_complete_at.is_none_or(|at| at < due) {
                    overdue = Some(format!("plan '{}' was due at {} and no complete backup was made since", plan.name, due.to_rfc3339()));
                }
            }
            let archive_problem = self.archive_problem(caller, &source).await?;
            out.push(SourceOverview { source, last_backup, last_complete_at, next_run_at, overdue, archive_problem });
        }
        Ok(out)
    }
}
