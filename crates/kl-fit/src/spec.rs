//! The settings of a fit: which objective, how to start, which update rule and step size, when
//! to stop, what to diagnose. Plain values; [`crate::Fit`] checks them once, in `run`.

use kl_dist::Mvn;
use kl_grad::Estimator;

use crate::Error;

/// Which divergence is minimized, and how it is estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ObjectiveKind {
    /// Closed-form D(p‖q), Gaussian p.
    ForwardKlExact,
    /// Maximum likelihood on samples of p (forward KL up to p's entropy).
    ForwardKlSamples,
    /// Forward KL by self-normalized importance sampling from q.
    ForwardKlIs,
    /// Reverse KL by reparameterized Monte Carlo (ADVI).
    ReverseKl(Estimator),
    /// Closed-form D(q‖p), Gaussian p.
    ReverseKlExact,
    /// The Rényi VR bound with parameter α ≠ 1.
    Renyi {
        /// α.
        alpha: f64,
    },
    /// Pathfinder (kl-vi): L-BFGS on −log p̃ for at most `max_iters` iterations per path, the
    /// Gaussian of the best iterate by ELBO; several paths pooled by PSIS.
    Pathfinder(PathfinderOptions),
    /// Gaussian score matching (kl-vi): `max_iters` batches of `batch_size` draws.
    Gsm {
        /// B, the draws of q per iteration.
        batch_size: usize,
    },
    /// Batch and match (kl-vi): `max_iters` batches of `batch_size` draws, learning rate λₜ
    /// from `schedule`.
    Bam {
        /// B, the draws of q per iteration.
        batch_size: usize,
        /// λₜ, constant or decaying.
        schedule: kl_vi::Schedule,
    },
}

/// The settings of a Pathfinder fit other than its L-BFGS iterations per path (the fit's
/// `max_iters`). The defaults are Stan's, as [`kl_vi::PathfinderSettings`]'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathfinderOptions {
    /// J, the L-BFGS correction pairs kept (the rank of Σ's low-rank part is at most 2J).
    pub history: usize,
    /// K, the draws of each iterate's Gaussian for its ELBO estimate.
    pub elbo_draws: usize,
    /// The number of paths (1: single-path Pathfinder).
    pub n_paths: usize,
    /// Draws of each path's best Gaussian pooled for importance resampling.
    pub draws_per_path: usize,
    /// Draws resampled from the pool by their Pareto-smoothed weights.
    pub n_draws: usize,
    /// Paths after the first start at the start + U(−r, r)ᵈ.
    pub init_radius: f64,
}

impl Default for PathfinderOptions {
    fn default() -> Self {
        let s = kl_vi::PathfinderSettings::default();
        PathfinderOptions {
            history: s.history,
            elbo_draws: s.elbo_draws,
            n_paths: s.n_paths,
            draws_per_path: s.draws_per_path,
            n_draws: s.n_draws,
            init_radius: s.init_radius,
        }
    }
}

impl PathfinderOptions {
    /// Every count at least 1, the radius finite and not negative.
    pub(crate) fn check(&self) -> Result<(), Error> {
        for (what, v) in [
            ("history", self.history),
            ("elbo_draws", self.elbo_draws),
            ("n_paths", self.n_paths),
            ("draws_per_path", self.draws_per_path),
            ("n_draws", self.n_draws),
        ] {
            if v == 0 {
                return Err(Error::setting(what, "must be at least 1"));
            }
        }
        if !(self.init_radius >= 0.0 && self.init_radius.is_finite()) {
            return Err(Error::setting(
                "init_radius",
                format!("{} is not a non-negative finite number", self.init_radius),
            ));
        }
        Ok(())
    }

    /// kl-vi's settings: these, with at most `max_lbfgs_iters` L-BFGS iterations per path (what
    /// a fit passes to [`kl_vi::pathfinder`]; for calling kl-vi directly with the same options).
    pub fn settings(&self, max_lbfgs_iters: usize) -> kl_vi::PathfinderSettings {
        kl_vi::PathfinderSettings {
            history: self.history,
            max_lbfgs_iters,
            elbo_draws: self.elbo_draws,
            n_paths: self.n_paths,
            draws_per_path: self.draws_per_path,
            n_draws: self.n_draws,
            init_radius: self.init_radius,
            ..kl_vi::PathfinderSettings::default()
        }
    }
}

impl ObjectiveKind {
    /// The name used in files and traces.
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveKind::ForwardKlExact => "forward-kl-exact",
            ObjectiveKind::ForwardKlSamples => "forward-kl-samples",
            ObjectiveKind::ForwardKlIs => "forward-kl-is",
            ObjectiveKind::ReverseKl(_) => "reverse-kl",
            ObjectiveKind::ReverseKlExact => "reverse-kl-exact",
            ObjectiveKind::Renyi { .. } => "renyi",
            ObjectiveKind::Pathfinder(_) => "pathfinder",
            ObjectiveKind::Gsm { .. } => "gsm",
            ObjectiveKind::Bam { .. } => "bam",
        }
    }

    /// Whether this is one of kl-vi's algorithms (Pathfinder, GSM, BaM), which bring their own
    /// updates: no optimizer, step-size search, convergence rule or averaging.
    pub fn is_vi_algorithm(&self) -> bool {
        matches!(
            self,
            ObjectiveKind::Pathfinder(_) | ObjectiveKind::Gsm { .. } | ObjectiveKind::Bam { .. }
        )
    }

    /// Whether the objective's value is deterministic in θ (no fresh draws per step).
    pub fn is_deterministic(&self) -> bool {
        matches!(
            self,
            ObjectiveKind::ForwardKlExact
                | ObjectiveKind::ForwardKlSamples
                | ObjectiveKind::ReverseKlExact
        )
    }

    /// Whether the objective minimizes a forward divergence (D(p‖q) is its own direction).
    pub fn is_forward(&self) -> bool {
        matches!(
            self,
            ObjectiveKind::ForwardKlExact
                | ObjectiveKind::ForwardKlSamples
                | ObjectiveKind::ForwardKlIs
        )
    }
}

/// The step size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepSize {
    /// Given by hand.
    Fixed(f64),
    /// Chosen before the fit by a short search over [`crate::AUTO_RATES`] (Stan ADVI's), then
    /// halved on plateaus of the loss until the fit settles, when it stops by itself
    /// ([`crate::ConvergenceRule::Settled`]; the windows, patience and limits are in
    /// [`crate::PLATEAU_SE`] and its neighbours); the answer is the average of the last step
    /// level's final half.
    Auto,
}

/// The update rule, with its step size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// SGD with optional momentum.
    Sgd {
        /// The step size.
        learning_rate: StepSize,
        /// In [0, 1).
        momentum: f64,
    },
    /// Adam.
    Adam {
        /// The step size.
        learning_rate: StepSize,
        /// In [0, 1).
        beta1: f64,
        /// In [0, 1).
        beta2: f64,
        /// > 0.
        eps: f64,
    },
}

impl Default for Optimizer {
    /// Adam with PyTorch's defaults and the automatic step size.
    fn default() -> Self {
        Optimizer::adam()
    }
}

impl Optimizer {
    /// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) with the automatic step size.
    pub fn adam() -> Optimizer {
        Optimizer::Adam {
            learning_rate: StepSize::Auto,
            beta1: kl_opt::Adam::DEFAULT_BETA1,
            beta2: kl_opt::Adam::DEFAULT_BETA2,
            eps: kl_opt::Adam::DEFAULT_EPS,
        }
    }

    /// Plain SGD with the automatic step size.
    pub fn sgd() -> Optimizer {
        Optimizer::Sgd {
            learning_rate: StepSize::Auto,
            momentum: 0.0,
        }
    }

    /// `"sgd"` or `"adam"`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
        }
    }

    /// The step size.
    pub fn learning_rate(&self) -> StepSize {
        match *self {
            Optimizer::Sgd { learning_rate, .. } | Optimizer::Adam { learning_rate, .. } => {
                learning_rate
            }
        }
    }

    /// The same rule with another step size.
    pub fn with_learning_rate(self, rate: StepSize) -> Optimizer {
        match self {
            Optimizer::Sgd { momentum, .. } => Optimizer::Sgd {
                learning_rate: rate,
                momentum,
            },
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => Optimizer::Adam {
                learning_rate: rate,
                beta1,
                beta2,
                eps,
            },
        }
    }

    /// The update rule itself, with step size `rate`.
    pub(crate) fn build(&self, rate: f64) -> Result<Rule, crate::Error> {
        let e = crate::Error::Optimizer;
        Ok(match *self {
            Optimizer::Sgd { momentum, .. } => {
                Rule::Sgd(kl_opt::Sgd::try_new(rate, momentum).map_err(e)?)
            }
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => Rule::Adam(kl_opt::Adam::try_new(rate, beta1, beta2, eps).map_err(e)?),
        })
    }
}

/// The built update rule; its step size can change between steps (the `Auto` schedule).
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    Sgd(kl_opt::Sgd),
    Adam(kl_opt::Adam),
}

impl Rule {
    fn set_learning_rate(&mut self, rate: f64) {
        // Rates come from a checked rate times a positive factor: valid by construction.
        let _ = match self {
            Rule::Sgd(o) => o.set_learning_rate(rate),
            Rule::Adam(o) => o.set_learning_rate(rate),
        };
    }
}

/// A [`Rule`] whose step size is read from a shared cell before every step.
pub(crate) struct Scheduled<'c> {
    pub(crate) rule: Rule,
    pub(crate) rate: &'c std::cell::Cell<f64>,
}

impl kl_opt::Optimizer for Scheduled<'_> {
    fn step(&mut self, theta: &mut [f64], grad: &[f64]) {
        let r = self.rate.get();
        let current = match &self.rule {
            Rule::Sgd(o) => o.learning_rate(),
            Rule::Adam(o) => o.learning_rate(),
        };
        if r != current {
            self.rule.set_learning_rate(r);
        }
        match &mut self.rule {
            Rule::Sgd(o) => o.step(theta, grad),
            Rule::Adam(o) => o.step(theta, grad),
        }
    }
    fn reset(&mut self) {
        match &mut self.rule {
            Rule::Sgd(o) => o.reset(),
            Rule::Adam(o) => o.reset(),
        }
    }
    fn name(&self) -> &'static str {
        match &self.rule {
            Rule::Sgd(o) => o.name(),
            Rule::Adam(o) => o.name(),
        }
    }
}

/// Stan ADVI's convergence rule: every `eval_every` iterations, the relative change of the
/// objective's mean over the window just ended; the fit stops when the mean or the median of
/// the last changes falls below `tol_rel_obj`.
///
/// ```
/// let stop = kl_fit::Stopping::rel_obj(0.01).every(100);
/// assert_eq!((stop.tol_rel_obj, stop.eval_every), (0.01, 100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopping {
    /// The tolerance (Stan's default 0.01).
    pub tol_rel_obj: f64,
    /// The evaluation period (Stan's `eval_elbo`, default 100).
    pub eval_every: usize,
}

impl Stopping {
    /// Stan's default period, 100 iterations.
    pub const DEFAULT_EVAL_EVERY: usize = 100;

    /// The rule with tolerance `tol_rel_obj`, evaluated every 100 iterations.
    pub fn rel_obj(tol_rel_obj: f64) -> Stopping {
        Stopping {
            tol_rel_obj,
            eval_every: Self::DEFAULT_EVAL_EVERY,
        }
    }

    /// The same rule evaluated every `eval_every` iterations.
    pub fn every(self, eval_every: usize) -> Stopping {
        Stopping { eval_every, ..self }
    }
}

/// The starting model q₀.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// N(0, I) (the default).
    Standard,
    /// Full rank: μ and a raw square factor L (row-major, not necessarily triangular),
    /// Σ = L Lᵀ.
    Explicit {
        /// μ.
        mean: Vec<f64>,
        /// L, row-major.
        raw: Vec<f64>,
    },
    /// Mean field: μ and the standard deviations σ.
    MeanField {
        /// μ.
        mean: Vec<f64>,
        /// σ, all > 0.
        sd: Vec<f64>,
    },
    /// Any normal (its Cholesky factor for the full-rank family, its marginal standard
    /// deviations for the mean-field family).
    Gaussian(Mvn),
    /// Every parameter ~ N(0, 1) (μ and L, or μ and log σ), drawn first from the fit's
    /// generator.
    Random,
    /// The Laplace approximation of a logistic-regression posterior (its MAP and the inverse
    /// negative Hessian there).
    Laplace,
    /// Pathfinder's Gaussian (the best iterate of its best path), run from N(0, I)'s mean with
    /// these settings and the fit's generator, for at most
    /// [`PATHFINDER_START_ITERS`](crate::PATHFINDER_START_ITERS) L-BFGS iterations per path.
    /// Its gradient and density evaluations count as the fit's; it works on any target with a
    /// gradient. For the mean-field family, its marginal standard deviations.
    Pathfinder(PathfinderOptions),
}

/// The importance-sampling diagnostics: Pareto k̂, ESS and the IW-ELBO of the returned q from
/// `n_draws` draws (and of the recorded states every `every` iterations, when set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diagnostics {
    /// Draws of q per diagnosis (default 4000; 0 turns the diagnostics off).
    pub n_draws: usize,
    /// Also at the recorded states whose iteration is a multiple of this.
    pub every: Option<usize>,
}

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics {
            n_draws: 4000,
            every: None,
        }
    }
}
