//! Hostile input, generated from the committed OpenAPI documents: every operation is called by
//! an authorized user with broken ids in its path and broken bodies (deep, wrong types, unknown
//! fields); each answer is a 4xx with a JSON body, never a 5xx. Then the places that take paths and
//! names: traversal is refused and nothing is written outside, control characters never reach a
//! header.

use serde_json::{Value, json};

use crate::{
    helpers::{ADMIN_PASSWORD, TestApp, basic, spawn_app_with},
    matrix::{fixture, public},
};

/// Ids that are not ids.
const BAD_IDS: &[&str] = &["not-a-uuid", "..%2F..%2Fetc%2Fpasswd", "-1", "99999999999999999999999999", "%00", "%E2%80%AE"];

/// Raw bodies: nesting far deeper than any parser should follow, wrong types, unknown fields.
fn bad_bodies() -> Vec<String> {
    let deep = format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_object = format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let mut bodies = vec![deep, deep_object];
    for v in [
        json!([]),
        json!("text"),
        json!(123),
        Value::Null,
        json!({ "name": { "nested": [1, 2, 3] }, "id": [], "keyspaces": 7, "destinations": "x", "Action": 5, "unknown": true }),
        // NUL in every common text field: PostgreSQL refuses it in text, so it must be refused before.
        json!({ "name": "a\u{0}b", "description": "\u{0}", "path": "/tmp/\u{0}", "BackupConfigurationName": "\u{0}", "DestinationPath": "/tmp/\u{0}",
                "backup": { "name": "\u{0}", "description": "\u{0}", "instance": "\u{0}" }, "instance": { "name": "\u{0}" }, "clusterNameOverride": "\u{0}",
                "tag": "\u{0}", "FilePath": "/\u{0}", "username": "\u{0}", "password": "\u{0}" }),
    ] {
        bodies.push(v.to_string());
    }
    bodies
}

async fn answer(app: &TestApp, method: &str, path: &str, body: Option<&String>, owner: &str) -> (u16, String) {
    let mut req = app.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(path)).header("authorization", owner);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.clone());
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn broken_ids_and_bodies_on_every_route_get_a_clear_4xx_never_a_5xx() {
    let app = spawn_app_with(|s| {
        s.rate_limit.per_second = 100_000;
        s.rate_limit.burst = 100_000;
    })
    .await;
    app.tenant("ta").await;
    let resp = app
        .client
        .post(app.url("/admin/v1/users"))
        .header("authorization", basic("admin", ADMIN_PASSWORD))
        .json(&json!({ "name": "mx-owner", "password": "mx-owner-password", "role": "operator", "tenant": "ta" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let owner = basic("mx-owner", "mx-owner-password");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("files")).unwrap();
    let fx = fixture(&app, &owner, root.path()).await;

    let mut calls: Vec<(String, String, Option<String>)> = Vec::new();
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
    for entry in std::fs::read_dir(&docs).unwrap() {
        let file = entry.unwrap().path();
        let doc_name = file.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for (template, operations) in doc["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys().map(|m| m.to_uppercase()) {
                if public(&method, template) || template.starts_with("/agent/v1/stores") {
                    continue;
                }
                let params: Vec<&str> = template.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(p, _)| p).collect();
                let good = |path: &str| {
                    params.iter().fold(path.to_owned(), |p, param| {
                        p.replace(
                            &format!("{{{param}}}"),
                            &fx.value(&doc_name, param, template).expect("the matrix fixture fills every parameter"),
                        )
                    })
                };
                for (i, param) in params.iter().enumerate() {
                    for bad in BAD_IDS {
                        let mut path = template.replace(&format!("{{{param}}}"), bad);
                        for other in params.iter().skip(i + 1).chain(params.iter().take(i)) {
                            path = path.replace(&format!("{{{other}}}"), &fx.value(&doc_name, other, template).unwrap());
                        }
                        calls.push((method.clone(), path, (method != "GET").then(|| "{}".to_owned())));
                    }
                }
                if method != "GET" {
                    for body in bad_bodies() {
                        calls.push((method.clone(), good(template), Some(body)));
                    }
                }
            }
        }
    }
    // Deletions last, so the rest meet the objects they name.
    calls.sort_by_key(|(method, _, _)| method == "DELETE");
    let mut failures = Vec::new();
    for (method, path, body) in &calls {
        let (status, text) = answer(&app, method, path, body.as_ref(), &owner).await;
        let clear = status < 500 && (status < 400 || serde_json::from_str::<Value>(&text).is_ok());
        if !clear {
            let shown = body.as_ref().map(|b| b.chars().take(60).collect::<String>()).unwrap_or_default();
            failures.push(format!("{method} {path} {shown}: {status} {}", text.chars().take(200).collect::<String>()));
        }
    }
    assert!(calls.len() > 500, "{} calls", calls.len());
    assert!(failures.is_empty(), "{} of {} hostile calls were not a clear 4xx:\n{}", failures.len(), calls.len(), failures.join("\n"));
}

#[tokio::test]
async fn traversal_is_refused_and_names_cannot_inject_header_lines() {
    let app = spawn_app_with(|_| {}).await;
    let operator = app.user_with_role("ops", "operator", None).await;
    let post = |path: &'static str, body: Value| {
        let (app, operator) = (&app, operator.clone());
        async move {
            let resp = app.client.post(app.url(path)).header("x-auth-token", operator).json(&body).send().await.unwrap();
            let injected = resp.headers().keys().any(|k| k.as_str().starts_with("x-injected"));
            (resp.status().as_u16(), injected, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let outside = std::path::Path::new("/etc/coffer-hostile-test");
    for root in ["/etc", "/tmp/../etc", "relative/dir"] {
        let (status, _, body) = post("/admin/v1/machines", json!({ "name": format!("m-{}", root.len()), "root": root })).await;
        assert!(matches!(status, 400 | 403), "a machine rooted at {root}: {status} {body}");
    }
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), b"data").unwrap();
    let (status, _, machine) = post("/admin/v1/machines", json!({ "name": "ok", "root": src.path() })).await;
    assert_eq!(status, 201, "{machine}");
    let op = crate::helpers::backup_and_wait(&app, &operator, json!({ "source_id": machine["id"] })).await;
    let backup = op["backup_id"].as_str().unwrap().to_owned();
    for target in ["/etc/coffer-hostile-test", "/tmp/../etc/coffer-hostile-test"] {
        let resp = app
            .client
            .post(app.url(&format!("/admin/v1/backups/{backup}/restore")))
            .header("x-auth-token", &operator)
            .json(&json!({ "target": { "type": "path", "path": target } }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "a restore into {target}");
    }
    assert!(!outside.exists(), "nothing was written outside the allowed places");

    for name in ["evil\r\nX-Injected: 1", "tab\there", "bell\u{7}"] {
        let (status, injected, body) =
            post("/admin/v1/clusters", json!({ "name": name, "nodes": [{ "name": "n", "location": src.path() }] })).await;
        assert_eq!((status, injected), (400, false), "{name:?}: {body}");
        assert!(body.to_string().contains("control characters"), "{body}");
    }
}

#[tokio::test]
async fn a_method_a_route_does_not_serve_gets_405_naming_the_ones_it_does() {
    let app = spawn_app_with(|_| {}).await;
    let operator = app.user_with_role("ops", "operator", None).await;
    for (method, path, allowed) in [("TRACE", "/v2.0", "GET"), ("PATCH", "/admin/v1/sources", "GET"), ("PUT", "/v2.0/tokens", "POST")] {
        let resp = app
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(path))
            .header("x-auth-token", &operator)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allowed, "{method} {path}");
    }
}
