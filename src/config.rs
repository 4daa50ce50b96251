//! Settings: defaults < TOML file (`--config`) < `COFFER_*` environment < command-line flags.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Everything a Coffer process is configured with.
#[derive(Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Directory holding the SQLite database, the token key and the local store.
    pub data_dir: PathBuf,
    /// Database URL; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// When SQLite syncs commits: `normal` (at checkpoints; the last commits before a power loss
    /// may roll back) or `full` (every commit). PostgreSQL follows its own `synchronous_commit`.
    pub sqlite_synchronous: SqliteSync,
    /// The URL clients reach this server at; used in service catalogs and links. Empty (the
    /// default): the address the server bound, see [`Settings::follow_listen_address`].
    pub public_url: String,
    /// Regions advertised in the service catalog, upper case.
    pub regions: Vec<String>,
    /// Region name to the name of a destination holding that region's copies; a region not
    /// listed is a directory under `data_dir/regions/`.
    pub region_destinations: std::collections::BTreeMap<String, String>,
    /// Token lifetime in seconds.
    pub token_ttl_secs: u64,
    /// Secret that signs tokens; generated and kept in `data_dir/jwt.key` when absent.
    pub jwt_secret: Option<String>,
    /// Password of the first `admin` user; random and printed once when absent.
    pub admin_password: Option<String>,
    pub rate_limit: RateLimitSettings,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// `text` or `json`.
    pub log_format: String,
    /// Seconds a verified Basic credential stays cached.
    pub basic_cache_secs: u64,
    /// Whether backup listings' answers are kept while nothing is written (SQLite only).
    pub list_cache: bool,
    /// Passphrase that encrypts new backup repositories; none stores chunks unencrypted.
    pub store_key: Option<String>,
    /// Key material that seals secrets at rest; generated into `data_dir/secret.key` when absent.
    pub secret_key: Option<String>,
    /// Tasks the server's own agent runs at once.
    pub local_workers: usize,
    /// Seed the demo tenant (`serve --demo`).
    pub demo: bool,
    /// An agent not heard from for this many seconds is down: its nodes are skipped (force) or fail.
    pub agent_down_after_secs: u64,
    /// Attempts for a failing storage request before the task fails.
    pub storage_retries: usize,
    /// How often the scheduler looks for due plans, in milliseconds.
    pub scheduler_tick_ms: u64,
    /// How long a claimed task stays its agent's without a progress report (agents report every second).
    pub lease_secs: u64,
    /// How often each archiving cluster node ships its new commitlog segments, in milliseconds.
    pub archive_interval_ms: u64,
    /// Servers that new Cloud Databases instances are created on, by datastore type
    /// (`postgresql = "postgres://..."`, `mysql = "mysql://..."`); SQLite files under the data
    /// directory always work.
    pub datastores: std::collections::BTreeMap<String, String>,
    /// The datastore of a new instance that names none.
    pub default_datastore: String,
    /// Directories under which users other than admins may place data the server's own agent
    /// reads or writes (cluster data directories, machine roots, SQLite files, restore targets).
    /// Admins may name any path. `--demo` adds the demo directory and the system temp directory.
    pub local_roots: Vec<PathBuf>,
    /// This server's name among the servers sharing one database (leases, logs, metrics); the
    /// host name when empty. A restarted server takes back only the tasks its earlier run held.
    pub server_name: String,
    /// A Redis server (`redis://127.0.0.1:6379`) that servers sharing one database count each
    /// user's requests in, so the per-user limit holds across them; the local limiter alone when absent.
    pub redis_url: Option<String>,
    /// Where the server's own destination keeps backups: a directory under `data_dir` when
    /// empty, or an S3 bucket `s3://bucket[/prefix][?endpoint=http://host:9000&region=us-east-1]`
    /// whose credentials come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. Servers that
    /// share a database must share this too.
    pub server_store: String,
    /// Load balancers or proxies (addresses or CIDR blocks, `10.0.0.0/8`) whose `X-Forwarded-For`
    /// names the client: per-address limits and login lockouts then count the client, not the proxy.
    pub trusted_proxies: Vec<String>,
    /// Bearer token that `GET /metrics` asks for (Prometheus `authorization: credentials`). Without
    /// it the metrics answer only to clients on this host, since they name every tenant's agents.
    pub metrics_token: Option<String>,
}

/// Request limits per authenticated user and per client address.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RateLimitSettings {
    pub per_second: u32,
    pub burst: u32,
    /// Limit for requests that carry no valid credential (login, token issue), per client address.
    pub anonymous_per_second: u32,
    /// Failed logins allowed per client address per minute before it is refused for a while.
    pub failed_logins_per_minute: u32,
    /// The longest a failed login in a row waits before its answer (they double from 50 ms); 0 answers at once.
    pub failed_login_max_delay_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8888".parse().expect("valid default address"),
            data_dir: PathBuf::from("./coffer-data"),
            database_url: None,
            sqlite_synchronous: Default::default(),
            public_url: String::new(),
            regions: ["DFW", "IAD", "ORD", "HKG", "SYD"].map(String::from).to_vec(),
            region_destinations: Default::default(),
            token_ttl_secs: 24 * 3600,
            jwt_secret: None,
            admin_password: None,
            rate_limit: RateLimitSettings {
                per_second: 35,
                burst: 35,
                anonymous_per_second: 35,
                failed_logins_per_minute: 20,
                failed_login_max_delay_ms: 2000,
            },
            body_limit: 1 << 20,
            log_format: "text".into(),
            basic_cache_secs: 60,
            list_cache: true,
            store_key: None,
            secret_key: None,
            local_workers: 2,
            demo: false,
            agent_down_after_secs: 30,
            storage_retries: 3,
            scheduler_tick_ms: 1000,
            archive_interval_ms: 10_000,
            lease_secs: 60,
            datastores: Default::default(),
            default_datastore: "sqlite".into(),
            local_roots: Vec::new(),
            server_name: String::new(),
            redis_url: None,
            server_store: String::new(),
            trusted_proxies: Vec::new(),
            metrics_token: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("public_url", &self.public_url)
            .field("regions", &self.regions)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("jwt_secret", &redacted(&self.jwt_secret))
            .field("admin_password", &redacted(&self.admin_password))
            .field("rate_limit", &self.rate_limit)
            .field("body_limit", &self.body_limit)
            .field("log_format", &self.log_format)
            .field("store_key", &redacted(&self.store_key))
            .field("secret_key", &redacted(&self.secret_key))
            .field("local_workers", &self.local_workers)
            .field("server_name", &self.server_name)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("server_store", &redact_url(&self.server_store))
            .field("metrics_token", &redacted(&self.metrics_token))
            .finish()
    }
}

/// Hides the password part of a database URL.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Settings {
    /// Loads settings from defaults, an optional TOML file and `COFFER_*` variables
    /// (`COFFER_RATE_LIMIT__PER_SECOND` reaches nested keys).
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            fig = fig.merge(Toml::file_exact(path));
        }
        fig.merge(Env::prefixed("COFFER_").split("__")).extract().map_err(Box::new)
    }

    /// The database URL in force: the configured one, or SQLite inside the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("coffer.db").display()),
        }
    }

    /// The name this server goes by among those sharing the database.
    pub fn server_name(&self) -> String {
        match self.server_name.trim() {
            "" => hostname(),
            name => name.to_owned(),
        }
    }

    /// Makes an empty `public_url` the address the server listens on, `addr` (the bound one,
    /// whose port is known even when `listen` asked for port 0). A server bound to every
    /// interface (`0.0.0.0`, `::`) names the loopback address with that port: clients elsewhere
    /// need `public_url` set.
    pub fn follow_listen_address(&mut self, addr: SocketAddr) {
        if !self.public_url.trim().is_empty() {
            return;
        }
        let ip = match addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        self.public_url = format!("http://{}", SocketAddr::new(ip, addr.port()));
    }

    /// `public_url` without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// When SQLite syncs a commit to the disk (its `synchronous` pragma; the database runs in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// The log is synced at checkpoints, not at every commit: a commit survives the process
    /// crashing, and the last commits before a power loss or an OS crash may be rolled back (the
    /// database stays consistent). Commits that must outlive even that call
    /// `persistence::make_durable`. A sync's tail on a shared disk is tens of milliseconds, and
    /// every writer queues behind the one syncing (BENCHMARKS.md, creates).
    #[default]
    Normal,
    /// Every commit is synced before it is answered.
    Full,
}

/// The machine's name: `HOSTNAME`, else `/etc/hostname`, else `localhost`.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "localhost".into())
}
