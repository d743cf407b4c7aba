//! The crate's one error type.

use std::fmt;

/// Why a fit could not be set up, or stopped. Every variant names what failed and where (the
/// iteration, the index into the parameters, the setting).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A setting of the builder is out of range.
    Setting {
        /// The setting (`"n_samples"`, `"max_iters"`, …).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The target could not be built (the random Gaussian, the data set, the Laplace start).
    Target(kl_dist::Error),
    /// The objective could not be built.
    Objective(kl_grad::Error),
    /// The optimizer's parameters are invalid.
    Optimizer(kl_opt::Error<std::convert::Infallible>),
    /// Evaluating the objective failed at an iteration (a singular model, a non-finite θ).
    Step {
        /// The iteration (0 = the initial state).
        iteration: usize,
        /// What failed.
        source: kl_grad::Error,
    },
    /// The loss, the gradient or a parameter turned non-finite at an iteration.
    NonFinite {
        /// The iteration.
        iteration: usize,
        /// `"loss"`, `"gradient"`, `"gradient norm"` or `"parameter"`.
        what: &'static str,
        /// The value seen.
        value: f64,
    },
    /// A parameter grew beyond the problem's scale: Σ = L Lᵀ or μ ran away.
    Diverged {
        /// The iteration.
        iteration: usize,
        /// The index into the parameters.
        index: usize,
        /// Its value.
        value: f64,
        /// The bound it crossed.
        limit: f64,
    },
    /// The fit rose far above where it started (loss of a deterministic objective, or the exact
    /// KL), although everything stayed finite.
    BlewUp {
        /// The first iteration past the threshold.
        iteration: usize,
        /// `"loss"`, `"D(p‖q)"` or `"D(q‖p)"`.
        what: &'static str,
        /// The value at iteration 0.
        start: f64,
        /// The value at `iteration`.
        value: f64,
    },
    /// The exact KL of a recorded state is not finite.
    KlNotFinite {
        /// The iteration.
        iteration: usize,
        /// D(p‖q) there.
        forward: f64,
        /// D(q‖p) there.
        reverse: f64,
    },
    /// The model at an iteration is not a valid normal.
    Model {
        /// The iteration.
        iteration: usize,
        /// Why.
        source: kl_dist::Error,
    },
    /// `StepSize::Auto` found no candidate step size that makes progress.
    NoStepSize {
        /// The candidates tried, largest first.
        tried: Vec<f64>,
    },
    /// The optimizer loop stopped for a reason this crate does not know (a newer kl-opt).
    Loop {
        /// The iteration, where the loop names one.
        iteration: Option<usize>,
        /// What the loop said.
        message: String,
    },
    /// Pathfinder, GSM or BaM failed (kl-vi's error names the iteration, draw and coordinate,
    /// or the path).
    Vi {
        /// `"pathfinder"`, `"gsm"` or `"bam"`.
        algorithm: &'static str,
        /// What failed.
        source: kl_vi::Error,
    },
    /// The run was interrupted. [`crate::Fit::run`] reports an interruption by the observer
    /// as [`crate::Termination::Interrupted`]; callers that treat it as a failure (the command
    /// line's Ctrl-C) use this variant.
    Interrupted {
        /// The iteration reached.
        iteration: usize,
    },
}

impl Error {
    pub(crate) fn setting(what: &'static str, reason: impl Into<String>) -> Error {
        Error::Setting {
            what,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Setting { what, reason } => write!(f, "{what}: {reason}"),
            Error::Loop { message, .. } => write!(f, "the optimizer loop stopped: {message}"),
            Error::Target(_) => write!(f, "the target cannot be built"),
            Error::Objective(_) => write!(f, "the objective cannot be built"),
            Error::Optimizer(_) => write!(f, "the optimizer cannot be built"),
            Error::Step { iteration, .. } => {
                write!(
                    f,
                    "iteration {iteration}: the objective cannot be evaluated"
                )
            }
            Error::NonFinite {
                iteration,
                what,
                value,
            } => write!(
                f,
                "iteration {iteration}: the {what} is {value}: the step before it went too far \
                 (lower optimizer.learning_rate, or use learning_rate = \"auto\")"
            ),
            Error::Diverged {
                iteration,
                index,
                value,
                limit,
            } => write!(
                f,
                "iteration {iteration}: the fit diverged: parameter {index} is {value:e}, beyond \
                 {limit:e} (10⁸ × the problem's scale); lower optimizer.learning_rate"
            ),
            Error::BlewUp {
                iteration,
                what,
                start,
                value,
            } => write!(
                f,
                "iteration {iteration}: the fit blew up: the {what} rose from {start:.6} to \
                 {value:.6e}; lower optimizer.learning_rate (or use learning_rate = \"auto\")"
            ),
            Error::KlNotFinite {
                iteration,
                forward,
                reverse,
            } => write!(
                f,
                "iteration {iteration}: the exact KL is not finite (D(p‖q) = {forward}, \
                 D(q‖p) = {reverse}): q is degenerate or far from p there; lower \
                 optimizer.learning_rate"
            ),
            Error::Model { iteration, .. } => {
                write!(f, "iteration {iteration}: the model is not a valid normal")
            }
            Error::NoStepSize { tried } => write!(
                f,
                "learning_rate = \"auto\": none of the step sizes {tried:?} made progress from \
                 the initial model; give optimizer.learning_rate by hand"
            ),
            Error::Vi { algorithm, source } => write!(f, "{algorithm}: {source}"),
            Error::Interrupted { iteration } => {
                write!(f, "interrupted at iteration {iteration}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Target(e) | Error::Model { source: e, .. } => Some(e),
            Error::Objective(e) | Error::Step { source: e, .. } => Some(e),
            Error::Optimizer(e) => Some(e),
            Error::Vi { source, .. } => Some(source),
            _ => None,
        }
    }
}
