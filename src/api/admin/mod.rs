//! Coffer's own API under `/admin/v1`: who am I, tenants, users and API keys. Later issues add
//! clusters, instances, destinations, operations and events here.

mod accounts;

pub use accounts::AccountsApi;

/// The admin API, as one OpenAPI service.
pub fn api() -> AccountsApi {
    AccountsApi
}
