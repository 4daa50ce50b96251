//! Rackspace Cloud Backup v1.0 beside Cloud Databases under /v1.0: the agents part, in both path
//! forms clients use (with and without the tenant), with integer ids.

use serde_json::Value;

use crate::helpers::spawn_app;

const AGENT_KEYS: &[&str] = &[
    "AgentVersion",
    "Architecture",
    "Flavor",
    "BackupVaultSize",
    "BackupContainer",
    "CleanupAllowed",
    "Datacenter",
    "IPAddress",
    "IsDisabled",
    "IsEncrypted",
    "MachineAgentId",
    "MachineName",
    "OperatingSystem",
    "OperatingSystemVersion",
    "PublicKey",
    "Status",
    "TimeOfLastSuccessfulBackup",
    "UseServiceNet",
    "HostServerId",
];

#[tokio::test]
async fn a_coffer_agent_is_listed_and_found_by_integer_id_in_both_path_forms() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", Some("default")).await;
    let (key, _) = app.api_key(&operator, false).await;
    let _agent = crate::agents::start_agent(&app, &key, "web01").await;
    let get = |path: String| {
        let (client, url, token) = (app.client.clone(), app.url(&path), operator.clone());
        async move {
            let resp = client
                .get(url)
                .header("x-auth-token", token)
                .header("content-type", "application/json; charset=utf-8")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, agents) = get("/v1.0/user/agents".into()).await;
    assert_eq!(status, 200, "{agents}");
    let web = agents.as_array().unwrap().iter().find(|a| a["MachineName"] == "web01").expect("the agent registered itself").clone();
    for k in AGENT_KEYS {
        assert!(web.get(*k).is_some(), "agent lacks {k}: {web}");
    }
    assert_eq!(web["Status"], "Online");
    let id = web["MachineAgentId"].as_i64().expect("an integer id");
    let (_, again) = get("/v1.0/user/agents".into()).await;
    assert!(again.as_array().unwrap().iter().any(|a| a["MachineAgentId"] == id), "ids are stable");

    for path in [format!("/v1.0/agent/{id}"), format!("/v1.0/default/agent/{id}"), format!("/v1.0/agent/{id}/")] {
        let (status, one) = get(path.clone()).await;
        assert_eq!((status, one["MachineAgentId"].as_i64()), (200, Some(id)), "{path}: {one}");
    }
    let (status, by_server) = get(format!("/v1.0/agent/server/{}", web["HostServerId"].as_str().unwrap())).await;
    assert_eq!((status, by_server["MachineName"].as_str()), (200, Some("web01")));

    let resp = app
        .client
        .post(app.url("/v1.0/user/wakeupagents"))
        .header("x-auth-token", &operator)
        .header("content-type", "application/json; charset=utf-8")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "", "an empty answer");

    let (status, missing) = get("/v1.0/agent/987654".into()).await;
    assert_eq!((status, missing["itemNotFound"]["code"].as_u64()), (404, Some(404)), "{missing}");
    let (status, _) = get("/v1.0/agent/not-a-number".into()).await;
    assert_eq!(status, 404);
    let (status, other) = get("/v1.0/someone-else/user/agents".into()).await;
    assert_eq!(status, 404, "another tenant's path: {other}");
    let anonymous = app.client.get(app.url("/v1.0/user/agents")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let (status, flavors) = get("/v1.0/default/flavors".into()).await;
    assert_eq!((status, flavors["flavors"].is_array()), (200, true), "Cloud Databases still answers beside it");
}
