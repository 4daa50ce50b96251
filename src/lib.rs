//! Coffer: one backup service behind the OpsCenter, Instaclustr, Rackspace Cloud Databases and
//! Rackspace Cloud Backup APIs.

#![deny(unsafe_code)]

pub mod agent;
pub mod api;
pub mod auth;
pub mod cli;
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

/// Caps glibc's malloc arenas at two, before the process starts its threads. glibc gives threads
/// up to eight arenas per core, and each keeps the large buffers it freed (packs of 16 MiB, chunks
/// of up to 8 MiB) for reuse by that arena only, so a restore's peak memory grew with the number of
/// blocking threads that had decrypted a pack: 217-235 MiB restoring 4 GiB, 115 MiB with two
/// arenas (`MALLOC_ARENA_MAX=2`, the same run). Allocation here is a few large buffers per chunk,
/// so two arenas do not contend. Elsewhere than glibc this does nothing.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    {
        // SAFETY: mallopt only sets a malloc parameter; it is called before other threads allocate.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}
