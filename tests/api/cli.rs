//! The `coffer` command line against the same database the server uses.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{basic, spawn_app};

fn coffer(app: &crate::helpers::TestApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", app.data_dir.to_str().unwrap(), "--database-url", &app.database_url])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("coffer runs");
    assert!(out.status.success(), "coffer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn cli_creates_tenants_users_and_keys_that_the_server_accepts() {
    let app = spawn_app().await;
    coffer(&app, &["tenant", "add", "5678"]);
    assert!(coffer(&app, &["tenant", "list"]).lines().any(|l| l.starts_with("5678\t")));
    coffer(&app, &["user", "add", "carl", "--tenant", "5678", "--role", "reader", "--password", "carl-secret-1"]);
    let users = coffer(&app, &["user", "list"]);
    assert!(users.lines().any(|l| l.starts_with("carl\t5678\treader")), "{users}");

    let key = coffer(&app, &["key", "create", "--user", "carl", "--name", "script"]).trim().to_owned();
    assert!(key.starts_with("ck_"));
    let me: Value = app.whoami(("authorization", &basic("carl", &key))).await.json().await.unwrap();
    assert_eq!(me["tenant"], "5678");
    assert_eq!(me["role"], "reader");

    coffer(&app, &["user", "passwd", "carl", "--password", "carl-secret-2"]);
    app.state.auth.forget_cached_credentials().await.unwrap();
    assert_eq!(app.whoami(("authorization", &basic("carl", "carl-secret-2"))).await.status(), 200);

    let listed = coffer(&app, &["key", "list", "--user", "carl"]);
    let id = listed.split('\t').next().unwrap().to_owned();
    assert!(!listed.contains(&key), "listings never show the secret");
    coffer(&app, &["key", "revoke", &id]);
    app.state.auth.forget_cached_credentials().await.unwrap();
    assert_eq!(app.whoami(("authorization", &basic("carl", &key))).await.status(), 401);

    coffer(&app, &["user", "delete", "carl"]);
    assert!(!coffer(&app, &["user", "list"]).contains("carl"));
}

#[test]
fn cli_refuses_a_reserved_tenant_name_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "tenant", "add", "backups"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reserved"));
}

#[test]
fn cli_and_agent_name_the_server_they_could_not_reach() {
    // A port nothing listens on: bound, then closed again.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["backup", "Test_Cluster", "--server", &server, "--user", "demo", "--password", "demo-password"],
        vec!["agent", "--server", &server, "--token", "ck_unused", "--name", "node-a"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_coffer")).args(&args).env_remove("COFFER_SERVER").output().unwrap();
        assert!(!out.status.success(), "coffer {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("cannot reach the Coffer server at {server}")), "coffer {args:?}: {stderr}");
    }
}

#[tokio::test]
async fn secrets_rekey_seals_every_destination_secret_again_under_the_new_key() {
    let Some(s3) = crate::destinations::moto(None).await else { return };
    crate::destinations::make_container(&["s3", &s3.endpoint, "rekeyed"]);
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let secret = "SK-rekey-the-secret-value";
    let body = serde_json::json!({ "kind": "s3", "path": "rekeyed", "endpoint": s3.endpoint, "path_style": true,
                                   "region": "us-east-1", "access_key": "AKTEST", "secret": secret });
    let (status, dest) = crate::helpers::post(&app, &token, "/admin/v1/destinations", body).await;
    assert_eq!(status, 201, "{dest}");
    let id: uuid::Uuid = dest["id"].as_str().unwrap().parse().unwrap();
    let stored =
        || async { coffer::persistence::catalog::get_destination(&app.state.db, id).await.unwrap().unwrap().sealed_secret.unwrap() };
    let before = stored().await;
    let old_material = std::fs::read(app.data_dir.join("secret.key")).unwrap();

    let rekey = |new: &str| {
        Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["--data-dir", app.data_dir.to_str().unwrap(), "--database-url", &app.database_url, "secrets", "rekey"])
            .env("RUST_LOG", "warn")
            .env("COFFER_NEW_SECRET_KEY", new)
            .output()
            .unwrap()
    };
    let short = rekey("too-short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("32 characters or more"));
    assert_eq!(stored().await, before, "nothing changed");

    let new_material = "a-new-sealing-key-of-more-than-32-characters";
    let out = rekey(new_material);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 destination secret(s)"), "{}", String::from_utf8_lossy(&out.stdout));
    let after = stored().await;
    assert_ne!(after, before);
    assert!(after.starts_with("sealed:v1:") && !after.contains(secret));
    let (old, new) =
        (coffer::crypto::SecretBox::from_material(&old_material), coffer::crypto::SecretBox::from_material(new_material.as_bytes()));
    assert_eq!(new.open(&after).unwrap(), secret, "the new key opens it");
    assert!(old.open(&after).is_err(), "the old key no longer does");
    assert_eq!(std::fs::read(app.data_dir.join("secret.key")).unwrap(), new_material.as_bytes(), "the data directory keeps the new key");
    assert!(!app.data_dir.join("secret.key.new").exists());
}
