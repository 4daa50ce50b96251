//! SQLite: a dump is a `VACUUM INTO` snapshot, a complete database file; a load writes those bytes to a
//! temporary file beside the target and moves it into place, never over an existing file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::{DatabaseError, DatabaseLocation, DumpBody, DumpStream, LoadBody, LoadSink, has_more, io_error};

const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// A file removed when dropped, unless removed or disarmed first.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn remove(mut self) -> io::Result<()> {
        self.armed = false;
        fs::remove_file(&self.path)
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn create_new_file(path: &Path, private: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)
}

/// A dump read from a snapshot file, which goes when the dump does.
pub(super) struct Snapshot {
    file: File,
    snapshot: TempFile,
}

impl Snapshot {
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }

    pub(super) fn finish(self, location: String) -> Result<(), DatabaseError> {
        let Snapshot { mut file, snapshot } = self;
        let unread = has_more(&mut file).map_err(io_error("reading the SQLite snapshot"))?;
        drop(file);
        snapshot.remove().map_err(io_error("removing the SQLite snapshot"))?;
        if unread { Err(DatabaseError::Unread(location)) } else { Ok(()) }
    }
}

pub(super) async fn start_dump(source: &DatabaseLocation) -> Result<DumpStream, DatabaseError> {
    let path = PathBuf::from(&source.location);
    if !tokio::fs::try_exists(&path).await.map_err(io_error(format!("checking {}", source.location)))? {
        return Err(DatabaseError::NotFound(source.location.clone()));
    }
    let snapshot_path = std::env::temp_dir().join(format!("coffer-sqlite-dump-{}.sqlite", uuid::Uuid::new_v4().simple()));
    let snapshot_name =
        snapshot_path.to_str().map(str::to_string).ok_or_else(|| source.invalid("the temporary directory is not valid UTF-8"))?;
    create_new_file(&snapshot_path, true).map_err(io_error(format!("creating {}", snapshot_path.display())))?;
    let snapshot = TempFile { path: snapshot_path, armed: true };
    let query_error = |action: &str, e: sqlx::Error| DatabaseError::Query {
        action: action.to_string(),
        location: source.location.clone(),
        message: e.to_string(),
    };
    let options = SqliteConnectOptions::new().filename(&path).create_if_missing(false);
    let mut connection = SqliteConnection::connect_with(&options).await.map_err(|e| query_error("opening the SQLite database", e))?;
    let vacuum = sqlx::query("VACUUM INTO ?").bind(snapshot_name).execute(&mut connection).await;
    let _ = connection.close().await;
    vacuum.map_err(|e| query_error("snapshotting the SQLite database", e))?;
    let file = File::open(&snapshot.path).map_err(io_error(format!("opening {}", snapshot.path.display())))?;
    Ok(DumpStream { location: source.location.clone(), body: DumpBody::Snapshot(Snapshot { file, snapshot }) })
}

/// A load written to a temporary file, which becomes the target when the load finishes.
pub(super) struct FileLoad {
    file: File,
    temp: TempFile,
    target: PathBuf,
    /// The first bytes written, as many as a SQLite header has.
    header: Vec<u8>,
}

impl FileLoad {
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        let wanted = SQLITE_HEADER.len().saturating_sub(self.header.len()).min(written);
        self.header.extend_from_slice(&buf[..wanted]);
        Ok(written)
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    pub(super) fn finish(self, location: String) -> Result<(), DatabaseError> {
        let FileLoad { mut file, temp, target, header } = self;
        if header != SQLITE_HEADER {
            return Err(DatabaseError::InvalidDump { location, reason: "it is not a SQLite database file".to_string() });
        }
        file.flush().map_err(io_error(format!("writing {}", temp.path.display())))?;
        file.sync_all().map_err(io_error(format!("syncing {}", temp.path.display())))?;
        drop(file);
        publish(temp, &target, &location)
    }
}

fn publish(temp: TempFile, target: &Path, location: &str) -> Result<(), DatabaseError> {
    match fs::hard_link(&temp.path, target) {
        Ok(()) => {
            let action = format!("removing {}", temp.path.display());
            temp.remove().map_err(io_error(action))?
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(DatabaseError::AlreadyExists(location.to_string())),
        Err(_) => {
            if target.try_exists().map_err(io_error(format!("checking {location}")))? {
                return Err(DatabaseError::AlreadyExists(location.to_string()));
            }
            fs::rename(&temp.path, target).map_err(io_error(format!("moving the load into {location}")))?;
            temp.disarm();
        }
    }
    let directory = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    File::open(directory).and_then(|d| d.sync_all()).map_err(io_error(format!("syncing {}", directory.display())))
}

pub(super) async fn start_load(target: &DatabaseLocation) -> Result<LoadSink, DatabaseError> {
    let path = PathBuf::from(&target.location);
    let Some(file_name) = path.file_name().map(|name| name.to_string_lossy().into_owned()) else {
        return Err(target.invalid("the path has no file name"));
    };
    if tokio::fs::try_exists(&path).await.map_err(io_error(format!("checking {}", target.location)))? {
        return Err(DatabaseError::AlreadyExists(target.location.clone()));
    }
    // A new instance's file may be the first in its directory (`<data_dir>/instances/<tenant>/`).
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(io_error(format!("creating {}", parent.display())))?;
    }
    let temp_path = path.with_file_name(format!(".{file_name}.{}.partial", uuid::Uuid::new_v4().simple()));
    let file = create_new_file(&temp_path, false).map_err(io_error(format!("creating {}", temp_path.display())))?;
    Ok(LoadSink {
        location: target.location.clone(),
        body: LoadBody::File(FileLoad { file, temp: TempFile { path: temp_path, armed: true }, target: path, header: Vec::new() }),
    })
}

/// Removes the file and whatever SQLite kept beside it.
pub(super) async fn drop_database(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    match tokio::fs::remove_file(&target.location).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DatabaseError::NotFound(target.location.clone())),
        Err(e) => return Err(io_error(format!("removing {}", target.location))(e)),
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = tokio::fs::remove_file(format!("{}{suffix}", target.location)).await;
    }
    Ok(())
}

pub(super) async fn create_empty(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    let path = PathBuf::from(&target.location);
    if path.exists() {
        return Err(DatabaseError::AlreadyExists(target.location.clone()));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error(format!("creating {}", parent.display())))?;
    }
    let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut connection = options.connect().await.map_err(|e| DatabaseError::Query {
        action: "creating the database".into(),
        location: target.redacted(),
        message: e.to_string(),
    })?;
    let created = sqlx::raw_sql("PRAGMA user_version = 0").execute(&mut connection).await;
    let _ = connection.close().await;
    created.map(|_| ()).map_err(|e| DatabaseError::Query {
        action: "creating the database".into(),
        location: target.redacted(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::database::testing::pipe;
    use crate::sources::database::{DatastoreKind, drop_database, start_dump, start_load};

    const SQLITE_FIXTURE: &str = r#"
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT);
        CREATE TABLE books (
            id INTEGER PRIMARY KEY,
            author_id INTEGER REFERENCES authors (id),
            title TEXT,
            cover BLOB,
            pages INTEGER,
            published TIMESTAMP
        );
        INSERT INTO authors VALUES (1, 'Zoë Ørsted', NULL), (2, '李白', 'poet 🌙'), (3, 'O''Brien', 'line one
line two	tabbed \ backslash');
        INSERT INTO books VALUES
            (10, 1, 'Ünïcødé', X'00FF10', 321, '2024-02-29 13:37:00'),
            (11, 2, NULL, NULL, NULL, NULL),
            (12, 3, 'Ends with a backslash \', X'DEADBEEF00', -9223372036854775808, '1999-12-31 23:59:59.999');
    "#;

    async fn create_sqlite_source(path: &Path) -> SqliteConnection {
        let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
        let mut connection = SqliteConnection::connect_with(&options).await.expect("creating the sqlite source");
        sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&mut connection).await.expect("WAL mode");
        sqlx::raw_sql(SQLITE_FIXTURE).execute(&mut connection).await.expect("filling the sqlite source");
        connection
    }

    async fn sqlite_rows(path: &Path) -> Vec<String> {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let mut connection = SqliteConnection::connect_with(&options).await.expect("opening sqlite");
        let mut rows: Vec<String> =
            sqlx::query_scalar("SELECT quote(id) || '|' || quote(name) || '|' || quote(bio) FROM authors ORDER BY id")
                .fetch_all(&mut connection)
                .await
                .expect("reading authors");
        let books: Vec<String> = sqlx::query_scalar(
            "SELECT quote(id) || '|' || quote(author_id) || '|' || quote(title) || '|' || quote(cover) || '|' || quote(pages) || '|' || quote(published) FROM books ORDER BY id",
        )
        .fetch_all(&mut connection)
        .await
        .expect("reading books");
        rows.extend(books);
        connection.close().await.expect("closing");
        rows
    }

    fn directory_entries(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(directory)
            .expect("listing")
            .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn snapshot_path(dump: &DumpStream) -> PathBuf {
        let DumpBody::Snapshot(snapshot) = &dump.body else { panic!("a sqlite dump is a snapshot") };
        snapshot.snapshot.path.clone()
    }

    #[tokio::test]
    async fn a_sqlite_dump_loads_into_a_new_database_with_the_same_rows() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let source_path = directory.path().join("shop.db");
        let writer = create_sqlite_source(&source_path).await;
        let source = DatabaseLocation::new(DatastoreKind::Sqlite, source_path.to_string_lossy());
        let target = source.with_database_name("shop_restored").expect("a target");

        let dump = start_dump(&source).await.expect("a dump");
        let snapshot_path = snapshot_path(&dump);
        let load = start_load(&target).await.expect("a load");
        tokio::task::spawn_blocking(move || pipe(dump, load)).await.expect("no panic").expect("the copy succeeds");
        writer.close().await.expect("closing the writer");

        assert!(!snapshot_path.exists(), "the snapshot is removed");
        assert_eq!(sqlite_rows(Path::new(&target.location)).await, sqlite_rows(&source_path).await);
        assert_eq!(sqlite_rows(&source_path).await.len(), 6);
        assert!(directory_entries(directory.path()).iter().all(|name| !name.ends_with(".partial")));

        drop_database(&target).await.expect("dropping the target");
        assert!(!Path::new(&target.location).exists());
        assert!(matches!(drop_database(&target).await, Err(DatabaseError::NotFound(_))));
        drop_database(&source).await.expect("dropping the source");
    }

    #[tokio::test]
    async fn loading_into_an_existing_sqlite_file_is_refused() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let source_path = directory.path().join("shop.db");
        create_sqlite_source(&source_path).await.close().await.expect("closing");
        let existing = directory.path().join("taken.sqlite");
        fs::write(&existing, b"precious").expect("writing");
        let source = DatabaseLocation::new(DatastoreKind::Sqlite, source_path.to_string_lossy());
        let target = source.with_database_name("taken").expect("a target");

        assert!(matches!(start_load(&target).await, Err(DatabaseError::AlreadyExists(_))));

        let dump = start_dump(&source).await.expect("a dump");
        let unlucky = source.with_database_name("raced").expect("a target");
        let load = start_load(&unlucky).await.expect("a load");
        fs::write(&unlucky.location, b"arrived first").expect("writing");
        let result = tokio::task::spawn_blocking(move || pipe(dump, load)).await.expect("no panic");
        assert!(matches!(result, Err(DatabaseError::AlreadyExists(_))), "{result:?}");
        assert_eq!(fs::read(&existing).expect("reading"), b"precious");
        assert_eq!(fs::read(&unlucky.location).expect("reading"), b"arrived first");
        assert_eq!(directory_entries(directory.path()), ["raced.sqlite", "shop.db", "taken.sqlite"]);
    }

    #[tokio::test]
    async fn a_dump_of_a_missing_sqlite_file_fails_with_a_clear_message() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let missing = DatabaseLocation::new(DatastoreKind::Sqlite, directory.path().join("nothing.db").to_string_lossy());
        let error = start_dump(&missing).await.err().expect("no dump");
        assert!(matches!(error, DatabaseError::NotFound(_)));
        assert!(error.to_string().contains("nothing.db"), "{error}");
        assert!(directory_entries(directory.path()).is_empty());
    }

    #[tokio::test]
    async fn an_abandoned_sqlite_load_or_dump_leaves_no_file_behind() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let source_path = directory.path().join("shop.db");
        create_sqlite_source(&source_path).await.close().await.expect("closing");
        let source = DatabaseLocation::new(DatastoreKind::Sqlite, source_path.to_string_lossy());
        let target = source.with_database_name("half").expect("a target");

        let mut dump = start_dump(&source).await.expect("a dump");
        let snapshot_path = snapshot_path(&dump);
        let mut load = start_load(&target).await.expect("a load");
        let mut buffer = vec![0u8; 1000];
        dump.read_exact(&mut buffer).expect("reading");
        load.write_all(&buffer).expect("writing");
        drop(load);
        drop(dump);

        assert!(!snapshot_path.exists());
        assert_eq!(directory_entries(directory.path()), ["shop.db"]);
    }

    #[tokio::test]
    async fn a_sqlite_load_of_bytes_that_are_not_a_database_is_refused() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let target = DatabaseLocation::new(DatastoreKind::Sqlite, directory.path().join("bogus.sqlite").to_string_lossy());
        let mut load = start_load(&target).await.expect("a load");
        load.write_all(b"CREATE TABLE t (id INTEGER);").expect("writing");
        let error = load.finish().expect_err("not a database");
        assert!(matches!(error, DatabaseError::InvalidDump { .. }), "{error}");
        assert!(directory_entries(directory.path()).is_empty());
    }

    #[tokio::test]
    async fn a_sqlite_dump_finished_before_the_end_is_an_error() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let source_path = directory.path().join("shop.db");
        create_sqlite_source(&source_path).await.close().await.expect("closing");
        let mut dump = start_dump(&DatabaseLocation::new(DatastoreKind::Sqlite, source_path.to_string_lossy())).await.expect("a dump");
        let mut header = [0u8; 16];
        dump.read_exact(&mut header).expect("reading");
        assert_eq!(&header[..], SQLITE_HEADER);
        assert!(matches!(dump.finish(), Err(DatabaseError::Unread(_))));
    }
}
