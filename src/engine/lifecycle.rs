//! An operation's life: building it and its tasks, handing tasks to agents with a lease,
//! recording their progress and ends, cancelling, and finishing the operation exactly once.

use chrono::{Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Engine,
    deletes::finish_delete,
    stored::{BackupParams, CopyParams, DeleteParams, OperationTotals, Params, RestoreParams},
};
use crate::{
    domain::{
        agent::Agent,
        backup::Backup,
        identity::Principal,
        operation::{Assignment, Operation, OperationKind, OperationOptions, Task, TaskOutcome, TaskProgress, TaskSpec},
        source::Node,
        state::State,
    },
    error::{CoreError, CoreResult},
    persistence::{
        TransactionTrait,
        catalog::{self, OperationPatch},
    },
};

/// A new operation, queued, with the parameters its kind records.
pub(super) fn new_operation(
    tenant_id: Uuid,
    kind: OperationKind,
    caller: &Principal,
    source_id: Option<Uuid>,
    backup_id: Option<Uuid>,
    options: OperationOptions,
    params: impl Params,
) -> Operation {
    Operation {
        id: Uuid::new_v4(),
        tenant_id,
        kind,
        state: State::Queued,
        source_id,
        backup_id,
        progress: 0.0,
        options,
        params: params.to_json(),
        result: Value::Null,
        error: None,
        created_by: caller.user_name.clone(),
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    }
}

/// A new task of `op`, queued for `agent_id` (on `node`, or on the server when none).
pub(super) fn new_task(op: &Operation, node: Option<&Node>, agent_id: Uuid, spec: TaskSpec) -> Task {
    Task {
        id: Uuid::new_v4(),
        operation_id: op.id,
        node_id: node.map(|n| n.id),
        node_name: node.map(|n| n.name.clone()).unwrap_or_else(|| "server".into()),
        agent_id,
        state: State::Queued,
        spec,
        progress: TaskProgress::default(),
        attempts: 0,
        lease_owner: None,
        error: None,
        result: Value::Null,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    }
}

/// A count in a task's report (0 when it has none).
pub(super) fn sum(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

impl Engine {
    /// Asks an operation to stop: queued tasks end at once, running ones at their next report.
    pub async fn cancel(&self, caller: &Principal, operation_id: Uuid) -> CoreResult<Operation> {
        let db = &self.inner.db;
        let op = self.operation(caller, operation_id).await?;
        if op.state.is_terminal() {
            return Err(CoreError::Unprocessable(format!("operation {} already ended ({})", op.id, op.state)));
        }
        catalog::request_task_cancel(db, op.id).await?;
        for t in catalog::tasks_of(db, op.id).await? {
            catalog::set_task_state(db, t.id, &[State::Queued], State::Cancelled, Some("cancelled before it started".into())).await?;
        }
        catalog::transition_operation(db, op.id, &[State::Running], State::Cancelling, OperationPatch::default()).await?;
        self.maybe_finish(op.id).await?;
        self.operation(caller, operation_id).await
    }

    /// Notes that `agent` asked: its last-seen time (written at most a few times per
    /// `agent_down_after_secs`, well before it would count as down) and the heartbeat metric.
    async fn heard_from(&self, agent: &Agent) -> CoreResult<()> {
        let down_after_ms = self.inner.settings.agent_down_after_secs.saturating_mul(1000) as i64;
        let fresh_for = Duration::milliseconds((down_after_ms / 4).min(5_000));
        catalog::touch_agent(&self.inner.db, agent.id, fresh_for).await?;
        self.inner.metrics.heartbeat(&agent.name, agent.id);
        Ok(())
    }

    /// Hands the agent its oldest queued task, with a lease; `None` when it has nothing to do.
    pub async fn claim(&self, agent: &Agent) -> CoreResult<Option<Assignment>> {
        let db = &self.inner.db;
        self.heard_from(agent).await?;
        let Some(task) =
            catalog::claim_task(db, agent.id, &self.inner.owner, Duration::seconds(self.inner.settings.lease_secs.clamp(2, 3600) as i64))
                .await?
        else {
            return Ok(None);
        };
        let Some(op) = catalog::get_operation(db, None, task.operation_id).await? else { return Ok(None) };
        catalog::transition_operation(db, op.id, &[State::Queued], State::Running, OperationPatch { started: true, ..Default::default() })
            .await?;
        // A backup (or a copy to a region, a backup of its own) is BUILDING once its work starts.
        if let Some(backup_id) = op.backup_id.filter(|_| matches!(op.kind, OperationKind::Backup | OperationKind::Copy))
            && let Some(mut b) = catalog::get_backup(db, None, backup_id).await?
            && b.state == State::Queued
        {
            b.state = State::Running;
            b.updated_at = Utc::now();
            catalog::save_backup(db, &b).await?;
        }
        let requested = match op.kind {
            OperationKind::Restore => RestoreParams::of(&op)?.destination_id,
            OperationKind::Copy => match CopyParams::of(&op)? {
                CopyParams::ToRegion(copy) => Some(copy.destination_id),
                CopyParams::ToDestination(_) => None,
            },
            _ => None,
        };
        let destination_id = match (task.spec.destination().or(requested), op.backup_id) {
            (Some(d), _) => d,
            (None, Some(id)) => catalog::get_backup(db, None, id).await?.map(|b| b.destination_id).unwrap_or(self.inner.server_destination),
            (None, None) => self.inner.server_destination,
        };
        // The repository is created here, once, before any agent opens it: agents opening a
        // missing repository at the same time would each write a config with its own key.
        if !agent.is_local()
            && let Err(e) = self.inner.stores.store(destination_id, op.tenant_id).await
        {
            tracing::warn!(destination = %destination_id, error = %e, "could not open the repository before handing out a task");
        }
        let mut spec = task.spec.clone();
        match &mut spec {
            TaskSpec::BackupDatabase { location, .. } | TaskSpec::RestoreDatabase { target: location, .. } => {
                *location = self.inner.secrets.open(location)?
            }
            _ => {}
        }
        Ok(Some(Assignment {
            task_id: task.id,
            operation_id: op.id,
            destination_id,
            spec,
            throttle_bytes_per_sec: op.options.throttle_bytes_per_sec,
            store_key: self.inner.stores.key().map(hex::encode),
            lease_secs: self.inner.settings.lease_secs.clamp(2, 3600),
            attempt: task.attempts,
        }))
    }

    /// Records progress; answers whether the agent should stop (cancelled, or no longer its task:
    /// its lease ran out and the task was queued again or claimed anew, `attempt` naming an older claim).
    pub async fn report(&self, agent: &Agent, task_id: Uuid, attempt: Option<i32>, progress: &TaskProgress) -> CoreResult<bool> {
        let db = &self.inner.db;
        self.heard_from(agent).await?;
        let lease = Duration::seconds(self.inner.settings.lease_secs.clamp(2, 3600) as i64);
        let Some(cancel) = catalog::report_progress(db, task_id, agent.id, attempt, progress, lease).await? else {
            return Ok(true);
        };
        if let Some(task) = catalog::get_task(db, task_id).await? {
            self.update_progress(task.operation_id).await?;
        }
        Ok(cancel)
    }

    /// Records how a task ended and finishes its operation when it was the last; an older claim
    /// (`attempt`) than the task's latest is refused, so a handed-over task ends exactly once.
    pub async fn finish(&self, agent: &Agent, task_id: Uuid, attempt: Option<i32>, outcome: TaskOutcome) -> CoreResult<()> {
        let db = &self.inner.db;
        let task = catalog::get_task(db, task_id)
            .await?
            .filter(|t| t.agent_id == agent.id)
            .ok_or_else(|| CoreError::not_found("task", task_id.to_string()))?;
        if !catalog::finish_task(db, task_id, agent.id, attempt, &outcome).await? {
            // The same claim reporting its end again (its first report was recorded, then
            // something after it failed): end the operation if it has not ended, and answer as before.
            if task.state.is_terminal() && attempt.is_none_or(|n| n == task.attempts) {
                return self.maybe_finish(task.operation_id).await;
            }
            return Err(CoreError::Conflict(match attempt {
                Some(n) if n != task.attempts => {
                    format!("task {task_id} was handed over: this is claim {n}, the task is on claim {}", task.attempts)
                }
                _ => format!("task {task_id} is no longer running on this agent"),
            }));
        }
        let ran = task.started_at.map(|at| (Utc::now() - at).to_std().unwrap_or_default()).unwrap_or_default();
        let moved = &outcome.progress;
        self.inner.metrics.task_ended(
            task.spec.kind(),
            outcome.state.as_str(),
            moved.files_done.max(0) as u64,
            moved.bytes_done.max(0) as u64,
            ran,
        );
        self.record_segments(&task, &outcome).await?;
        self.maybe_finish(task.operation_id).await
    }

    async fn update_progress(&self, operation_id: Uuid) -> CoreResult<()> {
        let tasks = catalog::tasks_of(&self.inner.db, operation_id).await?;
        if tasks.is_empty() {
            return Ok(());
        }
        let mean = tasks.iter().map(|t| if t.state.is_terminal() { 1.0 } else { t.progress.fraction() }).sum::<f64>() / tasks.len() as f64;
        catalog::set_operation_progress(&self.inner.db, operation_id, mean).await
    }

    /// Ends the operation when all its tasks have ended; exactly one caller does the ending.
    pub(crate) async fn maybe_finish(&self, operation_id: Uuid) -> CoreResult<()> {
        let db = &self.inner.db;
        let tasks = catalog::tasks_of(db, operation_id).await?;
        if tasks.iter().any(|t| !t.state.is_terminal()) {
            return self.update_progress(operation_id).await;
        }
        let Some(op) = catalog::get_operation(db, None, operation_id).await? else { return Ok(()) };
        if op.state.is_terminal() {
            return Ok(());
        }
        let (state, error) = outcome(&tasks);
        // Everything read from the row first: one that does not decode ends nothing half-way.
        let ending = Ending::of(&op)?;
        let result = match op.kind {
            OperationKind::Verify | OperationKind::Delete | OperationKind::Copy => {
                tasks.first().map(|t| t.result.clone()).unwrap_or(Value::Null)
            }
            _ => {
                let moved = |key| tasks.iter().map(|t| sum(&t.result, key)).sum::<i64>();
                OperationTotals { files: Some(moved("files")), bytes: Some(moved("bytes")), ..OperationTotals::of(&op)? }.to_json()
            }
        };
        // The operation's end and its backup's end are one transaction: whoever sees the
        // operation ended also sees the backup ended.
        let patch = OperationPatch { progress: Some(1.0), error: error.clone(), result: Some(result), started: op.started_at.is_none() };
        let txn = db.begin().await?;
        if !catalog::transition_operation(&txn, op.id, &[State::Queued, State::Running, State::Cancelling], state, patch).await? {
            txn.rollback().await?;
            return Ok(());
        }
        let ended_backup = match &ending {
            Ending::Backup(_) => self.finish_backup(&txn, &op, &tasks, state, error.clone()).await?,
            Ending::Copy(CopyParams::ToRegion(copy)) => self.finish_region_copy(&txn, &op, copy, &tasks, state, error.clone()).await?,
            Ending::Copy(CopyParams::ToDestination(copy)) => {
                // A copy is listed from the moment its operation shows it ended.
                if let (true, Some(backup)) = (state.is_success(), op.backup_id) {
                    catalog::add_backup_copy(&txn, backup, copy.to).await?;
                }
                None
            }
            Ending::Delete(delete) => {
                finish_delete(&txn, &op, delete, state, error.clone()).await?;
                None
            }
            Ending::Other => None,
        };
        txn.commit().await?;
        self.after_end(&ending, state, ended_backup.as_ref()).await?;
        let msg = match (&ended_backup, &ending) {
            (Some(backup), _) => {
                self.after_failed_backup(backup).await;
                format!("backup '{}' {state}{}", backup.name, backup.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())
            }
            (None, Ending::Delete(delete)) if state.is_success() => format!("deleted {} backup(s)", delete.backups.len()),
            _ => format!("{} {state}{}", op.kind, error.map(|e| format!(": {e}")).unwrap_or_default()),
        };
        if op.kind == OperationKind::Archive && state == State::Succeeded && tasks.iter().all(|t| sum(&t.result, "files") == 0) {
            return Ok(()); // a round that found nothing new is not news
        }
        tracing::info!(operation = %op.id, kind = %op.kind, state = %state, "{msg}");
        catalog::add_event(db, op.tenant_id, &format!("{}.{state}", op.kind), &msg, Some(op.id), op.backup_id, op.source_id).await
    }

    /// What follows an operation's end outside its transaction: the destination a delete was
    /// to remove; for a completed backup, the copies it asked for and its plan's retention.
    async fn after_end(&self, ending: &Ending, state: State, ended_backup: Option<&Backup>) -> CoreResult<()> {
        if let (Ending::Delete(delete), true) = (ending, state.is_success())
            && let Some(d) = delete.remove_destination
        {
            self.remove_destination_if_empty(d).await?;
        }
        let Some(backup) = ended_backup.filter(|b| b.state.is_success()) else { return Ok(()) };
        if let Ending::Backup(asked) = ending {
            let scheduler = super::plans::scheduler(backup.tenant_id);
            for to in &asked.copy_to {
                if let Err(e) = self.start_copy(&scheduler, backup.id, *to).await {
                    tracing::warn!(backup = %backup.id, error = %e, "could not start a requested copy");
                }
            }
            for region in &asked.copy_to_regions {
                let copy = super::regions::RegionCopy { backup_id: backup.id, region: region.clone(), ..Default::default() };
                if let Err(e) = self.start_region_copy(&scheduler, copy).await {
                    tracing::warn!(backup = %backup.id, error = %e, "could not start a requested copy to a region");
                }
            }
        }
        if let Some(plan) = backup.plan_id {
            self.apply_plan_retention(plan).await?;
        }
        Ok(())
    }
}

/// What an operation's end does besides recording it, by kind, with the parameters it started with.
enum Ending {
    Backup(BackupParams),
    Copy(CopyParams),
    Delete(DeleteParams),
    Other,
}

impl Ending {
    fn of(op: &Operation) -> CoreResult<Self> {
        Ok(match op.kind {
            OperationKind::Backup => Ending::Backup(BackupParams::of(op)?),
            OperationKind::Copy => Ending::Copy(CopyParams::of(op)?),
            OperationKind::Delete => Ending::Delete(DeleteParams::of(op)?),
            _ => Ending::Other,
        })
    }
}

/// How an operation whose tasks have all ended ends: failed when one failed (the error names
/// each with its node), else cancelled when one was, else with errors when one was partial or
/// skipped.
fn outcome(tasks: &[Task]) -> (State, Option<String>) {
    let cancelled = tasks.iter().any(|t| t.state == State::Cancelled);
    let failed: Vec<&Task> = tasks.iter().filter(|t| t.state == State::Failed).collect();
    let partial = tasks.iter().any(|t| matches!(t.state, State::SucceededWithErrors | State::Skipped));
    let state = if !failed.is_empty() {
        State::Failed
    } else if cancelled {
        State::Cancelled
    } else if partial {
        State::SucceededWithErrors
    } else {
        State::Succeeded
    };
    let error = (!failed.is_empty()).then(|| {
        failed.iter().map(|t| format!("{}: {}", t.node_name, t.error.as_deref().unwrap_or("failed"))).collect::<Vec<_>>().join("; ")
    });
    (state, error)
}
