//! Backup listings read a page of the history, not all of it, and an answer kept between two
//! requests never hides what was written in between, by this server or another one on the same
//! database.

use serde_json::{Value, json};

use crate::helpers::{backup_and_wait, get, machine, post, spawn_app, spawn_app_with, tree, wait_for};

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().unwrap_or_else(|| panic!("a list: {list}")).iter().map(|b| b["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_admin_list_comes_in_pages_newest_first_and_an_unknown_marker_is_not_found() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 3, 5);
    let id = machine(&app, &token, "files", src.path()).await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(backup_and_wait(&app, &token, json!({ "source_id": id })).await["backup_id"].as_str().unwrap().to_owned());
    }
    made.reverse();

    let (_, first) = get(&app, &token, &format!("/admin/v1/backups?source_id={id}&limit=2")).await;
    assert_eq!(ids(&first), [made[0].as_str(), made[1].as_str()]);
    let (_, rest) = get(&app, &token, &format!("/admin/v1/backups?source_id={id}&limit=2&marker={}", made[1])).await;
    assert_eq!(ids(&rest), [made[2].as_str()]);
    let (status, body) = get(&app, &token, &format!("/admin/v1/backups?limit=2&marker={}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_listing_asked_again_shows_at_once_what_either_server_of_one_database_wrote() {
    const KEY: &str = "a shared token signing key of replicas, 32+ chars";
    let first = spawn_app_with(|s| s.jwt_secret = Some(KEY.into())).await;
    let shared = first.database_url.clone();
    let second = spawn_app_with(move |s| {
        s.database_url = Some(shared);
        s.jwt_secret = Some(KEY.into());
    })
    .await;
    let token = first.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 3, 6);
    let id = machine(&first, &token, "files", src.path()).await;
    let list = format!("/admin/v1/backups?source_id={id}");

    let own = backup_and_wait(&first, &token, json!({ "source_id": id })).await["backup_id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(ids(&get(&first, &token, &list).await.1), [own.as_str()]);
    }
    // The other server backs up: the first one's next answer has it, in the state it ended in.
    let (status, started) = post(&second, &token, "/admin/v1/backups", json!({ "source_id": id })).await;
    assert_eq!(status, 202, "{started}");
    let other = started["backup"]["id"].as_str().unwrap().to_owned();
    let (_, running) = get(&first, &token, &list).await;
    assert_eq!(ids(&running), [other.as_str(), own.as_str()]);
    wait_for(&second, &token, started["operation"]["id"].as_str().unwrap()).await;
    let (_, done) = get(&first, &token, &list).await;
    assert_eq!(done[0]["state"], "succeeded", "{done}");

    // And a delete through the first server is gone from its own next answer.
    let resp = first.client.delete(first.url(&format!("/admin/v1/backups/{other}"))).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let op: Value = resp.json().await.unwrap();
    wait_for(&first, &token, op["id"].as_str().unwrap()).await;
    assert_eq!(ids(&get(&first, &token, &list).await.1), [own.as_str()]);
    assert_eq!(ids(&get(&second, &token, &list).await.1), [own.as_str()]);
}

#[tokio::test]
async fn what_a_sources_complete_backups_store_is_kept_as_they_complete_and_are_deleted() {
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 8, 7);
    let id = machine(&app, &token, "files", src.path()).await;
    let source = uuid::Uuid::parse_str(&id).unwrap();
    for seed in [8, 9] {
        tree::generate(src.path(), 8, seed);
        backup_and_wait(&app, &token, json!({ "source_id": id })).await;
    }
    let totals = async || {
        let (_, list) = get(&app, &token, &format!("/admin/v1/backups?source_id={id}")).await;
        let tenant = uuid::Uuid::parse_str(list[0]["tenant_id"].as_str().unwrap()).unwrap();
        let summed: i64 = list.as_array().unwrap().iter().map(|b| b["stored_bytes"].as_i64().unwrap()).sum();
        let kept = coffer::persistence::catalog::complete_backup_totals(&app.state.db, tenant, source).await.unwrap();
        (list, summed, kept)
    };
    let (list, summed, (newest, stored)) = totals().await;
    assert!(summed > 0 && stored == summed, "kept {stored}, the backups say {summed}");
    assert_eq!(
        newest.map(|t| t.to_rfc3339()),
        list[0]["completed_at"].as_str().map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_rfc3339())
    );

    let newest_id = list[0]["id"].as_str().unwrap().to_owned();
    let resp = app.client.delete(app.url(&format!("/admin/v1/backups/{newest_id}"))).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let op: Value = resp.json().await.unwrap();
    wait_for(&app, &token, op["id"].as_str().unwrap()).await;
    let (list, summed, (_, stored)) = totals().await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(stored, summed, "the deleted backup's bytes are taken off");
}
