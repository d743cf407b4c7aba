//! Fit a Gaussian q(μ, Σ) to a target p by gradient descent on the forward KL D(p‖q) and the
//! reverse KL D(q‖p), and draw what happens.
//!
//! The root package glues the workspace together, in layers that import downward only:
//!
//! ```text
//! app      (cli, input, output)     the only layer that touches files
//!  ├─ figures, story, zoo           pure: runs in, figure bytes out
//!  ├─ engine (trace)                an Experiment in, a Run out: an adapter over kl_fit::Fit
//!  └─ config (schema → locate → validate, limits, csv)
//! error                             one typed Error, causes chained by source()
//! ```
//!
//! | crate | what it is |
//! |---|---|
//! | `kl-dist` | the targets (normals, mixtures, the zoo) by Cholesky factors and log-sum-exp |
//! | `kl-grad` | the KL objectives and their analytic gradients |
//! | `kl-opt` | SGD and Adam over flat parameters, a loop that stores nothing ([`kl_opt::iterate`]) |
//! | `kl-diag` | PSIS: Pareto k̂, ESS, IW-ELBO |
//! | `kl-fit` | the fit as a library: one builder for every objective and family, with the auto step size, convergence, guards, averaging and diagnostics |
//! | `kl-render` | contours, dots and titles rasterized to PNG and GIF |
//!
//! # Example
//! ```no_run
//! # fn main() -> Result<(), forward_backward_kl::Error> {
//! let exp = forward_backward_kl::app::load("experiments/mixture-reverse.toml".as_ref())?;
//! let run = forward_backward_kl::engine::run(&exp)?;
//! let last = run.trace.iterations.last().expect("n_iters + 1 states");
//! println!("D(q‖p) after {} steps: {:?}", last.iteration, last.kl_reverse);
//! # Ok(())
//! # }
//! ```

pub mod app;
pub mod config;
pub mod engine;
mod error;
pub mod figures;
#[cfg(feature = "serve")]
pub mod serve;
pub mod story;
pub mod zoo;

pub use error::{Error, FitError, Location, quote, report};
