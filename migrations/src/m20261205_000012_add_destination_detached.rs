//! A destination can be detached: gone from every list while the data it holds stays where it is,
//! so adding the same location again brings its backups back (OpsCenter's destination delete).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Destinations::Table).add_column(timestamp_with_time_zone_null(Destinations::DetachedAt)).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Destinations::Table).drop_column(Destinations::DetachedAt).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Destinations {
    Table,
    DetachedAt,
}
