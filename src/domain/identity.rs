//! Tenants, users, roles and the authenticated principal.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who owns things; every query is scoped by a tenant. Its `name` is the account id dialects show in paths.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A person or script that logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, in every tenant, including user management.
    Admin,
    /// Read and write inside its own tenant.
    Operator,
    /// Read only inside its own tenant.
    Reader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Reader => "reader",
        }
    }

    /// Whether this role may change data.
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Reader)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "reader" => Ok(Role::Reader),
            other => Err(format!("unknown role '{other}' (expected admin, operator or reader)")),
        }
    }
}

/// An API key as listed; the secret itself is shown once at creation and only its hash is kept.
#[derive(Clone, Debug, Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// Public part of the key, shown in listings so a key can be recognised.
    pub prefix: String,
    /// A read-only key only allows GET, whatever the user's role.
    pub read_only: bool,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How a request proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    BasicPassword,
    BasicApiKey,
    Token,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub user_name: String,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub role: Role,
    pub credential: CredentialKind,
    /// A read-only API key limits even an operator or admin to reads.
    pub read_only: bool,
    /// The token's id and expiry when the credential was a token.
    pub token: Option<TokenInfo>,
    /// Set when the credential is an agent's own key (issued at registration): it speaks the
    /// agent protocol as that agent and nothing else.
    pub agent: Option<String>,
}

/// The parts of an issued token that requests and logout need.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    /// Whether this caller may change data.
    pub fn can_write(&self) -> bool {
        self.role.can_write() && !self.read_only
    }

    /// Whether `account`, as a path names it (the tenant's name or id), is this caller's tenant.
    pub fn owns_account(&self, account: &str) -> bool {
        account == self.tenant_name || account == self.tenant_id.to_string()
    }

    /// Whether this caller may see objects of `tenant_id`.
    pub fn can_see_tenant(&self, tenant_id: Uuid) -> bool {
        self.role == Role::Admin || self.tenant_id == tenant_id
    }
}

/// Checks a tenant name: it becomes a URL path segment, so it must be short and URL-safe,
/// and it must not be one of the words the routes reserve.
pub fn validate_tenant_name(name: &str) -> Result<(), String> {
    const RESERVED: &[&str] = &[
        "backups",
        "instances",
        "ha",
        "flavors",
        "backup",
        "agent",
        "user",
        "backup-configuration",
        "restore",
        "system",
        "activity",
        "cleanup",
        "v1.0",
        "v2.0",
        "v3",
        "admin",
        "provisioning",
        "login",
        "logout",
        "docs",
        "openapi",
        "openapi.json",
        "healthz",
        "readyz",
        "metrics",
    ];
    if name.is_empty() || name.len() > 64 {
        return Err("tenant name must be 1 to 64 characters".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err("tenant name may only contain letters, digits, '-', '_' and '.'".into());
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("'{name}' is a reserved word and cannot name a tenant"));
    }
    Ok(())
}

/// Checks a user name: 1 to 64 printable characters without ':' (Basic auth splits on it).
pub fn validate_user_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("user name must be 1 to 64 characters".into());
    }
    if name.contains(':') || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("user name may not contain ':', spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_cannot_write_and_operator_can() {
        assert!(!Role::Reader.can_write());
        assert!(Role::Operator.can_write());
        assert!(Role::Admin.can_write());
    }

    #[test]
    fn reserved_words_cannot_name_a_tenant() {
        assert!(validate_tenant_name("backups").is_err());
        assert!(validate_tenant_name("Backup").is_err());
        assert!(validate_tenant_name("1234").is_ok());
        assert!(validate_tenant_name("a/b").is_err());
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!("OPERATOR".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
    }
}
