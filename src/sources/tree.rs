//! A file tree under a root, narrowed by include and exclude globs. A pattern without `/` matches
//! a name at any depth; one with `/` matches the path from the root. Matching a directory covers
//! everything under it.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{SourceError, item_for};
use crate::{domain::backup::Selection, store::Item};

struct Patterns {
    names: GlobSet,
    paths: GlobSet,
    empty: bool,
}

impl Patterns {
    fn new(root: &Path, patterns: &[String]) -> Result<Self, SourceError> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let root_str = root.to_string_lossy();
        for p in patterns {
            let rel = p.strip_prefix(root_str.as_ref()).unwrap_or(p).trim_matches('/');
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
        })
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
            let mark = out.len();
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
}
