//! Indexes for listings that read a page of a source's history instead of all of it: a tenant's
//! backups newest first (the Admin list), a source's backups by tag (OpsCenter names backups by
//! tag), a source's events of one kind (deleted backups in OpsCenter's activity) and a source's
//! operations of one kind (restores, deletes).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for c in cols {
        index.col(c);
    }
    index.to_owned()
}

const NAMES: [(&str, &str); 4] = [
    ("backups_tenant_created", "backups"),
    ("backups_source_tag", "backups"),
    ("events_source_kind_id", "events"),
    ("operations_source_kind_created", "operations"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(
            NAMES[0].0,
            Backups::Table,
            vec![Backups::TenantId.into_iden(), Backups::CreatedAt.into_iden(), Backups::Id.into_iden()],
        ))
        .await?;
        m.create_index(index(NAMES[1].0, Backups::Table, vec![Backups::SourceId.into_iden(), Backups::Tag.into_iden()])).await?;
        m.create_index(index(
            NAMES[2].0,
            Events::Table,
            vec![Events::SourceId.into_iden(), Events::Kind.into_iden(), Events::Id.into_iden()],
        ))
        .await?;
        m.create_index(index(
            NAMES[3].0,
            Operations::Table,
            vec![Operations::SourceId.into_iden(), Operations::Kind.into_iden(), Operations::CreatedAt.into_iden()],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in NAMES {
            m.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Backups {
    Table,
    Id,
    TenantId,
    SourceId,
    Tag,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    SourceId,
    Kind,
}

#[derive(DeriveIden)]
enum Operations {
    Table,
    SourceId,
    Kind,
    CreatedAt,
}
