//! The agent protocol under `/agent/v1`: remote agents register, claim tasks, report progress,
//! finish tasks, and reach the server's store through an object proxy scoped to their tenant.

mod store_proxy;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};
use serde_json::Value;
use uuid::Uuid;

pub use store_proxy::routes as store_routes;

use crate::{
    api::common::security::Caller,
    auth::accounts,
    domain::operation::{TaskOutcome, TaskProgress},
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum AgentTag {
    /// The agent protocol.
    Agents,
}

/// Agent registration and task handling.
pub struct AgentApi;

#[derive(Object)]
struct Registration {
    name: String,
    #[oai(default)]
    hostname: String,
}

/// The agent's id and the token it uses from now on (shown once).
#[derive(Object)]
struct Registered {
    agent_id: Uuid,
    name: String,
    token: String,
}

#[derive(Object)]
struct Stop {
    /// The agent should stop the task (cancelled, or no longer its own).
    cancel: bool,
}

#[derive(ApiResponse)]
enum Claimed {
    /// A task to run.
    #[oai(status = 200)]
    Task(Json<Value>),
    /// Nothing to do now; ask again shortly.
    #[oai(status = 204)]
    Nothing,
}

#[derive(ApiResponse)]
enum Done {
    #[oai(status = 204)]
    Done,
}

/// The agent `id`, when the caller is that agent (its own key): users and other agents may
/// neither claim its tasks nor report for it.
async fn own_agent(state: &AppState, p: &crate::domain::identity::Principal, id: Uuid) -> Result<crate::domain::agent::Agent, CoreError> {
    let agent = state.engine.agent_of(p, id).await?;
    match p.agent.as_deref() {
        Some(name) if name == agent.name => Ok(agent),
        Some(name) => Err(CoreError::not_found("agent", format!("{id} (this key belongs to agent '{name}')"))),
        None => Err(CoreError::Forbidden("only the agent's own key (issued at registration) may act for it".into())),
    }
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: Value) -> Result<T, CoreError> {
    serde_json::from_value(body).map_err(|e| CoreError::BadRequest(format!("malformed {what}: {e}")))
}

#[OpenApi(prefix_path = "/agent/v1", tag = "AgentTag::Agents")]
impl AgentApi {
    /// Registers an agent under a name in the caller's tenant and issues it a token.
    #[oai(path = "/register", method = "post", operation_id = "agent_register")]
    async fn register(&self, state: Data<&AppState>, caller: Caller, body: Json<Registration>) -> poem::Result<Json<Registered>> {
        let p = caller.principal();
        if let Some(own) = p.agent.as_deref().filter(|own| *own != body.name) {
            return Err(CoreError::Forbidden(format!("agent '{own}' may not register another agent")).into());
        }
        let agent = state.engine.register_agent(p, &body.name, &body.hostname).await?;
        let key = accounts::create_key(&state.db, p.user_id, &format!("{}{}", crate::auth::AGENT_KEY_PREFIX, agent.name), false).await?;
        Ok(Json(Registered { agent_id: agent.id, name: agent.name, token: key.secret }))
    }

    /// Hands the agent its next task (and counts as a heartbeat).
    #[oai(path = "/agents/:id/claim", method = "post", operation_id = "agent_claim")]
    async fn claim(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Claimed> {
        let agent = own_agent(&state, caller.principal(), id.0).await?;
        Ok(match state.engine.claim(&agent).await? {
            Some(a) => Claimed::Task(Json(serde_json::to_value(a).map_err(CoreError::internal)?)),
            None => Claimed::Nothing,
        })
    }

    /// Records a running task's progress and renews its lease.
    #[oai(path = "/agents/:id/tasks/:task/progress", method = "post", operation_id = "agent_progress")]
    async fn progress(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        task: Path<Uuid>,
        /// The claim being reported on (the assignment's `attempt`); an older claim is told to stop.
        attempt: Query<Option<i32>>,
        body: Json<Value>,
    ) -> poem::Result<Json<Stop>> {
        let agent = own_agent(&state, caller.principal(), id.0).await?;
        let progress: TaskProgress = parse("progress", body.0)?;
        Ok(Json(Stop { cancel: state.engine.report(&agent, task.0, attempt.0, &progress).await? }))
    }

    /// Records how a task ended.
    #[oai(path = "/agents/:id/tasks/:task/finish", method = "post", operation_id = "agent_finish")]
    async fn finish(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        task: Path<Uuid>,
        /// The claim that ended (the assignment's `attempt`); an older claim than the task's latest gets 409.
        attempt: Query<Option<i32>>,
        body: Json<Value>,
    ) -> poem::Result<Done> {
        let agent = own_agent(&state, caller.principal(), id.0).await?;
        let outcome: TaskOutcome = parse("outcome", body.0)?;
        state.engine.finish(&agent, task.0, attempt.0, outcome).await?;
        Ok(Done::Done)
    }
}
