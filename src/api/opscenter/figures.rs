//! `GET /{cluster_id}/backups/graphs/{tag}[/{destination_id}]` in figures: each node's part of the
//! backup (bytes, files, how long it took), the numbers OpsCenter charts backups with.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{
    models::{GraphEntry, Graphs, NodeFigures, TableFigures},
    view,
};
use crate::{domain::identity::Principal, error::CoreError, state::AppState};

/// Each node's figures of a backup (as a destination holds it), by node name.
pub async fn per_node(state: &AppState, p: &Principal, backup_id: Uuid, at: Option<Uuid>) -> Result<Graphs, CoreError> {
    let mut out = Graphs::default();
    for node in state.engine.backup_figures(p, backup_id, at).await? {
        let mut keyspaces: BTreeMap<String, BTreeMap<String, TableFigures>> = BTreeMap::new();
        for (name, t) in &node.tables {
            let Some((ks, table)) = name.split_once('.') else { continue };
            keyspaces.entry(ks.to_owned()).or_default().insert(table.to_owned(), TableFigures { bytes: t.bytes, files: t.files });
        }
        let figures = NodeFigures {
            bytes: node.bytes,
            files: node.files,
            stored_bytes: node.stored_bytes,
            duration: node.duration_secs,
            started: node.started_at.map(view::epoch),
            finished: node.finished_at.map(view::epoch),
            state: view::state_word(node.state),
            datacenter: node.datacenter,
            keyspaces,
        };
        out.0.insert(node.node, GraphEntry::Node(Box::new(figures)));
    }
    Ok(out)
}
