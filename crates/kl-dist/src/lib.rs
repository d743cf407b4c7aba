//! Multivariate normals and Gaussian mixtures, stored by their Cholesky factors.
//!
//! The densities of the `forward-backward-kl` workspace: [`Mvn`] (any dimension, from a covariance
//! or from the model's square factor `L` with Σ = L Lᵀ), [`Mixture`] (K ≥ 1 components, evaluated
//! by log-sum-exp), the [`LogDensity`] trait that objectives take as a target (and [`Sample`] for
//! targets with an exact sampler), the closed-form
//! [`kl_divergence`] between normals, the notebook's [`random_mvn`], and [`density_grid`] (the
//! notebook's `prob_map`).
//!
//! # Invariants
//! - Parameters are checked once, in the constructors, which return a typed [`Error`] naming the
//!   argument and the position (entry, pivot, component). After that, evaluating and sampling
//!   cannot fail. Shape mismatches of points passed to a built density are programming errors
//!   and panic with a message (`#[track_caller]`-style asserts), never silently.
//! - Only Cholesky factors are stored: no inverse, no determinant. `log det Σ = 2 Σ ln Cᵢᵢ` and
//!   quadratic forms are triangular solves; mixtures are evaluated by log-sum-exp.
//! - The random number generator is always passed in (`&mut R`); nothing here is global.
//! - Batch methods write into caller slices, work on blocks of [`linalg::BLOCK`] points and do not
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

#[cfg(feature = "bench")]
pub mod bench;
mod error;
pub mod fastmath;
pub mod linalg;
mod mixture;
mod mvn;
mod par;

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

pub use error::Error;
pub use mixture::Mixture;
pub use mvn::Mvn;

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
}

/// A target with an exact sampler (what `forward-kl-samples` and the figures' dots need).
pub trait Sample: LogDensity {
    /// Fills `out` with `out.len() / d` independent draws.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]);
}

/// Either kind of target, so that one objective type serves both.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyDensity {
    /// A single normal.
    Mvn(Mvn),
    /// A Gaussian mixture.
    Mixture(Mixture),
}

impl AnyDensity {
    /// The exact mean.
    pub fn mean(&self) -> Vec<f64> {
        match self {
            AnyDensity::Mvn(m) => m.mean().to_vec(),
            AnyDensity::Mixture(m) => m.mean(),
        }
    }

    /// The exact covariance, row-major.
    pub fn covariance(&self) -> Vec<f64> {
        match self {
            AnyDensity::Mvn(m) => m.covariance().to_vec(),
            AnyDensity::Mixture(m) => m.covariance(),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            AnyDensity::Mvn($d) => $e,
            AnyDensity::Mixture($d) => $e,
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
}

impl Sample for AnyDensity {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        delegate!(self, d => d.sample(rng, out))
    }
}

/// Closed-form `D(p ‖ q)` between normals of one dimension:
/// `½ [tr(Σq⁻¹ Σp) + (μq − μp)ᵀ Σq⁻¹ (μq − μp) − d + log det Σq − log det Σp]`,
/// with the trace as `‖Cq⁻¹ Cp‖²_F` (triangular solves; no inverse).
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
