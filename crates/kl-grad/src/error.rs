use std::fmt;

/// Why an objective could not be built or evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// L Lᵀ is not positive definite: L is singular (or nearly so) at this θ.
    SingularModel { pivot: usize },
    /// θ has a NaN or infinite entry at `index`.
    NonFiniteParameter { index: usize, value: f64 },
    /// An argument of the wrong length.
    DimensionMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// `n_samples` (or the number of given samples) is zero.
    NoSamples,
    /// A given sample has a non-finite coordinate.
    NonFiniteSample {
        sample: usize,
        coordinate: usize,
        value: f64,
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
        }
    }
}

impl std::error::Error for Error {}
