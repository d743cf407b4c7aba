//! The exact KL in both directions between the target and a Gaussian q, for the trace.
//!
//! - Gaussian target: closed form.
//! - 2-D mixture: deterministic quadrature. `D(p‖q) = E_p[log p] − E_p[log q]`, where
//!   `E_p[log q]` is closed form in p's exact mean and covariance and `E_p[log p] = Σₖ wₖ E_{Nₖ}[log p]`
//!   is computed once; `D(q‖p) = −H(q) − E_q[log p]`. Each Gaussian expectation `E_{N(μ, C Cᵀ)}[f]`
//!   is a tensor trapezoid rule in the whitened coordinates z (x = μ + C z) over [−9, 9]², whose
//!   error decays exponentially for smooth integrands; the step resolves p's narrowest component
//!   as seen through C's widest direction (`h ≤ σ_min(p) / (4 σ_max(q))`).
//! - Mixture in d > 2: the same identities with seeded Monte Carlo for the `E[log p]` terms.
//! - The zoo's normalized targets (banana, funnel, Student t, ring): the same identities, with
//!   `E_p[log p]` estimated once from [`ZOO_P_SAMPLES`] exact draws of p and `E_q[log p]` from
//!   [`ZOO_Q_SAMPLES`] fixed standard-normal draws pushed through q (common random numbers, so the
//!   values along a fit are smooth in θ); `D(p‖q)` needs p's covariance and is absent (`null`)
//!   where it is infinite (a Student t with ν ≤ 2).
//! - Samples target, logistic regression (unnormalized: log Z is unknown): no KL.

use kl_dist::{AnyDensity, Cholesky, LogDensity, Mvn};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use kl_dist::HALF_LN_2PI;
const RADIUS: f64 = 9.0;
const MAX_NODES: usize = 1201;
const MC_SAMPLES: usize = 100_000;
/// Exact draws of a zoo target for its `E_p[log p]`.
pub const ZOO_P_SAMPLES: usize = 100_000;
/// Standard-normal base draws for `E_q[log p]` of a zoo target.
pub const ZOO_Q_SAMPLES: usize = 20_000;

/// How the trace's KL values are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlMethod {
    /// Gaussian target.
    ClosedForm,
    /// 2-D mixture.
    Quadrature,
    /// Seeded Monte Carlo with this many draws.
    MonteCarlo {
        /// Draws per expectation.
        n_samples: usize,
    },
}

impl KlMethod {
    /// A description for the trace.
    pub fn describe(&self) -> String {
        match self {
            KlMethod::ClosedForm => "closed-form".into(),
            KlMethod::Quadrature => {
                "quadrature (trapezoid in whitened coordinates, accurate to 1e-6)".into()
            }
            KlMethod::MonteCarlo { n_samples } => {
                format!("monte-carlo ({n_samples} seeded samples; an estimate)")
            }
        }
    }
}

/// Evaluates D(p‖q) and D(q‖p) for many q against one target.
#[derive(Debug, Clone)]
pub struct ExactKl {
    target: AnyDensity,
    method: KlMethod,
    /// N(p's mean, p's covariance): E_p[log q] depends on p through these moments only.
    p_moments: Option<Mvn>,
    /// Whether p's covariance is finite (`D(p‖q)` computable).
    has_forward: bool,
    /// `E_p[log p]` (minus p's entropy).
    p_neg_entropy: f64,
    /// Fixed standard normal draws for Monte Carlo (d > 2 mixtures), row-major.
    mc_base: Vec<f64>,
}

impl ExactKl {
    /// Prepares the evaluator, or `None` for a target whose KL is not computable here (an
    /// unnormalized or user-defined density); `seed` feeds the Monte Carlo draws.
    pub fn try_new(target: AnyDensity, seed: u64) -> Option<Self> {
        let d = target.dim();
        let zoo = match &target {
            AnyDensity::Mvn(_) | AnyDensity::Mixture(_) => false,
            AnyDensity::Banana(_)
            | AnyDensity::Funnel(_)
            | AnyDensity::StudentT(_)
            | AnyDensity::Ring(_) => true,
            _ => return None,
        };
        let p_moments = match (target.mean(), target.covariance()) {
            (Some(m), Some(c)) => Mvn::new(&m, &c).ok(),
            _ => None,
        };
        let has_forward = p_moments.is_some();
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed ^ 0x6b6c_5f71_7561_6472);
        let (method, mc_base) = match (&target, d) {
            (AnyDensity::Mvn(_), _) => (KlMethod::ClosedForm, Vec::new()),
            (AnyDensity::Mixture(_), 2) => (KlMethod::Quadrature, Vec::new()),
            _ => {
                let n = if zoo { ZOO_Q_SAMPLES } else { MC_SAMPLES };
                let base = (0..n * d)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                (KlMethod::MonteCarlo { n_samples: n }, base)
            }
        };
        let mut kl = ExactKl {
            target,
            method,
            p_moments,
            has_forward,
            p_neg_entropy: 0.0,
            mc_base,
        };
        kl.p_neg_entropy = match &kl.target {
            AnyDensity::Mvn(m) => -m.entropy(),
            AnyDensity::Mixture(m) => m
                .weights()
                .iter()
                .zip(m.components())
                .map(|(w, c)| w * kl.expect_log_p(c.mean(), c.cholesky()))
                .sum(),
            p => {
                let mut xs = vec![0.0; ZOO_P_SAMPLES * d];
                p.try_sample(&mut rng, &mut xs)
                    .expect("zoo targets with a KL have an exact sampler");
                let mut lp = vec![0.0; ZOO_P_SAMPLES];
                p.log_prob_batch(&xs, &mut lp);
                lp.iter().sum::<f64>() / ZOO_P_SAMPLES as f64
            }
        };
        Some(kl)
    }

    /// [`ExactKl::try_new`] for a target known to have a KL (a normal, a mixture, or a
    /// normalized zoo target).
    ///
    /// # Panics
    /// If the target has none (a logistic regression, a user's closure): use `try_new` then.
    pub fn new(target: AnyDensity, seed: u64) -> Self {
        let name = target.name();
        Self::try_new(target, seed)
            .unwrap_or_else(|| panic!("the {name} target has no computable KL: use try_new"))
    }

    /// Whether `D(p‖q)` is finite and computed (p has a covariance).
    pub fn has_forward(&self) -> bool {
        self.has_forward
    }

    /// How the values are computed.
    pub fn method(&self) -> KlMethod {
        self.method
    }

    /// `(D(p‖q), D(q‖p))`.
    pub fn eval(&self, q: &Mvn) -> (f64, f64) {
        if let AnyDensity::Mvn(p) = &self.target {
            let fwd = kl_dist::kl_divergence(p, q).expect("q has the target's dimension");
            let rev = kl_dist::kl_divergence(q, p).expect("q has the target's dimension");
            return (fwd, rev);
        }
        let forward = self.p_neg_entropy - self.expect_log_q_under_p(q);
        let reverse = -q.entropy() - self.expect_log_p(q.mean(), q.cholesky());
        (forward, reverse)
    }

    /// `E_p[log q]` from p's exact mean and covariance: for the moment-matched normal m,
    /// E_p[log q] = E_m[log q] = −H(m) − D(m‖q) (kl-dist's closed forms; 0 without moments).
    fn expect_log_q_under_p(&self, q: &Mvn) -> f64 {
        match &self.p_moments {
            Some(m) => {
                -m.entropy() - kl_dist::kl_divergence(m, q).expect("q has the target's dimension")
            }
            None => 0.0,
        }
    }

    /// `E_{N(mean, C Cᵀ)}[log p]`.
    fn expect_log_p(&self, mean: &[f64], chol: &Cholesky) -> f64 {
        match self.method {
            KlMethod::MonteCarlo { .. } => self.expect_log_p_mc(mean, chol),
            _ => expect_log_density_2d(&self.target, mean, chol, self.min_sd()),
        }
    }

    /// Whether the values for `q` carry the method's accuracy: always, except for quadrature
    /// when q is so much wider than p's narrowest component (more than about 16×) that the grid
    /// would need more than its cap of nodes per axis.
    pub fn is_accurate(&self, q: &Mvn) -> bool {
        match self.method {
            KlMethod::Quadrature => {
                let p_ok = match &self.target {
                    AnyDensity::Mixture(m) => m
                        .components()
                        .iter()
                        .all(|c| quadrature_steps(c.cholesky(), self.min_sd()) < MAX_NODES as f64),
                    _ => true,
                };
                p_ok && quadrature_steps(q.cholesky(), self.min_sd()) < MAX_NODES as f64
            }
            _ => true,
        }
    }

    fn min_sd(&self) -> f64 {
        match &self.target {
            AnyDensity::Mvn(m) => min_eigen_2x2(m.covariance()).sqrt(),
            AnyDensity::Mixture(m) => m
                .components()
                .iter()
                .map(|c| min_eigen_2x2(c.covariance()).sqrt())
                .fold(f64::INFINITY, f64::min),
            other => other.covariance().map_or(1.0, |c| min_eigen_2x2(&c).sqrt()),
        }
    }

    fn expect_log_p_mc(&self, mean: &[f64], chol: &Cholesky) -> f64 {
        let d = mean.len();
        let l = chol.factor();
        let mut xs = vec![0.0; self.mc_base.len()];
        for (x, z) in xs.chunks_mut(d).zip(self.mc_base.chunks(d)) {
            for i in 0..d {
                x[i] = mean[i] + (0..=i).map(|j| l[i * d + j] * z[j]).sum::<f64>();
            }
        }
        let mut lp = vec![0.0; xs.len() / d];
        self.target.log_prob_batch(&xs, &mut lp);
        lp.iter().sum::<f64>() / lp.len() as f64
    }
}

/// Smallest eigenvalue of a symmetric 2 × 2 matrix (row-major).
fn min_eigen_2x2(a: &[f64]) -> f64 {
    let (p, q, r) = (a[0], a[1], a[3]);
    let mid = 0.5 * (p + r);
    let rad = (0.25 * (p - r) * (p - r) + q * q).sqrt();
    mid - rad
}

/// Trapezoid steps per axis that resolve a length scale `min_sd` of p through the widest direction
/// of `C` (`h ≤ min_sd / (4 σ_max(C))`, at most 0.2) over [−9, 9]. Computed in f64: a diverging q
/// makes it huge, never an overflow.
fn quadrature_steps(chol: &Cholesky, min_sd: f64) -> f64 {
    let l = chol.factor();
    // σ_max of C: the largest singular value, sqrt of the largest eigenvalue of C Cᵀ.
    let (a, b, c) = (l[0] * l[0], l[0] * l[2], l[2] * l[2] + l[3] * l[3]);
    let mid = 0.5 * (a + c);
    let sd_max = (mid + (0.25 * (a - c) * (a - c) + b * b).sqrt()).sqrt();
    let h_want = (min_sd / (4.0 * sd_max)).min(0.2);
    let steps = (2.0 * RADIUS / h_want).ceil();
    if steps.is_nan() { f64::INFINITY } else { steps }
}

/// `E_{N(mean, C Cᵀ)}[log p]` for a 2-D density by the trapezoid rule in whitened coordinates.
/// `min_sd` is the smallest length scale of p, which the grid must resolve.
pub fn expect_log_density_2d<D: LogDensity + ?Sized>(
    p: &D,
    mean: &[f64],
    chol: &Cholesky,
    min_sd: f64,
) -> f64 {
    let l = chol.factor();
    let n = (quadrature_steps(chol, min_sd).min(MAX_NODES as f64 - 1.0) as usize + 1)
        .clamp(91, MAX_NODES);
    let h = 2.0 * RADIUS / (n - 1) as f64;
    let nodes: Vec<f64> = (0..n).map(|i| -RADIUS + h * i as f64).collect();
    let weights: Vec<f64> = nodes
        .iter()
        .map(|z| h * (-0.5 * z * z - HALF_LN_2PI).exp())
        .collect();
    let mut pts = vec![0.0; 2 * n];
    let mut lp = vec![0.0; n];
    let mut total = 0.0;
    for (z1, w1) in nodes.iter().zip(&weights) {
        for (pt, z2) in pts.chunks_mut(2).zip(&nodes) {
            pt[0] = mean[0] + l[0] * z1;
            pt[1] = mean[1] + l[2] * z1 + l[3] * z2;
        }
        p.log_prob_batch(&pts, &mut lp);
        let row: f64 = lp.iter().zip(&weights).map(|(v, w)| v * w).sum();
        total += w1 * row;
    }
    total
}
