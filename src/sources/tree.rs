//! A file tree under a root, narrowed by include and exclude globs. A pattern without `/` matches
//! a name at any depth; one with `/` matches the path from the root. Matching a directory covers
//! everything under it.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{SourceError, item_for};
use crate::{
    domain::backup::Selection,
    store::{Item, ItemSource},
};

struct Patterns {
    names: GlobSet,
    paths: GlobSet,
    empty: bool,
    /// The literal leading directories of every pattern, when all patterns are paths; a walk
    /// need not enter a directory no prefix leads through (an agent's root may be `/`).
    prefixes: Option<Vec<String>>,
}

impl Patterns {
    fn new(root: &Path, patterns: &[String]) -> Result<Self, SourceError> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let root_str = root.to_string_lossy();
        let mut prefixes = Some(Vec::new());
        for p in patterns {
            let rel = p.strip_prefix(root_str.as_ref()).unwrap_or(p).trim_matches('/');
            let literal: Vec<&str> = rel.split('/').take_while(|c| !c.contains(['*', '?', '[', '{', '\\'])).collect();
            match prefixes.as_mut() {
                Some(list) if rel.contains('/') && !literal.is_empty() && !literal[0].is_empty() => list.push(literal.join("/")),
                _ => prefixes = None,
            }
            if rel.is_empty() {
                paths.add(Glob::new("**").map_err(|e| SourceError::Invalid(e.to_string()))?);
                continue;
            }
            let glob = Glob::new(rel).map_err(|e| SourceError::Invalid(format!("bad pattern '{p}': {e}")))?;
            if rel.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        Ok(Self {
            names: names.build().map_err(|e| SourceError::Invalid(e.to_string()))?,
            paths: paths.build().map_err(|e| SourceError::Invalid(e.to_string()))?,
            empty: patterns.is_empty(),
            prefixes: prefixes.filter(|p| !p.is_empty()),
        })
    }

    /// Whether something under `rel` (a directory) could match.
    fn could_lead_into(&self, rel: &str) -> bool {
        match &self.prefixes {
            None => true,
            Some(list) => list.iter().any(|p| p == rel || p.starts_with(&format!("{rel}/")) || rel.starts_with(&format!("{p}/"))),
        }
    }

    fn matches(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.names.is_match(name) || self.paths.is_match(rel)
    }
}

/// Lists what to back up under `root`, sorted by path; directories leading to included files come along.
pub fn scan(root: &Path, selection: &Selection) -> Result<Vec<Item>, SourceError> {
    let meta = std::fs::metadata(root).map_err(|e| SourceError::io(root, e))?;
    if !meta.is_dir() {
        return Err(SourceError::Invalid(format!("{} is not a directory", root.display())));
    }
    let include = Patterns::new(root, &selection.include)?;
    let exclude = Patterns::new(root, &selection.exclude)?;
    let mut items = Vec::new();
    walk(root, root, "", include.empty, &include, &exclude, &mut items)?;
    items.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(items)
}

fn walk(
    root: &Path,
    dir: &Path,
    rel_dir: &str,
    included: bool,
    include: &Patterns,
    exclude: &Patterns,
    out: &mut Vec<Item>,
) -> Result<bool, SourceError> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    let mut any = false;
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
        if exclude.matches(&rel) {
            continue;
        }
        let abs = root.join(&rel);
        let Ok(meta) = std::fs::symlink_metadata(&abs) else { continue };
        let here = included || include.matches(&rel);
        if meta.is_dir() {
            if !here && !include.empty && !include.could_lead_into(&rel) {
                continue;
            }
            let mark = out.len();
            if let Err(e) = std::fs::read_dir(&abs) {
                // One directory the agent may not read is that directory's error, not the backup's.
                if here {
                    out.push(Item { path: rel, source: ItemSource::Unreadable(e.to_string()), size: 0, mode: 0, mtime_ns: 0 });
                    any = true;
                }
                continue;
            }
            let inner = walk(root, &abs, &rel, here, include, exclude, out)?;
            if here || inner {
                if let Some(item) = item_for(&abs, rel, &meta)? {
                    out.insert(mark, item);
                }
                any = true;
            }
        } else if here && let Some(item) = item_for(&abs, rel, &meta)? {
            out.push(item);
            any = true;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path, include: &[&str], exclude: &[&str]) -> Vec<String> {
        let sel = Selection {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        scan(root, &sel).unwrap().into_iter().map(|i| i.path).collect()
    }

    #[test]
    fn includes_and_excludes_narrow_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["etc/app.conf", "etc/app.tmp", "logs/a.log", "data/x/y.bin"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(
            paths(dir.path(), &[], &[]),
            ["data", "data/x", "data/x/y.bin", "etc", "etc/app.conf", "etc/app.tmp", "logs", "logs/a.log"]
        );
        assert_eq!(paths(dir.path(), &[], &["*.tmp", "logs"]), ["data", "data/x", "data/x/y.bin", "etc", "etc/app.conf"]);
        assert_eq!(paths(dir.path(), &["etc"], &["*.tmp"]), ["etc", "etc/app.conf"]);
        let abs = format!("{}/data/x", dir.path().display());
        assert_eq!(paths(dir.path(), &[&abs], &[]), ["data", "data/x", "data/x/y.bin"]);
    }

    #[test]
    fn a_walk_enters_only_directories_that_lead_to_an_included_path() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["keep/a/file", "other/b/file"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        // An unreadable directory off the included paths is never opened.
        let closed = dir.path().join("closed");
        std::fs::write(&closed, b"not a directory, so reading it as one would fail").unwrap();
        std::fs::create_dir_all(dir.path().join("zzz")).unwrap();
        let sel = Selection { include: vec![format!("{}/keep/a", dir.path().display())], ..Default::default() };
        let include = Patterns::new(dir.path(), &sel.include).unwrap();
        assert!(include.could_lead_into("keep") && include.could_lead_into("keep/a") && include.could_lead_into("keep/a/deeper"));
        assert!(!include.could_lead_into("other") && !include.could_lead_into("kee"));
        assert_eq!(paths(dir.path(), &[&format!("{}/keep/a", dir.path().display())], &[]), ["keep", "keep/a", "keep/a/file"]);
        let names = Patterns::new(dir.path(), &["*.log".to_string()]).unwrap();
        assert!(names.could_lead_into("anything"), "a name pattern can match anywhere");
    }
}
