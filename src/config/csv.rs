//! CSV tables of numbers: an optional header line, then rows of comma-separated finite numbers.
//!
//! Bounded: the parser counts columns and values as it goes and refuses a table beyond
//! [`MAX_DIM`](super::limits::MAX_DIM) columns or [`MAX_VALUES`](super::limits::MAX_VALUES)
//! numbers before it grows past them; a leading UTF-8 byte-order mark is skipped.

use std::path::Path;

use super::limits::{MAX_DIM, MAX_VALUES};
use crate::error::{Error, quote};

/// A parsed table: row-major numbers, the column count, and the header's names when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The header's column names (`None` when the first line is data).
    pub columns: Option<Vec<String>>,
    /// Row-major `n_rows × n_cols`.
    pub data: Vec<f64>,
    /// Columns per row.
    pub n_cols: usize,
}

impl Table {
    /// Rows.
    pub fn n_rows(&self) -> usize {
        self.data.len().checked_div(self.n_cols).unwrap_or(0)
    }
}

/// Parses CSV text; `path` names it in errors (with 1-based lines).
///
/// The first line is a header when any of its fields is not a number; after that every non-blank
/// line must hold the same number of finite numbers.
pub fn parse_table(text: &str, path: &Path) -> Result<Table, Error> {
    let err = |line: Option<usize>, message: String| Error::Csv {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut data = Vec::new();
    let mut columns = None;
    let mut n_cols = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let count = line.split(',').count();
        if count > MAX_DIM.max(1) + 1 {
            return Err(err(
                Some(n),
                format!(
                    "{count} columns: more than the limit of {} (the largest dimension, plus a label)",
                    MAX_DIM + 1
                ),
            ));
        }
        if n_cols.is_none()
            && columns.is_none()
            && line.split(',').any(|f| f.trim().parse::<f64>().is_err())
        {
            columns = Some(
                line.split(',')
                    .map(|f| f.trim().trim_matches('"').to_string())
                    .collect::<Vec<_>>(),
            );
            continue;
        }
        let d = *n_cols.get_or_insert(count);
        if count != d {
            return Err(err(
                Some(n),
                format!("{count} fields, expected {d} (as on the first data row)"),
            ));
        }
        if data.len() + d > MAX_VALUES {
            return Err(err(
                Some(n),
                format!(
                    "more than {MAX_VALUES} numbers (rows × columns): beyond the limit on a sample set"
                ),
            ));
        }
        for (j, f) in line.split(',').map(str::trim).enumerate() {
            match f.parse::<f64>() {
                Ok(v) if v.is_finite() => data.push(v),
                _ => {
                    return Err(err(
                        Some(n),
                        format!("field {} is \"{}\", not a finite number", j + 1, quote(f)),
                    ));
                }
            }
        }
    }
    let Some(n_cols) = n_cols else {
        return Err(err(None, "no data rows".into()));
    };
    if let Some(c) = &columns
        && c.len() != n_cols
    {
        return Err(err(
            Some(1),
            format!(
                "the header has {} names, the rows have {n_cols} fields",
                c.len()
            ),
        ));
    }
    Ok(Table {
        columns,
        data,
        n_cols,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_does_not_eat_the_first_row() {
        let t = parse_table("\u{feff}1,2\n3,4\n", Path::new("x.csv")).expect("valid");
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.columns, None);
        let t = parse_table("\u{feff}a,b\n3,4\n", Path::new("x.csv")).expect("valid");
        assert_eq!(t.columns, Some(vec!["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn a_huge_line_is_refused_by_its_column_count() {
        let line = vec!["1"; MAX_DIM + 5].join(",");
        let e = parse_table(&line, Path::new("x.csv")).expect_err("too wide");
        assert!(e.to_string().contains("columns"), "{e}");
    }

    #[test]
    fn a_long_field_is_quoted_as_a_prefix() {
        let long = "x".repeat(10_000);
        let e = parse_table(&format!("1,2\n3,{long}\n"), Path::new("x.csv")).expect_err("bad");
        assert!(e.to_string().len() < 200, "{e}");
    }
}
