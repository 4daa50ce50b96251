//! Rackspace's own Cloud Backup SDK against Coffer: the whole lifecycle with its own classes.

use serde_json::Value;

use crate::helpers::spawn_app;

/// Rackspace's own python-cloudbackup-sdk 0.20.0 (tests/compat/cloudbackup_lifecycle.py) logs in with
/// an API key and a password, finds a real `coffer agent`, and runs a configuration's backups (one
/// Completed, one stopped while queued, one CompletedWithErrors over an unreadable file), a restore
/// compared byte for byte, the activity rows and the clean-up, with its own classes.
#[tokio::test]
async fn rackspace_cloudbackup_sdk_runs_the_agent_backup_restore_and_activity_lifecycle() {
    let Some(python) = crate::keystoneauth::cloudbackup_python() else { return };
    let app = spawn_app().await;
    let operator = app.user_with_role("ops", "operator", Some("default")).await;
    let (key, _) = app.api_key(&operator, false).await;
    let work = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/cloudbackup_lifecycle.py");
    let args = [
        app.base.clone(),
        env!("CARGO_BIN_EXE_coffer").to_owned(),
        "ops".into(),
        "ops-password".into(),
        key,
        work.path().display().to_string(),
    ];
    let home = work.path().to_path_buf();
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(python).arg(script).args(args).env("HOME", home).output().unwrap())
            .await
            .unwrap();
    assert!(out.status.success(), "the SDK run failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let path = |p: &str| work.path().join(p).display().to_string();
    let ctx = serde_json::to_string_pretty(&r).unwrap();

    // Identity: both credentials, through the SDK's Authentication, and the catalog it reads.
    for (login, by) in [("apikey_login", "APIKEY"), ("password_login", "PASSWORD")] {
        assert_eq!(
            r[login],
            serde_json::json!({ "token": true, "tenant": "default", "user": "ops", "authenticated_by": [by], "expired": false, "cached": true }),
            "{login}"
        );
    }
    assert_eq!(r["catalog_url"], format!("{}/v1.0/default", app.base));

    // The agent, found by name, read in full, woken, disabled and enabled.
    let agent_id = r["agent_id"].as_i64().expect("an integer agent id");
    assert_eq!(r["agents_found_by_name"], 1);
    assert_eq!(r["agent_ids"], serde_json::json!({ "apikey": true, "password": true }), "both tokens list it");
    assert_eq!(
        r["agent"],
        serde_json::json!({
            "MachineName": "sdk-agent", "Status": "Online", "IsDisabled": false, "Datacenter": "DFW", "Flavor": "RaxCloudServer",
            "HostServerId": true, "PublicKey": ["ExponentHex", "ModulusHex"], "last_backup_before": null,
        })
    );
    assert_eq!(r["wake"], 200);
    assert_eq!(r["disable_enable"], serde_json::json!([true, true, true, false]), "disabled reads as disabled, then enabled again");

    // The configuration: two folders in, a subfolder of one out; renamed by the SDK's PUT; enabled, disabled.
    let config_id = r["config_id"].as_i64().expect("an integer configuration id");
    let config = |name: &str| {
        serde_json::json!({
            "id": config_id, "name": name, "agent": agent_id, "active": false, "frequency": "Manually", "time_zone": "UTC", "retention": 30,
            "inclusions": [[path("src/a"), "Folder", "Include"], [path("src/b"), "Folder", "Include"]],
            "exclusions": [[path("src/a/skip"), "Folder", "Exclude"]],
        })
    };
    assert_eq!(r["config_read"], config("sdk-files"));
    assert_eq!(r["config_updated"], true);
    assert_eq!(r["config_after_update"], config("sdk-files-renamed"));
    assert_eq!(r["config_enable_disable"], serde_json::json!([true, true, true, false]));

    // The first backup: Completed, listed as completed, reported, available for restore.
    let first = &r["first"];
    let first_id: i64 = first["snapshot_text"].as_str().unwrap().parse().expect("StartManual answers a bare integer");
    assert_eq!(first["state"], "Completed", "{ctx}");
    assert_eq!((first["BackupId"].as_i64(), first["BackupConfigurationId"].as_i64()), (Some(first_id), Some(config_id)));
    assert_eq!((first["MachineAgentId"].as_i64(), first["MachineName"].as_str()), (Some(agent_id), Some("sdk-agent")));
    assert_eq!(first["BackupConfigurationName"], "sdk-files-renamed");
    assert_eq!((first["Datacenter"].as_str(), first["BackupDatacenter"].as_str()), (Some("DFW"), Some("DFW")));
    assert_eq!(first["EncryptionKey"], serde_json::json!(["ExponentHex", "ModulusHex"]));
    assert_eq!((first["completed_listed"].as_i64(), first["completed_found"].as_bool()), (Some(1), Some(true)));
    assert_eq!(r["source_files"], 7);
    assert_eq!(first["completed_bytes"], r["source_bytes"], "BytesSearched counts a and b without a/skip");
    assert_eq!(first["completed_errors"], 0);
    assert_eq!(
        first["report"],
        serde_json::json!({
            "BackupId": first_id, "BackupConfigurationId": config_id, "State": "Completed", "CanRestore": true,
            "FilesSearched": "7", "BytesSearched": "3.1 MB", "FilesBackedUp": "6", "BytesBackedUp": "3.1 MB",
            "NumErrors": 0, "Reason": "Success", "ErrorList": [], "ComputerName": "sdk-agent", "Duration": 8,
        }),
        "Duration is HH:MM:SS; the empty file is searched, with no content to store"
    );
    assert_eq!(r["available_for_restore"], serde_json::json!([200, [agent_id]]));
    assert_eq!(r["agent_last_backup_set"], true);

    // The second backup, stopped while queued.
    let second = &r["second"];
    let second_id = second["id"].as_i64().unwrap();
    assert_ne!(second_id, first_id);
    assert_eq!(second["queued"], "StartRequested", "the paused agent cannot take it");
    assert_eq!(second["stop"], serde_json::json!([204, ""]));
    assert_eq!(second["state"], "Stopped");
    assert_eq!(second["completed_listed"], false, "a stopped backup cannot be restored");

    // The restore of the first backup into a new directory.
    let restore = &r["restore"];
    let restore_id = restore["id"].as_i64().expect("an integer restore id");
    assert_eq!((restore["created_state"].as_i64(), restore["created_config"].as_i64()), (Some(0), Some(config_id)));
    assert_eq!(restore["created_destination"], path("restored"));
    assert_eq!(restore["include"], serde_json::json!([true, true]));
    assert_eq!(restore["files"], serde_json::json!([[path("src/a"), 1, 1, restore_id], [path("src/b"), 1, 1, restore_id]]));
    assert_eq!((restore["started"].as_bool(), restore["state"].as_i64()), (Some(true), Some(3)), "Completed: {ctx}");
    assert_eq!(restore["BackupId"], first_id);
    assert_eq!(
        restore["report"],
        serde_json::json!({
            "State": "Completed", "Reason": "Success", "NumFilesRestored": "7", "NumErrors": "0",
            "RestoreDestination": path("restored"), "ErrorList": [],
        })
    );
    assert_eq!(
        (&r["restored_files"], &r["restored_identical"], &r["excluded_absent"], &r["left_out_absent"]),
        (&serde_json::json!(7), &Value::Bool(true), &Value::Bool(true), &Value::Bool(true)),
        "every file back byte for byte under its full original path, a/skip and c absent"
    );
    let placed = work.path().join("restored").join(work.path().strip_prefix("/").unwrap()).join("src/a");
    let mut expected = crate::helpers::tree::fingerprint(&work.path().join("src/a"));
    expected.retain(|k, _| !k.starts_with("skip/"));
    assert_eq!(crate::helpers::tree::fingerprint(&placed), expected, "checked here too, for a");

    // The third backup, over a mode-000 file: CompletedWithErrors, the file named in the report.
    let third = &r["third"];
    let secret = path("src/b/secret.key");
    assert_eq!(
        (third["state"].as_str(), third["report_state"].as_str()),
        (Some("CompletedWithErrors"), Some("CompletedWithErrors")),
        "{ctx}"
    );
    assert_eq!((third["can_restore"].as_bool(), third["num_errors"].as_i64()), (Some(true), Some(1)));
    assert_eq!(third["error_paths"], serde_json::json!([secret]));
    assert!(third["error_descs"][0].as_str().unwrap().contains("ermission"), "{ctx}");
    assert_eq!(third["files_backed_up"], "0", "the readable files are searched, and unchanged since the first backup stored them");
    assert_eq!(third["completed_errors"], serde_json::json!([1]), "restorable, with one error");
    let third_id = third["id"].as_i64().unwrap();

    // Activity: the SDK's view of the configuration's backups, and the raw rows it cannot show.
    let mut states = serde_json::Map::new();
    for (id, state) in [(first_id, "Completed"), (second_id, "Stopped"), (third_id, "CompletedWithErrors")] {
        states.insert(id.to_string(), state.into());
    }
    assert_eq!(r["activity_backups"], Value::Object(states));
    assert_eq!(r["activity_backup_agents"], serde_json::json!([agent_id]));
    assert_eq!(
        r["activity"],
        serde_json::json!({
            "status": 200,
            "backup_row": [first_id, first_id, config_id, "Completed"],
            "restore_row": [restore_id, "Completed", agent_id],
        }),
        "a Backup row's ID is its BackupId"
    );

    // Clean-up with the SDK.
    assert_eq!((r["config_deleted"].as_bool(), r["config_gone"].as_bool()), (Some(true), Some(true)));
    assert_eq!((r["agent_removed"].as_bool(), r["agent_details_after_remove"].as_bool()), (Some(true), Some(false)));
}
