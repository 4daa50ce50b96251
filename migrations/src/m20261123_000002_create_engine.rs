//! The engine's tables: agents, sources and their nodes, destinations, plans, backups with their
//! per-node parts, operations with their tasks, and the event log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Agents::Table)
                .if_not_exists()
                .col(pk_uuid(Agents::Id))
                .col(uuid(Agents::TenantId))
                .col(string(Agents::Name))
                .col(string(Agents::Hostname))
                .col(timestamp_with_time_zone_null(Agents::LastSeenAt))
                .col(timestamp_with_time_zone(Agents::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("agents_tenant_name").table(Agents::Table).col(Agents::TenantId).col(Agents::Name).unique().to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Destinations::Table)
                .if_not_exists()
                .col(pk_uuid(Destinations::Id))
                .col(uuid_null(Destinations::TenantId))
                .col(string(Destinations::Name))
                .col(string(Destinations::Kind))
                .col(json(Destinations::Config))
                .col(text_null(Destinations::Secret))
                .col(timestamp_with_time_zone(Destinations::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sources::Table)
                .if_not_exists()
                .col(pk_uuid(Sources::Id))
                .col(uuid(Sources::TenantId))
                .col(string(Sources::Kind))
                .col(string(Sources::Name))
                .col(json(Sources::Config))
                .col(timestamp_with_time_zone(Sources::CreatedAt))
                .col(timestamp_with_time_zone_null(Sources::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("sources_tenant_kind_name")
                .table(Sources::Table)
                .col(Sources::TenantId)
                .col(Sources::Kind)
                .col(Sources::Name)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Nodes::Table)
                .if_not_exists()
                .col(pk_uuid(Nodes::Id))
                .col(uuid(Nodes::SourceId))
                .col(string(Nodes::Name))
                .col(uuid(Nodes::AgentId))
                .col(text(Nodes::Location))
                .col(text_null(Nodes::CommitlogDir))
                .col(string_null(Nodes::Datacenter))
                .col(string_null(Nodes::Rack))
                .col(integer(Nodes::Position))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("nodes_source").table(Nodes::Table).col(Nodes::SourceId).to_owned()).await?;

        m.create_table(
            Table::create()
                .table(Plans::Table)
                .if_not_exists()
                .col(pk_uuid(Plans::Id))
                .col(uuid(Plans::TenantId))
                .col(uuid(Plans::SourceId))
                .col(string(Plans::Name))
                .col(json(Plans::Schedule))
                .col(json(Plans::Retention))
                .col(json(Plans::Selection))
                .col(uuid_null(Plans::DestinationId))
                .col(boolean(Plans::Enabled))
                .col(timestamp_with_time_zone_null(Plans::NextRunAt))
                .col(timestamp_with_time_zone_null(Plans::LastRunAt))
                .col(timestamp_with_time_zone(Plans::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Backups::Table)
                .if_not_exists()
                .col(pk_uuid(Backups::Id))
                .col(uuid(Backups::TenantId))
                .col(uuid(Backups::SourceId))
                .col(uuid_null(Backups::ParentId))
                .col(uuid_null(Backups::PlanId))
                .col(uuid_null(Backups::OperationId))
                .col(uuid(Backups::DestinationId))
                .col(string(Backups::Name))
                .col(text(Backups::Description))
                .col(string(Backups::Tag))
                .col(json(Backups::Selection))
                .col(string(Backups::State))
                .col(big_integer(Backups::SizeBytes))
                .col(big_integer(Backups::StoredBytes))
                .col(big_integer(Backups::FileCount))
                .col(text_null(Backups::Error))
                .col(json(Backups::Metadata))
                .col(timestamp_with_time_zone(Backups::CreatedAt))
                .col(timestamp_with_time_zone(Backups::UpdatedAt))
                .col(timestamp_with_time_zone_null(Backups::CompletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("backups_tenant_source").table(Backups::Table).col(Backups::TenantId).col(Backups::SourceId).to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("backups_parent").table(Backups::Table).col(Backups::ParentId).to_owned()).await?;

        m.create_table(
            Table::create()
                .table(BackupNodes::Table)
                .if_not_exists()
                .col(uuid(BackupNodes::BackupId))
                .col(uuid(BackupNodes::NodeId))
                .col(string(BackupNodes::NodeName))
                .col(string(BackupNodes::State))
                .col(big_integer(BackupNodes::Files))
                .col(big_integer(BackupNodes::Bytes))
                .col(big_integer(BackupNodes::StoredBytes))
                .col(json(BackupNodes::Detail))
                .primary_key(Index::create().col(BackupNodes::BackupId).col(BackupNodes::NodeId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Operations::Table)
                .if_not_exists()
                .col(pk_uuid(Operations::Id))
                .col(uuid(Operations::TenantId))
                .col(string(Operations::Kind))
                .col(string(Operations::State))
                .col(uuid_null(Operations::SourceId))
                .col(uuid_null(Operations::BackupId))
                .col(double(Operations::Progress))
                .col(json(Operations::Options))
                .col(json(Operations::Params))
                .col(json(Operations::Result))
                .col(text_null(Operations::Error))
                .col(string(Operations::CreatedBy))
                .col(timestamp_with_time_zone(Operations::CreatedAt))
                .col(timestamp_with_time_zone_null(Operations::StartedAt))
                .col(timestamp_with_time_zone_null(Operations::FinishedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("operations_tenant_created")
                .table(Operations::Table)
                .col(Operations::TenantId)
                .col(Operations::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .if_not_exists()
                .col(pk_uuid(Tasks::Id))
                .col(uuid(Tasks::OperationId))
                .col(uuid_null(Tasks::NodeId))
                .col(string(Tasks::NodeName))
                .col(uuid(Tasks::AgentId))
                .col(string(Tasks::State))
                .col(json(Tasks::Spec))
                .col(json(Tasks::Progress))
                .col(integer(Tasks::Attempts))
                .col(string_null(Tasks::LeaseOwner))
                .col(timestamp_with_time_zone_null(Tasks::LeaseExpiresAt))
                .col(boolean(Tasks::CancelRequested))
                .col(text_null(Tasks::Error))
                .col(json(Tasks::Result))
                .col(timestamp_with_time_zone(Tasks::CreatedAt))
                .col(timestamp_with_time_zone_null(Tasks::StartedAt))
                .col(timestamp_with_time_zone_null(Tasks::FinishedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("tasks_agent_state").table(Tasks::Table).col(Tasks::AgentId).col(Tasks::State).to_owned())
            .await?;
        m.create_index(Index::create().name("tasks_operation").table(Tasks::Table).col(Tasks::OperationId).to_owned()).await?;

        m.create_table(
            Table::create()
                .table(Events::Table)
                .if_not_exists()
                .col(big_pk_auto(Events::Id))
                .col(uuid(Events::TenantId))
                .col(timestamp_with_time_zone(Events::At))
                .col(string(Events::Kind))
                .col(text(Events::Message))
                .col(uuid_null(Events::OperationId))
                .col(uuid_null(Events::BackupId))
                .col(uuid_null(Events::SourceId))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("events_tenant_at").table(Events::Table).col(Events::TenantId).col(Events::At).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Events::Table.into_iden(),
            Tasks::Table.into_iden(),
            Operations::Table.into_iden(),
            BackupNodes::Table.into_iden(),
            Backups::Table.into_iden(),
            Plans::Table.into_iden(),
            Nodes::Table.into_iden(),
            Sources::Table.into_iden(),
            Destinations::Table.into_iden(),
            Agents::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    TenantId,
    Name,
    Hostname,
    LastSeenAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Destinations {
    Table,
    Id,
    TenantId,
    Name,
    Kind,
    Config,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    TenantId,
    Kind,
    Name,
    Config,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    Id,
    SourceId,
    Name,
    AgentId,
    Location,
    CommitlogDir,
    Datacenter,
    Rack,
    Position,
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    TenantId,
    SourceId,
    Name,
    Schedule,
    Retention,
    Selection,
    DestinationId,
    Enabled,
    NextRunAt,
    LastRunAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Backups {
    Table,
    Id,
    TenantId,
    SourceId,
    ParentId,
    PlanId,
    OperationId,
    DestinationId,
    Name,
    Description,
    Tag,
    Selection,
    State,
    SizeBytes,
    StoredBytes,
    FileCount,
    Error,
    Metadata,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum BackupNodes {
    Table,
    BackupId,
    NodeId,
    NodeName,
    State,
    Files,
    Bytes,
    StoredBytes,
    Detail,
}

#[derive(DeriveIden)]
enum Operations {
    Table,
    Id,
    TenantId,
    Kind,
    State,
    SourceId,
    BackupId,
    Progress,
    Options,
    Params,
    Result,
    Error,
    CreatedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    OperationId,
    NodeId,
    NodeName,
    AgentId,
    State,
    Spec,
    Progress,
    Attempts,
    LeaseOwner,
    LeaseExpiresAt,
    CancelRequested,
    Error,
    Result,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    TenantId,
    At,
    Kind,
    Message,
    OperationId,
    BackupId,
    SourceId,
}
