//! The web console: its assets and the overview it reads, and the whole console end to end in
//! headless Chromium against `coffer serve --demo` (tests/e2e/console.mjs, playwright-core driving
//! Debian's chromium; scripts/test.sh installs both).

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, Killed, basic, free_port, get, machine, post, spawn_app, spawn_app_with, tree, wait_for};

#[tokio::test]
async fn the_console_page_is_served_without_a_login_and_only_runs_its_own_scripts() {
    let app = spawn_app().await;
    for (path, kind) in [("/ui/", "text/html"), ("/ui/console.js", "text/javascript"), ("/ui/console.css", "text/css")] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        let policy = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
        let body = resp.text().await.unwrap();
        if path == "/ui/" {
            assert!(body.contains("<script src=\"/ui/console.js\"") && !body.contains("<script>"), "no inline script");
        }
    }
    // The data behind it needs a login; the page's own requests get no Basic challenge (which
    // would make the browser open a password box of its own).
    let plain = app.client.get(app.url("/admin/v1/overview")).send().await.unwrap();
    assert_eq!(plain.status(), 401);
    assert!(plain.headers().contains_key("www-authenticate"));
    let scripted = app.client.get(app.url("/admin/v1/overview")).header("x-requested-with", "coffer-console").send().await.unwrap();
    assert_eq!(scripted.status(), 401);
    assert!(!scripted.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn the_overview_marks_a_source_whose_plan_came_due_without_a_complete_backup() {
    // The scheduler does not tick during the test, so the plan's due times pass unserved.
    let app = spawn_app_with(|s| s.scheduler_tick_ms = 3_600_000).await;
    let token = app.user_with_role("ops", "operator", None).await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 5, 31);
    let id = machine(&app, &token, "files", src.path()).await;
    let idle = machine(&app, &token, "unplanned", src.path()).await;
    // Due 30 and 15 minutes ago (and every quarter hour on); created now, so it promises nothing
    // before its creation: the overview counts from then.
    let body = json!({ "source_id": id, "name": "quarterly", "schedule": { "type": "interval", "first_run": Utc::now() - chrono::Duration::minutes(30), "every_secs": 900 } });
    let (status, _) = post(&app, &token, "/admin/v1/plans", body).await;
    assert_eq!(status, 201);
    let entry = |list: &Value, id: &str| list.as_array().unwrap().iter().find(|o| o["source"]["id"] == id).cloned().unwrap();
    let (_, overview) = get(&app, &token, "/admin/v1/overview").await;
    let planned = entry(&overview, &id);
    assert!(planned["overdue"].is_null(), "a plan promises nothing from before it was made: {planned}");
    assert!(planned["next_run_at"].is_string() && planned["last_backup"].is_null(), "{planned}");
    assert!(entry(&overview, &idle)["next_run_at"].is_null());

    // Had the plan been made an hour ago, its runs 30 and 15 minutes ago would have no backup.
    let db = &app.state.db;
    use coffer::persistence::ConnectionTrait;
    let backend = db.get_database_backend();
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    let sql = if backend == sea_orm::DbBackend::Postgres { "UPDATE plans SET created_at = $1" } else { "UPDATE plans SET created_at = ?" };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [long_ago.into()])).await.unwrap();
    let overdue_at = |body: &Value| entry(body, &id)["overdue"].as_str().map(str::to_owned);
    let (_, overview) = get(&app, &token, "/admin/v1/overview").await;
    let why = overdue_at(&overview).expect("overdue after a due time passed without a backup");
    assert!(why.contains("quarterly"), "{why}");

    let (_, started) = post(&app, &token, "/admin/v1/backups", json!({ "source_id": id })).await;
    assert_eq!(wait_for(&app, &token, started["operation"]["id"].as_str().unwrap()).await["state"], "succeeded");
    let (_, overview) = get(&app, &token, "/admin/v1/overview").await;
    assert_eq!(overdue_at(&overview), None, "a complete backup after the due time keeps the promise");
    let planned = entry(&overview, &id);
    assert_eq!(planned["last_backup"]["state"], "succeeded");
    assert!(planned["last_complete_at"].is_string());
}

#[tokio::test]
async fn in_chromium_an_operator_backs_up_and_restores_a_table_and_a_reader_sees_no_actions() {
    if std::env::var("COFFER_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        eprintln!("console end to end: runs in the SQLite pass (the demo server keeps its own SQLite file)");
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let playwright = root.join(".tools/node_modules/playwright-core");
    let chromium = std::env::var("COFFER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !playwright.exists() || !std::path::Path::new(&chromium).exists() {
        crate::helpers::skipping(&format!(
            "the console end to end needs .tools/node_modules/playwright-core and {chromium} (scripts/test.sh installs them)"
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["--data-dir", dir.path().to_str().unwrap(), "serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .env("COFFER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("COFFER_PUBLIC_URL", &base)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("coffer serve --demo starts"),
    );
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the demo server did not start");
    let reader = json!({ "name": "viewer", "password": "viewer-password", "role": "reader", "tenant": "demo" });
    let resp = client
        .post(format!("{base}/admin/v1/users"))
        .header("authorization", basic("admin", ADMIN_PASSWORD))
        .json(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let shots = root.join("target/e2e-screenshots");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(root)
            .args(["tests/e2e/console.mjs", &base, "viewer", "viewer-password", shots.to_str().unwrap()])
            .env("COFFER_TEST_CHROMIUM", chromium)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the console end to end failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("every step passed"), "{stdout}");
}
