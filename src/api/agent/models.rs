//! The agent protocol's bodies. Agents and the server ship in one binary, so the bodies are read
//! strictly like the admin API's: a field the schema does not have is a 400 naming it.

use std::{borrow::Cow, collections::BTreeMap};

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::{
    operation::{Assignment, GroupProgress, TaskOutcome, TaskProgress, TaskSpec},
    state::State,
};

/// `POST /register`.
#[derive(Debug, Object)]
#[oai(rename = "AgentRegistration", deny_unknown_fields, example)]
pub struct AgentRegistration {
    /// The agent's name in the tenant; an agent registering again under its name keeps its id.
    pub name: String,
    /// The host it runs on, for people reading the agent list.
    #[oai(default)]
    pub hostname: String,
}

impl Example for AgentRegistration {
    fn example() -> Self {
        AgentRegistration { name: "db-host-1".into(), hostname: "db-host-1.example.net".into() }
    }
}

/// The agent's id and the token it uses from now on (shown once).
#[derive(Debug, Object)]
#[oai(rename = "AgentRegistered")]
pub struct AgentRegistered {
    pub agent_id: Uuid,
    pub name: String,
    pub token: String,
}

/// The answer to a progress report.
#[derive(Debug, Object)]
#[oai(rename = "AgentStop")]
pub struct AgentStop {
    /// The agent should stop the task (cancelled, or no longer its own).
    pub cancel: bool,
}

/// A task handed to an agent: everything it needs to run it without the database.
#[derive(Debug, Object)]
#[oai(rename = "AgentAssignment")]
pub struct AgentAssignment {
    pub task_id: Uuid,
    pub operation_id: Uuid,
    /// The destination whose store the task reads and writes (through `/agent/v1/stores/{id}`).
    pub destination_id: Uuid,
    pub spec: AgentTaskSpec,
    /// Bytes per second; unlimited when null.
    #[oai(nullable)]
    pub throttle_bytes_per_sec: Option<u64>,
    /// The store's encryption key (hex) when the store is encrypted.
    #[oai(nullable)]
    pub store_key: Option<String>,
    /// How long the claim holds without a progress report.
    pub lease_secs: u64,
    /// Which claim of the task this is; progress and the end are taken only from the latest.
    pub attempt: i32,
}

impl From<Assignment> for AgentAssignment {
    fn from(a: Assignment) -> Self {
        AgentAssignment {
            task_id: a.task_id,
            operation_id: a.operation_id,
            destination_id: a.destination_id,
            spec: AgentTaskSpec(a.spec),
            throttle_bytes_per_sec: a.throttle_bytes_per_sec,
            store_key: a.store_key,
            lease_secs: a.lease_secs,
            attempt: a.attempt,
        }
    }
}

/// What a task does, by `type`.
#[derive(Debug)]
pub struct AgentTaskSpec(pub TaskSpec);

/// The task kinds and what each holds besides `type`.
const TASK_KINDS: &[(&str, &str)] = &[
    ("backup_tree", "snapshot, node_key, root, selection, parent: back up a machine's files under root"),
    ("backup_cluster_node", "snapshot, node_key, data_dir, selection, parent: back up a cluster node's data directory"),
    ("backup_database", "snapshot, node_key, datastore, location: dump a database into the store"),
    ("restore_tree", "snapshot, node_key, target, include, exclude, overwrite: restore files under target"),
    (
        "restore_cluster_node",
        "snapshot, node_key, data_dir, selection, truncate, truncate_only, keyspace_renames, all_tables: restore table files into a node",
    ),
    ("restore_database", "snapshot, node_key, datastore, target: load a dump into a new database"),
    ("verify", "snapshot, destination: re-read and check every chunk of a snapshot"),
    ("delete_snapshots", "snapshots, destination: remove snapshots and collect garbage"),
    ("copy_snapshot", "snapshot, to: copy a snapshot into another destination"),
    ("list_tables", "data_dir: list a cluster node's keyspaces and tables"),
    ("archive_commitlogs", "snapshot, node_key, dir, destination, known: ship new commitlog segments"),
    ("configure_archiving", "dir, enabled, delay_secs: get a node ready for archiving, or note it off"),
    (
        "restore_commitlogs",
        "node_key, restore_dir, point_in_time, destination, segments ([snapshot, segment] pairs), tables: place archived segments for a replay",
    ),
];

impl Type for AgentTaskSpec {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "AgentTaskSpec".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| {
            let kinds = MetaSchema {
                description: Some("The kind of task; the other fields depend on it."),
                enum_items: TASK_KINDS.iter().map(|(k, _)| Value::from(*k)).collect(),
                ..MetaSchema::new("string")
            };
            static ABOUT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let about = ABOUT.get_or_init(|| {
                std::iter::once("What a task does: `type` names the kind and the other fields are that kind's.".to_owned())
                    .chain(TASK_KINDS.iter().map(|(kind, fields)| format!("`{kind}`: {fields}.")))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            MetaSchema {
                description: Some(about),
                required: vec!["type"],
                properties: vec![("type", MetaSchemaRef::Inline(Box::new(kinds)))],
                additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
                ..MetaSchema::new("object")
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for AgentTaskSpec {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        serde_json::from_value(value.unwrap_or_default()).map(AgentTaskSpec).map_err(|e| ParseError::custom(e.to_string()))
    }
}

impl ToJSON for AgentTaskSpec {
    fn to_json(&self) -> Option<Value> {
        serde_json::to_value(&self.0).ok()
    }
}

/// A running task's progress.
#[derive(Debug, Object)]
#[oai(rename = "AgentTaskProgress", deny_unknown_fields, example)]
pub struct AgentTaskProgress {
    pub files_total: i64,
    pub files_done: i64,
    pub bytes_total: i64,
    pub bytes_done: i64,
    /// A cluster node's counts per `keyspace.table`.
    #[oai(default, skip_serializing_if_is_empty)]
    pub groups: BTreeMap<String, AgentGroupProgress>,
}

impl Example for AgentTaskProgress {
    fn example() -> Self {
        let table = AgentGroupProgress { files_total: 8, files_done: 3, bytes_total: 1_048_576 };
        AgentTaskProgress {
            files_total: 8,
            files_done: 3,
            bytes_total: 1_048_576,
            bytes_done: 393_216,
            groups: BTreeMap::from([("Keyspace1.Standard1".to_owned(), table)]),
        }
    }
}

/// The progress of one table's files.
#[derive(Debug, Object)]
#[oai(rename = "AgentGroupProgress", deny_unknown_fields)]
pub struct AgentGroupProgress {
    pub files_total: i64,
    pub files_done: i64,
    pub bytes_total: i64,
}

impl From<AgentTaskProgress> for TaskProgress {
    fn from(p: AgentTaskProgress) -> Self {
        TaskProgress {
            files_total: p.files_total,
            files_done: p.files_done,
            bytes_total: p.bytes_total,
            bytes_done: p.bytes_done,
            groups: p
                .groups
                .into_iter()
                .map(|(k, g)| (k, GroupProgress { files_total: g.files_total, files_done: g.files_done, bytes_total: g.bytes_total }))
                .collect(),
        }
    }
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "AgentTaskState", rename_all = "snake_case")]
pub enum AgentTaskState {
    Queued,
    Running,
    /// Done; the data is verified.
    Succeeded,
    /// Done, some items skipped.
    SucceededWithErrors,
    /// No usable result.
    Failed,
    Cancelling,
    /// Stopped on request.
    Cancelled,
    Missed,
    Skipped,
    DeleteFailed,
}

impl From<AgentTaskState> for State {
    fn from(s: AgentTaskState) -> Self {
        match s {
            AgentTaskState::Queued => State::Queued,
            AgentTaskState::Running => State::Running,
            AgentTaskState::Succeeded => State::Succeeded,
            AgentTaskState::SucceededWithErrors => State::SucceededWithErrors,
            AgentTaskState::Failed => State::Failed,
            AgentTaskState::Cancelling => State::Cancelling,
            AgentTaskState::Cancelled => State::Cancelled,
            AgentTaskState::Missed => State::Missed,
            AgentTaskState::Skipped => State::Skipped,
            AgentTaskState::DeleteFailed => State::DeleteFailed,
        }
    }
}

/// `POST /agents/{id}/tasks/{task}/finish`.
#[derive(Debug, Object)]
#[oai(rename = "AgentTaskOutcome", deny_unknown_fields, example)]
pub struct AgentTaskOutcome {
    pub state: AgentTaskState,
    /// Why it failed.
    #[oai(nullable)]
    pub error: Option<String>,
    pub progress: AgentTaskProgress,
    /// Counts and facts: files, bytes, stored bytes, per-table detail, skipped items.
    #[oai(default)]
    pub result: Value,
}

impl Example for AgentTaskOutcome {
    fn example() -> Self {
        AgentTaskOutcome {
            state: AgentTaskState::Succeeded,
            error: None,
            progress: AgentTaskProgress::example(),
            result: serde_json::json!({ "files": 8, "bytes": 1_048_576, "stored_bytes": 262_144 }),
        }
    }
}

impl From<AgentTaskOutcome> for TaskOutcome {
    fn from(o: AgentTaskOutcome) -> Self {
        TaskOutcome { state: o.state.into(), error: o.error, progress: o.progress.into(), result: o.result }
    }
}
