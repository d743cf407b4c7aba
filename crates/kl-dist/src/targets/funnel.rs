use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use super::{assert_dim, check_positive};
use crate::mvn::HALF_LN_2PI;
use crate::{Error, LogDensity, Sample};

/// Neal's funnel in d ≥ 2 dimensions:
///
/// x₀ ~ N(0, σ²), xᵢ | x₀ ~ N(0, e^{x₀}) for i = 1, …, d − 1,
///
/// with `scale = σ > 0` (Neal's original is d = 10, σ = 3). **Normalized**:
/// `log p = −(d/2) ln 2π − ln σ − x₀² / 2σ² − (d − 1) x₀ / 2 − e^{−x₀} Σᵢ xᵢ² / 2`.
///
/// Score: `∂₀ log p = −x₀ / σ² − (d − 1) / 2 + e^{−x₀} Σᵢ xᵢ² / 2`, `∂ᵢ log p = −e^{−x₀} xᵢ`.
///
/// Exact moments: mean 0, Var x₀ = σ², Var xᵢ = E e^{x₀} = e^{σ²/2}, all covariances 0.
/// Exact sampler: x₀ = σ z₀, xᵢ = e^{x₀/2} zᵢ.
///
/// # Example
/// ```
/// use kl_dist::{Funnel, LogDensity};
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// let p = Funnel::new(3, 1.0)?;
/// let mut g = [0.0; 3];
/// p.grad_log_prob(&[0.0, 1.0, -1.0], &mut g);
/// // ∂₀ = −0 − 1 + (1 + 1) / 2 = 0; ∂ᵢ = −xᵢ.
/// assert_eq!(g, [0.0, -1.0, 1.0]);
/// assert_eq!(p.covariance()[4], 0.5f64.exp());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    d: usize,
    sigma: f64,
    /// `−(d/2) ln 2π − ln σ`.
    log_norm: f64,
}

impl Funnel {
    /// The funnel of dimension `dim ≥ 2` (x₀ and `dim − 1` conditionally normal coordinates).
    ///
    /// # Errors
    /// [`Error::DimensionTooSmall`] for `dim < 2`; [`Error::BadParameter`] for a scale
    /// that is not positive and finite (`what = "scale"`).
    pub fn new(dim: usize, scale: f64) -> Result<Self, Error> {
        if dim < 2 {
            return Err(Error::DimensionTooSmall {
                what: "funnel",
                min: 2,
                got: dim,
            });
        }
        check_positive("scale", scale)?;
        Ok(Funnel {
            d: dim,
            sigma: scale,
            log_norm: -(dim as f64) * HALF_LN_2PI - scale.ln(),
        })
    }

    /// σ, the standard deviation of x₀.
    pub fn scale(&self) -> f64 {
        self.sigma
    }

    /// The exact mean, 0.
    pub fn mean(&self) -> Vec<f64> {
        vec![0.0; self.d]
    }

    /// The exact covariance `diag(σ², e^{σ²/2}, …, e^{σ²/2})`, row-major `d × d`.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.d;
        let mut c = vec![0.0; d * d];
        let v = (0.5 * self.sigma * self.sigma).exp();
        c[0] = self.sigma * self.sigma;
        for i in 1..d {
            c[i * d + i] = v;
        }
        c
    }

    /// `(log p, e^{−x₀}, Σᵢ xᵢ²)`.
    #[inline]
    fn parts(&self, x: &[f64]) -> (f64, f64, f64) {
        let x0 = x[0];
        let prec = (-x0).exp();
        let ss: f64 = x[1..].iter().map(|v| v * v).sum();
        let n = (self.d - 1) as f64;
        let z = x0 / self.sigma;
        // e^{−x₀} Σ xᵢ² may overflow to +∞ far out in the neck (log p = −∞ there, which is right);
        // write it as a product only when finite, never as ∞ · 0.
        let quad = if ss == 0.0 { 0.0 } else { prec * ss };
        let lp = self.log_norm - 0.5 * z * z - 0.5 * n * x0 - 0.5 * quad;
        (lp, prec, ss)
    }
}

impl LogDensity for Funnel {
    fn dim(&self) -> usize {
        self.d
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        assert_dim(x, self.d);
        self.parts(x).0
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        assert_dim(x, self.d);
        assert_dim(grad, self.d);
        let (lp, prec, ss) = self.parts(x);
        let n = (self.d - 1) as f64;
        let quad = if ss == 0.0 { 0.0 } else { prec * ss };
        grad[0] = -x[0] / (self.sigma * self.sigma) - 0.5 * n + 0.5 * quad;
        for (g, xi) in grad[1..].iter_mut().zip(&x[1..]) {
            // e^{−x₀} overflows for x₀ < −709; the score of xᵢ = 0 is still exactly 0 (not ∞ · 0).
            *g = if *xi == 0.0 { 0.0 } else { -prec * xi };
        }
        lp
    }
}

impl Sample for Funnel {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let d = self.d;
        assert_eq!(out.len() % d, 0, "out must hold whole points");
        for x in out.chunks_exact_mut(d) {
            let z0: f64 = rng.sample(StandardNormal);
            let x0 = self.sigma * z0;
            let sd = (0.5 * x0).exp();
            x[0] = x0;
            for xi in x[1..].iter_mut() {
                let z: f64 = rng.sample(StandardNormal);
                *xi = sd * z;
            }
        }
    }
}
