//! Restores: of one backup, or of a cluster as it was at a moment (a backup and the archived
//! commitlogs after it).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, Union, param::Path, payload::Json, types::Example};
use uuid::Uuid;

use super::{
    Accepted, EngineTag,
    models::{AdminOperation, AdminOperationOptions, AdminSelection},
};
use crate::{
    api::common::{security::Caller, strict::StrictJson},
    engine::{MomentUnit, PitAsk, RestoreSpec, RestoreTarget},
    state::AppState,
};

/// Where a restore writes, by `type`.
#[derive(Debug, Union)]
#[oai(rename = "AdminRestoreTarget", discriminator_name = "type")]
pub enum AdminRestoreTarget {
    #[oai(mapping = "same_nodes")]
    SameNodes(AdminSameNodesTarget),
    #[oai(mapping = "new_cluster")]
    NewCluster(AdminNewClusterTarget),
    #[oai(mapping = "path")]
    Path(AdminPathTarget),
    #[oai(mapping = "new_instance")]
    NewInstance(AdminNewInstanceTarget),
}

/// Back onto the nodes the backup came from (clusters: table files in place; machines: the root).
#[derive(Debug, Object)]
#[oai(rename = "AdminSameNodesTarget")]
pub struct AdminSameNodesTarget {
    /// Empty the restored tables first.
    #[oai(default)]
    pub truncate: bool,
    /// With `truncate`, empty only these keyspaces or tables (every restored one when absent).
    #[oai(nullable)]
    pub truncate_only: Option<AdminSelection>,
    /// Keyspaces restored under another name: backup keyspace to target keyspace.
    #[oai(default)]
    pub keyspace_renames: BTreeMap<String, String>,
}

/// A new cluster of the same topology, one data directory per node in ring order.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewClusterTarget")]
pub struct AdminNewClusterTarget {
    pub name: String,
    pub locations: Vec<String>,
    /// Create every table's directory, even of tables the selection leaves out (their data is not restored).
    #[oai(default)]
    pub all_tables: bool,
}

/// A directory on an agent.
#[derive(Debug, Object)]
#[oai(rename = "AdminPathTarget")]
pub struct AdminPathTarget {
    pub path: String,
    /// The agent that writes; the backup's own when absent.
    #[oai(nullable)]
    pub agent: Option<String>,
    /// Replace files that exist already.
    #[oai(default)]
    pub overwrite: bool,
}

/// A new database instance loaded from the dump; the original is untouched.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewInstanceTarget")]
pub struct AdminNewInstanceTarget {
    pub name: String,
    #[oai(nullable)]
    pub flavor: Option<String>,
    #[oai(nullable)]
    pub flavor_ram_mb: Option<u32>,
    #[oai(nullable)]
    pub volume_gb: Option<u32>,
}

impl From<AdminRestoreTarget> for RestoreTarget {
    fn from(t: AdminRestoreTarget) -> Self {
        match t {
            AdminRestoreTarget::SameNodes(t) => RestoreTarget::SameNodes {
                truncate: t.truncate,
                truncate_only: t.truncate_only.map(Into::into),
                keyspace_renames: t.keyspace_renames,
                check_schema: false,
            },
            AdminRestoreTarget::NewCluster(t) => {
                RestoreTarget::NewCluster { name: t.name, locations: t.locations, all_tables: t.all_tables, settings: Default::default() }
            }
            AdminRestoreTarget::Path(t) => RestoreTarget::Path { path: t.path, agent: t.agent, overwrite: t.overwrite },
            AdminRestoreTarget::NewInstance(t) => {
                RestoreTarget::NewInstance { name: t.name, flavor: t.flavor, flavor_ram_mb: t.flavor_ram_mb, volume_gb: t.volume_gb }
            }
        }
    }
}

/// `POST /backups/{id}/restore`.
#[derive(Debug, Object)]
#[oai(rename = "AdminRestoreRequest", deny_unknown_fields, example)]
pub struct AdminRestoreRequest {
    pub target: AdminRestoreTarget,
    /// What to restore; everything the backup holds when absent.
    #[oai(default)]
    pub selection: AdminSelection,
    #[oai(default)]
    pub options: AdminOperationOptions,
    /// Read from this destination: the backup's own (when absent) or one holding a copy.
    #[oai(nullable)]
    pub destination_id: Option<Uuid>,
}

impl Example for AdminRestoreRequest {
    fn example() -> Self {
        AdminRestoreRequest {
            target: AdminRestoreTarget::SameNodes(AdminSameNodesTarget {
                truncate: true,
                truncate_only: None,
                keyspace_renames: BTreeMap::new(),
            }),
            selection: AdminSelection { tables: vec!["Keyspace1.Standard1".into()], ..Default::default() },
            options: AdminOperationOptions::default(),
            destination_id: None,
        }
    }
}

/// `POST /sources/{id}/point-in-time/restore`: the newest complete backup at or before `at` is
/// restored with the archived commitlogs up to `at`.
#[derive(Debug, Object)]
#[oai(rename = "AdminPointInTimeRestore", deny_unknown_fields, example)]
pub struct AdminPointInTimeRestore {
    /// The moment to restore to, RFC 3339 such as 2026-12-03T10:00:00Z.
    pub at: DateTime<Utc>,
    pub target: AdminRestoreTarget,
    #[oai(default)]
    pub selection: AdminSelection,
    #[oai(default)]
    pub options: AdminOperationOptions,
    /// Where the backup is read (its own destination when absent).
    #[oai(nullable)]
    pub destination_id: Option<Uuid>,
    /// The archive the commitlogs are read from (the one the cluster archives to when absent).
    #[oai(nullable)]
    pub pit_destination_id: Option<Uuid>,
}

impl Example for AdminPointInTimeRestore {
    fn example() -> Self {
        AdminPointInTimeRestore {
            at: "2026-12-03T10:00:00Z".parse().unwrap_or_default(),
            target: AdminRestoreTarget::SameNodes(AdminSameNodesTarget {
                truncate: false,
                truncate_only: None,
                keyspace_renames: BTreeMap::new(),
            }),
            selection: AdminSelection { keyspaces: vec!["Keyspace1".into()], ..Default::default() },
            options: AdminOperationOptions::default(),
            destination_id: None,
            pit_destination_id: None,
        }
    }
}

/// Restores.
pub struct RestoresApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl RestoresApi {
    /// Restores a backup.
    #[oai(path = "/backups/:id/restore", method = "post", operation_id = "admin_restore_backup", tag = "EngineTag::Backups")]
    async fn restore_backup(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: StrictJson<AdminRestoreRequest>,
    ) -> poem::Result<Accepted<AdminOperation>> {
        let p = caller.principal();
        state.engine.backup(p, id.0).await?;
        let body = body.read()?;
        let spec = RestoreSpec {
            backup_id: id.0,
            target: body.target.into(),
            selection: body.selection.into(),
            options: body.options.into(),
            destination_id: body.destination_id,
            point_in_time: None,
        };
        Ok(Accepted::Accepted(Json(state.engine.start_restore(p, spec).await?.into())))
    }

    /// Restores a cluster as it was at a moment.
    #[oai(
        path = "/sources/:id/point-in-time/restore",
        method = "post",
        operation_id = "admin_restore_to_point_in_time",
        tag = "EngineTag::Backups"
    )]
    async fn restore_to_point_in_time(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: StrictJson<AdminPointInTimeRestore>,
    ) -> poem::Result<Accepted<AdminOperation>> {
        let p = caller.principal();
        state.engine.source(p, id.0).await?;
        let body = body.read()?;
        let selection = body.selection.into();
        let ask = PitAsk {
            at: body.at,
            selection: &selection,
            snapshot_destination: body.destination_id,
            pit_destination: body.pit_destination_id,
            unit: MomentUnit::Rfc3339,
        };
        let plan = state.engine.pit_plan(p, id.0, ask).await?;
        let spec = RestoreSpec {
            backup_id: plan.backup.id,
            target: body.target.into(),
            selection,
            options: body.options.into(),
            destination_id: body.destination_id,
            point_in_time: Some(plan),
        };
        Ok(Accepted::Accepted(Json(state.engine.start_restore(p, spec).await?.into())))
    }
}
