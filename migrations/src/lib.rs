//! Coffer's schema, as sea-orm migrations that run unchanged on SQLite and PostgreSQL.
//! Only the sea-query builder is used, so each backend gets its own DDL at run time.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_identity;
mod m20261123_000002_create_engine;
mod m20261123_000003_create_backup_copies;
mod m20261123_000004_add_plan_options;
mod m20261123_000005_add_plan_annotations;
mod m20261123_000006_add_restore_drafts;
mod m20261123_000007_create_commitlog_segments;
mod m20261202_000008_add_backup_source_kind;
mod m20261202_000009_index_events_by_tenant_and_id;
mod m20261202_000010_index_listings;
mod m20261202_000011_add_source_totals;
mod m20261205_000012_add_destination_detached;

/// Applies Coffer's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_identity::Migration),
            Box::new(m20261123_000002_create_engine::Migration),
            Box::new(m20261123_000003_create_backup_copies::Migration),
            Box::new(m20261123_000004_add_plan_options::Migration),
            Box::new(m20261123_000005_add_plan_annotations::Migration),
            Box::new(m20261123_000006_add_restore_drafts::Migration),
            Box::new(m20261123_000007_create_commitlog_segments::Migration),
            Box::new(m20261202_000008_add_backup_source_kind::Migration),
            Box::new(m20261202_000009_index_events_by_tenant_and_id::Migration),
            Box::new(m20261202_000010_index_listings::Migration),
            Box::new(m20261202_000011_add_source_totals::Migration),
            Box::new(m20261205_000012_add_destination_detached::Migration),
        ]
    }
}
