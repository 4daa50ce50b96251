//! Tenants, users, API keys, revoked tokens and the numeric aliases some dialects show.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(pk_uuid(Tenants::Id))
                    .col(string_uniq(Tenants::Name))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::TenantId))
                    .col(string_uniq(Users::Name))
                    .col(string(Users::PasswordHash))
                    .col(string(Users::Role))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiKeys::Id))
                    .col(uuid(ApiKeys::UserId))
                    .col(string(ApiKeys::Name))
                    .col(string_uniq(ApiKeys::Prefix))
                    .col(string(ApiKeys::SecretHash))
                    .col(boolean(ApiKeys::ReadOnly))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RevokedTokens::Table)
                    .if_not_exists()
                    .col(string(RevokedTokens::Jti).primary_key())
                    .col(timestamp_with_time_zone(RevokedTokens::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Aliases::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Aliases::Id))
                    .col(string(Aliases::Kind))
                    .col(uuid(Aliases::TargetId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("aliases_kind_target")
                    .table(Aliases::Table)
                    .col(Aliases::Kind)
                    .col(Aliases::TargetId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Aliases::Table.into_iden(),
            RevokedTokens::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Name,
    PasswordHash,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    SecretHash,
    ReadOnly,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RevokedTokens {
    Table,
    Jti,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Aliases {
    Table,
    Id,
    Kind,
    TargetId,
}
