//! Where a backup's data is kept: its own destination and the copies elsewhere (copied here;
//! deleting the data at one place is in `deletes`). A destination that names data centres
//! (`validation_dc_list`) takes and gives back only the data of their nodes.

use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task},
    stored::{CopyParams, DestinationCopyParams, destination_config},
};
use crate::{
    domain::{
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, TaskSpec},
        source::Node,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

/// The data centres a destination serves, with its name (for messages); `None` when it serves every node.
pub(super) struct DcList {
    name: String,
    dcs: Vec<String>,
}

impl DcList {
    pub(super) fn serves(&self, node: &Node) -> bool {
        node.datacenter.as_deref().is_some_and(|dc| self.dcs.iter().any(|d| d == dc))
    }

    fn words(&self) -> String {
        self.dcs.join(", ")
    }
}

impl Engine {
    /// The data centres destination `id` is limited to, when it names some.
    pub(super) async fn dc_list(&self, id: Uuid) -> CoreResult<Option<DcList>> {
        let Some(row) = catalog::get_destination(&self.inner.db, id).await? else { return Ok(None) };
        let config = destination_config(&row)?;
        Ok((!config.validation_dc_list.is_empty()).then_some(DcList { name: row.name, dcs: config.validation_dc_list }))
    }

    /// A backup to `destination` reads only the nodes of the data centres it serves; the others
    /// are left out. None left is a 400 naming the data centres.
    pub(super) async fn keep_nodes_served(&self, destination: Uuid, nodes: &mut Vec<Node>) -> CoreResult<()> {
        let Some(list) = self.dc_list(destination).await? else { return Ok(()) };
        nodes.retain(|n| list.serves(n));
        if nodes.is_empty() {
            return Err(CoreError::BadRequest(format!(
                "destination '{}' takes backups of nodes in data centre(s) {} only (validation_dc_list); no node asked for is there",
                list.name,
                list.words()
            )));
        }
        Ok(())
    }

    /// The node keys of `nodes` a copy to `destination` carries: empty for every node; a 400
    /// when the destination serves none of them.
    pub(super) async fn nodes_copied_to(&self, destination: Uuid, nodes: &[Node]) -> CoreResult<Vec<String>> {
        let Some(list) = self.dc_list(destination).await? else { return Ok(Vec::new()) };
        let served: Vec<String> = nodes.iter().filter(|n| list.serves(n)).map(|n| n.id.to_string()).collect();
        if served.is_empty() {
            return Err(CoreError::BadRequest(format!(
                "destination '{}' takes backups of nodes in data centre(s) {} only (validation_dc_list); the backup holds none of them",
                list.name,
                list.words()
            )));
        }
        Ok(served)
    }

    /// A restore reading from `destination` restores only nodes of the data centres it serves:
    /// any other node is refused by name (exclude it, or restore from another destination).
    pub(super) async fn check_restored_nodes(&self, destination: Uuid, nodes: &[Node]) -> CoreResult<()> {
        let Some(list) = self.dc_list(destination).await? else { return Ok(()) };
        let outside: Vec<String> = nodes
            .iter()
            .filter(|n| !list.serves(n))
            .map(|n| format!("{} ({})", n.name, n.datacenter.as_deref().unwrap_or("no data centre")))
            .collect();
        if outside.is_empty() {
            return Ok(());
        }
        Err(CoreError::BadRequest(format!(
            "destination '{}' serves data centre(s) {} only (validation_dc_list); node(s) {} cannot be restored from it: exclude them or restore from another destination",
            list.name,
            list.words(),
            outside.join(", ")
        )))
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
            CopyParams::ToDestination(DestinationCopyParams { to: target.id }),
        );
        let nodes: Vec<Node> = {
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
}
