//! Folders as values: every entry below a folder with its kind and bytes, to compare a folder
//! before and after something that must leave it alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One entry of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A folder.
    Dir,
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A symbolic link (not followed) and its target.
    Symlink(PathBuf),
    /// Anything else (FIFO, socket, device).
    Other,
}

/// Every entry below a folder, by path relative to it (sorted).
pub type Tree = BTreeMap<PathBuf, Entry>;

/// The entries below `dir`, recursively, without following symbolic links. Empty when `dir` does
/// not exist; entries that cannot be read are recorded as [`Entry::Other`].
pub fn tree(dir: &Path) -> Tree {
    let mut out = Tree::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Tree) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            out.insert(rel, Entry::Other);
            continue;
        };
        let t = meta.file_type();
        if t.is_symlink() {
            let target = std::fs::read_link(&p).unwrap_or_default();
            out.insert(rel, Entry::Symlink(target));
        } else if t.is_dir() {
            out.insert(rel, Entry::Dir);
            walk(root, &p, out);
        } else if t.is_file() {
            out.insert(rel, std::fs::read(&p).map_or(Entry::Other, Entry::File));
        } else {
            out.insert(rel, Entry::Other);
        }
    }
}

/// The regular files below `dir`, recursively, as full paths, sorted (none when it does not
/// exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|(_, e)| matches!(e, Entry::File(_)))
        .map(|(p, _)| dir.join(p))
        .collect()
}
