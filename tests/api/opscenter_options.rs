//! Every documented OpsCenter option is honoured or refused by name, and the document describes
//! every body: restore options (`use_sstableloader` with its `truncate` rule, `force_schema`,
//! `restart_pause`), archiving's `backup_storage_dir` and `drain_first`, `sync` to several
//! destinations, and the 6.1 edition's answer to adding a destination.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app, tree},
    opscenter::{answer, cluster, delete, get, login, post, table, until_done},
};

/// A backup of every keyspace of `Test_Cluster`; answers its tag.
async fn backed_up(app: &TestApp, session: &str) -> String {
    let (status, request) = post(app, session, "/Test_Cluster/backups/run", json!({})).await;
    assert_eq!(status, 200, "{request}");
    let done = until_done(app, session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    done["tag"].as_str().unwrap().to_owned()
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn use_sstableloader_false_replaces_the_files_only_with_truncate_and_is_refused_without_it() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path()).await;
    let tag = backed_up(&app, &session).await;
    let users: Vec<_> = dirs.iter().map(|d| tree::fingerprint(&table(d, "Keyspace1", "users"))).collect();

    for (path, body) in [
        (format!("/Test_Cluster/backups/restore/{tag}/Keyspace1"), json!({ "use_sstableloader": false })),
        (format!("/Test_Cluster/backups/restore/{tag}/Keyspace1/users"), json!({ "use_sstableloader": "false", "truncate": "false" })),
        (format!("/Test_Cluster/backups/restore/{tag}"), json!({ "keyspaces": { "Keyspace1": { "use_sstableloader": false } } })),
        (format!("/Test_Cluster/backups/restore/{tag}"), json!({ "use_sstableloader": false, "keyspaces": { "OpsCenter": {} } })),
        (format!("/Test_Cluster/backups/restore/{tag}"), json!({ "use_sstableloader": false })),
    ] {
        let (status, refused) = post(&app, &session, &path, body.clone()).await;
        assert_eq!((status, refused["type"].as_str()), (400, Some("InvalidArguments")), "{body}: {refused}");
        assert!(message(&refused).contains("use_sstableloader") && message(&refused).contains("truncate"), "{refused}");
    }

    // Replaced: a file written since the backup goes, the backup's come back.
    for d in &dirs {
        std::fs::write(table(d, "Keyspace1", "users").join("nb-99-big-Data.db"), b"written after the backup").unwrap();
    }
    let resp = app
        .client
        .post(app.url(&format!("/Test_Cluster/backups/restore/{tag}/Keyspace1/users")))
        .header("opscenter-session", &session)
        .form(&[("use_sstableloader", "false"), ("truncate", "true")])
        .send()
        .await
        .unwrap();
    let (status, request) = answer(resp).await;
    assert_eq!(status, 200, "a form body with the words scripts send: {request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    for (i, d) in dirs.iter().enumerate() {
        assert_eq!(tree::fingerprint(&table(d, "Keyspace1", "users")), users[i], "node {i}: the backup's files replaced the live ones");
    }

    // The default (true) loads the backup's files beside the live ones.
    std::fs::write(table(&dirs[0], "Keyspace1", "users").join("nb-99-big-Data.db"), b"written after the backup").unwrap();
    let (status, request) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}/Keyspace1/users"), json!({ "use_sstableloader": true })).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert!(table(&dirs[0], "Keyspace1", "users").join("nb-99-big-Data.db").exists(), "loading keeps the live files");
}

#[tokio::test]
async fn a_table_made_again_since_the_backup_is_restored_only_with_force_schema() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = cluster(&app, &session, root.path()).await;
    let tag = backed_up(&app, &session).await;
    let backed = table(&dirs[0], "Keyspace1", "users");
    let before = tree::fingerprint(&backed);

    // users was dropped and made again on every node: its live directory has another id.
    let remade: Vec<_> = dirs.iter().map(|d| d.join("Keyspace1/users-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")).collect();
    for (d, live) in dirs.iter().zip(&remade) {
        std::fs::remove_dir_all(table(d, "Keyspace1", "users")).unwrap();
        std::fs::create_dir_all(live).unwrap();
        std::fs::write(live.join("nb-1-big-Data.db"), b"the new table's rows").unwrap();
    }
    let (status, request) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}/Keyspace1/users"), json!({ "truncate": true })).await;
    assert_eq!(status, 200, "{request}");
    let failed = until_done(&app, &session, &request).await;
    assert_eq!(failed["state"], "error", "{failed}");
    let errors = failed["details"]["subrequests"]["127.0.0.1"]["details"]["metadata"]["errors"].to_string();
    assert!(errors.contains("force_schema") && errors.contains("users-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "{failed}");
    assert!(!backed.exists(), "nothing was written");
    for live in &remade {
        assert_eq!(std::fs::read(live.join("nb-1-big-Data.db")).unwrap(), b"the new table's rows");
    }

    let (status, request) = post(
        &app,
        &session,
        &format!("/Test_Cluster/backups/restore/{tag}/Keyspace1/users"),
        json!({ "truncate": true, "force_schema": true }),
    )
    .await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(tree::fingerprint(&backed), before, "the backup's directory is written beside the new table's");
    assert_eq!(std::fs::read(remade[0].join("nb-1-big-Data.db")).unwrap(), b"the new table's rows");
}

#[tokio::test]
async fn restart_pause_other_than_its_default_is_refused_by_name_since_no_node_restarts() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;
    let tag = backed_up(&app, &session).await;

    for (path, body) in [
        (format!("/Test_Cluster/backups/restore/{tag}"), json!({ "restart_pause": 5 })),
        (format!("/Test_Cluster/backups/restore/{tag}/OpsCenter"), json!({ "restart_pause": "0" })),
        ("/Test_Cluster/backups/pit/run".to_owned(), json!({ "pit": 1450144260, "restart_pause": 10 })),
    ] {
        let (status, refused) = post(&app, &session, &path, body.clone()).await;
        assert_eq!((status, refused["type"].as_str()), (400, Some("InvalidArguments")), "{body}: {refused}");
        assert!(message(&refused).contains("restart_pause"), "{refused}");
    }
    let (status, request) =
        post(&app, &session, &format!("/Test_Cluster/backups/restore/{tag}/OpsCenter"), json!({ "restart_pause": 60 })).await;
    assert_eq!(status, 200, "the default is accepted: {request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
}

#[tokio::test]
async fn archiving_stores_and_shows_backup_storage_dir_and_drain_first_on_and_off() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;

    let body = json!({
        "destinations": { "OPSC_ON_SERVER": { "compressed": false } },
        "backup_storage_dir": "/var/backup/storage",
        "sleep": 0,
        "drain_first": true,
    });
    let (status, request) = post(&app, &session, "/Test_Cluster/backups/pit", body).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    let (_, settings) = get(&app, &session, "/Test_Cluster/backups/pit").await;
    assert_eq!(
        settings,
        json!({ "enabled": true, "destinations": { "OPSC_ON_SERVER": { "compressed": false } }, "backup_storage_dir": "/var/backup/storage", "drain_first": true, "sleep": 0.0 })
    );

    let (status, refused) = post(
        &app,
        &session,
        "/Test_Cluster/backups/pit",
        json!({ "destinations": { "OPSC_ON_SERVER": {} }, "backup_storage_dir": "../storage" }),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(message(&refused).contains("backup_storage_dir"), "{refused}");

    let resp = app
        .client
        .delete(app.url("/Test_Cluster/backups/pit"))
        .header("opscenter-session", &session)
        .body(r#"{"sleep": 0, "drain_first": "false"}"#)
        .send()
        .await
        .unwrap();
    let (status, request) = answer(resp).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(until_done(&app, &session, &request).await["state"], "success");
    let (_, settings) = get(&app, &session, "/Test_Cluster/backups/pit").await;
    assert_eq!((settings["enabled"].as_bool(), settings["drain_first"].as_bool()), (Some(false), Some(false)), "{settings}");
    let (status, request) = delete(&app, &session, "/Test_Cluster/backups/pit").await;
    assert_eq!(status, 200, "no body at all is no options: {request}");
}

#[tokio::test]
async fn a_sync_to_several_destinations_answers_every_request_id() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;
    let mut ids = Vec::new();
    for name in ["east", "west"] {
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let (status, added) = post(&app, &session, "/Test_Cluster/backups/destinations", json!({ "provider": "local", "path": dir })).await;
        assert_eq!(status, 200, "{added}");
        ids.push(added["destination"][0].as_object().unwrap().keys().next().unwrap().clone());
    }
    let tag = backed_up(&app, &session).await;

    let body = json!({ "tag": tag, "destinations": { ids[0].clone(): {}, ids[1].clone(): {} } });
    let (status, requests) = post(&app, &session, "/Test_Cluster/backups/sync", body).await;
    assert_eq!(status, 200, "{requests}");
    let requests = requests.as_array().unwrap_or_else(|| panic!("one request id per destination: {requests}")).clone();
    assert_eq!(requests.len(), 2);
    let mut copied_to = Vec::new();
    for request in &requests {
        let done = until_done(&app, &session, request).await;
        assert_eq!(done["state"], "success", "{done}");
        copied_to.push(done["destinations"][0].as_str().unwrap().to_owned());
    }
    copied_to.sort();
    ids.sort();
    assert_eq!(copied_to, ids, "one copy to each destination");
    for id in &ids {
        let (_, held) = get(&app, &session, &format!("/Test_Cluster/backups?destination={id}")).await;
        assert!(held.get(&tag).is_some(), "{id} holds the backup: {held}");
    }
}

#[tokio::test]
async fn adding_a_destination_answers_in_the_edition_the_request_asks_for() {
    let app = spawn_app().await;
    let session = login(&app).await;
    let root = tempfile::tempdir().unwrap();
    cluster(&app, &session, root.path()).await;
    let dir = root.path().join("offsite");
    std::fs::create_dir_all(&dir).unwrap();

    let (status, newer) = post(&app, &session, "/Test_Cluster/backups/destinations", json!({ "provider": "local", "path": dir })).await;
    assert_eq!(status, 200, "{newer}");
    let id = newer["destination"][0].as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(newer["destination"][0][&id]["path"], dir.to_str().unwrap());

    let (status, older) =
        post(&app, &session, "/Test_Cluster/backups/destinations?edition=6.1", json!({ "provider": "local", "path": dir })).await;
    assert_eq!(status, 200, "{older}");
    let keys: Vec<&String> = older.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "the destination under its id and the request id: {older}");
    let other = keys.iter().find(|k| k.as_str() != "request_id").unwrap().to_string();
    assert_eq!((older[&other]["provider"].as_str(), older[&other]["id"].as_str()), (Some("local"), Some(other.as_str())));
    assert_eq!(until_done(&app, &session, &older["request_id"]).await["state"], "success");

    let (status, updated) = post(
        &app,
        &session,
        "/Test_Cluster/backups/destinations?edition=6.1",
        json!({ "id": other, "provider": "local", "path": dir, "throttle_bytes_per_second": "1000", "delete_this": false }),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated[&other]["throttle_bytes_per_second"], "1000", "{updated}");
    let (status, refused) =
        post(&app, &session, "/Test_Cluster/backups/destinations?edition=5.2", json!({ "provider": "local", "path": dir })).await;
    assert_eq!(status, 400, "an edition the API does not know: {refused}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// A schema that says nothing: no `$ref`, no `type`, no alternatives.
fn says_nothing(schema: &Value) -> bool {
    ["$ref", "type", "anyOf", "oneOf", "allOf"].iter().all(|k| schema.get(k).is_none())
}

#[test]
fn the_opscenter_document_describes_every_request_and_success_body_with_a_model() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/opscenter.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut undescribed = Vec::new();
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let requests = op["requestBody"]["content"].as_object().into_iter().flatten().map(|(_, c)| ("request", c));
            let answers = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(code, _)| code.starts_with('2'))
                .flat_map(|(_, r)| r["content"].as_object().into_iter().flatten().map(|(_, c)| ("answer", c)));
            for (what, content) in requests.chain(answers) {
                bodies += 1;
                let schema = &content["schema"];
                let named = schema["$ref"].as_str().or(schema["items"]["$ref"].as_str());
                let known = named.is_some_and(|r| schemas.contains_key(r.trim_start_matches("#/components/schemas/")));
                if says_nothing(schema) || !known {
                    undescribed.push(format!("{} {path} {what}: {schema}", method.to_uppercase()));
                }
            }
        }
    }
    assert!(bodies > 40, "{bodies}");
    assert_eq!(undescribed, Vec::<String>::new(), "bodies without a model");
    let unprefixed: Vec<&String> = schemas.keys().filter(|name| !name.starts_with("OpsCenter")).collect();
    assert_eq!(unprefixed, Vec::<&String>::new(), "every OpsCenter model is named OpsCenter...");
    for name in ["OpsCenterRestore", "OpsCenterKeyspaceRestore"] {
        let props = &schemas[name]["properties"];
        for option in ["truncate", "use_sstableloader"] {
            assert!(props.get(option).is_some(), "{name} documents {option}");
        }
    }
    for option in ["force_schema", "restart_pause", "keyspace_remappings", "excluded-nodes", "column-families", "keyspaces"] {
        assert!(schemas["OpsCenterRestore"]["properties"].get(option).is_some(), "the restore documents {option}");
    }
    for option in ["backup_storage_dir", "backup_staging_dir", "backup_directory", "drain_first", "sleep", "destinations"] {
        assert!(schemas["OpsCenterPitEnable"]["properties"].get(option).is_some(), "archiving documents {option}");
    }
}
