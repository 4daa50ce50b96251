//! sea-orm entities, one module per table.

pub mod agents;
pub mod aliases;
pub mod api_keys;
pub mod backup_copies;
pub mod backup_nodes;
pub mod backups;
pub mod commitlog_segments;
pub mod destinations;
pub mod events;
pub mod nodes;
pub mod operations;
pub mod plans;
pub mod restore_drafts;
pub mod revoked_tokens;
pub mod sources;
pub mod tasks;
pub mod tenants;
pub mod users;
