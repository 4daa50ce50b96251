//! The cluster's backup history: completed backups by tag (`GET /{cluster_id}/backups`) and the
//! backup and restore events (`GET /{cluster_id}/backup-activity`).

use std::collections::{BTreeMap, HashMap, hash_map::Entry};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{
    backups::{by_tag, tagged},
    models::{ActivityEvent, ActivityType, Backup as BackupEntry, Backups, DestinationView, KeyspaceTables, RequestState},
    view,
};
use crate::{
    domain::{
        identity::Principal,
        operation::{Operation, OperationKind},
        state::State,
    },
    engine::{BackupPage, SourceView},
    error::CoreError,
    state::AppState,
};

/// How many backups a listing reads from SQL at a time.
const LIST_BATCH: usize = 500;

/// The backups of a cluster as `{tag: {"id", "keyspaces", "time"}}`, filtered as `GET /backups` asks.
/// Read newest first a batch at a time, so `amount` backups cost a page, not the whole history.
pub(super) async fn listing(
    state: &AppState,
    p: &Principal,
    view: &SourceView,
    q: &ListQuery,
    keyspace: Option<&str>,
) -> Result<Backups, CoreError> {
    let engine = &state.engine;
    let mut out = Backups::default();
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
            (_, Err(_)) => return Ok(out),
        };
    }
    if let Some(last) = q.last_seen.as_deref().filter(|s| !s.is_empty()) {
        page.after = match last.parse::<f64>() {
            // `time <= last_seen` in whole seconds: made before the next second begins.
            Ok(t) => match chrono::DateTime::from_timestamp((t.floor() as i64).saturating_add(1), 0) {
                Some(next) => Some((next, Uuid::nil())),
                None if t < 0.0 => return Ok(out),
                None => None,
            },
            Err(_) => Some((by_tag(state, p, view, last).await?.created_at, Uuid::nil())),
        };
    }
    let full = |out: &Backups| q.amount.is_some_and(|amount| out.0.len() >= amount);
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
                let Some(one) = keyspaces.0.remove(ks) else { continue };
                keyspaces.0 = BTreeMap::from([(ks.to_owned(), one)]);
            }
            let mut destinations = vec![view::destination_id(state, b.destination_id)];
            destinations.extend(copies.iter().map(|c| view::destination_id(state, *c)));
            let entry = BackupEntry { id: view::schedule_word(b), keyspaces, time: view::epoch(b.created_at), destinations };
            out.0.insert(view::tag(b), entry);
        }
        if backups.len() < batch {
            break;
        }
    }
    Ok(out)
}

/// Query of `GET /{cluster_id}/backup-activity`.
pub(super) struct ActivityQuery {
    pub(super) count: Option<usize>,
    pub(super) oldest_first: bool,
    pub(super) timestamp: Option<f64>,
    pub(super) kind: Option<ActivityType>,
    pub(super) live_only: bool,
    pub(super) success_only: bool,
    pub(super) first_backup_id: Option<String>,
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
pub(super) async fn activity(
    state: &AppState,
    p: &Principal,
    view: &SourceView,
    q: &ActivityQuery,
) -> Result<Vec<ActivityEvent>, CoreError> {
    let engine = &state.engine;
    let wants = |kind: ActivityType| q.kind.is_none_or(|k| k == kind);
    let deleted = deleted_backups(state, p, view).await?;
    let restores = match wants(ActivityType::Restore) {
        true => engine.source_operations(p, view.source.id, OperationKind::Restore, 1000).await?,
        false => Vec::new(),
    };
    let mut events: Vec<(DateTime<Utc>, ActivityEvent)> = Vec::new();
    let mut rows = HashMap::new();
    let mut destination = async |id: Uuid| -> Option<DestinationView> {
        if let Entry::Vacant(slot) = rows.entry(id) {
            slot.insert(engine.destination_row(p, id).await.ok().map(|row| view::destination(state, &row)));
        }
        rows[&id].clone()
    };
    if wants(ActivityType::Backup) {
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
                let event = ActivityEvent {
                    week: view::week(b.created_at),
                    destination: Some(row),
                    kind: ActivityType::Backup,
                    deleted_at: None,
                    backup_id: view::tag(&b),
                    keyspaces: keyspaces.clone(),
                    event_time: view::epoch(b.created_at),
                    status: view::state_word(b.state),
                    request_id: b.operation_id.map(|id| id.to_string()),
                    full_status: full_status.clone(),
                };
                events.push((b.created_at, event));
            }
        }
        // Deleted backups stay in the history with the time they were deleted.
        for d in deleted.iter().filter(|_| !q.live_only) {
            let mut keyspaces = KeyspaceTables::default();
            for (ks, table) in d.tables.iter().filter_map(|t| t.split_once('.')) {
                keyspaces.0.entry(ks.to_owned()).or_default().push(table.to_owned());
            }
            let id = view::destination_id(state, d.destination_id);
            let row = destination(d.destination_id).await.unwrap_or(DestinationView { id, ..Default::default() });
            events.push((
                d.created,
                ActivityEvent {
                    week: view::week(d.created),
                    destination: Some(row),
                    kind: ActivityType::Backup,
                    deleted_at: Some(view::epoch(d.deleted)),
                    backup_id: d.tag.clone(),
                    keyspaces,
                    event_time: view::epoch(d.created),
                    status: d.state.map(view::state_word).unwrap_or(RequestState::Success),
                    request_id: None,
                    full_status: None,
                },
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
            ActivityEvent {
                week: view::week(op.created_at),
                destination: destination(from).await,
                kind: ActivityType::Restore,
                deleted_at: None,
                backup_id: tag,
                keyspaces: status.keyspaces.clone(),
                event_time: view::epoch(op.created_at),
                status: view::state_word(op.state),
                request_id: Some(op.id.to_string()),
                full_status: Some(status),
            },
        ));
    }
    events.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut events: Vec<ActivityEvent> = events.into_iter().map(|(_, e)| e).collect();
    if q.oldest_first {
        events.reverse();
    }
    if let Some(t) = q.timestamp {
        events.retain(|e| if q.oldest_first { e.event_time as f64 >= t } else { e.event_time as f64 <= t });
    }
    if q.live_only {
        events.retain(|e| e.deleted_at.is_none());
    }
    if q.success_only {
        events.retain(|e| e.status == RequestState::Success);
    }
    if let Some(first) = &q.first_backup_id
        && let Some(pos) = events.iter().position(|e| &e.backup_id == first)
    {
        events.drain(..pos);
    }
    if let Some(n) = q.count {
        events.truncate(n);
    }
    Ok(events)
}

/// Query of `GET /{cluster_id}/backups`.
pub(super) struct ListQuery {
    pub(super) matching: Option<String>,
    pub(super) last_seen: Option<String>,
    pub(super) amount: Option<usize>,
    pub(super) destination: Option<String>,
}
