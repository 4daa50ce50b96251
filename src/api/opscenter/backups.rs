//! Cluster backups: run, list by tag, activity (read in [`super::history`]), sync to destinations,
//! delete, restore, graphs.
// OpenAPI handlers take one argument per query parameter.
#![allow(clippy::too_many_arguments)]

use std::collections::BTreeMap;

use poem::web::Data;
use poem_openapi::{
    OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    cluster,
    history::{ActivityQuery, ListQuery, activity, listing},
    models::{
        ActivityEvent, ActivityType, Backups, Graphs, KeyspaceChoice, KeyspaceRestore, Names, RequestId, Restore, RunBackup, SyncAnswer,
        SyncBackup, Truthy, names, numeric,
    },
    view,
};
use crate::{
    api::common::security::Caller,
    domain::{
        backup::{Backup, Selection},
        identity::Principal,
        operation::OperationOptions,
    },
    engine::{AfterDelete, BackupSpec, RestoreSpec, RestoreTarget, SourceView},
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
pub(super) async fn by_tag(state: &AppState, p: &Principal, view: &SourceView, tag: &str) -> Result<Backup, CoreError> {
    if let Ok(id) = Uuid::parse_str(tag)
        && let Ok(b) = state.engine.backup(p, id).await
        && b.source_id == view.source.id
    {
        return Ok(b);
    }
    tagged(state, p, view, tag).await?.ok_or_else(|| CoreError::not_found("backup", tag))
}

/// The cluster's live backup whose tag is `tag` (by the tag column or the second the tag names).
pub(super) async fn tagged(state: &AppState, p: &Principal, view: &SourceView, tag: &str) -> Result<Option<Backup>, CoreError> {
    let candidates = state.engine.backups_tagged(p, view.source.id, tag, view::tag_time(tag)).await?;
    Ok(candidates.into_iter().find(|b| view::tag(b) == tag))
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

/// The restart pause OpsCenter assumes when none is given.
const DEFAULT_RESTART_PAUSE: f64 = 60.0;

/// One keyspace's options with the body's defaults filled in.
struct KeyspaceAsk {
    tables: Vec<String>,
    truncate: bool,
    use_sstableloader: bool,
}

impl KeyspaceAsk {
    fn of(ks: &KeyspaceRestore, body: &Restore) -> Self {
        let tables = ks.column_families.clone().or_else(|| ks.column_families_alias.clone()).or_else(|| ks.tables.clone());
        KeyspaceAsk {
            tables: names(tables),
            truncate: ks.truncate.or(body.truncate).is_some_and(|t| t.0),
            use_sstableloader: ks.use_sstableloader.or(body.use_sstableloader).is_none_or(|t| t.0),
        }
    }
}

/// A restore request from OpsCenter's options. `keyspace`/`table` come from the path; the
/// per-keyspace options are then at the top of the body.
pub(super) fn restore_spec(backup_id: Uuid, body: &Restore, keyspace: Option<&str>, table: Option<&str>) -> Result<RestoreSpec, CoreError> {
    let mut renames = BTreeMap::new();
    for (from, to) in body.keyspace_remappings.iter().flatten() {
        if from != to {
            renames.insert(from.clone(), to.clone());
        }
    }
    if let Some(pause) = numeric(body.restart_pause)
        && pause != DEFAULT_RESTART_PAUSE
    {
        return Err(CoreError::BadRequest(format!(
            "restart_pause {pause} cannot be honoured: Coffer writes table files in place and restarts no node, so there is no pause \
             between restarts to set; leave restart_pause out (or at its default, 60)"
        )));
    }
    let top_tables = body.column_families.clone().or_else(|| body.column_families_alias.clone());
    let top = KeyspaceRestore { column_families: top_tables.clone(), ..Default::default() };
    let per_keyspace: Vec<(String, KeyspaceAsk)> = match keyspace {
        Some(ks) => {
            if body.keyspaces.is_some() {
                return Err(CoreError::BadRequest(format!(
                    "keyspaces: this restore is of keyspace {ks}, named in the path; restore all keyspaces to name several"
                )));
            }
            let mut ask = KeyspaceAsk::of(&top, body);
            if let Some(t) = table {
                if top_tables.is_some() && ask.tables != [t] {
                    return Err(CoreError::BadRequest(format!(
                        "column-families: this restore is of table {ks}.{t}, named in the path; restore the keyspace to name several tables"
                    )));
                }
                ask.tables = vec![t.to_owned()];
            }
            vec![(ks.to_owned(), ask)]
        }
        None => {
            if top_tables.is_some() {
                return Err(CoreError::BadRequest(
                    "column-families belongs under keyspaces in a restore of all keyspaces (keyspaces: {<name>: {\"column-families\": [...]}})"
                        .into(),
                ));
            }
            match &body.keyspaces {
                None => Vec::new(),
                Some(KeyspaceChoice::Options(map)) => map
                    .iter()
                    .map(|(ks, o)| (ks.clone(), KeyspaceAsk::of(o.as_ref().unwrap_or(&KeyspaceRestore::default()), body)))
                    .collect(),
                Some(KeyspaceChoice::Names(Names(list))) => {
                    list.iter().map(|ks| (ks.clone(), KeyspaceAsk::of(&KeyspaceRestore::default(), body))).collect()
                }
            }
        }
    };
    // Without sstableloader the backup's files replace the live ones: only truncating does that.
    let everything = KeyspaceAsk::of(&KeyspaceRestore::default(), body);
    let replaced_without_truncate = match per_keyspace.is_empty() {
        true => (!everything.use_sstableloader && !everything.truncate).then(|| "the restored keyspaces".to_owned()),
        false => per_keyspace.iter().find(|(_, a)| !a.use_sstableloader && !a.truncate).map(|(ks, _)| format!("keyspace {ks}")),
    };
    if let Some(what) = replaced_without_truncate {
        return Err(CoreError::BadRequest(format!(
            "use_sstableloader false replaces the live table files with the backup's, which needs truncate true ({what} is not truncated)"
        )));
    }
    let (mut selection, mut truncated) = (Selection::default(), Selection::default());
    for (ks, ask) in &per_keyspace {
        if ask.tables.is_empty() {
            selection.keyspaces.push(ks.clone());
            if ask.truncate {
                truncated.keyspaces.push(ks.clone());
            }
        } else {
            for t in &ask.tables {
                selection.tables.push(format!("{ks}.{t}"));
                if ask.truncate {
                    truncated.tables.push(format!("{ks}.{t}"));
                }
            }
        }
    }
    // A restore of everything truncates everything it writes, or nothing.
    let (truncate, truncate_only) = match per_keyspace.is_empty() {
        true => (everything.truncate, None),
        false => (!truncated.is_everything(), (!truncated.is_everything()).then_some(truncated)),
    };
    let throttle = numeric(body.throttle);
    if throttle.is_some_and(|t| t < 0.0) {
        return Err(CoreError::BadRequest("throttle cannot be negative".into()));
    }
    let options = OperationOptions {
        throttle_bytes_per_sec: throttle.filter(|t| *t > 0.0).map(|mb| (mb * 1_048_576.0) as u64),
        excluded_nodes: names(body.excluded_nodes.clone().or_else(|| body.excluded_nodes_alias.clone())),
        force: body.force.is_some_and(|f| f.0),
    };
    let check_schema = !body.force_schema.is_some_and(|f| f.0);
    Ok(RestoreSpec {
        backup_id,
        target: RestoreTarget::SameNodes { truncate, truncate_only, keyspace_renames: renames, check_schema },
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
    body: &Restore,
    ks: Option<&str>,
    cf: Option<&str>,
) -> Result<RequestId, CoreError> {
    let view = cluster(state, p, cluster_id).await?;
    let backup = by_tag(state, p, &view, tag).await?;
    let mut spec = restore_spec(backup.id, body, ks, cf)?;
    if let Some(d) = body.destination.as_deref().filter(|d| !d.is_empty()) {
        spec.destination_id = Some(view::find_destination(state, p, d).await?.id);
    }
    Ok(RequestId::of(state.engine.start_restore(p, spec).await?.id))
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
        /// How many events to answer.
        count: Query<Option<usize>>,
        /// 1: oldest first.
        reverse: Query<Option<Truthy>>,
        /// Events at or before this moment (seconds since the epoch); with `reverse`, at or after.
        timestamp: Query<Option<f64>>,
        /// Only events of this type.
        filter_type: Query<Option<String>>,
        /// 1: only backups not deleted.
        filter_live: Query<Option<Truthy>>,
        /// 1: only events that completed successfully.
        filter_success: Query<Option<Truthy>>,
        /// Leave out the events before this backup's (a tag).
        first_backup_id: Query<Option<String>>,
    ) -> poem::Result<Json<Vec<ActivityEvent>>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let kind = match filter_type.0.as_deref().filter(|k| !k.is_empty()) {
            None => None,
            Some("backup") => Some(ActivityType::Backup),
            Some("restore") => Some(ActivityType::Restore),
            // A type no event has: nothing matches.
            Some(_) => return Ok(Json(Vec::new())),
        };
        let q = ActivityQuery {
            count: count.0,
            oldest_first: reverse.0.is_some_and(|r| r.0),
            timestamp: timestamp.0,
            kind,
            live_only: filter_live.0.is_some_and(|f| f.0),
            success_only: filter_success.0.is_some_and(|f| f.0),
            first_backup_id: first_backup_id.0.filter(|f| !f.is_empty()),
        };
        Ok(Json(activity(&state, p, &view, &q).await?))
    }

    /// Completed backups of the cluster by tag, newest first.
    #[oai(path = "/:cluster_id/backups", method = "get", operation_id = "opscenter_backups")]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        /// Only the backups of this job schedule (`adhoc`: the one-time ones).
        #[oai(name = "match")]
        matching: Query<Option<String>>,
        /// Only backups made at or before this moment (seconds since the epoch), or before this tag.
        last_seen: Query<Option<String>>,
        /// How many backups to answer.
        amount: Query<Option<usize>>,
        /// Only backups held at this destination.
        destination: Query<Option<String>>,
        /// Accepted for OpsCenter scripts: the server records every backup, so every listing is whole.
        list_all: Query<Option<Truthy>>,
    ) -> poem::Result<Json<Backups>> {
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
    ) -> poem::Result<Json<Backups>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let q = ListQuery { matching: matching.0, last_seen: last_seen.0, amount: amount.0, destination: destination.0 };
        Ok(Json(listing(&state, p, &view, &q, Some(&keyspace)).await?))
    }

    /// Backs up the cluster now (`keyspaces`, all when absent; `destinations`). Answers the request id.
    #[oai(path = "/:cluster_id/backups/run", method = "post", operation_id = "opscenter_run_backup")]
    async fn run(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<RunBackup>,
    ) -> poem::Result<Json<RequestId>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let keyspaces = names(body.0.keyspaces);
        if !keyspaces.is_empty()
            && let Some(known) = super::clusters::known_keyspaces(&state, p, &view).await?
            && let Some(missing) = keyspaces.iter().find(|ks| !known.contains_key(*ks))
        {
            return Err(CoreError::BadRequest(format!("cluster {} has no keyspace '{missing}'", view.source.name)).into());
        }
        let ids = body.0.destinations.map(|d| d.0).unwrap_or_default();
        let (destination_id, copies) = run_destinations(&state, p, &ids).await?;
        let spec = BackupSpec {
            source_id: view.source.id,
            selection: Selection { keyspaces, ..Default::default() },
            destination_id,
            copy_to_destinations: copies,
            ..Default::default()
        };
        let (op, _) = state.engine.start_backup(p, spec).await?;
        Ok(Json(RequestId::of(op.id)))
    }

    /// Copies a backup to more destinations (`tag`, `destinations`). Answers the request id; for
    /// several destinations, the list of every request id (one copy each; each request's status
    /// names its destination).
    #[oai(path = "/:cluster_id/backups/sync", method = "post", operation_id = "opscenter_sync_backup")]
    async fn sync(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        body: Json<SyncBackup>,
    ) -> poem::Result<Json<SyncAnswer>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let tag = body.0.tag.filter(|t| !t.is_empty()).ok_or_else(|| CoreError::BadRequest("tag is required".into()))?;
        let backup = by_tag(&state, p, &view, &tag).await?;
        let ids = body.0.destinations.map(|d| d.0).unwrap_or_default();
        if ids.is_empty() {
            return Err(CoreError::BadRequest("destinations must name at least one destination".into()).into());
        }
        let mut targets = Vec::new();
        for id in ids {
            targets.push(view::find_destination(&state, p, &id).await?.id);
        }
        let mut requests = Vec::new();
        for to in targets {
            requests.push(RequestId::of(state.engine.start_copy(p, backup.id, to).await?.id));
        }
        Ok(Json(match requests.len() {
            1 => SyncAnswer::One(requests.remove(0)),
            _ => SyncAnswer::Several(requests),
        }))
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
        /// The backup's tag (required).
        tag: Query<Option<String>>,
        /// The destination to delete it from.
        destination: Query<Option<String>>,
        /// Also remove the destination once the backup is deleted from it. Default false.
        remove_destination: Query<Option<Truthy>>,
    ) -> poem::Result<Json<RequestId>> {
        let p = caller.principal();
        let view = cluster(&state, p, &cluster_id).await?;
        let tag = tag.0.filter(|t| !t.is_empty()).ok_or_else(|| CoreError::BadRequest("tag is required".into()))?;
        let backup = by_tag(&state, p, &view, &tag).await?;
        let after = match remove_destination.0.is_some_and(|r| r.0) {
            true => AfterDelete::RemoveEmptyDestination,
            false => AfterDelete::KeepDestination,
        };
        let at = view::find_destination(&state, p, destination.0.as_deref().unwrap_or_default()).await?.id;
        let op = state.engine.delete_backup_at(p, backup.id, at, after).await.map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::BadRequest(format!(
                "backup {tag} is not stored at destination {}; name one that holds it with destination",
                view::destination_id(&state, at)
            )),
            other => other,
        })?;
        Ok(Json(RequestId::of(op.id)))
    }

    /// Restores every keyspace the options select from a backup, in place. Answers the request id.
    #[oai(path = "/:cluster_id/backups/restore/:tag", method = "post", operation_id = "opscenter_restore")]
    async fn restore_all(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
        body: Json<Restore>,
    ) -> poem::Result<Json<RequestId>> {
        Ok(Json(restore(&state, caller.principal(), &cluster_id, &tag, &body, None, None).await?))
    }

    /// Restores one keyspace (`column-families`, `truncate`, `use_sstableloader` at the top of the body).
    #[oai(path = "/:cluster_id/backups/restore/:tag/:keyspace", method = "post", operation_id = "opscenter_restore_keyspace")]
    async fn restore_keyspace(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
        keyspace: Path<String>,
        body: Json<Restore>,
    ) -> poem::Result<Json<RequestId>> {
        Ok(Json(restore(&state, caller.principal(), &cluster_id, &tag, &body, Some(&keyspace), None).await?))
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
        body: Json<Restore>,
    ) -> poem::Result<Json<RequestId>> {
        Ok(Json(restore(&state, caller.principal(), &cluster_id, &tag, &body, Some(&keyspace), Some(&table)).await?))
    }

    /// The backup in figures, node by node: bytes, files and how long each node took.
    #[oai(path = "/:cluster_id/backups/graphs/:tag", method = "get", operation_id = "opscenter_graphs")]
    async fn graphs(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        tag: Path<String>,
    ) -> poem::Result<Json<Graphs>> {
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
    ) -> poem::Result<Json<Graphs>> {
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
