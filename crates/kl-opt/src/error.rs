//! The crate's error type.

use std::convert::Infallible;
use std::fmt;

/// Everything that can go wrong in this crate.
///
/// `E` is the error type of the objective passed to [`minimize`](crate::minimize); it defaults
/// to [`Infallible`], which is what the validated constructors ([`Sgd::try_new`](crate::Sgd::try_new),
/// [`Adam::try_new`](crate::Adam::try_new)) return. Use [`Error::map_objective`] to change it,
/// e.g. `err.map_objective(|never| match never {})` turns an `Error` into an `Error<E>`.
///
/// Every variant raised by the loop names the iteration `k` at which it happened, in the
/// numbering of [`Record::iteration`](crate::Record::iteration): iteration `k` is the
/// evaluation at θₖ, the parameters after `k` updates.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error<E = Infallible> {
    /// A hyperparameter is out of its domain.
    ///
    /// Displays as e.g. "learning_rate must be positive and finite, got -0.1".
    InvalidHyperparameter {
        /// The hyperparameter's name, as spelled in the API (`"learning_rate"`, `"beta1"`, …).
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The requirement it violates, e.g. `"positive and finite"` or `"in [0, 1)"`.
        expected: &'static str,
    },
    /// The objective returned a non-finite loss (NaN or ±inf) at θₖ.
    NonFiniteLoss {
        /// `k`.
        iteration: usize,
        /// The loss returned.
        loss: f64,
    },
    /// The objective wrote a non-finite gradient entry at θₖ.
    NonFiniteGradient {
        /// `k`.
        iteration: usize,
        /// The first offending entry.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Every gradient entry at θₖ is finite, but the Euclidean norm exceeds `f64::MAX`.
    GradientNormOverflow {
        /// `k`.
        iteration: usize,
    },
    /// A parameter is non-finite: at iteration 0 the initial θ₀ was given so; at iteration
    /// `k > 0` the update from θₖ₋₁ produced it.
    NonFiniteParameter {
        /// `k`.
        iteration: usize,
        /// The first offending parameter.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The objective returned `Err(source)` when evaluated at θₖ.
    Objective {
        /// `k`.
        iteration: usize,
        /// The objective's error (also returned by [`std::error::Error::source`]).
        source: E,
    },
}

impl<E> Error<E> {
    /// The iteration at which the loop stopped, or `None` for a hyperparameter error.
    pub fn iteration(&self) -> Option<usize> {
        match self {
            Error::InvalidHyperparameter { .. } => None,
            Error::NonFiniteLoss { iteration, .. }
            | Error::NonFiniteGradient { iteration, .. }
            | Error::GradientNormOverflow { iteration }
            | Error::NonFiniteParameter { iteration, .. }
            | Error::Objective { iteration, .. } => Some(*iteration),
        }
    }

    /// Converts the objective's error with `f`, leaving every other variant as it is.
    pub fn map_objective<F>(self, f: impl FnOnce(E) -> F) -> Error<F> {
        match self {
            Error::InvalidHyperparameter {
                name,
                value,
                expected,
            } => Error::InvalidHyperparameter {
                name,
                value,
                expected,
            },
            Error::NonFiniteLoss { iteration, loss } => Error::NonFiniteLoss { iteration, loss },
            Error::NonFiniteGradient {
                iteration,
                index,
                value,
            } => Error::NonFiniteGradient {
                iteration,
                index,
                value,
            },
            Error::GradientNormOverflow { iteration } => Error::GradientNormOverflow { iteration },
            Error::NonFiniteParameter {
                iteration,
                index,
                value,
            } => Error::NonFiniteParameter {
                iteration,
                index,
                value,
            },
            Error::Objective { iteration, source } => Error::Objective {
                iteration,
                source: f(source),
            },
        }
    }
}

impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidHyperparameter {
                name,
                value,
                expected,
            } => write!(f, "{name} must be {expected}, got {value}"),
            Error::NonFiniteLoss { iteration: 0, loss } => {
                write!(f, "iteration 0: loss is {loss} at the initial parameters")
            }
            Error::NonFiniteLoss { iteration, loss } => write!(
                f,
                "iteration {iteration}: loss is {loss} (the learning rate may be too large)"
            ),
            Error::NonFiniteGradient {
                iteration,
                index,
                value,
            } => write!(
                f,
                "iteration {iteration}: gradient entry {index} is {value}"
            ),
            Error::GradientNormOverflow { iteration } => write!(
                f,
                "iteration {iteration}: the gradient's norm overflows f64 (the learning rate may be too large)"
            ),
            Error::NonFiniteParameter {
                iteration: 0,
                index,
                value,
            } => write!(f, "iteration 0: initial parameter {index} is {value}"),
            Error::NonFiniteParameter {
                iteration,
                index,
                value,
            } => write!(
                f,
                "iteration {iteration}: parameter {index} became {value} after the update"
            ),
            // The source is not repeated here; it is reachable through `source()`.
            Error::Objective { iteration, .. } => {
                write!(f, "iteration {iteration}: the objective returned an error")
            }
        }
    }
}

impl<E> std::error::Error for Error<E>
where
    E: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Objective { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Checks `learning_rate > 0` and finite (NaN-safe).
pub(crate) fn check_positive_finite(name: &'static str, value: f64) -> Result<(), Error> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name,
            value,
            expected: "positive and finite",
        })
    }
}

/// Checks `0 <= value < 1` (NaN-safe).
pub(crate) fn check_unit_interval(name: &'static str, value: f64) -> Result<(), Error> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name,
            value,
            expected: "in [0, 1)",
        })
    }
}
