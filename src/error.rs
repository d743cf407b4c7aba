use std::fmt;
use std::path::PathBuf;

/// Where in a file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The line and column of byte `offset` in `text`.
    pub fn of(text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Location { line, column }
    }
}

/// Everything that can go wrong between an experiment file and its outputs. Each variant names
/// the file and, where it has one, the key or line.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read or written.
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    /// The experiment file is not valid: bad TOML, an unknown key, a wrong type, a missing key or
    /// section, or a value out of range. `key` is dotted (`optimizer.learning_rate`).
    Config {
        path: PathBuf,
        at: Option<Location>,
        key: Option<String>,
        message: String,
    },
    /// A samples CSV is missing, empty, ragged or has a non-number (`line` is 1-based).
    Csv {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// The fit stopped: a non-finite loss, gradient or parameter, or a singular model, at an iteration.
    Fit { experiment: String, message: String },
    /// A figure could not be drawn or written.
    Render { path: PathBuf, message: String },
    /// `figures --check` found files that differ from what the experiments produce.
    Stale { files: Vec<PathBuf> },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "{}: cannot {action}: {source}", path.display()),
            Error::Config {
                path,
                at,
                key,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(at) = at {
                    write!(f, ":{}:{}", at.line, at.column)?;
                }
                write!(f, ": ")?;
                if let Some(key) = key {
                    write!(f, "{key}: ")?;
                }
                write!(f, "{message}")
            }
            Error::Csv {
                path,
                line,
                message,
            } => match line {
                Some(line) => write!(f, "{}:{line}: {message}", path.display()),
                None => write!(f, "{}: {message}", path.display()),
            },
            Error::Fit {
                experiment,
                message,
            } => write!(f, "experiment {experiment}: {message}"),
            Error::Render { path, message } => write!(f, "{}: {message}", path.display()),
            Error::Stale { files } => {
                write!(
                    f,
                    "{} figure file(s) differ from what the experiments produce:",
                    files.len()
                )?;
                for p in files {
                    write!(f, "\n  {}", p.display())?;
                }
                write!(f, "\nrun `cargo xtask figures` and commit the result")
            }
        }
    }
}

/// The messages are self-contained (an I/O error's cause is part of its `Display`), so there is
/// no separate `source` to print twice.
impl std::error::Error for Error {}
