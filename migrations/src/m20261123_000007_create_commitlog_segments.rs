//! Commitlog segments archived for point-in-time restores: one row per segment, node and
//! destination, so a segment is shipped once and a restore knows exactly which ones to place.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CommitlogSegments::Table)
                .if_not_exists()
                .col(uuid(CommitlogSegments::Id).primary_key())
                .col(uuid(CommitlogSegments::TenantId))
                .col(uuid(CommitlogSegments::SourceId))
                .col(uuid(CommitlogSegments::NodeId))
                .col(uuid(CommitlogSegments::DestinationId))
                .col(text(CommitlogSegments::Name))
                .col(timestamp_with_time_zone(CommitlogSegments::SegmentAt))
                .col(big_integer(CommitlogSegments::Size))
                .col(text(CommitlogSegments::Snapshot))
                .col(timestamp_with_time_zone(CommitlogSegments::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("commitlog_segments_once")
                .table(CommitlogSegments::Table)
                .col(CommitlogSegments::NodeId)
                .col(CommitlogSegments::DestinationId)
                .col(CommitlogSegments::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("commitlog_segments_by_time")
                .table(CommitlogSegments::Table)
                .col(CommitlogSegments::SourceId)
                .col(CommitlogSegments::SegmentAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CommitlogSegments::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum CommitlogSegments {
    Table,
    Id,
    TenantId,
    SourceId,
    NodeId,
    DestinationId,
    Name,
    SegmentAt,
    Size,
    Snapshot,
    CreatedAt,
}
