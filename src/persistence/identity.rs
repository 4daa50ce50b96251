//! Tenants, users, API keys and token revocations.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::{
    Db,
    entities::{api_keys, revoked_tokens, tenants, users},
};
use crate::{
    domain::identity::{ApiKey, Role, Tenant, User},
    error::{CoreError, CoreResult},
};

fn tenant(m: tenants::Model) -> Tenant {
    Tenant { id: m.id, name: m.name, created_at: m.created_at }
}

fn user(m: users::Model) -> CoreResult<User> {
    let role = m.role.parse::<Role>().map_err(|e| CoreError::internal(anyhow::anyhow!(e)))?;
    Ok(User { id: m.id, tenant_id: m.tenant_id, name: m.name, role, created_at: m.created_at })
}

fn api_key(m: api_keys::Model) -> ApiKey {
    ApiKey {
        id: m.id,
        user_id: m.user_id,
        name: m.name,
        prefix: m.prefix,
        read_only: m.read_only,
        created_at: m.created_at,
        revoked_at: m.revoked_at,
    }
}

pub async fn create_tenant(db: &Db, name: &str) -> CoreResult<Tenant> {
    let model = tenants::ActiveModel { id: Set(Uuid::new_v4()), name: Set(name.to_owned()), created_at: Set(Utc::now()) }
        .insert(db)
        .await
        .map_err(|e| match CoreError::from(e) {
            CoreError::Conflict(_) => CoreError::Conflict(format!("tenant '{name}' already exists")),
            other => other,
        })?;
    Ok(tenant(model))
}

pub async fn list_tenants(db: &Db) -> CoreResult<Vec<Tenant>> {
    let rows = tenants::Entity::find().order_by_asc(tenants::Column::Name).all(db).await?;
    Ok(rows.into_iter().map(tenant).collect())
}

pub async fn find_tenant_by_name(db: &Db, name: &str) -> CoreResult<Option<Tenant>> {
    if !super::storable(name) {
        return Ok(None);
    }
    let row = tenants::Entity::find().filter(tenants::Column::Name.eq(name)).one(db).await?;
    Ok(row.map(tenant))
}

pub async fn get_tenant(db: &Db, id: Uuid) -> CoreResult<Option<Tenant>> {
    Ok(tenants::Entity::find_by_id(id).one(db).await?.map(tenant))
}

pub async fn count_users(db: &Db) -> CoreResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(users::Entity::find().count(db).await?)
}

pub async fn create_user(db: &Db, tenant_id: Uuid, name: &str, password_hash: &str, role: Role) -> CoreResult<User> {
    let model = users::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        name: Set(name.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| match CoreError::from(e) {
        CoreError::Conflict(_) => CoreError::Conflict(format!("user '{name}' already exists")),
        other => other,
    })?;
    user(model)
}

/// A user with the stored password hash, for login.
pub async fn find_user_credentials(db: &Db, name: &str) -> CoreResult<Option<(User, String)>> {
    match users::Entity::find().filter(users::Column::Name.eq(name)).one(db).await? {
        Some(m) => {
            let hash = m.password_hash.clone();
            Ok(Some((user(m)?, hash)))
        }
        None => Ok(None),
    }
}

pub async fn get_user(db: &Db, id: Uuid) -> CoreResult<Option<User>> {
    users::Entity::find_by_id(id).one(db).await?.map(user).transpose()
}

pub async fn find_user_by_name(db: &Db, name: &str) -> CoreResult<Option<User>> {
    if !super::storable(name) {
        return Ok(None);
    }
    users::Entity::find().filter(users::Column::Name.eq(name)).one(db).await?.map(user).transpose()
}

/// Users of one tenant, or of every tenant when `tenant_id` is `None`.
pub async fn list_users(db: &Db, tenant_id: Option<Uuid>) -> CoreResult<Vec<User>> {
    let mut query = users::Entity::find().order_by_asc(users::Column::Name);
    if let Some(t) = tenant_id {
        query = query.filter(users::Column::TenantId.eq(t));
    }
    query.all(db).await?.into_iter().map(user).collect()
}

pub async fn set_password_hash(db: &Db, user_id: Uuid, hash: &str) -> CoreResult<()> {
    let found = users::Entity::find_by_id(user_id).one(db).await?.ok_or_else(|| CoreError::not_found("user", user_id.to_string()))?;
    let mut active: users::ActiveModel = found.into();
    active.password_hash = Set(hash.to_owned());
    active.update(db).await?;
    super::make_durable(db).await;
    Ok(())
}

pub async fn delete_user(db: &Db, user_id: Uuid) -> CoreResult<()> {
    api_keys::Entity::delete_many().filter(api_keys::Column::UserId.eq(user_id)).exec(db).await?;
    let res = users::Entity::delete_by_id(user_id).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(CoreError::not_found("user", user_id.to_string()));
    }
    super::make_durable(db).await;
    Ok(())
}

pub async fn create_api_key(db: &Db, user_id: Uuid, name: &str, prefix: &str, secret_hash: &str, read_only: bool) -> CoreResult<ApiKey> {
    let model = api_keys::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        prefix: Set(prefix.to_owned()),
        secret_hash: Set(secret_hash.to_owned()),
        read_only: Set(read_only),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(api_key(model))
}

/// The live (not revoked) key with this public prefix, with its secret hash.
pub async fn find_live_api_key(db: &Db, prefix: &str) -> CoreResult<Option<(ApiKey, String)>> {
    let row =
        api_keys::Entity::find().filter(api_keys::Column::Prefix.eq(prefix)).filter(api_keys::Column::RevokedAt.is_null()).one(db).await?;
    Ok(row.map(|m| {
        let hash = m.secret_hash.clone();
        (api_key(m), hash)
    }))
}

pub async fn list_api_keys(db: &Db, user_id: Uuid) -> CoreResult<Vec<ApiKey>> {
    let rows =
        api_keys::Entity::find().filter(api_keys::Column::UserId.eq(user_id)).order_by_asc(api_keys::Column::CreatedAt).all(db).await?;
    Ok(rows.into_iter().map(api_key).collect())
}

pub async fn get_api_key(db: &Db, id: Uuid) -> CoreResult<Option<ApiKey>> {
    Ok(api_keys::Entity::find_by_id(id).one(db).await?.map(api_key))
}

/// Marks a key revoked; it stops working at once on this server and within the Basic cache
/// lifetime on others.
pub async fn revoke_api_key(db: &Db, id: Uuid) -> CoreResult<ApiKey> {
    let found = api_keys::Entity::find_by_id(id).one(db).await?.ok_or_else(|| CoreError::not_found("api key", id.to_string()))?;
    let mut active: api_keys::ActiveModel = found.into();
    active.revoked_at = Set(Some(Utc::now()));
    let key = api_key(active.update(db).await?);
    super::make_durable(db).await;
    Ok(key)
}

pub async fn revoke_token(db: &Db, jti: &str, expires_at: DateTime<Utc>) -> CoreResult<()> {
    let row = revoked_tokens::ActiveModel { jti: Set(jti.to_owned()), expires_at: Set(expires_at) };
    match revoked_tokens::Entity::insert(row).exec(db).await {
        Ok(_) => {
            super::make_durable(db).await;
            Ok(())
        }
        Err(e) => match CoreError::from(e) {
            CoreError::Conflict(_) => Ok(()),
            other => Err(other),
        },
    }
}

pub async fn is_token_revoked(db: &Db, jti: &str) -> CoreResult<bool> {
    Ok(revoked_tokens::Entity::find_by_id(jti.to_owned()).one(db).await?.is_some())
}

/// Drops revocations of tokens that have expired anyway.
pub async fn purge_expired_revocations(db: &Db) -> CoreResult<u64> {
    let res = revoked_tokens::Entity::delete_many().filter(revoked_tokens::Column::ExpiresAt.lt(Utc::now())).exec(db).await?;
    Ok(res.rows_affected)
}
