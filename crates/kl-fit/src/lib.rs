//! Fit a Gaussian q to a target p from Rust: one builder, [`Fit`], for every objective (forward
//! and reverse KL, closed form or Monte Carlo, Rényi α, forward KL by importance sampling) and
//! family (full rank, mean field), with everything the experiment engine has — the `"auto"` step
//! size, Stan's convergence rule, the divergence and blow-up guards, iterate averaging, Pareto k̂
//! diagnostics and the exact KL along the fit — for the workspace's targets and for any density
//! of yours.
//!
//! ```
//! use kl_fit::{Family, Fit, Optimizer, Stopping, Termination};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A 5-D banana of your own: x₂ bends with x₁², the other coordinates are N(0, 1).
//! let banana = kl_fit::kl_dist::from_fn(5, |x: &[f64], g: &mut [f64]| {
//!     let r = x[1] - 0.5 * (x[0] * x[0] - 1.0);
//!     g.iter_mut().zip(x).for_each(|(g, x)| *g = -x);
//!     g[0] = -x[0] + r * x[0];
//!     g[1] = -r;
//!     -0.5 * (x[0] * x[0] + r * r + x[2..].iter().map(|v| v * v).sum::<f64>())
//! })?;
//! let fit = Fit::reverse_kl(banana)
//!     .family(Family::FullRank)
//!     .n_samples(64)
//!     .optimizer(Optimizer::adam())          // step size "auto"
//!     .max_iters(3000)
//!     .stop(Stopping::rel_obj(0.001).every(100))
//!     .diagnostics(2000)
//!     .seed(8)
//!     .run()?;
//! let q = fit.q();                            // averaged over the final window
//! assert!(q.mean()[2].abs() < 0.1 && (q.covariance()[2 * 5 + 2] - 1.0).abs() < 0.1);
//! assert!(matches!(fit.termination(), Termination::Converged { .. } | Termination::MaxIters));
//! let k_hat = fit.diagnosis().ok_or("diagnostics were asked for")?.k_hat;
//! assert!(k_hat.is_finite());
//! assert!(fit.n_grad_evals() > 0 && fit.records().len() >= 2);
//! # Ok(())
//! # }
//! ```
//!
//! # What a Monte Carlo fit returns
//! The last iterate of a stochastic objective is noisy: it sits wherever the last steps left it.
//! [`FitResult::q`] is therefore the **Polyak–Ruppert average** of the iterates over the final
//! window (the last half of the run, in blocks, [`Average`]), and [`FitResult::last_q`] the last
//! iterate. The average is taken of **μ and Σ** (the moments), not of the raw parameters: the
//! factor L is not identifiable (L and L Q give the same q for any orthogonal Q), and averaging
//! log σ would give a geometric mean of σ, biased low by the noise; the mean of covariance
//! matrices is a covariance matrix. Its Monte Carlo standard error (batch means over the
//! window's blocks) is [`Average::mean_se`] / [`Average::var_se`]. Deterministic objectives
//! (closed forms, fixed samples) return their last iterate.
//!
//! # Invariants
//! - The user never sees θ's layout: starts are [`Init`] values, answers are [`kl_dist::Mvn`]s,
//!   recorded states have [`Record::q`]. The layout (μ, then L row-major or ω = log σ) is
//!   written once, in the `record` module.
//! - Memory is bounded whatever the number of iterations: the recorded states are evenly thinned
//!   to at most [`record_capacity`] (plus the last), the average keeps a fixed number of blocks,
//!   and the loop (`kl_opt::iterate`) allocates nothing per step after the first.
//! - Every random draw comes from one `Pcg64` seeded by [`Fit::seed`] (the start, then the exact
//!   draws of p, then the objective's draws, step by step); the step-size search and the
//!   diagnostics draw from their own streams seeded from the same seed. The same settings give the
//!   same bits, at any thread count.
//! - Bad settings are a typed [`Error`] from [`Fit::run`], naming the setting; a fit that turns
//!   non-finite, diverges or blows up is an [`Error`] naming the iteration, never a result.
//! - Depends on kl-dist, kl-grad, kl-opt, kl-diag only (serde optionally): no command line, no
//!   files, no drawing.

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod error;
pub mod exact_kl;
mod record;
mod result;
mod rules;
mod run;
mod spec;
mod target;
mod vi;

use std::ops::ControlFlow;

pub use error::Error;
pub use exact_kl::{ExactKl, KlMethod};
pub use kl_grad::{Estimator, Family};
pub use record::{Average, MAX_RECORD_VALUES, MAX_RECORDS, Record, model, record_capacity};
pub use result::{Diagnosis, FitResult, RateCandidate, RateSearch, Termination};
pub use rules::{
    ADAPT_ITERS, AUTO_RATES, BLOWUP_FACTOR, ConvergenceRule, DIVERGENCE_FACTOR, MAX_DECAYS,
    MAX_PLATEAU_WINDOW, MAX_WINDOW_SCALE, PATHFINDER_START_ITERS, PLATEAU_DECAY, PLATEAU_PATIENCE,
    PLATEAU_SE, PLATEAU_WINDOW, blowup_threshold, first_blowup,
};
pub use run::diagnose;
pub use spec::{
    Diagnostics, Init, ObjectiveKind, Optimizer, PathfinderOptions, StepSize, Stopping,
};
pub use target::Target;
pub use vi::PathfinderReport;

/// The `kl-vi` crate (Pathfinder, GSM, BaM); its [`kl_vi::Schedule`] is BaM's λₜ.
pub use kl_vi;
/// BaM's learning-rate schedule λₜ.
pub use kl_vi::Schedule;

/// The `kl-dist` crate (targets, [`kl_dist::from_fn`] for your own density).
pub use kl_dist;
/// The `rand_pcg` crate (the generator of [`Fit::generator`]).
pub use rand_pcg;

/// What the observer of a fit sees after every iteration.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The iteration (updates made so far).
    pub iteration: usize,
    /// The maximum number of iterations.
    pub max_iters: usize,
    /// The objective there.
    pub loss: f64,
    /// Its gradient's norm.
    pub grad_norm: f64,
    /// Gradient evaluations of the target so far.
    pub n_grad_evals: u64,
    /// Log-density-only evaluations of the target so far.
    pub n_density_evals: u64,
    family: Family,
    d: usize,
    theta: &'a [f64],
}

impl Progress<'_> {
    /// q at this iteration.
    ///
    /// # Errors
    /// If its covariance is not positive definite (the loop never shows such a state).
    pub fn q(&self) -> Result<kl_dist::Mvn, kl_dist::Error> {
        record::q_of(self.family, self.theta, self.d)
    }
}

/// The observer of a fit: called after every iteration; `ControlFlow::Break` stops the fit
/// ([`Termination::Interrupted`]).
pub type Observer<'a> = Box<dyn FnMut(&Progress<'_>) -> ControlFlow<()> + 'a>;

/// A fit, configured by chained setters and started by [`Fit::run`].
///
/// Start from the objective: [`Fit::reverse_kl`], [`Fit::renyi`], [`Fit::forward_kl_is`] (any
/// target with a log density), [`Fit::forward_kl_samples`] (data, or draws of a target that has a
/// sampler), [`Fit::forward_kl_exact`] and [`Fit::reverse_kl_exact`] (a Gaussian target).
/// Defaults: full rank, 100 draws per step, STL gradients, Adam with the automatic step size,
/// 1000 iterations, no convergence rule, N(0, I) start, diagnostics from 4000 draws, seed 0.
pub struct Fit<'a> {
    pub(crate) target: Option<Target>,
    pub(crate) samples: Option<Vec<f64>>,
    pub(crate) samples_dim: usize,
    pub(crate) objective: ObjectiveKind,
    pub(crate) family: Family,
    pub(crate) n_samples: usize,
    pub(crate) optimizer: Optimizer,
    pub(crate) max_iters: usize,
    pub(crate) stopping: Option<Stopping>,
    pub(crate) init: Init,
    pub(crate) diagnostics: Diagnostics,
    pub(crate) seed: u64,
    pub(crate) generator: Option<rand_pcg::Pcg64>,
    pub(crate) p_draws: usize,
    pub(crate) exact_kl: bool,
    pub(crate) observer: Option<Observer<'a>>,
}

impl std::fmt::Debug for Fit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fit")
            .field("target", &self.target)
            .field("objective", &self.objective)
            .field("family", &self.family)
            .field("n_samples", &self.n_samples)
            .field("optimizer", &self.optimizer)
            .field("max_iters", &self.max_iters)
            .field("stopping", &self.stopping)
            .field("init", &self.init)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl<'a> Fit<'a> {
    /// A fit of `objective` to `target` (the general entry; the named constructors below are
    /// shorthands).
    pub fn new(target: impl Into<Target>, objective: ObjectiveKind) -> Fit<'a> {
        Fit::blank(Some(target.into()), objective)
    }

    fn blank(target: Option<Target>, objective: ObjectiveKind) -> Fit<'a> {
        Fit {
            target,
            samples: None,
            samples_dim: 0,
            objective,
            family: Family::FullRank,
            n_samples: 100,
            optimizer: Optimizer::adam(),
            max_iters: 1000,
            stopping: None,
            init: Init::Standard,
            diagnostics: Diagnostics::default(),
            seed: 0,
            generator: None,
            p_draws: 0,
            exact_kl: true,
            observer: None,
        }
    }

    /// Reverse KL D(q‖p) by reparameterized draws of q (ADVI), STL gradients by default.
    pub fn reverse_kl(target: impl Into<Target>) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::ReverseKl(Estimator::Stl))
    }

    /// The Rényi divergence D_α(q‖p) by the VR bound (α → 1 is reverse KL, α → 0 covers).
    pub fn renyi(target: impl Into<Target>, alpha: f64) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::Renyi { alpha })
    }

    /// Forward KL D(p‖q) by self-normalized importance sampling from q (no sampler of p needed).
    pub fn forward_kl_is(target: impl Into<Target>) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::ForwardKlIs)
    }

    /// Forward KL by maximum likelihood on `n_samples` exact draws of `target` (which must have
    /// a sampler), drawn once at the start.
    pub fn forward_kl_samples_of(target: impl Into<Target>) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::ForwardKlSamples)
    }

    /// Forward KL by maximum likelihood on fixed samples of p (row-major, `dim` columns).
    pub fn forward_kl_samples(samples: Vec<f64>, dim: usize) -> Fit<'a> {
        let mut fit = Fit::blank(None, ObjectiveKind::ForwardKlSamples);
        fit.samples = Some(samples);
        fit.samples_dim = dim;
        fit
    }

    /// Closed-form forward KL D(p‖q) to a Gaussian.
    pub fn forward_kl_exact(target: kl_dist::Mvn) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::ForwardKlExact)
    }

    /// Closed-form reverse KL D(q‖p) to a Gaussian.
    pub fn reverse_kl_exact(target: kl_dist::Mvn) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::ReverseKlExact)
    }

    /// Pathfinder (Zhang et al. 2022): L-BFGS on −log p̃ from the start's mean, for at most
    /// [`Fit::max_iters`] iterations per path; q is the Gaussian of the iterate with the best
    /// ELBO estimate. Defaults Stan's: history J = 5, K = 25 ELBO draws, 4 paths pooled by PSIS
    /// ([`FitResult::pathfinder`] has k̂); set them with [`Fit::history`], [`Fit::elbo_draws`],
    /// [`Fit::n_paths`] or [`Fit::pathfinder_options`].
    pub fn pathfinder(target: impl Into<Target>) -> Fit<'a> {
        Fit::new(
            target,
            ObjectiveKind::Pathfinder(PathfinderOptions::default()),
        )
    }

    /// Gaussian score matching (Modi et al. 2023): [`Fit::max_iters`] batches of
    /// [`Fit::batch_size`] draws of q (default 2), from the start q₀.
    pub fn gsm(target: impl Into<Target>) -> Fit<'a> {
        Fit::new(target, ObjectiveKind::Gsm { batch_size: 2 })
    }

    /// Batch and match (Cai et al. 2024): [`Fit::max_iters`] batches of [`Fit::batch_size`]
    /// draws of q (default 10), λₜ from [`Fit::schedule`] (default the paper's decaying
    /// λₜ = B d / (t + 1)).
    pub fn bam(target: impl Into<Target>) -> Fit<'a> {
        Fit::new(
            target,
            ObjectiveKind::Bam {
                batch_size: 10,
                schedule: Schedule::Decaying { scale: 1.0 },
            },
        )
    }

    /// GSM's and BaM's batch size B (for other objectives, nothing).
    pub fn batch_size(mut self, b: usize) -> Self {
        match &mut self.objective {
            ObjectiveKind::Gsm { batch_size } | ObjectiveKind::Bam { batch_size, .. } => {
                *batch_size = b;
            }
            _ => {}
        }
        self
    }

    /// BaM's learning-rate schedule (for other objectives, nothing).
    pub fn schedule(mut self, s: Schedule) -> Self {
        if let ObjectiveKind::Bam { schedule, .. } = &mut self.objective {
            *schedule = s;
        }
        self
    }

    /// All of Pathfinder's settings but its iterations (for other objectives, nothing).
    pub fn pathfinder_options(mut self, o: PathfinderOptions) -> Self {
        if let ObjectiveKind::Pathfinder(p) = &mut self.objective {
            *p = o;
        }
        self
    }

    /// Pathfinder's history J (for other objectives, nothing).
    pub fn history(mut self, j: usize) -> Self {
        if let ObjectiveKind::Pathfinder(p) = &mut self.objective {
            p.history = j;
        }
        self
    }

    /// Pathfinder's K, draws per iterate for its ELBO (for other objectives, nothing).
    pub fn elbo_draws(mut self, k: usize) -> Self {
        if let ObjectiveKind::Pathfinder(p) = &mut self.objective {
            p.elbo_draws = k;
        }
        self
    }

    /// Pathfinder's number of paths (for other objectives, nothing).
    pub fn n_paths(mut self, n: usize) -> Self {
        if let ObjectiveKind::Pathfinder(p) = &mut self.objective {
            p.n_paths = n;
        }
        self
    }

    /// The family of q.
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }

    /// Draws of q per step (Monte Carlo objectives), or of p (forward KL on draws of a target).
    pub fn n_samples(mut self, n: usize) -> Self {
        self.n_samples = n;
        self
    }

    /// The reverse-KL gradient estimator (`Total` or `Stl`); only for reverse KL.
    pub fn estimator(mut self, estimator: Estimator) -> Self {
        if let ObjectiveKind::ReverseKl(_) = self.objective {
            self.objective = ObjectiveKind::ReverseKl(estimator);
        }
        self
    }

    /// The update rule (its step size included: see [`Fit::step_size`]).
    pub fn optimizer(mut self, optimizer: Optimizer) -> Self {
        self.optimizer = optimizer;
        self
    }

    /// The step size of the update rule.
    pub fn step_size(mut self, step: StepSize) -> Self {
        self.optimizer = self.optimizer.with_learning_rate(step);
        self
    }

    /// The maximum number of iterations (the number, without a convergence rule).
    pub fn max_iters(mut self, n: usize) -> Self {
        self.max_iters = n;
        self
    }

    /// Stop by Stan's relative-tolerance rule.
    pub fn stop(mut self, stopping: Stopping) -> Self {
        self.stopping = Some(stopping);
        self
    }

    /// The start.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Diagnose the answer from `n_draws` draws of q (0: no diagnostics).
    pub fn diagnostics(mut self, n_draws: usize) -> Self {
        self.diagnostics.n_draws = n_draws;
        self
    }

    /// Also diagnose the recorded states whose iteration is a multiple of `every`.
    pub fn diagnostics_every(mut self, every: usize) -> Self {
        self.diagnostics.every = Some(every);
        self
    }

    /// The seed of every draw.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Continue from this generator instead of `Pcg64::seed_from_u64(seed)` (for a caller that
    /// drew from the seed's stream first, e.g. a random target); the side streams still come
    /// from the seed.
    pub fn generator(mut self, rng: rand_pcg::Pcg64) -> Self {
        self.generator = Some(rng);
        self
    }

    /// Also make `n` exact draws of p after the start (for plots), when the target has a
    /// sampler: [`FitResult::p_samples`].
    pub fn p_samples(mut self, n: usize) -> Self {
        self.p_draws = n;
        self
    }

    /// Whether to compute the exact KL at the recorded states (default on, for the workspace's
    /// targets that have it).
    pub fn exact_kl(mut self, on: bool) -> Self {
        self.exact_kl = on;
        self
    }

    /// Called after every iteration with the [`Progress`]; returning `ControlFlow::Break`
    /// interrupts the fit.
    pub fn observer(mut self, observer: impl FnMut(&Progress<'_>) -> ControlFlow<()> + 'a) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Runs the fit.
    ///
    /// # Errors
    /// [`Error::Setting`] for a setting out of range (naming it); the errors of the fit itself
    /// ([`Error::Step`], [`Error::NonFinite`], [`Error::Diverged`], [`Error::BlewUp`],
    /// [`Error::KlNotFinite`], [`Error::NoStepSize`], …), each naming the iteration.
    pub fn run(self) -> Result<FitResult, Error> {
        run::run(self)
    }

    pub(crate) fn dim(&self) -> Result<usize, Error> {
        match (&self.target, &self.samples) {
            (Some(t), _) => Ok(kl_dist::LogDensity::dim(t)),
            (None, Some(_)) => Ok(self.samples_dim),
            (None, None) => Err(Error::setting("target", "a fit needs a target or samples")),
        }
    }

    /// The checks of the settings, once.
    pub(crate) fn check(&mut self) -> Result<(), Error> {
        let d = self.dim()?;
        if d == 0 {
            return Err(Error::setting("target", "the dimension is 0"));
        }
        if let Some(s) = &self.samples {
            if s.is_empty() || s.len() % d != 0 {
                return Err(Error::setting(
                    "samples",
                    format!("{} numbers are not rows of {d}", s.len()),
                ));
            }
            if let Some(i) = s.iter().position(|x| !x.is_finite()) {
                return Err(Error::setting("samples", format!("entry {i} is {}", s[i])));
            }
        }
        if self.objective.is_vi_algorithm() {
            return self.check_vi();
        }
        let mc = !self.objective.is_deterministic();
        let needs_draws_of_p =
            self.objective == ObjectiveKind::ForwardKlSamples && self.samples.is_none();
        if (mc || needs_draws_of_p) && self.n_samples == 0 {
            return Err(Error::setting("n_samples", "must be at least 1"));
        }
        if needs_draws_of_p {
            if !self.target.as_ref().is_some_and(Target::can_sample) {
                return Err(Error::setting(
                    "objective",
                    "forward-kl-samples needs samples, or a target with an exact sampler",
                ));
            }
            self.p_draws = self.p_draws.max(self.n_samples);
        }
        if let ObjectiveKind::Renyi { alpha } = self.objective
            && !alpha.is_finite()
        {
            return Err(Error::setting("alpha", format!("{alpha} is not finite")));
        }
        if let StepSize::Fixed(r) = self.optimizer.learning_rate()
            && !(r > 0.0 && r.is_finite())
        {
            return Err(Error::setting(
                "learning_rate",
                format!("{r} is not a positive finite number"),
            ));
        }
        if let Some(s) = self.stopping {
            if !(s.tol_rel_obj > 0.0 && s.tol_rel_obj.is_finite()) {
                return Err(Error::setting(
                    "tol_rel_obj",
                    format!("{} is not a positive finite number", s.tol_rel_obj),
                ));
            }
            if s.eval_every == 0 {
                return Err(Error::setting("eval_every", "must be at least 1"));
            }
        }
        if self.diagnostics.every == Some(0) {
            return Err(Error::setting("diagnostics.every", "must be at least 1"));
        }
        if let Init::Pathfinder(p) = &self.init {
            p.check()?;
        }
        Ok(())
    }

    /// The checks of Pathfinder's, GSM's and BaM's settings (the names are the builder's).
    fn check_vi(&self) -> Result<(), Error> {
        let at_least_1 = |what: &'static str, v: usize| {
            if v == 0 {
                Err(Error::setting(what, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        let name = self.objective.name();
        if self.target.is_none() {
            return Err(Error::setting(
                "target",
                format!("{name} needs a target density"),
            ));
        }
        if self.family != Family::FullRank {
            return Err(Error::setting(
                "family",
                format!("{name} fits a full-rank Gaussian"),
            ));
        }
        at_least_1("max_iters", self.max_iters)?;
        match self.objective {
            ObjectiveKind::Pathfinder(p) => p.check()?,
            ObjectiveKind::Gsm { batch_size } => at_least_1("batch_size", batch_size)?,
            ObjectiveKind::Bam {
                batch_size,
                schedule,
            } => {
                at_least_1("batch_size", batch_size)?;
                let (what, v) = match schedule {
                    Schedule::Constant(l) => ("lambda", l),
                    Schedule::Decaying { scale } => ("lambda_scale", scale),
                };
                // λ ≤ 0 would make Σ' of Σ' U Σ' + Σ' = V indefinite.
                if !(v > 0.0 && v.is_finite()) {
                    return Err(Error::setting(
                        what,
                        format!(
                            "{v} is not a positive finite number (λ ≤ 0 makes BaM's Σ' indefinite)"
                        ),
                    ));
                }
            }
            _ => {}
        }
        if self.diagnostics.every == Some(0) {
            return Err(Error::setting("diagnostics.every", "must be at least 1"));
        }
        if let Init::Pathfinder(p) = &self.init {
            p.check()?;
        }
        Ok(())
    }
}

#[cfg(feature = "serde")]
pub(crate) fn serde_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    // JSON has no infinities: a non-finite value is written as the string "inf", "-inf" or
    // "nan", never as a bare null.
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_str(&v.to_string())
    }
}

#[cfg(feature = "serde")]
pub(crate) fn serde_display<T: std::fmt::Display, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
