//! Token issue in the Keystone v2.0 (Rackspace flavour) and v3 forms.

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, OpenApi, payload::Json, types::ParseFromJSON};
use serde_json::Value;

use super::{
    Tag, catalog,
    models::{
        AuthenticatedBy, Domain, Role, Tenant, UserRef, V2Access, V2AccessBody, V2Credential, V2Service, V2Token, V2TokensRequest, V2User,
        V3Identity, V3Method, V3ProjectView, V3ScopeChoice, V3Service, V3Token, V3TokenDocument, V3TokensRequest, V3UserView,
    },
};
use crate::{
    api::common::edge::client_ip,
    auth::{Credential, IssuedToken},
    domain::identity::{CredentialKind, Principal},
    error::CoreError,
    state::AppState,
};

/// Identity v2.0 and v3 token endpoints.
pub struct TokensApi;

#[derive(ApiResponse)]
enum V3TokenResponse {
    /// The token is in `X-Subject-Token`; the body describes it with the catalog.
    #[oai(status = 201)]
    Created(Json<V3TokenDocument>, #[oai(header = "X-Subject-Token")] String),
}

/// The catalog's entries as the typed models (the catalog builds them as JSON).
fn typed<T: ParseFromJSON>(entries: Value) -> Result<Vec<T>, CoreError> {
    Vec::<T>::parse_from_json(Some(entries)).map_err(|e| CoreError::internal(anyhow::anyhow!("the service catalog: {}", e.into_message())))
}

fn authenticated_by(kind: CredentialKind) -> AuthenticatedBy {
    match kind {
        CredentialKind::BasicPassword => AuthenticatedBy::Password,
        CredentialKind::BasicApiKey => AuthenticatedBy::Apikey,
        CredentialKind::Token => AuthenticatedBy::Token,
    }
}

fn roles(p: &Principal) -> Vec<Role> {
    vec![Role { id: p.role.as_str().into(), name: p.role.as_str().into() }]
}

#[OpenApi(tag = "Tag::Tokens")]
impl TokensApi {
    /// Issues a token (Keystone v2.0). Accepts `passwordCredentials`, `RAX-KSKEY:apiKeyCredentials`
    /// or `token`; `tenantId`/`tenantName` are matched loosely. Answers exactly 200 with the access
    /// document and the service catalog.
    #[oai(path = "/v2.0/tokens", method = "post", operation_id = "identity_v2_tokens")]
    async fn v2_tokens(&self, state: Data<&AppState>, req: &Request, body: Json<V2TokensRequest>) -> poem::Result<Json<V2Access>> {
        let auth = body.0.auth.0;
        let client = client_ip(req);
        let principal = match auth.credential {
            V2Credential::Password(c) => state.auth.login_with_password(&c.username, &c.password, client).await?,
            V2Credential::ApiKey(c) => state.auth.login_with_api_key(&c.username, &c.api_key, client).await?,
            V2Credential::Token(t) => state.auth.authenticate(&Credential::Token(t.id), client).await?,
        };
        let tenant = auth.tenant_id.map(|t| t.0).or(auth.tenant_name);
        let principal = state.auth.scope(principal, tenant.as_deref()).await?;
        let issued = state.auth.issue_token(&principal)?;
        Ok(Json(v2_access(&state, &principal, &issued)?))
    }

    /// Issues a token (Keystone v3, `password` or `token` method). The token is returned in
    /// `X-Subject-Token`.
    #[oai(path = "/v3/auth/tokens", method = "post", operation_id = "identity_v3_tokens")]
    async fn v3_tokens(&self, state: Data<&AppState>, req: &Request, body: Json<V3TokensRequest>) -> poem::Result<V3TokenResponse> {
        let auth = body.0.auth;
        let client = client_ip(req);
        let identity = auth.identity.0;
        let method = identity.method();
        let principal = match identity {
            V3Identity::Password(password) => {
                let user = password.user.0;
                let name = match user.who {
                    UserRef::Name(name) => name,
                    UserRef::Id(id) => user_name_by_id(&state, &id).await?,
                };
                state.auth.login(&name, &user.password, client).await?
            }
            V3Identity::Token(token) => state.auth.authenticate(&Credential::Token(token.id), client).await?,
        };
        let project = match auth.scope {
            Some(V3ScopeChoice::Scope(scope)) => scope.project.and_then(|p| p.id.or(p.name)),
            // "unscoped" (keystoneauth) or no scope: the user's own tenant.
            Some(V3ScopeChoice::Word(_)) | None => None,
        };
        let principal = state.auth.scope(principal, project.as_deref()).await?;
        let issued = state.auth.issue_token(&principal)?;
        let body = v3_token(&state, &principal, &issued, method)?;
        Ok(V3TokenResponse::Created(Json(body), issued.token))
    }
}

async fn user_name_by_id(state: &AppState, id: &str) -> Result<String, CoreError> {
    let unknown = || CoreError::Unauthorized("invalid username, password or API key".into());
    let id = uuid::Uuid::parse_str(id).map_err(|_| unknown())?;
    Ok(crate::persistence::identity::get_user(&state.db, id).await?.ok_or_else(unknown)?.name)
}

fn v2_access(state: &AppState, p: &Principal, issued: &IssuedToken) -> Result<V2Access, CoreError> {
    let settings = &state.settings;
    Ok(V2Access {
        access: V2AccessBody {
            token: V2Token {
                id: issued.token.clone(),
                expires: issued.expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                issued_at: issued.issued_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                tenant: Tenant { id: p.tenant_name.clone(), name: p.tenant_name.clone() },
                authenticated_by: vec![authenticated_by(p.credential)],
            },
            user: V2User {
                id: p.user_id.to_string(),
                name: p.user_name.clone(),
                roles: roles(p),
                default_region: settings.regions.first().map(|r| r.to_uppercase()).unwrap_or_default(),
            },
            service_catalog: typed::<V2Service>(catalog::v2(settings.base_url(), &p.tenant_name, &settings.regions))?,
        },
    })
}

fn v3_token(state: &AppState, p: &Principal, issued: &IssuedToken, method: V3Method) -> Result<V3TokenDocument, CoreError> {
    let settings = &state.settings;
    let domain = Domain { id: "default".into(), name: "Default".into() };
    Ok(V3TokenDocument {
        token: V3Token {
            methods: vec![method],
            expires_at: issued.expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            issued_at: issued.issued_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            audit_ids: vec![issued.jti.clone()],
            user: V3UserView { id: p.user_id.to_string(), name: p.user_name.clone(), domain: domain.clone() },
            project: V3ProjectView { id: p.tenant_name.clone(), name: p.tenant_name.clone(), domain },
            roles: roles(p),
            catalog: typed::<V3Service>(catalog::v3(settings.base_url(), &p.tenant_name, &settings.regions))?,
        },
    })
}
