//! Rackspace Cloud Backup v1.0 beside Cloud Databases under /v1.0: the agents part, in both path
//! forms clients use (with and without the tenant), with integer ids.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// A request as the Cloud Backup SDK sends it (a JSON content type even without a body);
/// answers the status and the body's text.
async fn call(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, String) {
    let mut req = app.client.request(method, app.url(path)).header("x-auth-token", token);
    req = match body {
        Some(b) => req.json(&b),
        None => req.header("content-type", "application/json; charset=utf-8"),
    };
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A body as JSON, or its text as a JSON string when it is not JSON.
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The integer id of the agent named `name`, as the agent list shows it.
async fn agent_id(app: &TestApp, token: &str, name: &str) -> i64 {
    let (_, agents) = call(app, token, reqwest::Method::GET, "/v1.0/user/agents", None).await;
    parsed(&agents).as_array().unwrap().iter().find(|a| a["MachineName"] == name).expect("the agent registered itself")["MachineAgentId"]
        .as_i64()
        .expect("an integer id")
}

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
    let _agent = crate::helpers::start_agent(&app, &key, "web01").await;
    let (app_ref, token) = (&app, operator.as_str());
    let get = move |path: String| async move {
        let (status, text) = call(app_ref, token, reqwest::Method::GET, &path, None).await;
        (status, parsed(&text))
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

    let (status, woken) = call(&app, &operator, reqwest::Method::POST, "/v1.0/user/wakeupagents", None).await;
    assert_eq!(status, 200);
    assert_eq!(woken, "", "an empty answer");

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

#[tokio::test]
async fn a_backup_configuration_is_created_read_updated_enabled_and_deleted_as_the_sdk_does() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", Some("default")).await;
    let (key, _) = app.api_key(&operator, false).await;
    let _agent = crate::helpers::start_agent(&app, &key, "web02").await;
    let (app_ref, token) = (&app, operator.as_str());
    let send = move |method: reqwest::Method, path: String, body: Option<Value>| async move {
        let (status, text) = call(app_ref, token, method, &path, body).await;
        (status, parsed(&text))
    };
    let agent_id = agent_id(&app, &operator, "web02").await;

    let create = serde_json::json!({
        "BackupConfigurationName": "www", "MachineAgentId": agent_id, "IsActive": false, "VersionRetention": 30,
        "MissedBackupActionId": 1, "Frequency": "Daily", "StartTimeHour": 2, "StartTimeMinute": 30, "StartTimeAmPm": "PM",
        "DayOfWeekId": null, "HourInterval": null, "TimeZoneId": "Eastern Standard Time", "NotifyRecipients": "ops@example.test",
        "NotifySuccess": false, "NotifyFailure": true,
        "Inclusions": [{ "FilePath": "/srv/www", "FileItemType": "Folder" }, { "FilePath": "/etc/app.conf", "FileItemType": "File" }],
        "Exclusions": [{ "FilePath": "/srv/www/cache", "FileItemType": "Folder" }],
    });
    let (status, config) = send(reqwest::Method::POST, "/v1.0/default/backup-configuration/".into(), Some(create.clone())).await;
    assert_eq!(status, 200, "{config}");
    let id = config["BackupConfigurationId"].as_i64().expect("an integer id");
    assert_eq!(config["MachineAgentId"], agent_id);
    assert_eq!(config["MachineName"], "web02");
    assert_eq!(config["StartTimeAmPm"], "PM");
    assert_eq!(config["NotifyRecipients"], "ops@example.test");
    assert_eq!(config["Inclusions"][1]["FilePath"], "/etc/app.conf");
    assert_eq!(config["Inclusions"][1]["FileItemType"], "File");
    assert_eq!(config["Exclusions"][0]["Filter"], "Exclude");
    assert_eq!(config["Exclusions"][0]["ParentId"], id);
    assert_eq!(
        (config["Inclusions"][1]["FileId"].as_i64(), config["Exclusions"][0]["FileId"].as_i64()),
        (Some(2), Some(3)),
        "unique file ids"
    );
    assert_eq!(config["BackupPrescript"], "", "strings, never null");
    assert_eq!(config["IsActive"], false);

    let (status, listed) = send(reqwest::Method::GET, format!("/v1.0/backup-configuration/system/{agent_id}"), None).await;
    assert_eq!((status, listed[0]["BackupConfigurationId"].as_i64()), (200, Some(id)));
    let (_, all) = send(reqwest::Method::GET, "/v1.0/backup-configuration".into(), None).await;
    assert_eq!(all.as_array().unwrap().len(), 1);

    // The SDK PUTs back what it read, plus fields of its own.
    let (_, read) = send(reqwest::Method::GET, format!("/v1.0/backup-configuration/{id}"), None).await;
    let mut echo = read.clone();
    echo["BackupConfigurationName"] = serde_json::json!("www-renamed");
    echo["BackupConfigurationScheduled"] = Value::Null;
    let (status, answer) = send(reqwest::Method::PUT, format!("/v1.0/backup-configuration/{id}"), Some(echo)).await;
    assert_eq!(status, 200, "{answer}");
    let (_, read) = send(reqwest::Method::GET, format!("/v1.0/backup-configuration/{id}"), None).await;
    assert_eq!(read["BackupConfigurationName"], "www-renamed");
    assert_eq!(read["BackupConfigurationId"], id, "the id stays");

    let (status, enabled) = send(
        reqwest::Method::POST,
        format!("/v1.0/default/backup-configuration/enable/{id}"),
        Some(serde_json::json!({ "Enabled": true })),
    )
    .await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!(enabled["IsActive"], true);
    assert!(
        enabled["NextScheduledRunTime"].as_str().unwrap().starts_with("/Date(")
            && enabled["NextScheduledRunTime"] != "/Date(-62135578800000)/"
    );

    // Hourly runs every HourInterval hours.
    let mut hourly = create.clone();
    hourly["BackupConfigurationName"] = serde_json::json!("every six hours");
    (hourly["Frequency"], hourly["HourInterval"], hourly["IsActive"]) =
        (serde_json::json!("Hourly"), serde_json::json!("6"), serde_json::json!(true));
    let (status, six) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(hourly.clone())).await;
    assert_eq!((status, six["HourInterval"].as_i64(), six["Frequency"].as_str()), (200, Some(6), Some("Hourly")), "{six}");
    let next: i64 = six["NextScheduledRunTime"].as_str().unwrap().trim_start_matches("/Date(").trim_end_matches(")/").parse().unwrap();
    let hours = (next - chrono::Utc::now().timestamp_millis()) as f64 / 3_600_000.0;
    assert!((5.9..=6.0).contains(&hours), "the first run is six hours away, not {hours}");
    hourly["HourInterval"] = serde_json::json!(30);
    assert_eq!(send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(hourly)).await.0, 400);
    let mut skip = create.clone();
    skip["MissedBackupActionId"] = serde_json::json!(2);
    let (status, refused) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(skip)).await;
    let message = refused["badRequest"]["message"].as_str().unwrap_or_default();
    assert!(
        status == 400 && message.contains("MissedBackupActionId\": 2 is not one of: 1 ") && message.contains("2 (skip it"),
        "{status} {refused}"
    );

    let mut bad = create.clone();
    bad["Frequency"] = serde_json::json!("Fortnightly");
    assert_eq!(send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(bad)).await.0, 400);
    let mut bad = create.clone();
    bad["Inclusions"] = serde_json::json!([{ "FilePath": "relative/path", "FileItemType": "Folder" }]);
    assert_eq!(send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(bad)).await.0, 400);
    let mut bad = create.clone();
    bad["MachineAgentId"] = serde_json::json!(424242);
    assert_eq!(send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(bad)).await.0, 404);

    let (status, refused) = send(reqwest::Method::PUT, format!("/v1.0/backup-configuration/{id}"), Some(serde_json::json!({}))).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("BackupConfigurationName"), "the missing field is named: {refused}");

    let (status, _) = send(reqwest::Method::DELETE, format!("/v1.0/backup-configuration/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, gone) = send(reqwest::Method::GET, format!("/v1.0/backup-configuration/{id}"), None).await;
    assert_eq!((status, gone["itemNotFound"]["code"].as_u64()), (404, Some(404)));
}

#[tokio::test]
async fn a_manual_backup_of_a_configuration_runs_on_the_agent_and_is_reported() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", Some("default")).await;
    let (key, _) = app.api_key(&operator, false).await;
    let _agent = crate::helpers::start_agent(&app, &key, "files01").await;
    let root = tempfile::tempdir().unwrap();
    for (dir, seed) in [("a", 1), ("b", 2), ("a/skip", 3), ("c", 4)] {
        crate::helpers::tree::generate(&root.path().join(dir), 4, seed);
    }
    let (app_ref, token) = (&app, operator.as_str());
    let send =
        move |method: reqwest::Method, path: String, body: Option<Value>| async move { call(app_ref, token, method, &path, body).await };
    let json = parsed;
    let agent_id = agent_id(&app, &operator, "files01").await;
    let path = |p: &str| root.path().join(p).display().to_string();
    let config = serde_json::json!({
        "BackupConfigurationName": "files", "MachineAgentId": agent_id, "Frequency": "Manually", "TimeZoneId": "UTC", "VersionRetention": 30,
        "Inclusions": [{ "FilePath": path("a"), "FileItemType": "Folder" }, { "FilePath": path("b"), "FileItemType": "Folder" }],
        "Exclusions": [{ "FilePath": path("a/skip"), "FileItemType": "Folder" }],
    });
    let (status, created) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(config)).await;
    assert_eq!(status, 200, "{created}");
    let config_id = json(&created)["BackupConfigurationId"].as_i64().unwrap();

    let start_backup = serde_json::json!({ "Action": "StartManual", "Id": config_id });
    let asked_at = chrono::Utc::now().timestamp_millis();
    let (status, started) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(start_backup.clone())).await;
    assert_eq!(status, 200, "{started}");
    let backup_id: i64 = started.trim().parse().unwrap_or_else(|_| panic!("a bare integer, not {started}"));
    let mut details = Value::Null;
    for _ in 0..300 {
        details = json(&send(reqwest::Method::GET, format!("/v1.0/backup/{backup_id}"), None).await.1);
        if details["CurrentState"] == "Completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(details["CurrentState"], "Completed", "{details}");
    for k in [
        "BackupId",
        "BackupConfigurationId",
        "BackupConfigurationName",
        "MachineAgentId",
        "MachineName",
        "Datacenter",
        "BackupDatacenter",
        "StateChangeTime",
        "IsEncrypted",
        "EncryptionKey",
    ] {
        assert!(details.get(k).is_some(), "details lack {k}: {details}");
    }
    assert_eq!((details["BackupConfigurationId"].as_i64(), details["MachineName"].as_str()), (Some(config_id), Some("files01")));

    let (_, completed) = send(reqwest::Method::GET, format!("/v1.0/backup/completed/{config_id}"), None).await;
    let completed = json(&completed);
    assert_eq!(completed[0]["BackupId"], backup_id);
    assert!(completed[0]["BytesSearched"].as_i64().unwrap() > 0);
    let (_, report) = send(reqwest::Method::GET, format!("/v1.0/backup/report/{backup_id}"), None).await;
    let report = json(&report);
    assert_eq!(
        (report["State"].as_str(), report["CanRestore"].as_bool(), report["NumErrors"].as_u64()),
        (Some("Completed"), Some(true), Some(0))
    );
    assert_eq!(report["FilesSearched"], "8", "a and b, without a/skip and c: {report}");
    assert_eq!(report["FilesBackedUp"], "8", "every file is new to the store: {report}");
    assert!(report["Duration"].as_str().unwrap().len() == 8 && report["BytesSearched"].is_string());
    assert_eq!(report["Diagnostics"], "Completed: 8 file(s) searched, 8 backed up, 0 already in the store, no errors");
    assert_eq!(report["BackupConfigurationIsDeleted"], false);
    let ms = |v: &Value| v.as_str().and_then(|d| d.strip_prefix("/Date(")?.strip_suffix(")/")?.parse::<i64>().ok()).unwrap();
    assert!(ms(&report["StartTime"]) >= asked_at && ms(&report["StartTime"]) <= ms(&report["CompletedTime"]), "{report}");
    assert!(details["EncryptionKey"]["ExponentHex"].is_i64(), "a number, as the seed writes it: {details}");

    // Restore folder a (not b) into a new directory, as the SDK does: create, filter, start, poll.
    let out = tempfile::tempdir().unwrap();
    let restore = serde_json::json!({
        "BackupId": backup_id, "BackupMachineId": agent_id, "DestinationMachineId": agent_id,
        "DestinationPath": out.path().display().to_string(), "OverwriteFiles": false,
    });
    let (status, created) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(restore.clone())).await;
    assert_eq!(status, 200, "{created}");
    let created = json(&created);
    let restore_id = created["RestoreId"].as_i64().expect("an integer id");
    assert_eq!((created["RestoreStateId"].as_i64(), created["BackupConfigurationId"].as_i64()), (Some(0), Some(config_id)));
    assert_eq!((created["DestinationMachineName"].as_str(), created["BackupMachineId"].as_i64()), (Some("files01"), Some(agent_id)));
    for (filter, item) in [(1, path("a")), (2, path("b"))] {
        let file = serde_json::json!({ "ParentId": restore_id.to_string(), "FilePath": item, "FileItemType": 1, "Filter": filter });
        let (status, body) = send(reqwest::Method::PUT, "/v1.0/restore/files".into(), Some(file)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, files) = send(reqwest::Method::GET, format!("/v1.0/restore/files/{restore_id}"), None).await;
    let files = json(&files);
    assert_eq!(files.as_array().unwrap().len(), 2);
    assert_eq!(
        (files[1]["Filter"].as_i64(), files[1]["FileItemType"].as_i64(), files[1]["RestoreId"].as_i64()),
        (Some(2), Some(1), Some(restore_id))
    );
    let start = serde_json::json!({ "Action": "StartManual", "Id": restore_id });
    let (status, body) = send(reqwest::Method::POST, "/v1.0/restore/action-requested".into(), Some(start.clone())).await;
    assert_eq!((status, body.as_str()), (204, ""));
    let mut restored = Value::Null;
    for _ in 0..300 {
        restored = json(&send(reqwest::Method::GET, format!("/v1.0/restore/{restore_id}"), None).await.1);
        if [3, 4, 5, 8].contains(&restored["RestoreStateId"].as_i64().unwrap()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(restored["RestoreStateId"], 3, "Completed: {restored}");
    assert_eq!(restored["Exclusions"][0]["FilePath"], path("b"));
    let placed = out.path().join(root.path().strip_prefix("/").unwrap());
    let mut expected = crate::helpers::tree::fingerprint(&root.path().join("a"));
    expected.retain(|k, _| !k.starts_with("skip/"));
    assert_eq!(crate::helpers::tree::fingerprint(&placed.join("a")), expected, "a restores byte for byte, without a/skip");
    assert!(!placed.join("b").exists() && !placed.join("c").exists(), "b was left out, c never backed up");
    let (_, restore_report) = send(reqwest::Method::GET, format!("/v1.0/restore/report/{restore_id}"), None).await;
    let restore_report = json(&restore_report);
    assert_eq!((restore_report["State"].as_str(), restore_report["Reason"].as_str()), (Some("Completed"), Some("Success")));
    assert_eq!(restore_report["NumFilesRestored"], expected.len().to_string());
    assert_eq!(restore_report["NumErrors"], "0");
    let (status, again) = send(reqwest::Method::POST, "/v1.0/restore/action-requested".into(), Some(start)).await;
    assert_eq!(status, 409, "a restore starts once: {again}");
    assert_eq!(
        json(&again)["conflictingRequest"]["message"],
        format!("restore {restore_id} has already been started; create a new one to restore again")
    );

    let (status, activity) = send(reqwest::Method::GET, format!("/v1.0/default/system/activity/{agent_id}"), None).await;
    assert_eq!(status, 200, "{activity}");
    let activity = json(&activity);
    let backup_row = activity.as_array().unwrap().iter().find(|r| r["Type"] == "Backup").expect("a backup row").clone();
    assert_eq!((backup_row["ID"].as_i64(), backup_row["BackupId"].as_i64()), (Some(backup_id), Some(backup_id)));
    assert_eq!((backup_row["ParentId"].as_i64(), backup_row["CurrentState"].as_str()), (Some(config_id), Some("Completed")));
    let restore_row = activity.as_array().unwrap().iter().find(|r| r["Type"] == "Restore").expect("a restore row").clone();
    assert_eq!((restore_row["ID"].as_i64(), restore_row["CurrentState"].as_str()), (Some(restore_id), Some("Completed")));
    let (_, all) = send(reqwest::Method::GET, "/v1.0/activity".into(), None).await;
    assert_eq!(json(&all).as_array().unwrap().len(), 2, "{all}");
    let (_, available) = send(reqwest::Method::GET, "/v1.0/backup/availableforrestore".into(), None).await;
    let available = json(&available);
    assert_eq!(
        (available[0]["BackupConfigurationId"].as_i64(), available[0]["MachineAgentId"].as_i64()),
        (Some(config_id), Some(agent_id))
    );

    let mut outside = restore.clone();
    outside["DestinationPath"] = serde_json::json!("relative/dir");
    assert_eq!(send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(outside)).await.0, 400);
    let mut unknown = restore.clone();
    unknown["BackupId"] = serde_json::json!(777777);
    assert_eq!(send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(unknown)).await.0, 404);
    let (status, _) = send(reqwest::Method::GET, "/v1.0/restore/888888".into(), None).await;
    assert_eq!(status, 404);
    let bad_filter = serde_json::json!({ "ParentId": restore_id, "FilePath": path("a"), "FileItemType": 1, "Filter": 7 });
    assert_eq!(send(reqwest::Method::PUT, "/v1.0/restore/files".into(), Some(bad_filter)).await.0, 400);

    let (status, body) = send(
        reqwest::Method::POST,
        "/v1.0/backup/action-requested".into(),
        Some(serde_json::json!({ "Action": "Dance", "Id": config_id })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = send(reqwest::Method::GET, "/v1.0/backup/99999999".into(), None).await;
    assert_eq!(status, 404);

    // A second run over unchanged files searches them all and stores none of them again.
    let (_, again) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(start_backup)).await;
    let again: i64 = again.trim().parse().unwrap();
    for _ in 0..300 {
        if json(&send(reqwest::Method::GET, format!("/v1.0/backup/{again}"), None).await.1)["CurrentState"] == "Completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let report = json(&send(reqwest::Method::GET, format!("/v1.0/backup/report/{again}"), None).await.1);
    assert_eq!((report["FilesSearched"].as_str(), report["FilesBackedUp"].as_str()), (Some("8"), Some("0")), "{report}");
    assert_eq!(report["Diagnostics"], "Completed: 8 file(s) searched, 0 backed up, 8 already in the store, no errors");

    // Deleted, the configuration is still named in its backups' reports, which say it is gone.
    let (status, _) = send(reqwest::Method::DELETE, format!("/v1.0/backup-configuration/{config_id}"), None).await;
    assert_eq!(status, 200);
    let report = json(&send(reqwest::Method::GET, format!("/v1.0/backup/report/{backup_id}"), None).await.1);
    assert_eq!(
        (
            report["BackupConfigurationIsDeleted"].as_bool(),
            report["BackupConfigurationName"].as_str(),
            report["BackupConfigurationId"].as_i64()
        ),
        (Some(true), Some("files"), Some(config_id)),
        "{report}"
    );
    let details = json(&send(reqwest::Method::GET, format!("/v1.0/backup/{backup_id}"), None).await.1);
    assert_eq!(details["BackupConfigurationName"], "files");
}

#[tokio::test]
async fn a_stopped_backup_an_unreadable_file_and_a_disabled_or_deleted_agent_read_as_cloud_backup_says() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", Some("default")).await;
    let (key, _) = app.api_key(&operator, false).await;
    let agent = crate::helpers::start_agent_bound_by_permissions(&app, &key, "files02").await;
    let root = tempfile::tempdir().unwrap();
    crate::helpers::tree::generate(&root.path().join("data"), 6, 9);
    let secret = root.path().join("data/secret.key");
    std::fs::write(&secret, b"top secret").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let locked = root.path().join("data/locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("inside"), b"unseen").unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let (app_ref, token) = (&app, operator.as_str());
    let send = move |method: reqwest::Method, path: String, body: Option<Value>| async move {
        let (status, text) = call(app_ref, token, method, &path, body).await;
        (status, parsed(&text))
    };
    let agent_id = agent_id(&app, &operator, "files02").await;
    let config = serde_json::json!({
        "BackupConfigurationName": "data", "MachineAgentId": agent_id, "Frequency": "Manually", "TimeZoneId": "UTC",
        "Inclusions": [{ "FilePath": root.path().join("data").display().to_string(), "FileItemType": "Folder" }], "Exclusions": [],
    });
    let (_, created) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(config)).await;
    let config_id = created["BackupConfigurationId"].as_i64().unwrap();
    let start = serde_json::json!({ "Action": "StartManual", "Id": config_id });

    let (status, started) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(start.clone())).await;
    assert_eq!(status, 200, "{started}");
    let backup_id = started.as_i64().expect("a bare integer");
    let mut details = Value::Null;
    for _ in 0..300 {
        details = send(reqwest::Method::GET, format!("/v1.0/backup/{backup_id}"), None).await.1;
        if !["StartRequested", "Queued", "Preparing", "InProgress"].contains(&details["CurrentState"].as_str().unwrap()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(details["CurrentState"], "CompletedWithErrors", "{details}");
    let (_, report) = send(reqwest::Method::GET, format!("/v1.0/backup/report/{backup_id}"), None).await;
    assert_eq!((report["NumErrors"].as_u64(), report["CanRestore"].as_bool()), (Some(2), Some(true)), "{report}");
    assert_eq!(report["ErrorList"][0]["Path"], locked.display().to_string(), "a directory it may not enter");
    assert_eq!(report["ErrorList"][1]["Path"], secret.display().to_string(), "the path as the machine names it");
    assert!(report["ErrorList"][1]["ErrorDesc"].as_str().unwrap().contains("ermission"), "{report}");
    assert_eq!(
        (report["ErrorList"][1]["ErrorType"].as_i64(), report["ErrorList"][1]["ExceptionCode"].as_i64()),
        (Some(101), Some(13)),
        "the seed's code for a file the agent could not read, and the system's error number: {report}"
    );
    assert_eq!(report["ErrorList"][1]["BackupReportID"], backup_id);
    assert_eq!(report["FilesBackedUp"], "6");
    assert_eq!(report["State"], "CompletedWithErrors");
    assert_eq!(report["Reason"], "CompletedWithErrors", "the reason does not say Success when files were left out: {report}");
    assert_eq!(
        report["Diagnostics"].as_str().unwrap(),
        format!(
            "Completed With Errors: 6 file(s) searched, 6 backed up, 0 already in the store; 2 file(s) could not be read (first: {}: {})",
            locked.display(),
            report["ErrorList"][0]["ErrorDesc"].as_str().unwrap()
        ),
        "{report}"
    );
    let (_, completed) = send(reqwest::Method::GET, format!("/v1.0/backup/completed/{config_id}"), None).await;
    assert_eq!(completed[0]["NumErrors"], 2, "restorable with errors: {completed}");

    // With the agent gone, a started backup waits in the queue; stopping it ends it at once.
    drop(agent);
    let (_, started) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(start.clone())).await;
    let second = started.as_i64().expect("a bare integer");
    assert_eq!(send(reqwest::Method::GET, format!("/v1.0/backup/{second}"), None).await.1["CurrentState"], "StartRequested");
    let waiting = send(reqwest::Method::GET, format!("/v1.0/backup/report/{second}"), None).await.1;
    assert_eq!(
        (&waiting["StartTime"], waiting["Diagnostics"].as_str(), waiting["CanRestore"].as_bool()),
        (&Value::Null, Some("Waiting for the agent to take it"), Some(false)),
        "no agent has started it: {waiting}"
    );
    let stop = serde_json::json!({ "Action": "StopManual", "Id": second.to_string() });
    let (status, body) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(stop.clone())).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(send(reqwest::Method::GET, format!("/v1.0/backup/{second}"), None).await.1["CurrentState"], "Stopped");
    let stopped = send(reqwest::Method::GET, format!("/v1.0/backup/report/{second}"), None).await.1;
    assert_eq!(stopped["Diagnostics"], "Stopped on request before it completed; nothing of it can be restored");
    let (status, body) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(stop)).await;
    assert_eq!(status, 409, "a stopped backup stops once: {body}");
    assert_eq!(body["conflictingRequest"]["code"], 409, "a Rackspace fault: {body}");

    // Disabled: no backups start, and the agent says so.
    let disable = serde_json::json!({ "MachineAgentId": agent_id, "Enable": false });
    let (status, body) = send(reqwest::Method::POST, "/v1.0/agent/enable".into(), Some(disable)).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(send(reqwest::Method::GET, format!("/v1.0/agent/{agent_id}"), None).await.1["IsDisabled"], true);
    let (status, refused) = send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(start.clone())).await;
    assert_eq!(status, 409, "the agent's state forbids it: {refused}");
    assert!(refused["conflictingRequest"]["message"].as_str().unwrap().contains("disabled"), "{refused}");
    let enable = serde_json::json!({ "MachineAgentId": agent_id.to_string(), "Enable": true });
    assert_eq!(send(reqwest::Method::POST, "/v1.0/agent/enable".into(), Some(enable)).await.0, 204);
    assert_eq!(
        send(reqwest::Method::POST, "/v1.0/agent/enable".into(), Some(serde_json::json!({ "MachineAgentId": agent_id }))).await.0,
        400
    );
    let maybe = serde_json::json!({ "MachineAgentId": agent_id, "Enable": "maybe" });
    assert_eq!(send(reqwest::Method::POST, "/v1.0/agent/enable".into(), Some(maybe)).await.0, 400);
    assert_eq!(
        send(reqwest::Method::GET, format!("/v1.0/agent/{agent_id}"), None).await.1["IsDisabled"],
        false,
        "nonsense changes nothing"
    );
    let bad_id = serde_json::json!({ "Action": "StartManual", "Id": "x" });
    assert_eq!(send(reqwest::Method::POST, "/v1.0/backup/action-requested".into(), Some(bad_id)).await.0, 400);

    let settings = serde_json::json!({ "BackupDataCenter": "DFW", "UseServiceNet": true });
    let (status, updated) = send(reqwest::Method::POST, format!("/v1.0/agent/{agent_id}"), Some(settings)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!((updated["UseServiceNet"].as_bool(), updated["BackupDataCenter"].as_str()), (Some(true), Some("DFW")));
    assert!(updated["TimeOfLastSuccessfulBackup"].as_str().unwrap().starts_with("/Date("), "{updated}");
    assert_ne!(updated["BackupVaultSize"], "0 B", "the vault holds the backups: {updated}");
    let (status, body) =
        send(reqwest::Method::POST, format!("/v1.0/agent/{agent_id}"), Some(serde_json::json!({ "BackupDataCenter": "MARS" }))).await;
    assert_eq!(status, 404, "a data centre this server does not serve is not found: {body}");
    assert!(body["itemNotFound"]["message"].as_str().unwrap().contains("'MARS'"), "{body}");

    let (status, body) =
        send(reqwest::Method::POST, "/v1.0/agent/delete".into(), Some(serde_json::json!({ "MachineAgentId": agent_id }))).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(send(reqwest::Method::GET, format!("/v1.0/agent/{agent_id}"), None).await.0, 404);
    assert_eq!(
        send(reqwest::Method::GET, format!("/v1.0/backup-configuration/{config_id}"), None).await.0,
        404,
        "its configurations go with it"
    );
    let (_, agents) = send(reqwest::Method::GET, "/v1.0/user/agents".into(), None).await;
    assert!(!agents.as_array().unwrap().iter().any(|a| a["MachineAgentId"] == agent_id), "{agents}");
}

#[tokio::test]
async fn a_configuration_request_is_refused_only_for_what_its_schema_rules_out() {
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", Some("default")).await;
    let (key, _) = app.api_key(&operator, false).await;
    let _agent = crate::helpers::start_agent(&app, &key, "web03").await;
    let (app_ref, token) = (&app, operator.as_str());
    let send = move |method: reqwest::Method, path: String, body: Option<Value>| async move {
        let (status, text) = call(app_ref, token, method, &path, body).await;
        (status, parsed(&text))
    };
    let agent_id = agent_id(&app, &operator, "web03").await;
    let base = serde_json::json!({ "BackupConfigurationName": "x", "MachineAgentId": agent_id, "Inclusions": [{ "FilePath": "/srv" }] });
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    // Accepted: characters, not bytes, count; numbers as strings with leading zeros; AM/PM in any case;
    // codes as their strings; a Windows or IANA zone; a path kept exactly as sent.
    let long_name: String = "é".repeat(255);
    for accepted in [
        with(serde_json::json!({ "BackupConfigurationName": long_name })),
        with(serde_json::json!({ "Frequency": "Daily", "StartTimeHour": "07", "StartTimeMinute": " 05 ", "StartTimeAmPm": "pm" })),
        with(serde_json::json!({ "Frequency": "Weekly", "DayOfWeekId": "0", "VersionRetention": "60", "TimeZoneId": "Europe/Paris" })),
        with(serde_json::json!({ "Frequency": "Hourly", "HourInterval": 24, "TimeZoneId": "", "MachineAgentId": format!(" {agent_id} ") })),
        with(serde_json::json!({ "Inclusions": [{ "FilePath": "/srv/a ..b/. /" }] })),
    ] {
        let (status, created) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(accepted.clone())).await;
        assert_eq!(status, 200, "{accepted}: {created}");
        assert_eq!(created["BackupConfigurationName"], accepted["BackupConfigurationName"]);
        assert_eq!(created["Inclusions"][0]["FilePath"], accepted["Inclusions"][0]["FilePath"], "not trimmed");
    }
    let (_, hourly) = send(reqwest::Method::GET, "/v1.0/backup-configuration".into(), None).await;
    let daily = hourly.as_array().unwrap().iter().find(|c| c["Frequency"] == "Daily").unwrap().clone();
    assert_eq!(
        (daily["StartTimeHour"].as_i64(), daily["StartTimeMinute"].as_i64(), daily["StartTimeAmPm"].as_str()),
        (Some(7), Some(5), Some("PM"))
    );

    // Refused with a 400 naming the rule: each is outside the schema.
    for (refused, words) in [
        (
            with(serde_json::json!({ "BackupConfigurationName": "é".repeat(256) })),
            "`BackupConfigurationName` verification failed. maxLength(255)",
        ),
        (with(serde_json::json!({ "BackupConfigurationName": " \u{3000} " })), "`BackupConfigurationName` verification failed. pattern"),
        (with(serde_json::json!({ "BackupConfigurationName": "a\tb" })), "`BackupConfigurationName` verification failed. pattern"),
        (with(serde_json::json!({ "Frequency": "Weekly" })), "a weekly configuration needs DayOfWeekId"),
        (with(serde_json::json!({ "Frequency": "Weekly", "DayOfWeekId": null })), "a weekly configuration needs DayOfWeekId"),
        (with(serde_json::json!({ "DayOfWeekId": 7 })), "expected a whole number from 0 to 6, not 7"),
        (with(serde_json::json!({ "StartTimeHour": "13" })), "expected a whole number from 1 to 12, not 13"),
        (with(serde_json::json!({ "StartTimeAmPm": "XM" })), "`StartTimeAmPm` verification failed"),
        (with(serde_json::json!({ "TimeZoneId": "Mars/Olympus" })), "unknown TimeZoneId \"Mars/Olympus\""),
        (with(serde_json::json!({ "VersionRetention": " 30" })), "\" 30\" is not one of: 0 (keep every version), 30 or 60 (days)"),
        (with(serde_json::json!({ "MachineAgentId": "+1" })), "expected a whole number (at most 18 digits), not '+1'"),
        (with(serde_json::json!({ "Inclusions": [{ "FilePath": "/srv/../etc" }] })), "`FilePath` verification failed"),
    ] {
        let (status, body) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(refused.clone())).await;
        assert_eq!(status, 400, "{refused}: {body}");
        assert!(body["badRequest"]["message"].as_str().unwrap().contains(words), "{refused}: {body}");
    }
}
