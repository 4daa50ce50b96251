//! Commitlog archiving: while it is on, each cluster node's agent ships every closed commitlog
//! segment (a file in the node's commitlog archive directory) to each archiving destination. A
//! point-in-time restore places the snapshot's table files, then the segments from the
//! snapshot's time up to and covering the chosen moment, for the database to replay.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A cluster's archiving settings (kept in the source's configuration).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Archiving {
    pub enabled: bool,
    /// Where segments go, with how.
    #[serde(default)]
    pub destinations: BTreeMap<Uuid, ArchiveTarget>,
    /// One archive directory for every node (OpsCenter's `backup_staging_dir`), instead of each node's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_dir: Option<String>,
    /// The client's own settings shown back as given (staging and storage directories, drain).
    #[serde(default)]
    pub annotations: serde_json::Value,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveTarget {
    /// As the client asked; the store compresses whatever compresses.
    #[serde(default)]
    pub compressed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_bytes_per_sec: Option<u64>,
}

/// One archived segment of one node in one destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub node_id: Uuid,
    pub destination_id: Uuid,
    pub name: String,
    /// The segment's time: when it was closed (its file's last modification).
    pub at: DateTime<Utc>,
    pub size: i64,
    /// The store snapshot holding it (under the node's key).
    pub snapshot: String,
}

/// The file a database reads to replay restored segments up to a moment.
pub const RESTORE_PROPERTIES: &str = "commitlog_archiving.properties";

/// The directory restored segments are placed in for a node: beside its data directory,
/// `commitlog_restore` for a directory named `data`, `<name>-commitlog_restore` otherwise (so two
/// clusters' nodes side by side never share one).
pub fn restore_dir(data_dir: &str) -> String {
    let data = std::path::Path::new(data_dir.trim_end_matches('/'));
    let leaf = data.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let name = if leaf == "data" || leaf.is_empty() { "commitlog_restore".to_owned() } else { format!("{leaf}-commitlog_restore") };
    data.parent().unwrap_or(data).join(name).display().to_string()
}

/// The properties file's text: where the segments are and the moment to stop replaying at; for
/// a restore of some tables, which ones the database must replay (a comment: Cassandra takes the
/// list as `-Dcassandra.replayList` when it starts, not from this file).
pub fn restore_properties(dir: &str, point_in_time: DateTime<Utc>, tables: &[String]) -> String {
    let only = match tables.is_empty() {
        true => String::new(),
        false => format!("# Replay only the restored tables: start the node with -Dcassandra.replayList={}\n", tables.join(",")),
    };
    format!(
        "# Written by Coffer for a point-in-time restore.\n{only}restore_command=cp -f %from %to\nrestore_directories={dir}\nrestore_point_in_time={}\n",
        point_in_time.format("%Y:%m:%d %H:%M:%S")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_properties_file_names_the_moment_as_cassandra_reads_it() {
        let at = DateTime::parse_from_rfc3339("2015-12-15T01:32:00Z").unwrap().with_timezone(&Utc);
        let text = restore_properties("/var/lib/cassandra/commitlog_restore", at, &[]);
        assert!(text.contains("restore_point_in_time=2015:12:15 01:32:00\n"), "{text}");
        assert!(text.contains("restore_directories=/var/lib/cassandra/commitlog_restore\n"));
        assert_eq!(restore_dir("/var/lib/cassandra/data"), "/var/lib/cassandra/commitlog_restore");
        assert_eq!(restore_dir("/srv/node1/data-restored/"), "/srv/node1/data-restored-commitlog_restore");
    }
}
