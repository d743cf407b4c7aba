//! What a fit is fitted to: [`Target`], and the evaluation counter wrapped around it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kl_dist::{AnyDensity, LogDensity, Mvn};

/// The target p of a fit: one of the workspace's own densities (whose exact KL, moments and
/// sampler the fit can use), or any user density with a log density and its gradient.
///
/// Build it with `From` (`Target::from(mvn)`, `Mvn`, `Mixture`, `Banana`, … or an
/// [`AnyDensity`]) or [`Target::custom`] for your own [`LogDensity`] (a
/// [`kl_dist::from_fn`] closure, a struct of yours). Cloning is cheap (shared).
#[derive(Clone)]
pub enum Target {
    /// A density of the workspace.
    Known(Arc<AnyDensity>),
    /// A user's density: log p̃ and its gradient only (no exact KL, no sampler).
    Custom(Arc<dyn LogDensity + Send + Sync>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Known(p) => f.debug_tuple("Known").field(&p.name()).finish(),
            Target::Custom(p) => f.debug_struct("Custom").field("dim", &p.dim()).finish(),
        }
    }
}

impl Target {
    /// Any [`LogDensity`] of the user's.
    pub fn custom<P: LogDensity + Send + Sync + 'static>(p: P) -> Target {
        Target::Custom(Arc::new(p))
    }

    /// The workspace density, when it is one.
    pub fn known(&self) -> Option<&AnyDensity> {
        match self {
            Target::Known(p) => Some(p),
            Target::Custom(_) => None,
        }
    }

    /// The exact Gaussian, when the target is one (what the closed-form objectives need).
    pub fn gaussian(&self) -> Option<&Mvn> {
        match self.known() {
            Some(AnyDensity::Mvn(m)) => Some(m),
            _ => None,
        }
    }

    /// Whether exact draws of p can be made.
    pub fn can_sample(&self) -> bool {
        self.known().is_some_and(AnyDensity::can_sample)
    }

    fn density(&self) -> &dyn LogDensity {
        match self {
            Target::Known(p) => p.as_ref(),
            Target::Custom(p) => p.as_ref(),
        }
    }
}

impl From<AnyDensity> for Target {
    fn from(p: AnyDensity) -> Target {
        Target::Known(Arc::new(p))
    }
}

macro_rules! from_known {
    ($($t:ident),*) => {$(
        impl From<kl_dist::$t> for Target {
            fn from(p: kl_dist::$t) -> Target {
                Target::from(AnyDensity::$t(p))
            }
        }
    )*};
}
from_known!(
    Mvn,
    Mixture,
    Banana,
    Funnel,
    StudentT,
    Ring,
    LogisticRegression
);

impl<F> From<kl_dist::FnDensity<F>> for Target
where
    kl_dist::FnDensity<F>: LogDensity + Send + Sync + 'static,
{
    fn from(p: kl_dist::FnDensity<F>) -> Target {
        Target::custom(p)
    }
}

/// Evaluations of the target so far: gradients (each also gives the log density) and log
/// densities alone.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    grad: AtomicU64,
    density: AtomicU64,
}

impl Counts {
    pub(crate) fn grad(&self) -> u64 {
        self.grad.load(Ordering::Relaxed)
    }
    pub(crate) fn density(&self) -> u64 {
        self.density.load(Ordering::Relaxed)
    }
}

/// The target as the objectives see it: every evaluation counted (one per point, whichever
/// batch method computes it), nothing else changed — the same calls reach the same density.
#[derive(Clone)]
pub(crate) struct Counted {
    target: Target,
    counts: Arc<Counts>,
}

impl Counted {
    pub(crate) fn new(target: Target, counts: Arc<Counts>) -> Counted {
        Counted { target, counts }
    }
}

fn add(c: &AtomicU64, n: usize) {
    c.fetch_add(n as u64, Ordering::Relaxed);
}

impl LogDensity for Counted {
    fn dim(&self) -> usize {
        self.target.density().dim()
    }
    fn log_prob(&self, x: &[f64]) -> f64 {
        add(&self.counts.density, 1);
        self.target.density().log_prob(x)
    }
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        add(&self.counts.grad, 1);
        self.target.density().grad_log_prob(x, grad)
    }
    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        add(&self.counts.density, out.len());
        self.target.density().log_prob_batch(points, out);
    }
    fn prob_batch(&self, points: &[f64], out: &mut [f64]) {
        add(&self.counts.density, out.len());
        self.target.density().prob_batch(points, out);
    }
    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        add(&self.counts.grad, log_prob.len());
        self.target
            .density()
            .grad_log_prob_batch(points, log_prob, grad);
    }
    fn grad_log_prob_affine(
        &self,
        mu: &[f64],
        l: &[f64],
        eps: &[f64],
        log_prob: &mut [f64],
        grad_mu: &mut [f64],
        grad_l: &mut [f64],
        work: &mut Vec<f64>,
    ) -> bool {
        let done = self
            .target
            .density()
            .grad_log_prob_affine(mu, l, eps, log_prob, grad_mu, grad_l, work);
        if done {
            add(&self.counts.grad, log_prob.len());
        }
        done
    }
}

impl LogDensity for Target {
    fn dim(&self) -> usize {
        self.density().dim()
    }
    fn log_prob(&self, x: &[f64]) -> f64 {
        self.density().log_prob(x)
    }
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.density().grad_log_prob(x, grad)
    }
    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        self.density().log_prob_batch(points, out);
    }
    fn prob_batch(&self, points: &[f64], out: &mut [f64]) {
        self.density().prob_batch(points, out);
    }
    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        self.density().grad_log_prob_batch(points, log_prob, grad);
    }
    fn grad_log_prob_affine(
        &self,
        mu: &[f64],
        l: &[f64],
        eps: &[f64],
        log_prob: &mut [f64],
        grad_mu: &mut [f64],
        grad_l: &mut [f64],
        work: &mut Vec<f64>,
    ) -> bool {
        self.density()
            .grad_log_prob_affine(mu, l, eps, log_prob, grad_mu, grad_l, work)
    }
}
