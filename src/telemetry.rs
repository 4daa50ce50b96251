//! Logging: human-readable text or JSON lines, filtered by `RUST_LOG` (default `info`, database
//! drivers at `warn`). Every line of a request carries its request id through the span.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().flatten_event(true).with_current_span(true).try_init() } else { builder.try_init() };
}
