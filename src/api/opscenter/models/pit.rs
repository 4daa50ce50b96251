//! Point in time: commitlog archiving settings, each node's newest archived moment, checking a
//! moment and restoring to it.

use std::collections::BTreeMap;

use poem_openapi::{Object, types::Example};
use serde_json::json;

use super::{
    backups::{KeyspaceChoice, KeyspaceRestore, Restore},
    lenient::{Names, Numeric, Truthy, map_of},
};

/// How commitlogs go to one destination.
#[derive(Clone, Debug, Default, Object)]
#[oai(rename = "OpsCenterArchiveTarget", skip_serializing_if_is_none)]
pub struct ArchiveTargetBody {
    /// Compress the segments (the store compresses what compresses either way; shown back as given).
    pub compressed: Option<Truthy>,
    /// MB per second; no limit when absent or 0.
    pub throttle: Option<Numeric>,
}

/// `POST /{cluster_id}/backups/pit`: turn commitlog archiving on.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterPitEnable", skip_serializing_if_is_none)]
pub struct PitEnable {
    /// Where the segments go: destination id to options (required, at least one).
    pub destinations: Option<BTreeMap<String, Option<ArchiveTargetBody>>>,
    /// The directory on every node where closed commitlog segments appear; each node's own
    /// (registered `commitlog_dir`, else `commitlog` beside its data) when absent.
    pub backup_staging_dir: Option<String>,
    /// The 6.1 edition's name for `backup_staging_dir`.
    pub backup_directory: Option<String>,
    /// Where OpsCenter keeps on-server commitlogs once copied. Coffer keeps them in the server's
    /// store; the directory (absolute, without `..`) is stored and shown by `GET .../pit`.
    pub backup_storage_dir: Option<String>,
    /// Seconds between one node's reconfiguration and the next (0 to 3600, default 0).
    pub sleep: Option<Numeric>,
    /// Drain nodes before restarting them. Coffer restarts no node (archiving is turned on in
    /// the agents), so there is nothing to drain; the choice is stored and shown by `GET .../pit`.
    pub drain_first: Option<Truthy>,
}

impl Example for PitEnable {
    fn example() -> Self {
        let server = ArchiveTargetBody { compressed: Some(Truthy(false)), throttle: None };
        let s3 = ArchiveTargetBody { compressed: Some(Truthy(true)), throttle: Some(Numeric(Some(10.0))) };
        PitEnable {
            destinations: Some(BTreeMap::from([
                ("OPSC_ON_SERVER".to_owned(), Some(server)),
                ("9e626c6098ab48e9bcfb8f3d60dbf9ff".to_owned(), Some(s3)),
            ])),
            backup_staging_dir: Some("/var/backup/staging".into()),
            backup_directory: None,
            backup_storage_dir: Some("/var/backup/storage".into()),
            sleep: Some(Numeric(Some(5.0))),
            drain_first: Some(Truthy(false)),
        }
    }
}

/// `DELETE /{cluster_id}/backups/pit`: turn commitlog archiving off (the body is optional).
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterPitDisable", skip_serializing_if_is_none)]
pub struct PitDisable {
    /// Seconds between one node's reconfiguration and the next (0 to 3600, default 0).
    pub sleep: Option<Numeric>,
    /// Drain nodes before restarting them; stored and shown by `GET .../pit` (Coffer restarts no node).
    pub drain_first: Option<Truthy>,
}

impl Example for PitDisable {
    fn example() -> Self {
        PitDisable { sleep: Some(Numeric(Some(5.0))), drain_first: Some(Truthy(false)) }
    }
}

/// How commitlogs go to one destination, as shown.
#[derive(Clone, Debug, Object)]
#[oai(rename = "OpsCenterArchiveTargetView")]
pub struct ArchiveTargetView {
    pub compressed: bool,
    /// MB per second; absent for no limit.
    #[oai(skip_serializing_if_is_none)]
    pub throttle: Option<f64>,
}

/// `GET /{cluster_id}/backups/pit`.
#[derive(Debug, Object)]
#[oai(example, rename = "OpsCenterPitSettings")]
pub struct PitSettings {
    pub enabled: bool,
    pub destinations: BTreeMap<String, ArchiveTargetView>,
    #[oai(skip_serializing_if_is_none)]
    pub backup_staging_dir: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub backup_directory: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub backup_storage_dir: Option<String>,
    /// The `drain_first` of the last change (on or off).
    #[oai(skip_serializing_if_is_none)]
    pub drain_first: Option<bool>,
    /// The `sleep` of the last change.
    #[oai(skip_serializing_if_is_none)]
    pub sleep: Option<f64>,
}

impl Example for PitSettings {
    fn example() -> Self {
        PitSettings {
            enabled: true,
            destinations: BTreeMap::from([
                ("e2721f3b8a294eeb9684cbefe7536be4".to_owned(), ArchiveTargetView { compressed: false, throttle: None }),
                ("OPSC_ON_SERVER".to_owned(), ArchiveTargetView { compressed: false, throttle: None }),
            ]),
            backup_staging_dir: None,
            backup_directory: None,
            backup_storage_dir: None,
            drain_first: None,
            sleep: None,
        }
    }
}

map_of!(
    PitLogs,
    "OpsCenterPitLogs",
    f64,
    "Node to the moment (seconds since the epoch) of its newest archived commitlog",
    json!({ "10.240.0.3": 1450135082.502205, "10.240.0.4": 1450135124.02664 })
);

/// `POST /{cluster_id}/backups/pit_check` and `POST /{cluster_id}/backups/pit/run`: a moment to
/// restore to, with a restore's options (`keyspaces`, `throttle`, `excluded-nodes`, `force`,
/// `force_schema`, `use_sstableloader`, `restart_pause`).
#[derive(Debug, Default, Object)]
#[oai(example, rename = "OpsCenterPitRestore", skip_serializing_if_is_none)]
pub struct PitRestore {
    /// The moment, in seconds since the epoch (required).
    pub pit: Option<Numeric>,
    /// Where the commitlogs are read from; the cluster's archive when absent.
    #[oai(nullable)]
    pub pit_destination: Option<String>,
    #[oai(flatten)]
    pub restore: Restore,
}

impl Example for PitRestore {
    fn example() -> Self {
        let users = KeyspaceRestore {
            column_families: Some(Names(vec!["users".into(), "dates".into()])),
            truncate: Some(Truthy(true)),
            ..Default::default()
        };
        let keep = KeyspaceRestore { truncate: Some(Truthy(false)), ..Default::default() };
        PitRestore {
            pit: Some(Numeric(Some(1450144260.0))),
            pit_destination: Some("OPSC_ON_SERVER".into()),
            restore: Restore {
                keyspaces: Some(KeyspaceChoice::Options(BTreeMap::from([
                    ("Keyspace1".to_owned(), Some(users)),
                    ("OpsCenter".to_owned(), Some(keep)),
                ]))),
                ..Default::default()
            },
        }
    }
}

/// A node's commitlogs a restore to the moment would replay.
#[derive(Debug, Object)]
#[oai(rename = "OpsCenterPitSegments")]
pub struct PitSegments {
    pub count: u64,
    /// Seconds since the epoch of the first segment; `null` when none.
    #[oai(nullable)]
    pub first: Option<f64>,
    #[oai(nullable)]
    pub last: Option<f64>,
    pub segments: Vec<String>,
}

/// What a restore to the moment would use.
#[derive(Debug, Object)]
#[oai(rename = "OpsCenterPitCheck")]
pub struct PitCheck {
    /// The moment, seconds since the epoch.
    pub pit: i64,
    /// The moment as OpsCenter words it, `MM-DD-YYYY HH:MM:SS UTC`.
    pub pit_time: String,
    /// The tag of the snapshot restored first.
    pub snapshot: String,
    pub snapshot_time: i64,
    /// Where the snapshot is read from.
    pub destination: String,
    /// Where the commitlogs are read from.
    pub pit_destination: String,
    /// Node to the commitlogs it would replay.
    pub commitlogs: BTreeMap<String, PitSegments>,
}
