//! Coffer's integration tests: one binary, the real server on a random port, real HTTP.

mod agents;
mod auth;
mod cli;
mod cloudbackup;
mod clouddb;
mod console;
mod databases;
mod destinations;
mod engine;
mod helpers;
mod hostile;
mod identity;
mod instaclustr;
mod keystoneauth;
mod limits;
mod listings;
mod matrix;
mod ops;
mod opscenter;
mod pit;
mod plans;
mod recovery;
mod restore_safety;
mod roles;
mod scaleout;
mod secrets;
