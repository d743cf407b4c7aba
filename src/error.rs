//! The root package's one error type: every way from an experiment file to its outputs can fail,
//! each variant naming the file, the key or line, the iteration — whatever locates it — and
//! chaining its cause through [`std::error::Error::source`] (printed once, by the caller).

use std::fmt;
use std::path::PathBuf;

/// Where in a file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// The line and column of byte `offset` in `text`.
    pub fn of(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Location { line, column }
    }
}

/// At most this many characters of any user-given text are quoted in a message.
pub const QUOTE_LIMIT: usize = 60;

/// `text` cut to `QUOTE_LIMIT` (60) characters, with `…` when it was cut (a message never echoes a
/// whole field: a 50 MB string or a line of some other file stays out of the terminal).
pub fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTE_LIMIT).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Why a fit stopped: the library's error, carried by [`Error::Fit`], which names the
/// experiment.
pub use kl_fit::Error as FitError;

/// Everything that can go wrong between an experiment file and its outputs. Each variant names
/// the file and, where it has one, the key or line; causes are chained by `source()`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read or written.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done (`"read the experiment file"`).
        action: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An input file is refused before it is read: not a regular file, too large, not UTF-8.
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The experiment file is not valid: bad TOML, an unknown key, a wrong type, a missing key or
    /// section, a value out of range, or a size beyond a documented limit. `key` is dotted
    /// (`optimizer.learning_rate`).
    Config {
        /// The experiment file.
        path: PathBuf,
        /// Where in it, when TOML knows.
        at: Option<Location>,
        /// The dotted key.
        key: Option<String>,
        /// What is wrong, and what would be right.
        message: String,
    },
    /// A CSV file (samples or data) is empty, ragged, too large or has a non-number (`line` is
    /// 1-based).
    Csv {
        /// The file.
        path: PathBuf,
        /// The line, when the problem has one.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The fit stopped.
    Fit {
        /// The experiment's name and file.
        experiment: String,
        /// Why.
        source: FitError,
    },
    /// A figure could not be drawn or encoded.
    Render {
        /// The figure's file name.
        figure: String,
        /// Why.
        source: kl_render::Error,
    },
    /// The command line or the outputs' names are not usable (`--out ""`, a name beyond the
    /// platform's limits, two experiments with one name).
    Usage {
        /// What is wrong, and what to do.
        message: String,
    },
    /// `figures --check` found files that differ from what the experiments produce.
    Stale {
        /// The files, in order.
        files: Vec<PathBuf>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, action, .. } => write!(f, "{}: cannot {action}", path.display()),
            Error::Input { path, message } => write!(f, "{}: {message}", path.display()),
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
            Error::Fit { experiment, source } => write!(f, "experiment {experiment}: {source}"),
            Error::Render { figure, .. } => write!(f, "{figure}: the figure cannot be drawn"),
            Error::Usage { message } => write!(f, "{message}"),
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            // The fit's own message is part of this one's Display; its cause comes next.
            Error::Fit { source, .. } => std::error::Error::source(source),
            Error::Render { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The error and its chain of causes on one line, `outer: cause: cause` (what the command line
/// prints).
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
