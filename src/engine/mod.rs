//! The engine: every data-changing request becomes an operation row first, then per-node tasks
//! that agents claim with a lease, report progress on and finish. The engine knows nothing of HTTP
//! or dialects; they all call it through the methods of [`Engine`], one file per concern:
//!
//! - registering what is backed up: `agents`, `sources` (clusters, machines, HA groups),
//!   `instances` (databases), `destinations`, `regions`, `plans` (schedules and retention);
//! - starting operations: `backups`, `restores` (one function per target), `placement` (copies
//!   to other destinations, deleting the data kept at one), `deletes`, `checks` (inventory and
//!   verify), `archive` (commitlog archiving and point-in-time plans), `drafts`;
//! - running them: `lifecycle` (tasks handed to agents, progress, the end of an operation),
//!   `recovery` (after a restart, and leases that ran out), `local` (the server's own agent),
//!   `stores` (the repositories); what an agent does with a task is `crate::agent::worker`;
//! - reading: `reads` (backups, operations, tasks), `figures`.

mod agents;
mod archive;
mod backups;
mod checks;
mod deletes;
mod destinations;
mod drafts;
mod figures;
mod instances;
mod lifecycle;
mod local;
mod placement;
mod plans;
mod reads;
mod recovery;
mod regions;
mod restores;
mod sources;
mod stored;
pub mod stores;

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Notify;
use uuid::Uuid;

pub use crate::agent::worker::SCHEMA_CHANGED;
pub use crate::persistence::catalog::BackupPage;
pub use archive::{ArchiveRequest, MomentUnit, PitAsk, PitPlan, PitWindow, archive_dir, worded};
pub use backups::BackupSpec;
pub use deletes::AfterDelete;
pub use destinations::DestinationSpec;
pub use figures::{NodeFigures, TableFigures};
pub use instances::InstanceSpec;
pub use plans::{PlanSpec, SourceOverview};
pub use reads::BackupDetails;
pub use regions::RegionCopy;
pub use restores::{RestoreSpec, RestoreTarget};
pub use sources::{NodeView, SourceView};
pub use stored::{
    BackupParams, ConfigureParams, CopyParams, DeleteParams, DestinationCopyParams, MissedRunParams, NoParams, OperationTotals, Params,
    RegionCopyParams, RestoreParams,
};
pub use stores::StoreRegistry;

use crate::{
    config::Settings,
    crypto::SecretBox,
    domain::identity::{Principal, Role},
    error::CoreResult,
    persistence::{Db, catalog},
};

/// The engine handle; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Arc<Settings>,
    stores: StoreRegistry,
    secrets: SecretBox,
    wake: Notify,
    server_destination: Uuid,
    /// What this server counts for `/metrics` (shared with the HTTP edge).
    metrics: crate::metrics::Metrics,
    /// Lease owner name of this process: `<server name>:<pid>:<random>`.
    owner: String,
    /// Held while a backup or restore checks for conflicting work and records itself, so two
    /// requests arriving together cannot both pass the check (within this process; servers sharing
    /// PostgreSQL also take `catalog::lock_starts`).
    starting: tokio::sync::Mutex<()>,
}

fn tenant_scope(p: &Principal) -> Option<Uuid> {
    if p.role == Role::Admin { None } else { Some(p.tenant_id) }
}

impl Engine {
    /// Opens the engine over `db` and prepares the server's own destination.
    pub async fn new(db: Db, settings: Arc<Settings>) -> CoreResult<Self> {
        let secrets = SecretBox::load(settings.secret_key.as_deref(), &settings.data_dir)?;
        let key = settings.store_key.as_deref().map(|k| crate::crypto::derive_key("coffer 2026-11-23 store key", k.as_bytes()));
        let server_destination = catalog::ensure_server_destination(&db).await?.id;
        let server_store = stores::ServerStore::parse(&settings.server_store, &settings.data_dir)?;
        let stores = StoreRegistry::new(db.clone(), server_store, key, secrets.clone(), settings.storage_retries);
        let owner = format!("{}{}:{}", owner_prefix(&settings), std::process::id(), Uuid::new_v4().simple());
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                settings,
                stores,
                secrets,
                wake: Notify::new(),
                server_destination,
                owner,
                metrics: Default::default(),
                starting: Default::default(),
            }),
        })
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// The Prometheus lines read from the database when scraped: operations by kind and state,
    /// and the seconds since each agent was last heard from (by any server).
    pub async fn metrics_from_database(&self) -> CoreResult<String> {
        use std::fmt::Write;
        let mut out = String::new();
        out.push_str("# HELP coffer_operations Operations by kind and state, of every server sharing the database.\n");
        out.push_str("# TYPE coffer_operations gauge\n");
        for (kind, state, n) in catalog::operation_counts(&self.inner.db).await? {
            let (kind, state) = (crate::metrics::escape(&kind), crate::metrics::escape(&state));
            let _ = writeln!(out, "coffer_operations{{kind=\"{kind}\",state=\"{state}\"}} {n}");
        }
        out.push_str("# HELP coffer_agent_last_heartbeat_age_seconds Seconds since an agent last claimed work or reported progress.\n");
        out.push_str("# TYPE coffer_agent_last_heartbeat_age_seconds gauge\n");
        let now = Utc::now();
        for agent in catalog::all_agents(&self.inner.db).await? {
            let Some(seen) = agent.last_seen_at else { continue };
            let age = (now - seen).num_milliseconds().max(0) as f64 / 1000.0;
            let name = crate::metrics::escape(&agent.name);
            let _ = writeln!(out, "coffer_agent_last_heartbeat_age_seconds{{agent=\"{name}\",agent_id=\"{}\"}} {age}", agent.id);
        }
        Ok(out)
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn stores(&self) -> &StoreRegistry {
        &self.inner.stores
    }

    pub fn server_destination(&self) -> Uuid {
        self.inner.server_destination
    }

    /// Starts the in-process agent and the lease reaper; recovers what a crash left running.
    pub async fn start(&self, shutdown: tokio_util::sync::CancellationToken) -> CoreResult<()> {
        self.recover().await?;
        local::spawn(self.clone(), shutdown);
        Ok(())
    }

    fn wake_local(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Has the server's own agent look for work at once (remote agents poll on their own).
    pub fn wake_agents(&self) {
        self.wake_local();
    }

    pub async fn events(&self, caller: &Principal, limit: u64) -> CoreResult<Vec<crate::domain::operation::Event>> {
        catalog::list_events(&self.inner.db, Some(caller.tenant_id), limit).await
    }

    /// Records a request that was carried out at once (a destination added, say) under a new
    /// request id, so clients that poll every request id find it done.
    pub async fn record_request(&self, caller: &Principal, kind: &str, message: &str, source_id: Option<Uuid>) -> CoreResult<Uuid> {
        let id = Uuid::new_v4();
        catalog::add_event(&self.inner.db, caller.tenant_id, kind, message, Some(id), None, source_id).await?;
        Ok(id)
    }

    /// The record of a request carried out at once, by its request id.
    pub async fn recorded_request(&self, caller: &Principal, id: Uuid) -> CoreResult<Option<crate::domain::operation::Event>> {
        Ok(catalog::list_events(&self.inner.db, Some(caller.tenant_id), 10_000).await?.into_iter().find(|e| e.operation_id == Some(id)))
    }
}

/// What every lease owner name of this server (this run and earlier ones) starts with.
fn owner_prefix(settings: &Settings) -> String {
    format!("{}:", settings.server_name())
}
