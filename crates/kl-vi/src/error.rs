//! The crate's error type.

use std::fmt;

/// Everything that can go wrong in this crate.
///
/// Settings and the shapes of the inputs are checked before any work is done; numerical
/// failures during a run name the iteration `k` (0-based, the iteration whose draws or iterate
/// failed) and, where there is one, the draw and the coordinate. No function of this crate
/// panics on bad input or returns a NaN silently.
///
/// ```
/// use kl_vi::{Error, GsmSettings, gsm};
/// use kl_dist::Mvn;
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0])?;
/// let q0 = Mvn::new(&[0.0], &[1.0])?;
/// let mut rng = rand_pcg::Pcg64::seed_from_u64(0);
/// let err = gsm(&p, &q0, &GsmSettings::default(), &mut rng, &mut |_| std::ops::ControlFlow::Continue(()))
///     .expect_err("q0 has the wrong dimension");
/// assert_eq!(err, Error::DimensionMismatch { what: "q0", expected: 2, got: 1 });
/// assert_eq!(err.to_string(), "q0 has dimension 1, the target has dimension 2");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of its domain.
    InvalidSetting {
        /// The setting's name, as spelled in the settings struct (`"batch_size"`, …).
        name: &'static str,
        /// The rejected value (as `f64`; counts are converted).
        value: f64,
        /// The requirement it violates, e.g. `"at least 1"`.
        expected: &'static str,
    },
    /// An input's dimension differs from the target's.
    DimensionMismatch {
        /// The input (`"q0"`, `"init"`, `"U"`, …).
        what: &'static str,
        /// The dimension it must have (the target's, or `d * d` for a matrix).
        expected: usize,
        /// The dimension it has.
        got: usize,
    },
    /// An input has a NaN or infinite entry.
    NonFiniteInput {
        /// The input (`"init"`, `"points"`, …).
        what: &'static str,
        /// The first offending (flat) index.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The target's log density is NaN or `+inf` (or `−inf` where a finite value is needed, such
    /// as at a Pathfinder starting point) at a point the algorithm needs.
    NonFiniteLogDensity {
        /// The iteration `k` (for Pathfinder: the path's L-BFGS iteration).
        iteration: usize,
        /// The draw of that iteration (`0` for a single point such as an L-BFGS iterate).
        draw: usize,
        /// The value returned.
        value: f64,
    },
    /// The target's score ∇ log p has a non-finite entry at a point the algorithm needs.
    NonFiniteScore {
        /// The iteration `k`.
        iteration: usize,
        /// The draw of that iteration.
        draw: usize,
        /// The first offending coordinate.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A matrix that must be symmetric positive definite is not (its Cholesky factorization
    /// failed at `pivot`).
    NotPositiveDefinite {
        /// The matrix (`"V"`, `"q0 covariance"`, …).
        what: &'static str,
        /// The 0-based pivot at which the factorization failed.
        pivot: usize,
    },
    /// An update produced a non-finite mean or covariance entry (overflow).
    NonFiniteUpdate {
        /// The update (`"GSM covariance update"`, …).
        what: &'static str,
    },
    /// A symmetric eigendecomposition did not converge.
    EigenFailed {
        /// The matrix (`"CᵀUC"`).
        what: &'static str,
    },
    /// L-BFGS could not take a single successful step from a Pathfinder starting point (the
    /// first line search failed), so there is no path to approximate.
    NoLbfgsStep {
        /// The path (0-based).
        path: usize,
    },
    /// No iterate of any path gave a finite ELBO estimate.
    NoFiniteElbo,
    /// Pareto-smoothed importance sampling of the pooled draws failed (all weights zero).
    Psis(kl_diag::Error),
    /// Building a [`kl_dist::Mvn`] failed (e.g. an update produced a covariance that is not
    /// positive definite to working precision where no fallback exists).
    Distribution {
        /// What was being built.
        what: &'static str,
        /// Why it failed.
        source: kl_dist::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidSetting {
                name,
                value,
                expected,
            } => write!(f, "{name} must be {expected}, got {value}"),
            Error::DimensionMismatch {
                what,
                expected,
                got,
            } => write!(
                f,
                "{what} has dimension {got}, the target has dimension {expected}"
            ),
            Error::NonFiniteInput { what, index, value } => {
                write!(f, "{what} entry {index} is {value}")
            }
            Error::NonFiniteLogDensity {
                iteration,
                draw,
                value,
            } => write!(
                f,
                "iteration {iteration}: the target's log density is {value} at draw {draw}"
            ),
            Error::NonFiniteScore {
                iteration,
                draw,
                index,
                value,
            } => write!(
                f,
                "iteration {iteration}: the target's score entry {index} is {value} at draw {draw}"
            ),
            Error::NotPositiveDefinite { what, pivot } => write!(
                f,
                "{what} is not positive definite (Cholesky pivot {pivot})"
            ),
            Error::NonFiniteUpdate { what } => write!(f, "the {what} is not finite"),
            Error::EigenFailed { what } => {
                write!(f, "the eigendecomposition of {what} did not converge")
            }
            Error::NoLbfgsStep { path } => write!(
                f,
                "path {path}: L-BFGS found no step that decreases -log p from the starting point"
            ),
            Error::NoFiniteElbo => write!(f, "no Pathfinder iterate has a finite ELBO estimate"),
            Error::Psis(e) => write!(f, "importance resampling failed: {e}"),
            Error::Distribution { what, .. } => write!(f, "could not build {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Distribution { source, .. } => Some(source),
            Error::Psis(source) => Some(source),
            _ => None,
        }
    }
}

/// Checks `value >= min` for a count.
pub(crate) fn check_at_least(name: &'static str, value: usize, min: usize) -> Result<(), Error> {
    if value >= min {
        Ok(())
    } else {
        Err(Error::InvalidSetting {
            name,
            value: value as f64,
            expected: if min == 1 { "at least 1" } else { "at least 2" },
        })
    }
}

/// Checks `value > 0` and finite (NaN-safe).
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<(), Error> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidSetting {
            name,
            value,
            expected: "positive and finite",
        })
    }
}

/// Checks that every entry of `x` is finite.
pub(crate) fn check_finite(what: &'static str, x: &[f64]) -> Result<(), Error> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFiniteInput {
            what,
            index,
            value: x[index],
        }),
        None => Ok(()),
    }
}

/// Checks the scores of a batch: the first non-finite entry is an error naming iteration,
/// draw and coordinate.
pub(crate) fn check_scores(iteration: usize, grads: &[f64], d: usize) -> Result<(), Error> {
    match grads.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::NonFiniteScore {
            iteration,
            draw: i / d,
            index: i % d,
            value: grads[i],
        }),
        None => Ok(()),
    }
}
