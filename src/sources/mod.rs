//! What is read and written back: file trees, cluster node data directories, and databases.

pub mod cluster;
pub mod database;
pub mod tree;

use std::{os::unix::fs::PermissionsExt, path::Path, time::UNIX_EPOCH};

use crate::store::{Item, ItemSource};

/// Problems reading or writing a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl SourceError {
    pub fn io(path: impl AsRef<Path>, err: std::io::Error) -> Self {
        SourceError::Io { path: path.as_ref().display().to_string(), message: err.to_string() }
    }
}

/// The item for one filesystem object, or `None` for sockets, fifos and devices.
pub(crate) fn item_for(abs: &Path, rel: String, meta: &std::fs::Metadata) -> Result<Option<Item>, SourceError> {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0);
    let ft = meta.file_type();
    let source = if ft.is_dir() {
        ItemSource::Dir
    } else if ft.is_symlink() {
        ItemSource::Symlink(std::fs::read_link(abs).map_err(|e| SourceError::io(abs, e))?.to_string_lossy().into_owned())
    } else if ft.is_file() {
        ItemSource::File(abs.to_path_buf())
    } else {
        return Ok(None);
    };
    let size = if ft.is_file() { meta.len() } else { 0 };
    Ok(Some(Item { path: rel, source, size, mode: meta.permissions().mode(), mtime_ns }))
}
