//! Agents: workers beside the data that read, write and upload. The server has one in-process
//! agent named `local`; `coffer agent` runs others on other machines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The name of the server's in-process agent.
pub const LOCAL_AGENT: &str = "local";
/// An agent not heard from for this long is considered down.
pub const AGENT_DOWN_AFTER_SECS: i64 = 30;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub hostname: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Agent {
    pub fn is_local(&self) -> bool {
        self.name == LOCAL_AGENT
    }

    /// Whether the agent answered recently (the local agent always counts as up).
    pub fn is_up(&self, now: DateTime<Utc>) -> bool {
        self.is_local() || self.last_seen_at.is_some_and(|t| (now - t).num_seconds() < AGENT_DOWN_AFTER_SECS)
    }
}
