use std::fmt;

/// Why an objective could not be built or evaluated.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// L Lᵀ is not positive definite: L is singular (or nearly so) at this θ.
    SingularModel {
        /// The 0-based pivot of L Lᵀ that is numerically zero.
        pivot: usize,
    },
    /// θ has a NaN or infinite entry at `index`.
    NonFiniteParameter {
        /// The 0-based position in θ (μ first, then L row-major).
        index: usize,
        /// The entry.
        value: f64,
    },
    /// An argument of the wrong length.
    DimensionMismatch {
        /// The argument (e.g. `"theta"`, `"gradient"`, `"eps"`).
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// `n_samples` (or the number of given samples) is zero.
    NoSamples,
    /// A given sample has a non-finite coordinate.
    NonFiniteSample {
        /// The 0-based sample (row).
        sample: usize,
        /// The 0-based coordinate within the sample.
        coordinate: usize,
        /// The coordinate's value.
        value: f64,
    },
    /// A scalar argument out of its domain (`what` names it, e.g. `"alpha"`).
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// The closed-form Rényi divergence of order `alpha` is infinite at this θ:
    /// `α Σp + (1 − α) Σ` is not positive definite (Cholesky pivot `pivot`).
    InfiniteDivergence {
        /// The order α.
        alpha: f64,
        /// The failing pivot of the Cholesky factorization of `α Σp + (1 − α) Σ`.
        pivot: usize,
    },
    /// No importance weight is positive and finite (the largest log weight is `max_log_weight`):
    /// the target's log density is −∞ or NaN at every draw.
    DegenerateWeights {
        /// The largest log weight (−∞, or NaN if a log weight was NaN).
        max_log_weight: f64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SingularModel { pivot } => write!(
                f,
                "the model's covariance L Lᵀ is not positive definite (Cholesky pivot {pivot}): L is singular"
            ),
            Error::NonFiniteParameter { index, value } => {
                write!(f, "parameter θ[{index}] is {value}")
            }
            Error::DimensionMismatch {
                what,
                expected,
                got,
            } => write!(f, "{what} has length {got}, expected {expected}"),
            Error::NoSamples => write!(f, "the number of samples must be at least 1"),
            Error::NonFiniteSample {
                sample,
                coordinate,
                value,
            } => {
                write!(f, "sample {sample}, coordinate {coordinate} is {value}")
            }
            Error::InvalidArgument { what, value } => {
                write!(f, "{what} = {value} is out of its domain")
            }
            Error::InfiniteDivergence { alpha, pivot } => write!(
                f,
                "the Rényi divergence of order {alpha} is infinite here: α Σp + (1 − α) Σ is not \
                 positive definite (Cholesky pivot {pivot})"
            ),
            Error::DegenerateWeights { max_log_weight } => write!(
                f,
                "no importance weight is positive and finite (largest log weight {max_log_weight})"
            ),
        }
    }
}

impl std::error::Error for Error {}
