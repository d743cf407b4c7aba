use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use super::{assert_dim, check_finite_scalar, check_positive};
use crate::mvn::HALF_LN_2PI;
use crate::{Error, LogDensity, Sample};

/// The banana (a "twisted" Gaussian) in 2-D:
///
/// p(x₁, x₂) = N(x₁; 0, a²) · N(x₂; b (x₁² − a²), 1),
///
/// with `scale = a > 0` and `curvature = b` (any finite value; b = 0 is the normal N(0, diag(a², 1))).
/// The map (z₁, z₂) ↦ (a z₁, z₂ + b (a² z₁² − a²)) has Jacobian determinant a, so the density is
/// **normalized**:
/// `log p = −ln 2π − ln a − x₁² / 2a² − (x₂ − b (x₁² − a²))² / 2`.
///
/// Score: with m = b (x₁² − a²) and r = x₂ − m,
/// `∂₁ log p = −x₁ / a² + 2 b x₁ r`, `∂₂ log p = −r`.
///
/// Exact moments: mean 0, Var x₁ = a², Var x₂ = 1 + 2 b² a⁴, Cov(x₁, x₂) = 0.
/// Exact sampler: x₁ = a z₁, x₂ = b (x₁² − a²) + z₂ with z ~ N(0, I).
///
/// # Example
/// ```
/// use kl_dist::{Banana, LogDensity, Sample};
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// let p = Banana::new(1.0, 0.5)?;
/// let mut g = [0.0; 2];
/// let lp = p.grad_log_prob(&[0.0, -0.5], &mut g);
/// // At x₁ = 0 the conditional mean of x₂ is −b a² = −0.5: the ridge of the banana.
/// assert!((lp + (2.0 * std::f64::consts::PI).ln()).abs() < 1e-12 && g == [0.0, 0.0]);
/// let mut xs = vec![0.0; 2 * 100];
/// p.sample(&mut rand_pcg::Pcg64::seed_from_u64(1), &mut xs);
/// assert_eq!(p.covariance(), [1.0, 0.0, 0.0, 1.5]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Banana {
    a: f64,
    b: f64,
    /// `−ln 2π − ln a`.
    log_norm: f64,
}

impl Banana {
    /// The banana with `scale = a` (the standard deviation of x₁) and `curvature = b`.
    ///
    /// # Errors
    /// [`Error::BadParameter`] for a scale that is not positive and finite
    /// (`what = "scale"`), or a non-finite curvature (`what = "curvature"`).
    pub fn new(scale: f64, curvature: f64) -> Result<Self, Error> {
        check_positive("scale", scale)?;
        check_finite_scalar("curvature", curvature)?;
        Ok(Banana {
            a: scale,
            b: curvature,
            log_norm: -2.0 * HALF_LN_2PI - scale.ln(),
        })
    }

    /// `a`, the standard deviation of x₁.
    pub fn scale(&self) -> f64 {
        self.a
    }

    /// `b`, the curvature of the ridge x₂ = b (x₁² − a²).
    pub fn curvature(&self) -> f64 {
        self.b
    }

    /// The exact mean, 0.
    pub fn mean(&self) -> [f64; 2] {
        [0.0, 0.0]
    }

    /// The exact covariance `diag(a², 1 + 2 b² a⁴)`, row-major.
    pub fn covariance(&self) -> [f64; 4] {
        let a2 = self.a * self.a;
        [a2, 0.0, 0.0, 1.0 + 2.0 * self.b * self.b * a2 * a2]
    }

    /// `(x₁ / a, x₂ − b (x₁² − a²))`: the standard normal coordinates of x.
    #[inline]
    fn whiten(&self, x: &[f64]) -> (f64, f64) {
        let u = x[0] / self.a;
        let r = x[1] - self.b * (x[0] * x[0] - self.a * self.a);
        (u, r)
    }
}

impl LogDensity for Banana {
    fn dim(&self) -> usize {
        2
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        assert_dim(x, 2);
        let (u, r) = self.whiten(x);
        self.log_norm - 0.5 * (u * u + r * r)
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        assert_dim(x, 2);
        assert_dim(grad, 2);
        let (u, r) = self.whiten(x);
        grad[0] = -u / self.a + 2.0 * self.b * x[0] * r;
        grad[1] = -r;
        self.log_norm - 0.5 * (u * u + r * r)
    }
}

impl Sample for Banana {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        assert_eq!(out.len() % 2, 0, "out must hold whole points");
        for x in out.chunks_exact_mut(2) {
            let z1: f64 = rng.sample(StandardNormal);
            let z2: f64 = rng.sample(StandardNormal);
            let x1 = self.a * z1;
            x[0] = x1;
            x[1] = self.b * (x1 * x1 - self.a * self.a) + z2;
        }
    }
}
