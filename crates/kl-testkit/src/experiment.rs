//! Experiment files as text, for the root package's and the command line's tests: small valid
//! experiments, and the two edits every bad-input table is written with.

/// A small valid experiment: the notebook's mixture, reverse KL (STL), three SGD steps, tiny
/// figures (`grid = 16`, one row of two panels). Its name is `cli-test`.
pub const MIXTURE_2D: &str = r#"name = "cli-test"
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

/// The same shape with a Gaussian target and the closed-form forward KL (Adam, four steps).
/// Its name is `cli-gauss`.
pub const GAUSS_2D: &str = r#"name = "cli-gauss"
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

/// A samples target read from `data.csv` next to the experiment file (forward KL on samples,
/// two SGD steps). Its name is `cli-samples`.
pub const SAMPLES_2D: &str = r#"name = "cli-samples"
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

/// A valid `data.csv` for [`SAMPLES_2D`]: a header and three 2-D rows.
pub const GOOD_CSV: &str = "x,y\n0.1,0.2\n-0.3,0.4\n1.0,-1.0\n";

/// `text` with the first `from` (which must occur) replaced by `to`.
///
/// # Panics
/// When `from` is not in `text` (a test table that no longer matches its base file).
#[track_caller]
pub fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is not in the base file");
    text.replacen(from, to, 1)
}

/// `line:col` (1-based, columns in characters) of the first occurrence of `marker` in `text`,
/// plus `skip` bytes — where a TOML parser reports an error at that spot.
///
/// # Panics
/// When `marker` is not in `text`.
#[track_caller]
pub fn at(text: &str, marker: &str, skip: usize) -> String {
    let offset = text.find(marker).expect("the marker is in the text") + skip;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{col}")
}

/// A 2-D Gaussian experiment named `name`: the closed-form forward KL from the standard normal
/// to N((1, −1), [[1, 0.3], [0.3, 0.5]]) by SGD at 0.1 for `n_iters` steps, `plot` appended as
/// the `[plot]` section's body.
pub fn gaussian(name: &str, n_iters: usize, plot: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 7\n\n[target]\nkind = \"mvn\"\nmean = [1.0, -1.0]\n\
         cov = [[1.0, 0.3], [0.3, 0.5]]\n\n[init]\nmean = [0.0, 0.0]\n\
         raw = [[1.0, 0.0], [0.0, 1.0]]\n\n[objective]\nkind = \"forward-kl-exact\"\n\
         n_samples = 20\n\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\n\
         n_iters = {n_iters}\n\n[plot]\n{plot}\n"
    )
}
