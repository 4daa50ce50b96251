//! Remote agents: three `coffer agent` processes on 127.0.0.1 act as a 3-node cluster.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helpers::{TestApp, backup_and_wait, get, post, restore_and_wait, spawn_app, start_agent, tree};

const TABLES: &[(&str, &str)] = &[
    ("Keyspace1", "users-0123456789abcdef0123456789abcdef"),
    ("Keyspace1", "dates-89abcdef0123456789abcdef01234567"),
    ("OpsCenter", "events-fedcba9876543210fedcba9876543210"),
    ("Other", "things-00112233445566778899aabbccddeeff"),
];

fn node_data(root: &Path, node: usize) -> PathBuf {
    let data = root.join(format!("node{node}/data"));
    for (i, (ks, table)) in TABLES.iter().enumerate() {
        let dir = data.join(ks).join(table);
        tree::generate(&dir, 6, (node * 100 + i) as u64);
    }
    data
}

fn table_dir(data: &Path, ks: &str, prefix: &str) -> PathBuf {
    data.join(ks).join(TABLES.iter().find(|(k, t)| *k == ks && t.starts_with(prefix)).unwrap().1)
}

#[tokio::test]
async fn three_remote_agents_back_up_two_keyspaces_and_restore_a_table_and_a_new_cluster() {
    let app = spawn_app().await;
    let session = app.user_with_role("ops", "operator", None).await;
    let (key, _) = app.api_key(&session, false).await;
    let _agents =
        [start_agent(&app, &key, "agent1").await, start_agent(&app, &key, "agent2").await, start_agent(&app, &key, "agent3").await];

    let root = tempfile::tempdir().unwrap();
    let nodes: Vec<PathBuf> = (1..=3).map(|i| node_data(root.path(), i)).collect();
    let node_specs: Vec<Value> = nodes
        .iter()
        .enumerate()
        .map(
            |(i, d)| json!({ "name": format!("10.0.0.{}", i + 1), "agent": format!("agent{}", i + 1), "location": d, "datacenter": "dc1" }),
        )
        .collect();
    let (status, cluster) = post(&app, &session, "/admin/v1/clusters", json!({ "name": "Prod", "nodes": node_specs })).await;
    assert_eq!(status, 201, "{cluster}");
    assert_eq!(cluster["nodes"][1]["agent"], "agent2");

    let original: Vec<_> =
        nodes.iter().map(|d| (tree::fingerprint(&d.join("Keyspace1")), tree::fingerprint(&d.join("OpsCenter")))).collect();
    let op =
        backup_and_wait(&app, &session, json!({ "source_id": cluster["id"], "selection": { "keyspaces": ["Keyspace1", "OpsCenter"] } }))
            .await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let backup_id = op["backup_id"].as_str().unwrap().to_owned();
    let (_, backup) = get(&app, &session, &format!("/admin/v1/backups/{backup_id}")).await;
    let parts = backup["nodes"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for part in parts {
        let tables: Vec<&str> = part["detail"]["tables"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(tables, ["Keyspace1.dates", "Keyspace1.users", "OpsCenter.events"], "{part}");
        assert_eq!(part["files"], 18);
    }

    // Damage users on every node, change dates; restore only users, truncating it first.
    for d in &nodes {
        let users = table_dir(d, "Keyspace1", "users");
        tree::mutate(&users, 50);
        std::fs::write(users.join("stray-Data.db"), b"not from the backup").unwrap();
        tree::mutate(&table_dir(d, "Keyspace1", "dates"), 100);
    }
    let changed_dates: Vec<_> = nodes.iter().map(|d| tree::fingerprint(&table_dir(d, "Keyspace1", "dates"))).collect();
    let restored = restore_and_wait(
        &app,
        &session,
        &backup_id,
        json!({ "target": { "type": "same_nodes", "truncate": true }, "selection": { "tables": ["Keyspace1.users"] } }),
    )
    .await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    for (i, d) in nodes.iter().enumerate() {
        let users = tree::fingerprint(&d.join("Keyspace1")).into_iter().filter(|(p, _)| p.starts_with("users-")).collect::<Vec<_>>();
        let expected = original[i].0.clone().into_iter().filter(|(p, _)| p.starts_with("users-")).collect::<Vec<_>>();
        assert_eq!(users, expected, "node {i}: users is back exactly, the stray file is gone");
        assert_eq!(tree::fingerprint(&table_dir(d, "Keyspace1", "dates")), changed_dates[i], "node {i}: dates was not selected");
    }

    // The whole backup into a new cluster of three new directories.
    let targets: Vec<PathBuf> = (1..=3).map(|i| root.path().join(format!("new{i}/data"))).collect();
    let restored = restore_and_wait(
        &app,
        &session,
        &backup_id,
        json!({ "target": { "type": "new_cluster", "name": "Prod-copy", "locations": targets } }),
    )
    .await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    for (i, t) in targets.iter().enumerate() {
        assert_eq!((tree::fingerprint(&t.join("Keyspace1")), tree::fingerprint(&t.join("OpsCenter"))), original[i], "new node {i}");
        assert!(!t.join("Other").exists(), "a keyspace outside the backup is not created");
    }
    let (_, copy) = get(&app, &session, &format!("/admin/v1/sources/{}", restored["result"]["source_id"].as_str().unwrap())).await;
    assert_eq!(copy["name"], "Prod-copy");
    let agents: Vec<&str> = copy["nodes"].as_array().unwrap().iter().map(|n| n["agent"].as_str().unwrap()).collect();
    assert_eq!(agents, ["agent1", "agent2", "agent3"]);
}

#[tokio::test]
async fn excluded_nodes_are_left_out_and_an_unknown_one_is_refused() {
    let app = spawn_app().await;
    let session = app.user_with_role("ops", "operator", None).await;
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (node_data(root.path(), 1), node_data(root.path(), 2));
    let (_, cluster) = post(
        &app,
        &session,
        "/admin/v1/clusters",
        json!({ "name": "Two", "nodes": [{ "name": "n1", "location": a }, { "name": "n2", "location": b }] }),
    )
    .await;
    let (status, refused) =
        post(&app, &session, "/admin/v1/backups", json!({ "source_id": cluster["id"], "options": { "excluded_nodes": ["n9"] } })).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("n9"));
    let op = backup_and_wait(&app, &session, json!({ "source_id": cluster["id"], "options": { "excluded_nodes": ["n1"] } })).await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let nodes: Vec<&str> = op["tasks"].as_array().unwrap().iter().map(|t| t["node_name"].as_str().unwrap()).collect();
    assert_eq!(nodes, ["n2"]);
}

#[tokio::test]
async fn a_node_whose_agent_is_down_fails_the_backup_unless_forced_and_is_then_skipped() {
    let app = crate::helpers::spawn_app_with(|s| s.agent_down_after_secs = 1).await;
    let session = app.user_with_role("ops", "operator", None).await;
    let (key, _) = app.api_key(&session, false).await;
    let agent = start_agent(&app, &key, "agent1").await;
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (node_data(root.path(), 1), node_data(root.path(), 2));
    let nodes = json!([{ "name": "n1", "agent": "agent1", "location": a }, { "name": "n2", "location": b }]);
    let (_, cluster) = post(&app, &session, "/admin/v1/clusters", json!({ "name": "Half", "nodes": nodes })).await;
    drop(agent);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let (status, refused) = post(&app, &session, "/admin/v1/backups", json!({ "source_id": cluster["id"] })).await;
    assert_eq!(status, 503, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("n1"));

    let op = backup_and_wait(&app, &session, json!({ "source_id": cluster["id"], "options": { "force": true } })).await;
    assert_eq!(op["state"], "succeeded_with_errors", "{op}");
    let states: Vec<(&str, &str)> =
        op["tasks"].as_array().unwrap().iter().map(|t| (t["node_name"].as_str().unwrap(), t["state"].as_str().unwrap())).collect();
    assert_eq!(states, [("n1", "skipped"), ("n2", "succeeded")]);
    let (_, backup) = get(&app, &session, &format!("/admin/v1/backups/{}", op["backup_id"].as_str().unwrap())).await;
    assert_eq!(backup["state"], "succeeded_with_errors");
}

/// Registers `name` over the agent protocol with a user credential; answers (agent id, agent key).
async fn register(app: &TestApp, credential: &str, name: &str) -> (String, String) {
    let resp = app
        .client
        .post(app.url("/agent/v1/register"))
        .header("x-auth-token", credential)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (body["agent_id"].as_str().unwrap().to_owned(), body["token"].as_str().unwrap().to_owned())
}

async fn status_of(app: &TestApp, method: reqwest::Method, path: &str, credential: &str) -> u16 {
    let req = app.client.request(method.clone(), app.url(path)).header("x-auth-token", credential);
    let req = if method == reqwest::Method::GET { req } else { req.json(&json!({})) };
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_agents_key_acts_only_as_that_agent_and_only_in_the_agent_protocol() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", None).await;
    let (user_key, _) = app.api_key(&operator, false).await;
    let (a_id, a_key) = register(&app, &user_key, "scoped-a").await;
    let (_, b_key) = register(&app, &user_key, "scoped-b").await;
    let claim = format!("/agent/v1/agents/{a_id}/claim");

    assert_eq!(status_of(&app, reqwest::Method::POST, &claim, &a_key).await, 204, "its own key claims (nothing to do)");
    assert_eq!(status_of(&app, reqwest::Method::POST, &claim, &b_key).await, 404, "another agent's key does not");
    assert_eq!(status_of(&app, reqwest::Method::POST, &claim, &user_key).await, 403, "nor does a user's key");
    let progress = format!("/agent/v1/agents/{a_id}/tasks/{}/progress", uuid::Uuid::new_v4());
    assert_eq!(status_of(&app, reqwest::Method::POST, &progress, &b_key).await, 404);

    for (method, path) in [(reqwest::Method::GET, "/admin/v1/sources"), (reqwest::Method::GET, "/v1.0/user/agents")] {
        assert_eq!(status_of(&app, method, path, &a_key).await, 403, "{path}: an agent key is not a user's");
    }
    let store = format!("/agent/v1/stores/{}/list?prefix=", uuid::Uuid::new_v4());
    assert_eq!(status_of(&app, reqwest::Method::GET, &store, &user_key).await, 403, "the raw store is for agents only");
    let resp = app
        .client
        .post(app.url("/agent/v1/register"))
        .header("x-auth-token", &a_key)
        .json(&json!({ "name": "scoped-b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "an agent cannot take another agent's name");

    app.tenant("elsewhere").await;
    let stranger = app.user_with_role("stranger", "operator", Some("elsewhere")).await;
    let (stranger_key, _) = app.api_key(&stranger, false).await;
    let (_, stranger_agent) = register(&app, &stranger_key, "scoped-a").await;
    assert_eq!(status_of(&app, reqwest::Method::POST, &claim, &stranger_agent).await, 404, "another tenant's agent of the same name");

    // The raw store is the caller's tenant's repository: another tenant's agent sees none of ours.
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 3, 5);
    let (_, machine) = post(&app, &operator, "/admin/v1/machines", json!({ "name": "scoped-files", "root": src.path() })).await;
    let op = backup_and_wait(&app, &operator, json!({ "source_id": machine["id"] })).await;
    let (_, backup) = get(&app, &operator, &format!("/admin/v1/backups/{}", op["backup_id"].as_str().unwrap())).await;
    let listing = |key: String| {
        let url = app.url(&format!("/agent/v1/stores/{}/list?prefix=snapshots/", backup["destination_id"].as_str().unwrap()));
        let client = app.client.clone();
        async move { client.get(url).header("x-auth-token", key).send().await.unwrap().text().await.unwrap() }
    };
    let backup_id = op["backup_id"].as_str().unwrap();
    assert!(listing(a_key.clone()).await.contains(backup_id), "our agent sees our snapshot");
    assert!(!listing(stranger_agent.clone()).await.contains(backup_id), "another tenant's agent does not");
}

/// A 3-node cluster on three remote agents, each node holding one table of `bytes` random bytes.
async fn small_cluster(app: &TestApp, session: &str, root: &Path, name: &str, agents: &[&str], bytes: usize) -> String {
    let nodes: Vec<Value> = agents
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            let data = root.join(format!("{name}-{i}/data"));
            let table = data.join("ks").join("t-00112233445566778899aabbccddeeff");
            std::fs::create_dir_all(&table).unwrap();
            std::fs::write(table.join("nb-1-big-Data.db"), (0..bytes).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
            json!({ "name": format!("10.5.0.{}", i + 1), "agent": agent, "location": data })
        })
        .collect();
    let (status, cluster) = post(app, session, "/admin/v1/clusters", json!({ "name": name, "nodes": nodes })).await;
    assert_eq!(status, 201, "{cluster}");
    cluster["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_agent_that_vanishes_mid_backup_fails_its_node_with_a_reason_and_force_lets_the_others_finish() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.lease_secs = 2;
        s.agent_down_after_secs = 2;
    })
    .await;
    let session = app.user_with_role("ops", "operator", None).await;
    let (key, _) = app.api_key(&session, false).await;
    let root = tempfile::tempdir().unwrap();
    for force in [false, true] {
        let names: Vec<String> = (1..=3).map(|i| format!("vanish-{force}-{i}")).collect();
        let mut agents = Vec::new();
        for n in &names {
            agents.push(start_agent(&app, &key, n).await);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let cluster = small_cluster(&app, &session, root.path(), &format!("Vanish{force}"), &refs, 600_000).await;
        // Throttled, so every node is still copying when the second agent is killed.
        let body = json!({ "source_id": cluster, "options": { "throttle_bytes_per_sec": 200_000, "force": force } });
        // Every agent must have been heard from just before the backup starts: on a loaded machine
        // a new agent's poll can come later than `agent_down_after_secs`, and its node counts as down.
        for _ in 0..100 {
            let (_, listed) = get(&app, &session, "/admin/v1/agents").await;
            let up = listed
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| names.contains(&a["agent"]["name"].as_str().unwrap_or("").to_owned()) && a["up"] == true)
                .count();
            if up == names.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (status, op) = post(&app, &session, "/admin/v1/backups", body).await;
        assert_eq!(status, 202, "{op}");
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        drop(agents.remove(1));
        let op_id = op["operation"]["id"].as_str().unwrap();
        let ended = crate::helpers::wait_for(&app, &session, op_id).await;
        let (_, tasks) = get(&app, &session, &format!("/admin/v1/operations/{op_id}")).await;
        let lost = tasks["tasks"].as_array().unwrap().iter().find(|t| t["node_name"] == "10.5.0.2").unwrap().clone();
        if force {
            assert_eq!(ended["state"], "succeeded_with_errors", "the others finished: {ended}");
            assert_eq!(lost["state"], "skipped", "{lost}");
            let others = tasks["tasks"].as_array().unwrap().iter().filter(|t| t["node_name"] != "10.5.0.2").count();
            assert!(tasks["tasks"].as_array().unwrap().iter().filter(|t| t["state"] == "succeeded").count() == others, "{tasks}");
        } else {
            assert_eq!(ended["state"], "failed", "{ended}");
            assert!(ended["error"].as_str().unwrap().contains("10.5.0.2"), "the reason names the node: {ended}");
            assert_eq!(lost["state"], "failed", "{lost}");
        }
        assert!(lost["error"].as_str().unwrap().contains(&names[1]), "and its agent: {lost}");
    }
}

#[tokio::test]
async fn an_agent_whose_lease_ran_out_is_told_to_stop_and_its_late_end_is_refused_while_the_new_claim_finishes() {
    let app = crate::helpers::spawn_app_with(|s| s.lease_secs = 2).await;
    let session = app.user_with_role("ops", "operator", None).await;
    let (key, _) = app.api_key(&session, false).await;
    let (agent_id, stale_key) = register(&app, &key, "slow-node").await;
    let root = tempfile::tempdir().unwrap();
    let cluster = small_cluster(&app, &session, root.path(), "Handover", &["slow-node"], 400_000).await;
    let body = json!({ "source_id": cluster, "options": { "throttle_bytes_per_sec": 150_000 } });
    let (status, op) = post(&app, &session, "/admin/v1/backups", body).await;
    assert_eq!(status, 202, "{op}");
    let op_id = op["operation"]["id"].as_str().unwrap().to_owned();

    // The first claim goes to a client that then falls silent, as a paused or cut-off agent does.
    let agent_call = |path: String, body: Value| {
        let req = app.client.post(app.url(&format!("/agent/v1/agents/{agent_id}{path}"))).header("x-auth-token", &stale_key).json(&body);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, claimed) = agent_call("/claim".into(), json!({})).await;
    assert_eq!(status, 200, "{claimed}");
    let claimed: Value = serde_json::from_str(&claimed).unwrap();
    assert_eq!(claimed["attempt"], 1, "{claimed}");
    let task = claimed["task_id"].as_str().unwrap().to_owned();

    // Its lease runs out and the task is queued again; then the real agent takes it over.
    let mut requeued = false;
    for _ in 0..150 {
        let (_, detail) = get(&app, &session, &format!("/admin/v1/operations/{op_id}")).await;
        if detail["tasks"][0]["state"] == "queued" {
            requeued = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(requeued, "the expired lease put the task back in the queue within 15 s");
    let _agent = start_agent(&app, &key, "slow-node").await;
    let mut taken_over = false;
    for _ in 0..100 {
        let (_, detail) = get(&app, &session, &format!("/admin/v1/operations/{op_id}")).await;
        if detail["tasks"][0]["attempts"] == 2 {
            taken_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(taken_over, "the restarted agent claimed the task again");

    let progress = json!({ "files_done": 1, "files_total": 1, "bytes_done": 10, "bytes_total": 10 });
    let (status, stop) = agent_call(format!("/tasks/{task}/progress?attempt=1"), progress.clone()).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&stop).unwrap()["cancel"].clone()),
        (200, json!(true)),
        "the old claim is told to stop"
    );
    let late = json!({ "state": "failed", "error": "the old claim's late end", "progress": progress, "result": null });
    let (status, refused) = agent_call(format!("/tasks/{task}/finish?attempt=1"), late).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("handed over"), "{refused}");

    let ended = crate::helpers::wait_for(&app, &session, &op_id).await;
    assert_eq!(ended["state"], "succeeded", "the new claim's run is the one that counts: {ended}");
    let (_, detail) = get(&app, &session, &format!("/admin/v1/operations/{op_id}")).await;
    assert_eq!(detail["tasks"][0]["attempts"], 2, "{detail}");
    let backup_id = ended["backup_id"].as_str().unwrap();
    let (_, verify) = post(&app, &session, &format!("/admin/v1/backups/{backup_id}/verify"), json!({})).await;
    assert_eq!(crate::helpers::wait_for(&app, &session, verify["id"].as_str().unwrap()).await["state"], "succeeded");
}

#[tokio::test]
async fn a_source_on_an_agent_of_another_tenant_is_refused_naming_the_tenant_looked_in_and_the_one_it_is_in() {
    let app = spawn_app().await;
    app.tenant("demo").await;
    let demo_operator = app.user_with_role("demo-ops", "operator", Some("demo")).await;
    register(&app, &demo_operator, "node-b").await;
    let data = tempfile::tempdir().unwrap();
    let cluster = json!({ "name": "c1", "nodes": [{ "name": "n1", "agent": "node-b", "location": data.path() }] });

    // The admin of the default tenant may see every tenant: it is told where node-b is.
    let admin = crate::helpers::basic("admin", crate::helpers::ADMIN_PASSWORD);
    let resp = app.client.post(app.url("/admin/v1/clusters")).header("authorization", &admin).json(&cluster).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no agent named 'node-b' has registered in tenant 'default'"), "{message}");
    assert!(message.contains("in tenant 'demo'"), "{message}");

    // An operator of the default tenant is told where it looked, and nothing of other tenants.
    let operator = app.user_with_role("ops", "operator", None).await;
    let (status, body) = post(&app, &operator, "/admin/v1/clusters", cluster.clone()).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("in tenant 'default'"), "{message}");
    assert!(!message.contains("demo"), "another tenant's name is not shown: {message}");

    // The command line runs as the service's administrator: without --tenant it says both.
    let node = format!("name=n1,location={},agent=node-b", data.path().display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", app.data_dir.to_str().unwrap(), "--database-url", &app.database_url])
        .args(["cluster", "add", "c1", "--node", &node])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("in tenant 'default'") && stderr.contains("in tenant 'demo'"), "{stderr}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", app.data_dir.to_str().unwrap(), "--database-url", &app.database_url])
        .args(["cluster", "add", "c1", "--tenant", "demo", "--node", &node])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
