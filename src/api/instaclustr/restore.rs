//! Restore to a new cluster: the newest backup at or before `pointInTime` (with the archived
//! commitlogs up to that moment on a continuously backed-up cluster), optionally only some
//! tables' data, with the networks asked for recorded on the new cluster.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json, types::ParseFromJSON};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{
    ProvisioningTag, cluster, dc_id, dc_of,
    models::{CdcPlace, RestoreRequest, RestoreResponse},
    ms,
};
use crate::{
    api::common::{forms::Formed, security::Caller},
    domain::{
        backup::{BackupNode, Selection},
        operation::OperationOptions,
    },
    engine::{MomentUnit, PitAsk, RestoreSpec, RestoreTarget, SourceView},
    error::CoreError,
    state::AppState,
};

/// The restore part of the provisioning API.
pub struct RestoreApi;

/// The earliest point in time a restore may name (2015-01-01, in ms).
const EARLIEST_MS: i64 = 1_420_070_400_000;

/// Where a restored cluster keeps what its restore asked for.
const RECORD_KEY: &str = "instaclustr_restore";

#[derive(ApiResponse)]
enum Restored {
    /// The new cluster's id and the moment its data reaches; it is PROVISIONING until filled.
    #[oai(status = 200)]
    Ok(Json<RestoreResponse>),
}

/// A data centre's network as a restore set it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct DcNetwork {
    pub network: Option<String>,
    pub same_vpc: Option<bool>,
    pub vpc_id: Option<String>,
}

/// What a restore asked for and reached, kept in the new cluster's config and shown in its
/// status document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RestoreRecord {
    /// The restored cluster.
    pub cluster: Uuid,
    /// The backup restored (the engine's `restored_from`), so a cluster restored again by another
    /// dialect does not show this record as its own.
    pub backup: Uuid,
    /// Ms since the epoch.
    pub point_in_time: i64,
    pub requested_point_in_time: Option<i64>,
    pub cluster_network: Option<String>,
    /// By data centre name.
    pub data_centres: BTreeMap<String, DcNetwork>,
}

impl RestoreRecord {
    /// The record of the restore that made this cluster, if an Instaclustr restore did.
    pub fn of(view: &SourceView) -> Option<RestoreRecord> {
        let record: RestoreRecord = serde_json::from_value(view.source.config.get(RECORD_KEY)?.clone()).ok()?;
        let made_from = view.source.config.get("restored_from").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        (made_from == Some(record.backup)).then_some(record)
    }

    /// A data centre's network: the one its `cdcInfos` entry set, else `clusterNetwork`.
    pub fn network_of(&self, dc: &str) -> DcNetwork {
        self.data_centres.get(dc).cloned().unwrap_or_else(|| DcNetwork { network: self.cluster_network.clone(), ..Default::default() })
    }
}

/// What an Instaclustr restore body asks for, checked.
#[derive(Debug)]
pub(crate) struct RestoreAsk {
    /// The new cluster's name (`clusterNameOverride`, or the source's name with the time).
    pub name: String,
    /// `pointInTime`, or `now` when absent.
    pub at: DateTime<Utc>,
    pub point_in_time_given: bool,
    /// `keyspaceTables`.
    pub selection: Selection,
    pub cluster_network: Option<String>,
    /// `cdcInfos` by `cdcId`.
    pub cdc: BTreeMap<Uuid, CdcPlace>,
}

/// `ks.t1, ks.t2` as a selection of tables: entries separated by commas, spaces around them
/// allowed, each `<keyspace>.<table>` of letters, digits and `_` (the schema's pattern); an
/// empty list is every table.
pub(crate) fn tables(list: &str) -> Result<Selection, CoreError> {
    let mut selection = Selection::default();
    if list.is_empty() {
        return Ok(selection);
    }
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    for t in list.split(',').map(|t| t.trim_matches(' ')) {
        match t.split_once('.') {
            Some((ks, table)) if word(ks) && word(table) => selection.tables.push(t.to_owned()),
            _ => return Err(CoreError::BadRequest(format!("keyspaceTables entry '{t}' is not <keyspace>.<table>"))),
        }
    }
    Ok(selection)
}

pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl RestoreAsk {
    /// Checks a parsed restore body (its fields' forms were checked as it was read) against the
    /// cluster named `source_name` whose data centres are `dcs`, at `now`: a `cdcId` not among
    /// them is not found (404), a list that names one twice or leaves one out conflicts (409).
    pub(crate) fn read(body: RestoreRequest, source_name: &str, dcs: &[Uuid], now: DateTime<Utc>) -> Result<RestoreAsk, CoreError> {
        let name = match body.cluster_name_override {
            None => format!("{source_name}-restored-{}", now.format("%Y-%m-%d-%H-%M-%S")),
            Some(n) if n.len() > 200 => return Err(CoreError::BadRequest("clusterNameOverride can be at most 200 characters".into())),
            Some(n) if valid_name(&n) => n,
            Some(n) => return Err(CoreError::BadRequest(format!("clusterNameOverride '{n}' must match [a-zA-Z0-9][a-zA-Z0-9_-]*"))),
        };
        let mut cdc = BTreeMap::new();
        for Formed(info) in body.cdc_infos.unwrap_or_default() {
            if !dcs.contains(&info.cdc_id) {
                return Err(CoreError::NotFound { what: "data centre of the cluster (cdcInfos cdcId)", id: info.cdc_id.to_string() });
            }
            if cdc.insert(info.cdc_id, info.place).is_some() {
                return Err(CoreError::Conflict(format!("cdcInfos names data centre {} more than once", info.cdc_id)));
            }
        }
        let left_out: Vec<String> = dcs.iter().filter(|dc| !cdc.is_empty() && !cdc.contains_key(dc)).map(Uuid::to_string).collect();
        if !left_out.is_empty() {
            return Err(CoreError::Conflict(format!(
                "cdcInfos names every data centre of the cluster or none; it leaves out {}",
                left_out.join(", ")
            )));
        }
        let at = match body.point_in_time {
            None => now,
            Some(t) if t >= EARLIEST_MS => {
                Utc.timestamp_millis_opt(t).single().ok_or_else(|| CoreError::BadRequest("pointInTime is out of range".into()))?
            }
            Some(_) => {
                return Err(CoreError::BadRequest(format!("pointInTime must be milliseconds since the epoch, at least {EARLIEST_MS}")));
            }
        };
        let selection = match body.keyspace_tables.as_deref() {
            None => Selection::default(),
            Some(list) => tables(list)?,
        };
        Ok(RestoreAsk {
            name,
            at,
            point_in_time_given: body.point_in_time.is_some(),
            selection,
            cluster_network: body.cluster_network,
            cdc,
        })
    }
}

/// Reads and checks a restore body given as JSON (what the handler receives, parsed and checked
/// in one go; the fuzz target's entry).
pub(crate) fn restore_request(body: &Value, source_name: &str, dcs: &[Uuid], now: DateTime<Utc>) -> Result<RestoreAsk, CoreError> {
    let body = RestoreRequest::parse_from_json(Some(body.clone())).map_err(|e| CoreError::BadRequest(e.into_message()))?;
    RestoreAsk::read(body, source_name, dcs, now)
}

/// The `<keyspace>.<table>` names the complete parts of a backup hold.
fn held_tables(parts: &[BackupNode]) -> BTreeSet<String> {
    parts
        .iter()
        .filter(|part| part.state.is_success())
        .flat_map(|part| part.detail.get("tables").and_then(Value::as_object).into_iter().flatten().map(|(t, _)| t.clone()))
        .collect()
}

/// The data directory a restored node gets: a sibling of the original's (`data` becomes
/// `data-<new cluster>`), so it can never land inside the live data.
fn new_location(original: &str, cluster_name: &str) -> String {
    let path = std::path::Path::new(original.trim_end_matches('/'));
    let leaf = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    path.with_file_name(format!("{leaf}-{cluster_name}")).display().to_string()
}

/// The new cluster's networks per data centre name: its `cdcInfos` entry (the original's own
/// network for `restoreToSameVpc`), else `clusterNetwork`.
fn networks(view: &SourceView, ask: &RestoreAsk) -> BTreeMap<String, DcNetwork> {
    let original = RestoreRecord::of(view);
    let mut out = BTreeMap::new();
    for node in &view.nodes {
        let dc = dc_of(node.datacenter.as_deref());
        let network = match ask.cdc.get(&dc_id(view.source.id, dc)) {
            Some(CdcPlace::SameVpc) => {
                DcNetwork { network: original.as_ref().and_then(|r| r.network_of(dc).network), same_vpc: Some(true), vpc_id: None }
            }
            Some(CdcPlace::Custom { vpc_id, network }) => DcNetwork {
                network: network.clone().or_else(|| ask.cluster_network.clone()),
                same_vpc: Some(false),
                vpc_id: vpc_id.clone(),
            },
            None => DcNetwork { network: ask.cluster_network.clone(), ..Default::default() },
        };
        out.insert(dc.to_owned(), network);
    }
    out
}

#[OpenApi(tag = "ProvisioningTag::BackupAndRestore")]
impl RestoreApi {
    /// Restores the cluster as it was at `pointInTime` (ms; now when absent) into a NEW cluster,
    /// optionally only `keyspaceTables`' data; a moment past the newest restorable one restores
    /// that one. Answers the new cluster's id and the moment its data reaches.
    #[oai(path = "/provisioning/v1/:clusterId/backups/restore", method = "post", operation_id = "instaclustr_restore")]
    async fn restore(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(name = "clusterId")] cluster_id: Path<Uuid>,
        body: Json<Option<RestoreRequest>>,
    ) -> poem::Result<Restored> {
        let p = caller.principal();
        let view = cluster(&state, p, cluster_id.0).await?;
        let mut dcs: Vec<Uuid> = view.nodes.iter().map(|n| dc_id(view.source.id, dc_of(n.datacenter.as_deref()))).collect();
        dcs.sort();
        dcs.dedup();
        // An empty body reaches here as `{}` (see `json_bodies`); `null` is not a body.
        let body = body.0.ok_or_else(|| CoreError::BadRequest("the body is a JSON object, or empty".into()))?;
        let ask = RestoreAsk::read(body, &view.source.name, &dcs, Utc::now())?;
        let selection = &ask.selection;
        // A continuously backed-up cluster replays its commitlogs up to the moment asked for, or
        // up to the newest moment every node archived when the one asked for lies beyond it
        // (unless a backup taken since then is newer still).
        let archiving = state.engine.archiving(p, view.source.id).await?;
        let archive = archiving.destinations.keys().next().copied().filter(|_| archiving.enabled && ask.point_in_time_given);
        let latest = match archive {
            Some(destination) => state.engine.pit_window(p, view.source.id, Some(destination)).await?.latest,
            None => None,
        };
        let newest = state.engine.newest_backup_holding(p, view.source.id, Some(ask.at), Some(selection)).await?;
        let replay_to = latest.filter(|l| newest.as_ref().is_none_or(|b| b.created_at < *l)).map(|l| l.min(ask.at));
        let point_in_time = match (archive, replay_to) {
            (Some(destination), Some(at)) => Some(
                state
                    .engine
                    .pit_plan(
                        p,
                        view.source.id,
                        PitAsk {
                            at,
                            selection,
                            snapshot_destination: None,
                            pit_destination: Some(destination),
                            unit: MomentUnit::Milliseconds,
                        },
                    )
                    .await
                    // What the archive lacks (a snapshot before the moment, a node's commitlogs)
                    // is the cluster's state, not the request's form.
                    .map_err(|e| match e {
                        CoreError::BadRequest(m) => CoreError::PreconditionFailed(m),
                        other => other,
                    })?,
            ),
            _ => None,
        };
        let chosen = match point_in_time.as_ref() {
            Some(plan) => Some(plan.backup.clone()),
            None => newest,
        };
        let Some(backup) = chosen else {
            let hint = match state.engine.newest_backup_holding(p, view.source.id, None, Some(selection)).await? {
                Some(newest) => format!("; the newest was taken at {}", MomentUnit::Milliseconds.write(newest.created_at)),
                None => String::new(),
            };
            return Err(CoreError::PreconditionFailed(format!(
                "no complete backup of {} of cluster {} exists at or before {} ({}){hint}",
                if selection.tables.is_empty() { "every table".to_owned() } else { selection.tables.join(", ") },
                view.source.id,
                MomentUnit::Milliseconds.write(ask.at),
                ask.at.to_rfc3339()
            ))
            .into());
        };
        let reached = point_in_time.as_ref().map_or(backup.created_at, |plan| plan.at);
        let parts = state.engine.backup_nodes(p, backup.id).await?;
        let missing: Vec<&str> = selection.tables.iter().filter(|t| !held_tables(&parts).contains(*t)).map(String::as_str).collect();
        if !missing.is_empty() {
            // A table the newest backup lacks too is not there to restore; one that only newer
            // backups hold is a moment too early.
            let newest = state.engine.newest_backup_holding(p, view.source.id, None, None).await?;
            let newest_parts = match &newest {
                Some(b) if b.id != backup.id => state.engine.backup_nodes(p, b.id).await?,
                _ => Vec::new(),
            };
            let later = held_tables(&newest_parts);
            if let (Some(b), true) = (newest, missing.iter().all(|t| later.contains(*t))) {
                return Err(CoreError::PreconditionFailed(format!(
                    "the backup at or before {} holds no table {}; the newest, taken at {}, does",
                    MomentUnit::Milliseconds.write(ask.at),
                    missing.join(", "),
                    MomentUnit::Milliseconds.write(b.created_at)
                ))
                .into());
            }
            return Err(CoreError::NotFound { what: "backed-up table (keyspaceTables)", id: missing.join(", ") }.into());
        }
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
                new_location(&original, &ask.name)
            })
            .collect();
        let record = RestoreRecord {
            cluster: view.source.id,
            backup: backup.id,
            point_in_time: ms(reached),
            requested_point_in_time: ask.point_in_time_given.then(|| ms(ask.at)),
            cluster_network: ask.cluster_network.clone(),
            data_centres: networks(&view, &ask),
        };
        let mut settings = serde_json::Map::new();
        settings.insert(RECORD_KEY.into(), serde_json::to_value(&record).map_err(CoreError::internal)?);
        let spec = RestoreSpec {
            backup_id: backup.id,
            target: RestoreTarget::NewCluster { name: ask.name.clone(), locations, all_tables: true, settings },
            selection: ask.selection,
            options: OperationOptions::default(),
            destination_id: None,
            point_in_time,
        };
        let op = state.engine.start_restore(p, spec).await?;
        let restored = op
            .result
            .get("source_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| CoreError::internal(anyhow::anyhow!("the restore named no new cluster: {}", op.result)))?;
        Ok(Restored::Ok(Json(RestoreResponse { restored_cluster: restored, point_in_time: Some(ms(reached)) })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_tables_pass_the_schema_exactly_when_they_read_as_tables() {
        for list in [
            "",
            "ks.t",
            "ks.t1,ks.t2",
            " ks.t , ks2.t_2 ",
            "Keyspace1.users",
            "ks",
            "ks.",
            ".t",
            "ks.t.x",
            "ks.t,",
            ",ks.t",
            "ks.t,,ks.u",
            " ",
            "ks .t",
            "ks.t\t",
            "ks-1.t",
            "ks.é",
        ] {
            let body = serde_json::json!({ "keyspaceTables": list });
            let schema = RestoreRequest::parse_from_json(Some(body)).is_ok();
            assert_eq!(schema, tables(list).is_ok(), "{list:?}");
        }
        assert_eq!(tables(" ks.t , ks2.u").unwrap().tables, ["ks.t", "ks2.u"]);
    }

    #[test]
    fn networks_are_ipv4_addresses_or_cidr_blocks() {
        let network = |n: &str| RestoreRequest::parse_from_json(Some(serde_json::json!({ "clusterNetwork": n }))).is_ok();
        for ok in ["10.0.0.0/16", "192.168.1.1", "0.0.0.0/0", "255.255.255.255/32"] {
            assert!(network(ok), "{ok}");
        }
        for bad in ["10.0.0.0/33", "10.0.0/16", "256.0.0.0", "010.0.0.0", "10.0.0.0/+5", "10.0.0.0/016", "ten-oh", ""] {
            assert!(!network(bad), "{bad}");
        }
    }
}
