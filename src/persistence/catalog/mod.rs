//! The catalog: what the service records about its work, one file per table or aggregate:
//! agents, archived segments, restore drafts, destinations and the copies of backups they hold,
//! sources and nodes, backups, operations, tasks, the locks among servers, plans, events, and
//! whole-database maintenance. (Accounts are in [`super::identity`], Cloud Backup's integer ids
//! in [`super::aliases`].) Everything is re-exported here: callers write `catalog::get_backup`,
//! not the file it lives in.

mod agents;
mod backups;
mod copies;
mod destinations;
mod drafts;
mod events;
mod locks;
mod maintenance;
mod operations;
mod plans;
mod segments;
mod sources;
mod tasks;

pub use agents::*;
pub use backups::*;
pub use copies::*;
pub use destinations::*;
pub use drafts::*;
pub use events::*;
pub use locks::*;
pub use maintenance::*;
pub use operations::*;
pub use plans::*;
pub use segments::*;
pub use sources::*;
pub use tasks::*;

use crate::{
    domain::state::State,
    error::{CoreError, CoreResult},
};

fn corrupt(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::internal(anyhow::anyhow!("stored {what} is unreadable: {e}"))
}

fn state(s: &str) -> CoreResult<State> {
    s.parse().map_err(|e| corrupt("state", e))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, v: serde_json::Value) -> CoreResult<T> {
    serde_json::from_value(v).map_err(|e| corrupt(what, e))
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain values serialise")
}

/// Ids per query when many rows are read by id (well under every backend's parameter limit).
const IDS_PER_QUERY: usize = 500;
