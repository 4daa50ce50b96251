//! Operations from request to end: creating them with their tasks, handing tasks to agents,
//! recording progress, and finishing the operation (and its backup) exactly once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Engine, tenant_scope};
use crate::{
    domain::{
        agent::Agent,
        backup::{Backup, BackupNode, Selection},
        identity::Principal,
        operation::{Assignment, Operation, OperationKind, OperationOptions, Task, TaskOutcome, TaskProgress, TaskSpec},
        source::{InstanceConfig, Node, NodeSpec, SourceKind},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::{
        ConnectionTrait, TransactionTrait,
        catalog::{self, OperationPatch},
    },
    sources::database::{DatabaseLocation, DatastoreKind},
};

/// Tasks interrupted this many times fail instead of starting again.
const MAX_ATTEMPTS: i32 = 3;

/// What a backup request asks for.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BackupSpec {
    pub source_id: Uuid,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tag: Option<String>,
    /// Base it on the latest completed backup of the source (unless `parent_id` names one).
    #[serde(default)]
    pub incremental: bool,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub selection: Selection,
    #[serde(default)]
    pub options: OperationOptions,
    #[serde(default)]
    pub plan_id: Option<Uuid>,
    /// Where the data goes; the server's own store when absent.
    #[serde(default)]
    pub destination_id: Option<Uuid>,
    /// Regions the backup is copied to once it completes: each copy a backup of its own there.
    #[serde(default)]
    pub copy_to: Vec<String>,
    /// Destinations the backup is copied to once it completes.
    #[serde(default)]
    pub copy_to_destinations: Vec<Uuid>,
    /// The region the backup is made in (the home region when absent); another region's backups
    /// are kept in its region destination.
    #[serde(skip)]
    pub region: Option<String>,
}

impl BackupSpec {
    /// A backup of what a plan selects, to the plan's destination, counted as the plan's.
    pub fn for_plan(plan: &crate::domain::plan::Plan) -> Self {
        BackupSpec {
            source_id: plan.source_id,
            name: plan.name.clone(),
            selection: plan.selection.clone(),
            options: plan.options.clone(),
            plan_id: Some(plan.id),
            destination_id: plan.destination_id,
            ..Default::default()
        }
    }
}

fn visible_ids(caller: &Principal, backups: &[Backup]) -> Vec<Uuid> {
    backups.iter().filter(|b| caller.can_see_tenant(b.tenant_id)).map(|b| b.id).collect()
}

/// The per-node parts and the copies of a listing's backups, by backup id.
#[derive(Debug, Default)]
pub struct BackupDetails {
    pub nodes: HashMap<Uuid, Vec<BackupNode>>,
    pub copies: HashMap<Uuid, Vec<Uuid>>,
}

impl BackupDetails {
    pub fn nodes_of(&self, backup: Uuid) -> &[BackupNode] {
        self.nodes.get(&backup).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn copies_of(&self, backup: Uuid) -> &[Uuid] {
        self.copies.get(&backup).map(Vec::as_slice).unwrap_or_default()
    }
}

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

pub(super) fn new_operation(
    tenant_id: Uuid,
    kind: OperationKind,
    caller: &Principal,
    source_id: Option<Uuid>,
    backup_id: Option<Uuid>,
    options: OperationOptions,
    params: Value,
) -> Operation {
    Operation {
        id: Uuid::new_v4(),
        tenant_id,
        kind,
        state: State::Queued,
        source_id,
        backup_id,
        progress: 0.0,
        options,
        params,
        result: Value::Null,
        error: None,
        created_by: caller.user_name.clone(),
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    }
}

/// The task that places a node's archived commitlogs beside its data directory for replay.
fn replay_task(plan: &super::PitPlan, original_node: Uuid, data_dir: &str, tables: &[String]) -> TaskSpec {
    TaskSpec::RestoreCommitlogs {
        node_key: original_node.to_string(),
        restore_dir: crate::domain::archive::restore_dir(data_dir),
        point_in_time: plan.at,
        destination: plan.destination_id,
        segments: super::archive::replay_list(plan, original_node),
        tables: tables.to_vec(),
    }
}

pub(super) fn new_task(op: &Operation, node: Option<&Node>, agent_id: Uuid, spec: TaskSpec) -> Task {
    Task {
        id: Uuid::new_v4(),
        operation_id: op.id,
        node_id: node.map(|n| n.id),
        node_name: node.map(|n| n.name.clone()).unwrap_or_else(|| "server".into()),
        agent_id,
        state: State::Queued,
        spec,
        progress: TaskProgress::default(),
        attempts: 0,
        lease_owner: None,
        error: None,
        result: Value::Null,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    }
}

/// The member of an HA group a backup reads. The group lists its source first and then its replicas,
/// nearest first; the nearest replica that is up is read, so the source carries no backup load. With
/// no replica up the source itself is read (and a down source fails the backup as any down node does).
fn closest_replica(members: Vec<Node>, up: impl Fn(&Node) -> bool) -> CoreResult<Node> {
    let mut members = members.into_iter();
    let source = members.next().ok_or_else(|| CoreError::BadRequest("the HA group has no members".into()))?;
    Ok(members.find(|replica| up(replica)).unwrap_or(source))
}

fn sum(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

impl Engine {
    // ---- starting operations ----

    /// Starts a backup: the backup and operation rows first, then one task per node.
    pub async fn start_backup(&self, caller: &Principal, spec: BackupSpec) -> CoreResult<(Operation, Backup)> {
        let db = &self.inner.db;
        let _starting = self.inner.starting.lock().await;
        let _everywhere = catalog::lock_starts(db).await?;
        let source = self.source_row(caller, spec.source_id).await?;
        let region = match spec.region.as_deref() {
            Some(r) => self.served_region(r).ok_or_else(|| CoreError::not_found("region", r))?,
            None => self.home_region(),
        };
        let mut copy_regions = Vec::new();
        for r in &spec.copy_to {
            self.region_destination(caller, r).await?;
            let r = self.served_region(r).unwrap_or_default();
            if r == region {
                return Err(CoreError::BadRequest(format!("the backup is made in {region}; copy_to names other regions")));
            }
            if !copy_regions.contains(&r) {
                copy_regions.push(r);
            }
        }
        let mut copy_to = Vec::new();
        for id in &spec.copy_to_destinations {
            copy_to.push(self.destination_row(caller, *id).await?.id);
        }
        let parent = match spec.parent_id {
            Some(id) => {
                let p = catalog::get_backup(db, Some(source.tenant_id), id)
                    .await?
                    .ok_or_else(|| CoreError::not_found("backup", id.to_string()))?;
                if p.source_id != source.id || !p.state.is_success() {
                    return Err(CoreError::BadRequest(format!("backup {id} is not a completed backup of this source")));
                }
                if self.region_of(&p) != region {
                    return Err(CoreError::BadRequest(format!("backup {id} is in {}, not {region}", self.region_of(&p))));
                }
                Some(p)
            }
            // The newest complete backup made in (or copied to) the same region.
            None if spec.incremental => Some(
                catalog::list_backups(db, Some(source.tenant_id), Some(source.id))
                    .await?
                    .into_iter()
                    .find(|b| b.state.is_success() && self.region_of(b) == region)
                    .ok_or_else(|| {
                        CoreError::Conflict(format!(
                            "{} '{}' has no completed backup in {region} to base an incremental one on",
                            source.kind, source.name
                        ))
                    })?,
            ),
            None => None,
        };
        // An incremental goes to a region only where its parent already is (Cloud Databases' rule):
        // refused at once rather than by a copy that fails later.
        if let Some(parent) = &parent {
            for r in &copy_regions {
                if self.complete_in_region(db, parent, r).await?.is_none() {
                    return Err(CoreError::BadRequest(format!(
                        "the parent backup {} is not in {r}; copy it there before an incremental of it",
                        parent.id
                    )));
                }
            }
        }
        if catalog::has_backup_in_progress(db, source.id).await? {
            return Err(CoreError::Unprocessable(format!("a backup of {} '{}' is already in progress", source.kind, source.name)));
        }
        let locations: Vec<String> = catalog::nodes_of(db, source.id).await?.into_iter().map(|n| n.location).collect();
        if catalog::has_restore_in_place_in_progress(db, source.id, &locations).await? {
            return Err(CoreError::Unprocessable(format!(
                "a restore into {} '{}' is in progress; back up once it ends",
                source.kind, source.name
            )));
        }
        if let Some(bad) = spec.selection.tables.iter().find(|t| t.split_once('.').is_none_or(|(k, t)| k.is_empty() || t.is_empty())) {
            return Err(CoreError::BadRequest(format!("table '{bad}' is not written keyspace.table")));
        }
        if source.kind == SourceKind::Machine && !spec.selection.keyspaces.is_empty() {
            return Err(CoreError::BadRequest("keyspaces only apply to clusters".into()));
        }
        let agents = catalog::list_agents(db, source.tenant_id).await?;
        let now = Utc::now();
        let mut nodes = catalog::nodes_of(db, source.id).await?;
        if source.kind == SourceKind::HaGroup {
            let up = |n: &Node| agents.iter().any(|a| a.id == n.agent_id && a.is_up(now, self.inner.settings.agent_down_after_secs));
            nodes = vec![closest_replica(nodes, up)?];
        }
        for excluded in &spec.options.excluded_nodes {
            if !nodes.iter().any(|n| &n.name == excluded) {
                return Err(CoreError::BadRequest(format!("excluded node '{excluded}' is not a node of '{}'", source.name)));
            }
        }
        nodes.retain(|n| !spec.options.excluded_nodes.contains(&n.name));
        if nodes.is_empty() {
            return Err(CoreError::BadRequest("every node is excluded; nothing to back up".into()));
        }
        let destination_id = match (spec.destination_id, &parent) {
            (Some(id), _) => self.destination_row(caller, id).await?.id,
            (None, Some(p)) => p.destination_id,
            (None, None) if region != self.home_region() => self.region_destination(caller, &region).await?,
            (None, None) => self.inner.server_destination,
        };
        self.keep_nodes_served(destination_id, &mut nodes).await?;
        for to in &copy_to {
            self.nodes_copied_to(*to, &nodes).await?;
        }
        if let Some(off) = agents.iter().find(|a| a.settings.disabled && nodes.iter().any(|n| n.agent_id == a.id)) {
            return Err(CoreError::Unprocessable(format!("agent '{}' is disabled; enable it to back up", off.name)));
        }

        if !spec.name.trim().is_empty() {
            crate::domain::check_name("a backup name", &spec.name).map_err(CoreError::BadRequest)?;
        }
        let backup_id = Uuid::new_v4();
        let name = if spec.name.trim().is_empty() { format!("{}-{}", source.name, now.format("%Y%m%d-%H%M%S")) } else { spec.name.clone() };
        let tag = match &spec.tag {
            Some(tag) => tag.clone(),
            None if source.kind == SourceKind::Cluster => {
                // OpsCenter's tag: the schedule (or adhoc) and the second, unique within the cluster.
                let taken: Vec<String> =
                    catalog::list_backups(db, Some(source.tenant_id), Some(source.id)).await?.into_iter().map(|b| b.tag).collect();
                let origin = spec.plan_id.map(|p| p.to_string()).unwrap_or_else(|| "adhoc".into());
                (0..)
                    .map(|s| format!("opscenter_{origin}_{}", (now + Duration::seconds(s)).format("%Y-%m-%d-%H-%M-%S-UTC")))
                    .find(|t| !taken.contains(t))
                    .unwrap_or_else(|| backup_id.to_string())
            }
            None => backup_id.to_string(),
        };
        let mut backup = Backup {
            id: backup_id,
            tenant_id: source.tenant_id,
            source_id: source.id,
            parent_id: parent.as_ref().map(|p| p.id),
            plan_id: spec.plan_id,
            operation_id: None,
            destination_id,
            name,
            description: spec.description.clone(),
            tag,
            selection: spec.selection.clone(),
            state: State::Queued,
            size_bytes: 0,
            stored_bytes: 0,
            file_count: 0,
            error: None,
            metadata: json!({
                "source_kind": source.kind,
                "source_name": source.name,
                "config": source.config,
                "nodes": nodes.iter().map(|n| json!({"id": n.id, "name": n.name, "datacenter": n.datacenter, "rack": n.rack})).collect::<Vec<_>>(),
            }),
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        let mut op = new_operation(
            source.tenant_id,
            OperationKind::Backup,
            caller,
            Some(source.id),
            Some(backup_id),
            spec.options.clone(),
            json!({ "incremental": parent.is_some(), "copy_to": copy_to }),
        );
        backup.operation_id = Some(op.id);
        if region != self.home_region() {
            backup.metadata["region"] = json!(region);
        }
        if !copy_regions.is_empty() {
            op.params["copy_to_regions"] = json!(copy_regions);
        }

        let mut tasks = Vec::new();
        for node in &nodes {
            let snapshot = backup_id.to_string();
            let node_key = node.id.to_string();
            let parent_snapshot = parent.as_ref().map(|p| p.id.to_string());
            let task_spec = match source.kind {
                SourceKind::Cluster => TaskSpec::BackupClusterNode {
                    snapshot,
                    node_key,
                    data_dir: node.location.clone(),
                    selection: spec.selection.clone(),
                    parent: parent_snapshot,
                },
                SourceKind::Machine => TaskSpec::BackupTree {
                    snapshot,
                    node_key,
                    root: node.location.clone(),
                    selection: spec.selection.clone(),
                    parent: parent_snapshot,
                },
                SourceKind::Instance | SourceKind::HaGroup => {
                    let config: InstanceConfig = serde_json::from_value(source.config.clone()).unwrap_or_default();
                    TaskSpec::BackupDatabase { snapshot, node_key, datastore: config.datastore, location: node.location.clone() }
                }
            };
            let mut task = new_task(&op, Some(node), node.agent_id, task_spec);
            let up = agents.iter().find(|a| a.id == node.agent_id).is_some_and(|a| a.is_up(now, self.inner.settings.agent_down_after_secs));
            if !up {
                if !spec.options.force {
                    return Err(CoreError::Unavailable(format!(
                        "node '{}' is down (its agent has not been heard from); use force to back up the other nodes",
                        node.name
                    )));
                }
                task.state = State::Skipped;
                task.error = Some("node down".into());
                task.finished_at = Some(now);
            }
            tasks.push(task);
        }
        if tasks.iter().all(|t| t.state == State::Skipped) {
            return Err(CoreError::Unavailable("every node is down".into()));
        }
        op.params["nodes"] = json!(nodes.len());
        catalog::insert_operation(db, &op, &tasks, Some(&backup)).await?;
        catalog::add_event(
            db,
            source.tenant_id,
            "backup.started",
            &format!("backup '{}' of {} '{}' started", backup.name, source.kind, source.name),
            Some(op.id),
            Some(backup.id),
            Some(source.id),
        )
        .await?;
        self.wake_local();
        Ok((op, backup))
    }

    /// Starts a restore of a completed backup.
    pub async fn start_restore(&self, caller: &Principal, spec: RestoreSpec) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let _starting = self.inner.starting.lock().await;
        let _everywhere = catalog::lock_starts(db).await?;
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
        if matches!(spec.target, RestoreTarget::SameNodes { .. }) {
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
        let mut parts: Vec<BackupNode> =
            catalog::backup_nodes_of(db, backup.id).await?.into_iter().filter(|n| n.state.is_success()).collect();
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
        let mut params = serde_json::to_value(&spec.target).unwrap_or(Value::Null);
        if !spec.selection.is_everything() {
            params["selection"] = json!(spec.selection);
        }
        if let Some(from) = spec.destination_id {
            let copies = catalog::backup_copies_of(db, backup.id).await?;
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
                let agents = catalog::list_agents(db, backup.tenant_id).await?;
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
                let new_nodes = catalog::nodes_of(db, created.source.id).await?;
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
                    if let Some(a) = catalog::get_agent(db, agent_id).await? {
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
                let agent = catalog::get_agent(db, node.agent_id).await?.map(|a| a.name).unwrap_or_else(crate::domain::source::local_agent);
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
                let new_node = catalog::nodes_of(db, created.source.id)
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
        catalog::insert_operation(db, &op, &tasks, None).await?;
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

    /// Asks each node of a cluster whose agent is up which keyspaces and tables it holds; each
    /// task's result is `{"keyspaces": {ks: [tables]}}`.
    pub async fn start_inventory(&self, caller: &Principal, source_id: Uuid) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let source = self.source_row(caller, source_id).await?;
        if source.kind != SourceKind::Cluster {
            return Err(CoreError::BadRequest(format!("{} is not a cluster", source.name)));
        }
        let agents = catalog::list_agents(db, source.tenant_id).await?;
        let now = Utc::now();
        let op = new_operation(
            source.tenant_id,
            OperationKind::Inventory,
            caller,
            Some(source.id),
            None,
            OperationOptions::default(),
            Value::Null,
        );
        let tasks: Vec<Task> = catalog::nodes_of(db, source.id)
            .await?
            .iter()
            .filter(|n| agents.iter().any(|a| a.id == n.agent_id && a.is_up(now, self.inner.settings.agent_down_after_secs)))
            .map(|n| new_task(&op, Some(n), n.agent_id, TaskSpec::ListTables { data_dir: n.location.clone() }))
            .collect();
        if tasks.is_empty() {
            return Err(CoreError::Unavailable(format!("no agent of cluster '{}' is up", source.name)));
        }
        catalog::insert_operation(db, &op, &tasks, None).await?;
        self.wake_local();
        Ok(op)
    }

    /// Starts a verification: every chunk of the backup is re-read and its hash checked.
    pub async fn start_verify(&self, caller: &Principal, backup_id: Uuid) -> CoreResult<Operation> {
        let backup = self.backup(caller, backup_id).await?;
        if !backup.state.is_success() {
            return Err(CoreError::Unprocessable(format!(
                "backup {} is {}; only complete backups can be verified",
                backup.id, backup.state
            )));
        }
        let local = self.local_agent(backup.tenant_id).await?;
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Verify,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            Value::Null,
        );
        let task = new_task(&op, None, local.id, TaskSpec::Verify { snapshot: backup.id.to_string(), destination: None });
        catalog::insert_operation(&self.inner.db, &op, &[task], None).await?;
        self.wake_local();
        Ok(op)
    }

    /// Deletes only the copy of a backup kept at one destination (not its own); the backup and
    /// its other copies stay.
    /// With `then_remove_destination`, the destination itself is removed once the copy is gone
    /// (when nothing else is kept there).
    pub async fn delete_copy(
        &self,
        caller: &Principal,
        backup_id: Uuid,
        destination: Uuid,
        then_remove_destination: bool,
    ) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let backup = self.backup(caller, backup_id).await?;
        if destination == backup.destination_id {
            return Err(CoreError::BadRequest(format!("destination {destination} holds the backup itself, not a copy; delete the backup")));
        }
        if !catalog::backup_copies_of(db, backup.id).await?.contains(&destination) {
            return Err(CoreError::not_found("backup copy", format!("{backup_id} at {destination}")));
        }
        let local = self.local_agent(backup.tenant_id).await?;
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Delete,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            json!({ "backups": [], "copy_at": destination, "remove_destination": then_remove_destination.then_some(destination) }),
        );
        let task = new_task(
            &op,
            None,
            local.id,
            TaskSpec::DeleteSnapshots { snapshots: vec![backup.id.to_string()], destination: Some(destination) },
        );
        catalog::insert_operation(db, &op, &[task], None).await?;
        // The store's copy goes for good: the catalog must not roll back to holding it.
        crate::persistence::make_durable(db).await;
        self.wake_local();
        Ok(op)
    }

    /// Deletes a backup and every incremental built on it; their data goes unless other backups use it.
    pub async fn delete_backup(&self, caller: &Principal, backup_id: Uuid) -> CoreResult<Operation> {
        self.delete_backup_then(caller, backup_id, false).await
    }

    /// Deletes a backup as [`Engine::delete_backup`]; with `then_remove_destination` the backup's
    /// destination is removed once the delete ends, when nothing else is kept there (never the server's).
    pub async fn delete_backup_then(&self, caller: &Principal, backup_id: Uuid, then_remove_destination: bool) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let backup = self.backup(caller, backup_id).await?;
        let mut doomed = vec![backup.clone()];
        let mut i = 0;
        while i < doomed.len() {
            let children = catalog::children_of(db, doomed[i].id).await?;
            doomed.extend(children);
            i += 1;
        }
        if let Some(busy) = doomed.iter().find(|b| !b.state.is_terminal()) {
            return Err(CoreError::Unprocessable(format!("backup {} is still {}; wait for it to end", busy.id, busy.state)));
        }
        if let Some(copy) = self.region_copy_running(&doomed).await? {
            return Err(CoreError::Unprocessable(format!(
                "backup {} is being copied to {} (as backup {}); delete it once the copy ends",
                copy.metadata.get("copy_of").and_then(Value::as_str).unwrap_or_default(),
                self.region_of(&copy),
                copy.id
            )));
        }
        let local = self.local_agent(backup.tenant_id).await?;
        let ids: Vec<Uuid> = doomed.iter().map(|b| b.id).collect();
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Delete,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            json!({
                "backups": ids,
                "remove_destination": (then_remove_destination && backup.destination_id != self.inner.server_destination).then_some(backup.destination_id),
            }),
        );
        let mut destinations: Vec<Uuid> = Vec::new();
        for b in &doomed {
            for d in std::iter::once(b.destination_id).chain(catalog::backup_copies_of(db, b.id).await?) {
                if !destinations.contains(&d) {
                    destinations.push(d);
                }
            }
        }
        let snapshots: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let tasks: Vec<Task> = destinations
            .iter()
            .map(|d| new_task(&op, None, local.id, TaskSpec::DeleteSnapshots { snapshots: snapshots.clone(), destination: Some(*d) }))
            .collect();
        catalog::insert_operation(db, &op, &tasks, None).await?;
        // The snapshots go for good: the catalog must not roll back to holding them.
        crate::persistence::make_durable(db).await;
        catalog::add_event(
            db,
            backup.tenant_id,
            "backup.deleting",
            &format!("deleting backup '{}' and {} incremental(s)", backup.name, ids.len() - 1),
            Some(op.id),
            Some(backup.id),
            Some(backup.source_id),
        )
        .await?;
        self.wake_local();
        Ok(op)
    }

    /// Copies a complete backup into another destination (only chunks it lacks travel); the
    /// backup then lists that destination among its copies.
    pub async fn start_copy(&self, caller: &Principal, backup_id: Uuid, to: Uuid) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let backup = self.backup(caller, backup_id).await?;
        if !backup.state.is_success() {
            return Err(CoreError::Unprocessable(format!("backup {} is {}; only complete backups can be copied", backup.id, backup.state)));
        }
        let target = self.destination_row(caller, to).await?;
        if target.id == backup.destination_id || catalog::backup_copies_of(db, backup.id).await?.contains(&target.id) {
            return Err(CoreError::Conflict(format!("destination '{}' already holds backup {}", target.name, backup.id)));
        }
        let local = self.local_agent(backup.tenant_id).await?;
        let op = new_operation(
            backup.tenant_id,
            OperationKind::Copy,
            caller,
            Some(backup.source_id),
            Some(backup.id),
            OperationOptions::default(),
            json!({ "to": target.id }),
        );
        let nodes: Vec<crate::domain::source::Node> = {
            let held: Vec<Uuid> = catalog::backup_nodes_of(db, backup.id).await?.iter().map(|n| n.node_id).collect();
            catalog::nodes_of(db, backup.source_id).await?.into_iter().filter(|n| held.contains(&n.id)).collect()
        };
        let only = self.nodes_copied_to(target.id, &nodes).await?;
        let spec =
            TaskSpec::CopySnapshot { snapshot: backup.id.to_string(), to: target.id, nodes: only, as_snapshot: None, as_parent: None };
        let task = new_task(&op, None, local.id, spec);
        catalog::insert_operation(db, &op, &[task], None).await?;
        catalog::add_event(
            db,
            backup.tenant_id,
            "copy.started",
            &format!("copying backup '{}' to '{}'", backup.name, target.name),
            Some(op.id),
            Some(backup.id),
            Some(backup.source_id),
        )
        .await?;
        self.wake_local();
        Ok(op)
    }

    /// Destinations holding a complete copy of a backup besides its own.
    pub async fn backup_copies(&self, caller: &Principal, backup_id: Uuid) -> CoreResult<Vec<Uuid>> {
        self.backup(caller, backup_id).await?;
        catalog::backup_copies_of(&self.inner.db, backup_id).await
    }

    /// Asks an operation to stop: queued tasks end at once, running ones at their next report.
    pub async fn cancel(&self, caller: &Principal, operation_id: Uuid) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let op = self.operation(caller, operation_id).await?;
        if op.state.is_terminal() {
            return Err(CoreError::Unprocessable(format!("operation {} already ended ({})", op.id, op.state)));
        }
        catalog::request_task_cancel(db, op.id).await?;
        for t in catalog::tasks_of(db, op.id).await? {
            catalog::set_task_state(db, t.id, &[State::Queued], State::Cancelled, Some("cancelled before it started".into())).await?;
        }
        catalog::transition_operation(db, op.id, &[State::Running], State::Cancelling, OperationPatch::default()).await?;
        self.maybe_finish(op.id).await?;
        self.operation(caller, operation_id).await
    }

    // ---- reading ----

    pub async fn backup(&self, caller: &Principal, id: Uuid) -> CoreResult<Backup> {
        catalog::get_backup(&self.inner.db, tenant_scope(caller), id).await?.ok_or_else(|| CoreError::not_found("backup", id.to_string()))
    }

    /// Where a listing continues after backup `id` (its created time and id); `None` when the
    /// caller has no such backup, and the listing starts from the newest.
    pub async fn backup_cursor(&self, caller: &Principal, id: Uuid) -> CoreResult<Option<(DateTime<Utc>, Uuid)>> {
        Ok(catalog::get_backup(&self.inner.db, Some(caller.tenant_id), id).await?.map(|b| (b.created_at, b.id)))
    }

    /// One page of the caller's backups (see [`catalog::BackupPage`] and [`Engine::backup_cursor`]).
    pub async fn backups_page(&self, caller: &Principal, page: &catalog::BackupPage) -> CoreResult<Vec<Backup>> {
        catalog::list_backups_page(&self.inner.db, caller.tenant_id, page).await
    }

    /// Every backup of the caller's (of one source), newest first. Listings that can grow without
    /// bound read pages instead ([`Engine::backups_page`]).
    pub async fn backups(&self, caller: &Principal, source_id: Option<Uuid>) -> CoreResult<Vec<Backup>> {
        catalog::list_backups(&self.inner.db, Some(caller.tenant_id), source_id).await
    }

    /// The newest complete backup of a source, made at or before `at` when given.
    pub async fn newest_complete_backup(
        &self,
        caller: &Principal,
        source_id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> CoreResult<Option<Backup>> {
        self.newest_backup_holding(caller, source_id, at, None).await
    }

    /// The newest complete backup of a source made at or before `at` (when given) that holds
    /// every table `selection` covers (when given; see [`Selection::holds_tables_of`]): a backup
    /// of some tables never stands for their keyspace or the cluster.
    pub async fn newest_backup_holding(
        &self,
        caller: &Principal,
        source_id: Uuid,
        at: Option<DateTime<Utc>>,
        selection: Option<&Selection>,
    ) -> CoreResult<Option<Backup>> {
        const PAGE: u64 = 100;
        // Just past `at`: the cursor is exclusive, and the nil id sorts first.
        let mut after = at.map(|t| (t + chrono::Duration::microseconds(1), Uuid::nil()));
        loop {
            let page =
                catalog::BackupPage { source_id: Some(source_id), complete_only: true, after, limit: Some(PAGE), ..Default::default() };
            let backups = self.backups_page(caller, &page).await?;
            let last = backups.last().map(|b| (b.created_at, b.id));
            let full = backups.len() as u64 == PAGE;
            if let Some(found) = backups.into_iter().find(|b| selection.is_none_or(|s| b.selection.holds_tables_of(s))) {
                return Ok(Some(found));
            }
            match last {
                Some(cursor) if full => after = Some(cursor),
                _ => return Ok(None),
            }
        }
    }

    /// The backups of a source whose stored tag is `tag`, or made within the second starting at
    /// `made_in` (for tags a dialect derives from the created time).
    pub async fn backups_tagged(
        &self,
        caller: &Principal,
        source_id: Uuid,
        tag: &str,
        made_in: Option<DateTime<Utc>>,
    ) -> CoreResult<Vec<Backup>> {
        catalog::backups_tagged(&self.inner.db, caller.tenant_id, source_id, tag, made_in).await
    }

    /// A source's complete backups in sum: when the newest finished and the bytes they store.
    pub async fn complete_backup_totals(&self, caller: &Principal, source_id: Uuid) -> CoreResult<(Option<DateTime<Utc>>, i64)> {
        catalog::complete_backup_totals(&self.inner.db, caller.tenant_id, source_id).await
    }

    /// When the source's complete backup (of one plan, when given) that finished last finished.
    pub async fn last_completion(&self, caller: &Principal, source_id: Uuid, plan_id: Option<Uuid>) -> CoreResult<Option<DateTime<Utc>>> {
        catalog::last_completion(&self.inner.db, caller.tenant_id, source_id, plan_id).await
    }

    /// A source's events of one kind (`backup.deleted`, ...), newest first.
    pub async fn source_events(&self, caller: &Principal, source_id: Uuid, kind: &str) -> CoreResult<Vec<crate::domain::operation::Event>> {
        catalog::source_events(&self.inner.db, caller.tenant_id, source_id, kind).await
    }

    /// The per-node parts and the copies of many backups at once, for listings (a few queries,
    /// not a few per backup); backups of tenants the caller cannot see are left out.
    pub async fn backup_details(&self, caller: &Principal, backups: &[Backup]) -> CoreResult<BackupDetails> {
        let ids = visible_ids(caller, backups);
        let db = &self.inner.db;
        Ok(BackupDetails { nodes: catalog::backup_nodes_of_many(db, &ids).await?, copies: catalog::backup_copies_of_many(db, &ids).await? })
    }

    /// Only the copies of many backups (for filtering by destination before reading more).
    pub async fn backup_copies_of_many(&self, caller: &Principal, backups: &[Backup]) -> CoreResult<HashMap<Uuid, Vec<Uuid>>> {
        catalog::backup_copies_of_many(&self.inner.db, &visible_ids(caller, backups)).await
    }

    pub async fn backup_nodes(&self, caller: &Principal, id: Uuid) -> CoreResult<Vec<BackupNode>> {
        self.backup(caller, id).await?;
        catalog::backup_nodes_of(&self.inner.db, id).await
    }

    pub async fn operation(&self, caller: &Principal, id: Uuid) -> CoreResult<Operation> {
        catalog::get_operation(&self.inner.db, tenant_scope(caller), id)
            .await?
            .ok_or_else(|| CoreError::not_found("operation", id.to_string()))
    }

    /// The caller's tenant's newest operations of the given kinds (every kind when none is given).
    pub async fn operations(&self, caller: &Principal, kinds: &[OperationKind], limit: u64) -> CoreResult<Vec<Operation>> {
        catalog::list_operations(&self.inner.db, Some(caller.tenant_id), kinds, limit).await
    }

    /// Operations of one kind on one source of the caller's tenant, newest first.
    pub async fn source_operations(
        &self,
        caller: &Principal,
        source_id: Uuid,
        kind: OperationKind,
        limit: u64,
    ) -> CoreResult<Vec<Operation>> {
        let source = self.source_row(caller, source_id).await?;
        catalog::source_operations(&self.inner.db, source.tenant_id, source.id, kind, limit).await
    }

    /// The tasks of many operations the caller may see, by operation (a listing's batch read).
    pub async fn tasks_of_many(&self, caller: &Principal, operations: &[Operation]) -> CoreResult<HashMap<Uuid, Vec<Task>>> {
        let ids: Vec<Uuid> = operations.iter().filter(|o| caller.can_see_tenant(o.tenant_id)).map(|o| o.id).collect();
        let mut tasks = catalog::tasks_of_many(&self.inner.db, &ids).await?;
        for t in tasks.values_mut().flatten() {
            hide_secrets(&mut t.spec);
        }
        Ok(tasks)
    }

    pub async fn tasks(&self, caller: &Principal, operation_id: Uuid) -> CoreResult<Vec<Task>> {
        self.operation(caller, operation_id).await?;
        let mut tasks = catalog::tasks_of(&self.inner.db, operation_id).await?;
        for t in &mut tasks {
            hide_secrets(&mut t.spec);
        }
        Ok(tasks)
    }

    // ---- agents' side ----

    /// Notes that `agent` asked: its last-seen time (written at most a few times per
    /// `agent_down_after_secs`, well before it would count as down) and the heartbeat metric.
    async fn heard_from(&self, agent: &Agent) -> CoreResult<()> {
        let down_after_ms = self.inner.settings.agent_down_after_secs.saturating_mul(1000) as i64;
        let fresh_for = Duration::milliseconds((down_after_ms / 4).min(5_000));
        catalog::touch_agent(&self.inner.db, agent.id, fresh_for).await?;
        self.inner.metrics.heartbeat(&agent.name, agent.id);
        Ok(())
    }

    /// Hands the agent its oldest queued task, with a lease; `None` when it has nothing to do.
    pub async fn claim(&self, agent: &Agent) -> CoreResult<Option<Assignment>> {
        let db = &self.inner.db;
        self.heard_from(agent).await?;
        let Some(task) =
            catalog::claim_task(db, agent.id, &self.inner.owner, Duration::seconds(self.inner.settings.lease_secs.clamp(2, 3600) as i64))
                .await?
        else {
            return Ok(None);
        };
        let Some(op) = catalog::get_operation(db, None, task.operation_id).await? else { return Ok(None) };
        catalog::transition_operation(db, op.id, &[State::Queued], State::Running, OperationPatch { started: true, ..Default::default() })
            .await?;
        // A backup (or a copy to a region, a backup of its own) is BUILDING once its work starts.
        if let Some(backup_id) = op.backup_id.filter(|_| matches!(op.kind, OperationKind::Backup | OperationKind::Copy))
            && let Some(mut b) = catalog::get_backup(db, None, backup_id).await?
            && b.state == State::Queued
        {
            b.state = State::Running;
            b.updated_at = Utc::now();
            catalog::save_backup(db, &b).await?;
        }
        let requested = op.params.get("destination_id").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok());
        let destination_id = match (task.spec.destination().or(requested), op.backup_id) {
            (Some(d), _) => d,
            (None, Some(id)) => catalog::get_backup(db, None, id).await?.map(|b| b.destination_id).unwrap_or(self.inner.server_destination),
            (None, None) => self.inner.server_destination,
        };
        // The repository is created here, once, before any agent opens it: agents opening a
        // missing repository at the same time would each write a config with its own key.
        if !agent.is_local()
            && let Err(e) = self.inner.stores.store(destination_id, op.tenant_id).await
        {
            tracing::warn!(destination = %destination_id, error = %e, "could not open the repository before handing out a task");
        }
        let mut spec = task.spec.clone();
        match &mut spec {
            TaskSpec::BackupDatabase { location, .. } | TaskSpec::RestoreDatabase { target: location, .. } => {
                *location = self.inner.secrets.open(location)?
            }
            _ => {}
        }
        Ok(Some(Assignment {
            task_id: task.id,
            operation_id: op.id,
            destination_id,
            spec,
            throttle_bytes_per_sec: op.options.throttle_bytes_per_sec,
            store_key: self.inner.stores.key().map(hex::encode),
            lease_secs: self.inner.settings.lease_secs.clamp(2, 3600),
            attempt: task.attempts,
        }))
    }

    /// Records progress; answers whether the agent should stop (cancelled, or no longer its task:
    /// its lease ran out and the task was queued again or claimed anew, `attempt` naming an older claim).
    pub async fn report(&self, agent: &Agent, task_id: Uuid, attempt: Option<i32>, progress: &TaskProgress) -> CoreResult<bool> {
        let db = &self.inner.db;
        self.heard_from(agent).await?;
        let lease = Duration::seconds(self.inner.settings.lease_secs.clamp(2, 3600) as i64);
        let Some(cancel) = catalog::report_progress(db, task_id, agent.id, attempt, progress, lease).await? else {
            return Ok(true);
        };
        if let Some(task) = catalog::get_task(db, task_id).await? {
            self.update_progress(task.operation_id).await?;
        }
        Ok(cancel)
    }

    /// Records how a task ended and finishes its operation when it was the last; an older claim
    /// (`attempt`) than the task's latest is refused, so a handed-over task ends exactly once.
    pub async fn finish(&self, agent: &Agent, task_id: Uuid, attempt: Option<i32>, outcome: TaskOutcome) -> CoreResult<()> {
        let db = &self.inner.db;
        let task = catalog::get_task(db, task_id)
            .await?
            .filter(|t| t.agent_id == agent.id)
            .ok_or_else(|| CoreError::not_found("task", task_id.to_string()))?;
        if !catalog::finish_task(db, task_id, agent.id, attempt, &outcome).await? {
            // The same claim reporting its end again (its first report was recorded, then
            // something after it failed): end the operation if it has not ended, and answer as before.
            if task.state.is_terminal() && attempt.is_none_or(|n| n == task.attempts) {
                return self.maybe_finish(task.operation_id).await;
            }
            return Err(CoreError::Conflict(match attempt {
                Some(n) if n != task.attempts => {
                    format!("task {task_id} was handed over: this is claim {n}, the task is on claim {}", task.attempts)
                }
                _ => format!("task {task_id} is no longer running on this agent"),
            }));
        }
        let ran = task.started_at.map(|at| (Utc::now() - at).to_std().unwrap_or_default()).unwrap_or_default();
        let moved = &outcome.progress;
        self.inner.metrics.task_ended(
            task.spec.kind(),
            outcome.state.as_str(),
            moved.files_done.max(0) as u64,
            moved.bytes_done.max(0) as u64,
            ran,
        );
        self.record_segments(&task, &outcome).await?;
        self.maybe_finish(task.operation_id).await
    }

    async fn update_progress(&self, operation_id: Uuid) -> CoreResult<()> {
        let tasks = catalog::tasks_of(&self.inner.db, operation_id).await?;
        if tasks.is_empty() {
            return Ok(());
        }
        let mean = tasks.iter().map(|t| if t.state.is_terminal() { 1.0 } else { t.progress.fraction() }).sum::<f64>() / tasks.len() as f64;
        catalog::set_operation_progress(&self.inner.db, operation_id, mean).await
    }

    /// Ends the operation when all its tasks have ended; exactly one caller does the ending.
    pub(crate) async fn maybe_finish(&self, operation_id: Uuid) -> CoreResult<()> {
        let db = &self.inner.db;
        let tasks = catalog::tasks_of(db, operation_id).await?;
        if tasks.iter().any(|t| !t.state.is_terminal()) {
            return self.update_progress(operation_id).await;
        }
        let Some(op) = catalog::get_operation(db, None, operation_id).await? else { return Ok(()) };
        if op.state.is_terminal() {
            return Ok(());
        }
        let cancelled = tasks.iter().any(|t| t.state == State::Cancelled);
        let failed: Vec<&Task> = tasks.iter().filter(|t| t.state == State::Failed).collect();
        let partial = tasks.iter().any(|t| matches!(t.state, State::SucceededWithErrors | State::Skipped));
        let state = if !failed.is_empty() {
            State::Failed
        } else if cancelled {
            State::Cancelled
        } else if partial {
            State::SucceededWithErrors
        } else {
            State::Succeeded
        };
        let error = if failed.is_empty() {
            None
        } else {
            Some(
                failed
                    .iter()
                    .map(|t| format!("{}: {}", t.node_name, t.error.as_deref().unwrap_or("failed")))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        let result = match op.kind {
            OperationKind::Verify | OperationKind::Delete | OperationKind::Copy => {
                tasks.first().map(|t| t.result.clone()).unwrap_or(Value::Null)
            }
            _ => {
                let mut r = if op.result.is_object() { op.result.clone() } else { json!({}) };
                r["files"] = json!(tasks.iter().map(|t| sum(&t.result, "files")).sum::<i64>());
                r["bytes"] = json!(tasks.iter().map(|t| sum(&t.result, "bytes")).sum::<i64>());
                r
            }
        };
        // The operation's end and its backup's end are one transaction: whoever sees the
        // operation ended also sees the backup ended.
        let patch = OperationPatch { progress: Some(1.0), error: error.clone(), result: Some(result), started: op.started_at.is_none() };
        let txn = db.begin().await?;
        if !catalog::transition_operation(&txn, op.id, &[State::Queued, State::Running, State::Cancelling], state, patch).await? {
            txn.rollback().await?;
            return Ok(());
        }
        let ended_backup = match op.kind {
            OperationKind::Backup => self.finish_backup(&txn, &op, &tasks, state, error.clone()).await?,
            OperationKind::Copy if op.params.get("copy_of").is_some() => {
                self.finish_region_copy(&txn, &op, &tasks, state, error.clone()).await?
            }
            OperationKind::Delete => {
                finish_delete(&txn, &op, state, error.clone()).await?;
                None
            }
            _ => None,
        };
        // A copy is listed from the moment its operation shows it ended.
        if op.kind == OperationKind::Copy
            && state.is_success()
            && let (Some(backup), Some(to)) =
                (op.backup_id, op.params.get("to").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok()))
        {
            catalog::add_backup_copy(&txn, backup, to).await?;
        }
        txn.commit().await?;
        if op.kind == OperationKind::Delete
            && state.is_success()
            && let Some(d) = op.params.get("remove_destination").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
        {
            self.remove_destination_if_empty(d).await?;
        }
        if let Some(backup) = ended_backup.as_ref().filter(|b| b.state.is_success()) {
            let copies: Vec<Uuid> = op.params.get("copy_to").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            for to in copies {
                if let Err(e) = self.start_copy(&super::plans::scheduler(backup.tenant_id), backup.id, to).await {
                    tracing::warn!(backup = %backup.id, error = %e, "could not start a requested copy");
                }
            }
            let regions: Vec<String> =
                op.params.get("copy_to_regions").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            for region in regions {
                let copy = super::regions::RegionCopy { backup_id: backup.id, region, ..Default::default() };
                if let Err(e) = self.start_region_copy(&super::plans::scheduler(backup.tenant_id), copy).await {
                    tracing::warn!(backup = %backup.id, error = %e, "could not start a requested copy to a region");
                }
            }
            if let Some(plan) = backup.plan_id {
                self.apply_plan_retention(plan).await?;
            }
        }
        let msg = match (&ended_backup, op.kind) {
            (Some(backup), _) => {
                self.after_failed_backup(backup).await;
                format!("backup '{}' {state}{}", backup.name, backup.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())
            }
            (None, OperationKind::Delete) if state.is_success() => {
                format!("deleted {} backup(s)", op.params.get("backups").and_then(Value::as_array).map(Vec::len).unwrap_or(0))
            }
            _ => format!("{} {state}{}", op.kind, error.map(|e| format!(": {e}")).unwrap_or_default()),
        };
        if op.kind == OperationKind::Archive && state == State::Succeeded && tasks.iter().all(|t| sum(&t.result, "files") == 0) {
            return Ok(()); // a round that found nothing new is not news
        }
        tracing::info!(operation = %op.id, kind = %op.kind, state = %state, "{msg}");
        catalog::add_event(db, op.tenant_id, &format!("{}.{state}", op.kind), &msg, Some(op.id), op.backup_id, op.source_id).await
    }

    /// Records the end of a backup inside the operation's ending transaction.
    async fn finish_backup(
        &self,
        db: &impl ConnectionTrait,
        op: &Operation,
        tasks: &[Task],
        state: State,
        error: Option<String>,
    ) -> CoreResult<Option<Backup>> {
        let Some(backup_id) = op.backup_id else { return Ok(None) };
        let Some(mut backup) = catalog::get_backup(db, None, backup_id).await? else { return Ok(None) };
        for t in tasks {
            if let Some(node_id) = t.node_id {
                let node = BackupNode {
                    backup_id,
                    node_id,
                    node_name: t.node_name.clone(),
                    state: t.state,
                    files: sum(&t.result, "files"),
                    bytes: sum(&t.result, "bytes"),
                    stored_bytes: sum(&t.result, "stored_bytes"),
                    detail: json!({ "tables": t.result.get("tables").cloned().unwrap_or(json!({})), "errors": t.result.get("errors").cloned().unwrap_or(json!([])), "error": t.error, "stored_files": t.result.get("stored_files") }),
                };
                catalog::save_backup_node(db, &node).await?;
            }
        }
        backup.state = state;
        backup.error = error;
        backup.size_bytes = tasks.iter().map(|t| sum(&t.result, "bytes")).sum();
        backup.stored_bytes = tasks.iter().map(|t| sum(&t.result, "stored_bytes")).sum();
        backup.file_count = tasks.iter().map(|t| sum(&t.result, "files")).sum();
        backup.updated_at = Utc::now();
        if state.is_success() {
            backup.completed_at = Some(backup.updated_at);
        }
        catalog::save_backup(db, &backup).await?;
        Ok(Some(backup))
    }

    /// Manifests a failed backup left behind would keep its chunks alive; drop them.
    async fn after_failed_backup(&self, backup: &Backup) {
        if backup.state.is_success() {
            return;
        }
        match self.inner.stores.store(backup.destination_id, backup.tenant_id).await {
            Ok(store) => {
                if let Err(e) = store.delete_snapshot(&backup.id.to_string()).await {
                    tracing::warn!(backup = %backup.id, error = %e, "could not remove the manifests of a failed backup");
                }
            }
            Err(e) => tracing::warn!(backup = %backup.id, error = %e, "could not open the store to clean up a failed backup"),
        }
    }

    // ---- recovery ----

    /// After a restart: tasks this server's own agent was running were interrupted; they start
    /// again (up to three attempts) or fail. Operations whose tasks all ended are finished. The
    /// tasks other servers sharing the database run are theirs until their leases run out.
    pub async fn recover(&self) -> CoreResult<()> {
        let db = &self.inner.db;
        let ours = super::owner_prefix(&self.inner.settings);
        for op in catalog::operations_in(db, &[State::Queued, State::Running, State::Cancelling]).await? {
            let local = self.local_agent(op.tenant_id).await?;
            for t in catalog::running_tasks_of_agent(db, local.id).await? {
                if t.lease_owner.as_deref().is_none_or(|owner| owner.starts_with(&ours)) {
                    self.requeue_or_fail(&t, false, "the server restarted while it ran").await?;
                }
            }
            self.maybe_finish(op.id).await?;
        }
        Ok(())
    }

    /// Gives tasks whose agent stopped reporting to their agent again, or fails them; queued
    /// tasks of an agent that went down are skipped (force) or fail.
    pub async fn reap_expired(&self) -> CoreResult<()> {
        let db = &self.inner.db;
        for t in catalog::expired_tasks(db).await? {
            self.requeue_or_fail(&t, true, "its agent stopped reporting").await?;
            self.maybe_finish(t.operation_id).await?;
        }
        let now = Utc::now();
        for t in catalog::queued_tasks(db).await? {
            let Some(agent) = catalog::get_agent(db, t.agent_id).await? else { continue };
            if agent.is_up(now, self.inner.settings.agent_down_after_secs) {
                continue;
            }
            let force = catalog::get_operation(db, None, t.operation_id).await?.is_some_and(|op| op.options.force);
            let (state, why) = if force {
                (State::Skipped, "node down; skipped (force)")
            } else {
                (State::Failed, "node down: its agent is not reachable")
            };
            catalog::set_task_state(db, t.id, &[State::Queued], state, Some(format!("{}: {why}", agent.name))).await?;
            self.maybe_finish(t.operation_id).await?;
        }
        Ok(())
    }

    async fn requeue_or_fail(&self, t: &Task, expired_only: bool, why: &str) -> CoreResult<()> {
        let db = &self.inner.db;
        let taken = if t.attempts >= MAX_ATTEMPTS {
            let why = format!("interrupted {} times; last because {why}", t.attempts);
            catalog::take_back_task(db, t.id, t.attempts, expired_only, State::Failed, Some(why)).await?
        } else {
            let taken = catalog::take_back_task(db, t.id, t.attempts, expired_only, State::Queued, None).await?;
            if taken {
                tracing::warn!(task = %t.id, operation = %t.operation_id, node = %t.node_name, "task interrupted ({why}); queued again");
                self.wake_local();
            }
            taken
        };
        if taken {
            self.inner.metrics.lease_takeover();
        }
        Ok(())
    }
}

/// Removes the rows of deleted backups, or marks them DeleteFailed, inside the ending transaction.
async fn finish_delete(db: &impl ConnectionTrait, op: &Operation, state: State, error: Option<String>) -> CoreResult<()> {
    if let (Some(backup), Some(at)) = (op.backup_id, op.params.get("copy_at").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()))
    {
        if !state.is_success() {
            return Ok(());
        }
        // The backup's own place went: a copy kept elsewhere becomes its place.
        let own_place = catalog::get_backup(db, None, backup).await?.is_some_and(|b| b.destination_id == at);
        let asked = op.params.get("kept_at").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let copies = catalog::backup_copies_of(db, backup).await?;
        let kept = asked.filter(|k| copies.contains(k)).or_else(|| copies.iter().copied().find(|c| *c != at));
        match kept {
            Some(kept) if own_place => catalog::promote_backup_copy(db, backup, kept).await?,
            None if own_place => {
                if let Some(mut b) = catalog::get_backup(db, None, backup).await? {
                    b.state = State::Failed;
                    b.error = Some("its data was deleted and no copy was left".into());
                    catalog::save_backup(db, &b).await?;
                }
            }
            _ => catalog::remove_backup_copy(db, backup, at).await?,
        }
        return Ok(());
    }
    let ids: Vec<Uuid> = op.params.get("backups").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    for id in ids.iter().rev() {
        if state.is_success() {
            // What the backup was stays in the event log, so histories can show it as deleted.
            if let Some(b) = catalog::get_backup(db, None, *id).await? {
                let tables: Vec<String> = catalog::backup_nodes_of(db, *id)
                    .await?
                    .iter()
                    .flat_map(|n| n.detail.get("tables").and_then(Value::as_object).into_iter().flatten().map(|(t, _)| t.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let record = json!({ "tag": b.tag, "created_at": b.created_at, "destination_id": b.destination_id, "state": b.state, "tables": tables });
                catalog::add_event(db, b.tenant_id, "backup.deleted", &record.to_string(), Some(op.id), Some(b.id), Some(b.source_id))
                    .await?;
            }
            catalog::delete_backup_row(db, *id).await?;
        } else if let Some(mut b) = catalog::get_backup(db, None, *id).await? {
            b.state = State::DeleteFailed;
            b.error = error.clone();
            catalog::save_backup(db, &b).await?;
        }
    }
    Ok(())
}

/// Removes connection strings from task specs shown to users.
fn hide_secrets(spec: &mut TaskSpec) {
    if let TaskSpec::BackupDatabase { location, .. } | TaskSpec::RestoreDatabase { target: location, .. } = spec {
        *location = "<sealed>".into();
    }
}
