//! Multivariate normals and Gaussian mixtures, stored by their Cholesky factors, and a zoo of
//! non-Gaussian targets.
//!
//! The densities of the `forward-backward-kl` workspace: [`Mvn`] (any dimension, from a covariance
//! or from the model's square factor `L` with Σ = L Lᵀ), [`Mixture`] (K ≥ 1 components, evaluated
//! by log-sum-exp), the target zoo ([`Banana`], [`Funnel`], [`StudentT`], [`Ring`],
//! [`LogisticRegression`], closures through [`from_fn`]), [`AnyDensity`] over all of them, the
//! [`LogDensity`] trait that objectives take as a target (and [`Sample`] for
//! targets with an exact sampler), the closed-form
//! [`kl_divergence`] between normals, the notebook's [`random_mvn`], and [`density_grid`] (the
//! notebook's `prob_map`).
//!
//! # Targets
//!
//! | type | density | normalized | exact sampler | exact moments |
//! |---|---|---|---|---|
//! | [`Mvn`] | N(μ, Σ) | yes | yes | yes |
//! | [`Mixture`] | Σₖ wₖ N(μₖ, Σₖ) | yes | yes | yes |
//! | [`Banana`] | N(x₁; 0, a²) · N(x₂; b (x₁² − a²), 1) | yes | yes | yes |
//! | [`Funnel`] | x₀ ~ N(0, σ²), xᵢ ~ N(0, e^{x₀}) | yes | yes | yes |
//! | [`StudentT`] | t_ν(μ, Σ) | yes | yes | mean for ν > 1, covariance for ν > 2 |
//! | [`Ring`] | ∝ exp(−(‖x‖ − r)² / 2w²) | yes (normalizer by quadrature) | yes (rejection) | yes (E ρ² by quadrature) |
//! | [`LogisticRegression`] | Bayesian logistic regression posterior | no | no | no ([`LogisticRegression::laplace`]) |
//! | [`FnDensity`] ([`from_fn`]) | any closure | up to the closure | no | no |
//!
//! # Invariants
//! - Parameters are checked once, in the constructors, which return a typed [`Error`] naming the
//!   argument and the position (entry, pivot, component). After that, evaluating and sampling
//!   cannot fail. Shape mismatches of points passed to a built density are programming errors
//!   and panic with a message (`#[track_caller]`-style asserts), never silently.
//! - Only Cholesky factors are stored: no inverse, no determinant. `log det Σ = 2 Σ ln Cᵢᵢ` and
//!   quadratic forms are triangular solves; mixtures are evaluated by log-sum-exp.
//! - The random number generator is always passed in (`&mut R`); nothing here is global.
//! - Batch methods write into caller slices, work on blocks of [`dense::BLOCK`] points and do not
//!   allocate per point.
//! - Depends on faer (factorizations for d > 8) and rand; knows nothing of objectives or plots.
//!
//! # Example
//! ```
//! use kl_dist::{LogDensity, Mixture, Mvn, Sample, kl_divergence};
//! use rand::SeedableRng;
//!
//! # fn main() -> Result<(), kl_dist::Error> {
//! let a = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0])?;
//! let b = Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5])?;
//! let p = Mixture::new(&[0.8, 0.2], vec![a.clone(), b])?;
//! assert!(p.log_prob(&[40.0, -40.0]).is_finite());
//!
//! let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
//! let mut xs = vec![0.0; 2 * 1000];
//! p.sample(&mut rng, &mut xs);
//! let mut lp = vec![0.0; 1000];
//! p.log_prob_batch(&xs, &mut lp);
//!
//! let q = p.moment_matched();
//! assert!(kl_divergence(&a, &q)? > 0.0);
//! assert!(kl_divergence(&q, &q)?.abs() < 1e-12);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod affine;
#[cfg(feature = "bench")]
pub mod bench;
pub mod dense;
mod error;
mod fastmath;
mod linalg;
mod mixture;
mod mvn;
mod par;
mod renyi;
mod targets;

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// ½ ln 2π, the normal's log normalizer per dimension (one definition for the workspace).
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

pub use error::Error;
pub use linalg::Cholesky;
pub use mixture::Mixture;
pub use mvn::Mvn;
pub use renyi::renyi_divergence;
pub use targets::{
    Banana, FnDensity, Funnel, LogisticOptions, LogisticRegression, Ring, StudentT, from_fn,
    ln_gamma,
};

/// A log density on ℝᵈ with its score: everything an objective needs of a target.
///
/// Implement [`LogDensity::dim`], [`LogDensity::log_prob`] and [`LogDensity::grad_log_prob`];
/// the batch methods have serial defaults that loop over the points (no allocation), which
/// [`Mvn`] and [`Mixture`] override with vectorized, threaded kernels. `log_prob` may be
/// unnormalized (log p̃ = log p + c) for objectives that say they allow it: every objective of
/// `kl-grad` that draws from q (reverse KL, Rényi, forward KL by importance sampling) only sees
/// differences or self-normalized weights, so c shifts its value and leaves its gradient alone.
///
/// Methods taking many points use a flat row-major layout: `points` holds `n` points of
/// dimension `d` (`points.len() == n * d`).
pub trait LogDensity {
    /// The dimension d.
    fn dim(&self) -> usize;
    /// `log p(x)`.
    fn log_prob(&self, x: &[f64]) -> f64;
    /// Writes `∇ₓ log p(x)` into `grad` and returns `log p(x)`.
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64;
    /// `log p` of each of `out.len()` points into `out`.
    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(
            points.len(),
            out.len() * d,
            "points must hold out.len() points of dimension d"
        );
        for (x, o) in points.chunks_exact(d).zip(out.iter_mut()) {
            *o = self.log_prob(x);
        }
    }
    /// `p` of each of `out.len()` points into `out` (by default `exp` of
    /// [`LogDensity::log_prob_batch`]; mixtures sum their components' densities directly).
    fn prob_batch(&self, points: &[f64], out: &mut [f64]) {
        self.log_prob_batch(points, out);
        out.iter_mut().for_each(|v| *v = fastmath::exp(*v));
    }
    /// `log p` of each point into `log_prob` and its score into `grad` (the shape of `points`).
    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        let d = self.dim();
        assert_eq!(
            points.len(),
            log_prob.len() * d,
            "points must hold log_prob.len() points"
        );
        assert_eq!(
            grad.len(),
            points.len(),
            "grad must have the shape of points"
        );
        for ((x, l), g) in points
            .chunks_exact(d)
            .zip(log_prob.iter_mut())
            .zip(grad.chunks_exact_mut(d))
        {
            *l = self.grad_log_prob(x, g);
        }
    }
    /// At the points xᵢ = `mu` + `l` εᵢ (`eps` row-major n × d, `l` row-major d × d, n =
    /// `log_prob.len()`): `log p(xᵢ)` into `log_prob`, Σᵢ ∇ log p(xᵢ) into `grad_mu` (d) and
    /// Σᵢ ∇ log p(xᵢ) εᵢᵀ into `grad_l` (d × d row-major) — what a reparameterized gradient
    /// (reverse KL) needs — and `true`; or `false`, touching nothing, when the density has no
    /// such kernel (the default), so that the caller computes the points and uses
    /// [`LogDensity::grad_log_prob_batch`].
    ///
    /// Mixtures and normals implement it with matrix products on ε (no per-point triangular
    /// solve); `work` is their scratch, grown on the first call and reused after, its contents
    /// unspecified. Results depend on the inputs only, never on the thread count.
    #[allow(clippy::too_many_arguments)]
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
        let _ = (mu, l, eps, log_prob, grad_mu, grad_l, work);
        false
    }
}

/// A target with an exact sampler (what `forward-kl-samples` and the figures' dots need).
pub trait Sample: LogDensity {
    /// Fills `out` with `out.len() / d` independent draws.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]);
}

/// Any target of the workspace, so that one objective type serves all of them.
///
/// It implements [`LogDensity`] by delegation. Not every target has an exact sampler (the
/// logistic regression posterior has none), so instead of [`Sample`] it offers
/// [`AnyDensity::can_sample`] and [`AnyDensity::try_sample`]; and not every target has finite
/// moments, so [`AnyDensity::mean`] and [`AnyDensity::covariance`] are `Option`s.
///
/// # Example
/// ```
/// use kl_dist::{AnyDensity, Banana, LogDensity};
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// let p = AnyDensity::Banana(Banana::new(1.0, 0.5)?);
/// assert_eq!((p.name(), p.dim(), p.can_sample()), ("banana", 2, true));
/// let mut xs = vec![0.0; 2 * 10];
/// p.try_sample(&mut rand_pcg::Pcg64::seed_from_u64(3), &mut xs)?;
/// assert_eq!(p.covariance(), Some(vec![1.0, 0.0, 0.0, 1.5]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum AnyDensity {
    /// A single normal.
    Mvn(Mvn),
    /// A Gaussian mixture.
    Mixture(Mixture),
    /// The banana.
    Banana(Banana),
    /// Neal's funnel.
    Funnel(Funnel),
    /// A multivariate Student t.
    StudentT(StudentT),
    /// A ring.
    Ring(Ring),
    /// A Bayesian logistic regression posterior (no sampler, no known moments).
    LogisticRegression(LogisticRegression),
}

impl AnyDensity {
    /// A short name: `"mvn"`, `"mixture"`, `"banana"`, `"funnel"`, `"student-t"`, `"ring"` or
    /// `"logistic-regression"`.
    pub fn name(&self) -> &'static str {
        match self {
            AnyDensity::Mvn(_) => "mvn",
            AnyDensity::Mixture(_) => "mixture",
            AnyDensity::Banana(_) => "banana",
            AnyDensity::Funnel(_) => "funnel",
            AnyDensity::StudentT(_) => "student-t",
            AnyDensity::Ring(_) => "ring",
            AnyDensity::LogisticRegression(_) => "logistic-regression",
        }
    }

    /// The exact mean, where it is known and exists (`None` for a t with ν ≤ 1 and for the
    /// logistic regression posterior).
    pub fn mean(&self) -> Option<Vec<f64>> {
        match self {
            AnyDensity::Mvn(m) => Some(m.mean().to_vec()),
            AnyDensity::Mixture(m) => Some(m.mean()),
            AnyDensity::Banana(b) => Some(b.mean().to_vec()),
            AnyDensity::Funnel(f) => Some(f.mean()),
            AnyDensity::StudentT(t) => t.mean(),
            AnyDensity::Ring(r) => Some(r.mean()),
            AnyDensity::LogisticRegression(_) => None,
        }
    }

    /// The exact covariance, row-major, where it is known and finite (`None` for a t with ν ≤ 2
    /// and for the logistic regression posterior; the ring's comes from a quadrature).
    pub fn covariance(&self) -> Option<Vec<f64>> {
        match self {
            AnyDensity::Mvn(m) => Some(m.covariance().to_vec()),
            AnyDensity::Mixture(m) => Some(m.covariance()),
            AnyDensity::Banana(b) => Some(b.covariance().to_vec()),
            AnyDensity::Funnel(f) => Some(f.covariance()),
            AnyDensity::StudentT(t) => t.covariance(),
            AnyDensity::Ring(r) => Some(r.covariance()),
            AnyDensity::LogisticRegression(_) => None,
        }
    }

    /// Whether [`AnyDensity::try_sample`] can draw (everything but the logistic regression).
    pub fn can_sample(&self) -> bool {
        !matches!(self, AnyDensity::LogisticRegression(_))
    }

    /// Fills `out` with `out.len() / d` independent exact draws, or returns
    /// [`Error::NoSampler`] (naming the target) if it has no exact sampler; `out` is then
    /// untouched.
    ///
    /// # Errors
    /// [`Error::NoSampler`] (naming the target) for the logistic regression posterior, which has
    /// no exact sampler.
    pub fn try_sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) -> Result<(), Error> {
        match self {
            AnyDensity::Mvn(d) => d.sample(rng, out),
            AnyDensity::Mixture(d) => d.sample(rng, out),
            AnyDensity::Banana(d) => d.sample(rng, out),
            AnyDensity::Funnel(d) => d.sample(rng, out),
            AnyDensity::StudentT(d) => d.sample(rng, out),
            AnyDensity::Ring(d) => d.sample(rng, out),
            AnyDensity::LogisticRegression(_) => {
                return Err(Error::NoSampler {
                    what: "logistic-regression",
                });
            }
        }
        Ok(())
    }
}

macro_rules! delegate {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            AnyDensity::Mvn($d) => $e,
            AnyDensity::Mixture($d) => $e,
            AnyDensity::Banana($d) => $e,
            AnyDensity::Funnel($d) => $e,
            AnyDensity::StudentT($d) => $e,
            AnyDensity::Ring($d) => $e,
            AnyDensity::LogisticRegression($d) => $e,
        }
    };
}

impl LogDensity for AnyDensity {
    fn dim(&self) -> usize {
        delegate!(self, d => d.dim())
    }
    fn log_prob(&self, x: &[f64]) -> f64 {
        delegate!(self, d => d.log_prob(x))
    }
    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        delegate!(self, d => d.grad_log_prob(x, grad))
    }
    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        delegate!(self, d => d.log_prob_batch(points, out))
    }
    fn prob_batch(&self, points: &[f64], out: &mut [f64]) {
        delegate!(self, d => d.prob_batch(points, out))
    }
    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        delegate!(self, d => d.grad_log_prob_batch(points, log_prob, grad))
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
        delegate!(self, d => d.grad_log_prob_affine(mu, l, eps, log_prob, grad_mu, grad_l, work))
    }
}

/// Closed-form `D(p ‖ q)` between normals of one dimension:
/// `½ [tr(Σq⁻¹ Σp) + (μq − μp)ᵀ Σq⁻¹ (μq − μp) − d + log det Σq − log det Σp]`,
/// with the trace as `‖Cq⁻¹ Cp‖²_F` (triangular solves; no inverse).
///
/// # Errors
/// [`Error::DimensionMismatch`] (`what = "second normal"`) when `q` and `p` differ in
/// dimension.
pub fn kl_divergence(p: &Mvn, q: &Mvn) -> Result<f64, Error> {
    let d = p.dim();
    if q.dim() != d {
        return Err(Error::DimensionMismatch {
            what: "second normal",
            expected: d,
            got: q.dim(),
        });
    }
    let cq = q.cholesky();
    let mut m = vec![0.0; d * d];
    m.copy_from_slice(p.cholesky().factor());
    cq.solve_lower_cols(&mut m, d);
    let trace: f64 = m.iter().map(|v| v * v).sum();
    let mut delta: Vec<f64> = q.mean().iter().zip(p.mean()).map(|(a, b)| a - b).collect();
    cq.solve_lower(&mut delta);
    let maha: f64 = delta.iter().map(|v| v * v).sum();
    Ok(0.5 * (trace + maha - d as f64 + cq.log_det() - p.log_det_covariance()))
}

/// The notebook's random Gaussian: mean ~ N(0, I) + `shift`; `A` ~ N(0, 1) entrywise with its
/// strictly upper triangle zeroed (in 2-D, `A[0,1] = 0`); Σ = A Aᵀ. Draw order: the d mean
/// entries, then A row-major (all d² entries are drawn, the upper ones then zeroed).
///
/// # Errors
/// What [`Mvn::from_factor`] reports: [`Error::ZeroDimension`] for `dim = 0`, or (with
/// probability zero) [`Error::SingularFactor`] for a singular draw of `A`.
pub fn random_mvn<R: Rng + ?Sized>(rng: &mut R, dim: usize, shift: f64) -> Result<Mvn, Error> {
    let mean: Vec<f64> = (0..dim)
        .map(|_| rng.sample::<f64, _>(StandardNormal) + shift)
        .collect();
    let mut a: Vec<f64> = (0..dim * dim).map(|_| rng.sample(StandardNormal)).collect();
    for i in 0..dim {
        for j in i + 1..dim {
            a[i * dim + j] = 0.0;
        }
    }
    Mvn::from_factor(&mean, &a)
}

/// `n` evenly spaced values over `[a, b]` (numpy's `linspace`; `n = 1` gives `[a]`).
pub fn linspace(a: f64, b: f64, n: usize) -> impl ExactSizeIterator<Item = f64> + Clone {
    let step = if n > 1 { (b - a) / (n - 1) as f64 } else { 0.0 };
    (0..n).map(move |i| {
        if i + 1 == n && n > 1 {
            b
        } else {
            a + step * i as f64
        }
    })
}

/// The notebook's `prob_map`: the density of a 2-D `density` on an `nx × ny` grid over
/// `extent = [xmin, xmax, ymin, ymax]` into `out` (row-major: row i is `y_i`, column j is `x_j`,
/// both `linspace`).
///
/// # Errors
/// [`Error::NotTwoDimensional`] for a density that is not 2-D; [`Error::BadExtent`] naming the
/// axis whose ends are not finite or have `min >= max`; [`Error::DimensionMismatch`]
/// (`what = "grid buffer"`) when `out.len() != nx * ny`.
pub fn density_grid<D: LogDensity + ?Sized>(
    density: &D,
    extent: [f64; 4],
    nx: usize,
    ny: usize,
    out: &mut [f64],
) -> Result<(), Error> {
    if density.dim() != 2 {
        return Err(Error::NotTwoDimensional { got: density.dim() });
    }
    for (axis, min, max) in [("x", extent[0], extent[1]), ("y", extent[2], extent[3])] {
        if !min.is_finite() || !max.is_finite() || min >= max {
            return Err(Error::BadExtent { axis, min, max });
        }
    }
    if out.len() != nx * ny {
        return Err(Error::DimensionMismatch {
            what: "grid buffer",
            expected: nx * ny,
            got: out.len(),
        });
    }
    let mut row = vec![0.0; 2 * nx];
    for (x, pt) in linspace(extent[0], extent[1], nx).zip(row.chunks_mut(2)) {
        pt[0] = x;
    }
    for (y, o) in linspace(extent[2], extent[3], ny).zip(out.chunks_mut(nx)) {
        for pt in row.chunks_mut(2) {
            pt[1] = y;
        }
        density.prob_batch(&row, o);
    }
    Ok(())
}
