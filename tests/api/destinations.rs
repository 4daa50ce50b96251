//! Destinations on real servers on 127.0.0.1: moto (S3) started per test, Azurite (Azure Blob)
//! started by scripts/test.sh on its default port.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, backup_and_wait, get, machine, post, restore_and_wait, spawn_app, tree, wait_for},
    keystoneauth::python,
};

/// A moto S3 server on a free port; killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn moto(port: Option<u16>) -> Option<Moto> {
    let python = python()?;
    let bin = std::path::Path::new(&python).with_file_name("moto_server");
    // A free port can be taken by another test's server before ours binds it: then ours exits,
    // and the answer would come from the other one. Only a server of our own that answers counts.
    for _ in 0..5 {
        let port = port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let mut server = Moto { child, endpoint: format!("http://127.0.0.1:{port}"), port };
        for _ in 0..100 {
            if server.child.try_wait().ok().flatten().is_some() {
                break;
            }
            if reqwest::get(&server.endpoint).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if server.child.try_wait().ok().flatten().is_none() {
                    return Some(server);
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("moto did not start");
}

pub fn make_container(args: &[&str]) {
    let python = python().expect("client virtualenv");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/make_container.py");
    let out = Command::new(python).arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "make_container {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub async fn azurite_up() -> bool {
    if reqwest::get("http://127.0.0.1:10000/").await.is_ok() {
        return true;
    }
    crate::helpers::skipping("Azurite is not listening on 127.0.0.1:10000 (scripts/test.sh starts it)");
    false
}

/// Adds the moto bucket as a destination and answers its id.
/// The Azurite account every emulator knows, and its published key.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A private Azurite on its own port and data directory, for tests that stop and restart it
/// (the shared one on 10000 serves the other tests); stopped when dropped.
struct Azurite {
    child: Child,
    port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `azurite-blob` that scripts/test.sh installs into `.tools`, or `COFFER_TEST_AZURITE`.
fn azurite_bin() -> Option<std::path::PathBuf> {
    let bin = std::env::var_os("COFFER_TEST_AZURITE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin/azurite-blob"));
    if bin.exists() {
        return Some(bin);
    }
    crate::helpers::skipping(&format!("no azurite-blob at {} (scripts/test.sh installs it)", bin.display()));
    None
}

impl Azurite {
    async fn start(bin: &std::path::Path, port: Option<u16>, data: &std::path::Path) -> Azurite {
        for _ in 0..5 {
            let port = port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
            let child = Command::new(bin)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--silent", "--skipApiVersionCheck", "--location"])
                .arg(data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("azurite-blob starts");
            let mut server = Azurite { child, port };
            for _ in 0..150 {
                if server.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if reqwest::get(format!("http://127.0.0.1:{port}/")).await.is_ok() {
                    return server;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = server.child.kill();
        }
        panic!("a private Azurite did not start");
    }

    fn account_url(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    /// Stops it as a service stops (SIGTERM), so what it stored is there when it comes back.
    fn stop(mut self) -> u16 {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.port
    }
}

async fn s3_destination(app: &TestApp, token: &str, s3: &Moto, bucket: &str) -> String {
    let body =
        json!({ "kind": "s3", "path": bucket, "endpoint": s3.endpoint, "path_style": true, "access_key": "AKTEST", "secret": "SKTEST" });
    let (status, dest) = post(app, token, "/admin/v1/destinations", body).await;
    assert_eq!(status, 201, "{dest}");
    dest["id"].as_str().unwrap().to_owned()
}

async fn round_trip(app: &TestApp, token: &str, destination: &str, src: &std::path::Path) -> String {
    let id = machine(app, token, "files", src).await;
    let op = backup_and_wait(app, token, json!({ "source_id": id, "destination_id": destination })).await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let backup_id = op["backup_id"].as_str().unwrap().to_owned();
    let out = tempfile::tempdir().unwrap();
    let restored = restore_and_wait(app, token, &backup_id, json!({ "target": { "type": "path", "path": out.path() } })).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(tree::fingerprint(src), tree::fingerprint(out.path()));
    backup_id
}

#[tokio::test]
async fn a_tree_backed_up_to_s3_restores_bit_exact_and_the_secret_never_shows() {
    let Some(s3) = moto(None).await else { return };
    make_container(&["s3", &s3.endpoint, "backups"]);
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let secret = "SKTEST-very-secret-value";
    let (status, dest) = post(
        &app,
        &token,
        "/admin/v1/destinations",
        json!({ "name": "moto", "kind": "s3", "path": "backups/team-a", "endpoint": s3.endpoint, "path_style": true, "region": "us-east-1", "access_key": "AKTEST", "secret": secret }),
    )
    .await;
    assert_eq!(status, 201, "{dest}");
    assert_eq!(dest["config"]["access_key"], "AKTEST");
    assert!(!dest.to_string().contains(secret), "{dest}");
    assert!(dest["secret"].as_str().unwrap().contains('*'));
    let dest_id = dest["id"].as_str().unwrap().to_owned();
    let (_, listed) = get(&app, &token, "/admin/v1/destinations").await;
    assert!(!listed.to_string().contains(secret));
    let (_, one) = get(&app, &token, &format!("/admin/v1/destinations/{dest_id}")).await;
    assert!(!one.to_string().contains(secret));
    if app.database_url.starts_with("sqlite:") {
        let db = std::fs::read(app.data_dir.join("coffer.db")).unwrap();
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "the database file holds the secret in clear");
    }

    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 300, 11);
    round_trip(&app, &token, &dest_id, src.path()).await;
}

#[tokio::test]
async fn a_destination_that_fails_its_probe_is_refused_with_the_providers_reason() {
    let Some(s3) = moto(None).await else { return };
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let (status, body) = post(
        &app,
        &token,
        "/admin/v1/destinations",
        json!({ "kind": "s3", "path": "no-such-bucket", "endpoint": s3.endpoint, "path_style": true, "access_key": "AK", "secret": "SK" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("failed validation") && message.to_lowercase().contains("bucket"), "{message}");
    let (status, body) = post(&app, &token, "/admin/v1/destinations", json!({ "kind": "tape" })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&app, &token, "/admin/v1/destinations", json!({ "kind": "localfs", "path": "relative/dir" })).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_tree_backed_up_to_azure_restores_bit_exact() {
    if python().is_none() || !azurite_up().await {
        return;
    }
    let container = format!("c{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    make_container(&["azure", &container]);
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let (status, dest) = post(
        &app,
        &token,
        "/admin/v1/destinations",
        json!({ "name": "azurite", "kind": "azure", "container_name": container, "subfolder": "my/backups", "use_emulator": true }),
    )
    .await;
    assert_eq!(status, 201, "{dest}");
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 200, 12);
    round_trip(&app, &token, dest["id"].as_str().unwrap(), src.path()).await;
}

#[tokio::test]
async fn a_backup_copied_to_s3_and_to_a_region_restores_from_either_after_the_original_is_gone() {
    let Some(s3) = moto(None).await else { return };
    make_container(&["s3", &s3.endpoint, "copies"]);
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let s3_id = s3_destination(&app, &token, &s3, "copies").await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 200, 13);
    let id = machine(&app, &token, "files", src.path()).await;
    let op = backup_and_wait(&app, &token, json!({ "source_id": id })).await;
    let backup_id = op["backup_id"].as_str().unwrap().to_owned();
    let expected = tree::fingerprint(src.path());

    let (status, copy) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/copy"), json!({ "destination_id": s3_id })).await;
    assert_eq!(status, 202, "{copy}");
    let copied = wait_for(&app, &token, copy["id"].as_str().unwrap()).await;
    assert_eq!(copied["state"], "succeeded", "{copied}");
    assert!(copied["result"]["new_chunks"].as_u64().unwrap() > 0);
    let (_, region) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/copy"), json!({ "region": "iad" })).await;
    let region_op = wait_for(&app, &token, region["id"].as_str().unwrap()).await;
    assert_eq!(region_op["state"], "succeeded", "{region_op}");
    let (status, refused) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/copy"), json!({ "region": "LON" })).await;
    assert_eq!(status, 404, "a region not served here is not found: {refused}");
    let (status, again) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/copy"), json!({ "destination_id": s3_id })).await;
    assert_eq!(status, 409, "{again}");

    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{backup_id}")).await;
    let copies: Vec<String> = backup["copies"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(copies.len(), 2);
    assert!(copies.contains(&s3_id));

    // The original data and the server's own store are lost; the copies still restore.
    std::fs::remove_dir_all(src.path()).unwrap();
    std::fs::remove_dir_all(app.data_dir.join("store")).unwrap();
    for from in &copies {
        let out = tempfile::tempdir().unwrap();
        let restored =
            restore_and_wait(&app, &token, &backup_id, json!({ "destination_id": from, "target": { "type": "path", "path": out.path() } }))
                .await;
        assert_eq!(restored["state"], "succeeded", "{restored}");
        assert_eq!(tree::fingerprint(out.path()), expected);
    }
}

#[tokio::test]
async fn a_backup_to_s3_that_goes_away_fails_cleanly_and_succeeds_once_it_is_back() {
    let Some(s3) = moto(None).await else { return };
    make_container(&["s3", &s3.endpoint, "flaky"]);
    let app = spawn_app().await;
    let token = app.user_with_role("ops", "operator", None).await;
    let dest_id = s3_destination(&app, &token, &s3, "flaky").await;
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 400, 14);
    let id = machine(&app, &token, "files", src.path()).await;
    let port = s3.port;
    let (status, started) = post(
        &app,
        &token,
        "/admin/v1/backups",
        json!({ "source_id": id, "destination_id": dest_id, "options": { "throttle_bytes_per_sec": 20_000_000 } }),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s3);
    let ended = wait_for(&app, &token, started["operation"]["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"], "failed", "{ended}");
    assert!(ended["error"].as_str().unwrap().contains("unavailable") || ended["error"].as_str().unwrap().contains("storage"), "{ended}");
    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{}", started["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(backup["state"], "failed");

    let _s3 = moto(Some(port)).await.unwrap();
    make_container(&["s3", &format!("http://127.0.0.1:{port}"), "flaky"]);
    let op = backup_and_wait(&app, &token, json!({ "source_id": id, "destination_id": dest_id })).await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let out = tempfile::tempdir().unwrap();
    let restored =
        restore_and_wait(&app, &token, op["backup_id"].as_str().unwrap(), json!({ "target": { "type": "path", "path": out.path() } }))
            .await;
    assert_eq!(restored["state"], "succeeded");
    assert_eq!(tree::fingerprint(src.path()), tree::fingerprint(out.path()));
    let _: Value = Value::Null;
}

#[tokio::test]
async fn a_region_mapped_to_a_destination_receives_copies_there() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.region_destinations.insert("ORD".into(), "ord-store".into());
    })
    .await;
    let token = app.user_with_role("ops", "operator", None).await;
    let dir = tempfile::tempdir().unwrap();
    let (status, dest) =
        post(&app, &token, "/admin/v1/destinations", json!({ "name": "ord-store", "kind": "localfs", "path": dir.path() })).await;
    assert_eq!(status, 201, "{dest}");
    let src = tempfile::tempdir().unwrap();
    tree::generate(src.path(), 20, 15);
    let id = machine(&app, &token, "files", src.path()).await;
    let op = backup_and_wait(&app, &token, json!({ "source_id": id })).await;
    let backup_id = op["backup_id"].as_str().unwrap();
    let (status, copy) = post(&app, &token, &format!("/admin/v1/backups/{backup_id}/copy"), json!({ "region": "ord" })).await;
    assert_eq!(status, 202, "{copy}");
    assert_eq!(wait_for(&app, &token, copy["id"].as_str().unwrap()).await["state"], "succeeded");
    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{backup_id}")).await;
    assert_eq!(backup["copies"], json!([dest["id"]]));
    assert!(dir.path().join("coffer").read_dir().unwrap().next().is_some(), "the copy landed in the mapped destination's directory");
}

#[tokio::test]
async fn an_s3_outage_mid_backup_fails_it_clearly_and_backups_work_again_once_s3_is_back() {
    let Some(s3) = moto(None).await else { return };
    let app = crate::helpers::spawn_app_with(|s| s.storage_retries = 2).await;
    let token = app.user_with_role("ops", "operator", None).await;
    make_container(&["s3", &s3.endpoint, "outage"]);
    let dest = s3_destination(&app, &token, &s3, "outage").await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("big.bin"), (0..3_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let id = machine(&app, &token, "files", src.path()).await;

    // Throttled so S3 goes away while the backup is still writing.
    let body = json!({ "source_id": id, "destination_id": dest, "options": { "throttle_bytes_per_sec": 1_000_000 } });
    let (status, started) = post(&app, &token, "/admin/v1/backups", body).await;
    assert_eq!(status, 202, "{started}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let port = s3.port;
    drop(s3);
    let ended = wait_for(&app, &token, started["operation"]["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"], "failed", "an unreachable destination fails the backup: {ended}");
    assert!(ended["error"].as_str().is_some_and(|e| !e.is_empty()), "with its reason: {ended}");
    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{}", started["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(backup["state"], "failed", "never shown complete: {backup}");

    // S3 is back on the same address (empty, as a restarted emulator is): the next backup works and restores.
    let s3 = moto(Some(port)).await.expect("moto restarts");
    make_container(&["s3", &s3.endpoint, "outage"]);
    let op = backup_and_wait(&app, &token, json!({ "source_id": id, "destination_id": dest })).await;
    assert_eq!(op["state"], "succeeded", "{op}");
    let out = tempfile::tempdir().unwrap();
    let restored =
        restore_and_wait(&app, &token, op["backup_id"].as_str().unwrap(), json!({ "target": { "type": "path", "path": out.path() } }))
            .await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(std::fs::read(out.path().join("big.bin")).unwrap(), std::fs::read(src.path().join("big.bin")).unwrap());
}

/// A 2 MiB tmpfs mounted on `dir`; unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn small_disk(dir: &std::path::Path) -> Option<SmallDisk> {
    std::fs::create_dir_all(dir).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"]).arg(dir).stderr(Stdio::null()).status();
    if mounted.is_ok_and(|s| s.success()) {
        return Some(SmallDisk(dir.to_owned()));
    }
    crate::helpers::skipping("cannot mount a small tmpfs here (needs root); the full-disk test did not run");
    None
}

#[tokio::test]
async fn a_full_local_destination_fails_the_backup_clearly_and_keeps_what_it_already_held() {
    let app = spawn_app().await;
    let admin = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let root = tempfile::tempdir().unwrap();
    let Some(_disk) = small_disk(&root.path().join("disk")) else { return };
    let (status, dest) = post(&app, &admin, "/admin/v1/destinations", json!({ "kind": "localfs", "path": root.path().join("disk") })).await;
    assert_eq!(status, 201, "{dest}");
    let dest = dest["id"].as_str().unwrap().to_owned();
    let src = root.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("small.bin"), (0..200_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let (status, machine) = post(&app, &admin, "/admin/v1/machines", json!({ "name": "disk", "root": src })).await;
    assert_eq!(status, 201, "{machine}");
    let id = machine["id"].as_str().unwrap().to_owned();
    let first = backup_and_wait(&app, &admin, json!({ "source_id": id, "destination_id": dest })).await;
    assert_eq!(first["state"], "succeeded", "{first}");

    std::fs::write(src.join("big.bin"), (0..4_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let second = backup_and_wait(&app, &admin, json!({ "source_id": id, "destination_id": dest })).await;
    assert_eq!(second["state"], "failed", "{second}");
    assert!(second["error"].as_str().unwrap().to_lowercase().contains("space"), "the reason says the disk is full: {second}");

    let first_id = first["backup_id"].as_str().unwrap();
    let (_, verify) = post(&app, &admin, &format!("/admin/v1/backups/{first_id}/verify"), json!({})).await;
    assert_eq!(wait_for(&app, &admin, verify["id"].as_str().unwrap()).await["state"], "succeeded", "the first backup is intact");
    let out = root.path().join("out");
    let restored = restore_and_wait(&app, &admin, first_id, json!({ "target": { "type": "path", "path": out } })).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    assert_eq!(std::fs::read(out.join("small.bin")).unwrap(), std::fs::read(src.join("small.bin")).unwrap());
}

#[tokio::test]
async fn an_azure_outage_mid_backup_fails_it_clearly_and_once_azure_is_back_old_and_new_backups_restore() {
    let Some(bin) = azurite_bin() else { return };
    if python().is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let azure = Azurite::start(&bin, None, data.path()).await;
    make_container(&["azure", "outage", &azure.account_url()]);
    let app = crate::helpers::spawn_app_with(|s| s.storage_retries = 2).await;
    let token = app.user_with_role("ops", "operator", None).await;
    let body = json!({ "kind": "azure", "container_name": "outage", "storage_account_name": AZURITE_ACCOUNT, "secret": AZURITE_KEY,
                       "endpoint": azure.account_url() });
    let (status, dest) = post(&app, &token, "/admin/v1/destinations", body).await;
    assert_eq!(status, 201, "{dest}");
    let dest = dest["id"].as_str().unwrap().to_owned();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("big.bin"), (0..3_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let id = machine(&app, &token, "files", src.path()).await;
    let before = backup_and_wait(&app, &token, json!({ "source_id": id, "destination_id": dest })).await;
    assert_eq!(before["state"], "succeeded", "{before}");
    let first_bytes = std::fs::read(src.path().join("big.bin")).unwrap();

    // Throttled so Azure goes away while the backup is still writing.
    std::fs::write(src.path().join("big.bin"), (0..3_000_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()).unwrap();
    let body = json!({ "source_id": id, "destination_id": dest, "options": { "throttle_bytes_per_sec": 1_000_000 } });
    let (status, started) = post(&app, &token, "/admin/v1/backups", body).await;
    assert_eq!(status, 202, "{started}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let port = azure.stop();
    let ended = wait_for(&app, &token, started["operation"]["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"], "failed", "an unreachable destination fails the backup: {ended}");
    assert!(ended["error"].as_str().is_some_and(|e| !e.is_empty()), "with its reason: {ended}");
    let (_, backup) = get(&app, &token, &format!("/admin/v1/backups/{}", started["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(backup["state"], "failed", "never shown complete: {backup}");

    // Azure is back on the same address with what it held: the backup from before still restores,
    // and a new one runs and restores.
    let _azure = Azurite::start(&bin, Some(port), data.path()).await;
    let after = backup_and_wait(&app, &token, json!({ "source_id": id, "destination_id": dest })).await;
    assert_eq!(after["state"], "succeeded", "{after}");
    for (op, expected) in [(&before, first_bytes), (&after, std::fs::read(src.path().join("big.bin")).unwrap())] {
        let out = tempfile::tempdir().unwrap();
        let target = json!({ "target": { "type": "path", "path": out.path() } });
        let restored = restore_and_wait(&app, &token, op["backup_id"].as_str().unwrap(), target).await;
        assert_eq!(restored["state"], "succeeded", "{restored}");
        assert!(std::fs::read(out.path().join("big.bin")).unwrap() == expected, "restored byte for byte");
    }
}
