//! Request rate limits: per authenticated user, and per client address for requests without a
//! valid credential. GCRA (governor) with a configurable rate and burst, in process; with several
//! servers, a user's requests are also counted in Redis by the same rule, so the limit holds
//! across them (governor stays the first stage and answers alone when Redis cannot be reached).

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use uuid::Uuid;

use crate::config::RateLimitSettings;

/// Whom a request is counted against.
#[derive(Clone, Copy, Debug)]
pub enum RateKey {
    User(Uuid),
    Address(IpAddr),
}

/// The outcome of counting one request.
#[derive(Clone, Copy, Debug)]
pub enum Decision {
    Allowed { limit: u32, remaining: u32 },
    Refused { limit: u32, retry_after_secs: u64 },
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// The process's limiters. Without Redis the limits are per process: with N servers behind a load
/// balancer a user can reach up to N times the rate unless routing is sticky.
#[derive(Clone)]
pub struct Limiters {
    users: Arc<Keyed<Uuid>>,
    /// Set once Redis has been reached (at start, or later by a task that keeps trying).
    shared: Arc<std::sync::OnceLock<SharedLimiter>>,
    addresses: Arc<Keyed<IpAddr>>,
    user_limit: u32,
    address_limit: u32,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).expect("non-zero");
    let burst = NonZeroU32::new(burst.max(1)).expect("non-zero");
    Quota::per_second(rate).allow_burst(burst)
}

impl Limiters {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            users: Arc::new(RateLimiter::dashmap(quota(settings.per_second, settings.burst)).with_middleware()),
            shared: Default::default(),
            addresses: Arc::new(
                RateLimiter::dashmap(quota(settings.anonymous_per_second, settings.anonymous_per_second)).with_middleware(),
            ),
            user_limit: settings.per_second,
            address_limit: settings.anonymous_per_second,
        }
    }

    /// Also counts users' requests in the Redis at `url`, shared by every server using it. A bad
    /// URL is refused; a Redis that does not answer yet is tried again every 5 s, the local limit
    /// alone applying meanwhile.
    pub async fn shared_through(self, url: &str, settings: &RateLimitSettings) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad Redis URL: {e}"))?;
        match SharedLimiter::connect(client.clone(), settings).await {
            Ok(shared) => {
                let _ = self.shared.set(shared);
            }
            Err(e) => {
                tracing::warn!(error = %e, "Redis does not answer; each server limits users on its own until it does");
                let (slot, settings) = (self.shared.clone(), settings.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        if let Ok(shared) = SharedLimiter::connect(client.clone(), &settings).await {
                            tracing::info!("Redis answers; the per-user limit holds across servers");
                            let _ = slot.set(shared);
                            break;
                        }
                    }
                });
            }
        }
        Ok(self)
    }

    /// Counts one request of a user: here first, then across servers when they share a Redis.
    pub async fn check_user(&self, user: Uuid) -> Decision {
        let local = self.check(RateKey::User(user));
        match (self.shared.get(), local) {
            (Some(shared), Decision::Allowed { .. }) => shared.check(user).await.unwrap_or(local),
            _ => local,
        }
    }

    /// Counts one request against `key` in this process.
    pub fn check(&self, key: RateKey) -> Decision {
        let (result, limit, clock_now) = match key {
            RateKey::User(id) => (self.users.check_key(&id), self.user_limit, self.users.clock().now()),
            RateKey::Address(ip) => (self.addresses.check_key(&ip), self.address_limit, self.addresses.clock().now()),
        };
        match result {
            Ok(snapshot) => Decision::Allowed { limit, remaining: snapshot.remaining_burst_capacity() },
            Err(not_until) => {
                let wait = not_until.wait_time_from(clock_now);
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Decision::Refused { limit, retry_after_secs: secs.max(1) }
            }
        }
    }

    /// Forgets keys that have been idle long enough to be full again.
    pub fn housekeeping(&self) {
        self.users.retain_recent();
        self.addresses.retain_recent();
    }
}

/// GCRA in Redis: one key per user holding the theoretical arrival time in microseconds of Redis's
/// own clock (so servers' clocks need not agree). Answers {1, remaining} or {0, wait in µs}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowed_at = tat + interval - interval * burst
if allowed_at > now then
  return {0, allowed_at - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.floor((new_tat - now) / 1000) + 1000)
return {1, math.floor((now - (new_tat - interval * burst)) / interval)}
";

/// How long a request waits for Redis before it is answered by the local limiter alone.
const SHARED_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);

/// The second stage, shared by every server that uses the same Redis.
struct SharedLimiter {
    conn: redis::aio::ConnectionManager,
    script: redis::Script,
    interval_us: u64,
    burst: u32,
    limit: u32,
    /// Set while Redis cannot be reached, so the warning is logged once per outage.
    down: std::sync::atomic::AtomicBool,
}

impl SharedLimiter {
    async fn connect(client: redis::Client, settings: &RateLimitSettings) -> Result<Self, String> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(SHARED_TIMEOUT)
            .set_number_of_retries(1);
        let conn = redis::aio::ConnectionManager::new_with_config(client, config).await.map_err(|e| format!("cannot reach Redis: {e}"))?;
        Ok(Self {
            conn,
            script: redis::Script::new(GCRA),
            interval_us: 1_000_000 / u64::from(settings.per_second.max(1)),
            burst: settings.burst.max(1),
            limit: settings.per_second,
            down: Default::default(),
        })
    }

    /// `None` when Redis did not answer in time: the local decision stands.
    async fn check(&self, user: Uuid) -> Option<Decision> {
        let mut conn = self.conn.clone();
        let mut call = self.script.key(format!("coffer:rate:{user}"));
        call.arg(self.interval_us).arg(self.burst);
        let answer: Result<(i64, i64), _> = match tokio::time::timeout(SHARED_TIMEOUT, call.invoke_async(&mut conn)).await {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(_) => Err("no answer in time".to_owned()),
        };
        use std::sync::atomic::Ordering::Relaxed;
        match answer {
            Ok((allowed, n)) => {
                if self.down.swap(false, Relaxed) {
                    tracing::info!("Redis answers again; the per-user limit holds across servers");
                }
                let n = n.max(0) as u64;
                Some(if allowed == 1 {
                    Decision::Allowed { limit: self.limit, remaining: n.min(u64::from(self.burst)) as u32 }
                } else {
                    Decision::Refused { limit: self.limit, retry_after_secs: n.div_ceil(1_000_000).max(1) }
                })
            }
            Err(e) => {
                if !self.down.swap(true, Relaxed) {
                    tracing::warn!(error = %e, "Redis does not answer; each server limits users on its own until it does");
                }
                None
            }
        }
    }
}
