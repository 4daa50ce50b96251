//! The Instaclustr provisioning v1 dialect as a provisioning script uses it: HTTP Basic, cluster
//! status answered with 202, backup events per node, and restores to a new cluster at a point in time.

use std::{path::Path, time::Duration};

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, tree};

struct Client<'a> {
    app: &'a TestApp,
    user: &'a str,
    secret: &'a str,
}

impl Client<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.app.client.request(method, self.app.url(path)).basic_auth(self.user, Some(self.secret));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Triggers a backup and waits until every node's newest event is COMPLETED.
    async fn backup(&self, id: &str, backups_before: usize) {
        let (status, body) = self.post(&format!("/provisioning/v1/{id}/backups"), json!({})).await;
        assert_eq!(status, 204, "{body}");
        for _ in 0..300 {
            let (_, events) = self.get(&format!("/provisioning/v1/{id}/backups")).await;
            let nodes = events["clusterDataCentres"][0]["nodes"].as_array().unwrap().clone();
            let done = nodes.iter().all(|n| {
                let evs = n["events"].as_array().unwrap();
                evs.len() == backups_before + 1 && evs.last().unwrap()["state"] == "COMPLETED"
            });
            if done {
                let last = &nodes[0]["events"].as_array().unwrap().last().unwrap().clone();
                assert_eq!((last["type"].as_str(), last["progress"].as_f64()), (Some("snapshot-upload"), Some(1.0)));
                assert!(last["end"].as_i64().unwrap() >= last["start"].as_i64().unwrap());
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the backup of {id} never completed");
    }
}

const TABLES: &[(&str, &str)] =
    &[("Keyspace1", "users-0123456789abcdef0123456789abcdef"), ("Keyspace1", "dates-89abcdef0123456789abcdef01234567")];

async fn cluster(app: &TestApp, root: &Path) -> (String, Vec<std::path::PathBuf>) {
    let dirs: Vec<_> = (1..=3).map(|n| root.join(format!("node{n}/data"))).collect();
    for (n, d) in dirs.iter().enumerate() {
        for (i, (ks, t)) in TABLES.iter().enumerate() {
            tree::generate(&d.join(ks).join(t), 4, (n * 10 + i) as u64);
        }
    }
    let nodes: Vec<Value> = dirs.iter().enumerate().map(|(n, d)| json!({ "name": format!("10.1.0.{}", n + 1), "location": d })).collect();
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let (status, body) = crate::helpers::post(app, &admin, "/admin/v1/clusters", json!({ "name": "ic-prod", "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().unwrap().to_owned(), dirs)
}

#[tokio::test]
async fn a_cluster_is_backed_up_twice_and_restored_to_a_new_cluster_between_the_two() {
    let app = spawn_app().await;
    app.user_with_role("ops", "operator", Some("default")).await;
    let ic = Client { app: &app, user: "ops", secret: "ops-password" };
    let (status, none) = ic.get("/provisioning/v1").await;
    assert_eq!((status, none["status"].as_u64()), (404, Some(404)), "no clusters yet: {none}");

    let root = tempfile::tempdir().unwrap();
    let (id, dirs) = cluster(&app, root.path()).await;
    let (_, list) = ic.get("/provisioning/v1").await;
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!((list[0]["nodeCount"].as_u64(), list[0]["runningNodeCount"].as_u64()), (Some(3), Some(3)));
    for path in [format!("/provisioning/v1/{id}"), format!("/provisioning/v1/{id}/terraform-description")] {
        let (status, doc) = ic.get(&path).await;
        assert_eq!(status, 202, "{doc}");
        assert_eq!(doc["clusterStatus"], "RUNNING");
        assert_eq!(doc["dataCentres"][0]["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(doc["dataCentres"][0]["nodes"][1]["nodeStatus"], "RUNNING");
    }

    ic.backup(&id, 0).await;
    let first: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&d.join("Keyspace1"))).collect();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let between = chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for d in &dirs {
        tree::mutate(&d.join("Keyspace1").join(TABLES[0].1), 100);
    }
    ic.backup(&id, 1).await;

    let body = json!({ "clusterNameOverride": "ic-restored", "pointInTime": between, "keyspaceTables": "Keyspace1.users" });
    let (status, restored) = ic.post(&format!("/provisioning/v1/{id}/backups/restore"), body).await;
    assert_eq!(status, 200, "{restored}");
    let new_id = restored["restoredCluster"].as_str().unwrap().to_owned();
    let mut doc = json!({});
    for _ in 0..300 {
        let (status, d) = ic.get(&format!("/provisioning/v1/{new_id}")).await;
        assert_eq!(status, 202);
        doc = d;
        if doc["clusterStatus"] != "PROVISIONING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(doc["clusterStatus"], "RUNNING", "{doc}");
    assert_eq!(doc["clusterName"], "ic-restored");
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let (_, source) = crate::helpers::get(&app, &admin, &format!("/admin/v1/sources/{new_id}")).await;
    for (i, node) in source["nodes"].as_array().unwrap().iter().enumerate() {
        let data = Path::new(node["location"].as_str().unwrap());
        assert!(data.starts_with(dirs[i].parent().unwrap()), "beside the original node's data: {}", data.display());
        let users = tree::fingerprint(&data.join("Keyspace1").join(TABLES[0].1));
        let expected = tree::fingerprint(&dirs[i].join("Keyspace1").join(TABLES[0].1));
        assert_ne!(users, expected, "node {i}: not today's users");
        let first_users: std::collections::BTreeMap<_, _> =
            first[i].iter().filter_map(|(p, v)| p.strip_prefix(&format!("{}/", TABLES[0].1)).map(|p| (p.to_owned(), v.clone()))).collect();
        assert_eq!(users, first_users, "node {i}: users as the first backup held it");
        let dates = data.join("Keyspace1").join(TABLES[1].1);
        assert!(dates.is_dir() && std::fs::read_dir(&dates).unwrap().next().is_none(), "node {i}: the schema, without the data");
    }
    assert_ne!(tree::fingerprint(&dirs[0].join("Keyspace1")), first[0], "the original keeps today's data");

    let kinds = |events: &Value| -> Vec<String> {
        events["clusterDataCentres"][0]["nodes"][0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds(&ic.get(&format!("/provisioning/v1/{id}/backups")).await.1), ["snapshot-upload", "snapshot-upload"]);
    assert_eq!(
        kinds(&ic.get(&format!("/provisioning/v1/{new_id}/backups")).await.1),
        ["snapshot-download"],
        "the new cluster lists its restore"
    );

    // A name that would reach into the live data lands beside it instead.
    let (status, body) = ic.post(&format!("/provisioning/v1/{id}/backups/restore"), json!({ "clusterNameOverride": "data" })).await;
    assert_eq!(status, 200, "{body}");
    assert!(!dirs[0].join("data").exists(), "nothing was written inside the original's data directory");

    let (status, _) = ic.send(reqwest::Method::DELETE, &format!("/provisioning/v1/{new_id}"), None).await;
    assert_eq!(status, 202);
    assert_eq!(ic.get(&format!("/provisioning/v1/{new_id}")).await.0, 404);
    let (status, body) = ic.post(&format!("/provisioning/v1/{id}/backups/restore"), json!({ "clusterNameOverride": "ic-restored" })).await;
    assert_eq!(status, 409, "the deleted cluster's directories still hold its data: {body}");
}

#[tokio::test]
async fn instaclustr_errors_come_in_the_v1_shape() {
    let app = spawn_app().await;
    let session = app.user_with_role("ops", "operator", Some("default")).await;
    let ic = Client { app: &app, user: "ops", secret: "ops-password" };
    let root = tempfile::tempdir().unwrap();
    let (id, _) = cluster(&app, root.path()).await;

    let resp = app.client.get(app.url("/provisioning/v1")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"), "non-preemptive clients need the challenge");
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["status"].as_u64(), body["code"].as_u64()), (Some(401), Some(401)));
    assert!(body.get("errorDetails").is_some() && body.get("link").is_some());

    let restore = format!("/provisioning/v1/{id}/backups/restore");
    let (status, body) = ic.post(&restore, json!({})).await;
    assert_eq!((status, body["status"].as_u64()), (412, Some(412)), "no backup yet: {body}");
    ic.backup(&id, 0).await;
    let (status, body) = ic.post(&restore, json!({ "clusterNameOverride": "-bad name" })).await;
    assert_eq!(status, 400, "{body}");
    let stranger = uuid::Uuid::new_v4();
    let (status, body) = ic.post(&restore, json!({ "cdcInfos": [{ "cdcId": stranger, "restoreToSameVpc": true }] })).await;
    assert_eq!((status, body["status"].as_u64()), (404, Some(404)), "{body}");
    assert_eq!(body["message"], format!("data centre of the cluster (cdcInfos cdcId) '{stranger}' not found"));
    let (status, doc) = ic.get(&format!("/provisioning/v1/{id}")).await;
    assert_eq!(status, 202);
    let (status, body) = ic
        .post(
            &restore,
            json!({ "cdcInfos": [{ "cdcId": doc["dataCentres"][0]["id"], "restoreToSameVpc": true }], "clusterNameOverride": "all-dcs" }),
        )
        .await;
    assert_eq!(status, 200, "every data centre named is fine: {body}");
    let (status, body) = ic.post(&restore, json!({ "pointInTime": 1_420_070_400_000_i64, "clusterNameOverride": "too-early" })).await;
    assert_eq!(status, 412, "nothing was backed up in 2015: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("at or before 1420070400000 (2015-01-01T00:00:00+00:00)"), "the moment asked, in milliseconds: {body}");
    let hint: i64 = message.rsplit_once("; the newest was taken at ").map(|(_, ms)| ms.parse().unwrap()).expect("a moment that works");
    assert!(hint > 1_420_070_400_000 && hint <= chrono::Utc::now().timestamp_millis(), "{body}");
    let (status, _) = ic.post(&restore, json!({ "pointInTime": 1000 })).await;
    assert_eq!(status, 400);
    let (status, _) = ic.post(&restore, json!({ "keyspaceTables": "no-dot" })).await;
    assert_eq!(status, 400);
    let (status, body) = ic.get(&format!("/provisioning/v1/{}", uuid::Uuid::new_v4())).await;
    assert_eq!((status, body["status"].as_u64()), (404, Some(404)));
    for path in ["/provisioning/v1/not-a-uuid", "/provisioning/v1/not-a-uuid/backups", "/provisioning/v1/ic-prod/backups/restore"] {
        let (status, body) = if path.ends_with("restore") { ic.post(path, json!({})).await } else { ic.get(path).await };
        assert_eq!((status, body["status"].as_u64(), body["code"].as_u64()), (400, Some(400), Some(400)), "{path}: {body}");
        assert_eq!(body["errorDetails"], json!({}), "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains("UUID"), "the message says what a clusterId is: {body}");
    }
    let (status, body) = ic.post(&restore, json!({ "pointInTime": "yesterday" })).await;
    assert_eq!((status, body["status"].as_u64()), (400, Some(400)), "a typed body refuses a moment that is not a number: {body}");

    let resp = app
        .client
        .post(app.url(&restore))
        .basic_auth("ops", Some("ops-password"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    let (key, _) = app.api_key(&session, true).await;
    let reader = Client { app: &app, user: "ops", secret: &key };
    assert_eq!(reader.get(&format!("/provisioning/v1/{id}")).await.0, 202, "a read-only key reads");
    let (status, body) = reader.post(&format!("/provisioning/v1/{id}/backups"), json!({})).await;
    assert_eq!((status, body["status"].as_u64()), (403, Some(403)), "and cannot write: {body}");
}

#[tokio::test]
async fn a_provisioning_script_with_non_preemptive_basic_auth_restores_a_point_in_time() {
    let Some(python) = crate::keystoneauth::python() else { return };
    let app = spawn_app().await;
    app.user_with_role("ops", "operator", Some("default")).await;
    let root = tempfile::tempdir().unwrap();
    let (id, dirs) = cluster(&app, root.path()).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/instaclustr_restore.py");
    let mut args = vec![app.base.clone(), "ops".into(), "ops-password".into(), id];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(python).arg(script).args(args).output().unwrap()).await.unwrap();
    assert!(out.status.success(), "the script failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["challenges"].as_u64().unwrap() >= 1, "credentials went out only after a challenge: {r}");
    assert_eq!(r["status"], json!([202, "RUNNING", 3]));
    assert_eq!(r["first_backup"], json!([1.0, 1.0, 1.0]));
    assert_eq!(r["restore"], 200);
    assert_eq!(r["restored_status"], json!([202, "RUNNING"]));
    assert_eq!(r["restored_exact"], true, "{r}");
    assert_eq!(r["original_untouched"], true);
}

/// The newest complete backup's time of a cluster, in ms, as the admin API lists it.
async fn newest_backup_ms(app: &TestApp, cluster: &str) -> i64 {
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let (_, backups) = crate::helpers::get(app, &admin, &format!("/admin/v1/backups?source_id={cluster}")).await;
    let times =
        backups.as_array().unwrap().iter().map(|b| b["created_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    times.max().expect("a backup").timestamp_millis()
}

/// Polls the new cluster's document until its restore ended.
async fn until_provisioned(ic: &Client<'_>, id: &str) -> Value {
    for _ in 0..300 {
        let (status, doc) = ic.get(&format!("/provisioning/v1/{id}")).await;
        assert_eq!(status, 202, "{doc}");
        if doc["clusterStatus"] != "PROVISIONING" {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the restored cluster {id} never left PROVISIONING");
}

#[tokio::test]
async fn a_restore_to_now_answers_the_moment_it_reached_and_the_new_cluster_shows_its_networks() {
    let app = spawn_app().await;
    app.user_with_role("ops", "operator", Some("default")).await;
    let ic = Client { app: &app, user: "ops", secret: "ops-password" };
    let root = tempfile::tempdir().unwrap();
    let (id, _) = cluster(&app, root.path()).await;
    ic.backup(&id, 0).await;
    let taken = newest_backup_ms(&app, &id).await;
    let (_, doc) = ic.get(&format!("/provisioning/v1/{id}")).await;
    let cdc = doc["dataCentres"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!((doc["clusterNetwork"].clone(), doc.get("restoredFrom")), (Value::Null, None), "an original cluster: {doc}");

    // "now", with a custom VPC for the one data centre and a cluster network.
    let now = chrono::Utc::now().timestamp_millis();
    let body = json!({
        "clusterNameOverride": "ic-vpc",
        "pointInTime": now,
        "clusterNetwork": "10.0.0.0/16",
        "cdcInfos": [{ "cdcId": cdc, "restoreToSameVpc": false, "customVpcId": "vpc-002512aa", "customVpcNetwork": "10.1.0.0/16" }],
    });
    let (status, restored) = ic.post(&format!("/provisioning/v1/{id}/backups/restore"), body).await;
    assert_eq!(status, 200, "{restored}");
    let new_id = restored["restoredCluster"].as_str().unwrap().to_owned();
    assert_eq!(restored, json!({ "restoredCluster": new_id, "pointInTime": taken }), "the newest backup's moment is what it reached");
    let doc = until_provisioned(&ic, &new_id).await;
    assert_eq!(doc["clusterStatus"], "RUNNING", "{doc}");
    assert_eq!(doc["clusterNetwork"], "10.0.0.0/16", "{doc}");
    assert_eq!(doc["restoredFrom"], json!({ "clusterId": id, "pointInTime": taken, "requestedPointInTime": now }), "{doc}");
    let dc = &doc["dataCentres"][0];
    assert_eq!(
        (&dc["cdcNetwork"], &dc["customVpcId"], &dc["restoreToSameVpc"]),
        (&json!("10.1.0.0/16"), &json!("vpc-002512aa"), &json!(false)),
        "the data centre's own network: {doc}"
    );
    assert_ne!(dc["id"].as_str(), Some(cdc.as_str()), "the new cluster's data centre has an id of its own");
    let (_, list) = ic.get("/provisioning/v1").await;
    let summary = list.as_array().unwrap().iter().find(|c| c["id"] == new_id.as_str()).unwrap().clone();
    assert_eq!(
        summary,
        json!({ "id": new_id, "name": "ic-vpc", "nodeCount": 3, "runningNodeCount": 3, "derivedStatus": "RUNNING",
                "slaTier": "NON_PRODUCTION", "pciCompliance": "DISABLED" })
    );

    // Only a cluster network: every data centre is in it; no pointInTime asked, none requested.
    let (status, restored) = ic
        .post(
            &format!("/provisioning/v1/{id}/backups/restore"),
            json!({ "clusterNameOverride": "ic-net", "clusterNetwork": "10.2.0.0/16" }),
        )
        .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["pointInTime"], taken);
    let doc = until_provisioned(&ic, restored["restoredCluster"].as_str().unwrap()).await;
    assert_eq!((&doc["clusterNetwork"], &doc["dataCentres"][0]["cdcNetwork"]), (&json!("10.2.0.0/16"), &json!("10.2.0.0/16")), "{doc}");
    assert_eq!(doc["restoredFrom"]["requestedPointInTime"], Value::Null, "{doc}");
    assert!(doc["dataCentres"][0].get("customVpcId").is_none(), "no VPC was asked for: {doc}");

    // The restored cluster restored again into its own VPC keeps its data centre's network.
    ic.backup(&new_id, 1).await; // after its restore's event
    let (_, first) = ic.get(&format!("/provisioning/v1/{new_id}")).await;
    let body =
        json!({ "clusterNameOverride": "ic-same", "cdcInfos": [{ "cdcId": first["dataCentres"][0]["id"], "restoreToSameVpc": true }] });
    let (status, restored) = ic.post(&format!("/provisioning/v1/{new_id}/backups/restore"), body).await;
    assert_eq!(status, 200, "{restored}");
    let doc = until_provisioned(&ic, restored["restoredCluster"].as_str().unwrap()).await;
    let dc = &doc["dataCentres"][0];
    assert_eq!((&dc["cdcNetwork"], &dc["restoreToSameVpc"]), (&json!("10.1.0.0/16"), &json!(true)), "{doc}");
    assert_eq!(doc["restoredFrom"]["clusterId"], new_id.as_str());

    // Network settings that cannot be honoured are refused, naming the field.
    let restore = format!("/provisioning/v1/{id}/backups/restore");
    for (body, words) in [
        (json!({ "clusterNetwork": "ten-oh" }), "field `clusterNetwork` verification failed"),
        (json!({ "clusterNetwork": "10.0.0.0/+5" }), "field `clusterNetwork` verification failed"),
        (json!({ "cdcInfos": [{ "cdcId": cdc, "customVpcNetwork": "10.0.0.0/33" }] }), "field `customVpcNetwork` verification failed"),
        (
            json!({ "cdcInfos": [{ "cdcId": cdc, "restoreToSameVpc": true, "customVpcId": "vpc-1" }] }),
            "customVpcId and customVpcNetwork apply only when restoreToSameVpc is false",
        ),
    ] {
        let (status, refused) = ic.post(&restore, body.clone()).await;
        assert_eq!((status, refused["status"].as_u64()), (400, Some(400)), "{body}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains(words), "{body}: {refused}");
    }
    // The same data centre twice conflicts with the cluster's one each.
    let (status, refused) = ic.post(&restore, json!({ "cdcInfos": [{ "cdcId": cdc }, { "cdcId": cdc }] })).await;
    assert_eq!((status, refused["status"].as_u64()), (409, Some(409)), "{refused}");
    assert_eq!(refused["message"], format!("cdcInfos names data centre {cdc} more than once"));
}

#[tokio::test]
async fn cdc_infos_name_every_data_centre_or_none_and_keyspace_tables_name_backed_up_tables() {
    let app = spawn_app().await;
    app.user_with_role("ops", "operator", Some("default")).await;
    let ic = Client { app: &app, user: "ops", secret: "ops-password" };
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = ["east", "west"].iter().map(|dc| root.path().join(format!("{dc}/data"))).collect();
    for (n, d) in dirs.iter().enumerate() {
        tree::generate(&d.join(TABLES[0].0).join(TABLES[0].1), 3, n as u64);
    }
    let nodes: Vec<Value> =
        dirs.iter().zip(["east", "west"]).map(|(d, dc)| json!({ "name": format!("{dc}-1"), "location": d, "datacenter": dc })).collect();
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let (status, body) = crate::helpers::post(&app, &admin, "/admin/v1/clusters", json!({ "name": "ic-two", "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, events) = ic.post(&format!("/provisioning/v1/{id}/backups"), json!({})).await;
    assert_eq!(status, 204, "{events}");
    for _ in 0..300 {
        let (_, events) = ic.get(&format!("/provisioning/v1/{id}/backups")).await;
        let last_states: Vec<Value> = events["clusterDataCentres"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|dc| dc["nodes"].as_array().unwrap().clone())
            .map(|n| n["events"].as_array().unwrap().last().map_or(Value::Null, |e| e["state"].clone()))
            .collect();
        if last_states.len() == 2 && last_states.iter().all(|s| s == "COMPLETED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, doc) = ic.get(&format!("/provisioning/v1/{id}")).await;
    let dc = |name: &str| doc["dataCentres"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap()["id"].clone();
    let (east, west) = (dc("east"), dc("west"));
    let restore = format!("/provisioning/v1/{id}/backups/restore");

    let (status, refused) = ic.post(&restore, json!({ "cdcInfos": [{ "cdcId": east, "customVpcNetwork": "10.9.0.0/16" }] })).await;
    assert_eq!((status, refused["status"].as_u64()), (409, Some(409)), "{refused}");
    assert_eq!(
        refused["message"],
        format!("cdcInfos names every data centre of the cluster or none; it leaves out {}", west.as_str().unwrap())
    );
    let (status, refused) = ic.post(&restore, json!({ "keyspaceTables": "Keyspace1.users, Keyspace1.nope" })).await;
    assert_eq!((status, refused["status"].as_u64()), (404, Some(404)), "{refused}");
    assert_eq!(refused["message"], "backed-up table (keyspaceTables) 'Keyspace1.nope' not found");

    let body = json!({
        "clusterNameOverride": "ic-two-restored",
        "keyspaceTables": "Keyspace1.users",
        "cdcInfos": [{ "cdcId": west, "restoreToSameVpc": false, "customVpcNetwork": "10.8.0.0/16" }, { "cdcId": east, "restoreToSameVpc": null }],
        "clusterNetwork": "10.7.0.0/16",
    });
    let (status, restored) = ic.post(&restore, body).await;
    assert_eq!(status, 200, "{restored}");
    let doc = until_provisioned(&ic, restored["restoredCluster"].as_str().unwrap()).await;
    let network = |name: &str| doc["dataCentres"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap()["cdcNetwork"].clone();
    assert_eq!((network("east"), network("west")), (json!("10.7.0.0/16"), json!("10.8.0.0/16")), "{doc}");
}

#[tokio::test]
async fn a_backup_asked_for_while_one_runs_conflicts_and_a_restore_body_may_be_left_out_but_not_null() {
    let app = spawn_app().await;
    app.user_with_role("ops", "operator", Some("default")).await;
    let ic = Client { app: &app, user: "ops", secret: "ops-password" };
    let root = tempfile::tempdir().unwrap();
    let (id, _) = cluster(&app, root.path()).await;
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    // Throttled to keep the first backup busy while the second is asked for.
    let (status, first) =
        crate::helpers::post(&app, &admin, "/admin/v1/backups", json!({ "source_id": id, "options": { "throttle_bytes_per_sec": 1 } }))
            .await;
    assert_eq!(status, 202, "{first}");
    let (status, second) = ic.post(&format!("/provisioning/v1/{id}/backups"), json!({})).await;
    assert_eq!((status, second["status"].as_u64()), (409, Some(409)), "{second}");
    assert_eq!(second["message"], "a backup of cluster 'ic-prod' is already in progress");
    let op = first["operation"]["id"].as_str().unwrap();
    let (status, _) = crate::helpers::post(&app, &admin, &format!("/admin/v1/operations/{op}/cancel"), json!({})).await;
    assert_eq!(status, 202);
    crate::helpers::wait_for(&app, &admin, op).await;

    let restore = format!("/provisioning/v1/{id}/backups/restore");
    let resp = app.client.post(app.url(&restore)).basic_auth("ops", Some("ops-password")).send().await.unwrap();
    assert_eq!(resp.status(), 412, "no body: the newest backup, and there is none");
    let resp = app
        .client
        .post(app.url(&restore))
        .basic_auth("ops", Some("ops-password"))
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["status"].as_u64(), body["message"].as_str()), (Some(400), Some("the body is a JSON object, or empty")));
    let doc: Value = app.client.get(app.url("/openapi/instaclustr.json")).send().await.unwrap().json().await.unwrap();
    let operation = &doc["paths"]["/provisioning/v1/{clusterId}/backups/restore"]["post"];
    assert_eq!(operation["requestBody"]["required"], false, "the seed: an empty body restores the newest backup");
    assert_eq!(operation["parameters"][0]["name"], "clusterId", "named as the seed names it");
}
