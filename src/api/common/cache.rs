//! Answers of backup listings kept in memory, so a client polling a list of a hundred backups is not
//! answered by reading and encoding a hundred rows each time. An answer is served again only to the
//! same user and tenant, for the same URL and host, while the database's write count
//! ([`persistence::count_writes`]) has not moved and for at most [`MAX_AGE`] (listings that show
//! times relative to now stay that fresh).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use dashmap::DashMap;
use poem::{
    Body, IntoResponse, Request, Response,
    http::{HeaderMap, StatusCode},
};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::{domain::identity::Principal, persistence};

/// How long a kept answer may be served, whatever the write count says.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// At most this many answers (and turns to make them) are kept; a full cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

/// Answers larger than this are sent and not kept (a listing without a page size can be large).
const MAX_BODY: usize = 1 << 20;

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
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Entry {
    fn response(&self) -> Response {
        let mut resp = Response::builder().status(self.status).body(Body::from_bytes(self.body.clone()));
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

/// Requests wait for one another only when they would make the same answer: same key, same count.
type Turn = (Key, i64);

/// Reads of the write count, shared: a request takes the first read that starts after it arrived
/// (so the count covers every write committed before it came), and one read serves every request
/// that arrived while the one before it ran. Under load that is one query per round, not per request.
struct SharedReads {
    started: AtomicU64,
    reading: AtomicBool,
    /// The number of the last read finished and what it found (`None`: the read failed).
    done: watch::Sender<(u64, Option<i64>)>,
}

/// Ends a read even when the request making it is dropped: the next waiter may read.
struct ReadTurn<'a>(&'a SharedReads);

impl Drop for ReadTurn<'_> {
    fn drop(&mut self) {
        self.0.reading.store(false, Ordering::SeqCst);
        self.0.done.send_modify(|_| {});
    }
}

impl SharedReads {
    async fn count(&self, db: &persistence::Db) -> Option<i64> {
        let needed = self.started.load(Ordering::SeqCst) + 1;
        let mut finished = self.done.subscribe();
        loop {
            let (read, count) = *finished.borrow_and_update();
            if read >= needed {
                return count;
            }
            if self.reading.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                let _turn = ReadTurn(self);
                let read = self.started.fetch_add(1, Ordering::SeqCst) + 1;
                let count = persistence::writes(db).await.ok();
                self.done.send_replace((read, count));
                return count;
            }
            finished.changed().await.ok()?;
        }
    }
}

/// The kept answers. Off (every lookup misses) where writes are not counted.
pub struct ListCache {
    enabled: bool,
    reads: SharedReads,
    entries: DashMap<Key, Entry>,
    turns: DashMap<Turn, Arc<Mutex<()>>>,
}

impl ListCache {
    pub fn new(enabled: bool) -> Self {
        let reads = SharedReads { started: AtomicU64::new(0), reading: AtomicBool::new(false), done: watch::channel((0, None)).0 };
        ListCache { enabled, reads, entries: DashMap::new(), turns: DashMap::new() }
    }

    /// The database's write count now (at least as new as this call), when answers may be cached.
    pub async fn writes(&self, db: &persistence::Db) -> Option<i64> {
        match self.enabled {
            true => self.reads.count(db).await,
            false => None,
        }
    }

    /// The kept answer to `key` if nothing was written since it was made; else the turn to make it,
    /// after whoever was already making it. An answer older than [`MAX_AGE`] is made again by one
    /// request while the others still get it.
    pub async fn lookup(&self, key: Key, writes: i64) -> Lookup {
        let aged = match self.entries.get(&key) {
            Some(e) if e.writes == writes && e.at.elapsed() <= MAX_AGE => return Lookup::Hit(e.response()),
            Some(e) if e.writes == writes => Some(e.response()),
            _ => None,
        };
        if self.turns.len() >= MAX_ENTRIES {
            self.turns.clear();
        }
        let turn = self.turns.entry((key.clone(), writes)).or_default().clone();
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
        let Ok(body) = body.into_bytes().await else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
        let turn = (maker.key.clone(), maker.writes);
        if body.len() <= MAX_BODY {
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
            let entry = Entry {
                writes: maker.writes,
                at: Instant::now(),
                status: parts.status,
                headers: parts.headers.clone(),
                body: body.clone(),
            };
            self.entries.insert(maker.key, entry);
        }
        self.turns.remove(&turn);
        Response::from_parts(parts, Body::from_bytes(body))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{ListCache, is_listing};
    use crate::persistence::{self, ConnectionTrait};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_committed_before_the_count_is_asked_is_counted_however_many_ask_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = persistence::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display())).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)").await.unwrap();
        assert!(persistence::count_writes(&db).await.unwrap());
        let cache = Arc::new(ListCache::new(true));
        // Others ask all the time, so a read is often running when a write commits: one begun before
        // the write must not answer a request that came after it.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let background: Vec<_> = (0..4)
            .map(|_| {
                let (cache, db, stop) = (cache.clone(), db.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        cache.writes(&db).await;
                    }
                })
            })
            .collect();
        for round in 1..=20_i64 {
            // Many ask at once; some of them start while another's read is running.
            let askers: Vec<_> = (0..16)
                .map(|_| {
                    let (cache, db) = (cache.clone(), db.clone());
                    tokio::spawn(async move { cache.writes(&db).await })
                })
                .collect();
            for asker in askers {
                assert_eq!(asker.await.unwrap(), Some(round - 1));
            }
            db.execute_unprepared("INSERT INTO t DEFAULT VALUES").await.unwrap();
            assert_eq!(cache.writes(&db).await, Some(round), "the count after insert {round}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for task in background {
            task.await.unwrap();
        }
        assert_eq!(ListCache::new(false).writes(&db).await, None, "off, nothing is counted");
    }

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
