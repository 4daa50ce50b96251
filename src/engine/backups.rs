//! Backups: checking a request and recording the backup, its operation and one task per node;
//! recording the backup's end inside its operation's ending transaction.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task, sum},
    stored::{BackupParams, instance_config},
};
use crate::{
    domain::{
        agent::Agent,
        backup::{Backup, BackupNode, Selection},
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskSpec},
        source::{Node, Source, SourceKind},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::{ConnectionTrait, catalog},
};

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

/// The member of an HA group a backup reads. The group lists its source first and then its replicas,
/// nearest first; the nearest replica that is up is read, so the source carries no backup load. With
/// no replica up the source itself is read (and a down source fails the backup as any down node does).
fn closest_replica(members: Vec<Node>, up: impl Fn(&Node) -> bool) -> CoreResult<Node> {
    let mut members = members.into_iter();
    let source = members.next().ok_or_else(|| CoreError::BadRequest("the HA group has no members".into()))?;
    Ok(members.find(|replica| up(replica)).unwrap_or(source))
}

impl Engine {
    /// Starts a backup: the backup and operation rows first, then one task per node.
    pub async fn start_backup(&self, caller: &Principal, spec: BackupSpec) -> CoreResult<(Operation, Backup)> {
        let db = &self.inner.db;
        let _starting = self.inner.starting.lock().await;
        let _everywhere = catalog::lock_starts(db).await?;
        let source = self.source_row(caller, spec.source_id).await?;
        let (region, copy_regions, copy_to) = self.backup_regions(caller, &spec).await?;
        let parent = self.backup_parent(&spec, &source, &region, &copy_regions).await?;
        self.check_backup_may_start(&spec, &source).await?;
        let agents = catalog::list_agents(db, source.tenant_id).await?;
        let now = Utc::now();
        let mut nodes = self.nodes_backed_up(&spec, &source, &agents, now).await?;
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
            None if source.kind == SourceKind::Cluster => self.opscenter_tag(&source, spec.plan_id, backup_id, now).await?,
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
        if region != self.home_region() {
            backup.metadata["region"] = json!(region);
        }
        let params = BackupParams { incremental: parent.is_some(), copy_to, copy_to_regions: copy_regions, nodes: nodes.len() };
        let op =
            new_operation(source.tenant_id, OperationKind::Backup, caller, Some(source.id), Some(backup_id), spec.options.clone(), params);
        backup.operation_id = Some(op.id);

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
                SourceKind::Instance | SourceKind::HaGroup => TaskSpec::BackupDatabase {
                    snapshot,
                    node_key,
                    datastore: instance_config(&source)?.datastore,
                    location: node.location.clone(),
                },
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

    /// The region a backup is made in, the other regions and the destinations it is copied to
    /// once complete.
    async fn backup_regions(&self, caller: &Principal, spec: &BackupSpec) -> CoreResult<(String, Vec<String>, Vec<Uuid>)> {
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
        Ok((region, copy_regions, copy_to))
    }

    /// The backup an incremental is based on: the one named, else the newest complete one made
    /// in (or copied to) the region; it must already be in every region the backup is copied to.
    async fn backup_parent(&self, spec: &BackupSpec, source: &Source, region: &str, copy_regions: &[String]) -> CoreResult<Option<Backup>> {
        let db = &self.inner.db;
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
                p
            }
            None if spec.incremental => catalog::list_backups(db, Some(source.tenant_id), Some(source.id))
                .await?
                .into_iter()
                .find(|b| b.state.is_success() && self.region_of(b) == region)
                .ok_or_else(|| {
                    CoreError::Conflict(format!(
                        "{} '{}' has no completed backup in {region} to base an incremental one on",
                        source.kind, source.name
                    ))
                })?,
            None => return Ok(None),
        };
        // An incremental goes to a region only where its parent already is (Cloud Databases' rule):
        // refused at once rather than by a copy that fails later.
        for r in copy_regions {
            if self.complete_in_region(db, &parent, r).await?.is_none() {
                return Err(CoreError::BadRequest(format!(
                    "the parent backup {} is not in {r}; copy it there before an incremental of it",
                    parent.id
                )));
            }
        }
        Ok(Some(parent))
    }

    /// Refuses a backup while another backup of the source, or a restore into it, runs, and a
    /// selection that does not fit the source.
    async fn check_backup_may_start(&self, spec: &BackupSpec, source: &Source) -> CoreResult<()> {
        let db = &self.inner.db;
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
        Ok(())
    }

    /// The nodes a backup reads: an HA group's closest replica that is up, else every node but
    /// the excluded ones.
    async fn nodes_backed_up(&self, spec: &BackupSpec, source: &Source, agents: &[Agent], now: DateTime<Utc>) -> CoreResult<Vec<Node>> {
        let mut nodes = catalog::nodes_of(&self.inner.db, source.id).await?;
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
        Ok(nodes)
    }

    /// OpsCenter's tag of a cluster backup: the schedule (or adhoc) and the second, unique within
    /// the cluster.
    async fn opscenter_tag(&self, source: &Source, plan_id: Option<Uuid>, backup_id: Uuid, now: DateTime<Utc>) -> CoreResult<String> {
        let taken: Vec<String> =
            catalog::list_backups(&self.inner.db, Some(source.tenant_id), Some(source.id)).await?.into_iter().map(|b| b.tag).collect();
        let origin = plan_id.map(|p| p.to_string()).unwrap_or_else(|| "adhoc".into());
        Ok((0..)
            .map(|s| format!("opscenter_{origin}_{}", (now + Duration::seconds(s)).format("%Y-%m-%d-%H-%M-%S-UTC")))
            .find(|t| !taken.contains(t))
            .unwrap_or_else(|| backup_id.to_string()))
    }

    /// Records the end of a backup inside the operation's ending transaction.
    pub(super) async fn finish_backup(
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
    pub(super) async fn after_failed_backup(&self, backup: &Backup) {
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
}
