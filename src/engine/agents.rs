//! Agents: the server's own and the remote ones that register with an API key, and the checks
//! that a source names agents that have registered in its tenant.

use uuid::Uuid;

use super::Engine;
use crate::{
    domain::{
        agent::{Agent, AgentSettings, LOCAL_AGENT},
        identity::Principal,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

impl Engine {
    /// The server's own agent for a tenant.
    pub async fn local_agent(&self, tenant_id: Uuid) -> CoreResult<Agent> {
        catalog::get_or_create_agent(&self.inner.db, tenant_id, LOCAL_AGENT, &crate::config::hostname()).await
    }

    /// Registers (or finds again) a remote agent of the caller's tenant.
    pub async fn register_agent(&self, caller: &Principal, name: &str, hostname: &str) -> CoreResult<Agent> {
        if name.is_empty() || name.len() > 128 || name == LOCAL_AGENT || name.contains('/') {
            return Err(CoreError::BadRequest(format!("'{name}' cannot name an agent")));
        }
        let mut agent = catalog::get_or_create_agent(&self.inner.db, caller.tenant_id, name, hostname).await?;
        catalog::set_agent_hostname(&self.inner.db, agent.id, hostname).await?;
        if agent.settings.deleted {
            agent.settings.deleted = false;
            catalog::set_agent_settings(&self.inner.db, agent.id, &agent.settings).await?;
        }
        Ok(agent)
    }

    /// The caller's agent `id`, or 404 (also once its user deleted it).
    pub async fn agent_of(&self, caller: &Principal, id: Uuid) -> CoreResult<Agent> {
        catalog::get_agent(&self.inner.db, id)
            .await?
            .filter(|a| caller.can_see_tenant(a.tenant_id) && !a.settings.deleted)
            .ok_or_else(|| CoreError::not_found("agent", id.to_string()))
    }

    /// The caller's agents, without those its users deleted.
    pub async fn list_agents(&self, caller: &Principal) -> CoreResult<Vec<Agent>> {
        Ok(catalog::list_agents(&self.inner.db, caller.tenant_id).await?.into_iter().filter(|a| !a.settings.deleted).collect())
    }

    /// Changes what a client may change about an agent.
    pub async fn update_agent(&self, caller: &Principal, id: Uuid, change: impl FnOnce(&mut AgentSettings)) -> CoreResult<Agent> {
        let mut agent = self.agent_of(caller, id).await?;
        change(&mut agent.settings);
        catalog::set_agent_settings(&self.inner.db, agent.id, &agent.settings).await?;
        Ok(agent)
    }

    /// Removes an agent from its user's view with the plans of the machines it serves; it
    /// appears again (with no plans) when it next registers. Refused while it has work.
    pub async fn delete_agent(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let db = &self.inner.db;
        let agent = self.agent_of(caller, id).await?;
        if agent.is_local() {
            return Err(CoreError::BadRequest("the server's own agent cannot be deleted".into()));
        }
        if !catalog::running_tasks_of_agent(db, agent.id).await?.is_empty() {
            return Err(CoreError::Conflict(format!("agent '{}' is running a task; stop it first", agent.name)));
        }
        for plan in catalog::list_plans(db, agent.tenant_id).await? {
            let served = catalog::nodes_of(db, plan.source_id).await?;
            if !served.is_empty() && served.iter().all(|n| n.agent_id == agent.id) {
                catalog::delete_plan(db, plan.id).await?;
            }
        }
        self.update_agent(caller, id, |s| s.deleted = true).await?;
        Ok(())
    }

    pub(super) async fn agent_named(&self, tenant_id: Uuid, name: &str) -> CoreResult<Agent> {
        if name == LOCAL_AGENT {
            return self.local_agent(tenant_id).await;
        }
        match catalog::agent_by_name(&self.inner.db, tenant_id, name).await? {
            Some(agent) => Ok(agent),
            None => Err(self.no_such_agent(None, tenant_id, name).await?),
        }
    }

    /// Checks that the agents `names` have registered in the caller's tenant before a source is
    /// registered on them; a missing one is reported with the tenants the caller may see where an
    /// agent of that name has registered (a source registered in the wrong tenant is the usual cause).
    pub(super) async fn check_agents_registered(&self, caller: &Principal, names: &[&str]) -> CoreResult<()> {
        for &name in names {
            if name != LOCAL_AGENT && catalog::agent_by_name(&self.inner.db, caller.tenant_id, name).await?.is_none() {
                return Err(self.no_such_agent(Some(caller), caller.tenant_id, name).await?);
            }
        }
        Ok(())
    }

    /// The error for an agent `name` missing from `tenant_id`: it names the tenant looked in and,
    /// for a caller, the other tenants it may see where an agent of that name has registered.
    async fn no_such_agent(&self, caller: Option<&Principal>, tenant_id: Uuid, name: &str) -> CoreResult<CoreError> {
        let db = &self.inner.db;
        let tenants = crate::persistence::identity::list_tenants(db).await?;
        let tenant_name = |id: Uuid| tenants.iter().find(|t| t.id == id).map(|t| t.name.clone()).unwrap_or_else(|| id.to_string());
        let mut elsewhere: Vec<String> = match caller {
            Some(caller) => catalog::agents_named(db, name)
                .await?
                .into_iter()
                .filter(|a| a.tenant_id != tenant_id && !a.settings.deleted && caller.can_see_tenant(a.tenant_id))
                .map(|a| format!("'{}'", tenant_name(a.tenant_id)))
                .collect(),
            None => Vec::new(),
        };
        elsewhere.sort();
        elsewhere.dedup();
        let looked = format!("no agent named '{name}' has registered in tenant '{}'", tenant_name(tenant_id));
        Ok(CoreError::BadRequest(if elsewhere.is_empty() {
            format!("{looked}; start `coffer agent --name {name}` with an API key of that tenant first")
        } else {
            let which = if elsewhere.len() == 1 { "tenant" } else { "tenants" };
            format!(
                "{looked}, but one has in {which} {}: register the source in that tenant (`--tenant` on the command line, or as one of its users)",
                elsewhere.join(", ")
            )
        }))
    }
}
