use rand::{Rng, RngExt};
use rand_distr::{ChiSquared, StandardNormal};

use super::{assert_dim, check_positive, ln_gamma};
use crate::linalg::Cholesky;
use crate::mvn::{check_finite, check_vector, with_buffer};
use crate::{Error, LogDensity, Sample};

/// The multivariate Student t, t_ν(μ, Σ), of any dimension d ≥ 1, with `df = ν > 0`, location
/// `mean = μ` and shape matrix `scale = Σ` (symmetric positive definite, stored by its Cholesky
/// factor C, Σ = C Cᵀ). **Normalized**:
///
/// `log p = ln Γ((ν + d)/2) − ln Γ(ν/2) − (d/2) ln(νπ) − ½ log det Σ − ((ν + d)/2) ln(1 + q/ν)`,
/// `q = ‖C⁻¹ (x − μ)‖²`, with [`ln_gamma`] and `ln(1 + q/ν)` by `ln_1p`.
///
/// Score: `∇ log p = −(ν + d)/(ν + q) · Σ⁻¹ (x − μ)` (two triangular solves).
///
/// Exact moments: the mean is μ for ν > 1 (undefined otherwise); the covariance is
/// ν/(ν − 2) · Σ for ν > 2 (infinite otherwise).
/// Exact sampler: x = μ + C z / √(u/ν), z ~ N(0, I), u ~ χ²_ν.
///
/// # Example
/// ```
/// use kl_dist::{LogDensity, StudentT};
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// // The 1-D standard Cauchy is t₁: p(0) = 1/π; it has neither mean nor variance.
/// let c = StudentT::new(1.0, &[0.0], &[1.0])?;
/// assert!((c.log_prob(&[0.0]) + std::f64::consts::PI.ln()).abs() < 1e-13);
/// assert!(c.mean().is_none() && c.covariance().is_none());
/// let t = StudentT::new(5.0, &[1.0, 2.0], &[2.0, 0.5, 0.5, 1.0])?;
/// assert_eq!(t.covariance(), Some(vec![5.0 / 3.0 * 2.0, 5.0 / 3.0 * 0.5, 5.0 / 3.0 * 0.5, 5.0 / 3.0]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StudentT {
    nu: f64,
    mean: Vec<f64>,
    scale: Vec<f64>,
    chol: Cholesky,
    chi2: ChiSquared<f64>,
    /// `ln Γ((ν + d)/2) − ln Γ(ν/2) − (d/2) ln(νπ) − ½ log det Σ`.
    log_norm: f64,
}

impl StudentT {
    /// t with `df` degrees of freedom, location `mean` (d entries) and shape `scale`
    /// (row-major `d × d`).
    ///
    /// # Errors
    /// [`Error::BadParameter`] for a `df` that is not positive and finite; for the
    /// location, what [`crate::Mvn::new`] reports for a mean (`what = "mean"`); for the shape a
    /// wrong size ([`Error::DimensionMismatch`], `what = "scale"`), a non-finite entry
    /// ([`Error::NonFinite`], `what = "scale"`), asymmetry ([`Error::Asymmetric`], relative
    /// tolerance 1e-9) or a failing Cholesky pivot ([`Error::NotPositiveDefinite`]).
    pub fn new(df: f64, mean: &[f64], scale: &[f64]) -> Result<Self, Error> {
        check_positive("df", df)?;
        let d = mean.len();
        check_vector("mean", mean)?;
        if scale.len() != d * d {
            return Err(Error::DimensionMismatch {
                what: "scale",
                expected: d * d,
                got: scale.len(),
            });
        }
        check_finite("scale", scale)?;
        let mut sym = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let (upper, lower) = (scale[j * d + i], scale[i * d + j]);
                let tol = 1e-9 * upper.abs().max(lower.abs()).max(f64::MIN_POSITIVE);
                if (upper - lower).abs() > tol {
                    return Err(Error::Asymmetric {
                        row: j,
                        col: i,
                        upper,
                        lower,
                    });
                }
                sym[i * d + j] = lower;
                sym[j * d + i] = lower;
            }
        }
        let chol = Cholesky::new(&sym, d).map_err(|pivot| Error::NotPositiveDefinite { pivot })?;
        let chi2 = ChiSquared::new(df).map_err(|_| Error::BadParameter {
            what: "df",
            value: df,
            requirement: "> 0 and finite",
        })?;
        let df_d = d as f64;
        let log_norm = ln_gamma(0.5 * (df + df_d))
            - ln_gamma(0.5 * df)
            - 0.5 * df_d * (df * std::f64::consts::PI).ln()
            - 0.5 * chol.log_det();
        Ok(StudentT {
            nu: df,
            mean: mean.to_vec(),
            scale: sym,
            chol,
            chi2,
            log_norm,
        })
    }

    /// ν, the degrees of freedom.
    pub fn df(&self) -> f64 {
        self.nu
    }

    /// μ, the location (the mean when ν > 1).
    pub fn location(&self) -> &[f64] {
        &self.mean
    }

    /// Σ, the shape matrix, row-major `d × d` (symmetrized from its lower triangle).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// The Cholesky factor of Σ.
    pub fn cholesky(&self) -> &Cholesky {
        &self.chol
    }

    /// The exact mean μ for ν > 1, `None` otherwise (it does not exist).
    pub fn mean(&self) -> Option<Vec<f64>> {
        (self.nu > 1.0).then(|| self.mean.clone())
    }

    /// The exact covariance ν/(ν − 2) · Σ for ν > 2, `None` otherwise (it is infinite or
    /// undefined).
    pub fn covariance(&self) -> Option<Vec<f64>> {
        (self.nu > 2.0).then(|| {
            let f = self.nu / (self.nu - 2.0);
            self.scale.iter().map(|v| f * v).collect()
        })
    }

    /// `log p` from the whitened residual `r = C⁻¹ (x − μ)`; returns `(log p, ν + q)`.
    #[inline]
    fn log_prob_whitened(&self, r: &[f64]) -> (f64, f64) {
        let q: f64 = r.iter().map(|v| v * v).sum();
        let d = self.mean.len() as f64;
        let lp = self.log_norm - 0.5 * (self.nu + d) * (q / self.nu).ln_1p();
        (lp, self.nu + q)
    }
}

impl LogDensity for StudentT {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        let d = self.dim();
        assert_dim(x, d);
        with_buffer(d, |r| {
            for ((ri, xi), mi) in r.iter_mut().zip(x).zip(&self.mean) {
                *ri = xi - mi;
            }
            self.chol.solve_lower(r);
            self.log_prob_whitened(r).0
        })
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.dim();
        assert_dim(x, d);
        assert_dim(grad, d);
        for ((g, xi), mi) in grad.iter_mut().zip(x).zip(&self.mean) {
            *g = xi - mi;
        }
        self.chol.solve_lower(grad);
        let (lp, nu_q) = self.log_prob_whitened(grad);
        self.chol.solve_upper(grad);
        let f = -(self.nu + d as f64) / nu_q;
        grad.iter_mut().for_each(|g| *g *= f);
        lp
    }
}

impl Sample for StudentT {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(out.len() % d, 0, "out must hold whole points");
        let l = self.chol.factor();
        with_buffer(d, |z| {
            for x in out.chunks_exact_mut(d) {
                for zi in z.iter_mut() {
                    *zi = rng.sample(StandardNormal);
                }
                let u: f64 = rng.sample(self.chi2);
                let w = (self.nu / u).sqrt();
                for i in 0..d {
                    let lz: f64 = l[i * d..i * d + i + 1]
                        .iter()
                        .zip(&z[..=i])
                        .map(|(a, b)| a * b)
                        .sum();
                    x[i] = self.mean[i] + w * lz;
                }
            }
        })
    }
}
