//! Rackspace Cloud Databases v1.0 (the Trove dialect): backups of database instances and HA
//! groups, restores into new instances, copies to other regions. A thin translator: request
//! shapes in, engine calls, Trove shapes out (`{"backup": {...}}`, `{"backups": [...]}`).

mod backups;
pub mod error;
mod instances;
mod models;
mod scalars;
mod view;

use poem_openapi::{ApiResponse, Tags};
use uuid::Uuid;

pub use self::{backups::BackupsApi, instances::InstancesApi};
use crate::{domain::identity::Principal, error::CoreError};

#[derive(Tags)]
enum CloudDbTag {
    /// On-demand backups.
    Backups,
    /// Instances (restore creates a new one).
    Instances,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Accepted; the work goes on in the background.
    #[oai(status = 202)]
    Empty,
}

/// The account in the path must be the caller's tenant; any other is reported as not found.
fn check_account(p: &Principal, account: &str) -> Result<(), CoreError> {
    if p.owns_account(account) { Ok(()) } else { Err(CoreError::not_found("account", account)) }
}

pub(crate) fn backup_id(id: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(id).map_err(|_| CoreError::NotFound { what: "Backup", id: id.to_owned() })
}

pub(crate) fn instance_id(id: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(id).map_err(|_| CoreError::NotFound { what: "Instance", id: id.to_owned() })
}

/// The most backups one page of a listing holds (also the page without `limit`); more come by `marker`.
const MAX_PAGE: usize = 1000;

/// Keeps `items` after the one whose id is `marker` (0 or absent: from the start) and at most
/// `limit`; answers the page and the id to continue after, when more follow.
pub(crate) fn page<T>(mut items: Vec<T>, id: impl Fn(&T) -> &str, limit: Option<usize>, marker: Option<&str>) -> (Vec<T>, Option<String>) {
    if let Some(m) = marker.filter(|m| !m.is_empty() && *m != "0")
        && let Some(pos) = items.iter().position(|b| id(b) == m)
    {
        items.drain(..=pos);
    }
    match limit {
        Some(n) if items.len() > n => {
            items.truncate(n);
            let next = items.last().map(|b| id(b).to_owned());
            (items, next)
        }
        _ => (items, None),
    }
}
