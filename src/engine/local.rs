//! The server's in-process agent: claims the tasks of every tenant's `local` agent and runs them
//! with the same worker code remote agents use; plus the loop that reclaims expired leases.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::agent::worker;
use crate::{
    domain::{
        agent::{Agent, LOCAL_AGENT},
        operation::{Assignment, TaskOutcome},
        state::State,
    },
    persistence::catalog,
    store::Progress,
};

pub(super) fn spawn(engine: Engine, shutdown: CancellationToken) {
    {
        let (engine, shutdown) = (engine.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {
                        if let Err(e) = engine.reap_expired().await {
                            tracing::warn!(error = %e, "reclaiming expired task leases failed");
                        }
                    }
                }
            }
        });
    }
    {
        let (engine, shutdown) = (engine.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(engine.inner.settings.scheduler_tick_ms)) => {
                        if let Err(e) = engine.run_due_plans().await {
                            tracing::warn!(error = %e, "the scheduler could not fire due plans");
                        }
                        if let Err(e) = engine.run_archiving().await {
                            tracing::warn!(error = %e, "the scheduler could not start commitlog archiving");
                        }
                    }
                }
            }
        });
    }
    for _ in 0..engine.inner.settings.local_workers.max(1) {
        tokio::spawn(work(engine.clone(), shutdown.clone()));
    }
}

async fn work(engine: Engine, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let mut claimed = None;
        match catalog::agents_named(engine.db(), LOCAL_AGENT).await {
            Ok(agents) => {
                for agent in agents {
                    match engine.claim(&agent).await {
                        Ok(Some(a)) => {
                            claimed = Some((agent, a));
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "claiming a task failed"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing local agents failed"),
        }
        match claimed {
            Some((agent, assignment)) => run(&engine, &agent, assignment).await,
            None => {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = engine.inner.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Runs one claimed task, reporting progress every second.
pub async fn run(engine: &Engine, agent: &Agent, assignment: Assignment) {
    let (task_id, attempt) = (assignment.task_id, Some(assignment.attempt));
    let progress = Arc::new(Progress::default());
    let target = match &assignment.spec {
        crate::domain::operation::TaskSpec::CopySnapshot { to, .. } => Some(engine.stores().store(*to, agent.tenant_id).await),
        _ => None,
    };
    let stores = match (engine.stores().store(assignment.destination_id, agent.tenant_id).await, target) {
        (Ok(store), None) => Ok((store, None)),
        (Ok(store), Some(Ok(target))) => Ok((store, Some(target))),
        (Err(e), _) | (_, Some(Err(e))) => Err(e),
    };
    let outcome = match stores {
        Err(e) => {
            TaskOutcome { state: State::Failed, error: Some(e.to_string()), progress: Default::default(), result: serde_json::Value::Null }
        }
        Ok((store, target)) => {
            let ticker = {
                let (engine, agent, progress) = (engine.clone(), agent.clone(), progress.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        match engine.report(&agent, task_id, attempt, &worker::snapshot(&progress)).await {
                            Ok(true) => progress.cancel(),
                            Ok(false) => {}
                            Err(e) => tracing::warn!(task = %task_id, error = %e, "progress report failed"),
                        }
                    }
                })
            };
            let outcome = worker::execute(&assignment, store, target, progress).await;
            ticker.abort();
            outcome
        }
    };
    if let Err(e) = engine.finish(agent, task_id, attempt, outcome).await {
        tracing::warn!(task = %task_id, error = %e, "could not record the end of a task");
    }
}
