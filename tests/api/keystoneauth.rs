//! The real keystoneauth1 library (from the test virtualenv) logs in with its v2, v3 and
//! generic Password plugins and finds Coffer's endpoints in the catalog.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, spawn_app};

/// The virtualenv Python that scripts/test.sh prepared, if any.
pub fn python() -> Option<String> {
    venv_python("COFFER_TEST_PYTHON", ".venv-test")
}

/// The Python of pyrax's own virtualenv (pyrax pins libraries the other clients cannot share).
pub fn pyrax_python() -> Option<String> {
    venv_python("COFFER_TEST_PYRAX_PYTHON", ".venv-pyrax")
}

/// The Python of the Cloud Backup SDK's virtualenv (python-cloudbackup-sdk 0.20.0, installed and
/// shimmed by tests/compat/cloudbackup_sdk.py).
pub fn cloudbackup_python() -> Option<String> {
    venv_python("COFFER_TEST_CLOUDBACKUP_PYTHON", ".venv-cloudbackup")
}

fn venv_python(variable: &str, venv: &str) -> Option<String> {
    let from_env = std::env::var(variable).ok().filter(|p| !p.is_empty());
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(venv).join("bin/python");
    let found = from_env.or_else(|| local.exists().then(|| local.display().to_string()));
    if found.is_none() {
        crate::helpers::skipping(&format!("no client virtualenv ({variable}, or {venv}); scripts/test.sh prepares it"));
    }
    found
}

#[tokio::test]
async fn keystoneauth_v2_v3_and_generic_password_plugins_get_a_token_and_the_catalog() {
    let Some(python) = python() else { return };
    let app = spawn_app().await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/keystoneauth_login.py");
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).args([base.as_str(), "admin", ADMIN_PASSWORD, "default"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "keystoneauth failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    for plugin in ["v2", "v3", "generic"] {
        let r = &results[plugin];
        assert!(r["token_length"].as_u64().unwrap() > 20, "{plugin}: {r}");
        assert_eq!(r["database"], format!("{}/v1.0/default", app.base), "{plugin}");
        assert_eq!(r["backup"], format!("{}/v1.0/default", app.base), "{plugin}");
        assert_eq!(r["whoami"], "admin", "{plugin}");
        assert_eq!(r["tenant"], "default", "{plugin}");
    }
}
