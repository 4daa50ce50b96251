//! Sealing secrets at rest (database connection strings, destination keys) with a key from
//! configuration, or one generated into the data directory on first start.

use base64::Engine;
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit},
};

use rand::{Rng, distr::Alphanumeric};

use crate::error::{CoreError, CoreResult};

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "sealed:v1:";
const PREFIX: &str = SEALED_PREFIX;

/// Seals and opens short secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

/// Derives a 32-byte key from a passphrase or stored key material.
pub fn derive_key(context: &str, material: &[u8]) -> [u8; 32] {
    blake3::derive_key(context, material)
}

impl SecretBox {
    pub fn new(key: [u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    /// Uses `configured` when set; otherwise `data_dir/secret.key`, created (0600) on first start.
    pub fn load(configured: Option<&str>, data_dir: &std::path::Path) -> CoreResult<Self> {
        let material = match configured {
            Some(k) => k.as_bytes().to_vec(),
            None => {
                let path = data_dir.join("secret.key");
                match std::fs::read(&path) {
                    Ok(bytes) if bytes.len() >= 32 => bytes,
                    _ => {
                        let fresh = random_string(64).into_bytes();
                        write_private(&path, &fresh)
                            .map_err(|e| CoreError::internal(anyhow::Error::new(e).context(format!("writing {}", path.display()))))?;
                        fresh
                    }
                }
            }
        };
        Ok(Self::from_material(&material))
    }

    /// The box of configured key material (`secret_key`, or what `secret.key` holds).
    pub fn from_material(material: &[u8]) -> Self {
        Self::new(derive_key("coffer 2026-11-23 secrets at rest", material))
    }

    /// Opens with this box and seals again with `next`; for moving to a new key.
    pub fn reseal(&self, stored: &str, next: &SecretBox) -> CoreResult<String> {
        Ok(next.seal(&self.open(stored)?))
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce_bytes: [u8; 24] = rand::random();
        let mut out = nonce_bytes.to_vec();
        out.extend(self.cipher.encrypt(&XNonce::from(nonce_bytes), plain.as_bytes()).expect("in-memory encryption"));
        format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
    }

    /// Opens a sealed value; values that were never sealed pass through unchanged.
    pub fn open(&self, stored: &str) -> CoreResult<String> {
        let Some(body) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| CoreError::internal(anyhow::anyhow!("sealed value is not base64")))?;
        if raw.len() < 24 {
            return Err(CoreError::internal(anyhow::anyhow!("sealed value too short")));
        }
        let (nonce, ct) = raw.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| CoreError::internal(anyhow::anyhow!("bad nonce")))?;
        let plain = self
            .cipher
            .decrypt(&nonce, ct)
            .map_err(|_| CoreError::internal(anyhow::anyhow!("a sealed secret does not open with the configured secret_key")))?;
        String::from_utf8(plain).map_err(|_| CoreError::internal(anyhow::anyhow!("sealed value is not text")))
    }
}

pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

/// A random alphanumeric string of `len` characters from the OS generator.
pub fn random_string(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_and_does_not_show_in_clear() {
        let b = SecretBox::new([3; 32]);
        let sealed = b.seal("postgres://u:hunter2@db/x");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(b.open(&sealed).unwrap(), "postgres://u:hunter2@db/x");
        assert!(SecretBox::new([4; 32]).open(&sealed).is_err());
        assert_eq!(b.open("plain").unwrap(), "plain");
    }
}
