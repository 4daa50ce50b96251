//! Coffer: one backup service behind the OpsCenter, Instaclustr, Rackspace Cloud Databases and
//! Rackspace Cloud Backup APIs.

pub mod agent;
pub mod api;
pub mod auth;
pub mod cli;
pub mod cli_client;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod persistence;
pub mod rate_limit;
pub mod sources;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
