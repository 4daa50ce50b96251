use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backup_copies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub backup_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub destination_id: Uuid,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
