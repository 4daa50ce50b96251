//! The `coffer` binary: parses the command line and hands over to the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coffer::cli::run().await
}
