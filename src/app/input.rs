//! Reading input files from disk, carefully: only regular files (a FIFO or `/dev/zero` would hang
//! or never end), at most a documented number of bytes, with errors naming the file.

use std::io::Read;
use std::path::Path;

use crate::config::Files;
use crate::error::Error;

/// The file system, as a [`Files`] for [`crate::config::load`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Fs;

impl Files for Fs {
    fn read(&self, path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
        read_limited(path, what, limit)
    }
}

/// The bytes of the regular file `path`, refusing anything else and anything beyond `limit`
/// bytes before reading it.
///
/// # Errors
/// [`Error::Io`] when the file cannot be inspected or read, [`Error::Input`] when it is not a
/// regular file or is too large.
pub fn read_limited(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
    let io = |action, source| Error::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let action = match what {
        "experiment file" => "read the experiment file",
        "samples file" => "read the samples file",
        "data file" => "read the data file",
        _ => "read the file",
    };
    let meta = std::fs::metadata(path).map_err(|e| io(action, e))?;
    if !meta.is_file() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the {what} is not a regular file (a folder, FIFO or device): refused"
            ),
        });
    }
    if meta.len() > limit {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the {what} has {} bytes: more than the limit of {limit}",
                meta.len()
            ),
        });
    }
    let file = std::fs::File::open(path).map_err(|e| io(action, e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the check and the read: read one byte past the limit at most.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(action, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: format!("the {what} grew beyond the limit of {limit} bytes while read"),
        });
    }
    Ok(bytes)
}
