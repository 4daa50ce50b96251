//! The per-user rate limit and the body limit.

use std::time::Instant;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, basic, spawn_app};

/// Sends GETs as fast as it can until the first 429; answers (successes before it, the 429, elapsed).
async fn until_limited(app: &TestApp, path: &str, token: &str) -> (u32, reqwest::Response, std::time::Duration) {
    let started = Instant::now();
    for passed in 0..300 {
        let resp = app.client.get(app.url(path)).header("x-auth-token", token).send().await.unwrap();
        if resp.status() == 429 {
            return (passed, resp, started.elapsed());
        }
    }
    panic!("no 429 after 300 requests to {path}");
}

#[tokio::test]
async fn the_36th_request_within_a_second_gets_429_while_another_user_is_unaffected() {
    let app = spawn_app().await;
    let bob = app.user_with_role("bob", "operator", None).await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;

    let (passed, limited, elapsed) = until_limited(&app, "/admin/v1/whoami", &bob).await;
    // 35 at once, then one more every 1/35 s: whatever refilled while the loop ran.
    let refilled = (elapsed.as_secs_f64() * 35.0).floor() as u32;
    assert!(passed >= 35, "only {passed} requests passed before the first 429");
    assert!(passed <= 35 + refilled + 1, "{passed} passed in {elapsed:?}; the limit is 35 per second");
    assert!(elapsed.as_secs_f64() < 1.0, "the burst took {elapsed:?}");

    assert_eq!(limited.headers()["x-ratelimit-limit"], "35");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], 429);

    let other = app.whoami(("x-auth-token", &admin)).await;
    assert_eq!(other.status(), 200, "another user is not limited by bob's requests");
}

#[tokio::test]
async fn a_429_comes_in_the_dialect_shape_of_its_path() {
    let app = spawn_app().await;
    let carol = app.user_with_role("carol", "operator", None).await;
    let (_, limited, _) = until_limited(&app, "/v1.0/default/flavors", &carol).await;
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["overLimit"]["code"], 429, "{body}");
    assert!(body["overLimit"]["retryAfter"].is_string());

    let dave = app.user_with_role("dave", "operator", None).await;
    let (_, limited, _) = until_limited(&app, "/Test_Cluster/backups", &dave).await;
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["type"], "TooManyRequests", "{body}");
    assert_eq!(body["brief"], "error");

    let erin = app.user_with_role("erin", "operator", None).await;
    let (_, limited, _) = until_limited(&app, "/provisioning/v1", &erin).await;
    let body: Value = limited.json().await.unwrap();
    assert_eq!((body["status"].as_u64(), body["code"].as_u64()), (Some(429), Some(429)), "{body}");
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let app = spawn_app().await;
    for resp in [
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        app.client.get(app.url("/admin/v1/whoami")).send().await.unwrap(),
        app.whoami(("authorization", &basic("admin", ADMIN_PASSWORD))).await,
    ] {
        assert_eq!(resp.headers()["x-ratelimit-limit"], "35");
        let remaining: u32 = resp.headers()["x-ratelimit-remaining"].to_str().unwrap().parse().unwrap();
        assert!(remaining < 35);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_in_the_dialects_shape() {
    let app = spawn_app().await;
    let big = "x".repeat(2 << 20);

    let resp = app.client.post(app.url("/login")).json(&json!({ "username": "admin", "password": big })).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "RequestEntityTooLarge");
    assert_eq!(body["brief"], "error");

    let resp = app.client.post(app.url("/v2.0/tokens")).json(&json!({ "auth": { "padding": big } })).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["overLimit"]["code"], 413);

    // Without Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..20).map(|_| Ok(vec![b' '; 128 << 10])).collect();
    let resp = app
        .client
        .post(app.url("/v3/auth/tokens"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], 413);
}
