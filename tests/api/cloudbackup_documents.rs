//! Cloud Backup as its document and its seed describe it: every operation listed in both path
//! forms with typed bodies, answers shaped as the seed's examples, and `serve --demo`'s machine
//! backed up and restored by user `demo` with no agent of its own.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

async fn send(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path)).header("x-auth-token", token);
    req = match body {
        Some(b) => req.json(&b),
        None => req.header("content-type", "application/json; charset=utf-8"),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The seed's example answers (Cloud Backup v1.0, "Backup operations").
fn seed_details() -> Value {
    json!({
        "BackupId": 134332, "BackupConfigurationId": 158519, "CurrentState": "Queued", "BackupConfigurationName": "Weekly Website Backup",
        "MachineAgentId": 224321, "MachineName": "Web Server", "StateChangeTime": "\\/Date(1358530097000)\\/", "IsEncrypted": false,
        "EncryptionKey": { "ModulusHex": "a3261939975948bb7a58dffe5ff54e65f0498f9", "ExponentHex": 20010 },
    })
}

fn seed_completed() -> Value {
    json!([{
        "BackupId": 134386, "BackupConfigurationId": 158638, "BackupConfigurationName": "Weekly Website Backup", "MachineName": "Web Server",
        "MachineAgentId": 224505, "CompletedTime": "\\/Date(1358535352000)\\/", "BytesSearched": 10245674584_i64, "NumErrors": 0,
    }])
}

fn seed_report() -> Value {
    json!({
        "BackupId": 92500, "BackupConfigurationId": 101145, "BackupConfigurationName": "Database Server Backup",
        "BackupConfigurationIsDeleted": false, "ComputerName": "Database Server", "MachineAgentId": 95874, "State": "CompletedWithErrors",
        "CanRestore": true, "StartTime": "\\/Date(1351118760000)\\/", "CompletedTime": "\\/Date(1351119033000)\\/", "Duration": "00:04:33",
        "FilesSearched": "11936", "BytesSearched": "3.7 GB", "FilesBackedUp": "6", "BytesBackedUp": "178.1 MB", "NumErrors": 2,
        "Reason": "Success", "Diagnostics": "Completed With Errors", "ErrorList": [],
    })
}

/// Where `ours` lacks a key of `seed`'s, or holds it as another JSON kind (a number where the seed
/// has a string...), recursing into objects and the first element of arrays.
fn shape_differences(seed: &Value, ours: &Value, at: &str, out: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if kind(seed) != kind(ours) {
        out.push(format!("{at}: the seed has {}, Coffer {}", kind(seed), kind(ours)));
        return;
    }
    match (seed, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, v) in s {
                match o.get(k) {
                    Some(mine) => shape_differences(v, mine, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}: missing")),
                }
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            if let (Some(s), Some(o)) = (s.first(), o.first()) {
                shape_differences(s, o, &format!("{at}[0]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn user_demo_backs_up_and_restores_the_demo_machines_files_on_the_demo_alone() {
    let app = spawn_app_with(|s| s.demo = true).await;
    let token = app.login("demo", "demo-password").await;
    let (app_ref, token) = (&app, token.as_str());
    let send =
        move |method: reqwest::Method, path: String, body: Option<Value>| async move { send(app_ref, token, method, &path, body).await };

    let (_, agents) = send(reqwest::Method::GET, "/v1.0/user/agents".into(), None).await;
    let local = agents.as_array().unwrap().iter().find(|a| a["MachineName"] == "local").expect("the server's own agent is listed").clone();
    let agent = local["MachineAgentId"].as_i64().unwrap();
    let (_, machines) = send(reqwest::Method::GET, "/admin/v1/sources?kind=machine".into(), None).await;
    let root = machines.as_array().unwrap().iter().find(|m| m["name"] == "demo-machine").unwrap()["nodes"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();

    // A path outside the demo machine is refused, naming it and where the agent backs up.
    let config = |paths: &[&str], name: &str| {
        json!({
            "BackupConfigurationName": name, "MachineAgentId": agent, "Frequency": "Manually", "TimeZoneId": "UTC",
            "Inclusions": paths.iter().map(|p| json!({ "FilePath": p, "FileItemType": "Folder" })).collect::<Vec<_>>(),
            "Exclusions": [{ "FilePath": format!("{root}/logs"), "FileItemType": "Folder" }],
        })
    };
    let (status, refused) = send(reqwest::Method::POST, "/v1.0/backup-configuration".into(), Some(config(&["/etc"], "etc"))).await;
    assert_eq!(status, 409, "what the agent backs up does not hold it: {refused}");
    let message = refused["conflictingRequest"]["message"].as_str().unwrap();
    assert!(message.contains("'/etc'") && message.contains(&root), "{message}");

    // The server's own agent stays: deleting it conflicts with what it is.
    let (status, body) = send(reqwest::Method::POST, "/v1.0/agent/delete".into(), Some(json!({ "MachineAgentId": agent }))).await;
    assert_eq!((status, body["conflictingRequest"]["message"].as_str()), (409, Some("the server's own agent cannot be deleted")));

    let (status, created) = send(reqwest::Method::POST, "/v1.0/demo/backup-configuration".into(), Some(config(&[&root], "site"))).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!((created["MachineAgentId"].as_i64(), created["MachineName"].as_str()), (Some(agent), Some("local")));
    let config_id = created["BackupConfigurationId"].as_i64().unwrap();
    let (_, listed) = send(reqwest::Method::GET, format!("/v1.0/backup-configuration/system/{agent}"), None).await;
    assert_eq!(listed[0]["BackupConfigurationId"], config_id, "{listed}");

    let (status, started) = send(
        reqwest::Method::POST,
        "/v1.0/demo/backup/action-requested".into(),
        Some(json!({ "Action": "StartManual", "Id": config_id.to_string() })),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let backup = started.as_i64().expect("a bare integer");
    let mut details = Value::Null;
    for _ in 0..300 {
        details = send(reqwest::Method::GET, format!("/v1.0/demo/backup/{backup}"), None).await.1;
        if details["CurrentState"] == "Completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(details["CurrentState"], "Completed", "{details}");
    let (_, report) = send(reqwest::Method::GET, format!("/v1.0/backup/report/{backup}"), None).await;
    assert_eq!(
        (report["FilesSearched"].as_str(), report["FilesBackedUp"].as_str(), report["NumErrors"].as_i64()),
        (Some("3"), Some("3"), Some(0)),
        "etc/app.conf, www/index.html and data/report.csv, without logs: {report}"
    );
    let (_, same) = send(reqwest::Method::GET, format!("/v1.0/demo/backup/report/{backup}"), None).await;
    assert_eq!(same["FilesSearched"], report["FilesSearched"], "both path forms answer alike");
    let (_, completed) = send(reqwest::Method::GET, format!("/v1.0/backup/completed/{config_id}"), None).await;

    // Every field of the seed's examples, with the seed's JSON types.
    let mut differences = Vec::new();
    shape_differences(&seed_details(), &details, "details", &mut differences);
    shape_differences(&seed_completed(), &completed, "completed", &mut differences);
    shape_differences(&seed_report(), &report, "report", &mut differences);
    assert!(differences.is_empty(), "{differences:#?}");

    // Restore www into a temporary directory: it lands under its path below the machine's root.
    let out = tempfile::tempdir().unwrap();
    let restore = json!({
        "BackupId": backup, "BackupMachineId": agent, "DestinationMachineId": agent,
        "DestinationPath": out.path().display().to_string(), "OverwriteFiles": false,
    });
    let (status, created) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(restore.clone())).await;
    assert_eq!(status, 200, "{created}");
    let restore_id = created["RestoreId"].as_i64().unwrap();
    let filter = json!({ "ParentId": restore_id, "FilePath": format!("{root}/www"), "FileItemType": "1", "Filter": 1 });
    assert_eq!(send(reqwest::Method::PUT, "/v1.0/restore/files".into(), Some(filter)).await.0, 200);
    let start = json!({ "Action": "StartManual", "Id": restore_id });
    assert_eq!(send(reqwest::Method::POST, "/v1.0/restore/action-requested".into(), Some(start)).await.0, 204);
    let mut restored = Value::Null;
    for _ in 0..300 {
        restored = send(reqwest::Method::GET, format!("/v1.0/restore/{restore_id}"), None).await.1;
        if [3, 4, 5, 8].contains(&restored["RestoreStateId"].as_i64().unwrap()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(restored["RestoreStateId"], 3, "{restored}");
    assert_eq!(std::fs::read_to_string(out.path().join("www/index.html")).unwrap(), "<h1>hello</h1>\n");
    assert!(!out.path().join("etc").exists(), "only www was asked for");

    let mut elsewhere = restore;
    elsewhere["DestinationPath"] = json!("/root/restored");
    let (status, refused) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(elsewhere)).await;
    assert_eq!(status, 403, "the server's own agent writes only where users may: {refused}");
    let mut wrong =
        json!({ "BackupId": backup, "BackupMachineId": agent + 1000, "DestinationMachineId": agent, "DestinationPath": "/tmp" });
    let (status, refused) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(wrong.clone())).await;
    assert_eq!(status, 409, "the backup's machine is another: {refused}");
    assert!(refused["conflictingRequest"]["message"].as_str().unwrap().starts_with("BackupMachineId"), "{refused}");
    wrong["BackupMachineId"] = json!(agent);
    wrong["BackupDataCenter"] = json!("SYD");
    let (status, refused) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(wrong.clone())).await;
    assert_eq!(status, 409, "a region served here, not the backup's: {refused}");
    assert_eq!(refused["conflictingRequest"]["message"], "BackupDataCenter 'SYD' is not where the backup is kept (DFW)");
    wrong["BackupDataCenter"] = json!("LON");
    let (status, refused) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(wrong.clone())).await;
    assert_eq!(status, 404, "a region not served here: {refused}");
    assert_eq!(refused["itemNotFound"]["message"], "BackupDataCenter (data centre) 'LON' not found");
    wrong["BackupDataCenter"] = json!("DFW");
    wrong["DestinationPath"] = json!("/tmp/../etc");
    let (status, refused) = send(reqwest::Method::PUT, "/v1.0/restore".into(), Some(wrong)).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["badRequest"]["message"].as_str().unwrap().contains("field `DestinationPath` verification failed"), "{refused}");
}

#[test]
fn the_document_lists_every_operation_in_both_path_forms_with_typed_bodies() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/cloudbackup.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let short: Vec<&String> = paths.keys().filter(|p| !p.starts_with("/v1.0/{tenant_id}/")).collect();
    assert_eq!(paths.len(), short.len() * 2, "each path twice");
    for path in short {
        let tenant = &paths[&path.replacen("/v1.0/", "/v1.0/{tenant_id}/", 1)];
        for (method, operation) in paths[path].as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert_eq!(tenant[method]["operationId"], format!("{id}_for_tenant"), "{method} {path}");
            assert_eq!(tenant[method]["parameters"][0]["name"], "tenant_id");
            let schemas = operation["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
                .chain(
                    operation["responses"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .filter(|(code, _)| code.starts_with('2'))
                        .flat_map(|(_, r)| r["content"].as_object().into_iter().flat_map(|c| c.values())),
                )
                .map(|media| &media["schema"]);
            for schema in schemas {
                let named = schema["$ref"].as_str().or_else(|| schema["items"]["$ref"].as_str());
                let bare_integer = schema["type"] == "integer" && id == "cloudbackup_backup_action";
                assert!(
                    named.is_some_and(|r| r.starts_with("#/components/schemas/CloudBackup")) || bare_integer,
                    "{method} {path}: {schema}"
                );
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    let mut states: Vec<&str> = schemas["CloudBackupCurrentState"]["enum"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let mut seed = [
        "Queued",
        "InProgress",
        "Skipped",
        "Missed",
        "Stopped",
        "Completed",
        "Failed",
        "Preparing",
        "StartRequested",
        "StartScheduled",
        "StopRequested",
        "CompletedWithErrors",
    ];
    states.sort();
    seed.sort();
    assert_eq!(states, seed);
    assert_eq!(schemas["CloudBackupRestoreStateId"]["enum"], json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(schemas["CloudBackupEncryptionKey"]["properties"]["ExponentHex"]["type"], "integer");
    assert_eq!(schemas["CloudBackupReportError"]["properties"]["ErrorType"]["type"], "integer");
    let lenient: Vec<&Value> = schemas["CloudBackupNumericId"]["anyOf"].as_array().unwrap().iter().map(|s| &s["type"]).collect();
    assert_eq!(lenient, [&json!("integer"), &json!("string")], "ids as numbers or numeric strings");
    assert_eq!(schemas["CloudBackupBackupAction"]["example"], json!({ "Action": "StartManual", "Id": 148325 }), "the seed's example");

    // Path parameters as the seed names and types them (integers: every id Coffer gives is one).
    let parameter = |path: &str| doc["paths"][path]["get"]["parameters"].as_array().unwrap().last().unwrap().clone();
    for (path, name) in [
        ("/v1.0/{tenant_id}/backup/{backupId}", "backupId"),
        ("/v1.0/{tenant_id}/backup/report/{backupId}", "backupId"),
        ("/v1.0/{tenant_id}/backup/completed/{backupConfigurationId}", "backupConfigurationId"),
        ("/v1.0/backup-configuration/{id}", "id"),
        ("/v1.0/restore/{id}", "id"),
    ] {
        assert_eq!(parameter(path)["name"], name, "{path}");
        assert_eq!(parameter(path)["schema"], json!({ "type": "integer", "format": "int64" }), "{path}");
    }
    // What the handlers check is in the schemas.
    let request = &schemas["CloudBackupConfigurationRequest"];
    let name = &request["properties"]["BackupConfigurationName"];
    assert_eq!((name["minLength"].as_u64(), name["maxLength"].as_u64()), (Some(1), Some(255)));
    assert!(name["pattern"].as_str().unwrap().starts_with("^[^\\x00-\\x1f"), "no control characters: {name}");
    assert_eq!(request["anyOf"][1]["required"], json!(["DayOfWeekId"]), "a weekly configuration names its day");
    assert_eq!(schemas["CloudBackupNumber1To12"]["anyOf"][0], json!({ "type": "integer", "minimum": 1.0, "maximum": 12.0 }));
    let zones = schemas["CloudBackupTimeZoneId"]["enum"].as_array().unwrap();
    assert!(["", "Eastern Standard Time", "America/New_York", "UTC"].iter().all(|z| zones.contains(&json!(z))), "{zones:?}");
    assert_eq!(schemas["CloudBackupMissedBackupActionId"]["anyOf"][0]["enum"], json!([1]), "2 is not supported");
    let path_pattern = schemas["CloudBackupCreateRestore"]["properties"]["DestinationPath"]["pattern"].as_str().unwrap();
    assert_eq!(schemas["CloudBackupPath"]["properties"]["FilePath"]["pattern"], path_pattern, "absolute, no '..'");
}
