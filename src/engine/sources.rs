//! Sources: registering clusters, machines and HA groups, reading them back with their nodes,
//! and unregistering clusters. Database instances have their own file (`instances.rs`).

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::{Engine, stored::restore_operation, tenant_scope};
use crate::{
    domain::{
        agent::{Agent, LOCAL_AGENT},
        identity::Principal,
        source::{Node, NodeSpec, Source, SourceKind},
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

/// A registered source with its nodes (locations of instances are never shown).
#[derive(Clone, Debug, Serialize)]
pub struct SourceView {
    #[serde(flatten)]
    pub source: Source,
    pub nodes: Vec<NodeView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    pub id: Uuid,
    pub name: String,
    pub agent: String,
    /// Data directory or root; for instances, the location without any password.
    pub location: String,
    pub datacenter: Option<String>,
    /// Where a cluster node's closed commitlog segments appear, when registered with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commitlog_dir: Option<String>,
}

/// How a source's node locations are kept: database locations hold connection strings
/// (passwords), so they are sealed at rest and shown redacted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NodeLocations {
    Plain,
    Sealed,
}

/// A source and its nodes checked and ready to be written ([`Engine::plan_source`]).
pub(super) struct NewSource {
    pub source: Source,
    pub nodes: Vec<Node>,
    /// The agents of its nodes (for the view of it).
    agents: Vec<Agent>,
}

impl Engine {
    fn view(&self, source: Source, nodes: Vec<Node>, agents: &[Agent]) -> SourceView {
        let nodes = nodes
            .into_iter()
            .map(|n| {
                let location = if source.kind == SourceKind::Instance || source.kind == SourceKind::HaGroup {
                    self.inner.secrets.open(&n.location).map(|l| crate::config::redact_url(&l)).unwrap_or_else(|_| "<sealed>".into())
                } else {
                    n.location.clone()
                };
                NodeView {
                    id: n.id,
                    name: n.name,
                    agent: agents.iter().find(|a| a.id == n.agent_id).map(|a| a.name.clone()).unwrap_or_else(|| n.agent_id.to_string()),
                    location,
                    datacenter: n.datacenter,
                    commitlog_dir: n.commitlog_dir,
                }
            })
            .collect();
        SourceView { source, nodes }
    }

    /// Checks and registers a source with its nodes, at once.
    pub(super) async fn create_source(
        &self,
        tenant_id: Uuid,
        kind: SourceKind,
        name: &str,
        config: serde_json::Value,
        specs: Vec<NodeSpec>,
        locations: NodeLocations,
    ) -> CoreResult<SourceView> {
        let planned = self.plan_source(tenant_id, kind, name, config, specs, locations).await?;
        self.save_source(planned).await
    }

    /// A source as it will be registered, checked (its name free, its agents known) but not
    /// written: a restore records its operation before the source it creates.
    pub(super) async fn plan_source(
        &self,
        tenant_id: Uuid,
        kind: SourceKind,
        name: &str,
        config: serde_json::Value,
        specs: Vec<NodeSpec>,
        locations: NodeLocations,
    ) -> CoreResult<NewSource> {
        crate::domain::check_name("a name", name).map_err(CoreError::BadRequest)?;
        if catalog::find_source_by_name(&self.inner.db, tenant_id, kind, name).await?.is_some() {
            return Err(CoreError::Conflict(format!("{} named '{name}' already exists", with_article(kind_word(kind)))));
        }
        let source = Source { id: Uuid::new_v4(), tenant_id, kind, name: name.to_owned(), config, created_at: Utc::now() };
        let mut nodes = Vec::new();
        let mut agents = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            let agent = self.agent_named(tenant_id, &spec.agent).await?;
            if !agents.iter().any(|a: &Agent| a.id == agent.id) {
                agents.push(agent.clone());
            }
            nodes.push(Node {
                id: Uuid::new_v4(),
                source_id: source.id,
                name: spec.name,
                agent_id: agent.id,
                location: match locations {
                    NodeLocations::Sealed => self.inner.secrets.seal(&spec.location),
                    NodeLocations::Plain => spec.location,
                },
                commitlog_dir: spec.commitlog_dir,
                datacenter: spec.datacenter,
                rack: spec.rack,
                position: i as i32,
            });
        }
        Ok(NewSource { source, nodes, agents })
    }

    /// Writes a planned source and its nodes, and says so in the event log.
    pub(super) async fn save_source(&self, planned: NewSource) -> CoreResult<SourceView> {
        let NewSource { source, nodes, agents } = planned;
        catalog::create_source(&self.inner.db, &source, &nodes).await?;
        catalog::add_event(
            &self.inner.db,
            source.tenant_id,
            "source.created",
            &format!("{} '{}' registered with {} node(s)", source.kind, source.name, nodes.len()),
            None,
            None,
            Some(source.id),
        )
        .await?;
        Ok(self.view(source, nodes, &agents))
    }

    /// Data the server's own agent touches must lie under `local_roots` unless an admin asks:
    /// otherwise any user could read or overwrite the server's files through it.
    pub(crate) fn check_local_path(&self, caller: &Principal, agent: &str, path: &str) -> CoreResult<()> {
        if agent != LOCAL_AGENT || caller.role == crate::domain::identity::Role::Admin {
            return Ok(());
        }
        let p = std::path::Path::new(path);
        let plain = p.is_absolute() && p.components().all(|c| !matches!(c, std::path::Component::ParentDir));
        if plain && self.inner.settings.local_roots.iter().any(|root| p.starts_with(root)) {
            return Ok(());
        }
        Err(CoreError::Forbidden(format!(
            "'{path}' is on the server itself and outside the directories users may use there (local_roots); run `coffer agent` beside the data, or ask an admin"
        )))
    }

    /// Registers a cluster: each node is a data directory reached by an agent.
    pub async fn add_cluster(&self, caller: &Principal, name: &str, nodes: Vec<NodeSpec>) -> CoreResult<SourceView> {
        if nodes.is_empty() {
            return Err(CoreError::BadRequest("a cluster needs at least one node".into()));
        }
        for node in &nodes {
            self.check_local_path(caller, &node.agent, &node.location)?;
        }
        let agents: Vec<&str> = nodes.iter().map(|n| n.agent.as_str()).collect();
        self.check_agents_registered(caller, &agents).await?;
        let dcs: Vec<String> = nodes.iter().map(|n| n.datacenter.clone().unwrap_or_else(|| "dc1".into())).collect();
        let config = serde_json::json!({ "datacenters": dcs.iter().collect::<std::collections::BTreeSet<_>>() });
        self.create_source(caller.tenant_id, SourceKind::Cluster, name, config, nodes, NodeLocations::Plain).await
    }

    /// Registers a machine: an agent's file system under a root directory.
    pub async fn add_machine(&self, caller: &Principal, name: &str, agent: &str, root: &str) -> CoreResult<SourceView> {
        self.check_local_path(caller, agent, root)?;
        self.check_agents_registered(caller, &[agent]).await?;
        let node = NodeSpec {
            name: name.to_owned(),
            agent: agent.to_owned(),
            location: root.to_owned(),
            commitlog_dir: None,
            datacenter: None,
            rack: None,
        };
        self.create_source(
            caller.tenant_id,
            SourceKind::Machine,
            name,
            serde_json::json!({ "root": root }),
            vec![node],
            NodeLocations::Plain,
        )
        .await
    }

    /// Unregisters a cluster (its nodes' data and its backups stay). Refused while an operation
    /// on it runs.
    pub async fn delete_cluster(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let view = self.source(caller, id).await?;
        if view.source.kind != SourceKind::Cluster {
            return Err(CoreError::not_found("cluster", id.to_string()));
        }
        use crate::domain::operation::OperationKind;
        for kind in [OperationKind::Backup, OperationKind::Restore, OperationKind::Copy, OperationKind::Delete] {
            if catalog::has_operation_in_progress(&self.inner.db, id, kind).await? {
                return Err(CoreError::Conflict(format!("a {kind} of cluster '{}' is running; try again when it ends", view.source.name)));
            }
        }
        if let Some(op) = restore_operation(&view.source)?
            && catalog::get_operation(&self.inner.db, Some(view.source.tenant_id), op).await?.is_some_and(|o| !o.state.is_terminal())
        {
            return Err(CoreError::Conflict(format!("cluster '{}' is still being restored", view.source.name)));
        }
        catalog::mark_source_deleted(&self.inner.db, id).await?;
        catalog::add_event(
            &self.inner.db,
            view.source.tenant_id,
            "source.deleted",
            &format!("cluster '{}' deleted", view.source.name),
            None,
            None,
            Some(id),
        )
        .await
    }

    /// Registers an HA group of existing instances of the caller's tenant.
    pub async fn add_ha_group(&self, caller: &Principal, name: &str, members: &[Uuid]) -> CoreResult<SourceView> {
        if members.is_empty() {
            return Err(CoreError::BadRequest("an HA group needs at least one instance".into()));
        }
        let mut specs = Vec::new();
        for id in members {
            let member = self.source(caller, *id).await?;
            if member.source.kind != SourceKind::Instance {
                return Err(CoreError::BadRequest(format!("{id} is not an instance")));
            }
            let node = catalog::nodes_of(&self.inner.db, member.source.id)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| CoreError::internal(anyhow::anyhow!("instance without node")))?;
            let agent = catalog::get_agent(&self.inner.db, node.agent_id).await?.map(|a| a.name).unwrap_or_else(|| LOCAL_AGENT.into());
            specs.push(NodeSpec {
                name: member.source.name.clone(),
                agent,
                location: self.inner.secrets.open(&node.location)?,
                commitlog_dir: None,
                datacenter: None,
                rack: None,
            });
        }
        let first = self.source_row(caller, members[0]).await?.config;
        let mut config = first;
        config["members"] = serde_json::json!(members);
        self.create_source(caller.tenant_id, SourceKind::HaGroup, name, config, specs, NodeLocations::Sealed).await
    }

    /// A source of the caller's tenant, or 404.
    pub async fn source(&self, caller: &Principal, id: Uuid) -> CoreResult<SourceView> {
        let source = self.source_row(caller, id).await?;
        self.with_nodes(source).await
    }

    /// The source alone, without its nodes: what a check that the caller may use it needs.
    pub(crate) async fn source_row(&self, caller: &Principal, id: Uuid) -> CoreResult<Source> {
        catalog::get_source(&self.inner.db, tenant_scope(caller), id).await?.ok_or_else(|| CoreError::not_found("source", id.to_string()))
    }

    pub async fn source_by_name(&self, caller: &Principal, kind: SourceKind, name: &str) -> CoreResult<SourceView> {
        let found = self.source_row_by_name(caller, kind, name).await?;
        self.with_nodes(found).await
    }

    /// The caller's source of `kind` named `name`, without its nodes.
    pub(crate) async fn source_row_by_name(&self, caller: &Principal, kind: SourceKind, name: &str) -> CoreResult<Source> {
        catalog::find_source_by_name(&self.inner.db, caller.tenant_id, kind, name)
            .await?
            .ok_or_else(|| CoreError::not_found(kind_word(kind), name))
    }

    /// A source as shown: with its nodes and whether their agents are up.
    pub(crate) async fn with_nodes(&self, source: Source) -> CoreResult<SourceView> {
        let nodes = catalog::nodes_of(&self.inner.db, source.id).await?;
        let agents = catalog::list_agents(&self.inner.db, source.tenant_id).await?;
        Ok(self.view(source, nodes, &agents))
    }

    pub async fn list_sources(&self, caller: &Principal, kind: Option<SourceKind>) -> CoreResult<Vec<SourceView>> {
        let sources = catalog::list_sources(&self.inner.db, Some(caller.tenant_id), kind).await?;
        let agents = catalog::list_agents(&self.inner.db, caller.tenant_id).await?;
        let mut out = Vec::new();
        for s in sources {
            let nodes = catalog::nodes_of(&self.inner.db, s.id).await?;
            out.push(self.view(s, nodes, &agents));
        }
        Ok(out)
    }
}

fn with_article(word: &str) -> String {
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {word}")
}

fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Cluster => "cluster",
        SourceKind::Instance => "instance",
        SourceKind::HaGroup => "ha group",
        SourceKind::Machine => "machine",
    }
}
