//! Experiment files: TOML in, a validated [`Experiment`] out, in three stages —
//! `schema` (the file as written, spanned), `locate` (errors with line, column and dotted key),
//! `validate` (every value checked once, sizes against the [`limits`]).
//!
//! Reading is not done here: the caller passes a [`Files`] that gives the bytes of the experiment
//! file and of the files it names (CSV samples, data sets). The command line's reader refuses
//! non-regular files and caps their size; tests pass text directly.
//!
//! # Invariants
//! - A value of [`Experiment`] is valid: every number finite and in range, every matrix the right
//!   shape, every size within [`limits`]. The engine never re-checks it.
//! - Every error names the file, the dotted key and, where TOML has it, the line and column; it
//!   quotes at most a short prefix of any user text.

mod csv;
pub mod limits;
mod locate;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

use kl_dist::{Mixture, Mvn};

pub use csv::{Table, parse_table};

use crate::error::Error;

/// Where the bytes of the files an experiment names come from.
pub trait Files {
    /// The bytes of `path` (at most `limit` of them: more is an [`Error::Input`]); `what` says
    /// what the file is for, in messages (`"experiment file"`, `"samples file"`).
    fn read(&self, path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, Error>;
}

/// A validated experiment: everything needed to run it.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The file it came from.
    pub path: PathBuf,
    /// Names the output folder and the figures.
    pub name: String,
    /// Seeds every random draw of the run.
    pub seed: u64,
    /// What the model is fitted to.
    pub target: TargetSpec,
    /// The family of q.
    pub family: Family,
    /// The starting model.
    pub init: InitSpec,
    /// The objective and its sample count.
    pub objective: ObjectiveSpec,
    /// The update rule.
    pub optimizer: OptimizerSpec,
    /// The number of updates (the maximum, when a stopping rule is set).
    pub n_iters: usize,
    /// The optional convergence rule.
    pub stopping: Option<Stopping>,
    /// The Pareto-k̂ diagnostics.
    pub diagnostics: DiagnosticsSpec,
    /// How the figures are drawn.
    pub plot: PlotSpec,
}

/// What the model is fitted to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TargetSpec {
    /// A normal.
    Mvn(Mvn),
    /// A Gaussian mixture.
    Mixture(Mixture),
    /// The notebook's random Gaussian (drawn from the run's RNG first).
    RandomMvn {
        /// d.
        dim: usize,
        /// Added to every entry of the mean.
        shift: f64,
    },
    /// Fixed samples from a CSV file: `data` is row-major `n × dim`.
    Samples {
        /// The CSV file.
        path: PathBuf,
        /// Row-major samples.
        data: Vec<f64>,
        /// d.
        dim: usize,
    },
    /// The banana: N(x₁; 0, a²) · N(x₂; b (x₁² − a²), 1).
    Banana(kl_dist::Banana),
    /// Neal's funnel: x₀ ~ N(0, σ²), xᵢ | x₀ ~ N(0, e^{x₀}).
    Funnel(kl_dist::Funnel),
    /// A multivariate Student t.
    StudentT(kl_dist::StudentT),
    /// The ring exp(−(‖x‖ − r)² / (2w²)).
    Ring(kl_dist::Ring),
    /// The posterior of a Bayesian logistic regression on a CSV data set.
    LogisticRegression(LogisticSpec),
}

/// The data and prior of a logistic-regression target.
#[derive(Debug, Clone)]
pub struct LogisticSpec {
    /// The CSV file.
    pub path: PathBuf,
    /// The label column's name.
    pub label: String,
    /// The feature columns' names, in order.
    pub features: Vec<String>,
    /// Row-major `n × features.len()`.
    pub x: Vec<f64>,
    /// n labels, each 0 or 1.
    pub y: Vec<f64>,
    /// s of the N(0, s² I) prior.
    pub prior_scale: f64,
    /// Whether coefficient 0 is an intercept.
    pub intercept: bool,
    /// Whether features are standardized before fitting.
    pub standardize: bool,
    /// The posterior, built once from the above.
    pub density: kl_dist::LogisticRegression,
}

impl TargetSpec {
    /// The dimension of the target.
    pub fn dim(&self) -> usize {
        match self {
            TargetSpec::Mvn(m) => m.dim(),
            TargetSpec::Mixture(m) => kl_dist::LogDensity::dim(m),
            TargetSpec::RandomMvn { dim, .. } | TargetSpec::Samples { dim, .. } => *dim,
            TargetSpec::Banana(p) => kl_dist::LogDensity::dim(p),
            TargetSpec::Funnel(p) => kl_dist::LogDensity::dim(p),
            TargetSpec::StudentT(p) => kl_dist::LogDensity::dim(p),
            TargetSpec::Ring(p) => kl_dist::LogDensity::dim(p),
            TargetSpec::LogisticRegression(l) => l.features.len() + usize::from(l.intercept),
        }
    }

    /// The `kind` key's value.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSpec::Mvn(_) => "mvn",
            TargetSpec::Mixture(_) => "mixture",
            TargetSpec::RandomMvn { .. } => "random-mvn",
            TargetSpec::Samples { .. } => "samples",
            TargetSpec::Banana { .. } => "banana",
            TargetSpec::Funnel { .. } => "funnel",
            TargetSpec::StudentT { .. } => "student-t",
            TargetSpec::Ring { .. } => "ring",
            TargetSpec::LogisticRegression(_) => "logistic-regression",
        }
    }

    /// Whether the target is a Gaussian (closed-form objectives apply).
    pub fn is_gaussian(&self) -> bool {
        matches!(self, TargetSpec::Mvn(_) | TargetSpec::RandomMvn { .. })
    }

    /// Whether the target has a density (every kind but `samples`).
    pub fn has_density(&self) -> bool {
        !matches!(self, TargetSpec::Samples { .. })
    }

    /// Whether p can be sampled exactly (for `forward-kl-samples` and the figures' dots).
    pub fn can_sample(&self) -> bool {
        !matches!(self, TargetSpec::LogisticRegression(_))
    }
}

/// The family of the model q (kl-grad's, the one family type of the workspace).
pub use kl_grad::Family;

/// The starting model, the objective, the update rule, the convergence rule and the
/// diagnostics: kl-fit's settings, one type each for the library and the files.
pub use kl_fit::{
    Diagnostics as DiagnosticsSpec, Init as InitSpec, ObjectiveKind, Optimizer as OptimizerSpec,
    StepSize as LearningRate, Stopping,
};

/// The objective and its sample count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectiveSpec {
    /// Which objective.
    pub kind: ObjectiveKind,
    /// Draws of q per step (Monte Carlo objectives); draws of p otherwise (the fit's data for
    /// forward-kl-samples, the figures' dots for every objective with a sampleable target).
    pub n_samples: usize,
}

/// How the figures are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    /// `[xmin, xmax, ymin, ymax]`.
    pub lim: [f64; 4],
    /// Grid points per axis for the density maps.
    pub grid: usize,
    /// Rows of the grid figure.
    pub rows: usize,
    /// Columns of the grid figure.
    pub cols: usize,
    /// File-name prefix of the target and samples figures (default: the name, `-` → `_`).
    pub prefix: String,
    /// Whether the run draws its own figures (default true); `false` for runs that only feed a
    /// figure of several runs (the zoo).
    pub standard: bool,
}

/// Default number of samples of p drawn for the figures (the notebook's 1000).
pub const DEFAULT_N_SAMPLES: usize = 1000;

/// Reads (through `files`) and validates an experiment file.
pub fn load(path: &Path, files: &dyn Files) -> Result<Experiment, Error> {
    let bytes = files.read(path, "experiment file", limits::MAX_EXPERIMENT_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!(
            "the experiment file is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse(&text, path, files)
}

/// Validates an experiment given as text; `path` names it in errors and anchors relative paths,
/// which are read through `files`.
pub fn parse(text: &str, path: &Path, files: &dyn Files) -> Result<Experiment, Error> {
    validate::experiment(text, path, files)
}
