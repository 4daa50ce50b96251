//! The status of an asynchronous request, with one subrequest per node.

use std::collections::BTreeMap;

use poem_openapi::{Object, types::Example};
use serde_json::json;

use super::{
    backups::{KeyspaceTables, RequestState},
    lenient::map_of,
};

/// Progress of one table on one node.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterTableProgress")]
pub struct TableProgress {
    pub done_files: i64,
    pub total_files: i64,
    /// Bytes.
    pub total_size: i64,
    pub errors: Vec<String>,
}

/// What a node's part created, and what went wrong.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterSubrequestMetadata")]
pub struct SubrequestMetadata {
    /// Whether every task of the node ended well.
    pub created: bool,
    pub errors: Vec<String>,
}

/// The commitlogs a point-in-time restore placed on a node for its next start to replay.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterCommitlogReplay")]
pub struct CommitlogReplay {
    pub state: RequestState,
    /// How many segments were placed.
    pub segments: i64,
    /// The directory they were placed in.
    #[oai(nullable)]
    pub restore_dir: Option<String>,
    /// The tables replayed (`-Dcassandra.replayList`); `null` for every table.
    #[oai(nullable)]
    pub replay_list: Option<String>,
    pub done_files: i64,
    pub total_files: i64,
}

/// A node's part of a request.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterSubrequestDetails")]
pub struct SubrequestDetails {
    pub metadata: SubrequestMetadata,
    /// Keyspace to table to progress.
    pub sstables: BTreeMap<String, BTreeMap<String, TableProgress>>,
    /// The node's task.
    pub id: String,
    pub state: RequestState,
    /// A restore: the tables it wrote.
    #[oai(skip_serializing_if_is_none)]
    pub tables_restored: Option<Vec<String>>,
    /// A restore: tables asked for that the backup does not hold, left as they were.
    #[oai(skip_serializing_if_is_none)]
    pub tables_left_alone: Option<Vec<String>>,
    /// A point-in-time restore: the commitlogs placed for replay.
    #[oai(skip_serializing_if_is_none)]
    pub commitlogs: Option<CommitlogReplay>,
}

/// One node's part of a request.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterSubrequest")]
pub struct Subrequest {
    /// Seconds since the epoch; `null` until it starts.
    #[oai(nullable)]
    pub started: Option<i64>,
    /// Seconds since the epoch; `null` until it ends.
    #[oai(nullable)]
    pub finished: Option<i64>,
    /// Always `null`, as OpsCenter shows it.
    #[oai(nullable)]
    pub cluster_id: Option<String>,
    pub details: SubrequestDetails,
}

map_of!(
    Subrequests,
    "OpsCenterSubrequests",
    Subrequest,
    "Node name to its part of the request",
    json!({ "127.0.0.1": { "started": 1489763169, "finished": null, "cluster_id": null, "details": {
        "metadata": { "created": false, "errors": [] },
        "sstables": { "OpsCenter": { "events": { "done_files": 0, "total_files": 6, "total_size": 5677, "errors": [] } } },
        "id": "1789233b-b9b0-450d-bfaf-42729a3776e1", "state": "running" } } })
);

/// The request's message and its nodes' parts.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterRequestDetails")]
pub struct RequestDetails {
    /// Why it failed; empty otherwise.
    pub message: String,
    pub subrequests: Subrequests,
}

/// A request's status (`GET /request/{id}/status`).
#[derive(Clone, Debug, Object)]
#[oai(example, rename = "OpsCenterRequestStatus")]
pub struct RequestStatus {
    pub id: String,
    /// What it does: backup, restore, copy, delete, verify, archive, configure, inventory, or
    /// for requests carried out at once what they changed (`destination.added`, ...). Coffer's
    /// addition; always shown.
    #[oai(rename = "type", default)]
    pub kind: String,
    pub state: RequestState,
    /// Seconds since the epoch.
    pub started: i64,
    /// Seconds since the epoch; `null` while it runs.
    #[oai(nullable)]
    pub finished: Option<i64>,
    #[oai(nullable)]
    pub cluster_id: Option<String>,
    /// The backup's tag; `null` when no backup is involved.
    #[oai(nullable)]
    pub tag: Option<String>,
    /// The destinations written or read.
    pub destinations: Vec<String>,
    pub keyspaces: KeyspaceTables,
    /// 0 to 1 (Coffer's addition; always shown).
    #[oai(default)]
    pub progress: f64,
    pub details: RequestDetails,
}

impl Example for RequestStatus {
    fn example() -> Self {
        RequestStatus {
            id: "777452d0-5b40-4fb7-bd66-08c02b462476".into(),
            kind: "backup".into(),
            state: RequestState::Running,
            started: 1489763169,
            finished: None,
            cluster_id: Some("Test_Cluster".into()),
            tag: Some("opscenter_adhoc_2017-03-17-15-06-09-UTC".into()),
            destinations: vec!["140a4904e0da4e4e9e3dcbf8d21b56d6".into()],
            keyspaces: KeyspaceTables(BTreeMap::from([("OpsCenter".to_owned(), vec!["events".into()])])),
            progress: 0.0,
            details: RequestDetails { message: String::new(), subrequests: Subrequests::default() },
        }
    }
}
