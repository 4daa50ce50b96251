//! A snapshot's manifest: every entry of one node's data with its chunks, written last.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::codec::ChunkId;

/// What kind of filesystem object an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// One chunk of a file, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub id: ChunkId,
    pub len: u32,
}

/// One file, directory or link, with the path relative to the source root (`/`-separated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mode: u32,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// An item that could not be read; the backup went on without it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryError {
    pub path: String,
    pub message: String,
}

/// Counts of one node's snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub files: u64,
    pub dirs: u64,
    /// Bytes of file content covered by the snapshot.
    pub bytes: u64,
    /// Chunks this snapshot stored that the repository did not have.
    pub new_chunks: u64,
    /// Bytes those new chunks took at rest (after compression and encryption).
    pub new_bytes_stored: u64,
    /// Chunks found already stored.
    pub reused_chunks: u64,
    /// Files taken unread from the parent snapshot because size and mtime were unchanged.
    pub unchanged_files: u64,
    /// Files read whose content was (at least in part) new to the repository: the files this
    /// snapshot stored (an empty file stores nothing). Absent (0) in manifests written before it
    /// was counted.
    #[serde(default)]
    pub stored_files: u64,
}

/// One node's part of a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub snapshot: String,
    pub node: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub errors: Vec<EntryError>,
    #[serde(default)]
    pub metadata: serde_json::Value,
    pub totals: Totals,
}

impl Manifest {
    /// The chunk ids this manifest references.
    pub fn chunk_ids(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.entries.iter().flat_map(|e| e.chunks.iter().map(|c| c.id))
    }
}

/// Keys of the repository layout.
pub mod keys {
    pub const CONFIG: &str = "config";
    pub const SNAPSHOTS: &str = "snapshots/";
    pub const INDEX: &str = "index/";
    pub const LOCKS: &str = "locks/";

    pub fn pack(id: &str) -> String {
        format!("data/{}/{id}", id.get(..2).unwrap_or(id))
    }

    pub fn index(id: &str) -> String {
        format!("{INDEX}{id}")
    }

    pub fn manifest(snapshot: &str, node: &str) -> String {
        format!("{SNAPSHOTS}{snapshot}/{node}")
    }

    pub fn snapshot_prefix(snapshot: &str) -> String {
        format!("{SNAPSHOTS}{snapshot}/")
    }
}
