//! Answers of backup listings kept in memory, so a client polling a list of a hundred backups is not
//! answered by reading and encoding a hundred rows each time. An answer is served again only to the
//! same user and tenant, for the same URL and host, while the database's write count
//! ([`persistence::count_writes`]) has not moved and for at most [`MAX_AGE`] (listings that show
//! times relative to now stay that fresh).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use dashmap::DashMap;
use poem::{Body, Request, Response, http::HeaderMap};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{domain::identity::Principal, persistence};

/// How long a kept answer may be served, whatever the write count says.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// At most this many answers are kept; a full cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

/// Whether `GET path` is a backup listing that is served from the cache: OpsCenter's backups and
/// backup activity, Instaclustr's backups, Cloud Databases' backups (all, of an instance or HA
/// group), Cloud Backup's completed backups and the Admin list. Each reads only the database.
pub fn is_listing(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        ["admin", "v1", "backups"]
            | ["provisioning", "v1", _, "backups"]
            | ["v1.0", _, "backups"]
            | ["v1.0", _, "instances" | "ha", _, "backups"]
            | ["v1.0", "backup", "completed", _]
            | ["v1.0", _, "backup", "completed", _]
    ) || matches!(segments.as_slice(), [cluster, "backups" | "backup-activity"] if !["v1.0", "admin", "agent", "provisioning"].contains(cluster))
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    /// Who asks (user and tenant: a token may be scoped to another tenant) and what: the URL with
    /// its query and the host headers links are made from.
    pub fn of(req: &Request, p: &Principal) -> Self {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        Key(format!(
            "{} {} {} {} {} {}",
            p.user_id,
            p.tenant_id,
            req.uri(),
            header("host"),
            header("x-forwarded-host"),
            header("x-forwarded-proto")
        ))
    }
}

struct Entry {
    writes: i64,
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

impl Entry {
    fn response(&self) -> Response {
        let mut resp = Response::builder().body(Body::from_bytes(self.body.clone()));
        *resp.headers_mut() = self.headers.clone();
        resp
    }
}

/// What a lookup found: an answer to send, or the turn to make one (the handler runs, and
/// [`ListCache::keep`] stores its answer).
pub enum Lookup {
    Hit(Response),
    Make(Maker),
}

/// The one request of its key making the answer; requests for the same key wait for it instead of
/// all reading the database at once.
pub struct Maker {
    key: Key,
    writes: i64,
    _turn: OwnedMutexGuard<()>,
}

/// The kept answers. Off (every lookup misses) where writes are not counted.
pub struct ListCache {
    enabled: bool,
    entries: DashMap<Key, Entry>,
    turns: DashMap<Key, Arc<Mutex<()>>>,
}

impl ListCache {
    pub fn new(enabled: bool) -> Self {
        ListCache { enabled, entries: DashMap::new(), turns: DashMap::new() }
    }

    /// The database's write count now, when answers may be cached.
    pub async fn writes(&self, db: &persistence::Db) -> Option<i64> {
        match self.enabled {
            true => persistence::writes(db).await.ok(),
            false => None,
        }
    }

    /// The kept answer to `key` if nothing was written since it was made; else the turn to make it,
    /// after whoever was already making it. An answer older than [`MAX_AGE`] is made again by one
    /// request while the others still get it.
    pub async fn lookup(&self, key: Key, writes: i64) -> Lookup {
        let turn = self.turns.entry(key.clone()).or_default().clone();
        let aged = match self.entries.get(&key) {
            Some(e) if e.writes == writes && e.at.elapsed() <= MAX_AGE => return Lookup::Hit(e.response()),
            Some(e) if e.writes == writes => Some(e.response()),
            _ => None,
        };
        if let Some(resp) = aged {
            return match turn.try_lock_owned() {
                Ok(turn) => Lookup::Make(Maker { key, writes, _turn: turn }),
                Err(_) => Lookup::Hit(resp),
            };
        }
        let turn = turn.lock_owned().await;
        if let Some(e) = self.entries.get(&key).filter(|e| e.writes == writes) {
            return Lookup::Hit(e.response());
        }
        Lookup::Make(Maker { key, writes, _turn: turn })
    }

    /// Keeps a successful answer and gives it back to be sent.
    pub async fn keep(&self, maker: Maker, resp: Response) -> Response {
        if !resp.status().is_success() {
            return resp;
        }
        let (parts, body) = resp.into_parts();
        let Ok(body) = body.into_bytes().await else { return Response::from_parts(parts, Body::empty()) };
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
            self.turns.clear();
        }
        let entry = Entry { writes: maker.writes, at: Instant::now(), headers: parts.headers.clone(), body: body.clone() };
        self.entries.insert(maker.key, entry);
        Response::from_parts(parts, Body::from_bytes(body))
    }
}

#[cfg(test)]
mod tests {
    use super::is_listing;

    #[test]
    fn the_backup_listings_of_every_dialect_are_cached_and_nothing_else_is() {
        for path in [
            "/admin/v1/backups",
            "/provisioning/v1/0b5f/backups",
            "/v1.0/1234/backups",
            "/v1.0/1234/instances/ab/backups",
            "/v1.0/1234/ha/ab/backups",
            "/v1.0/backup/completed/7",
            "/v1.0/1234/backup/completed/7",
            "/Test_Cluster/backups",
            "/Test_Cluster/backup-activity",
        ] {
            assert!(is_listing(path), "{path}");
        }
        for path in [
            "/admin/v1/backups/0b5f",
            "/admin/v1/operations",
            "/v1.0/1234/backups/ab",
            "/v1.0/backup/7",
            "/Test_Cluster/backups/run",
            "/Test_Cluster/keyspaces",
            "/agent/v1/backups",
            "/healthz",
        ] {
            assert!(!is_listing(path), "{path}");
        }
    }
}
