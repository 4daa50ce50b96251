//! Instaclustr provisioning API v1: clusters by UUID, their backup and restore events, a backup
//! on demand, and a restore to a new cluster at a point in time. A thin translator over the
//! engine; the clusters are the same sources the OpsCenter dialect serves by name.

pub mod error;

use chrono::{DateTime, TimeZone, Utc};
use poem::{Endpoint, IntoResponse, Request, Response, http::header, web::Data};
use poem_openapi::{ApiResponse, OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    api::common::security::Caller,
    domain::{
        backup::Selection,
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task},
        source::SourceKind,
        state::State,
    },
    engine::{BackupSpec, MomentUnit, PitAsk, RestoreSpec, RestoreTarget, SourceView},
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum ProvisioningTag {
    /// Clusters.
    Clusters,
    /// Backups and restores.
    BackupAndRestore,
}

/// The provisioning API.
pub struct ProvisioningApi;

/// The earliest point in time a restore may name (2015-01-01, in ms).
const EARLIEST_MS: i64 = 1_420_070_400_000;
/// How far back the backup events go.
const EVENT_DAYS: i64 = 7;

#[derive(ApiResponse)]
enum Accepted {
    /// The cluster (clients expect 202 here).
    #[oai(status = 202)]
    Ok(Json<Value>),
}

#[derive(ApiResponse)]
enum Triggered {
    /// The backup was started.
    #[oai(status = 204)]
    Started,
}

/// POST bodies must be JSON (415 otherwise); an empty body is an empty object, as the restore
/// endpoint documents.
pub async fn json_bodies<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<Response> {
    if *req.method() == poem::http::Method::POST {
        let bytes = req.take_body().into_bytes().await?;
        let is_json = req.content_type().is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
        if bytes.iter().all(u8::is_ascii_whitespace) {
            req.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
            req.set_body(b"{}".to_vec());
        } else if is_json {
            req.set_body(bytes);
        } else {
            return Err(CoreError::UnsupportedMediaType("the body must be application/json".into()).into());
        }
    }
    Ok(ep.call(req).await?.into_response())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stable id for a data centre of a cluster.
fn dc_id(cluster: Uuid, dc: &str) -> Uuid {
    Uuid::new_v5(&cluster, dc.as_bytes())
}

async fn cluster(state: &AppState, p: &Principal, id: &str) -> Result<SourceView, CoreError> {
    let not_found = || CoreError::not_found("cluster", id);
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    state.engine.source(p, uuid).await.ok().filter(|v| v.source.kind == SourceKind::Cluster).ok_or_else(not_found)
}

/// RUNNING, or PROVISIONING while the restore that creates it runs (FAILED if it failed).
async fn cluster_status(state: &AppState, p: &Principal, view: &SourceView) -> &'static str {
    let restore = view.source.config.get("restore_operation").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    match restore {
        Some(op) => match state.engine.operation(p, op).await.map(|o| o.state) {
            Ok(s) if s.is_success() => "RUNNING",
            Ok(s) if s.is_terminal() => "FAILED",
            Ok(_) => "PROVISIONING",
            Err(_) => "RUNNING",
        },
        None => "RUNNING",
    }
}

/// The cluster status document, with each data centre and node.
async fn status_document(state: &AppState, p: &Principal, view: &SourceView) -> Result<Value, CoreError> {
    let status = cluster_status(state, p, view).await;
    let agents = state.engine.list_agents(p).await?;
    let now = Utc::now();
    let mut dcs: Vec<String> = Vec::new();
    for dc in view.nodes.iter().map(|n| n.datacenter.clone().unwrap_or_else(|| "dc1".into())) {
        if !dcs.contains(&dc) {
            dcs.push(dc);
        }
    }
    let data_centres: Vec<Value> = dcs
        .iter()
        .map(|dc| {
            let nodes: Vec<Value> = view
                .nodes
                .iter()
                .filter(|n| n.datacenter.as_deref().unwrap_or("dc1") == dc)
                .map(|n| {
                    let up = agents.iter().any(|a| a.name == n.agent && a.is_up(now, state.settings.agent_down_after_secs));
                    let node_status = match (status, up) {
                        ("RUNNING", true) => "RUNNING",
                        ("RUNNING", false) => "UNAVAILABLE",
                        (other, _) => other,
                    };
                    json!({ "id": n.id, "size": "coffer-node", "rack": null, "publicAddress": n.name, "privateAddress": n.name, "nodeStatus": node_status, "agent": n.agent })
                })
                .collect();
            json!({
                "id": dc_id(view.source.id, dc),
                "name": dc,
                "cdcName": dc,
                "provider": "COFFER",
                "cdcNetwork": view.source.config.get("cluster_network").cloned().unwrap_or(Value::Null),
                "bundles": ["APACHE_CASSANDRA"],
                "nodeCount": nodes.len(),
                "cdcStatus": status,
                "nodes": nodes,
            })
        })
        .collect();
    Ok(json!({
        "id": view.source.id,
        "clusterName": view.source.name,
        "clusterStatus": status,
        "bundleType": "APACHE_CASSANDRA",
        "slaTier": "NON_PRODUCTION",
        "pciCompliance": "DISABLED",
        "dataCentre": dcs.first(),
        "dataCentres": data_centres,
    }))
}

/// One node's event of a backup (`snapshot-upload`) or restore (`snapshot-download`) task. A
/// node's part is COMPLETED once the whole operation ended: until then the backup cannot be
/// restored, and a script that restores on seeing every node COMPLETED would be refused.
fn event(kind: &str, task: &Task, op: &Operation) -> Value {
    let state = match task.state {
        s if s.is_success() && op.state.is_terminal() => "COMPLETED",
        s if s.is_success() => "ACTIVE",
        State::Queued | State::Running | State::Cancelling => "ACTIVE",
        _ => "FAILED",
    };
    let progress = if task.state.is_terminal() { 1.0 } else { task.progress.fraction() };
    json!({
        "type": kind,
        "state": state,
        "progress": progress,
        "start": ms(task.started_at.unwrap_or(task.created_at)),
        "end": if task.state.is_terminal() { task.finished_at.map(ms) } else { None },
    })
}

/// `ks.t1,ks.t2` as a selection of tables.
pub(crate) fn tables(list: &str) -> Result<Selection, CoreError> {
    let mut selection = Selection::default();
    for t in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match t.split_once('.') {
            Some((ks, table)) if !ks.is_empty() && !table.is_empty() && !table.contains('.') => selection.tables.push(t.to_owned()),
            _ => return Err(CoreError::BadRequest(format!("keyspaceTables entry '{t}' is not <keyspace>.<table>"))),
        }
    }
    Ok(selection)
}

pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The data directory a restored node gets: a sibling of the original's (`data` becomes
/// `data-<new cluster>`), so it can never land inside the live data.
fn new_location(original: &str, cluster_name: &str) -> String {
    let path = std::path::Path::new(original.trim_end_matches('/'));
    let leaf = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    path.with_file_name(format!("{leaf}-{cluster_name}")).display().to_string()
}

#[OpenApi]
impl ProvisioningApi {
    /// The account's clusters (404 when there are none, as clients expect).
    #[oai(path = "/provisioning/v1", method = "get", operation_id = "instaclustr_clusters", tag = "ProvisioningTag::Clusters")]
    async fn clusters(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let views = state.engine.list_sources(p, Some(SourceKind::Cluster)).await?;
        if views.is_empty() {
            return Err(CoreError::NoRoute("/provisioning/v1: the account has no clusters".into()).into());
        }
        let mut out = Vec::new();
        for v in &views {
            let doc = status_document(&state, p, v).await?;
            let nodes: Vec<&Value> =
                doc["dataCentres"].as_array().into_iter().flatten().flat_map(|dc| dc["nodes"].as_array().into_iter().flatten()).collect();
            out.push(json!({
                "id": v.source.id,
                "name": v.source.name,
                "nodeCount": nodes.len(),
                "runningNodeCount": nodes.iter().filter(|n| n["nodeStatus"] == "RUNNING").count(),
                "derivedStatus": doc["clusterStatus"],
                "slaTier": "NON_PRODUCTION",
                "pciCompliance": "DISABLED",
            }));
        }
        Ok(Json(json!(out)))
    }

    /// The cluster's status, data centres and nodes (202, as clients require).
    #[oai(path = "/provisioning/v1/:cluster_id", method = "get", operation_id = "instaclustr_cluster", tag = "ProvisioningTag::Clusters")]
    async fn cluster(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        Ok(Accepted::Ok(Json(status_document(&state, p, &view).await?)))
    }

    /// The same document under the path newer Terraform providers read.
    #[oai(
        path = "/provisioning/v1/:cluster_id/terraform-description",
        method = "get",
        operation_id = "instaclustr_terraform_description",
        tag = "ProvisioningTag::Clusters"
    )]
    async fn terraform(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        Ok(Accepted::Ok(Json(status_document(&state, p, &view).await?)))
    }

    /// Removes the cluster from the account (its data and backups stay); 409 while work on it runs.
    #[oai(
        path = "/provisioning/v1/:cluster_id",
        method = "delete",
        operation_id = "instaclustr_delete_cluster",
        tag = "ProvisioningTag::Clusters"
    )]
    async fn delete(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Accepted> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        state.engine.delete_cluster(p, view.source.id).await?;
        Ok(Accepted::Ok(Json(json!({ "message": format!("cluster {} deleted", view.source.id) }))))
    }

    /// Backups and restores of each node over the last 7 days, with live progress.
    #[oai(
        path = "/provisioning/v1/:cluster_id/backups",
        method = "get",
        operation_id = "instaclustr_backups",
        tag = "ProvisioningTag::BackupAndRestore"
    )]
    async fn backups(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let since = Utc::now() - chrono::Duration::days(EVENT_DAYS);
        let mut ops: Vec<(&str, Operation)> = Vec::new();
        for op in state
            .engine
            .source_operations(p, view.source.id, OperationKind::Backup, 500)
            .await?
            .into_iter()
            .filter(|o| o.created_at >= since)
        {
            ops.push(("snapshot-upload", op));
        }
        // A restored cluster lists the restore that filled its nodes.
        if let Some(id) = view.source.config.get("restore_operation").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
            && let Ok(op) = state.engine.operation(p, id).await
            && op.created_at >= since
        {
            ops.push(("snapshot-download", op));
        }
        ops.sort_by_key(|(_, op)| op.created_at);
        let tasks = state.engine.tasks_of_many(p, &ops.iter().map(|(_, op)| op.clone()).collect::<Vec<_>>()).await?;
        let mut per_node: std::collections::HashMap<String, Vec<Value>> = std::collections::HashMap::new();
        for (word, op) in &ops {
            for task in tasks.get(&op.id).into_iter().flatten() {
                per_node.entry(task.node_name.clone()).or_default().push(event(word, task, op));
            }
        }
        let doc = status_document(&state, p, &view).await?;
        let dcs: Vec<Value> = doc["dataCentres"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|dc| {
                let nodes: Vec<Value> = dc["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        let name = n["publicAddress"].as_str().unwrap_or_default();
                        json!({ "id": n["id"], "publicAddress": name, "privateAddress": name, "events": per_node.get(name).cloned().unwrap_or_default() })
                    })
                    .collect();
                json!({ "id": dc["id"], "name": dc["name"], "nodes": nodes })
            })
            .collect();
        Ok(Json(json!({ "id": view.source.id, "name": view.source.name, "clusterDataCentres": dcs })))
    }

    /// Starts a backup of every node (204); 503 when no node's agent can take it.
    #[oai(
        path = "/provisioning/v1/:cluster_id/backups",
        method = "post",
        operation_id = "instaclustr_trigger_backup",
        tag = "ProvisioningTag::BackupAndRestore"
    )]
    async fn trigger(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        _body: Json<Value>,
    ) -> poem::Result<Triggered> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        if cluster_status(&state, p, &view).await == "PROVISIONING" {
            return Err(CoreError::Conflict("the cluster is still being restored; back it up once it is RUNNING".into()).into());
        }
        let spec =
            BackupSpec { source_id: view.source.id, options: OperationOptions { force: true, ..Default::default() }, ..Default::default() };
        match state.engine.start_backup(p, spec).await {
            Ok(_) => Ok(Triggered::Started),
            Err(CoreError::Unavailable(_)) => Err(CoreError::Unavailable("Backup capability is not available".into()).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Restores the cluster as it was at `pointInTime` (ms; now when absent) into a NEW cluster,
    /// optionally only `keyspaceTables`' data; answers the new cluster's id.
    #[oai(
        path = "/provisioning/v1/:cluster_id/backups/restore",
        method = "post",
        operation_id = "instaclustr_restore",
        tag = "ProvisioningTag::BackupAndRestore"
    )]
    async fn restore(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let mut dcs: Vec<Uuid> = view.nodes.iter().map(|n| dc_id(view.source.id, n.datacenter.as_deref().unwrap_or("dc1"))).collect();
        dcs.sort();
        dcs.dedup();
        let RestoreRequest { name, at, point_in_time_given, selection } = restore_request(&body.0, &view.source.name, &dcs, Utc::now())?;
        // A continuously backed-up cluster replays its commitlogs up to the moment asked for.
        let archiving = state.engine.archiving(p, view.source.id).await?;
        let point_in_time = match (point_in_time_given, archiving.destinations.keys().next()) {
            (true, Some(destination)) if archiving.enabled => Some(
                state
                    .engine
                    .pit_plan(
                        p,
                        view.source.id,
                        PitAsk {
                            at,
                            selection: &selection,
                            snapshot_destination: None,
                            pit_destination: Some(*destination),
                            unit: MomentUnit::Milliseconds,
                        },
                    )
                    .await
                    .map_err(|e| match e {
                        CoreError::BadRequest(m) if m.starts_with("No snapshots") => CoreError::PreconditionFailed(m),
                        other => other,
                    })?,
            ),
            _ => None,
        };
        let chosen = match point_in_time.as_ref() {
            Some(plan) => Some(plan.backup.clone()),
            None => state.engine.newest_backup_holding(p, view.source.id, Some(at), Some(&selection)).await?,
        };
        let Some(backup) = chosen.as_ref() else {
            let hint = match state.engine.newest_backup_holding(p, view.source.id, None, Some(&selection)).await? {
                Some(newest) => format!("; the newest was taken at {}", MomentUnit::Milliseconds.write(newest.created_at)),
                None => String::new(),
            };
            return Err(CoreError::PreconditionFailed(format!(
                "no complete backup of {} of cluster {} exists at or before {} ({}){hint}",
                if selection.tables.is_empty() { "every table".to_owned() } else { selection.tables.join(", ") },
                view.source.id,
                MomentUnit::Milliseconds.write(at),
                at.to_rfc3339()
            ))
            .into());
        };
        let parts = state.engine.backup_nodes(p, backup.id).await?;
        let locations: Vec<String> = parts
            .iter()
            .filter(|part| part.state.is_success())
            .map(|part| {
                let original = view
                    .nodes
                    .iter()
                    .find(|n| n.id == part.node_id)
                    .map(|n| n.location.clone())
                    .unwrap_or_else(|| format!("/tmp/{}", part.node_name));
                new_location(&original, &name)
            })
            .collect();
        let spec = RestoreSpec {
            backup_id: backup.id,
            target: RestoreTarget::NewCluster { name: name.clone(), locations, all_tables: true },
            selection,
            options: OperationOptions::default(),
            destination_id: None,
            point_in_time,
        };
        let op = state.engine.start_restore(p, spec).await?;
        let restored = op.result.get("source_id").cloned().unwrap_or(Value::Null);
        Ok(Json(json!({ "restoredCluster": restored })))
    }
}

/// What an Instaclustr restore body asks for.
#[derive(Debug)]
pub(crate) struct RestoreRequest {
    /// The new cluster's name (`clusterNameOverride`, or the source's name with the time).
    pub name: String,
    /// `pointInTime`, or `now` when absent.
    pub at: DateTime<Utc>,
    pub point_in_time_given: bool,
    /// `keyspaceTables`.
    pub selection: Selection,
}

/// Reads and checks a restore body: `clusterNameOverride`, `cdcInfos` (which must name every one of
/// `dcs`, the cluster's data centres, when given), `pointInTime` (ms), `keyspaceTables` and
/// `clusterNetwork`; every problem is a 400 naming the field.
pub(crate) fn restore_request(body: &Value, source_name: &str, dcs: &[Uuid], now: DateTime<Utc>) -> Result<RestoreRequest, CoreError> {
    let body = body.as_object().ok_or_else(|| CoreError::BadRequest("the body must be a JSON object".into()))?;
    let name = match body.get("clusterNameOverride") {
        None | Some(Value::Null) => format!("{source_name}-restored-{}", now.format("%Y-%m-%d-%H-%M-%S")),
        Some(Value::String(n)) if n.len() > 200 => {
            return Err(CoreError::BadRequest("clusterNameOverride can be at most 200 characters".into()));
        }
        Some(Value::String(n)) if valid_name(n) => n.clone(),
        Some(other) => return Err(CoreError::BadRequest(format!("clusterNameOverride {other} must match [a-zA-Z0-9][a-zA-Z0-9_-]*"))),
    };
    match body.get("cdcInfos") {
        None | Some(Value::Null) => {}
        Some(Value::Array(infos)) if infos.is_empty() => {}
        Some(Value::Array(infos)) => {
            let mut named: Vec<Uuid> =
                infos.iter().filter_map(|i| i.get("cdcId").and_then(Value::as_str)).filter_map(|s| Uuid::parse_str(s).ok()).collect();
            named.sort();
            named.dedup();
            if named != dcs || named.len() != infos.len() {
                return Err(CoreError::BadRequest("cdcInfos must name every data centre of the cluster (cdcId), or be left out".into()));
            }
        }
        Some(_) => return Err(CoreError::BadRequest("cdcInfos must be a list".into())),
    }
    let given = body.get("pointInTime").filter(|v| !v.is_null());
    let at = match given {
        None => now,
        Some(v) => match v.as_i64() {
            Some(t) if t >= EARLIEST_MS => {
                Utc.timestamp_millis_opt(t).single().ok_or_else(|| CoreError::BadRequest("pointInTime is out of range".into()))?
            }
            _ => return Err(CoreError::BadRequest(format!("pointInTime must be milliseconds since the epoch, at least {EARLIEST_MS}"))),
        },
    };
    let selection = match body.get("keyspaceTables") {
        None | Some(Value::Null) => Selection::default(),
        Some(Value::String(list)) => tables(list)?,
        Some(_) => return Err(CoreError::BadRequest("keyspaceTables must be a string such as ks.t1,ks.t2".into())),
    };
    if let Some(network) = body.get("clusterNetwork").filter(|v| !v.is_null()) {
        let ok = network.as_str().is_some_and(|n| {
            let (ip, prefix) = n.split_once('/').unwrap_or((n, "32"));
            ip.parse::<std::net::Ipv4Addr>().is_ok() && prefix.parse::<u8>().is_ok_and(|p| p <= 32)
        });
        if !ok {
            return Err(CoreError::BadRequest("clusterNetwork must be an IPv4 network such as 10.0.0.0/16".into()));
        }
    }
    Ok(RestoreRequest { name, at, point_in_time_given: given.is_some(), selection })
}
