use std::fmt;

use super::assert_dim;
use crate::{Error, LogDensity};

/// Dimensions up to this evaluate [`FnDensity::log_prob`] with a gradient buffer on the stack;
/// above it, one heap buffer per call.
const STACK_DIM: usize = 64;

/// A target given by a closure `f(x, grad) -> log p(x)` that writes `∇ log p(x)` into `grad`
/// (see [`from_fn`]). `log p` may be unnormalized; whatever the closure computes is what the
/// objectives see.
///
/// [`LogDensity::log_prob`] calls the closure with a scratch gradient buffer: on the stack for
/// d ≤ 64 (no allocation), one heap allocation per call above that.
#[derive(Clone)]
pub struct FnDensity<F> {
    d: usize,
    f: F,
}

impl<F> fmt::Debug for FnDensity<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnDensity")
            .field("dim", &self.d)
            .finish_non_exhaustive()
    }
}

/// A [`LogDensity`] of dimension `dim` from a closure `f(x, grad) -> log p(x)` that writes the
/// score `∇ₓ log p(x)` into `grad` (length `dim`) and returns `log p(x)` (possibly
/// unnormalized). The closure is trusted: its gradient is not checked.
///
/// Errors: [`Error::ZeroDimension`] for `dim = 0` (`what = "from_fn"`).
///
/// # Errors
/// [`Error::ZeroDimension`] (`what = "from_fn"`) for `dim = 0`.
///
/// # Example
///
/// Fit a Gaussian to the banana N(x₁; 0, 1) · N(x₂; x₁² − 1, 1) by reverse KL, with Adam:
///
/// ```
/// use kl_grad::{Estimator, Objective, ReverseKl};
/// use kl_opt::{Adam, minimize};
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let banana = kl_dist::from_fn(2, |x, g| {
///     let r = x[1] - (x[0] * x[0] - 1.0);
///     g[0] = -x[0] + 2.0 * x[0] * r;
///     g[1] = -r;
///     -0.5 * (x[0] * x[0] + r * r)
/// })?;
/// let mut rng = rand_pcg::Pcg64::seed_from_u64(0);
/// let mut kl = ReverseKl::new(banana, 64, Estimator::Total, &mut rng)?;
/// let trace = minimize(&[0.5, 0.5, 1.0, 0.0, 0.0, 1.0], &mut Adam::new(0.05), 300, |_, th, g| {
///     kl.resample_with(&mut rng);
///     kl.value_and_grad(th, g)
/// })?;
/// let last = trace.last().ok_or("empty trace")?;
/// // Reverse KL seeks a mode: q sits in the bend of the ridge, x₁ near 0 and x₂ below 0
/// // (where the ridge x₂ = x₁² − 1 is), and the loss fell (by about 1.4 nats).
/// assert!(last.theta[0].abs() < 0.3 && last.theta[1] < 0.0, "mean {:?}", &last.theta[..2]);
/// assert!(last.loss < trace[0].loss - 1.0);
/// # Ok(())
/// # }
/// ```
pub fn from_fn<F>(dim: usize, f: F) -> Result<FnDensity<F>, Error>
where
    F: Fn(&[f64], &mut [f64]) -> f64,
{
    if dim == 0 {
        return Err(Error::ZeroDimension { what: "from_fn" });
    }
    Ok(FnDensity { d: dim, f })
}

impl<F> FnDensity<F> {
    /// The closure.
    pub fn inner(&self) -> &F {
        &self.f
    }
}

impl<F> LogDensity for FnDensity<F>
where
    F: Fn(&[f64], &mut [f64]) -> f64,
{
    fn dim(&self) -> usize {
        self.d
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        assert_dim(x, self.d);
        if self.d <= STACK_DIM {
            let mut g = [0.0; STACK_DIM];
            (self.f)(x, &mut g[..self.d])
        } else {
            let mut g = vec![0.0; self.d];
            (self.f)(x, &mut g)
        }
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        assert_dim(x, self.d);
        assert_dim(grad, self.d);
        (self.f)(x, grad)
    }
}
