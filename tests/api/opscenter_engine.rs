//! OpsCenter options that reach into the engine: deleting a backup from one place only, removing
//! a destination that still holds backups, destinations limited to some data centres
//! (`validation_dc_list`), and a backup's per-node figures (`graphs`).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app, tree},
    opscenter::{get, login, post, until_done},
};

async fn delete(app: &TestApp, session: &str, path: &str) -> (u16, Value) {
    let resp = app.client.delete(app.url(path)).header("opscenter-session", session).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Nodes `127.0.0.1..` with two tables each, registered as cluster `Test_Cluster`; node `n` is in
/// data centre `dcs[n]`.
async fn cluster(app: &TestApp, session: &str, root: &Path, dcs: &[&str]) -> Vec<PathBuf> {
    let dirs: Vec<_> = (1..=dcs.len()).map(|n| root.join(format!("node{n}/data"))).collect();
    for (n, dir) in dirs.iter().enumerate() {
        tree::generate(&dir.join("Keyspace1").join("users-0123456789abcdef0123456789abcdef"), 4, n as u64);
        tree::generate(&dir.join("Keyspace1").join("dates-89abcdef0123456789abcdef01234567"), 3, 100 + n as u64);
    }
    let nodes: Vec<Value> = dirs
        .iter()
        .zip(dcs)
        .enumerate()
        .map(|(n, (d, dc))| json!({ "name": format!("127.0.0.{}", n + 1), "location": d, "datacenter": dc }))
        .collect();
    let (status, id) = post(app, session, "/cluster-configs", json!({ "cluster_name": "Test_Cluster", "nodes": nodes })).await;
    assert_eq!(status, 201, "{id}");
    dirs
}

/// Adds a local-directory destination; answers its id.
async fn local_destination(app: &TestApp, session: &str, body: Value) -> String {
    let (status, added) = post(app, session, "/Test_Cluster/backups/destinations", body).await;
    assert_eq!(status, 200, "{added}");
    added["destination"][0].as_object().unwrap().keys().next().unwrap().clone()
}

/// Runs a backup and waits for it; answers its tag.
async fn backup(app: &TestApp, session: &str, body: Value) -> String {
    let (status, request) = post(app, session, "/Test_Cluster/backups/run", body).await;
    assert_eq!(status, 200, "{request}");
    let done = until_done(app, session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    done["tag"].as_str().unwrap().to_owned()
}

/// The backups listed, by tag, with the destinations each is kept at.
async fn listed(app: &TestApp, session: &str) -> BTreeMap<String, Value> {
    let (status, all) = get(app, session, "/Test_Cluster/backups").await;
    assert_eq!(status, 200, "{all}");
    all.as_object().unwrap().iter().map(|(tag, b)| (tag.clone(), b["destinations"].clone())).collect()
}

/// Waits until the backup lists `destinations` (a copy lands after its backup ends).
async fn until_kept_at(app: &TestApp, session: &str, tag: &str, destinations: Value) {
    for _ in 0..300 {
        if listed(app, session).await.get(tag) == Some(&destinations) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{tag} never listed {destinations}: {:?}", listed(app, session).await);
}

/// Snapshots stored under `dir` (the server's store or a local destination): snapshot → the
/// number of node parts it holds.
fn stored_snapshots(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "snapshots") {
                for snap in std::fs::read_dir(&path).unwrap().flatten() {
                    let parts = std::fs::read_dir(snap.path()).unwrap().count();
                    if parts > 0 {
                        out.insert(snap.file_name().to_string_lossy().into_owned(), parts);
                    }
                }
            } else {
                stack.push(path);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_delete_without_a_destination_removes_only_the_copy_on_the_server_and_the_backup_stays_at_its_destination() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path(), &["dc1", "dc1"]).await;
    let offsite = root.path().join("offsite");
    std::fs::create_dir_all(&offsite).unwrap();
    let id = local_destination(&app, &session, json!({ "provider": "local", "path": offsite })).await;
    let server_store = app.data_dir.join("store");

    let tag = backup(&app, &session, json!({ "destinations": { "OPSC_ON_SERVER": {}, id.clone(): {} } })).await;
    until_kept_at(&app, &session, &tag, json!(["OPSC_ON_SERVER", id])).await;
    assert_eq!(stored_snapshots(&server_store).len(), 1);
    assert_eq!(stored_snapshots(&offsite).values().collect::<Vec<_>>(), [&2], "both nodes' parts were copied");

    let (status, request) = delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}")).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(listed(&app, &session).await[&tag], json!([id]), "the backup is still listed, at its destination");
    let (_, on_server) = get(&app, &session, "/Test_Cluster/backups?destination=OPSC_ON_SERVER").await;
    assert_eq!(on_server, json!({}), "nothing is left on the server");
    assert_eq!(stored_snapshots(&server_store), BTreeMap::new(), "the server's copy is gone from disk");
    assert_eq!(stored_snapshots(&offsite).len(), 1, "the destination's copy stays on disk");

    // Restored from where it is now kept, without naming it.
    let original: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&d.join("Keyspace1"))).collect();
    for d in &dirs {
        tree::mutate(&d.join("Keyspace1").join("users-0123456789abcdef0123456789abcdef"), 100);
    }
    let (status, request) = post(
        &app,
        &session,
        &format!("/Test_Cluster/backups/restore/{tag}"),
        json!({ "keyspaces": { "Keyspace1": { "truncate": true } } }),
    )
    .await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    for (d, before) in dirs.iter().zip(&original) {
        assert_eq!(&tree::fingerprint(&d.join("Keyspace1")), before);
    }

    // The server holds no copy now: a second delete without a destination says so, and deletes nothing.
    let (status, refused) = delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}")).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["brief"], "error");
    assert!(refused["message"].as_str().unwrap().contains("not stored at destination OPSC_ON_SERVER"), "{refused}");
    assert_eq!(listed(&app, &session).await[&tag], json!([id]));

    // Named, its last place goes and the backup with it.
    let (status, request) = delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}&destination={id}")).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(listed(&app, &session).await, BTreeMap::new());
    assert_eq!(stored_snapshots(&offsite), BTreeMap::new());
}

#[tokio::test]
async fn a_backup_sent_only_to_a_local_directory_survives_a_delete_naming_only_its_tag() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path(), &["dc1"]).await;
    let offsite = root.path().join("offsite");
    std::fs::create_dir_all(&offsite).unwrap();
    let id = local_destination(&app, &session, json!({ "provider": "local", "path": offsite })).await;
    let tag = backup(&app, &session, json!({ "keyspaces": ["Keyspace1"], "destinations": { id.clone(): {} } })).await;
    assert_eq!(listed(&app, &session).await[&tag], json!([id]));

    let (status, refused) = delete(&app, &session, &format!("/Test_Cluster/backups?tag={tag}")).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(listed(&app, &session).await[&tag], json!([id]), "still listed at its destination");
    assert_eq!(stored_snapshots(&offsite).len(), 1, "still on disk");
}

#[tokio::test]
async fn a_destination_holding_backups_is_removed_with_a_request_id_and_adding_it_again_brings_them_back() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path(), &["dc1", "dc1"]).await;
    let offsite = root.path().join("offsite");
    std::fs::create_dir_all(&offsite).unwrap();
    let id = local_destination(&app, &session, json!({ "provider": "local", "path": offsite })).await;
    let only_there = backup(&app, &session, json!({ "destinations": { id.clone(): {} } })).await;
    let both = backup(&app, &session, json!({ "destinations": { "OPSC_ON_SERVER": {}, id.clone(): {} } })).await;
    until_kept_at(&app, &session, &both, json!(["OPSC_ON_SERVER", id])).await;
    let on_disk = stored_snapshots(&offsite);
    assert_eq!(on_disk.len(), 2);

    // A job schedule writing there would break at its next run: it is named, and changed first.
    let body = json!({ "first_run_time": "03:00:00", "timezone": "GMT", "interval": 1, "interval_unit": "days", "job_params": { "type": "backup", "destinations": { id.clone(): {} } } });
    let (status, schedule) = post(&app, &session, "/Test_Cluster/job-schedules", body).await;
    assert_eq!(status, 201, "{schedule}");
    let schedule = schedule.as_str().unwrap().to_owned();
    let (status, refused) = delete(&app, &session, &format!("/Test_Cluster/backups/destinations/{id}")).await;
    assert_eq!(status, 409, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains(&format!("job schedule {schedule}")) && message.contains(&format!("destination '{id}'")), "{message}");
    let (status, _) = delete(&app, &session, &format!("/Test_Cluster/job-schedules/{schedule}")).await;
    assert_eq!(status, 200);

    let (status, request) = delete(&app, &session, &format!("/Test_Cluster/backups/destinations/{id}")).await;
    assert_eq!(status, 200, "{request}");
    assert!(request.is_string(), "a bare request id: {request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");

    let (_, destinations) = get(&app, &session, "/Test_Cluster/backups/destinations").await;
    assert_eq!(destinations.as_object().unwrap().keys().collect::<Vec<_>>(), ["OPSC_ON_SERVER"], "{destinations}");
    let (status, gone) = get(&app, &session, &format!("/Test_Cluster/backups/destinations/{id}")).await;
    assert_eq!((status, gone["type"].as_str()), (404, Some("NoSuchBackupDestination")));
    let now = listed(&app, &session).await;
    assert_eq!(now.keys().collect::<Vec<_>>(), [&both], "the backup kept only there left the list: {now:?}");
    assert_eq!(now[&both], json!(["OPSC_ON_SERVER"]));
    let (_, activity) = get(&app, &session, "/Test_Cluster/backup-activity").await;
    let shown: Vec<&Value> = activity.as_array().unwrap().iter().map(|e| &e["destination"]["id"]).collect();
    assert_eq!(shown, [&json!("OPSC_ON_SERVER")], "{activity}");
    let (status, _) = post(&app, &session, &format!("/Test_Cluster/backups/restore/{only_there}"), json!({})).await;
    assert_eq!(status, 404, "a backup out of the lists is not restored");
    assert_eq!(stored_snapshots(&offsite), on_disk, "the data stays where it is");

    // The same location again: the same destination, and its backups listed again.
    let again = local_destination(&app, &session, json!({ "provider": "local", "path": format!("{}/", offsite.display()) })).await;
    assert_eq!(again, id);
    let back = listed(&app, &session).await;
    assert_eq!(back[&only_there], json!([id]), "{back:?}");
    assert_eq!(back[&both], json!(["OPSC_ON_SERVER", id]));
    for d in &dirs {
        tree::mutate(&d.join("Keyspace1").join("dates-89abcdef0123456789abcdef01234567"), 100);
    }
    let (status, request) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{only_there}"), json!({ "destination": id })).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");

    // A destination that holds nothing is simply removed.
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let unused = local_destination(&app, &session, json!({ "provider": "local", "path": empty })).await;
    let (status, request) = delete(&app, &session, &format!("/Test_Cluster/backups/destinations/{unused}")).await;
    assert_eq!((status, request.is_string()), (200, true), "{request}");
    let again = local_destination(&app, &session, json!({ "provider": "local", "path": empty })).await;
    assert_ne!(again, unused, "nothing was kept to come back");
}

#[tokio::test]
async fn a_destination_limited_to_some_data_centres_takes_and_gives_back_only_their_nodes() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path(), &["dc1", "dc1", "dc2", "dc2"]).await;
    let offsite = root.path().join("dc2-only");
    std::fs::create_dir_all(&offsite).unwrap();
    let id = local_destination(&app, &session, json!({ "provider": "local", "path": offsite, "validation_dc_list": ["dc2"] })).await;
    let (_, shown) = get(&app, &session, &format!("/Test_Cluster/backups/destinations/{id}")).await;
    assert_eq!(shown["validation_dc_list"], json!(["dc2"]), "stored: {shown}");

    // A backup to it reads the nodes of dc2 only.
    let (_, request) = post(&app, &session, "/Test_Cluster/backups/run", json!({ "destinations": { id.clone(): {} } })).await;
    let done = until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    assert_eq!(done["details"]["subrequests"].as_object().unwrap().keys().collect::<Vec<_>>(), ["127.0.0.3", "127.0.0.4"]);
    let tag = done["tag"].as_str().unwrap();
    let (_, all) = get(&app, &session, "/Test_Cluster/backups").await;
    assert_eq!(all[tag]["keyspaces"]["Keyspace1"]["nodes"], json!(["127.0.0.3", "127.0.0.4"]));

    // A backup of every node synced there carries the dc2 nodes' parts only.
    let everywhere = backup(&app, &session, json!({})).await;
    let (status, request) =
        post(&app, &session, "/Test_Cluster/backups/sync", json!({ "tag": everywhere, "destinations": { id.clone(): {} } })).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    let on_disk = stored_snapshots(&offsite);
    assert_eq!(on_disk.values().collect::<Vec<_>>(), [&2, &2], "two nodes in each snapshot there: {on_disk:?}");

    // Restoring from it: the dc1 nodes are refused by name, unless left out.
    let (status, refused) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{everywhere}"), json!({ "destination": id })).await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("127.0.0.1 (dc1)") && message.contains("127.0.0.2 (dc1)") && !message.contains("127.0.0.3"), "{message}");
    assert!(message.contains(&format!("destination '{id}'")) && message.contains("validation_dc_list"), "{message}");
    let before: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&d.join("Keyspace1"))).collect();
    for d in &dirs {
        tree::mutate(&d.join("Keyspace1").join("users-0123456789abcdef0123456789abcdef"), 100);
    }
    let body =
        json!({ "destination": id, "excluded-nodes": ["127.0.0.1", "127.0.0.2"], "keyspaces": { "Keyspace1": { "truncate": true } } });
    let (status, request) = post(&app, &session, &format!("/Test_Cluster/backups/restore/{everywhere}"), body).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    for (n, (d, was)) in dirs.iter().zip(&before).enumerate() {
        let restored = &tree::fingerprint(&d.join("Keyspace1")) == was;
        assert_eq!(restored, n >= 2, "node {} restored only when in dc2", n + 1);
    }

    // The backup's figures at that destination are the dc2 nodes'.
    let (status, figures) = get(&app, &session, &format!("/Test_Cluster/backups/graphs/{everywhere}/{id}")).await;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures.as_object().unwrap().keys().collect::<Vec<_>>(), ["127.0.0.3", "127.0.0.4"]);

    // A destination no node reaches takes nothing.
    let nowhere = root.path().join("dc3-only");
    std::fs::create_dir_all(&nowhere).unwrap();
    let dc3 = local_destination(&app, &session, json!({ "provider": "local", "path": nowhere, "validation_dc_list": ["dc3"] })).await;
    let (status, refused) = post(&app, &session, "/Test_Cluster/backups/run", json!({ "destinations": { dc3.clone(): {} } })).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("dc3"), "{refused}");
}

#[tokio::test]
async fn graphs_answer_each_nodes_bytes_files_and_duration_from_the_backup() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path(), &["dc1", "dc2"]).await;
    let tag = backup(&app, &session, json!({ "keyspaces": ["Keyspace1"] })).await;

    let (status, figures) = get(&app, &session, &format!("/Test_Cluster/backups/graphs/{tag}")).await;
    assert_eq!(status, 200, "{figures}");
    let nodes = figures.as_object().unwrap();
    assert_eq!(nodes.keys().collect::<Vec<_>>(), ["127.0.0.1", "127.0.0.2"]);
    let (_, all) = get(&app, &session, "/Test_Cluster/backups").await;
    let mut bytes = 0;
    for (node, dc) in [("127.0.0.1", "dc1"), ("127.0.0.2", "dc2")] {
        let f = &figures[node];
        assert_eq!(f["files"], 7, "{node}: {f}");
        assert_eq!(f["keyspaces"]["Keyspace1"]["users"]["files"], 4);
        assert_eq!(f["keyspaces"]["Keyspace1"]["dates"]["files"], 3);
        assert!(f["bytes"].as_i64().unwrap() > 0 && f["stored_bytes"].as_i64().unwrap() > 0, "{f}");
        let users = f["keyspaces"]["Keyspace1"]["users"]["bytes"].as_i64().unwrap();
        let dates = f["keyspaces"]["Keyspace1"]["dates"]["bytes"].as_i64().unwrap();
        assert_eq!(users + dates, f["bytes"].as_i64().unwrap());
        let duration = f["duration"].as_f64().unwrap();
        assert!((0.0..600.0).contains(&duration), "{f}");
        assert!(f["finished"].as_i64().unwrap() >= f["started"].as_i64().unwrap());
        assert_eq!((f["state"].as_str(), f["datacenter"].as_str()), (Some("success"), Some(dc)));
        bytes += f["bytes"].as_i64().unwrap();
    }
    assert_eq!(all[&tag]["keyspaces"]["Keyspace1"]["size"], bytes, "the same bytes the backup list shows");

    let (status, missing) = get(&app, &session, "/Test_Cluster/backups/graphs/opscenter_adhoc_2000-01-01-00-00-00-UTC").await;
    assert_eq!(status, 404, "{missing}");
}
