//! Backups: starting one, listing, reading, deleting, verifying and copying them.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Accepted, EngineTag,
    models::{AdminOperation, AdminOperationOptions, AdminSelection, AdminState},
};
use crate::{
    api::common::{security::Caller, strict::StrictJson},
    domain::backup::{Backup, BackupNode},
    engine::{BackupPage, BackupSpec},
    error::CoreError,
    state::AppState,
};

/// `POST /backups`: what to back up, where, and how.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewBackup", deny_unknown_fields, example)]
pub struct AdminNewBackup {
    /// The source to back up.
    pub source_id: Uuid,
    #[oai(default)]
    pub name: String,
    #[oai(default)]
    pub description: String,
    /// A tag the dialects show (OpsCenter's `opscenter_adhoc_...`); made up when absent.
    #[oai(nullable)]
    pub tag: Option<String>,
    /// Base it on the source's newest complete backup (unless `parent_id` names one).
    #[oai(default)]
    pub incremental: bool,
    /// The backup an incremental one is based on.
    #[oai(nullable)]
    pub parent_id: Option<Uuid>,
    #[oai(default)]
    pub selection: AdminSelection,
    #[oai(default)]
    pub options: AdminOperationOptions,
    /// Where the data goes; the server's own store when absent.
    #[oai(nullable)]
    pub destination_id: Option<Uuid>,
    /// Regions the backup is copied to once it completes.
    #[oai(default)]
    pub copy_to: Vec<String>,
    /// Destinations the backup is copied to once it completes.
    #[oai(default)]
    pub copy_to_destinations: Vec<Uuid>,
    /// The plan the backup counts for.
    #[oai(nullable)]
    pub plan_id: Option<Uuid>,
}

impl Example for AdminNewBackup {
    fn example() -> Self {
        AdminNewBackup {
            source_id: Uuid::from_u128(0x0d6c_2f6e_0f7a_4a57_b6a4_5e2b_9d1c_3e01),
            name: "nightly".into(),
            description: "before the upgrade".into(),
            tag: None,
            incremental: false,
            parent_id: None,
            selection: AdminSelection { keyspaces: vec!["Keyspace1".into()], ..Default::default() },
            options: AdminOperationOptions { throttle_bytes_per_sec: Some(50_000_000), ..Default::default() },
            destination_id: None,
            copy_to: vec![],
            copy_to_destinations: vec![],
            plan_id: None,
        }
    }
}

impl From<AdminNewBackup> for BackupSpec {
    fn from(b: AdminNewBackup) -> Self {
        BackupSpec {
            source_id: b.source_id,
            name: b.name,
            description: b.description,
            tag: b.tag,
            incremental: b.incremental,
            parent_id: b.parent_id,
            selection: b.selection.into(),
            options: b.options.into(),
            plan_id: b.plan_id,
            destination_id: b.destination_id,
            copy_to: b.copy_to,
            copy_to_destinations: b.copy_to_destinations,
            region: None,
        }
    }
}

/// A backup: one snapshot of a source, possibly incremental on a parent.
#[derive(Debug, Object)]
#[oai(rename = "AdminBackup")]
pub struct AdminBackup {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    /// The backup an incremental one is based on.
    #[oai(nullable)]
    pub parent_id: Option<Uuid>,
    #[oai(nullable)]
    pub plan_id: Option<Uuid>,
    /// The operation that made it.
    #[oai(nullable)]
    pub operation_id: Option<Uuid>,
    /// Where its data is stored.
    pub destination_id: Uuid,
    pub name: String,
    pub description: String,
    /// The tag the dialects show (OpsCenter's `opscenter_adhoc_...`).
    pub tag: String,
    pub selection: AdminSelection,
    pub state: AdminState,
    /// Bytes of data covered.
    pub size_bytes: i64,
    /// Bytes this backup added to the store.
    pub stored_bytes: i64,
    pub file_count: i64,
    #[oai(nullable)]
    pub error: Option<String>,
    /// Facts about the source when it was taken (datastore, topology, nodes...).
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(nullable)]
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Backup> for AdminBackup {
    fn from(b: Backup) -> Self {
        AdminBackup {
            id: b.id,
            tenant_id: b.tenant_id,
            source_id: b.source_id,
            parent_id: b.parent_id,
            plan_id: b.plan_id,
            operation_id: b.operation_id,
            destination_id: b.destination_id,
            name: b.name,
            description: b.description,
            tag: b.tag,
            selection: b.selection.into(),
            state: b.state.into(),
            size_bytes: b.size_bytes,
            stored_bytes: b.stored_bytes,
            file_count: b.file_count,
            error: b.error,
            metadata: b.metadata,
            created_at: b.created_at,
            updated_at: b.updated_at,
            completed_at: b.completed_at,
        }
    }
}

/// A backup as listed: with the destinations holding a copy of it besides its own.
#[derive(Debug, Object)]
#[oai(rename = "AdminListedBackup")]
pub struct AdminListedBackup {
    #[oai(flatten)]
    pub backup: AdminBackup,
    /// Destinations holding a copy, besides `destination_id`.
    pub copies: Vec<Uuid>,
}

/// A backup with its copies and its per-node parts.
#[derive(Debug, Object)]
#[oai(rename = "AdminBackupDetail")]
pub struct AdminBackupDetail {
    #[oai(flatten)]
    pub backup: AdminBackup,
    pub nodes: Vec<AdminBackupNode>,
    /// Destinations holding a copy, besides `destination_id`.
    pub copies: Vec<Uuid>,
}

/// One node's part of a backup.
#[derive(Debug, Object)]
#[oai(rename = "AdminBackupNode")]
pub struct AdminBackupNode {
    pub backup_id: Uuid,
    pub node_id: Uuid,
    pub node_name: String,
    pub state: AdminState,
    pub files: i64,
    pub bytes: i64,
    pub stored_bytes: i64,
    /// A cluster node's counts per table: `{"keyspace.table": {"files": n, "bytes": n}}`.
    pub detail: Value,
}

impl From<BackupNode> for AdminBackupNode {
    fn from(n: BackupNode) -> Self {
        AdminBackupNode {
            backup_id: n.backup_id,
            node_id: n.node_id,
            node_name: n.node_name,
            state: n.state.into(),
            files: n.files,
            bytes: n.bytes,
            stored_bytes: n.stored_bytes,
            detail: n.detail,
        }
    }
}

/// A backup just started and the operation making it.
#[derive(Debug, Object)]
#[oai(rename = "AdminStartedBackup")]
pub struct AdminStartedBackup {
    pub operation: AdminOperation,
    pub backup: AdminBackup,
}

/// `POST /backups/{id}/copy`: where the copy goes, a destination or a region (one of the two).
#[derive(Debug, Object)]
#[oai(rename = "AdminCopyRequest", deny_unknown_fields, example)]
pub struct AdminCopyRequest {
    #[oai(nullable)]
    pub destination_id: Option<Uuid>,
    /// A region's name (`IAD`), for its destination.
    #[oai(nullable)]
    pub region: Option<String>,
}

impl Example for AdminCopyRequest {
    fn example() -> Self {
        AdminCopyRequest { destination_id: None, region: Some("IAD".into()) }
    }
}

/// Backups.
pub struct BackupsApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl BackupsApi {
    /// Starts a backup. A field the body does not describe is refused (400), at any depth.
    #[oai(path = "/backups", method = "post", operation_id = "admin_start_backup", tag = "EngineTag::Backups")]
    async fn start_backup(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewBackup>,
    ) -> poem::Result<Accepted<AdminStartedBackup>> {
        let (op, backup) = state.engine.start_backup(caller.principal(), body.read()?.into()).await?;
        Ok(Accepted::Accepted(Json(AdminStartedBackup { operation: op.into(), backup: backup.into() })))
    }

    /// Lists backups, newest first, optionally of one source: `limit` of them (100 unless given, at
    /// most 1,000), after the backup `marker` when given (the last id of the previous page). Each
    /// lists in `copies` the destinations holding a copy of it besides its own `destination_id`.
    #[oai(path = "/backups", method = "get", operation_id = "admin_list_backups", tag = "EngineTag::Backups")]
    async fn list_backups(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        source_id: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "0")))] limit: Query<Option<u64>>,
        marker: Query<Option<Uuid>>,
    ) -> poem::Result<Json<Vec<AdminListedBackup>>> {
        let p = caller.principal();
        let after = match marker.0 {
            Some(id) => Some(state.engine.backup_cursor(p, id).await?.ok_or_else(|| CoreError::not_found("backup", id.to_string()))?),
            None => None,
        };
        let page = BackupPage { source_id: source_id.0, after, limit: Some(limit.0.unwrap_or(100).clamp(1, 1000)), ..Default::default() };
        let backups = state.engine.backups_page(p, &page).await?;
        let mut copies = state.engine.backup_copies_of_many(p, &backups).await?;
        let listed =
            backups.into_iter().map(|b| AdminListedBackup { copies: copies.remove(&b.id).unwrap_or_default(), backup: b.into() }).collect();
        Ok(Json(listed))
    }

    /// One backup with its per-node parts and its copies.
    #[oai(path = "/backups/:id", method = "get", operation_id = "admin_get_backup", tag = "EngineTag::Backups")]
    async fn get_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<AdminBackupDetail>> {
        let p = caller.principal();
        let backup = state.engine.backup(p, id.0).await?;
        let nodes = state.engine.backup_nodes(p, id.0).await?;
        let copies = state.engine.backup_copies(p, id.0).await?;
        Ok(Json(AdminBackupDetail { backup: backup.into(), nodes: nodes.into_iter().map(Into::into).collect(), copies }))
    }

    /// Deletes a backup and its incrementals; chunks no other backup uses are removed.
    #[oai(path = "/backups/:id", method = "delete", operation_id = "admin_delete_backup", tag = "EngineTag::Backups")]
    async fn delete_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Accepted<AdminOperation>> {
        Ok(Accepted::Accepted(Json(state.engine.delete_backup(caller.principal(), id.0).await?.into())))
    }

    /// Re-reads every chunk of a backup and checks its hash.
    #[oai(path = "/backups/:id/verify", method = "post", operation_id = "admin_verify_backup", tag = "EngineTag::Backups")]
    async fn verify_backup(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Accepted<AdminOperation>> {
        Ok(Accepted::Accepted(Json(state.engine.start_verify(caller.principal(), id.0).await?.into())))
    }

    /// Copies a backup to another destination or region; only chunks the target lacks travel.
    #[oai(path = "/backups/:id/copy", method = "post", operation_id = "admin_copy_backup", tag = "EngineTag::Backups")]
    async fn copy_backup(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: StrictJson<AdminCopyRequest>,
    ) -> poem::Result<Accepted<AdminOperation>> {
        let p = caller.principal();
        state.engine.backup(p, id.0).await?;
        let body = body.read()?;
        let to = match (body.destination_id, body.region.as_deref()) {
            (Some(d), _) => d,
            (None, Some(region)) => state.engine.region_destination(p, region).await?,
            (None, None) => return Err(CoreError::BadRequest("give destination_id or region".into()).into()),
        };
        Ok(Accepted::Accepted(Json(state.engine.start_copy(p, id.0, to).await?.into())))
    }
}
