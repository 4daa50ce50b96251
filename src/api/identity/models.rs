//! The identity request and response bodies, named as Keystone v2.0 (Rackspace flavour) and v3
//! write them and as keystoneauth1, python-troveclient, cdbclient and pyrax send and read them.
//! Unknown request keys are ignored (each client sends a few of its own).

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::api::common::forms::{Formed, Forms, constraining, given};

const EXAMPLE_TOKEN: &str = "gAAAAABlkEs8Y2FmZmVyLWV4YW1wbGUtdG9rZW4";

/// `POST /v2.0/tokens`: one of `passwordCredentials`, `RAX-KSKEY:apiKeyCredentials` or `token`.
#[derive(Debug, Object)]
#[oai(example, rename = "IdentityV2TokensRequest")]
pub struct V2TokensRequest {
    pub auth: Formed<V2Auth>,
}

impl Example for V2TokensRequest {
    fn example() -> Self {
        V2TokensRequest {
            auth: Formed(V2Auth {
                credential: V2Credential::Password(PasswordCredentials { username: "alice".into(), password: "s3cret".into() }),
                tenant_id: Some(TenantRef("1234".into())),
                tenant_name: None,
            }),
        }
    }
}

/// The credentials and the tenant asked for: exactly one of `passwordCredentials`,
/// `RAX-KSKEY:apiKeyCredentials` and `token`.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV2Auth")]
pub struct V2AuthFields {
    /// User name and password (troveclient, keystoneauth, pyrax's fallback).
    #[oai(rename = "passwordCredentials", skip_serializing_if_is_none)]
    pub password_credentials: Option<PasswordCredentials>,
    /// User name and API key (pyrax, cdbclient with `auth_system='rax'`).
    #[oai(rename = "RAX-KSKEY:apiKeyCredentials", skip_serializing_if_is_none)]
    pub api_key_credentials: Option<ApiKeyCredentials>,
    /// A token still valid, for a fresh one.
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<TokenRef>,
    /// The tenant to scope to (a string or a number; pyrax may send the user name). Matched
    /// loosely: a user's own tenant is used whatever is sent, an administrator's is the one named.
    #[oai(rename = "tenantId", nullable, skip_serializing_if_is_none)]
    pub tenant_id: Option<TenantRef>,
    /// The tenant to scope to, by name.
    #[oai(rename = "tenantName", nullable, skip_serializing_if_is_none)]
    pub tenant_name: Option<String>,
}

/// The fields of a v2 `auth` that each hold a kind of credential.
const V2_CREDENTIALS: [&str; 3] = ["passwordCredentials", "RAX-KSKEY:apiKeyCredentials", "token"];

/// The one kind of credential a v2 request carries.
#[derive(Clone, Debug)]
pub enum V2Credential {
    Password(PasswordCredentials),
    ApiKey(ApiKeyCredentials),
    Token(TokenRef),
}

/// A v2 `auth`, read: its credential and the tenant asked for.
#[derive(Debug)]
pub struct V2Auth {
    pub credential: V2Credential,
    pub tenant_id: Option<TenantRef>,
    pub tenant_name: Option<String>,
}

impl Forms for V2Auth {
    type Fields = V2AuthFields;

    fn one_of() -> Vec<MetaSchema> {
        V2_CREDENTIALS.iter().map(|field| given(&[(field, "object")])).collect()
    }

    fn read(f: V2AuthFields) -> Result<Self, String> {
        let credential = match (f.password_credentials, f.api_key_credentials, f.token) {
            (Some(c), None, None) => V2Credential::Password(c),
            (None, Some(c), None) => V2Credential::ApiKey(c),
            (None, None, Some(t)) => V2Credential::Token(t),
            (None, None, None) => return Err(format!("auth needs one of {}", V2_CREDENTIALS.join(", "))),
            _ => return Err(format!("auth takes one of {}, not several", V2_CREDENTIALS.join(", "))),
        };
        Ok(V2Auth { credential, tenant_id: f.tenant_id, tenant_name: f.tenant_name })
    }

    fn fields(&self) -> V2AuthFields {
        let mut f = V2AuthFields {
            password_credentials: None,
            api_key_credentials: None,
            token: None,
            tenant_id: self.tenant_id.clone(),
            tenant_name: self.tenant_name.clone(),
        };
        match self.credential.clone() {
            V2Credential::Password(c) => f.password_credentials = Some(c),
            V2Credential::ApiKey(c) => f.api_key_credentials = Some(c),
            V2Credential::Token(t) => f.token = Some(t),
        }
        f
    }
}

/// A tenant id as clients send it: a string, or a number (troveclient passes what it is given).
/// Written by hand: poem-openapi's `Union` documents itself as an object.
#[derive(Clone, Debug)]
pub struct TenantRef(pub String);

impl Type for TenantRef {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "IdentityTenantRef".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("a tenant id, as a string or a number"),
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
                MetaSchemaRef::Inline(Box::new(MetaSchema::new("integer"))),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for TenantRef {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(TenantRef(s)),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(TenantRef(n.to_string())),
            other => Err(ParseError::custom(format!("tenantId must be a string or a whole number, not {other}"))),
        }
    }
}

impl ToJSON for TenantRef {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityV2PasswordCredentials")]
pub struct PasswordCredentials {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityV2ApiKeyCredentials")]
pub struct ApiKeyCredentials {
    pub username: String,
    /// An API key of the user's.
    #[oai(rename = "apiKey")]
    pub api_key: String,
}

/// A token named by its id.
#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityTokenRef")]
pub struct TokenRef {
    pub id: String,
}

/// How a v2 token was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "UPPERCASE", rename = "IdentityAuthenticatedBy")]
pub enum AuthenticatedBy {
    Password,
    Apikey,
    Token,
}

/// A tenant or project: the account the token is scoped to.
#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityTenant")]
pub struct Tenant {
    pub id: String,
    pub name: String,
}

/// A v2 token.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV2Token")]
pub struct V2Token {
    pub id: String,
    /// `YYYY-MM-DDTHH:MM:SS.fffZ`, the form pyrax and keystoneauth both read.
    pub expires: String,
    pub issued_at: String,
    pub tenant: Tenant,
    #[oai(rename = "RAX-AUTH:authenticatedBy")]
    pub authenticated_by: Vec<AuthenticatedBy>,
}

/// A role of the user.
#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityRole")]
pub struct Role {
    pub id: String,
    pub name: String,
}

/// The v2 user.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV2User")]
pub struct V2User {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// The first configured region.
    #[oai(rename = "RAX-AUTH:defaultRegion")]
    pub default_region: String,
}

/// A v2 catalog endpoint: one region of a service.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV2Endpoint")]
pub struct V2Endpoint {
    pub region: String,
    #[oai(rename = "tenantId")]
    pub tenant_id: String,
    /// The account-scoped base URL clients append their paths to (no trailing slash).
    #[oai(rename = "publicURL")]
    pub public_url: String,
    #[oai(rename = "internalURL")]
    pub internal_url: String,
}

/// A v2 catalog entry.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV2Service")]
pub struct V2Service {
    pub name: String,
    /// `rax:database` (cdbclient, pyrax), `database` (troveclient, keystoneauth) or `rax:backup`.
    #[oai(rename = "type")]
    pub kind: String,
    pub endpoints: Vec<V2Endpoint>,
}

/// The v2 access document.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV2AccessBody")]
pub struct V2AccessBody {
    pub token: V2Token,
    pub user: V2User,
    #[oai(rename = "serviceCatalog")]
    pub service_catalog: Vec<V2Service>,
}

/// `POST /v2.0/tokens`' answer.
#[derive(Debug, Object)]
#[oai(example, rename = "IdentityV2Access")]
pub struct V2Access {
    pub access: V2AccessBody,
}

impl Example for V2Access {
    fn example() -> Self {
        let url = "https://coffer.example.com/v1.0/1234";
        let endpoint = || V2Endpoint { region: "DFW".into(), tenant_id: "1234".into(), public_url: url.into(), internal_url: url.into() };
        V2Access {
            access: V2AccessBody {
                token: V2Token {
                    id: EXAMPLE_TOKEN.into(),
                    expires: "2099-01-01T00:00:00.000Z".into(),
                    issued_at: "2098-12-31T00:00:00.000Z".into(),
                    tenant: Tenant { id: "1234".into(), name: "1234".into() },
                    authenticated_by: vec![AuthenticatedBy::Password],
                },
                user: V2User {
                    id: "0c1b5616-6d4e-4a5c-9f65-1f2b1f6f0c4e".into(),
                    name: "alice".into(),
                    roles: vec![Role { id: "operator".into(), name: "operator".into() }],
                    default_region: "DFW".into(),
                },
                service_catalog: vec![
                    V2Service { name: "cloudDatabases".into(), kind: "rax:database".into(), endpoints: vec![endpoint()] },
                    V2Service { name: "cloudDatabases".into(), kind: "database".into(), endpoints: vec![endpoint()] },
                ],
            },
        }
    }
}

/// `POST /v3/auth/tokens`.
#[derive(Debug, Object)]
#[oai(example, rename = "IdentityV3TokensRequest")]
pub struct V3TokensRequest {
    pub auth: V3Auth,
}

impl Example for V3TokensRequest {
    fn example() -> Self {
        V3TokensRequest {
            auth: V3Auth {
                identity: Formed(V3Identity::Password(V3Password {
                    user: Formed(V3User {
                        who: UserRef::Name("alice".into()),
                        password: "s3cret".into(),
                        domain: Some(DomainRef { id: Some("default".into()), name: None }),
                    }),
                })),
                scope: Some(V3ScopeChoice::Scope(V3Scope {
                    project: Some(ProjectRef { id: Some("1234".into()), name: None, domain: None }),
                    domain: None,
                })),
            },
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename = "IdentityV3Auth")]
pub struct V3Auth {
    pub identity: Formed<V3Identity>,
    /// The project to scope to; an administrator's token may name any.
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<V3ScopeChoice>,
}

/// An authentication method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "IdentityV3Method")]
pub enum V3Method {
    /// A user's password (`identity.password`).
    Password,
    /// A token still valid (`identity.token`), for a fresh one.
    Token,
}

/// One method, and the object it names: `password` with `identity.password`, or `token` with
/// `identity.token`.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3Identity")]
pub struct V3IdentityFields {
    /// The one method used: `["password"]` or `["token"]`.
    #[oai(validator(min_items = 1, max_items = 1))]
    pub methods: Vec<V3Method>,
    #[oai(skip_serializing_if_is_none)]
    pub password: Option<V3Password>,
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<TokenRef>,
}

/// A v3 `identity`, read: the method and what it needs.
#[derive(Debug)]
pub enum V3Identity {
    Password(V3Password),
    Token(TokenRef),
}

impl V3Identity {
    pub fn method(&self) -> V3Method {
        match self {
            V3Identity::Password(_) => V3Method::Password,
            V3Identity::Token(_) => V3Method::Token,
        }
    }
}

/// The form of an `identity` whose one method is `method` (its word) with the object it names.
fn method_form(method: &'static str) -> MetaSchema {
    let items = MetaSchema { enum_items: vec![Value::from(method)], ..MetaSchema::new("string") };
    let methods = MetaSchema { items: Some(Box::new(MetaSchemaRef::Inline(Box::new(items)))), ..MetaSchema::new("array") };
    MetaSchema { required: vec!["methods", method], ..constraining(vec![("methods", methods), (method, MetaSchema::new("object"))]) }
}

impl Forms for V3Identity {
    type Fields = V3IdentityFields;

    fn one_of() -> Vec<MetaSchema> {
        vec![method_form("password"), method_form("token")]
    }

    fn read(f: V3IdentityFields) -> Result<Self, String> {
        match f.methods.as_slice() {
            [V3Method::Password] => {
                f.password.map(V3Identity::Password).ok_or_else(|| "the password method needs identity.password".into())
            }
            [V3Method::Token] => f.token.map(V3Identity::Token).ok_or_else(|| "the token method needs identity.token".into()),
            _ => Err("identity.methods names one method: password or token".into()),
        }
    }

    fn fields(&self) -> V3IdentityFields {
        let (password, token) = match self {
            V3Identity::Password(p) => (Some(p.clone()), None),
            V3Identity::Token(t) => (None, Some(t.clone())),
        };
        V3IdentityFields { methods: vec![self.method()], password, token }
    }
}

#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityV3Password")]
pub struct V3Password {
    pub user: Formed<V3User>,
}

/// A user by name or id (the name when both are given), with the password.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3User")]
pub struct V3UserFields {
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
    pub password: String,
    /// Accepted and not checked: users live in one domain.
    #[oai(skip_serializing_if_is_none)]
    pub domain: Option<DomainRef>,
}

/// How a v3 request names its user.
#[derive(Clone, Debug)]
pub enum UserRef {
    Name(String),
    Id(String),
}

/// A v3 user, read.
#[derive(Clone, Debug)]
pub struct V3User {
    pub who: UserRef,
    pub password: String,
    pub domain: Option<DomainRef>,
}

impl Forms for V3User {
    type Fields = V3UserFields;

    fn any_of() -> Vec<MetaSchema> {
        vec![given(&[("name", "string")]), given(&[("id", "string")])]
    }

    fn read(f: V3UserFields) -> Result<Self, String> {
        let who = match (f.name, f.id) {
            (Some(name), _) => UserRef::Name(name),
            (None, Some(id)) => UserRef::Id(id),
            (None, None) => return Err("identity.password.user needs a name or an id".into()),
        };
        Ok(V3User { who, password: f.password, domain: f.domain })
    }

    fn fields(&self) -> V3UserFields {
        let (name, id) = match &self.who {
            UserRef::Name(n) => (Some(n.clone()), None),
            UserRef::Id(i) => (None, Some(i.clone())),
        };
        V3UserFields { name, id, password: self.password.clone(), domain: self.domain.clone() }
    }
}

/// A domain by id or name.
#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityDomainRef")]
pub struct DomainRef {
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
}

/// A project by id or name.
#[derive(Debug, Object)]
#[oai(rename = "IdentityProjectRef")]
pub struct ProjectRef {
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub domain: Option<DomainRef>,
}

/// The scope asked for.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3Scope")]
pub struct V3Scope {
    #[oai(skip_serializing_if_is_none)]
    pub project: Option<ProjectRef>,
    /// Accepted: a domain scope is the user's own tenant.
    #[oai(skip_serializing_if_is_none)]
    pub domain: Option<DomainRef>,
}

/// A scope object, or a word such as keystoneauth's `"unscoped"` (the user's own tenant).
/// Written by hand: poem-openapi's `Union` documents itself as an object.
#[derive(Debug)]
pub enum V3ScopeChoice {
    Scope(V3Scope),
    Word(String),
}

impl Type for V3ScopeChoice {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "IdentityV3ScopeChoice".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("a scope object, or a word such as \"unscoped\""),
            any_of: vec![V3Scope::schema_ref(), MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        V3Scope::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for V3ScopeChoice {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(word) => Ok(V3ScopeChoice::Word(word)),
            scope @ Value::Object(_) => V3Scope::parse_from_json(Some(scope)).map(V3ScopeChoice::Scope).map_err(ParseError::propagate),
            other => Err(ParseError::custom(format!("scope must be an object or a word such as \"unscoped\", not {other}"))),
        }
    }
}

impl ToJSON for V3ScopeChoice {
    fn to_json(&self) -> Option<Value> {
        match self {
            V3ScopeChoice::Scope(scope) => scope.to_json(),
            V3ScopeChoice::Word(word) => Some(Value::String(word.clone())),
        }
    }
}

/// A domain as a token shows it.
#[derive(Clone, Debug, Object)]
#[oai(rename = "IdentityDomain")]
pub struct Domain {
    pub id: String,
    pub name: String,
}

/// The v3 token's user.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3UserView")]
pub struct V3UserView {
    pub id: String,
    pub name: String,
    pub domain: Domain,
}

/// The v3 token's project.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3ProjectView")]
pub struct V3ProjectView {
    pub id: String,
    pub name: String,
    pub domain: Domain,
}

/// Who a v3 endpoint is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "IdentityInterface")]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

/// A v3 catalog endpoint.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3Endpoint")]
pub struct V3Endpoint {
    pub id: String,
    pub interface: Interface,
    pub region: String,
    pub region_id: String,
    pub url: String,
}

/// A v3 catalog entry.
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3Service")]
pub struct V3Service {
    pub id: String,
    pub name: String,
    #[oai(rename = "type")]
    pub kind: String,
    pub endpoints: Vec<V3Endpoint>,
}

/// A v3 token (its id is in `X-Subject-Token`).
#[derive(Debug, Object)]
#[oai(rename = "IdentityV3Token")]
pub struct V3Token {
    pub methods: Vec<V3Method>,
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub expires_at: String,
    pub issued_at: String,
    pub audit_ids: Vec<String>,
    pub user: V3UserView,
    pub project: V3ProjectView,
    pub roles: Vec<Role>,
    pub catalog: Vec<V3Service>,
}

/// `POST /v3/auth/tokens`' answer.
#[derive(Debug, Object)]
#[oai(example, rename = "IdentityV3TokenDocument")]
pub struct V3TokenDocument {
    pub token: V3Token,
}

impl Example for V3TokenDocument {
    fn example() -> Self {
        let domain = Domain { id: "default".into(), name: "Default".into() };
        V3TokenDocument {
            token: V3Token {
                methods: vec![V3Method::Password],
                expires_at: "2099-01-01T00:00:00.000000Z".into(),
                issued_at: "2098-12-31T00:00:00.000000Z".into(),
                audit_ids: vec!["3T2dc1CGQxyJsHdDu1xkcw".into()],
                user: V3UserView { id: "0c1b5616-6d4e-4a5c-9f65-1f2b1f6f0c4e".into(), name: "alice".into(), domain: domain.clone() },
                project: V3ProjectView { id: "1234".into(), name: "1234".into(), domain },
                roles: vec![Role { id: "operator".into(), name: "operator".into() }],
                catalog: vec![V3Service {
                    id: "cloudDatabases-database".into(),
                    name: "cloudDatabases".into(),
                    kind: "database".into(),
                    endpoints: vec![V3Endpoint {
                        id: "database-DFW-public".into(),
                        interface: Interface::Public,
                        region: "DFW".into(),
                        region_id: "DFW".into(),
                        url: "https://coffer.example.com/v1.0/1234".into(),
                    }],
                }],
            },
        }
    }
}

/// Whether a version is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "IdentityVersionStatus")]
pub enum VersionStatus {
    Stable,
    Supported,
    Deprecated,
    Experimental,
}

#[derive(Debug, Object)]
#[oai(rename = "IdentityLink")]
pub struct Link {
    pub rel: String,
    pub href: String,
}

#[derive(Debug, Object)]
#[oai(rename = "IdentityMediaType")]
pub struct MediaType {
    pub base: String,
    #[oai(rename = "type")]
    pub kind: String,
}

/// One identity version.
#[derive(Debug, Object)]
#[oai(rename = "IdentityVersion")]
pub struct Version {
    /// `v2.0` or `v3.14`.
    pub id: String,
    pub status: VersionStatus,
    pub updated: String,
    pub links: Vec<Link>,
    #[oai(rename = "media-types")]
    pub media_types: Vec<MediaType>,
}

/// `GET /v2.0`, `GET /v3`.
#[derive(Debug, Object)]
#[oai(rename = "IdentityOneVersion")]
pub struct OneVersion {
    pub version: Version,
}

#[derive(Debug, Object)]
#[oai(rename = "IdentityVersionValues")]
pub struct VersionValues {
    pub values: Vec<Version>,
}

/// `GET /`: every version, newest first.
#[derive(Debug, Object)]
#[oai(rename = "IdentityVersions")]
pub struct Versions {
    pub versions: VersionValues,
}
