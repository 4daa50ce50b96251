//! The unified model every dialect translates to and from. No web or database types here.

pub mod agent;
pub mod archive;
pub mod backup;
pub mod destination;
pub mod identity;
pub mod operation;
pub mod plan;
pub mod source;
pub mod state;
