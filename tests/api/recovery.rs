//! Crash safety: the server process is killed with SIGKILL in the middle of a backup and started
//! again on the same data directory and database.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, AgentProcess, Killed, basic, free_port};

struct Server {
    _process: Killed,
    base: String,
}

async fn start(data_dir: &Path, database_url: &str, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "--database-url", database_url, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("COFFER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // Short leases, so a killed agent's task is handed over within the minute the run allows;
        // and a limit above the run's own pace (one user sends every request and the agents' polls).
        .env("COFFER_LEASE_SECS", "5")
        .env("COFFER_RATE_LIMIT__PER_SECOND", "2000")
        .env("COFFER_RATE_LIMIT__BURST", "2000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("coffer serve starts");
    let server = Server { _process: Killed(child), base: format!("http://127.0.0.1:{port}") };
    for _ in 0..200 {
        if reqwest::get(format!("{}/healthz", server.base)).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// A request as the administrator; answers the status and the body (JSON, or `null`).
async fn send(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().request(method, format!("{}{path}", server.base)).header("authorization", basic("admin", ADMIN_PASSWORD));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn call(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    send(server, method, path, body).await.1
}

async fn wait_end(server: &Server, op: &str) -> Value {
    for _ in 0..900 {
        let v = call(server, reqwest::Method::GET, &format!("/admin/v1/operations/{op}"), None).await;
        if !matches!(v["state"].as_str(), Some("queued" | "running" | "cancelling")) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("operation {op} did not end");
}

#[tokio::test]
async fn a_server_killed_mid_backup_resumes_it_and_every_complete_backup_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (database_url, postgres) = match std::env::var("COFFER_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
            (coffer::persistence::create_postgres_database(&admin, &name).await.unwrap(), Some((admin, name)))
        }
        _ => {
            std::fs::create_dir_all(&data_dir).unwrap();
            (format!("sqlite://{}?mode=rwc", data_dir.join("coffer.db").display()), None)
        }
    };
    let src = dir.path().join("src");
    for i in 0..12 {
        std::fs::create_dir_all(&src).unwrap();
        let data: Vec<u8> = (0..2_000_000u32).map(|j| (j.wrapping_mul(2654435761).wrapping_add(i * 7919) >> 13) as u8).collect();
        std::fs::write(src.join(format!("big{i}.bin")), data).unwrap();
    }
    let port = free_port();
    let server = start(&data_dir, &database_url, port).await;
    let machine = call(&server, reqwest::Method::POST, "/admin/v1/machines", Some(json!({ "name": "files", "root": src }))).await;
    let first = call(&server, reqwest::Method::POST, "/admin/v1/backups", Some(json!({ "source_id": machine["id"] }))).await;
    assert_eq!(wait_end(&server, first["operation"]["id"].as_str().unwrap()).await["state"], "succeeded");

    // 24 MB at 4 MB/s: about six seconds, killed after the first.
    std::fs::write(src.join("new.bin"), vec![7u8; 1000]).unwrap();
    let started = call(
        &server,
        reqwest::Method::POST,
        "/admin/v1/backups",
        Some(json!({ "source_id": machine["id"], "options": { "throttle_bytes_per_sec": 4_000_000 } })),
    )
    .await;
    let op_id = started["operation"]["id"].as_str().unwrap().to_owned();
    let backup_id = started["backup"]["id"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        let op = call(&server, reqwest::Method::GET, &format!("/admin/v1/operations/{op_id}"), None).await;
        if op["tasks"][0]["progress"]["bytes_done"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server); // SIGKILL

    let server = start(&data_dir, &database_url, port).await;
    let backup = call(&server, reqwest::Method::GET, &format!("/admin/v1/backups/{backup_id}"), None).await;
    assert_ne!(backup["state"], "succeeded", "an interrupted backup is never shown complete: {backup}");
    let ended = wait_end(&server, &op_id).await;
    assert_eq!(ended["state"], "succeeded", "the interrupted backup is resumed: {ended}");
    assert_eq!(ended["tasks"][0]["attempts"], 2);

    let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
    let complete: Vec<&str> =
        list.as_array().unwrap().iter().filter(|b| b["state"] == "succeeded").map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(complete.len(), 2);
    for id in complete {
        let op = call(&server, reqwest::Method::POST, &format!("/admin/v1/backups/{id}/verify"), Some(json!({}))).await;
        let verified = wait_end(&server, op["id"].as_str().unwrap()).await;
        assert_eq!(verified["state"], "succeeded", "{verified}");
    }
    drop(server);
    if let Some((admin, name)) = postgres {
        coffer::persistence::drop_postgres_database(&admin, &name).await.unwrap();
    }
}

/// Random bytes from a fixed seed (the kill moments and the data repeat from run to run).
fn seeded(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Machines (file trees on the server's own agent) in the crash run.
const MACHINES: usize = 24;

async fn wait_agents_up(server: &Server, names: &[String]) {
    for _ in 0..200 {
        let agents = call(server, reqwest::Method::GET, "/admin/v1/agents", None).await;
        let up = |n: &String| agents.as_array().into_iter().flatten().any(|a| a["agent"]["name"] == n.as_str() && a["up"] == true);
        if names.iter().all(up) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("agents {names:?} did not come up");
}

/// A database instance of the crash run: its id in Coffer, its datastore and where it lives.
struct Instance {
    id: String,
    datastore: &'static str,
    location: String,
}

const ROWS: u32 = 2000;

/// Creates a database of `datastore` holding table `t` with [`ROWS`] rows; answers its location,
/// or `None` (having said SKIPPED; CI fails instead) when its server cannot be had.
async fn crash_database(datastore: &str, dir: &Path, n: usize) -> Option<String> {
    use sqlx::Connection;
    let name = format!("coffer_crash_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    match datastore {
        "sqlite" => {
            let path = dir.join(format!("shop{n}.sqlite"));
            let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").execute(&mut conn).await.unwrap();
            let insert = format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS}) INSERT INTO t SELECT i, 'row ' || i FROM s"
            );
            sqlx::query(sqlx::AssertSqlSafe(insert)).execute(&mut conn).await.unwrap();
            Some(path.display().to_string())
        }
        "postgresql" => {
            let admin_url = crate::databases::pg_admin_url();
            let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await else {
                crate::databases::skip_or_fail("PostgreSQL");
                return None;
            };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&format!("/{name}"));
            let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
            sqlx::query("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)").execute(&mut conn).await.unwrap();
            let insert = format!("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, {ROWS}) g");
            sqlx::query(sqlx::AssertSqlSafe(insert)).execute(&mut conn).await.unwrap();
            Some(url.to_string())
        }
        _ => {
            if crate::databases::mariadb("SELECT 1").is_err() {
                crate::databases::skip_or_fail("MariaDB");
                return None;
            }
            crate::databases::mariadb(&format!(
                "CREATE DATABASE {name}; USE {name}; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40));
                 INSERT INTO t SELECT seq, CONCAT('row ', seq) FROM seq_1_to_{ROWS};"
            ))
            .unwrap();
            Some(format!("mysql://root@127.0.0.1:3306/{name}"))
        }
    }
}

/// Every row of table `t`, as one text to compare.
async fn rows_of(datastore: &str, location: &str) -> String {
    use sqlx::Connection;
    match datastore {
        "sqlite" => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(location);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            sqlx::query_scalar("SELECT group_concat(id || ':' || v, ',') FROM (SELECT * FROM t ORDER BY id)")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        "postgresql" => {
            let mut conn = sqlx::PgConnection::connect(location).await.unwrap();
            sqlx::query_scalar("SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t").fetch_one(&mut conn).await.unwrap()
        }
        _ => {
            let db = url::Url::parse(location).unwrap().path().trim_start_matches('/').to_owned();
            crate::databases::mariadb(&format!("SELECT id, v FROM {db}.t ORDER BY id")).unwrap()
        }
    }
}

/// Drops the PostgreSQL and MariaDB databases a crash run made.
async fn drop_database(datastore: &str, location: &str) {
    use sqlx::Connection;
    let name = url::Url::parse(location).map(|u| u.path().trim_start_matches('/').to_owned()).unwrap_or_default();
    match datastore {
        "postgresql" => {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&crate::databases::pg_admin_url()).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut admin).await;
            }
        }
        "mysql" => {
            let _ = crate::databases::mariadb(&format!("DROP DATABASE IF EXISTS {name}"));
        }
        _ => {}
    }
}

/// Waits until no operation is queued or running; answers how long that took, or what is still
/// pending after `limit`.
async fn drain(server: &Server, limit: Duration) -> Result<Duration, Vec<Value>> {
    let started = std::time::Instant::now();
    loop {
        let ops = call(server, reqwest::Method::GET, "/admin/v1/operations?limit=1000", None).await;
        let pending: Vec<Value> = ops
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| matches!(o["state"].as_str(), Some("queued" | "running" | "cancelling")))
            .cloned()
            .collect();
        if pending.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(pending);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The crash run: work in all four dialects (machines on the server's own agent, a 3-node cluster on
/// three remote agents, Cloud Backup on a fourth, SQLite, PostgreSQL and MariaDB instances), backups
/// and restores, `COFFER_CRASH_LOAD` operations (12 here, 50 in scripts/crash.sh) started before each of
/// `COFFER_CRASH_KILLS` SIGKILLs of the server (3 here, 20 there), each agent killed too one time in
/// three; after each restart everything ends within a minute; at the end every backup shown complete
/// verifies, and every complete file backup (machines, Cloud Backup) restores byte for byte, and the
/// newest of each instance restores into a new instance row for row.
#[tokio::test]
async fn work_in_four_dialects_survives_kills_of_the_server_and_its_agents_and_every_complete_backup_verifies_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let metadata = match std::env::var("COFFER_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("coffer_test_{}", uuid::Uuid::new_v4().simple());
            Some((coffer::persistence::create_postgres_database(&admin, &name).await.unwrap(), admin, name))
        }
        _ => None,
    };
    let database_url =
        metadata.as_ref().map(|m| m.0.clone()).unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("coffer.db").display()));
    let kills: u32 = std::env::var("COFFER_CRASH_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(3);
    let load: u32 = std::env::var("COFFER_CRASH_LOAD").ok().and_then(|k| k.parse().ok()).unwrap_or(12);
    let mut next = seeded(20261202);

    let trees: Vec<_> = (0..=MACHINES).map(|i| dir.path().join(format!("tree{i}"))).collect();
    for (i, t) in trees.iter().enumerate() {
        crate::helpers::tree::generate(t, 30, 40 + i as u64);
    }
    let (machine_trees, cb_tree) = (&trees[..MACHINES], &trees[MACHINES]);
    let port = free_port();
    let mut server = start(&data_dir, &database_url, port).await;
    let (status, key) = send(&server, reqwest::Method::POST, "/admin/v1/keys", Some(json!({ "name": "agents" }))).await;
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();
    let agent_names: Vec<String> = ["node-1", "node-2", "node-3", "files01"].iter().map(|n| format!("crash-{n}")).collect();
    let mut agents: Vec<AgentProcess> = agent_names.iter().map(|n| AgentProcess::spawn(&server.base, &key, n)).collect();
    wait_agents_up(&server, &agent_names).await;

    let mut machines = Vec::new();
    for (i, t) in machine_trees.iter().enumerate() {
        let m = call(&server, reqwest::Method::POST, "/admin/v1/machines", Some(json!({ "name": format!("tree{i}"), "root": t }))).await;
        machines.push(m["id"].as_str().unwrap().to_owned());
    }
    let nodes: Vec<Value> = (1..=3)
        .map(|n| {
            let data = dir.path().join(format!("node{n}/data"));
            crate::helpers::tree::generate(&data.join("ks").join("t-00112233445566778899aabbccddeeff"), 8, 70 + n);
            json!({ "name": format!("10.8.0.{n}"), "location": data, "agent": agent_names[n as usize - 1] })
        })
        .collect();
    let cluster = call(&server, reqwest::Method::POST, "/admin/v1/clusters", Some(json!({ "name": "Crashy", "nodes": nodes }))).await;
    let cluster_id = cluster["id"].as_str().unwrap().to_owned();
    let mut instances = Vec::new();
    for (n, datastore) in ["sqlite", "sqlite", "sqlite", "postgresql", "mysql"].into_iter().enumerate() {
        let Some(location) = crash_database(datastore, dir.path(), n).await else { continue };
        let body = json!({ "name": format!("shop{n}-{datastore}"), "datastore": datastore, "location": location });
        let (status, created) = send(&server, reqwest::Method::POST, "/admin/v1/instances", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        instances.push(Instance { id: created["id"].as_str().unwrap().to_owned(), datastore, location });
    }
    let agents_list = call(&server, reqwest::Method::GET, "/v1.0/user/agents", None).await;
    let cb_agent = agents_list.as_array().unwrap().iter().find(|a| a["MachineName"] == "crash-files01").unwrap()["MachineAgentId"].clone();
    let config = json!({
        "BackupConfigurationName": "crash files", "MachineAgentId": cb_agent, "Frequency": "Manually", "TimeZoneId": "UTC",
        "VersionRetention": 30, "Inclusions": [{ "FilePath": cb_tree, "FileItemType": "Folder" }], "Exclusions": [],
    });
    let (status, config) = send(&server, reqwest::Method::POST, "/v1.0/backup-configuration", Some(config)).await;
    assert_eq!(status, 200, "{config}");
    let cb_config = config["BackupConfigurationId"].as_i64().unwrap();

    let (mut sent, mut accepted, mut agent_kills, mut longest) = (0, 0, 0, Duration::ZERO);
    let mut refused = std::collections::BTreeMap::<String, u32>::new();
    let mut least_in_flight = u32::MAX;
    let (mut next_machine, mut next_instance) = (0, 0);
    for round in 0..kills {
        // Requests until `load` operations are accepted (at most three times as many sent): a source
        // takes one backup at a time, so some are refused with 422, which is counted.
        let backups = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
        let complete_machine_backups: Vec<String> = backups
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["state"] == "succeeded" && machines.contains(&b["source_id"].as_str().unwrap().to_owned()))
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        let completed_cb = call(&server, reqwest::Method::GET, &format!("/v1.0/backup/completed/{cb_config}"), None).await;
        let (mut i, mut round_accepted) = (0, 0);
        while round_accepted < load && i < 3 * load {
            let throttled = json!({ "throttle_bytes_per_sec": 3_000_000 });
            let cb_start = ("POST", "/v1.0/backup/action-requested".to_owned(), json!({ "Action": "StartManual", "Id": cb_config }));
            let (method, path, body) = match i % 10 {
                0 | 4 | 7 | 9 => {
                    next_machine += 1;
                    let options = if i % 10 == 9 { json!({}) } else { throttled };
                    (
                        "POST",
                        "/admin/v1/backups".to_owned(),
                        json!({ "source_id": machines[next_machine % machines.len()], "options": options }),
                    )
                }
                1 if (i / 10) % 2 == 0 => ("POST", "/Crashy/backups/run".to_owned(), json!({})),
                1 => ("POST", format!("/provisioning/v1/{cluster_id}/backups"), json!({})),
                2 | 8 => {
                    next_instance += 1;
                    let instance = &instances[next_instance % instances.len()];
                    let body = json!({ "backup": { "name": format!("r{round}-{i}"), "instance": instance.id } });
                    ("POST", "/v1.0/default/backups".to_owned(), body)
                }
                3 => cb_start,
                5 => match complete_machine_backups.get(i as usize % complete_machine_backups.len().max(1)) {
                    Some(id) => {
                        let target = dir.path().join(format!("early-restore-{round}-{i}"));
                        let body = json!({ "target": { "type": "path", "path": target }, "options": throttled });
                        ("POST", format!("/admin/v1/backups/{id}/restore"), body)
                    }
                    None => cb_start,
                },
                _ => match completed_cb[0]["BackupId"].as_i64() {
                    Some(backup) => {
                        let body = json!({ "BackupId": backup, "BackupMachineId": cb_agent, "DestinationMachineId": cb_agent,
                                           "DestinationPath": dir.path().join(format!("cb-restore-{round}-{i}")), "OverwriteFiles": false });
                        let (_, draft) = send(&server, reqwest::Method::PUT, "/v1.0/restore", Some(body)).await;
                        ("POST", "/v1.0/restore/action-requested".to_owned(), json!({ "Action": "StartManual", "Id": draft["RestoreId"] }))
                    }
                    None => cb_start,
                },
            };
            let (status, answer) = send(&server, method.parse().unwrap(), &path, Some(body)).await;
            assert!(status < 500, "{method} {path}: {status} {answer}");
            sent += 1;
            i += 1;
            if status < 300 {
                round_accepted += 1;
            } else {
                // A backup already running: 422, or 409 where the dialect calls it a conflict
                // (Cloud Backup, whose seed lists no 422, and Instaclustr).
                let conflict_dialect = path.contains("/backup/") || path.starts_with("/provisioning/");
                assert!(status == 422 || status == 409 && conflict_dialect, "{method} {path}: {status} {answer}");
                *refused.entry(path.split('/').nth(1).unwrap_or("").to_owned()).or_insert(0) += 1;
            }
        }
        accepted += round_accepted;
        least_in_flight = least_in_flight.min(round_accepted);
        tokio::time::sleep(Duration::from_millis(300 + next() % 1200)).await;
        drop(server); // SIGKILL
        let mut killed = Vec::new();
        for (i, agent) in agents.iter_mut().enumerate() {
            if next().is_multiple_of(3) {
                agent.kill();
                killed.push(i);
            }
        }
        agent_kills += killed.len();
        server = start(&data_dir, &database_url, port).await;
        for i in killed {
            agents[i] = AgentProcess::spawn(&server.base, &key, &agent_names[i]);
        }
        match drain(&server, Duration::from_secs(60)).await {
            Ok(took) => longest = longest.max(took),
            Err(pending) => panic!("round {round}: operations still running a minute after the restart: {pending:?}"),
        }
    }

    // Interrupted work either finished or failed saying why; new work runs as usual.
    let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
    for b in list.as_array().unwrap().iter().filter(|b| b["state"] == "failed") {
        assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()), "a failed backup says why: {b}");
    }
    for m in &machines {
        let op = call(&server, reqwest::Method::POST, "/admin/v1/backups", Some(json!({ "source_id": m }))).await;
        assert_eq!(wait_end(&server, op["operation"]["id"].as_str().unwrap()).await["state"], "succeeded");
    }
    for instance in &instances {
        let op = call(&server, reqwest::Method::POST, "/admin/v1/backups", Some(json!({ "source_id": instance.id }))).await;
        assert_eq!(wait_end(&server, op["operation"]["id"].as_str().unwrap()).await["state"], "succeeded", "{}", instance.datastore);
    }

    // Every backup shown complete verifies (so no chunk a manifest names is missing or damaged).
    let list = call(&server, reqwest::Method::GET, "/admin/v1/backups", None).await;
    let complete: Vec<Value> = list.as_array().unwrap().iter().filter(|b| b["state"] == "succeeded").cloned().collect();
    assert!(complete.len() >= 3, "work completed across the kills: {list}");
    let mut verifies = Vec::new();
    for b in &complete {
        let op =
            call(&server, reqwest::Method::POST, &format!("/admin/v1/backups/{}/verify", b["id"].as_str().unwrap()), Some(json!({}))).await;
        verifies.push((b["id"].clone(), op["id"].as_str().unwrap().to_owned()));
    }
    for (backup, op) in &verifies {
        let verified = wait_end(&server, op).await;
        assert_eq!(verified["state"], "succeeded", "backup {backup} shown complete must verify: {verified}");
    }

    // Every complete file backup restores byte for byte.
    let mut restored = 0;
    let known: Vec<&str> =
        machines.iter().map(String::as_str).chain([cluster_id.as_str()]).chain(instances.iter().map(|i| i.id.as_str())).collect();
    for b in &complete {
        let (id, source) = (b["id"].as_str().unwrap(), b["source_id"].as_str().unwrap());
        // A Cloud Backup restore lays the backed-up absolute paths out under the target.
        let (tree, under) = match machines.iter().position(|m| m == source) {
            Some(i) => (&machine_trees[i], Path::new("")),
            None if !known.contains(&source) => (cb_tree, cb_tree.strip_prefix("/").unwrap()),
            None => continue,
        };
        let out = dir.path().join(format!("check-{id}"));
        let body = json!({ "target": { "type": "path", "path": out } });
        let op = call(&server, reqwest::Method::POST, &format!("/admin/v1/backups/{id}/restore"), Some(body)).await;
        assert_eq!(wait_end(&server, op["id"].as_str().unwrap()).await["state"], "succeeded");
        assert_eq!(
            crate::helpers::tree::fingerprint(&out.join(under)),
            crate::helpers::tree::fingerprint(tree),
            "backup {id} restores byte for byte"
        );
        restored += 1;
    }

    // The newest complete backup of each instance restores into a new instance, row for row.
    let mut copies = Vec::new();
    for (n, instance) in instances.iter().enumerate() {
        let newest = complete.iter().find(|b| b["source_id"] == instance.id.as_str()).expect("a complete backup of each instance");
        let body = json!({ "target": { "type": "new_instance", "name": format!("copy{n}-{}", instance.datastore) } });
        let path = format!("/admin/v1/backups/{}/restore", newest["id"].as_str().unwrap());
        let (status, op) = send(&server, reqwest::Method::POST, &path, Some(body)).await;
        assert_eq!(status, 202, "{op}");
        let ended = wait_end(&server, op["id"].as_str().unwrap()).await;
        assert_eq!(ended["state"], "succeeded", "{ended}");
        let source = call(
            &server,
            reqwest::Method::GET,
            &format!("/admin/v1/sources/{}", ended["result"]["source_id"].as_str().unwrap_or_else(|| panic!("{ended}"))),
            None,
        )
        .await;
        let copy = source["nodes"][0]["location"].as_str().unwrap().to_owned();
        assert_eq!(
            rows_of(instance.datastore, &copy).await,
            rows_of(instance.datastore, &instance.location).await,
            "{}",
            instance.datastore
        );
        copies.push((instance.datastore, copy));
    }

    let failed = list.as_array().unwrap().iter().filter(|b| b["state"] == "failed").count();
    eprintln!(
        "crash run: {kills} server kills and {agent_kills} agent kills, {sent} requests ({accepted} operations started, at least {least_in_flight} in each round before its kill; \
         refused with 422 as their source was busy: {refused:?}), \
         everything ended at most {:.1} s after a restart; {} backups complete and verified, {restored} restored byte for byte, \
         {} instances restored row for row ({}), {failed} failed with a reason",
        longest.as_secs_f64(),
        complete.len(),
        copies.len(),
        instances.iter().map(|i| i.datastore).collect::<Vec<_>>().join(", ")
    );
    drop(agents);
    drop(server);
    for (datastore, location) in instances.iter().map(|i| (i.datastore, i.location.clone())).chain(copies) {
        drop_database(datastore, &location).await;
    }
    if let Some((_, admin, name)) = metadata {
        coffer::persistence::drop_postgres_database(&admin, &name).await.unwrap();
    }
}
