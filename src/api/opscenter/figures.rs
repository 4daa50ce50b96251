//! `GET /{cluster_id}/backups/graphs/{tag}[/{destination_id}]` in figures: each node's part of the
//! backup (bytes, files, how long it took), the numbers OpsCenter charts backups with.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::view;
use crate::{domain::identity::Principal, error::CoreError, state::AppState};

/// `{node: {"bytes", "files", "stored_bytes", "duration", "started", "finished", "state",
/// "datacenter", "keyspaces": {ks: {table: {"bytes", "files"}}}}}` of a backup (as a destination holds it).
pub async fn per_node(state: &AppState, p: &Principal, backup_id: Uuid, at: Option<Uuid>) -> Result<Value, CoreError> {
    let mut out = Map::new();
    for node in state.engine.backup_figures(p, backup_id, at).await? {
        let mut keyspaces: Map<String, Value> = Map::new();
        for (name, t) in &node.tables {
            let Some((ks, table)) = name.split_once('.') else { continue };
            let entry = keyspaces.entry(ks.to_owned()).or_insert_with(|| json!({}));
            entry[table] = json!({ "bytes": t.bytes, "files": t.files });
        }
        out.insert(
            node.node,
            json!({
                "bytes": node.bytes,
                "files": node.files,
                "stored_bytes": node.stored_bytes,
                "duration": node.duration_secs,
                "started": node.started_at.map(view::epoch),
                "finished": node.finished_at.map(view::epoch),
                "state": view::state_word(node.state),
                "datacenter": node.datacenter,
                "keyspaces": keyspaces,
            }),
        );
    }
    Ok(Value::Object(out))
}
