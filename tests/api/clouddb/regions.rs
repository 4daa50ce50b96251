//! Cloud Databases regions: each has an endpoint of its own in the catalog, sees its own backups,
//! and a copy to a region is a backup of its own there, restorable from that region's data.

use std::time::Duration;

use serde_json::{Value, json};

use super::{count_rows, run_client, sqlite_instance, until_status, v2_token};
use crate::helpers::{ADMIN_PASSWORD, TestApp, get, post, spawn_app};

/// The endpoint the v2 catalog gives the `database` service in `region`, as a path on the app.
async fn endpoint(app: &TestApp, region: &str) -> String {
    let body = json!({ "auth": { "passwordCredentials": { "username": "admin", "password": ADMIN_PASSWORD }, "tenantId": "default" } });
    let access: Value = app.client.post(app.url("/v2.0/tokens")).json(&body).send().await.unwrap().json().await.unwrap();
    let database = access["access"]["serviceCatalog"].as_array().unwrap().iter().find(|s| s["type"] == "database").unwrap().clone();
    let url = database["endpoints"].as_array().unwrap().iter().find(|e| e["region"] == region).unwrap()["publicURL"].clone();
    url.as_str().unwrap().strip_prefix(&app.base).unwrap().to_owned()
}

/// Whether a directory under `root` is named `name` (a snapshot's manifests live in one).
fn holds(root: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(root).into_iter().flatten().flatten().any(|e| {
        let path = e.path();
        path.is_dir() && (e.file_name() == name || holds(&path, name))
    })
}

fn ids(list: &Value) -> Vec<String> {
    list["backups"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_owned()).collect()
}

/// Waits until `path` lists `n` backups, all COMPLETED.
async fn until_listed(app: &TestApp, token: &str, path: &str, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let (_, body) = get(app, token, path).await;
        let items = body["backups"].as_array().cloned().unwrap_or_default();
        if items.len() == n && items.iter().all(|b| b["status"] == "COMPLETED") {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never listed {n} complete backups");
}

async fn delete(app: &TestApp, token: &str, path: &str) -> u16 {
    app.client.delete(app.url(path)).header("x-auth-token", token).send().await.unwrap().status().as_u16()
}

async fn until_gone(app: &TestApp, token: &str, path: &str) {
    for _ in 0..300 {
        if get(app, token, path).await.0 == 404 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} was never deleted");
}

#[tokio::test]
async fn a_copy_to_another_region_is_a_backup_of_its_own_listed_and_restorable_only_there() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, _) = sqlite_instance(&app, &token, dir.path(), 30).await;
    let (dfw, iad) = (endpoint(&app, "DFW").await, endpoint(&app, "IAD").await);
    assert_eq!((dfw.as_str(), iad.as_str()), ("/v1.0/default", "/v1.0/default/regions/IAD"));

    let body = json!({ "backup": { "name": "nightly", "instance": instance, "description": "before the upgrade" } });
    let (status, created) = post(&app, &token, &format!("{dfw}/backups"), body).await;
    assert_eq!(status, 202, "{created}");
    let original = created["backup"]["id"].as_str().unwrap().to_owned();
    let done = until_status(&app, &token, &format!("{dfw}/backups/{original}"), "backup", "COMPLETED").await;

    // The copy is accepted with no body, as the seed shows; Location names the new backup in IAD.
    let copy = json!({ "copy-backup": { "target_backup_region": "IAD", "name": "dfw-to-iad", "description": "a backup copy" } });
    let resp = app
        .client
        .post(app.url(&format!("{dfw}/backups/{original}/action")))
        .header("x-auth-token", &token)
        .json(&copy)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(resp.text().await.unwrap(), "");
    let copy_id = location.rsplit('/').next().unwrap().to_owned();
    assert_eq!(location, format!("{}{iad}/backups/{copy_id}", app.base));
    assert_ne!(copy_id, original);

    let (status, first) = get(&app, &token, &format!("{iad}/backups/{copy_id}")).await;
    assert_eq!(status, 200, "{first}");
    assert!(matches!(first["backup"]["status"].as_str(), Some("NEW" | "BUILDING" | "COMPLETED")), "{first}");
    let shown = until_status(&app, &token, &format!("{iad}/backups/{copy_id}"), "backup", "COMPLETED").await;
    assert_eq!(shown["id"], copy_id.as_str());
    assert_eq!(shown["name"], "dfw-to-iad");
    assert_eq!(shown["description"], "a backup copy");
    assert_eq!(shown["instance_id"], instance.as_str());
    assert_eq!(shown["source"], json!({ "type": "instance", "id": instance }));
    assert_eq!(shown["parent_id"], Value::Null);
    assert_eq!(shown["size"], done["size"]);
    assert_eq!(shown["datastore"], done["datastore"]);
    assert_eq!(shown["type"], done["type"]);
    assert_eq!(shown["locationRef"], format!("{}{iad}/backups/{copy_id}", app.base));
    assert_eq!(done["locationRef"], format!("{}{dfw}/backups/{original}", app.base));

    // Each region lists and shows its own backups only.
    assert_eq!(ids(&get(&app, &token, &format!("{iad}/backups")).await.1), [copy_id.as_str()]);
    assert_eq!(ids(&get(&app, &token, &format!("{dfw}/backups")).await.1), [original.as_str()]);
    assert_eq!(ids(&get(&app, &token, &format!("{iad}/instances/{instance}/backups")).await.1), [copy_id.as_str()]);
    assert_eq!(ids(&get(&app, &token, &format!("{dfw}/instances/{instance}/backups")).await.1), [original.as_str()]);
    let (status, fault) = get(&app, &token, &format!("{dfw}/backups/{copy_id}")).await;
    assert_eq!((status, fault["itemNotFound"]["code"].as_i64()), (404, Some(404)), "{fault}");
    assert_eq!(get(&app, &token, &format!("{iad}/backups/{original}")).await.0, 404);
    assert_eq!(
        get(&app, &token, "/v1.0/default/regions/DFW/backups").await.1["backups"][0]["id"],
        original.as_str(),
        "the home region marked"
    );

    // The copy's data is in IAD's destination, under its own id, and nowhere else.
    assert!(holds(&app.data_dir.join("regions/IAD"), &copy_id), "the copy's manifests are in IAD");
    assert!(!holds(&app.data_dir.join("store"), &copy_id));
    assert!(!holds(&app.data_dir.join("regions/IAD"), &original), "IAD keeps a backup of its own, not the original");

    // With the original and its data gone from DFW, the copy restores in IAD (and only there).
    assert_eq!(delete(&app, &token, &format!("{dfw}/backups/{original}")).await, 202);
    until_gone(&app, &token, &format!("{dfw}/backups/{original}")).await;
    let restore = |name: &str, backup: &str| json!({ "instance": { "name": name, "flavorRef": 1, "volume": { "size": 2 }, "restorePoint": { "backupRef": backup } } });
    let (status, refused) = post(&app, &token, &format!("{dfw}/instances"), restore("from_dfw", &copy_id)).await;
    assert_eq!((status, refused["itemNotFound"]["code"].as_i64()), (404, Some(404)), "{refused}");
    let (status, restored) = post(&app, &token, &format!("{iad}/instances"), restore("from_copy", &copy_id)).await;
    assert_eq!(status, 200, "{restored}");
    let new_id = restored["instance"]["id"].as_str().unwrap().to_owned();
    assert!(restored["instance"]["links"][0]["href"].as_str().unwrap().starts_with(&format!("{}{iad}/instances/", app.base)));
    until_status(&app, &token, &format!("{iad}/instances/{new_id}"), "instance", "ACTIVE").await;
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{new_id}")).await;
    assert_eq!(count_rows(source["nodes"][0]["location"].as_str().unwrap()).await, 30);

    // A backup made through IAD's endpoint lives in IAD.
    let (status, made) =
        post(&app, &token, &format!("{iad}/backups"), json!({ "backup": { "name": "in-iad", "instance": instance } })).await;
    assert_eq!(status, 202, "{made}");
    let made = made["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("{iad}/backups/{made}"), "backup", "COMPLETED").await;
    assert_eq!(ids(&get(&app, &token, &format!("{iad}/backups")).await.1), [made.as_str(), copy_id.as_str()]);
    assert_eq!(get(&app, &token, &format!("{dfw}/backups")).await.1["backups"], json!([]));
    assert!(holds(&app.data_dir.join("regions/IAD"), &made));
}

#[tokio::test]
async fn copies_made_by_copy_to_and_of_incrementals_follow_their_parents_into_each_region() {
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, _) = sqlite_instance(&app, &token, dir.path(), 12).await;
    let (dfw, iad, ord) = (endpoint(&app, "DFW").await, endpoint(&app, "IAD").await, endpoint(&app, "ORD").await);

    // copy_to on create: once the backup completes, each region gets a backup of its own.
    let body = json!({ "backup": { "name": "cp", "instance": instance, "description": "My Backup", "copy_to": ["IAD", "ORD"] } });
    let (status, created) = post(&app, &token, &format!("{dfw}/backups"), body).await;
    assert_eq!(status, 202, "{created}");
    let full = created["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("{dfw}/backups/{full}"), "backup", "COMPLETED").await;
    let iad_full = until_listed(&app, &token, &format!("{iad}/backups"), 1).await.remove(0);
    let ord_full = until_listed(&app, &token, &format!("{ord}/backups"), 1).await.remove(0);
    for copy in [&iad_full, &ord_full] {
        assert_eq!((copy["name"].as_str(), copy["description"].as_str()), (Some("cp"), Some("My Backup")), "{copy}");
        assert_ne!(copy["id"], full.as_str());
    }
    assert_ne!(iad_full["id"], ord_full["id"]);
    assert_eq!(ids(&get(&app, &token, &format!("{dfw}/backups")).await.1), [full.as_str()]);

    // An incremental goes where its parent is: its copy builds on the parent's copy there.
    let body = json!({ "backup": { "name": "inc", "instance": instance, "parent_id": full, "copy_to": ["IAD"] } });
    let (status, inc) = post(&app, &token, &format!("{dfw}/backups"), body).await;
    assert_eq!(status, 202, "{inc}");
    let inc = inc["backup"]["id"].as_str().unwrap().to_owned();
    until_status(&app, &token, &format!("{dfw}/backups/{inc}"), "backup", "COMPLETED").await;
    let iad_inc = until_listed(&app, &token, &format!("{iad}/backups"), 2).await.remove(0);
    assert_eq!((iad_inc["name"].as_str(), iad_inc["parent_id"].clone()), (Some("inc"), iad_full["id"].clone()), "{iad_inc}");

    // cdbclient's copy without a name keeps the original's name and description.
    let copy = json!({ "copy-backup": { "target_backup_region": "ORD", "name": null, "description": "" } });
    assert_eq!(post(&app, &token, &format!("{dfw}/backups/{inc}/action"), copy).await.0, 202);
    let ord_inc = until_listed(&app, &token, &format!("{ord}/backups"), 2).await.remove(0);
    assert_eq!((ord_inc["name"].as_str(), ord_inc["parent_id"].clone()), (Some("inc"), ord_full["id"].clone()), "{ord_inc}");

    // Refused at once: a region the parent is not in, the backup's own region, a long name; a
    // region not served here (LON) is not found.
    let (status, fault) =
        post(&app, &token, &format!("{dfw}/backups/{inc}/action"), json!({ "copy-backup": { "target_backup_region": "LON" } })).await;
    assert_eq!((status, fault["itemNotFound"]["message"].as_str()), (404, Some("region 'LON' not found")), "{fault}");
    let refusals = [
        (json!({ "copy-backup": { "target_backup_region": "HKG" } }), "not in HKG"),
        (json!({ "copy-backup": { "target_backup_region": "dfw" } }), "in DFW already"),
        (json!({ "copy-backup": { "target_backup_region": "SYD", "name": "n".repeat(65) } }), "64 characters"),
    ];
    for (copy, says) in refusals {
        let (status, fault) = post(&app, &token, &format!("{dfw}/backups/{inc}/action"), copy).await;
        assert_eq!(status, 400, "{fault}");
        assert!(fault["badRequest"]["message"].as_str().unwrap().contains(says), "{says}: {fault}");
    }
    let (status, fault) = get(&app, &token, "/v1.0/default/regions/LON/backups").await;
    assert_eq!((status, fault["itemNotFound"]["code"].as_i64()), (404, Some(404)), "a region not served: {fault}");

    // Deleting a region's copy takes that region's incrementals on it, and nothing elsewhere.
    let iad_full_id = iad_full["id"].as_str().unwrap();
    assert_eq!(delete(&app, &token, &format!("{iad}/backups/{iad_full_id}")).await, 202);
    until_gone(&app, &token, &format!("{iad}/backups/{}", iad_inc["id"].as_str().unwrap())).await;
    assert_eq!(get(&app, &token, &format!("{iad}/backups")).await.1["backups"], json!([]));
    assert_eq!(ids(&get(&app, &token, &format!("{dfw}/backups")).await.1), [inc.as_str(), full.as_str()]);
    assert_eq!(get(&app, &token, &format!("{ord}/backups")).await.1["backups"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn troveclient_and_cdbclient_choosing_iad_see_the_copy_there_and_restore_it() {
    let Some(python) = crate::keystoneauth::python() else { return };
    let app = spawn_app().await;
    let token = v2_token(&app, "admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (instance, db_path) = sqlite_instance(&app, &token, dir.path(), 9).await;
    let args = [app.base.clone(), "admin".into(), ADMIN_PASSWORD.into(), "default".into(), instance.clone(), db_path.display().to_string()];
    let r = run_client(python, "trove_regions.py", &args, dir.path()).await;
    assert_eq!(r["copy_status"], 202, "{r}");
    assert_eq!(r["iad"], json!(["snapshot", "My Backup", "COMPLETED", instance]), "{r}");
    assert_ne!(r["iad_id"], r["full_id"]);
    assert!(r["iad_location"].as_str().unwrap().starts_with(&format!("{}/v1.0/default/regions/IAD/backups/", app.base)), "{r}");
    assert_eq!(r["dfw_sees_copy"], json!(["NotFound", 404]));
    assert_eq!(r["dfw_list"], 1, "DFW lists the original only");
    assert_eq!(r["v3_iad_list"], 1);
    assert_eq!(r["restored_status"], "ACTIVE");
    let (_, source) = get(&app, &token, &format!("/admin/v1/sources/{}", r["restored_id"].as_str().unwrap())).await;
    assert_eq!(count_rows(source["nodes"][0]["location"].as_str().unwrap()).await, 9);
    if r.get("cdb_iad").is_some() {
        assert_eq!(r["cdb_iad"], json!([["snapshot", "COMPLETED"]]), "{r}");
    }
}
