//! The API documentation page (`/docs`, Swagger UI) in headless Chromium: each dialect's document
//! renders with its operations and its models (tests/e2e/docs.mjs, playwright-core driving Debian's
//! chromium; scripts/test.sh installs both).

use std::process::Command;

use crate::helpers::spawn_app;

#[tokio::test]
async fn in_chromium_the_docs_page_shows_every_operation_and_schema_of_each_dialect() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let playwright = root.join(".tools/node_modules/playwright-core");
    let chromium = std::env::var("COFFER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !playwright.exists() || !std::path::Path::new(&chromium).exists() {
        crate::helpers::skipping(&format!(
            "the docs end to end needs .tools/node_modules/playwright-core and {chromium} (scripts/test.sh installs them)"
        ));
        return;
    }
    let app = spawn_app().await;
    let base = app.base.clone();
    let shots = root.join("target/e2e-screenshots");
    // The browser runs on a blocking thread while this test's runtime keeps serving it.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(root)
            .args(["tests/e2e/docs.mjs", &base, shots.to_str().unwrap()])
            .env("COFFER_TEST_CHROMIUM", chromium)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the docs end to end failed:\n{stdout}\n{stderr}");
    for name in ["admin", "agent", "cloudbackup", "clouddatabases", "identity", "instaclustr", "opscenter", "all"] {
        assert!(stdout.contains(&format!("docs {name}: ")), "{name} was not checked:\n{stdout}");
    }
    assert!(stdout.contains("every dialect rendered"), "{stdout}");
}
