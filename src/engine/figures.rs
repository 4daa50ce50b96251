//! A backup in figures, node by node: what each node stored and how long it took.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::Engine;
use crate::{
    domain::{identity::Principal, state::State},
    error::CoreResult,
    persistence::catalog,
};

/// Files and bytes of one table in one node's part.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TableFigures {
    pub files: i64,
    pub bytes: i64,
}

/// One node's part of a backup.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeFigures {
    pub node: String,
    pub datacenter: Option<String>,
    pub state: State,
    /// Files the part holds.
    pub files: i64,
    /// Bytes of content the part covers.
    pub bytes: i64,
    /// Bytes this part added to its destination's store (after deduplication and compression).
    pub stored_bytes: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Seconds from the node's start to its end.
    pub duration_secs: Option<f64>,
    /// `keyspace.table` (or a machine's top directory) → its figures.
    pub tables: BTreeMap<String, TableFigures>,
}

impl Engine {
    /// A backup's figures per node, by node name. With `at`, only the nodes a destination
    /// limited to some data centres holds.
    pub async fn backup_figures(&self, caller: &Principal, backup_id: Uuid, at: Option<Uuid>) -> CoreResult<Vec<NodeFigures>> {
        let db = &self.inner.db;
        let backup = self.backup(caller, backup_id).await?;
        let nodes = catalog::nodes_of(db, backup.source_id).await?;
        let tasks = match backup.operation_id {
            Some(op) => catalog::tasks_of(db, op).await?,
            None => Vec::new(),
        };
        let only = match at {
            Some(d) => self.dc_list(d).await?,
            None => None,
        };
        let mut out = Vec::new();
        for part in catalog::backup_nodes_of(db, backup.id).await? {
            let node = nodes.iter().find(|n| n.id == part.node_id);
            if let (Some(list), Some(node)) = (&only, node)
                && !list.serves(node)
            {
                continue;
            }
            let task = tasks.iter().find(|t| t.node_id == Some(part.node_id));
            let (started_at, finished_at) = (task.and_then(|t| t.started_at), task.and_then(|t| t.finished_at));
            let duration_secs = match (started_at, finished_at) {
                (Some(s), Some(f)) => Some((f - s).num_milliseconds().max(0) as f64 / 1000.0),
                _ => None,
            };
            let count = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
            let tables = part
                .detail
                .get("tables")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, c)| (name.clone(), TableFigures { files: count(c, "files"), bytes: count(c, "bytes") }))
                .collect();
            out.push(NodeFigures {
                node: part.node_name,
                datacenter: node.and_then(|n| n.datacenter.clone()),
                state: part.state,
                files: part.files,
                bytes: part.bytes,
                stored_bytes: part.stored_bytes,
                started_at,
                finished_at,
                duration_secs,
                tables,
            });
        }
        out.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(out)
    }
}
