//! What a source's complete backups store in all, kept by the database beside the backups: a
//! trigger adds a backup's stored bytes when it becomes complete and takes them off when it stops
//! being complete or is deleted, in the same transaction, whichever code path wrote the row. Cloud
//! Backup shows it as an agent's vault size; summing it per request read every backup of the machine
//! (39 s a request at 333,000 backups). Also an index to find a source's newest completed backup.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COMPLETE: &str = "('succeeded', 'succeeded_with_errors')";

fn sqlite_triggers() -> Vec<String> {
    let add = |row: &str, condition: &str| {
        format!(
            "INSERT INTO source_totals (source_id, complete_stored_bytes) SELECT {row}.source_id, {row}.stored_bytes WHERE {condition} \
             ON CONFLICT (source_id) DO UPDATE SET complete_stored_bytes = complete_stored_bytes + excluded.complete_stored_bytes;"
        )
    };
    let take = |row: &str| {
        format!(
            "UPDATE source_totals SET complete_stored_bytes = complete_stored_bytes - {row}.stored_bytes \
             WHERE source_id = {row}.source_id AND {row}.state IN {COMPLETE};"
        )
    };
    vec![
        format!(
            "CREATE TRIGGER source_totals_insert AFTER INSERT ON backups BEGIN {} END",
            add("NEW", &format!("NEW.state IN {COMPLETE}"))
        ),
        format!(
            "CREATE TRIGGER source_totals_update AFTER UPDATE ON backups BEGIN {} {} END",
            take("OLD"),
            add("NEW", &format!("NEW.state IN {COMPLETE}"))
        ),
        format!("CREATE TRIGGER source_totals_delete AFTER DELETE ON backups BEGIN {} END", take("OLD")),
    ]
}

/// On PostgreSQL the triggers are per statement, over the rows the statement changed: a row
/// trigger updating one totals row for each of many backups written in one transaction leaves a
/// chain of row versions that each next update walks (a million seeded backups never finished).
fn postgres_triggers() -> Vec<String> {
    let mut sql = vec![format!(
        "CREATE FUNCTION source_totals_keep() RETURNS trigger AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                UPDATE source_totals t SET complete_stored_bytes = t.complete_stored_bytes - gone.bytes
                    FROM (SELECT source_id, CAST(SUM(stored_bytes) AS BIGINT) AS bytes FROM old_rows
                          WHERE state IN {COMPLETE} GROUP BY source_id) gone
                    WHERE t.source_id = gone.source_id;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO source_totals (source_id, complete_stored_bytes)
                    SELECT source_id, CAST(SUM(stored_bytes) AS BIGINT) FROM new_rows WHERE state IN {COMPLETE} GROUP BY source_id
                    ON CONFLICT (source_id) DO UPDATE
                    SET complete_stored_bytes = source_totals.complete_stored_bytes + EXCLUDED.complete_stored_bytes;
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql"
    )];
    for (op, tables) in [
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ] {
        sql.push(format!(
            "CREATE TRIGGER source_totals_{} AFTER {op} ON backups REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION source_totals_keep()",
            op.to_lowercase()
        ));
    }
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on both backends (and with the backups locked against writers on
    /// PostgreSQL), so no backup is written between the sums and the triggers.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection().execute_unprepared("LOCK TABLE backups IN SHARE ROW EXCLUSIVE MODE").await?;
        }
        m.create_table(
            Table::create()
                .table(SourceTotals::Table)
                .col(ColumnDef::new(SourceTotals::SourceId).uuid().not_null().primary_key())
                .col(ColumnDef::new(SourceTotals::CompleteStoredBytes).big_integer().not_null().default(0))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO source_totals (source_id, complete_stored_bytes) \
             SELECT source_id, CAST(SUM(stored_bytes) AS BIGINT) FROM backups WHERE state IN {COMPLETE} GROUP BY source_id"
        ))
        .await?;
        let triggers = match m.get_database_backend() {
            DbBackend::Postgres => postgres_triggers(),
            _ => sqlite_triggers(),
        };
        for sql in triggers {
            db.execute_unprepared(&sql).await?;
        }
        m.create_index(
            Index::create()
                .name("backups_source_completed")
                .table(Backups::Table)
                .col(Backups::SourceId)
                .col(Backups::CompletedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                for op in ["insert", "update", "delete"] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS source_totals_{op} ON backups")).await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS source_totals_keep()").await?;
            }
            _ => {
                for op in ["insert", "update", "delete"] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS source_totals_{op}")).await?;
                }
            }
        }
        m.drop_index(Index::drop().name("backups_source_completed").table(Backups::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(SourceTotals::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum SourceTotals {
    Table,
    SourceId,
    CompleteStoredBytes,
}

#[derive(DeriveIden)]
enum Backups {
    Table,
    SourceId,
    CompletedAt,
}
