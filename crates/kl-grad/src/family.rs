//! The variational family: full-rank q(μ, L Lᵀ), or mean-field q(μ, diag σ²) with σᵢ = exp(ωᵢ).
//!
//! Every objective of this crate is written for the full-rank parameters θ = (μ, L).
//! [`MeanField`] wraps any of them: it maps θ_mf = (μ, ω) to the full θ with `L = diag(exp ω)`,
//! calls the wrapped objective and pulls its gradient back by the chain rule,
//! `∂/∂ωᵢ = (∇L)ᵢᵢ σᵢ` (∂Lᵢᵢ/∂ωᵢ = σᵢ, every off-diagonal Lᵢⱼ is held at 0). So each objective
//! serves both families without a second implementation.
//!
//! Why log σ (ADVI's parameterization, Kucukelbir et al. 2017): ω is unconstrained — every real
//! ω is a valid, non-singular q, so a gradient step can never leave the family — and the update
//! is scale invariant: a step in ωᵢ changes σᵢ by a factor, the same relative change whatever
//! the units of coordinate i.

use crate::{Error, Objective};

/// Which Gaussian family q belongs to, and how its parameters θ are laid out.
///
/// - `FullRank`: θ = (μ, L), `d + d²` numbers, L a raw square factor (row-major), Σ = L Lᵀ.
/// - `MeanField`: θ = (μ, ω), `2d` numbers, Σ = diag(exp(2ω)).
///
/// ```
/// use kl_grad::Family;
///
/// # fn main() -> Result<(), kl_grad::Error> {
/// let theta = [1.0, -1.0, 0.0, 2f64.ln()];
/// assert_eq!(Family::MeanField.n_params(2), 4);
/// assert_eq!(Family::MeanField.covariance(&theta, 2)?, vec![1.0, 0.0, 0.0, 4.0]);
/// assert_eq!(Family::MeanField.mean(&theta, 2)?, &[1.0, -1.0]);
/// let full = Family::MeanField.to_full_rank(&theta, 2)?;
/// assert_eq!(full, vec![1.0, -1.0, 1.0, 0.0, 0.0, 2.0]);
/// assert_eq!(Family::FullRank.covariance(&full, 2)?, vec![1.0, 0.0, 0.0, 4.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// q = N(μ, L Lᵀ) with a full square factor L.
    #[default]
    FullRank,
    /// q = N(μ, diag σ²), σᵢ = exp(ωᵢ).
    MeanField,
}

impl Family {
    /// The name used in experiment files and traces: `"full-rank"` or `"mean-field"`.
    pub fn name(self) -> &'static str {
        match self {
            Family::FullRank => "full-rank",
            Family::MeanField => "mean-field",
        }
    }

    /// Number of parameters in dimension d: `d + d²` (full rank) or `2d` (mean field).
    pub fn n_params(self, d: usize) -> usize {
        match self {
            Family::FullRank => d + d * d,
            Family::MeanField => 2 * d,
        }
    }

    fn check(self, theta: &[f64], d: usize) -> Result<(), Error> {
        let expected = self.n_params(d);
        if theta.len() != expected {
            return Err(Error::DimensionMismatch {
                what: "theta",
                expected,
                got: theta.len(),
            });
        }
        Ok(())
    }

    /// The mean μ: the first d entries of θ.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] (`what = "theta"`) when θ does not have this family's
    /// number of parameters for dimension `d`.
    pub fn mean(self, theta: &[f64], d: usize) -> Result<&[f64], Error> {
        self.check(theta, d)?;
        Ok(&theta[..d])
    }

    /// The covariance Σ of q, `d × d` row-major (what a trace stores for either family):
    /// `L Lᵀ` (full rank) or `diag(exp(2ωᵢ))` (mean field).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] (`what = "theta"`) when θ does not have this family's
    /// number of parameters for dimension `d`.
    pub fn covariance(self, theta: &[f64], d: usize) -> Result<Vec<f64>, Error> {
        self.check(theta, d)?;
        let mut cov = vec![0.0; d * d];
        match self {
            Family::FullRank => kl_dist::dense::gram(&theta[d..], d, &mut cov),
            Family::MeanField => {
                for (i, w) in theta[d..].iter().enumerate() {
                    cov[i * d + i] = (2.0 * w).exp();
                }
            }
        }
        Ok(cov)
    }

    /// The same q as full-rank parameters (μ, L): a copy for `FullRank`, `L = diag(exp ω)` for
    /// `MeanField`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] (`what = "theta"`) when θ does not have this family's
    /// number of parameters for dimension `d`.
    pub fn to_full_rank(self, theta: &[f64], d: usize) -> Result<Vec<f64>, Error> {
        self.check(theta, d)?;
        match self {
            Family::FullRank => Ok(theta.to_vec()),
            Family::MeanField => {
                let mut full = vec![0.0; d + d * d];
                mean_field_to_full(theta, d, &mut full);
                Ok(full)
            }
        }
    }
}

/// Writes the full θ of a mean-field θ_mf into `full` (whose off-diagonal entries of L must be
/// zero already); no allocation.
fn mean_field_to_full(theta: &[f64], d: usize, full: &mut [f64]) {
    full[..d].copy_from_slice(&theta[..d]);
    for (i, w) in theta[d..].iter().enumerate() {
        full[d + i * d + i] = w.exp();
    }
}

/// Any [`Objective`] over the mean-field parameters θ = (μ, ω), σᵢ = exp(ωᵢ).
///
/// Evaluates the wrapped objective at the full-rank θ = (μ, diag σ) and returns
/// `∇μ` unchanged and `∂/∂ωᵢ = (∇L)ᵢᵢ σᵢ`. Allocation-free after construction (it owns one
/// full-rank θ and gradient buffer). Resampling, [`Objective::is_stochastic`] and
/// [`Objective::ess`] are forwarded to the wrapped objective.
///
/// The pull-back applies to whatever gradient the wrapped objective returns: wrapping
/// [`crate::ReverseKl`] with the STL estimator gives the STL estimate in (μ, ω).
///
/// Errors are the wrapped objective's, except a θ of the wrong length or with a non-finite
/// entry, which are reported with the mean-field index. If exp(ωᵢ) overflows, the wrapped
/// objective reports the infinite σᵢ as [`Error::NonFiniteParameter`] at its full-rank index;
/// if it underflows to 0, as [`Error::SingularModel`].
///
/// ```
/// use kl_dist::Mvn;
/// use kl_grad::{MeanField, Objective, ReverseKlExact};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A correlated target: the mean-field reverse-KL optimum has σᵢ² = 1 / (Σp⁻¹)ᵢᵢ.
/// let p = Mvn::new(&[1.0, -1.0], &[1.0, 0.8, 0.8, 1.0])?;
/// let mut objective = MeanField::new(ReverseKlExact::new(p));
/// let mut theta = vec![0.0; objective.n_params()];
/// let mut grad = vec![0.0; theta.len()];
/// for _ in 0..2000 {
///     objective.value_and_grad(&theta, &mut grad)?;
///     theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= 0.1 * g);
/// }
/// let var = (2.0 * theta[2]).exp();
/// assert!((var - (1.0 - 0.8 * 0.8)).abs() < 1e-9);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MeanField<O> {
    inner: O,
    full: Vec<f64>,
    full_grad: Vec<f64>,
}

impl<O: Objective> MeanField<O> {
    /// Wraps `inner`, a full-rank objective.
    pub fn new(inner: O) -> Self {
        let d = inner.dim();
        MeanField {
            inner,
            full: vec![0.0; d + d * d],
            full_grad: vec![0.0; d + d * d],
        }
    }

    /// The wrapped objective.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The wrapped objective, mutably (e.g. to call its own `resample_with` or `set_eps`).
    pub fn inner_mut(&mut self) -> &mut O {
        &mut self.inner
    }

    /// Unwraps the full-rank objective.
    pub fn into_inner(self) -> O {
        self.inner
    }

    /// Checks θ_mf and writes the full θ into the buffer.
    fn load(&mut self, theta: &[f64]) -> Result<(), Error> {
        let d = self.inner.dim();
        Family::MeanField.check(theta, d)?;
        if let Some(index) = crate::model::first_non_finite(theta) {
            return Err(Error::NonFiniteParameter {
                index,
                value: theta[index],
            });
        }
        mean_field_to_full(theta, d, &mut self.full);
        Ok(())
    }
}

impl<O: Objective> Objective for MeanField<O> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn n_params(&self) -> usize {
        2 * self.inner.dim()
    }

    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        let d = self.inner.dim();
        if grad.len() != 2 * d {
            return Err(Error::DimensionMismatch {
                what: "gradient",
                expected: 2 * d,
                got: grad.len(),
            });
        }
        self.load(theta)?;
        let value = self.inner.value_and_grad(&self.full, &mut self.full_grad)?;
        grad[..d].copy_from_slice(&self.full_grad[..d]);
        for i in 0..d {
            grad[d + i] = self.full_grad[d + i * d + i] * self.full[d + i * d + i];
        }
        Ok(value)
    }

    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.load(theta)?;
        self.inner.value(&self.full)
    }

    fn resample(&mut self, rng: &mut dyn rand::Rng) {
        self.inner.resample(rng);
    }

    fn is_stochastic(&self) -> bool {
        self.inner.is_stochastic()
    }

    fn ess(&self) -> Option<f64> {
        self.inner.ess()
    }
}
