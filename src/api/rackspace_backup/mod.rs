//! Rackspace Cloud Backup v1.0. Its endpoints arrive with the dialect's issue; today this module
//! owns the dialect's error shape, used by the edge for its paths.

pub mod error;
