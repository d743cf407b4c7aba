//! End-to-end tests of `cargo xtask fit`: the real binary, run on experiment files written to a
//! scratch folder.
//!
//! Bad input (one table, one check helper): each case must exit with a non-zero status and one
//! clear message naming the file and the dotted key, with `:line:col` where TOML has them (or the
//! CSV file and `:line:`), without a panic and without leaving a `trace.json` or a temporary file
//! in the output folder. Good input: `trace.json` with `n_iters + 1` states and the figures, the
//! same bytes on a second run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kl_testkit::experiment::{
    GAUSS_2D as GAUSS, GOOD_CSV, MIXTURE_2D as BASE, SAMPLES_2D as SAMPLES, at, edit,
};
use kl_testkit::tree::{files_under, tree};

/// A unique scratch folder, removed on drop (kl-testkit's).
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        Scratch(kl_testkit::scratch_dir(&format!("xtask-cli-{tag}-")))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }
}

fn xtask(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run the xtask binary")
}

/// `xtask args…` under `ulimit -v` (2 GiB, no core file): input that should be refused but is
/// not fails fast instead of eating the shared machine's memory.
fn xtask_capped(args: &[&std::ffi::OsStr]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -c 0 && ulimit -v 2097152 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run the xtask binary")
}

fn fit(file: &Path, out: &Path) -> Output {
    xtask(&[
        "fit".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

/// Checks that `fit` rejects the experiment `toml` (with `csv`, if given, as `data.csv` beside it):
/// a non-zero exit, every string of `expect` in stderr (`{file}` stands for the experiment file's
/// path, `{csv}` for the samples file's), a single `error:` line of message, no panic, and nothing
/// written to the output folder.
fn check_rejected_with(toml: &str, csv: Option<&str>, expect: &[&str]) {
    check_rejected_args(toml, csv, &[], expect);
}

/// [`check_rejected_with`] with `extra` arguments after `fit FILE --out DIR`.
fn check_rejected_args(toml: &str, csv: Option<&str>, extra: &[&str], expect: &[&str]) {
    let s = Scratch::new("bad");
    let file = s.write("exp.toml", toml);
    let csv_path = csv.map(|c| s.write("data.csv", c));
    let out = s.path().join("out");
    let mut args = vec![
        "fit".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let o = xtask_capped(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted:\n{toml}\nstderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
        "not one `error:` line: {stderr}"
    );
    let csv_name = csv_path.map_or_else(
        || s.path().join("data.csv").display().to_string(),
        |p| p.display().to_string(),
    );
    for e in expect {
        let e = e
            .replace("{file}", &file.display().to_string())
            .replace("{csv}", &csv_name);
        assert!(stderr.contains(&e), "expected `{e}` in: {stderr}");
    }
    let left = files_under(&out);
    assert!(left.is_empty(), "files left behind: {left:?}");
}

fn check_rejected(toml: &str, expect: &[&str]) {
    check_rejected_with(toml, None, expect);
}

#[test]
fn bad_toml_is_rejected_naming_file_key_line_and_column() {
    // Unknown keys, at the top, in a section, in an inline table.
    let t = edit(BASE, "seed = 3\n", "seed = 3\nbogus = 1\n");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: bogus: unknown field `bogus`",
            at(&t, "bogus", 0)
        )],
    );
    let t = edit(BASE, "n_iters = 3\n", "n_iters = 3\nlearning_rte = 0.1\n");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: optimizer.learning_rte: unknown field",
            at(&t, "learning_rte", 0)
        )],
    );
    let t = edit(
        BASE,
        "[1.0, 1.0], [1.0, 2.0]] }",
        "[1.0, 1.0], [1.0, 2.0]], sd = 1 }",
    );
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.components[0].sd: unknown field `sd`",
            at(&t, "sd = 1", 0)
        )],
    );
    let t = edit(BASE, "[plot]\n", "[plots]\n");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: plots: unknown field `plots`",
            at(&t, "plots", 0)
        )],
    );

    // Wrong types.
    let t = edit(BASE, "learning_rate = 0.1", "learning_rate = \"fast\"");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: optimizer.learning_rate: must be a number or \"auto\", got \"fast\"",
            at(&t, "\"fast\"", 0)
        )],
    );
    let t = edit(BASE, "seed = 3", "seed = 1.5");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: seed: invalid type",
            at(&t, "1.5", 0)
        )],
    );
    let t = edit(BASE, "mean = [0.5, -0.7]", "mean = [0.5, \"x\"]");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.components[0].mean[1]: invalid type",
            at(&t, "\"x\"", 0)
        )],
    );
    let t = edit(BASE, "n_iters = 3", "n_iters = [3]");
    check_rejected(&t, &["{file}:", "optimizer.n_iters: invalid type"]);

    // Missing sections and keys.
    let t = edit(
        BASE,
        "[init]\nmean = [0.0, 0.0]\nraw = [[1.0, 0.0], [0.0, 1.0]]\n",
        "",
    );
    check_rejected(&t, &["{file}:1:1: init: the section [init] is missing"]);
    let t = edit(
        BASE,
        "[objective]\nkind = \"reverse-kl\"\nn_samples = 50\nestimator = \"stl\"\n",
        "",
    );
    check_rejected(
        &t,
        &["{file}:1:1: objective: the section [objective] is missing"],
    );
    let t = edit(BASE, "learning_rate = 0.1\n", "");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: optimizer.learning_rate: this key is required but missing",
            at(&t, "[optimizer]", 0)
        )],
    );
    let t = edit(BASE, ", cov = [[0.5, 0.1], [0.1, 0.5]]", "");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.components[1].cov: this key is required but missing",
            at(&t, "{ mean = [-2.5", 0)
        )],
    );
    let t = edit(BASE, "name = \"cli-test\"\n", "");
    check_rejected(&t, &["{file}:", "name: this key is required but missing"]);

    // Not TOML at all.
    let t = edit(BASE, "n_iters = 3", "n_iters = ");
    check_rejected(&t, &[&format!("{{file}}:{}: ", at(&t, "n_iters = \n", 10))]);
    let t = edit(BASE, "n_iters = 3\n", "n_iters = 3\nn_iters = 4\n");
    check_rejected(&t, &["{file}:", "optimizer.n_iters", "duplicate key"]);
}

#[test]
fn bad_values_are_rejected_naming_the_key() {
    // Dimension mismatch between target and init.
    let t = edit(BASE, "mean = [0.0, 0.0]", "mean = [0.0, 0.0, 0.0]");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: init.mean: has 3 entries but the target",
            at(&t, "[0.0, 0.0, 0.0]", 0)
        )],
    );
    let t = edit(
        GAUSS,
        "raw = [[1.0, 0.0], [0.0, 1.0]]",
        "raw = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]",
    );
    check_rejected(&t, &["{file}:", "init.raw: has 3 rows, expected 2"]);
    let t = edit(
        GAUSS,
        "cov = [[1.0, 0.3], [0.3, 0.5]]",
        "cov = [[1.0, 0.3, 0.0], [0.3, 0.5, 0.0], [0.0, 0.0, 1.0]]",
    );
    check_rejected(&t, &["{file}:", "target.cov: has 3 rows, expected 2"]);
    let t = edit(
        BASE,
        "{ mean = [-2.5, 2.5], cov = [[0.5, 0.1], [0.1, 0.5]] }",
        "{ mean = [-2.5, 2.5, 0.0], cov = [[0.5, 0.1, 0.0], [0.1, 0.5, 0.0], [0.0, 0.0, 1.0]] }",
    );
    check_rejected(
        &t,
        &[
            "{file}:",
            "target.components[1].mean: has dimension 3, component 0 has 2",
        ],
    );

    // Covariances that are not positive definite (or not symmetric).
    let t = edit(
        GAUSS,
        "cov = [[1.0, 0.3], [0.3, 0.5]]",
        "cov = [[1.0, 2.0], [2.0, 1.0]]",
    );
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.cov: covariance is not positive definite",
            at(&t, "[[1.0, 2.0]", 0)
        )],
    );
    let t = edit(
        BASE,
        "[[0.5, 0.1], [0.1, 0.5]]",
        "[[0.5, 0.1], [0.1, -0.5]]",
    );
    check_rejected(
        &t,
        &[
            "{file}:",
            "target.components[1].cov: covariance is not positive definite",
        ],
    );
    let t = edit(
        GAUSS,
        "cov = [[1.0, 0.3], [0.3, 0.5]]",
        "cov = [[1.0, 0.3], [0.2, 0.5]]",
    );
    check_rejected(&t, &["{file}:", "target.cov: covariance is not symmetric"]);
    let t = edit(
        GAUSS,
        "cov = [[1.0, 0.3], [0.3, 0.5]]",
        "cov = [[1.0, 0.3], [0.3, nan]]",
    );
    check_rejected(&t, &["{file}:", "target.cov: entry [1][1] is NaN"]);

    // Bad weights.
    let t = edit(BASE, "weights = [0.8, 0.2]", "weights = [0.8, 0.3]");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.weights: weights sum to 1.1",
            at(&t, "[0.8, 0.3]", 0)
        )],
    );
    let t = edit(BASE, "weights = [0.8, 0.2]", "weights = [1.2, -0.2]");
    check_rejected(&t, &["{file}:", "target.weights: weight 1 is -0.2"]);
    let t = edit(BASE, "weights = [0.8, 0.2]", "weights = [1.0]");
    check_rejected(
        &t,
        &["{file}:", "target.weights: 1 weights for 2 components"],
    );
    let t = edit(BASE, "weights = [0.8, 0.2]", "weights = [nan, 0.2]");
    check_rejected(&t, &["{file}:", "target.weights"]);

    // Optimizer settings.
    for lr in ["0", "0.0", "-0.1", "nan", "inf"] {
        let t = edit(
            BASE,
            "learning_rate = 0.1",
            &format!("learning_rate = {lr}"),
        );
        check_rejected(
            &t,
            &[&format!(
                "{{file}}:{}: optimizer.learning_rate: must be a finite number > 0",
                at(&t, "learning_rate = ", 16)
            )],
        );
    }
    let t = edit(BASE, "n_iters = 3", "n_iters = 0");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: optimizer.n_iters: must be between 1 and",
            at(&t, "n_iters = ", 10)
        )],
    );
    let t = edit(BASE, "n_iters = 3", "n_iters = -5");
    check_rejected(&t, &["{file}:", "optimizer.n_iters: must be between 1 and"]);
    let t = edit(BASE, "kind = \"sgd\"", "kind = \"adam\"\nmomentum = 0.9");
    check_rejected(
        &t,
        &[
            "{file}:",
            "optimizer.momentum: is not used by kind = \"adam\"",
        ],
    );
    let t = edit(BASE, "kind = \"sgd\"", "kind = \"sgd\"\nmomentum = 1.0");
    check_rejected(&t, &["{file}:", "optimizer.momentum: must be in [0, 1)"]);
    let t = edit(BASE, "kind = \"sgd\"", "kind = \"lbfgs\"");
    check_rejected(&t, &["{file}:", "optimizer.kind: unknown kind \"lbfgs\""]);

    // Objective settings.
    let t = edit(BASE, "n_samples = 50", "n_samples = 0");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: objective.n_samples: must be between 1 and",
            at(&t, "n_samples = ", 12)
        )],
    );
    let t = edit(
        BASE,
        "kind = \"reverse-kl\"",
        "kind = \"forward-kl-samples\"",
    );
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: objective.estimator: \"forward-kl-samples\" has no estimator",
            at(&t, "\"stl\"", 0)
        )],
    );
    let t = edit(
        GAUSS,
        "n_samples = 20",
        "n_samples = 20\nestimator = \"total\"",
    );
    check_rejected(
        &t,
        &[
            "{file}:",
            "objective.estimator: \"forward-kl-exact\" has no estimator",
        ],
    );
    let t = edit(BASE, "estimator = \"stl\"", "estimator = \"score\"");
    check_rejected(
        &t,
        &[
            "{file}:",
            "objective.estimator: unknown estimator \"score\"",
        ],
    );
    let t = edit(
        BASE,
        "kind = \"reverse-kl\"\nn_samples = 50\nestimator = \"stl\"",
        "kind = \"forward-kl-exact\"",
    );
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: objective.kind: \"forward-kl-exact\" needs a Gaussian target",
            at(&t, "\"forward-kl-exact\"", 0)
        )],
    );
    let t = edit(
        BASE,
        "kind = \"reverse-kl\"\nn_samples = 50\nestimator = \"stl\"",
        "kind = \"reverse-kl-exact\"",
    );
    check_rejected(
        &t,
        &[
            "{file}:",
            "objective.kind: \"reverse-kl-exact\" needs a Gaussian target",
        ],
    );
    let t = edit(BASE, "kind = \"reverse-kl\"", "kind = \"forward-kl\"");
    check_rejected(
        &t,
        &["{file}:", "objective.kind: unknown kind \"forward-kl\""],
    );

    // Target and init kinds.
    let t = edit(BASE, "kind = \"mixture\"", "kind = \"mixtur\"");
    check_rejected(&t, &["{file}:", "target.kind: unknown kind \"mixtur\""]);
    let t = edit(
        GAUSS,
        "mean = [1.0, -1.0]\n",
        "mean = [1.0, -1.0]\nweights = [1.0]\n",
    );
    check_rejected(
        &t,
        &["{file}:", "target.weights: is not used by kind = \"mvn\""],
    );
    let t = edit(BASE, "[init]\n", "[init]\nrandom = true\n");
    check_rejected(
        &t,
        &[
            "{file}:",
            "init.mean: give either `random = true` or the parameters, not both",
        ],
    );
    let t = edit(BASE, "name = \"cli-test\"", "name = \"../escape\"");
    check_rejected(
        &t,
        &["{file}:1:8: name: must be a folder name of 1 to 200 letters"],
    );
    let t = edit(BASE, "grid = 16", "grid = 4");
    check_rejected(
        &t,
        &["{file}:", "plot.grid: must be between 8 and 2048, got 4"],
    );
}

#[test]
fn bad_samples_files_are_rejected_naming_the_csv_line() {
    check_rejected_with(SAMPLES, None, &["{csv}: cannot read", "No such file"]);
    check_rejected_with(SAMPLES, Some(""), &["{csv}: no data rows"]);
    check_rejected_with(SAMPLES, Some("x,y\n\n"), &["{csv}: no data rows"]);
    check_rejected_with(
        SAMPLES,
        Some("x,y\n0.1,0.2\n0.3,0.4,0.5\n"),
        &["{csv}:3: 3 fields, expected 2"],
    );
    check_rejected_with(
        SAMPLES,
        Some("x,y\n0.1,0.2\n0.3,abc\n"),
        &["{csv}:3: field 2 is \"abc\", not a finite number"],
    );
    check_rejected_with(
        SAMPLES,
        Some("0.1,0.2\n0.3,NaN\n"),
        &["{csv}:2: field 2 is \"NaN\", not a finite number"],
    );
    check_rejected_with(SAMPLES, Some("0.1,0.2\n0.3,\n"), &["{csv}:2: field 2"]);
    // The file is fine, the model is not: 1-D samples against a 2-D init.
    check_rejected_with(
        SAMPLES,
        Some("x\n0.1\n0.2\n"),
        &[
            "{file}:",
            "init.mean: has 2 entries but the target (kind = \"samples\") has dimension 1",
        ],
    );
    // A samples target has no density: only forward-kl-samples applies.
    let t = edit(
        SAMPLES,
        "kind = \"forward-kl-samples\"",
        "kind = \"reverse-kl\"",
    );
    check_rejected_with(
        &t,
        Some(GOOD_CSV),
        &["{file}:", "objective.kind: a samples target has no density"],
    );
    let t = edit(
        SAMPLES,
        "kind = \"forward-kl-samples\"",
        "kind = \"forward-kl-samples\"\nn_samples = 3",
    );
    check_rejected_with(
        &t,
        Some(GOOD_CSV),
        &["{file}:", "objective.n_samples: the samples file sets it"],
    );
}

#[test]
fn a_missing_experiment_file_is_an_error() {
    let s = Scratch::new("missing");
    let file = s.path().join("nope.toml");
    let o = fit(&file, &s.path().join("out"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unwritable_output_folder_is_an_error_and_leaves_nothing() {
    let s = Scratch::new("unwritable");
    let file = s.write("exp.toml", GAUSS);
    // A folder below a regular file cannot be created, even by root.
    let blocker = s.write("blocker", "not a folder");
    let out = blocker.join("out");
    let o = fit(&file, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(&blocker.display().to_string()),
        "the message names the folder: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&blocker).expect("the file is still there"),
        "not a folder"
    );
    let left: Vec<PathBuf> = files_under(s.path())
        .into_iter()
        .filter(|p| p != &file && p != &blocker)
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn a_diverging_run_names_the_iteration_and_writes_nothing() {
    // SGD at learning rate 100 on the mixture blows up within a few steps (the notebook's
    // estimator: L becomes singular).
    let t = edit(BASE, "estimator = \"stl\"", "estimator = \"total\"");
    let t = edit(&t, "learning_rate = 0.1", "learning_rate = 100");
    let t = edit(&t, "n_iters = 3", "n_iters = 50");
    check_rejected(&t, &["error: experiment cli-test ({file}): iteration "]);
    let s = Scratch::new("diverge");
    let file = s.write("exp.toml", &t);
    let o = fit(&file, &s.path().join("out"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let k: usize = stderr
        .split("iteration ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|k| k.trim().parse().ok())
        .expect("the message names the iteration as a number");
    assert!((1..=50).contains(&k), "{stderr}");

    // With the STL estimator the same settings make q huge rather than singular: the run must
    // either stop with a message or finish; it must not panic.
    let t = edit(BASE, "learning_rate = 0.1", "learning_rate = 100");
    let t = edit(&t, "n_iters = 3", "n_iters = 50");
    let file = s.write("stl.toml", &t);
    let o = fit(&file, &s.path().join("out-stl"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Expected figure names of a 2-D run with a density target.
fn figures_of(prefix: &str, stem: &str) -> Vec<String> {
    vec![
        format!("{prefix}_target.png"),
        format!("{prefix}_samples.png"),
        format!("{stem}_kl.png"),
        format!("{stem}_kl.gif"),
        format!("{stem}_kl_curves.png"),
    ]
}

/// Checks a successful `fit`: status, `trace.json` with `n_iters + 1` states numbered 0..=n_iters,
/// the figures (valid PNG / GIF headers), and nothing else in the folder. Returns the trace bytes.
fn check_fit(toml: &str, name: &str, n_iters: usize, figures: &[String]) -> Vec<u8> {
    let s = Scratch::new("ok");
    let file = s.write("exp.toml", toml);
    if toml.contains("data.csv") {
        s.write("data.csv", GOOD_CSV);
    }
    let out = s.path().join("out");
    let o = fit(&file, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let dir = out.join(name);
    let trace_path = dir.join("trace.json");
    assert!(
        stderr.contains(&trace_path.display().to_string()),
        "the summary names the trace: {stderr}"
    );
    assert!(
        stderr.contains(&format!("and {} figures", figures.len())),
        "{stderr}"
    );
    let bytes = std::fs::read(&trace_path).expect("trace.json is written");
    let text = String::from_utf8(bytes.clone()).expect("UTF-8 JSON");
    assert!(text.contains(&format!("\"n_iters\": {n_iters},")), "{text}");
    // The states (the diagnostics before them name their iteration too).
    let states = &text[text.find("\"iterations\": [").expect("the states")..];
    let numbers: Vec<usize> = states
        .match_indices("\"iteration\": ")
        .map(|(i, m)| {
            states[i + m.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|k| k.parse().ok())
                .expect("an iteration number")
        })
        .collect();
    assert_eq!(numbers, (0..=n_iters).collect::<Vec<_>>());
    let mut expected: Vec<PathBuf> = figures.iter().map(|f| dir.join(f)).collect();
    expected.push(trace_path);
    expected.sort();
    let mut found = files_under(&out);
    found.sort();
    assert_eq!(found, expected, "exactly the trace and the figures");
    for f in figures {
        let b = std::fs::read(dir.join(f)).expect("a figure");
        let magic: &[u8] = if f.ends_with(".png") {
            b"\x89PNG\r\n\x1a\n"
        } else {
            b"GIF89a"
        };
        assert!(b.starts_with(magic), "{f} is not a valid image");
    }
    bytes
}

#[test]
fn fit_writes_the_trace_and_the_figures() {
    let figs = figures_of("cli_test", "cli_test");
    let first = check_fit(BASE, "cli-test", 3, &figs);
    let text = String::from_utf8_lossy(&first);
    assert!(text.contains("\"objective\": \"reverse-kl\""));
    assert!(text.contains("\"estimator\": \"stl\""));
    assert!(text.contains("\"kl_method\": \"quadrature"));

    // Same file, same seed: the same bytes.
    let second = check_fit(BASE, "cli-test", 3, &figs);
    assert!(first == second, "trace.json differs between two runs");

    let gauss = check_fit(
        &edit(GAUSS, "[plot]\n", "[plot]\nprefix = \"g\"\n"),
        "cli-gauss",
        4,
        &figures_of("g", "cli_gauss"),
    );
    assert!(String::from_utf8_lossy(&gauss).contains("\"kl_method\": \"closed-form\""));

    // A samples target: no density figure, no KL curves, `null` KL.
    let samples = check_fit(
        SAMPLES,
        "cli-samples",
        2,
        &[
            "cli_samples_samples.png".to_string(),
            "cli_samples_kl.png".to_string(),
            "cli_samples_kl.gif".to_string(),
        ],
    );
    let text = String::from_utf8_lossy(&samples);
    assert!(text.contains("\"kl_method\": null"), "{text}");
    assert!(text.contains("\"kl_forward\": null"), "{text}");
}

#[test]
fn a_second_fit_replaces_the_trace_atomically() {
    let s = Scratch::new("rerun");
    let out = s.path().join("out");
    let file = s.write("exp.toml", GAUSS);
    assert!(fit(&file, &out).status.success());
    let before = std::fs::read(out.join("cli-gauss/trace.json")).expect("first trace");
    let file = s.write("exp.toml", &edit(GAUSS, "n_iters = 4", "n_iters = 2"));
    assert!(fit(&file, &out).status.success());
    let after = std::fs::read(out.join("cli-gauss/trace.json")).expect("second trace");
    assert_ne!(before, after);
    // A bad file afterwards fails and leaves the last good trace alone.
    let file = s.write("exp.toml", &edit(GAUSS, "n_iters = 4", "n_iters = 0"));
    assert!(!fit(&file, &out).status.success());
    let kept = std::fs::read(out.join("cli-gauss/trace.json")).expect("kept trace");
    assert_eq!(after, kept);
    let tmp: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn usage_errors_exit_two() {
    // No subcommand: clap prints the usage (with every subcommand) and exits 2.
    let o = xtask(&[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Usage:") && stderr.contains("fit") && stderr.contains("figures"));
    for args in [
        &["fit"][..],
        &["fot"][..],
        &["fit", "a.toml", "--out"][..],
        &["fit", "a.toml", "--bogus"][..],
        &["figures", "--chek"][..],
        &["fit", "a.toml", "--scale", "0"][..],
        &["fit", "a.toml", "--scale", "nan"][..],
        &["figures", "--scale", "9"][..],
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let o = xtask(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness (#11): what the binary does with huge, hostile or odd input.
// ---------------------------------------------------------------------------------------------

/// `xtask args…` run in `dir`.
fn xtask_in(dir: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the xtask binary")
}

/// The peak resident set size (KiB) of `xtask args…` and its output. The child runs under
/// `ulimit -v` (2 GiB, no core file) and `timeout` (300 s), so a run that would eat the shared
/// machine fails instead; the peak is GNU time's "Maximum resident set size".
fn peak_rss_kib(args: &[&std::ffi::OsStr]) -> (u64, Output) {
    assert!(
        Path::new("/usr/bin/time").exists(),
        "GNU time (/usr/bin/time) measures the child's peak RSS"
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg("ulimit -c 0 && ulimit -v 2097152 && exec timeout 300 /usr/bin/time -v \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run the xtask binary under time");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let kib = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
    (kib, o)
}

#[test]
fn memory_does_not_grow_with_the_number_of_iterations() {
    let s = Scratch::new("rss");
    let mut peaks = Vec::new();
    for n in [20, 20_000] {
        let file = s.write(
            &format!("n{n}.toml"),
            &kl_testkit::experiment::gaussian("rss", n, "grid = 16\nrows = 1\ncols = 2"),
        );
        let out = s.path().join(format!("out{n}"));
        let (kib, o) = peak_rss_kib(&[
            "fit".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        eprintln!("n_iters = {n}: peak RSS {kib} KiB, status {:?}", o.status);
        peaks.push((
            n,
            kib,
            o.status.success(),
            stderr.lines().next().map(String::from),
        ));
    }
    let (small, big) = (peaks[0].1, peaks[1].1);
    assert!(
        peaks.iter().all(|p| p.2) && big <= small + 64 * 1024,
        "peak RSS: 20 iterations {small} KiB, 20 000 iterations {big} KiB (allowed: + 64 MiB); \
         runs: {peaks:?}"
    );
}

/// `GAUSS` turned into a `random-mvn` target of dimension `dim` with a random initial model.
fn random_mvn(dim: &str) -> String {
    let t = edit(
        GAUSS,
        "mean = [1.0, -1.0]\ncov = [[1.0, 0.3], [0.3, 0.5]]",
        &format!("dim = {dim}"),
    );
    let t = edit(&t, "kind = \"mvn\"", "kind = \"random-mvn\"");
    edit(
        &t,
        "mean = [0.0, 0.0]\nraw = [[1.0, 0.0], [0.0, 1.0]]",
        "random = true",
    )
}

#[test]
fn huge_sizes_are_refused_before_anything_is_allocated() {
    let start = std::time::Instant::now();
    // n_samples × d.
    let t = edit(BASE, "n_samples = 50", "n_samples = 9000000");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: objective.n_samples: 9000000 samples × 2 dimensions = 18000000 numbers: \
             more than the limit of 10000000",
            at(&t, "9000000", 0)
        )],
    );
    // A funnel of the largest dimension (random-mvn stops at d = 8).
    let t = edit(
        &edit(
            &random_mvn("512"),
            "kind = \"random-mvn\"",
            "kind = \"funnel\"",
        ),
        "kind = \"forward-kl-exact\"",
        "kind = \"forward-kl-samples\"",
    );
    let t = edit(&t, "n_samples = 20", "n_samples = 100000");
    check_rejected(
        &t,
        &[
            "{file}:",
            "objective.n_samples: 100000 samples × 512 dimensions",
            "10000000",
        ],
    );
    // d too large for random-mvn, and for any target.
    let t = random_mvn("100000");
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.dim: must be between 1 and 8, got 100000",
            at(&t, "100000", 0)
        )],
    );
    let t = edit(
        &random_mvn("100000"),
        "kind = \"random-mvn\"",
        "kind = \"funnel\"",
    );
    check_rejected(
        &t,
        &[&format!(
            "{{file}}:{}: target.dim: must be between 2 and 512, got 100000",
            at(&t, "100000", 0)
        )],
    );
    // A 10 000-component mixture (a 0.7 MB file, inside the file limit).
    let comps: String = (0..10_000)
        .map(|i| format!("  {{ mean = [{i}.0, 0.0], cov = [[1.0, 0.0], [0.0, 1.0]] }},\n"))
        .collect();
    let weights = vec!["1.0"; 10_000].join(", ");
    let t = edit(
        BASE,
        "weights = [0.8, 0.2]",
        &format!("weights = [{weights}]"),
    );
    let t = edit(
        &t,
        "  { mean = [0.5, -0.7], cov = [[1.0, 1.0], [1.0, 2.0]] },\n  \
         { mean = [-2.5, 2.5], cov = [[0.5, 0.1], [0.1, 0.5]] },\n",
        &comps,
    );
    check_rejected(
        &t,
        &[
            "{file}:",
            "target.components",
            "10000 components: more than the limit of 256",
        ],
    );
    // A CSV with one huge line: 100 000 columns.
    let wide = vec!["1.5"; 100_000].join(",");
    check_rejected_with(
        SAMPLES,
        Some(&format!("0.1,0.2\n{wide}\n")),
        &["{csv}:2: 100000 columns: more than the limit of 513"],
    );
    // The total work: 10⁶ iterations of 5·10⁶ draws of a 2-component mixture.
    let t = edit(BASE, "n_samples = 50", "n_samples = 5000000");
    let t = edit(&t, "n_iters = 3", "n_iters = 1000000");
    check_rejected(
        &t,
        &[
            &format!(
                "{{file}}:{}: optimizer.n_iters: the fit would take about",
                at(&t, "1000000\n", 0)
            ),
            "more than the limit of 1e13",
        ],
    );
    // The work of one step: 200 000 draws of a 256-component mixture in d = 16 (n·K·d² ≈ 1.3e10;
    // n·d and K are within their own limits).
    let (d, k) = (16, 256);
    let cov: Vec<String> = (0..d)
        .map(|i| {
            let row: Vec<&str> = (0..d).map(|j| if i == j { "1.0" } else { "0.0" }).collect();
            format!("[{}]", row.join(", "))
        })
        .collect();
    let comps: String = (0..k)
        .map(|c| {
            let mut mean = vec!["0.0".to_string(); d];
            mean[0] = format!("{c}.0");
            format!(
                "  {{ mean = [{}], cov = [{}] }},\n",
                mean.join(", "),
                cov.join(", ")
            )
        })
        .collect();
    let t = format!(
        "name = \"wide\"\nseed = 1\n[target]\nkind = \"mixture\"\nweights = [{}]\n\
         components = [\n{comps}]\n[init]\nrandom = true\n[objective]\nkind = \"reverse-kl\"\n\
         n_samples = 200000\n[optimizer]\nkind = \"adam\"\nlearning_rate = 0.05\nn_iters = 4\n",
        vec!["0.00390625"; k].join(", ")
    );
    check_rejected(
        &t,
        &[
            "{file}:",
            "objective: one step would take about 1.3e10",
            "more than the limit of 1e10",
        ],
    );
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        elapsed < 30.0,
        "refusals took {elapsed:.1} s: something ran"
    );
}

#[test]
fn a_huge_canvas_is_refused_naming_scale_and_panels() {
    // 20 × 20 panels of 3 in at 72 dpi × 8: a 34 560 px square, beyond the side limit.
    let t = edit(BASE, "rows = 1\ncols = 2", "rows = 20\ncols = 20");
    check_rejected_args(
        &t,
        None,
        &["--scale", "8"],
        &[
            "{file}: plot.rows, plot.cols: ",
            "20 × 20 panels at --scale 8",
            "use fewer panels or a smaller --scale",
        ],
    );
    // At × 7.5: a 32 400 px square (within the side limit), 4.2 GB of RGBA.
    let t = edit(BASE, "rows = 1\ncols = 2", "rows = 20\ncols = 20");
    check_rejected_args(
        &t,
        None,
        &["--scale", "7.5"],
        &[
            "{file}: plot.rows, plot.cols: ",
            "20 × 20 panels at --scale 7.5",
        ],
    );
    // Within the limits, a figure of many panels is fine.
    let t = edit(BASE, "rows = 1\ncols = 2", "rows = 2\ncols = 3");
    let s = Scratch::new("canvas-ok");
    let file = s.write("exp.toml", &t);
    assert!(fit(&file, &s.path().join("out")).status.success());
}

#[test]
fn non_utf8_paths_are_errors_or_work_but_never_panic() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new("utf8");
    // A missing FILE with a non-UTF-8 name: an error naming it (lossily), exit 1.
    let mut bad = s.path().as_os_str().as_bytes().to_vec();
    bad.extend_from_slice(b"/\xff\xfe.toml");
    let bad = std::ffi::OsStr::from_bytes(&bad);
    let o = xtask(&[
        "fit".as_ref(),
        bad,
        "--out".as_ref(),
        s.path().join("out").as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    // An existing FILE with a non-UTF-8 name, and a non-UTF-8 --out: Linux allows both.
    std::fs::write(Path::new(bad), GAUSS).expect("write a non-UTF-8 file name");
    let mut out = s.path().as_os_str().as_bytes().to_vec();
    out.extend_from_slice(b"/out\xff");
    let out = std::ffi::OsStr::from_bytes(&out);
    let o = xtask(&["fit".as_ref(), bad, "--out".as_ref(), out]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(Path::new(out).join("cli-gauss/trace.json").is_file());
}

/// The experiment `GAUSS` in a fresh scratch folder: (scratch, file, out).
fn gauss_setup(tag: &str) -> (Scratch, PathBuf, PathBuf) {
    let s = Scratch::new(tag);
    let file = s.write("exp.toml", GAUSS);
    let out = s.path().join("out");
    (s, file, out)
}

#[test]
fn planted_symlinks_are_never_followed() {
    let (s, file, out) = gauss_setup("symlink");
    let victim_dir = s.path().join("victim");
    std::fs::create_dir_all(&victim_dir).expect("victim folder");
    let victim = victim_dir.join("precious.txt");
    std::fs::write(&victim, "precious").expect("victim file");
    assert!(fit(&file, &out).status.success());
    let dest = out.join("cli-gauss");
    // Every temporary name a planter can know: the old predictable names
    // (`.trace.json.tmp<pid>` for the next 2000 pids, inside the folder) and this folder's
    // temporary prefix with dead, live and our own pids, beside it. tempfile's random suffix
    // makes the real names unknowable.
    let me = std::process::id();
    for pid in me..me + 2000 {
        for name in [
            format!(".trace.json.tmp{pid}"),
            format!("trace.json.tmp{pid}"),
        ] {
            std::os::unix::fs::symlink(&victim, dest.join(name)).expect("plant inside");
        }
    }
    for pid in me..me + 200 {
        let name = format!(".trace.json.tmp{pid}");
        std::os::unix::fs::symlink(&victim, out.join(name)).expect("plant beside");
    }
    for name in [
        ".cli-gauss.fbkl-".to_string(),
        ".cli-gauss.fbkl-999999-abc".to_string(),
        format!(".cli-gauss.fbkl-{me}-abc"),
        ".cli-gauss.fbkl-1-x".to_string(),
    ] {
        // Beside the folder (where the temporary folders go) and, inside out, in it.
        for at in [&out, &dest] {
            std::os::unix::fs::symlink(&victim, at.join(&name)).expect("plant (file)");
            std::os::unix::fs::symlink(&victim_dir, at.join(format!("{name}d")))
                .expect("plant (folder)");
        }
    }
    let o = fit(&file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert_eq!(
        tree(&victim_dir).len(),
        1,
        "nothing was written into the victim folder"
    );
    // The new folder holds exactly the run's files: the planted links went with the old one,
    // and no old-style temporary name was used.
    let names: Vec<String> = std::fs::read_dir(&dest)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".tmp")),
        "old temporary names: {names:?}"
    );
    assert!(names.contains(&"trace.json".to_string()), "{names:?}");
}

#[test]
fn a_symlink_at_the_output_folder_is_replaced_not_followed() {
    // Decided: `out/<name>` is an entry of `out`; a symlink there is replaced by the new folder,
    // and what it pointed to is untouched.
    let (s, file, out) = gauss_setup("symlink-dest");
    let victim_dir = s.path().join("victim");
    std::fs::create_dir_all(&victim_dir).expect("victim folder");
    std::fs::write(victim_dir.join("trace.json"), "precious").expect("victim file");
    std::fs::create_dir_all(&out).expect("out");
    std::os::unix::fs::symlink(&victim_dir, out.join("cli-gauss")).expect("plant");
    let before = tree(&victim_dir);
    let o = fit(&file, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(tree(&victim_dir), before, "the victim folder changed");
    assert!(o.status.success(), "a symlink to a folder: {stderr}");
    let meta = std::fs::symlink_metadata(out.join("cli-gauss")).expect("the folder");
    assert!(meta.is_dir(), "out/cli-gauss is a real folder now");
    // The same with a symlink to a file.
    let victim = s.path().join("victim.txt");
    std::fs::write(&victim, "precious").expect("victim file");
    std::fs::remove_dir_all(out.join("cli-gauss")).expect("clean");
    std::os::unix::fs::symlink(&victim, out.join("cli-gauss")).expect("plant");
    let o = fit(&file, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert!(o.status.success(), "a symlink to a file: {stderr}");
    assert!(
        std::fs::symlink_metadata(out.join("cli-gauss"))
            .expect("folder")
            .is_dir()
    );
}

/// Runs `args` (with `{file}` and `{out}` substituted) in the scratch folder after a good fit
/// of `GAUSS` into `out` and after writing `toml` as the experiment, and checks that it fails
/// with each of `expect` in its one `error:` line, leaving the whole scratch folder — every
/// entry and its bytes — exactly as it was.
fn check_leaves_everything(tag: &str, toml: &str, args: &[&str], code: i32, expect: &[&str]) {
    let (s, file, out) = gauss_setup(tag);
    assert!(fit(&file, &out).status.success());
    std::fs::write(&file, toml).expect("the new experiment");
    let before = tree(s.path());
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("{file}", &file.display().to_string())
                .replace("{out}", &out.display().to_string())
        })
        .collect();
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let o = xtask_in(s.path(), &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    if code == 1 {
        assert!(stderr.trim_end().lines().count() == 1, "{stderr}");
    }
    for e in expect {
        assert!(stderr.contains(e), "expected `{e}` in: {stderr}");
    }
    assert!(
        tree(s.path()) == before,
        "{args:?} changed the folder: {stderr}"
    );
}

#[test]
fn a_failure_leaves_the_output_folder_exactly_as_it_was() {
    let long = "n".repeat(250);
    let t = edit(GAUSS, "name = \"cli-gauss\"", &format!("name = \"{long}\""));
    check_leaves_everything(
        "long-name",
        &t,
        &["fit", "{file}", "--out", "{out}"],
        1,
        &["name: must be a folder name of 1 to 200"],
    );
    // `--out ""` is a usage error of the command line (clap: a value is required).
    check_leaves_everything(
        "empty-out",
        GAUSS,
        &["fit", "{file}", "--out", ""],
        2,
        &["--out"],
    );
    // A path beyond PATH_MAX: refused by its length before the fit.
    let deep = format!("{{out}}/{}", vec!["d".repeat(200); 25].join("/"));
    check_leaves_everything(
        "deep-out",
        GAUSS,
        &["fit", "{file}", "--out", &deep],
        1,
        &["more than the platform's 4096"],
    );
    // A failure in the fit itself, after the old folder exists.
    let t = edit(GAUSS, "learning_rate = 0.05", "learning_rate = 1e6");
    let t = edit(&t, "kind = \"adam\"", "kind = \"sgd\"");
    check_leaves_everything(
        "diverge",
        &t,
        &["fit", "{file}", "--out", "{out}"],
        1,
        &["experiment cli-gauss", "lower optimizer.learning_rate"],
    );
    // A read-only output folder: only meaningful where permissions bind (not as root).
    let (s, file, out) = gauss_setup("read-only");
    assert!(fit(&file, &out).status.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let probe = out.join("probe");
    if std::fs::write(&probe, "x").is_ok() {
        // Root ignores the mode; the cases above cover a failure after the folder exists.
        let _ = std::fs::remove_file(&probe);
    } else {
        let before = tree(s.path());
        let o = fit(&file, &out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(tree(s.path()) == before, "{stderr}");
    }
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
}

#[test]
fn a_regular_file_at_the_output_folder_is_refused_after_the_fit_and_kept() {
    // Not a folder this program wrote: the fit runs, the write fails, and everything — the file,
    // the parent, no temporary folder left — is as it was.
    let (s, file, out) = gauss_setup("file-dest");
    std::fs::create_dir_all(&out).expect("out");
    std::fs::write(out.join("cli-gauss"), "mine").expect("a file where the folder goes");
    let before = tree(s.path());
    let o = fit(&file, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ")
            && stderr.contains(&out.join("cli-gauss").display().to_string()),
        "{stderr}"
    );
    assert!(tree(s.path()) == before, "the folder changed: {stderr}");
}

#[test]
fn stale_temporary_folders_of_dead_runs_are_removed_live_ones_kept() {
    let (_s, file, out) = gauss_setup("stale");
    assert!(
        !Path::new("/proc/999999").exists(),
        "pid 999999 must not run for this test"
    );
    let dead = out.join(".cli-gauss.fbkl-999999-abc");
    let live = out.join(".cli-gauss.fbkl-1-abc");
    let other = out.join(".other.fbkl-999999-abc");
    for d in [&dead, &live, &other] {
        std::fs::create_dir_all(d).expect("a leftover folder");
        std::fs::write(d.join("trace.json"), "{}").expect("a leftover file");
    }
    let o = fit(&file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!dead.exists(), "a dead run's folder is removed");
    assert!(
        live.join("trace.json").exists(),
        "a live run's folder is kept"
    );
    assert!(
        other.join("trace.json").exists(),
        "another output's folder is not ours"
    );
}

/// Runs `fit` with a deadline: a child that has not exited after `secs` is killed and the test
/// fails (a FIFO would block a reader forever, `/dev/zero` never ends).
fn fit_within(file: &Path, out: &Path, secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "fit".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed().as_secs() >= secs {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`fit {}` did not finish in {secs} s", file.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn fifos_devices_and_oversized_files_are_refused_quickly() {
    let s = Scratch::new("special");
    let fifo = s.path().join("fifo.toml");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let out = s.path().join("out");
    for file in [fifo.as_path(), Path::new("/dev/zero"), s.path()] {
        let o = fit_within(file, &out, 10);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&file.display().to_string()) && stderr.contains("not a regular file"),
            "{stderr}"
        );
    }
    // As the samples file.
    for csv in [fifo.display().to_string(), "/dev/zero".to_string()] {
        let file = s.write(
            "samples.toml",
            &edit(SAMPLES, "path = \"data.csv\"", &format!("path = \"{csv}\"")),
        );
        let o = fit_within(&file, &out, 10);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&csv) && stderr.contains("not a regular file"),
            "{stderr}"
        );
    }
    // Over the size limit (1 MiB): refused with the limit, before it is read.
    let big = format!("{GAUSS}\n# {}\n", "x".repeat(1 << 20));
    let file = s.write("big.toml", &big);
    let o = fit_within(&file, &out, 10);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("more than the limit of 1048576"),
        "{stderr}"
    );
    assert!(files_under(&out).is_empty());
}

#[test]
fn a_parse_error_quotes_only_a_short_prefix() {
    let huge_name = edit(
        BASE,
        "name = \"cli-test\"",
        &format!("name = \"{}\"", "y".repeat(1_000_000)),
    );
    let unterminated = edit(
        BASE,
        "seed = 3",
        &format!("seed = \"{}", "z".repeat(100_000)),
    );
    let huge_seed = edit(
        BASE,
        "seed = 3",
        &format!("seed = \"{}\"", "9".repeat(100_000)),
    );
    let long_field = format!("x,y\n0.1,{}\n", "q".repeat(10_000));
    check_rejected(&huge_name, &["{file}:1:8: name: must be a folder name"]);
    check_rejected(&unterminated, &["{file}:2:"]);
    check_rejected(&huge_seed, &["{file}:2:8: seed: \"999"]);
    check_rejected_with(SAMPLES, Some(&long_field), &["{csv}:2: field 2 is \"qqq"]);
    for (toml, csv) in [
        (huge_name.as_str(), None),
        (unterminated.as_str(), None),
        (huge_seed.as_str(), None),
        (SAMPLES, Some(long_field.as_str())),
    ] {
        let s = Scratch::new("quote");
        let file = s.write("exp.toml", toml);
        if let Some(c) = csv {
            s.write("data.csv", c);
        }
        let o = fit(&file, &s.path().join("out"));
        let stderr = String::from_utf8_lossy(&o.stderr);
        let message = stderr.replace(&s.path().display().to_string(), "");
        assert!(
            message.chars().count() < 300,
            "{} characters: {}…",
            message.chars().count(),
            message.chars().take(400).collect::<String>()
        );
    }
}

/// A test tree for `figures`: `experiments/` holding `files` (name, text), and `figures/`.
fn figures_tree(tag: &str, files: &[(&str, &str)]) -> (Scratch, PathBuf, PathBuf) {
    let s = Scratch::new(tag);
    let exps = s.path().join("experiments");
    std::fs::create_dir_all(&exps).expect("experiments/");
    for (name, text) in files {
        std::fs::write(exps.join(name), text).expect("an experiment");
    }
    let figs = s.path().join("figures");
    (s, exps, figs)
}

fn figures_cmd(exps: &Path, figs: &Path, check: bool) -> Output {
    let mut args = vec![
        "figures".as_ref(),
        "--experiments".as_ref(),
        exps.as_os_str(),
        "--out".as_ref(),
        figs.as_os_str(),
    ];
    if check {
        args.push("--check".as_ref());
    }
    xtask(&args)
}

#[test]
fn figures_keeps_foreign_files_and_names_its_folder() {
    let (_s, exps, figs) = figures_tree("figures", &[("g.toml", GAUSS)]);
    std::fs::create_dir_all(&figs).expect("figures/");
    std::fs::write(figs.join("README.txt"), "mine").expect("a foreign file");
    let o = figures_cmd(&exps, &figs, false);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("regenerating {}", figs.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(figs.join("README.txt")).expect("kept"),
        "mine"
    );
    assert!(figs.join("cli_gauss_kl.png").is_file());
    let o = figures_cmd(&exps, &figs, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The experiment renamed: its old figures go, the foreign file stays.
    std::fs::write(
        exps.join("g.toml"),
        edit(GAUSS, "name = \"cli-gauss\"", "name = \"g2\""),
    )
    .expect("renamed");
    let o = figures_cmd(&exps, &figs, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!figs.join("cli_gauss_kl.png").exists());
    assert!(figs.join("g2_kl.png").is_file());
    assert_eq!(
        std::fs::read_to_string(figs.join("README.txt")).expect("kept"),
        "mine"
    );
}

#[test]
fn two_experiments_with_one_name_get_one_message_naming_both_files() {
    let (_s, exps, figs) = figures_tree("dup", &[("a.toml", GAUSS), ("b.toml", GAUSS)]);
    let o = figures_cmd(&exps, &figs, false);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let e = errors[0];
    for f in ["a.toml", "b.toml"] {
        assert!(e.contains(&exps.join(f).display().to_string()), "{e}");
    }
    assert!(
        e.contains("name = \"cli-gauss\"") && !e.contains("plot.prefix"),
        "{e}"
    );
    assert!(!figs.exists(), "nothing written");
}

#[test]
fn help_and_version() {
    for (args, flags) in [
        (&["--help"][..], &["fit", "figures", "--version"][..]),
        (&["help"][..], &["fit", "figures"][..]),
        (&["fit", "--help"][..], &["--out", "--scale", "<FILE>"][..]),
        (&["help", "fit"][..], &["--out", "--scale"][..]),
        (
            &["figures", "--help"][..],
            &["--check", "--scale", "--experiments", "--out"][..],
        ),
        (&["help", "figures"][..], &["--check", "--experiments"][..]),
    ] {
        let a: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let o = xtask(&a);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{args:?}");
        for f in flags {
            assert!(stdout.contains(f), "{args:?}: `{f}` not in {stdout}");
        }
    }
    for v in ["--version", "-V"] {
        let o = xtask(&[v.as_ref()]);
        assert!(o.status.success());
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
    }
}

#[test]
fn non_finite_fits_say_which_way_to_go() {
    for (lr, objective) in [
        ("1e6", "kind = \"forward-kl-exact\"\nn_samples = 20"),
        ("1e3", "kind = \"reverse-kl-exact\""),
    ] {
        let t = edit(
            GAUSS,
            "learning_rate = 0.05",
            &format!("learning_rate = {lr}"),
        );
        let t = edit(&t, "kind = \"adam\"", "kind = \"sgd\"");
        let t = edit(&t, "kind = \"forward-kl-exact\"\nn_samples = 20", objective);
        check_rejected(
            &t,
            &[
                "error: experiment cli-gauss ({file}): iteration ",
                "lower optimizer.learning_rate",
            ],
        );
    }
}
