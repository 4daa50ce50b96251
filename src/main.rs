//! The `coffer` binary: parses the command line and hands over to the library.

#![deny(unsafe_code)]

fn main() -> anyhow::Result<()> {
    coffer::limit_allocator_arenas();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(coffer::cli::run())
}
