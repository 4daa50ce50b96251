//! The credential schemes shown in the OpenAPI documents. The edge has already authenticated the
//! request; these only hand the principal it found to the handler and document the headers.

use poem::Request;
use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Basic, Bearer},
};

use crate::domain::identity::Principal;

async fn from_edge_key(req: &Request, _: ApiKey) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

async fn from_edge_basic(req: &Request, _: Basic) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

async fn from_edge_bearer(req: &Request, _: Bearer) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

/// A token from `POST /v2.0/tokens`, `POST /v3/auth/tokens` or `POST /login`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Auth-Token", key_in = "header", checker = "from_edge_key")]
pub struct AuthToken(pub Principal);

/// An OpsCenter session id from `POST /login`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "opscenter-session", key_in = "header", checker = "from_edge_key")]
pub struct OpsCenterSession(pub Principal);

/// The OpsCenter session cookie some scripts send instead of the header.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "TWISTED_SESSION", key_in = "cookie", checker = "from_edge_key")]
pub struct OpsCenterCookie(pub Principal);

/// A token as a JWT bearer.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "from_edge_bearer")]
pub struct BearerJwt(pub Principal);

/// Username with a password or an API key (Instaclustr style).
#[derive(SecurityScheme)]
#[oai(ty = "basic", checker = "from_edge_basic")]
pub struct BasicAuth(pub Principal);

/// Any credential Coffer accepts.
#[derive(SecurityScheme)]
pub enum Caller {
    Token(AuthToken),
    Session(OpsCenterSession),
    Cookie(OpsCenterCookie),
    Bearer(BearerJwt),
    Basic(BasicAuth),
}

impl Caller {
    pub fn principal(&self) -> &Principal {
        match self {
            Caller::Token(AuthToken(p))
            | Caller::Session(OpsCenterSession(p))
            | Caller::Cookie(OpsCenterCookie(p))
            | Caller::Bearer(BearerJwt(p))
            | Caller::Basic(BasicAuth(p)) => p,
        }
    }
}
