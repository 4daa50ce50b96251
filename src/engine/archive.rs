//! Commitlog archiving and point-in-time planning. While a cluster archives, the scheduler starts
//! a round every `archive_interval_ms`: one task per node and destination, run by the node's
//! agent, ships the segments the database does not yet record (so an agent restart leaves no gap
//! and ships nothing twice). Turning archiving on or off reconfigures the nodes one after the
//! other. A point in time is served by the newest snapshot at or before it plus the segments
//! after the snapshot up to the one that covers the moment.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Engine,
    lifecycle::{new_operation, new_task},
    stored::{ConfigureParams, NoParams, archiving},
};
use crate::{
    domain::{
        archive::{ArchiveTarget, Archiving, Segment},
        backup::{Backup, Selection},
        identity::Principal,
        operation::{Operation, OperationKind, OperationOptions, Task, TaskOutcome, TaskSpec},
        source::{Node, Source, SourceKind},
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
};

/// What turning archiving on asks for.
#[derive(Clone, Debug, Default)]
pub struct ArchiveRequest {
    pub destinations: BTreeMap<Uuid, ArchiveTarget>,
    /// One archive directory for every node, instead of each node's own.
    pub staging_dir: Option<String>,
    /// The client's own settings, shown back as given.
    pub annotations: Value,
}

/// What a restore to a moment asks for.
#[derive(Clone, Copy, Debug)]
pub struct PitAsk<'a> {
    pub at: DateTime<Utc>,
    /// The keyspaces and tables restored (everything when empty).
    pub selection: &'a Selection,
    /// Where the snapshot must be held (any destination when `None`).
    pub snapshot_destination: Option<Uuid>,
    /// The archive the commitlogs are read from (the cluster's when `None`).
    pub pit_destination: Option<Uuid>,
    /// The unit the asking dialect writes moments in, for its hints.
    pub unit: MomentUnit,
}

/// How a restore to a moment is served: a snapshot and, per node, the segments to replay.
#[derive(Clone, Debug)]
pub struct PitPlan {
    pub backup: Backup,
    pub at: DateTime<Utc>,
    pub destination_id: Uuid,
    /// Node id → segments, oldest first.
    pub segments: BTreeMap<Uuid, Vec<Segment>>,
}

/// The moments a cluster can be restored to from one destination's archive: from its earliest
/// complete backup to the newest moment every node archived commitlogs up to.
#[derive(Clone, Debug)]
pub struct PitWindow {
    pub archiving: bool,
    pub destination_id: Uuid,
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
}

/// Idle archive rounds are forgotten after this long.
const IDLE_ROUNDS_KEPT_HOURS: i64 = 1;

/// How many of a cluster's newest archive rounds are read to count its failures in a row.
const FAILURES_COUNTED: u64 = 8;

/// The longest a failing cluster waits between archive rounds.
const MAX_BACKOFF_SECS: i64 = 600;

/// Whether an archive round ended without shipping every node's segments.
fn failed_round(op: &Operation) -> bool {
    op.state.is_terminal() && op.state != State::Succeeded
}

/// How many of the newest finished rounds (newest first) failed in a row; a round still running
/// neither ends nor extends the streak.
fn failure_streak(recent: &[Operation]) -> usize {
    recent.iter().skip_while(|o| !o.state.is_terminal()).take_while(|o| failed_round(o)).count()
}

/// The wait before the next round: the interval, doubled for each failure in a row, at most
/// [`MAX_BACKOFF_SECS`] (never less than the interval).
fn backoff(interval: Duration, failing: usize) -> Duration {
    let doubled = interval * (1i32 << failing.min(16));
    doubled.min(Duration::seconds(MAX_BACKOFF_SECS)).max(interval)
}

/// Where a node's closed commitlog segments appear: the cluster's staging directory when set, else
/// as the node was registered, else `commitlog` beside its data directory.
pub fn archive_dir(settings: &Archiving, node: &Node) -> String {
    settings.staging_dir.clone().or_else(|| node.commitlog_dir.clone()).unwrap_or_else(|| {
        let data = std::path::Path::new(&node.location);
        data.parent().unwrap_or(data).join("commitlog").display().to_string()
    })
}

/// `MM-DD-YYYY HH:MM:SS UTC`, as OpsCenter words times in its errors.
pub fn worded(t: DateTime<Utc>) -> String {
    t.format("%m-%d-%Y %H:%M:%S UTC").to_string()
}

/// How a dialect writes a moment in the hints of a refused point in time: the unit its own
/// field takes, so the hint can be sent back as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MomentUnit {
    /// Seconds since the epoch (OpsCenter's `pit`).
    Seconds,
    /// Milliseconds since the epoch (Instaclustr's `pointInTime`).
    Milliseconds,
    /// RFC 3339 (the admin API's `at`).
    Rfc3339,
}

impl MomentUnit {
    /// `t` in this unit.
    pub fn write(self, t: DateTime<Utc>) -> String {
        match self {
            MomentUnit::Seconds => t.timestamp().to_string(),
            MomentUnit::Milliseconds => t.timestamp_millis().to_string(),
            MomentUnit::Rfc3339 => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

impl Engine {
    /// A cluster's archiving settings.
    pub async fn archiving(&self, caller: &Principal, source_id: Uuid) -> CoreResult<Archiving> {
        archiving(&self.source_row(caller, source_id).await?)
    }

    /// Turns archiving on (with its destinations) or off (`None`), then reconfigures each node's
    /// agent one after the other, `sleep_secs` apart. Answers that operation.
    pub async fn set_archiving(
        &self,
        caller: &Principal,
        source_id: Uuid,
        request: Option<ArchiveRequest>,
        sleep_secs: u64,
    ) -> CoreResult<Operation> {
        self.set_archiving_noted(caller, source_id, request, sleep_secs, Default::default()).await
    }

    /// [`Self::set_archiving`], also recording the client's own settings of this change (`notes`)
    /// among the settings shown back, on as well as off.
    pub async fn set_archiving_noted(
        &self,
        caller: &Principal,
        source_id: Uuid,
        request: Option<ArchiveRequest>,
        sleep_secs: u64,
        notes: serde_json::Map<String, Value>,
    ) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let source = self.source_row(caller, source_id).await?;
        if source.kind != SourceKind::Cluster {
            return Err(CoreError::BadRequest(format!("'{}' is not a cluster; commitlogs are archived for clusters", source.name)));
        }
        if sleep_secs > 3600 {
            return Err(CoreError::BadRequest("sleep is at most 3600 seconds between nodes".into()));
        }
        if catalog::has_operation_in_progress(db, source.id, OperationKind::Configure).await? {
            return Err(CoreError::Unprocessable(format!("archiving of '{}' is being reconfigured; try once that ends", source.name)));
        }
        let mut settings = archiving(&source)?;
        let enabled = request.is_some();
        if let Some(request) = request {
            if request.destinations.is_empty() {
                return Err(CoreError::BadRequest("name at least one destination to archive commitlogs to".into()));
            }
            for id in request.destinations.keys() {
                self.destination_row(caller, *id).await?;
            }
            if let Some(dir) = &request.staging_dir {
                let p = std::path::Path::new(dir);
                if !p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                    return Err(CoreError::BadRequest(format!("the staging directory must be an absolute path without '..', not '{dir}'")));
                }
                // The server's own agent reads it: it must lie where users may place data.
                let agents = catalog::list_agents(db, source.tenant_id).await?;
                for node in catalog::nodes_of(db, source.id).await? {
                    if let Some(agent) = agents.iter().find(|a| a.id == node.agent_id) {
                        self.check_local_path(caller, &agent.name, dir)?;
                    }
                }
            }
            settings = Archiving {
                enabled: true,
                destinations: request.destinations,
                staging_dir: request.staging_dir,
                annotations: request.annotations,
            };
        } else {
            settings.enabled = false;
        }
        if !notes.is_empty() {
            if !settings.annotations.is_object() {
                settings.annotations = json!({});
            }
            for (k, v) in notes {
                settings.annotations[k] = v;
            }
        }
        let mut config = source.config.clone();
        config["archiving"] = serde_json::to_value(&settings).expect("settings serialise");
        catalog::update_source_config(db, source.id, config).await?;

        let op = new_operation(
            source.tenant_id,
            OperationKind::Configure,
            caller,
            Some(source.id),
            None,
            OperationOptions::default(),
            ConfigureParams { archiving: enabled, sleep_secs },
        );
        let tasks: Vec<Task> = catalog::nodes_of(db, source.id)
            .await?
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let spec = TaskSpec::ConfigureArchiving { dir: archive_dir(&settings, n), enabled, delay_secs: i as u64 * sleep_secs };
                new_task(&op, Some(n), n.agent_id, spec)
            })
            .collect();
        catalog::insert_operation(db, &op, &tasks, None).await?;
        let word = if enabled { "enabled" } else { "disabled" };
        catalog::add_event(
            db,
            source.tenant_id,
            "archiving.changed",
            &format!("commitlog archiving {word}"),
            Some(op.id),
            None,
            Some(source.id),
        )
        .await?;
        self.wake_local();
        Ok(op)
    }

    /// The archive a point in time of a cluster reads commitlogs from: the named destination (when
    /// the caller may use it), else the one the cluster archives to, else the server's own.
    async fn archive_of(&self, caller: &Principal, source: &Source, named: Option<Uuid>) -> CoreResult<Uuid> {
        if source.kind != SourceKind::Cluster {
            return Err(CoreError::BadRequest(format!("'{}' is not a cluster; only clusters restore to a point in time", source.name)));
        }
        if let Some(d) = named {
            return Ok(self.destination_row(caller, d).await?.id);
        }
        let settings = archiving(source)?;
        let mut ids = settings.destinations.keys();
        Ok(match (ids.next(), ids.next()) {
            (Some(only), None) => *only,
            _ => self.server_destination(),
        })
    }

    /// What moments the cluster can be restored to from `pit_destination` (the default one when
    /// not named); an empty window when nothing is archived there or no backup is complete.
    pub async fn pit_window(&self, caller: &Principal, source_id: Uuid, pit_destination: Option<Uuid>) -> CoreResult<PitWindow> {
        let db = &self.inner.db;
        let source = self.source_row(caller, source_id).await?;
        let destination_id = self.archive_of(caller, &source, pit_destination).await?;
        // The whole cluster restores from a backup of every table only.
        let everything = Selection::default();
        let earliest = catalog::list_backups(db, Some(source.tenant_id), Some(source.id))
            .await?
            .into_iter()
            .filter(|b| b.state.is_success() && b.selection.holds_tables_of(&everything))
            .map(|b| b.created_at)
            .min();
        let mut newest = Vec::new();
        for node in catalog::nodes_of(db, source.id).await? {
            newest.push(catalog::newest_segment(db, node.id, Some(destination_id)).await?.map(|s| s.at));
        }
        // Every node must have archived something; the window ends where the first of them stops.
        let latest = newest.into_iter().collect::<Option<Vec<_>>>().and_then(|all| all.into_iter().min());
        let latest = latest.filter(|l| earliest.is_some_and(|e| *l >= e));
        Ok(PitWindow { archiving: archiving(&source)?.enabled, destination_id, earliest: latest.and(earliest), latest })
    }

    /// Each node's newest archived segment time (none when nothing is archived yet).
    pub async fn newest_archived(&self, caller: &Principal, source_id: Uuid) -> CoreResult<Vec<(Node, Option<DateTime<Utc>>)>> {
        let source = self.source_row(caller, source_id).await?;
        let mut out = Vec::new();
        for node in catalog::nodes_of(&self.inner.db, source.id).await? {
            let newest = catalog::newest_segment(&self.inner.db, node.id, None).await?.map(|s| s.at);
            out.push((node, newest));
        }
        Ok(out)
    }

    /// How the cluster's `selection` would be restored to `at`: the newest complete backup taken
    /// at or before it that holds every table the selection covers (a backup of some tables is no
    /// snapshot of their keyspace; see [`Selection::holds_tables_of`]), held in
    /// `snapshot_destination` when named, and each node's segments in `pit_destination` (the
    /// cluster's archive when not named) from that backup up to the first one at or after `at`.
    /// A moment past the newest segment some node archived is refused with the newest valid
    /// moment, one before every snapshot with the earliest snapshot's, written in `unit`.
    pub async fn pit_plan(&self, caller: &Principal, source_id: Uuid, ask: PitAsk<'_>) -> CoreResult<PitPlan> {
        let PitAsk { at, selection, snapshot_destination, pit_destination, unit } = ask;
        let db = &self.inner.db;
        let source = self.source_row(caller, source_id).await?;
        let pit_destination = self.archive_of(caller, &source, pit_destination).await?;
        let mut candidates = Vec::new();
        let mut earliest: Option<DateTime<Utc>> = None;
        for b in catalog::list_backups(db, Some(source.tenant_id), Some(source.id)).await? {
            if !b.state.is_success() || !b.selection.holds_tables_of(selection) {
                continue;
            }
            earliest = Some(earliest.map_or(b.created_at, |e| e.min(b.created_at)));
            // Whole seconds, as backups are listed: a moment equal to a backup's listed time includes it.
            if b.created_at.timestamp() > at.timestamp() {
                continue;
            }
            let held = match snapshot_destination {
                None => true,
                Some(d) => b.destination_id == d || catalog::backup_copies_of(db, b.id).await?.contains(&d),
            };
            if held {
                candidates.push(b);
            }
        }
        let backup = candidates.into_iter().max_by_key(|b| b.created_at).ok_or_else(|| {
            let hint =
                earliest.map(|e| format!("; the earliest snapshot was taken at {} ({})", worded(e), unit.write(e))).unwrap_or_default();
            let what = if selection.keyspaces.is_empty() && selection.tables.is_empty() {
                String::new()
            } else {
                let named: Vec<&str> = selection.keyspaces.iter().chain(&selection.tables).map(String::as_str).collect();
                format!(" holding all of {}", named.join(", "))
            };
            CoreError::BadRequest(format!("No snapshots found{what} before date and time: {}{hint}", worded(at)))
        })?;
        let all = catalog::segments_of(db, source.id, pit_destination).await?;
        let nodes = catalog::nodes_of(db, source.id).await?;
        let mut segments = BTreeMap::new();
        let mut newest_valid: Option<DateTime<Utc>> = None;
        for node in &nodes {
            let mine: Vec<&Segment> = all.iter().filter(|s| s.node_id == node.id).collect();
            let Some(newest) = mine.last().map(|s| s.at) else {
                return Err(CoreError::BadRequest(format!(
                    "No commitlogs archived for node {} in that destination; a point in time needs them",
                    node.name
                )));
            };
            newest_valid = Some(newest_valid.map_or(newest, |t| t.min(newest)));
            // After the snapshot, up to and including the first segment closed at or after the moment:
            // it holds the writes just before it.
            let mut chosen: Vec<Segment> = Vec::new();
            for s in mine.into_iter().filter(|s| s.at.timestamp_millis() > backup.created_at.timestamp_millis()) {
                chosen.push(s.clone());
                if s.at >= at {
                    break;
                }
            }
            segments.insert(node.id, chosen);
        }
        if let Some(newest) = newest_valid.filter(|n| at > *n) {
            return Err(CoreError::BadRequest(format!(
                "No commitlogs archived up to date and time: {} on every node; the latest valid point in time is {} ({})",
                worded(at),
                worded(newest),
                unit.write(newest)
            )));
        }
        Ok(PitPlan { backup, at, destination_id: pit_destination, segments })
    }

    /// The scheduler's part: starts an archive round for every archiving cluster whose last round
    /// ended at least an interval ago, and forgets old rounds that shipped nothing.
    pub(crate) async fn run_archiving(&self) -> CoreResult<()> {
        let db = &self.inner.db;
        let interval = Duration::milliseconds(self.inner.settings.archive_interval_ms as i64);
        let now = Utc::now();
        for source in catalog::list_sources(db, None, Some(SourceKind::Cluster)).await? {
            let settings = match archiving(&source) {
                Ok(settings) => settings,
                Err(e) => {
                    tracing::warn!(cluster = %source.id, error = %e, "not archiving a cluster whose settings do not read");
                    continue;
                }
            };
            if !settings.enabled || settings.destinations.is_empty() {
                continue;
            }
            // One server decides a cluster's next round (and says a transition) at a time.
            let _deciding = catalog::lock_starts(db).await?;
            let recent = catalog::source_operations(db, source.tenant_id, source.id, OperationKind::Archive, FAILURES_COUNTED).await?;
            let failing = failure_streak(&recent);
            if let Some(last) = recent.first()
                && (!last.state.is_terminal() || last.finished_at.unwrap_or(last.created_at) + backoff(interval, failing) > now)
            {
                continue;
            }
            self.say_archive_transition(&source, &recent, failing).await?;
            let scheduler = super::plans::scheduler(source.tenant_id);
            // One round serves every destination; it goes as fast as the slowest one allows.
            let options = OperationOptions {
                throttle_bytes_per_sec: settings.destinations.values().filter_map(|t| t.throttle_bytes_per_sec).min(),
                ..Default::default()
            };
            let op = new_operation(source.tenant_id, OperationKind::Archive, &scheduler, Some(source.id), None, options, NoParams);
            let mut tasks = Vec::new();
            for node in catalog::nodes_of(db, source.id).await? {
                for destination in settings.destinations.keys() {
                    let spec = TaskSpec::ArchiveCommitlogs {
                        snapshot: format!("commitlog-{}", Uuid::new_v4().simple()),
                        node_key: node.id.to_string(),
                        dir: archive_dir(&settings, &node),
                        destination: *destination,
                        known: catalog::segment_names(db, node.id, *destination).await?,
                    };
                    tasks.push(new_task(&op, Some(&node), node.agent_id, spec));
                }
            }
            catalog::insert_operation(db, &op, &tasks, None).await?;
            self.wake_local();
        }
        catalog::prune_idle_archive_rounds(db, now - Duration::hours(IDLE_ROUNDS_KEPT_HOURS)).await
    }

    /// An event when a cluster's archiving starts failing and when it works again, once each:
    /// the rounds in between fail quietly, further and further apart.
    async fn say_archive_transition(&self, source: &Source, recent: &[Operation], failing: usize) -> CoreResult<()> {
        let (kind, message) = match (failing, recent.get(1).is_some_and(failed_round)) {
            (1, _) => {
                let reason = recent[0].error.clone().unwrap_or_else(|| "a node's round failed".into());
                (
                    "archive.failing",
                    format!("commitlog archiving of cluster '{}' fails: {reason}; retrying less and less often", source.name),
                )
            }
            (0, true) if !recent.is_empty() => {
                ("archive.recovered", format!("commitlog archiving of cluster '{}' works again", source.name))
            }
            _ => return Ok(()),
        };
        catalog::add_event(&self.inner.db, source.tenant_id, kind, &message, recent.first().map(|o| o.id), None, Some(source.id)).await?;
        Ok(())
    }

    /// Why the cluster's commitlog archiving is not working, when its newest round failed.
    pub async fn archive_problem(&self, caller: &Principal, source: &Source) -> CoreResult<Option<String>> {
        if source.kind != SourceKind::Cluster || !archiving(source)?.enabled {
            return Ok(None);
        }
        let recent =
            catalog::source_operations(&self.inner.db, caller.tenant_id, source.id, OperationKind::Archive, FAILURES_COUNTED).await?;
        let failing = failure_streak(&recent);
        Ok((failing > 0).then(|| {
            let finished: Vec<&Operation> = recent.iter().skip_while(|o| !o.state.is_terminal()).collect();
            let reason = finished[0].error.clone().unwrap_or_else(|| "a node's round failed".into());
            let since = finished[failing - 1].created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let times = if failing as u64 == FAILURES_COUNTED { format!("at least {failing} times") } else { format!("{failing} time(s)") };
            format!("commitlog archiving has failed {times} in a row since {since}: {reason}")
        }))
    }

    /// Records the segments an archive task shipped, as it ends.
    pub(crate) async fn record_segments(&self, task: &Task, outcome: &TaskOutcome) -> CoreResult<()> {
        let TaskSpec::ArchiveCommitlogs { snapshot, destination, .. } = &task.spec else { return Ok(()) };
        let (Some(node_id), true) = (task.node_id, outcome.state.is_success()) else { return Ok(()) };
        let Some(node) = catalog::get_node(&self.inner.db, node_id).await? else { return Ok(()) };
        let Some(source) = catalog::get_source(&self.inner.db, None, node.source_id).await? else { return Ok(()) };
        let segments: Vec<Segment> = outcome.result["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some(Segment {
                    node_id,
                    destination_id: *destination,
                    name: s["name"].as_str()?.to_owned(),
                    at: DateTime::from_timestamp_millis(s["time_ms"].as_i64()?)?,
                    size: s["size"].as_i64().unwrap_or(0),
                    snapshot: snapshot.clone(),
                })
            })
            .collect();
        catalog::add_segments(&self.inner.db, source.tenant_id, source.id, &segments).await?;
        Ok(())
    }
}

/// The task that places a node's archived commitlogs beside its data directory for replay.
pub(super) fn replay_task(plan: &PitPlan, original_node: Uuid, data_dir: &str, tables: &[String]) -> TaskSpec {
    TaskSpec::RestoreCommitlogs {
        node_key: original_node.to_string(),
        restore_dir: crate::domain::archive::restore_dir(data_dir),
        point_in_time: plan.at,
        destination: plan.destination_id,
        segments: replay_list(plan, original_node),
        tables: tables.to_vec(),
    }
}

/// The segments of a plan as restore task specs: (snapshot, name) pairs per node.
fn replay_list(plan: &PitPlan, node_id: Uuid) -> Vec<(String, String)> {
    plan.segments.get(&node_id).into_iter().flatten().map(|s| (s.snapshot.clone(), s.name.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_cluster_archives_less_and_less_often_up_to_ten_minutes() {
        let interval = Duration::seconds(10);
        let waits: Vec<i64> = [0, 1, 2, 3, 6, 30].iter().map(|f| backoff(interval, *f).num_seconds()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 600, 600]);
        assert_eq!(backoff(Duration::seconds(900), 3).num_seconds(), 900, "never shorter than the interval");
    }
}
