//! File trees: a machine's files change and are backed up through Cloud Backup; restores through
//! Cloud Backup (a destination directory, include and exclude filters, overwrite or not) and the
//! admin API (back into the machine, or a directory) write exactly the files their filters
//! select, replace existing files only when asked, and leave every other file as it was.

use std::{
    collections::BTreeMap,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, post, spawn_app, start_agent, tree, wait_for};

/// Files under a directory: relative path → (content hash, mode, mtime).
type Files = BTreeMap<String, (String, u32, i64)>;

/// The files under `dir`; none when it does not exist.
fn files_in(dir: &Path) -> Files {
    if dir.exists() { tree::fingerprint(dir) } else { Files::new() }
}

/// Folders the machine's files live in (relative to its root).
const FOLDERS: &[&str] = &["etc", "www", "www/html", "www/cache", "home/a"];

/// A filter as Cloud Backup names it: a path relative to the root, a folder or a file, and
/// whether it leaves the path out.
#[derive(Clone, Debug)]
struct Filter {
    path: String,
    folder: bool,
    exclude: bool,
}

/// Whether `rel` is one of `filters`' paths or under one.
fn under(rel: &str, path: &str) -> bool {
    rel == path || rel.starts_with(&format!("{path}/"))
}

/// The backup's files a restore with `filters` writes: under an included path (everything when
/// none is included) and under no excluded one.
fn selected(backup: &Files, filters: &[Filter]) -> Files {
    let includes: Vec<&Filter> = filters.iter().filter(|f| !f.exclude).collect();
    backup
        .iter()
        .filter(|(rel, _)| includes.is_empty() || includes.iter().any(|f| under(rel, &f.path)))
        .filter(|(rel, _)| !filters.iter().any(|f| f.exclude && under(rel, &f.path)))
        .map(|(p, f)| (p.clone(), f.clone()))
        .collect()
}

/// What a directory holds after a restore places `written` files there.
fn after_restore(before: &Files, written: &Files, overwrite: bool) -> Files {
    let mut out = before.clone();
    for (rel, f) in written {
        if overwrite || !before.contains_key(rel) {
            out.insert(rel.clone(), f.clone());
        }
    }
    out
}

struct World {
    app: TestApp,
    token: String,
    rng: StdRng,
    dir: tempfile::TempDir,
    root: PathBuf,
    agent: i64,
    config: i64,
    /// Cloud Backup's integer id → (Coffer's id, the files it holds).
    backups: Vec<(i64, String, Files)>,
    clock: i64,
    made: usize,
    log: Vec<String>,
}

impl World {
    fn write(&mut self, path: &Path) {
        let len = self.rng.random_range(0..5000);
        let data: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
        let mode = *[0o644, 0o600, 0o755].choose(&mut self.rng).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        self.clock += 1;
        filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(self.clock, 0)).unwrap();
    }

    /// Random new, rewritten and removed files under `dir`'s folders.
    fn change(&mut self, dir: &Path, changes: usize) {
        for _ in 0..changes {
            let folder = dir.join(FOLDERS.choose(&mut self.rng).unwrap());
            let existing: Vec<PathBuf> =
                std::fs::read_dir(&folder).map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect()).unwrap_or_default();
            match self.rng.random_range(0..3) {
                0 if !existing.is_empty() => std::fs::remove_file(existing.choose(&mut self.rng).unwrap()).unwrap(),
                1 if !existing.is_empty() => {
                    let victim = existing.choose(&mut self.rng).unwrap().clone();
                    self.write(&victim);
                }
                _ => {
                    self.made += 1;
                    let name = format!("f{}.txt", self.made % 7);
                    self.write(&folder.join(name));
                }
            }
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let resp =
            self.app.client.request(method, self.app.url(path)).header("x-auth-token", &self.token).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A manual backup of the configuration (the whole root), as the SDK starts one.
    async fn backup(&mut self) {
        let files = files_in(&self.root);
        let (status, started) =
            self.call(reqwest::Method::POST, "/v1.0/backup/action-requested", json!({ "Action": "StartManual", "Id": self.config })).await;
        assert_eq!(status, 200, "{started}");
        let id = started.as_i64().unwrap_or_else(|| panic!("a bare integer, not {started}"));
        let mut state = Value::Null;
        for _ in 0..600 {
            state = self.call(reqwest::Method::GET, &format!("/v1.0/backup/{id}"), Value::Null).await.1;
            if !matches!(state["CurrentState"].as_str(), Some("Queued" | "StartRequested" | "Preparing" | "InProgress")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(state["CurrentState"], "Completed", "{state}");
        let (_, listed) = crate::helpers::get(&self.app, &self.token, "/admin/v1/backups?limit=1").await;
        let coffer_id = listed[0]["id"].as_str().or(listed["backups"][0]["id"].as_str()).unwrap().to_owned();
        self.log.push(format!("backup {id} ({coffer_id}) of {} files", files.len()));
        self.backups.push((id, coffer_id, files));
    }

    fn random_filters(&mut self, backup: &Files) -> Vec<Filter> {
        let mut filters = Vec::new();
        for _ in 0..self.rng.random_range(0..=3) {
            let folder = self.rng.random_bool(0.7) || backup.is_empty();
            let path = if folder {
                FOLDERS.choose(&mut self.rng).unwrap().to_string()
            } else {
                backup.keys().collect::<Vec<_>>().choose(&mut self.rng).unwrap().to_string()
            };
            filters.push(Filter { path, folder, exclude: self.rng.random_bool(0.35) });
        }
        filters
    }

    /// A destination directory: new, or one that already holds files (some at the same places).
    fn destination(&mut self) -> PathBuf {
        self.made += 1;
        let dest = self.dir.path().join(format!("restore{}", self.made));
        if self.rng.random_bool(0.6) {
            let inner = dest.join(self.root.strip_prefix("/").unwrap());
            self.change(&inner, 6);
            self.change(&dest.join("elsewhere"), 2);
        }
        dest
    }

    async fn restore(&mut self) {
        let (id, coffer_id, backup) = self.backups.choose(&mut self.rng).unwrap().clone();
        let filters = self.random_filters(&backup);
        let overwrite = self.rng.random_bool(0.5);
        let written = selected(&backup, &filters);
        let machine_before = files_in(&self.root);
        match self.rng.random_range(0..3) {
            0 => {
                // Cloud Backup: files land under the destination with their whole original path.
                let dest = self.destination();
                let placed = dest.join(self.root.strip_prefix("/").unwrap());
                let (dest_before, placed_before) = (files_in(&dest), files_in(&placed));
                let body = json!({ "BackupId": id, "BackupMachineId": self.agent, "DestinationMachineId": self.agent,
                    "DestinationPath": dest.display().to_string(), "OverwriteFiles": overwrite });
                let (status, created) = self.call(reqwest::Method::PUT, "/v1.0/restore", body).await;
                assert_eq!(status, 200, "{created}");
                let restore = created["RestoreId"].as_i64().unwrap();
                for f in &filters {
                    let body = json!({ "ParentId": restore, "FilePath": self.root.join(&f.path).display().to_string(),
                        "FileItemType": if f.folder { 1 } else { 0 }, "Filter": if f.exclude { 2 } else { 1 } });
                    let (status, answer) = self.call(reqwest::Method::PUT, "/v1.0/restore/files", body).await;
                    assert_eq!(status, 200, "{answer}");
                }
                let (status, answer) = self
                    .call(reqwest::Method::POST, "/v1.0/restore/action-requested", json!({ "Action": "StartManual", "Id": restore }))
                    .await;
                assert_eq!(status, 204, "{answer}");
                let mut state = Value::Null;
                for _ in 0..600 {
                    state = self.call(reqwest::Method::GET, &format!("/v1.0/restore/{restore}"), Value::Null).await.1;
                    if [3, 4, 5, 8].contains(&state["RestoreStateId"].as_i64().unwrap_or(0)) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                self.log.push(format!("cloud backup restore of {id} with {filters:?}, overwrite {overwrite}, into {}", dest.display()));
                let log = self.log.join("\n");
                assert_eq!(state["RestoreStateId"], 3, "{state}\n{log}");
                let elsewhere: Files = dest_before.into_iter().filter(|(p, _)| !dest.join(p).starts_with(&placed)).collect();
                let dest_after = files_in(&dest);
                let outside: Files =
                    dest_after.iter().filter(|(p, _)| !dest.join(p).starts_with(&placed)).map(|(p, f)| (p.clone(), f.clone())).collect();
                assert_eq!(outside, elsewhere, "files beside the restored tree changed\n{log}");
                assert_eq!(files_in(&placed), after_restore(&placed_before, &written, overwrite), "{log}");
            }
            1 => {
                // The admin API into a directory (what the console's restore-to-directory sends):
                // like Cloud Backup, each file under the directory with its whole path.
                let dest = self.destination();
                let placed = dest.join(self.root.strip_prefix("/").unwrap());
                let before = files_in(&dest);
                let target = json!({ "type": "path", "path": dest, "overwrite": overwrite });
                let body = json!({ "target": target, "selection": self.selection(&filters) });
                let op = self.admin_restore(&coffer_id, body).await;
                self.log.push(format!("admin path restore of {id} with {filters:?}, overwrite {overwrite}: {op}"));
                let log = self.log.join("\n");
                let placed_before: Files = before
                    .iter()
                    .filter_map(|(p, f)| dest.join(p).strip_prefix(&placed).ok().map(|r| (r.display().to_string(), f.clone())))
                    .collect();
                let mut expected: Files = before.into_iter().filter(|(p, _)| !dest.join(p).starts_with(&placed)).collect();
                let prefix = placed.strip_prefix(&dest).unwrap().display().to_string();
                expected.extend(after_restore(&placed_before, &written, overwrite).into_iter().map(|(p, f)| (format!("{prefix}/{p}"), f)));
                assert_eq!(files_in(&dest), expected, "{log}");
            }
            _ => {
                // The admin API back into the machine itself: only the selected files are replaced.
                let body = json!({ "target": { "type": "same_nodes" }, "selection": self.selection(&filters) });
                let op = self.admin_restore(&coffer_id, body).await;
                self.log.push(format!("admin same-nodes restore of {id} with {filters:?}: {op}"));
                let log = self.log.join("\n");
                assert_eq!(files_in(&self.root), after_restore(&machine_before, &written, true), "{log}");
                return;
            }
        }
        assert_eq!(files_in(&self.root), machine_before, "a restore elsewhere changed the machine's files\n{}", self.log.join("\n"));
    }

    /// The filters as an admin selection: paths relative to the machine's root, `/` for an agent's machine.
    fn selection(&self, filters: &[Filter]) -> Value {
        let from_root = |f: &Filter| self.root.join(&f.path).strip_prefix("/").unwrap().display().to_string();
        let include: Vec<String> = filters.iter().filter(|f| !f.exclude).map(from_root).collect();
        let exclude: Vec<String> = filters.iter().filter(|f| f.exclude).map(from_root).collect();
        json!({ "include": include, "exclude": exclude })
    }

    async fn admin_restore(&self, backup: &str, body: Value) -> Value {
        let (status, op) = post(&self.app, &self.token, &format!("/admin/v1/backups/{backup}/restore"), body).await;
        assert_eq!(status, 202, "{op}\n{}", self.log.join("\n"));
        let op = wait_for(&self.app, &self.token, op["id"].as_str().unwrap()).await;
        assert_eq!(op["state"], "succeeded", "{op}\n{}", self.log.join("\n"));
        op["id"].clone()
    }
}

#[tokio::test]
async fn no_file_restore_writes_outside_its_filters_or_replaces_what_it_was_told_to_keep() {
    let seed = super::seed("trees");
    let app = spawn_app().await;
    let token = app.login("admin", ADMIN_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("machine");
    std::fs::create_dir_all(&root).unwrap();
    let mut world = World {
        app,
        token,
        rng: StdRng::seed_from_u64(seed),
        root: root.clone(),
        dir,
        agent: 0,
        config: 0,
        backups: Vec::new(),
        clock: 1_700_000_000,
        made: 0,
        log: vec![format!("seed {seed}")],
    };
    world.change(&root, 20);
    let (key, _) = world.app.api_key(&world.token, false).await;
    let _agent = start_agent(&world.app, &key, "files01").await;
    let (_, agents) = world.call(reqwest::Method::GET, "/v1.0/user/agents", Value::Null).await;
    world.agent = agents
        .as_array()
        .and_then(|a| a.iter().find(|a| a["MachineName"] == "files01"))
        .and_then(|a| a["MachineAgentId"].as_i64())
        .unwrap_or_else(|| panic!("the agent is listed: {agents}"));
    let config = json!({
        "BackupConfigurationName": "machine", "MachineAgentId": world.agent, "Frequency": "Manually", "TimeZoneId": "UTC",
        "VersionRetention": 30, "Inclusions": [{ "FilePath": root.display().to_string(), "FileItemType": "Folder" }], "Exclusions": [],
    });
    let (status, created) = world.call(reqwest::Method::POST, "/v1.0/backup-configuration", config).await;
    assert_eq!(status, 200, "{created}");
    world.config = created["BackupConfigurationId"].as_i64().unwrap();

    world.backup().await;
    for _ in 0..super::steps() {
        let changes = world.rng.random_range(1..5);
        let root = world.root.clone();
        world.change(&root, changes);
        match world.rng.random_range(0..5) {
            0 | 1 => world.backup().await,
            _ => world.restore().await,
        }
    }
    eprintln!("restore safety (trees): {} steps, {} backups", super::steps(), world.backups.len());
}
