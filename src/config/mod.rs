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
use kl_grad::Estimator;

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
    Banana {
        /// a.
        scale: f64,
        /// b.
        curvature: f64,
    },
    /// Neal's funnel: x₀ ~ N(0, σ²), xᵢ | x₀ ~ N(0, e^{x₀}).
    Funnel {
        /// d.
        dim: usize,
        /// σ.
        scale: f64,
    },
    /// A multivariate Student t.
    StudentT {
        /// ν.
        df: f64,
        /// The location.
        mean: Vec<f64>,
        /// The shape matrix, row-major.
        scale: Vec<f64>,
    },
    /// The ring exp(−(‖x‖ − r)² / (2w²)).
    Ring {
        /// d.
        dim: usize,
        /// r.
        radius: f64,
        /// w.
        width: f64,
    },
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
}

impl TargetSpec {
    /// The dimension of the target.
    pub fn dim(&self) -> usize {
        match self {
            TargetSpec::Mvn(m) => m.dim(),
            TargetSpec::Mixture(m) => kl_dist::LogDensity::dim(m),
            TargetSpec::RandomMvn { dim, .. }
            | TargetSpec::Samples { dim, .. }
            | TargetSpec::Funnel { dim, .. }
            | TargetSpec::Ring { dim, .. } => *dim,
            TargetSpec::Banana { .. } => 2,
            TargetSpec::StudentT { mean, .. } => mean.len(),
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

/// The family of the model q.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// q = N(μ, L Lᵀ) with a raw square factor L.
    #[default]
    FullRank,
    /// q = N(μ, diag(σ²)) with σᵢ = exp(ωᵢ).
    MeanField,
}

impl Family {
    /// The name used in files and traces.
    pub fn name(&self) -> &'static str {
        match self {
            Family::FullRank => "full-rank",
            Family::MeanField => "mean-field",
        }
    }
}

/// The starting model.
#[derive(Debug, Clone, PartialEq)]
pub enum InitSpec {
    /// Full rank: μ and the raw factor L (row-major).
    Explicit {
        /// μ.
        mean: Vec<f64>,
        /// L, row-major.
        raw: Vec<f64>,
    },
    /// Mean field: μ and the standard deviations σ.
    MeanField {
        /// μ.
        mean: Vec<f64>,
        /// σ, all > 0.
        sd: Vec<f64>,
    },
    /// Every parameter ~ N(0, 1) (μ and L, or μ and ω = log σ), drawn after the target.
    Random,
    /// The Laplace approximation of a logistic-regression posterior (its MAP and the inverse
    /// negative Hessian there; the diagonal of that for a mean-field model).
    Laplace,
}

/// Which objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ObjectiveKind {
    /// Closed-form D(p‖q), Gaussian p.
    ForwardKlExact,
    /// Maximum likelihood on samples of p.
    ForwardKlSamples,
    /// Forward KL by self-normalized importance sampling from q.
    ForwardKlIs,
    /// Reverse KL by reparameterized Monte Carlo.
    ReverseKl(Estimator),
    /// Closed-form D(q‖p), Gaussian p.
    ReverseKlExact,
    /// The Rényi VR bound with parameter α ≠ 1.
    Renyi {
        /// α.
        alpha: f64,
    },
}

impl ObjectiveKind {
    /// The name used in files and traces.
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveKind::ForwardKlExact => "forward-kl-exact",
            ObjectiveKind::ForwardKlSamples => "forward-kl-samples",
            ObjectiveKind::ForwardKlIs => "forward-kl-is",
            ObjectiveKind::ReverseKl(_) => "reverse-kl",
            ObjectiveKind::ReverseKlExact => "reverse-kl-exact",
            ObjectiveKind::Renyi { .. } => "renyi",
        }
    }

    /// Whether the objective's value is deterministic in θ (no fresh draws per step).
    pub fn is_deterministic(&self) -> bool {
        matches!(
            self,
            ObjectiveKind::ForwardKlExact
                | ObjectiveKind::ForwardKlSamples
                | ObjectiveKind::ReverseKlExact
        )
    }
}

/// The objective and its sample count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectiveSpec {
    /// Which objective.
    pub kind: ObjectiveKind,
    /// Draws of q per step (Monte Carlo objectives); draws of p otherwise (the fit's data for
    /// forward-kl-samples, the figures' dots for every objective with a sampleable target).
    pub n_samples: usize,
}

/// The step size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LearningRate {
    /// Given by hand.
    Fixed(f64),
    /// Chosen before the fit by a short search (Stan ADVI's).
    Auto,
}

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerSpec {
    /// SGD with optional momentum.
    Sgd {
        /// The step size.
        learning_rate: LearningRate,
        /// In [0, 1).
        momentum: f64,
    },
    /// Adam.
    Adam {
        /// The step size.
        learning_rate: LearningRate,
        /// In [0, 1).
        beta1: f64,
        /// In [0, 1).
        beta2: f64,
        /// > 0.
        eps: f64,
    },
}

impl OptimizerSpec {
    /// `"sgd"` or `"adam"`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerSpec::Sgd { .. } => "sgd",
            OptimizerSpec::Adam { .. } => "adam",
        }
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> LearningRate {
        match *self {
            OptimizerSpec::Sgd { learning_rate, .. }
            | OptimizerSpec::Adam { learning_rate, .. } => learning_rate,
        }
    }

    /// The same rule with a fixed learning rate.
    pub fn with_learning_rate(self, rate: f64) -> OptimizerSpec {
        match self {
            OptimizerSpec::Sgd { momentum, .. } => OptimizerSpec::Sgd {
                learning_rate: LearningRate::Fixed(rate),
                momentum,
            },
            OptimizerSpec::Adam {
                beta1, beta2, eps, ..
            } => OptimizerSpec::Adam {
                learning_rate: LearningRate::Fixed(rate),
                beta1,
                beta2,
                eps,
            },
        }
    }
}

/// Stan ADVI's convergence rule: every `eval_every` iterations, the relative change of the
/// objective's running mean; the fit stops when the mean or the median of those changes falls
/// below `tol_rel_obj`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopping {
    /// The tolerance (Stan's default 0.01).
    pub tol_rel_obj: f64,
    /// The evaluation period (Stan's `eval_elbo`, default 100).
    pub eval_every: usize,
}

/// The Pareto-k̂ diagnostics of the fitted q.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiagnosticsSpec {
    /// Draws of q for k̂ and the ESS (default 4000).
    pub n_draws: usize,
    /// Also every this many iterations (`None`: the final q only).
    pub every: Option<usize>,
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
