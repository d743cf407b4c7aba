use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::linalg::{Cholesky, LANES as BLOCK, gram};
use crate::par::{self, BatchKernels};
use crate::{Error, LogDensity, Sample};

/// `½ ln 2π`.
pub(crate) use crate::HALF_LN_2PI;

/// A multivariate normal N(μ, Σ) of any dimension d ≥ 1, stored as its mean and the Cholesky factor
/// `C` of Σ (never an inverse). `log det Σ = 2 Σ ln Cᵢᵢ`; quadratic forms are triangular solves.
///
/// # Example
/// ```
/// use kl_dist::{Error, LogDensity, Mvn};
///
/// # fn main() -> Result<(), Error> {
/// // Independent coordinates: N(1, 4) × N(−1, 1).
/// let p = Mvn::new(&[1.0, -1.0], &[4.0, 0.0, 0.0, 1.0])?;
/// // log N(3; 1, 4) + log N(−1; −1, 1) = −ln 2π − ½ ln 4 − ½.
/// let expected = -(2.0 * std::f64::consts::PI).ln() - 0.5 * 4.0f64.ln() - 0.5;
/// let mut score = [0.0; 2];
/// assert!((p.grad_log_prob(&[3.0, -1.0], &mut score) - expected).abs() < 1e-12);
/// // ∇ log p = −Σ⁻¹ (x − μ) = (−2/4, 0).
/// assert!((score[0] + 0.5).abs() < 1e-12 && score[1].abs() < 1e-12);
/// // The same normal from a square factor L with Σ = L Lᵀ.
/// let q = Mvn::from_factor(&[1.0, -1.0], &[2.0, 0.0, 0.0, 1.0])?;
/// assert!((q.log_prob(&[3.0, -1.0]) - expected).abs() < 1e-12);
/// // A covariance that is not positive definite is refused, naming the pivot.
/// assert_eq!(Mvn::new(&[0.0], &[-1.0]), Err(Error::NotPositiveDefinite { pivot: 0 }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mvn {
    mean: Vec<f64>,
    cov: Vec<f64>,
    chol: Cholesky,
    /// `−d/2 ln 2π − ½ log det Σ`.
    log_norm: f64,
}

impl Mvn {
    /// N(mean, cov) with `cov` row-major `d × d`, `d = mean.len()`.
    ///
    /// # Errors
    /// An empty mean, a covariance of the wrong size, a non-finite entry (named with its
    /// index), an asymmetric covariance (relative tolerance 1e-9, names the entries), or a
    /// covariance that is not positive definite (names the failing Cholesky pivot).
    pub fn new(mean: &[f64], cov: &[f64]) -> Result<Self, Error> {
        let d = mean.len();
        check_vector("mean", mean)?;
        if cov.len() != d * d {
            return Err(Error::DimensionMismatch {
                what: "covariance",
                expected: d * d,
                got: cov.len(),
            });
        }
        check_finite("covariance", cov)?;
        for i in 0..d {
            for j in 0..i {
                let (upper, lower) = (cov[j * d + i], cov[i * d + j]);
                let scale = upper.abs().max(lower.abs()).max(f64::MIN_POSITIVE);
                // Both are finite (checked above).
                if (upper - lower).abs() > 1e-9 * scale {
                    return Err(Error::Asymmetric {
                        row: j,
                        col: i,
                        upper,
                        lower,
                    });
                }
            }
        }
        let chol = Cholesky::new(cov, d).map_err(|pivot| Error::NotPositiveDefinite { pivot })?;
        // Symmetrize from the lower triangle, which is what was factored.
        let mut sym = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                sym[i * d + j] = cov[i * d + j];
                sym[j * d + i] = cov[i * d + j];
            }
        }
        Ok(Self::from_parts(mean.to_vec(), sym, chol))
    }

    /// N(mean, L Lᵀ) for a square, not necessarily triangular, factor `l` (row-major `d × d`):
    /// the model's own parameterization. A singular `l` is an error naming the failing pivot.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for an empty mean; [`Error::DimensionMismatch`] for an `l` that is
    /// not `d × d`; [`Error::NonFinite`] naming a non-finite entry of the mean or `l` (flat
    /// index); [`Error::SingularFactor`] naming the failing pivot of `L Lᵀ`.
    pub fn from_factor(mean: &[f64], l: &[f64]) -> Result<Self, Error> {
        let d = mean.len();
        check_vector("mean", mean)?;
        if l.len() != d * d {
            return Err(Error::DimensionMismatch {
                what: "factor L",
                expected: d * d,
                got: l.len(),
            });
        }
        check_finite("factor L", l)?;
        let mut cov = vec![0.0; d * d];
        gram(l, d, &mut cov);
        let chol = Cholesky::new(&cov, d).map_err(|pivot| Error::SingularFactor { pivot })?;
        Ok(Self::from_parts(mean.to_vec(), cov, chol))
    }

    fn from_parts(mean: Vec<f64>, cov: Vec<f64>, chol: Cholesky) -> Self {
        let d = mean.len() as f64;
        let log_norm = -d * HALF_LN_2PI - 0.5 * chol.log_det();
        Mvn {
            mean,
            cov,
            chol,
            log_norm,
        }
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// μ.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Σ, row-major `d × d`.
    pub fn covariance(&self) -> &[f64] {
        &self.cov
    }

    /// The Cholesky factor of Σ.
    pub fn cholesky(&self) -> &Cholesky {
        &self.chol
    }

    /// `log det Σ`.
    pub fn log_det_covariance(&self) -> f64 {
        self.chol.log_det()
    }

    /// Differential entropy `½ d (1 + ln 2π) + ½ log det Σ`.
    pub fn entropy(&self) -> f64 {
        let d = self.dim() as f64;
        0.5 * d + d * HALF_LN_2PI + 0.5 * self.chol.log_det()
    }

    /// p(x).
    pub fn prob(&self, x: &[f64]) -> f64 {
        self.log_prob(x).exp()
    }

    /// `−d/2 ln 2π − ½ log det Σ`: the log density at the mean.
    pub(crate) fn log_norm(&self) -> f64 {
        self.log_norm
    }

    /// Writes `r = C⁻¹ (x − μ)` for a block of up to `BLOCK` points (`pts`, row-major `m × d`) into
    /// `r` (`d × BLOCK`, lane s = point s; unused lanes are zero) and returns nothing: the caller
    /// reads quadratic forms and gradients from `r`.
    #[inline(always)]
    pub(crate) fn whiten_block(&self, pts: &[f64], m: usize, r: &mut [f64]) {
        let d = self.dim();
        for i in 0..d {
            let mu = self.mean[i];
            let row = &mut r[i * BLOCK..i * BLOCK + BLOCK];
            for s in 0..m {
                row[s] = pts[s * d + i] - mu;
            }
            row[m..].fill(0.0);
        }
        self.chol.solve_lower_cols(r, BLOCK);
    }

    /// `r = C⁻¹ (x − μ)` for a block already in lanes (`xt`, `d × BLOCK`), into `r` (`d × BLOCK`).
    #[inline(always)]
    pub(crate) fn whiten_lanes(&self, xt: &[f64], r: &mut [f64]) {
        for ((ri, xi), mu) in r
            .chunks_exact_mut(BLOCK)
            .zip(xt.chunks_exact(BLOCK))
            .zip(&self.mean)
        {
            for (v, x) in ri.iter_mut().zip(xi) {
                *v = x - mu;
            }
        }
        self.chol.solve_lower_cols(r, BLOCK);
    }

    /// Squared norms of the lanes of a `d × BLOCK` block.
    #[inline(always)]
    pub(crate) fn lane_sq_norms(r: &[f64], d: usize) -> [f64; BLOCK] {
        let mut q = [0.0; BLOCK];
        for i in 0..d {
            for (qs, v) in q.iter_mut().zip(&r[i * BLOCK..i * BLOCK + BLOCK]) {
                *qs += v * v;
            }
        }
        q
    }
}

impl LogDensity for Mvn {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        let d = self.dim();
        assert_eq!(x.len(), d, "point has the wrong dimension");
        with_buffer(d, |r| {
            for ((ri, xi), mi) in r.iter_mut().zip(x).zip(&self.mean) {
                *ri = xi - mi;
            }
            self.chol.solve_lower(r);
            self.log_norm - 0.5 * r.iter().map(|v| v * v).sum::<f64>()
        })
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.dim();
        assert_eq!(x.len(), d, "point has the wrong dimension");
        assert_eq!(grad.len(), d, "gradient has the wrong dimension");
        for ((g, xi), mi) in grad.iter_mut().zip(x).zip(&self.mean) {
            *g = xi - mi;
        }
        self.chol.solve_lower(grad);
        let lp = self.log_norm - 0.5 * grad.iter().map(|v| v * v).sum::<f64>();
        self.chol.solve_upper(grad);
        grad.iter_mut().for_each(|g| *g = -*g);
        lp
    }

    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        par::log_prob_batch(self, points, out);
    }

    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        par::grad_log_prob_batch(self, points, log_prob, grad);
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
        crate::affine::mixture_affine(
            std::slice::from_ref(self),
            &[0.0],
            mu,
            l,
            eps,
            log_prob,
            grad_mu,
            grad_l,
            work,
        );
        true
    }
}

impl Sample for Mvn {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(out.len() % d, 0, "out must hold whole points");
        with_buffer(d, |z| {
            for x in out.chunks_mut(d) {
                self.sample_one(rng, z, x);
            }
        })
    }
}

impl BatchKernels for Mvn {
    fn work_per_point(&self) -> usize {
        self.mean.len() * self.mean.len()
    }

    #[inline(always)]
    fn log_prob_batch_impl(&self, points: &[f64], out: &mut [f64]) {
        let d = self.dim();
        let mut scratch = Scratch::new();
        let r = scratch.get(d * BLOCK);
        for (pts, o) in points.chunks(d * BLOCK).zip(out.chunks_mut(BLOCK)) {
            let m = o.len();
            self.whiten_block(pts, m, r);
            let q = Self::lane_sq_norms(r, d);
            for (os, qs) in o.iter_mut().zip(q) {
                *os = self.log_norm - 0.5 * qs;
            }
        }
    }

    #[inline(always)]
    fn grad_log_prob_batch_impl(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        let d = self.dim();
        let mut scratch = Scratch::new();
        let r = scratch.get(d * BLOCK);
        for ((pts, lp), g) in points
            .chunks(d * BLOCK)
            .zip(log_prob.chunks_mut(BLOCK))
            .zip(grad.chunks_mut(d * BLOCK))
        {
            let m = lp.len();
            self.whiten_block(pts, m, r);
            let q = Self::lane_sq_norms(r, d);
            for (ls, qs) in lp.iter_mut().zip(q) {
                *ls = self.log_norm - 0.5 * qs;
            }
            self.chol.solve_upper_cols(r, BLOCK);
            for s in 0..m {
                for i in 0..d {
                    g[s * d + i] = -r[i * BLOCK + s];
                }
            }
        }
    }
}

impl Mvn {
    /// One draw μ + C z into `x`, with `z` as scratch.
    #[inline]
    pub(crate) fn sample_one<R: Rng + ?Sized>(&self, rng: &mut R, z: &mut [f64], x: &mut [f64]) {
        let d = self.dim();
        for zi in z.iter_mut() {
            *zi = rng.sample(StandardNormal);
        }
        let l = self.chol.factor();
        for i in 0..d {
            let row = &l[i * d..i * d + i + 1];
            x[i] = self.mean[i] + row.iter().zip(&z[..=i]).map(|(a, b)| a * b).sum::<f64>();
        }
    }
}

pub(crate) fn check_vector(what: &'static str, v: &[f64]) -> Result<(), Error> {
    if v.is_empty() {
        return Err(Error::ZeroDimension { what });
    }
    check_finite(what, v)
}

pub(crate) fn check_finite(what: &'static str, v: &[f64]) -> Result<(), Error> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what,
            index,
            value: v[index],
        }),
        None => Ok(()),
    }
}

/// Runs `f` on a zeroed scratch slice of length `n`: on the stack when small, else one heap
/// allocation for the whole call (never one per point).
#[inline(always)]
pub(crate) fn with_buffer<T>(n: usize, f: impl FnOnce(&mut [f64]) -> T) -> T {
    const SMALL: usize = 64;
    const STACK: usize = 512;
    if n <= SMALL {
        let mut buf = [0.0; SMALL];
        f(&mut buf[..n])
    } else if n <= STACK {
        let mut buf = [0.0; STACK];
        f(&mut buf[..n])
    } else {
        f(&mut vec![0.0; n])
    }
}

/// The lanes of a block of `m ≤ BLOCK` points (`pts`, row-major `m × d`): `xt` (`d × BLOCK`),
/// lane s = point s, unused lanes zero.
#[inline(always)]
pub(crate) fn transpose_block(pts: &[f64], d: usize, xt: &mut [f64]) {
    let m = pts.len() / d;
    if m < BLOCK {
        xt.fill(0.0);
    }
    for (s, p) in pts.chunks_exact(d).enumerate() {
        for (i, v) in p.iter().enumerate() {
            xt[i * BLOCK + s] = *v;
        }
    }
}

/// Scratch space for the batch kernels, without a closure (so that everything inlines into the
/// vectorized dispatch): a stack array, or one heap buffer when that is too small.
pub(crate) struct Scratch {
    stack: [f64; 512],
    heap: Vec<f64>,
}

impl Scratch {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Scratch {
            stack: [0.0; 512],
            heap: Vec::new(),
        }
    }

    /// A zeroed slice of length `n`.
    #[inline(always)]
    pub(crate) fn get(&mut self, n: usize) -> &mut [f64] {
        if n <= self.stack.len() {
            &mut self.stack[..n]
        } else {
            self.heap = vec![0.0; n];
            &mut self.heap
        }
    }
}
