//! Agents: workers beside the data that read, write and upload. The server has one in-process
//! agent named `local`; `coffer agent` runs others on other machines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The name of the server's in-process agent.
pub const LOCAL_AGENT: &str = "local";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub hostname: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub settings: AgentSettings,
}

/// What a client may change about an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// A disabled agent starts no backups (scheduled runs are recorded as missed).
    #[serde(default)]
    pub disabled: bool,
    /// Removed by its user: hidden until the agent registers again.
    #[serde(default)]
    pub deleted: bool,
    /// Dialect preferences shown back as given (Cloud Backup's backup region, ServiceNet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_region: Option<String>,
    #[serde(default)]
    pub use_service_net: bool,
}

impl Agent {
    pub fn is_local(&self) -> bool {
        self.name == LOCAL_AGENT
    }

    /// Whether the agent was heard from within `down_after_secs` (the local agent is always up).
    pub fn is_up(&self, now: DateTime<Utc>, down_after_secs: u64) -> bool {
        self.is_local() || self.last_seen_at.is_some_and(|t| (now - t).num_milliseconds() < (down_after_secs as i64).saturating_mul(1000))
    }
}
