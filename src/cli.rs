//! The `coffer` command line: serve, migrate, manage tenants, users and keys, write the OpenAPI files.

use std::{io::BufRead, net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::{
    auth::accounts,
    config::Settings,
    domain::identity::Role,
    error::CoreError,
    persistence::{self, identity as repo},
    startup::Application,
};

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
    /// Write one OpenAPI document per dialect.
    Openapi {
        #[arg(long, default_value = "openapi")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8888].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// URL clients reach this server at, used in service catalogs [default: http://127.0.0.1:8888].
    #[arg(long)]
    public_url: Option<String>,
    /// `text` or `json`.
    #[arg(long)]
    log_format: Option<String>,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; its name is the account id clients put in paths.
    Add { name: String },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (password from --password, COFFER_USER_PASSWORD, or a line on standard input).
    Add {
        name: String,
        #[arg(long, default_value = accounts::DEFAULT_TENANT)]
        tenant: String,
        #[arg(long, default_value = "operator")]
        role: Role,
        #[arg(long, env = "COFFER_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List users.
    List,
    /// Set a user's password.
    Passwd {
        name: String,
        #[arg(long, env = "COFFER_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Remove a user and its API keys.
    Delete { name: String },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key for a user; the key is printed once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// The key may only read.
        #[arg(long)]
        read_only: bool,
    },
    /// List a user's API keys.
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke an API key by id.
    Revoke { id: uuid::Uuid },
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Admin, Role::Operator, Role::Reader]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

fn password_or_stdin(given: Option<String>) -> Result<String, CoreError> {
    if let Some(p) = given {
        return Ok(p);
    }
    eprintln!("password (read from standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CoreError::internal)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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
    }
    crate::telemetry::init(&settings.log_format);

    match cli.command {
        Command::Serve(_) => {
            let (app, generated) = Application::build(settings).await?;
            if let Some(password) = generated {
                println!("Created tenant '{}' and user '{}' with password: {password}", accounts::DEFAULT_TENANT, accounts::DEFAULT_ADMIN);
                println!("This password is shown once; change it with `coffer user passwd admin`.");
            }
            app.run_until_stopped(true).await?;
        }
        Command::Migrate => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = persistence::connect(&settings.database_url()).await?;
            persistence::migrate(&db).await?;
            println!("database is up to date");
        }
        Command::Openapi { out } => {
            std::fs::create_dir_all(&out)?;
            for (name, doc) in crate::api::specs(settings.base_url()) {
                let path = out.join(format!("{name}.json"));
                std::fs::write(&path, format!("{doc}\n"))?;
                println!("wrote {}", path.display());
            }
        }
        command => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = persistence::connect(&settings.database_url()).await?;
            persistence::migrate(&db).await?;
            manage(&db, command).await?;
        }
    }
    Ok(())
}

async fn manage(db: &persistence::Db, command: Command) -> Result<(), CoreError> {
    match command {
        Command::Tenant(TenantCommand::Add { name }) => {
            let t = accounts::create_tenant(db, &name).await?;
            println!("created tenant {} ({})", t.name, t.id);
        }
        Command::Tenant(TenantCommand::List) => {
            for t in repo::list_tenants(db).await? {
                println!("{}\t{}\t{}", t.name, t.id, t.created_at.to_rfc3339());
            }
        }
        Command::User(UserCommand::Add { name, tenant, role, password }) => {
            let password = password_or_stdin(password)?;
            let u = accounts::create_user(db, &tenant, &name, &password, role).await?;
            println!("created user {} ({}) in tenant {tenant} with role {}", u.name, u.id, u.role);
        }
        Command::User(UserCommand::List) => {
            let tenants = repo::list_tenants(db).await?;
            for u in repo::list_users(db, None).await? {
                let tenant = tenants.iter().find(|t| t.id == u.tenant_id).map(|t| t.name.as_str()).unwrap_or("?");
                println!("{}\t{}\t{}\t{}", u.name, tenant, u.role, u.id);
            }
        }
        Command::User(UserCommand::Passwd { name, password }) => {
            let password = password_or_stdin(password)?;
            accounts::set_password(db, &name, &password).await?;
            println!("password of {name} changed");
        }
        Command::User(UserCommand::Delete { name }) => {
            accounts::delete_user(db, &name).await?;
            println!("removed user {name}");
        }
        Command::Key(KeyCommand::Create { user, name, read_only }) => {
            let owner = accounts::user_by_name(db, &user).await?;
            let created = accounts::create_key(db, owner.id, &name, read_only).await?;
            println!("{}", created.secret);
            eprintln!("API key {} for {user} (id {}); it is shown once.", created.key.name, created.key.id);
        }
        Command::Key(KeyCommand::List { user }) => {
            let owner = accounts::user_by_name(db, &user).await?;
            for k in repo::list_api_keys(db, owner.id).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "live" };
                let access = if k.read_only { "read-only" } else { "read-write" };
                println!("{}\tck_{}_…\t{}\t{access}\t{state}", k.id, k.prefix, k.name);
            }
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            repo::revoke_api_key(db, id).await?;
            println!("revoked key {id}");
        }
        Command::Serve(_) | Command::Migrate | Command::Openapi { .. } => unreachable!("handled by run"),
    }
    Ok(())
}
