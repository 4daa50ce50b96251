//! Plans: what to back up, when, and how long to keep it; and pruning by their retention.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, Union, param::Path, payload::Json, types::Example};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Created, EngineTag, NoContent,
    models::{AdminOperationOptions, AdminRetention, AdminSelection},
};
use crate::{
    api::common::{security::Caller, strict::StrictJson},
    domain::plan::{Frequency, Plan, Schedule},
    engine::PlanSpec,
    state::AppState,
};

/// When a plan runs, by `type`.
#[derive(Debug, Union)]
#[oai(rename = "AdminSchedule", discriminator_name = "type")]
pub enum AdminSchedule {
    #[oai(mapping = "interval")]
    Interval(AdminIntervalSchedule),
    #[oai(mapping = "calendar")]
    Calendar(AdminCalendarSchedule),
}

/// From `first_run`, every `every_secs` seconds; once when `every_secs` is null.
#[derive(Debug, Object)]
#[oai(rename = "AdminIntervalSchedule")]
pub struct AdminIntervalSchedule {
    pub first_run: DateTime<Utc>,
    /// At least 1, at most 100 years.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "3162240000")))]
    pub every_secs: Option<u64>,
    /// The IANA zone the schedule was written in, to show it back the same way.
    #[oai(skip_serializing_if_is_none)]
    pub timezone: Option<String>,
}

/// At `hour:minute` every hour, day, or week on `day_of_week` (0 is Sunday), local to
/// `timezone` when given (daylight saving time followed), else to `utc_offset_minutes`.
#[derive(Debug, Object)]
#[oai(rename = "AdminCalendarSchedule")]
pub struct AdminCalendarSchedule {
    pub frequency: AdminFrequency,
    #[oai(default, validator(maximum(value = "23")))]
    pub hour: u32,
    #[oai(default, validator(maximum(value = "59")))]
    pub minute: u32,
    #[oai(nullable, validator(maximum(value = "6")))]
    pub day_of_week: Option<u32>,
    /// Minutes east of UTC, at most 14 hours either way.
    #[oai(default, validator(minimum(value = "-840"), maximum(value = "840")))]
    pub utc_offset_minutes: i32,
    /// An IANA time zone (`America/New_York`).
    #[oai(skip_serializing_if_is_none)]
    pub timezone: Option<String>,
}

/// How often a calendar schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "AdminFrequency", rename_all = "lowercase")]
pub enum AdminFrequency {
    Hourly,
    Daily,
    Weekly,
}

impl From<AdminSchedule> for Schedule {
    fn from(s: AdminSchedule) -> Self {
        match s {
            AdminSchedule::Interval(i) => Schedule::Interval { first_run: i.first_run, every_secs: i.every_secs, timezone: i.timezone },
            AdminSchedule::Calendar(c) => Schedule::Calendar {
                frequency: match c.frequency {
                    AdminFrequency::Hourly => Frequency::Hourly,
                    AdminFrequency::Daily => Frequency::Daily,
                    AdminFrequency::Weekly => Frequency::Weekly,
                },
                hour: c.hour,
                minute: c.minute,
                day_of_week: c.day_of_week,
                utc_offset_minutes: c.utc_offset_minutes,
                timezone: c.timezone,
            },
        }
    }
}

impl From<Schedule> for AdminSchedule {
    fn from(s: Schedule) -> Self {
        match s {
            Schedule::Interval { first_run, every_secs, timezone } => {
                AdminSchedule::Interval(AdminIntervalSchedule { first_run, every_secs, timezone })
            }
            Schedule::Calendar { frequency, hour, minute, day_of_week, utc_offset_minutes, timezone } => {
                AdminSchedule::Calendar(AdminCalendarSchedule {
                    frequency: match frequency {
                        Frequency::Hourly => AdminFrequency::Hourly,
                        Frequency::Daily => AdminFrequency::Daily,
                        Frequency::Weekly => AdminFrequency::Weekly,
                    },
                    hour,
                    minute,
                    day_of_week,
                    utc_offset_minutes,
                    timezone,
                })
            }
        }
    }
}

/// `POST /plans` and `PUT /plans/{id}`.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewPlan", deny_unknown_fields, example)]
pub struct AdminNewPlan {
    pub source_id: Uuid,
    #[oai(default)]
    pub name: String,
    pub schedule: AdminSchedule,
    #[oai(default)]
    pub retention: AdminRetention,
    #[oai(default)]
    pub selection: AdminSelection,
    #[oai(default)]
    pub options: AdminOperationOptions,
    /// Where its backups go; the server's own store when absent.
    #[oai(nullable)]
    pub destination_id: Option<Uuid>,
    /// A disabled plan starts nothing.
    #[oai(default = "enabled")]
    pub enabled: bool,
    /// Anything a client wants kept with the plan and shown back.
    #[oai(default)]
    pub annotations: Value,
}

fn enabled() -> bool {
    true
}

impl Example for AdminNewPlan {
    fn example() -> Self {
        AdminNewPlan {
            source_id: Uuid::from_u128(0x0d6c_2f6e_0f7a_4a57_b6a4_5e2b_9d1c_3e01),
            name: "nightly".into(),
            schedule: AdminSchedule::Calendar(AdminCalendarSchedule {
                frequency: AdminFrequency::Daily,
                hour: 3,
                minute: 30,
                day_of_week: None,
                utc_offset_minutes: 0,
                timezone: Some("Europe/Paris".into()),
            }),
            retention: AdminRetention { keep_last: Some(7), max_age_secs: None },
            selection: AdminSelection::default(),
            options: AdminOperationOptions::default(),
            destination_id: None,
            enabled: true,
            annotations: Value::Null,
        }
    }
}

impl From<AdminNewPlan> for PlanSpec {
    fn from(p: AdminNewPlan) -> Self {
        PlanSpec {
            source_id: p.source_id,
            name: p.name,
            schedule: p.schedule.into(),
            retention: p.retention.into(),
            selection: p.selection.into(),
            options: p.options.into(),
            destination_id: p.destination_id,
            enabled: p.enabled,
            annotations: p.annotations,
        }
    }
}

/// A plan with its next run.
#[derive(Debug, Object)]
#[oai(rename = "AdminPlan")]
pub struct AdminPlan {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    pub name: String,
    pub schedule: AdminSchedule,
    pub retention: AdminRetention,
    pub selection: AdminSelection,
    pub options: AdminOperationOptions,
    /// What a client (or a dialect) gave the plan to keep, shown back as given.
    pub annotations: Value,
    #[oai(nullable)]
    pub destination_id: Option<Uuid>,
    pub enabled: bool,
    #[oai(nullable)]
    pub next_run_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Plan> for AdminPlan {
    fn from(p: Plan) -> Self {
        AdminPlan {
            id: p.id,
            tenant_id: p.tenant_id,
            source_id: p.source_id,
            name: p.name,
            schedule: p.schedule.into(),
            retention: p.retention.into(),
            selection: p.selection.into(),
            options: p.options.into(),
            annotations: p.annotations,
            destination_id: p.destination_id,
            enabled: p.enabled,
            next_run_at: p.next_run_at,
            last_run_at: p.last_run_at,
            created_at: p.created_at,
        }
    }
}

/// What pruning started.
#[derive(Debug, Object)]
#[oai(rename = "AdminPruned")]
pub struct AdminPruned {
    /// How many backups are being deleted.
    pub deleting: u64,
}

/// Plans.
pub struct PlansApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl PlansApi {
    /// Creates a plan.
    #[oai(path = "/plans", method = "post", operation_id = "admin_create_plan", tag = "EngineTag::Plans")]
    async fn create_plan(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewPlan>,
    ) -> poem::Result<Created<AdminPlan>> {
        Ok(Created::Created(Json(state.engine.create_plan(caller.principal(), body.read()?.into()).await?.into())))
    }

    /// Lists the tenant's plans with their next run.
    #[oai(path = "/plans", method = "get", operation_id = "admin_list_plans", tag = "EngineTag::Plans")]
    async fn list_plans(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<AdminPlan>>> {
        Ok(Json(state.engine.plans(caller.principal()).await?.into_iter().map(Into::into).collect()))
    }

    /// One plan.
    #[oai(path = "/plans/:id", method = "get", operation_id = "admin_get_plan", tag = "EngineTag::Plans")]
    async fn get_plan(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<AdminPlan>> {
        Ok(Json(state.engine.plan(caller.principal(), id.0).await?.into()))
    }

    /// Replaces a plan; its next run is computed again.
    #[oai(path = "/plans/:id", method = "put", operation_id = "admin_update_plan", tag = "EngineTag::Plans")]
    async fn update_plan(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: StrictJson<AdminNewPlan>,
    ) -> poem::Result<Json<AdminPlan>> {
        state.engine.plan(caller.principal(), id.0).await?;
        Ok(Json(state.engine.update_plan(caller.principal(), id.0, body.read()?.into()).await?.into()))
    }

    /// Deletes a plan.
    #[oai(path = "/plans/:id", method = "delete", operation_id = "admin_delete_plan", tag = "EngineTag::Plans")]
    async fn delete_plan(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<NoContent> {
        state.engine.delete_plan(caller.principal(), id.0).await?;
        Ok(NoContent::Done)
    }

    /// Applies every plan's retention now.
    #[oai(path = "/prune", method = "post", operation_id = "admin_prune", tag = "EngineTag::Plans")]
    async fn prune(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<AdminPruned>> {
        Ok(Json(AdminPruned { deleting: state.engine.prune(caller.principal()).await? as u64 }))
    }
}
