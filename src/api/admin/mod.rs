//! Coffer's own API under `/admin/v1`: accounts (tenants, users, keys) and the engine (sources,
//! backups, restores, destinations, plans, operations, events). Every body is a named schema;
//! request bodies are read strictly (a field the schema does not have is a 400 naming it).

mod accounts;
mod backups;
mod destinations;
mod models;
mod operations;
mod plans;
mod restores;
mod sources;

use poem_openapi::{ApiResponse, Tags, payload::Json, types::ToJSON};

pub use accounts::AccountsApi;
pub use backups::BackupsApi;
pub use destinations::DestinationsApi;
pub use operations::OperationsApi;
pub use plans::PlansApi;
pub use restores::RestoresApi;
pub use sources::SourcesApi;

/// The engine part of the admin API, one OpenAPI service per resource.
pub type EngineApi = (SourcesApi, BackupsApi, RestoresApi, DestinationsApi, PlansApi, OperationsApi);

/// The admin API, as one OpenAPI service.
pub fn api() -> (AccountsApi, EngineApi) {
    (AccountsApi, (SourcesApi, BackupsApi, RestoresApi, DestinationsApi, PlansApi, OperationsApi))
}

#[derive(Tags)]
enum EngineTag {
    /// Clusters, instances, HA groups and machines.
    Sources,
    /// Workers beside the data.
    Agents,
    /// Backups, restores and verification.
    Backups,
    /// Asynchronous operations and the activity log.
    Operations,
    /// Where backups are stored.
    Destinations,
    /// Schedules and retention.
    Plans,
}

#[derive(ApiResponse)]
enum NoContent {
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
enum Created<T: ToJSON> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
}

#[derive(ApiResponse)]
enum Accepted<T: ToJSON> {
    /// The operation was recorded and runs in the background.
    #[oai(status = 202)]
    Accepted(Json<T>),
}
