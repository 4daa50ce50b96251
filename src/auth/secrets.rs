//! Argon2 hashing of passwords and API key secrets, and generation of random secrets.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::{CoreError, CoreResult};

/// Hashes a secret with Argon2id (PHC string). Runs on a blocking thread: it takes milliseconds.
pub async fn hash(secret: &str) -> CoreResult<String> {
    let secret = secret.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::internal(anyhow::anyhow!("argon2: {e}")))
    })
    .await
    .map_err(CoreError::internal)?
}

/// Checks a secret against a stored PHC hash; a malformed hash never matches.
pub async fn verify(secret: &str, phc: &str) -> bool {
    let (secret, phc) = (secret.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || match PasswordHash::new(&phc) {
        Ok(parsed) => Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

pub use crate::crypto::random_string;

/// A new API key: `ck_<prefix>_<secret>`. The prefix finds the key; only the secret's hash is kept.
pub struct NewApiKey {
    pub prefix: String,
    pub secret: String,
}

impl NewApiKey {
    pub fn generate() -> Self {
        Self { prefix: random_string(12).to_ascii_lowercase(), secret: random_string(32) }
    }

    /// The whole key as the user sends it.
    pub fn full(&self) -> String {
        format!("ck_{}_{}", self.prefix, self.secret)
    }
}

/// Splits a presented API key into (prefix, secret) when it has the key shape.
pub fn parse_api_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("ck_")?;
    let (prefix, secret) = rest.split_once('_')?;
    (!prefix.is_empty() && !secret.is_empty()).then_some((prefix, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_secret_verifies_and_a_wrong_one_does_not() {
        let phc = hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse", &phc).await);
        assert!(!verify("wrong horse", &phc).await);
        assert!(!verify("correct horse", "not a hash").await);
    }

    #[test]
    fn generated_keys_parse_back_into_their_parts() {
        let key = NewApiKey::generate();
        let full = key.full();
        assert_eq!(parse_api_key(&full), Some((key.prefix.as_str(), key.secret.as_str())));
        assert_eq!(parse_api_key("password"), None);
    }
}
