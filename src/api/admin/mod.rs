//! Coffer's own API under `/admin/v1`: accounts (tenants, users, keys) and the engine (sources,
//! backups, restores, operations, events).

mod accounts;
mod engine;

pub use accounts::AccountsApi;
pub use engine::EngineApi;

/// The admin API, as one OpenAPI service.
pub fn api() -> (AccountsApi, EngineApi) {
    (AccountsApi, EngineApi)
}
