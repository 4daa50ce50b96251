//! Health, readiness, metrics, request ids, the OpenAPI documents and the docs page.

use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, basic, spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_and_readyz_answer_without_credentials() {
    let app = spawn_app().await;
    let health: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], true);
}

#[tokio::test]
async fn metrics_count_requests_by_dialect_route_and_status_and_count_429s_and_auth_failures() {
    let app = spawn_app().await;
    let auth = basic("admin", ADMIN_PASSWORD);
    for _ in 0..3 {
        app.whoami(("authorization", &auth)).await;
    }
    app.client.get(app.url("/v1.0/1234/backups/0c1b5616-2d67-4a3f-9a6c-2f1b3a4c5d6e")).send().await.unwrap();
    app.client.get(app.url("/Test_Cluster/backups")).header("opscenter-session", "bogus").send().await.unwrap();
    let bob = app.user_with_role("bob", "operator", None).await;
    while app.whoami(("x-auth-token", &bob)).await.status() != 429 {}

    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let value = |needle: &str| -> u64 {
        text.lines().find(|l| l.starts_with(needle)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    assert!(value(r#"coffer_http_requests_total{dialect="admin",method="GET",route="/admin/v1/whoami",status="200"}"#) >= 3 + 35, "{text}");
    assert_eq!(
        value(r#"coffer_http_requests_total{dialect="clouddatabases",method="GET",route="/v1.0/{tenant}/backups/{id}",status="401"}"#),
        1,
        "{text}"
    );
    assert_eq!(
        value(r#"coffer_http_requests_total{dialect="opscenter",method="GET",route="/{cluster_id}/backups",status="401"}"#),
        1,
        "{text}"
    );
    assert!(value(r#"coffer_rate_limited_total{dialect="admin"}"#) >= 1, "{text}");
    assert!(value(r#"coffer_auth_failures_total{dialect="opscenter"}"#) >= 1, "{text}");
    assert!(value(r#"coffer_auth_failures_total{dialect="clouddatabases"}"#) >= 1, "{text}");
    assert!(value(r#"coffer_http_request_duration_seconds_count{dialect="admin"}"#) >= 38, "{text}");
    assert!(text.contains(r#"coffer_http_request_duration_seconds_bucket{dialect="admin",le="+Inf"}"#));
}

#[tokio::test]
async fn metrics_ask_for_the_configured_bearer_token_and_otherwise_answer_only_this_host() {
    let app = spawn_app_with(|s| s.metrics_token = Some("scrape-secret".into())).await;
    let scrape = |auth: Option<&'static str>| {
        let req = app.client.get(app.url("/metrics"));
        let req = match auth {
            Some(auth) => req.header("authorization", auth),
            None => req,
        };
        async move { req.send().await.unwrap() }
    };
    for refused in [None, Some("Bearer wrong"), Some("Basic c2NyYXBlLXNlY3JldA==")] {
        let resp = scrape(refused).await;
        assert_eq!(resp.status(), 401, "{refused:?}");
        assert!(resp.text().await.unwrap().contains("metrics_token"));
    }
    for accepted in ["Bearer scrape-secret", "bearer  scrape-secret"] {
        let resp = scrape(Some(accepted)).await;
        assert_eq!(resp.status(), 200, "{accepted}");
        assert!(resp.text().await.unwrap().contains("coffer_http_requests_total"));
    }

    // No token: a client behind a trusted proxy is not this host.
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let remote = app.client.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(remote.status(), 403);
    assert!(remote.text().await.unwrap().contains("metrics_token"));
    let local = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(local.status(), 200);
    // Forwarded by an untrusted proxy on this host (or claiming to be): not this host's own client.
    let app = spawn_app().await;
    for (header, value) in [("x-forwarded-for", "127.0.0.1"), ("forwarded", "for=127.0.0.1")] {
        let proxied = app.client.get(app.url("/metrics")).header(header, value).send().await.unwrap();
        assert_eq!(proxied.status(), 403, "{header}");
    }
}

#[tokio::test]
async fn request_ids_are_echoed_when_sent_and_generated_otherwise() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).header("x-request-id", "my-trace-123").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "my-trace-123");
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    let generated = resp.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 32);
    assert_eq!(resp.headers()["x-compute-request-id"].to_str().unwrap(), generated);
}

#[tokio::test]
async fn the_committed_openapi_documents_match_the_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
    let mut base = coffer::config::Settings::default();
    base.follow_listen_address(base.listen);
    for (name, spec) in coffer::api::specs(base.base_url()) {
        let path = dir.join(format!("{name}.json"));
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing; run `cargo run -- openapi --out openapi`", path.display()));
        assert_eq!(committed.trim_end(), spec.trim_end(), "{} is stale; run `cargo run -- openapi --out openapi`", path.display());
    }
}

#[tokio::test]
async fn the_merged_document_and_the_docs_page_offer_every_dialect() {
    let app = spawn_app().await;
    let merged: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = merged["paths"].as_object().unwrap();
    for path in ["/v2.0/tokens", "/v3/auth/tokens", "/login", "/logout", "/admin/v1/whoami"] {
        assert!(paths.contains_key(path), "{path} missing from the merged document");
    }
    let schemes = merged["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.len() >= 4, "{schemes:?}");

    let page = app.client.get(app.url("/docs")).send().await.unwrap().text().await.unwrap();
    for name in ["admin", "agent", "cloudbackup", "clouddatabases", "identity", "instaclustr", "opscenter"] {
        assert!(page.contains(&format!("/openapi/{name}.json")), "the docs selector lacks {name}");
        let doc = app.client.get(app.url(&format!("/openapi/{name}.json"))).send().await.unwrap();
        assert_eq!(doc.status(), 200);
        assert!(doc.json::<Value>().await.unwrap()["paths"].is_object());
    }
    assert!(page.contains("SwaggerUIBundle"));
}
