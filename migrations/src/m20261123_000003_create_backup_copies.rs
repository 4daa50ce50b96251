//! Which destinations hold a complete copy of a backup besides its own.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BackupCopies::Table)
                .if_not_exists()
                .col(uuid(BackupCopies::BackupId))
                .col(uuid(BackupCopies::DestinationId))
                .col(timestamp_with_time_zone(BackupCopies::CreatedAt))
                .primary_key(Index::create().col(BackupCopies::BackupId).col(BackupCopies::DestinationId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(BackupCopies::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum BackupCopies {
    Table,
    BackupId,
    DestinationId,
    CreatedAt,
}
