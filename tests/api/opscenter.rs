//! The OpsCenter dialect as its scripts use it: a session from `POST /login`, bodies sent the way
//! `curl -d` sends them (JSON labelled as a form) or as real forms, answers in OpsCenter's shapes.

use std::{path::Path, time::Duration};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, spawn_app, tree};

/// Logs in with a form body, as python `requests.post(data=...)` does; answers the session id.
pub(crate) async fn login(app: &TestApp) -> String {
    let resp = app.client.post(app.url("/login")).form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let session = body["sessionid"].as_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("TWISTED_SESSION={session}")));
    session
}

pub(crate) async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get(app: &TestApp, session: &str, path: &str) -> (u16, Value) {
    answer(app.client.get(app.url(path)).header("opscenter-session", session).send().await.unwrap()).await
}

/// POSTs a JSON body the way `curl -d` does: labelled `application/x-www-form-urlencoded`.
pub(crate) async fn post(app: &TestApp, session: &str, path: &str, body: Value) -> (u16, Value) {
    let req = app.client.post(app.url(path)).header("opscenter-session", session);
    answer(req.header("content-type", "application/x-www-form-urlencoded").body(body.to_string()).send().await.unwrap()).await
}

pub(crate) async fn delete(app: &TestApp, session: &str, path: &str) -> (u16, Value) {
    answer(app.client.delete(app.url(path)).header("opscenter-session", session).send().await.unwrap()).await
}

/// Polls a request until it leaves `running`; answers its last status.
pub(crate) async fn until_done(app: &TestApp, session: &str, request: &Value) -> Value {
    let id = request.as_str().unwrap_or_else(|| panic!("a request id is a bare string: {request}"));
    for _ in 0..600 {
        let (status, body) = get(app, session, &format!("/request/{id}/status")).await;
        assert_eq!(status, 200, "{body}");
        if body["state"] != "running" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("request {id} never ended");
}

const TABLES: &[(&str, &str)] = &[
    ("Keyspace1", "users-0123456789abcdef0123456789abcdef"),
    ("Keyspace1", "dates-89abcdef0123456789abcdef01234567"),
    ("OpsCenter", "events-fedcba9876543210fedcba9876543210"),
];

/// Three node data directories on the server's own agent, registered as cluster `Test_Cluster`.
pub(crate) async fn cluster(app: &TestApp, session: &str, root: &Path) -> Vec<std::path::PathBuf> {
    let dirs: Vec<_> = (1..=3).map(|n| root.join(format!("node{n}/data"))).collect();
    for (n, dir) in dirs.iter().enumerate() {
        for (i, (ks, table)) in TABLES.iter().enumerate() {
            tree::generate(&dir.join(ks).join(table), 5, (n * 10 + i) as u64);
        }
    }
    let nodes: Vec<Value> =
        dirs.iter().enumerate().map(|(n, d)| json!({ "name": format!("127.0.0.{}", n + 1), "location": d, "datacenter": "dc1" })).collect();
    let (status, id) = post(app, session, "/cluster-configs", json!({ "cluster_name": "Test_Cluster", "nodes": nodes })).await;
    assert_eq!((status, id.clone()), (201, json!("Test_Cluster")));
    dirs
}

pub(crate) fn table(dir: &Path, ks: &str, prefix: &str) -> std::path::PathBuf {
    dir.join(ks).join(TABLES.iter().find(|(k, t)| *k == ks && t.starts_with(prefix)).unwrap().1)
}

#[tokio::test]
async fn a_session_registers_a_cluster_backs_up_two_keyspaces_and_restores_a_table_in_place() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path()).await;

    let (_, configs) = get(&app, &session, "/cluster-configs").await;
    assert_eq!(configs.as_object().unwrap().keys().collect::<Vec<_>>(), ["Test_Cluster"]);
    assert_eq!(configs["Test_Cluster"]["cassandra"]["seed_hosts"], "127.0.0.1, 127.0.0.2, 127.0.0.3");
    let (_, nodes) = get(&app, &session, "/Test_Cluster/nodes").await;
    assert_eq!(
        nodes.as_array().unwrap().iter().map(|n| n["node_ip"].clone()).collect::<Vec<_>>(),
        [json!("127.0.0.1"), json!("127.0.0.2"), json!("127.0.0.3")]
    );
    assert_eq!(nodes[0]["agent_status"], "up");
    let (_, keyspaces) = get(&app, &session, "/Test_Cluster/keyspaces").await;
    assert_eq!(
        keyspaces,
        json!({ "Keyspace1": { "column_families": ["dates", "users"] }, "OpsCenter": { "column_families": ["events"] } })
    );

    let before: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&table(d, "Keyspace1", "users"))).collect();
    let (status, request) = post(&app, &session, "/Test_Cluster/backups/run", json!({ "keyspaces": ["Keyspace1", "OpsCenter"] })).await;
    assert_eq!(status, 200, "{request}");
    let done = until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    assert_eq!(done["cluster_id"], "Test_Cluster");
    assert_eq!(done["destinations"], json!(["OPSC_ON_SERVER"]));
    let tag = done["tag"].as_str().unwrap().to_owned();
    assert!(tag.starts_with("opscenter_adhoc_") && tag.ends_with("-UTC"), "{tag}");
    let subrequests = done["details"]["subrequests"].as_object().unwrap();
    assert_eq!(subrequests.keys().collect::<Vec<_>>(), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    for (node, sub) in subrequests {
        assert_eq!(sub["details"]["state"], "success", "{node}");
        let users = &sub["details"]["sstables"]["Keyspace1"]["users"];
        assert_eq!(users["done_files"], users["total_files"], "{node}: {users}");
        assert_eq!(users["total_files"], 5);
        assert!(users["total_size"].as_u64().unwrap() > 0);
        assert!(sub["details"]["sstables"]["OpsCenter"]["events"].is_object());
    }

    let (_, backups) = get(&app, &session, "/Test_Cluster/backups").await;
    let entry = &backups[&tag];
    assert_eq!(entry["id"], "adhoc");
    assert_eq!(entry["keyspaces"]["Keyspace1"]["cfs"], json!(["dates", "users"]));
    assert_eq!(entry["keyspaces"]["Keyspace1"]["nodes"], json!(["127.0.0.1", "127.0.0.2", "127.0.0.3"]));
    assert!(entry["keyspaces"]["OpsCenter"]["size"].as_u64().unwrap() > 0);
    let time = entry["time"].as_i64().unwrap();
    let (_, at_time) = get(&app, &session, &format!("/Test_Cluster/backups?last_seen={time}")).await;
    assert!(at_time.get(&tag).is_some(), "last_seen includes a backup taken at that second");
    let (_, before_it) = get(&app, &session, &format!("/Test_Cluster/backups?last_seen={}", time - 1)).await;
    assert_eq!(before_it, json!({}));
    let (_, one_keyspace) = get(&app, &session, "/Test_Cluster/backups/OpsCenter").await;
    assert_eq!(one_keyspace[&tag]["keyspaces"].as_object().unwrap().keys().collect::<Vec<_>>(), ["OpsCenter"]);
    let (_, none) = get(&app, &session, "/Test_Cluster/backups/Nothing").await;
    assert_eq!(none, json!({}));

    let (_, activity) = get(&app, &session, "/Test_Cluster/backup-activity?count=6").await;
    assert_eq!(activity[0]["backup_id"], tag.as_str());
    assert_eq!((activity[0]["type"].as_str(), activity[0]["status"].as_str()), (Some("backup"), Some("success")));
    assert_eq!(activity[0]["destination"]["id"], "OPSC_ON_SERVER");
    assert_eq!(activity[0]["keyspaces"]["Keyspace1"], json!(["dates", "users"]));
    assert_eq!(activity[0]["week"].as_str().unwrap().len(), 6);

    // Users is damaged on every node (a stray file too); restore only it, truncating first.
    for d in &dirs {
        let users = table(d, "Keyspace1", "users");
        tree::mutate(&users, 60);
        std::fs::write(users.join("stray-Data.db"), b"not in the backup").unwrap();
        tree::mutate(&table(d, "Keyspace1", "dates"), 100);
    }
    let dates_changed: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&table(d, "Keyspace1", "dates"))).collect();
    let (status, request) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}/Keyspace1/users"), json!({ "truncate": true })).await;
    assert_eq!(status, 200, "{request}");
    let restored = until_done(&app, &session, &request).await;
    assert_eq!(restored["state"], "success", "{restored}");
    assert_eq!(restored["details"]["subrequests"]["127.0.0.2"]["details"]["sstables"]["Keyspace1"]["users"]["done_files"], 5);
    for (i, d) in dirs.iter().enumerate() {
        assert_eq!(tree::fingerprint(&table(d, "Keyspace1", "users")), before[i], "node {i}: users is back exactly");
        assert_eq!(tree::fingerprint(&table(d, "Keyspace1", "dates")), dates_changed[i], "node {i}: dates was not asked for");
    }
    let (_, activity) = get(&app, &session, "/Test_Cluster/backup-activity?filter_type=restore").await;
    assert_eq!(activity.as_array().unwrap().len(), 1);
    assert_eq!(activity[0]["full_status"]["state"], "success");
    let (_, oldest_first) = get(&app, &session, "/Test_Cluster/backup-activity?reverse=1").await;
    assert_eq!(oldest_first[0]["type"], "backup");

    // The seed's example: Keyspace1 truncated, OpsCenter restored over what is there.
    let body = json!({ "throttle": 10, "excluded-nodes": ["127.0.0.3"], "keyspaces": { "Keyspace1": { "column-families": ["users", "dates"], "truncate": true }, "OpsCenter": { "truncate": false } } });
    let (_, request) = post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}"), body).await;
    let restored = until_done(&app, &session, &request).await;
    assert_eq!(restored["state"], "success", "{restored}");
    assert_eq!(restored["details"]["subrequests"].as_object().unwrap().len(), 2, "127.0.0.3 was excluded");
    assert_ne!(tree::fingerprint(&table(&dirs[0], "Keyspace1", "dates")), dates_changed[0], "dates came back on node 1");
    assert_eq!(tree::fingerprint(&table(&dirs[2], "Keyspace1", "dates")), dates_changed[2], "node 3 was left alone");

    // Keyspace1 as it was in the backup, next to today's under another name.
    let today: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&d.join("Keyspace1"))).collect();
    let body = json!({ "keyspaces": { "Keyspace1": {} }, "keyspace_remappings": { "Keyspace1": "Keyspace1_copy" } });
    let (_, request) = post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}"), body).await;
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    for (i, d) in dirs.iter().enumerate() {
        let copy = tree::fingerprint(&d.join("Keyspace1_copy"));
        let users: Vec<_> = copy
            .iter()
            .filter(|(p, _)| p.starts_with("users-"))
            .map(|(p, v)| (p.split_once('/').unwrap().1.to_owned(), v.clone()))
            .collect();
        assert_eq!(users, before[i].clone().into_iter().collect::<Vec<_>>(), "node {i}: users as backed up, under the new name");
        assert_eq!(tree::fingerprint(&d.join("Keyspace1")), today[i], "node {i}: the original keyspace is untouched");
    }

    let (status, request) = delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}")).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(get(&app, &session, "/Test_Cluster/backups").await.1, json!({}));

    // The history keeps the deleted backup, marked, and its restores.
    let (_, history) = get(&app, &session, "/Test_Cluster/backup-activity?filter_type=backup").await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["backup_id"], tag.as_str());
    assert!(history[0]["deleted_at"].as_i64().unwrap() >= history[0]["event_time"].as_i64().unwrap());
    assert_eq!(history[0]["keyspaces"]["Keyspace1"], json!(["dates", "users"]));
    let (_, live) = get(&app, &session, "/Test_Cluster/backup-activity?filter_live=1").await;
    assert!(live.as_array().unwrap().iter().all(|e| e["type"] == "restore"), "{live}");
    let (_, restores) = get(&app, &session, "/Test_Cluster/backup-activity?filter_type=restore").await;
    assert_eq!(restores.as_array().unwrap().len(), 3);
    assert_eq!(restores[0]["backup_id"], tag.as_str());
}

#[tokio::test]
async fn destinations_are_added_synced_to_restored_from_and_removed() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path()).await;
    let target = root.path().join("offsite");
    std::fs::create_dir_all(&target).unwrap();

    let (_, listed) = get(&app, &session, "/Test_Cluster/backups/destinations").await;
    assert_eq!(listed, json!({ "OPSC_ON_SERVER": { "provider": "server", "path": "", "id": "OPSC_ON_SERVER", "delete_this": false } }));
    let (status, added) = post(
        &app,
        &session,
        "/Test_Cluster/backups/destinations",
        json!({ "provider": "local", "path": target, "validation_dc_list": ["dc1"] }),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let id = added["destination"][0].as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(id.len(), 32, "an OpsCenter-style id: {id}");
    assert_eq!(added["destination"][0][&id]["provider"], "local");
    assert_eq!(added["destination"][0][&id]["validation_dc_list"], json!(["dc1"]));
    let recorded = until_done(&app, &session, &added["request_id"]).await;
    assert_eq!(recorded["state"], "success");
    let (_, one) = get(&app, &session, &format!("/Test_Cluster/backups/destinations/{id}")).await;
    assert_eq!(one["path"], target.to_str().unwrap());

    // A backup to the server and the new destination at once; then one synced there later.
    let body = json!({ "keyspaces": ["Keyspace1"], "destinations": { "OPSC_ON_SERVER": {}, id.clone(): { "compressed": true } } });
    let (_, request) = post(&app, &session, "/Test_Cluster/backups/run", body).await;
    let done = until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    assert_eq!(done["destinations"], json!(["OPSC_ON_SERVER", id]));
    let tag = done["tag"].as_str().unwrap().to_owned();
    let mut held = json!({});
    for _ in 0..200 {
        held = get(&app, &session, &format!("/Test_Cluster/backups?destination={id}")).await.1;
        if held.get(&tag).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(held[&tag]["destinations"], json!(["OPSC_ON_SERVER", id]), "the copy reached the destination");
    let original: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&d.join("Keyspace1"))).collect();

    // Restore Keyspace1 from the copy, with a real form body as older scripts send.
    for d in &dirs {
        tree::mutate(&table(d, "Keyspace1", "users"), 100);
    }
    let resp = app
        .client
        .post(app.url(&format!("/Test_Cluster/backups/restore/{tag}/Keyspace1")))
        .header("opscenter-session", &session)
        .form(&[("destination", id.as_str()), ("truncate", "true")])
        .send()
        .await
        .unwrap();
    let (status, request) = answer(resp).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    for (i, d) in dirs.iter().enumerate() {
        assert_eq!(tree::fingerprint(&d.join("Keyspace1")), original[i], "node {i}");
    }
    let (_, graphs) = get(&app, &session, &format!("/Test_Cluster/backups/graphs/{tag}/{id}")).await;
    assert_eq!(graphs.as_object().unwrap().keys().collect::<Vec<_>>(), ["127.0.0.1", "127.0.0.2", "127.0.0.3"], "{graphs}");

    // Deleting the backup at the destination removes only that copy; remove_destination then
    // removes the emptied destination too.
    let (status, request) =
        delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}&destination={id}&remove_destination=Delete%20Backup%20Data"))
            .await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    let (_, listed) = get(&app, &session, "/Test_Cluster/backups").await;
    assert_eq!(listed[&tag]["destinations"], json!(["OPSC_ON_SERVER"]), "the backup itself stays: {listed}");
    let mut status = 200;
    for _ in 0..100 {
        status = get(&app, &session, &format!("/Test_Cluster/backups/destinations/{id}")).await.0;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 404, "the emptied destination was removed");
    let (status, bad) = delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}&destination={id}")).await;
    assert_eq!((status, bad["type"].as_str()), (404, Some("NoSuchBackupDestination")), "{bad}");

    // delete_this removes a destination that holds nothing.
    let (_, added) = post(&app, &session, "/Test_Cluster/backups/destinations", json!({ "provider": "local", "path": target })).await;
    let other = added["destination"][0].as_object().unwrap().keys().next().unwrap().clone();
    let (status, removed) = post(&app, &session, "/Test_Cluster/backups/destinations", json!({ "id": other, "delete_this": true })).await;
    assert_eq!(status, 200, "{removed}");
    let (status, gone) = get(&app, &session, &format!("/Test_Cluster/backups/destinations/{other}")).await;
    assert_eq!((status, gone["type"].as_str()), (404, Some("NoSuchBackupDestination")));
}

#[tokio::test]
async fn a_job_schedule_runs_backups_tagged_with_its_id_and_can_be_changed_and_removed() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;

    // Without first_run_date: today at first_run_time, or tomorrow when that time has passed.
    let body = json!({ "first_run_time": "03:00:00", "timezone": "Europe/Berlin", "interval": 1, "interval_unit": "days", "job_params": { "type": "backup", "keyspaces": ["OpsCenter"], "cleanup_age": 23, "cleanup_age_unit": "days", "destinations": {} } });
    let (status, id) = post(&app, &session, "/Test_Cluster/job-schedules", body).await;
    assert_eq!(status, 201, "{id}");
    let id = id.as_str().unwrap().to_owned();
    let (_, schedule) = get(&app, &session, &format!("/Test_Cluster/job-schedules/{id}")).await;
    assert_eq!(schedule["first_run_time"], "03:00:00");
    assert_eq!(schedule["timezone"], "Europe/Berlin");
    assert_eq!((schedule["interval"].clone(), schedule["interval_unit"].clone()), (json!(1), json!("days")));
    assert_eq!(schedule["job_params"]["cleanup_age"], 23);
    assert_eq!(schedule["job_params"]["keyspaces"], json!(["OpsCenter"]));
    assert!(schedule["next_run"].as_str().unwrap().ends_with(":00:00 CET"), "{schedule}");
    assert!(schedule["last_run"].is_null(), "nothing ran yet: {schedule}");

    // A one-shot schedule in the past runs at once; its backup carries its id.
    let body = json!({ "first_run_date": "2026-01-01", "first_run_time": "00:00:00", "timezone": "GMT", "interval": -1, "interval_unit": null, "job_params": { "type": "backup", "keyspaces": ["Keyspace1"] } });
    let (status, once) = post(&app, &session, "/Test_Cluster/job-schedules", body).await;
    assert_eq!(status, 201, "{once}");
    let once = once.as_str().unwrap().to_owned();
    let mut found = json!({});
    for _ in 0..200 {
        found = get(&app, &session, &format!("/Test_Cluster/backups?match={once}")).await.1;
        if !found.as_object().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (tag, entry) = found.as_object().unwrap().iter().next().expect("the one-shot schedule ran");
    assert!(tag.starts_with(&format!("opscenter_{once}_")), "{tag}");
    assert_eq!(entry["id"], once.as_str());
    assert_eq!(get(&app, &session, &format!("/Test_Cluster/backups?match={id}")).await.1, json!({}));

    let (_, all) = get(&app, &session, "/Test_Cluster/job-schedules").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let body = json!({ "first_run_date": "2030-05-01", "first_run_time": "01:30:00", "timezone": "US/Eastern", "interval": 2, "interval_unit": "weeks", "job_params": { "type": "backup", "keyspaces": [] } });
    let resp = app
        .client
        .put(app.url(&format!("/Test_Cluster/job-schedules/{id}")))
        .header("opscenter-session", &session)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, changed) = answer(resp).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["first_run_date"].as_str(), changed["interval"].as_u64(), changed["interval_unit"].as_str()),
        (Some("2030-05-01"), Some(2), Some("weeks"))
    );
    assert_eq!(changed["job_params"]["cleanup_age"], 0);

    let (status, _) = delete(&app, &session, &format!("/Test_Cluster/job-schedules/{id}")).await;
    assert_eq!(status, 200);
    let (status, gone) = get(&app, &session, &format!("/Test_Cluster/job-schedules/{id}")).await;
    assert_eq!((status, gone["type"].as_str()), (404, Some("NoSuchJobSchedule")));
    let (status, refused) =
        post(&app, &session, "/Test_Cluster/job-schedules", json!({ "interval": 1, "job_params": { "type": "best-practice" } })).await;
    assert_eq!((status, refused["type"].as_str()), (400, Some("InvalidArguments")));
    let (status, refused) = post(
        &app,
        &session,
        "/Test_Cluster/job-schedules",
        json!({ "interval": 1, "interval_unit": "fortnights", "job_params": { "type": "backup" } }),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn opscenter_errors_come_in_its_own_shape() {
    let app = spawn_app().await;
    let (status, body) = answer(app.client.get(app.url("/Test_Cluster/backups")).send().await.unwrap()).await;
    assert_eq!((status, body), (401, json!({ "message": "You must be logged in for this operation", "type": "Unauthorized" })));
    let session = login(&app).await;
    let cookie = app.client.get(app.url("/cluster-configs")).header("cookie", format!("TWISTED_SESSION={session}")).send().await.unwrap();
    assert_eq!(cookie.status(), 200, "the session cookie works too");
    let basic = app.client.get(app.url("/cluster-configs")).basic_auth("admin", Some(ADMIN_PASSWORD)).send().await.unwrap();
    assert_eq!(basic.status(), 200, "monitoring plugins use Basic");

    let (status, body) = get(&app, &session, "/Nope/backups").await;
    assert_eq!(
        (status, body),
        (404, json!({ "message": "There are no clusters with name or ID 'Nope'", "type": "NoSuchCluster", "brief": "error" }))
    );
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;
    let (status, body) = post(&app, &session, "/Test_Cluster/backups/restore/opscenter_adhoc_2012-01-01-00-00-00-UTC", json!({})).await;
    assert_eq!((status, body["type"].as_str()), (404, Some("NoSuchBackup")));
    let (status, body) =
        post(&app, &session, "/Test_Cluster/backups/run", json!({ "destinations": { "feedfeedfeedfeedfeedfeedfeedfeed": {} } })).await;
    assert_eq!((status, body["type"].as_str()), (404, Some("NoSuchBackupDestination")), "{body}");
    let (status, body) = get(&app, &session, "/request/4a269167-96c1-40c7-84b7-b070c6bcd0cd/status").await;
    assert_eq!((status, body["type"].as_str()), (404, Some("NoSuchRequest")));
    let (status, body) = post(&app, &session, "/Test_Cluster/backups/destinations", json!({ "provider": "tape" })).await;
    assert_eq!((status, body["type"].as_str(), body["brief"].as_str()), (400, Some("InvalidArguments"), Some("error")));
    let (status, body) = post(&app, &session, "/Test_Cluster/backups/sync", json!({ "destinations": {} })).await;
    assert_eq!((status, body["message"].as_str()), (400, Some("tag is required")));
    let (status, body) =
        post(&app, &session, "/cluster-configs", json!({ "cluster_name": "Empty", "cassandra": { "seed_hosts": "" } })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nodes"));

    // The documentation's bodies have trailing commas: refused, never run with no options.
    let resp = app
        .client
        .post(app.url("/Test_Cluster/backups/run"))
        .header("opscenter-session", &session)
        .body(r#"{"keyspaces": ["Keyspace1"],}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = answer(resp).await;
    assert_eq!((status, body["type"].as_str()), (400, Some("InvalidArguments")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
    for body in [
        json!({ "interval": 1e20, "interval_unit": "weeks", "job_params": { "type": "backup" } }),
        json!({ "first_run_date": "2020-01-01", "interval": 1_000_000_000, "interval_unit": "weeks", "job_params": { "type": "backup" } }),
        json!({ "interval": 1, "job_params": { "type": "backup", "cleanup_age": 1e20 } }),
    ] {
        let (status, refused) = post(&app, &session, "/Test_Cluster/job-schedules", body).await;
        assert_eq!((status, refused["type"].as_str()), (400, Some("InvalidArguments")), "{refused}");
    }

    let (_, request) = post(&app, &session, "/Test_Cluster/backups/run", json!({})).await;
    let done = until_done(&app, &session, &request).await;
    let (status, body) = post(
        &app,
        &session,
        &format!("/Test_Cluster/backups/restore/{}", done["tag"].as_str().unwrap()),
        json!({ "keyspace_remappings": { "Keyspace1": "../escape" } }),
    )
    .await;
    assert_eq!((status, body["type"].as_str()), (400, Some("InvalidArguments")), "{body}");
    let (status, body) = post(&app, &session, &format!("/request/{}/cancel", request.as_str().unwrap()), json!({})).await;
    assert_eq!(status, 422, "an ended request cannot be cancelled: {body}");
}

#[tokio::test]
async fn a_python_script_drives_three_agents_and_s3_the_way_public_opscenter_scripts_do() {
    let Some(python) = crate::keystoneauth::python() else { return };
    let Some(s3) = crate::destinations::moto(None).await else { return };
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", None).await;
    let (key, _) = app.api_key(&operator, false).await;
    let _agents = [
        crate::helpers::start_agent(&app, &key, "agent1").await,
        crate::helpers::start_agent(&app, &key, "agent2").await,
        crate::helpers::start_agent(&app, &key, "agent3").await,
    ];
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<String> = (1..=3).map(|n| root.path().join(format!("node{n}/data")).display().to_string()).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/opscenter_agents.py");
    let mut args = vec![app.base.clone(), "ops".into(), "ops-password".into(), s3.endpoint.clone()];
    args.extend(dirs);
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(python).arg(script).args(args).output().unwrap()).await.unwrap();
    assert!(out.status.success(), "the script failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["registered"], json!([201, "Prod"]));
    assert_eq!(r["clusters"], json!(["Prod"]));
    assert_eq!(r["keyspaces"], json!(["Keyspace1", "OpsCenter"]), "read from the data directories the agents serve: {r}");
    assert_eq!(r["secret_hidden"], true);
    assert_eq!(r["destination_request"], "success");
    assert_eq!(r["backup"][0], "success", "{r}");
    assert_eq!(r["backup"][2], json!(["10.0.0.1", "10.0.0.2", "10.0.0.3"]));
    assert_eq!(r["progress_grew"], true, "per-table progress was seen growing: {r}");
    assert_eq!(r["activity"], json!([[true, "s3", "backup", null]]));
    assert_eq!(r["listed"], json!(["Keyspace1", "OpsCenter"]));
    assert_eq!((r["sync"].as_str(), r["on_server"].as_bool()), (Some("success"), Some(true)));
    assert_eq!((r["table_restore"].as_str(), r["table_exact"].as_bool()), (Some("success"), Some(true)), "{r}");
    assert_eq!((r["keyspace_restore"].as_str(), r["keyspace_exact"].as_bool()), (Some("success"), Some(true)), "{r}");
    assert_eq!(r["schedule"], json!([201, [true], 30, true]));
    assert_eq!(r["schedule_deleted"], 200);
    // The delete named S3: the copy on the server (made by the sync) stays, and only it is listed.
    assert_eq!(r["delete"].as_str(), Some("success"));
    let left: Vec<&Value> = r["after_delete"].as_object().unwrap().values().collect();
    assert_eq!(left.len(), 1, "{r}");
    assert_eq!(left[0]["destinations"], json!(["OPSC_ON_SERVER"]), "{r}");
}

#[tokio::test]
async fn an_azure_destination_takes_a_backup_and_never_shows_its_key() {
    if crate::keystoneauth::python().is_none() || !crate::destinations::azurite_up().await {
        return;
    }
    let container = format!("ops{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    crate::destinations::make_container(&["azure", &container]);
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path()).await;
    let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let body = json!({ "storage_key": key, "storage_account_name": "devstoreaccount1", "container_name": container, "subfolder": "my/backups", "provider": "azure", "use_emulator": true });
    let (status, added) = post(&app, &session, "/Test_Cluster/backups/destinations", body).await;
    assert_eq!(status, 200, "{added}");
    assert!(!added.to_string().contains(key), "the key is never shown: {added}");
    let id = added["destination"][0].as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(added["destination"][0][&id]["container_name"], container.as_str());
    let (_, listed) = get(&app, &session, "/Test_Cluster/backups/destinations").await;
    assert!(!listed.to_string().contains(key));

    let (_, request) =
        post(&app, &session, "/Test_Cluster/backups/run", json!({ "keyspaces": ["OpsCenter"], "destinations": { id.clone(): {} } })).await;
    let done = until_done(&app, &session, &request).await;
    assert_eq!((done["state"].as_str(), done["destinations"].clone()), (Some("success"), json!([id])), "{done}");
    let original = tree::fingerprint(&table(&dirs[1], "OpsCenter", "events"));
    tree::mutate(&table(&dirs[1], "OpsCenter", "events"), 100);
    let tag = done["tag"].as_str().unwrap();
    let (_, request) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}/OpsCenter/events"), json!({ "truncate": true })).await;
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(tree::fingerprint(&table(&dirs[1], "OpsCenter", "events")), original);
}

#[tokio::test]
async fn a_running_request_is_listed_by_type_seen_per_cluster_and_cancelled() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;
    let slow = root.path().join("slow");
    std::fs::create_dir_all(&slow).unwrap();
    let (_, added) = post(
        &app,
        &session,
        "/Test_Cluster/backups/destinations",
        json!({ "provider": "local", "path": slow, "throttle_bytes_per_second": "20000" }),
    )
    .await;
    let id = added["destination"][0].as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(added["destination"][0][&id]["throttle_bytes_per_second"], "20000");

    let (_, request) = post(&app, &session, "/Test_Cluster/backups/run", json!({ "destinations": { id: {} } })).await;
    let request = request.as_str().unwrap().to_owned();
    let (status, scoped) = get(&app, &session, &format!("/Test_Cluster/request/{request}/status")).await;
    assert_eq!((status, scoped["id"].as_str(), scoped["state"].as_str()), (200, Some(request.as_str()), Some("running")), "{scoped}");
    let (_, backups) = get(&app, &session, "/request/backup").await;
    assert!(backups.as_array().unwrap().iter().any(|r| r["id"] == request.as_str()), "{backups}");
    let (_, activity) = get(&app, &session, "/Test_Cluster/backup-activity").await;
    assert_eq!(activity[0]["status"], "running");
    assert_eq!(activity[0]["full_status"]["id"], request.as_str(), "a running backup carries its full status");

    let (status, cancelled) = post(&app, &session, &format!("/Test_Cluster/request/{request}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    let ended = until_done(&app, &session, &json!(request)).await;
    assert_eq!(ended["state"], "cancelled", "{ended}");
    assert_eq!(get(&app, &session, "/Test_Cluster/backups").await.1, json!({}), "a cancelled backup is not listed");
}

#[tokio::test]
async fn backup_lists_and_activity_page_and_filter_as_documented() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;
    let mut tags = Vec::new();
    for keyspace in ["Keyspace1", "OpsCenter", "Keyspace1"] {
        let (_, request) = post(&app, &session, "/Test_Cluster/backups/run", json!({ "keyspaces": [keyspace] })).await;
        tags.push(until_done(&app, &session, &request).await["tag"].as_str().unwrap().to_owned());
    }
    let unique: std::collections::BTreeSet<_> = tags.iter().collect();
    assert_eq!(unique.len(), 3, "tags are unique even within one second: {tags:?}");
    let (_, newest) = get(&app, &session, "/Test_Cluster/backups?amount=1").await;
    assert_eq!(newest.as_object().unwrap().keys().collect::<Vec<_>>(), [&tags[2]]);
    let (_, older) = get(&app, &session, &format!("/Test_Cluster/backups?last_seen={}", tags[2])).await;
    assert_eq!(older.as_object().unwrap().len(), 2, "a tag as last_seen lists what came before it: {older}");
    let (_, all) = get(&app, &session, "/Test_Cluster/backups?list_all=1&destination=OPSC_ON_SERVER").await;
    assert_eq!(all.as_object().unwrap().len(), 3);
    let (status, graphs) = get(&app, &session, &format!("/Test_Cluster/backups/graphs/{}", tags[0])).await;
    assert_eq!((status, graphs.as_object().map(|g| g.len())), (200, Some(3)), "one entry per node: {graphs}");
    let (status, _) = get(&app, &session, "/Test_Cluster/backups/graphs/opscenter_adhoc_2000-01-01-00-00-00-UTC").await;
    assert_eq!(status, 404);

    let (_, activity) = get(&app, &session, "/Test_Cluster/backup-activity?filter_success=1").await;
    let ids: Vec<&str> = activity.as_array().unwrap().iter().map(|e| e["backup_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [&tags[2], &tags[1], &tags[0]], "newest first");
    let (_, from_second) = get(&app, &session, &format!("/Test_Cluster/backup-activity?first_backup_id={}", tags[1])).await;
    assert_eq!(from_second.as_array().unwrap().len(), 2, "records before the named backup are left out");
    let oldest_time = activity[2]["event_time"].as_i64().unwrap();
    let (_, until) = get(&app, &session, &format!("/Test_Cluster/backup-activity?timestamp={}", oldest_time - 1)).await;
    assert_eq!(until, json!([]), "nothing happened at or before a second before the first backup");
    let (_, since) = get(&app, &session, &format!("/Test_Cluster/backup-activity?reverse=1&timestamp={oldest_time}&count=2")).await;
    assert_eq!(since.as_array().unwrap().iter().map(|e| e["backup_id"].as_str().unwrap()).collect::<Vec<_>>(), [&tags[0], &tags[1]]);

    // Restored after the newer backups were made, the oldest backup's first record is its restore:
    // naming it leaves nothing out.
    let (status, request) = post(&app, &session, &format!("/Test_Cluster/backups/restore/{}", tags[0]), json!({})).await;
    assert_eq!(status, 200, "{request}");
    until_done(&app, &session, &request).await;
    let (_, from_oldest) = get(&app, &session, &format!("/Test_Cluster/backup-activity?first_backup_id={}&count=10", tags[0])).await;
    let seen: Vec<(&str, &str)> =
        from_oldest.as_array().unwrap().iter().map(|e| (e["type"].as_str().unwrap(), e["backup_id"].as_str().unwrap())).collect();
    assert_eq!(seen, [("restore", tags[0].as_str()), ("backup", &tags[2]), ("backup", &tags[1]), ("backup", &tags[0])], "{from_oldest}");
}
