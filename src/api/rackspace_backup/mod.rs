//! Rackspace Cloud Backup v1.0, beside Cloud Databases under `/v1.0`: agents (machines served
//! by `coffer agent` processes or the server's own agent), backup configurations, backups,
//! restores and activity. Bodies are the types of [`models`].
//!
//! Both path forms real clients use are served: `/v1.0/{tenant_id}/agent/...` (the docs, the Chef
//! cookbook) and `/v1.0/agent/...` (the SDK, tenant from the token). The router serves the first by
//! rewriting it to the second ([`tenantless`]), so one handler serves both; [`with_tenant_paths`]
//! lists both forms in the document. Ids are integers: stable aliases of the engine's UUIDs.
//! Dates are `"\/Date(ms)\/"`.

mod activity;
mod backups;
mod configurations;
pub mod error;
pub mod models;
mod restores;

pub use activity::ActivityApi;
pub use backups::BackupsApi;
pub use configurations::ConfigurationsApi;
pub use restores::RestoresApi;

use chrono::{DateTime, Utc};
use poem::{Endpoint, IntoResponse, Request, Response, web::Data};
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    api::common::{
        dialect::{CLOUD_BACKUP_WORDS, Dialect},
        security::Caller,
    },
    domain::{agent::Agent, identity::Principal, source::SourceKind},
    engine::SourceView,
    error::CoreError,
    persistence::aliases as ids,
    state::AppState,
};
use models::{AgentRef, AgentSettings, AgentStatus, EnableAgent, EncryptionKey};

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

/// The document with each `/v1.0/x/...` operation listed a second time as
/// `/v1.0/{tenant_id}/x/...`, the form the reference and the Chef cookbook use. The router serves
/// that form through [`tenantless`], with the same handler, so the copy differs only in its path,
/// its `tenant_id` parameter and its `operationId` (`<id>_for_tenant`).
pub fn with_tenant_paths(doc: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(doc) else { return doc.to_owned() };
    // `Enable` or its other spelling `Enabled`: one of the two is needed.
    for name in ["CloudBackupEnableAgent", "CloudBackupEnableConfiguration"] {
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")).and_then(Value::as_object_mut) {
            let given = |field: &str| {
                let mut property = schema.get("properties").and_then(|p| p.get(field)).cloned().unwrap_or_default();
                if let Some(p) = property.as_object_mut() {
                    p.remove("nullable");
                }
                serde_json::json!({ "required": [field], "properties": { field: property } })
            };
            let either = serde_json::json!([given("Enable"), given("Enabled")]);
            schema.insert("anyOf".into(), either);
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return doc.to_string() };
    let tenant = serde_json::json!({
        "name": "tenant_id",
        "in": "path",
        "required": true,
        "description": "The caller's tenant (account); another tenant's is not found (404).",
        "schema": { "type": "string" },
    });
    let mut copies = Vec::new();
    for (path, item) in paths.iter() {
        let Some(rest) = path.strip_prefix("/v1.0/") else { continue };
        let mut item = item.clone();
        for operation in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()).filter_map(Value::as_object_mut) {
            if let Some(Value::String(id)) = operation.get_mut("operationId") {
                id.push_str("_for_tenant");
            }
            let parameters = operation.entry("parameters").or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = parameters {
                list.insert(0, tenant.clone());
            }
        }
        copies.push((format!("/v1.0/{{tenant_id}}/{rest}"), item));
    }
    paths.extend(copies);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// What the state of an object forbids (a backup already running, a stop of work that ended,
/// a disabled agent) is a conflict in Cloud Backup: the engine's 422 becomes a 409.
fn state_conflict(err: CoreError) -> CoreError {
    match err {
        CoreError::Unprocessable(m) => CoreError::Conflict(m),
        other => other,
    }
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

/// An integer id from a path: anything else names nothing (404).
pub(crate) fn int_id(text: &str, what: &'static str) -> Result<i64, CoreError> {
    text.trim().parse::<i64>().map_err(|_| CoreError::not_found(what, text))
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

/// The machines an agent backs up: those registered on it, the one named after it first. A
/// `coffer agent`'s machine is made on its first configuration (its whole file system); the
/// server's own agent backs up only machines an admin (or `serve --demo`) registered on it.
async fn machines_of(state: &AppState, p: &Principal, agent: &Agent) -> Result<Vec<SourceView>, CoreError> {
    let mut machines: Vec<SourceView> = state
        .engine
        .list_sources(p, Some(SourceKind::Machine))
        .await?
        .into_iter()
        .filter(|m| m.nodes.iter().any(|n| n.agent == agent.name))
        .collect();
    machines.sort_by_key(|m| m.source.name != agent.name);
    Ok(machines)
}

/// The complete backups of the machines an agent serves: when the newest finished, and what they store.
async fn vault(state: &AppState, p: &Principal, a: &Agent) -> Result<(Option<DateTime<Utc>>, i64), CoreError> {
    let (mut newest, mut bytes) = (None, 0);
    for machine in machines_of(state, p, a).await? {
        let (last, stored) = state.engine.complete_backup_totals(p, machine.source.id).await?;
        newest = newest.max(last);
        bytes += stored;
    }
    Ok((newest, bytes))
}

/// The region an agent's backups are kept in.
fn region(state: &AppState) -> String {
    state.settings.regions.first().cloned().unwrap_or_else(|| "DFW".into())
}

/// An agent with every field the SDK reads.
async fn agent_view(state: &AppState, p: &Principal, a: &Agent) -> Result<models::Agent, CoreError> {
    let up = a.is_up(Utc::now(), state.settings.agent_down_after_secs);
    let region = region(state);
    let (last_success, vault_bytes) = vault(state, p, a).await?;
    Ok(models::Agent {
        agent_version: env!("CARGO_PKG_VERSION").into(),
        architecture: std::env::consts::ARCH.into(),
        flavor: "RaxCloudServer".into(),
        backup_vault_size: backups::size(vault_bytes),
        backup_container: format!("coffer-{}", a.tenant_id.simple()),
        cleanup_allowed: true,
        datacenter: region.clone(),
        ip_address: a.hostname.clone(),
        is_disabled: a.settings.disabled,
        is_encrypted: state.settings.store_key.is_some(),
        machine_agent_id: ids::alias_for(&state.db, "agent", a.id).await?,
        machine_name: a.name.clone(),
        operating_system: std::env::consts::OS.into(),
        operating_system_version: String::new(),
        public_key: EncryptionKey::none(),
        status: if up { AgentStatus::Online } else { AgentStatus::Offline },
        time_of_last_successful_backup: last_success.map(date),
        use_service_net: a.settings.use_service_net,
        backup_data_center: a.settings.backup_region.clone().unwrap_or(region),
        use_failover_uri: false,
        host_server_id: a.id.to_string(),
        last_seen: a.last_seen_at.map(date),
    })
}

#[OpenApi(tag = "BackupTag::Agents")]
impl CloudBackupApi {
    /// The caller's agents.
    #[oai(path = "/v1.0/user/agents", method = "get", operation_id = "cloudbackup_agents")]
    async fn agents(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<models::Agent>>> {
        let mut out = Vec::new();
        for a in state.engine.list_agents(caller.principal()).await? {
            out.push(agent_view(&state, caller.principal(), &a).await?);
        }
        Ok(Json(out))
    }

    /// One agent by its id.
    #[oai(path = "/v1.0/agent/:agent_id", method = "get", operation_id = "cloudbackup_agent")]
    async fn agent(&self, state: Data<&AppState>, caller: Caller, agent_id: Path<String>) -> poem::Result<Json<models::Agent>> {
        let a = agent_by_alias(&state, caller.principal(), &agent_id).await?;
        Ok(Json(agent_view(&state, caller.principal(), &a).await?))
    }

    /// One agent by the id of the server it runs on (`HostServerId`).
    #[oai(path = "/v1.0/agent/server/:host_server_id", method = "get", operation_id = "cloudbackup_agent_by_server")]
    async fn agent_by_server(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        host_server_id: Path<String>,
    ) -> poem::Result<Json<models::Agent>> {
        let p = caller.principal();
        let not_found = || CoreError::not_found("agent", host_server_id.0.clone());
        let uuid = Uuid::parse_str(&host_server_id).map_err(|_| not_found())?;
        let a = state.engine.agent_of(p, uuid).await.map_err(|_| not_found())?;
        Ok(Json(agent_view(&state, caller.principal(), &a).await?))
    }

    /// `{"MachineAgentId", "Enable"}`: a disabled agent starts no backups (204).
    #[oai(path = "/v1.0/agent/enable", method = "post", operation_id = "cloudbackup_enable_agent")]
    async fn enable(&self, state: Data<&AppState>, caller: Caller, body: Json<EnableAgent>) -> poem::Result<NoContent> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &body.machine_agent_id.0.to_string()).await?;
        let enable = body.enable.or(body.enabled).ok_or_else(|| CoreError::BadRequest("Enable (true or false) is required".into()))?;
        state.engine.update_agent(p, agent.id, |s| s.disabled = !enable.0).await?;
        Ok(NoContent::Done)
    }

    /// `{"MachineAgentId"}`: removes the agent and its configurations (204); it appears again
    /// when it next registers.
    #[oai(path = "/v1.0/agent/delete", method = "post", operation_id = "cloudbackup_delete_agent")]
    async fn delete(&self, state: Data<&AppState>, caller: Caller, body: Json<AgentRef>) -> poem::Result<NoContent> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &body.machine_agent_id.0.to_string()).await?;
        if agent.is_local() {
            return Err(CoreError::Conflict("the server's own agent cannot be deleted".into()).into());
        }
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
        body: Json<AgentSettings>,
    ) -> poem::Result<Json<models::Agent>> {
        let p = caller.principal();
        let agent = agent_by_alias(&state, p, &agent_id).await?;
        let region = match &body.backup_data_center {
            None => None,
            Some(r) if state.settings.regions.iter().any(|known| known.eq_ignore_ascii_case(r)) => Some(r.to_uppercase()),
            // A data centre this server does not serve is not found, as any unknown object.
            Some(other) => return Err(CoreError::NotFound { what: "BackupDataCenter (data centre)", id: other.clone() }.into()),
        };
        let service_net = body.use_service_net.map(|f| f.0);
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
