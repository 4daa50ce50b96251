//! Backup configurations: what an agent backs up (inclusions, exclusions), when (manually,
//! every few hours, daily, weekly at a local time) and how long versions are kept. Each is an
//! engine plan on a machine the agent serves; the fields the engine does not use are kept as the
//! client sent them and shown back.

use chrono::Utc;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json, types::ToJSON};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    agent_by_alias, date, int_id, machine_agent, machines_of,
    models::{
        Configuration, ConfigurationPath, ConfigurationRequest, Configured, EnableConfiguration, EncryptionKey, FileItemType, Filter,
        Frequency, Later, MissedBackupAction, PathId, PathRequest, TimeZoneId, VersionRetention,
    },
    region,
};
use crate::{
    api::common::{forms::Formed, security::Caller},
    domain::{
        agent::Agent,
        backup::Selection,
        identity::Principal,
        plan::{self, Plan, Retention, Schedule},
        source::SourceKind,
    },
    engine::{BackupPage, PlanSpec},
    error::CoreError,
    persistence::aliases as ids,
    state::AppState,
};

#[derive(Tags)]
enum ConfigurationTag {
    /// What, when and how long to back up.
    BackupConfigurations,
}

pub struct ConfigurationsApi;

#[derive(ApiResponse)]
enum Empty {
    /// Done.
    #[oai(status = 200)]
    Ok,
}

/// The date Cloud Backup shows for "never" (a manual configuration's next run).
const NEVER: &str = "/Date(-62135578800000)/";

/// Inclusions or exclusions as (path, kind) pairs, checked.
fn paths(items: &Option<Vec<PathRequest>>, name: &str) -> Result<Vec<(String, FileItemType)>, CoreError> {
    let mut out = Vec::new();
    for item in items.iter().flatten() {
        let path = item.file_path.clone();
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") || path.contains('\0') {
            return Err(CoreError::BadRequest(format!("{name}: FilePath '{path}' must be an absolute path")));
        }
        out.push((path, item.file_item_type.unwrap_or(FileItemType::Folder)));
    }
    Ok(out)
}

/// The machine a configuration of `agent` backs up: one the agent serves whose root holds every
/// included path. A `coffer agent` with none gets one made, its whole file system; the server's
/// own agent only backs up the machines registered on it (with `serve --demo`, the demo's files).
async fn machine_of(state: &AppState, p: &Principal, agent: &Agent, included: &[(String, FileItemType)]) -> Result<Uuid, CoreError> {
    let machines = machines_of(state, p, agent).await?;
    let holds = |m: &crate::engine::SourceView| {
        let root = m.nodes.first().map(|n| n.location.as_str()).unwrap_or("/");
        included.iter().all(|(path, _)| std::path::Path::new(path).starts_with(root))
    };
    if let Some(m) = machines.iter().find(|m| holds(m)) {
        return Ok(m.source.id);
    }
    if !machines.is_empty() && (agent.is_local() || machines.iter().any(|m| m.source.name == agent.name)) {
        let roots: Vec<&str> = machines.iter().filter_map(|m| m.nodes.first()).map(|n| n.location.as_str()).collect();
        let outside = included
            .iter()
            .map(|(path, _)| path.as_str())
            .find(|path| !machines.iter().any(|m| m.nodes.first().is_some_and(|n| std::path::Path::new(path).starts_with(&n.location))));
        // The agent's machines are what they are: the request conflicts with them.
        return Err(CoreError::Conflict(format!(
            "Inclusions: '{}' is outside what agent '{}' backs up ({}); one configuration's paths lie under one of them",
            outside.unwrap_or_default(),
            agent.name,
            roots.join(", ")
        )));
    }
    Ok(state.engine.add_machine(p, &agent.name, &agent.name, "/").await?.source.id)
}

/// A configuration body as a plan (and the normalized fields kept to show it back).
async fn plan_spec(state: &AppState, p: &Principal, body: &ConfigurationRequest) -> Result<PlanSpec, CoreError> {
    let agent = agent_by_alias(state, p, &body.machine_agent_id.0.to_string()).await?;
    let name = body.backup_configuration_name.clone();
    crate::domain::check_name("BackupConfigurationName", &name).map_err(CoreError::BadRequest)?;
    let frequency = body.frequency.unwrap_or(Frequency::Manually);
    let hour12 = body.start_time_hour.map(|h| h.0);
    let minute = body.start_time_minute.map(|m| m.0).unwrap_or(0);
    let am_pm = body.start_time_am_pm.clone().unwrap_or_default().trim_matches([' ', '\t', '\r', '\n']).to_ascii_uppercase();
    let day = body.day_of_week_id.map(|d| d.0);
    let every = body.hour_interval.map(|h| h.0);
    let zone = body.time_zone_id.as_ref().map_or("UTC", TimeZoneId::iana).to_owned();
    let hour24 = match (hour12, am_pm.as_str()) {
        (Some(12), "AM") => 0,
        (Some(12), _) => 12,
        (Some(h), "PM") => h + 12,
        (Some(h), _) => h,
        (None, _) => 0,
    };
    let retention = body.version_retention.unwrap_or(VersionRetention::Days30);
    let inclusions = paths(&body.inclusions, "Inclusions")?;
    let exclusions = paths(&body.exclusions, "Exclusions")?;
    let calendar = |f: plan::Frequency| Schedule::Calendar {
        frequency: f,
        hour: hour24 as u32,
        minute: minute as u32,
        day_of_week: day.map(|d| d as u32),
        utc_offset_minutes: 0,
        timezone: Some(zone.clone()),
    };
    let schedule = match frequency {
        Frequency::Manually => {
            Schedule::Interval { first_run: Utc::now() + chrono::Duration::days(365 * 100), every_secs: None, timezone: None }
        }
        Frequency::Hourly => match every.filter(|h| *h > 1) {
            Some(hours) => Schedule::Interval {
                first_run: Utc::now() + chrono::Duration::hours(hours),
                every_secs: Some(hours as u64 * 3600),
                timezone: Some(zone.clone()),
            },
            None => calendar(plan::Frequency::Hourly),
        },
        Frequency::Daily => calendar(plan::Frequency::Daily),
        Frequency::Weekly => calendar(plan::Frequency::Weekly),
    };
    let is_active = body.is_active.is_some_and(|f| f.0);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let kept = json!({
        "Frequency": frequency.to_json(),
        "StartTimeHour": hour12,
        "StartTimeMinute": body.start_time_minute.map(|m| m.0),
        "StartTimeAmPm": am_pm,
        "DayOfWeekId": day,
        "HourInterval": every,
        "TimeZoneId": body.time_zone_id.as_ref().map(|z| z.0.clone()).filter(|z| !z.is_empty()).unwrap_or_else(|| "UTC".into()),
        "MissedBackupActionId": body.missed_backup_action_id.unwrap_or(MissedBackupAction::RunSoon).code(),
        "NotifyRecipients": text(&body.notify_recipients),
        "NotifySuccess": body.notify_success.is_some_and(|f| f.0),
        "NotifyFailure": body.notify_failure.is_some_and(|f| f.0),
        "BackupPrescript": text(&body.backup_prescript),
        "BackupPostscript": text(&body.backup_postscript),
        "VersionRetention": retention.code(),
        "IsActive": is_active,
        "Inclusions": inclusions.iter().map(|(path, kind)| json!([path, kind.to_json()])).collect::<Vec<_>>(),
        "Exclusions": exclusions.iter().map(|(path, kind)| json!([path, kind.to_json()])).collect::<Vec<_>>(),
    });
    let days = retention.code();
    Ok(PlanSpec {
        source_id: machine_of(state, p, &agent, &inclusions).await?,
        name,
        schedule,
        retention: Retention { keep_last: None, max_age_secs: (days > 0).then_some(days as u64 * 86_400) },
        selection: Selection {
            include: inclusions.iter().map(|(path, _)| path.clone()).collect(),
            exclude: exclusions.iter().map(|(path, _)| path.clone()).collect(),
            ..Default::default()
        },
        options: Default::default(),
        destination_id: None,
        enabled: is_active && frequency != Frequency::Manually,
        annotations: kept,
    })
}

/// A plan as a configuration with every field the SDK and the cookbook read.
pub(super) async fn view(state: &AppState, p: &Principal, plan: &Plan) -> Result<Configuration, CoreError> {
    let agent = machine_agent(state, p, plan.source_id).await?;
    let id = ids::alias_for(&state.db, "configuration", plan.id).await?;
    let page = BackupPage { source_id: Some(plan.source_id), plan_id: Some(Some(plan.id)), limit: Some(1), ..Default::default() };
    let last = match state.engine.backups_page(p, &page).await?.first() {
        Some(b) => Some(ids::alias_for(&state.db, "backup", b.id).await?),
        None => None,
    };
    Ok(shown(state, plan, id, agent, last))
}

/// A whole number kept in a plan's annotations (older plans kept numbers as clients sent them).
fn kept_number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// [`view`] with the configuration's integer id, the machine's agent (name, integer id) and the
/// newest backup's id known.
fn shown(state: &AppState, plan: &Plan, id: i64, (agent_name, agent_id): (String, Option<i64>), last: Option<i64>) -> Configuration {
    let a = &plan.annotations;
    let get = |k: &str| a.get(k);
    let text = |k: &str| get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let flag = |k: &str| get(k).and_then(Value::as_bool);
    // File ids count through inclusions, then exclusions: unique within the configuration.
    let included = get("Inclusions").and_then(Value::as_array).map_or(0, Vec::len);
    let items = |k: &str, filter: Filter| -> Vec<ConfigurationPath> {
        let first = if filter == Filter::Include { 1 } else { included + 1 };
        get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, pair)| ConfigurationPath {
                file_id: (first + i) as i64,
                file_item_type: if pair[1] == "File" { FileItemType::File } else { FileItemType::Folder },
                file_path: pair[0].as_str().unwrap_or_default().to_owned(),
                file_path_encoded: None,
                filter,
                parent_id: id,
            })
            .collect()
    };
    let frequency = match get("Frequency").and_then(Value::as_str) {
        Some("Hourly") => Frequency::Hourly,
        Some("Daily") => Frequency::Daily,
        Some("Weekly") => Frequency::Weekly,
        _ => Frequency::Manually,
    };
    let scheduled = frequency != Frequency::Manually && plan.enabled;
    Configuration {
        backup_configuration_id: id,
        machine_agent_id: agent_id,
        machine_name: agent_name,
        datacenter: region(state),
        flavor: "RaxCloudServer".into(),
        is_encrypted: state.settings.store_key.is_some(),
        encryption_key: EncryptionKey::none(),
        backup_configuration_name: plan.name.clone(),
        is_active: flag("IsActive").unwrap_or(plan.enabled),
        is_deleted: false,
        version_retention: kept_number(get("VersionRetention")).and_then(VersionRetention::from_code).unwrap_or(VersionRetention::Days30),
        backup_configuration_schedule_id: id,
        missed_backup_action_id: kept_number(get("MissedBackupActionId"))
            .and_then(MissedBackupAction::from_code)
            .unwrap_or(MissedBackupAction::RunSoon),
        frequency,
        start_time_hour: kept_number(get("StartTimeHour")),
        start_time_minute: kept_number(get("StartTimeMinute")),
        start_time_am_pm: text("StartTimeAmPm"),
        day_of_week_id: kept_number(get("DayOfWeekId")),
        hour_interval: kept_number(get("HourInterval")),
        time_zone_id: Some(text("TimeZoneId")).filter(|z| !z.is_empty()).unwrap_or_else(|| "UTC".into()),
        next_scheduled_run_time: if scheduled { plan.next_run_at.map(date).unwrap_or_else(|| NEVER.to_owned()) } else { NEVER.to_owned() },
        last_run_time: plan.last_run_at.map(date),
        last_run_backup_report_id: last,
        notify_recipients: text("NotifyRecipients"),
        notify_success: flag("NotifySuccess").unwrap_or(false),
        notify_failure: flag("NotifyFailure").unwrap_or(false),
        backup_prescript: text("BackupPrescript"),
        backup_postscript: text("BackupPostscript"),
        inclusions: items("Inclusions", Filter::Include),
        exclusions: items("Exclusions", Filter::Exclude),
    }
}

/// The caller's configurations: the plans of machines (clusters' and instances' plans are other dialects').
pub(super) async fn configurations(state: &AppState, p: &Principal) -> Result<Vec<Plan>, CoreError> {
    let mut out = Vec::new();
    for plan in state.engine.plans(p).await? {
        if state.engine.source(p, plan.source_id).await.is_ok_and(|s| s.source.kind == SourceKind::Machine) {
            out.push(plan);
        }
    }
    Ok(out)
}

pub(super) async fn plan_by_alias(state: &AppState, p: &Principal, id: &str) -> Result<Plan, CoreError> {
    let not_found = || CoreError::not_found("backup configuration", id);
    let uuid = ids::resolve_alias(&state.db, "configuration", int_id(id, "backup configuration")?).await?.ok_or_else(not_found)?;
    state.engine.plan(p, uuid).await.map_err(|_| not_found())
}

#[OpenApi(tag = "ConfigurationTag::BackupConfigurations")]
impl ConfigurationsApi {
    /// Creates a configuration for an agent; answers it whole. The server's own agent takes
    /// paths under the machines registered on it (with `serve --demo`, the demo's files).
    #[oai(path = "/v1.0/backup-configuration", method = "post", operation_id = "cloudbackup_create_configuration")]
    async fn create(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<Later<Formed<Configured>>>,
    ) -> poem::Result<Json<Configuration>> {
        let p = caller.principal();
        let spec = plan_spec(&state, p, &body.0.read()?.0.0).await?;
        let plan = state.engine.create_plan(p, spec).await?;
        let id = ids::new_alias(&state.db, "configuration", plan.id).await?;
        Ok(Json(shown(&state, &plan, id, machine_agent(&state, p, plan.source_id).await?, None)))
    }

    /// Every configuration of the caller's tenant.
    #[oai(path = "/v1.0/backup-configuration", method = "get", operation_id = "cloudbackup_configurations")]
    async fn list(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<Configuration>>> {
        let p = caller.principal();
        let mut out = Vec::new();
        for plan in configurations(&state, p).await? {
            out.push(view(&state, p, &plan).await?);
        }
        Ok(Json(out))
    }

    /// The configurations of one agent.
    #[oai(path = "/v1.0/backup-configuration/system/:agent_id", method = "get", operation_id = "cloudbackup_agent_configurations")]
    async fn of_agent(&self, state: Data<&AppState>, caller: Caller, agent_id: Path<String>) -> poem::Result<Json<Vec<Configuration>>> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &agent_id).await?;
        let machines: Vec<Uuid> = machines_of(&state, p, &agent).await?.into_iter().map(|m| m.source.id).collect();
        let mut out = Vec::new();
        for plan in state.engine.plans(p).await?.into_iter().filter(|plan| machines.contains(&plan.source_id)) {
            out.push(view(&state, p, &plan).await?);
        }
        Ok(Json(out))
    }

    /// One configuration.
    #[oai(path = "/v1.0/backup-configuration/:id", method = "get", operation_id = "cloudbackup_configuration")]
    async fn get(&self, state: Data<&AppState>, caller: Caller, id: Path<PathId>) -> poem::Result<Json<Configuration>> {
        let p = caller.principal();
        Ok(Json(view(&state, p, &plan_by_alias(&state, p, &id).await?).await?))
    }

    /// Replaces a configuration (clients send back every field they read; the read-only ones are ignored).
    #[oai(path = "/v1.0/backup-configuration/:id", method = "put", operation_id = "cloudbackup_update_configuration")]
    async fn update(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<PathId>,
        body: Json<Later<Formed<Configured>>>,
    ) -> poem::Result<Empty> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &id).await?;
        let spec = plan_spec(&state, p, &body.0.read()?.0.0).await?;
        state.engine.update_plan(p, plan.id, spec).await?;
        Ok(Empty::Ok)
    }

    /// Deletes a configuration. Its backups stay: their reports name it and say it is deleted.
    #[oai(path = "/v1.0/backup-configuration/:id", method = "delete", operation_id = "cloudbackup_delete_configuration")]
    async fn delete(&self, state: Data<&AppState>, caller: Caller, id: Path<PathId>) -> poem::Result<Empty> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &id).await?;
        state.engine.delete_plan(p, plan.id).await?;
        Ok(Empty::Ok)
    }

    /// Turns a configuration's schedule on or off (`Enable`, or `Enabled` as the SDK sends it).
    #[oai(path = "/v1.0/backup-configuration/enable/:id", method = "post", operation_id = "cloudbackup_enable_configuration")]
    async fn enable(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<PathId>,
        body: Json<EnableConfiguration>,
    ) -> poem::Result<Json<Configuration>> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &id).await?;
        let on = body.enable.or(body.enabled).ok_or_else(|| CoreError::BadRequest("Enable (true or false) is required".into()))?.0;
        let mut annotations = plan.annotations.clone();
        annotations["IsActive"] = json!(on);
        let manual = annotations.get("Frequency").and_then(Value::as_str).unwrap_or("Manually") == "Manually";
        let spec = PlanSpec {
            source_id: plan.source_id,
            name: plan.name.clone(),
            schedule: plan.schedule.clone(),
            retention: plan.retention.clone(),
            selection: plan.selection.clone(),
            options: plan.options.clone(),
            destination_id: plan.destination_id,
            enabled: on && !manual,
            annotations,
        };
        let plan = state.engine.update_plan(p, plan.id, spec).await?;
        Ok(Json(view(&state, p, &plan).await?))
    }
}
