//! Plans carry the options of the backups they start (throttle, excluded nodes, force).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Plans::Table).add_column(text(Plans::Options).default("{}")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Plans::Table).drop_column(Plans::Options).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Options,
}
