//! Managing tenants, users and API keys: what `coffer tenant|user|key` and `/admin/v1` share.

use uuid::Uuid;

use super::secrets;
use crate::{
    domain::identity::{ApiKey, Role, Tenant, User, validate_tenant_name, validate_user_name},
    error::{CoreError, CoreResult},
    persistence::{Db, identity},
};

/// The tenant every first start creates.
pub const DEFAULT_TENANT: &str = "default";
/// The user every first start creates.
pub const DEFAULT_ADMIN: &str = "admin";

fn check_password(password: &str) -> CoreResult<()> {
    if password.chars().count() < 8 {
        return Err(CoreError::BadRequest("a password needs at least 8 characters".into()));
    }
    Ok(())
}

pub async fn create_tenant(db: &Db, name: &str) -> CoreResult<Tenant> {
    validate_tenant_name(name).map_err(CoreError::BadRequest)?;
    identity::create_tenant(db, name).await
}

pub async fn tenant_by_name(db: &Db, name: &str) -> CoreResult<Tenant> {
    identity::find_tenant_by_name(db, name).await?.ok_or_else(|| CoreError::not_found("tenant", name))
}

pub async fn create_user(db: &Db, tenant: &str, name: &str, password: &str, role: Role) -> CoreResult<User> {
    validate_user_name(name).map_err(CoreError::BadRequest)?;
    check_password(password)?;
    let tenant = tenant_by_name(db, tenant).await?;
    let hash = secrets::hash(password).await?;
    identity::create_user(db, tenant.id, name, &hash, role).await
}

pub async fn user_by_name(db: &Db, name: &str) -> CoreResult<User> {
    identity::find_user_by_name(db, name).await?.ok_or_else(|| CoreError::not_found("user", name))
}

pub async fn set_password(db: &Db, name: &str, password: &str) -> CoreResult<()> {
    check_password(password)?;
    let user = user_by_name(db, name).await?;
    let hash = secrets::hash(password).await?;
    identity::set_password_hash(db, user.id, &hash).await
}

pub async fn delete_user(db: &Db, name: &str) -> CoreResult<()> {
    let user = user_by_name(db, name).await?;
    identity::delete_user(db, user.id).await
}

/// A key just created: the listing fields and the whole secret, shown this once.
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

pub async fn create_key(db: &Db, user_id: Uuid, name: &str, read_only: bool) -> CoreResult<CreatedKey> {
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(CoreError::BadRequest("a key name needs 1 to 128 characters, none of them control characters".into()));
    }
    let new = secrets::NewApiKey::generate();
    let hash = secrets::hash(&new.secret).await?;
    let key = identity::create_api_key(db, user_id, name, &new.prefix, &hash, read_only).await?;
    Ok(CreatedKey { key, secret: new.full() })
}

/// On an empty database: creates tenant `default` and user `admin`. Answers the password when it
/// was generated, so the caller can print it once.
pub async fn bootstrap(db: &Db, admin_password: Option<&str>) -> CoreResult<Option<String>> {
    if identity::count_users(db).await? > 0 {
        return Ok(None);
    }
    if identity::find_tenant_by_name(db, DEFAULT_TENANT).await?.is_none() {
        identity::create_tenant(db, DEFAULT_TENANT).await?;
    }
    let (password, generated) = match admin_password {
        Some(p) => (p.to_owned(), false),
        None => (secrets::random_string(20), true),
    };
    create_user(db, DEFAULT_TENANT, DEFAULT_ADMIN, &password, Role::Admin).await?;
    Ok(generated.then_some(password))
}
