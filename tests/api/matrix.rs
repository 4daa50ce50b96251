//! The authorization matrix, generated from the committed OpenAPI documents so that a new route
//! cannot escape it: every operation of every dialect is called with no credentials, a wrong
//! password, an expired token and a revoked token (401 each), by a user of another tenant (404
//! wherever the path names the first tenant's objects), and, for writes, by a reader of the
//! owning tenant (403).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, basic, spawn_app_with, tree};

const JWT_SECRET: &str = "a-test-secret-of-at-least-32-characters!";

/// Operations anyone may call.
pub(crate) fn public(method: &str, path: &str) -> bool {
    matches!(path, "/" | "/v2.0" | "/v3" | "/login") || (method == "POST" && matches!(path, "/v2.0/tokens" | "/v3/auth/tokens"))
}

/// Operations only admins may call: another tenant's operator is refused by role, not by tenant.
fn admin_only(path: &str) -> bool {
    path.starts_with("/admin/v1/tenants") || path.starts_with("/admin/v1/users")
}

/// Path parameters that name no object of the owning tenant (the route is a collection).
fn not_an_object(param: &str) -> bool {
    matches!(param, "request_type")
}

pub(crate) struct Fixture {
    /// (document, parameter, path prefix) → value; the longest matching prefix wins.
    values: Vec<(&'static str, &'static str, &'static str, String)>,
    /// Ids of the owning tenant's objects that must not show up in another tenant's listings.
    secrets: Vec<String>,
}

impl Fixture {
    pub(crate) fn value(&self, doc: &str, param: &str, path: &str) -> Option<String> {
        // Cloud Backup lists each path with and without its tenant; ids are found the same way.
        let path = path.replacen("/v1.0/{tenant_id}/", "/v1.0/", 1);
        self.values
            .iter()
            .filter(|(d, p, prefix, _)| *d == doc && *p == param && path.starts_with(prefix))
            .max_by_key(|(_, _, prefix, _)| prefix.len())
            .map(|(_, _, _, v)| v.clone())
    }
}

async fn call(app: &TestApp, method: &str, path: &str, auth: Option<(&'static str, String)>) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(method.clone(), app.url(path));
    if let Some((header, value)) = auth {
        req = req.header(header, value);
    }
    if method != reqwest::Method::GET {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

/// One cell of the matrix: `None` when the answer is the one wanted.
async fn check(
    app: &TestApp,
    method: String,
    path: String,
    route: String,
    who: &'static str,
    auth: Option<(&'static str, String)>,
    want: u16,
) -> Option<(String, String)> {
    let (status, body) = call(app, &method, &path, auth).await;
    (status != want).then(|| (format!("{route} as {who}"), format!("{status} (want {want}): {}", &body[..body.len().min(160)])))
}

async fn send(app: &TestApp, auth: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let resp = app.client.request(method, app.url(path)).header("authorization", auth).json(&body).send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

async fn get(app: &TestApp, auth: &str, path: &str) -> Value {
    let resp = app.client.get(app.url(path)).header("authorization", auth).send().await.unwrap();
    serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null)
}

/// Objects of every kind in tenant `ta`, owned by `owner`.
pub(crate) async fn fixture(app: &TestApp, owner: &str, root: &std::path::Path) -> Fixture {
    let owner_key = {
        let resp =
            app.client.post(app.url("/admin/v1/keys")).header("authorization", owner).json(&json!({ "name": "mx" })).send().await.unwrap();
        resp.json::<Value>().await.unwrap()
    };
    // A cluster with a backup, an OpsCenter destination and a job schedule.
    let data = root.join("mx/data");
    tree::generate(&data.join("Keyspace1/users-0123456789abcdef0123456789abcdef"), 2, 7);
    let cluster = send(
        app,
        owner,
        reqwest::Method::POST,
        "/admin/v1/clusters",
        json!({ "name": "MxCluster", "nodes": [{ "name": "10.7.0.1", "location": data }] }),
    )
    .await;
    let request = send(app, owner, reqwest::Method::POST, "/MxCluster/backups/run", json!({})).await;
    let op = request.as_str().unwrap().to_owned();
    let mut backup = Value::Null;
    for _ in 0..300 {
        let o = get(app, owner, &format!("/admin/v1/operations/{op}")).await;
        if o["state"] == "succeeded" {
            backup = get(app, owner, &format!("/admin/v1/backups/{}", o["backup_id"].as_str().unwrap())).await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tag = backup["tag"].as_str().expect("the cluster backup ended").to_owned();
    let target = root.join("mx-offsite");
    let added =
        send(app, owner, reqwest::Method::POST, "/MxCluster/backups/destinations", json!({ "provider": "local", "path": target })).await;
    let opsc_destination = added["destination"][0].as_object().unwrap().keys().next().unwrap().clone();
    let schedule = json!({ "first_run_time": "03:00:00", "timezone": "GMT", "interval": 1, "interval_unit": "days", "job_params": { "type": "backup", "keyspaces": [] } });
    let schedule = send(app, owner, reqwest::Method::POST, "/MxCluster/job-schedules", schedule).await;
    let schedule_id = schedule.as_str().map(str::to_owned).unwrap_or_else(|| schedule["id"].as_str().unwrap_or_default().to_owned());
    let plans = get(app, owner, "/admin/v1/plans").await;
    let plan_id = plans[0]["id"].as_str().expect("the schedule is a plan").to_owned();
    let destinations = get(app, owner, "/admin/v1/destinations").await;
    let destination_uuid = destinations
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"].as_str().is_some_and(|id| id.replace('-', "") == opsc_destination))
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("the OpsCenter destination is an admin destination: {destinations}"));

    // A Cloud Backup agent (registered, not running), a configuration, a backup and a restore.
    let key = owner_key["key"].as_str().unwrap();
    let registered = app
        .client
        .post(app.url("/agent/v1/register"))
        .header("x-auth-token", key)
        .json(&json!({ "name": "mx-agent" }))
        .send()
        .await
        .unwrap();
    let agent_uuid = registered.json::<Value>().await.unwrap()["agent_id"].as_str().unwrap().to_owned();
    let agents = get(app, owner, "/v1.0/user/agents").await;
    let agent_int = agents.as_array().unwrap().iter().find(|a| a["MachineName"] == "mx-agent").unwrap()["MachineAgentId"].to_string();
    let config = json!({ "BackupConfigurationName": "mx", "MachineAgentId": agent_int.parse::<i64>().unwrap(), "Frequency": "Manually", "TimeZoneId": "UTC",
        "Inclusions": [{ "FilePath": root.join("files").display().to_string(), "FileItemType": "Folder" }], "Exclusions": [] });
    let config = send(app, owner, reqwest::Method::POST, "/v1.0/backup-configuration", config).await;
    let config_int = config["BackupConfigurationId"].to_string();
    let started =
        send(app, owner, reqwest::Method::POST, "/v1.0/backup/action-requested", json!({ "Action": "StartManual", "Id": config_int }))
            .await;
    let backup_int = started.to_string();
    // No agent runs: a restore draft needs a completed backup, so it is made from a plain integer that must stay unknown.
    let restore_int = "424242".to_owned();

    let c = cluster["id"].as_str().unwrap().to_owned();
    let backup_uuid = backup["id"].as_str().unwrap().to_owned();
    let values = vec![
        ("admin.json", "id", "/admin/v1/keys/", owner_key["id"].as_str().unwrap().to_owned()),
        ("admin.json", "id", "/admin/v1/sources/", c.clone()),
        ("admin.json", "id", "/admin/v1/backups/", backup_uuid.clone()),
        ("admin.json", "id", "/admin/v1/destinations/", destination_uuid.clone()),
        ("admin.json", "id", "/admin/v1/plans/", plan_id.clone()),
        ("admin.json", "id", "/admin/v1/operations/", op.clone()),
        ("admin.json", "name", "/admin/v1/users/", "mx-owner".into()),
        ("agent.json", "id", "/agent/v1/agents/", agent_uuid.clone()),
        ("agent.json", "task", "/agent/v1/agents/", uuid::Uuid::new_v4().to_string()),
        ("cloudbackup.json", "agent_id", "/v1.0/", agent_int.clone()),
        ("cloudbackup.json", "host_server_id", "/v1.0/", agent_uuid.clone()),
        ("cloudbackup.json", "id", "/v1.0/backup-configuration/", config_int.clone()),
        ("cloudbackup.json", "id", "/v1.0/backup/", backup_int.clone()),
        ("cloudbackup.json", "id", "/v1.0/restore/", restore_int),
        ("cloudbackup.json", "backupConfigurationId", "/v1.0/backup/completed/", config_int.clone()),
        ("cloudbackup.json", "backupId", "/v1.0/backup/", backup_int.clone()),
        ("cloudbackup.json", "tenant_id", "/v1.0/", "ta".into()),
        ("clouddatabases.json", "account", "/v1.0/", "ta".into()),
        ("clouddatabases.json", "id", "/v1.0/", uuid::Uuid::new_v4().to_string()),
        ("instaclustr.json", "clusterId", "/provisioning/v1/", c.clone()),
        ("opscenter.json", "cluster_id", "/", "MxCluster".into()),
        ("opscenter.json", "keyspace", "/", "Keyspace1".into()),
        ("opscenter.json", "tag", "/", tag.clone()),
        ("opscenter.json", "table", "/", "users".into()),
        ("opscenter.json", "destination_id", "/", opsc_destination.clone()),
        ("opscenter.json", "request_id", "/", op.clone()),
        ("opscenter.json", "request_type", "/", "backup".into()),
        ("opscenter.json", "schedule_id", "/", schedule_id.clone()),
    ];
    Fixture { values, secrets: vec![c, backup_uuid, op, tag, destination_uuid, plan_id, agent_uuid] }
}

#[tokio::test]
async fn every_route_of_every_dialect_refuses_whoever_may_not_use_it() {
    let app = spawn_app_with(|s| {
        s.jwt_secret = Some(JWT_SECRET.into());
        // Hundreds of refused requests from one address in a few seconds: the limits are not under test here.
        s.rate_limit.anonymous_per_second = 100_000;
        s.rate_limit.failed_logins_per_minute = 100_000;
        s.rate_limit.failed_login_max_delay_ms = 0;
        s.rate_limit.per_second = 100_000;
        s.rate_limit.burst = 100_000;
    })
    .await;
    app.tenant("ta").await;
    app.tenant("tb").await;
    for (name, role, tenant) in [("mx-owner", "operator", "ta"), ("mx-reader", "reader", "ta"), ("mx-stranger", "operator", "tb")] {
        let resp = app
            .client
            .post(app.url("/admin/v1/users"))
            .header("authorization", basic("admin", ADMIN_PASSWORD))
            .json(&json!({ "name": name, "password": format!("{name}-password"), "role": role, "tenant": tenant }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let owner = basic("mx-owner", "mx-owner-password");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("files")).unwrap();
    let fx = fixture(&app, &owner, root.path()).await;

    // An expired token, signed with the server's own key.
    let whoami = get(&app, &owner, "/admin/v1/whoami").await;
    let now = chrono::Utc::now().timestamp();
    let claims = coffer::auth::token::Claims {
        sub: whoami["user_id"].as_str().unwrap().parse().unwrap(),
        tid: whoami["tenant_id"].as_str().unwrap().parse().unwrap(),
        jti: "expired".into(),
        iat: now - 120,
        exp: now - 60,
    };
    let expired =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()))
            .unwrap();
    // A revoked one: an OpsCenter session after logout.
    let resp =
        app.client.post(app.url("/login")).json(&json!({ "username": "mx-owner", "password": "mx-owner-password" })).send().await.unwrap();
    let revoked = resp.json::<Value>().await.unwrap()["sessionid"].as_str().unwrap().to_owned();
    assert_eq!(app.client.get(app.url("/logout")).header("opscenter-session", &revoked).send().await.unwrap().status(), 200);

    let mut wrong: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
    for entry in std::fs::read_dir(&docs).unwrap() {
        let file = entry.unwrap().path();
        let doc_name = file.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for (template, operations) in doc["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                let method = method.to_uppercase();
                if public(&method, template) {
                    continue;
                }
                let mut path = template.clone();
                let mut names_object = false;
                for param in template.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(p, _)| p) {
                    let value = fx
                        .value(&doc_name, param, template)
                        .unwrap_or_else(|| panic!("{method} {template}: no value for {{{param}}}; extend the matrix fixture"));
                    names_object |= !not_an_object(param);
                    path = path.replace(&format!("{{{param}}}"), &value);
                }
                let route = format!("{method} {template}");
                let expect = |who: &'static str, auth: Option<(&'static str, String)>, want: u16| {
                    check(&app, method.clone(), path.clone(), route.clone(), who, auth, want)
                };
                let mut cases = vec![
                    expect("nobody", None, 401).await,
                    expect("a wrong password", Some(("authorization", basic("mx-owner", "not-the-password"))), 401).await,
                    expect("an expired token", Some(("x-auth-token", expired.clone())), 401).await,
                    expect("a revoked token", Some(("x-auth-token", revoked.clone())), 401).await,
                ];
                let stranger = Some(("authorization", basic("mx-stranger", "mx-stranger-password")));
                if admin_only(template) {
                    cases.push(expect("another tenant's operator", stranger, 403).await);
                } else if names_object {
                    cases.push(expect("another tenant's operator", stranger, 404).await);
                } else if method == "GET" {
                    let (status, body) = call(&app, &method, &path, stranger).await;
                    if let Some(leak) = fx.secrets.iter().find(|s| body.contains(s.as_str())) {
                        cases.push(Some((format!("{route} as another tenant's operator"), format!("{status}: shows {leak}"))));
                    }
                }
                if method != "GET" {
                    cases.push(expect("a reader", Some(("authorization", basic("mx-reader", "mx-reader-password"))), 403).await);
                }
                for (case, got) in cases.into_iter().flatten() {
                    wrong.insert(case, got);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 120, "every documented operation is checked ({checked})");
    assert!(
        wrong.is_empty(),
        "{} of the matrix answered otherwise:\n{}",
        wrong.len(),
        wrong.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
    );
}
