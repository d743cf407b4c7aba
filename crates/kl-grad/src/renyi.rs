//! The Rényi α objective: the negated variational Rényi (VR) bound of Li & Turner (2016), by
//! Monte Carlo for any target and in closed form for a Gaussian target.
//!
//! With rᵢ = log p̃(xᵢ) − log q(xᵢ), xᵢ = μ + L εᵢ, the VR bound is
//! `L_α = 1/(1 − α) log (1/n) Σ exp((1 − α) rᵢ)` and the loss is `−L_α`. For a normalized
//! target its expectation (as n → ∞) is the Rényi divergence `D_α(q ‖ p)`; α → 1 gives the
//! reverse KL, α = 0 the (negated) importance-weighted log evidence, α > 1 is more mode seeking
//! than reverse KL, α < 1 more mass covering.

use kl_dist::dense::{Cholesky, gram};
use kl_dist::{LogDensity, Mvn};
use rand::Rng;

use crate::forward::check_len;
use crate::model::Model;
use crate::{Error, Objective, ReverseKlExact};

use kl_dist::HALF_LN_2PI;

/// [`Renyi`] treats `|1 − α| ≤ ALPHA_ONE_TOL` as α = 1 (the limit: the mean of rᵢ).
///
/// The loss is evaluated in a form without cancellation near α = 1 (see [`Renyi`]), so the
/// threshold only has to keep `1/(1 − α)` finite; the difference between the formula and the
/// limit below it is ≈ ½ |1 − α| Var(rᵢ) ≤ 1e-12 · Var(rᵢ).
pub const ALPHA_ONE_TOL: f64 = 1e-12;

/// [`RenyiExact`] treats `|1 − α| ≤ EXACT_ALPHA_ONE_TOL` as α = 1 (the reverse KL, its limit).
///
/// The closed form divides a difference of log-determinants that vanishes at α = 1 by 1 − α,
/// so its rounding error grows like `ε_mach / |1 − α|` while the error of the limit grows like
/// `|1 − α|`: at 1e-8 both are ~1e-8 (relative to the log-determinants).
pub const EXACT_ALPHA_ONE_TOL: f64 = 1e-8;

/// The negated VR bound `−1/(1 − α) log (1/n) Σ exp((1 − α) rᵢ)`, rᵢ = log p̃(xᵢ) − log q(xᵢ),
/// xᵢ = μ + L εᵢ, εᵢ ~ N(0, I): the Rényi α objective of Li & Turner (2016) by Monte Carlo, for any
/// target that gives `log_prob` and `grad_log_prob`.
///
/// - **Any finite α.** The VR bound is defined for every α ≠ 1, and α = 1 is its limit, the
///   reverse KL (for `|1 − α| ≤` [`ALPHA_ONE_TOL`] the loss is the mean of −rᵢ, exactly what
///   [`crate::ReverseKl`] with the total-derivative estimator computes). α > 1 is more mode
///   seeking than reverse KL, α ∈ (0, 1) more mass covering, α = 0 is the importance-weighted
///   bound (IWAE) and α → −∞ the VR-max bound. For α < 0 the exact objective is an upper bound
///   on log Z and is not bounded below; only its finite-n estimate is useful (as in Li & Turner).
/// - **Unnormalized targets.** log p̃ = log p + c shifts the loss by −c and leaves the gradient
///   alone.
/// - **Bias.** The loss is the log of a mean, so it is biased for finite n (by Jensen: upwards
///   for α < 1, downwards for α > 1) and consistent as n → ∞; the bias is O(1/n). With a
///   normalized target, `E[loss] → D_α(q ‖ p)` ([`kl_dist::renyi_divergence`]).
/// - **Gradient** by the reparameterization trick, the total derivative through xᵢ:
///   `∇ loss = −Σ w̄ᵢ ∇θ rᵢ` with self-normalized weights `w̄ᵢ ∝ exp((1 − α) rᵢ)` and
///   `∇μ rᵢ = gᵢ`, `∇L rᵢ = gᵢ εᵢᵀ + L⁻ᵀ`, gᵢ = ∇ log p̃(xᵢ). With ε fixed the value is a
///   deterministic function of θ and this is its exact gradient.
/// - **Numerics.** The weights are a softmax (shifted by the largest exponent). The loss is
///   computed as `−r̄ − ln_1p(mean(expm1(tᵢ))) / (1 − α)` with `tᵢ = (1 − α)(rᵢ − r̄)` when
///   max tᵢ ≤ 30, which has no cancellation as α → 1 and tends continuously to −r̄; otherwise
///   by the usual max-shifted log-sum-exp.
/// - **Variance.** The weights `exp((1 − α) rᵢ)` have finite variance under q only if
///   `∫ q^{2α−1} p^{2−2α}` is finite; for Gaussians, if `(2α − 1) Σ⁻¹ + (2 − 2α) Σp⁻¹` is
///   positive definite. For α > 1 this fails when q is much wider than p (and for α < 1/2 when
///   q is much narrower): the estimates are then heavy tailed even where D_α is finite.
/// - [`Objective::ess`] is `1 / Σ w̄ᵢ²` of the last evaluation (n when α = 1); `None` after
///   new draws until the next evaluation.
///
/// ```
/// use kl_dist::Mvn;
/// use kl_grad::{Objective, Renyi};
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Mvn::new(&[0.5, -0.5], &[1.0, 0.3, 0.3, 0.8])?;
/// let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
/// let mut objective = Renyi::new(p, 0.5, 500, &mut rng)?;
/// let theta = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
/// let mut grad = vec![0.0; theta.len()];
/// let loss = objective.value_and_grad(&theta, &mut grad)?;
/// assert!(loss.is_finite());
/// let ess = objective.ess().ok_or("Rényi has importance weights")?;
/// assert!(ess > 1.0 && ess <= 500.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Renyi<P> {
    target: P,
    alpha: f64,
    n: usize,
    model: Model,
    /// ε, row-major n × d, and ‖εᵢ‖².
    eps: Vec<f64>,
    eps_sq: Vec<f64>,
    /// Buffers: x (n × d), log p̃ then r (n), ∇ log p̃ (n × d), weights (n).
    xs: Vec<f64>,
    lp: Vec<f64>,
    g: Vec<f64>,
    w: Vec<f64>,
    ess: Option<f64>,
}

/// Checks that α is finite.
fn check_alpha(alpha: f64) -> Result<(), Error> {
    if !alpha.is_finite() {
        return Err(Error::InvalidArgument {
            what: "alpha",
            value: alpha,
        });
    }
    Ok(())
}

impl<P: LogDensity> Renyi<P> {
    /// The objective of order `alpha` (any finite value) for `target`, with `n_samples` draws of ε
    /// from `rng`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-finite α, [`Error::NoSamples`] for n = 0.
    pub fn new<R: Rng + ?Sized>(
        target: P,
        alpha: f64,
        n_samples: usize,
        rng: &mut R,
    ) -> Result<Self, Error> {
        check_alpha(alpha)?;
        if n_samples == 0 {
            return Err(Error::NoSamples);
        }
        let d = target.dim();
        let mut obj = Renyi {
            target,
            alpha,
            n: n_samples,
            model: Model::new(d),
            eps: vec![0.0; n_samples * d],
            eps_sq: vec![0.0; n_samples],
            xs: vec![0.0; n_samples * d],
            lp: vec![0.0; n_samples],
            g: vec![0.0; n_samples * d],
            w: vec![0.0; n_samples],
            ess: None,
        };
        obj.resample_with(rng);
        Ok(obj)
    }

    /// Draws new ε from `rng`: n × d standard normals in order, point by point (serial, from
    /// the caller's stream — not [`crate::ReverseKl`]'s chunked streams; `set_eps` shares draws
    /// between the two).
    pub fn resample_with<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for e in self.eps.iter_mut() {
            *e = crate::ziggurat::standard_normal(rng);
        }
        self.refresh_eps_stats();
    }

    /// Replaces ε (row-major n × d) by caller-given draws.
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
        self.refresh_eps_stats();
        Ok(())
    }

    fn refresh_eps_stats(&mut self) {
        let d = self.model.d;
        for (s, e) in self.eps_sq.iter_mut().zip(self.eps.chunks_exact(d)) {
            *s = e.iter().map(|v| v * v).sum();
        }
        self.ess = None;
    }

    /// The current draws ε, row-major n × d.
    pub fn eps(&self) -> &[f64] {
        &self.eps
    }

    /// The points xᵢ = μ + L εᵢ of the last evaluation, row-major n × d.
    pub fn points(&self) -> &[f64] {
        &self.xs
    }

    /// The self-normalized weights w̄ᵢ of the last evaluation (zeros before the first).
    pub fn weights(&self) -> &[f64] {
        &self.w
    }

    /// The target.
    pub fn target(&self) -> &P {
        &self.target
    }

    /// The order α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Number of draws n.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> Result<f64, Error> {
        self.model.load(theta)?;
        let d = self.model.d;
        if let Some(grad) = &grad {
            check_len(grad, d)?;
        }
        let (mu, l) = theta.split_at(d);
        for (x, e) in self.xs.chunks_exact_mut(d).zip(self.eps.chunks_exact(d)) {
            for (i, xi) in x.iter_mut().enumerate() {
                let row = &l[i * d..(i + 1) * d];
                *xi = mu[i] + row.iter().zip(e).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        if grad.is_some() {
            self.target
                .grad_log_prob_batch(&self.xs, &mut self.lp, &mut self.g);
        } else {
            self.target.log_prob_batch(&self.xs, &mut self.lp);
        }
        // r = log p̃ − log q, in place; log q(xᵢ) = c − ½‖εᵢ‖² exactly since L⁻¹(xᵢ − μ) = εᵢ.
        let c = -(d as f64) * HALF_LN_2PI - 0.5 * self.model.log_det();
        for (r, s) in self.lp.iter_mut().zip(&self.eps_sq) {
            *r -= c - 0.5 * s;
        }
        let value = self.weigh()?;
        if let Some(grad) = grad {
            let (gmu, gl) = grad.split_at_mut(d);
            gmu.fill(0.0);
            gl.copy_from_slice(&self.model.w);
            gl.iter_mut().for_each(|v| *v = -*v);
            for ((g, e), &w) in self
                .g
                .chunks_exact(d)
                .zip(self.eps.chunks_exact(d))
                .zip(&self.w)
            {
                for a in 0..d {
                    let wg = w * g[a];
                    gmu[a] -= wg;
                    for (o, eb) in gl[a * d..(a + 1) * d].iter_mut().zip(e) {
                        *o -= wg * eb;
                    }
                }
            }
        }
        Ok(value)
    }

    /// From r (in `lp`): the weights into `w`, the ESS, and the loss.
    fn weigh(&mut self) -> Result<f64, Error> {
        let n = self.n as f64;
        let r = &self.lp;
        let r_mean = r.iter().sum::<f64>() / n;
        if r.iter().any(|v| v.is_nan()) || r_mean.is_nan() {
            return Err(Error::DegenerateWeights {
                max_log_weight: f64::NAN,
            });
        }
        let beta = 1.0 - self.alpha;
        if beta.abs() <= ALPHA_ONE_TOL {
            self.w.fill(1.0 / n);
            self.ess = Some(n);
            return Ok(-r_mean);
        }
        let s_max = r.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(beta * v));
        if !s_max.is_finite() {
            return Err(Error::DegenerateWeights {
                max_log_weight: s_max,
            });
        }
        let mut sum = 0.0;
        for (w, &v) in self.w.iter_mut().zip(r) {
            *w = (beta * v - s_max).exp();
            sum += *w;
        }
        let mut sq = 0.0;
        for w in self.w.iter_mut() {
            *w /= sum;
            sq += *w * *w;
        }
        self.ess = Some(1.0 / sq);
        // max tᵢ = (1 − α) max or min of r, minus (1 − α) r̄ = s_max − (1 − α) r̄.
        let t_max = s_max - beta * r_mean;
        if r_mean.is_finite() && t_max <= 30.0 {
            let m: f64 = r
                .iter()
                .map(|&v| (beta * (v - r_mean)).exp_m1())
                .sum::<f64>()
                / n;
            Ok(-r_mean - m.ln_1p() / beta)
        } else {
            Ok(-(s_max + (sum / n).ln()) / beta)
        }
    }
}

impl<P: LogDensity> Objective for Renyi<P> {
    fn dim(&self) -> usize {
        self.model.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.eval(theta, Some(grad))
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.eval(theta, None)
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

/// The Rényi divergence `D_α(q ‖ p)` in closed form for a Gaussian target, with its analytic
/// gradient in (μ, L): the limit n → ∞ of [`Renyi`]'s loss for a normalized target.
///
/// With `B = α Σp + (1 − α) Σ` (Σ = L Lᵀ) and δ = μ − μp,
/// `D_α = (α/2) δᵀ B⁻¹ δ + 1/(2(1 − α)) log det B − ½ log det Σ − α/(2(1 − α)) log det Σp`,
/// `∇μ = α u`, `∇L = B⁻¹ L − Σ⁻¹ L − α(1 − α) u (uᵀ L)` with u = B⁻¹ δ
/// (`∇Σ = ½ B⁻¹ − ½ Σ⁻¹ − ½ α(1 − α) u uᵀ`, and `∇L = 2 ∇Σ L`).
///
/// B needs no inverse to form, only a Cholesky factor. It is positive definite for α ∈ [0, 1];
/// for α > 1 (or α < 0) it may not be, and then D_α is infinite (+∞ for α > 1, −∞ for α < 0) and
/// evaluation returns [`Error::InfiniteDivergence`]. B is positive definite exactly when
/// `α Σ⁻¹ + (1 − α) Σp⁻¹` is (`B = Σp (α Σ⁻¹ + (1 − α) Σp⁻¹) Σ`, and inversion reverses the
/// Loewner order), the condition [`kl_dist::renyi_divergence`] tests in precision form.
/// For `|1 − α| ≤` [`EXACT_ALPHA_ONE_TOL`] this is [`ReverseKlExact`] (the limit α → 1).
/// For α < 0 the value is ≤ 0 and maximal at q = p: do not minimize it.
///
/// ```
/// use kl_dist::Mvn;
/// use kl_grad::{Objective, RenyiExact};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Mvn::new(&[1.0], &[2.0])?;
/// let mut objective = RenyiExact::new(p, 0.5)?;
/// // At q = p the divergence and its gradient vanish.
/// let theta = [1.0, 2f64.sqrt()];
/// let mut grad = [0.0; 2];
/// let value = objective.value_and_grad(&theta, &mut grad)?;
/// assert!(value.abs() < 1e-12 && grad.iter().all(|g| g.abs() < 1e-12));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RenyiExact {
    target: Mvn,
    alpha: f64,
    model: Model,
    limit: ReverseKlExact,
    b: Vec<f64>,
    b_chol: Cholesky,
    tmp: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
}

impl RenyiExact {
    /// The objective of order `alpha` (finite) for the target `p`; a non-finite α is
    /// [`Error::InvalidArgument`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`what = "alpha"`) for a non-finite α.
    pub fn new(p: Mvn, alpha: f64) -> Result<Self, Error> {
        check_alpha(alpha)?;
        let d = p.dim();
        let model = Model::new(d);
        Ok(RenyiExact {
            b_chol: model.chol.clone(),
            limit: ReverseKlExact::new(p.clone()),
            target: p,
            alpha,
            model,
            b: vec![0.0; d * d],
            tmp: vec![0.0; d * d],
            u: vec![0.0; d],
            v: vec![0.0; d],
        })
    }

    /// The order α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The target.
    pub fn target(&self) -> &Mvn {
        &self.target
    }

    fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> Result<f64, Error> {
        let alpha = self.alpha;
        let beta = 1.0 - alpha;
        if beta.abs() <= EXACT_ALPHA_ONE_TOL {
            return match grad {
                Some(grad) => self.limit.value_and_grad(theta, grad),
                None => self.limit.value(theta),
            };
        }
        self.model.load(theta)?;
        let d = self.model.d;
        if let Some(grad) = &grad {
            check_len(grad, d)?;
        }
        let (mu, l) = theta.split_at(d);
        gram(l, d, &mut self.tmp);
        for ((b, sp), s) in self
            .b
            .iter_mut()
            .zip(self.target.covariance())
            .zip(&self.tmp)
        {
            *b = alpha * sp + beta * s;
        }
        self.b_chol
            .refactor(&self.b)
            .map_err(|pivot| Error::InfiniteDivergence { alpha, pivot })?;
        for ((u, m), t) in self.u.iter_mut().zip(mu).zip(self.target.mean()) {
            *u = m - t;
        }
        // δᵀ B⁻¹ δ = ‖C_B⁻¹ δ‖², then u = B⁻¹ δ.
        self.b_chol.solve_lower(&mut self.u);
        let quad: f64 = self.u.iter().map(|v| v * v).sum();
        self.b_chol.solve_upper(&mut self.u);
        let value = 0.5 * alpha * quad + 0.5 / beta * self.b_chol.log_det()
            - 0.5 * self.model.log_det()
            - 0.5 * alpha / beta * self.target.log_det_covariance();
        if let Some(grad) = grad {
            let (gmu, gl) = grad.split_at_mut(d);
            gmu.iter_mut()
                .zip(&self.u)
                .for_each(|(g, u)| *g = alpha * u);
            // v = Lᵀ u.
            for j in 0..d {
                self.v[j] = (0..d).map(|i| self.u[i] * l[i * d + j]).sum();
            }
            self.tmp.copy_from_slice(l);
            self.b_chol.solve_cols(&mut self.tmp, d);
            let ab = alpha * beta;
            for i in 0..d {
                for j in 0..d {
                    let k = i * d + j;
                    gl[k] = self.tmp[k] - self.model.w[k] - ab * self.u[i] * self.v[j];
                }
            }
        }
        Ok(value)
    }
}

impl Objective for RenyiExact {
    fn dim(&self) -> usize {
        self.model.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.eval(theta, Some(grad))
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.eval(theta, None)
    }
}
