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
//! - Samples target: no density, no KL.

use kl_dist::{AnyDensity, LogDensity, Mvn, linalg::Cholesky};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
const RADIUS: f64 = 9.0;
const MAX_NODES: usize = 1201;
const MC_SAMPLES: usize = 100_000;

/// How the trace's KL values are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlMethod {
    ClosedForm,
    Quadrature,
    MonteCarlo { n_samples: usize },
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
    p_mean: Vec<f64>,
    p_cov: Vec<f64>,
    /// `E_p[log p]` (minus p's entropy).
    p_neg_entropy: f64,
    /// Fixed standard normal draws for Monte Carlo (d > 2 mixtures), row-major.
    mc_base: Vec<f64>,
}

impl ExactKl {
    /// Prepares the evaluator; `seed` feeds the Monte Carlo draws of d > 2 mixtures.
    ///
    /// # Panics
    /// If the target is not a normal or a mixture: the zoo targets of `kl-dist` (banana, funnel,
    /// …) have no exact KL here yet, and [`crate::run`] builds only normals and mixtures.
    pub fn new(target: AnyDensity, seed: u64) -> Self {
        let d = target.dim();
        assert!(
            matches!(target, AnyDensity::Mvn(_) | AnyDensity::Mixture(_)),
            "ExactKl needs a normal or a mixture target, got {}",
            target.name()
        );
        let (p_mean, p_cov) = (
            target.mean().expect("normals and mixtures have a mean"),
            target
                .covariance()
                .expect("normals and mixtures have a covariance"),
        );
        let (method, mc_base) = match (&target, d) {
            (AnyDensity::Mvn(_), _) => (KlMethod::ClosedForm, Vec::new()),
            (AnyDensity::Mixture(_), 2) => (KlMethod::Quadrature, Vec::new()),
            (_, _) => {
                let mut rng = rand_pcg::Pcg64::seed_from_u64(seed ^ 0x6b6c_5f71_7561_6472);
                let base = (0..MC_SAMPLES * d)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                (
                    KlMethod::MonteCarlo {
                        n_samples: MC_SAMPLES,
                    },
                    base,
                )
            }
        };
        let mut kl = ExactKl {
            target,
            method,
            p_mean,
            p_cov,
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
            other => unreachable!(
                "checked above: {} is not a normal or a mixture",
                other.name()
            ),
        };
        kl
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

    /// `E_p[log q]` from p's exact mean and covariance (closed form for Gaussian q).
    fn expect_log_q_under_p(&self, q: &Mvn) -> f64 {
        let d = self.p_mean.len();
        let c = q.cholesky();
        let mut m = self.p_cov.clone();
        c.solve_lower_cols(&mut m, d);
        c.solve_upper_cols(&mut m, d);
        let trace: f64 = (0..d).map(|i| m[i * d + i]).sum();
        let mut delta: Vec<f64> = self
            .p_mean
            .iter()
            .zip(q.mean())
            .map(|(a, b)| a - b)
            .collect();
        c.solve_lower(&mut delta);
        let maha: f64 = delta.iter().map(|v| v * v).sum();
        -(d as f64) * HALF_LN_2PI - 0.5 * c.log_det() - 0.5 * (trace + maha)
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
