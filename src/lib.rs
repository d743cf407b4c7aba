//! Fit a Gaussian q(μ, Σ = L Lᵀ) to a target p by gradient descent on the forward KL D(p‖q) and
//! the reverse KL D(q‖p), and draw what happens.
//!
//! The root package glues the workspace together: experiment files ([`config`]) → a run
//! ([`run`]) → a trace and figures. `cargo xtask` is a thin command line over it.
//!
//! | crate | what it is |
//! |---|---|
//! | `kl-dist` | `Mvn` and `Mixture`, by Cholesky factors and log-sum-exp |
//! | `kl-grad` | the KL objectives and their analytic gradients |
//! | `kl-opt` | SGD and Adam over flat parameters, a traced loop |
//! | `kl-render` | contours, dots and titles rasterized to PNG and GIF |
//!
//! # Example
//! ```no_run
//! # fn main() -> Result<(), forward_backward_kl::Error> {
//! let exp = forward_backward_kl::config::load("experiments/mixture-reverse.toml".as_ref())?;
//! let run = forward_backward_kl::run::run(&exp)?;
//! let last = run.trace.iterations.last().expect("n_iters + 1 states");
//! println!("D(q‖p) after {} steps: {:?}", last.iteration, last.kl_reverse);
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod csv;
mod error;
pub mod exact_kl;
pub mod figures;
pub mod run;
pub mod story;

pub use error::{Error, Location};
