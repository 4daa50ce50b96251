//! sea-orm entities, one module per table.

pub mod aliases;
pub mod api_keys;
pub mod revoked_tokens;
pub mod tenants;
pub mod users;
