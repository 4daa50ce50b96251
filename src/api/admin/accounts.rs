//! Tenants, users and API keys over HTTP. User and tenant management needs the admin role; every
//! user manages its own API keys.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags, param::Path, payload::Json, types::Example};
use uuid::Uuid;

use crate::{
    api::common::{security::Caller, strict::StrictJson},
    auth::accounts,
    domain::identity::{ApiKey, Principal, Role, Tenant, User},
    error::CoreError,
    persistence::identity,
    state::AppState,
};

#[derive(Tags)]
enum AdminTag {
    /// The caller.
    Identity,
    /// Tenants (admin only).
    Tenants,
    /// Users (admin only, except changing one's own password).
    Users,
    /// The caller's API keys.
    Keys,
}

/// Account management.
pub struct AccountsApi;

/// The authenticated caller.
#[derive(Object)]
#[oai(rename = "AdminWhoAmI")]
struct WhoAmI {
    user_id: Uuid,
    user: String,
    tenant_id: Uuid,
    tenant: String,
    /// `admin`, `operator` or `reader`.
    role: String,
    /// `basic_password`, `basic_api_key` or `token`.
    credential: String,
    read_only: bool,
}

/// A tenant; its name is the account id the dialects put in paths.
#[derive(Object)]
#[oai(rename = "AdminTenant")]
struct TenantDto {
    id: Uuid,
    name: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /tenants`.
#[derive(Object)]
#[oai(rename = "AdminNewTenant", deny_unknown_fields, example)]
struct NewTenant {
    /// The account id the dialects put in paths (`123456`).
    name: String,
}

impl Example for NewTenant {
    fn example() -> Self {
        NewTenant { name: "123456".into() }
    }
}

/// A user.
#[derive(Object)]
#[oai(rename = "AdminUser")]
struct UserDto {
    id: Uuid,
    name: String,
    tenant_id: Uuid,
    /// `admin`, `operator` or `reader`.
    role: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /users`.
#[derive(Object)]
#[oai(rename = "AdminNewUser", deny_unknown_fields, example)]
struct NewUser {
    name: String,
    password: String,
    /// `admin`, `operator` or `reader`.
    role: String,
    /// The tenant name; the caller's tenant when absent.
    #[oai(nullable)]
    tenant: Option<String>,
}

impl Example for NewUser {
    fn example() -> Self {
        NewUser {
            name: "ops".into(),
            password: "correct horse battery staple".into(),
            role: "operator".into(),
            tenant: Some("123456".into()),
        }
    }
}

/// `PUT /users/{name}/password`.
#[derive(Object)]
#[oai(rename = "AdminNewPassword", deny_unknown_fields, example)]
struct NewPassword {
    password: String,
}

impl Example for NewPassword {
    fn example() -> Self {
        NewPassword { password: "correct horse battery staple".into() }
    }
}

/// An API key as listed (the secret is never shown again).
#[derive(Object)]
#[oai(rename = "AdminKey")]
struct KeyDto {
    id: Uuid,
    name: String,
    /// The key's first characters, to recognise it by.
    prefix: String,
    read_only: bool,
    created_at: chrono::DateTime<chrono::Utc>,
    /// When it was revoked; null while it works.
    #[oai(nullable)]
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `POST /keys`.
#[derive(Object)]
#[oai(rename = "AdminNewKey", deny_unknown_fields, example)]
struct NewKey {
    name: String,
    /// A read-only key can only read, whatever the user's role.
    #[oai(default)]
    read_only: bool,
}

impl Example for NewKey {
    fn example() -> Self {
        NewKey { name: "nightly script".into(), read_only: true }
    }
}

/// A key just created; `key` is shown this once.
#[derive(Object)]
#[oai(rename = "AdminCreatedKey")]
struct CreatedKeyDto {
    #[oai(flatten)]
    listing: KeyDto,
    key: String,
}

#[derive(ApiResponse)]
enum TenantCreated {
    #[oai(status = 201)]
    Created(Json<TenantDto>),
}

#[derive(ApiResponse)]
enum UserCreated {
    #[oai(status = 201)]
    Created(Json<UserDto>),
}

#[derive(ApiResponse)]
enum KeyCreated {
    #[oai(status = 201)]
    Created(Json<CreatedKeyDto>),
}

#[derive(ApiResponse)]
enum NoContent {
    #[oai(status = 204)]
    Done,
}

impl From<Tenant> for TenantDto {
    fn from(t: Tenant) -> Self {
        Self { id: t.id, name: t.name, created_at: t.created_at }
    }
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self { id: u.id, name: u.name, tenant_id: u.tenant_id, role: u.role.to_string(), created_at: u.created_at }
    }
}

impl From<ApiKey> for KeyDto {
    fn from(k: ApiKey) -> Self {
        Self { id: k.id, name: k.name, prefix: k.prefix, read_only: k.read_only, created_at: k.created_at, revoked_at: k.revoked_at }
    }
}

fn require_admin(p: &Principal) -> Result<(), CoreError> {
    if p.role == Role::Admin { Ok(()) } else { Err(CoreError::Forbidden("this needs the admin role".into())) }
}

#[OpenApi(prefix_path = "/admin/v1")]
impl AccountsApi {
    /// Who the credential belongs to.
    #[oai(path = "/whoami", method = "get", operation_id = "admin_whoami", tag = "AdminTag::Identity")]
    async fn whoami(&self, caller: Caller) -> Json<WhoAmI> {
        let p = caller.principal();
        Json(WhoAmI {
            user_id: p.user_id,
            user: p.user_name.clone(),
            tenant_id: p.tenant_id,
            tenant: p.tenant_name.clone(),
            role: p.role.to_string(),
            credential: serde_json::to_value(p.credential).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            read_only: p.read_only,
        })
    }

    /// Lists tenants.
    #[oai(path = "/tenants", method = "get", operation_id = "admin_list_tenants", tag = "AdminTag::Tenants")]
    async fn list_tenants(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<TenantDto>>> {
        require_admin(caller.principal())?;
        Ok(Json(identity::list_tenants(&state.db).await?.into_iter().map(Into::into).collect()))
    }

    /// Creates a tenant.
    #[oai(path = "/tenants", method = "post", operation_id = "admin_create_tenant", tag = "AdminTag::Tenants")]
    async fn create_tenant(&self, state: Data<&AppState>, caller: Caller, body: StrictJson<NewTenant>) -> poem::Result<TenantCreated> {
        require_admin(caller.principal())?;
        let body = body.read()?;
        Ok(TenantCreated::Created(Json(accounts::create_tenant(&state.db, &body.name).await?.into())))
    }

    /// Lists users of every tenant.
    #[oai(path = "/users", method = "get", operation_id = "admin_list_users", tag = "AdminTag::Users")]
    async fn list_users(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<UserDto>>> {
        require_admin(caller.principal())?;
        Ok(Json(identity::list_users(&state.db, None).await?.into_iter().map(Into::into).collect()))
    }

    /// Creates a user.
    #[oai(path = "/users", method = "post", operation_id = "admin_create_user", tag = "AdminTag::Users")]
    async fn create_user(&self, state: Data<&AppState>, caller: Caller, body: StrictJson<NewUser>) -> poem::Result<UserCreated> {
        let p = caller.principal();
        require_admin(p)?;
        let body = body.read()?;
        let role = body.role.parse::<Role>().map_err(CoreError::BadRequest)?;
        let tenant = body.tenant.clone().unwrap_or_else(|| p.tenant_name.clone());
        let user = accounts::create_user(&state.db, &tenant, &body.name, &body.password, role).await?;
        Ok(UserCreated::Created(Json(user.into())))
    }

    /// Removes a user and its API keys; its tokens stop working within seconds.
    #[oai(path = "/users/:name", method = "delete", operation_id = "admin_delete_user", tag = "AdminTag::Users")]
    async fn delete_user(&self, state: Data<&AppState>, caller: Caller, name: Path<String>) -> poem::Result<NoContent> {
        let p = caller.principal();
        require_admin(p)?;
        if name.0 == p.user_name {
            return Err(CoreError::Conflict("you cannot remove yourself".into()).into());
        }
        accounts::delete_user(&state.db, &name).await?;
        state.auth.forget_cached_credentials().await?;
        Ok(NoContent::Done)
    }

    /// Sets a user's password (an admin for anyone, every user for itself).
    #[oai(path = "/users/:name/password", method = "put", operation_id = "admin_set_password", tag = "AdminTag::Users")]
    async fn set_password(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        name: Path<String>,
        body: StrictJson<NewPassword>,
    ) -> poem::Result<NoContent> {
        let p = caller.principal();
        if name.0 != p.user_name {
            require_admin(p)?;
        }
        let body = body.read()?;
        accounts::set_password(&state.db, &name, &body.password).await?;
        state.auth.forget_cached_credentials().await?;
        Ok(NoContent::Done)
    }

    /// Lists the caller's API keys.
    #[oai(path = "/keys", method = "get", operation_id = "admin_list_keys", tag = "AdminTag::Keys")]
    async fn list_keys(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<KeyDto>>> {
        let keys = identity::list_api_keys(&state.db, caller.principal().user_id).await?;
        Ok(Json(keys.into_iter().map(Into::into).collect()))
    }

    /// Creates an API key for the caller; the key is in the answer and never shown again.
    #[oai(path = "/keys", method = "post", operation_id = "admin_create_key", tag = "AdminTag::Keys")]
    async fn create_key(&self, state: Data<&AppState>, caller: Caller, body: StrictJson<NewKey>) -> poem::Result<KeyCreated> {
        let body = body.read()?;
        let created = accounts::create_key(&state.db, caller.principal().user_id, &body.name, body.read_only).await?;
        Ok(KeyCreated::Created(Json(CreatedKeyDto { listing: created.key.into(), key: created.secret })))
    }

    /// Revokes one of the caller's keys (an admin may revoke anyone's).
    #[oai(path = "/keys/:id", method = "delete", operation_id = "admin_revoke_key", tag = "AdminTag::Keys")]
    async fn revoke_key(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<NoContent> {
        let p = caller.principal();
        let key = identity::get_api_key(&state.db, id.0).await?.filter(|k| k.user_id == p.user_id || p.role == Role::Admin);
        let key = key.ok_or_else(|| CoreError::not_found("api key", id.0.to_string()))?;
        identity::revoke_api_key(&state.db, key.id).await?;
        state.auth.forget_cached_credentials().await?;
        Ok(NoContent::Done)
    }
}
