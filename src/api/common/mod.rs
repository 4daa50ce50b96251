//! What every dialect shares: dialect detection, error rendering, the request edge (request id,
//! body limit, authentication, rate limit, roles, metrics) and spec merging.

pub mod cache;
pub mod dialect;
pub mod edge;
pub mod forms;
pub mod lenient;
pub mod region;
pub mod security;
pub mod spec;
pub mod statuses;
pub mod strict;

use poem::{
    Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use uuid::Uuid;

pub use dialect::Dialect;

use crate::{domain::identity::Principal, error::CoreError};

/// What an error renderer needs besides the error.
#[derive(Clone, Debug)]
pub struct ErrorContext {
    pub dialect: Dialect,
    pub request_id: String,
    pub base_url: String,
}

impl ErrorContext {
    /// The message a client may see: internal details never leave the server.
    pub fn public_message(&self, err: &CoreError) -> String {
        match err {
            CoreError::Internal(_) => format!("internal error, request id {}", self.request_id),
            other => other.to_string(),
        }
    }
}

/// The request id of the current request, as set by the edge.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Renders `err` in the shape of the request's dialect, with `WWW-Authenticate` on 401 and
/// `Retry-After` on 429. Internal errors are logged here with their whole chain.
pub fn render_error(err: &CoreError, ctx: &ErrorContext) -> Response {
    if let CoreError::Internal(inner) = err {
        tracing::error!(request_id = %ctx.request_id, error = format!("{inner:#}"), "internal error");
    }
    let body = match ctx.dialect {
        Dialect::OpsCenter => crate::api::opscenter::error::body(err, ctx),
        Dialect::Instaclustr => crate::api::instaclustr::error::body(err, ctx),
        Dialect::CloudDatabases | Dialect::IdentityV2 => crate::api::rackspace_db::error::body(err, ctx),
        Dialect::CloudBackup => crate::api::rackspace_backup::error::body(err, ctx),
        Dialect::IdentityV3 | Dialect::Admin | Dialect::Ops => crate::api::identity::error::body(err, ctx),
    };
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = Response::builder().status(status).content_type("application/json").body(serde_json::to_vec(&body).unwrap_or_default());
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"coffer\""));
    }
    if let CoreError::RateLimited { retry_after_secs } = err {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    resp
}

impl poem::error::ResponseError for CoreError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(CoreError::status(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Turns whatever error an inner endpoint returned into a `CoreError`: ours are unwrapped,
/// poem's and poem-openapi's (routing, parsing) are mapped by status.
pub fn core_error_from_poem(err: poem::Error, path: &str, method: &str) -> CoreError {
    if err.is::<CoreError>() {
        return err.downcast::<CoreError>().unwrap_or_else(|e| CoreError::internal(anyhow::anyhow!("{e}")));
    }
    let message = err.to_string();
    match err.status() {
        StatusCode::NOT_FOUND => CoreError::NoRoute(path.to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => CoreError::MethodNotAllowed(method.to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => CoreError::PayloadTooLarge { limit: 0 },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => CoreError::UnsupportedMediaType(message),
        StatusCode::UNAUTHORIZED => CoreError::Unauthorized("authentication required".into()),
        StatusCode::FORBIDDEN => CoreError::Forbidden(message),
        s if s.is_client_error() && message.starts_with("failed to parse path") => {
            CoreError::BadRequest(format!("a path segment is not valid here (ids are UUIDs): {path}"))
        }
        s if s.is_client_error() => CoreError::BadRequest(message),
        _ => CoreError::internal(anyhow::anyhow!(message)),
    }
}

/// The authenticated caller; set by the edge on every non-public request.
pub fn principal(req: &Request) -> Result<&Principal, CoreError> {
    req.extensions().get::<Principal>().ok_or_else(|| CoreError::Unauthorized("authentication required".into()))
}

/// Marks the response poem's panic catcher produced, so the edge renders it in the dialect's shape.
#[derive(Clone, Copy, Debug)]
pub struct Panicked;

/// The response for a handler that panicked.
pub fn panic_response() -> Response {
    let mut resp = Response::builder().status(StatusCode::INTERNAL_SERVER_ERROR).finish();
    resp.extensions_mut().insert(Panicked);
    resp
}

/// A fresh request id.
pub fn new_request_id() -> String {
    Uuid::new_v4().simple().to_string()
}
