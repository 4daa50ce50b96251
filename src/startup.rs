//! Building and running the server. Tests call the same `Application::build` with port 0.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use poem::{
    Server,
    listener::{Acceptor, Listener, TcpListener},
};
use tokio_util::sync::CancellationToken;

use crate::{
    api::common::cache::ListCache,
    auth::{Auth, TokenKeys, accounts},
    config::Settings,
    engine::Engine,
    error::CoreError,
    persistence,
    rate_limit::Limiters,
    state::AppState,
};

/// Opens the data directory and database, migrates, and creates the first admin on an empty
/// database. Answers the state and, when it was generated, the admin password to print once.
pub async fn prepare(settings: Settings) -> Result<(AppState, Option<String>), CoreError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| CoreError::Unavailable(format!("cannot create data directory {}: {e}", settings.data_dir.display())))?;
    let db = persistence::connect_with(&settings.database_url(), settings.sqlite_synchronous).await?;
    // Servers starting together on one PostgreSQL database do this part one at a time.
    let startup = persistence::catalog::lock_startup(&db).await?;
    persistence::migrate(&db).await?;
    let writes_counted = persistence::count_writes(&db).await?;
    let generated = accounts::bootstrap(&db, settings.admin_password.as_deref()).await?;
    let secret = TokenKeys::load_secret(settings.jwt_secret.as_deref(), &settings.data_dir)?;
    let keys = TokenKeys::new(&secret, settings.token_ttl_secs);
    let mut settings = settings;
    if settings.demo {
        let demo = std::path::absolute(settings.data_dir.join("demo")).map_err(CoreError::internal)?;
        settings.local_roots.extend([demo, std::env::temp_dir()]);
    }
    let settings = Arc::new(settings);
    let engine = Engine::new(db.clone(), settings.clone()).await?;
    drop(startup);
    if settings.demo {
        crate::demo::seed(&engine, &settings.data_dir).await?;
        crate::demo::spawn_commitlog_writer(&settings.data_dir)?;
    }
    let mut limiter = Limiters::new(&settings.rate_limit);
    if let Some(url) = settings.redis_url.as_deref().filter(|u| !u.trim().is_empty()) {
        limiter = limiter.shared_through(url, &settings.rate_limit).await.map_err(CoreError::Unavailable)?;
    }
    let state = AppState {
        metrics: engine.metrics().clone(),
        engine,
        auth: Auth::new(db.clone(), keys, &settings),
        limiter,
        lists: Arc::new(ListCache::new(writes_counted && settings.list_cache)),
        db,
        settings,
    };
    Ok((state, generated))
}

/// A bound, ready server.
pub struct Application {
    addr: SocketAddr,
    state: AppState,
    acceptor: poem::listener::TcpAcceptor,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds `settings.listen` and prepares the state. An empty `public_url` (the default) becomes
    /// the bound address, so links and catalogs name the port the server really listens on.
    pub async fn build(mut settings: Settings) -> Result<(Self, Option<String>), CoreError> {
        let acceptor = TcpListener::bind(settings.listen)
            .into_acceptor()
            .await
            .map_err(|e| CoreError::Unavailable(format!("cannot listen on {}: {e}", settings.listen)))?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| CoreError::internal(anyhow::anyhow!("listener has no address")))?;
        settings.follow_listen_address(addr);
        let (state, generated) = prepare(settings).await?;
        Ok((Self { addr, state, acceptor, shutdown: CancellationToken::new() }, generated))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Cancelling this token stops the server gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled (or SIGINT/SIGTERM when `signals` is set).
    pub async fn run_until_stopped(self, signals: bool) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        if signals {
            let token = shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutdown requested; finishing requests in flight");
                token.cancel();
            });
        }
        let housekeeping = {
            let (state, token) = (self.state.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = tick.tick() => {
                            state.auth.housekeeping().await;
                            state.limiter.housekeeping();
                        }
                    }
                }
            })
        };
        let following = {
            let (auth, token) = (self.state.auth.clone(), shutdown.clone());
            tokio::spawn(async move { auth.follow_other_servers(token).await })
        };
        if let Err(e) = self.state.engine.start(shutdown.clone()).await {
            tracing::error!(error = %e, "the engine could not start");
            return Err(std::io::Error::other(e.to_string()));
        }
        tracing::info!(address = %self.addr, public_url = %self.state.settings.public_url, "coffer is serving");
        let app = crate::api::app(self.state.clone());
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, async move { shutdown.cancelled().await }, Some(Duration::from_secs(10)))
            .await;
        housekeeping.abort();
        following.abort();
        self.state.db.clone().close().await.ok();
        result
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
