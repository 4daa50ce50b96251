//! Rackspace Cloud Backup v1.0, beside Cloud Databases under `/v1.0`. Today: agents (machines
//! served by `coffer agent` processes or the server's own agent) and backup configurations;
//! backups, restores and activity arrive with the rest of the dialect's issue.
//!
//! Both path forms real clients use are served: `/v1.0/{tenant}/agent/...` (the docs, the Chef
//! cookbook) and `/v1.0/agent/...` (the SDK, tenant from the token). Ids are integers: stable
//! aliases of the engine's UUIDs. Dates are `"\/Date(ms)\/"`.

mod activity;
mod backups;
mod configurations;
pub mod error;
mod restores;

pub use activity::ActivityApi;
pub use backups::BackupsApi;
pub use configurations::ConfigurationsApi;
pub use restores::RestoresApi;

use chrono::{DateTime, Utc};
use poem::{Endpoint, IntoResponse, Request, Response, web::Data};
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    api::common::{
        dialect::{CLOUD_BACKUP_WORDS, Dialect},
        security::Caller,
    },
    domain::{agent::Agent, identity::Principal, source::SourceKind},
    error::CoreError,
    persistence::identity as ids,
    state::AppState,
};

#[derive(Tags)]
enum BackupTag {
    /// Backup agents (machines).
    Agents,
}

/// The Cloud Backup API.
pub struct CloudBackupApi;

#[derive(ApiResponse)]
enum Empty {
    /// Done.
    #[oai(status = 200)]
    Ok,
}

#[derive(ApiResponse)]
enum NoContent {
    /// Done, nothing to say.
    #[oai(status = 204)]
    Done,
}

/// `MachineAgentId` of a body, as the text an alias is looked up by.
fn body_agent(body: &Value) -> Result<String, CoreError> {
    int(body.get("MachineAgentId"), "MachineAgentId")?
        .map(|id| id.to_string())
        .ok_or_else(|| CoreError::BadRequest("MachineAgentId is required".into()))
}

/// `/v1.0` serves two APIs: Cloud Backup by its resource words, Cloud Databases otherwise.
pub struct ByResource<D, B> {
    pub databases: D,
    pub backup: B,
}

impl<D: Endpoint, B: Endpoint> Endpoint for ByResource<D, B> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if Dialect::from_path(req.uri().path()) == Dialect::CloudBackup {
            let req = tenantless(req)?;
            Ok(self.backup.call(req).await?.into_response())
        } else {
            Ok(self.databases.call(req).await?.into_response())
        }
    }
}

/// `/v1.0/{tenant}/x/...` becomes `/v1.0/x/...` once the tenant is the caller's; a trailing `/`
/// is dropped. A tenant other than the caller's is reported as not found.
pub(crate) fn tenantless(mut req: Request) -> poem::Result<Request> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let mut segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segs.len() > 2 && !CLOUD_BACKUP_WORDS.contains(&segs[1]) {
        let tenant = segs.remove(1);
        if let Some(p) = req.extensions().get::<Principal>()
            && !p.owns_account(tenant)
        {
            return Err(CoreError::not_found("account", tenant).into());
        }
    }
    let rewritten = format!("/{}", segs.join("/"));
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let uri: poem::http::Uri = format!("{rewritten}{query}").parse().map_err(|_| CoreError::BadRequest("bad path".into()))?;
    *req.uri_mut() = uri;
    Ok(req)
}

/// `"\/Date(ms)\/"`, as the service writes dates.
fn date(t: DateTime<Utc>) -> String {
    format!("/Date({})/", t.timestamp_millis())
}

/// The time from `start` to `end` (or to now) as `HH:MM:SS`.
fn duration(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> String {
    let secs = (end.unwrap_or_else(Utc::now) - start).num_seconds().max(0);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// An integer id from a path or body: a number or a numeric string.
pub(crate) fn int_id(text: &str, what: &'static str) -> Result<i64, CoreError> {
    text.trim().parse::<i64>().map_err(|_| CoreError::not_found(what, text))
}

/// An optional whole number: a number or a numeric string.
pub(crate) fn int(v: Option<&Value>, name: &str) -> Result<Option<i64>, CoreError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| CoreError::BadRequest(format!("{name} must be a whole number"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| CoreError::BadRequest(format!("{name} must be a whole number, not '{s}'")))
        }
        Some(other) => Err(CoreError::BadRequest(format!("{name} must be a whole number, not {other}"))),
    }
}

pub(crate) fn boolean(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

pub(super) fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

async fn agent_by_alias(state: &AppState, p: &Principal, id: &str) -> Result<Agent, CoreError> {
    let not_found = || CoreError::not_found("agent", id);
    let uuid = ids::resolve_alias(&state.db, "agent", int_id(id, "agent")?).await?.ok_or_else(not_found)?;
    state.engine.agent_of(p, uuid).await.map_err(|_| not_found())
}

/// The name and integer id of the agent serving a machine source (no id when the agent is gone).
async fn machine_agent(state: &AppState, p: &Principal, machine: Uuid) -> Result<(String, Option<i64>), CoreError> {
    let view = state.engine.source(p, machine).await?;
    let name = view.nodes.first().map(|n| n.agent.clone()).unwrap_or_default();
    let id = match state.engine.list_agents(p).await?.into_iter().find(|a| a.name == name) {
        Some(a) => Some(ids::alias_for(&state.db, "agent", a.id).await?),
        None => None,
    };
    Ok((name, id))
}

/// The complete backups of the machine an agent serves: when the newest finished, and what they store.
async fn vault(state: &AppState, p: &Principal, a: &Agent) -> Result<(Option<DateTime<Utc>>, i64), CoreError> {
    let Ok(machine) = state.engine.source_by_name(p, SourceKind::Machine, &a.name).await else { return Ok((None, 0)) };
    state.engine.complete_backup_totals(p, machine.source.id).await
}

/// A request body as the JSON object every Cloud Backup handler reads.
pub(super) fn object(body: Value) -> Result<serde_json::Map<String, Value>, CoreError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(CoreError::BadRequest("the body must be a JSON object".into())),
    }
}

/// The region an agent's backups are kept in.
fn region(state: &AppState) -> String {
    state.settings.regions.first().cloned().unwrap_or_else(|| "DFW".into())
}

/// An agent with every field the SDK reads.
async fn agent_view(state: &AppState, p: &Principal, a: &Agent) -> Result<Value, CoreError> {
    let up = a.is_up(Utc::now(), state.settings.agent_down_after_secs);
    let region = region(state);
    let (last_success, vault_bytes) = vault(state, p, a).await?;
    Ok(json!({
        "AgentVersion": env!("CARGO_PKG_VERSION"),
        "Architecture": std::env::consts::ARCH,
        "Flavor": "RaxCloudServer",
        "BackupVaultSize": backups::size(vault_bytes),
        "BackupContainer": format!("coffer-{}", a.tenant_id.simple()),
        "CleanupAllowed": true,
        "Datacenter": region,
        "IPAddress": a.hostname,
        "IsDisabled": a.settings.disabled,
        "IsEncrypted": state.settings.store_key.is_some(),
        "MachineAgentId": ids::alias_for(&state.db, "agent", a.id).await?,
        "MachineName": a.name,
        "OperatingSystem": std::env::consts::OS,
        "OperatingSystemVersion": "",
        "PublicKey": { "ModulusHex": "", "ExponentHex": "" },
        "Status": if up { "Online" } else { "Offline" },
        "TimeOfLastSuccessfulBackup": last_success.map(date),
        "UseServiceNet": a.settings.use_service_net,
        "BackupDataCenter": a.settings.backup_region.clone().unwrap_or_else(|| region.clone()),
        "UseFailoverUri": false,
        "HostServerId": a.id,
        "LastSeen": a.last_seen_at.map(date),
    }))
}

#[OpenApi(tag = "BackupTag::Agents")]
impl CloudBackupApi {
    /// The caller's agents.
    #[oai(path = "/v1.0/user/agents", method = "get", operation_id = "cloudbackup_agents")]
    async fn agents(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let mut out = Vec::new();
        for a in state.engine.list_agents(caller.principal()).await? {
            out.push(agent_view(&state, caller.principal(), &a).await?);
        }
        Ok(Json(json!(out)))
    }

    /// One agent by its id.
    #[oai(path = "/v1.0/agent/:agent_id", method = "get", operation_id = "cloudbackup_agent")]
    async fn agent(&self, state: Data<&AppState>, caller: Caller, agent_id: Path<String>) -> poem::Result<Json<Value>> {
        let a = agent_by_alias(&state, caller.principal(), &agent_id).await?;
        Ok(Json(agent_view(&state, caller.principal(), &a).await?))
    }

    /// One agent by the id of the server it runs on (`HostServerId`).
    #[oai(path = "/v1.0/agent/server/:host_server_id", method = "get", operation_id = "cloudbackup_agent_by_server")]
    async fn agent_by_server(&self, state: Data<&AppState>, caller: Caller, host_server_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let not_found = || CoreError::not_found("agent", host_server_id.0.clone());
        let uuid = Uuid::parse_str(&host_server_id).map_err(|_| not_found())?;
        let a = state.engine.agent_of(p, uuid).await.map_err(|_| not_found())?;
        Ok(Json(agent_view(&state, caller.principal(), &a).await?))
    }

    /// `{"MachineAgentId", "Enable"}`: a disabled agent starts no backups (204).
    #[oai(path = "/v1.0/agent/enable", method = "post", operation_id = "cloudbackup_enable_agent")]
    async fn enable(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<NoContent> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &body_agent(&body)?).await?;
        let enable = match body.0.get("Enable").or_else(|| body.0.get("Enabled")) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            other => {
                let got = other.map(Value::to_string).unwrap_or_else(|| "nothing".into());
                return Err(CoreError::BadRequest(format!("Enable must be true or false, not {got}")).into());
            }
        };
        state.engine.update_agent(p, agent.id, |s| s.disabled = !enable).await?;
        Ok(NoContent::Done)
    }

    /// `{"MachineAgentId"}`: removes the agent and its configurations (204); it appears again
    /// when it next registers.
    #[oai(path = "/v1.0/agent/delete", method = "post", operation_id = "cloudbackup_delete_agent")]
    async fn delete(&self, state: Data<&AppState>, caller: Caller, body: Json<Value>) -> poem::Result<NoContent> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &body_agent(&body)?).await?;
        state.engine.delete_agent(p, agent.id).await?;
        Ok(NoContent::Done)
    }

    /// `{"BackupDataCenter", "UseServiceNet"}`: an agent's settings; answers the agent.
    #[oai(path = "/v1.0/agent/:agent_id", method = "post", operation_id = "cloudbackup_agent_settings")]
    async fn settings(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        agent_id: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &agent_id).await?;
        let region = match body.0.get("BackupDataCenter") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) if state.settings.regions.iter().any(|known| known.eq_ignore_ascii_case(r)) => Some(r.to_uppercase()),
            Some(other) => {
                return Err(CoreError::BadRequest(format!(
                    "BackupDataCenter must be one of {}, not {other}",
                    state.settings.regions.join(", ")
                ))
                .into());
            }
        };
        let service_net = body.0.get("UseServiceNet").map(|v| boolean(Some(v)));
        let agent = state
            .engine
            .update_agent(p, agent.id, |s| {
                if region.is_some() {
                    s.backup_region = region;
                }
                if let Some(on) = service_net {
                    s.use_service_net = on;
                }
            })
            .await?;
        Ok(Json(agent_view(&state, p, &agent).await?))
    }

    /// Asks the caller's agents to look for work now (200, empty).
    #[oai(path = "/v1.0/user/wakeupagents", method = "post", operation_id = "cloudbackup_wake_agents")]
    async fn wake(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Empty> {
        state.engine.list_agents(caller.principal()).await?;
        state.engine.wake_agents();
        Ok(Empty::Ok)
    }
}
