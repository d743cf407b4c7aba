//! A fuzz pass over the two readers of user text, `config::parse` (experiment files, through an
//! in-memory [`Files`]) and `config::parse_table` (CSV): arbitrary bytes, and valid files mutated
//! by byte flips, line deletions and duplications, and numbers replaced by huge, tiny, negative
//! or non-finite values. Whatever the input: no panic, every error a located `Config` / `Csv` /
//! `Input` error (an `Io` error only for a file the mutated experiment names but that does not
//! exist), every message short.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use forward_backward_kl::config::{self, Files, parse_table};
use forward_backward_kl::{Error, report};
use kl_testkit::experiment::{GAUSS_2D, GOOD_CSV, MIXTURE_2D, SAMPLES_2D};
use proptest::prelude::*;

/// Files held in memory, read with the same contract as the disk's: at most `limit` bytes.
#[derive(Debug, Default)]
struct Mem(HashMap<PathBuf, Vec<u8>>);

impl Files for Mem {
    fn read(&self, path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
        match self.0.get(path) {
            Some(b) if b.len() as u64 > limit => Err(Error::Input {
                path: path.to_path_buf(),
                message: format!("the {what} has {} bytes: more than {limit}", b.len()),
            }),
            Some(b) => Ok(b.clone()),
            None => Err(Error::Io {
                path: path.to_path_buf(),
                action: "read the file",
                source: std::io::ErrorKind::NotFound.into(),
            }),
        }
    }
}

/// Where the fuzzed experiment lives; `data.csv` beside it.
const EXP: &str = "/fuzz/exp.toml";

fn files(csv: &[u8]) -> Mem {
    let mut m = Mem::default();
    m.0.insert(PathBuf::from("/fuzz/data.csv"), csv.to_vec());
    m
}

/// The longest message accepted (the paths here are short).
const MAX_MESSAGE: usize = 300;

/// Checks one outcome of `config::parse` / `config::load`.
fn check_experiment_outcome(r: Result<config::Experiment, Error>) -> Result<(), TestCaseError> {
    let Err(e) = r else {
        return Ok(());
    };
    let text = report(&e);
    prop_assert!(
        text.chars().count() < MAX_MESSAGE,
        "{} characters: {text}",
        text.chars().count()
    );
    match &e {
        Error::Config { path, at, key, .. } => {
            prop_assert!(path.starts_with("/fuzz"), "{text}");
            prop_assert!(
                at.is_some() || key.is_some(),
                "neither line nor key: {text}"
            );
        }
        Error::Csv { path, .. } | Error::Input { path, .. } => {
            prop_assert!(path.starts_with("/fuzz") || path.is_relative() || path.is_absolute());
        }
        Error::Io { path, source, .. } => {
            prop_assert!(
                source.kind() == std::io::ErrorKind::NotFound,
                "only a missing named file: {text}"
            );
            prop_assert!(path.as_path() != Path::new(EXP), "{text}");
        }
        other => prop_assert!(false, "unexpected error kind: {other:?}"),
    }
    Ok(())
}

/// Checks one outcome of `parse_table`.
fn check_table_outcome(r: Result<config::Table, Error>) -> Result<(), TestCaseError> {
    match r {
        Ok(t) => {
            prop_assert!(t.n_cols > 0);
            prop_assert_eq!(t.data.len() % t.n_cols, 0);
            prop_assert!(t.data.iter().all(|v| v.is_finite()));
            if let Some(c) = &t.columns {
                prop_assert_eq!(c.len(), t.n_cols);
            }
        }
        Err(e) => {
            let text = report(&e);
            prop_assert!(text.chars().count() < MAX_MESSAGE, "{text}");
            prop_assert!(
                matches!(&e, Error::Csv { path, .. } if path == Path::new("/fuzz/t.csv")),
                "{e:?}"
            );
        }
    }
    Ok(())
}

/// Values that stress a reader, as they would be written in a file.
const NASTY: &[&str] = &[
    "1e308",
    "-1e308",
    "1e309",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "-0.0",
    "1e-320",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999",
    "4294967297",
    "\"\"",
    "\"x\"",
    "[]",
    "[[]]",
    "{}",
    "true",
];

/// One edit of a text.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at (index mod len) with the mask.
    Flip(usize, u8),
    /// Delete line (index mod lines).
    DeleteLine(usize),
    /// Duplicate line (index mod lines).
    DuplicateLine(usize),
    /// Replace the (index mod count)-th number by NASTY[k mod len].
    Number(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(i, k)| Mutation::Number(i, k)),
    ]
}

/// The byte ranges of the numbers in `text` (runs of digits, signs, dots and exponents that
/// start with a digit or a sign).
fn numbers(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c.is_ascii_digit()
            || ((c == b'-' || c == b'+') && text.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < text.len()
                && (text[i].is_ascii_digit() || matches!(text[i], b'.' | b'e' | b'E' | b'-' | b'+'))
            {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

fn apply(text: &[u8], m: &Mutation) -> Vec<u8> {
    let mut t = text.to_vec();
    let lines =
        |t: &[u8]| -> Vec<Vec<u8>> { t.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect() };
    match *m {
        Mutation::Flip(i, mask) => {
            if !t.is_empty() {
                let i = i % t.len();
                t[i] ^= mask;
            }
        }
        Mutation::DeleteLine(i) => {
            let mut l = lines(&t);
            let i = i % l.len();
            l.remove(i);
            t = l.join(&b'\n');
        }
        Mutation::DuplicateLine(i) => {
            let mut l = lines(&t);
            let i = i % l.len();
            let line = l[i].clone();
            l.insert(i, line);
            t = l.join(&b'\n');
        }
        Mutation::Number(i, k) => {
            let n = numbers(&t);
            if !n.is_empty() {
                let (a, b) = n[i % n.len()];
                let v = NASTY[k % NASTY.len()].as_bytes();
                t.splice(a..b, v.iter().copied());
            }
        }
    }
    t
}

/// A valid experiment file, with the CSV its samples target reads.
fn base() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![
        Just((MIXTURE_2D, GOOD_CSV)),
        Just((GAUSS_2D, GOOD_CSV)),
        Just((SAMPLES_2D, GOOD_CSV)),
        Just((SAMPLES_2D, "\u{feff}0.5,1.5\n-1,2\n3,4\n")),
    ]
}

proptest! {
    #![proptest_config(kl_testkit::config(10_000, "proptest-regressions/fuzz.txt"))]

    #[test]
    fn mutated_experiments_never_panic_and_fail_located(
        (toml, csv) in base(),
        ms in prop::collection::vec(mutation(), 1..6),
        csv_ms in prop::collection::vec(mutation(), 0..3),
    ) {
        let mut bytes = toml.as_bytes().to_vec();
        for m in &ms {
            bytes = apply(&bytes, m);
        }
        let mut csv = csv.as_bytes().to_vec();
        for m in &csv_ms {
            csv = apply(&csv, m);
        }
        let mut mem = files(&csv);
        mem.0.insert(PathBuf::from(EXP), bytes.clone());
        // Through load (bytes: may not be UTF-8) and, when it is text, through parse.
        check_experiment_outcome(config::load(Path::new(EXP), &mem))?;
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check_experiment_outcome(config::parse(text, Path::new(EXP), &mem))?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut mem = files(GOOD_CSV.as_bytes());
        mem.0.insert(PathBuf::from(EXP), bytes.clone());
        check_experiment_outcome(config::load(Path::new(EXP), &mem))?;
        let text = String::from_utf8_lossy(&bytes);
        check_experiment_outcome(config::parse(&text, Path::new(EXP), &mem))?;
        check_table_outcome(parse_table(&text, Path::new("/fuzz/t.csv")))?;
    }

    #[test]
    fn arbitrary_toml_like_text_never_panics(text in "([a-z_]{1,8} = [-0-9.e\"\\[\\], ]{0,12}\n|\\[[a-z]{1,9}\\]\n){0,20}") {
        let mem = files(GOOD_CSV.as_bytes());
        check_experiment_outcome(config::parse(&text, Path::new(EXP), &mem))?;
    }

    #[test]
    fn mutated_tables_never_panic(
        ms in prop::collection::vec(mutation(), 0..8),
        csv in prop_oneof![
            Just(GOOD_CSV),
            Just("0.1,0.2\n0.3,0.4\n"),
            Just("\u{feff}a,b,c\n1,2,3\n4,5,6\n"),
        ],
    ) {
        let mut bytes = csv.as_bytes().to_vec();
        for m in &ms {
            bytes = apply(&bytes, m);
        }
        let text = String::from_utf8_lossy(&bytes);
        check_table_outcome(parse_table(&text, Path::new("/fuzz/t.csv")))?;
    }
}

/// Every number of every base file replaced by every nasty value, exhaustively: some edits are
/// still valid experiments, the others are refused naming the key — the mutations reach the
/// validation, not only the TOML parser.
#[test]
fn every_number_replaced_by_every_nasty_value() {
    let (mut accepted, mut refused) = (0, 0);
    for (toml, csv) in [
        (MIXTURE_2D, GOOD_CSV),
        (GAUSS_2D, GOOD_CSV),
        (SAMPLES_2D, GOOD_CSV),
    ] {
        let count = numbers(toml.as_bytes()).len();
        assert!(count > 5, "{toml}");
        for i in 0..count {
            for k in 0..NASTY.len() {
                let bytes = apply(toml.as_bytes(), &Mutation::Number(i, k));
                let text = String::from_utf8(bytes).expect("ASCII edits");
                let mem = files(csv.as_bytes());
                match config::parse(&text, Path::new(EXP), &mem) {
                    Ok(_) => accepted += 1,
                    Err(e) => {
                        refused += 1;
                        let Error::Config { key, at, .. } = &e else {
                            panic!("not a Config error: {e:?}\n{text}");
                        };
                        assert!(key.is_some() || at.is_some(), "{e}");
                        assert!(report(&e).chars().count() < MAX_MESSAGE, "{e}");
                    }
                }
            }
        }
    }
    assert!(
        accepted > 20 && refused > 200,
        "accepted {accepted}, refused {refused}"
    );
}
