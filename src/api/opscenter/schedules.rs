//! Job schedules: recurring (or one-shot, `interval: -1`) backups of a cluster, with `cleanup_age`
//! retention. Each is an engine plan; its backups carry its id in their tags.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    cluster_row,
    models::{DeletedJobSchedule, Empty, JobParamsView, JobSchedule, JobScheduleBody, JobType, NewId, TimeUnit, names, numeric},
    view,
};
use crate::{
    api::common::security::Caller,
    domain::{
        backup::Selection,
        identity::Principal,
        plan::{Plan, Retention, Schedule},
    },
    engine::PlanSpec,
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum ScheduleTag {
    /// Scheduled backups.
    JobSchedules,
}

pub struct SchedulesApi;

#[derive(ApiResponse)]
enum Created {
    /// The new schedule's id.
    #[oai(status = 201)]
    Created(Json<NewId>),
}

const UNITS: &[(&str, u64)] = &[("weeks", 604_800), ("days", 86_400), ("hours", 3_600), ("minutes", 60)];

fn unit_secs(unit: &str, field: &str) -> Result<u64, CoreError> {
    let unit = unit.trim().to_ascii_lowercase();
    UNITS
        .iter()
        .find(|(name, _)| *name == unit || name.trim_end_matches('s') == unit)
        .map(|(_, secs)| *secs)
        .ok_or_else(|| CoreError::BadRequest(format!("{field} must be minutes, hours, days or weeks, not '{unit}'")))
}

/// Seconds as the largest unit that divides them.
fn as_unit(secs: u64) -> (u64, TimeUnit) {
    let unit = |name: &str| match name {
        "weeks" => TimeUnit::Weeks,
        "days" => TimeUnit::Days,
        "hours" => TimeUnit::Hours,
        _ => TimeUnit::Minutes,
    };
    UNITS.iter().find(|(_, s)| secs.is_multiple_of(*s)).map(|(name, s)| (secs / s, unit(name))).unwrap_or((secs, TimeUnit::Seconds))
}

/// `count` units of `unit_secs` seconds, within what a schedule accepts.
fn span(count: f64, unit_secs: u64, field: &str) -> Result<u64, CoreError> {
    let secs = count * unit_secs as f64;
    if count.fract() != 0.0 || !(0.0..=crate::domain::plan::MAX_SPAN_SECS as f64).contains(&secs) {
        return Err(CoreError::BadRequest(format!("{field} must be a whole number of at most 100 years")));
    }
    Ok(secs as u64)
}

fn timezone(name: &str) -> Result<Tz, CoreError> {
    name.parse::<Tz>().map_err(|_| CoreError::BadRequest(format!("unknown timezone '{name}'")))
}

/// A job schedule body as a plan of the cluster.
async fn plan_spec(state: &AppState, p: &Principal, source_id: Uuid, body: JobScheduleBody) -> Result<PlanSpec, CoreError> {
    let params = body.job_params.unwrap_or_default();
    match params.kind.as_deref() {
        Some("backup") => {}
        Some(other) => return Err(CoreError::BadRequest(format!("job type '{other}' is not supported; only backup jobs are"))),
        None => return Err(CoreError::BadRequest("job_params.type is required (backup)".into())),
    }
    let tz_name = body.timezone.filter(|s| !s.is_empty()).unwrap_or_else(|| "GMT".into());
    let tz = timezone(&tz_name)?;
    let given_date = body.first_run_date.filter(|s| !s.is_empty());
    let date = match &given_date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| CoreError::BadRequest(format!("first_run_date '{d}' is not YYYY-MM-DD")))?,
        None => Utc::now().with_timezone(&tz).date_naive(),
    };
    let time = match body.first_run_time.filter(|s| !s.is_empty()) {
        Some(t) => NaiveTime::parse_from_str(&t, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(&t, "%H:%M"))
            .map_err(|_| CoreError::BadRequest(format!("first_run_time '{t}' is not hh:mm:ss")))?,
        None => NaiveTime::MIN,
    };
    let first_run = tz
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .ok_or_else(|| CoreError::BadRequest(format!("{date} {time} does not exist in {tz_name}")))?
        .with_timezone(&Utc);
    // Without a date the first run is the next time the clock shows first_run_time.
    let first_run = if given_date.is_none() && first_run < Utc::now() { first_run + chrono::Duration::days(1) } else { first_run };
    let interval = numeric(body.interval).unwrap_or(-1.0);
    let every_secs = if interval < 0.0 {
        None
    } else if interval == 0.0 || interval.fract() != 0.0 {
        return Err(CoreError::BadRequest("interval must be a whole number above 0 (or -1 for a single run)".into()));
    } else {
        let unit = body.interval_unit.as_deref().unwrap_or("days");
        Some(span(interval, unit_secs(unit, "interval_unit")?, "interval")?)
    };
    let cleanup = numeric(params.cleanup_age).filter(|a| *a > 0.0);
    let retention = Retention {
        keep_last: None,
        max_age_secs: match cleanup {
            Some(age) => {
                Some(span(age, unit_secs(params.cleanup_age_unit.as_deref().unwrap_or("days"), "cleanup_age_unit")?, "cleanup_age")?)
            }
            None => None,
        },
    };
    let mut destination_id = None;
    for d in params.destinations.map(|d| d.0).unwrap_or_default() {
        let row = view::find_destination(state, p, &d).await?;
        if row.id != state.engine.server_destination() && destination_id.is_none() {
            destination_id = Some(row.id);
        }
    }
    Ok(PlanSpec {
        source_id,
        name: format!("OpsCenter backup job ({tz_name})"),
        schedule: Schedule::Interval { first_run, every_secs, timezone: Some(tz_name.clone()) },
        retention,
        selection: Selection { keyspaces: names(params.keyspaces), ..Default::default() },
        options: Default::default(),
        destination_id,
        enabled: true,
        annotations: serde_json::Value::Null,
    })
}

/// A plan as an OpsCenter job schedule.
fn schedule(state: &AppState, plan: &Plan) -> JobSchedule {
    let (first_run, every, tz_name) = match &plan.schedule {
        Schedule::Interval { first_run, every_secs, timezone } => {
            (*first_run, *every_secs, timezone.clone().unwrap_or_else(|| "GMT".into()))
        }
        Schedule::Calendar { .. } => (plan.created_at, None, "GMT".into()),
    };
    let tz: Tz = tz_name.parse().unwrap_or(chrono_tz::GMT);
    let local = first_run.with_timezone(&tz);
    let (interval, unit) = match every.map(as_unit) {
        Some((n, unit)) => (n as i64, Some(unit)),
        None => (-1, None),
    };
    let (cleanup_age, cleanup_unit) = plan.retention.max_age_secs.map(as_unit).unwrap_or((0, TimeUnit::Days));
    let destination = view::destination_id(state, plan.destination_id.unwrap_or(state.engine.server_destination()));
    let shown = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string();
    JobSchedule {
        id: plan.id.to_string(),
        first_run_date: local.format("%Y-%m-%d").to_string(),
        first_run_time: local.format("%H:%M:%S").to_string(),
        timezone: tz_name,
        interval,
        interval_unit: unit,
        job_params: JobParamsView {
            kind: JobType::Backup,
            keyspaces: plan.selection.keyspaces.clone(),
            cleanup_age,
            cleanup_age_unit: cleanup_unit,
            destinations: [(destination, Empty {})].into(),
        },
        next_run: plan.next_run_at.map(shown),
        last_run: plan.last_run_at.map(shown),
    }
}

/// The cluster's plan with this id, or 404.
async fn plan_of(state: &AppState, p: &Principal, source_id: Uuid, id: &str) -> Result<Plan, CoreError> {
    let not_found = || CoreError::not_found("job schedule", id);
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    state.engine.plan(p, uuid).await.ok().filter(|plan| plan.source_id == source_id).ok_or_else(not_found)
}

#[OpenApi(tag = "ScheduleTag::JobSchedules")]
impl SchedulesApi {
    /// The cluster's job schedules.
    #[oai(path = "/:cluster_id/job-schedules", method = "get", operation_id = "opscenter_job_schedules")]
    async fn list(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Vec<JobSchedule>>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let plans = state.engine.plans(p).await?;
        Ok(Json(plans.iter().filter(|plan| plan.source_id == source).map(|plan| schedule(&state, plan)).collect()))
    }

    /// Creates a job schedule; answers 201 with its id.
    #[oai(path = "/:cluster_id/job-schedules", method = "post", operation_id = "opscenter_add_job_schedule")]
    async fn add(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<JobScheduleBody>,
    ) -> poem::Result<Created> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let spec = plan_spec(&state, p, source, body.0).await?;
        let plan = state.engine.create_plan(p, spec).await?;
        Ok(Created::Created(Json(NewId(plan.id.to_string()))))
    }

    /// One job schedule.
    #[oai(path = "/:cluster_id/job-schedules/:schedule_id", method = "get", operation_id = "opscenter_job_schedule")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        schedule_id: Path<String>,
    ) -> poem::Result<Json<JobSchedule>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        Ok(Json(schedule(&state, &plan_of(&state, p, source, &schedule_id).await?)))
    }

    /// Replaces a job schedule.
    #[oai(path = "/:cluster_id/job-schedules/:schedule_id", method = "put", operation_id = "opscenter_update_job_schedule")]
    async fn update(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        schedule_id: Path<String>,
        body: Json<JobScheduleBody>,
    ) -> poem::Result<Json<JobSchedule>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let plan = plan_of(&state, p, source, &schedule_id).await?;
        let spec = plan_spec(&state, p, source, body.0).await?;
        Ok(Json(schedule(&state, &state.engine.update_plan(p, plan.id, spec).await?)))
    }

    /// Deletes a job schedule (its backups stay).
    #[oai(path = "/:cluster_id/job-schedules/:schedule_id", method = "delete", operation_id = "opscenter_delete_job_schedule")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        schedule_id: Path<String>,
    ) -> poem::Result<Json<DeletedJobSchedule>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let plan = plan_of(&state, p, source, &schedule_id).await?;
        state.engine.delete_plan(p, plan.id).await?;
        Ok(Json(DeletedJobSchedule { id: plan.id.to_string(), deleted: true }))
    }
}
