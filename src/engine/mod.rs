//! The engine: every data-changing request becomes an operation row first, then per-node tasks
//! that agents claim with a lease, report progress on and finish. The engine knows nothing of HTTP
//! or dialects; they all call it through the functions here.

mod archive;
mod destinations;
mod drafts;
mod figures;
mod local;
mod orchestrate;
mod placement;
mod plans;
mod regions;
pub mod stores;

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

pub use crate::agent::worker::SCHEMA_CHANGED;
pub use crate::persistence::catalog::BackupPage;
pub use archive::{ArchiveRequest, MomentUnit, PitAsk, PitPlan, PitWindow, archive_dir, worded};
pub use destinations::DestinationSpec;
pub use figures::{NodeFigures, TableFigures};
pub use orchestrate::{BackupDetails, BackupSpec, RestoreSpec, RestoreTarget};
pub use plans::{PlanSpec, SourceOverview};
pub use regions::RegionCopy;
pub use stores::StoreRegistry;

use crate::{
    config::Settings,
    crypto::SecretBox,
    domain::{
        agent::{Agent, AgentSettings, LOCAL_AGENT},
        identity::{Principal, Role},
        source::{InstanceConfig, Node, NodeSpec, Source, SourceKind},
    },
    error::{CoreError, CoreResult},
    persistence::{Db, catalog},
    sources::database::{DatabaseLocation, DatastoreKind},
};

/// The engine handle; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Arc<Settings>,
    stores: StoreRegistry,
    secrets: SecretBox,
    wake: Notify,
    server_destination: Uuid,
    /// What this server counts for `/metrics` (shared with the HTTP edge).
    metrics: crate::metrics::Metrics,
    /// Lease owner name of this process: `<server name>:<pid>:<random>`.
    owner: String,
    /// Held while a backup or restore checks for conflicting work and records itself, so two
    /// requests arriving together cannot both pass the check (within this process; servers sharing
    /// PostgreSQL also take `catalog::lock_starts`).
    starting: tokio::sync::Mutex<()>,
}

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

/// How to register an instance.
#[derive(Clone, Debug, Deserialize)]
pub struct InstanceSpec {
    pub name: String,
    /// `sqlite`, `postgresql` or `mysql`.
    pub datastore: String,
    #[serde(default)]
    pub datastore_version: String,
    /// A SQLite file path, or a postgres:// / mysql:// URL.
    pub location: String,
    #[serde(default = "crate::domain::source::local_agent")]
    pub agent: String,
    #[serde(default)]
    pub flavor: String,
    #[serde(default)]
    pub flavor_ram_mb: u32,
    #[serde(default)]
    pub volume_gb: u32,
}

fn tenant_scope(p: &Principal) -> Option<Uuid> {
    if p.role == Role::Admin { None } else { Some(p.tenant_id) }
}

impl Engine {
    /// Opens the engine over `db` and prepares the server's own destination.
    pub async fn new(db: Db, settings: Arc<Settings>) -> CoreResult<Self> {
        let secrets = SecretBox::load(settings.secret_key.as_deref(), &settings.data_dir)?;
        let key = settings.store_key.as_deref().map(|k| crate::crypto::derive_key("coffer 2026-11-23 store key", k.as_bytes()));
        let server_destination = catalog::ensure_server_destination(&db).await?.id;
        let server_store = stores::ServerStore::parse(&settings.server_store, &settings.data_dir)?;
        let stores = StoreRegistry::new(db.clone(), server_store, key, secrets.clone(), settings.storage_retries);
        let owner = format!("{}{}:{}", owner_prefix(&settings), std::process::id(), Uuid::new_v4().simple());
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                settings,
                stores,
                secrets,
                wake: Notify::new(),
                server_destination,
                owner,
                metrics: Default::default(),
                starting: Default::default(),
            }),
        })
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// The Prometheus lines read from the database when scraped: operations by kind and state,
    /// and the seconds since each agent was last heard from (by any server).
    pub async fn metrics_from_database(&self) -> CoreResult<String> {
        use std::fmt::Write;
        let mut out = String::new();
        out.push_str("# HELP coffer_operations Operations by kind and state, of every server sharing the database.\n");
        out.push_str("# TYPE coffer_operations gauge\n");
        for (kind, state, n) in catalog::operation_counts(&self.inner.db).await? {
            let (kind, state) = (crate::metrics::escape(&kind), crate::metrics::escape(&state));
            let _ = writeln!(out, "coffer_operations{{kind=\"{kind}\",state=\"{state}\"}} {n}");
        }
        out.push_str("# HELP coffer_agent_last_heartbeat_age_seconds Seconds since an agent last claimed work or reported progress.\n");
        out.push_str("# TYPE coffer_agent_last_heartbeat_age_seconds gauge\n");
        let now = Utc::now();
        for agent in catalog::all_agents(&self.inner.db).await? {
            let Some(seen) = agent.last_seen_at else { continue };
            let age = (now - seen).num_milliseconds().max(0) as f64 / 1000.0;
            let name = crate::metrics::escape(&agent.name);
            let _ = writeln!(out, "coffer_agent_last_heartbeat_age_seconds{{agent=\"{name}\",agent_id=\"{}\"}} {age}", agent.id);
        }
        Ok(out)
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn stores(&self) -> &StoreRegistry {
        &self.inner.stores
    }

    pub fn server_destination(&self) -> Uuid {
        self.inner.server_destination
    }

    /// Starts the in-process agent and the lease reaper; recovers what a crash left running.
    pub async fn start(&self, shutdown: tokio_util::sync::CancellationToken) -> CoreResult<()> {
        self.recover().await?;
        local::spawn(self.clone(), shutdown);
        Ok(())
    }

    fn wake_local(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Has the server's own agent look for work at once (remote agents poll on their own).
    pub fn wake_agents(&self) {
        self.wake_local();
    }

    // ---- agents ----

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

    async fn agent_named(&self, tenant_id: Uuid, name: &str) -> CoreResult<Agent> {
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
    async fn check_agents_registered(&self, caller: &Principal, names: &[&str]) -> CoreResult<()> {
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

    // ---- sources ----

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

    async fn create_source(
        &self,
        tenant_id: Uuid,
        kind: SourceKind,
        name: &str,
        config: serde_json::Value,
        specs: Vec<NodeSpec>,
        seal: bool,
    ) -> CoreResult<SourceView> {
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
                location: if seal { self.inner.secrets.seal(&spec.location) } else { spec.location },
                commitlog_dir: spec.commitlog_dir,
                datacenter: spec.datacenter,
                rack: spec.rack,
                position: i as i32,
            });
        }
        catalog::create_source(&self.inner.db, &source, &nodes).await?;
        catalog::add_event(
            &self.inner.db,
            tenant_id,
            "source.created",
            &format!("{kind} '{name}' registered with {} node(s)", nodes.len()),
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
        self.create_source(caller.tenant_id, SourceKind::Cluster, name, config, nodes, false).await
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
        self.create_source(caller.tenant_id, SourceKind::Machine, name, serde_json::json!({ "root": root }), vec![node], false).await
    }

    /// Registers a database instance; its location is sealed at rest.
    pub async fn add_instance(&self, caller: &Principal, spec: InstanceSpec) -> CoreResult<SourceView> {
        let kind: DatastoreKind =
            spec.datastore.parse().map_err(|e: crate::sources::database::DatabaseError| CoreError::BadRequest(e.to_string()))?;
        DatabaseLocation::new(kind, spec.location.clone()).database_name().map_err(|e| CoreError::BadRequest(e.to_string()))?;
        if kind == DatastoreKind::Sqlite {
            self.check_local_path(caller, &spec.agent, &spec.location)?;
        }
        self.check_agents_registered(caller, &[spec.agent.as_str()]).await?;
        let config = InstanceConfig {
            datastore: kind.as_str().to_owned(),
            datastore_version: spec.datastore_version,
            flavor: spec.flavor,
            flavor_ram_mb: spec.flavor_ram_mb,
            volume_gb: spec.volume_gb,
            restored_from: None,
            managed: false,
        };
        let node = NodeSpec {
            name: spec.name.clone(),
            agent: spec.agent,
            location: spec.location,
            commitlog_dir: None,
            datacenter: None,
            rack: None,
        };
        self.create_source(
            caller.tenant_id,
            SourceKind::Instance,
            &spec.name,
            serde_json::to_value(config).expect("config"),
            vec![node],
            true,
        )
        .await
    }

    /// Creates a NEW, empty database on the server configured for `datastore` (a file under the
    /// data directory for SQLite) and registers it as an instance.
    pub async fn create_empty_instance(
        &self,
        caller: &Principal,
        name: &str,
        datastore: Option<&str>,
        mut config: InstanceConfig,
    ) -> CoreResult<SourceView> {
        let wanted = datastore.unwrap_or(&self.inner.settings.default_datastore);
        let kind: DatastoreKind =
            wanted.parse().map_err(|e: crate::sources::database::DatabaseError| CoreError::BadRequest(e.to_string()))?;
        let db_name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
        let db_name = format!("coffer_{db_name}_{}", &Uuid::new_v4().simple().to_string()[..8]);
        let location = match kind {
            DatastoreKind::Sqlite => {
                let path =
                    self.inner.settings.data_dir.join("instances").join(caller.tenant_id.to_string()).join(format!("{db_name}.sqlite"));
                DatabaseLocation::new(kind, std::path::absolute(path).map_err(CoreError::internal)?.display().to_string())
            }
            _ => {
                let server = self.inner.settings.datastores.get(kind.as_str()).ok_or_else(|| CoreError::NotFound {
                    what: "datastore with a server for new instances (datastores.<kind>)",
                    id: kind.to_string(),
                })?;
                DatabaseLocation::new(kind, server.clone())
                    .with_database_name(&db_name)
                    .map_err(|e| CoreError::BadRequest(e.to_string()))?
            }
        };
        crate::sources::database::create_empty(&location).await.map_err(|e| CoreError::Unavailable(e.to_string()))?;
        config.datastore = kind.as_str().to_owned();
        config.managed = true;
        let node = NodeSpec {
            name: name.to_owned(),
            agent: LOCAL_AGENT.into(),
            location: location.location.clone(),
            commitlog_dir: None,
            datacenter: None,
            rack: None,
        };
        match self
            .create_source(caller.tenant_id, SourceKind::Instance, name, serde_json::to_value(&config).expect("config"), vec![node], true)
            .await
        {
            Ok(view) => Ok(view),
            Err(e) => {
                let _ = crate::sources::database::drop_database(&location).await;
                Err(e)
            }
        }
    }

    /// Where a restore into a new instance creates the database `db_name`: for SQLite written by
    /// the server's own agent, a file under `<data_dir>/instances/<tenant>/` like every instance
    /// the service creates; for SQLite on a remote agent (whose disk the server does not know), a
    /// file beside the original; otherwise a new database on the original's server.
    pub(crate) fn new_instance_location(
        &self,
        tenant_id: Uuid,
        original: &DatabaseLocation,
        agent: &str,
        db_name: &str,
    ) -> CoreResult<DatabaseLocation> {
        if original.kind == DatastoreKind::Sqlite && agent == LOCAL_AGENT {
            let path = self.inner.settings.data_dir.join("instances").join(tenant_id.to_string()).join(format!("{db_name}.sqlite"));
            let path = std::path::absolute(path).map_err(CoreError::internal)?;
            return Ok(DatabaseLocation::new(original.kind, path.display().to_string()));
        }
        original.with_database_name(db_name).map_err(|e| CoreError::BadRequest(e.to_string()))
    }

    /// Deletes an instance; a database Coffer created is dropped, a registered one is left alone.
    /// Its backups stay.
    pub async fn delete_instance(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let view = self.source(caller, id).await?;
        if view.source.kind != SourceKind::Instance {
            return Err(CoreError::not_found("instance", id.to_string()));
        }
        // While it is backed up, an instance cannot be deleted (Cloud Databases' rule).
        if catalog::has_backup_in_progress(&self.inner.db, id).await? {
            return Err(CoreError::Unprocessable(format!(
                "instance '{}' is being backed up; delete it once the backup ends",
                view.source.name
            )));
        }
        let config: InstanceConfig = serde_json::from_value(view.source.config.clone()).unwrap_or_default();
        catalog::mark_source_deleted(&self.inner.db, id).await?;
        if config.managed
            && let (Ok(kind), Some(node)) =
                (config.datastore.parse::<DatastoreKind>(), catalog::nodes_of(&self.inner.db, id).await?.into_iter().next())
        {
            let location = DatabaseLocation::new(kind, self.inner.secrets.open(&node.location)?);
            if let Err(e) = crate::sources::database::drop_database(&location).await {
                tracing::warn!(instance = %id, error = %e, "could not drop the database of a deleted instance");
            }
        }
        catalog::add_event(
            &self.inner.db,
            view.source.tenant_id,
            "source.deleted",
            &format!("instance '{}' deleted", view.source.name),
            None,
            None,
            Some(id),
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
        if let Some(op) = view.source.config.get("restore_operation").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok())
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
        self.create_source(caller.tenant_id, SourceKind::HaGroup, name, config, specs, true).await
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

    pub async fn events(&self, caller: &Principal, limit: u64) -> CoreResult<Vec<crate::domain::operation::Event>> {
        catalog::list_events(&self.inner.db, Some(caller.tenant_id), limit).await
    }

    /// Records a request that was carried out at once (a destination added, say) under a new
    /// request id, so clients that poll every request id find it done.
    pub async fn record_request(&self, caller: &Principal, kind: &str, message: &str, source_id: Option<Uuid>) -> CoreResult<Uuid> {
        let id = Uuid::new_v4();
        catalog::add_event(&self.inner.db, caller.tenant_id, kind, message, Some(id), None, source_id).await?;
        Ok(id)
    }

    /// The record of a request carried out at once, by its request id.
    pub async fn recorded_request(&self, caller: &Principal, id: Uuid) -> CoreResult<Option<crate::domain::operation::Event>> {
        Ok(catalog::list_events(&self.inner.db, Some(caller.tenant_id), 10_000).await?.into_iter().find(|e| e.operation_id == Some(id)))
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

/// What every lease owner name of this server (this run and earlier ones) starts with.
fn owner_prefix(settings: &Settings) -> String {
    format!("{}:", settings.server_name())
}
