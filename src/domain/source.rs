//! What can be backed up: clusters of nodes, database instances, HA groups of instances, and
//! machines (an agent's file system).

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Cluster,
    Instance,
    HaGroup,
    Machine,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Cluster => "cluster",
            SourceKind::Instance => "instance",
            SourceKind::HaGroup => "ha_group",
            SourceKind::Machine => "machine",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [SourceKind::Cluster, SourceKind::Instance, SourceKind::HaGroup, SourceKind::Machine]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown source kind '{s}'"))
    }
}

/// A database instance's description (Cloud Databases shows these fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// `sqlite`, `postgresql` or `mysql`.
    pub datastore: String,
    #[serde(default)]
    pub datastore_version: String,
    #[serde(default)]
    pub flavor: String,
    #[serde(default)]
    pub flavor_ram_mb: u32,
    #[serde(default)]
    pub volume_gb: u32,
    /// The instance this one was restored from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<Uuid>,
    /// Coffer created the database (empty or restored) and drops it when the instance is deleted.
    #[serde(default)]
    pub managed: bool,
}

/// Anything backed up, with its kind-specific description.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: SourceKind,
    pub name: String,
    /// Kind-specific settings (InstanceConfig for instances, members for HA groups, ...).
    pub config: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A worker-side place where a source's data lives: a cluster node, an instance host, a machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: Uuid,
    pub source_id: Uuid,
    pub name: String,
    pub agent_id: Uuid,
    /// The data directory (cluster node), the root directory (machine), or the database
    /// location (instance: a file path or connection URL; kept encrypted at rest).
    pub location: String,
    /// Where archived commit logs are kept (cluster nodes), for point-in-time restore.
    pub commitlog_dir: Option<String>,
    pub datacenter: Option<String>,
    pub rack: Option<String>,
    pub position: i32,
}

/// How a node is described when a source is registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    /// Agent name; `local` is the server's own agent.
    #[serde(default = "local_agent")]
    pub agent: String,
    pub location: String,
    #[serde(default)]
    pub commitlog_dir: Option<String>,
    #[serde(default)]
    pub datacenter: Option<String>,
    #[serde(default)]
    pub rack: Option<String>,
}

pub fn local_agent() -> String {
    crate::domain::agent::LOCAL_AGENT.to_owned()
}
