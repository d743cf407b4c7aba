//! Samples files: `d` comma-separated numbers a row, an optional header on the first line.

use std::path::Path;

use crate::error::Error;

/// Reads `path` into row-major `n × d` samples and `d`.
///
/// The first line is a header when any of its fields is not a number; after that every non-blank
/// line must hold the same number of finite numbers. Errors name the file and the 1-based line.
pub fn read_samples(path: &Path) -> Result<(Vec<f64>, usize), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read the samples file: {e}"),
    })?;
    parse_samples(&text, path)
}

/// Parses CSV text; `path` names it in errors.
pub fn parse_samples(text: &str, path: &Path) -> Result<(Vec<f64>, usize), Error> {
    let err = |line: usize, message: String| Error::Csv {
        path: path.to_path_buf(),
        line: Some(line),
        message,
    };
    let mut data = Vec::new();
    let mut dim = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Vec<Result<f64, _>> = fields.iter().map(|f| f.parse::<f64>()).collect();
        if n == 1 && parsed.iter().any(Result::is_err) {
            continue; // header
        }
        let d = *dim.get_or_insert(fields.len());
        if fields.len() != d {
            return Err(err(
                n,
                format!(
                    "{} fields, expected {d} (as on the first data row)",
                    fields.len()
                ),
            ));
        }
        for (j, (f, p)) in fields.iter().zip(parsed).enumerate() {
            match p {
                Ok(v) if v.is_finite() => data.push(v),
                _ => {
                    return Err(err(
                        n,
                        format!("field {} is \"{f}\", not a finite number", j + 1),
                    ));
                }
            }
        }
    }
    match dim {
        Some(d) => Ok((data, d)),
        None => Err(Error::Csv {
            path: path.to_path_buf(),
            line: None,
            message: "no samples: the file has no data rows".into(),
        }),
    }
}
