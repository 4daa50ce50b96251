//! Keystone-style identity so stock clients can log in: `POST /v2.0/tokens` (password, Rackspace
//! API key, or token credentials), `POST /v3/auth/tokens` (password or token), and the version
//! discovery documents at `/`, `/v2.0` and `/v3` that keystoneauth's generic plugins read first.

mod catalog;
pub mod error;
pub mod models;
mod tokens;

use poem_openapi::{ApiResponse, OpenApi, Tags, payload::Json};

use crate::state::AppState;
use models::{Link, MediaType, OneVersion, Version, VersionStatus, VersionValues, Versions};

#[derive(Tags)]
pub(crate) enum IdentityTag {
    /// Version discovery.
    Discovery,
    /// Token issue.
    Tokens,
}

/// The identity API.
pub struct IdentityApi;

#[derive(ApiResponse)]
enum VersionsResponse {
    /// Both identity versions; keystoneauth expects 300 Multiple Choices here.
    #[oai(status = 300)]
    MultipleChoices(Json<Versions>),
}

fn version(id: &str, updated: &str, href: String, media_type: &str) -> Version {
    Version {
        id: id.into(),
        status: VersionStatus::Stable,
        updated: updated.into(),
        links: vec![Link { rel: "self".into(), href }],
        media_types: vec![MediaType { base: "application/json".into(), kind: media_type.into() }],
    }
}

fn v2_version(base: &str) -> Version {
    version("v2.0", "2014-04-17T00:00:00Z", format!("{base}/v2.0/"), "application/vnd.openstack.identity-v2.0+json")
}

fn v3_version(base: &str) -> Version {
    version("v3.14", "2020-04-07T00:00:00Z", format!("{base}/v3/"), "application/vnd.openstack.identity-v3+json")
}

#[OpenApi(tag = "IdentityTag::Discovery")]
impl IdentityApi {
    /// Lists the identity versions this server speaks.
    #[oai(path = "/", method = "get", operation_id = "identity_versions")]
    async fn versions(&self, state: poem::web::Data<&AppState>) -> VersionsResponse {
        let base = state.settings.base_url();
        VersionsResponse::MultipleChoices(Json(Versions { versions: VersionValues { values: vec![v3_version(base), v2_version(base)] } }))
    }

    /// Describes identity v2.0.
    #[oai(path = "/v2.0", method = "get", operation_id = "identity_v2_version")]
    async fn v2(&self, state: poem::web::Data<&AppState>) -> Json<OneVersion> {
        Json(OneVersion { version: v2_version(state.settings.base_url()) })
    }

    /// Describes identity v2.0 (trailing slash).
    #[oai(path = "/v2.0/", method = "get", operation_id = "identity_v2_version_slash", hidden)]
    async fn v2_slash(&self, state: poem::web::Data<&AppState>) -> Json<OneVersion> {
        self.v2(state).await
    }

    /// Describes identity v3.
    #[oai(path = "/v3", method = "get", operation_id = "identity_v3_version")]
    async fn v3(&self, state: poem::web::Data<&AppState>) -> Json<OneVersion> {
        Json(OneVersion { version: v3_version(state.settings.base_url()) })
    }

    /// Describes identity v3 (trailing slash).
    #[oai(path = "/v3/", method = "get", operation_id = "identity_v3_version_slash", hidden)]
    async fn v3_slash(&self, state: poem::web::Data<&AppState>) -> Json<OneVersion> {
        self.v3(state).await
    }
}

pub use tokens::TokensApi;

/// Both halves of the identity API, as one OpenAPI service.
pub fn api() -> (IdentityApi, TokensApi) {
    (IdentityApi, TokensApi)
}

pub(crate) use IdentityTag as Tag;
