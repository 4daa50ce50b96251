//! Tokens are HS256 JWTs signed with the server's key, carrying the user, tenant, role and a `jti`.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, CoreResult};

/// What a Coffer token says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Tenant id.
    pub tid: Uuid,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

/// A freshly issued token.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Signs and checks tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs: ttl_secs.min(i64::MAX as u64) as i64,
        }
    }

    /// Uses `configured` when set; otherwise reads `data_dir/jwt.key`, creating it (mode 0600) on first start.
    pub fn load_secret(configured: Option<&str>, data_dir: &Path) -> CoreResult<Vec<u8>> {
        if let Some(secret) = configured {
            if secret.len() < 32 {
                return Err(CoreError::BadRequest("jwt_secret must be at least 32 characters".into()));
            }
            return Ok(secret.as_bytes().to_vec());
        }
        let path = data_dir.join("jwt.key");
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= 32 => Ok(bytes),
            _ => {
                let secret = super::secrets::random_string(64).into_bytes();
                crate::crypto::write_private(&path, &secret)
                    .map_err(|e| CoreError::internal(anyhow::Error::new(e).context(format!("writing {}", path.display()))))?;
                Ok(secret)
            }
        }
    }

    pub fn issue(&self, user_id: Uuid, tenant_id: Uuid) -> CoreResult<IssuedToken> {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::seconds(self.ttl_secs);
        let claims = Claims {
            sub: user_id,
            tid: tenant_id,
            jti: Uuid::new_v4().simple().to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(CoreError::internal)?;
        Ok(IssuedToken {
            token,
            jti: claims.jti,
            issued_at: now,
            expires_at: Utc.timestamp_opt(claims.exp, 0).single().unwrap_or(expires_at),
        })
    }

    /// Checks signature and expiry (no leeway).
    pub fn decode(&self, token: &str) -> CoreResult<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "jti"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map(|data| data.claims).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => CoreError::Unauthorized("the token has expired".into()),
            _ => CoreError::Unauthorized("the token is not valid".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_decodes_to_its_claims() {
        let keys = TokenKeys::new(&[7u8; 32], 60);
        let (user, tenant) = (Uuid::new_v4(), Uuid::new_v4());
        let issued = keys.issue(user, tenant).unwrap();
        let claims = keys.decode(&issued.token).unwrap();
        assert_eq!((claims.sub, claims.tid, claims.jti), (user, tenant, issued.jti));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let issued = TokenKeys::new(&[1u8; 32], 60).issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        assert!(matches!(TokenKeys::new(&[2u8; 32], 60).decode(&issued.token), Err(CoreError::Unauthorized(_))));
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let keys = TokenKeys::new(&[3u8; 32], 0);
        let issued = keys.issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        match keys.decode(&issued.token) {
            Err(CoreError::Unauthorized(msg)) => assert!(msg.contains("expired")),
            other => panic!("expected expiry, got {other:?}"),
        }
    }
}
