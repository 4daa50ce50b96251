//! Trove shapes: engine backups and instances as the clients read them, with every field the
//! seed's examples show (a missing field makes troveclient lazy-load the object).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::models::{
    Automated, BackupSourceView, BackupStatus, BackupView, DatastoreView, FlavorLink, FlavorView, InstanceStatus, InstanceView, Link,
    SourceType, VolumeView,
};
use crate::{
    api::common::region::Region,
    domain::{
        backup::Backup,
        identity::Principal,
        operation::OperationKind,
        source::{InstanceConfig, Source, SourceKind},
        state::State,
    },
    error::{CoreError, CoreResult},
    state::AppState,
};

/// Flavors offered: id, name, RAM in MB.
pub const FLAVORS: &[(u32, &str, u32)] = &[
    (1, "512MB Instance", 512),
    (2, "1GB Instance", 1024),
    (3, "2GB Instance", 2048),
    (4, "4GB Instance", 4096),
    (5, "8GB Instance", 8192),
    (6, "16GB Instance", 16384),
];

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The Trove status of a unified state.
pub fn status(state: State) -> BackupStatus {
    match state {
        State::Queued => BackupStatus::New,
        State::Running | State::Cancelling => BackupStatus::Building,
        State::Succeeded | State::SucceededWithErrors => BackupStatus::Completed,
        State::DeleteFailed => BackupStatus::DeleteFailed,
        State::Failed | State::Cancelled | State::Missed | State::Skipped => BackupStatus::Failed,
    }
}

pub fn flavor_ram(id: &str) -> Option<u32> {
    FLAVORS.iter().find(|(f, _, _)| f.to_string() == id).map(|(_, _, ram)| *ram)
}

/// A resource's links as Trove gives them, at the region's endpoint: `self` with the API
/// version, `bookmark` without it.
pub fn links(state: &AppState, region: &Region, account: &str, path: &str) -> Vec<Link> {
    let base = state.settings.base_url();
    let endpoint = region.endpoint(base, account);
    let unversioned = endpoint[base.len()..].replacen("/v1.0", "", 1);
    vec![
        Link { rel: "self".into(), href: format!("{endpoint}/{path}") },
        Link { rel: "bookmark".into(), href: format!("{base}{unversioned}/{path}") },
    ]
}

pub fn flavor(state: &AppState, region: &Region, account: &str, id: u32, name: &str, ram: u32) -> FlavorView {
    FlavorView { id, name: name.to_owned(), ram, links: links(state, region, account, &format!("flavors/{id}")) }
}

/// The region a backup lives in, as the catalog names it.
pub fn region_of(state: &AppState, b: &Backup) -> Region {
    Region::of(&state.settings.regions, &state.engine.region_of(b)).unwrap_or_else(|| Region::home(&state.settings.regions))
}

fn datastore(config: &InstanceConfig) -> DatastoreView {
    let version = if config.datastore_version.is_empty() { "current".to_owned() } else { config.datastore_version.clone() };
    let version_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{}:{version}", config.datastore).as_bytes());
    DatastoreView { kind: config.datastore.clone(), version, version_id: Some(version_id.to_string()) }
}

fn backup_type(datastore: &str, incremental: bool) -> &'static str {
    match (datastore, incremental) {
        ("mysql", false) => "InnoBackupEx",
        ("mysql", true) => "InnoBackupExIncremental",
        ("postgresql", _) => "PgDump",
        _ => "SqliteSnapshot",
    }
}

/// A database backup of the region by id, or the dialect's 404 (another region's backups are
/// not found here, as in separate regional services).
pub async fn find(state: &AppState, p: &Principal, region: &Region, id: &str) -> CoreResult<Backup> {
    let not_found = || CoreError::NotFound { what: "Backup", id: id.to_owned() };
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    let backup = state.engine.backup(p, uuid).await.map_err(|_| not_found())?;
    let kind = backup.metadata.get("source_kind").and_then(Value::as_str).unwrap_or_default();
    if kind != SourceKind::Instance.as_str() && kind != SourceKind::HaGroup.as_str() || state.engine.region_of(&backup) != region.name {
        return Err(not_found());
    }
    Ok(backup)
}

/// The `backup` object.
pub fn backup(state: &AppState, p: &Principal, b: &Backup) -> BackupView {
    let config: InstanceConfig = b.metadata.get("config").cloned().and_then(|c| serde_json::from_value(c).ok()).unwrap_or_default();
    let ha = b.metadata.get("source_kind").and_then(Value::as_str) == Some(SourceKind::HaGroup.as_str());
    let done = b.state.is_success();
    BackupView {
        id: b.id.to_string(),
        name: b.name.clone(),
        description: Some(b.description.clone()).filter(|d| !d.is_empty()),
        status: status(b.state),
        instance_id: (!ha).then(|| b.source_id.to_string()),
        parent_id: b.parent_id.map(|id| id.to_string()),
        location_ref: done.then(|| format!("{}/backups/{}", region_of(state, b).endpoint(state.settings.base_url(), &p.tenant_name), b.id)),
        size: done.then(|| (b.size_bytes as f64 / f64::from(1u32 << 30) * 1e6).round() / 1e6),
        created: time(b.created_at),
        updated: time(b.updated_at),
        datastore: Some(datastore(&config)),
        source: Some(BackupSourceView { kind: if ha { SourceType::Ha } else { SourceType::Instance }, id: b.source_id.to_string() }),
        is_automated: Some(Automated(b.plan_id.is_some())),
        flavor_ram: Some(if config.flavor_ram_mb == 0 { 1024 } else { config.flavor_ram_mb }),
        kind: Some(backup_type(&config.datastore, b.parent_id.is_some()).to_owned()),
        volume_size: Some(if config.volume_gb == 0 { 1 } else { config.volume_gb }),
        project_id: Some(p.tenant_name.clone()),
    }
}

/// The `instance` object, linked at the region's endpoint.
pub async fn instance(state: &AppState, p: &Principal, region: &Region, s: &Source) -> CoreResult<InstanceView> {
    let config: InstanceConfig = serde_json::from_value(s.config.clone()).unwrap_or_default();
    // A restored instance is BUILD until its restore ends.
    let restoring = match config.restored_from {
        Some(_) => state
            .engine
            .operations(p, &[OperationKind::Restore], 200)
            .await?
            .iter()
            .any(|o| o.result.get("source_id").and_then(Value::as_str) == Some(&s.id.to_string()) && !o.state.is_terminal()),
        None => false,
    };
    let flavor_id = if config.flavor.is_empty() { "1".to_owned() } else { config.flavor.clone() };
    Ok(InstanceView {
        id: s.id.to_string(),
        name: s.name.clone(),
        status: if restoring { InstanceStatus::Build } else { InstanceStatus::Active },
        created: time(s.created_at),
        updated: time(s.created_at),
        datastore: datastore(&config),
        flavor: FlavorLink { links: links(state, region, &p.tenant_name, &format!("flavors/{flavor_id}")), id: flavor_id },
        volume: VolumeView { size: if config.volume_gb == 0 { 1 } else { config.volume_gb } },
        hostname: format!("{}.coffer.local", s.id.simple()),
        links: links(state, region, &p.tenant_name, &format!("instances/{}", s.id)),
    })
}
