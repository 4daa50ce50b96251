//! The unified model every dialect translates to and from. No web or database types here.

pub mod identity;
