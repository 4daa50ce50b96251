//! The OpsCenter backup API. Today: its session endpoints (`POST /login`, `GET /logout`) and its
//! error shape; the cluster backup endpoints arrive with the dialect's issue.

pub mod error;
mod session;

pub use session::SessionApi;

/// The OpsCenter API, as one OpenAPI service.
pub fn api() -> SessionApi {
    SessionApi
}
