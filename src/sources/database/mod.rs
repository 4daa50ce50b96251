//! The database-instance backup source: consistent logical dumps of SQLite, PostgreSQL and MySQL/MariaDB
//! databases as byte streams, and loads of such dumps into new databases.
//!
//! This module holds the shared types and the dispatch by [`DatastoreKind`]; `location` parses and redacts
//! locations, `process` runs the client programs the servers are dumped and loaded with, and `sqlite`,
//! `postgres` and `mysql` each hold what one engine does.

mod location;
mod mysql;
mod postgres;
mod process;
mod sqlite;
#[cfg(test)]
mod testing;

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

/// The kind of database server a [`DatabaseLocation`] points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatastoreKind {
    /// A SQLite database file.
    Sqlite,
    /// A database on a PostgreSQL server.
    Postgresql,
    /// A database on a MySQL or MariaDB server.
    Mysql,
}

impl DatastoreKind {
    /// The canonical lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            DatastoreKind::Sqlite => "sqlite",
            DatastoreKind::Postgresql => "postgresql",
            DatastoreKind::Mysql => "mysql",
        }
    }
}

impl fmt::Display for DatastoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatastoreKind {
    type Err = DatabaseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Ok(DatastoreKind::Sqlite),
            "postgresql" | "postgres" => Ok(DatastoreKind::Postgresql),
            "mysql" | "mariadb" => Ok(DatastoreKind::Mysql),
            _ => Err(DatabaseError::UnknownKind(text.to_string())),
        }
    }
}

/// Where a database lives: a SQLite file path, or a `postgres://` / `mysql://` URL naming one database.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseLocation {
    /// The kind of server.
    pub kind: DatastoreKind,
    /// The SQLite file path, or the server URL including the database name.
    pub location: String,
}

impl fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseLocation").field("kind", &self.kind).field("location", &self.redacted()).finish()
    }
}

/// Why a dump, a load or a location operation failed. Messages never contain passwords.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The datastore kind is not one this module knows.
    #[error("unknown datastore kind {0:?} (expected sqlite, postgresql or mysql)")]
    UnknownKind(String),
    /// The location cannot be used for its kind.
    #[error("invalid {kind} location {location}: {reason}")]
    InvalidLocation {
        /// The datastore kind.
        kind: DatastoreKind,
        /// The redacted location.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The target of a load already exists.
    #[error("database {0} already exists")]
    AlreadyExists(String),
    /// The database does not exist.
    #[error("database {0} does not exist")]
    NotFound(String),
    /// None of the client programs needed is on PATH.
    #[error("{tool} was not found on PATH")]
    ToolMissing {
        /// The program names tried.
        tool: String,
    },
    /// A client program (pg_dump, psql, mariadb-dump, mariadb) failed.
    #[error("{tool} failed for {location} ({status}): {stderr}")]
    ToolFailed {
        /// The program that failed.
        tool: String,
        /// The redacted location it worked on.
        location: String,
        /// How it ended.
        status: String,
        /// The end of its standard error, password-free.
        stderr: String,
    },
    /// A statement or connection on the server failed.
    #[error("{action} for {location} failed: {message}")]
    Query {
        /// What was being done.
        action: String,
        /// The redacted location.
        location: String,
        /// The server's or driver's message, password-free.
        message: String,
    },
    /// The bytes given to a load are not a dump of the expected kind.
    #[error("the dump loaded into {location} is invalid: {reason}")]
    InvalidDump {
        /// The redacted location.
        location: String,
        /// What is wrong with the bytes.
        reason: String,
    },
    /// `finish` was called on a dump stream that still had bytes to read.
    #[error("the dump of {0} was finished before it was read to the end")]
    Unread(String),
    /// A local file or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> DatabaseError {
    let action = action.into();
    move |source| DatabaseError::Io { action, source }
}

/// A running, consistent dump. Reading it gives the dump bytes; `finish` waits for the dumper and reports failure.
///
/// Dropping it without `finish` kills the dumper and removes any snapshot file.
pub struct DumpStream {
    location: String,
    body: DumpBody,
}

enum DumpBody {
    Snapshot(sqlite::Snapshot),
    Process(process::ProcessDump),
}

impl Read for DumpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            DumpBody::Snapshot(snapshot) => snapshot.read(buf),
            DumpBody::Process(process) => process.read(buf),
        }
    }
}

impl DumpStream {
    /// Waits for the dumper and reports whether the dump is complete; call it after reading to the end (blocking).
    pub fn finish(self) -> Result<(), DatabaseError> {
        let DumpStream { location, body } = self;
        match body {
            DumpBody::Snapshot(snapshot) => snapshot.finish(location),
            DumpBody::Process(process) => process.finish(location),
        }
    }
}

/// Whether `reader` has another byte to give.
fn has_more(reader: &mut impl Read) -> io::Result<bool> {
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A load into a NEW database. Writing gives it dump bytes; `finish` completes it and reports failure.
///
/// Dropping it without `finish` kills the loader (a server database stays, partly loaded, for [`drop_database`])
/// or removes the partial SQLite file.
pub struct LoadSink {
    location: String,
    body: LoadBody,
}

enum LoadBody {
    File(sqlite::FileLoad),
    Process(process::ProcessLoad),
}

impl Write for LoadSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.body {
            LoadBody::File(load) => load.write(buf),
            LoadBody::Process(load) => load.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.body {
            LoadBody::File(load) => load.flush(),
            LoadBody::Process(load) => load.flush(),
        }
    }
}

impl LoadSink {
    /// Completes the load and reports whether it succeeded (blocking).
    ///
    /// SQLite: the file is synced and then moved into place atomically, never over an existing file.
    pub fn finish(self) -> Result<(), DatabaseError> {
        let LoadSink { location, body } = self;
        match body {
            LoadBody::File(load) => load.finish(location),
            LoadBody::Process(load) => load.finish(),
        }
    }
}

/// Starts a consistent dump of `source`.
///
/// SQLite is snapshotted with `VACUUM INTO` a private temporary file whose bytes are a complete database file;
/// PostgreSQL is dumped by `pg_dump` as plain SQL without owners or privileges; MySQL/MariaDB by `mariadb-dump`
/// (or `mysqldump`) in a single transaction with routines, triggers and events, without `CREATE DATABASE`.
/// Passwords travel in the environment, never on a command line. The stream is read on a blocking thread.
pub async fn start_dump(source: &DatabaseLocation) -> Result<DumpStream, DatabaseError> {
    match source.kind {
        DatastoreKind::Sqlite => sqlite::start_dump(source).await,
        DatastoreKind::Postgresql => postgres::start_dump(source),
        DatastoreKind::Mysql => mysql::start_dump(source),
    }
}

/// Creates the NEW database `target` and starts loading into it; an existing target is refused with `AlreadyExists`.
///
/// SQLite is written to a temporary file beside the target; PostgreSQL gets `CREATE DATABASE … TEMPLATE template0`
/// and `psql -v ON_ERROR_STOP=1`; MySQL/MariaDB gets `CREATE DATABASE` and `mariadb` (or `mysql`) reading the dump.
/// The database the dump came from is never touched.
pub async fn start_load(target: &DatabaseLocation) -> Result<LoadSink, DatabaseError> {
    match target.kind {
        DatastoreKind::Sqlite => sqlite::start_load(target).await,
        DatastoreKind::Postgresql => postgres::start_load(target).await,
        DatastoreKind::Mysql => mysql::start_load(target).await,
    }
}

/// Drops a database created by [`start_load`] (used by tests and by failed restores): SQLite removes the file,
/// the servers get `DROP DATABASE` (PostgreSQL closing other sessions first). A missing database is `NotFound`.
pub async fn drop_database(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    match target.kind {
        DatastoreKind::Sqlite => sqlite::drop_database(target).await,
        DatastoreKind::Postgresql => postgres::drop_database(target).await,
        DatastoreKind::Mysql => mysql::drop_database(target).await,
    }
}

/// Creates a NEW, empty database at `target` (a new Cloud Databases instance); an existing one is refused.
pub async fn create_empty(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    match target.kind {
        DatastoreKind::Sqlite => sqlite::create_empty(target).await,
        DatastoreKind::Postgresql | DatastoreKind::Mysql => {
            let sink = start_load(target).await?;
            tokio::task::spawn_blocking(move || sink.finish())
                .await
                .map_err(|e| DatabaseError::Io { action: "creating the database".into(), source: io::Error::other(e) })?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datastore_kinds_parse_from_their_common_names() {
        for (text, kind) in [
            ("sqlite", DatastoreKind::Sqlite),
            ("postgresql", DatastoreKind::Postgresql),
            ("postgres", DatastoreKind::Postgresql),
            ("PostgreSQL", DatastoreKind::Postgresql),
            ("mysql", DatastoreKind::Mysql),
            ("mariadb", DatastoreKind::Mysql),
        ] {
            assert_eq!(text.parse::<DatastoreKind>().expect("a known kind"), kind);
        }
        assert!(matches!("oracle".parse::<DatastoreKind>(), Err(DatabaseError::UnknownKind(_))));
        assert_eq!(DatastoreKind::Postgresql.to_string(), "postgresql");
    }
}
