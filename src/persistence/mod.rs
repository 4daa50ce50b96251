//! Everything that touches the database: connection, migrations, entities and the queries the
//! rest of the crate calls. Nothing outside this module imports sea-orm.

pub mod aliases;
pub mod catalog;
pub mod entities;
pub mod identity;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, SqlErr};
pub use sea_orm::{ConnectionTrait, TransactionTrait};

pub use crate::config::SqliteSync;
use crate::error::CoreError;

/// The database handle shared by the whole process.
pub type Db = DatabaseConnection;

/// Whether a text can be stored and compared by every backend: PostgreSQL refuses NUL in text, so
/// a name holding one names nothing (and must not reach the query as an error).
pub(crate) fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Connects to `url` (sqlite:// or postgres://) with quiet statement logging, SQLite committing
/// with `synchronous=NORMAL` (see [`SqliteSync`]).
pub async fn connect(url: &str) -> Result<Db, CoreError> {
    connect_with(url, SqliteSync::default()).await
}

/// [`connect`] with SQLite's commits synced as `sync` says.
pub async fn connect_with(url: &str, sync: SqliteSync) -> Result<Db, CoreError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        opts.max_connections(8);
        opts.map_sqlx_sqlite_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| {
                Box::pin(async move {
                    let mut handle = conn.lock_handle().await?;
                    #[allow(unsafe_code)]
                    // SAFETY: the handle is locked out of sqlx's worker for this call, and the
                    // handler is a plain function that keeps no pointer.
                    unsafe {
                        libsqlite3_sys::sqlite3_busy_handler(handle.as_raw_handle().as_ptr(), Some(wait_briefly), std::ptr::null_mut())
                    };
                    drop(handle);
                    // Syncing at checkpoints keeps the file consistent only with a WAL; a file that
                    // cannot have one (or memory) syncs every commit.
                    let mode: String = sqlx::query_scalar("PRAGMA journal_mode=WAL").fetch_one(&mut *conn).await?;
                    let sync = if mode.eq_ignore_ascii_case("wal") { sync } else { SqliteSync::Full };
                    sqlx::Executor::execute(&mut *conn, sync.pragma()).await?;
                    Ok(())
                })
            })
        });
    } else {
        opts.max_connections(16);
    }
    let db = Database::connect(opts)
        .await
        .map_err(|e| CoreError::Unavailable(format!("cannot open database {}: {e}", crate::config::redact_url(url))))?;
    Ok(db)
}

impl SqliteSync {
    fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Normal => "PRAGMA synchronous=NORMAL",
            SqliteSync::Full => "PRAGMA synchronous=FULL",
        }
    }
}

/// Makes every commit so far survive a power loss, whatever [`SqliteSync`] is in force, by
/// syncing SQLite's log and database file as a commit under `full` would (a checkpoint that
/// backfills frames syncs the database file before the log is reused, so a commit no longer in
/// the log is in the file). It takes no lock, so writers never queue behind it. PostgreSQL syncs
/// every commit already. Called after the commit: a failure is logged, since the change itself
/// is made and its caller's clean-up must still run.
pub async fn make_durable(db: &Db) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    if let Err(e) = sync_sqlite_files(db).await {
        tracing::warn!(error = %e, "a commit that should outlive a power loss could not be synced to the disk");
    }
}

async fn sync_sqlite_files(db: &Db) -> anyhow::Result<()> {
    let row = db.query_one_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, "PRAGMA database_list")).await?;
    let file: String = match row {
        Some(row) => row.try_get_by_index(2)?,
        None => return Ok(()),
    };
    if file.is_empty() {
        return Ok(()); // in memory
    }
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        for path in [format!("{file}-wal"), file] {
            match std::fs::File::open(&path) {
                Ok(f) => f.sync_all()?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
    .await??;
    Ok(())
}

/// How a SQLite connection waits for another's write lock: in steps of 100 µs for the first
/// 5 ms, then of 1 ms, for about 5 s in all (then the statement fails as busy). SQLite's own
/// handler waits 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms between tries, so
/// under concurrent writes a writer slept up to 100 ms past the moment the lock was free: 32
/// clients creating plans at once got 490 answers/s with a p99 of 190 ms, where 4 got 740/s.
/// Runs on sqlx's thread for the connection, which does nothing else meanwhile.
extern "C" fn wait_briefly(_: *mut std::ffi::c_void, tries: std::ffi::c_int) -> std::ffi::c_int {
    const SHORT: std::ffi::c_int = 50;
    const ALL: std::ffi::c_int = SHORT + 4_995;
    if tries >= ALL {
        return 0;
    }
    std::thread::sleep(Duration::from_micros(if tries < SHORT { 100 } else { 1_000 }));
    1
}

/// Brings the schema up to date; the same migrations serve SQLite and PostgreSQL.
pub async fn migrate(db: &Db) -> Result<(), CoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Answers whether the database is reachable (for `/readyz`).
pub async fn ping(db: &Db) -> bool {
    db.ping().await.is_ok()
}

/// Creates database `name` on the PostgreSQL server `admin_url` points at and answers its URL.
/// Used by tests (a fresh database per test) and by operators preparing a scale-out database.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String, CoreError> {
    check_identifier(name)?;
    let admin = connect(admin_url).await?;
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
    admin.close().await.ok();
    let mut url = url::Url::parse(admin_url).map_err(|e| CoreError::BadRequest(format!("bad database URL: {e}")))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Drops database `name`, disconnecting whoever still uses it.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<(), CoreError> {
    check_identifier(name)?;
    let admin = connect(admin_url).await?;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
    admin.close().await.ok();
    Ok(())
}

fn check_identifier(name: &str) -> Result<(), CoreError> {
    if name.is_empty() || name.len() > 63 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(CoreError::BadRequest(format!("'{name}' is not a plain database name")));
    }
    Ok(())
}

impl From<DbErr> for CoreError {
    fn from(err: DbErr) -> Self {
        // Every pooled connection stayed busy past the acquire timeout: overload, not a fault of
        // the request; the client may retry (503), and nothing was written.
        if matches!(err, DbErr::ConnectionAcquire(_)) {
            tracing::warn!(error = %err, "no database connection became free in time");
            return CoreError::Unavailable("the database is busy; retry shortly".into());
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => CoreError::Conflict("an object with this name already exists".into()),
            _ => CoreError::Internal(anyhow::Error::new(err).context("database")),
        }
    }
}

/// Columns no cached answer shows, whose updates are not counted as writes: an agent's last-seen
/// time is written every few seconds per agent, and counting it would make every kept listing
/// stale that often (no backup listing shows whether an agent is up).
const UNCOUNTED: &[(&str, &str)] = &[("agents", "last_seen_at")];

/// Makes SQLite count committed writes in one row (`coffer_writes`) that a trigger on every table
/// keeps, so an answer computed at count `n` is known to be stale once the count moves: after a
/// write by any process sharing the file, and never before the writer committed (the count commits
/// with the write). Updates of only [`UNCOUNTED`] columns are not counted. Tables and columns of
/// later migrations are counted from the next start. Answers whether writes are counted: on
/// PostgreSQL they are not (one counted row would serialise every writer of a scale-out), and
/// cached answers are off there.
pub async fn count_writes(db: &Db) -> Result<bool, CoreError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(false);
    }
    let rows = |sql: String| db.query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, sql));
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS coffer_writes (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)").await?;
    db.execute_unprepared("INSERT OR IGNORE INTO coffer_writes (id, n) VALUES (1, 0)").await?;
    let tables = rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT IN ('coffer_writes', 'seaql_migrations')"
            .into(),
    )
    .await?;
    const COUNT: &str = "BEGIN UPDATE coffer_writes SET n = n + 1 WHERE id = 1; END";
    for row in tables {
        let table: String = row.try_get("", "name")?;
        check_identifier(&table)?;
        for op in ["INSERT", "DELETE"] {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER IF NOT EXISTS \"coffer_writes_{table}_{op}\" AFTER {op} ON \"{table}\" {COUNT}"
            ))
            .await?;
        }
        let uncounted: Vec<&str> = UNCOUNTED.iter().filter(|(t, _)| *t == table).map(|(_, c)| *c).collect();
        if uncounted.is_empty() {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER IF NOT EXISTS \"coffer_writes_{table}_UPDATE\" AFTER UPDATE ON \"{table}\" {COUNT}"
            ))
            .await?;
            continue;
        }
        // `UPDATE OF` the other columns, made again at every start so that new columns count.
        let mut counted = Vec::new();
        for column in rows(format!("SELECT name FROM pragma_table_info('{table}')")).await? {
            let column: String = column.try_get("", "name")?;
            check_identifier(&column)?;
            if !uncounted.contains(&column.as_str()) {
                counted.push(format!("\"{column}\""));
            }
        }
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!("DROP TRIGGER IF EXISTS \"coffer_writes_{table}_UPDATE\"")).await?;
        txn.execute_unprepared(&format!("DROP TRIGGER IF EXISTS \"coffer_writes_{table}_UPDATE_OF\"")).await?;
        txn.execute_unprepared(&format!(
            "CREATE TRIGGER \"coffer_writes_{table}_UPDATE_OF\" AFTER UPDATE OF {} ON \"{table}\" {COUNT}",
            counted.join(", ")
        ))
        .await?;
        txn.commit().await?;
    }
    Ok(true)
}

/// The count of committed writes [`count_writes`] keeps.
pub async fn writes(db: &Db) -> Result<i64, CoreError> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, "SELECT n FROM coffer_writes WHERE id = 1"))
        .await?
        .ok_or_else(|| CoreError::internal(anyhow::anyhow!("coffer_writes has no row")))?;
    Ok(row.try_get("", "n")?)
}

/// Tells every server sharing this PostgreSQL database `message` on `channel` (delivered when the
/// caller's write has committed, as it has by the time this runs). Nothing on SQLite: one process
/// serves it.
pub async fn announce(db: &Db, channel: &str, message: &str) -> Result<(), CoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [channel.into(), message.into()],
    ))
    .await?;
    Ok(())
}

/// What a server following a channel hears.
pub enum Heard {
    Message(String),
    /// The connection dropped and was made again: messages may have been missed.
    Gap,
}

/// Follows `channel` on PostgreSQL until `shutdown`, handing every message to `hear`; returns at
/// once on SQLite. A lost connection is retried every second and reported as a [`Heard::Gap`].
pub async fn follow(db: &Db, channel: &str, shutdown: tokio_util::sync::CancellationToken, hear: impl Fn(Heard)) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    while !shutdown.is_cancelled() {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(channel, error = %e, "cannot listen to other servers; retrying");
                tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
            }
        };
        if let Err(e) = listener.listen(channel).await {
            tracing::warn!(channel, error = %e, "cannot listen to other servers; retrying");
            tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
        }
        // Whatever was said before the listener was in place is unknown.
        hear(Heard::Gap);
        loop {
            let next = tokio::select! { _ = shutdown.cancelled() => return, next = listener.try_recv() => next };
            match next {
                Ok(Some(n)) => hear(Heard::Message(n.payload().to_owned())),
                Ok(None) => hear(Heard::Gap),
                Err(e) => {
                    tracing::warn!(channel, error = %e, "lost the channel to other servers; listening again");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::{SqliteSync, catalog, connect, connect_with, count_writes, identity, make_durable, migrate, writes};

    async fn synchronous(db: &super::Db) -> i64 {
        let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA synchronous")).await.unwrap().unwrap();
        row.try_get_by_index(0).unwrap()
    }

    #[tokio::test]
    async fn sqlite_commits_sync_as_configured_and_at_every_commit_where_there_is_no_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let url = |name: &str| format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
        let full = connect_with(&url("full.db"), SqliteSync::Full).await.unwrap();
        assert_eq!(synchronous(&full).await, 2, "FULL");
        let db = connect(&url("w.db")).await.unwrap();
        assert_eq!(synchronous(&db).await, 1, "NORMAL by default");

        migrate(&db).await.unwrap();
        identity::create_tenant(&db, "kept").await.unwrap();
        assert!(dir.path().join("w.db-wal").exists(), "the database runs with a write-ahead log");
        // What a power loss would keep cannot be observed here; that syncing the files works can.
        make_durable(&db).await;
        assert!(super::sync_sqlite_files(&db).await.is_ok());
        let memory = connect("sqlite::memory:").await.unwrap();
        assert_eq!(synchronous(&memory).await, 2, "no log in memory: FULL");
        assert!(super::sync_sqlite_files(&memory).await.is_ok());
    }

    #[tokio::test]
    async fn an_agent_heard_from_again_is_written_once_per_freshness_and_its_last_seen_time_is_not_counted_as_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = connect(&format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display())).await.unwrap();
        migrate(&db).await.unwrap();
        assert!(count_writes(&db).await.unwrap());
        // Counting is set up again at every start: the second time must not fail or double count.
        assert!(count_writes(&db).await.unwrap());
        let tenant = identity::create_tenant(&db, "t").await.unwrap();
        let agent = catalog::get_or_create_agent(&db, tenant.id, "a1", "host-1").await.unwrap();
        let seen = |db| async move { catalog::agent_by_name(db, tenant.id, "a1").await.unwrap().unwrap().last_seen_at };

        let before = writes(&db).await.unwrap();
        catalog::touch_agent(&db, agent.id, Duration::seconds(5)).await.unwrap();
        let first = seen(&db).await.expect("never seen: written");
        catalog::touch_agent(&db, agent.id, Duration::seconds(5)).await.unwrap();
        assert_eq!(seen(&db).await, Some(first), "seen just now: not written again");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        catalog::touch_agent(&db, agent.id, Duration::milliseconds(10)).await.unwrap();
        assert!(seen(&db).await > Some(first), "older than the freshness asked: written");
        assert_eq!(writes(&db).await.unwrap(), before, "last-seen times are not counted");

        catalog::set_agent_hostname(&db, agent.id, "host-2").await.unwrap();
        assert_eq!(writes(&db).await.unwrap(), before + 1, "a new hostname is written and counted");
    }
}
