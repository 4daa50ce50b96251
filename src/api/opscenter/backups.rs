//! Cluster backups: run, list by tag, activity, sync to destinations, delete, restore, graphs.
// OpenAPI handlers take one argument per query parameter.
#![allow(clippy::too_many_arguments)]

use std::collections::{BTreeMap, HashMap, hash_map::Entry};

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{cluster, flag, number, object, strings, view};
use crate::{
    api::common::security::Caller,
    domain::{
        backup::{Backup, Selection},
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions},
        state::State,
    },
    engine::{BackupPage, BackupSpec, RestoreSpec, RestoreTarget, SourceView},
    error::CoreError,
    state::AppState,
};

#[derive(Tags)]
enum BackupTag {
    /// Cluster backups and restores.
    Backups,
}

pub struct BackupsApi;

/// The cluster's backup a tag (or a backup id) names.
async fn by_tag(state: &AppState, p: &Principal, view: &SourceView, tag: &str) -> Result<Backup, CoreError> {
    if let Ok(id) = Uuid::parse_str(tag)
        && let Ok(b) = state.engine.backup(p, id).await
        && b.source_id == view.source.id
    {
        return Ok(b);
    }
    tagged(state, p, view, tag).await?.ok_or_else(|| CoreError::not_found("backup", tag))
}

/// The cluster's live backup whose tag is `tag` (by the tag column or the second the tag names).
async fn tagged(state: &AppState, p: &Principal, view: &SourceView, tag: &str) -> Result<Option<Backup>, CoreError> {
    let candidates = state.engine.backups_tagged(p, view.source.id, tag, view::tag_time(tag)).await?;
    Ok(candidates.into_iter().find(|b| view::tag(b) == tag))
}

/// Destination ids of a `destinations` object (`{"<id>": {...}}`), or of a list of ids.
fn destination_ids(v: Option<&Value>) -> Result<Vec<String>, CoreError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map.keys().cloned().collect()),
        other => strings(other, "destinations"),
    }
}

/// Where a run writes: the server unless only other destinations are named; the rest get copies.
async fn run_destinations(state: &AppState, p: &Principal, ids: &[String]) -> Result<(Option<Uuid>, Vec<Uuid>), CoreError> {
    let mut rows = Vec::new();
    for id in ids {
        rows.push(view::find_destination(state, p, id).await?.id);
    }
    let server = state.engine.server_destination();
    if rows.is_empty() || rows.contains(&server) {
        rows.retain(|d| *d != server);
        return Ok((None, rows));
    }
    let primary = rows.remove(0);
    Ok((Some(primary), rows))
}

/// How many backups a listing reads from SQL at a time.
const LIST_BATCH: usize = 500;

/// The backups of a cluster as `{tag: {"id", "keyspaces", "time"}}`, filtered as `GET /backups` asks.
/// Read newest first a batch at a time, so `amount` backups cost a page, not the whole history.
async fn listing(state: &AppState, p: &Principal, view: &SourceView, q: &ListQuery, keyspace: Option<&str>) -> Result<Value, CoreError> {
    let engine = &state.engine;
    let mut out = Map::new();
    let destination = match q.destination.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => Some(view::find_destination(state, p, d).await?.id),
        None => None,
    };
    // Unfiltered, `amount` backups are the first `amount` rows; a filter may skip many.
    let batch = match (q.amount, destination.is_some() || keyspace.is_some()) {
        (Some(amount), false) => amount.clamp(1, LIST_BATCH),
        _ => LIST_BATCH,
    };
    let mut page = BackupPage { source_id: Some(view.source.id), complete_only: true, limit: Some(batch as u64), ..Default::default() };
    if let Some(m) = q.matching.as_deref().filter(|m| !m.is_empty()) {
        page.plan_id = match (m, Uuid::parse_str(m)) {
            ("adhoc", _) => Some(None),
            (_, Ok(plan)) => Some(Some(plan)),
            (_, Err(_)) => return Ok(Value::Object(out)),
        };
    }
    if let Some(last) = q.last_seen.as_deref().filter(|s| !s.is_empty()) {
        page.after = match last.parse::<f64>() {
            // `time <= last_seen` in whole seconds: made before the next second begins.
            Ok(t) => match chrono::DateTime::from_timestamp((t.floor() as i64).saturating_add(1), 0) {
                Some(next) => Some((next, Uuid::nil())),
                None if t < 0.0 => return Ok(Value::Object(out)),
                None => None,
            },
            Err(_) => Some((by_tag(state, p, view, last).await?.created_at, Uuid::nil())),
        };
    }
    let full = |out: &Map<String, Value>| q.amount.is_some_and(|amount| out.len() >= amount);
    while !full(&out) {
        let backups = engine.backups_page(p, &page).await?;
        let Some(last) = backups.last() else { break };
        page.after = Some((last.created_at, last.id));
        let parts = engine.backup_details(p, &backups).await?;
        for b in &backups {
            if full(&out) {
                break;
            }
            let copies = parts.copies_of(b.id);
            if destination.is_some_and(|d| d != b.destination_id && !copies.contains(&d)) {
                continue;
            }
            let mut keyspaces = view::keyspaces(b, parts.nodes_of(b.id));
            if let Some(ks) = keyspace {
                let Some(one) = keyspaces.get(ks).cloned() else { continue };
                keyspaces = json!({ ks: one });
            }
            let mut destinations = vec![view::destination_id(state, b.destination_id)];
            destinations.extend(copies.iter().map(|c| view::destination_id(state, *c)));
            out.insert(
                view::tag(b),
                json!({ "id": view::schedule_word(b), "keyspaces": keyspaces, "time": view::epoch(b.created_at), "destinations": destinations }),
            );
        }
        if backups.len() < batch {
            break;
        }
    }
    Ok(Value::Object(out))
}

/// Query of `GET /{cluster_id}/backup-activity`.
struct ActivityQuery {
    count: Option<usize>,
    oldest_first: bool,
    timestamp: Option<f64>,
    kind: Option<String>,
    live_only: bool,
    success_only: bool,
    first_backup_id: Option<String>,
}

/// A backup deleted from the cluster, as its `backup.deleted` event recorded it.
struct DeletedBackup {
    id: Uuid,
    tag: String,
    created: DateTime<Utc>,
    deleted: DateTime<Utc>,
    destination_id: Uuid,
    tables: Vec<String>,
    state: Option<State>,
}

async fn deleted_backups(state: &AppState, p: &Principal, view: &SourceView) -> Result<Vec<DeletedBackup>, CoreError> {
    let engine = &state.engine;
    let mut out = Vec::new();
    for e in engine.source_events(p, view.source.id, "backup.deleted").await? {
        let Ok(record) = serde_json::from_str::<Value>(&e.message) else { continue };
        let (Some(id), Some(tag)) = (e.backup_id, record["tag"].as_str()) else { continue };
        out.push(DeletedBackup {
            id,
            tag: tag.to_owned(),
            created: serde_json::from_value(record["created_at"].clone()).unwrap_or(e.at),
            deleted: e.at,
            destination_id: record["destination_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).unwrap_or(engine.server_destination()),
            tables: record["tables"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect(),
            state: record["state"].as_str().and_then(|s| s.parse().ok()),
        });
    }
    Ok(out)
}

/// Where the backups' part of the activity starts, in the order it is read: `timestamp` and
/// `first_backup_id`, whichever is nearer the end. Newest first, the events before the named backup's
/// first one are cut, and that may be a later restore of it (`restores` are the ones shown).
async fn activity_start(
    state: &AppState,
    p: &Principal,
    view: &SourceView,
    q: &ActivityQuery,
    deleted: &[DeletedBackup],
    restores: &[Operation],
) -> Result<Option<(DateTime<Utc>, Uuid)>, CoreError> {
    let second = |t: f64| DateTime::from_timestamp(t as i64, 0);
    let mut starts = Vec::new();
    if let Some(t) = q.timestamp {
        // Event times are whole seconds: `<= t` is made before the next second, `>= t` from the
        // second `t` rounds up to.
        match q.oldest_first {
            false => starts.extend(second(t.floor() + 1.0).map(|s| (s, Uuid::nil()))),
            true => starts.extend(second(t.ceil()).map(|s| (s, Uuid::nil()))),
        }
    }
    if let Some(first) = &q.first_backup_id {
        // Events name backups by tag only (an id names nothing here).
        let named = match tagged(state, p, view, first).await? {
            Some(b) => Some((b.id, b.created_at)),
            None => deleted.iter().find(|d| &d.tag == first).map(|d| (d.id, d.created)),
        };
        if let Some((id, made)) = named {
            let start = match q.oldest_first {
                true => (made, Uuid::nil()),
                false => {
                    let restored = restores.iter().filter(|op| op.backup_id == Some(id)).map(|op| op.created_at);
                    (restored.fold(made, DateTime::max), Uuid::max())
                }
            };
            starts.push(start);
        }
    }
    Ok(if q.oldest_first { starts.into_iter().max() } else { starts.into_iter().min() })
}

/// The cluster's backup and restore events as `GET /backup-activity` answers them. Live backups
/// are read from SQL only as far as `count` reaches from the start the query asks for; deleted
/// backups and restores, a short history next to the backups', are read whole.
async fn activity(state: &AppState, p: &Principal, view: &SourceView, q: &ActivityQuery) -> Result<Vec<Value>, CoreError> {
    let engine = &state.engine;
    let wants = |kind: &str| q.kind.as_deref().is_none_or(|k| k == kind);
    let deleted = deleted_backups(state, p, view).await?;
    let restores = match wants("restore") {
        true => engine.source_operations(p, view.source.id, OperationKind::Restore, 1000).await?,
        false => Vec::new(),
    };
    let mut events: Vec<(DateTime<Utc>, Value)> = Vec::new();
    let mut rows = HashMap::new();
    let mut destination = async |id: Uuid| -> Option<Value> {
        if let Entry::Vacant(slot) = rows.entry(id) {
            slot.insert(engine.destination_row(p, id).await.ok().map(|row| view::destination(state, &row)));
        }
        rows[&id].clone()
    };
    if wants("backup") {
        let page = BackupPage {
            source_id: Some(view.source.id),
            complete_only: q.success_only,
            oldest_first: q.oldest_first,
            after: activity_start(state, p, view, q, &deleted, &restores).await?,
            limit: q.count.map(|n| n as u64),
            ..Default::default()
        };
        let backups = engine.backups_page(p, &page).await?;
        let details = engine.backup_details(p, &backups).await?;
        for b in backups {
            let keyspaces = view::keyspace_tables(&view::keyspaces(&b, details.nodes_of(b.id)));
            let full_status = match (b.state.is_terminal(), b.operation_id) {
                (false, Some(op)) => Some(view::request_status(state, p, &engine.operation(p, op).await?).await?),
                _ => None,
            };
            for d in std::iter::once(b.destination_id).chain(details.copies_of(b.id).iter().copied()) {
                let Some(row) = destination(d).await else { continue };
                let mut event = json!({
                    "week": view::week(b.created_at),
                    "destination": row,
                    "type": "backup",
                    "deleted_at": null,
                    "backup_id": view::tag(&b),
                    "keyspaces": keyspaces,
                    "event_time": view::epoch(b.created_at),
                    "status": view::state_word(b.state),
                    "request_id": b.operation_id,
                });
                if let Some(full) = &full_status {
                    event["full_status"] = full.clone();
                }
                events.push((b.created_at, event));
            }
        }
        // Deleted backups stay in the history with the time they were deleted.
        for d in deleted.iter().filter(|_| !q.live_only) {
            let mut keyspaces: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (ks, table) in d.tables.iter().filter_map(|t| t.split_once('.')) {
                keyspaces.entry(ks.to_owned()).or_default().push(table.to_owned());
            }
            let row = destination(d.destination_id).await.unwrap_or_else(|| json!({ "id": view::destination_id(state, d.destination_id) }));
            events.push((
                d.created,
                json!({
                    "week": view::week(d.created),
                    "destination": row,
                    "type": "backup",
                    "deleted_at": view::epoch(d.deleted),
                    "backup_id": d.tag,
                    "keyspaces": keyspaces,
                    "event_time": view::epoch(d.created),
                    "status": d.state.map(view::state_word).unwrap_or("success"),
                }),
            ));
        }
    }
    for op in restores {
        let Some(b) = op.backup_id else { continue };
        let (tag, backup_destination) = match engine.backup(p, b).await {
            Ok(backup) => (view::tag(&backup), backup.destination_id),
            Err(_) => match deleted.iter().find(|d| d.id == b) {
                Some(known) => (known.tag.clone(), known.destination_id),
                None => continue,
            },
        };
        let status = view::request_status(state, p, &op).await?;
        let from =
            op.params.get("destination_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()).unwrap_or(backup_destination);
        events.push((
            op.created_at,
            json!({
                "week": view::week(op.created_at),
                "destination": destination(from).await,
                "type": "restore",
                "deleted_at": null,
                "backup_id": tag,
                "keyspaces": status["keyspaces"],
                "event_time": view::epoch(op.created_at),
                "status": view::state_word(op.state),
                "request_id": op.id,
                "full_status": status,
            }),
        ));
    }
    events.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut events: Vec<Value> = events.into_iter().map(|(_, e)| e).collect();
    if q.oldest_first {
        events.reverse();
    }
    if let Some(t) = q.timestamp {
        events.retain(|e| {
            let at = e["event_time"].as_f64().unwrap_or(0.0);
            if q.oldest_first { at >= t } else { at <= t }
        });
    }
    if q.live_only {
        events.retain(|e| e["deleted_at"].is_null());
    }
    if q.success_only {
        events.retain(|e| e["status"] == "success");
    }
    if let Some(first) = &q.first_backup_id
        && let Some(pos) = events.iter().position(|e| e["backup_id"] == first.as_str())
    {
        events.drain(..pos);
    }
    if let Some(n) = q.count {
        events.truncate(n);
    }
    Ok(events)
}

/// Query of `GET /{cluster_id}/backups`.
struct ListQuery {
    matching: Option<String>,
    last_seen: Option<String>,
    amount: Option<usize>,
    destination: Option<String>,
}

/// A restore request from OpsCenter's options. `keyspace`/`table` come from the path; the
/// per-keyspace options are then at the top of the body.
pub(super) fn restore_spec(
    backup_id: Uuid,
    body: &Map<String, Value>,
    keyspace: Option<&str>,
    table: Option<&str>,
) -> Result<RestoreSpec, CoreError> {
    let renames: std::collections::BTreeMap<String, String> = match body.get("keyspace_remappings") {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(from, to)| match to.as_str() {
                Some(to) => Ok((from.clone(), to.to_owned())),
                None => Err(CoreError::BadRequest(format!("keyspace_remappings.{from} must be a keyspace name"))),
            })
            .filter(|r| r.as_ref().map_or(true, |(from, to)| from != to))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(CoreError::BadRequest("keyspace_remappings must map keyspace names to keyspace names".into())),
    };
    let per_keyspace: Vec<(String, Map<String, Value>)> = match keyspace {
        Some(ks) => {
            let mut opts = body.clone();
            if let Some(t) = table {
                opts.insert("column-families".into(), json!([t]));
            }
            vec![(ks.to_owned(), opts)]
        }
        None => match body.get("keyspaces") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(ks, o)| match o {
                    Value::Object(opts) => Ok((ks.clone(), opts.clone())),
                    Value::Null => Ok((ks.clone(), Map::new())),
                    other => Err(CoreError::BadRequest(format!("the options of keyspace {ks} must be an object, not {other}"))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => strings(Some(other), "keyspaces")?.into_iter().map(|ks| (ks, Map::new())).collect(),
        },
    };
    let (mut selection, mut truncated) = (Selection::default(), Selection::default());
    for (ks, opts) in &per_keyspace {
        let tables =
            strings(opts.get("column-families").or_else(|| opts.get("column_families")).or_else(|| opts.get("tables")), "column-families")?;
        let truncate = flag(opts.get("truncate"));
        if tables.is_empty() {
            selection.keyspaces.push(ks.clone());
            if truncate {
                truncated.keyspaces.push(ks.clone());
            }
        } else {
            for t in tables {
                selection.tables.push(format!("{ks}.{t}"));
                if truncate {
                    truncated.tables.push(format!("{ks}.{t}"));
                }
            }
        }
    }
    let truncate = !truncated.is_everything();
    let throttle = number(body.get("throttle"), "throttle")?;
    if throttle.is_some_and(|t| t < 0.0) {
        return Err(CoreError::BadRequest("throttle cannot be negative".into()));
    }
    let options = OperationOptions {
        throttle_bytes_per_sec: throttle.filter(|t| *t > 0.0).map(|mb| (mb * 1_048_576.0) as u64),
        excluded_nodes: strings(body.get("excluded-nodes").or_else(|| body.get("excluded_nodes")), "excluded-nodes")?,
        force: flag(body.get("force")),
    };
    Ok(RestoreSpec {
        backup_id,
        target: RestoreTarget::SameNodes { truncate, truncate_only: truncate.then_some(truncated), keyspace_renames: renames },
        selection,
        options,
        destination_id: None,
        point_in_time: None,
    })
}

async fn restore(
    state: &AppState,
    p: &Principal,
    cluster_id: &str,
    tag: &str,
    body: Value,
    ks: Option<&str>,
    cf: Option<&str>,
) -> Result<String, CoreError> {
    let view = cluster(state, p, cluster_id).await?;
    let backup = by_tag(state, p, &view, tag).await?;
    let body = object(body)?;
    let mut spec = restore_spec(backup.id, &body, ks, cf)?;
    match body.get("destination") {
        None | Some(Value::Null) => {}
        Some(Value::String(d)) if d.is_empty() => {}
        Some(Value::String(d)) => spec.destination_id = Some(view::find_destination(state, p, d).await?.id),
        Some(other) => return Err(CoreError::BadRequest(format!("destination must be a destination id, not {other}"))),
    }
    Ok(state.engine.start_restore(p, spec).await?.id.to_string())
}

#[OpenApi(tag = "BackupTag::Backups")]
impl BackupsApi {
    /// Backup and restore events of the cluster, newest first (`reverse=1`: oldest first).
    #[oai(path = "/:cluster_id/backup-activity", method = "get", operation_id = "opscenter_backup_activity")]
    async fn activity(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        count: Query<Option<usize>>,
        reverse: Query<Option<String>>,
        timestamp: Query<Option<f64>>,
        filter_type: Query<Option<String>>,
        filter_live: Query<Option<String>>,
        filter_success: Query<Option<String>>,
        first_backup_id: Query<Option<String>>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let word = |v: Option<String>| flag(v.map(Value::String).as_ref());
        let q = ActivityQuery {
            count: count.0,
            oldest_first: word(reverse.0),
            timestamp: timestamp.0,
            kind: filter_type.0.filter(|k| !k.is_empty()),
            live_only: word(filter_live.0),
            success_only: word(filter_success.0),
            first_backup_id: first_backup_id.0.filter(|f| !f.is_empty()),
        };
        Ok(Json(json!(activity(&state, p, &view, &q).await?)))
    }

    /// Completed backups of the cluster by tag, newest first.
    #[oai(path = "/:cluster_id/backups", method = "get", operation_id = "opscenter_backups")]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        #[oai(name = "match")] matching: Query<Option<String>>,
        last_seen: Query<Option<String>>,
        amount: Query<Option<usize>>,
        destination: Query<Option<String>>,
        list_all: Query<Option<String>>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let _ = list_all; // every backup the server records is listed; no agent has to be asked
        let q = ListQuery { matching: matching.0, last_seen: last_seen.0, amount: amount.0, destination: destination.0 };
        Ok(Json(listing(&state, p, &view, &q, None).await?))
    }

    /// Completed backups holding one keyspace, in the format of the cluster's list.
    #[oai(path = "/:cluster_id/backups/:keyspace", method = "get", operation_id = "opscenter_keyspace_backups")]
    async fn list_keyspace(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        keyspace: Path<String>,
        #[oai(name = "match")] matching: Query<Option<String>>,
        last_seen: Query<Option<String>>,
        amount: Query<Option<usize>>,
        destination: Query<Option<String>>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let q = ListQuery { matching: matching.0, last_seen: last_seen.0, amount: amount.0, destination: destination.0 };
        Ok(Json(listing(&state, p, &view, &q, Some(&keyspace)).await?))
    }

    /// Backs up the cluster now (`keyspaces`, all when absent; `destinations`). Answers the request id.
    #[oai(path = "/:cluster_id/backups/run", method = "post", operation_id = "opscenter_run_backup")]
    async fn run(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>, body: Json<Value>) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = object(body.0)?;
        let keyspaces = strings(body.get("keyspaces"), "keyspaces")?;
        if !keyspaces.is_empty()
            && let Some(known) = super::clusters::known_keyspaces(&state, p, &view).await?
            && let Some(missing) = keyspaces.iter().find(|ks| !known.contains_key(*ks))
        {
            return Err(CoreError::BadRequest(format!("cluster {} has no keyspace '{missing}'", view.source.name)).into());
        }
        let (destination_id, copies) = run_destinations(&state, p, &destination_ids(body.get("destinations"))?).await?;
        let spec = BackupSpec {
            source_id: view.source.id,
            selection: Selection { keyspaces, ..Default::default() },
            destination_id,
            copy_to_destinations: copies,
            ..Default::default()
        };
        let (op, _) = state.engine.start_backup(p, spec).await?;
        Ok(Json(op.id.to_string()))
    }

    /// Copies a backup to more destinations (`tag`, `destinations`). Answers the request id.
    #[oai(path = "/:cluster_id/backups/sync", method = "post", operation_id = "opscenter_sync_backup")]
    async fn sync(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let body = object(body.0)?;
        let tag = body.get("tag").and_then(Value::as_str).ok_or_else(|| CoreError::BadRequest("tag is required".into()))?;
        let backup = by_tag(&state, p, &view, tag).await?;
        let ids = destination_ids(body.get("destinations"))?;
        if ids.is_empty() {
            return Err(CoreError::BadRequest("destinations must name at least one destination".into()).into());
        }
        let mut targets = Vec::new();
        for id in ids {
            targets.push(view::find_destination(&state, p, &id).await?.id);
        }
        let mut first = None;
        for to in targets {
            let op = state.engine.start_copy(p, backup.id, to).await?;
            first.get_or_insert(op.id);
        }
        Ok(Json(first.map(|id| id.to_string()).unwrap_or_default()))
    }

    /// Deletes a backup (`tag`) from one destination only: `destination`, or the server
    /// (`OPSC_ON_SERVER`) when absent; its copies elsewhere stay. Kept nowhere else, the backup is
    /// deleted with its incrementals. `remove_destination` then also removes the destination once
    /// it holds nothing. Answers the request id.
    #[oai(path = "/:cluster_id/backups", method = "delete", operation_id = "opscenter_delete_backup")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Query<Option<String>>,
        destination: Query<Option<String>>,
        remove_destination: Query<Option<String>>,
    ) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let tag = tag.0.filter(|t| !t.is_empty()).ok_or_else(|| CoreError::BadRequest("tag is required".into()))?;
        let backup = by_tag(&state, p, &view, &tag).await?;
        let remove = flag(remove_destination.0.map(Value::String).as_ref());
        let at = view::find_destination(&state, p, destination.0.as_deref().unwrap_or_default()).await?.id;
        let op = state.engine.delete_backup_at(p, backup.id, at, remove).await.map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::BadRequest(format!(
                "backup {tag} is not stored at destination {}; name one that holds it with destination",
                view::destination_id(&state, at)
            )),
            other => other,
        })?;
        Ok(Json(op.id.to_string()))
    }

    /// Restores every keyspace the options select from a backup, in place. Answers the request id.
    #[oai(path = "/:cluster_id/backups/restore/:tag", method = "post", operation_id = "opscenter_restore")]
    async fn restore_all(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<String>> {
        Ok(Json(restore(&state, caller.principal(), &cluster_id, &tag, body.0, None, None).await?))
    }

    /// Restores one keyspace (`column-families`, `truncate` at the top of the body).
    #[oai(path = "/:cluster_id/backups/restore/:tag/:keyspace", method = "post", operation_id = "opscenter_restore_keyspace")]
    async fn restore_keyspace(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
        keyspace: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<String>> {
        Ok(Json(restore(&state, caller.principal(), &cluster_id, &tag, body.0, Some(&keyspace), None).await?))
    }

    /// Restores one table.
    #[oai(path = "/:cluster_id/backups/restore/:tag/:keyspace/:table", method = "post", operation_id = "opscenter_restore_table")]
    async fn restore_table(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
        keyspace: Path<String>,
        table: Path<String>,
        body: Json<Value>,
    ) -> poem::Result<Json<String>> {
        Ok(Json(restore(&state, caller.principal(), &cluster_id, &tag, body.0, Some(&keyspace), Some(&table)).await?))
    }

    /// The backup in figures, node by node: bytes, files and how long each node took.
    #[oai(path = "/:cluster_id/backups/graphs/:tag", method = "get", operation_id = "opscenter_graphs")]
    async fn graphs(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let backup = by_tag(&state, p, &view, &tag).await?;
        Ok(Json(super::figures::per_node(&state, p, backup.id, None).await?))
    }

    /// The backup in figures as a destination holds it.
    #[oai(path = "/:cluster_id/backups/graphs/:tag/:destination_id", method = "get", operation_id = "opscenter_graphs_at")]
    async fn graphs_at(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
        destination_id: Path<String>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let backup = by_tag(&state, p, &view, &tag).await?;
        let d = view::find_destination(&state, p, &destination_id).await?.id;
        if d != backup.destination_id && !state.engine.backup_copies(p, backup.id).await?.contains(&d) {
            return Err(CoreError::not_found("backup", format!("{} at {}", tag.0, destination_id.0)).into());
        }
        Ok(Json(super::figures::per_node(&state, p, backup.id, Some(d)).await?))
    }
}
