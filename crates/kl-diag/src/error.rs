//! The crate's error type.

use std::fmt;

/// Everything that can go wrong in this crate: each variant is a property of the input log
/// weights (or of the output buffer given to [`psis_into`](crate::psis_into)), checked before
/// any arithmetic, so no function here returns a NaN or panics on bad input.
///
/// ```
/// use kl_diag::{Error, psis};
///
/// let err = psis(&[0.0, 1.0, f64::NAN]).expect_err("NaN is rejected");
/// assert!(matches!(err, Error::NonFiniteLogWeight { index: 2, value } if value.is_nan()));
/// assert_eq!(err.to_string(), "log weight 2 is NaN (log weights must be finite or -inf)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// No log weights were given (`S = 0`).
    Empty,
    /// A log weight is NaN or `+inf`. (`−inf` is allowed: it is a zero weight, as in ArviZ.)
    NonFiniteLogWeight {
        /// The first offending index.
        index: usize,
        /// Its value (NaN or `+inf`).
        value: f64,
    },
    /// Every log weight is `−inf`: all weights are zero and cannot be normalized.
    AllZeroWeights {
        /// `S`, the number of (zero) weights.
        n_samples: usize,
    },
    /// The output buffer of [`psis_into`](crate::psis_into) does not have one entry per log weight.
    LengthMismatch {
        /// The number of log weights, `S`.
        n_samples: usize,
        /// The length of the output buffer.
        out_len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => write!(f, "no log weights given (need at least one)"),
            Error::NonFiniteLogWeight { index, value } => write!(
                f,
                "log weight {index} is {value} (log weights must be finite or -inf)"
            ),
            Error::AllZeroWeights { n_samples } => write!(
                f,
                "all {n_samples} log weights are -inf (every weight is zero; nothing to normalize)"
            ),
            Error::LengthMismatch { n_samples, out_len } => write!(
                f,
                "output buffer has {out_len} entries for {n_samples} log weights"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Checks that `log_weights` is non-empty, has no NaN or `+inf`, and not only `−inf`; returns
/// the maximum (finite).
pub(crate) fn check_log_weights(log_weights: &[f64]) -> Result<f64, Error> {
    if log_weights.is_empty() {
        return Err(Error::Empty);
    }
    let mut max = f64::NEG_INFINITY;
    for (index, &v) in log_weights.iter().enumerate() {
        // NaN and +inf are rejected; −inf is a zero weight.
        if v.is_nan() || v == f64::INFINITY {
            return Err(Error::NonFiniteLogWeight { index, value: v });
        }
        if v > max {
            max = v;
        }
    }
    if max == f64::NEG_INFINITY {
        return Err(Error::AllZeroWeights {
            n_samples: log_weights.len(),
        });
    }
    Ok(max)
}
