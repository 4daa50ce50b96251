//! Every credential kind, accepted and refused.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, basic, spawn_app, spawn_app_with};

#[tokio::test]
async fn login_with_json_credentials_returns_a_session_that_opens_the_api() {
    let app = spawn_app().await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let resp = app.whoami(("opscenter-session", &session)).await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["user"], "admin");
    assert_eq!(me["tenant"], "default");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["credential"], "token");
}

#[tokio::test]
async fn login_with_form_credentials_returns_a_session_and_sets_the_cookie() {
    let app = spawn_app().await;
    let resp = app.client.post(app.url("/login")).form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let session = body["sessionid"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("TWISTED_SESSION={session};")), "cookie was {cookie}");
}

#[tokio::test]
async fn one_session_works_as_header_cookie_bearer_and_x_auth_token() {
    let app = spawn_app().await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let cookie = format!("other=1; TWISTED_SESSION={session}");
    let bearer = format!("Bearer {session}");
    for header in [("opscenter-session", session.as_str()), ("x-auth-token", &session), ("cookie", &cookie), ("authorization", &bearer)] {
        let resp = app.whoami(header).await;
        assert_eq!(resp.status(), 200, "credential in {} was refused", header.0);
        assert_eq!(resp.json::<Value>().await.unwrap()["user"], "admin");
    }
}

#[tokio::test]
async fn login_with_a_wrong_password_returns_401_in_opscenter_shape() {
    let app = spawn_app().await;
    let resp = app.client.post(app.url("/login")).json(&json!({ "username": "admin", "password": "nope" })).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Basic realm=\"coffer\"");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "Unauthorized");
    assert!(body["message"].as_str().unwrap().contains("invalid"));
    assert!(body.get("brief").is_none(), "OpsCenter's 401 has no brief: {body}");
}

#[tokio::test]
async fn basic_with_a_password_is_accepted_and_a_wrong_one_gets_401_with_www_authenticate() {
    let app = spawn_app().await;
    let ok = app.whoami(("authorization", &basic("admin", ADMIN_PASSWORD))).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["credential"], "basic_password");

    let bad = app.whoami(("authorization", &basic("admin", "wrong-password"))).await;
    assert_eq!(bad.status(), 401);
    assert_eq!(bad.headers()["www-authenticate"], "Basic realm=\"coffer\"");
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["title"], "Unauthorized");
}

#[tokio::test]
async fn basic_with_an_api_key_is_accepted_until_the_key_is_revoked() {
    let app = spawn_app().await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let (key, id) = app.api_key(&session, false).await;
    assert!(key.starts_with("ck_"));

    let resp = app.whoami(("authorization", &basic("admin", &key))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["credential"], "basic_api_key");

    let other_user = app.whoami(("authorization", &basic("someone", &key))).await;
    assert_eq!(other_user.status(), 401, "a key only works with its own user name");

    let listed: Value =
        app.client.get(app.url("/admin/v1/keys")).header("x-auth-token", &session).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("key").is_none(), "a listing never shows the secret");
    assert!(!listed.to_string().contains(&key));

    let revoke = app.client.delete(app.url(&format!("/admin/v1/keys/{id}"))).header("x-auth-token", &session).send().await.unwrap();
    assert_eq!(revoke.status(), 204);
    let after = app.whoami(("authorization", &basic("admin", &key))).await;
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn api_keys_and_passwords_are_stored_only_as_argon2_hashes() {
    let app = spawn_app().await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let (key, _) = app.api_key(&session, false).await;
    let secret = key.rsplit('_').next().unwrap();
    let (user, hash) = coffer::persistence::identity::find_user_credentials(&app.state.db, "admin").await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains(ADMIN_PASSWORD));
    let keys = coffer::persistence::identity::list_api_keys(&app.state.db, user.id).await.unwrap();
    let (_, key_hash) = coffer::persistence::identity::find_live_api_key(&app.state.db, &keys[0].prefix).await.unwrap().unwrap();
    assert!(key_hash.starts_with("$argon2id$"));
    assert!(!key_hash.contains(secret));
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let resp = app.client.get(app.url("/logout")).header("opscenter-session", &session).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({}));

    let after = app.whoami(("opscenter-session", &session)).await;
    assert_eq!(after.status(), 401);
    let body: Value = after.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"));
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app_with(|s| s.token_ttl_secs = 1).await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(app.whoami(("x-auth-token", &session)).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = app.whoami(("x-auth-token", &session)).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_token_signed_by_another_server_is_refused() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let foreign = other.login("admin", ADMIN_PASSWORD).await;
    let resp = app.whoami(("x-auth-token", &foreign)).await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn repeated_failed_logins_from_one_address_are_refused_with_429() {
    let app = spawn_app_with(|s| s.rate_limit.failed_logins_per_minute = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp = app.client.post(app.url("/login")).json(&json!({ "username": "admin", "password": "wrong" })).send().await.unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert_eq!(*statuses.last().unwrap(), 429, "statuses were {statuses:?}");
    let resp = app.client.post(app.url("/login")).json(&json!({ "username": "admin", "password": ADMIN_PASSWORD })).send().await.unwrap();
    assert_eq!(resp.status(), 429, "even the right password waits out the lockout");
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn requests_without_credentials_get_401_in_each_dialects_shape() {
    let app = spawn_app().await;
    let cases = [
        ("/Test_Cluster/backups", "opscenter"),
        ("/provisioning/v1/abc/backups", "instaclustr"),
        ("/v1.0/default/backups", "rackspace"),
        ("/v1.0/backup-configuration/system/1", "rackspace"),
        ("/admin/v1/whoami", "keystone"),
    ];
    for (path, shape) in cases {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert_eq!(resp.headers()["www-authenticate"], "Basic realm=\"coffer\"", "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: Value = resp.json().await.unwrap();
        match shape {
            "opscenter" => assert_eq!(body["type"], "Unauthorized", "{path}: {body}"),
            "instaclustr" => {
                assert_eq!(body["status"], 401);
                assert_eq!(body["code"], 401);
                assert_eq!(body["errorDetails"], json!({}));
                assert!(body["link"].is_string() && body["message"].is_string());
            }
            "rackspace" => assert_eq!(body["unauthorized"]["code"], 401, "{path}: {body}"),
            _ => assert_eq!(body["error"]["code"], 401, "{path}: {body}"),
        }
    }
}

#[tokio::test]
async fn an_authenticated_request_to_an_unknown_path_gets_404_in_the_dialects_shape() {
    let app = spawn_app().await;
    let auth = basic("admin", ADMIN_PASSWORD);
    let resp = app.client.get(app.url("/v1.0/default/flavors/nope")).header("authorization", &auth).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["itemNotFound"]["code"], 404);
    let resp = app.client.get(app.url("/Test_Cluster/nothing")).header("authorization", &auth).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["brief"], "error");
}

#[tokio::test]
async fn failed_logins_from_one_address_are_slowed_then_refused_while_the_user_logs_in_from_another() {
    let app = spawn_app_with(|s| s.rate_limit.failed_logins_per_minute = 4).await;
    // The attacker's address is 127.0.0.2 (all of 127/8 is this machine); the real user is on 127.0.0.1.
    let attacker = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let mut answers = Vec::new();
    for _ in 0..6 {
        let started = std::time::Instant::now();
        let resp = attacker.post(app.url("/login")).json(&json!({ "username": "admin", "password": "guess" })).send().await.unwrap();
        answers.push((resp.status().as_u16(), started.elapsed()));
    }
    assert_eq!(answers.iter().map(|a| a.0).take(4).collect::<Vec<_>>(), [401, 401, 401, 401], "{answers:?}");
    assert!(answers[3].1 >= std::time::Duration::from_millis(400), "the fourth failure in a row waited: {answers:?}");
    assert_eq!(answers[5].0, 429, "then the address is refused: {answers:?}");
    let resp = app.client.post(app.url("/login")).json(&json!({ "username": "admin", "password": ADMIN_PASSWORD })).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the real user, from another address, is neither slowed nor locked out");
    let resp = attacker.post(app.url("/login")).json(&json!({ "username": "admin", "password": ADMIN_PASSWORD })).send().await.unwrap();
    assert_eq!(resp.status(), 429, "the attacker's address stays refused even with the right password");
}

#[tokio::test]
async fn a_good_credential_beside_a_bad_one_is_refused_so_none_is_ever_ignored() {
    let app = spawn_app().await;
    let good = crate::helpers::basic("admin", ADMIN_PASSWORD);
    let whoami = |headers: Vec<(&'static str, String)>| {
        let mut req = app.client.get(app.url("/admin/v1/whoami"));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(whoami(vec![("authorization", good.clone())]).await, 200);
    assert_eq!(whoami(vec![("authorization", good.clone()), ("cookie", "TWISTED_SESSION=stale".into())]).await, 401);
    assert_eq!(whoami(vec![("authorization", good.clone()), ("x-auth-token", String::new())]).await, 401, "an empty token is not no token");
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let both = vec![("opscenter-session", session.clone()), ("cookie", format!("TWISTED_SESSION={session}"))];
    assert_eq!(whoami(both).await, 200, "the same session twice, as OpsCenter scripts send it");
    let other = app.user_with_role("someone", "operator", None).await;
    assert_eq!(whoami(vec![("authorization", good), ("x-auth-token", other)]).await, 401, "two users at once");
}
