//! What each role may do.

use serde_json::{Value, json};

use crate::helpers::{basic, spawn_app};

#[tokio::test]
async fn a_reader_gets_403_on_writes_in_every_dialect_and_can_still_read() {
    let app = spawn_app().await;
    let reader = app.user_with_role("rita", "reader", None).await;
    assert_eq!(app.whoami(("x-auth-token", &reader)).await.status(), 200);

    let resp =
        app.client.post(app.url("/admin/v1/keys")).header("x-auth-token", &reader).json(&json!({ "name": "k" })).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], 403);

    let resp = app
        .client
        .post(app.url("/v1.0/default/backups"))
        .header("x-auth-token", &reader)
        .json(&json!({ "backup": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["forbidden"]["code"], 403);

    let resp = app.client.post(app.url("/Test_Cluster/backups/run")).header("opscenter-session", &reader).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["type"], "Forbidden");

    let resp = app.client.post(app.url("/provisioning/v1/abc/backups")).header("x-auth-token", &reader).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], 403);
}

#[tokio::test]
async fn a_read_only_key_cannot_write_even_for_an_operator() {
    let app = spawn_app().await;
    let session = app.user_with_role("oscar", "operator", None).await;
    let (key, _) = app.api_key(&session, true).await;
    let auth = basic("oscar", &key);
    let me: Value = app.whoami(("authorization", &auth)).await.json().await.unwrap();
    assert_eq!(me["read_only"], true);
    let resp =
        app.client.post(app.url("/admin/v1/keys")).header("authorization", &auth).json(&json!({ "name": "k" })).send().await.unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn an_operator_cannot_manage_users_or_tenants() {
    let app = spawn_app().await;
    let operator = app.user_with_role("olga", "operator", None).await;
    for (method, path) in
        [("GET", "/admin/v1/users"), ("POST", "/admin/v1/users"), ("GET", "/admin/v1/tenants"), ("POST", "/admin/v1/tenants")]
    {
        let req = app.client.request(method.parse().unwrap(), app.url(path)).header("x-auth-token", &operator);
        let req = if method == "POST" { req.json(&json!({ "name": "x", "password": "whatever1", "role": "admin" })) } else { req };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        assert!(resp.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("admin"));
    }
    // Every user may manage its own keys and password.
    let resp =
        app.client.post(app.url("/admin/v1/keys")).header("x-auth-token", &operator).json(&json!({ "name": "mine" })).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let resp = app
        .client
        .put(app.url("/admin/v1/users/olga/password"))
        .header("x-auth-token", &operator)
        .json(&json!({ "password": "a-new-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(app.whoami(("authorization", &basic("olga", "a-new-password"))).await.status(), 200);
    assert_eq!(app.whoami(("authorization", &basic("olga", "olga-password"))).await.status(), 401);
}

#[tokio::test]
async fn a_removed_users_sessions_stop_working() {
    let app = spawn_app().await;
    let session = app.user_with_role("gone", "operator", None).await;
    assert_eq!(app.whoami(("x-auth-token", &session)).await.status(), 200);
    let resp = app
        .client
        .delete(app.url("/admin/v1/users/gone"))
        .header("authorization", basic("admin", crate::helpers::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(app.whoami(("x-auth-token", &session)).await.status(), 401);
}

#[tokio::test]
async fn only_admins_place_data_outside_the_local_roots_on_the_server_itself() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", None).await;
    for (path, body) in [
        ("/admin/v1/machines", json!({ "name": "etc", "root": "/etc" })),
        ("/admin/v1/clusters", json!({ "name": "c", "nodes": [{ "name": "n1", "location": "/var/lib" }] })),
        ("/admin/v1/instances", json!({ "name": "i", "datastore": "sqlite", "location": "/root/secret.sqlite" })),
        ("/admin/v1/machines", json!({ "name": "sneaky", "root": format!("{}/../etc", std::env::temp_dir().display()) })),
    ] {
        let (status, answer) = crate::helpers::post(&app, &operator, path, body).await;
        assert_eq!(status, 403, "{path}: {answer}");
    }
    let resp = app
        .client
        .post(app.url("/cluster-configs"))
        .header("opscenter-session", &operator)
        .json(&json!({ "cluster_name": "Mine", "nodes": [{ "name": "n1", "agent": "local", "location": "/etc" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "the OpsCenter registration is held to the same rule");

    // Inside the roots an operator may; an admin may anywhere; restores are held to it too.
    let inside = tempfile::tempdir().unwrap();
    crate::helpers::tree::generate(inside.path(), 3, 1);
    let (status, machine) =
        crate::helpers::post(&app, &operator, "/admin/v1/machines", json!({ "name": "ok", "root": inside.path() })).await;
    assert_eq!(status, 201, "{machine}");
    let op = crate::helpers::backup_and_wait(&app, &operator, json!({ "source_id": machine["id"] })).await;
    let backup = op["backup_id"].as_str().unwrap();
    let (status, refused) = crate::helpers::post(
        &app,
        &operator,
        &format!("/admin/v1/backups/{backup}/restore"),
        json!({ "target": { "type": "path", "path": "/etc/coffer-test" } }),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let (status, _) = crate::helpers::post(&app, &admin, "/admin/v1/machines", json!({ "name": "admins", "root": "/etc" })).await;
    assert_eq!(status, 201);
}
