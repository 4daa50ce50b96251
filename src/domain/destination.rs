//! Destinations: where backup data is stored. `server` is the server's own data directory
//! (OpsCenter's `OPSC_ON_SERVER`); `localfs` a filesystem path; `s3` any S3-compatible service;
//! `azure` Azure Blob storage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The non-secret settings of a destination; the secret (S3 secret key, Azure storage key) is
/// kept sealed beside it and never shown in full.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationConfig {
    /// localfs: the directory; s3: `bucket[/prefix]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An S3-compatible or Azure endpoint URL (emulators, other providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// S3: address buckets by path rather than by host name.
    #[serde(default)]
    pub path_style: bool,
    /// S3: the access key id (shown in full); none uses ambient credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// S3: ask the service to encrypt objects at rest.
    #[serde(default)]
    pub server_side_encryption: bool,
    /// Azure: the storage account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subfolder: Option<String>,
    /// Azure: talk to the Azurite emulator.
    #[serde(default)]
    pub use_emulator: bool,
    /// Bytes per second for transfers to and from this destination; 0 = unlimited.
    #[serde(default)]
    pub throttle_bytes_per_second: u64,
    /// How long backups kept here live, whatever plan made them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<super::plan::Retention>,
    /// The data centres whose nodes reach this destination (OpsCenter's `validation_dc_list`):
    /// only their nodes are backed up to it or restored from it. Empty: every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_dc_list: Vec<String>,
}

impl DestinationConfig {
    /// Whether two destinations of `kind` name the same place (directory, bucket and prefix,
    /// container and subfolder, at the same endpoint), whatever their other settings.
    pub fn same_location(&self, other: &Self, kind: &str) -> bool {
        let trimmed = |s: &Option<String>| s.as_deref().map(|s| s.trim().trim_end_matches('/').to_owned()).unwrap_or_default();
        let endpoint = |c: &Self| trimmed(&c.endpoint);
        match kind {
            "localfs" | "s3" => trimmed(&self.path) == trimmed(&other.path) && endpoint(self) == endpoint(other),
            "azure" => {
                trimmed(&self.storage_account_name) == trimmed(&other.storage_account_name)
                    && trimmed(&self.container_name) == trimmed(&other.container_name)
                    && trimmed(&self.subfolder).trim_start_matches('/') == trimmed(&other.subfolder).trim_start_matches('/')
                    && endpoint(self) == endpoint(other)
                    && self.use_emulator == other.use_emulator
            }
            _ => false,
        }
    }

    /// Whether a node of data centre `dc` may use this destination.
    pub fn serves_dc(&self, dc: Option<&str>) -> bool {
        self.validation_dc_list.is_empty() || dc.is_some_and(|dc| self.validation_dc_list.iter().any(|d| d == dc))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Destination {
    pub id: Uuid,
    /// None for the server's own destination, shared by all tenants (each has its own repository).
    pub tenant_id: Option<Uuid>,
    pub name: String,
    /// `server`, `localfs`, `s3` or `azure`.
    pub kind: String,
    pub config: DestinationConfig,
    /// Whether a secret is stored (never its value).
    pub has_secret: bool,
    pub created_at: DateTime<Utc>,
}

/// The destination kinds, with the names clients also use for them.
pub fn normalize_kind(kind: &str) -> Option<&'static str> {
    match kind.to_ascii_lowercase().as_str() {
        "server" | "opsc_on_server" | "on_server" => Some("server"),
        "localfs" | "local" | "fs" => Some("localfs"),
        "s3" | "aws" => Some("s3"),
        "azure" | "azureblob" | "azure_blob" => Some("azure"),
        _ => None,
    }
}

/// A secret shown as its first four characters and stars.
pub fn redact_secret(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}{}", "*".repeat(12))
}
