//! Forward KL D(p ‖ q) for a target known only through log p̃ (no sampler): self-normalized
//! importance sampling with q itself as the proposal.

use kl_dist::LogDensity;
use rand::Rng;

use crate::forward::CrossEntropy;
use crate::model::Model;
use crate::{Error, Objective};

use kl_dist::HALF_LN_2PI;

/// `−Σ w̄ᵢ log q(xᵢ; θ)`: the cross-entropy −E_p[log q] (forward KL up to p's entropy, a
/// constant) estimated by self-normalized importance sampling from q.
///
/// The draws xᵢ = μ_d + L_d εᵢ come from the current q at a proposal θ_d = (μ_d, L_d) and are
/// held fixed while θ moves: θ_d is the θ of the first evaluation after each
/// [`ForwardKlIs::resample_with`] / [`ForwardKlIs::set_eps`] (the usual loop: resample, then
/// evaluate at the current θ), or set explicitly by [`ForwardKlIs::freeze`]. With the draws
/// frozen the objective is a pure function of θ (finite differences apply).
///
/// - **Weights** `w̄ᵢ ∝ p̃(xᵢ) / q(xᵢ; θ_d)`, by a softmax of the log weights (p̃ may be
///   unnormalized: the constant cancels).
/// - **Gradient** `−Σ w̄ᵢ ∇θ log q(xᵢ; θ)`, the draws and weights held fixed. Since Σ w̄ᵢ = 1 the
///   loss is the Gaussian cross-entropy of the weighted mean m and covariance
///   `M = Σ w̄ᵢ (xᵢ − m)(xᵢ − m)ᵀ` of the draws, so each freeze costs O(n d²) to form (m, M) and
///   each evaluation O(d³) (the kernel of [`crate::ForwardKlSamples`]). The minimizer over q is
///   the weighted moment match (m, M).
/// - **Bias.** A ratio of two means, the estimate is biased for finite n and consistent as
///   n → ∞: its gradient tends to that of the exact forward KL, i.e. of the cross-entropy of p's
///   own moments. Its quality depends on how well q covers p: watch [`Objective::ess`], the
///   effective sample size `1 / Σ w̄ᵢ²` of the current draws (n exactly when q = p).
///
/// ```
/// use kl_dist::Mvn;
/// use kl_grad::{ForwardKlIs, Objective};
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Mvn::new(&[0.5, -0.5], &[1.0, 0.3, 0.3, 0.8])?;
/// let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
/// let mut objective = ForwardKlIs::new(p, 2000, &mut rng)?;
/// let mut theta = vec![0.0, 0.0, 2.0, 0.0, 0.0, 2.0];
/// let mut grad = vec![0.0; theta.len()];
/// for _ in 0..300 {
///     objective.resample_with(&mut rng);
///     objective.value_and_grad(&theta, &mut grad)?;
///     theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= 0.05 * g);
/// }
/// assert!((theta[0] - 0.5).abs() < 0.1 && (theta[1] + 0.5).abs() < 0.1);
/// assert!(objective.ess().ok_or("weights")? > 1000.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ForwardKlIs<P> {
    target: P,
    n: usize,
    kernel: CrossEntropy,
    /// q at θ_d.
    proposal: Model,
    /// ε, row-major n × d.
    eps: Vec<f64>,
    /// x (n × d), log p̃ then log weights then w̄ (n).
    xs: Vec<f64>,
    w: Vec<f64>,
    /// Weighted mean and covariance, centred scratch.
    mean: Vec<f64>,
    cov: Vec<f64>,
    centred: Vec<f64>,
    theta_d: Vec<f64>,
    frozen: bool,
    ess: Option<f64>,
}

impl<P: LogDensity> ForwardKlIs<P> {
    /// The objective for `target` with `n_samples` draws of ε from `rng` (not yet frozen).
    ///
    /// # Errors
    /// [`Error::NoSamples`] for n = 0.
    pub fn new<R: Rng + ?Sized>(target: P, n_samples: usize, rng: &mut R) -> Result<Self, Error> {
        if n_samples == 0 {
            return Err(Error::NoSamples);
        }
        let d = target.dim();
        let mut obj = ForwardKlIs {
            target,
            n: n_samples,
            kernel: CrossEntropy::new(vec![0.0; d], vec![0.0; d * d]),
            proposal: Model::new(d),
            eps: vec![0.0; n_samples * d],
            xs: vec![0.0; n_samples * d],
            w: vec![0.0; n_samples],
            mean: vec![0.0; d],
            cov: vec![0.0; d * d],
            centred: vec![0.0; d],
            theta_d: vec![0.0; d + d * d],
            frozen: false,
            ess: None,
        };
        obj.resample_with(rng);
        Ok(obj)
    }

    /// Draws new ε from `rng` (n × d standard normals); the next evaluation freezes the draws at
    /// its θ.
    pub fn resample_with<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for e in self.eps.iter_mut() {
            *e = crate::ziggurat::standard_normal(rng);
        }
        self.frozen = false;
        self.ess = None;
    }

    /// Replaces ε (row-major n × d) by caller-given draws; the next evaluation freezes them at
    /// its θ.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] (`what = "eps"`) when `eps` is not n × d; ε is then
    /// unchanged.
    pub fn set_eps(&mut self, eps: &[f64]) -> Result<(), Error> {
        if eps.len() != self.eps.len() {
            return Err(Error::DimensionMismatch {
                what: "eps",
                expected: self.eps.len(),
                got: eps.len(),
            });
        }
        self.eps.copy_from_slice(eps);
        self.frozen = false;
        self.ess = None;
        Ok(())
    }

    /// Fixes the draws at the proposal `theta_d` = (μ_d, L_d): xᵢ = μ_d + L_d εᵢ, their weights,
    /// weighted mean and covariance, and the ESS. O(n d²), no allocation.
    ///
    /// # Errors
    /// Those of θ (length, non-finite entry, singular L_d), and
    /// [`Error::DegenerateWeights`] if p̃ is 0 (or NaN) at every draw. On error the objective is
    /// left unfrozen.
    pub fn freeze(&mut self, theta_d: &[f64]) -> Result<(), Error> {
        self.frozen = false;
        self.ess = None;
        self.proposal.load(theta_d)?;
        let d = self.proposal.d;
        let (mu, l) = theta_d.split_at(d);
        for (x, e) in self.xs.chunks_exact_mut(d).zip(self.eps.chunks_exact(d)) {
            for (i, xi) in x.iter_mut().enumerate() {
                let row = &l[i * d..(i + 1) * d];
                *xi = mu[i] + row.iter().zip(e).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        self.target.log_prob_batch(&self.xs, &mut self.w);
        // log wᵢ = log p̃(xᵢ) − log q(xᵢ; θ_d), log q(xᵢ; θ_d) = c − ½‖εᵢ‖².
        let c = -(d as f64) * HALF_LN_2PI - 0.5 * self.proposal.log_det();
        let mut max = f64::NEG_INFINITY;
        for (w, e) in self.w.iter_mut().zip(self.eps.chunks_exact(d)) {
            let sq: f64 = e.iter().map(|v| v * v).sum();
            *w -= c - 0.5 * sq;
            if w.is_nan() {
                return Err(Error::DegenerateWeights {
                    max_log_weight: f64::NAN,
                });
            }
            max = max.max(*w);
        }
        if !max.is_finite() {
            return Err(Error::DegenerateWeights {
                max_log_weight: max,
            });
        }
        let mut sum = 0.0;
        for w in self.w.iter_mut() {
            *w = (*w - max).exp();
            sum += *w;
        }
        let mut sq = 0.0;
        self.mean.fill(0.0);
        for (w, x) in self.w.iter_mut().zip(self.xs.chunks_exact(d)) {
            *w /= sum;
            sq += *w * *w;
            self.mean.iter_mut().zip(x).for_each(|(m, v)| *m += *w * v);
        }
        self.cov.fill(0.0);
        for (w, x) in self.w.iter().zip(self.xs.chunks_exact(d)) {
            for ((c, v), m) in self.centred.iter_mut().zip(x).zip(&self.mean) {
                *c = v - m;
            }
            for i in 0..d {
                let wc = w * self.centred[i];
                for j in 0..=i {
                    self.cov[i * d + j] += wc * self.centred[j];
                }
            }
        }
        for i in 0..d {
            for j in 0..i {
                self.cov[j * d + i] = self.cov[i * d + j];
            }
        }
        self.kernel.set_moments(&self.mean, &self.cov);
        self.theta_d.copy_from_slice(theta_d);
        self.ess = Some(1.0 / sq);
        self.frozen = true;
        Ok(())
    }

    /// The proposal θ_d the draws are frozen at, if they are.
    pub fn frozen_at(&self) -> Option<&[f64]> {
        self.frozen.then_some(&self.theta_d[..])
    }

    /// The current draws ε, row-major n × d.
    pub fn eps(&self) -> &[f64] {
        &self.eps
    }

    /// The frozen points xᵢ = μ_d + L_d εᵢ, row-major n × d (meaningful once frozen).
    pub fn points(&self) -> &[f64] {
        &self.xs
    }

    /// The self-normalized weights w̄ᵢ of the frozen points (meaningful once frozen).
    pub fn weights(&self) -> &[f64] {
        &self.w
    }

    /// The weighted mean m of the frozen points.
    pub fn weighted_mean(&self) -> &[f64] {
        &self.mean
    }

    /// The weighted covariance M of the frozen points, row-major d × d.
    pub fn weighted_covariance(&self) -> &[f64] {
        &self.cov
    }

    /// The target.
    pub fn target(&self) -> &P {
        &self.target
    }

    /// Number of draws n.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    fn ensure_frozen(&mut self, theta: &[f64]) -> Result<(), Error> {
        if !self.frozen {
            self.freeze(theta)?;
        }
        Ok(())
    }
}

impl<P: LogDensity> Objective for ForwardKlIs<P> {
    fn dim(&self) -> usize {
        self.proposal.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.ensure_frozen(theta)?;
        self.kernel.eval(theta, Some(grad))
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.ensure_frozen(theta)?;
        self.kernel.eval(theta, None)
    }
    fn resample(&mut self, rng: &mut dyn rand::Rng) {
        self.resample_with(rng);
    }
    fn is_stochastic(&self) -> bool {
        true
    }
    fn ess(&self) -> Option<f64> {
        self.ess
    }
}
