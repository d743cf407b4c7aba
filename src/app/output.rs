//! The one writer of the workspace: a folder's complete new contents, built in memory, put in place
//! all at once.
//!
//! [`write_folder`] writes every file into a fresh temporary folder next to the destination
//! (created by `tempfile` with an unpredictable name, mode 0700; each file created exclusively and
//! fsynced), then swaps it in by renames, so that the destination is at every moment either the old
//! folder or a complete new one — never a mix, also when two runs race (each rename moves one
//! run's complete folder). A failure at any point leaves the old folder as it was.
//!
//! Temporary folders are named `.<dest>.fbkl-<pid>-<random>`; a later write of the same
//! destination removes those whose process is gone (a killed run's leftovers).
//!
//! # Invariants
//! - Nothing is written outside the destination's parent, and nothing there is followed: the
//!   temporary folder is new (mkdir fails on any planted name) and its files are created with
//!   `create_new` inside it.
//! - Names are checked against the platform's limits (255 bytes a component, 4096 a path) before
//!   anything is written.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// The longest file-name component on Linux, macOS and Windows file systems (bytes).
pub const NAME_MAX: usize = 255;
/// The longest path Linux accepts (bytes).
pub const PATH_MAX: usize = 4096;

/// One file of an output folder: its name in the folder and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// A plain file name (no separators).
    pub name: String,
    /// The contents.
    pub bytes: Vec<u8>,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Checks that `dest` can hold `names`: a non-empty destination, plain names within
/// [`NAME_MAX`], full paths within [`PATH_MAX`].
///
/// # Errors
/// [`Error::Usage`] naming the first name that does not fit.
pub fn check_names<'a>(dest: &Path, names: impl IntoIterator<Item = &'a str>) -> Result<(), Error> {
    if dest.as_os_str().is_empty() {
        return Err(Error::Usage {
            message: "the output folder is empty (\"\"): give a folder name".into(),
        });
    }
    let dest_name = folder_name(dest)?;
    if dest_name.len() > NAME_MAX - 40 {
        return Err(Error::Usage {
            message: format!(
                "{}: the folder name has {} bytes: more than {} (the platform allows {NAME_MAX} \
                 a name, and the temporary folder adds 40)",
                dest.display(),
                dest_name.len(),
                NAME_MAX - 40
            ),
        });
    }
    for name in names {
        let plain = Path::new(name).components().count() == 1
            && matches!(
                Path::new(name).components().next(),
                Some(Component::Normal(_))
            );
        if !plain {
            return Err(Error::Usage {
                message: format!("\"{}\" is not a plain file name", crate::error::quote(name)),
            });
        }
        if name.len() > NAME_MAX {
            return Err(Error::Usage {
                message: format!(
                    "the file name \"{}\" has {} bytes: more than the platform's {NAME_MAX}",
                    crate::error::quote(name),
                    name.len()
                ),
            });
        }
        let full = absolute(dest).join(name);
        if full.as_os_str().len() >= PATH_MAX {
            return Err(Error::Usage {
                message: format!(
                    "{}: the path has {} bytes: more than the platform's {PATH_MAX}",
                    crate::error::quote(&full.display().to_string()),
                    full.as_os_str().len()
                ),
            });
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The destination's last component (`out/run` → `run`), refusing `..`, `/` and the like.
fn folder_name(dest: &Path) -> Result<String, Error> {
    match dest.components().next_back() {
        Some(Component::Normal(n)) => Ok(n.to_string_lossy().into_owned()),
        _ => Err(Error::Usage {
            message: format!(
                "{}: not usable as an output folder (it must end in a folder name)",
                dest.display()
            ),
        }),
    }
}

fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The prefix of this destination's temporary folders.
fn temp_prefix(dest_name: &str) -> String {
    format!(".{dest_name}.fbkl-")
}

/// Replaces the folder `dest` by one holding exactly `files` (see the module docs). Returns the
/// paths written, in order.
///
/// # Errors
/// [`Error::Usage`] for names beyond the limits (before anything is written), [`Error::Io`] for
/// what the file system refuses; in every case `dest` is left as it was.
pub fn write_folder(dest: &Path, files: &[OutputFile]) -> Result<Vec<PathBuf>, Error> {
    check_names(dest, files.iter().map(|f| f.name.as_str()))?;
    let dest_name = folder_name(dest)?;
    let parent = parent_of(dest);
    fs::create_dir_all(&parent).map_err(io(&parent, "create the folder"))?;
    remove_stale(&parent, &dest_name);
    let prefix = format!("{}{}-", temp_prefix(&dest_name), std::process::id());
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(&parent)
        .map_err(io(&parent, "create a temporary folder in"))?;
    for f in files {
        let path = tmp.path().join(&f.name);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(dest, "create a file in the temporary folder of"))?;
        file.write_all(&f.bytes)
            .and_then(|()| file.sync_all())
            .map_err(io(dest, "write a file in the temporary folder of"))?;
    }
    sync_dir(tmp.path()).map_err(io(dest, "sync the temporary folder of"))?;
    swap_in(tmp, dest, &parent, &prefix)?;
    Ok(files.iter().map(|f| dest.join(&f.name)).collect())
}

/// Moves the complete folder `tmp` to `dest`, moving an existing `dest` aside first. Retries a
/// bounded number of times when another run swaps its own folder in between.
fn swap_in(tmp: tempfile::TempDir, dest: &Path, parent: &Path, prefix: &str) -> Result<(), Error> {
    let tmp_path = tmp.keep();
    let cleanup = |e: Error| {
        let _ = fs::remove_dir_all(&tmp_path);
        e
    };
    // A symlink (or another non-folder entry) at the destination is replaced as an entry, never
    // followed: unlinking it leaves whatever it points at alone. A regular file is the user's:
    // refused, kept.
    if let Ok(meta) = fs::symlink_metadata(dest) {
        let t = meta.file_type();
        if t.is_file() {
            return Err(cleanup(Error::Usage {
                message: format!(
                    "{}: a file is in the way of the output folder; move it or choose another --out",
                    dest.display()
                ),
            }));
        }
        if !t.is_dir() {
            fs::remove_file(dest)
                .map_err(io(dest, "remove the link in the way of the output folder"))
                .map_err(cleanup)?;
        }
    }
    for _ in 0..16 {
        match fs::rename(&tmp_path, dest) {
            Ok(()) => {
                let _ = sync_dir(parent);
                return Ok(());
            }
            Err(e)
                if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir())
                    || e.kind() == std::io::ErrorKind::DirectoryNotEmpty =>
            {
                // Move the old folder onto a fresh empty one (rename replaces an empty folder).
                let old = tempfile::Builder::new()
                    .prefix(prefix)
                    .tempdir_in(parent)
                    .map_err(io(parent, "create a temporary folder in"))
                    .map_err(cleanup)?
                    .keep();
                match fs::rename(dest, &old) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        let _ = fs::remove_dir(&old);
                        return Err(cleanup(Error::Io {
                            path: dest.to_path_buf(),
                            action: "move the old output folder aside",
                            source: e,
                        }));
                    }
                }
                let placed = fs::rename(&tmp_path, dest);
                let _ = fs::remove_dir_all(&old);
                if placed.is_ok() {
                    let _ = sync_dir(parent);
                    return Ok(());
                }
            }
            Err(e) => {
                return Err(cleanup(Error::Io {
                    path: dest.to_path_buf(),
                    action: "move the new output folder in place",
                    source: e,
                }));
            }
        }
    }
    Err(cleanup(Error::Usage {
        message: format!(
            "{}: other runs kept replacing this folder; try again",
            dest.display()
        ),
    }))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Removes `.<dest>.fbkl-<pid>-*` folders of `parent` whose process no longer runs (best effort:
/// a folder that cannot be removed is left for next time).
fn remove_stale(parent: &Path, dest_name: &str) {
    let prefix = temp_prefix(dest_name);
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if !alive && is_dir {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The name of the list of files a folder's writer produced (kept in the folder, so that a later
/// write removes only files it wrote itself).
pub const MANIFEST: &str = ".manifest";

/// Replaces the generated files of a shared folder (such as `figures/`): the new folder holds
/// `files`, the [`MANIFEST`] listing them, and every file of the old folder that the old manifest
/// does not list (files someone else put there). Files the old manifest lists and `files` does not
/// are the only ones removed. All at once, like [`write_folder`].
///
/// # Errors
/// As [`write_folder`]; [`Error::Io`] when a kept file cannot be read.
pub fn write_generated(dest: &Path, files: &[OutputFile]) -> Result<Vec<PathBuf>, Error> {
    let old_manifest = read_manifest(dest);
    let mut all: Vec<OutputFile> = files.to_vec();
    if let Ok(entries) = fs::read_dir(dest) {
        let mut kept: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != MANIFEST && !old_manifest.contains(n))
            .filter(|n| !files.iter().any(|f| f.name == *n))
            .collect();
        kept.sort();
        for name in kept {
            let path = dest.join(&name);
            let bytes = fs::read(&path).map_err(io(&path, "read (to keep) the file"))?;
            all.push(OutputFile { name, bytes });
        }
    }
    let mut listing: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    listing.sort_unstable();
    let mut manifest = listing.join("\n");
    manifest.push('\n');
    all.push(OutputFile {
        name: MANIFEST.into(),
        bytes: manifest.into_bytes(),
    });
    let mut written = write_folder(dest, &all)?;
    written.retain(|p| files.iter().any(|f| p.ends_with(&f.name)));
    Ok(written)
}

/// The files a folder's [`MANIFEST`] lists (empty when there is none).
pub fn read_manifest(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join(MANIFEST))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
