//! Backups carry their source's kind as a column (it was only in `metadata`), so a dialect's listing
//! (Cloud Databases: instances and HA groups) is one indexed query, newest first, a page at a time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Backups::Table).add_column(text(Backups::SourceKind).default("")).to_owned()).await?;
        // Sources are never removed (a deleted one keeps its row), so every backup finds its kind.
        m.get_connection()
            .execute_unprepared(
                "UPDATE backups SET source_kind = COALESCE((SELECT kind FROM sources WHERE sources.id = backups.source_id), '')",
            )
            .await?;
        for (name, cols) in [
            ("backups_tenant_kind_created", [Backups::TenantId, Backups::SourceKind, Backups::CreatedAt, Backups::Id]),
            ("backups_tenant_source_created", [Backups::TenantId, Backups::SourceId, Backups::CreatedAt, Backups::Id]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Backups::Table);
            for c in cols {
                index.col(c);
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["backups_tenant_kind_created", "backups_tenant_source_created"] {
            m.drop_index(Index::drop().name(name).table(Backups::Table).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(Backups::Table).drop_column(Backups::SourceKind).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Backups {
    Table,
    Id,
    TenantId,
    SourceId,
    SourceKind,
    CreatedAt,
}
