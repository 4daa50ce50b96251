//! Plans keep the fields a dialect created them with that the engine does not use (notification
//! settings, scripts, the client's own time zone name), so the dialect can show them back.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Plans::Table).add_column(text(Plans::Annotations).default("{}")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Plans::Table).drop_column(Plans::Annotations).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Annotations,
}
