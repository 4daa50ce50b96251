//! Restores: a complete backup written back to the nodes it came from, to a new cluster, to a
//! directory on an agent, or into a new database instance.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Engine,
    archive::replay_task,
    instances::new_database_name,
    lifecycle::{new_operation, new_task},
    sources::{NewSource, NodeLocations},
    stored::{OperationTotals, RestoreParams, config_object, instance_config},
};
use crate::{
    domain::{
        backup::{Backup, BackupNode, Selection},
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskSpec},
        source::{Node, NodeSpec, Source, SourceKind},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
    sources::database::{DatabaseLocation, DatastoreKind},
};

/// Where a restore writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RestoreTarget {
    /// The nodes the backup came from (clusters: table files back in place; machines: the root).
    SameNodes {
        #[serde(default)]
        truncate: bool,
        /// With `truncate`, empty only these keyspaces or tables (all restored ones when absent).
        #[serde(default)]
        truncate_only: Option<Selection>,
        /// Keyspaces restored under another name (clusters): backup keyspace → target keyspace.
        #[serde(default)]
        keyspace_renames: std::collections::BTreeMap<String, String>,
        /// Clusters: fail, before writing, on a node where a restored table was made again since
        /// the backup (its live directory has another table id).
        #[serde(default)]
        check_schema: bool,
    },
    /// A new cluster of the same topology, one data directory per node in order.
    NewCluster {
        name: String,
        locations: Vec<String>,
        /// Create every table's directory, even of tables the selection leaves out (their data is not restored).
        #[serde(default)]
        all_tables: bool,
        /// What the asking dialect records on the new cluster (networks, the moment restored),
        /// added to its config; set by dialects only, never read from a request.
        #[serde(skip)]
        settings: serde_json::Map<String, Value>,
    },
    /// A directory on an agent (the backup's own agent when not named).
    Path {
        path: String,
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        overwrite: bool,
    },
    /// A new database instance loaded from the dump; the original is untouched.
    NewInstance {
        name: String,
        #[serde(default)]
        flavor: Option<String>,
        #[serde(default)]
        flavor_ram_mb: Option<u32>,
        #[serde(default)]
        volume_gb: Option<u32>,
    },
}

/// What a restore request asks for.
#[derive(Clone, Debug, Deserialize)]
pub struct RestoreSpec {
    pub backup_id: Uuid,
    pub target: RestoreTarget,
    #[serde(default)]
    pub selection: Selection,
    #[serde(default)]
    pub options: OperationOptions,
    /// Read from this destination (the backup's own or one holding a copy).
    #[serde(default)]
    pub destination_id: Option<Uuid>,
    /// Also place the archived commitlogs that bring each node to a moment (clusters).
    #[serde(skip)]
    pub point_in_time: Option<super::PitPlan>,
}

/// A checked restore request: what every target's tasks are built from.
struct Restoring<'a> {
    caller: &'a Principal,
    spec: &'a RestoreSpec,
    backup: Backup,
    source: Source,
    /// The backup's complete node parts that are restored (excluded nodes left out).
    parts: Vec<BackupNode>,
    /// The source's nodes as they are now.
    original_nodes: Vec<Node>,
    /// What a point in time replays: the restored tables only (every table when empty).
    replayed: Vec<String>,
}

impl Restoring<'_> {
    /// The node a part was backed up from, when it still exists.
    fn node_of(&self, part: &BackupNode) -> Option<Node> {
        self.original_nodes.iter().find(|n| n.id == part.node_id).cloned()
    }

    fn snapshot(&self) -> String {
        self.backup.id.to_string()
    }

    /// A cluster node's restore task, and the one placing its commitlogs for a point in time.
    fn cluster_node_tasks(&self, op: &Operation, part: &BackupNode, node: &Node, restore: TaskSpec) -> Vec<Task> {
        let mut tasks = vec![new_task(op, Some(node), node.agent_id, restore)];
        if let Some(plan) = &self.spec.point_in_time {
            tasks.push(new_task(op, Some(node), node.agent_id, replay_task(plan, part.node_id, &node.location, &self.replayed)));
        }
        tasks
    }
}

/// A restore's tasks, and the source it writes into when it creates one (written after the
/// operation: a crash in between leaves an operation that ends, never a source without one).
struct Planned {
    tasks: Vec<Task>,
    new_source: Option<NewSource>,
}

impl Engine {
    /// Starts a restore of a completed backup: the operation row with its tasks first, then the
    /// new cluster or instance it creates, if any.
    pub async fn start_restore(&self, caller: &Principal, spec: RestoreSpec) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let _starting = self.inner.starting.lock().await;
        let _everywhere = catalog::lock_starts(db).await?;
        let restoring = self.check_restore(caller, &spec).await?;
        let params = RestoreParams {
            target: spec.target.clone(),
            selection: (!spec.selection.is_everything()).then(|| spec.selection.clone()),
            destination_id: spec.destination_id,
        };
        let (backup, source) = (&restoring.backup, &restoring.source);
        let mut op =
            new_operation(backup.tenant_id, OperationKind::Restore, caller, Some(source.id), Some(backup.id), spec.options.clone(), params);
        let planned = match &spec.target {
            RestoreTarget::SameNodes { .. } => self.restore_to_same_nodes(&restoring, &op)?,
            RestoreTarget::NewCluster { name, locations, all_tables, settings } => {
                self.restore_to_new_cluster(&restoring, &op, name, locations, *all_tables, settings).await?
            }
            RestoreTarget::Path { path, agent, overwrite } => {
                self.restore_to_path(&restoring, &op, path, agent.as_deref(), *overwrite).await?
            }
            RestoreTarget::NewInstance { name, flavor, flavor_ram_mb, volume_gb } => {
                self.restore_to_new_instance(&restoring, &op, name, flavor.as_deref(), *flavor_ram_mb, *volume_gb).await?
            }
        };
        if planned.tasks.is_empty() {
            return Err(CoreError::Unprocessable("the backup holds no node data to restore".into()));
        }
        if let Some(new) = &planned.new_source {
            op.result = OperationTotals::created(&new.source).to_json();
        }
        catalog::insert_operation(db, &op, &planned.tasks, None).await?;
        if let Some(new) = planned.new_source
            && let Err(e) = self.save_source(new).await
        {
            let why = match &e {
                CoreError::Internal(_) => {
                    tracing::error!(operation = %op.id, error = format!("{e:#}"), "the new source of a restore could not be recorded");
                    "the new source could not be recorded (the server's log says why)".to_owned()
                }
                shown => format!("the new source could not be recorded: {shown}"),
            };
            self.fail_before_start(&op, &why).await;
            return Err(e);
        }
        catalog::add_event(
            db,
            backup.tenant_id,
            "restore.started",
            &format!("restore of backup '{}' started", backup.name),
            Some(op.id),
            Some(backup.id),
            Some(source.id),
        )
        .await?;
        self.wake_local();
        Ok(op)
    }

    /// Checks a restore request against the backup and its source, whatever the target: a
    /// complete backup, no conflicting work in place, a selection and excluded nodes the backup
    /// has, a destination that holds it and serves the restored nodes.
    async fn check_restore<'a>(&self, caller: &'a Principal, spec: &'a RestoreSpec) -> CoreResult<Restoring<'a>> {
        let db = &self.inner.db;
        let backup = self.backup(caller, spec.backup_id).await?;
        if let Some(plan) = &spec.point_in_time {
            if let RestoreTarget::SameNodes { keyspace_renames, .. } = &spec.target
                && !keyspace_renames.is_empty()
            {
                return Err(CoreError::BadRequest(
                    "a point-in-time restore replays commitlogs into the keyspaces they were written for; it cannot rename keyspaces"
                        .into(),
                ));
            }
            if plan.backup.id != backup.id {
                return Err(CoreError::BadRequest("a point-in-time restore starts from its plan's snapshot".into()));
            }
            if !matches!(spec.target, RestoreTarget::SameNodes { .. } | RestoreTarget::NewCluster { .. }) {
                return Err(CoreError::BadRequest("a point in time applies to cluster restores".into()));
            }
        }
        if !backup.state.is_success() {
            return Err(CoreError::Unprocessable(format!(
                "backup {} is {}, not complete; only complete backups can be restored",
                backup.id, backup.state
            )));
        }
        let source = catalog::get_source(db, Some(backup.tenant_id), backup.source_id)
            .await?
            .ok_or_else(|| CoreError::not_found("source", backup.source_id.to_string()))?;
        if let RestoreTarget::SameNodes { keyspace_renames, .. } = &spec.target {
            let locations: Vec<String> = catalog::nodes_of(db, source.id).await?.into_iter().map(|n| n.location).collect();
            if catalog::has_restore_in_place_in_progress(db, source.id, &locations).await? {
                return Err(CoreError::Unprocessable(format!("a restore into {} '{}' is already in progress", source.kind, source.name)));
            }
            if catalog::has_backup_in_progress(db, source.id).await? {
                return Err(CoreError::Unprocessable(format!(
                    "a backup of {} '{}' is in progress; restore once it ends",
                    source.kind, source.name
                )));
            }
            if !keyspace_renames.is_empty() && source.kind != SourceKind::Cluster {
                return Err(CoreError::BadRequest("keyspace renames apply to clusters only".into()));
            }
            let valid = |k: &str| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if let Some((from, to)) = keyspace_renames.iter().find(|(f, t)| !valid(f) || !valid(t)) {
                return Err(CoreError::BadRequest(format!(
                    "cannot restore keyspace '{from}' as '{to}': keyspace names are letters, digits, _ and -"
                )));
            }
        }
        let mut parts: Vec<BackupNode> =
            catalog::backup_nodes_of(db, backup.id).await?.into_iter().filter(|n| n.state.is_success()).collect();
        let held: std::collections::BTreeSet<String> = parts
            .iter()
            .flat_map(|p| p.detail.get("tables").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k.clone()))
            .collect();
        let replayed: Vec<String> = match spec.selection.is_everything() {
            true => Vec::new(),
            false => held.iter().filter(|t| crate::sources::cluster::selected_dotted(&spec.selection, t)).cloned().collect(),
        };
        if source.kind == SourceKind::Cluster {
            let has_keyspace = |ks: &str| held.iter().any(|t| t.split_once('.').is_some_and(|(k, _)| k == ks));
            if let Some(missing) = spec.selection.keyspaces.iter().find(|ks| !has_keyspace(ks)) {
                return Err(CoreError::BadRequest(format!("the backup holds no keyspace '{missing}'")));
            }
            if let Some(missing) = spec.selection.tables.iter().find(|t| !held.contains(*t)) {
                return Err(CoreError::BadRequest(format!("the backup holds no table '{missing}'")));
            }
        }
        let original_nodes = catalog::nodes_of(db, source.id).await?;
        if !spec.options.excluded_nodes.is_empty() {
            if !matches!(spec.target, RestoreTarget::SameNodes { .. }) {
                return Err(CoreError::BadRequest("excluded nodes apply only to a restore onto the same nodes".into()));
            }
            if let Some(unknown) = spec.options.excluded_nodes.iter().find(|x| !original_nodes.iter().any(|n| &&n.name == x)) {
                return Err(CoreError::BadRequest(format!("excluded node '{unknown}' is not a node of '{}'", source.name)));
            }
            parts.retain(|p| !spec.options.excluded_nodes.contains(&p.node_name));
            if parts.is_empty() {
                return Err(CoreError::BadRequest("every node is excluded; nothing to restore".into()));
            }
        }
        let restored: Vec<Node> = original_nodes.iter().filter(|n| parts.iter().any(|p| p.node_id == n.id)).cloned().collect();
        self.check_restored_nodes(spec.destination_id.unwrap_or(backup.destination_id), &restored).await?;
        if let Some(from) = spec.destination_id {
            let copies = catalog::backup_copies_of(db, backup.id).await?;
            if from != backup.destination_id && !copies.contains(&from) {
                return Err(CoreError::BadRequest(format!("destination {from} holds no copy of backup {}", backup.id)));
            }
        }
        Ok(Restoring { caller, spec, backup, source, parts, original_nodes, replayed })
    }

    /// Back onto the nodes the backup came from: a cluster's table files into each node's data
    /// directory, a machine's files under its root.
    fn restore_to_same_nodes(&self, r: &Restoring, op: &Operation) -> CoreResult<Planned> {
        let RestoreTarget::SameNodes { truncate, truncate_only, keyspace_renames, check_schema } = &r.spec.target else {
            unreachable!("called for restores onto the same nodes")
        };
        let selection = &r.spec.selection;
        let mut tasks = Vec::new();
        for part in &r.parts {
            let node = r.node_of(part).ok_or_else(|| {
                CoreError::Conflict(format!("node '{}' no longer exists; restore to a new cluster instead", part.node_name))
            })?;
            match r.source.kind {
                SourceKind::Cluster => {
                    let restore = TaskSpec::RestoreClusterNode {
                        snapshot: r.snapshot(),
                        node_key: part.node_id.to_string(),
                        data_dir: node.location.clone(),
                        selection: selection.clone(),
                        truncate: *truncate,
                        truncate_only: truncate_only.clone(),
                        keyspace_renames: keyspace_renames.clone(),
                        all_tables: false,
                        check_schema: *check_schema,
                    };
                    tasks.extend(r.cluster_node_tasks(op, part, &node, restore));
                }
                SourceKind::Machine => {
                    let restore = TaskSpec::RestoreTree {
                        snapshot: r.snapshot(),
                        node_key: part.node_id.to_string(),
                        target: node.location.clone(),
                        include: selection.include.clone(),
                        exclude: selection.exclude.clone(),
                        overwrite: true,
                    };
                    tasks.push(new_task(op, Some(&node), node.agent_id, restore));
                }
                SourceKind::Instance | SourceKind::HaGroup => {
                    return Err(CoreError::BadRequest("a database backup restores into a new instance".into()));
                }
            }
        }
        Ok(Planned { tasks, new_source: None })
    }

    /// Into a new cluster of the same topology: one empty data directory per node, in order,
    /// each on the agent of the node it restores.
    async fn restore_to_new_cluster(
        &self,
        r: &Restoring<'_>,
        op: &Operation,
        name: &str,
        locations: &[String],
        all_tables: bool,
        settings: &serde_json::Map<String, Value>,
    ) -> CoreResult<Planned> {
        if r.source.kind != SourceKind::Cluster {
            return Err(CoreError::BadRequest("only cluster backups restore into a new cluster".into()));
        }
        if locations.len() != r.parts.len() {
            return Err(CoreError::BadRequest(format!(
                "the backup has {} node(s); give exactly that many data directories",
                r.parts.len()
            )));
        }
        let agents = catalog::list_agents(&self.inner.db, r.backup.tenant_id).await?;
        let specs: Vec<NodeSpec> = r
            .parts
            .iter()
            .zip(locations)
            .map(|(part, location)| {
                let old = r.node_of(part);
                NodeSpec {
                    name: part.node_name.clone(),
                    agent: old
                        .as_ref()
                        .and_then(|o| agents.iter().find(|a| a.id == o.agent_id))
                        .map(|a| a.name.clone())
                        .unwrap_or_else(crate::domain::source::local_agent),
                    location: location.clone(),
                    commitlog_dir: None,
                    datacenter: old.as_ref().and_then(|o| o.datacenter.clone()),
                    rack: old.as_ref().and_then(|o| o.rack.clone()),
                }
            })
            .collect();
        for node in &specs {
            self.check_local_path(r.caller, &node.agent, &node.location)?;
            // A new cluster starts from empty directories (checked where the server can see them).
            let dir = std::path::Path::new(&node.location);
            if node.agent == crate::domain::agent::LOCAL_AGENT && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
                return Err(CoreError::Conflict(format!("'{}' already holds data; a new cluster needs empty directories", node.location)));
            }
        }
        let mut config = config_object(&r.source)?;
        // A new cluster starts without the original's commitlog archiving (its directories
        // are the original's); it is turned on for the new cluster when wanted.
        config.remove("archiving");
        config.extend(settings.clone());
        config.insert("restored_from".into(), json!(r.backup.id));
        config.insert("restore_operation".into(), json!(op.id));
        let new =
            self.plan_source(r.backup.tenant_id, SourceKind::Cluster, name, Value::Object(config), specs, NodeLocations::Plain).await?;
        let mut tasks = Vec::new();
        for (part, node) in r.parts.iter().zip(&new.nodes) {
            let restore = TaskSpec::RestoreClusterNode {
                snapshot: r.snapshot(),
                node_key: part.node_id.to_string(),
                data_dir: node.location.clone(),
                selection: r.spec.selection.clone(),
                truncate: false,
                truncate_only: None,
                keyspace_renames: Default::default(),
                all_tables,
                check_schema: false,
            };
            tasks.extend(r.cluster_node_tasks(op, part, node, restore));
        }
        Ok(Planned { tasks, new_source: Some(new) })
    }

    /// Into a directory on an agent (the backup's own when none is named); each node's files
    /// under a directory of its own name when there are several.
    async fn restore_to_path(
        &self,
        r: &Restoring<'_>,
        op: &Operation,
        path: &str,
        agent: Option<&str>,
        overwrite: bool,
    ) -> CoreResult<Planned> {
        if matches!(r.source.kind, SourceKind::Instance | SourceKind::HaGroup) {
            return Err(CoreError::BadRequest("a database backup restores into a new instance".into()));
        }
        let mut tasks = Vec::new();
        for part in &r.parts {
            let node = r.node_of(part);
            let agent_id = match agent {
                Some(name) => self.agent_named(r.backup.tenant_id, name).await?.id,
                None => node.as_ref().map(|n| n.agent_id).ok_or_else(|| CoreError::BadRequest("name the agent to restore on".into()))?,
            };
            let target = if r.parts.len() > 1 { format!("{}/{}", path.trim_end_matches('/'), part.node_name) } else { path.to_owned() };
            if let Some(a) = catalog::get_agent(&self.inner.db, agent_id).await? {
                self.check_local_path(r.caller, &a.name, &target)?;
            }
            let restore = TaskSpec::RestoreTree {
                snapshot: r.snapshot(),
                node_key: part.node_id.to_string(),
                target,
                include: r.spec.selection.include.clone(),
                exclude: r.spec.selection.exclude.clone(),
                overwrite,
            };
            let mut task = new_task(op, node.as_ref(), agent_id, restore);
            task.node_name = part.node_name.clone();
            tasks.push(task);
        }
        Ok(Planned { tasks, new_source: None })
    }

    /// Into a new database instance beside the original (same server, or for SQLite a file the
    /// agent writes), loaded from the dump; the original is untouched.
    async fn restore_to_new_instance(
        &self,
        r: &Restoring<'_>,
        op: &Operation,
        name: &str,
        flavor: Option<&str>,
        flavor_ram_mb: Option<u32>,
        volume_gb: Option<u32>,
    ) -> CoreResult<Planned> {
        if !matches!(r.source.kind, SourceKind::Instance | SourceKind::HaGroup) {
            return Err(CoreError::BadRequest("only database backups restore into a new instance".into()));
        }
        let part = r.parts.first().ok_or_else(|| CoreError::Unprocessable("the backup holds no data".into()))?;
        let node = r.node_of(part).ok_or_else(|| CoreError::Conflict("the backed-up instance no longer exists".into()))?;
        let mut config = instance_config(&r.source)?;
        let kind: DatastoreKind =
            config.datastore.parse().map_err(|e: crate::sources::database::DatabaseError| CoreError::internal(anyhow::Error::new(e)))?;
        let original = DatabaseLocation::new(kind, self.inner.secrets.open(&node.location)?);
        let db_name = new_database_name("restored", name);
        let agent =
            catalog::get_agent(&self.inner.db, node.agent_id).await?.map(|a| a.name).unwrap_or_else(crate::domain::source::local_agent);
        let target = self.new_instance_location(r.backup.tenant_id, &original, &agent, &db_name)?;
        if let Some(f) = flavor {
            config.flavor = f.to_owned();
        }
        if let Some(ram) = flavor_ram_mb {
            config.flavor_ram_mb = ram;
        }
        if let Some(size) = volume_gb {
            config.volume_gb = size;
        }
        config.restored_from = Some(r.backup.id);
        config.managed = true;
        let node_spec =
            NodeSpec { name: name.to_owned(), agent, location: target.location, commitlog_dir: None, datacenter: None, rack: None };
        let config_json = serde_json::to_value(&config).expect("config");
        let new =
            self.plan_source(r.backup.tenant_id, SourceKind::Instance, name, config_json, vec![node_spec], NodeLocations::Sealed).await?;
        let new_node = new.nodes.first().ok_or_else(|| CoreError::internal(anyhow::anyhow!("new instance without node")))?;
        let restore = TaskSpec::RestoreDatabase {
            snapshot: r.snapshot(),
            node_key: part.node_id.to_string(),
            datastore: config.datastore.clone(),
            target: new_node.location.clone(),
        };
        let tasks = vec![new_task(op, Some(new_node), new_node.agent_id, restore)];
        Ok(Planned { tasks, new_source: Some(new) })
    }

    /// Ends an operation recorded but not started (its tasks queued): they fail with `why`
    /// (one an agent already claimed is asked to stop), so the operation ends Failed.
    async fn fail_before_start(&self, op: &Operation, why: &str) {
        let db = &self.inner.db;
        let ended: CoreResult<()> = async {
            catalog::request_task_cancel(db, op.id).await?;
            for t in catalog::tasks_of(db, op.id).await? {
                catalog::set_task_state(db, t.id, &[State::Queued], State::Failed, Some(why.to_owned())).await?;
            }
            self.maybe_finish(op.id).await
        }
        .await;
        if let Err(e) = ended {
            tracing::warn!(operation = %op.id, error = %e, "could not end an operation that failed before it started");
        }
    }
}
