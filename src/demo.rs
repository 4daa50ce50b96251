//! `coffer serve --demo`: a tenant to try every dialect's examples at once: a 3-node local
//! cluster `Test_Cluster` (keyspaces `Keyspace1` with tables `users` and `dates`, and `OpsCenter`;
//! its commitlogs archived, so it restores to a point in time),
//! a SQLite instance, and a machine with a small file tree.

use std::path::Path;

use sqlx::{AssertSqlSafe, Connection, sqlite::SqliteConnectOptions};

use crate::{
    auth::accounts,
    domain::{
        archive::ArchiveTarget,
        identity::{CredentialKind, Principal, Role},
        source::{InstanceConfig, NodeSpec, SourceKind},
    },
    engine::{ArchiveRequest, Engine, InstanceSpec},
    error::{CoreError, CoreResult},
    persistence::identity,
};

pub const TENANT: &str = "demo";
pub const USER: &str = "demo";
pub const PASSWORD: &str = "demo-password";
pub const CLUSTER: &str = "Test_Cluster";

/// Tables of the demo cluster, with fixed ids so restores land in the same directories.
const TABLES: &[(&str, &str, &str)] = &[
    ("Keyspace1", "users", "5bc52802de2535edaeab188eecebb090"),
    ("Keyspace1", "dates", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    ("Keyspace2", "items", "7a6b5c4d3e2f10f9e8d7c6b5a4938271"),
    ("OpsCenter", "events", "e1f2a3b4c5d6e7f8091a2b3c4d5e6f70"),
    ("OpsCenter", "rollups60", "f0e1d2c3b4a5968778695a4b3c2d1e0f"),
];

/// Writes SSTable-like files for one node (deterministic per node and table).
fn write_node(data_dir: &Path, node: usize) -> std::io::Result<()> {
    for (ks, table, id) in TABLES {
        let dir = data_dir.join(ks).join(format!("{table}-{id}"));
        std::fs::create_dir_all(&dir)?;
        for generation in 1..=2 {
            for (component, size) in [("Data.db", 48 * 1024), ("Index.db", 4096), ("Statistics.db", 1024), ("TOC.txt", 64)] {
                let seed = format!("{ks}.{table}.node{node}.gen{generation}.{component}");
                let line = format!("{seed} row data {} ", "x".repeat(40));
                let body: String = line.repeat(size / line.len() + 1);
                std::fs::write(dir.join(format!("nb-{generation}-big-{component}")), &body.as_bytes()[..size])?;
            }
        }
    }
    Ok(())
}

async fn write_sqlite(path: &Path) -> CoreResult<()> {
    if path.exists() {
        return Ok(());
    }
    let opts = SqliteConnectOptions::new().filename(path).create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.map_err(CoreError::internal)?;
    sqlx::query("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, balance REAL)")
        .execute(&mut conn)
        .await
        .map_err(CoreError::internal)?;
    for i in 1..=200 {
        let sql =
            format!("INSERT INTO customers (id, name, email, balance) VALUES ({i}, 'customer {i}', 'c{i}@example.test', {}.5)", i * 3);
        sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.map_err(CoreError::internal)?;
    }
    conn.close().await.map_err(CoreError::internal)?;
    Ok(())
}

/// How often the demo cluster's nodes close a commitlog segment.
const SEGMENT_EVERY_SECS: u64 = 5;
/// Closed segments each demo node keeps on disk (archived ones live on in the store).
const SEGMENTS_KEPT: usize = 200;

/// Stands in for the demo cluster's database: every node closes a small commitlog segment into its
/// archive directory every 5 seconds, so commitlog archiving and point-in-time restores have
/// something to ship and replay.
pub fn spawn_commitlog_writer(data_dir: &Path) -> CoreResult<()> {
    let root = std::path::absolute(data_dir.join("demo")).map_err(CoreError::internal)?;
    let dirs: Vec<std::path::PathBuf> = (1..=3).map(|i| root.join(format!("{CLUSTER}/node{i}/commitlog_archive"))).collect();
    tokio::spawn(async move {
        loop {
            let id = chrono::Utc::now().timestamp_millis();
            for dir in &dirs {
                let written = std::fs::create_dir_all(dir)
                    .and_then(|_| std::fs::write(dir.join(format!("CommitLog-7-{id}.log")), format!("mutations until {id}\n").repeat(64)));
                if let Err(e) = written {
                    tracing::warn!(dir = %dir.display(), error = %e, "the demo could not close a commitlog segment");
                    continue;
                }
                let mut names: Vec<_> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
                names.sort();
                for old in names.iter().take(names.len().saturating_sub(SEGMENTS_KEPT)) {
                    let _ = std::fs::remove_file(old);
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(SEGMENT_EVERY_SECS)).await;
        }
    });
    Ok(())
}

/// Creates the demo tenant, user and sources under `data_dir/demo` (once).
pub async fn seed(engine: &Engine, data_dir: &Path) -> CoreResult<()> {
    let db = engine.db();
    let tenant = match identity::find_tenant_by_name(db, TENANT).await? {
        Some(t) => t,
        None => accounts::create_tenant(db, TENANT).await?,
    };
    let user = match identity::find_user_by_name(db, USER).await? {
        Some(u) => u,
        None => accounts::create_user(db, TENANT, USER, PASSWORD, Role::Operator).await?,
    };
    let caller = Principal {
        user_id: user.id,
        user_name: user.name.clone(),
        tenant_id: tenant.id,
        tenant_name: tenant.name.clone(),
        role: Role::Operator,
        credential: CredentialKind::BasicPassword,
        read_only: false,
        token: None,
        agent: None,
    };
    let root = std::path::absolute(data_dir.join("demo")).map_err(CoreError::internal)?;
    if engine.source_by_name(&caller, SourceKind::Cluster, CLUSTER).await.is_err() {
        let mut nodes = Vec::new();
        for i in 1..=3 {
            let dir = root.join(format!("{CLUSTER}/node{i}/data"));
            write_node(&dir, i).map_err(CoreError::internal)?;
            nodes.push(NodeSpec {
                name: format!("127.0.0.{i}"),
                agent: "local".into(),
                location: dir.display().to_string(),
                commitlog_dir: Some(root.join(format!("{CLUSTER}/node{i}/commitlog_archive")).display().to_string()),
                datacenter: Some("dc1".into()),
                rack: Some(format!("rack{i}")),
            });
        }
        let cluster = engine.add_cluster(&caller, CLUSTER, nodes).await?;
        // Its commitlogs are archived to the server's own destination, so it restores to a point in time.
        let archive = ArchiveRequest {
            destinations: [(engine.server_destination(), ArchiveTarget::default())].into(),
            staging_dir: None,
            annotations: serde_json::json!({}),
        };
        engine.set_archiving(&caller, cluster.source.id, Some(archive), 0).await?;
    }
    if engine.source_by_name(&caller, SourceKind::Instance, "demo-sqlite").await.is_err() {
        let path = root.join("demo-sqlite.sqlite");
        std::fs::create_dir_all(&root).map_err(CoreError::internal)?;
        write_sqlite(&path).await?;
        let spec = InstanceSpec {
            name: "demo-sqlite".into(),
            location: path.display().to_string(),
            agent: "local".into(),
            config: InstanceConfig {
                datastore: "sqlite".into(),
                datastore_version: "3".into(),
                flavor: "1".into(),
                flavor_ram_mb: 1024,
                volume_gb: 2,
                ..Default::default()
            },
        };
        engine.add_instance(&caller, spec).await?;
    }
    if engine.source_by_name(&caller, SourceKind::Machine, "demo-machine").await.is_err() {
        let files = root.join("files");
        for (name, body) in [
            ("etc/app.conf", "listen = 8080\n"),
            ("www/index.html", "<h1>hello</h1>\n"),
            ("logs/app.log", "started\n"),
            ("data/report.csv", "a,b\n1,2\n"),
        ] {
            let p = files.join(name);
            std::fs::create_dir_all(p.parent().expect("has a parent")).map_err(CoreError::internal)?;
            std::fs::write(p, body).map_err(CoreError::internal)?;
        }
        engine.add_machine(&caller, "demo-machine", "local", &files.display().to_string()).await?;
    }
    Ok(())
}
