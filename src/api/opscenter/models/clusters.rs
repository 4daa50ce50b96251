//! Clusters (`cluster-configs`, nodes, keyspaces), job schedules and sessions.

use std::collections::BTreeMap;

use poem_openapi::{Enum, Object, types::Example};
use serde_json::json;

use super::lenient::{DestinationSet, Names, Numeric, map_of};

/// A node of a cluster being registered.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterNodeSpec", skip_serializing_if_is_none)]
pub struct NodeSpecBody {
    /// The node's name or address, as OpsCenter shows it.
    pub name: String,
    /// The agent that serves it; the server's own (`local`) when absent.
    pub agent: Option<String>,
    /// Its data directory (`<data_dir>/<keyspace>/<table>-<id>/...`).
    pub location: String,
    /// Where its closed commitlog segments appear.
    pub commitlog_dir: Option<String>,
    pub datacenter: Option<String>,
    pub rack: Option<String>,
}

/// Nodes under `coffer`.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "OpsCenterCofferNodes", skip_serializing_if_is_none)]
pub struct CofferNodes {
    pub nodes: Option<Vec<NodeSpecBody>>,
}

/// The `cassandra` section of a cluster configuration.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "OpsCenterCassandraSection", skip_serializing_if_is_none)]
pub struct CassandraSection {
    pub cluster_name: Option<String>,
    /// The nodes by name; each name is also the agent that serves it.
    pub seed_hosts: Option<Names>,
    /// With `seed_hosts`: every node's data directory.
    pub data_dir: Option<String>,
}

/// `POST /cluster-configs`: a cluster's id and nodes.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterNewCluster", skip_serializing_if_is_none)]
pub struct NewCluster {
    /// The cluster's id (also `name`, `id` or `cassandra.cluster_name`).
    pub cluster_name: Option<String>,
    pub name: Option<String>,
    pub id: Option<String>,
    /// The nodes (also under `coffer.nodes`).
    pub nodes: Option<Vec<NodeSpecBody>>,
    pub coffer: Option<CofferNodes>,
    pub cassandra: Option<CassandraSection>,
    /// With `cassandra.seed_hosts`: every node's data directory.
    pub data_dir: Option<String>,
}

impl Example for NewCluster {
    fn example() -> Self {
        let node = |n: u8| NodeSpecBody {
            name: format!("10.0.0.{n}"),
            agent: Some(format!("agent{n}")),
            location: "/var/lib/cassandra/data".into(),
            commitlog_dir: Some("/var/lib/cassandra/commitlog_archive".into()),
            datacenter: Some("dc1".into()),
            rack: None,
        };
        NewCluster { cluster_name: Some("Test_Cluster".into()), nodes: Some(vec![node(1), node(2)]), ..Default::default() }
    }
}

/// `agents` of the `cassandra` section.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterAgentsSection")]
pub struct AgentsSection {
    pub use_ssl: String,
}

/// The `cassandra` section as shown.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterCassandraView")]
pub struct CassandraView {
    /// The nodes, comma-separated.
    pub seed_hosts: String,
    pub agents: AgentsSection,
}

/// The `jmx` section.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterJmxSection")]
pub struct JmxSection {
    pub port: u16,
}

/// A node as its cluster configuration shows it.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterNodeView")]
pub struct NodeView {
    pub name: String,
    pub agent: String,
    pub location: String,
    #[oai(nullable)]
    pub datacenter: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub commitlog_dir: Option<String>,
}

/// Coffer's own section: the cluster's id and nodes.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterCofferSection")]
pub struct CofferSection {
    pub id: String,
    pub nodes: Vec<NodeView>,
}

/// An empty section.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "OpsCenterEmpty")]
pub struct Empty {}

/// A cluster's configuration: `{section: {property: value}}`.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterClusterConfig")]
pub struct ClusterConfig {
    pub cassandra: CassandraView,
    pub cassandra_metrics: Empty,
    pub jmx: JmxSection,
    pub coffer: CofferSection,
}

map_of!(
    ClusterConfigs,
    "OpsCenterClusterConfigs",
    ClusterConfig,
    "Cluster id to its configuration",
    json!({ "Test_Cluster": { "cassandra": { "agents": { "use_ssl": "false" }, "seed_hosts": "localhost" }, "cassandra_metrics": {}, "jmx": { "port": 7199 },
        "coffer": { "id": "0b7f3c52-5bd4-4b3e-a1b5-0c6c8f5d3a10", "nodes": [{ "name": "localhost", "agent": "local", "location": "/var/lib/cassandra/data", "datacenter": "dc1" }] } } })
);

/// Whether a node's agent answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "OpsCenterAgentStatus")]
pub enum AgentStatus {
    Up,
    Down,
}

/// A node of a cluster (`GET /{cluster_id}/nodes`).
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterNode")]
pub struct Node {
    pub node_ip: String,
    pub node_name: String,
    /// Its data centre (`dc1` when not registered).
    pub dc: String,
    pub agent: String,
    pub agent_status: AgentStatus,
    pub data_dir: String,
}

/// A keyspace's tables.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterKeyspace")]
pub struct Keyspace {
    pub column_families: Vec<String>,
}

map_of!(
    Keyspaces,
    "OpsCenterKeyspaces",
    Keyspace,
    "Keyspace name to its tables",
    json!({ "Keyspace1": { "column_families": ["dates", "users"] } })
);

/// What a job runs.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "OpsCenterJobParams", skip_serializing_if_is_none)]
pub struct JobParamsBody {
    /// `backup` (required; other job types are refused).
    #[oai(rename = "type")]
    pub kind: Option<String>,
    /// The keyspaces; every keyspace when empty.
    pub keyspaces: Option<Names>,
    /// Backups older than this are removed; kept for ever when absent or 0.
    pub cleanup_age: Option<Numeric>,
    /// minutes, hours, days (default) or weeks.
    pub cleanup_age_unit: Option<String>,
    /// Where the backups go; the server when empty.
    pub destinations: Option<DestinationSet>,
}

/// `POST /{cluster_id}/job-schedules` and `PUT .../{id}`: a recurring (or one-shot) backup.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterJobScheduleBody", skip_serializing_if_is_none)]
pub struct JobScheduleBody {
    /// `YYYY-MM-DD`; today when absent (tomorrow when `first_run_time` has passed).
    pub first_run_date: Option<String>,
    /// `hh:mm:ss`; midnight when absent.
    pub first_run_time: Option<String>,
    /// A tz database name (`GMT`, `US/Eastern`, `Europe/Berlin`); GMT when absent.
    pub timezone: Option<String>,
    /// Units between runs; -1 (the default) runs once.
    pub interval: Option<Numeric>,
    /// minutes, hours, days (default) or weeks; `null` with interval -1.
    #[oai(nullable)]
    pub interval_unit: Option<String>,
    pub job_params: Option<JobParamsBody>,
}

impl Example for JobScheduleBody {
    fn example() -> Self {
        JobScheduleBody {
            first_run_date: Some("2016-04-27".into()),
            first_run_time: Some("15:45:00".into()),
            timezone: Some("GMT".into()),
            interval: Some(Numeric(Some(5.0))),
            interval_unit: Some("minutes".into()),
            job_params: Some(JobParamsBody {
                kind: Some("backup".into()),
                keyspaces: Some(Names(vec!["foobar".into()])),
                cleanup_age: Some(Numeric(Some(30.0))),
                cleanup_age_unit: Some("days".into()),
                destinations: Some(DestinationSet::default()),
            }),
        }
    }
}

/// A unit of time of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "OpsCenterTimeUnit")]
pub enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
}

/// The kind of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "OpsCenterJobType")]
pub enum JobType {
    Backup,
}

/// What a job runs, as shown.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterJobParamsView")]
pub struct JobParamsView {
    #[oai(rename = "type")]
    pub kind: JobType,
    pub keyspaces: Vec<String>,
    /// 0 when backups are kept for ever.
    pub cleanup_age: u64,
    pub cleanup_age_unit: TimeUnit,
    /// Destination id to `{}`.
    pub destinations: BTreeMap<String, Empty>,
}

/// A job schedule.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterJobSchedule")]
pub struct JobSchedule {
    pub id: String,
    pub first_run_date: String,
    pub first_run_time: String,
    pub timezone: String,
    /// -1 for a single run.
    pub interval: i64,
    /// `null` for a single run.
    #[oai(nullable)]
    pub interval_unit: Option<TimeUnit>,
    pub job_params: JobParamsView,
    /// `YYYY-MM-DD hh:mm:ss TZ`; `null` when no run is due.
    #[oai(nullable)]
    pub next_run: Option<String>,
    /// `null` until it first runs.
    #[oai(nullable)]
    pub last_run: Option<String>,
}

/// A removed job schedule.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterDeletedJobSchedule")]
pub struct DeletedJobSchedule {
    pub id: String,
    pub deleted: bool,
}
