//! A cluster node's data directory, laid out `<data_dir>/<keyspace>/<table>[-<id>]/<files>` as
//! Cassandra does. Keyspaces and tables are discovered from the layout.

use std::{collections::BTreeMap, path::Path};

use super::{SourceError, item_for};
use crate::{domain::backup::Selection, store::Item};

/// Directories inside a table directory that hold copies, not table data.
const SKIPPED: &[&str] = &["snapshots", "backups"];

/// A table directory: its table name and the directory name (with the id suffix, if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDir {
    pub table: String,
    pub dir: String,
}

/// The table name of a table directory: `users-5bc5...b090` is `users`.
pub fn table_name(dir: &str) -> &str {
    match dir.rsplit_once('-') {
        Some((name, id)) if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => dir,
    }
}

/// Keyspaces and their tables found in `data_dir`.
pub fn discover(data_dir: &Path) -> Result<BTreeMap<String, Vec<TableDir>>, SourceError> {
    let mut out = BTreeMap::new();
    for ks in std::fs::read_dir(data_dir).map_err(|e| SourceError::io(data_dir, e))? {
        let ks = ks.map_err(|e| SourceError::io(data_dir, e))?;
        if !ks.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let ks_name = ks.file_name().to_string_lossy().into_owned();
        let mut tables = Vec::new();
        for t in std::fs::read_dir(ks.path()).map_err(|e| SourceError::io(ks.path(), e))? {
            let t = t.map_err(|e| SourceError::io(ks.path(), e))?;
            if t.file_type().map(|ft| ft.is_dir()).unwrap_or(false) {
                let dir = t.file_name().to_string_lossy().into_owned();
                tables.push(TableDir { table: table_name(&dir).to_owned(), dir });
            }
        }
        tables.sort_by(|a, b| a.table.cmp(&b.table));
        out.insert(ks_name, tables);
    }
    Ok(out)
}

/// Whether `keyspace.table` is in the selection (everything when it names nothing).
pub fn selected(selection: &Selection, keyspace: &str, table: &str) -> bool {
    (selection.keyspaces.is_empty() && selection.tables.is_empty())
        || selection.keyspaces.iter().any(|k| k == keyspace)
        || selection.tables.iter().any(|t| t.split_once('.').is_some_and(|(k, tb)| k == keyspace && tb == table))
}

/// `keyspace.table` of a `keyspace/<table dir>` path.
pub fn dotted(path: &str) -> String {
    match path.split_once('/') {
        Some((ks, dir)) => format!("{ks}.{}", table_name(dir)),
        None => path.to_owned(),
    }
}

/// Whether a `keyspace.table` name is in the selection.
pub fn selected_dotted(selection: &Selection, name: &str) -> bool {
    name.split_once('.').is_some_and(|(ks, table)| selected(selection, ks, table))
}

/// The selection with its keyspaces named as a restore that renames keyspaces writes them.
pub fn renamed_selection(selection: &Selection, renames: &BTreeMap<String, String>) -> Selection {
    let rename = |ks: &str| renames.get(ks).cloned().unwrap_or_else(|| ks.to_owned());
    Selection {
        keyspaces: selection.keyspaces.iter().map(|ks| rename(ks)).collect(),
        tables: selection
            .tables
            .iter()
            .map(|t| match t.split_once('.') {
                Some((ks, table)) => format!("{}.{table}", rename(ks)),
                None => t.clone(),
            })
            .collect(),
        ..selection.clone()
    }
}

/// Checks that every keyspace and table the selection names exists.
pub fn check_selection(found: &BTreeMap<String, Vec<TableDir>>, selection: &Selection) -> Result<(), SourceError> {
    for ks in &selection.keyspaces {
        if !found.contains_key(ks) {
            return Err(SourceError::Invalid(format!("keyspace '{ks}' does not exist")));
        }
    }
    for t in &selection.tables {
        let (ks, table) = t.split_once('.').ok_or_else(|| SourceError::Invalid(format!("table '{t}' is not written keyspace.table")))?;
        if !found.get(ks).is_some_and(|ts| ts.iter().any(|d| d.table == table)) {
            return Err(SourceError::Invalid(format!("table '{t}' does not exist")));
        }
    }
    Ok(())
}

/// The items of the selected tables, sorted by path.
pub fn scan(data_dir: &Path, selection: &Selection) -> Result<Vec<Item>, SourceError> {
    let found = discover(data_dir)?;
    check_selection(&found, selection)?;
    let mut items = Vec::new();
    for (ks, tables) in &found {
        let chosen: Vec<&TableDir> = tables.iter().filter(|t| selected(selection, ks, &t.table)).collect();
        if chosen.is_empty() {
            continue;
        }
        let ks_abs = data_dir.join(ks);
        let meta = std::fs::symlink_metadata(&ks_abs).map_err(|e| SourceError::io(&ks_abs, e))?;
        items.extend(item_for(&ks_abs, ks.clone(), &meta)?);
        for t in chosen {
            collect(data_dir, &format!("{ks}/{}", t.dir), &mut items)?;
        }
    }
    items.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(items)
}

fn collect(root: &Path, rel: &str, out: &mut Vec<Item>) -> Result<(), SourceError> {
    let abs = root.join(rel);
    let meta = std::fs::symlink_metadata(&abs).map_err(|e| SourceError::io(&abs, e))?;
    let is_dir = meta.is_dir();
    out.extend(item_for(&abs, rel.to_owned(), &meta)?);
    if is_dir {
        for e in std::fs::read_dir(&abs).map_err(|e| SourceError::io(&abs, e))? {
            let name = e.map_err(|e| SourceError::io(&abs, e))?.file_name().to_string_lossy().into_owned();
            if rel.matches('/').count() == 1 && SKIPPED.contains(&name.as_str()) {
                continue;
            }
            collect(root, &format!("{rel}/{name}"), out)?;
        }
    }
    Ok(())
}

/// Removes from the table directories `dirs` (`keyspace/<table dir>`, exactly as named) every
/// file that is not in `keep` (relative paths): after a restore with truncate, the directories it
/// wrote hold exactly what the backup held. No other directory is read or touched.
pub fn truncate(data_dir: &Path, dirs: &[String], keep: &std::collections::HashSet<String>) -> Result<u64, SourceError> {
    let mut removed = 0;
    for dir in dirs {
        if data_dir.join(dir).is_dir() {
            removed += remove_extras(data_dir, dir, true, keep)?;
        }
    }
    Ok(removed)
}

fn remove_extras(root: &Path, rel: &str, table_dir: bool, keep: &std::collections::HashSet<String>) -> Result<u64, SourceError> {
    let dir = root.join(rel);
    let mut removed = 0;
    for e in std::fs::read_dir(&dir).map_err(|e| SourceError::io(&dir, e))? {
        let e = e.map_err(|e| SourceError::io(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{rel}/{name}");
        if table_dir && SKIPPED.contains(&name.as_str()) {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            let prefix = format!("{path}/");
            if keep.iter().any(|k| k.starts_with(&prefix)) {
                removed += remove_extras(root, &path, false, keep)?;
            } else {
                std::fs::remove_dir_all(&p).map_err(|e| SourceError::io(&p, e))?;
                removed += 1;
            }
        } else if !keep.contains(&path) {
            std::fs::remove_file(&p).map_err(|e| SourceError::io(&p, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(root: &Path) {
        for f in [
            "Keyspace1/users-0123456789abcdef0123456789abcdef/nb-1-big-Data.db",
            "Keyspace1/dates/nb-1-big-Data.db",
            "OpsCenter/events-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/nb-1-big-Data.db",
            "Keyspace1/users-0123456789abcdef0123456789abcdef/snapshots/x/y.db",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f.as_bytes()).unwrap();
        }
    }

    #[test]
    fn keyspaces_and_tables_are_discovered_from_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path());
        let found = discover(dir.path()).unwrap();
        let names: Vec<(&str, Vec<&str>)> =
            found.iter().map(|(k, ts)| (k.as_str(), ts.iter().map(|t| t.table.as_str()).collect())).collect();
        assert_eq!(names, [("Keyspace1", vec!["dates", "users"]), ("OpsCenter", vec!["events"])]);
    }

    #[test]
    fn a_table_selection_scans_only_that_table_and_skips_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path());
        let sel = Selection { tables: vec!["Keyspace1.users".into()], ..Default::default() };
        let paths: Vec<String> = scan(dir.path(), &sel).unwrap().into_iter().map(|i| i.path).collect();
        assert_eq!(
            paths,
            [
                "Keyspace1",
                "Keyspace1/users-0123456789abcdef0123456789abcdef",
                "Keyspace1/users-0123456789abcdef0123456789abcdef/nb-1-big-Data.db"
            ]
        );
        let bad = Selection { tables: vec!["Keyspace1.nope".into()], ..Default::default() };
        assert!(scan(dir.path(), &bad).err().unwrap().to_string().contains("does not exist"));
    }

    #[test]
    fn truncate_empties_only_the_directories_it_is_given_and_never_their_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path());
        // The same table under another id (recreated since the backup) is another directory.
        let other = dir.path().join("Keyspace1/users-fedcba9876543210fedcba9876543210/nb-9-big-Data.db");
        std::fs::create_dir_all(other.parent().unwrap()).unwrap();
        std::fs::write(&other, b"live").unwrap();
        let written = ["Keyspace1/dates".to_owned(), "Keyspace1/users-0123456789abcdef0123456789abcdef".to_owned()];
        assert_eq!(truncate(dir.path(), &written, &Default::default()).unwrap(), 2);
        assert!(!dir.path().join("Keyspace1/dates/nb-1-big-Data.db").exists());
        assert!(dir.path().join("Keyspace1/users-0123456789abcdef0123456789abcdef/snapshots/x/y.db").exists());
        assert!(other.exists(), "a directory the restore did not write is left alone");
        assert!(dir.path().join("OpsCenter/events-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/nb-1-big-Data.db").exists());
    }
}
