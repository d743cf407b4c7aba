//! Gradient-descent optimizers over flat parameter vectors, and a traced loop.
//!
//! This crate knows nothing of densities or KL divergences: parameters are a `&mut [f64]`,
//! and the objective is any closure returning a loss and writing its gradient. In the spirit
//! of `argmin`, three things are kept apart (without its generic machinery):
//!
//! - the **objective**: a closure `FnMut(k, θ, grad_out) -> Result<loss, E>`;
//! - the **update rule**: the [`Optimizer`] trait, implemented by [`Sgd`] (plain or with
//!   PyTorch-style momentum) and [`Adam`] (bias-corrected, as in Kingma & Ba and PyTorch);
//! - the **loop**: [`minimize`] (or [`minimize_with`], which also shows each gradient to an
//!   observer), which returns the whole trace as a `Vec<`[`Record`]`>`.
//!
//! # Invariants
//!
//! - `minimize(θ₀, opt, n, f)` calls `f` exactly `n + 1` times and, on `Ok`, returns
//!   `n + 1` records; `records[k]` holds θₖ (θ after `k` updates, `records[0].theta == θ₀`),
//!   the loss at θₖ and the Euclidean norm of the gradient at θₖ. The last evaluation is not
//!   followed by an update.
//! - After `minimize` returns `Ok`, every record is finite (θ entries, loss, gradient norm).
//!   A NaN or infinity stops the loop with an [`Error`] naming the iteration (and the entry),
//!   never a trace that looks like a result.
//! - Optimizer state (momentum velocity, Adam moments) is sized on the first step and reused:
//!   the loop allocates nothing per iteration except each record's copy of θ.
//! - Hyperparameters are validated: the `try_new` constructors return
//!   [`Error::InvalidHyperparameter`], the convenience constructors panic with the same message.
//!
//! # Example
//!
//! Minimize f(θ) = ½ Σᵢ aᵢ (θᵢ − cᵢ)² with Adam:
//!
//! ```
//! use kl_opt::{Adam, minimize};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let a = [1.0, 4.0];
//! let c = [2.0, -1.0];
//! let mut adam = Adam::try_new(0.05, 0.9, 0.999, 1e-8)?;
//! let records = minimize(&[0.0, 0.0], &mut adam, 2000, |_k, theta, grad| {
//!     let mut loss = 0.0;
//!     for i in 0..theta.len() {
//!         let d = theta[i] - c[i];
//!         loss += 0.5 * a[i] * d * d;
//!         grad[i] = a[i] * d;
//!     }
//!     Ok::<_, std::convert::Infallible>(loss)
//! })?;
//!
//! assert_eq!(records.len(), 2001);
//! let last = records.last().ok_or("empty trace")?;
//! assert!((last.theta[0] - 2.0).abs() < 1e-3 && (last.theta[1] + 1.0).abs() < 1e-3);
//! assert!(last.loss < records[0].loss);
//! # Ok(())
//! # }
//! ```
//!
//! A divergent run is an error, not a trace:
//!
//! ```
//! use kl_opt::{Error, Sgd, minimize};
//!
//! // f(θ) = θ², so θₖ = (1 − 2·lr)ᵏ θ₀ = (−9)ᵏ with lr = 5; θ² overflows at k = 162.
//! let result = minimize(&[1.0], &mut Sgd::new(5.0), 1000, |_, theta, grad| {
//!     grad[0] = 2.0 * theta[0];
//!     Ok::<_, std::convert::Infallible>(theta[0] * theta[0])
//! });
//! let err = result.err().expect("diverges");
//! assert!(matches!(err, Error::NonFiniteLoss { iteration: 162, .. }));
//! assert_eq!(err.to_string(), "iteration 162: loss is inf (the learning rate may be too large)");
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod error;
mod lbfgs;
mod minimize;
mod optimizer;

pub use error::Error;
pub use lbfgs::{
    InverseHessian, LbfgsError, LbfgsHistory, LbfgsOutcome, LbfgsSettings, LbfgsStop, lbfgs,
};
pub use minimize::{Record, Step, iterate, minimize, minimize_until, minimize_with};
pub use optimizer::{Adam, Optimizer, Sgd};
