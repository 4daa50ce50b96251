//! Scale-out: three `coffer serve` processes over one PostgreSQL database, their own destination
//! in one S3 bucket (moto) and the per-user limit counted in Redis, with three `coffer agent`s
//! reaching them through a round-robin balancer. Work in every dialect is spread over the servers,
//! one server is killed while it runs a task, and every operation ends exactly once and every
//! backup verifies and restores. Runs in the PostgreSQL pass (`COFFER_TEST_DATABASE_URL`).

use std::{
    collections::{BTreeMap, HashSet},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use coffer::persistence::{self, ConnectionTrait};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    destinations::{make_container, moto},
    helpers::{ADMIN_PASSWORD, AgentProcess, Killed, basic, free_port, noise, tree},
};

const JWT_SECRET: &str = "scale-out-test-token-secret-of-more-than-32-characters";
const SECRET_KEY: &str = "scale-out-test-sealing-key-material-shared-by-servers";
const BUCKET: &str = "coffer-scaleout";
const REDIS: &str = "redis://127.0.0.1:6379";
/// Rounds of work; each starts one operation per lane (about 100 operations in all).
const ROUNDS: usize = 16;
/// The round in which a server is killed while its own agent runs a task.
const KILL_ROUND: usize = 5;

/// A `coffer serve` process; killed (SIGKILL) when dropped.
struct Server {
    process: Killed,
    name: String,
    base: String,
    addr: SocketAddr,
}

async fn start_server(n: usize, database_url: &str, store: &str, data_dir: &Path) -> Server {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let base = format!("http://{addr}");
    let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "--database-url", database_url, "serve", "--listen", &addr.to_string()])
        .env("COFFER_PUBLIC_URL", &base)
        .env("COFFER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("COFFER_JWT_SECRET", JWT_SECRET)
        .env("COFFER_SECRET_KEY", SECRET_KEY)
        .env("COFFER_SERVER_NAME", format!("s{n}"))
        .env("COFFER_SERVER_STORE", store)
        .env("AWS_ACCESS_KEY_ID", "AKTEST")
        .env("AWS_SECRET_ACCESS_KEY", "SKTEST")
        .env("COFFER_REDIS_URL", REDIS)
        // Short leases, so the killed server's task is taken over within seconds.
        .env("COFFER_LEASE_SECS", "4")
        .env("COFFER_SCHEDULER_TICK_MS", "200")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("coffer serve starts");
    let server = Server { process: Killed(child), name: format!("s{n}"), base, addr };
    for _ in 0..300 {
        if reqwest::get(format!("{}/readyz", server.base)).await.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server s{n} did not start");
}

/// A round-robin TCP balancer on 127.0.0.1, as a load balancer in front of the servers: each
/// connection goes to the next server that accepts it (a killed one refuses, so it is passed over).
async fn balancer(backends: Vec<SocketAddr>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let next = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (backends, first) = (backends.clone(), next.fetch_add(1, Ordering::Relaxed));
            tokio::spawn(async move {
                for i in 0..backends.len() {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(backends[(first + i) % backends.len()]).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    (base, task)
}

/// A request as `auth`; a 429 is waited out (its `Retry-After`) and sent again. Answers the status
/// and the body (JSON, or `null`).
async fn send(base: &str, auth: &str, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    for _ in 0..50 {
        let mut req = client.request(method.clone(), format!("{base}{path}")).header("authorization", auth);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {base}{path}: {e}"));
        if resp.status() == 429 {
            let wait = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(1);
            tokio::time::sleep(Duration::from_millis(200 * wait)).await;
            continue;
        }
        return (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null));
    }
    panic!("{method} {base}{path} was refused with 429 fifty times");
}

fn admin() -> String {
    basic("admin", ADMIN_PASSWORD)
}

async fn created(base: &str, path: &str, body: Value) -> Value {
    let (status, answer) = send(base, &admin(), Method::POST, path, Some(&body)).await;
    assert!((200..300).contains(&status), "POST {path}: {status} {answer}");
    answer
}

/// Waits until no operation is queued or running.
async fn drain(base: &str, limit: Duration) -> Result<(), Vec<Value>> {
    let started = Instant::now();
    loop {
        let (_, ops) = send(base, &admin(), Method::GET, "/admin/v1/operations?limit=1000", None).await;
        let pending: Vec<Value> = ops
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| matches!(o["state"].as_str(), Some("queued" | "running" | "cancelling")))
            .cloned()
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(pending);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_end(base: &str, op: &str) -> Value {
    for _ in 0..600 {
        let (_, v) = send(base, &admin(), Method::GET, &format!("/admin/v1/operations/{op}"), None).await;
        if !matches!(v["state"].as_str(), Some("queued" | "running" | "cancelling")) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("operation {op} did not end");
}

async fn scalar(db: &persistence::Db, sql: &str) -> i64 {
    let row = db.query_one_raw(sea_orm_statement(sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

fn sea_orm_statement(sql: &str) -> sea_orm::Statement {
    sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql)
}

/// The sum of one counter over the servers' `/metrics`.
async fn metric_sum(servers: &[&Server], name: &str) -> f64 {
    let mut sum = 0.0;
    for s in servers {
        let text = reqwest::get(format!("{}/metrics", s.base)).await.unwrap().text().await.unwrap();
        sum += text
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum::<f64>();
    }
    sum
}

#[tokio::test]
async fn three_servers_over_one_database_share_work_leases_limits_and_revocations_and_survive_losing_one() {
    let Ok(admin_url) = std::env::var("COFFER_TEST_DATABASE_URL").map(|u| u.trim().to_owned()) else {
        eprintln!("scale-out test: runs in the PostgreSQL pass (COFFER_TEST_DATABASE_URL)");
        return;
    };
    if admin_url.is_empty() {
        return;
    }
    if tokio::net::TcpStream::connect("127.0.0.1:6379").await.is_err() {
        crate::helpers::skipping("the scale-out test needs Redis on 127.0.0.1:6379 (scripts/test.sh starts it)");
        return;
    }
    let Some(s3) = moto(None).await else { return };
    make_container(&["s3", &s3.endpoint, BUCKET]);
    let store = format!("s3://{BUCKET}/shared?endpoint={}", s3.endpoint);
    let db_name = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
    let database_url = persistence::create_postgres_database(&admin_url, &db_name).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The first server prepares the empty database; the other two join it.
    let mut servers = vec![start_server(1, &database_url, &store, &dir.path().join("s1")).await];
    for n in 2..=3 {
        servers.push(start_server(n, &database_url, &store, &dir.path().join(format!("s{n}"))).await);
    }
    let (lb, _balancer) = balancer(servers.iter().map(|s| s.addr).collect()).await;
    let first = servers[0].base.clone();

    // Three agents, each reaching the servers through the balancer.
    let key = created(&first, "/admin/v1/keys", json!({ "name": "agents" })).await["key"].as_str().unwrap().to_owned();
    let agent_names: Vec<String> = (1..=3).map(|n| format!("scale-n{n}")).collect();
    let _agents: Vec<AgentProcess> = agent_names.iter().map(|n| AgentProcess::spawn(&lb, &key, n)).collect();
    for _ in 0..200 {
        let (_, agents) = send(&first, &admin(), Method::GET, "/admin/v1/agents", None).await;
        let up = |n: &String| agents.as_array().into_iter().flatten().any(|a| a["agent"]["name"] == n.as_str() && a["up"] == true);
        if agent_names.iter().all(up) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Sources: a 3-node cluster (OpsCenter, Instaclustr), a SQLite instance (Cloud Databases) and a
    // Cloud Backup configuration, three machines on the agents and one on the servers' own agent.
    let nodes: Vec<Value> = (1..=3)
        .map(|n| {
            let data = dir.path().join(format!("node{n}/data"));
            tree::generate(&data.join("ks").join("t-00112233445566778899aabbccddeeff"), 8, 80 + n);
            json!({ "name": format!("10.9.0.{n}"), "location": data, "agent": agent_names[n as usize - 1] })
        })
        .collect();
    let cluster =
        created(&first, "/admin/v1/clusters", json!({ "name": "Scaled", "nodes": nodes })).await["id"].as_str().unwrap().to_owned();
    let shop = dir.path().join("shop.sqlite");
    {
        let db = persistence::connect(&format!("sqlite://{}?mode=rwc", shop.display())).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").await.unwrap();
        db.execute_unprepared(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) INSERT INTO t SELECT i, 'row ' || i FROM s",
        )
        .await
        .unwrap();
        db.close().await.unwrap();
    }
    let instance = created(&first, "/admin/v1/instances", json!({ "name": "shop", "datastore": "sqlite", "location": shop })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let trees: Vec<PathBuf> = (0..5).map(|i| dir.path().join(format!("tree{i}"))).collect();
    for (i, t) in trees.iter().enumerate() {
        tree::generate(t, 20, 90 + i as u64);
    }
    let mut machines = Vec::new();
    for (i, t) in trees[..3].iter().enumerate() {
        let body = json!({ "name": format!("m{i}"), "root": t, "agent": agent_names[i] });
        machines.push(created(&first, "/admin/v1/machines", body).await["id"].as_str().unwrap().to_owned());
    }
    // Big enough to still run (throttled to 1 MB/s) when its server is killed.
    let big_tree = dir.path().join("big");
    std::fs::create_dir_all(&big_tree).unwrap();
    let big = noise(3_000_000, 7);
    std::fs::write(big_tree.join("big.bin"), &big).unwrap();
    let big_machine =
        created(&first, "/admin/v1/machines", json!({ "name": "big", "root": big_tree })).await["id"].as_str().unwrap().to_owned();
    let (_, agents) = send(&first, &admin(), Method::GET, "/v1.0/user/agents", None).await;
    let cb_agent = agents.as_array().unwrap().iter().find(|a| a["MachineName"] == "scale-n3").unwrap()["MachineAgentId"].clone();
    let config = json!({
        "BackupConfigurationName": "scaled files", "MachineAgentId": cb_agent, "Frequency": "Manually", "TimeZoneId": "UTC",
        "VersionRetention": 30, "Inclusions": [{ "FilePath": trees[3], "FileItemType": "Folder" }], "Exclusions": [],
    });
    let cb_config = created(&first, "/v1.0/backup-configuration", config).await["BackupConfigurationId"].as_i64().unwrap();
    // A plan every 2 s on the servers' own agent: each due time must fire once, whichever server sees it first.
    let plan_machine =
        created(&first, "/admin/v1/machines", json!({ "name": "planned", "root": trees[4] })).await["id"].as_str().unwrap().to_owned();
    let plan_body = json!({ "source_id": plan_machine, "name": "every2s",
                            "schedule": { "type": "interval", "first_run": chrono::Utc::now() + chrono::Duration::seconds(1), "every_secs": 2 } });
    let plan = created(&first, "/admin/v1/plans", plan_body.clone()).await["id"].as_str().unwrap().to_owned();

    // The rounds: each starts one operation per lane, each on another server, then waits for all.
    // No backup has run yet: the first round's, spread over the servers, create the tenant's
    // repository in the shared bucket from several servers at once.
    let mut accepted: BTreeMap<&str, usize> = BTreeMap::new();
    let mut restores: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut taken_over: Option<(String, String)> = None;
    let mut live: Vec<usize> = vec![0, 1, 2];
    for round in 0..ROUNDS {
        let (_, backups) = send(&servers[live[0]].base, &admin(), Method::GET, "/admin/v1/backups?limit=1000", None).await;
        let newest = |source: &str| {
            backups
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["source_id"] == source && b["state"] == "succeeded")
                .map(|b| b["id"].as_str().unwrap().to_owned())
        };
        let mut lanes: Vec<(&str, Method, String, Value)> = vec![
            if round % 2 == 0 {
                ("opscenter backup", Method::POST, "/Scaled/backups/run".into(), json!({}))
            } else {
                ("instaclustr backup", Method::POST, format!("/provisioning/v1/{cluster}/backups"), json!({}))
            },
            (
                "cloud databases backup",
                Method::POST,
                "/v1.0/default/backups".into(),
                json!({ "backup": { "name": format!("r{round}"), "instance": instance } }),
            ),
            (
                "cloud backup backup",
                Method::POST,
                "/v1.0/backup/action-requested".into(),
                json!({ "Action": "StartManual", "Id": cb_config }),
            ),
        ];
        for (i, m) in machines.iter().enumerate() {
            match newest(m).filter(|_| round % 3 == 2) {
                Some(id) => {
                    let target = dir.path().join(format!("restore-{round}-{i}"));
                    restores.push((target.clone(), trees[i].clone()));
                    let body = json!({ "target": { "type": "path", "path": target } });
                    lanes.push(("admin restore", Method::POST, format!("/admin/v1/backups/{id}/restore"), body));
                }
                None => lanes.push(("admin backup", Method::POST, "/admin/v1/backups".into(), json!({ "source_id": m }))),
            }
        }
        if round % 5 == 0 {
            let body = json!({ "source_id": big_machine, "options": { "throttle_bytes_per_sec": 1_000_000 } });
            lanes.push(("admin backup", Method::POST, "/admin/v1/backups".into(), body));
        }
        let answers = join_all(lanes.iter().enumerate().map(|(j, (_, method, path, body))| {
            let base = servers[live[(round + j) % live.len()]].base.clone();
            async move { send(&base, &admin(), method.clone(), path, Some(body)).await }
        }))
        .await;
        for ((lane, method, path, _), (status, answer)) in lanes.iter().zip(answers) {
            assert!((200..300).contains(&status), "round {round}: {method} {path}: {status} {answer}");
            *accepted.entry(lane).or_default() += 1;
        }

        if round == KILL_ROUND {
            // The big backup runs on one server's own agent: kill that server mid-task.
            let db = persistence::connect(&database_url).await.unwrap();
            let mut holder = None;
            for _ in 0..100 {
                let rows = db
                    .query_all_raw(sea_orm_statement(&format!(
                        "SELECT t.id::text AS id, t.lease_owner FROM tasks t JOIN operations o ON o.id = t.operation_id \
                         WHERE o.source_id = '{big_machine}' AND t.state = 'running'"
                    )))
                    .await
                    .unwrap();
                if let Some(row) = rows.first() {
                    let owner: Option<String> = row.try_get("", "lease_owner").unwrap();
                    holder = owner.map(|o| (row.try_get::<String>("", "id").unwrap(), o));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let (task, owner) = holder.expect("the big backup's task runs on a server");
            let victim = live.iter().position(|&s| owner.starts_with(&format!("{}:", servers[s].name))).expect("a live server holds it");
            let index = live.remove(victim);
            servers[index].process.kill();
            taken_over = Some((task, servers[index].name.clone()));
            db.close().await.ok();
        }
        if let Err(pending) = drain(&servers[live[0]].base, Duration::from_secs(90)).await {
            panic!("round {round}: operations still pending after 90 s: {pending:?}");
        }
    }
    let total: usize = accepted.values().sum();
    assert!(total >= 100, "about 100 operations were spread over the servers: {accepted:?}");
    let survivors: Vec<&Server> = live.iter().map(|&i| &servers[i]).collect();
    let some = survivors[0].base.clone();
    let other = survivors[1].base.clone();

    // Stop the plan, then look at what the database recorded.
    let mut disabled = plan_body.clone();
    disabled["enabled"] = json!(false);
    let (status, _) = send(&other, &admin(), Method::PUT, &format!("/admin/v1/plans/{plan}"), Some(&disabled)).await;
    assert_eq!(status, 200);
    drain(&some, Duration::from_secs(60)).await.unwrap();
    let db = persistence::connect(&database_url).await.unwrap();
    let not_ended = scalar(&db, "SELECT COUNT(*) AS n FROM operations WHERE state IN ('queued', 'running', 'cancelling')").await;
    assert_eq!(not_ended, 0, "every operation ended");
    let requested = |kinds: &[&str]| kinds.iter().map(|k| accepted.get(k).copied().unwrap_or(0)).sum::<usize>() as i64;
    let backups_asked =
        requested(&["opscenter backup", "instaclustr backup", "cloud databases backup", "cloud backup backup", "admin backup"]);
    let unplanned = "created_by <> 'scheduler'";
    assert_eq!(
        scalar(&db, &format!("SELECT COUNT(*) AS n FROM operations WHERE kind = 'backup' AND {unplanned}")).await,
        backups_asked,
        "one backup operation per accepted request, none twice"
    );
    assert_eq!(
        scalar(&db, &format!("SELECT COUNT(*) AS n FROM operations WHERE kind = 'restore' AND {unplanned}")).await,
        requested(&["admin restore"]),
        "one restore operation per accepted request"
    );
    let failed = db
        .query_all_raw(sea_orm_statement(
            "SELECT kind, state, COALESCE(error, '') AS error FROM operations WHERE state NOT IN ('succeeded', 'skipped', 'missed')",
        ))
        .await
        .unwrap();
    let failed: Vec<String> = failed
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}",
                r.try_get::<String>("", "kind").unwrap(),
                r.try_get::<String>("", "state").unwrap(),
                r.try_get::<String>("", "error").unwrap()
            )
        })
        .collect();
    assert!(failed.is_empty(), "every operation succeeded, the killed server's included: {failed:?}");
    let ended_twice = scalar(
        &db,
        "SELECT COUNT(*) AS n FROM (SELECT operation_id FROM events WHERE operation_id IS NOT NULL \
         AND (kind LIKE 'backup.%' OR kind LIKE 'restore.%') AND kind NOT LIKE '%.started' GROUP BY operation_id HAVING COUNT(*) > 1) twice",
    )
    .await;
    assert_eq!(ended_twice, 0, "no operation was ended twice");
    let backup_ops_without_one_backup = scalar(
        &db,
        "SELECT COUNT(*) AS n FROM operations o WHERE o.kind = 'backup' AND o.state = 'succeeded' \
         AND (SELECT COUNT(*) FROM backups b WHERE b.id = o.backup_id AND b.state = 'succeeded') <> 1",
    )
    .await;
    assert_eq!(backup_ops_without_one_backup, 0, "each succeeded backup operation made exactly one complete backup");

    // The killed server's task was taken over once its lease ran out, and finished elsewhere.
    let (task, victim) = taken_over.expect("a server was killed");
    let row =
        db.query_one_raw(sea_orm_statement(&format!("SELECT state, attempts FROM tasks WHERE id = '{task}'"))).await.unwrap().unwrap();
    assert_eq!(row.try_get::<String>("", "state").unwrap(), "succeeded");
    assert!(row.try_get::<i32>("", "attempts").unwrap() >= 2, "the task of killed server {victim} ran again elsewhere");
    assert!(metric_sum(&survivors, "coffer_lease_takeovers_total").await >= 1.0, "the takeover is counted in /metrics");
    assert!(metric_sum(&survivors, "coffer_agent_heartbeats_total").await > 0.0);
    let metrics = reqwest::get(format!("{some}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("coffer_operations{kind=\"backup\",state=\"succeeded\"}"), "{metrics}");

    // The plan fired each due time once, though three servers watched it.
    let runs = db
        .query_all_raw(sea_orm_statement(&format!(
            "SELECT params->>'due_at' AS due FROM operations WHERE created_by = 'scheduler' AND source_id = '{plan_machine}'"
        )))
        .await
        .unwrap();
    let due: Vec<String> = runs.iter().filter_map(|r| r.try_get::<Option<String>>("", "due").unwrap()).collect();
    let distinct: HashSet<&String> = due.iter().collect();
    let planned_backups = scalar(&db, &format!("SELECT COUNT(*) AS n FROM backups WHERE source_id = '{plan_machine}'")).await;
    assert!(planned_backups >= 3, "the plan ran during the test: {planned_backups} backups");
    assert_eq!(distinct.len(), due.len(), "a due time was recorded twice: {due:?}");

    // Every restore of the run wrote the tree back byte for byte.
    for (target, source) in &restores {
        assert_eq!(tree::fingerprint(target), tree::fingerprint(source), "{} restores {}", target.display(), source.display());
    }
    // Every complete backup verifies, and each machine's newest restores, through the other server.
    let (_, backups) = send(&some, &admin(), Method::GET, "/admin/v1/backups?limit=1000", None).await;
    let complete: Vec<&Value> = backups.as_array().unwrap().iter().filter(|b| b["state"] == "succeeded").collect();
    let verifies = join_all(complete.iter().enumerate().map(|(i, b)| {
        let base = if i % 2 == 0 { some.clone() } else { other.clone() };
        let path = format!("/admin/v1/backups/{}/verify", b["id"].as_str().unwrap());
        async move { send(&base, &admin(), Method::POST, &path, Some(&json!({}))).await.1 }
    }))
    .await;
    for op in &verifies {
        let ended = wait_end(&some, op["id"].as_str().unwrap()).await;
        assert_eq!(ended["state"], "succeeded", "{ended}");
    }
    for (m, t) in machines.iter().chain([&big_machine]).zip(trees[..3].iter().chain([&big_tree])) {
        let newest = complete.iter().find(|b| b["source_id"] == m.as_str()).expect("a complete backup of each machine");
        let out = dir.path().join(format!("final-{m}"));
        let body = json!({ "target": { "type": "path", "path": out } });
        let (status, op) =
            send(&other, &admin(), Method::POST, &format!("/admin/v1/backups/{}/restore", newest["id"].as_str().unwrap()), Some(&body))
                .await;
        assert_eq!(status, 202, "{op}");
        assert_eq!(wait_end(&some, op["id"].as_str().unwrap()).await["state"], "succeeded");
        assert_eq!(tree::fingerprint(&out), tree::fingerprint(t));
    }

    // One user's requests are counted across servers: a burst spread over both gets the limit once.
    let (status, _) = send(
        &some,
        &admin(),
        Method::POST,
        "/admin/v1/users",
        Some(&json!({ "name": "bursty", "password": "bursty-password", "role": "reader" })),
    )
    .await;
    assert_eq!(status, 201);
    let bursty = basic("bursty", "bursty-password");
    for base in [&some, &other] {
        // The first use of a password costs an Argon2 check; do it outside the burst.
        assert_eq!(
            reqwest::Client::new().get(format!("{base}/admin/v1/whoami")).header("authorization", &bursty).send().await.unwrap().status(),
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    let statuses = join_all((0..105).map(|i| {
        let url = format!("{}/admin/v1/whoami", if i % 2 == 0 { &some } else { &other });
        let auth = bursty.clone();
        async move { reqwest::Client::new().get(url).header("authorization", auth).send().await.unwrap().status().as_u16() }
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + limited, 105, "{statuses:?}");
    let most = 35 + (35.0 * elapsed).ceil() as usize + 1;
    assert!(ok <= most, "{ok} of 105 accepted in {elapsed:.2} s across two servers; the shared limit allows {most}");
    assert!(ok >= 35, "the burst of 35 is honoured: {ok}");

    // A revoked session or API key stops working on every server at once.
    let login = reqwest::Client::new()
        .post(format!("{some}/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let session = login.json::<Value>().await.unwrap()["sessionid"].as_str().unwrap().to_owned();
    let whoami = |base: String, header: &'static str, value: String| async move {
        reqwest::Client::new().get(format!("{base}/admin/v1/whoami")).header(header, value).send().await.unwrap().status().as_u16()
    };
    assert_eq!(whoami(other.clone(), "opscenter-session", session.clone()).await, 200);
    let resp = reqwest::Client::new().get(format!("{some}/logout")).header("opscenter-session", &session).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let (status, key) = send(&some, &admin(), Method::POST, "/admin/v1/keys", Some(&json!({ "name": "short-lived" }))).await;
    assert_eq!(status, 201);
    let key_auth = basic("admin", key["key"].as_str().unwrap());
    assert_eq!(whoami(other.clone(), "authorization", key_auth.clone()).await, 200);
    let (status, _) = send(&some, &admin(), Method::DELETE, &format!("/admin/v1/keys/{}", key["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_millis(500);
    let (mut session_refused, mut key_refused) = (false, false);
    while Instant::now() < deadline && !(session_refused && key_refused) {
        session_refused = whoami(other.clone(), "opscenter-session", session.clone()).await == 401;
        key_refused = whoami(other.clone(), "authorization", key_auth.clone()).await == 401;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(session_refused, "the other server refuses the logged-out session within 0.5 s");
    assert!(key_refused, "the other server refuses the revoked key within 0.5 s");

    db.close().await.ok();
    drop(servers);
    persistence::drop_postgres_database(&admin_url, &db_name).await.ok();
}
