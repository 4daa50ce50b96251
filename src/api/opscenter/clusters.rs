//! Clusters: `cluster-configs` (register and read), `/{cluster_id}/nodes` and `/{cluster_id}/keyspaces`.

use std::collections::{BTreeMap, BTreeSet};

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::Value;

use super::{
    cluster,
    models::{
        AgentStatus, AgentsSection, CassandraView, ClusterConfig, ClusterConfigs, CofferSection, Empty, JmxSection, Keyspace, Keyspaces,
        NewCluster, NewId, Node, NodeSpecBody, NodeView, names,
    },
};
use crate::{
    api::common::security::Caller,
    domain::{
        identity::Principal,
        operation::OperationKind,
        source::{NodeSpec, SourceKind},
    },
    engine::SourceView,
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum ClusterTag {
    /// Clusters and their nodes.
    Clusters,
}

pub struct ClustersApi;

#[derive(ApiResponse)]
enum Registered {
    /// The new cluster's id.
    #[oai(status = 201)]
    Created(Json<NewId>),
}

/// A cluster's configuration as OpsCenter shows it, with Coffer's node map in `coffer`.
fn config(view: &SourceView) -> ClusterConfig {
    let hosts: Vec<&str> = view.nodes.iter().map(|n| n.name.as_str()).collect();
    let nodes = view
        .nodes
        .iter()
        .map(|n| NodeView {
            name: n.name.clone(),
            agent: n.agent.clone(),
            location: n.location.clone(),
            datacenter: n.datacenter.clone(),
            commitlog_dir: n.commitlog_dir.clone(),
        })
        .collect();
    ClusterConfig {
        cassandra: CassandraView { seed_hosts: hosts.join(", "), agents: AgentsSection { use_ssl: "false".into() } },
        cassandra_metrics: Empty {},
        jmx: JmxSection { port: 7199 },
        coffer: CofferSection { id: view.source.id.to_string(), nodes },
    }
}

fn node_spec(n: NodeSpecBody) -> NodeSpec {
    NodeSpec {
        name: n.name,
        agent: n.agent.unwrap_or_else(crate::domain::source::local_agent),
        location: n.location,
        commitlog_dir: n.commitlog_dir,
        datacenter: n.datacenter,
        rack: n.rack,
    }
}

/// The nodes a registration names: `nodes: [{name, agent, location, datacenter, rack, commitlog_dir}]` (at the
/// top or under `coffer`), or `cassandra.seed_hosts` with one `data_dir` for all, each host
/// being the name of the agent that serves it.
fn node_specs(body: NewCluster) -> Result<Vec<NodeSpec>, CoreError> {
    if let Some(nodes) = body.nodes.or_else(|| body.coffer.and_then(|c| c.nodes)) {
        return Ok(nodes.into_iter().map(node_spec).collect());
    }
    let cassandra = body.cassandra.unwrap_or_default();
    let hosts = names(cassandra.seed_hosts);
    let data_dir = cassandra.data_dir.or(body.data_dir);
    match (hosts.is_empty(), data_dir) {
        (false, Some(dir)) => Ok(hosts
            .into_iter()
            .map(|h| NodeSpec { agent: h.clone(), name: h, location: dir.clone(), commitlog_dir: None, datacenter: None, rack: None })
            .collect()),
        _ => Err(CoreError::BadRequest(
            "a cluster needs its nodes: \"nodes\": [{\"name\", \"agent\", \"location\"}], or cassandra.seed_hosts (agent names) with cassandra.data_dir"
                .into(),
        )),
    }
}

/// The keyspaces of a cluster when every node's agent answered, else None (unknown).
pub(super) async fn known_keyspaces(
    state: &AppState,
    p: &Principal,
    view: &SourceView,
) -> Result<Option<BTreeMap<String, BTreeSet<String>>>, CoreError> {
    let (found, complete) = inventory(state, p, view).await?;
    Ok(complete.then_some(found))
}

/// Keyspaces and tables: each node's agent lists its data directory (waiting a few seconds at
/// most); the newest completed backup fills in for nodes whose agents do not answer.
async fn keyspaces(state: &AppState, p: &Principal, view: &SourceView) -> Result<BTreeMap<String, BTreeSet<String>>, CoreError> {
    let (mut out, complete) = inventory(state, p, view).await?;
    if !complete && let Some(newest) = state.engine.newest_complete_backup(p, view.source.id, None).await? {
        for part in state.engine.backup_nodes(p, newest.id).await? {
            for name in
                part.detail.get("tables").and_then(Value::as_object).map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
            {
                if let Some((ks, table)) = name.split_once('.') {
                    out.entry(ks.to_owned()).or_default().insert(table.to_owned());
                }
            }
        }
    }
    Ok(out)
}

/// What the nodes' agents report, and whether every node answered.
async fn inventory(state: &AppState, p: &Principal, view: &SourceView) -> Result<(BTreeMap<String, BTreeSet<String>>, bool), CoreError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut answered = 0;
    // A recent inventory answers again, so polling clients do not pile up operations.
    let recent = state.engine.source_operations(p, view.source.id, OperationKind::Inventory, 1).await?.into_iter().next();
    let recent = recent.filter(|op| op.state.is_success() && chrono::Utc::now() - op.created_at < chrono::Duration::seconds(30));
    let inventory = match recent {
        Some(op) => Some(op),
        None => state.engine.start_inventory(p, view.source.id).await.ok(),
    };
    if let Some(op) = inventory {
        for _ in 0..100 {
            if state.engine.operation(p, op.id).await?.state.is_terminal() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        for task in state.engine.tasks(p, op.id).await?.into_iter().filter(|t| t.state.is_success()) {
            answered += 1;
            for (ks, tables) in task.result.get("keyspaces").and_then(Value::as_object).into_iter().flatten() {
                let names = tables.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned);
                out.entry(ks.clone()).or_default().extend(names);
            }
        }
    }
    Ok((out, answered == view.nodes.len()))
}

#[OpenApi(tag = "ClusterTag::Clusters")]
impl ClustersApi {
    /// Every cluster of the caller's tenant: id → configuration.
    #[oai(path = "/cluster-configs", method = "get", operation_id = "opscenter_cluster_configs")]
    async fn list(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<ClusterConfigs>> {
        let views = state.engine.list_sources(caller.principal(), Some(SourceKind::Cluster)).await?;
        Ok(Json(views.iter().map(|v| (v.source.name.clone(), config(v))).collect()))
    }

    /// One cluster's configuration.
    #[oai(path = "/cluster-configs/:cluster_id", method = "get", operation_id = "opscenter_cluster_config")]
    async fn get(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<ClusterConfig>> {
        Ok(Json(config(&cluster(&state, caller.principal(), &cluster_id).await?)))
    }

    /// Registers a cluster: its id (`cluster_name`, `name` or `cassandra.cluster_name`) and nodes
    /// (`nodes: [{name, agent, location, datacenter, rack, commitlog_dir}]`, or `cassandra.seed_hosts`
    /// naming agents with `cassandra.data_dir`); `commitlog_dir` is where closed commitlog segments appear.
    #[oai(path = "/cluster-configs", method = "post", operation_id = "opscenter_add_cluster")]
    async fn add(&self, state: Data<&AppState>, caller: Caller, body: Json<NewCluster>) -> poem::Result<Registered> {
        let mut body = body.0;
        let name = [body.cluster_name.take(), body.name.take(), body.id.take()]
            .into_iter()
            .flatten()
            .next()
            .or_else(|| body.cassandra.as_mut().and_then(|c| c.cluster_name.take()))
            .ok_or_else(|| CoreError::BadRequest("the cluster needs a name: cluster_name".into()))?;
        let view = state.engine.add_cluster(caller.principal(), &name, node_specs(body)?).await?;
        Ok(Registered::Created(Json(NewId(view.source.name))))
    }

    /// The cluster's nodes, their data centres and whether their agents answer.
    #[oai(path = "/:cluster_id/nodes", method = "get", operation_id = "opscenter_nodes")]
    async fn nodes(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Vec<Node>>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let agents = state.engine.list_agents(p).await?;
        let now = chrono::Utc::now();
        let nodes = view
            .nodes
            .iter()
            .map(|n| {
                let up = agents.iter().any(|a| a.name == n.agent && a.is_up(now, state.settings.agent_down_after_secs));
                Node {
                    node_ip: n.name.clone(),
                    node_name: n.name.clone(),
                    dc: n.datacenter.clone().unwrap_or_else(|| "dc1".into()),
                    agent: n.agent.clone(),
                    agent_status: if up { AgentStatus::Up } else { AgentStatus::Down },
                    data_dir: n.location.clone(),
                }
            })
            .collect();
        Ok(Json(nodes))
    }

    /// Keyspaces of the cluster with their tables.
    #[oai(path = "/:cluster_id/keyspaces", method = "get", operation_id = "opscenter_keyspaces")]
    async fn keyspaces(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Keyspaces>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let found = keyspaces(&state, p, &view).await?;
        Ok(Json(found.into_iter().map(|(ks, tables)| (ks, Keyspace { column_families: tables.into_iter().collect() })).collect()))
    }
}
