//! Advisory locks that serialise work among servers sharing one PostgreSQL database.

use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

use crate::{error::CoreResult, persistence::Db};

/// Serialises the check-then-record of starting operations across every server sharing the
/// database: on PostgreSQL a transaction holding an advisory lock (released when the guard is
/// committed or dropped); on SQLite one process serves the database and its own mutex suffices.
pub async fn lock_starts(db: &Db) -> CoreResult<Option<sea_orm::DatabaseTransaction>> {
    advisory_lock(db, START_LOCK).await
}

/// Serialises what a server does once at start (migrations, the first admin, the server's
/// destination) among servers starting together on one PostgreSQL database; `None` on SQLite.
pub async fn lock_startup(db: &Db) -> CoreResult<Option<sea_orm::DatabaseTransaction>> {
    advisory_lock(db, START_LOCK + 1).await
}

/// A transaction holding PostgreSQL advisory lock `key` until it ends; `None` on SQLite.
async fn advisory_lock(db: &Db, key: i64) -> CoreResult<Option<sea_orm::DatabaseTransaction>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})")).await?;
    Ok(Some(txn))
}

/// The advisory lock key of `lock_starts` ("coffer" in ASCII).
const START_LOCK: i64 = 0x636f_6666_6572;
