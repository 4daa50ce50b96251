//! Point in time: two remote agents archive their nodes' commitlog segments; a snapshot in the
//! middle plus the segments after it restore the cluster to a moment between two segments, through
//! OpsCenter's `pit` endpoints and Instaclustr's `pointInTime`.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    helpers::{ADMIN_PASSWORD, TestApp, spawn_app_with, start_agent, tree},
    opscenter::{get, login, post, until_done},
};

const TABLES: &[(&str, &str)] =
    &[("Keyspace1", "users-0123456789abcdef0123456789abcdef"), ("OpsCenter", "events-fedcba9876543210fedcba9876543210")];

/// A closed segment written into a node's commitlog archive directory at a chosen moment.
fn segment(dir: &Path, name: &str, at: DateTime<Utc>) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("mutations of {name}").repeat(1000)).unwrap();
    filetime::set_file_mtime(&path, filetime::FileTime::from_unix_time(at.timestamp(), 0)).unwrap();
}

/// Names of the files in a directory.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

/// Waits until `pit/logs` shows every node at `newest` (seconds); answers the logs.
async fn until_archived(app: &TestApp, session: &str, cluster: &str, newest: i64) -> Value {
    let mut logs = Value::Null;
    for _ in 0..200 {
        logs = get(app, session, &format!("/{cluster}/backups/pit/logs")).await.1;
        if logs.as_object().is_some_and(|m| m.len() == 2 && m.values().all(|t| t.as_f64() == Some(newest as f64))) {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the segments up to {newest} were never archived on both nodes: {logs}");
}

#[tokio::test]
async fn commitlogs_are_archived_and_a_cluster_restores_to_a_moment_between_two_segments() {
    let app = spawn_app_with(|s| {
        s.archive_interval_ms = 200;
        s.scheduler_tick_ms = 100;
    })
    .await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let (key, _) = app.api_key(&admin, false).await;
    let mut agents = vec![start_agent(&app, &key, "pit-a1").await, start_agent(&app, &key, "pit-a2").await];
    let root = tempfile::tempdir().unwrap();
    let data: Vec<PathBuf> = (1..=2).map(|n| root.path().join(format!("node{n}/data"))).collect();
    for (n, d) in data.iter().enumerate() {
        for (i, (ks, t)) in TABLES.iter().enumerate() {
            tree::generate(&d.join(ks).join(t), 4, (n * 10 + i) as u64);
        }
    }
    // Node 1 names its commitlog directory; node 2 uses the default beside its data.
    let logs: Vec<PathBuf> = vec![root.path().join("node1/archive"), root.path().join("node2/commitlog")];
    let nodes = json!([
        { "name": "10.9.0.1", "agent": "pit-a1", "location": data[0], "commitlog_dir": logs[0] },
        { "name": "10.9.0.2", "agent": "pit-a2", "location": data[1] },
    ]);
    let (status, body) = crate::helpers::post(&app, &admin, "/admin/v1/clusters", json!({ "name": "PitCluster", "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");
    let cluster_id = body["id"].as_str().unwrap().to_owned();
    let session = login(&app).await;
    let c = "PitCluster";

    // Simulated minutes around now: two segments before the snapshot, three after it.
    let now = Utc::now();
    let at = |secs: i64| DateTime::from_timestamp(now.timestamp() + secs, 0).unwrap();
    for dir in &logs {
        segment(dir, "CommitLog-7-1.log", at(-300));
        segment(dir, "CommitLog-7-2.log", at(-200));
    }
    let (status, settings) = get(&app, &session, &format!("/{c}/backups/pit")).await;
    assert_eq!((status, settings["enabled"].as_bool()), (200, Some(false)), "{settings}");

    let enable = json!({
        "destinations": { "OPSC_ON_SERVER": { "compressed": true } },
        "backup_storage_dir": "/var/backup/storage", "sleep": 0, "drain_first": false,
    });
    let mut relative = enable.clone();
    relative["backup_staging_dir"] = json!("relative/staging");
    let (status, refused) = post(&app, &session, &format!("/{c}/backups/pit"), relative).await;
    assert_eq!((status, refused["type"].as_str()), (400, Some("InvalidArguments")), "{refused}");
    let (status, request) = post(&app, &session, &format!("/{c}/backups/pit"), enable).await;
    assert_eq!(status, 200, "{request}");
    let done = until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success", "the nodes were reconfigured one after the other: {done}");
    let (_, settings) = get(&app, &session, &format!("/{c}/backups/pit")).await;
    assert_eq!(settings["enabled"], true);
    assert_eq!(settings["destinations"]["OPSC_ON_SERVER"]["compressed"], true, "{settings}");
    assert_eq!(settings["backup_storage_dir"], "/var/backup/storage");
    until_archived(&app, &session, c, at(-200).timestamp()).await;

    // The snapshot in the middle.
    let (status, request) = post(&app, &session, &format!("/{c}/backups/run"), json!({})).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    let snapshot: Vec<_> = data.iter().map(|d| tree::fingerprint(d)).collect();
    // Node 1's agent is down while segments close; once it is back it ships them, and only them.
    agents.remove(0);
    for dir in &logs {
        segment(dir, "CommitLog-7-3.log", at(100));
        segment(dir, "CommitLog-7-4.log", at(200));
        segment(dir, "CommitLog-7-5.log", at(300));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    agents.push(start_agent(&app, &key, "pit-a1").await);
    let archived = until_archived(&app, &session, c, at(300).timestamp()).await;
    assert_eq!(archived["10.9.0.1"].as_f64(), Some(at(300).timestamp() as f64), "{archived}");

    // Checking moments: between segments 3 and 4, past the newest, before any snapshot.
    let pit = at(150).timestamp();
    let (status, check) =
        post(&app, &session, &format!("/{c}/backups/pit_check"), json!({ "pit": pit, "destination": "OPSC_ON_SERVER" })).await;
    assert_eq!(status, 200, "{check}");
    assert!(check["snapshot"].as_str().unwrap().starts_with("opscenter_adhoc_"), "{check}");
    assert_eq!(check["commitlogs"]["10.9.0.2"]["segments"], json!(["CommitLog-7-3.log", "CommitLog-7-4.log"]), "{check}");
    assert_eq!(
        check["commitlogs"]["10.9.0.1"]["segments"],
        json!(["CommitLog-7-3.log", "CommitLog-7-4.log"]),
        "no gap, no duplicate: {check}"
    );
    let (status, late) = post(&app, &session, &format!("/{c}/backups/pit_check"), json!({ "pit": at(900).timestamp() })).await;
    assert_eq!((status, late["type"].as_str(), late["brief"].as_str()), (400, Some("InvalidArguments"), Some("error")), "{late}");
    let newest_words = at(300).format("%m-%d-%Y %H:%M:%S UTC").to_string();
    let in_seconds = format!("{newest_words} ({})", at(300).timestamp());
    assert!(late["message"].as_str().unwrap().ends_with(&in_seconds), "names the newest valid moment, in seconds as pit takes it: {late}");
    let early = at(-3600);
    let (status, none) = post(&app, &session, &format!("/{c}/backups/pit_check"), json!({ "pit": early.timestamp() })).await;
    assert_eq!(status, 400);
    let message = none["message"].as_str().unwrap();
    let words =
        format!("No snapshots found before date and time: {}; the earliest snapshot was taken at ", early.format("%m-%d-%Y %H:%M:%S UTC"));
    assert!(message.starts_with(&words), "OpsCenter's own words, then the moment that would work: {none}");

    // Damage the data, then restore to the moment.
    for d in &data {
        tree::mutate(&d.join(TABLES[0].0).join(TABLES[0].1), 100);
    }
    // A first restore to a later moment; the second, to the moment, replaces its segments.
    let later = json!({ "keyspaces": { "Keyspace1": { "truncate": true }, "OpsCenter": {} }, "pit": at(250).timestamp() });
    let (status, request) = post(&app, &session, &format!("/{c}/backups/pit/run/"), later).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    let run =
        json!({ "keyspaces": { "Keyspace1": { "truncate": true }, "OpsCenter": {} }, "pit_destination": "OPSC_ON_SERVER", "pit": pit });
    let (status, request) = post(&app, &session, &format!("/{c}/backups/pit/run/"), run).await;
    assert_eq!(status, 200, "{request}");
    let done = until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    let node = &done["details"]["subrequests"]["10.9.0.1"]["details"];
    assert_eq!((node["state"].as_str(), node["commitlogs"]["segments"].as_u64()), (Some("success"), Some(2)), "per-node progress: {done}");
    assert!(node["sstables"]["Keyspace1"]["users"]["total_files"].as_u64().unwrap() > 0, "{done}");
    assert_eq!((node["commitlogs"]["done_files"].as_u64(), node["commitlogs"]["total_files"].as_u64()), (Some(2), Some(2)), "{done}");
    for (i, d) in data.iter().enumerate() {
        assert_eq!(tree::fingerprint(d), snapshot[i], "node {i}: the snapshot's table files");
        let restore = d.parent().unwrap().join("commitlog_restore");
        let expected: BTreeSet<String> =
            ["CommitLog-7-3.log", "CommitLog-7-4.log", "commitlog_archiving.properties"].into_iter().map(String::from).collect();
        assert_eq!(names(&restore), expected, "node {i}: the segments after the snapshot up to the one covering the moment");
        assert_eq!(std::fs::read(restore.join("CommitLog-7-3.log")).unwrap(), std::fs::read(logs[i].join("CommitLog-7-3.log")).unwrap());
        let properties = std::fs::read_to_string(restore.join("commitlog_archiving.properties")).unwrap();
        assert!(properties.contains(&format!("restore_point_in_time={}", at(150).format("%Y:%m:%d %H:%M:%S"))), "{properties}");
    }

    // Instaclustr's pointInTime on this continuously backed-up cluster: a moment past the archive
    // restores the newest moment every node archived, and says so in milliseconds.
    let resp = app
        .client
        .post(app.url(&format!("/provisioning/v1/{cluster_id}/backups/restore")))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({ "clusterNameOverride": "too-late", "pointInTime": at(900).timestamp_millis() }))
        .send()
        .await
        .unwrap();
    let (status, late): (u16, Value) = (resp.status().as_u16(), resp.json().await.unwrap());
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["pointInTime"], at(300).timestamp_millis(), "the newest archived moment: {late}");
    let late_id = late["restoredCluster"].as_str().unwrap().to_owned();
    let mut doc = Value::Null;
    for _ in 0..300 {
        let resp = app.client.get(app.url(&format!("/provisioning/v1/{late_id}"))).basic_auth("admin", Some(ADMIN_PASSWORD)).send().await;
        doc = resp.unwrap().json().await.unwrap();
        if doc["clusterStatus"] != "PROVISIONING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(doc["clusterStatus"], "RUNNING", "{doc}");
    let from =
        json!({ "clusterId": cluster_id, "pointInTime": at(300).timestamp_millis(), "requestedPointInTime": at(900).timestamp_millis() });
    assert_eq!(doc["restoredFrom"], from, "the new cluster says which moment it holds: {doc}");
    let (_, late_source) = crate::helpers::get(&app, &admin, &format!("/admin/v1/sources/{late_id}")).await;
    for node in late_source["nodes"].as_array().unwrap() {
        let restore = PathBuf::from(format!("{}-commitlog_restore", node["location"].as_str().unwrap()));
        assert!(names(&restore).contains("CommitLog-7-5.log"), "replayed up to the newest segment: {}", restore.display());
    }
    // A new cluster at the moment.
    let ic = app.client.post(app.url(&format!("/provisioning/v1/{cluster_id}/backups/restore")));
    let resp = ic
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({ "clusterNameOverride": "pit-copy", "pointInTime": pit * 1000 }))
        .send()
        .await
        .unwrap();
    let (status, restored): (u16, Value) = (resp.status().as_u16(), resp.json().await.unwrap());
    assert_eq!(status, 200, "{restored}");
    let new_id = restored["restoredCluster"].as_str().unwrap().to_owned();
    let mut source = Value::Null;
    for _ in 0..300 {
        let (_, ops) = crate::helpers::get(&app, &admin, "/admin/v1/operations").await;
        let restore = ops.as_array().into_iter().flatten().find(|o| o["kind"] == "restore" && o["result"]["source_id"] == new_id.as_str());
        if restore.is_some_and(|o| o["state"] == "succeeded") {
            source = crate::helpers::get(&app, &admin, &format!("/admin/v1/sources/{new_id}")).await.1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new_nodes = source["nodes"].as_array().unwrap_or_else(|| panic!("the new cluster never finished restoring: {source}"));
    for (i, node) in new_nodes.iter().enumerate() {
        let location = PathBuf::from(node["location"].as_str().unwrap());
        assert_eq!(tree::fingerprint(&location), snapshot[i], "new node {i}: the snapshot's table files");
        let restore = PathBuf::from(format!("{}-commitlog_restore", location.display()));
        assert!(names(&restore).contains("CommitLog-7-4.log") && !names(&restore).contains("CommitLog-7-5.log"), "{}", restore.display());
    }

    // The admin API (the console's): the window, then a restore to another moment in it.
    let (status, window) = crate::helpers::get(&app, &admin, &format!("/admin/v1/sources/{cluster_id}/point-in-time")).await;
    assert_eq!(status, 200, "{window}");
    assert_eq!(window["archiving"], true, "{window}");
    let latest = window["latest"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(latest, at(300), "every node archived up to segment 5: {window}");
    let earliest = window["earliest"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert!(earliest > at(-200) && earliest < at(100), "the snapshot's time: {window}");
    let to_moment = format!("/admin/v1/sources/{cluster_id}/point-in-time/restore");
    let same = json!({ "type": "same_nodes", "truncate": true });
    for (body, words) in [
        (json!({ "target": same }), "'at' is required (the moment to restore to, RFC 3339"),
        (json!({ "target": same, "at": "yesterday" }), "'at' must be an RFC 3339 moment such as 2026-12-03T10:00:00Z, not \"yesterday\""),
        (json!({ "at": at(250).to_rfc3339() }), "'target' is required"),
        (json!({ "target": same, "at": at(900).to_rfc3339() }), "the latest valid point in time is"),
    ] {
        let (status, refused) = crate::helpers::post(&app, &admin, &to_moment, body.clone()).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(words), "{body}: {refused}");
    }
    for d in &data {
        tree::mutate(&d.join(TABLES[0].0).join(TABLES[0].1), 100);
        std::fs::remove_dir_all(d.parent().unwrap().join("commitlog_restore")).unwrap();
    }
    let body = json!({ "target": same, "at": at(250).to_rfc3339(), "selection": { "keyspaces": ["Keyspace1"] } });
    let (status, op) = crate::helpers::post(&app, &admin, &to_moment, body).await;
    assert_eq!(status, 202, "{op}");
    let done = crate::helpers::wait_for(&app, &admin, op["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    for (i, d) in data.iter().enumerate() {
        assert_eq!(tree::fingerprint(d), snapshot[i], "node {i}: the snapshot's table files again");
        let restore = d.parent().unwrap().join("commitlog_restore");
        let expected: BTreeSet<String> = ["CommitLog-7-3.log", "CommitLog-7-4.log", "CommitLog-7-5.log", "commitlog_archiving.properties"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(names(&restore), expected, "node {i}: up to segment 5, the first closed after the moment");
        let properties = std::fs::read_to_string(restore.join("commitlog_archiving.properties")).unwrap();
        assert!(properties.contains(&format!("restore_point_in_time={}", at(250).format("%Y:%m:%d %H:%M:%S"))), "{properties}");
    }
    let (status, refused) = crate::helpers::get(&app, &admin, &format!("/admin/v1/sources/{}/point-in-time", uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404, "{refused}");
    let unknown = format!("/admin/v1/sources/{cluster_id}/point-in-time?pit_destination_id={}", uuid::Uuid::new_v4());
    let (status, refused) = crate::helpers::get(&app, &admin, &unknown).await;
    assert_eq!(status, 404, "an unknown archive destination: {refused}");
    let files = tempfile::tempdir().unwrap();
    let machine = crate::helpers::machine(&app, &admin, "not-a-cluster", files.path()).await;
    let body = json!({ "target": { "type": "same_nodes" }, "at": at(250).to_rfc3339() });
    let (status, refused) = crate::helpers::post(&app, &admin, &format!("/admin/v1/sources/{machine}/point-in-time/restore"), body).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("only clusters restore to a point in time"), "{refused}");

    // Off: a new segment is no longer shipped.
    let resp = app.client.delete(app.url(&format!("/{c}/backups/pit"))).header("opscenter-session", &session).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let request: Value = resp.json().await.unwrap();
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(get(&app, &session, &format!("/{c}/backups/pit")).await.1["enabled"], false);
    for dir in &logs {
        segment(dir, "CommitLog-7-6.log", at(400));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (_, after) = get(&app, &session, &format!("/{c}/backups/pit/logs")).await;
    assert_eq!(after["10.9.0.1"].as_f64(), Some(at(300).timestamp() as f64), "nothing shipped once off: {after}");
}

#[tokio::test]
async fn one_staging_directory_serves_every_node_and_must_lie_where_users_may_place_data() {
    let app = spawn_app_with(|_| {}).await;
    let operator = app.user_with_role("ops", "operator", None).await;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("n1/data");
    tree::generate(&data.join(TABLES[0].0).join(TABLES[0].1), 2, 1);
    let nodes = json!([{ "name": "10.9.1.1", "agent": "local", "location": data }]);
    let (status, body) = crate::helpers::post(&app, &operator, "/admin/v1/clusters", json!({ "name": "Staged", "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");

    let enable = |dir: &str| json!({ "destinations": { "OPSC_ON_SERVER": {} }, "backup_staging_dir": dir });
    let resp = app
        .client
        .post(app.url("/Staged/backups/pit"))
        .header("x-auth-token", &operator)
        .json(&enable("/etc/cassandra/staging"))
        .send()
        .await
        .unwrap();
    let (status, refused): (u16, Value) = (resp.status().as_u16(), resp.json().await.unwrap());
    assert_eq!((status, refused["type"].as_str()), (403, Some("Forbidden")), "the server's own files stay out of reach: {refused}");

    let staging = root.path().join("staging");
    let resp = app
        .client
        .post(app.url("/Staged/backups/pit"))
        .header("x-auth-token", &operator)
        .json(&enable(staging.to_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request: Value = resp.json().await.unwrap();
    let session = app.login("ops", "ops-password").await;
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert!(staging.is_dir(), "the node was prepared: its staging directory exists");
    assert_eq!(get(&app, &session, "/Staged/backups/pit").await.1["backup_staging_dir"], staging.to_str().unwrap());
}

/// Counts the events of one kind about one source.
async fn events_of(app: &TestApp, token: &str, kind: &str, source: &str) -> Vec<Value> {
    let (_, events) = crate::helpers::get(app, token, "/admin/v1/events?limit=1000").await;
    events.as_array().unwrap().iter().filter(|e| e["kind"] == kind && e["source_id"] == source).cloned().collect()
}

#[tokio::test]
async fn a_failing_archive_backs_off_is_said_once_and_a_restored_cluster_starts_without_archiving() {
    let app = spawn_app_with(|s| {
        s.archive_interval_ms = 100;
        s.scheduler_tick_ms = 50;
    })
    .await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("node1/data");
    tree::generate(&data.join("Keyspace1/users-0123456789abcdef0123456789abcdef"), 3, 1);
    let nodes = json!([{ "name": "10.9.0.1", "location": data }]);
    let (status, body) = crate::helpers::post(&app, &admin, "/admin/v1/clusters", json!({ "name": "Flaky", "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");
    let cluster = body["id"].as_str().unwrap().to_owned();
    let session = login(&app).await;
    let (status, request) =
        post(&app, &session, "/Flaky/backups/pit", json!({ "destinations": { "OPSC_ON_SERVER": {} }, "sleep": 0 })).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    // The database's archive directory disappears: every round fails.
    let archive = root.path().join("node1/commitlog");
    std::fs::remove_dir_all(&archive).unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;

    let (_, rounds) = crate::helpers::get(&app, &admin, "/admin/v1/operations?kind=archive&limit=1000").await;
    let failed = rounds.as_array().unwrap().iter().filter(|o| o["state"] == "failed").count();
    assert!((2..=7).contains(&failed), "rounds 100 ms apart, doubling after each failure: {failed} failed in 3 s, not ~30");
    assert_eq!(events_of(&app, &admin, "archive.failing", &cluster).await.len(), 1, "the failure is said once");
    let (_, overview) = crate::helpers::get(&app, &admin, "/admin/v1/overview").await;
    let flaky = overview.as_array().unwrap().iter().find(|s| s["source"]["id"] == cluster.as_str()).unwrap().clone();
    let problem = flaky["archive_problem"].as_str().unwrap_or_else(|| panic!("the overview shows the problem: {flaky}"));
    assert!(problem.contains("failed") && problem.contains("commitlog"), "{problem}");

    // The directory is back: the next round works, and that is said once too.
    std::fs::create_dir_all(&archive).unwrap();
    let mut recovered = Vec::new();
    for _ in 0..200 {
        recovered = events_of(&app, &admin, "archive.recovered", &cluster).await;
        if !recovered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recovered.len(), 1, "recovery is said once");
    let (_, overview) = crate::helpers::get(&app, &admin, "/admin/v1/overview").await;
    let flaky = overview.as_array().unwrap().iter().find(|s| s["source"]["id"] == cluster.as_str()).unwrap().clone();
    assert_eq!(flaky["archive_problem"], Value::Null, "{flaky}");

    // A cluster restored from it does not archive into the original's directories.
    let backup = crate::helpers::backup_and_wait(&app, &admin, json!({ "source_id": cluster })).await;
    let target = json!({ "target": { "type": "new_cluster", "name": "FlakyCopy", "locations": [root.path().join("copy/data")] } });
    let restored = crate::helpers::restore_and_wait(&app, &admin, backup["backup_id"].as_str().unwrap(), target).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    let (status, settings) = get(&app, &session, "/FlakyCopy/backups/pit").await;
    assert_eq!((status, settings["enabled"].clone()), (200, json!(false)), "{settings}");
}
