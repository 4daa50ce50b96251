//! The engine over real data: trees, incrementals, verification, corruption, deletion.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, backup_and_wait, get, machine, post, restore_and_wait, spawn_app, tree, wait_for};

fn store_bytes(app: &TestApp) -> u64 {
    fn walk(p: &std::path::Path) -> u64 {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| if e.path().is_dir() { walk(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&app.data_dir.join("store"))
}

#[tokio::test]
async fn a_tree_of_thousands_of_files_restores_elsewhere_bit_exact_with_modes_and_mtimes() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 2500, 1);
    let id = machine(&app, &token, "files", src.path()).await;

    let op = backup_and_wait(&app, &token, json!({ "source_id": id, "name": "first" })).await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let backup_id = op["backup_id"].as_str().unwrap();
    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{backup_id}")).await;
    assert_eq!(backup["state"], "succeeded");
    assert_eq!(backup["file_count"], 2500);
    assert!(backup["completed_at"].is_string());

    let out = tempfile::tempdir().unwrap();
    let restored = restore_and_wait(&app, &token, backup_id, json!({ "target": { "type": "path", "path": out.path() } })).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(tree::fingerprint(src.path()), tree::fingerprint(out.path()));
}

#[tokio::test]
async fn a_second_backup_after_a_five_percent_change_stores_a_small_fraction_and_restores_whole() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 1000, 2);
    let id = machine(&app, &token, "files", src.path()).await;
    let first = backup_and_wait(&app, &token, json!({ "source_id": id })).await;
    let first_id = first["backup_id"].as_str().unwrap().to_owned();
    let after_first = store_bytes(&app);

    assert!(tree::mutate(src.path(), 5) >= 50);
    let second = backup_and_wait(&app, &token, json!({ "source_id": id, "incremental": true })).await;
    assert_eq!(second["state"], "succeeded", "{second}");
    let second_id = second["backup_id"].as_str().unwrap();
    let (_, b1) = get(&app, &token, &format!("/admin/v1/backups/{first_id}")).await;
    let (_, b2) = get(&app, &token, &format!("/admin/v1/backups/{second_id}")).await;
    assert_eq!(b2["parent_id"], first_id.as_str());
    let (s1, s2) = (b1["stored_bytes"].as_i64().unwrap(), b2["stored_bytes"].as_i64().unwrap());
    assert!(s2 * 5 < s1, "the incremental stored {s2} bytes against {s1} for the full one");
    let grown = store_bytes(&app) - after_first;
    assert!(grown * 5 < after_first, "the store grew by {grown} bytes after {after_first}");

    let out = tempfile::tempdir().unwrap();
    let restored = restore_and_wait(&app, &token, second_id, json!({ "target": { "type": "path", "path": out.path() } })).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(tree::fingerprint(src.path()), tree::fingerprint(out.path()));
}

#[tokio::test]
async fn a_corrupted_chunk_is_named_by_verify_and_a_restore_refuses_it_clearly() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 50, 3);
    let id = machine(&app, &token, "files", src.path()).await;
    let op = backup_and_wait(&app, &token, json!({ "source_id": id })).await;
    let backup_id = op["backup_id"].as_str().unwrap();

    let (status, ok) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/verify"), json!({})).await;
    assert_eq!(status, 202);
    let ok = wait_for(&app, &token, ok["id"].as_str().unwrap()).await;
    assert_eq!(ok["state"], "succeeded", "{ok}");
    assert!(ok["result"]["chunks"].as_u64().unwrap() > 0);

    let store = app.data_dir.join("store");
    let pack = walk_files(&store)
        .into_iter()
        .find(|p| p.strip_prefix(&store).unwrap().components().nth(1).is_some_and(|c| c.as_os_str() == "data"))
        .unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&pack, bytes).unwrap();

    let (_, bad) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/verify"), json!({})).await;
    let bad = wait_for(&app, &token, bad["id"].as_str().unwrap()).await;
    assert_eq!(bad["state"], "failed");
    let error = bad["error"].as_str().unwrap();
    assert!(error.contains(backup_id) && error.contains("damaged"), "{error}");

    let out = tempfile::tempdir().unwrap();
    let restored = restore_and_wait(&app, &token, backup_id, json!({ "target": { "type": "path", "path": out.path() } })).await;
    assert_eq!(restored["state"], "failed");
    assert!(restored["error"].as_str().unwrap().contains("damaged"), "{restored}");

    // Restoring over the live files fails too, and leaves every one of them as it was.
    let before = tree::fingerprint(src.path());
    let in_place = restore_and_wait(&app, &token, backup_id, json!({ "target": { "type": "same_nodes" } })).await;
    assert_eq!(in_place["state"], "failed", "{in_place}");
    assert_eq!(tree::fingerprint(src.path()), before, "a failed restore must not touch the files it would replace");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk_files(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

#[tokio::test]
async fn deleting_a_parent_deletes_its_incremental_and_keeps_chunks_a_third_backup_uses() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 200, 4);
    let id = machine(&app, &token, "files", src.path()).await;
    let parent = backup_and_wait(&app, &token, json!({ "source_id": id })).await["backup_id"].as_str().unwrap().to_owned();
    tree::mutate(src.path(), 10);
    let child =
        backup_and_wait(&app, &token, json!({ "source_id": id, "incremental": true })).await["backup_id"].as_str().unwrap().to_owned();
    let third = backup_and_wait(&app, &token, json!({ "source_id": id })).await["backup_id"].as_str().unwrap().to_owned();

    let resp = app.client.delete(app.url(&format!("/admin/v1/backups/{parent}"))).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let op: Value = resp.json().await.unwrap();
    let done = wait_for(&app, &token, op["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    for gone in [&parent, &child] {
        let (status, body) = get(&app, &token, &format!("/admin/v1/backups/{gone}")).await;
        assert_eq!(status, 404, "{body}");
    }
    let (_, list) = get(&app, &token, "/admin/v1/backups").await;
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [third.as_str()]);

    let out = tempfile::tempdir().unwrap();
    let restored = restore_and_wait(&app, &token, &third, json!({ "target": { "type": "path", "path": out.path() } })).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(tree::fingerprint(src.path()), tree::fingerprint(out.path()));
    let (_, verified) = post(&app, &token, &format!("/admin/v1/backups/{third}/verify"), json!({})).await;
    assert_eq!(wait_for(&app, &token, verified["id"].as_str().unwrap()).await["state"], "succeeded");
}

#[tokio::test]
async fn another_tenants_backups_and_operations_are_not_found() {
    let app = spawn_app().await;
    app.tenant("other").await;
    let mine = app.user_with_role("ops", "operator", None).await;
    let theirs = app.user_with_role("them", "operator", Some("other")).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 5, 5);
    let id = machine(&app, &mine, "files", src.path()).await;
    let op = backup_and_wait(&app, &mine, json!({ "source_id": id })).await;
    let backup_id = op["backup_id"].as_str().unwrap();
    for path in [
        format!("/admin/v1/backups/{backup_id}"),
        format!("/admin/v1/operations/{}", op["id"].as_str().unwrap()),
        format!("/admin/v1/sources/{id}"),
    ] {
        let (status, body) = get(&app, &theirs, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], 404);
    }
    let (status, _) = post(&app, &theirs, "/admin/v1/backups", json!({ "source_id": id })).await;
    assert_eq!(status, 404);
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(get(&app, &admin, &format!("/admin/v1/backups/{backup_id}")).await.0, 200);
}

#[tokio::test]
async fn bad_backup_requests_get_clear_errors() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 3, 6);
    let id = machine(&app, &token, "files", src.path()).await;
    let (status, body) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id, "incremental": true })).await;
    assert_eq!(status, 409, "well formed, but the source has nothing to base it on yet: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no completed backup"));
    let (status, _) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": uuid::Uuid::new_v4() })).await;
    assert_eq!(status, 404);
    let (status, body) = post(&app, &token, "/admin/v1/backups", json!({ "source": "nope" })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&app, &token, "/admin/v1/machines", json!({ "name": "files", "root": "/tmp" })).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn admin_bodies_with_unknown_fields_are_refused_with_a_400_naming_them() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 3, 6);
    let id = machine(&app, &token, "files", src.path()).await;
    let refused = |body: &Value, field: &str| {
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(body["error"]["code"], 400, "{body}");
        assert!(message.contains(&format!("'{field}'")), "the message names {field}: {body}");
    };

    // The throttle belongs under "options": at the top level it would be dropped, so it is refused.
    let (status, body) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id, "throttle_bytes_per_sec": 20000 })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "throttle_bytes_per_sec");
    let (status, body) =
        post(&app, &token, "/admin/v1/backups", json!({ "source_id": id, "options": { "throttle": 1 }, "colour": "red" })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "options.throttle");
    refused(&body, "colour");
    let (_, ops) = get(&app, &token, "/admin/v1/operations").await;
    assert_eq!(ops.as_array().map(Vec::len), Some(0), "nothing was started: {ops}");

    let op = backup_and_wait(&app, &token, json!({ "source_id": id, "options": { "throttle_bytes_per_sec": 100000000 } })).await;
    let backup = op["backup_id"].as_str().unwrap();
    let restore = json!({ "target": { "type": "path", "path": "/tmp/x", "overwrite_all": true } });
    let (status, body) = post(&app, &token, &format!("/admin/v1/backups/{backup}/restore"), restore).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "target.overwrite_all");
    let restore = json!({ "target": { "type": "path", "path": "/tmp/x" }, "truncate": true });
    let (status, body) = post(&app, &token, &format!("/admin/v1/backups/{backup}/restore"), restore).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "truncate");

    let schedule = json!({ "type": "calendar", "frequency": "daily", "hour": 3, "minutes": 30 });
    let (status, body) = post(&app, &token, "/admin/v1/plans", json!({ "source_id": id, "schedule": schedule })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "schedule.minutes");
    let dir = tempfile::tempdir().unwrap();
    let destination = json!({ "kind": "localfs", "path": dir.path(), "throttle_bytes_per_sec": 1000 });
    let (status, body) = post(&app, &token, "/admin/v1/destinations", destination).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "throttle_bytes_per_sec");
    let (status, body) = post(&app, &token, "/admin/v1/clusters", json!({ "name": "c", "nodes": [], "seeds": [] })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "seeds");

    let (status, body) = post(&app, &token, "/admin/v1/keys", json!({ "name": "k", "readonly": true })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "readonly");

    // Every level is read strictly: a list's items, a map's values, a sub-object of a sub-object.
    let node = json!({ "name": "n1", "location": src.path(), "data_center": "dc1" });
    let (status, body) = post(&app, &token, "/admin/v1/clusters", json!({ "name": "c", "nodes": [node] })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "nodes[0].data_center");
    let target = json!({ "type": "same_nodes", "truncate": true, "truncate_only": { "keyspaces": ["k"], "table": ["k.t"] } });
    let (status, body) = post(&app, &token, &format!("/admin/v1/backups/{backup}/restore"), json!({ "target": target })).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "target.truncate_only.table");
    let plan =
        json!({ "source_id": id, "schedule": { "type": "interval", "first_run": "2026-12-03T10:00:00Z" }, "retention": { "keep": 3 } });
    let (status, body) = post(&app, &token, "/admin/v1/plans", plan).await;
    assert_eq!(status, 400, "{body}");
    refused(&body, "retention.keep");

    // Wrong types and missing fields are named by their path too.
    let (status, body) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id, "options": { "force": "yes" } })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'options.force' must be true or false, not \"yes\""), "{body}");
    let (status, body) = post(&app, &token, &format!("/admin/v1/backups/{backup}/restore"), json!({ "target": { "type": "path" } })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'target.path' is required"), "{body}");
    let (status, body) =
        post(&app, &token, &format!("/admin/v1/backups/{backup}/restore"), json!({ "target": { "type": "elsewhere" } })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'target.type' must be one of"), "{body}");
    let (_, ops) = get(&app, &token, "/admin/v1/operations?kind=restore").await;
    assert_eq!(ops.as_array().map(Vec::len), Some(0), "no restore was started: {ops}");
}

#[tokio::test]
async fn a_throttled_backup_moves_at_its_rate_and_a_cancelled_one_is_never_restorable() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    let data = crate::helpers::noise(6_000_000, 88172645463325252);
    std::fs::write(src.path().join("big.bin"), data).unwrap();
    let id = machine(&app, &token, "files", src.path()).await;
    let (status, started) =
        post(&app, &token, "/admin/v1/backups", json!({ "source_id": id, "options": { "throttle_bytes_per_sec": 1_000_000 } })).await;
    assert_eq!(status, 202, "{started}");
    let op_id = started["operation"]["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, running) = get(&app, &token, &format!("/admin/v1/operations/{op_id}")).await;
    assert_eq!(running["state"], "running", "{running}");
    let done = running["tasks"][0]["progress"]["bytes_done"].as_i64().unwrap();
    assert!(done > 0 && done <= 4_000_000, "at 1 MB/s about 2 MB should be done, not {done}");
    assert!(running["progress"].as_f64().unwrap() < 0.7);

    let (status, _) = post(&app, &token, &format!("/admin/v1/operations/{op_id}/cancel"), json!({})).await;
    assert_eq!(status, 202);
    let ended = wait_for(&app, &token, op_id).await;
    assert_eq!(ended["state"], "cancelled", "{ended}");
    let backup_id = started["backup"]["id"].as_str().unwrap();
    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{backup_id}")).await;
    assert_eq!(backup["state"], "cancelled");
    let (status, refused) =
        post(&app, &token, &format!("/admin/v1/backups/{backup_id}/restore"), json!({ "target": { "type": "path", "path": "/tmp/x" } }))
            .await;
    assert_eq!(status, 422, "{refused}");
    let (_, events) = get(&app, &token, "/admin/v1/events").await;
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "backup.cancelled"), "{events}");
}

#[tokio::test]
async fn a_restore_elsewhere_lets_the_source_be_backed_up_but_a_restore_onto_it_does_not() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("big.bin"), (0..2_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let id = machine(&app, &token, "busy", src.path()).await;
    let first = backup_and_wait(&app, &token, json!({ "source_id": id })).await;
    let restore = format!("/admin/v1/backups/{}/restore", first["backup_id"].as_str().unwrap());
    let slow = json!({ "throttle_bytes_per_sec": 400_000 });

    let out = tempfile::tempdir().unwrap();
    let (status, elsewhere) =
        post(&app, &token, &restore, json!({ "target": { "type": "path", "path": out.path() }, "options": slow })).await;
    assert_eq!(status, 202, "{elsewhere}");
    let (status, backup) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id })).await;
    assert_eq!(status, 202, "a restore into another directory leaves the source alone: {backup}");
    assert_eq!(wait_for(&app, &token, backup["operation"]["id"].as_str().unwrap()).await["state"], "succeeded");
    wait_for(&app, &token, elsewhere["id"].as_str().unwrap()).await;

    // A restore to a folder inside the machine's own root writes into its data: backups wait.
    let inside = src.path().join("restored");
    let (status, into_root) = post(&app, &token, &restore, json!({ "target": { "type": "path", "path": inside }, "options": slow })).await;
    assert_eq!(status, 202, "{into_root}");
    let (status, refused) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id })).await;
    assert_eq!(status, 422, "{refused}");
    wait_for(&app, &token, into_root["id"].as_str().unwrap()).await;
    std::fs::remove_dir_all(&inside).unwrap();

    let (status, in_place) = post(&app, &token, &restore, json!({ "target": { "type": "same_nodes" }, "options": slow })).await;
    assert_eq!(status, 202, "{in_place}");
    let (status, refused) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id })).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("a restore into machine 'busy' is in progress"), "{refused}");
    assert_eq!(wait_for(&app, &token, in_place["id"].as_str().unwrap()).await["state"], "succeeded");
}

/// Makes the database refuse a restored source (a new cluster or instance) written before the
/// restore operation that creates it: the operation row comes first.
async fn refuse_restored_sources_before_their_operation(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let sql = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        vec![
            "CREATE FUNCTION operation_first() RETURNS trigger AS $$ BEGIN \
               IF (NEW.config->>'restored_from') IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM operations WHERE kind = 'restore' AND result->>'source_id' = NEW.id::text) THEN \
                 RAISE EXCEPTION 'a restored source was written before its operation'; \
               END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER operation_first BEFORE INSERT ON sources FOR EACH ROW EXECUTE FUNCTION operation_first()",
        ]
    } else {
        vec![
            "CREATE TRIGGER operation_first BEFORE INSERT ON sources \
             WHEN json_extract(NEW.config, '$.restored_from') IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM operations WHERE kind = 'restore' AND ( \
               json_extract(result, '$.source_id') = NEW.id \
               OR (typeof(NEW.id) = 'blob' AND replace(json_extract(result, '$.source_id'), '-', '') = lower(hex(NEW.id))))) \
             BEGIN SELECT RAISE(ABORT, 'a restored source was written before its operation'); END",
        ]
    };
    for statement in sql {
        db.execute_unprepared(statement).await.unwrap();
    }
}

#[tokio::test]
async fn a_restore_records_its_operation_before_the_cluster_or_instance_it_creates() {
    let app = spawn_app().await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    refuse_restored_sources_before_their_operation(&app).await;
    let root = tempfile::tempdir().unwrap();

    let data = root.path().join("node1/data");
    tree::generate(&data.join("Keyspace1/users-0123456789abcdef0123456789abcdef"), 3, 1);
    let nodes = json!([{ "name": "10.9.0.1", "location": data }]);
    let (status, cluster) = post(&app, &admin, "/admin/v1/clusters", json!({ "name": "Ordered", "nodes": nodes })).await;
    assert_eq!(status, 201, "{cluster}");
    let backup = backup_and_wait(&app, &admin, json!({ "source_id": cluster["id"] })).await;
    let target = json!({ "target": { "type": "new_cluster", "name": "OrderedCopy", "locations": [root.path().join("copy/data")] } });
    let restored = restore_and_wait(&app, &admin, backup["backup_id"].as_str().unwrap(), target).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    let (status, copy) = get(&app, &admin, &format!("/admin/v1/sources/{}", restored["result"]["source_id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!((copy["name"].clone(), copy["config"]["restore_operation"].clone()), (json!("OrderedCopy"), restored["id"].clone()));

    let path = root.path().join("shop.sqlite");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts).await.unwrap();
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)").execute(&mut conn).await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('kept')").execute(&mut conn).await.unwrap();
    drop(conn);
    let body = json!({ "name": "shop", "datastore": "sqlite", "location": path });
    let (status, instance) = post(&app, &admin, "/admin/v1/instances", body).await;
    assert_eq!(status, 201, "{instance}");
    let backup = backup_and_wait(&app, &admin, json!({ "source_id": instance["id"] })).await;
    let target = json!({ "target": { "type": "new_instance", "name": "shop-copy" } });
    let restored = restore_and_wait(&app, &admin, backup["backup_id"].as_str().unwrap(), target.clone()).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    let (status, copy) = get(&app, &admin, &format!("/admin/v1/sources/{}", restored["result"]["source_id"].as_str().unwrap())).await;
    assert_eq!(
        (status, copy["name"].clone(), copy["config"]["restored_from"].clone()),
        (200, json!("shop-copy"), backup["backup_id"].clone())
    );

    // A restore refused before it starts (the name is taken) leaves neither an operation nor a source.
    let (status, refused) =
        post(&app, &admin, &format!("/admin/v1/backups/{}/restore", backup["backup_id"].as_str().unwrap()), target).await;
    assert_eq!(status, 409, "{refused}");
    let (_, operations) = get(&app, &admin, "/admin/v1/operations?kind=restore").await;
    assert_eq!(operations.as_array().map(Vec::len), Some(2), "{operations}");
}

/// Makes every write of a restored source fail, and holds restore tasks back from agents (a
/// claim of one fails), so that a restore's operation is recorded and its new source is not.
async fn fail_restored_sources_and_hold_restore_tasks(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let sql = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        vec![
            "CREATE FUNCTION no_restored_source() RETURNS trigger AS $$ BEGIN \
               IF (NEW.config->>'restored_from') IS NOT NULL THEN RAISE EXCEPTION 'the disk is full'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER no_restored_source BEFORE INSERT ON sources FOR EACH ROW EXECUTE FUNCTION no_restored_source()",
            "CREATE FUNCTION hold_restores() RETURNS trigger AS $$ BEGIN \
               IF NEW.state = 'running' AND (SELECT kind FROM operations WHERE id = NEW.operation_id) = 'restore' THEN \
                 RAISE EXCEPTION 'restore tasks are held'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER hold_restores BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION hold_restores()",
        ]
    } else {
        vec![
            "CREATE TRIGGER no_restored_source BEFORE INSERT ON sources \
             WHEN json_extract(NEW.config, '$.restored_from') IS NOT NULL \
             BEGIN SELECT RAISE(ABORT, 'the disk is full'); END",
            "CREATE TRIGGER hold_restores BEFORE UPDATE ON tasks \
             WHEN NEW.state = 'running' AND (SELECT kind FROM operations WHERE id = NEW.operation_id) = 'restore' \
             BEGIN SELECT RAISE(ABORT, 'restore tasks are held'); END",
        ]
    };
    for statement in sql {
        db.execute_unprepared(statement).await.unwrap();
    }
}

#[tokio::test]
async fn a_restore_whose_new_instance_cannot_be_written_ends_failed_with_the_reason() {
    let app = spawn_app().await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("till.sqlite");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts).await.unwrap();
    sqlx::query("CREATE TABLE sales (id INTEGER PRIMARY KEY)").execute(&mut conn).await.unwrap();
    drop(conn);
    let (status, instance) =
        post(&app, &admin, "/admin/v1/instances", json!({ "name": "till", "datastore": "sqlite", "location": path })).await;
    assert_eq!(status, 201, "{instance}");
    let backup = backup_and_wait(&app, &admin, json!({ "source_id": instance["id"] })).await;
    assert_eq!(backup["state"], "succeeded", "{backup}");

    fail_restored_sources_and_hold_restore_tasks(&app).await;
    let restore = format!("/admin/v1/backups/{}/restore", backup["backup_id"].as_str().unwrap());
    let (status, answer) = post(&app, &admin, &restore, json!({ "target": { "type": "new_instance", "name": "till-copy" } })).await;
    assert_eq!(status, 500, "{answer}");
    let (_, operations) = get(&app, &admin, "/admin/v1/operations?kind=restore").await;
    let [op] = operations.as_array().unwrap().as_slice() else { panic!("one restore operation: {operations}") };
    assert_eq!(op["state"], "failed", "the operation recorded first ends: {op}");
    let error = op["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("till-copy: the new source could not be recorded"), "{op}");
    let (_, sources) = get(&app, &admin, "/admin/v1/sources").await;
    assert!(sources.as_array().unwrap().iter().all(|s| s["name"] != "till-copy"), "{sources}");
}

/// A schema a generated client can name: a reference to a component, or a list or map of them.
fn is_named(schema: &Value) -> bool {
    schema.get("$ref").is_some()
        || schema.get("items").is_some_and(is_named)
        || schema.get("additionalProperties").is_some_and(|v| v.is_object() && is_named(v))
}

#[test]
fn every_admin_and_agent_body_in_the_committed_documents_is_a_named_schema() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
    for name in ["admin", "agent"] {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(docs.join(format!("{name}.json"))).unwrap()).unwrap();
        let mut bodies = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or(path);
                let requests = op["requestBody"]["content"].as_object().into_iter().flatten().map(|(_, c)| ("request", c));
                let answers = op["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(code, _)| code.starts_with('2'))
                    .flat_map(|(_, r)| r["content"].as_object().into_iter().flatten().map(|(_, c)| ("answer", c)));
                for (what, content) in requests.chain(answers) {
                    bodies += 1;
                    assert!(
                        is_named(&content["schema"]),
                        "{name}: the {what} of {method} {path} ({id}) is not a named schema: {}",
                        content["schema"]
                    );
                }
            }
        }
        assert!(bodies > 5, "{name}.json describes its bodies ({bodies} found)");
        // KeystoneError is the error shape the admin API shares with identity v3.
        for (schema, s) in doc["components"]["schemas"].as_object().unwrap().iter().filter(|(n, _)| *n != "KeystoneError") {
            let prefix = if name == "admin" { "Admin" } else { "Agent" };
            assert!(schema.starts_with(prefix), "{name}.json: the schema {schema} is named with the {prefix} prefix");
            assert!(s.get("description").is_some() || s.get("enum").is_some(), "{name}.json: {schema} says what it is");
        }
    }
}

#[test]
fn every_nullable_field_of_the_admin_document_is_marked_nullable() {
    // `GET /admin/v1/keys` answered `"revoked_at": null` where the document said string.
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(docs.join("admin.json")).unwrap()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("AdminKey", "revoked_at"),
        ("AdminOperation", "error"),
        ("AdminOperation", "finished_at"),
        ("AdminBackup", "completed_at"),
        ("AdminOverviewRow", "last_backup"),
        ("AdminPointInTimeWindow", "latest"),
        ("AdminPlan", "next_run_at"),
        ("AdminDestination", "tenant_id"),
        ("AdminAgent", "last_seen_at"),
        ("AdminEvent", "operation_id"),
    ] {
        assert_eq!(schemas[schema]["properties"][field]["nullable"], true, "{schema}.{field} may be null");
    }
    // The server refuses unknown fields in requests, and the document says so, variants included.
    for schema in ["AdminNewBackup", "AdminSelection", "AdminRestoreRequest", "AdminRestoreTarget_AdminPathTarget", "AdminNewKey"] {
        assert_eq!(schemas[schema]["additionalProperties"], false, "{schema} is closed");
    }
    assert_eq!(schemas["AdminRestoreTarget_AdminPathTarget"]["required"], json!(["type", "path"]));
    assert!(schemas["AdminBackup"].get("additionalProperties").is_none(), "answers are not closed");
}
