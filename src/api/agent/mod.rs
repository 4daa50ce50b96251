//! The agent protocol under `/agent/v1`: remote agents register, claim tasks, report progress,
//! finish tasks, and reach the server's store through an object proxy scoped to their tenant.

mod models;
mod store_proxy;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use models::{AgentAssignment, AgentRegistered, AgentRegistration, AgentStop, AgentTaskOutcome, AgentTaskProgress};

pub use store_proxy::routes as store_routes;

use crate::{
    api::common::{security::Caller, strict::StrictJson},
    auth::accounts,
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

#[derive(ApiResponse)]
enum Claimed {
    /// A task to run.
    #[oai(status = 200)]
    Task(Json<Box<AgentAssignment>>),
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

#[OpenApi(prefix_path = "/agent/v1", tag = "AgentTag::Agents")]
impl AgentApi {
    /// Registers an agent under a name in the caller's tenant and issues it a token.
    #[oai(path = "/register", method = "post", operation_id = "agent_register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AgentRegistration>,
    ) -> poem::Result<Json<AgentRegistered>> {
        let p = caller.principal();
        let body = body.read()?;
        if let Some(own) = p.agent.as_deref().filter(|own| *own != body.name) {
            return Err(CoreError::Forbidden(format!("agent '{own}' may not register another agent")).into());
        }
        let agent = state.engine.register_agent(p, &body.name, &body.hostname).await?;
        let key = accounts::create_key(&state.db, p.user_id, &format!("{}{}", crate::auth::AGENT_KEY_PREFIX, agent.name), false).await?;
        Ok(Json(AgentRegistered { agent_id: agent.id, name: agent.name, token: key.secret }))
    }

    /// Hands the agent its next task (and counts as a heartbeat).
    #[oai(path = "/agents/:id/claim", method = "post", operation_id = "agent_claim")]
    async fn claim(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Claimed> {
        let agent = own_agent(&state, caller.principal(), id.0).await?;
        Ok(match state.engine.claim(&agent).await? {
            Some(a) => Claimed::Task(Json(Box::new(a.into()))),
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
        body: StrictJson<AgentTaskProgress>,
    ) -> poem::Result<Json<AgentStop>> {
        let agent = own_agent(&state, caller.principal(), id.0).await?;
        let progress = body.read()?.into();
        Ok(Json(AgentStop { cancel: state.engine.report(&agent, task.0, attempt.0, &progress).await? }))
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
        body: StrictJson<AgentTaskOutcome>,
    ) -> poem::Result<Done> {
        let agent = own_agent(&state, caller.principal(), id.0).await?;
        state.engine.finish(&agent, task.0, attempt.0, body.read()?.into()).await?;
        Ok(Done::Done)
    }
}
