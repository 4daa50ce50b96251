//! Restores: a complete backup written back to the nodes it came from, to a new cluster, to a
//! directory on an agent, or into a new database instance.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Engine,
    archive::replay_task,
    lifecycle::{new_operation, new_task},
};
use crate::{
    domain::{
        backup::{BackupNode, Selection},
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, TaskSpec},
        source::{InstanceConfig, Node, NodeSpec, SourceKind},
    },
    error::{CoreError, CoreResult},
    persistence::engine as repo,
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

impl Engine {
    /// Starts a restore of a completed backup.
    pub async fn start_restore(&self, caller: &Principal, spec: RestoreSpec) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let _starting = self.inner.starting.lock().await;
        let _everywhere = repo::lock_starts(db).await?;
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
        let source = repo::get_source(db, Some(backup.tenant_id), backup.source_id)
            .await?
            .ok_or_else(|| CoreError::not_found("source", backup.source_id.to_string()))?;
        if matches!(spec.target, RestoreTarget::SameNodes { .. }) {
            let locations: Vec<String> = repo::nodes_of(db, source.id).await?.into_iter().map(|n| n.location).collect();
            if repo::has_restore_in_place_in_progress(db, source.id, &locations).await? {
                return Err(CoreError::Unprocessable(format!("a restore into {} '{}' is already in progress", source.kind, source.name)));
            }
            if repo::has_backup_in_progress(db, source.id).await? {
                return Err(CoreError::Unprocessable(format!(
                    "a backup of {} '{}' is in progress; restore once it ends",
                    source.kind, source.name
                )));
            }
        }
        if let RestoreTarget::SameNodes { keyspace_renames, .. } = &spec.target {
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
        let mut parts: Vec<BackupNode> = repo::backup_nodes_of(db, backup.id).await?.into_iter().filter(|n| n.state.is_success()).collect();
        let held: std::collections::BTreeSet<String> = parts
            .iter()
            .flat_map(|p| p.detail.get("tables").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k.clone()))
            .collect();
        // What a point in time replays: the restored tables only, unless everything is restored.
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
        let original_nodes = repo::nodes_of(db, source.id).await?;
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
        let mut params = serde_json::to_value(&spec.target).unwrap_or(Value::Null);
        if !spec.selection.is_everything() {
            params["selection"] = json!(spec.selection);
        }
        if let Some(from) = spec.destination_id {
            let copies = repo::backup_copies_of(db, backup.id).await?;
            if from != backup.destination_id && !copies.contains(&from) {
                return Err(CoreError::BadRequest(format!("destination {from} holds no copy of backup {}", backup.id)));
            }
            params["destination_id"] = json!(from);
        }
        let mut op =
            new_operation(backup.tenant_id, OperationKind::Restore, caller, Some(source.id), Some(backup.id), spec.options.clone(), params);
        let mut tasks = Vec::new();
        let snapshot = backup.id.to_string();
        let node_of = |part: &BackupNode| original_nodes.iter().find(|n| n.id == part.node_id).cloned();
        match &spec.target {
            RestoreTarget::SameNodes { truncate, truncate_only, keyspace_renames, check_schema } => {
                for part in &parts {
                    let node = node_of(part).ok_or_else(|| {
                        CoreError::Conflict(format!("node '{}' no longer exists; restore to a new cluster instead", part.node_name))
                    })?;
                    let task_spec = match source.kind {
                        SourceKind::Cluster => TaskSpec::RestoreClusterNode {
                            snapshot: snapshot.clone(),
                            node_key: part.node_id.to_string(),
                            data_dir: node.location.clone(),
                            selection: spec.selection.clone(),
                            truncate: *truncate,
                            truncate_only: truncate_only.clone(),
                            keyspace_renames: keyspace_renames.clone(),
                            all_tables: false,
                            check_schema: *check_schema,
                        },
                        SourceKind::Machine => TaskSpec::RestoreTree {
                            snapshot: snapshot.clone(),
                            node_key: part.node_id.to_string(),
                            target: node.location.clone(),
                            include: spec.selection.include.clone(),
                            exclude: spec.selection.exclude.clone(),
                            overwrite: true,
                        },
                        _ => return Err(CoreError::BadRequest("a database backup restores into a new instance".into())),
                    };
                    tasks.push(new_task(&op, Some(&node), node.agent_id, task_spec));
                    if let Some(plan) = &spec.point_in_time {
                        tasks.push(new_task(&op, Some(&node), node.agent_id, replay_task(plan, part.node_id, &node.location, &replayed)));
                    }
                }
            }
            RestoreTarget::NewCluster { name, locations, all_tables, settings } => {
                if source.kind != SourceKind::Cluster {
                    return Err(CoreError::BadRequest("only cluster backups restore into a new cluster".into()));
                }
                if locations.len() != parts.len() {
                    return Err(CoreError::BadRequest(format!(
                        "the backup has {} node(s); give exactly that many data directories",
                        parts.len()
                    )));
                }
                let agents = repo::list_agents(db, backup.tenant_id).await?;
                let specs: Vec<NodeSpec> = parts
                    .iter()
                    .zip(locations)
                    .map(|(part, location)| {
                        let old = node_of(part);
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
                    self.check_local_path(caller, &node.agent, &node.location)?;
                    // A new cluster starts from empty directories (checked where the server can see them).
                    let dir = std::path::Path::new(&node.location);
                    if node.agent == crate::domain::agent::LOCAL_AGENT && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
                        return Err(CoreError::Conflict(format!(
                            "'{}' already holds data; a new cluster needs empty directories",
                            node.location
                        )));
                    }
                }
                let mut config = source.config.as_object().cloned().unwrap_or_default();
                // A new cluster starts without the original's commitlog archiving (its directories
                // are the original's); it is turned on for the new cluster when wanted.
                config.remove("archiving");
                config.extend(settings.clone());
                let mut config = Value::Object(config);
                config["restored_from"] = json!(backup.id);
                config["restore_operation"] = json!(op.id);
                let created = self.create_source(backup.tenant_id, SourceKind::Cluster, name, config, specs, false).await?;
                let new_nodes = repo::nodes_of(db, created.source.id).await?;
                for (part, node) in parts.iter().zip(&new_nodes) {
                    let task_spec = TaskSpec::RestoreClusterNode {
                        snapshot: snapshot.clone(),
                        node_key: part.node_id.to_string(),
                        data_dir: node.location.clone(),
                        selection: spec.selection.clone(),
                        truncate: false,
                        truncate_only: None,
                        keyspace_renames: Default::default(),
                        all_tables: *all_tables,
                        check_schema: false,
                    };
                    tasks.push(new_task(&op, Some(node), node.agent_id, task_spec));
                    if let Some(plan) = &spec.point_in_time {
                        tasks.push(new_task(&op, Some(node), node.agent_id, replay_task(plan, part.node_id, &node.location, &replayed)));
                    }
                }
                op.result = json!({ "source_id": created.source.id, "name": name });
            }
            RestoreTarget::Path { path, agent, overwrite } => {
                if matches!(source.kind, SourceKind::Instance | SourceKind::HaGroup) {
                    return Err(CoreError::BadRequest("a database backup restores into a new instance".into()));
                }
                for part in &parts {
                    let node = node_of(part);
                    let agent_id = match agent {
                        Some(name) => self.agent_named(backup.tenant_id, name).await?.id,
                        None => {
                            node.as_ref().map(|n| n.agent_id).ok_or_else(|| CoreError::BadRequest("name the agent to restore on".into()))?
                        }
                    };
                    let target = if parts.len() > 1 { format!("{}/{}", path.trim_end_matches('/'), part.node_name) } else { path.clone() };
                    if let Some(a) = repo::get_agent(db, agent_id).await? {
                        self.check_local_path(caller, &a.name, &target)?;
                    }
                    let task_spec = TaskSpec::RestoreTree {
                        snapshot: snapshot.clone(),
                        node_key: part.node_id.to_string(),
                        target,
                        include: spec.selection.include.clone(),
                        exclude: spec.selection.exclude.clone(),
                        overwrite: *overwrite,
                    };
                    let mut task = new_task(&op, node.as_ref(), agent_id, task_spec);
                    task.node_name = part.node_name.clone();
                    tasks.push(task);
                }
            }
            RestoreTarget::NewInstance { name, flavor, flavor_ram_mb, volume_gb } => {
                if !matches!(source.kind, SourceKind::Instance | SourceKind::HaGroup) {
                    return Err(CoreError::BadRequest("only database backups restore into a new instance".into()));
                }
                let part = parts.first().ok_or_else(|| CoreError::Unprocessable("the backup holds no data".into()))?;
                let node = node_of(part).ok_or_else(|| CoreError::Conflict("the backed-up instance no longer exists".into()))?;
                let mut config: InstanceConfig = serde_json::from_value(source.config.clone()).unwrap_or_default();
                let kind: DatastoreKind = config
                    .datastore
                    .parse()
                    .map_err(|e: crate::sources::database::DatabaseError| CoreError::internal(anyhow::Error::new(e)))?;
                let original = DatabaseLocation::new(kind, self.inner.secrets.open(&node.location)?);
                let db_name: String =
                    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
                let db_name = format!("restored_{db_name}_{}", &Uuid::new_v4().simple().to_string()[..8]);
                let agent = repo::get_agent(db, node.agent_id).await?.map(|a| a.name).unwrap_or_else(crate::domain::source::local_agent);
                let target = self.new_instance_location(backup.tenant_id, &original, &agent, &db_name)?;
                if let Some(f) = flavor {
                    config.flavor = f.clone();
                }
                if let Some(r) = flavor_ram_mb {
                    config.flavor_ram_mb = *r;
                }
                if let Some(v) = volume_gb {
                    config.volume_gb = *v;
                }
                config.restored_from = Some(backup.id);
                config.managed = true;
                let node_spec = NodeSpec {
                    name: name.clone(),
                    agent,
                    location: target.location.clone(),
                    commitlog_dir: None,
                    datacenter: None,
                    rack: None,
                };
                let created = self
                    .create_source(
                        backup.tenant_id,
                        SourceKind::Instance,
                        name,
                        serde_json::to_value(&config).expect("config"),
                        vec![node_spec],
                        true,
                    )
                    .await?;
                let new_node = repo::nodes_of(db, created.source.id)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| CoreError::internal(anyhow::anyhow!("new instance without node")))?;
                let task_spec = TaskSpec::RestoreDatabase {
                    snapshot: snapshot.clone(),
                    node_key: part.node_id.to_string(),
                    datastore: config.datastore.clone(),
                    target: new_node.location.clone(),
                };
                tasks.push(new_task(&op, Some(&new_node), new_node.agent_id, task_spec));
                op.result = json!({ "source_id": created.source.id, "name": name });
            }
        }
        if tasks.is_empty() {
            return Err(CoreError::Unprocessable("the backup holds no node data to restore".into()));
        }
        repo::insert_operation(db, &op, &tasks, None).await?;
        repo::add_event(
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
}
