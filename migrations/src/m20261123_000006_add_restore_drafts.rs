//! Agents keep settings a client can change (disabled, deleted, backup region), and restores can
//! be prepared step by step (Cloud Backup creates one, adds file filters, then starts it).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Agents::Table).add_column(text(Agents::Settings).default("{}")).to_owned()).await?;
        m.create_table(
            Table::create()
                .table(RestoreDrafts::Table)
                .if_not_exists()
                .col(uuid(RestoreDrafts::Id).primary_key())
                .col(uuid(RestoreDrafts::TenantId))
                .col(uuid(RestoreDrafts::BackupId))
                .col(uuid(RestoreDrafts::AgentId))
                .col(text(RestoreDrafts::Path))
                .col(boolean(RestoreDrafts::Overwrite))
                .col(text(RestoreDrafts::Files))
                .col(uuid_null(RestoreDrafts::OperationId))
                .col(timestamp_with_time_zone(RestoreDrafts::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("restore_drafts_tenant")
                .table(RestoreDrafts::Table)
                .col(RestoreDrafts::TenantId)
                .col(RestoreDrafts::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RestoreDrafts::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Agents::Table).drop_column(Agents::Settings).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Settings,
}

#[derive(DeriveIden)]
enum RestoreDrafts {
    Table,
    Id,
    TenantId,
    BackupId,
    AgentId,
    Path,
    Overwrite,
    Files,
    OperationId,
    CreatedAt,
}
