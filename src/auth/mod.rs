//! Authentication: one user store behind every credential kind (Basic with a password or an API
//! key, and tokens in any of the headers the dialects use). Argon2 runs on login and on the first
//! use of a Basic credential; after that the verified credential is served from a short cache.

pub mod accounts;
pub mod secrets;
pub mod token;

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine;
use chrono::Utc;
use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::{
    config::Settings,
    domain::identity::{CredentialKind, Principal, Role, Tenant, TokenInfo, User},
    error::{CoreError, CoreResult},
    persistence::{Db, identity},
};
pub use token::{IssuedToken, TokenKeys};

/// How long a looked-up user and tenant, or a token's revocation state, is trusted.
const LOOKUP_TTL: Duration = Duration::from_secs(5);
/// Where servers sharing a database tell each other about revoked tokens and changed credentials.
const AUTH_CHANNEL: &str = "coffer_auth";
const REVOKED: &str = "revoked ";
const FORGET: &str = "forget";
/// How long an address stays refused once it has failed too many logins.
const LOCKOUT: Duration = Duration::from_secs(60);

/// A credential as found on a request, before it is checked.
#[derive(Clone, Debug)]
pub enum Credential {
    /// The raw `Authorization: Basic` value (base64 of `user:secret`).
    Basic(String),
    /// A token from `X-Auth-Token`, `Authorization: Bearer`, `opscenter-session` or `TWISTED_SESSION`.
    Token(String),
}

/// The authentication service; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keys: TokenKeys,
    basic_ttl: Duration,
    basic_cache: DashMap<[u8; 32], (Principal, Instant)>,
    /// Verified tokens by their hash, trusted for `LOOKUP_TTL` (and never past their expiry).
    tokens: DashMap<[u8; 32], (Principal, Instant)>,
    /// Moves whenever caches are cleared: a lookup that began before keeps its answer out of them.
    generation: std::sync::atomic::AtomicU64,
    users: DashMap<Uuid, (User, Tenant, Instant)>,
    revoked: DashMap<String, (bool, Instant)>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    locked_out: DashMap<IpAddr, Instant>,
    max_failure_delay_ms: u64,
    /// Failed logins in a row per address, and when the last one was.
    streaks: DashMap<IpAddr, (u32, Instant)>,
}

/// Tells the servers sharing `db` that credentials changed outside them (the command line), so
/// they forget what they cached.
pub async fn credentials_changed(db: &Db) -> CoreResult<()> {
    crate::persistence::announce(db, AUTH_CHANNEL, FORGET).await
}

impl Auth {
    pub fn new(db: Db, keys: TokenKeys, settings: &Settings) -> Self {
        let per_minute = NonZeroU32::new(settings.rate_limit.failed_logins_per_minute.max(1)).expect("non-zero");
        Self {
            inner: Arc::new(Inner {
                db,
                keys,
                basic_ttl: Duration::from_secs(settings.basic_cache_secs),
                basic_cache: DashMap::new(),
                tokens: DashMap::new(),
                generation: Default::default(),
                users: DashMap::new(),
                revoked: DashMap::new(),
                failures: RateLimiter::dashmap(Quota::per_minute(per_minute)),
                locked_out: DashMap::new(),
                streaks: DashMap::new(),
                max_failure_delay_ms: settings.rate_limit.failed_login_max_delay_ms,
            }),
        }
    }

    /// Checks whichever credential the request carried.
    pub async fn authenticate(&self, credential: &Credential, client: IpAddr) -> CoreResult<Principal> {
        match credential {
            Credential::Basic(raw) => self.authenticate_basic(raw, client).await,
            Credential::Token(token) => self.authenticate_token(token).await,
        }
    }

    /// Checks a username with a password or an API key (Instaclustr style, and Rackspace `apiKey`).
    pub async fn login(&self, username: &str, secret: &str, client: IpAddr) -> CoreResult<Principal> {
        self.counting_failures(client, async {
            match secrets::parse_api_key(secret) {
                Some((prefix, key_secret)) => self.check_api_key(Some(username), prefix, key_secret).await,
                None => self.check_password(username, secret).await,
            }
        })
        .await
    }

    /// Checks a username and password only (no API key), as `POST /login` and Keystone password credentials do.
    pub async fn login_with_password(&self, username: &str, password: &str, client: IpAddr) -> CoreResult<Principal> {
        self.counting_failures(client, self.check_password(username, password)).await
    }

    /// Checks a username and API key only, as Rackspace `RAX-KSKEY:apiKeyCredentials` does.
    pub async fn login_with_api_key(&self, username: &str, key: &str, client: IpAddr) -> CoreResult<Principal> {
        self.counting_failures(client, async {
            match secrets::parse_api_key(key) {
                Some((prefix, secret)) => self.check_api_key(Some(username), prefix, secret).await,
                None => Err(bad_credentials()),
            }
        })
        .await
    }

    /// Runs one login attempt from `client` with the lockout's bookkeeping around it: a locked-out
    /// address is refused before `attempt` runs, a wrong credential counts as a failure (and waits),
    /// a good one ends the address's streak. Other errors (a database fault) count for nothing.
    async fn counting_failures(&self, client: IpAddr, attempt: impl Future<Output = CoreResult<Principal>>) -> CoreResult<Principal> {
        self.refuse_if_locked_out(client)?;
        let result = attempt.await;
        match &result {
            Err(CoreError::Unauthorized(_)) => self.record_failure(client).await,
            Ok(_) => {
                self.inner.streaks.remove(&client);
            }
            Err(_) => {}
        }
        result
    }

    async fn authenticate_basic(&self, raw: &str, client: IpAddr) -> CoreResult<Principal> {
        let digest = *blake3::hash(raw.as_bytes()).as_bytes();
        if let Some(entry) = self.inner.basic_cache.get(&digest)
            && entry.1.elapsed() < self.inner.basic_ttl
        {
            return Ok(entry.0.clone());
        }
        let generation = self.generation();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| CoreError::Unauthorized("malformed Basic credentials".into()))?;
        let (user, secret) = decoded.split_once(':').ok_or_else(|| CoreError::Unauthorized("malformed Basic credentials".into()))?;
        let principal = self.login(user, secret, client).await?;
        if self.generation() == generation {
            self.inner.basic_cache.insert(digest, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }

    async fn authenticate_token(&self, token: &str) -> CoreResult<Principal> {
        if let Some((prefix, secret)) = secrets::parse_api_key(token) {
            let digest = *blake3::hash(token.as_bytes()).as_bytes();
            if let Some(entry) = self.inner.basic_cache.get(&digest)
                && entry.1.elapsed() < self.inner.basic_ttl
            {
                return Ok(entry.0.clone());
            }
            let generation = self.generation();
            let principal = self.check_api_key(None, prefix, secret).await?;
            if self.generation() == generation {
                self.inner.basic_cache.insert(digest, (principal.clone(), Instant::now()));
            }
            return Ok(principal);
        }
        let digest = *blake3::hash(token.as_bytes()).as_bytes();
        if let Some(entry) = self.inner.tokens.get(&digest)
            && entry.1.elapsed() < LOOKUP_TTL
            && entry.0.token.as_ref().is_some_and(|t| t.expires_at > Utc::now())
        {
            return Ok(entry.0.clone());
        }
        let generation = self.generation();
        let principal = self.verify_token(token).await?;
        if self.generation() == generation {
            self.inner.tokens.insert(digest, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }

    async fn verify_token(&self, token: &str) -> CoreResult<Principal> {
        let claims = self.inner.keys.decode(token)?;
        if self.is_revoked(&claims.jti).await? {
            return Err(CoreError::Unauthorized("the token has been revoked".into()));
        }
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now);
        let (user, home) =
            self.user_and_tenant(claims.sub).await?.ok_or_else(|| CoreError::Unauthorized("the token's user no longer exists".into()))?;
        let tenant = if claims.tid == home.id {
            home
        } else if user.role == Role::Admin {
            identity::get_tenant(&self.inner.db, claims.tid)
                .await?
                .ok_or_else(|| CoreError::Unauthorized("the token's tenant no longer exists".into()))?
        } else {
            return Err(CoreError::Unauthorized("the token is not valid for this user".into()));
        };
        Ok(principal(&user, &tenant, CredentialKind::Token, false, Some(TokenInfo { jti: claims.jti, expires_at })))
    }

    async fn check_password(&self, username: &str, password: &str) -> CoreResult<Principal> {
        let Some((user, hash)) = identity::find_user_credentials(&self.inner.db, username).await? else {
            // Spend the same time as a real check so user names cannot be probed by timing.
            let _ = secrets::verify(password, DUMMY_HASH).await;
            return Err(bad_credentials());
        };
        if !secrets::verify(password, &hash).await {
            return Err(bad_credentials());
        }
        let tenant = self.tenant_of(&user).await?;
        Ok(principal(&user, &tenant, CredentialKind::BasicPassword, false, None))
    }

    async fn check_api_key(&self, username: Option<&str>, prefix: &str, secret: &str) -> CoreResult<Principal> {
        let Some((key, hash)) = identity::find_live_api_key(&self.inner.db, prefix).await? else {
            let _ = secrets::verify(secret, DUMMY_HASH).await;
            return Err(bad_credentials());
        };
        let user = identity::get_user(&self.inner.db, key.user_id).await?.ok_or_else(bad_credentials)?;
        if username.is_some_and(|u| u != user.name) || !secrets::verify(secret, &hash).await {
            return Err(bad_credentials());
        }
        let tenant = self.tenant_of(&user).await?;
        let mut p = principal(&user, &tenant, CredentialKind::BasicApiKey, key.read_only, None);
        p.agent = key.name.strip_prefix(AGENT_KEY_PREFIX).map(str::to_owned);
        Ok(p)
    }

    async fn tenant_of(&self, user: &User) -> CoreResult<Tenant> {
        identity::get_tenant(&self.inner.db, user.tenant_id)
            .await?
            .ok_or_else(|| CoreError::internal(anyhow::anyhow!("user {} has no tenant", user.id)))
    }

    async fn user_and_tenant(&self, user_id: Uuid) -> CoreResult<Option<(User, Tenant)>> {
        if let Some(entry) = self.inner.users.get(&user_id)
            && entry.2.elapsed() < LOOKUP_TTL
        {
            return Ok(Some((entry.0.clone(), entry.1.clone())));
        }
        let generation = self.generation();
        let Some(user) = identity::get_user(&self.inner.db, user_id).await? else {
            self.inner.users.remove(&user_id);
            return Ok(None);
        };
        let tenant = self.tenant_of(&user).await?;
        if self.generation() == generation {
            self.inner.users.insert(user_id, (user.clone(), tenant.clone(), Instant::now()));
        }
        Ok(Some((user, tenant)))
    }

    async fn is_revoked(&self, jti: &str) -> CoreResult<bool> {
        if let Some(entry) = self.inner.revoked.get(jti)
            && (entry.0 || entry.1.elapsed() < LOOKUP_TTL)
        {
            return Ok(entry.0);
        }
        let generation = self.generation();
        let revoked = identity::is_token_revoked(&self.inner.db, jti).await?;
        if revoked || self.generation() == generation {
            self.inner.revoked.insert(jti.to_owned(), (revoked, Instant::now()));
        }
        Ok(revoked)
    }

    /// Scopes a principal to the tenant a client asked for. The check is loose on purpose: the
    /// user's own tenant by name or id, or the user name (pyrax sends it as `tenantId`), all mean
    /// "my tenant"; an admin may scope to any existing tenant.
    pub async fn scope(&self, principal: Principal, requested: Option<&str>) -> CoreResult<Principal> {
        let Some(requested) = requested.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(principal);
        };
        if requested == principal.tenant_name || requested == principal.tenant_id.to_string() || requested == principal.user_name {
            return Ok(principal);
        }
        if principal.role == Role::Admin {
            let tenant = match Uuid::parse_str(requested) {
                Ok(id) => identity::get_tenant(&self.inner.db, id).await?,
                Err(_) => identity::find_tenant_by_name(&self.inner.db, requested).await?,
            };
            if let Some(tenant) = tenant {
                return Ok(Principal { tenant_id: tenant.id, tenant_name: tenant.name, ..principal });
            }
        }
        Err(CoreError::Unauthorized(format!("user '{}' has no access to tenant '{requested}'", principal.user_name)))
    }

    /// Issues a token for an authenticated principal.
    pub fn issue_token(&self, principal: &Principal) -> CoreResult<IssuedToken> {
        self.inner.keys.issue(principal.user_id, principal.tenant_id)
    }

    /// Revokes the token a principal authenticated with; later requests with it get 401, on every
    /// server sharing the database.
    pub async fn revoke(&self, token: &TokenInfo) -> CoreResult<()> {
        identity::revoke_token(&self.inner.db, &token.jti, token.expires_at).await?;
        self.heard_revocation(&token.jti);
        crate::persistence::announce(&self.inner.db, AUTH_CHANNEL, &format!("{REVOKED}{}", token.jti)).await
    }

    /// Forgets every cached credential and user, after a password change, key revocation or user
    /// removal; other servers sharing the database forget theirs too.
    pub async fn forget_cached_credentials(&self) -> CoreResult<()> {
        self.forget_everything();
        crate::persistence::announce(&self.inner.db, AUTH_CHANNEL, FORGET).await
    }

    fn generation(&self) -> u64 {
        self.inner.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn forget_everything(&self) {
        self.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.inner.basic_cache.clear();
        self.inner.tokens.clear();
        self.inner.users.clear();
        self.inner.revoked.retain(|_, v| v.0);
    }

    fn heard_revocation(&self, jti: &str) {
        self.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.inner.revoked.insert(jti.to_owned(), (true, Instant::now()));
        self.inner.tokens.clear();
    }

    /// Applies what other servers sharing the database announce (revoked tokens, changed
    /// credentials) until `shutdown`; after a lost connection everything cached is forgotten.
    pub async fn follow_other_servers(&self, shutdown: tokio_util::sync::CancellationToken) {
        crate::persistence::follow(&self.inner.db, AUTH_CHANNEL, shutdown, |heard| match heard {
            crate::persistence::Heard::Message(m) if m.starts_with(REVOKED) => self.heard_revocation(&m[REVOKED.len()..]),
            _ => self.forget_everything(),
        })
        .await
    }

    /// Drops expired cache entries and revocations; called periodically.
    pub async fn housekeeping(&self) {
        let ttl = self.inner.basic_ttl;
        self.inner.basic_cache.retain(|_, v| v.1.elapsed() < ttl);
        self.inner.tokens.retain(|_, v| v.1.elapsed() < LOOKUP_TTL);
        self.inner.users.retain(|_, v| v.2.elapsed() < LOOKUP_TTL);
        self.inner.revoked.retain(|_, v| v.1.elapsed() < Duration::from_secs(3600));
        self.inner.locked_out.retain(|_, until| *until > Instant::now());
        self.inner.streaks.retain(|_, (_, last)| last.elapsed() < LOCKOUT);
        self.inner.failures.retain_recent();
        if let Err(e) = identity::purge_expired_revocations(&self.inner.db).await {
            tracing::warn!(error = %e, "could not purge expired token revocations");
        }
    }

    fn refuse_if_locked_out(&self, client: IpAddr) -> CoreResult<()> {
        if let Some(until) = self.inner.locked_out.get(&client)
            && *until > Instant::now()
        {
            let secs = until.saturating_duration_since(Instant::now()).as_secs().max(1);
            return Err(CoreError::RateLimited { retry_after_secs: secs });
        }
        Ok(())
    }

    /// Counts a failed login from `client` and answers it late: each failure in a row from one
    /// address waits twice as long as the one before (up to 2 s), and too many in a minute lock the
    /// address out. Other addresses, the real user's among them, are not slowed.
    async fn record_failure(&self, client: IpAddr) {
        let streak = {
            let mut entry = self.inner.streaks.entry(client).or_insert((0, Instant::now()));
            if entry.1.elapsed() > LOCKOUT {
                *entry = (0, Instant::now());
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = Instant::now();
            entry.0
        };
        if self.inner.failures.check_key(&client).is_err() {
            tracing::warn!(%client, "too many failed logins; refusing this address for a while");
            self.inner.locked_out.insert(client, Instant::now() + LOCKOUT);
        }
        tokio::time::sleep(failure_delay(streak, self.inner.max_failure_delay_ms)).await;
    }
}

fn principal(user: &User, tenant: &Tenant, credential: CredentialKind, read_only: bool, token: Option<TokenInfo>) -> Principal {
    Principal {
        user_id: user.id,
        user_name: user.name.clone(),
        tenant_id: tenant.id,
        tenant_name: tenant.name.clone(),
        role: user.role,
        credential,
        read_only,
        token,
        agent: None,
    }
}

/// The name of an agent's own key is this prefix and the agent's name.
pub const AGENT_KEY_PREFIX: &str = "agent:";

/// How long the `streak`th failed login in a row waits: 50 ms, doubling, at most `max_ms`.
fn failure_delay(streak: u32, max_ms: u64) -> Duration {
    Duration::from_millis((25u64 << streak.clamp(1, 7)).min(max_ms))
}

fn bad_credentials() -> CoreError {
    CoreError::Unauthorized("invalid username, password or API key".into())
}

/// A valid Argon2 hash of a random string, verified against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9vT4wB5dC4ZZ0rYyQpJm3cHzZ0Tk8xv1hQ3o3mD2b1Y";
