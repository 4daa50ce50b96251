use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub plan_id: Option<Uuid>,
    pub operation_id: Option<Uuid>,
    pub destination_id: Uuid,
    pub name: String,
    pub description: String,
    pub tag: String,
    pub selection: Json,
    pub state: String,
    pub size_bytes: i64,
    pub stored_bytes: i64,
    pub file_count: i64,
    pub error: Option<String>,
    pub metadata: Json,
    /// The source's kind (`metadata.source_kind` as a column, for listings by kind).
    pub source_kind: String,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub completed_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
