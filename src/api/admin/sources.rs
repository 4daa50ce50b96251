//! Sources (clusters, instances, HA groups, machines), the overview of their backups, a
//! cluster's point-in-time window, and the agents beside them.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use serde_json::Value;
use uuid::Uuid;

use super::{EngineTag, backups::AdminBackup, models::AdminSourceKind};
use crate::{
    api::common::{security::Caller, strict::StrictJson},
    domain::{
        agent::Agent,
        source::{InstanceConfig, NodeSpec, Source, SourceKind},
    },
    engine::{InstanceSpec, NodeView, SourceOverview, SourceView},
    state::AppState,
};

/// `POST /clusters`: a cluster and its nodes, in ring order.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewCluster", deny_unknown_fields, example)]
pub struct AdminNewCluster {
    pub name: String,
    #[oai(validator(min_items = 1))]
    pub nodes: Vec<AdminNodeSpec>,
}

impl Example for AdminNewCluster {
    fn example() -> Self {
        AdminNewCluster {
            name: "Test_Cluster".into(),
            nodes: vec![AdminNodeSpec {
                name: "node1".into(),
                agent: "local".into(),
                location: "/var/lib/cassandra/data".into(),
                commitlog_dir: Some("/var/lib/cassandra/commitlog_archive".into()),
                datacenter: Some("dc1".into()),
                rack: Some("rack1".into()),
            }],
        }
    }
}

/// One node of a cluster being registered.
#[derive(Debug, Object)]
#[oai(rename = "AdminNodeSpec", deny_unknown_fields)]
pub struct AdminNodeSpec {
    pub name: String,
    /// The agent that reaches the node's files; `local` is the server's own.
    #[oai(default = "crate::domain::source::local_agent")]
    pub agent: String,
    /// The node's data directory.
    pub location: String,
    /// Where the node's closed commitlog segments appear, for point-in-time restores.
    #[oai(nullable)]
    pub commitlog_dir: Option<String>,
    #[oai(nullable)]
    pub datacenter: Option<String>,
    #[oai(nullable)]
    pub rack: Option<String>,
}

impl From<AdminNodeSpec> for NodeSpec {
    fn from(n: AdminNodeSpec) -> Self {
        NodeSpec {
            name: n.name,
            agent: n.agent,
            location: n.location,
            commitlog_dir: n.commitlog_dir,
            datacenter: n.datacenter,
            rack: n.rack,
        }
    }
}

/// `POST /instances`: a database instance.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewInstance", deny_unknown_fields, example)]
pub struct AdminNewInstance {
    pub name: String,
    /// `sqlite`, `postgresql` or `mysql`.
    pub datastore: String,
    #[oai(default)]
    pub datastore_version: String,
    /// A SQLite file path, or a `postgres://` or `mysql://` URL (kept encrypted, never shown).
    pub location: String,
    /// The agent that reaches the database; `local` is the server's own.
    #[oai(default = "crate::domain::source::local_agent")]
    pub agent: String,
    /// A flavor name, shown back by Cloud Databases.
    #[oai(default)]
    pub flavor: String,
    #[oai(default)]
    pub flavor_ram_mb: u32,
    #[oai(default)]
    pub volume_gb: u32,
}

impl Example for AdminNewInstance {
    fn example() -> Self {
        AdminNewInstance {
            name: "orders".into(),
            datastore: "postgresql".into(),
            datastore_version: "16".into(),
            location: "postgres://coffer@127.0.0.1:5432/orders".into(),
            agent: "local".into(),
            flavor: "m1.small".into(),
            flavor_ram_mb: 2048,
            volume_gb: 10,
        }
    }
}

impl From<AdminNewInstance> for InstanceSpec {
    fn from(i: AdminNewInstance) -> Self {
        InstanceSpec {
            name: i.name,
            location: i.location,
            agent: i.agent,
            config: InstanceConfig {
                datastore: i.datastore,
                datastore_version: i.datastore_version,
                flavor: i.flavor,
                flavor_ram_mb: i.flavor_ram_mb,
                volume_gb: i.volume_gb,
                ..Default::default()
            },
        }
    }
}

/// `POST /ha-groups`: instances backed up as one.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewHaGroup", deny_unknown_fields, example)]
pub struct AdminNewHaGroup {
    pub name: String,
    /// The member instances' ids.
    #[oai(validator(min_items = 1))]
    pub members: Vec<Uuid>,
}

impl Example for AdminNewHaGroup {
    fn example() -> Self {
        AdminNewHaGroup { name: "orders-ha".into(), members: vec![Uuid::from_u128(0x7b1f_0c1e_6a4d_4a2b_9e3f_8d2c_1a0b_9f01)] }
    }
}

/// `POST /machines`: an agent's file system under a root directory.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewMachine", deny_unknown_fields, example)]
pub struct AdminNewMachine {
    pub name: String,
    /// The agent that reaches the files; `local` is the server's own.
    #[oai(default = "crate::domain::source::local_agent")]
    pub agent: String,
    /// The directory everything backed up lies under.
    pub root: String,
}

impl Example for AdminNewMachine {
    fn example() -> Self {
        AdminNewMachine { name: "files".into(), agent: "local".into(), root: "/srv/files".into() }
    }
}

/// A source without its nodes.
#[derive(Debug, Object)]
#[oai(rename = "AdminSourceRecord")]
pub struct AdminSourceRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: AdminSourceKind,
    pub name: String,
    /// What the kind keeps: an instance's datastore, flavor and size; an HA group's members...
    pub config: Value,
    pub created_at: DateTime<Utc>,
}

impl From<Source> for AdminSourceRecord {
    fn from(s: Source) -> Self {
        AdminSourceRecord {
            id: s.id,
            tenant_id: s.tenant_id,
            kind: s.kind.into(),
            name: s.name,
            config: s.config,
            created_at: s.created_at,
        }
    }
}

/// A source with its nodes.
#[derive(Debug, Object)]
#[oai(rename = "AdminSource")]
pub struct AdminSource {
    #[oai(flatten)]
    pub source: AdminSourceRecord,
    pub nodes: Vec<AdminNode>,
}

/// A place a source's data lives: a cluster node, an instance's host, a machine.
#[derive(Debug, Object)]
#[oai(rename = "AdminNode")]
pub struct AdminNode {
    pub id: Uuid,
    pub name: String,
    pub agent: String,
    /// The data directory or root; for an instance, its location without any password.
    pub location: String,
    #[oai(nullable)]
    pub datacenter: Option<String>,
    /// Where a cluster node's closed commitlog segments appear, when registered with one.
    #[oai(skip_serializing_if_is_none)]
    pub commitlog_dir: Option<String>,
}

impl From<NodeView> for AdminNode {
    fn from(n: NodeView) -> Self {
        AdminNode { id: n.id, name: n.name, agent: n.agent, location: n.location, datacenter: n.datacenter, commitlog_dir: n.commitlog_dir }
    }
}

impl From<SourceView> for AdminSource {
    fn from(v: SourceView) -> Self {
        AdminSource { source: v.source.into(), nodes: v.nodes.into_iter().map(Into::into).collect() }
    }
}

/// One source at a glance.
#[derive(Debug, Object)]
#[oai(rename = "AdminOverviewRow")]
pub struct AdminOverviewRow {
    pub source: AdminSourceRecord,
    /// The newest backup, in any state.
    #[oai(nullable)]
    pub last_backup: Option<AdminBackup>,
    /// When the newest complete backup completed.
    #[oai(nullable)]
    pub last_complete_at: Option<DateTime<Utc>>,
    /// The earliest next run of the source's enabled plans.
    #[oai(nullable)]
    pub next_run_at: Option<DateTime<Utc>>,
    /// Set when a plan was due (more than ten minutes ago) after the newest complete backup.
    #[oai(nullable)]
    pub overdue: Option<String>,
    /// Set while the cluster's commitlog archiving fails.
    #[oai(nullable)]
    pub archive_problem: Option<String>,
}

impl From<SourceOverview> for AdminOverviewRow {
    fn from(o: SourceOverview) -> Self {
        AdminOverviewRow {
            source: o.source.into(),
            last_backup: o.last_backup.map(Into::into),
            last_complete_at: o.last_complete_at,
            next_run_at: o.next_run_at,
            overdue: o.overdue,
            archive_problem: o.archive_problem,
        }
    }
}

/// The moments a cluster can be restored to from one destination's commitlog archive; both ends
/// are null while no moment can be had yet.
#[derive(Debug, Object)]
#[oai(rename = "AdminPointInTimeWindow")]
pub struct AdminPointInTimeWindow {
    /// Whether the cluster archives its commitlogs now.
    pub archiving: bool,
    /// The destination holding the archive.
    pub destination_id: Uuid,
    #[oai(nullable)]
    pub earliest: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub latest: Option<DateTime<Utc>>,
}

/// An agent and whether it was heard from lately.
#[derive(Debug, Object)]
#[oai(rename = "AdminAgentStatus")]
pub struct AdminAgentStatus {
    /// Heard from within the server's `agent_down_after_secs`.
    pub up: bool,
    pub agent: AdminAgent,
}

/// A worker beside the data.
#[derive(Debug, Object)]
#[oai(rename = "AdminAgent")]
pub struct AdminAgent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub hostname: String,
    #[oai(nullable)]
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub settings: AdminAgentSettings,
}

/// What a client may change about an agent.
#[derive(Debug, Object)]
#[oai(rename = "AdminAgentSettings")]
pub struct AdminAgentSettings {
    /// A disabled agent starts no backups (scheduled runs are recorded as missed).
    pub disabled: bool,
    /// Removed by its user: hidden until the agent registers again.
    pub deleted: bool,
    /// Cloud Backup's backup region, shown back as given.
    #[oai(skip_serializing_if_is_none)]
    pub backup_region: Option<String>,
    /// Cloud Backup's ServiceNet preference, shown back as given.
    pub use_service_net: bool,
}

impl From<Agent> for AdminAgent {
    fn from(a: Agent) -> Self {
        let s = a.settings;
        AdminAgent {
            id: a.id,
            tenant_id: a.tenant_id,
            name: a.name,
            hostname: a.hostname,
            last_seen_at: a.last_seen_at,
            created_at: a.created_at,
            settings: AdminAgentSettings {
                disabled: s.disabled,
                deleted: s.deleted,
                backup_region: s.backup_region,
                use_service_net: s.use_service_net,
            },
        }
    }
}

/// Sources, their overview and agents.
pub struct SourcesApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl SourcesApi {
    /// Registers a cluster and its nodes.
    #[oai(path = "/clusters", method = "post", operation_id = "admin_add_cluster", tag = "EngineTag::Sources")]
    async fn add_cluster(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewCluster>,
    ) -> poem::Result<super::Created<AdminSource>> {
        let body = body.read()?;
        let nodes = body.nodes.into_iter().map(Into::into).collect();
        Ok(super::Created::Created(Json(state.engine.add_cluster(caller.principal(), &body.name, nodes).await?.into())))
    }

    /// Registers a database instance.
    #[oai(path = "/instances", method = "post", operation_id = "admin_add_instance", tag = "EngineTag::Sources")]
    async fn add_instance(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewInstance>,
    ) -> poem::Result<super::Created<AdminSource>> {
        Ok(super::Created::Created(Json(state.engine.add_instance(caller.principal(), body.read()?.into()).await?.into())))
    }

    /// Registers an HA group of instances.
    #[oai(path = "/ha-groups", method = "post", operation_id = "admin_add_ha_group", tag = "EngineTag::Sources")]
    async fn add_ha_group(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewHaGroup>,
    ) -> poem::Result<super::Created<AdminSource>> {
        let body = body.read()?;
        let source = state.engine.add_ha_group(caller.principal(), &body.name, &body.members).await?;
        Ok(super::Created::Created(Json(source.into())))
    }

    /// Registers a machine.
    #[oai(path = "/machines", method = "post", operation_id = "admin_add_machine", tag = "EngineTag::Sources")]
    async fn add_machine(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewMachine>,
    ) -> poem::Result<super::Created<AdminSource>> {
        let body = body.read()?;
        let source = state.engine.add_machine(caller.principal(), &body.name, &body.agent, &body.root).await?;
        Ok(super::Created::Created(Json(source.into())))
    }

    /// Lists sources, optionally of one kind.
    #[oai(path = "/sources", method = "get", operation_id = "admin_list_sources", tag = "EngineTag::Sources")]
    async fn list_sources(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        kind: Query<Option<AdminSourceKind>>,
    ) -> poem::Result<Json<Vec<AdminSource>>> {
        let kind = kind.0.map(|k| match k {
            AdminSourceKind::Cluster => SourceKind::Cluster,
            AdminSourceKind::Instance => SourceKind::Instance,
            AdminSourceKind::HaGroup => SourceKind::HaGroup,
            AdminSourceKind::Machine => SourceKind::Machine,
        });
        Ok(Json(state.engine.list_sources(caller.principal(), kind).await?.into_iter().map(Into::into).collect()))
    }

    /// Every source with its newest backup, its newest complete one, its next planned run and
    /// whether a plan's due run has no complete backup (`overdue` says which).
    #[oai(path = "/overview", method = "get", operation_id = "admin_overview", tag = "EngineTag::Sources")]
    async fn overview(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<AdminOverviewRow>>> {
        Ok(Json(state.engine.overview(caller.principal()).await?.into_iter().map(Into::into).collect()))
    }

    /// One source with its nodes.
    #[oai(path = "/sources/:id", method = "get", operation_id = "admin_get_source", tag = "EngineTag::Sources")]
    async fn get_source(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<AdminSource>> {
        Ok(Json(state.engine.source(caller.principal(), id.0).await?.into()))
    }

    /// The moments a cluster can be restored to from its commitlog archive (`pit_destination_id`
    /// names the archive; the one the cluster archives to by default).
    #[oai(path = "/sources/:id/point-in-time", method = "get", operation_id = "admin_point_in_time_window", tag = "EngineTag::Sources")]
    async fn point_in_time_window(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        pit_destination_id: Query<Option<Uuid>>,
    ) -> poem::Result<Json<AdminPointInTimeWindow>> {
        let window = state.engine.pit_window(caller.principal(), id.0, pit_destination_id.0).await?;
        Ok(Json(AdminPointInTimeWindow {
            archiving: window.archiving,
            destination_id: window.destination_id,
            earliest: window.earliest,
            latest: window.latest,
        }))
    }

    /// Lists the tenant's agents with when they were last heard from.
    #[oai(path = "/agents", method = "get", operation_id = "admin_list_agents", tag = "EngineTag::Agents")]
    async fn list_agents(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<AdminAgentStatus>>> {
        let (now, down_after) = (chrono::Utc::now(), state.settings.agent_down_after_secs);
        let agents = state.engine.list_agents(caller.principal()).await?;
        Ok(Json(agents.into_iter().map(|a| AdminAgentStatus { up: a.is_up(now, down_after), agent: a.into() }).collect()))
    }
}
