//! Trove shapes: engine backups and instances as the clients read them, with every field the
//! seed's examples show (a missing field makes troveclient lazy-load the object).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
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

/// The Trove status word of a unified state.
pub fn status(state: State) -> &'static str {
    match state {
        State::Queued => "NEW",
        State::Running | State::Cancelling => "BUILDING",
        State::Succeeded | State::SucceededWithErrors => "COMPLETED",
        State::DeleteFailed => "DELETE_FAILED",
        State::Failed | State::Cancelled | State::Missed | State::Skipped => "FAILED",
    }
}

/// A flavor id from `flavorRef`: an int, a numeric string, or an href ending in `/flavors/{id}`.
pub fn flavor_id(flavor_ref: Option<&Value>) -> Option<String> {
    match flavor_ref? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => s.rsplit('/').next().map(str::to_owned).filter(|s| !s.is_empty()),
        _ => None,
    }
}

pub fn flavor_ram(id: &str) -> Option<u32> {
    FLAVORS.iter().find(|(f, _, _)| f.to_string() == id).map(|(_, _, ram)| *ram)
}

/// A resource's links as Trove gives them: `self` with the API version, `bookmark` without it.
pub fn links(state: &AppState, account: &str, path: &str) -> Value {
    let base = state.settings.base_url();
    json!([{ "rel": "self", "href": format!("{base}/v1.0/{account}/{path}") }, { "rel": "bookmark", "href": format!("{base}/{account}/{path}") }])
}

pub fn flavor(state: &AppState, account: &str, id: u32, name: &str, ram: u32) -> Value {
    json!({ "id": id, "name": name, "ram": ram, "links": links(state, account, &format!("flavors/{id}")) })
}

fn datastore(config: &InstanceConfig) -> Value {
    let version = if config.datastore_version.is_empty() { "current".to_owned() } else { config.datastore_version.clone() };
    let version_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{}:{version}", config.datastore).as_bytes());
    json!({ "type": config.datastore, "version": version, "version_id": version_id })
}

fn backup_type(datastore: &str, incremental: bool) -> &'static str {
    match (datastore, incremental) {
        ("mysql", false) => "InnoBackupEx",
        ("mysql", true) => "InnoBackupExIncremental",
        ("postgresql", _) => "PgDump",
        _ => "SqliteSnapshot",
    }
}

/// A database backup by id, or the dialect's 404.
pub async fn find(state: &AppState, p: &Principal, id: &str) -> CoreResult<Backup> {
    let not_found = || CoreError::NotFound { what: "Backup", id: id.to_owned() };
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    let backup = state.engine.backup(p, uuid).await.map_err(|_| not_found())?;
    let kind = backup.metadata.get("source_kind").and_then(Value::as_str).unwrap_or_default();
    if kind != SourceKind::Instance.as_str() && kind != SourceKind::HaGroup.as_str() {
        return Err(not_found());
    }
    Ok(backup)
}

/// The `backup` object.
pub async fn backup(state: &AppState, p: &Principal, b: &Backup) -> CoreResult<Value> {
    let config: InstanceConfig = b.metadata.get("config").cloned().and_then(|c| serde_json::from_value(c).ok()).unwrap_or_default();
    let ha = b.metadata.get("source_kind").and_then(Value::as_str) == Some(SourceKind::HaGroup.as_str());
    let done = b.state.is_success();
    let _ = state;
    Ok(json!({
        "id": b.id,
        "name": b.name,
        "description": if b.description.is_empty() { Value::Null } else { json!(b.description) },
        "status": status(b.state),
        "instance_id": if ha { Value::Null } else { json!(b.source_id) },
        "parent_id": b.parent_id,
        "locationRef": if done { json!(format!("{}/v1.0/{}/backups/{}", state.settings.base_url(), p.tenant_name, b.id)) } else { Value::Null },
        "size": if done { json!((b.size_bytes as f64 / f64::from(1u32 << 30) * 1e6).round() / 1e6) } else { Value::Null },
        "created": time(b.created_at),
        "updated": time(b.updated_at),
        "datastore": datastore(&config),
        "source": { "type": if ha { "ha" } else { "instance" }, "id": b.source_id },
        "is_automated": i32::from(b.plan_id.is_some()),
        "flavor_ram": if config.flavor_ram_mb == 0 { 1024 } else { config.flavor_ram_mb },
        "type": backup_type(&config.datastore, b.parent_id.is_some()),
        "volume_size": if config.volume_gb == 0 { 1 } else { config.volume_gb },
        "project_id": p.tenant_name,
    }))
}

/// The `instance` object.
pub async fn instance(state: &AppState, p: &Principal, s: &Source) -> CoreResult<Value> {
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
    Ok(json!({
        "id": s.id,
        "name": s.name,
        "status": if restoring { "BUILD" } else { "ACTIVE" },
        "created": time(s.created_at),
        "updated": time(s.created_at),
        "datastore": datastore(&config),
        "flavor": { "id": flavor_id, "links": links(state, &p.tenant_name, &format!("flavors/{flavor_id}")) },
        "volume": { "size": if config.volume_gb == 0 { 1 } else { config.volume_gb } },
        "hostname": format!("{}.coffer.local", s.id.simple()),
        "links": links(state, &p.tenant_name, &format!("instances/{}", s.id)),
    }))
}
