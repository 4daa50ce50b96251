//! Agents: a machine's backup agent, enabling, deleting and its settings.

use poem_openapi::{Enum, Object};

use super::{EncryptionKey, NumericId};
use crate::api::common::lenient::Flag;

/// Whether an agent has been heard from lately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudBackupAgentStatus")]
pub enum AgentStatus {
    Online,
    Offline,
}

/// A machine's backup agent.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudBackupAgent", rename_all = "PascalCase")]
pub struct Agent {
    pub agent_version: String,
    pub architecture: String,
    /// Always `RaxCloudServer`.
    pub flavor: String,
    /// What the agent's complete backups hold ("35.3 MB").
    pub backup_vault_size: String,
    pub backup_container: String,
    pub cleanup_allowed: bool,
    pub datacenter: String,
    #[oai(rename = "IPAddress")]
    pub ip_address: String,
    pub is_disabled: bool,
    pub is_encrypted: bool,
    pub machine_agent_id: i64,
    pub machine_name: String,
    pub operating_system: String,
    pub operating_system_version: String,
    pub public_key: EncryptionKey,
    pub status: AgentStatus,
    #[oai(nullable)]
    pub time_of_last_successful_backup: Option<String>,
    pub use_service_net: bool,
    /// The region its backups are kept in.
    pub backup_data_center: String,
    pub use_failover_uri: bool,
    /// The id of the server the agent runs on (a UUID).
    pub host_server_id: String,
    /// When the agent last called in (Coffer's addition).
    #[oai(nullable)]
    pub last_seen: Option<String>,
}

/// `POST /agent/enable`.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupEnableAgent", rename_all = "PascalCase")]
pub struct EnableAgent {
    pub machine_agent_id: NumericId,
    /// `true` to let the agent run backups, `false` to stop it starting any.
    pub enable: Option<Flag>,
    /// The same as `Enable`, as some clients spell it.
    pub enabled: Option<Flag>,
}

/// `POST /agent/delete`.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupAgentRef", rename_all = "PascalCase")]
pub struct AgentRef {
    pub machine_agent_id: NumericId,
}

/// `POST /agent/{agentId}`: an agent's settings; a field left out stays as it is.
#[derive(Debug, Object)]
#[oai(rename = "CloudBackupAgentSettings", rename_all = "PascalCase")]
pub struct AgentSettings {
    /// The region to keep its backups in (one of the server's regions).
    #[oai(nullable)]
    pub backup_data_center: Option<String>,
    /// Reach the store over the internal network.
    pub use_service_net: Option<Flag>,
}
