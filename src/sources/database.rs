//! The database-instance backup source: consistent logical dumps of SQLite, PostgreSQL and MySQL/MariaDB
//! databases as byte streams, and loads of such dumps into new databases.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::str::FromStr;
use std::thread::JoinHandle;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use url::Url;

const STDERR_TAIL: usize = 8 * 1024;
const STDERR_MARGIN: usize = 1024;
const MAX_NAME_BYTES: usize = 63;
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";
const MASK: &str = "***";
const PG_DUMP: &[&str] = &["pg_dump"];
const PSQL: &[&str] = &["psql"];
const MYSQL_DUMP: &[&str] = &["mariadb-dump", "mysqldump"];
const MYSQL_CLIENT: &[&str] = &["mariadb", "mysql"];
const PG_PARAMETERS: &[(&str, &str)] = &[
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("application_name", "PGAPPNAME"),
];

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

struct ServerUrl {
    url: Url,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    raw_password: Option<String>,
    database: String,
    parameters: Vec<(&'static str, String)>,
}

impl ServerUrl {
    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.password.iter().chain(self.raw_password.iter()).filter(|s| !s.is_empty()).cloned().collect();
        secrets.dedup();
        secrets
    }
}

impl DatabaseLocation {
    /// A location of the given kind.
    pub fn new(kind: DatastoreKind, location: impl Into<String>) -> Self {
        DatabaseLocation { kind, location: location.into() }
    }

    /// The same server, another database name (Sqlite: a sibling file `<name>.sqlite` in the same directory, or `name` itself if it is a path).
    pub fn with_database_name(&self, name: &str) -> Result<DatabaseLocation, DatabaseError> {
        match self.kind {
            DatastoreKind::Sqlite => {
                if name.is_empty() || name == "." || name == ".." || name.contains('\0') {
                    return Err(self.invalid(format!("{name:?} is not a usable SQLite database name")));
                }
                let path = Path::new(name);
                let target = if path.is_absolute() || name.contains('/') || name.contains(std::path::MAIN_SEPARATOR) {
                    path.to_path_buf()
                } else {
                    Path::new(&self.location).parent().unwrap_or_else(|| Path::new("")).join(format!("{name}.sqlite"))
                };
                Ok(DatabaseLocation { kind: self.kind, location: target.to_string_lossy().into_owned() })
            }
            DatastoreKind::Postgresql | DatastoreKind::Mysql => {
                let server = self.server_url()?;
                validate_server_name(name).map_err(|reason| self.invalid(reason))?;
                let mut url = server.url;
                url.set_path(&format!("/{}", percent_encode(name)));
                Ok(DatabaseLocation { kind: self.kind, location: url.to_string() })
            }
        }
    }

    /// The database name (Sqlite: the file stem).
    pub fn database_name(&self) -> Result<String, DatabaseError> {
        match self.kind {
            DatastoreKind::Sqlite => Path::new(&self.location)
                .file_stem()
                .and_then(|stem| stem.to_str())
                .filter(|stem| !stem.is_empty())
                .map(str::to_string)
                .ok_or_else(|| self.invalid("the path has no file name")),
            DatastoreKind::Postgresql | DatastoreKind::Mysql => Ok(self.server_url()?.database),
        }
    }

    /// Display form with any password replaced by ***.
    pub fn redacted(&self) -> String {
        if self.kind == DatastoreKind::Sqlite {
            return self.location.clone();
        }
        match Url::parse(&self.location) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some(MASK));
                }
                url.to_string()
            }
            Err(_) => redact_unparsed(&self.location),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> DatabaseError {
        DatabaseError::InvalidLocation { kind: self.kind, location: self.redacted(), reason: reason.into() }
    }

    fn server_url(&self) -> Result<ServerUrl, DatabaseError> {
        let schemes: &[&str] = match self.kind {
            DatastoreKind::Sqlite => return Err(self.invalid("a SQLite file has no server URL")),
            DatastoreKind::Postgresql => &["postgres", "postgresql"],
            DatastoreKind::Mysql => &["mysql", "mariadb"],
        };
        let url = Url::parse(&self.location).map_err(|e| self.invalid(format!("not a URL ({e})")))?;
        if !schemes.contains(&url.scheme()) {
            return Err(self.invalid(format!("the URL scheme must be {}", schemes.join(" or "))));
        }
        if url.fragment().is_some() {
            return Err(self.invalid("the URL must not have a fragment"));
        }
        let decode = |part: &str, what: &str| {
            percent_decode(part).ok_or_else(|| self.invalid(format!("the {what} is not valid percent-encoded UTF-8")))
        };
        let host = match url.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']')).filter(|h| !h.is_empty()) {
            Some(host) => Some(decode(host, "host")?),
            None => None,
        };
        let user = match url.username() {
            "" => None,
            user => Some(decode(user, "user name")?),
        };
        let password = match url.password() {
            Some(password) => Some(decode(password, "password")?),
            None => None,
        };
        let path = url.path().strip_prefix('/').unwrap_or(url.path());
        let database = decode(path, "database name")?;
        validate_server_name(&database).map_err(|reason| self.invalid(reason))?;
        let mut parameters = Vec::new();
        for (key, value) in url.query_pairs() {
            let known = match self.kind {
                DatastoreKind::Postgresql => PG_PARAMETERS.iter().find(|(name, _)| *name == key).map(|(_, env)| *env),
                _ => None,
            };
            match known {
                Some(env) => parameters.push((env, value.into_owned())),
                None => return Err(self.invalid(format!("unsupported URL parameter {key:?}"))),
            }
        }
        Ok(ServerUrl {
            host,
            port: url.port(),
            user,
            password,
            raw_password: url.password().map(str::to_string),
            database,
            parameters,
            url,
        })
    }
}

fn validate_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the URL names no database".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("the database name is longer than {MAX_NAME_BYTES} bytes"));
    }
    if name.starts_with('-') || name.ends_with(' ') || name.contains('/') || name.chars().any(char::is_control) {
        return Err(format!("{name:?} is not a usable database name"));
    }
    Ok(())
}

fn redact_unparsed(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = location[authority_start..].find(['/', '?', '#']).map_or(location.len(), |i| authority_start + i);
    let authority = &location[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return location.to_string();
    };
    match authority[..at].find(':') {
        Some(colon) => format!("{}{MASK}{}", &location[..authority_start + colon + 1], &location[authority_start + at..]),
        None => location.to_string(),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_string(), |text, secret| text.replace(secret.as_str(), MASK))
}

fn stderr_text(bytes: &[u8], secrets: &[String]) -> String {
    let text = scrub(String::from_utf8_lossy(bytes).trim(), secrets);
    if text.is_empty() {
        return "no output on stderr".to_string();
    }
    if text.len() <= STDERR_TAIL {
        return text;
    }
    let mut cut = text.len() - STDERR_TAIL;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &text[cut..])
}

fn quote_pg(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_mysql(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

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

struct ToolProcess {
    tool: &'static str,
    location: String,
    secrets: Vec<String>,
    child: Child,
    stderr: Option<JoinHandle<Vec<u8>>>,
    reaped: bool,
}

impl ToolProcess {
    fn spawn(
        candidates: &[&'static str],
        location: &DatabaseLocation,
        secrets: Vec<String>,
        build: impl Fn(&'static str) -> Command,
    ) -> Result<ToolProcess, DatabaseError> {
        for &tool in candidates {
            let mut command = build(tool);
            command.stderr(Stdio::piped());
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(format!("starting {tool}"))(e)),
            };
            let stderr = match child
                .stderr
                .take()
                .map(|pipe| std::thread::Builder::new().name(format!("{tool}-stderr")).spawn(|| read_tail(pipe)))
            {
                Some(Ok(handle)) => Some(handle),
                Some(Err(e)) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(io_error(format!("watching {tool}"))(e));
                }
                None => None,
            };
            return Ok(ToolProcess { tool, location: location.redacted(), secrets, child, stderr, reaped: false });
        }
        Err(DatabaseError::ToolMissing { tool: candidates.join(" or ") })
    }

    fn take_stdout(&mut self) -> Result<ChildStdout, DatabaseError> {
        self.child.stdout.take().ok_or_else(|| io_error(format!("reading from {}", self.tool))(io::ErrorKind::BrokenPipe.into()))
    }

    fn take_stdin(&mut self) -> Result<ChildStdin, DatabaseError> {
        self.child.stdin.take().ok_or_else(|| io_error(format!("writing to {}", self.tool))(io::ErrorKind::BrokenPipe.into()))
    }

    fn wait(&mut self) -> Result<(), DatabaseError> {
        let status = self.child.wait().map_err(io_error(format!("waiting for {}", self.tool)))?;
        self.reaped = true;
        let stderr = self.stderr.take().and_then(|handle| handle.join().ok()).unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(DatabaseError::ToolFailed {
            tool: self.tool.to_string(),
            location: self.location.clone(),
            status: status.to_string(),
            stderr: stderr_text(&stderr, &self.secrets),
        })
    }

    fn kill(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for ToolProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_tail(mut pipe: impl Read) -> Vec<u8> {
    let limit = STDERR_TAIL + STDERR_MARGIN;
    let mut tail = VecDeque::with_capacity(limit);
    let mut buffer = [0u8; 4096];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend(&buffer[..n]);
                let excess = tail.len().saturating_sub(limit);
                tail.drain(..excess);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    tail.into()
}

async fn run_client(candidates: &[&'static str], build: impl Fn(&'static str) -> Command) -> Result<(&'static str, Output), DatabaseError> {
    for &tool in candidates {
        let mut command = tokio::process::Command::from(build(tool));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        match command.output().await {
            Ok(output) => return Ok((tool, output)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(format!("running {tool}"))(e)),
        }
    }
    Err(DatabaseError::ToolMissing { tool: candidates.join(" or ") })
}

fn pg_command(program: &str, server: &ServerUrl) -> Command {
    let mut command = Command::new(program);
    for variable in ["PGSERVICE", "PGHOSTADDR", "PGDATABASE"] {
        command.env_remove(variable);
    }
    if let Some(host) = &server.host {
        command.env("PGHOST", host);
    }
    if let Some(port) = server.port {
        command.env("PGPORT", port.to_string());
    }
    if let Some(user) = &server.user {
        command.env("PGUSER", user);
    }
    if let Some(password) = &server.password {
        command.env("PGPASSWORD", password);
    }
    for (variable, value) in &server.parameters {
        command.env(variable, value);
    }
    command.env("PGDATABASE", &server.database);
    command
}

fn mysql_command(program: &str, server: &ServerUrl) -> Command {
    let mut command = Command::new(program);
    command.arg("--default-character-set=utf8mb4");
    if let Some(host) = &server.host {
        command.arg(format!("--host={host}"));
    }
    if let Some(port) = server.port {
        command.arg(format!("--port={port}"));
    }
    if let Some(user) = &server.user {
        command.arg(format!("--user={user}"));
    }
    if let Some(password) = &server.password {
        command.env("MYSQL_PWD", password);
    }
    command
}

/// A running, consistent dump. Reading it gives the dump bytes; `finish` waits for the dumper and reports failure.
///
/// Dropping it without `finish` kills the dumper and removes any snapshot file.
pub struct DumpStream {
    location: String,
    body: DumpBody,
}

enum DumpBody {
    Snapshot { file: File, snapshot: TempFile },
    Process { stdout: ChildStdout, process: ToolProcess },
}

impl Read for DumpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            DumpBody::Snapshot { file, .. } => file.read(buf),
            DumpBody::Process { stdout, .. } => stdout.read(buf),
        }
    }
}

impl DumpStream {
    /// Waits for the dumper and reports whether the dump is complete; call it after reading to the end (blocking).
    pub fn finish(self) -> Result<(), DatabaseError> {
        let DumpStream { location, body } = self;
        match body {
            DumpBody::Snapshot { mut file, snapshot } => {
                let unread = has_more(&mut file).map_err(io_error("reading the SQLite snapshot"))?;
                drop(file);
                snapshot.remove().map_err(io_error("removing the SQLite snapshot"))?;
                if unread { Err(DatabaseError::Unread(location)) } else { Ok(()) }
            }
            DumpBody::Process { mut stdout, mut process } => {
                let unread = has_more(&mut stdout);
                drop(stdout);
                match unread {
                    Ok(false) => process.wait(),
                    Ok(true) => {
                        process.kill();
                        Err(DatabaseError::Unread(location))
                    }
                    Err(e) => {
                        process.kill();
                        Err(io_error(format!("reading from {}", process.tool))(e))
                    }
                }
            }
        }
    }
}

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

/// Starts a consistent dump of `source`.
///
/// SQLite is snapshotted with `VACUUM INTO` a private temporary file whose bytes are a complete database file;
/// PostgreSQL is dumped by `pg_dump` as plain SQL without owners or privileges; MySQL/MariaDB by `mariadb-dump`
/// (or `mysqldump`) in a single transaction with routines, triggers and events, without `CREATE DATABASE`.
/// Passwords travel in the environment, never on a command line. The stream is read on a blocking thread.
pub async fn start_dump(source: &DatabaseLocation) -> Result<DumpStream, DatabaseError> {
    match source.kind {
        DatastoreKind::Sqlite => start_sqlite_dump(source).await,
        DatastoreKind::Postgresql => {
            let server = source.server_url()?;
            let mut process = ToolProcess::spawn(PG_DUMP, source, server.secrets(), |tool| {
                let mut command = pg_command(tool, &server);
                command.args(["--format=plain", "--no-owner", "--no-privileges", "--no-password"]);
                command.stdin(Stdio::null()).stdout(Stdio::piped());
                command
            })?;
            let stdout = process.take_stdout()?;
            Ok(DumpStream { location: source.redacted(), body: DumpBody::Process { stdout, process } })
        }
        DatastoreKind::Mysql => {
            let server = source.server_url()?;
            let mut process = ToolProcess::spawn(MYSQL_DUMP, source, server.secrets(), |tool| {
                let mut command = mysql_command(tool, &server);
                command.args(["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--no-tablespaces"]);
                command.arg(&server.database);
                command.stdin(Stdio::null()).stdout(Stdio::piped());
                command
            })?;
            let stdout = process.take_stdout()?;
            Ok(DumpStream { location: source.redacted(), body: DumpBody::Process { stdout, process } })
        }
    }
}

async fn start_sqlite_dump(source: &DatabaseLocation) -> Result<DumpStream, DatabaseError> {
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
    Ok(DumpStream { location: source.location.clone(), body: DumpBody::Snapshot { file, snapshot } })
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
    File { file: File, temp: TempFile, target: PathBuf, header: Vec<u8> },
    Process { stdin: Option<ChildStdin>, process: ToolProcess, failure: Option<DatabaseError> },
}

impl Write for LoadSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.body {
            LoadBody::File { file, header, .. } => {
                let written = file.write(buf)?;
                let wanted = SQLITE_HEADER.len().saturating_sub(header.len()).min(written);
                header.extend_from_slice(&buf[..wanted]);
                Ok(written)
            }
            LoadBody::Process { stdin, process, failure } => {
                if let Some(failure) = failure {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, failure.to_string()));
                }
                let Some(pipe) = stdin else {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, format!("{} is no longer reading", process.tool)));
                };
                match pipe.write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        *stdin = None;
                        let error = match process.wait() {
                            Err(error) => error,
                            Ok(()) => DatabaseError::ToolFailed {
                                tool: process.tool.to_string(),
                                location: process.location.clone(),
                                status: "exit status: 0".to_string(),
                                stderr: "it stopped reading before the end of the dump".to_string(),
                            },
                        };
                        let message = error.to_string();
                        *failure = Some(error);
                        Err(io::Error::new(io::ErrorKind::BrokenPipe, message))
                    }
                    other => other,
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.body {
            LoadBody::File { file, .. } => file.flush(),
            LoadBody::Process { stdin: Some(pipe), .. } => pipe.flush(),
            LoadBody::Process { .. } => Ok(()),
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
            LoadBody::File { mut file, temp, target, header } => {
                if header != SQLITE_HEADER {
                    return Err(DatabaseError::InvalidDump { location, reason: "it is not a SQLite database file".to_string() });
                }
                file.flush().map_err(io_error(format!("writing {}", temp.path.display())))?;
                file.sync_all().map_err(io_error(format!("syncing {}", temp.path.display())))?;
                drop(file);
                publish(temp, &target, &location)
            }
            LoadBody::Process { stdin, mut process, failure } => {
                if let Some(failure) = failure {
                    return Err(failure);
                }
                drop(stdin);
                process.wait()
            }
        }
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

/// Creates the NEW database `target` and starts loading into it; an existing target is refused with `AlreadyExists`.
///
/// SQLite is written to a temporary file beside the target; PostgreSQL gets `CREATE DATABASE … TEMPLATE template0`
/// and `psql -v ON_ERROR_STOP=1`; MySQL/MariaDB gets `CREATE DATABASE` and `mariadb` (or `mysql`) reading the dump.
/// The database the dump came from is never touched.
pub async fn start_load(target: &DatabaseLocation) -> Result<LoadSink, DatabaseError> {
    match target.kind {
        DatastoreKind::Sqlite => start_sqlite_load(target).await,
        DatastoreKind::Postgresql => {
            let server = target.server_url()?;
            create_pg_database(target, &server).await?;
            let spawned = ToolProcess::spawn(PSQL, target, server.secrets(), |tool| {
                let mut command = pg_command(tool, &server);
                command.args(["--no-psqlrc", "--quiet", "--no-password", "-v", "ON_ERROR_STOP=1"]);
                command.stdin(Stdio::piped()).stdout(Stdio::null());
                command
            });
            process_sink(target, spawned).await
        }
        DatastoreKind::Mysql => {
            let server = target.server_url()?;
            let statement = format!("CREATE DATABASE {}", quote_mysql(&server.database));
            let (tool, output) = run_mysql(&server, &statement).await?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                if stderr.contains("ERROR 1007") {
                    return Err(DatabaseError::AlreadyExists(target.redacted()));
                }
                return Err(client_failure(tool, target, &server, &output));
            }
            let spawned = ToolProcess::spawn(MYSQL_CLIENT, target, server.secrets(), |tool| {
                let mut command = mysql_command(tool, &server);
                command.arg(format!("--database={}", server.database));
                command.stdin(Stdio::piped()).stdout(Stdio::null());
                command
            });
            process_sink(target, spawned).await
        }
    }
}

async fn process_sink(target: &DatabaseLocation, spawned: Result<ToolProcess, DatabaseError>) -> Result<LoadSink, DatabaseError> {
    let stdin = spawned.and_then(|mut process| process.take_stdin().map(|stdin| (stdin, process)));
    match stdin {
        Ok((stdin, process)) => {
            Ok(LoadSink { location: target.redacted(), body: LoadBody::Process { stdin: Some(stdin), process, failure: None } })
        }
        Err(error) => {
            let _ = drop_database(target).await;
            Err(error)
        }
    }
}

async fn start_sqlite_load(target: &DatabaseLocation) -> Result<LoadSink, DatabaseError> {
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
        body: LoadBody::File { file, temp: TempFile { path: temp_path, armed: true }, target: path, header: Vec::new() },
    })
}

async fn run_mysql(server: &ServerUrl, statement: &str) -> Result<(&'static str, Output), DatabaseError> {
    run_client(MYSQL_CLIENT, |tool| {
        let mut command = mysql_command(tool, server);
        command.args(["--batch", "--skip-column-names", "-e", statement]);
        command
    })
    .await
}

fn client_failure(tool: &str, location: &DatabaseLocation, server: &ServerUrl, output: &Output) -> DatabaseError {
    DatabaseError::ToolFailed {
        tool: tool.to_string(),
        location: location.redacted(),
        status: output.status.to_string(),
        stderr: stderr_text(&output.stderr, &server.secrets()),
    }
}

async fn pg_maintenance(location: &DatabaseLocation, server: &ServerUrl) -> Result<PgConnection, DatabaseError> {
    let maintenance = if server.database == "postgres" { "template1" } else { "postgres" };
    let mut url = server.url.clone();
    url.set_path(&format!("/{maintenance}"));
    let options = PgConnectOptions::from_url(&url).map_err(|e| pg_error("reading the connection settings", location, server, e))?;
    PgConnection::connect_with(&options).await.map_err(|e| pg_error("connecting to the maintenance database", location, server, e))
}

fn pg_error(action: &str, location: &DatabaseLocation, server: &ServerUrl, error: sqlx::Error) -> DatabaseError {
    DatabaseError::Query {
        action: action.to_string(),
        location: location.redacted(),
        message: scrub(&error.to_string(), &server.secrets()),
    }
}

fn sql_state(error: &sqlx::Error) -> Option<String> {
    error.as_database_error().and_then(|e| e.code()).map(|code| code.into_owned())
}

async fn create_pg_database(target: &DatabaseLocation, server: &ServerUrl) -> Result<(), DatabaseError> {
    let mut connection = pg_maintenance(target, server).await?;
    let statement = format!("CREATE DATABASE {} TEMPLATE template0", quote_pg(&server.database));
    let created = sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut connection).await;
    let _ = connection.close().await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if sql_state(&e).as_deref() == Some("42P04") => Err(DatabaseError::AlreadyExists(target.redacted())),
        Err(e) => Err(pg_error("creating the database", target, server, e)),
    }
}

/// Drops a database created by [`start_load`] (used by tests and by failed restores): SQLite removes the file,
/// the servers get `DROP DATABASE` (PostgreSQL closing other sessions first). A missing database is `NotFound`.
pub async fn drop_database(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    match target.kind {
        DatastoreKind::Sqlite => {
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
        DatastoreKind::Postgresql => {
            let server = target.server_url()?;
            let mut connection = pg_maintenance(target, &server).await?;
            let name = quote_pg(&server.database);
            let mut dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut connection).await;
            if matches!(&dropped, Err(e) if sql_state(e).as_deref() == Some("42601")) {
                dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&mut connection).await;
            }
            let _ = connection.close().await;
            match dropped {
                Ok(_) => Ok(()),
                Err(e) if sql_state(&e).as_deref() == Some("3D000") => Err(DatabaseError::NotFound(target.redacted())),
                Err(e) => Err(pg_error("dropping the database", target, &server, e)),
            }
        }
        DatastoreKind::Mysql => {
            let server = target.server_url()?;
            let (tool, output) = run_mysql(&server, &format!("DROP DATABASE {}", quote_mysql(&server.database))).await?;
            if output.status.success() {
                return Ok(());
            }
            if String::from_utf8_lossy(&output.stderr).contains("ERROR 1008") {
                return Err(DatabaseError::NotFound(target.redacted()));
            }
            Err(client_failure(tool, target, &server, &output))
        }
    }
}

/// Creates a NEW, empty database at `target` (a new Cloud Databases instance); an existing one is refused.
pub async fn create_empty(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    match target.kind {
        DatastoreKind::Sqlite => {
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
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
    const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/mysql";

    const PG_FIXTURE: &str = r#"
        CREATE TABLE authors (id integer PRIMARY KEY, name text NOT NULL, bio text);
        CREATE TABLE books (
            id bigint PRIMARY KEY,
            author_id integer REFERENCES authors (id),
            title text,
            cover bytea,
            pages integer,
            published timestamptz
        );
        INSERT INTO authors VALUES
            (1, 'Zoë Ørsted', NULL),
            (2, '李白', 'poet 🌙'),
            (3, 'O''Brien', E'line one\nline two\ttabbed \\ backslash');
        INSERT INTO books VALUES
            (10, 1, 'Ünïcødé', '\x00ff10'::bytea, 321, '2024-02-29 13:37:00+00'),
            (11, 2, NULL, NULL, NULL, NULL),
            (12, 3, 'Ends with a backslash \', decode('deadbeef00', 'hex'), -2147483648, '1999-12-31 23:59:59.999999+00');
    "#;

    const MYSQL_FIXTURE: &str = r#"
        CREATE TABLE authors (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, bio TEXT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        CREATE TABLE books (
            id BIGINT PRIMARY KEY,
            author_id INT NULL,
            title VARCHAR(200) NULL,
            cover BLOB NULL,
            pages INT NULL,
            published TIMESTAMP NULL DEFAULT NULL,
            FOREIGN KEY (author_id) REFERENCES authors (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        INSERT INTO authors VALUES
            (1, 'Zoë Ørsted', NULL),
            (2, '李白', 'poet 🌙'),
            (3, 'O''Brien', 'line one\nline two\ttabbed \\ backslash');
        INSERT INTO books VALUES
            (10, 1, 'Ünïcødé', X'00FF10', 321, '2024-02-29 13:37:00'),
            (11, 2, NULL, NULL, NULL, NULL),
            (12, 3, 'Ends with a backslash \\', X'DEADBEEF00', -2147483648, '1999-12-31 23:59:59');
        CREATE TRIGGER books_default_pages BEFORE INSERT ON books FOR EACH ROW SET NEW.pages = COALESCE(NEW.pages, 0);
        CREATE PROCEDURE count_books() SELECT COUNT(*) FROM books;
        CREATE EVENT forget_nothing ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM books WHERE id < 0;
    "#;

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

    fn unique_name(prefix: &str) -> String {
        format!("coffer_{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
    }

    fn pg_admin() -> DatabaseLocation {
        DatabaseLocation::new(DatastoreKind::Postgresql, std::env::var("COFFER_TEST_PG_ADMIN_URL").unwrap_or_else(|_| PG_ADMIN.to_string()))
    }

    fn mysql_admin() -> DatabaseLocation {
        DatabaseLocation::new(
            DatastoreKind::Mysql,
            std::env::var("COFFER_TEST_MYSQL_ADMIN_URL").unwrap_or_else(|_| MYSQL_ADMIN.to_string()),
        )
    }

    fn server_is_up(admin: &DatabaseLocation) -> bool {
        let server = admin.server_url().expect("a server URL");
        let default_port = if admin.kind == DatastoreKind::Postgresql { 5432 } else { 3306 };
        let host = server.host.clone().unwrap_or_else(|| "127.0.0.1".to_string());
        let address = format!("{host}:{}", server.port.unwrap_or(default_port));
        let reachable = address
            .to_socket_addrs()
            .map(|mut addresses| addresses.any(|socket| TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok()))
            .unwrap_or(false);
        let what = if admin.kind == DatastoreKind::Postgresql { "PostgreSQL" } else { "MariaDB/MySQL" };
        if !reachable {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{what} at {address} is not reachable and CI=true");
            println!("SKIPPED: {what} at {address} is not reachable");
        }
        reachable
    }

    fn with_some_password(location: DatabaseLocation, fallback: &str) -> (DatabaseLocation, String) {
        let mut url = Url::parse(&location.location).expect("a URL");
        let password = match url.password() {
            Some(password) => percent_decode(password).expect("a password"),
            None => {
                url.set_password(Some(fallback)).expect("a password can be set");
                fallback.to_string()
            }
        };
        (DatabaseLocation::new(location.kind, url.to_string()), password)
    }

    async fn copy_dump(source: &DatabaseLocation, target: &DatabaseLocation) -> Result<(), DatabaseError> {
        let dump = start_dump(source).await?;
        let load = start_load(target).await?;
        tokio::task::spawn_blocking(move || pipe(dump, load)).await.expect("the copy thread panicked")
    }

    fn pipe(mut dump: DumpStream, mut load: LoadSink) -> Result<(), DatabaseError> {
        io::copy(&mut dump, &mut load).map_err(io_error("copying the dump"))?;
        dump.finish()?;
        load.finish()
    }

    async fn read_all(dump: DumpStream) -> (Vec<u8>, Result<(), DatabaseError>) {
        tokio::task::spawn_blocking(move || {
            let mut dump = dump;
            let mut bytes = Vec::new();
            match dump.read_to_end(&mut bytes) {
                Ok(_) => (bytes, dump.finish()),
                Err(e) => (bytes, Err(io_error("reading the dump")(e))),
            }
        })
        .await
        .expect("the reading thread panicked")
    }

    #[derive(Default)]
    struct Cleanup {
        postgres: Vec<String>,
        mariadb: Vec<String>,
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            if !self.postgres.is_empty() {
                let admin = pg_admin().server_url().expect("a server URL");
                for name in &self.postgres {
                    let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_pg(name));
                    let _ = pg_command("psql", &admin).args(["-X", "-q", "-w", "-c", &statement]).output();
                }
            }
            if !self.mariadb.is_empty() {
                let admin = mysql_admin().server_url().expect("a server URL");
                for name in &self.mariadb {
                    let statement = format!("DROP DATABASE IF EXISTS {}", quote_mysql(name));
                    let _ = mysql_command("mariadb", &admin).args(["-e", &statement]).output();
                }
            }
        }
    }

    fn pg_location(name: &str) -> DatabaseLocation {
        pg_admin().with_database_name(name).expect("a postgres location")
    }

    async fn pg_connect(location: &DatabaseLocation) -> PgConnection {
        PgConnection::connect(&location.location).await.expect("connecting to postgres")
    }

    async fn pg_execute(location: &DatabaseLocation, sql: String) {
        let mut connection = pg_connect(location).await;
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut connection).await.expect("running SQL on postgres");
        connection.close().await.expect("closing");
    }

    async fn create_pg_source(name: &str, cleanup: &mut Cleanup, fixture: &str) -> DatabaseLocation {
        cleanup.postgres.push(name.to_string());
        pg_execute(&pg_location("postgres"), format!("CREATE DATABASE {}", quote_pg(name))).await;
        let location = pg_location(name);
        pg_execute(&location, fixture.to_string()).await;
        location
    }

    async fn pg_rows(location: &DatabaseLocation) -> Vec<String> {
        let mut connection = pg_connect(location).await;
        let mut rows = Vec::new();
        for table in ["authors", "books"] {
            let sql = format!("SELECT coalesce(json_agg(t ORDER BY t.id)::text, '[]') FROM {table} t");
            rows.push(sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).fetch_one(&mut connection).await.expect("reading rows"));
        }
        connection.close().await.expect("closing");
        rows
    }

    fn mariadb(database: Option<&str>, sql: &str) -> String {
        let mut command = mysql_command("mariadb", &mysql_admin().server_url().expect("a server URL"));
        command.args(["--batch", "--skip-column-names"]);
        if let Some(database) = database {
            command.arg(format!("--database={database}"));
        }
        let output = command.arg("-e").arg(sql).output().expect("running mariadb");
        assert!(output.status.success(), "mariadb failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    fn mysql_location(name: &str) -> DatabaseLocation {
        mysql_admin().with_database_name(name).expect("a mysql location")
    }

    fn mariadb_contents(name: &str) -> Vec<String> {
        vec![
            mariadb(Some(name), "SELECT id, name, bio FROM authors ORDER BY id"),
            mariadb(Some(name), "SELECT id, author_id, title, HEX(cover), pages, published FROM books ORDER BY id"),
            mariadb(None, &format!("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{name}'")),
            mariadb(None, &format!("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{name}'")),
            mariadb(None, &format!("SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '{name}'")),
        ]
    }

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

    #[test]
    fn a_redacted_location_hides_the_password() {
        let location = DatabaseLocation::new(DatastoreKind::Postgresql, "postgres://app:s%40cret@db.example:5432/shop");
        assert_eq!(location.redacted(), "postgres://app:***@db.example:5432/shop");
        assert!(!format!("{location:?}").contains("cret"));
        let unparsable = DatabaseLocation::new(DatastoreKind::Mysql, "mysql://root:hunter2@[bad/shop");
        assert!(!unparsable.redacted().contains("hunter2"), "{}", unparsable.redacted());
        assert_eq!(
            DatabaseLocation::new(DatastoreKind::Mysql, "mysql://root@127.0.0.1:3306/shop").redacted(),
            "mysql://root@127.0.0.1:3306/shop"
        );
    }

    #[test]
    fn another_database_name_keeps_the_server_and_credentials() {
        let source = DatabaseLocation::new(DatastoreKind::Postgresql, "postgres://app:pw@127.0.0.1:5432/shop?sslmode=disable");
        let target = source.with_database_name("shop restored").expect("a new name");
        assert_eq!(target.location, "postgres://app:pw@127.0.0.1:5432/shop%20restored?sslmode=disable");
        assert_eq!(target.database_name().expect("a name"), "shop restored");
        assert_eq!(source.database_name().expect("a name"), "shop");
        let mysql = DatabaseLocation::new(DatastoreKind::Mysql, "mysql://root@127.0.0.1:3306/shop")
            .with_database_name("shop_copy")
            .expect("a name");
        assert_eq!(mysql.location, "mysql://root@127.0.0.1:3306/shop_copy");
        assert!(source.with_database_name("-c").is_err());
        assert!(source.with_database_name("").is_err());
    }

    #[test]
    fn a_sqlite_location_names_a_sibling_file_or_takes_a_path() {
        let source = DatabaseLocation::new(DatastoreKind::Sqlite, "/var/lib/app/main.db");
        assert_eq!(source.database_name().expect("a stem"), "main");
        assert_eq!(source.with_database_name("restored").expect("a sibling").location, "/var/lib/app/restored.sqlite");
        assert_eq!(source.with_database_name("/srv/other.db").expect("a path").location, "/srv/other.db");
        assert_eq!(
            DatabaseLocation::new(DatastoreKind::Sqlite, "main.db").with_database_name("copy").expect("a sibling").location,
            "copy.sqlite"
        );
    }

    #[test]
    fn unusable_locations_are_rejected_without_revealing_the_password() {
        for location in [
            "mysql://app:hunter2@127.0.0.1/shop",
            "postgres://app:hunter2@127.0.0.1/",
            "postgres://app:hunter2@127.0.0.1/shop?host=elsewhere",
            "not a url hunter2",
        ] {
            let error = DatabaseLocation::new(DatastoreKind::Postgresql, location).database_name().expect_err("an invalid location");
            assert!(matches!(error, DatabaseError::InvalidLocation { .. }), "{error}");
            if location.contains("://") {
                assert!(!error.to_string().contains("hunter2"), "{error}");
            }
        }
    }

    #[test]
    fn a_long_tool_error_keeps_its_end_without_the_password() {
        let mut stderr = "x".repeat(3 * STDERR_TAIL).into_bytes();
        stderr.extend_from_slice("password hunter2 rejected — fatal".as_bytes());
        let text = stderr_text(&stderr, &["hunter2".to_string()]);
        assert!(text.len() <= STDERR_TAIL + "…".len());
        assert!(text.ends_with("password *** rejected — fatal"), "{text}");
        assert_eq!(stderr_text(b"  \n", &[]), "no output on stderr");
    }

    #[tokio::test]
    async fn a_sqlite_dump_loads_into_a_new_database_with_the_same_rows() {
        let directory = tempfile::tempdir().expect("a temp dir");
        let source_path = directory.path().join("shop.db");
        let writer = create_sqlite_source(&source_path).await;
        let source = DatabaseLocation::new(DatastoreKind::Sqlite, source_path.to_string_lossy());
        let target = source.with_database_name("shop_restored").expect("a target");

        let dump = start_dump(&source).await.expect("a dump");
        let DumpBody::Snapshot { snapshot, .. } = &dump.body else { panic!("a sqlite dump is a snapshot") };
        let snapshot_path = snapshot.path.clone();
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
        let DumpBody::Snapshot { snapshot, .. } = &dump.body else { panic!("a sqlite dump is a snapshot") };
        let snapshot_path = snapshot.path.clone();
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

    #[tokio::test]
    async fn a_postgresql_dump_loads_into_a_new_database_with_the_same_rows() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = Cleanup::default();
        let source = create_pg_source(&unique_name("pg_src"), &mut cleanup, PG_FIXTURE).await;
        let target_name = unique_name("pg_dst");
        cleanup.postgres.push(target_name.clone());
        let target = source.with_database_name(&target_name).expect("a target");

        copy_dump(&source, &target).await.expect("the copy succeeds");

        let rows = pg_rows(&source).await;
        assert!(rows[0].contains("李白") && rows[1].contains("\\\\x00ff10"), "{rows:?}");
        assert_eq!(pg_rows(&target).await, rows);
        drop_database(&target).await.expect("dropping the target");
        drop_database(&source).await.expect("dropping the source");
        assert!(matches!(drop_database(&target).await, Err(DatabaseError::NotFound(_))));
    }

    #[tokio::test]
    async fn loading_into_an_existing_postgresql_database_is_refused() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = Cleanup::default();
        let existing = create_pg_source(&unique_name("pg_taken"), &mut cleanup, PG_FIXTURE).await;
        let before = pg_rows(&existing).await;

        let error = start_load(&existing).await.err().expect("refused");
        assert!(matches!(error, DatabaseError::AlreadyExists(_)), "{error}");
        assert_eq!(pg_rows(&existing).await, before);
        drop_database(&existing).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_postgresql_dump_of_a_missing_database_fails_with_pg_dump_stderr_and_no_password() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let name = unique_name("pg_missing");
        let (source, password) = with_some_password(pg_location(&name), "Sup3rS3cretPw");
        let dump = start_dump(&source).await.expect("pg_dump starts");
        let (bytes, result) = read_all(dump).await;
        assert!(bytes.is_empty());
        let error = result.expect_err("pg_dump fails");
        let message = error.to_string();
        assert!(matches!(error, DatabaseError::ToolFailed { .. }), "{message}");
        assert!(message.contains("pg_dump") && message.contains("does not exist") && message.contains(&name), "{message}");
        assert!(message.contains(":***@") && !message.contains(&password), "{message}");
    }

    #[tokio::test]
    async fn a_failing_postgresql_load_reports_psql_stderr() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = Cleanup::default();
        let name = unique_name("pg_bad");
        cleanup.postgres.push(name.clone());
        let (target, password) = with_some_password(pg_location(&name), "An0therPw");
        let mut load = start_load(&target).await.expect("a load");
        let error = tokio::task::spawn_blocking(move || {
            load.write_all(b"CREATE TABLE fine (id integer);\nTHIS IS NOT SQL;\nCREATE TABLE never (id integer);\n")?;
            load.finish().map_err(io::Error::other)
        })
        .await
        .expect("no panic")
        .expect_err("psql fails");
        let message = error.to_string();
        assert!(message.contains("psql") && message.contains("syntax error"), "{message}");
        assert!(!message.contains(&password), "{message}");
        drop_database(&target).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_dropped_postgresql_dump_leaves_no_process_behind() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = Cleanup::default();
        let fixture = "CREATE TABLE big (id integer PRIMARY KEY, body text); INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;";
        let source = create_pg_source(&unique_name("pg_big"), &mut cleanup, fixture).await;
        let mut dump = start_dump(&source).await.expect("a dump");
        let DumpBody::Process { process, .. } = &dump.body else { panic!("a postgres dump is a process") };
        let pid = process.child.id();
        let mut buffer = vec![0u8; 4096];
        dump.read_exact(&mut buffer).expect("reading");
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        drop(dump);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pg_dump {pid} was not reaped");
        drop_database(&source).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_mariadb_dump_loads_into_a_new_database_with_the_same_rows_triggers_routines_and_events() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let mut cleanup = Cleanup::default();
        let source_name = unique_name("my_src");
        let target_name = unique_name("my_dst");
        cleanup.mariadb.extend([source_name.clone(), target_name.clone()]);
        mariadb(None, &format!("CREATE DATABASE {source_name}"));
        mariadb(Some(&source_name), MYSQL_FIXTURE);
        let source = mysql_location(&source_name);
        let target = mysql_location(&target_name);

        copy_dump(&source, &target).await.expect("the copy succeeds");

        let expected = mariadb_contents(&source_name);
        assert!(expected[0].contains("李白") && expected[1].contains("DEADBEEF00") && expected[2].trim() == "1", "{expected:?}");
        assert_eq!(mariadb_contents(&target_name), expected);
        drop_database(&target).await.expect("dropping the target");
        drop_database(&source).await.expect("dropping the source");
        assert!(matches!(drop_database(&target).await, Err(DatabaseError::NotFound(_))));
    }

    #[tokio::test]
    async fn loading_into_an_existing_mariadb_database_is_refused() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let mut cleanup = Cleanup::default();
        let name = unique_name("my_taken");
        cleanup.mariadb.push(name.clone());
        mariadb(None, &format!("CREATE DATABASE {name}"));
        mariadb(Some(&name), MYSQL_FIXTURE);
        let before = mariadb_contents(&name);

        let error = start_load(&mysql_location(&name)).await.err().expect("refused");
        assert!(matches!(error, DatabaseError::AlreadyExists(_)), "{error}");
        assert_eq!(mariadb_contents(&name), before);
        drop_database(&mysql_location(&name)).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_mariadb_dump_of_a_missing_database_fails_with_a_clear_message() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let name = unique_name("my_missing");
        let dump = start_dump(&mysql_location(&name)).await.expect("the dumper starts");
        let (_, result) = read_all(dump).await;
        let message = result.expect_err("the dump fails").to_string();
        assert!(message.contains("dump") && message.contains("Unknown database") && message.contains(&name), "{message}");
    }

    #[tokio::test]
    async fn a_mariadb_login_failure_does_not_reveal_the_password() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let mut url = Url::parse(&mysql_admin().location).expect("a URL");
        url.set_password(Some("Wr0ngPassw0rd")).expect("a password can be set");
        let location = DatabaseLocation::new(DatastoreKind::Mysql, url.to_string());
        let (_, result) = read_all(start_dump(&location).await.expect("the dumper starts")).await;
        let message = result.expect_err("access is denied").to_string();
        assert!(message.contains("Access denied") && message.contains(":***@"), "{message}");
        assert!(!message.contains("Wr0ngPassw0rd"), "{message}");

        let target = location.with_database_name(&unique_name("my_denied")).expect("a target");
        let message = start_load(&target).await.err().expect("access is denied").to_string();
        assert!(message.contains("Access denied") && !message.contains("Wr0ngPassw0rd"), "{message}");
    }
}
