//! Backup configurations: what an agent backs up (inclusions, exclusions), when (manually,
//! hourly, daily, weekly at a local time) and how long versions are kept. Each is an engine plan
//! on the agent's machine; the fields the engine does not use are kept as the client sent them.

use chrono::Utc;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{agent_by_alias, boolean, date, int, int_id, machine_agent, object, text};
use crate::{
    api::common::security::Caller,
    domain::{
        agent::Agent,
        backup::Selection,
        identity::Principal,
        plan::{Frequency, Plan, Retention, Schedule},
        source::SourceKind,
    },
    engine::PlanSpec,
    error::CoreError,
    persistence::identity as ids,
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

/// Windows zone names the service uses, as IANA zones; IANA names are accepted as they are.
fn time_zone(name: &str) -> Result<String, CoreError> {
    let iana = match name {
        "" | "UTC" | "Coordinated Universal Time" => "UTC",
        "GMT Standard Time" => "Europe/London",
        "Eastern Standard Time" => "America/New_York",
        "Central Standard Time" => "America/Chicago",
        "Mountain Standard Time" => "America/Denver",
        "Pacific Standard Time" => "America/Los_Angeles",
        "W. Europe Standard Time" => "Europe/Berlin",
        "AUS Eastern Standard Time" => "Australia/Sydney",
        "China Standard Time" => "Asia/Shanghai",
        other if other.parse::<chrono_tz::Tz>().is_ok() => other,
        other => return Err(CoreError::BadRequest(format!("unknown TimeZoneId '{other}'"))),
    };
    Ok(iana.to_owned())
}

/// `[{"FilePath", "FileItemType"}]` as paths, checked.
fn paths(v: Option<&Value>, name: &str) -> Result<Vec<(String, String)>, CoreError> {
    let mut out = Vec::new();
    for item in v.and_then(Value::as_array).into_iter().flatten() {
        let path = item.get("FilePath").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(CoreError::BadRequest(format!("{name}: FilePath '{path}' must be an absolute path")));
        }
        let kind = match item.get("FileItemType").and_then(Value::as_str).unwrap_or("Folder") {
            "File" | "file" => "File",
            "Folder" | "folder" => "Folder",
            other => return Err(CoreError::BadRequest(format!("{name}: FileItemType '{other}' is File or Folder"))),
        };
        out.push((path, kind.to_owned()));
    }
    Ok(out)
}

/// The machine source an agent's configurations back up: its whole file system, by agent name.
async fn machine_of(state: &AppState, p: &Principal, agent: &Agent) -> Result<Uuid, CoreError> {
    match state.engine.source_row_by_name(p, SourceKind::Machine, &agent.name).await {
        Ok(source) => Ok(source.id),
        Err(CoreError::NotFound { .. }) => Ok(state.engine.add_machine(p, &agent.name, &agent.name, "/").await?.source.id),
        Err(e) => Err(e),
    }
}

/// A configuration body as a plan (and the normalized fields kept to show it back).
async fn plan_spec(state: &AppState, p: &Principal, body: &Map<String, Value>) -> Result<(PlanSpec, Agent, i64), CoreError> {
    let agent_id =
        int(body.get("MachineAgentId"), "MachineAgentId")?.ok_or_else(|| CoreError::BadRequest("MachineAgentId is required".into()))?;
    let agent = agent_by_alias(state, p, &agent_id.to_string()).await?;
    let name = text(body.get("BackupConfigurationName"));
    if name.trim().is_empty() || name.len() > 255 {
        return Err(CoreError::BadRequest("BackupConfigurationName is required (at most 255 characters)".into()));
    }
    let frequency = match body.get("Frequency").and_then(Value::as_str).unwrap_or("Manually") {
        "Manually" => None,
        "Hourly" => Some(Frequency::Hourly),
        "Daily" => Some(Frequency::Daily),
        "Weekly" => Some(Frequency::Weekly),
        other => return Err(CoreError::BadRequest(format!("Frequency '{other}' is Manually, Hourly, Daily or Weekly"))),
    };
    let hour12 = int(body.get("StartTimeHour"), "StartTimeHour")?;
    let minute = int(body.get("StartTimeMinute"), "StartTimeMinute")?.unwrap_or(0);
    let am_pm = text(body.get("StartTimeAmPm")).to_ascii_uppercase();
    let day = int(body.get("DayOfWeekId"), "DayOfWeekId")?;
    let zone = time_zone(&text(body.get("TimeZoneId")))?;
    if hour12.is_some_and(|h| !(1..=12).contains(&h)) || !(0..=59).contains(&minute) || day.is_some_and(|d| !(0..=6).contains(&d)) {
        return Err(CoreError::BadRequest("StartTimeHour is 1-12, StartTimeMinute 0-59 and DayOfWeekId 0-6".into()));
    }
    if frequency == Some(Frequency::Weekly) && day.is_none() {
        return Err(CoreError::BadRequest("a weekly configuration needs DayOfWeekId".into()));
    }
    let hour24 = match (hour12, am_pm.as_str()) {
        (Some(12), "AM") => 0,
        (Some(12), _) => 12,
        (Some(h), "PM") => h + 12,
        (Some(h), _) => h,
        (None, _) => 0,
    };
    let retention_days = int(body.get("VersionRetention"), "VersionRetention")?.unwrap_or(30);
    if !matches!(retention_days, 0 | 30 | 60) {
        return Err(CoreError::BadRequest("VersionRetention is 0 (keep every version), 30 or 60 days".into()));
    }
    let inclusions = paths(body.get("Inclusions"), "Inclusions")?;
    let exclusions = paths(body.get("Exclusions"), "Exclusions")?;
    let schedule = match frequency {
        None => Schedule::Interval { first_run: Utc::now() + chrono::Duration::days(365 * 100), every_secs: None, timezone: None },
        Some(f) => Schedule::Calendar {
            frequency: f,
            hour: hour24 as u32,
            minute: minute as u32,
            day_of_week: day.map(|d| d as u32),
            utc_offset_minutes: 0,
            timezone: Some(zone),
        },
    };
    let is_active = boolean(body.get("IsActive"));
    let mut kept = Map::new();
    for key in [
        "Frequency",
        "StartTimeHour",
        "StartTimeMinute",
        "StartTimeAmPm",
        "DayOfWeekId",
        "HourInterval",
        "TimeZoneId",
        "MissedBackupActionId",
        "NotifyRecipients",
        "NotifySuccess",
        "NotifyFailure",
        "BackupPrescript",
        "BackupPostscript",
    ] {
        kept.insert(key.into(), body.get(key).cloned().unwrap_or(Value::Null));
    }
    kept.insert("VersionRetention".into(), json!(retention_days));
    kept.insert("IsActive".into(), json!(is_active));
    kept.insert("Inclusions".into(), json!(inclusions));
    kept.insert("Exclusions".into(), json!(exclusions));
    let spec = PlanSpec {
        source_id: machine_of(state, p, &agent).await?,
        name,
        schedule,
        retention: Retention { keep_last: None, max_age_secs: (retention_days > 0).then_some(retention_days as u64 * 86_400) },
        selection: Selection {
            include: inclusions.iter().map(|(path, _)| path.clone()).collect(),
            exclude: exclusions.iter().map(|(path, _)| path.clone()).collect(),
            ..Default::default()
        },
        options: Default::default(),
        destination_id: None,
        enabled: is_active && frequency.is_some(),
        annotations: Value::Object(kept),
    };
    Ok((spec, agent, agent_id))
}

/// A plan as a configuration with every field the SDK and the cookbook read.
pub(super) async fn view(state: &AppState, p: &Principal, plan: &Plan) -> Result<Value, CoreError> {
    let agent = machine_agent(state, p, plan.source_id).await?;
    let id = ids::alias_for(&state.db, "configuration", plan.id).await?;
    Ok(shown(state, plan, id, agent))
}

/// [`view`] with the configuration's integer id and the machine's agent (name, integer id) known.
fn shown(state: &AppState, plan: &Plan, id: i64, (agent_name, agent_id): (String, Option<i64>)) -> Value {
    let a = &plan.annotations;
    let get = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
    // File ids count through inclusions, then exclusions: unique within the configuration.
    let included = get("Inclusions").as_array().map_or(0, Vec::len);
    let items = |k: &str, filter: &str| -> Vec<Value> {
        let first = if filter == "Include" { 1 } else { included + 1 };
        get(k)
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, pair)| json!({ "FileId": first + i, "FileItemType": pair[1], "FilePath": pair[0], "FilePathEncoded": null, "Filter": filter, "ParentId": id }))
            .collect()
    };
    let manual = get("Frequency").as_str().unwrap_or("Manually") == "Manually";
    json!({
        "BackupConfigurationId": id,
        "MachineAgentId": agent_id,
        "MachineName": agent_name,
        "Datacenter": state.settings.regions.first().cloned().unwrap_or_else(|| "DFW".into()),
        "Flavor": "RaxCloudServer",
        "IsEncrypted": state.settings.store_key.is_some(),
        "EncryptionKey": { "ExponentHex": "", "ModulusHex": "" },
        "BackupConfigurationName": plan.name,
        "IsActive": get("IsActive").as_bool().unwrap_or(plan.enabled),
        "IsDeleted": false,
        "VersionRetention": get("VersionRetention"),
        "BackupConfigurationScheduleId": id,
        "MissedBackupActionId": if get("MissedBackupActionId").is_null() { json!(1) } else { get("MissedBackupActionId") },
        "Frequency": if manual { json!("Manually") } else { get("Frequency") },
        "StartTimeHour": get("StartTimeHour"),
        "StartTimeMinute": get("StartTimeMinute"),
        "StartTimeAmPm": get("StartTimeAmPm").as_str().unwrap_or_default(),
        "DayOfWeekId": get("DayOfWeekId"),
        "HourInterval": get("HourInterval"),
        "TimeZoneId": get("TimeZoneId").as_str().unwrap_or("UTC"),
        "NextScheduledRunTime": if manual { NEVER.to_owned() } else { plan.next_run_at.map(date).unwrap_or_else(|| NEVER.to_owned()) },
        "LastRunTime": plan.last_run_at.map(date),
        "LastRunBackupReportId": null,
        "NotifyRecipients": get("NotifyRecipients").as_str().unwrap_or_default(),
        "NotifySuccess": get("NotifySuccess").as_bool().unwrap_or(false),
        "NotifyFailure": get("NotifyFailure").as_bool().unwrap_or(false),
        "BackupPrescript": get("BackupPrescript").as_str().unwrap_or_default(),
        "BackupPostscript": get("BackupPostscript").as_str().unwrap_or_default(),
        "Inclusions": items("Inclusions", "Include"),
        "Exclusions": items("Exclusions", "Exclude"),
    })
}

/// A configuration of the caller's tenant by its integer id.
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
    /// Creates a configuration for an agent; answers it whole.
    #[oai(path = "/v1.0/backup-configuration", method = "post", operation_id = "cloudbackup_create_configuration")]
    async fn create(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let (spec, agent, agent_id) = plan_spec(&state, p, &object(body.0)?).await?;
        let plan = state.engine.create_plan(p, spec).await?;
        let id = ids::new_alias(&state.db, "configuration", plan.id).await?;
        Ok(Json(shown(&state, &plan, id, (agent.name, Some(agent_id)))))
    }

    /// Every configuration of the caller's tenant.
    #[oai(path = "/v1.0/backup-configuration", method = "get", operation_id = "cloudbackup_configurations")]
    async fn list(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let mut out = Vec::new();
        for plan in configurations(&state, p).await? {
            out.push(view(&state, p, &plan).await?);
        }
        Ok(Json(json!(out)))
    }

    /// The configurations of one agent.
    #[oai(path = "/v1.0/backup-configuration/system/:agent_id", method = "get", operation_id = "cloudbackup_agent_configurations")]
    async fn of_agent(&self, state: Data<&AppState>, caller: Caller, agent_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &agent_id).await?;
        let mut out = Vec::new();
        if let Ok(machine) = state.engine.source_by_name(p, SourceKind::Machine, &agent.name).await {
            for plan in state.engine.plans(p).await?.into_iter().filter(|plan| plan.source_id == machine.source.id) {
                out.push(view(&state, p, &plan).await?);
            }
        }
        Ok(Json(json!(out)))
    }

    /// One configuration.
    #[oai(path = "/v1.0/backup-configuration/:id", method = "get", operation_id = "cloudbackup_configuration")]
    async fn get(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        Ok(Json(view(&state, p, &plan_by_alias(&state, p, &id).await?).await?))
    }

    /// Replaces a configuration (clients send back every field they read; unknown ones are ignored).
    #[oai(path = "/v1.0/backup-configuration/:id", method = "put", operation_id = "cloudbackup_update_configuration")]
    async fn update(&self, state: Data<&AppState>, caller: Caller, id: Path<String>, body: Json<Value>) -> poem::Result<Empty> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &id).await?;
        let (spec, ..) = plan_spec(&state, p, &object(body.0)?).await?;
        state.engine.update_plan(p, plan.id, spec).await?;
        Ok(Empty::Ok)
    }

    /// Deletes a configuration (its backups stay).
    #[oai(path = "/v1.0/backup-configuration/:id", method = "delete", operation_id = "cloudbackup_delete_configuration")]
    async fn delete(&self, state: Data<&AppState>, caller: Caller, id: Path<String>) -> poem::Result<Empty> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &id).await?;
        state.engine.delete_plan(p, plan.id).await?;
        Ok(Empty::Ok)
    }

    /// Turns a configuration's schedule on or off (`Enable`, or `Enabled` as the SDK sends it).
    #[oai(path = "/v1.0/backup-configuration/enable/:id", method = "post", operation_id = "cloudbackup_enable_configuration")]
    async fn enable(&self, state: Data<&AppState>, caller: Caller, id: Path<String>, body: Json<Value>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let plan = plan_by_alias(&state, p, &id).await?;
        let flag =
            body.0.get("Enable").or_else(|| body.0.get("Enabled")).ok_or_else(|| CoreError::BadRequest("Enable is required".into()))?;
        let on = boolean(Some(flag));
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
