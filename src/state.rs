//! The one application state, cloned into every handler.

use std::sync::Arc;

use crate::{
    api::common::cache::ListCache, auth::Auth, config::Settings, engine::Engine, metrics::Metrics, persistence::Db, rate_limit::Limiters,
};

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub auth: Auth,
    pub engine: Engine,
    pub limiter: Limiters,
    /// Backup listings' answers, kept while nothing is written.
    pub lists: Arc<ListCache>,
    pub metrics: Metrics,
    pub settings: Arc<Settings>,
}
