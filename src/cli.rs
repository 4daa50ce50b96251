//! The `coffer` command line: serve, migrate, manage tenants, users and keys, write the OpenAPI files.

use std::{io::BufRead, net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::{
    auth::accounts,
    config::Settings,
    crypto::SecretBox,
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
struct ServerOnly {
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Args)]
struct ServerArgs {
    #[arg(long, env = "COFFER_SERVER", default_value = "http://127.0.0.1:8888")]
    server: String,
    #[arg(long, env = "COFFER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, env = "COFFER_USER")]
    user: Option<String>,
    #[arg(long, env = "COFFER_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

impl ServerArgs {
    fn client(self) -> anyhow::Result<crate::cli_client::ServerClient> {
        crate::cli_client::ServerClient::new(&self.server, self.token, self.user, self.password)
    }
}

#[derive(Args)]
struct BackupArgs {
    /// Source id or name.
    source: String,
    /// Base it on the latest completed backup.
    #[arg(long)]
    incremental: bool,
    #[arg(long)]
    name: Option<String>,
    /// Only these keyspaces (clusters).
    #[arg(long = "keyspace")]
    keyspaces: Vec<String>,
    /// Only these tables, as keyspace.table (clusters).
    #[arg(long = "table")]
    tables: Vec<String>,
    /// Only paths matching these globs (machines).
    #[arg(long = "include")]
    include: Vec<String>,
    /// Leave out paths matching these globs (machines).
    #[arg(long = "exclude")]
    exclude: Vec<String>,
    /// Return once the backup has started.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Args)]
struct RestoreArgs {
    backup: uuid::Uuid,
    /// Restore files under this directory (machines, or a cluster node's files).
    #[arg(long)]
    to: Option<String>,
    /// The agent that writes `--to` (default: the backup's own).
    #[arg(long)]
    agent: Option<String>,
    /// Replace existing files under `--to`.
    #[arg(long)]
    overwrite: bool,
    /// Back onto the nodes the backup came from.
    #[arg(long)]
    same_nodes: bool,
    /// With --same-nodes: empty the selected tables first.
    #[arg(long)]
    truncate: bool,
    /// Into a new cluster of this name; give one --location per node.
    #[arg(long)]
    new_cluster: Option<String>,
    #[arg(long = "location")]
    locations: Vec<String>,
    /// Into a new database instance of this name.
    #[arg(long)]
    new_instance: Option<String>,
    #[arg(long = "keyspace")]
    keyspaces: Vec<String>,
    #[arg(long = "table")]
    tables: Vec<String>,
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Args)]
struct VerifyArgs {
    backup: uuid::Uuid,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Register a cluster; each --node is `name=10.0.0.1,location=/var/lib/cassandra/data[,agent=local][,dc=dc1][,rack=r1][,commitlog=DIR]`.
    Add {
        name: String,
        #[arg(long, default_value = accounts::DEFAULT_TENANT)]
        tenant: String,
        #[arg(long = "node", required = true)]
        nodes: Vec<String>,
    },
}

#[derive(Subcommand)]
enum InstanceCommand {
    /// Register a database instance (a SQLite file, or a postgres:// or mysql:// URL).
    Add {
        name: String,
        #[arg(long, default_value = accounts::DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        datastore: String,
        #[arg(long)]
        location: String,
        #[arg(long, default_value = "local")]
        agent: String,
        #[arg(long, default_value = "")]
        datastore_version: String,
    },
}

#[derive(Subcommand)]
enum MachineCommand {
    /// Register a machine: a directory tree reached by an agent.
    Add {
        name: String,
        #[arg(long, default_value = accounts::DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        root: String,
        #[arg(long, default_value = "local")]
        agent: String,
    },
}

fn parse_node(spec: &str) -> anyhow::Result<crate::domain::source::NodeSpec> {
    let mut node = crate::domain::source::NodeSpec {
        name: String::new(),
        agent: "local".into(),
        location: String::new(),
        commitlog_dir: None,
        datacenter: None,
        rack: None,
    };
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').ok_or_else(|| anyhow::anyhow!("'{part}' is not key=value"))?;
        match k.trim() {
            "name" => node.name = v.to_owned(),
            "location" | "data_dir" => node.location = v.to_owned(),
            "agent" => node.agent = v.to_owned(),
            "dc" | "datacenter" => node.datacenter = Some(v.to_owned()),
            "rack" => node.rack = Some(v.to_owned()),
            "commitlog" => node.commitlog_dir = Some(v.to_owned()),
            other => anyhow::bail!("unknown node key '{other}'"),
        }
    }
    if node.name.is_empty() || node.location.is_empty() {
        anyhow::bail!("a node needs name= and location=");
    }
    Ok(node)
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
enum SecretsCommand {
    /// Seal every stored secret (destination keys, database locations) again with the key material
    /// in `COFFER_NEW_SECRET_KEY` (32 characters or more), in one transaction. Stop every server
    /// first; start them with the new `COFFER_SECRET_KEY` (or, when none was configured, the
    /// data directory's `secret.key`, which this rewrites).
    Rekey,
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
        Command::Backup(args) => backup(args).await?,
        Command::Restore(args) => restore(args).await?,
        Command::Verify(args) => verify(args).await?,
        Command::Prune(args) => {
            let answer = args.server.client()?.call(reqwest::Method::POST, "/admin/v1/prune", None).await?;
            println!("deleting {} backup(s)", answer["deleting"]);
        }
        command => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = persistence::connect_with(&settings.database_url(), settings.sqlite_synchronous).await?;
            persistence::migrate(&db).await?;
            manage(&db, command, &settings).await?;
        }
    }
    Ok(())
}

/// `coffer secrets rekey`: re-seals every secret under the new key, then keeps the new key where
/// the old one was kept when it was the data directory's.
async fn rekey_secrets(db: &persistence::Db, settings: &Settings) -> Result<(), CoreError> {
    let material = std::env::var("COFFER_NEW_SECRET_KEY").unwrap_or_default();
    if material.trim().len() < 32 {
        return Err(CoreError::BadRequest("set COFFER_NEW_SECRET_KEY to the new key material (32 characters or more)".into()));
    }
    let old = SecretBox::load(settings.secret_key.as_deref(), &settings.data_dir)?;
    let new = SecretBox::from_material(material.as_bytes());
    // When the key lives in the data directory, the new one is written beside it before anything
    // is sealed with it, and takes its place once everything is.
    let (path, next) = (settings.data_dir.join("secret.key"), settings.data_dir.join("secret.key.new"));
    if settings.secret_key.is_none() {
        crate::crypto::write_private(&next, material.as_bytes()).map_err(CoreError::internal)?;
    }
    let (destinations, locations) = match persistence::engine::reseal_secrets(db, |sealed| old.reseal(sealed, &new)).await {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_file(&next);
            return Err(e);
        }
    };
    // The old key may be gone soon after this: the new seals must outlive even a power loss.
    persistence::make_durable(db).await;
    println!("sealed again under the new key: {destinations} destination secret(s), {locations} database location(s)");
    if settings.secret_key.is_some() {
        println!("set COFFER_SECRET_KEY to the new key on every server before starting them");
    } else {
        std::fs::rename(&next, &path).map_err(|e| {
            CoreError::internal(anyhow::anyhow!("the secrets are sealed with the new key, kept in {}: {e}", next.display()))
        })?;
        println!("{} now holds the new key", path.display());
    }
    Ok(())
}

async fn manage(db: &persistence::Db, command: Command, settings: &Settings) -> Result<(), CoreError> {
    match command {
        Command::Secrets(SecretsCommand::Rekey) => rekey_secrets(db, settings).await?,
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
            crate::auth::credentials_changed(db).await?;
            println!("password of {name} changed");
        }
        Command::User(UserCommand::Delete { name }) => {
            accounts::delete_user(db, &name).await?;
            crate::auth::credentials_changed(db).await?;
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
            crate::auth::credentials_changed(db).await?;
            println!("revoked key {id}");
        }
        Command::Cluster(ClusterCommand::Add { name, tenant, nodes }) => {
            let nodes = nodes
                .iter()
                .map(|n| parse_node(n))
                .collect::<anyhow::Result<Vec<_>>>()
                .map_err(|e| CoreError::BadRequest(e.to_string()))?;
            let (engine, caller) = engine_for(db, settings, &tenant).await?;
            let view = engine.add_cluster(&caller, &name, nodes).await?;
            println!("{}", view.source.id);
        }
        Command::Instance(InstanceCommand::Add { name, tenant, datastore, location, agent, datastore_version }) => {
            let (engine, caller) = engine_for(db, settings, &tenant).await?;
            let config = crate::domain::source::InstanceConfig { datastore, datastore_version, ..Default::default() };
            let spec = crate::engine::InstanceSpec { name, location, agent, config };
            println!("{}", engine.add_instance(&caller, spec).await?.source.id);
        }
        Command::Machine(MachineCommand::Add { name, tenant, root, agent }) => {
            let (engine, caller) = engine_for(db, settings, &tenant).await?;
            println!("{}", engine.add_machine(&caller, &name, &agent, &root).await?.source.id);
        }
        _ => unreachable!("handled by run"),
    }
    Ok(())
}

/// The engine and a caller acting for `tenant`. The CLI works on the database directly, so whoever
/// runs it administers the service: the caller is an admin (who may, for one, be told in which
/// other tenant an agent it names has registered).
async fn engine_for(
    db: &persistence::Db,
    settings: &Settings,
    tenant: &str,
) -> Result<(crate::engine::Engine, crate::domain::identity::Principal), CoreError> {
    let t = accounts::tenant_by_name(db, tenant).await?;
    let engine = crate::engine::Engine::new(db.clone(), std::sync::Arc::new(settings.clone())).await?;
    let caller = crate::domain::identity::Principal {
        user_id: uuid::Uuid::nil(),
        user_name: "cli".into(),
        tenant_id: t.id,
        tenant_name: t.name,
        role: Role::Admin,
        credential: crate::domain::identity::CredentialKind::BasicPassword,
        read_only: false,
        token: None,
        agent: None,
    };
    Ok((engine, caller))
}

/// Prints an operation's end and fails the command when it did not succeed.
fn report(op: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(op)?);
    match op["state"].as_str() {
        Some("succeeded") | Some("succeeded_with_errors") => Ok(()),
        other => anyhow::bail!("operation ended {}: {}", other.unwrap_or("?"), op["error"].as_str().unwrap_or("")),
    }
}

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let source_id = client.source_id(&args.source).await?;
    let body = serde_json::json!({
        "source_id": source_id,
        "name": args.name.unwrap_or_default(),
        "incremental": args.incremental,
        "selection": { "keyspaces": args.keyspaces, "tables": args.tables, "include": args.include, "exclude": args.exclude },
    });
    let started = client.call(reqwest::Method::POST, "/admin/v1/backups", Some(body)).await?;
    let op_id = started["operation"]["id"].as_str().unwrap_or_default().to_owned();
    eprintln!("backup {} started (operation {op_id})", started["backup"]["id"].as_str().unwrap_or_default());
    if args.no_wait {
        println!("{}", serde_json::to_string_pretty(&started)?);
        return Ok(());
    }
    report(&client.wait(&op_id).await?)
}

async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let target = if let Some(name) = args.new_cluster {
        serde_json::json!({ "type": "new_cluster", "name": name, "locations": args.locations })
    } else if let Some(name) = args.new_instance {
        serde_json::json!({ "type": "new_instance", "name": name })
    } else if let Some(path) = args.to {
        serde_json::json!({ "type": "path", "path": path, "agent": args.agent, "overwrite": args.overwrite })
    } else if args.truncate && !args.same_nodes {
        anyhow::bail!("--truncate applies with --same-nodes");
    } else if args.same_nodes {
        serde_json::json!({ "type": "same_nodes", "truncate": args.truncate })
    } else {
        anyhow::bail!("say where: --to PATH, --same-nodes, --new-cluster NAME or --new-instance NAME");
    };
    let body = serde_json::json!({ "target": target, "selection": { "keyspaces": args.keyspaces, "tables": args.tables } });
    let op = client.call(reqwest::Method::POST, &format!("/admin/v1/backups/{}/restore", args.backup), Some(body)).await?;
    let op_id = op["id"].as_str().unwrap_or_default().to_owned();
    eprintln!("restore started (operation {op_id})");
    if args.no_wait {
        println!("{}", serde_json::to_string_pretty(&op)?);
        return Ok(());
    }
    report(&client.wait(&op_id).await?)
}

async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let op = client.call(reqwest::Method::POST, &format!("/admin/v1/backups/{}/verify", args.backup), None).await?;
    report(&client.wait(op["id"].as_str().unwrap_or_default()).await?)
}
