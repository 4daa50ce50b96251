//! The one error type the engine, auth and persistence return. Each dialect renders it in its
//! own shape at the edge (`api/<dialect>/error.rs`); internal details are logged, never returned.

/// What went wrong, in terms every dialect can map to a status code and a body.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// 400: the request is malformed or a field is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credential, or a wrong or expired one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such object (also for objects of another tenant).
    #[error("{what} '{id}' not found")]
    NotFound { what: &'static str, id: String },
    /// 404 for a path no route serves.
    #[error("no resource at {0}")]
    NoRoute(String),
    /// 405: the path exists but not with this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// 409: the object already exists or is in a conflicting state.
    #[error("{0}")]
    Conflict(String),
    /// 412: a precondition of the request does not hold (no backup at that point in time).
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the body is larger than the configured limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: the body's media type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well formed but cannot be carried out now.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: over the request rate; retry after the given whole seconds.
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503: a dependency (database, store) is not reachable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the details stay in the log.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CoreError {
    /// The HTTP status code this error becomes, whatever the dialect.
    pub fn status(&self) -> u16 {
        match self {
            CoreError::BadRequest(_) => 400,
            CoreError::Unauthorized(_) => 401,
            CoreError::Forbidden(_) => 403,
            CoreError::NotFound { .. } | CoreError::NoRoute(_) => 404,
            CoreError::MethodNotAllowed(_) => 405,
            CoreError::Conflict(_) => 409,
            CoreError::PreconditionFailed(_) => 412,
            CoreError::PayloadTooLarge { .. } => 413,
            CoreError::UnsupportedMediaType(_) => 415,
            CoreError::Unprocessable(_) => 422,
            CoreError::RateLimited { .. } => 429,
            CoreError::Unavailable(_) => 503,
            CoreError::Internal(_) => 500,
        }
    }

    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        CoreError::NotFound { what, id: id.into() }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        CoreError::Internal(err.into())
    }

    /// The same error with its message rewritten by `f` (a dialect putting it in its own words);
    /// errors whose message is not free text, and internal ones, are kept as they are.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            CoreError::BadRequest(m) => CoreError::BadRequest(f(m)),
            CoreError::Unauthorized(m) => CoreError::Unauthorized(f(m)),
            CoreError::Forbidden(m) => CoreError::Forbidden(f(m)),
            CoreError::Conflict(m) => CoreError::Conflict(f(m)),
            CoreError::PreconditionFailed(m) => CoreError::PreconditionFailed(f(m)),
            CoreError::UnsupportedMediaType(m) => CoreError::UnsupportedMediaType(f(m)),
            CoreError::Unprocessable(m) => CoreError::Unprocessable(f(m)),
            CoreError::Unavailable(m) => CoreError::Unavailable(f(m)),
            other => other,
        }
    }
}

/// Shorthand used across the crate.
pub type CoreResult<T> = Result<T, CoreError>;
