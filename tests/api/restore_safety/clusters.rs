//! Clusters: changes, full and keyspace- or table-subset backups (some incremental) and restores
//! through OpsCenter (all, keyspace, table, point in time), the admin API (same nodes, point in
//! time, new cluster: what the console sends), the CLI and Instaclustr. After each restore every
//! file outside what was asked is as it was (content, mode, mtime) and every file inside equals
//! the backup that serves the request.

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

use crate::{
    helpers::{ADMIN_PASSWORD, TestApp, basic, get, post, spawn_app_with, tree, wait_for},
    opscenter,
};

/// A node's files: path under its data directory → (content hash, mode, mtime).
type Files = BTreeMap<String, (String, u32, i64)>;

const TABLES: &[&str] = &["KsA.alpha", "KsA.beta", "KsA.gamma", "KsB.delta", "KsB.epsilon"];
const KEYSPACES: &[&str] = &["KsA", "KsB"];
const NODES: usize = 2;
const CLUSTER: &str = "Prop_Cluster";

/// A table's directory, with an id suffix as Cassandra names them.
fn table_dir(table: &str) -> String {
    let (ks, name) = table.split_once('.').unwrap();
    format!("{ks}/{name}-{}", &blake3::hash(table.as_bytes()).to_hex()[..32])
}

/// The `keyspace.table` a path under a data directory belongs to.
fn table_of(path: &str) -> String {
    let mut parts = path.splitn(3, '/');
    let (ks, dir) = (parts.next().unwrap(), parts.next().unwrap_or_default());
    format!("{ks}.{}", dir.rsplit_once('-').map_or(dir, |(name, _)| name))
}

fn tables_of_keyspace(ks: &str) -> impl Iterator<Item = String> + '_ {
    TABLES.iter().filter(move |t| t.starts_with(&format!("{ks}."))).map(|t| t.to_string())
}

fn only(files: &Files, tables: &BTreeSet<String>) -> Files {
    files.iter().filter(|(p, _)| tables.contains(&table_of(p))).map(|(p, f)| (p.clone(), f.clone())).collect()
}

/// What a node holds after a restore of `restored` tables from `backup`, `emptied` ones first
/// truncated: everything else exactly as `before`.
fn after_restore(before: &Files, backup: &Files, restored: &BTreeSet<String>, emptied: &BTreeSet<String>) -> Files {
    let mut out: Files = before.iter().filter(|(p, _)| !emptied.contains(&table_of(p))).map(|(p, f)| (p.clone(), f.clone())).collect();
    out.extend(only(backup, restored));
    out
}

/// What a restore asks for, in tables, and which of them it truncates.
#[derive(Clone, Debug, Default)]
struct Ask {
    /// Keyspaces named whole, and single tables; both empty: everything.
    keyspaces: Vec<String>,
    tables: Vec<String>,
    truncate: BTreeSet<String>,
}

impl Ask {
    fn everything(&self) -> bool {
        self.keyspaces.is_empty() && self.tables.is_empty()
    }

    fn covers(&self) -> BTreeSet<String> {
        if self.everything() {
            return TABLES.iter().map(|t| t.to_string()).collect();
        }
        self.keyspaces.iter().flat_map(|ks| tables_of_keyspace(ks)).chain(self.tables.iter().cloned()).collect()
    }

    /// Whether the engine takes it for `held` tables: every keyspace named has a table there and
    /// every table named is there.
    fn valid_for(&self, held: &BTreeSet<String>) -> bool {
        self.keyspaces.iter().all(|ks| held.iter().any(|t| t.starts_with(&format!("{ks}."))))
            && self.tables.iter().all(|t| held.contains(t))
    }

    /// Whether a backup of `held` tables taken with `selection` stands for everything asked.
    fn served_by(&self, backup: &Recorded) -> bool {
        match &backup.selection {
            None => true,
            Some((keyspaces, tables)) => {
                !self.everything()
                    && self.keyspaces.iter().all(|k| keyspaces.contains(k))
                    && self.tables.iter().all(|t| tables.contains(t) || keyspaces.iter().any(|k| t.starts_with(&format!("{k}."))))
            }
        }
    }

    fn selection(&self) -> Value {
        json!({ "keyspaces": self.keyspaces, "tables": self.tables })
    }
}

/// A completed backup as the test saw the data when it was taken.
#[derive(Clone, Debug)]
struct Recorded {
    id: String,
    tag: String,
    created_at: DateTime<Utc>,
    /// Keyspaces and tables it was asked for; `None`: everything.
    selection: Option<(Vec<String>, Vec<String>)>,
    tables: BTreeSet<String>,
    files: Vec<Files>,
}

struct World {
    app: TestApp,
    token: String,
    session: String,
    rng: StdRng,
    root: tempfile::TempDir,
    dirs: Vec<PathBuf>,
    cluster_id: String,
    backups: Vec<Recorded>,
    clock: i64,
    made: usize,
    log: Vec<String>,
}

impl World {
    fn node_files(&self) -> Vec<Files> {
        self.dirs.iter().map(|d| tree::fingerprint(d)).collect()
    }

    /// Writes `path` with random content, mode and a fresh mtime.
    fn write(&mut self, path: &Path) {
        let len = self.rng.random_range(1..6000);
        let data: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
        let mode = *[0o644, 0o600, 0o640].choose(&mut self.rng).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        self.clock += 1;
        filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(self.clock, 0)).unwrap();
    }

    /// One to four random changes: a new file, a rewritten one, a removed one (never a table's last).
    fn change(&mut self) {
        for _ in 0..self.rng.random_range(1..=4) {
            let node = self.rng.random_range(0..NODES);
            let table = *TABLES.choose(&mut self.rng).unwrap();
            let dir = self.dirs[node].join(table_dir(table));
            let mut existing: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
            existing.sort();
            match self.rng.random_range(0..3) {
                0 => {
                    self.made += 1;
                    let name = format!("nb-{}-big-Data.db", self.made);
                    self.write(&dir.join(name));
                }
                1 => {
                    let victim = existing.choose(&mut self.rng).unwrap().clone();
                    self.write(&victim);
                }
                _ if existing.len() > 1 => std::fs::remove_file(existing.choose(&mut self.rng).unwrap()).unwrap(),
                _ => {}
            }
        }
    }

    /// A random selection: everything, some keyspaces, or one or two tables.
    fn random_selection(&mut self) -> Option<(Vec<String>, Vec<String>)> {
        match self.rng.random_range(0..10) {
            0..4 => None,
            4..7 => {
                let n = self.rng.random_range(1..=KEYSPACES.len());
                let mut ks: Vec<String> = KEYSPACES.choose_multiple(&mut self.rng, n).map(|s| s.to_string()).collect();
                ks.sort();
                Some((ks, vec![]))
            }
            _ => {
                let n = self.rng.random_range(1..=2);
                let mut ts: Vec<String> = TABLES.choose_multiple(&mut self.rng, n).map(|s| s.to_string()).collect();
                ts.sort();
                Some((vec![], ts))
            }
        }
    }

    /// Backs up through the admin API or OpsCenter, and records what the data was.
    async fn backup(&mut self) {
        let selection = self.random_selection();
        let before = self.node_files();
        let by_opscenter = selection.as_ref().is_none_or(|(_, tables)| tables.is_empty()) && self.rng.random_bool(0.5);
        let operation = if by_opscenter {
            let keyspaces = selection.as_ref().map(|(k, _)| k.clone()).unwrap_or_default();
            let (status, request) =
                opscenter::post(&self.app, &self.session, &format!("/{CLUSTER}/backups/run"), json!({ "keyspaces": keyspaces })).await;
            assert_eq!(status, 200, "{request}");
            opscenter::until_done(&self.app, &self.session, &request).await;
            wait_for(&self.app, &self.token, request.as_str().unwrap()).await
        } else {
            let (keyspaces, tables) = selection.clone().unwrap_or_default();
            let body = json!({
                "source_id": self.cluster_id,
                "incremental": !self.backups.is_empty() && self.rng.random_bool(0.5),
                "selection": { "keyspaces": keyspaces, "tables": tables },
            });
            let (status, started) = post(&self.app, &self.token, "/admin/v1/backups", body).await;
            assert_eq!(status, 202, "{started}\n{}", self.log.join("\n"));
            wait_for(&self.app, &self.token, started["operation"]["id"].as_str().unwrap()).await
        };
        assert_eq!(operation["state"], "succeeded", "{operation}");
        let id = operation["backup_id"].as_str().unwrap().to_owned();
        let (_, backup) = get(&self.app, &self.token, &format!("/admin/v1/backups/{id}")).await;
        let ask = selection.clone().map(|(keyspaces, tables)| Ask { keyspaces, tables, ..Default::default() }).unwrap_or_default();
        let tables = ask.covers();
        self.log.push(format!("backup {id} of {selection:?}"));
        self.backups.push(Recorded {
            id,
            tag: backup["tag"].as_str().unwrap().to_owned(),
            created_at: backup["created_at"].as_str().unwrap().parse().unwrap(),
            selection,
            files: before.iter().map(|f| only(f, &tables)).collect(),
            tables,
        });
    }

    /// A random request over `held` tables: mostly ones the engine takes, sometimes not.
    fn random_ask(&mut self, held: &BTreeSet<String>) -> Ask {
        let mut ask = Ask::default();
        let pool: Vec<String> =
            if self.rng.random_bool(0.9) { held.iter().cloned().collect() } else { TABLES.iter().map(|t| t.to_string()).collect() };
        match self.rng.random_range(0..3) {
            0 => {}
            1 => {
                let mut ks: Vec<String> =
                    pool.iter().map(|t| t.split_once('.').unwrap().0.to_owned()).collect::<BTreeSet<_>>().into_iter().collect();
                ks.retain(|_| self.rng.random_bool(0.7));
                if ks.is_empty() {
                    ks.push(pool[0].split_once('.').unwrap().0.to_owned());
                }
                ask.keyspaces = ks;
            }
            _ => {
                let n = self.rng.random_range(1..=pool.len().min(2));
                ask.tables = pool.choose_multiple(&mut self.rng, n).cloned().collect();
                ask.tables.sort();
            }
        }
        if self.rng.random_bool(0.6) {
            ask.truncate = ask.covers();
        }
        ask
    }

    /// Which node to leave out, sometimes.
    fn random_excluded(&mut self) -> Option<usize> {
        self.rng.random_bool(0.2).then(|| self.rng.random_range(0..NODES))
    }

    /// One restore along a random path; checks every node (and any new cluster) afterwards.
    async fn restore(&mut self) {
        let paths = [
            "opscenter",
            "opscenter_keyspace",
            "opscenter_table",
            "opscenter_pit",
            "admin",
            "admin_pit",
            "admin_new_cluster",
            "cli",
            "instaclustr",
        ];
        let path = *paths.choose(&mut self.rng).unwrap();
        let backup = self.backups.choose(&mut self.rng).unwrap().clone();
        let before = self.node_files();
        let mut excluded = None;
        // (status and body, the backup that serves it when the request is valid, the request)
        let (ask, chosen, answer): (Ask, Option<Recorded>, (u16, Value)) = match path {
            "opscenter" | "opscenter_pit" => {
                let mut ask = self.random_ask(&backup.tables);
                // OpsCenter truncates per keyspace (or per listed table).
                let mut keyspaces = serde_json::Map::new();
                for ks in &ask.keyspaces {
                    keyspaces.insert(ks.clone(), json!({ "truncate": !ask.truncate.is_empty() }));
                }
                for t in &ask.tables {
                    let (ks, table) = t.split_once('.').unwrap();
                    let entry = keyspaces
                        .entry(ks.to_owned())
                        .or_insert_with(|| json!({ "column-families": [], "truncate": !ask.truncate.is_empty() }));
                    entry["column-families"].as_array_mut().unwrap().push(json!(table));
                }
                if ask.everything() {
                    ask.truncate.clear();
                }
                let mut body = if ask.everything() { json!({}) } else { json!({ "keyspaces": keyspaces }) };
                if path == "opscenter_pit" {
                    let at = self.backups.choose(&mut self.rng).unwrap().created_at.timestamp() + self.rng.random_range(0..2);
                    body["pit"] = json!(at);
                    let chosen = self
                        .backups
                        .iter()
                        .filter(|b| b.created_at.timestamp() <= at && ask.served_by(b))
                        .max_by_key(|b| b.created_at)
                        .cloned();
                    let answer = opscenter::post(&self.app, &self.session, &format!("/{CLUSTER}/backups/pit/run"), body).await;
                    (ask, chosen, answer)
                } else {
                    excluded = self.random_excluded();
                    if let Some(n) = excluded {
                        body["excluded-nodes"] = json!([format!("127.0.0.{}", n + 1)]);
                    }
                    let answer =
                        opscenter::post(&self.app, &self.session, &format!("/{CLUSTER}/backups/restore/{}", backup.tag), body).await;
                    (ask.clone(), ask.valid_for(&backup.tables).then_some(backup.clone()), answer)
                }
            }
            "opscenter_keyspace" | "opscenter_table" => {
                let ks = *KEYSPACES.choose(&mut self.rng).unwrap();
                let truncate = self.rng.random_bool(0.6);
                let (ask, url) = if path == "opscenter_table" {
                    let t = tables_of_keyspace(ks).collect::<Vec<_>>().choose(&mut self.rng).unwrap().clone();
                    let url = format!("/{CLUSTER}/backups/restore/{}/{}", backup.tag, t.replacen('.', "/", 1));
                    (Ask { tables: vec![t], ..Default::default() }, url)
                } else {
                    (
                        Ask { keyspaces: vec![ks.to_owned()], ..Default::default() },
                        format!("/{CLUSTER}/backups/restore/{}/{ks}", backup.tag),
                    )
                };
                let ask = Ask { truncate: if truncate { ask.covers() } else { BTreeSet::new() }, ..ask };
                let answer = opscenter::post(&self.app, &self.session, &url, json!({ "truncate": truncate })).await;
                (ask.clone(), ask.valid_for(&backup.tables).then_some(backup.clone()), answer)
            }
            "admin" | "cli" => {
                let ask = self.random_ask(&backup.tables);
                let truncate = !ask.truncate.is_empty();
                let ask = Ask { truncate: if truncate { ask.covers() } else { BTreeSet::new() }, ..ask };
                let answer = if path == "admin" {
                    excluded = self.random_excluded();
                    let options = json!({ "excluded_nodes": excluded.map(|n| vec![format!("127.0.0.{}", n + 1)]).unwrap_or_default() });
                    let body = json!({ "target": { "type": "same_nodes", "truncate": truncate }, "selection": ask.selection(), "options": options });
                    post(&self.app, &self.token, &format!("/admin/v1/backups/{}/restore", backup.id), body).await
                } else {
                    self.cli_restore(&backup.id, &ask).await
                };
                (ask.clone(), ask.valid_for(&backup.tables).then_some(backup.clone()), answer)
            }
            "admin_pit" => {
                let ask = self.random_ask(&backup.tables);
                let truncate = !ask.truncate.is_empty();
                let ask = Ask { truncate: if truncate { ask.covers() } else { BTreeSet::new() }, ..ask };
                let at =
                    self.backups.choose(&mut self.rng).unwrap().created_at + chrono::Duration::milliseconds(self.rng.random_range(0..1500));
                let chosen = self
                    .backups
                    .iter()
                    .filter(|b| b.created_at.timestamp() <= at.timestamp() && ask.served_by(b))
                    .max_by_key(|b| b.created_at)
                    .cloned();
                let body = json!({ "at": at.to_rfc3339(), "target": { "type": "same_nodes", "truncate": truncate }, "selection": ask.selection() });
                let answer =
                    post(&self.app, &self.token, &format!("/admin/v1/sources/{}/point-in-time/restore", self.cluster_id), body).await;
                (ask, chosen, answer)
            }
            "admin_new_cluster" | "instaclustr" => return self.restore_to_new_cluster(path, &backup, before).await,
            other => unreachable!("{other}"),
        };
        self.log.push(format!("{path} restore of {} asking {ask:?} excluding {excluded:?}: {} {}", backup.id, answer.0, answer.1));
        let Some(chosen) = chosen else {
            assert!(
                matches!(answer.0, 400 | 412),
                "a request the backup cannot serve is refused, not {}: {}\n{}",
                answer.0,
                answer.1,
                self.log.join("\n")
            );
            assert_eq!(self.node_files(), before, "a refused restore changed files\n{}", self.log.join("\n"));
            return;
        };
        self.until_restored(path, &answer).await;
        let restored: BTreeSet<String> = chosen.tables.intersection(&ask.covers()).cloned().collect();
        let emptied: BTreeSet<String> = restored.intersection(&ask.truncate).cloned().collect();
        let after = self.node_files();
        for n in 0..NODES {
            let expected =
                if excluded == Some(n) { before[n].clone() } else { after_restore(&before[n], &chosen.files[n], &restored, &emptied) };
            if after[n] != expected {
                let changed: Vec<&String> =
                    expected.keys().chain(after[n].keys()).filter(|p| expected.get(*p) != after[n].get(*p)).collect();
                panic!(
                    "node {n} after a {path} restore of {} (chosen {}) differs from what was asked at {changed:?}\nrestored {restored:?}, emptied {emptied:?}\n{}",
                    backup.id,
                    chosen.id,
                    self.log.join("\n")
                );
            }
        }
    }

    async fn cli_restore(&self, backup: &str, ask: &Ask) -> (u16, Value) {
        let mut args = vec!["restore".to_owned(), backup.to_owned(), "--same-nodes".to_owned()];
        if !ask.truncate.is_empty() {
            args.push("--truncate".into());
        }
        for ks in &ask.keyspaces {
            args.extend(["--keyspace".into(), ks.clone()]);
        }
        for t in &ask.tables {
            args.extend(["--table".into(), t.clone()]);
        }
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(&args)
            .env("COFFER_SERVER", &self.app.base)
            .env("COFFER_USER", "admin")
            .env("COFFER_PASSWORD", ADMIN_PASSWORD)
            .output()
            .await
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        match out.status.success() {
            true => (202, json!(text)),
            // The CLI says the server's refusal; 400 stands for it here.
            false if text.contains("the backup holds no") => (400, json!(text)),
            false => (500, json!(text)),
        }
    }

    async fn until_restored(&self, path: &str, answer: &(u16, Value)) {
        let log = self.log.join("\n");
        match path {
            "cli" => assert_eq!(answer.0, 202, "the CLI restore failed: {}\n{log}", answer.1),
            p if p.starts_with("opscenter") => {
                assert_eq!(answer.0, 200, "{}\n{log}", answer.1);
                let status = opscenter::until_done(&self.app, &self.session, &answer.1).await;
                assert_eq!(status["state"], "success", "{status}\n{log}");
            }
            _ => {
                assert_eq!(answer.0, 202, "{}\n{log}", answer.1);
                let op = wait_for(&self.app, &self.token, answer.1["id"].as_str().unwrap()).await;
                assert_eq!(op["state"], "succeeded", "{op}\n{log}");
            }
        }
    }

    /// A restore into a new cluster: the original nodes are untouched and the new ones hold
    /// exactly the asked tables of the backup that serves the request.
    async fn restore_to_new_cluster(&mut self, path: &str, backup: &Recorded, before: Vec<Files>) {
        self.made += 1;
        let name = format!("copy{}", self.made);
        let (ask, chosen, locations, answer) = if path == "instaclustr" {
            let mut ask = Ask::default();
            if self.rng.random_bool(0.6) {
                ask.tables = TABLES.choose_multiple(&mut self.rng, 2).map(|t| t.to_string()).collect();
                ask.tables.sort();
            }
            let mut body = json!({ "clusterNameOverride": name });
            if !ask.tables.is_empty() {
                body["keyspaceTables"] = json!(ask.tables.join(","));
            }
            let chosen = self.backups.iter().filter(|b| ask.served_by(b)).max_by_key(|b| b.created_at).cloned();
            let resp = self
                .app
                .client
                .post(self.app.url(&format!("/provisioning/v1/{}/backups/restore", self.cluster_id)))
                .header("authorization", basic("admin", ADMIN_PASSWORD))
                .json(&body)
                .send()
                .await
                .unwrap();
            let answer = (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null));
            let locations: Vec<PathBuf> = self.dirs.iter().map(|d| d.with_file_name(format!("data-{name}"))).collect();
            (ask, chosen, locations, answer)
        } else {
            let ask = self.random_ask(&backup.tables);
            let locations: Vec<PathBuf> = (0..NODES).map(|n| self.root.path().join(&name).join(format!("node{n}"))).collect();
            let body = json!({ "target": { "type": "new_cluster", "name": name, "locations": locations }, "selection": ask.selection() });
            let answer = post(&self.app, &self.token, &format!("/admin/v1/backups/{}/restore", backup.id), body).await;
            (ask.clone(), ask.valid_for(&backup.tables).then_some(backup.clone()), locations, answer)
        };
        self.log.push(format!("{path} restore of {} into {name} asking {ask:?}: {} {}", backup.id, answer.0, answer.1));
        let log = self.log.join("\n");
        let Some(chosen) = chosen else {
            assert!(matches!(answer.0, 400 | 412), "a request no backup serves is refused, not {}: {}\n{log}", answer.0, answer.1);
            assert_eq!(self.node_files(), before, "a refused restore changed files\n{log}");
            return;
        };
        if path == "instaclustr" {
            assert_eq!(answer.0, 200, "{}\n{log}", answer.1);
            let id = answer.1["restoredCluster"].as_str().unwrap().to_owned();
            let mut status = String::new();
            for _ in 0..600 {
                let resp = self
                    .app
                    .client
                    .get(self.app.url(&format!("/provisioning/v1/{id}")))
                    .header("authorization", basic("admin", ADMIN_PASSWORD))
                    .send()
                    .await
                    .unwrap();
                let body: Value = resp.json().await.unwrap();
                status = body["clusterStatus"].as_str().unwrap_or_default().to_owned();
                if status != "PROVISIONING" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(status, "RUNNING", "{log}");
        } else {
            self.until_restored(path, &answer).await;
        }
        assert_eq!(self.node_files(), before, "a restore into a new cluster changed the original's files\n{log}");
        let restored: BTreeSet<String> = chosen.tables.intersection(&ask.covers()).cloned().collect();
        for (n, location) in locations.iter().enumerate() {
            assert_eq!(
                tree::fingerprint(location),
                only(&chosen.files[n], &restored),
                "new node {n} of {name} (from {})\n{log}",
                chosen.id
            );
        }
    }
}

/// A server whose commitlog archive rounds come every 200 ms.
async fn archiving_app() -> TestApp {
    spawn_app_with(|s| {
        s.archive_interval_ms = 200;
        s.scheduler_tick_ms = 100;
    })
    .await
}

/// Turns the cluster's commitlog archiving on, closes one segment beside each node's data directory
/// (its time `at`, seconds, when given) and waits until every node's is archived; answers `pit/logs`.
async fn archive_a_segment(app: &TestApp, session: &str, dirs: &[PathBuf], at: Option<i64>) -> Value {
    let body = json!({ "destinations": { "OPSC_ON_SERVER": {} }, "sleep": 0 });
    let (status, request) = opscenter::post(app, session, &format!("/{CLUSTER}/backups/pit"), body).await;
    assert_eq!(status, 200, "{request}");
    opscenter::until_done(app, session, &request).await;
    for d in dirs {
        let segment = d.with_file_name("commitlog").join("CommitLog-7-1.log");
        std::fs::create_dir_all(segment.parent().unwrap()).unwrap();
        std::fs::write(&segment, b"mutations").unwrap();
        if let Some(at) = at {
            filetime::set_file_mtime(&segment, filetime::FileTime::from_unix_time(at, 0)).unwrap();
        }
    }
    for _ in 0..200 {
        let (_, logs) = opscenter::get(app, session, &format!("/{CLUSTER}/backups/pit/logs")).await;
        if logs.as_object().is_some_and(|m| m.len() == dirs.len()) {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the commitlog segments were never archived");
}

#[tokio::test]
async fn no_restore_on_any_path_touches_a_file_it_was_not_asked_to_restore() {
    let seed = super::seed("clusters");
    let app = archiving_app().await;
    let token = app.login("admin", ADMIN_PASSWORD).await;
    let session = opscenter::login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..NODES).map(|n| root.path().join(format!("node{n}/data"))).collect();
    let mut world = World {
        app,
        token,
        session,
        rng: StdRng::seed_from_u64(seed),
        root,
        dirs,
        cluster_id: String::new(),
        backups: Vec::new(),
        clock: 1_700_000_000,
        made: 0,
        log: vec![format!("seed {seed}")],
    };
    for n in 0..NODES {
        for t in TABLES {
            for f in 0..2 {
                let path = world.dirs[n].join(table_dir(t)).join(format!("nb-{f}-big-Data.db"));
                world.write(&path);
            }
        }
    }
    let nodes: Vec<Value> =
        world.dirs.iter().enumerate().map(|(n, d)| json!({ "name": format!("127.0.0.{}", n + 1), "location": d })).collect();
    let (status, body) = post(&world.app, &world.token, "/admin/v1/clusters", json!({ "name": CLUSTER, "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");
    world.cluster_id = body["id"].as_str().unwrap().to_owned();

    // Point-in-time restores need every node's commitlogs archived up to the moment asked for.
    archive_a_segment(&world.app, &world.session, &world.dirs, Some(Utc::now().timestamp() + 86_400)).await;

    world.backup().await;
    for _ in 0..super::steps() {
        world.change();
        match world.rng.random_range(0..5) {
            0 | 1 => world.backup().await,
            _ => world.restore().await,
        }
    }
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for line in &world.log[1..] {
        let words: Vec<&str> = line.split_whitespace().collect();
        let refused = line.contains(": 400 ") || line.contains(": 412 ");
        *tally.entry(format!("{}{}", words[0], if refused { " (refused)" } else { "" })).or_default() += 1;
    }
    eprintln!("restore safety (clusters): {tally:?}");
}

/// The reproduction, through OpsCenter: a full backup, then one of a single table; a
/// keyspace restore with truncate from the single-table backup restores that table and leaves
/// the keyspace's other tables as they are, and says so; a point in time picks the full backup.
#[tokio::test]
async fn a_truncating_keyspace_restore_from_a_one_table_backup_leaves_the_other_tables_alone() {
    let app = archiving_app().await;
    let token = app.login("admin", ADMIN_PASSWORD).await;
    let session = opscenter::login(&app).await;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("node1/data");
    for t in ["KsA.alpha", "KsA.beta"] {
        tree::generate(&data.join(table_dir(t)), 3, t.len() as u64);
    }
    let nodes = json!([{ "name": "127.0.0.1", "location": data }]);
    let (status, body) = post(&app, &token, "/admin/v1/clusters", json!({ "name": CLUSTER, "nodes": nodes })).await;
    assert_eq!(status, 201, "{body}");
    let cluster = body["id"].as_str().unwrap().to_owned();
    let full = crate::helpers::backup_and_wait(&app, &token, json!({ "source_id": cluster })).await;
    let alpha_only = crate::helpers::backup_and_wait(
        &app,
        &token,
        json!({ "source_id": cluster, "incremental": true, "selection": { "tables": ["KsA.alpha"] } }),
    )
    .await;
    let beta = data.join(table_dir("KsA.beta"));
    let beta_files = tree::fingerprint(&beta);
    let (_, alpha_backup) = get(&app, &token, &format!("/admin/v1/backups/{}", alpha_only["backup_id"].as_str().unwrap())).await;

    let truncate_keyspace = json!({ "keyspaces": { "KsA": { "truncate": true } } });
    let (status, request) = opscenter::post(
        &app,
        &session,
        &format!("/{CLUSTER}/backups/restore/{}", alpha_backup["tag"].as_str().unwrap()),
        truncate_keyspace,
    )
    .await;
    assert_eq!(status, 200, "{request}");
    let done = opscenter::until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success", "{done}");
    assert_eq!(tree::fingerprint(&beta), beta_files, "the table the backup does not hold was touched");
    let node = &done["details"]["subrequests"]["127.0.0.1"]["details"];
    assert_eq!(node["tables_restored"], json!(["KsA.alpha"]), "{done}");
    assert_eq!(node["tables_left_alone"], json!(["KsA.beta"]), "{done}");

    // A point in time for the whole keyspace is served by the full backup, not the one-table one.
    for f in tree::fingerprint(&beta).keys() {
        std::fs::remove_file(beta.join(f)).unwrap();
    }
    let newest = archive_a_segment(&app, &session, std::slice::from_ref(&data), None).await["127.0.0.1"].clone();
    let pit = newest.as_f64().expect("the segment is archived") as i64;
    let body = json!({ "keyspaces": { "KsA": { "truncate": true } }, "pit": pit });
    let (status, check) = opscenter::post(&app, &session, &format!("/{CLUSTER}/backups/pit_check"), body.clone()).await;
    assert_eq!(status, 200, "{check}");
    let (_, full_backup) = get(&app, &token, &format!("/admin/v1/backups/{}", full["backup_id"].as_str().unwrap())).await;
    assert_eq!(check["snapshot"], full_backup["tag"], "{check}");
    let renamed = json!({ "keyspaces": { "KsA": {} }, "keyspace_remappings": { "KsA": "KsA_copy" }, "pit": pit });
    let (status, refused) = opscenter::post(&app, &session, &format!("/{CLUSTER}/backups/pit/run"), renamed).await;
    assert_eq!(status, 400, "a replay cannot go under another keyspace's name: {refused}");
    let (status, request) = opscenter::post(&app, &session, &format!("/{CLUSTER}/backups/pit/run"), body).await;
    assert_eq!(status, 200, "{request}");
    let done = opscenter::until_done(&app, &session, &request).await;
    assert_eq!(done["state"], "success");
    assert_eq!(tree::fingerprint(&beta), beta_files, "the point in time restored the whole keyspace from the full backup");
    let replay = &done["details"]["subrequests"]["127.0.0.1"]["details"]["commitlogs"]["replay_list"];
    assert_eq!(replay, "KsA.alpha,KsA.beta", "the replay is for the restored tables only: {done}");
    let properties = std::fs::read_to_string(data.with_file_name("commitlog_restore").join("commitlog_archiving.properties")).unwrap();
    assert!(properties.contains("-Dcassandra.replayList=KsA.alpha,KsA.beta"), "{properties}");

    // The table was dropped and made again since: its live directory has another id. That is a
    // schema change, so the restore refuses it unless forced; a forced truncating restore writes
    // the backup's directory and never empties the live one.
    let live = data.join("KsA/beta-fedcba9876543210fedcba9876543210");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("nb-1-big-Data.db"), b"written after the table was made again").unwrap();
    let path = format!("/{CLUSTER}/backups/restore/{}/KsA/beta", full_backup["tag"].as_str().unwrap());
    let (status, request) = opscenter::post(&app, &session, &path, json!({ "truncate": true })).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(opscenter::until_done(&app, &session, &request).await["state"], "error", "refused without force_schema");
    assert_eq!(std::fs::read(live.join("nb-1-big-Data.db")).unwrap(), b"written after the table was made again");
    let (status, request) = opscenter::post(&app, &session, &path, json!({ "truncate": true, "force_schema": true })).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(opscenter::until_done(&app, &session, &request).await["state"], "success");
    assert_eq!(std::fs::read(live.join("nb-1-big-Data.db")).unwrap(), b"written after the table was made again");
    assert_eq!(tree::fingerprint(&beta), beta_files);
}
