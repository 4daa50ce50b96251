//! Repository locks across processes: backups hold shared locks, garbage collection an exclusive
//! one. A lock is an object under `locks/`, refreshed while held and ignored once stale.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{Backend, StoreError, manifest::keys};

/// A lock not refreshed for this long belongs to a dead process.
const STALE: Duration = Duration::from_secs(300);
const REFRESH: Duration = Duration::from_secs(60);
/// How long an acquisition waits for conflicting locks to go away.
const WAIT: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    Shared,
    Exclusive,
}

#[derive(Serialize, Deserialize)]
struct LockBody {
    kind: LockKind,
    host: String,
    pid: u32,
    created_at: chrono::DateTime<Utc>,
}

/// A held lock; dropping it releases it.
pub struct LockGuard {
    backend: Arc<dyn Backend>,
    key: String,
    refresher: JoinHandle<()>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.refresher.abort();
        let (backend, key) = (self.backend.clone(), self.key.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = backend.delete(&key).await;
            });
        }
    }
}

fn conflicts(mine: LockKind, theirs: LockKind) -> bool {
    mine == LockKind::Exclusive || theirs == LockKind::Exclusive
}

/// Takes a lock of `kind`, waiting (bounded) while a conflicting live lock exists.
pub async fn acquire(backend: Arc<dyn Backend>, kind: LockKind) -> Result<LockGuard, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("{}{id}", keys::LOCKS);
    let body = LockBody {
        kind,
        host: std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
        pid: std::process::id(),
        created_at: Utc::now(),
    };
    let bytes = Bytes::from(serde_json::to_vec(&body).expect("lock serialises"));
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        backend.put(&key, bytes.clone()).await?;
        match conflicting(&backend, &key, kind).await? {
            None => break,
            Some(holder) => {
                backend.delete(&key).await?;
                if started.elapsed() > WAIT {
                    return Err(StoreError::Locked(holder));
                }
                tokio::time::sleep(delay + Duration::from_millis(rand::random::<u64>() % 100)).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    let refresher = {
        let (backend, key, bytes) = (backend.clone(), key.clone(), bytes.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                let _ = backend.put(&key, bytes.clone()).await;
            }
        })
    };
    Ok(LockGuard { backend, key, refresher })
}

async fn conflicting(backend: &Arc<dyn Backend>, own: &str, kind: LockKind) -> Result<Option<String>, StoreError> {
    let now = Utc::now();
    for obj in backend.list(keys::LOCKS).await? {
        if obj.key == own || (now - obj.modified).to_std().is_ok_and(|age| age > STALE) {
            continue;
        }
        let Ok(raw) = backend.get(&obj.key).await else { continue };
        let Ok(other) = serde_json::from_slice::<LockBody>(&raw) else { continue };
        if conflicts(kind, other.kind) {
            return Ok(Some(format!(
                "{} lock of process {} on {}",
                if other.kind == LockKind::Exclusive { "an exclusive" } else { "a shared" },
                other.pid,
                other.host
            )));
        }
    }
    Ok(None)
}
