//! The `coffer` command line: serve, migrate, manage tenants, users and keys (the server's own
//! database, [`admin`]), drive a running server (`backup`, `restore`, `verify`, `prune`: [`remote`]),
//! write the OpenAPI files.

mod admin;
mod remote;

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::{auth::accounts, config::Settings, persistence, startup::Application};
use admin::{ClusterCommand, InstanceCommand, KeyCommand, MachineCommand, SecretsCommand, TenantCommand, UserCommand};
use remote::{BackupArgs, RestoreArgs, ServerOnly, VerifyArgs};

/// Coffer: one backup service behind the OpsCenter, Instaclustr, Rackspace Cloud Databases and
/// Rackspace Cloud Backup APIs.
#[derive(Parser)]
#[command(name = "coffer", version)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory holding the SQLite database, token key and local store [default: ./coffer-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://... or postgres://...) [default: SQLite in the data directory].
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Bring the database schema up to date.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage the key that seals secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Write one OpenAPI document per dialect.
    Openapi {
        #[arg(long, default_value = "openapi")]
        out: PathBuf,
    },
    /// Run an agent beside data on this machine, working for a server.
    Agent {
        #[arg(long, env = "COFFER_SERVER", default_value = "http://127.0.0.1:8888")]
        server: String,
        /// A user's API key or token (operator or admin) to register with.
        #[arg(long, env = "COFFER_TOKEN", hide_env_values = true)]
        token: String,
        /// The agent's name; nodes name it to be backed up by it.
        #[arg(long)]
        name: String,
    },
    /// Register clusters.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Register database instances.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Register machines (file trees).
    #[command(subcommand)]
    Machine(MachineCommand),
    /// Back up a source through a running server.
    Backup(BackupArgs),
    /// Restore a backup through a running server.
    Restore(RestoreArgs),
    /// Re-read every chunk of a backup and check its hash.
    Verify(VerifyArgs),
    /// Apply every plan's retention now.
    Prune(ServerOnly),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8888].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// URL clients reach this server at, used in service catalogs and links [default: http://<the listen address>].
    #[arg(long)]
    public_url: Option<String>,
    /// `text` or `json`.
    #[arg(long)]
    log_format: Option<String>,
    /// Seed a demo tenant (user `demo`, password `demo-password`) with a 3-node cluster, a SQLite instance and a machine.
    #[arg(long)]
    demo: bool,
}

/// Parses the command line and runs it.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    if let Some(url) = cli.database_url {
        settings.database_url = Some(url);
    }
    if let Command::Serve(args) = &cli.command {
        if let Some(listen) = args.listen {
            settings.listen = listen;
        }
        if let Some(url) = &args.public_url {
            settings.public_url = url.clone();
        }
        if let Some(format) = &args.log_format {
            settings.log_format = format.clone();
        }
        settings.demo |= args.demo;
    }
    crate::telemetry::init(&settings.log_format);

    match cli.command {
        Command::Serve(_) => {
            let demo = settings.demo;
            let (app, generated) = Application::build(settings).await?;
            if demo {
                println!("Demo tenant '{}': user '{}', password '{}'", crate::demo::TENANT, crate::demo::USER, crate::demo::PASSWORD);
            }
            if let Some(password) = generated {
                println!("Created tenant '{}' and user '{}' with password: {password}", accounts::DEFAULT_TENANT, accounts::DEFAULT_ADMIN);
                println!("This password is shown once; change it with `coffer user passwd admin`.");
            }
            app.run_until_stopped(true).await?;
        }
        Command::Migrate => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = persistence::connect_with(&settings.database_url(), settings.sqlite_synchronous).await?;
            persistence::migrate(&db).await?;
            println!("database is up to date");
        }
        Command::Openapi { out } => {
            std::fs::create_dir_all(&out)?;
            settings.follow_listen_address(settings.listen);
            for (name, doc) in crate::api::specs(settings.base_url()) {
                let path = out.join(format!("{name}.json"));
                std::fs::write(&path, format!("{doc}\n"))?;
                println!("wrote {}", path.display());
            }
        }
        Command::Agent { server, token, name } => {
            let client = crate::agent::AgentClient::register(&server, &token, &name).await?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stop.cancel();
            });
            crate::agent::run(client, shutdown).await?;
        }
        Command::Backup(args) => remote::backup(args).await?,
        Command::Restore(args) => remote::restore(args).await?,
        Command::Verify(args) => remote::verify(args).await?,
        Command::Prune(args) => remote::prune(args).await?,
        command => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = persistence::connect_with(&settings.database_url(), settings.sqlite_synchronous).await?;
            persistence::migrate(&db).await?;
            admin::manage(&db, command, &settings).await?;
        }
    }
    Ok(())
}
