//! Request rate limits: per authenticated user, and per client address for requests without a
//! valid credential. GCRA (governor) with a configurable rate and burst.

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

/// The process's limiters. Limits are per process: with several replicas behind a load balancer
/// a user can reach up to N times the rate unless routing is sticky.
type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

#[derive(Clone)]
pub struct Limiters {
    users: Arc<Keyed<Uuid>>,
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
            addresses: Arc::new(
                RateLimiter::dashmap(quota(settings.anonymous_per_second, settings.anonymous_per_second)).with_middleware(),
            ),
            user_limit: settings.per_second,
            address_limit: settings.anonymous_per_second,
        }
    }

    /// Counts one request against `key`.
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
