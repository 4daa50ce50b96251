//! Plans: the scheduler, Missed and Skipped runs, retention with garbage collection, and exactly
//! one firing per run when two servers share the database.

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, get, machine, post, spawn_app_with, tree};

async fn operations(app: &TestApp, token: &str) -> Vec<Value> {
    get(app, token, "/admin/v1/operations?limit=1000").await.1.as_array().unwrap().clone()
}

async fn plan_backups(app: &TestApp, token: &str, state: &str) -> Vec<Value> {
    let (_, list) = get(app, token, "/admin/v1/backups").await;
    list.as_array().unwrap().iter().filter(|b| b["plan_id"].is_string() && b["state"] == state).cloned().collect()
}

#[tokio::test]
async fn a_two_second_plan_keeping_two_leaves_two_backups_and_no_chunk_of_the_deleted_ones() {
    let app = spawn_app_with(|s| s.scheduler_tick_ms = 200).await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 30, 21);
    let id = machine(&app, &token, "files", src.path()).await;
    let body = json!({ "source_id": id, "name": "every2s", "schedule": { "type": "interval", "first_run": Utc::now(), "every_secs": 2 }, "retention": { "keep_last": 2 } });
    let (status, plan) = post(&app, &token, "/admin/v1/plans", body).await;
    assert_eq!(status, 201, "{plan}");

    // New data between runs, so every backup has chunks of its own.
    let mut completed = 0;
    for round in 0..200 {
        if round % 5 == 0 {
            let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2654435761).wrapping_add(round * 7)) as u8).collect();
            std::fs::write(src.path().join(format!("new-{round}.bin")), data).unwrap();
        }
        completed = operations(&app, &token).await.iter().filter(|o| o["kind"] == "backup" && o["state"] == "succeeded").count();
        if completed >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(completed >= 4, "only {completed} scheduled backups completed");
    let (status, _) = app
        .client
        .put(app.url(&format!("/admin/v1/plans/{}", plan["id"].as_str().unwrap())))
        .header("x-auth-token", &token)
        .json(&json!({ "source_id": id, "schedule": plan["schedule"], "retention": { "keep_last": 2 }, "enabled": false }))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, 200);
    // Let running backups and deletions end.
    for _ in 0..100 {
        let busy = operations(&app, &token).await.iter().any(|o| matches!(o["state"].as_str(), Some("queued" | "running")));
        if !busy && plan_backups(&app, &token, "succeeded").await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = plan_backups(&app, &token, "succeeded").await;
    assert_eq!(kept.len(), 2, "{kept:?}");

    let (_, me) = get(&app, &token, "/admin/v1/whoami").await;
    let tenant = uuid::Uuid::parse_str(me["tenant_id"].as_str().unwrap()).unwrap();
    let store = app.state.engine.stores().store(app.state.engine.server_destination(), tenant).await.unwrap();
    let mut referenced = HashSet::new();
    for b in &kept {
        let backup_id = b["id"].as_str().unwrap();
        for node in store.snapshot_nodes(backup_id).await.unwrap() {
            referenced.extend(store.manifest(backup_id, &node).await.unwrap().chunk_ids());
        }
    }
    let held = store.chunk_ids().await.unwrap();
    assert_eq!(held, referenced, "the store holds exactly the chunks of the two kept backups");
}

#[tokio::test]
async fn a_run_that_finds_the_previous_backup_going_is_skipped_and_runs_missed_while_down_are_recorded() {
    let app = spawn_app_with(|s| s.scheduler_tick_ms = 200).await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect();
    std::fs::write(src.path().join("big.bin"), data).unwrap();
    let id = machine(&app, &token, "files", src.path()).await;

    // Due 185 s ago every 60 s: three runs were missed, the fourth starts now and is slow.
    let first = Utc::now() - chrono::Duration::seconds(185);
    let body = json!({ "source_id": id, "schedule": { "type": "interval", "first_run": first, "every_secs": 60 }, "options": { "throttle_bytes_per_sec": 500_000 } });
    let (status, _) = post(&app, &token, "/admin/v1/plans", body).await;
    assert_eq!(status, 201);
    let mut missed = 0;
    for _ in 0..50 {
        missed = operations(&app, &token).await.iter().filter(|o| o["state"] == "missed").count();
        if missed >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(missed, 3);

    // A second plan every second on the same source while the slow backup runs.
    let body = json!({ "source_id": id, "schedule": { "type": "interval", "first_run": Utc::now(), "every_secs": 1 } });
    post(&app, &token, "/admin/v1/plans", body).await;
    let mut skipped = Vec::new();
    for _ in 0..60 {
        skipped = operations(&app, &token).await.into_iter().filter(|o| o["state"] == "skipped").collect();
        if !skipped.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!skipped.is_empty(), "no run was skipped");
    assert!(skipped[0]["error"].as_str().unwrap().contains("already in progress"));
    let (_, events) = get(&app, &token, "/admin/v1/events").await;
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "plan.skipped"));
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "plan.missed"));
}

#[tokio::test]
async fn two_servers_on_one_database_start_each_scheduled_run_once() {
    // Replicas share the database and the token key.
    const KEY: &str = "a shared token signing key of replicas, 32+ chars";
    let first = spawn_app_with(|s| {
        s.scheduler_tick_ms = 100;
        s.jwt_secret = Some(KEY.into());
    })
    .await;
    let shared = first.database_url.clone();
    let second = spawn_app_with(move |s| {
        s.scheduler_tick_ms = 100;
        s.database_url = Some(shared);
        s.jwt_secret = Some(KEY.into());
    })
    .await;
    let token = first.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 5, 22);
    let id = machine(&first, &token, "files", src.path()).await;
    let body = json!({ "source_id": id, "name": "p", "schedule": { "type": "interval", "first_run": Utc::now() + chrono::Duration::seconds(1), "every_secs": 1 } });
    let (_, plan) = post(&first, &token, "/admin/v1/plans", body.clone()).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let mut disabled = body.clone();
    disabled["enabled"] = json!(false);
    let resp = second
        .client
        .put(second.url(&format!("/admin/v1/plans/{}", plan["id"].as_str().unwrap())))
        .header("x-auth-token", &token)
        .json(&disabled)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let runs: Vec<Value> = operations(&first, &token).await.into_iter().filter(|o| o["kind"] == "backup").collect();
    assert!(runs.len() >= 3, "{runs:?}");
    let (_, list) = get(&first, &token, "/admin/v1/backups").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "a run was started twice: {names:?}");
    let skipped_or_started = runs.len();
    let due: HashSet<String> = runs.iter().filter_map(|o| o["params"]["due_at"].as_str().map(str::to_owned)).collect();
    assert_eq!(due.len(), runs.iter().filter(|o| o["params"]["due_at"].is_string()).count(), "a due time was recorded twice");
    assert!(skipped_or_started >= names.len());
}

#[tokio::test]
async fn prune_applies_a_destinations_retention_to_every_backup_kept_there() {
    let app = crate::helpers::spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let dir = tempfile::tempdir().unwrap();
    let (status, dest) =
        post(&app, &token, "/admin/v1/destinations", json!({ "kind": "localfs", "path": dir.path(), "retention": { "keep_last": 1 } }))
            .await;
    assert_eq!(status, 201, "{dest}");
    assert_eq!(dest["config"]["retention"]["keep_last"], 1);
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 10, 23);
    let id = machine(&app, &token, "files", src.path()).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let op = crate::helpers::backup_and_wait(&app, &token, json!({ "source_id": id, "destination_id": dest["id"] })).await;
        assert_eq!(op["state"], "succeeded", "{op}");
        ids.push(op["backup_id"].as_str().unwrap().to_owned());
    }
    let (status, pruned) = post(&app, &token, "/admin/v1/prune", json!({})).await;
    assert_eq!(status, 200, "{pruned}");
    assert_eq!(pruned["deleting"], 1);
    for _ in 0..100 {
        if get(&app, &token, &format!("/admin/v1/backups/{}", ids[0])).await.0 == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&app, &token, &format!("/admin/v1/backups/{}", ids[0])).await.0, 404, "the older backup is gone");
    assert_eq!(get(&app, &token, &format!("/admin/v1/backups/{}", ids[1])).await.0, 200, "the newest is kept");
}
