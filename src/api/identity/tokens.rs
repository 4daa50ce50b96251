//! Token issue in the Keystone v2.0 (Rackspace flavour) and v3 forms.

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tag, catalog};
use crate::{
    api::common::edge::client_ip,
    auth::{Credential, IssuedToken},
    domain::identity::{CredentialKind, Principal},
    error::CoreError,
    state::AppState,
};

/// Identity v2.0 and v3 token endpoints.
pub struct TokensApi;

#[derive(Deserialize)]
struct V2Request {
    auth: V2Auth,
}

#[derive(Deserialize)]
struct V2Auth {
    #[serde(rename = "passwordCredentials")]
    password: Option<UserSecret>,
    #[serde(rename = "RAX-KSKEY:apiKeyCredentials")]
    api_key: Option<UserApiKey>,
    token: Option<TokenRef>,
    #[serde(rename = "tenantId")]
    tenant_id: Option<Value>,
    #[serde(rename = "tenantName")]
    tenant_name: Option<String>,
}

#[derive(Deserialize)]
struct UserSecret {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct UserApiKey {
    username: String,
    #[serde(rename = "apiKey")]
    api_key: String,
}

#[derive(Deserialize)]
struct TokenRef {
    id: String,
}

#[derive(Deserialize)]
struct V3Request {
    auth: V3Auth,
}

#[derive(Deserialize)]
struct V3Auth {
    identity: V3Identity,
    scope: Option<Value>,
}

#[derive(Deserialize)]
struct V3Identity {
    methods: Vec<String>,
    password: Option<V3Password>,
    token: Option<TokenRef>,
}

#[derive(Deserialize)]
struct V3Password {
    user: V3User,
}

#[derive(Deserialize)]
struct V3User {
    name: Option<String>,
    id: Option<String>,
    password: String,
}

#[derive(ApiResponse)]
enum V3TokenResponse {
    /// The token is in `X-Subject-Token`; the body describes it with the catalog.
    #[oai(status = 201)]
    Created(Json<Value>, #[oai(header = "X-Subject-Token")] String),
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, CoreError> {
    serde_json::from_value(body).map_err(|e| CoreError::BadRequest(format!("malformed auth request: {e}")))
}

fn authenticated_by(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::BasicPassword => "PASSWORD",
        CredentialKind::BasicApiKey => "APIKEY",
        CredentialKind::Token => "TOKEN",
    }
}

fn roles(p: &Principal) -> Value {
    json!([{ "id": p.role.as_str(), "name": p.role.as_str() }])
}

#[OpenApi(tag = "Tag::Tokens")]
impl TokensApi {
    /// Issues a token (Keystone v2.0). Accepts `passwordCredentials`, `RAX-KSKEY:apiKeyCredentials`
    /// or `token`; `tenantId`/`tenantName` are matched loosely. Answers exactly 200 with the access
    /// document and the service catalog.
    #[oai(path = "/v2.0/tokens", method = "post", operation_id = "identity_v2_tokens")]
    async fn v2_tokens(&self, state: Data<&AppState>, req: &Request, body: Json<Value>) -> poem::Result<Json<Value>> {
        let auth = parse::<V2Request>(body.0)?.auth;
        let client = client_ip(req);
        let principal = if let Some(c) = auth.password {
            state.auth.login_with_password(&c.username, &c.password, client).await?
        } else if let Some(c) = auth.api_key {
            state.auth.login_with_api_key(&c.username, &c.api_key, client).await?
        } else if let Some(t) = auth.token {
            state.auth.authenticate(&Credential::Token(t.id), client).await?
        } else {
            return Err(CoreError::BadRequest("auth needs passwordCredentials, RAX-KSKEY:apiKeyCredentials or token".into()).into());
        };
        let tenant = match auth.tenant_id {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => auth.tenant_name,
        };
        let principal = state.auth.scope(principal, tenant.as_deref()).await?;
        let issued = state.auth.issue_token(&principal)?;
        Ok(Json(v2_access(&state, &principal, &issued)))
    }

    /// Issues a token (Keystone v3, `password` or `token` method). The token is returned in
    /// `X-Subject-Token`.
    #[oai(path = "/v3/auth/tokens", method = "post", operation_id = "identity_v3_tokens")]
    async fn v3_tokens(&self, state: Data<&AppState>, req: &Request, body: Json<Value>) -> poem::Result<V3TokenResponse> {
        let auth = parse::<V3Request>(body.0)?.auth;
        let client = client_ip(req);
        let identity = auth.identity;
        let principal = if identity.methods.iter().any(|m| m == "password") {
            let user = identity.password.ok_or_else(|| CoreError::BadRequest("the password method needs identity.password".into()))?.user;
            let name = match (user.name, user.id) {
                (Some(name), _) => name,
                (None, Some(id)) => user_name_by_id(&state, &id).await?,
                (None, None) => return Err(CoreError::BadRequest("identity.password.user needs a name or an id".into()).into()),
            };
            state.auth.login(&name, &user.password, client).await?
        } else if identity.methods.iter().any(|m| m == "token") {
            let token = identity.token.ok_or_else(|| CoreError::BadRequest("the token method needs identity.token".into()))?;
            state.auth.authenticate(&Credential::Token(token.id), client).await?
        } else {
            return Err(CoreError::BadRequest("supported methods are password and token".into()).into());
        };
        let project =
            auth.scope.as_ref().and_then(|s| s.get("project")).and_then(|p| p.get("id").or_else(|| p.get("name"))).and_then(Value::as_str);
        let principal = state.auth.scope(principal, project).await?;
        let issued = state.auth.issue_token(&principal)?;
        let body = v3_token(&state, &principal, &issued, &identity.methods);
        Ok(V3TokenResponse::Created(Json(body), issued.token))
    }
}

async fn user_name_by_id(state: &AppState, id: &str) -> Result<String, CoreError> {
    let unknown = || CoreError::Unauthorized("invalid username, password or API key".into());
    let id = uuid::Uuid::parse_str(id).map_err(|_| unknown())?;
    Ok(crate::persistence::identity::get_user(&state.db, id).await?.ok_or_else(unknown)?.name)
}

fn v2_access(state: &AppState, p: &Principal, issued: &IssuedToken) -> Value {
    let settings = &state.settings;
    json!({
        "access": {
            "token": {
                "id": issued.token,
                "expires": issued.expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "issued_at": issued.issued_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "tenant": { "id": p.tenant_name, "name": p.tenant_name },
                "RAX-AUTH:authenticatedBy": [authenticated_by(p.credential)],
            },
            "user": {
                "id": p.user_id.to_string(),
                "name": p.user_name,
                "roles": roles(p),
                "RAX-AUTH:defaultRegion": settings.regions.first().map(|r| r.to_uppercase()).unwrap_or_default(),
            },
            "serviceCatalog": catalog::v2(settings.base_url(), &p.tenant_name, &settings.regions),
        }
    })
}

fn v3_token(state: &AppState, p: &Principal, issued: &IssuedToken, methods: &[String]) -> Value {
    let settings = &state.settings;
    let domain = json!({ "id": "default", "name": "Default" });
    json!({
        "token": {
            "methods": methods,
            "expires_at": issued.expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "issued_at": issued.issued_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "audit_ids": [issued.jti],
            "user": { "id": p.user_id.to_string(), "name": p.user_name, "domain": domain },
            "project": { "id": p.tenant_name, "name": p.tenant_name, "domain": domain },
            "roles": roles(p),
            "catalog": catalog::v3(settings.base_url(), &p.tenant_name, &settings.regions),
        }
    })
}
