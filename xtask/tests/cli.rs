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
use std::sync::atomic::{AtomicUsize, Ordering};

/// A small valid experiment: the notebook's mixture, reverse KL, a few SGD steps, tiny figures.
const BASE: &str = r#"name = "cli-test"
seed = 3

[target]
kind = "mixture"
weights = [0.8, 0.2]
components = [
  { mean = [0.5, -0.7], cov = [[1.0, 1.0], [1.0, 2.0]] },
  { mean = [-2.5, 2.5], cov = [[0.5, 0.1], [0.1, 0.5]] },
]

[init]
mean = [0.0, 0.0]
raw = [[1.0, 0.0], [0.0, 1.0]]

[objective]
kind = "reverse-kl"
n_samples = 50
estimator = "stl"

[optimizer]
kind = "sgd"
learning_rate = 0.1
n_iters = 3

[plot]
grid = 16
rows = 1
cols = 2
"#;

/// The same with a Gaussian target.
const GAUSS: &str = r#"name = "cli-gauss"
seed = 5

[target]
kind = "mvn"
mean = [1.0, -1.0]
cov = [[1.0, 0.3], [0.3, 0.5]]

[init]
mean = [0.0, 0.0]
raw = [[1.0, 0.0], [0.0, 1.0]]

[objective]
kind = "forward-kl-exact"
n_samples = 20

[optimizer]
kind = "adam"
learning_rate = 0.05
n_iters = 4

[plot]
grid = 16
rows = 1
cols = 2
"#;

/// A samples target read from `data.csv` next to the experiment file.
const SAMPLES: &str = r#"name = "cli-samples"
seed = 1

[target]
kind = "samples"
path = "data.csv"

[init]
mean = [0.0, 0.0]
raw = [[1.0, 0.0], [0.0, 1.0]]

[objective]
kind = "forward-kl-samples"

[optimizer]
kind = "sgd"
learning_rate = 0.1
n_iters = 2

[plot]
grid = 16
rows = 1
cols = 2
"#;

const GOOD_CSV: &str = "x,y\n0.1,0.2\n-0.3,0.4\n1.0,-1.0\n";

/// A unique scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("xtask-cli-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch folder");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn xtask(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
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

/// Every file under `dir`, recursively (none if it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `text` with `from` (which must occur) replaced by `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is not in the base file");
    text.replacen(from, to, 1)
}

/// `line:col` (1-based) of the first occurrence of `marker` in `text`, plus `skip` characters.
fn at(text: &str, marker: &str, skip: usize) -> String {
    let offset = text.find(marker).expect("the marker is in the text") + skip;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{col}")
}

/// Checks that `fit` rejects the experiment `toml` (with `csv`, if given, as `data.csv` beside it):
/// a non-zero exit, every string of `expect` in stderr (`{file}` stands for the experiment file's
/// path, `{csv}` for the samples file's), a single `error:` line of message, no panic, and nothing
/// written to the output folder.
fn check_rejected_with(toml: &str, csv: Option<&str>, expect: &[&str]) {
    let s = Scratch::new("bad");
    let file = s.write("exp.toml", toml);
    let csv_path = csv.map(|c| s.write("data.csv", c));
    let out = s.0.join("out");
    let o = fit(&file, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted:\n{toml}\nstderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
        "not one `error:` line: {stderr}"
    );
    let csv_name = csv_path.map_or_else(
        || s.0.join("data.csv").display().to_string(),
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
            "{{file}}:{}: optimizer.learning_rate: invalid type",
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
            "init: give either `random = true` or `mean` and `raw`",
        ],
    );
    let t = edit(BASE, "name = \"cli-test\"", "name = \"../escape\"");
    check_rejected(&t, &["{file}:1:8: name: must be a non-empty folder name"]);
    let t = edit(BASE, "grid = 16", "grid = 4");
    check_rejected(
        &t,
        &["{file}:", "plot.grid: must be between 8 and 2048, got 4"],
    );
}

#[test]
fn bad_samples_files_are_rejected_naming_the_csv_line() {
    check_rejected_with(SAMPLES, None, &["{csv}: cannot read the samples file"]);
    check_rejected_with(SAMPLES, Some(""), &["{csv}: no samples"]);
    check_rejected_with(SAMPLES, Some("x,y\n\n"), &["{csv}: no samples"]);
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
    let file = s.0.join("nope.toml");
    let o = fit(&file, &s.0.join("out"));
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
    let left: Vec<PathBuf> = files_under(&s.0)
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
    let o = fit(&file, &s.0.join("out"));
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
    let o = fit(&file, &s.0.join("out-stl"));
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
    let out = s.0.join("out");
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
    let numbers: Vec<usize> = text
        .match_indices("\"iteration\": ")
        .map(|(i, m)| {
            text[i + m.len()..]
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
    let out = s.0.join("out");
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
fn usage_errors_exit_non_zero() {
    for args in [
        &[][..],
        &["fit"][..],
        &["fot"][..],
        &["fit", "a.toml", "--out"][..],
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let o = xtask(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
