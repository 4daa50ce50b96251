//! Recovery: what a restart finds interrupted, and tasks whose agent stopped reporting.

use chrono::Utc;

use super::Engine;
use crate::{
    domain::{operation::Task, state::State},
    error::CoreResult,
    persistence::catalog,
};

/// Tasks interrupted this many times fail instead of starting again.
const MAX_ATTEMPTS: i32 = 3;

impl Engine {
    /// After a restart: tasks this server's own agent was running were interrupted; they start
    /// again (up to three attempts) or fail. Operations whose tasks all ended are finished. The
    /// tasks other servers sharing the database run are theirs until their leases run out.
    pub async fn recover(&self) -> CoreResult<()> {
        let db = &self.inner.db;
        let ours = super::owner_prefix(&self.inner.settings);
        for op in catalog::operations_in(db, &[State::Queued, State::Running, State::Cancelling]).await? {
            let local = self.local_agent(op.tenant_id).await?;
            for t in catalog::running_tasks_of_agent(db, local.id).await? {
                if t.lease_owner.as_deref().is_none_or(|owner| owner.starts_with(&ours)) {
                    self.requeue_or_fail(&t, false, "the server restarted while it ran").await?;
                }
            }
            self.maybe_finish(op.id).await?;
        }
        Ok(())
    }

    /// Gives tasks whose agent stopped reporting to their agent again, or fails them; queued
    /// tasks of an agent that went down are skipped (force) or fail.
    pub async fn reap_expired(&self) -> CoreResult<()> {
        let db = &self.inner.db;
        for t in catalog::expired_tasks(db).await? {
            self.requeue_or_fail(&t, true, "its agent stopped reporting").await?;
            self.maybe_finish(t.operation_id).await?;
        }
        let now = Utc::now();
        for t in catalog::queued_tasks(db).await? {
            let Some(agent) = catalog::get_agent(db, t.agent_id).await? else { continue };
            if agent.is_up(now, self.inner.settings.agent_down_after_secs) {
                continue;
            }
            let force = catalog::get_operation(db, None, t.operation_id).await?.is_some_and(|op| op.options.force);
            let (state, why) = if force {
                (State::Skipped, "node down; skipped (force)")
            } else {
                (State::Failed, "node down: its agent is not reachable")
            };
            catalog::set_task_state(db, t.id, &[State::Queued], state, Some(format!("{}: {why}", agent.name))).await?;
            self.maybe_finish(t.operation_id).await?;
        }
        Ok(())
    }

    async fn requeue_or_fail(&self, t: &Task, expired_only: bool, why: &str) -> CoreResult<()> {
        let db = &self.inner.db;
        let taken = if t.attempts >= MAX_ATTEMPTS {
            let why = format!("interrupted {} times; last because {why}", t.attempts);
            catalog::take_back_task(db, t.id, t.attempts, expired_only, State::Failed, Some(why)).await?
        } else {
            let taken = catalog::take_back_task(db, t.id, t.attempts, expired_only, State::Queued, None).await?;
            if taken {
                tracing::warn!(task = %t.id, operation = %t.operation_id, node = %t.node_name, "task interrupted ({why}); queued again");
                self.wake_local();
            }
            taken
        };
        if taken {
            self.inner.metrics.lease_takeover();
        }
        Ok(())
    }
}
