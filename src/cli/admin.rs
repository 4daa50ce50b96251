//! The commands that work on the server's own database: tenants, users, keys, the secrets' key,
//! and registering clusters, instances and machines. Whoever runs them administers the service.

use std::io::BufRead;

use clap::Subcommand;

use super::Command;
use crate::{
    auth::accounts,
    config::Settings,
    crypto::SecretBox,
    domain::identity::Role,
    error::CoreError,
    persistence::{self, identity},
};

#[derive(Subcommand)]
pub(super) enum ClusterCommand {
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
pub(super) enum InstanceCommand {
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
pub(super) enum MachineCommand {
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

#[derive(Subcommand)]
pub(super) enum TenantCommand {
    /// Create a tenant; its name is the account id clients put in paths.
    Add { name: String },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
pub(super) enum UserCommand {
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
pub(super) enum SecretsCommand {
    /// Seal every stored secret (destination keys, database locations) again with the key material
    /// in `COFFER_NEW_SECRET_KEY` (32 characters or more), in one transaction. Stop every server
    /// first; start them with the new `COFFER_SECRET_KEY` (or, when none was configured, the
    /// data directory's `secret.key`, which this rewrites).
    Rekey,
}

#[derive(Subcommand)]
pub(super) enum KeyCommand {
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
    let (destinations, locations) = match persistence::catalog::reseal_secrets(db, |sealed| old.reseal(sealed, &new)).await {
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

pub(super) async fn manage(db: &persistence::Db, command: Command, settings: &Settings) -> Result<(), CoreError> {
    match command {
        Command::Secrets(SecretsCommand::Rekey) => rekey_secrets(db, settings).await?,
        Command::Tenant(TenantCommand::Add { name }) => {
            let t = accounts::create_tenant(db, &name).await?;
            println!("created tenant {} ({})", t.name, t.id);
        }
        Command::Tenant(TenantCommand::List) => {
            for t in identity::list_tenants(db).await? {
                println!("{}\t{}\t{}", t.name, t.id, t.created_at.to_rfc3339());
            }
        }
        Command::User(UserCommand::Add { name, tenant, role, password }) => {
            let password = password_or_stdin(password)?;
            let u = accounts::create_user(db, &tenant, &name, &password, role).await?;
            println!("created user {} ({}) in tenant {tenant} with role {}", u.name, u.id, u.role);
        }
        Command::User(UserCommand::List) => {
            let tenants = identity::list_tenants(db).await?;
            for u in identity::list_users(db, None).await? {
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
            for k in identity::list_api_keys(db, owner.id).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "live" };
                let access = if k.read_only { "read-only" } else { "read-write" };
                println!("{}\tck_{}_…\t{}\t{access}\t{state}", k.id, k.prefix, k.name);
            }
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            identity::revoke_api_key(db, id).await?;
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
