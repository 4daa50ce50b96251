//! The scripting commands that drive a running server over its admin API: `backup`, `restore`,
//! `verify`, `prune`.

mod client;

use clap::Args;

use client::ServerClient;

#[derive(Args)]
pub(super) struct ServerOnly {
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Args)]
pub(super) struct ServerArgs {
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
    fn client(self) -> anyhow::Result<ServerClient> {
        ServerClient::new(&self.server, self.token, self.user, self.password)
    }
}

#[derive(Args)]
pub(super) struct BackupArgs {
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
pub(super) struct RestoreArgs {
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
pub(super) struct VerifyArgs {
    backup: uuid::Uuid,
    #[command(flatten)]
    server: ServerArgs,
}

/// Prints an operation's end and fails the command when it did not succeed.
fn report(op: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(op)?);
    match op["state"].as_str() {
        Some("succeeded") | Some("succeeded_with_errors") => Ok(()),
        other => anyhow::bail!("operation ended {}: {}", other.unwrap_or("?"), op["error"].as_str().unwrap_or("")),
    }
}

pub(super) async fn backup(args: BackupArgs) -> anyhow::Result<()> {
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

pub(super) async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
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

pub(super) async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let op = client.call(reqwest::Method::POST, &format!("/admin/v1/backups/{}/verify", args.backup), None).await?;
    report(&client.wait(op["id"].as_str().unwrap_or_default()).await?)
}

pub(super) async fn prune(args: ServerOnly) -> anyhow::Result<()> {
    let answer = args.server.client()?.call(reqwest::Method::POST, "/admin/v1/prune", None).await?;
    println!("deleting {} backup(s)", answer["deleting"]);
    Ok(())
}
