//! The target zoo: non-Gaussian densities for the experiments, each with its score, its exact
//! moments where known and an exact sampler where one exists.
//!
//! | type | density | normalized | sampler |
//! |---|---|---|---|
//! | [`Banana`] | N(x₁; 0, a²) · N(x₂; b (x₁² − a²), 1) | yes | yes |
//! | [`Funnel`] | Neal's funnel, x₀ ~ N(0, σ²), xᵢ ~ N(0, e^{x₀}) | yes | yes |
//! | [`StudentT`] | multivariate t(ν, μ, Σ) | yes | yes |
//! | [`Ring`] | ∝ exp(−(‖x‖ − r)² / 2w²) | yes (normalizer by quadrature) | yes |
//! | [`LogisticRegression`] | Bayesian logistic regression posterior | no | no |
//! | [`FnDensity`] | any closure (see [`from_fn`]) | up to the closure | no |
//!
//! # Invariants
//! - Parameters are checked once in `new`, which returns a typed [`Error`](crate::Error) naming
//!   the argument; evaluating and sampling a built target cannot fail.
//! - Scores are analytic (tests check them against finite differences); every log density is
//!   computed stably (log1p / softplus branches, no exp of large arguments).
//! - Nothing here allocates per point; batch kernels allocate at most a few buffers per call.

mod banana;
mod fn_density;
mod funnel;
mod logistic;
mod ring;
mod special;
mod student_t;

pub use banana::Banana;
pub use fn_density::{FnDensity, from_fn};
pub use funnel::Funnel;
pub use logistic::{LogisticOptions, LogisticRegression};
pub use ring::Ring;
pub use special::ln_gamma;
pub use student_t::StudentT;

use crate::Error;

/// `Ok(())` if `value > 0` and finite, else [`Error::BadParameter`] naming `what` (NaN fails).
pub(crate) fn check_positive(what: &'static str, value: f64) -> Result<(), Error> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(Error::BadParameter {
            what,
            value,
            requirement: "> 0 and finite",
        });
    }
    Ok(())
}

/// `Ok(())` if `value` is finite, else [`Error::BadParameter`] naming `what`.
pub(crate) fn check_finite_scalar(what: &'static str, value: f64) -> Result<(), Error> {
    if !value.is_finite() {
        return Err(Error::BadParameter {
            what,
            value,
            requirement: "finite",
        });
    }
    Ok(())
}

/// Panics with a message if `x` does not have dimension `d` (a programming error).
#[track_caller]
#[inline]
pub(crate) fn assert_dim(x: &[f64], d: usize) {
    assert_eq!(x.len(), d, "point has the wrong dimension");
}
