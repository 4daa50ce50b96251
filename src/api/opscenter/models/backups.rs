//! Backups: one-time runs, syncs, the listing by tag, the activity history, restores and graphs.

use std::collections::BTreeMap;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON},
};
use serde_json::{Value, json};

use super::{
    destinations::DestinationView,
    lenient::{DestinationSet, Names, Numeric, RequestId, Truthy, component, map_of},
    requests::RequestStatus,
};

/// `POST /{cluster_id}/backups/run`.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterRunBackup", skip_serializing_if_is_none)]
pub struct RunBackup {
    /// The keyspaces to back up; every keyspace when absent or empty.
    pub keyspaces: Option<Names>,
    /// Where the backup goes: the server alone when absent; with other destinations the backup is
    /// copied there too. Several destinations may be named.
    pub destinations: Option<DestinationSet>,
}

impl Example for RunBackup {
    fn example() -> Self {
        RunBackup {
            keyspaces: Some(Names(vec!["Keyspace1".into(), "Keyspace2".into()])),
            destinations: Some(DestinationSet(vec!["fe85800f3f4043a88fbe76fc45b22b19".into()])),
        }
    }
}

/// `POST /{cluster_id}/backups/sync`.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterSyncBackup", skip_serializing_if_is_none)]
pub struct SyncBackup {
    /// The backup to copy, by its tag (required).
    pub tag: Option<String>,
    /// Where to copy it; one request is started per destination.
    pub destinations: Option<DestinationSet>,
}

impl Example for SyncBackup {
    fn example() -> Self {
        SyncBackup {
            tag: Some("opscenter_adhoc_2017-07-28-20-04-40-UTC".into()),
            destinations: Some(DestinationSet(vec!["fe85800f3f4043a88fbe76fc45b22b19".into()])),
        }
    }
}

/// What a sync answers: the request id as a bare string for one destination (as the seed shows);
/// for several destinations, the list of every request id, one per destination.
#[derive(Debug)]
pub enum SyncAnswer {
    One(RequestId),
    Several(Vec<RequestId>),
}

component!(SyncAnswer, "OpsCenterSyncAnswer", |registry| {
    RequestId::register(registry);
    MetaSchema {
        description: Some(
            "The request id (a bare string) for one destination; the list of every request id for several, one per destination",
        ),
        any_of: vec![RequestId::schema_ref(), Vec::<RequestId>::schema_ref()],
        example: Some(json!("fee2232c-48ac-11e2-b1b9-e0b9a54a6d93")),
        ..MetaSchema::ANY
    }
});

impl ToJSON for SyncAnswer {
    fn to_json(&self) -> Option<Value> {
        match self {
            SyncAnswer::One(id) => id.to_json(),
            SyncAnswer::Several(ids) => ids.to_json(),
        }
    }
}

impl ParseFromJSON for SyncAnswer {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Array(ids)) => {
                Vec::parse_from_json(Some(Value::Array(ids))).map(SyncAnswer::Several).map_err(ParseError::propagate)
            }
            other => RequestId::parse_from_json(other).map(SyncAnswer::One).map_err(ParseError::propagate),
        }
    }
}

/// Options of one keyspace in a restore of all keyspaces (`keyspaces: {<name>: {...}}`).
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "OpsCenterKeyspaceRestore", skip_serializing_if_is_none)]
pub struct KeyspaceRestore {
    /// Tables of this keyspace to restore; all of them when absent.
    #[oai(rename = "column-families")]
    pub column_families: Option<Names>,
    /// The same as `column-families`.
    #[oai(rename = "column_families")]
    pub column_families_alias: Option<Names>,
    /// The same as `column-families`.
    pub tables: Option<Names>,
    /// Empty the restored tables first, so only the backup's files remain. Default false.
    pub truncate: Option<Truthy>,
    /// This keyspace's own `use_sstableloader` (see the body's).
    pub use_sstableloader: Option<Truthy>,
}

/// The keyspaces a restore of all keyspaces names: `{<keyspace>: {options}}` as the seed writes
/// it (`null` options are none), or a list of names.
#[derive(Debug)]
pub enum KeyspaceChoice {
    Options(BTreeMap<String, Option<KeyspaceRestore>>),
    Names(Names),
}

component!(KeyspaceChoice, "OpsCenterKeyspaceChoice", |registry| {
    KeyspaceRestore::register(registry);
    Names::register(registry);
    let options = MetaSchema { additional_properties: Some(Box::new(KeyspaceRestore::schema_ref())), ..MetaSchema::new("object") };
    MetaSchema {
        description: Some("Keyspace name to its options ({} or null for none), or a list of keyspace names"),
        any_of: vec![MetaSchemaRef::Inline(Box::new(options)), Names::schema_ref()],
        example: Some(
            json!({ "Keyspace1": { "column-families": ["users", "dates"], "truncate": true }, "OpsCenter": { "truncate": false } }),
        ),
        ..MetaSchema::ANY
    }
});

impl ToJSON for KeyspaceChoice {
    fn to_json(&self) -> Option<Value> {
        match self {
            KeyspaceChoice::Options(map) => map.to_json(),
            KeyspaceChoice::Names(names) => names.to_json(),
        }
    }
}

impl ParseFromJSON for KeyspaceChoice {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Object(map)) => {
                let mut out = BTreeMap::new();
                for (ks, options) in map {
                    let options = Option::<KeyspaceRestore>::parse_from_json(Some(options))
                        .map_err(|e| ParseError::custom(format!("the options of keyspace {ks}: {}", e.into_message())))?;
                    out.insert(ks, options);
                }
                Ok(KeyspaceChoice::Options(out))
            }
            other => Names::parse_from_json(other).map(KeyspaceChoice::Names).map_err(ParseError::propagate),
        }
    }
}

/// A restore's options (`POST /{cluster_id}/backups/restore/{tag}`, `.../{ksname}` and
/// `.../{ksname}/{cfname}`). Keyspace options (`column-families`, `truncate`,
/// `use_sstableloader`) sit under `keyspaces` for a restore of all keyspaces and at the top for
/// the keyspace and table forms; at the top of a restore of all keyspaces, `truncate` and
/// `use_sstableloader` are every keyspace's default.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterRestore", skip_serializing_if_is_none)]
pub struct Restore {
    /// The streaming limit in MB per second; no limit when absent or 0.
    pub throttle: Option<Numeric>,
    /// Nodes (by name or address) left out of the restore.
    #[oai(rename = "excluded-nodes")]
    pub excluded_nodes: Option<Names>,
    /// The same as `excluded-nodes`.
    #[oai(rename = "excluded_nodes")]
    pub excluded_nodes_alias: Option<Names>,
    /// Go on when some nodes' agents are down: those nodes are skipped instead of the restore
    /// failing.
    pub force: Option<Truthy>,
    /// Restore even when the live table was made again since the backup (its directory has
    /// another table id, so the backup's files would not be read by it). Without it such a
    /// restore fails before it writes anything, naming the table.
    pub force_schema: Option<Truthy>,
    /// The destination to read the backup from; the server's own (OPSC_ON_SERVER) when absent
    /// or empty.
    #[oai(nullable)]
    pub destination: Option<String>,
    /// Restore of all keyspaces: which keyspaces, with their options; all when absent.
    pub keyspaces: Option<KeyspaceChoice>,
    /// Keyspace and table forms: the tables to restore (the table form restores the one in its path).
    #[oai(rename = "column-families")]
    pub column_families: Option<Names>,
    /// The same as `column-families`.
    #[oai(rename = "column_families")]
    pub column_families_alias: Option<Names>,
    /// Empty the restored tables first. Default false.
    pub truncate: Option<Truthy>,
    /// Default true: the backup's files are loaded beside the live ones (what sstableloader
    /// does). `false` replaces the live files with the backup's, which needs `truncate: true`
    /// (else 400).
    pub use_sstableloader: Option<Truthy>,
    /// Seconds between node restarts, were a rolling restart needed. Coffer writes table files in
    /// place and restarts no node, so only the default (60) is accepted; other values are 400.
    pub restart_pause: Option<Numeric>,
    /// Keyspaces restored under another name: `{<keyspace in the backup>: <keyspace to write>}`.
    pub keyspace_remappings: Option<BTreeMap<String, String>>,
}

impl Example for Restore {
    fn example() -> Self {
        let users = KeyspaceRestore {
            column_families: Some(Names(vec!["users".into(), "dates".into()])),
            truncate: Some(Truthy(true)),
            ..Default::default()
        };
        let keep = KeyspaceRestore { truncate: Some(Truthy(false)), ..Default::default() };
        Restore {
            throttle: Some(Numeric(Some(10.0))),
            excluded_nodes: Some(Names(vec!["192.168.100.7".into()])),
            destination: Some("fe85800f3f4043a88fbe76fc45b22b19".into()),
            keyspaces: Some(KeyspaceChoice::Options(BTreeMap::from([
                ("Keyspace1".to_owned(), Some(users)),
                ("OpsCenter".to_owned(), Some(keep)),
            ]))),
            ..Default::default()
        }
    }
}

/// One keyspace of a backup.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterBackupKeyspace")]
pub struct BackupKeyspace {
    /// Its tables.
    pub cfs: Vec<String>,
    /// The nodes holding them.
    pub nodes: Vec<String>,
    /// Bytes.
    pub size: i64,
}

map_of!(
    BackupKeyspaces,
    "OpsCenterBackupKeyspaces",
    BackupKeyspace,
    "The keyspaces of a backup: keyspace name to its tables, nodes and size",
    json!({ "test": { "cfs": ["cf1", "cf2"], "nodes": ["127.0.0.1"], "size": 4543 } })
);

/// A completed backup.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterBackup")]
pub struct Backup {
    /// `adhoc`, or the id of the job schedule that made it.
    pub id: String,
    pub keyspaces: BackupKeyspaces,
    /// When it was made, in seconds since the epoch.
    pub time: i64,
    /// The destinations holding it, the one it was written to first (Coffer's addition; always shown).
    #[oai(default)]
    pub destinations: Vec<String>,
}

map_of!(
    Backups,
    "OpsCenterBackups",
    Backup,
    "Completed backups of the cluster: tag to backup",
    json!({
        "opscenter_adhoc_2012-04-19-17-41-12-UTC": {
            "id": "adhoc",
            "keyspaces": {
                "OpsCenter": { "cfs": ["events", "events_timeline", "rollups60"], "nodes": ["127.0.0.1"], "size": 23180 },
                "test": { "cfs": ["cf1", "cf2"], "nodes": ["127.0.0.1"], "size": 4543 }
            },
            "time": 1334857272,
            "destinations": ["OPSC_ON_SERVER"]
        }
    })
);

map_of!(
    KeyspaceTables,
    "OpsCenterKeyspaceTables",
    Vec<String>,
    "Keyspace name to the names of its tables",
    json!({ "OpsCenter": ["bestpractice_results", "rollups60", "events"] })
);

/// The kind of an activity event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "OpsCenterActivityType")]
pub enum ActivityType {
    Backup,
    Restore,
}

/// The state of a request, a node's part of it, or an activity event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "OpsCenterState")]
pub enum RequestState {
    /// Accepted or moving data.
    Running,
    /// Ended with every node's part done.
    Success,
    /// Ended without a usable result.
    Error,
    /// Stopped on request.
    Cancelled,
}

/// One backup or restore in the cluster's history (`GET /{cluster_id}/backup-activity`); a backup
/// held at several destinations has one event per destination.
#[derive(Clone, Debug, Object)]
#[oai(example, rename = "OpsCenterActivityEvent")]
pub struct ActivityEvent {
    /// The week it is filed under, `YYYYWW`.
    pub week: String,
    /// Where the backup is (a restore: where it was read from); `null` when that destination is gone.
    #[oai(nullable)]
    pub destination: Option<DestinationView>,
    #[oai(rename = "type")]
    pub kind: ActivityType,
    /// When the backup was deleted (seconds since the epoch); `null` while it lives.
    #[oai(nullable)]
    pub deleted_at: Option<i64>,
    /// The backup's tag.
    pub backup_id: String,
    /// The keyspaces and tables it holds (always shown; the seed's running event has them only
    /// in `full_status`).
    #[oai(default)]
    pub keyspaces: KeyspaceTables,
    /// Seconds since the epoch.
    pub event_time: i64,
    pub status: RequestState,
    /// The request that made the backup or runs the restore; absent for deleted backups.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
    /// The request's status while it runs (restores: always).
    #[oai(skip_serializing_if_is_none)]
    pub full_status: Option<RequestStatus>,
}

impl Example for ActivityEvent {
    fn example() -> Self {
        ActivityEvent {
            week: "201711".into(),
            destination: Some(DestinationView::on_server()),
            kind: ActivityType::Backup,
            deleted_at: None,
            backup_id: "opscenter_adhoc_2017-03-17-15-06-09-UTC".into(),
            keyspaces: KeyspaceTables(BTreeMap::from([(
                "OpsCenter".to_owned(),
                vec!["bestpractice_results".into(), "rollup_state".into(), "settings".into()],
            )])),
            event_time: 1489763169,
            status: RequestState::Success,
            request_id: Some("777452d0-5b40-4fb7-bd66-08c02b462476".into()),
            full_status: None,
        }
    }
}

map_of!(
    Graphs,
    "OpsCenterGraphs",
    GraphEntry,
    "In OpsCenter, DSE Graph names to the keyspaces each owns in the backup. Coffer's Cassandra-style backups hold no DSE graphs, so it answers each node's part of the backup in figures (`OpsCenterNodeFigures`) under the node's name instead",
    json!({ "graph1": ["graph1_ks1", "graph1_ks2"], "graph2": ["graph2_ks1", "graph2_ks2", "graph2_ks3"] })
);

/// One value of [`Graphs`]: a graph's keyspaces (OpsCenter's DSE Graph form) or a node's figures.
#[derive(Clone, Debug)]
pub enum GraphEntry {
    Keyspaces(Vec<String>),
    Node(Box<NodeFigures>),
}

super::lenient::component!(GraphEntry, "OpsCenterGraphEntry", |registry| {
    <NodeFigures as poem_openapi::types::Type>::register(registry);
    MetaSchema {
        description: Some("A DSE graph's keyspaces, or (what Coffer answers) a node's part of the backup in figures."),
        any_of: vec![
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))))),
                ..MetaSchema::new("array")
            })),
            <NodeFigures as poem_openapi::types::Type>::schema_ref(),
        ],
        ..MetaSchema::ANY
    }
});

impl poem_openapi::types::ToJSON for GraphEntry {
    fn to_json(&self) -> Option<Value> {
        match self {
            GraphEntry::Keyspaces(k) => k.to_json(),
            GraphEntry::Node(n) => n.to_json(),
        }
    }
}

impl poem_openapi::types::ParseFromJSON for GraphEntry {
    fn parse_from_json(value: Option<Value>) -> poem_openapi::types::ParseResult<Self> {
        match value {
            Some(Value::Array(_)) => {
                Vec::<String>::parse_from_json(value).map(GraphEntry::Keyspaces).map_err(poem_openapi::types::ParseError::propagate)
            }
            other => NodeFigures::parse_from_json(other)
                .map(|n| GraphEntry::Node(Box::new(n)))
                .map_err(poem_openapi::types::ParseError::propagate),
        }
    }
}

/// A node's part of a backup in figures.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterNodeFigures")]
pub struct NodeFigures {
    /// Bytes of the node's files in the backup.
    pub bytes: i64,
    /// Files of the node in the backup.
    pub files: i64,
    /// Bytes the store kept for them after deduplication and compression.
    pub stored_bytes: i64,
    /// Seconds the node's part took.
    #[oai(nullable)]
    pub duration: Option<f64>,
    /// When the node's part started and finished (seconds since the epoch).
    #[oai(nullable)]
    pub started: Option<i64>,
    #[oai(nullable)]
    pub finished: Option<i64>,
    /// The node's part's state.
    pub state: RequestState,
    #[oai(nullable)]
    pub datacenter: Option<String>,
    /// Per keyspace, per table: bytes and files.
    pub keyspaces: std::collections::BTreeMap<String, std::collections::BTreeMap<String, TableFigures>>,
}

/// A table's part of a node's backup.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterTableFigures")]
pub struct TableFigures {
    pub bytes: i64,
    pub files: i64,
}
