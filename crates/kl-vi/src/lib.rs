//! Fast Gaussian variational inference: Pathfinder, Gaussian score matching (GSM) and batch
//! and match (BaM).
//!
//! Three algorithms that fit a full-covariance Gaussian q = N(μ, Σ) to a target p known through
//! its (possibly unnormalized) log density and score ∇ log p — any [`kl_dist::LogDensity`] — in
//! far fewer gradient evaluations than stochastic-gradient ELBO maximization:
//!
//! | function | algorithm | paper |
//! |---|---|---|
//! | [`pathfinder`] | L-BFGS on −log p; at each iterate the Gaussian whose covariance is the L-BFGS inverse-Hessian estimate (diagonal + rank 2J) and whose mean is the Newton step; the best ELBO wins; several paths pooled by PSIS importance resampling | Zhang, Carpenter, Gelman & Vehtari, *Pathfinder: parallel quasi-Newton variational inference*, JMLR 23 (2022) |
//! | [`gsm`] | closed-form update making q's score equal the target's at each draw, averaged over a batch ([`gsm_step`]) | Modi, Gower, Margossian, Blei & Saul, *Variational inference with Gaussian score matching*, NeurIPS 2023 (arXiv 2307.07849) |
//! | [`bam`] | proximal step on a score-based divergence: Σ' solves Σ' U Σ' + Σ' = V ([`bam_step`], [`bam_factor`]) | Cai, Modi, Pillaud-Vivien, Margossian, Gower, Blei & Saul, *Batch and match*, ICML 2024 (arXiv 2402.14758) |
//!
//! GSM is BaM's limit B = 1, λ → ∞. All three report every iteration to an observer as a
//! [`State`] (which may stop the run with [`std::ops::ControlFlow::Break`]) and return q as a
//! [`kl_dist::Mvn`]. Pathfinder's optimizer is [`kl_opt::lbfgs`].
//!
//! # Invariants
//! - Settings and input shapes are checked before any work: bad input is a typed [`Error`]
//!   (naming the setting, the input, or the iteration, draw and coordinate of a non-finite
//!   log density or score), never a panic or a NaN in the result.
//! - Every random draw comes from the caller's [`rand_pcg::Pcg64`], in a fixed order: the same
//!   seed gives the same bits, whatever the thread count (the target's batch kernels are
//!   thread-count independent, and the paths of Pathfinder run one after another).
//! - Memory does not grow with the number of iterations: GSM and BaM hold one batch and two
//!   normals; Pathfinder holds J L-BFGS pairs and the best iterate of each path, iterates being
//!   shown to the observer and then dropped.
//! - Linear algebra is Cholesky factors and symmetric eigendecompositions (faer's
//!   `self_adjoint_eigen`), a thin QR for Pathfinder's draws; no explicit inverse, no general
//!   matrix square root; normalizers by log-sum-exp.
//! - Depends on kl-dist (targets, normals), kl-opt (L-BFGS), kl-diag (PSIS); knows nothing of
//!   configs or plots.
//!
//! # Example
//! ```
//! use std::ops::ControlFlow;
//! use kl_dist::{Mvn, kl_divergence};
//! use kl_vi::{BamSettings, GsmSettings, PathfinderSettings, Schedule, bam, gsm, pathfinder};
//! use rand::SeedableRng;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let p = Mvn::new(&[1.0, -2.0], &[2.0, 0.8, 0.8, 1.0])?;
//! let q0 = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0])?;
//! let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
//! let mut keep_going = |_: &kl_vi::State<'_>| ControlFlow::Continue(());
//!
//! let fit = gsm(&p, &q0, &GsmSettings { batch_size: 2, max_iters: 50 }, &mut rng, &mut keep_going)?;
//! assert!(kl_divergence(&fit.q, &p)? < 1e-8);
//!
//! let s = BamSettings { batch_size: 4, max_iters: 50, schedule: Schedule::Constant(1e4) };
//! let fit = bam(&p, &q0, &s, &mut rng, &mut keep_going)?;
//! assert!(kl_divergence(&fit.q, &p)? < 1e-8);
//!
//! let fit = pathfinder(&p, &[3.0, 3.0], &PathfinderSettings::default(), &mut rng, &mut keep_going)?;
//! // The best iterate by a 25-draw ELBO estimate is near the optimum of log p (which iterate
//! // wins among the nearly exact ones is Monte Carlo noise).
//! assert!((fit.q.mean()[0] - 1.0).abs() < 0.1 && (fit.q.mean()[1] + 2.0).abs() < 0.1);
//! assert!(fit.pareto_k < 0.7);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod error;
mod linalg;
mod pathfinder;
mod score;

pub use error::Error;
pub use pathfinder::{PathSummary, PathfinderOutcome, PathfinderSettings, pathfinder};
pub use score::{
    BamSettings, GsmSettings, Schedule, bam, bam_covariance, bam_factor, bam_step, gsm, gsm_step,
};

/// What the observer is shown after every iteration (for Pathfinder: after every iterate of
/// every path).
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    /// The iteration: for GSM and BaM, the number of updates made so far (1, 2, …); for
    /// Pathfinder, the running count of iterates over all paths (0 is the first path's start).
    pub iteration: usize,
    /// The current approximation.
    pub q: &'a kl_dist::Mvn,
    /// −ELBO estimated from draws of `q`, where the algorithm computes one (Pathfinder; `None`
    /// for GSM and BaM, and for a Pathfinder iterate without a finite estimate).
    pub loss: Option<f64>,
    /// Scores evaluated so far (each also returns the log density).
    pub n_grad_evals: u64,
    /// Log densities evaluated so far without a score.
    pub n_density_evals: u64,
}

/// The result of [`gsm`] and [`bam`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The fitted Gaussian.
    pub q: kl_dist::Mvn,
    /// Iterations run (each draws a batch), rejected ones included.
    pub iterations: usize,
    /// Whether the observer stopped the run before `max_iters`.
    pub interrupted: bool,
    /// Scores evaluated (batch size × iterations).
    pub n_grad_evals: u64,
    /// Log densities evaluated without a score (0 for GSM and BaM).
    pub n_density_evals: u64,
    /// Steps rejected because the updated covariance was not positive definite (or not finite).
    pub rejected_steps: usize,
}
