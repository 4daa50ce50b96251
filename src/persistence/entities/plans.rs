use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    pub name: String,
    pub schedule: Json,
    pub retention: Json,
    pub selection: Json,
    pub destination_id: Option<Uuid>,
    pub enabled: bool,
    pub next_run_at: Option<ChronoDateTimeUtc>,
    pub last_run_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub options: String,
    pub annotations: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
