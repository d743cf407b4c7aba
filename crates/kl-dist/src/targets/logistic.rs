use super::{assert_dim, check_positive};
use crate::fastmath;
use crate::linalg::{Cholesky, matmul_tn_acc};
use crate::par::{self, Kernel};
use crate::{Error, LogDensity, Mvn};

/// Points per chunk of the batch kernels: the columns of ηᵀ = X Bᵀ and the lanes of the
/// element-wise loop. Chosen by measurement on the breast cancer posterior (d = 31, 569 rows,
/// 200 draws, one thread, 2-core VM): 16 was 10 % slower than 32, 64 no faster.
const CHUNK: usize = 32;
/// At most this many rows of X per block of the batch kernels: ηᵀ of a chunk then takes at most
/// 256 · 32 values (64 KiB, cache-resident between the two products), and the product of the
/// block's factors 1 + e^{−|η|} ∈ (1, 2] stays below 2²⁵⁶ (no overflow). The 569 rows in one
/// block measured 6 % slower (same bench).
const MAX_ROWS: usize = 256;
/// Chunks of fewer points than this run the element-wise loop along the rows instead of across
/// the points (η = B X_blockᵀ, one point's row of η at a time): with 2 or 4 points the lanes of
/// the across-points loop are mostly empty and each row pays the loop's overhead (n = 2: 19 µs
/// against 5.6 µs for the two GEMMs). The layout is a function of the chunk's size, so the
/// bits do not depend on the thread count.
const SMALL_CHUNK: usize = 8;
/// Newton iterations of [`LogisticRegression::laplace`] before it gives up.
const MAX_NEWTON: usize = 100;

/// Options of [`LogisticRegression::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticOptions {
    /// s: the prior on every coefficient (the intercept included) is N(0, s²). Default 1.
    pub prior_scale: f64,
    /// Whether coefficient 0 multiplies a column of ones. Default true.
    pub intercept: bool,
    /// Whether each feature column is shifted to mean 0 and scaled to population standard
    /// deviation 1 before fitting. Default true.
    pub standardize: bool,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions {
            prior_scale: 1.0,
            intercept: true,
            standardize: true,
        }
    }
}

/// The posterior of Bayesian logistic regression, from in-memory data:
///
/// `log p̃(β) = Σᵢ [yᵢ ηᵢ − log(1 + e^{ηᵢ})] − ‖β‖² / 2s²`, η = X β,
///
/// with labels yᵢ ∈ {0, 1}, a prior N(0, s² I) on every coefficient and X the n × (k + 1) design
/// matrix `[1, standardized features]` (or without the column of ones, or unstandardized, by the
/// [`LogisticOptions`]). **Unnormalized** (the evidence is unknown); no exact sampler.
/// `log(1 + e^η)` is computed as the softplus `max(η, 0) + ln(1 + e^{−|η|})`, which cannot overflow.
///
/// Score: `∇ log p̃ = Xᵀ (y − σ(η)) − β / s²`.
///
/// The batch methods are faer matrix products: for each chunk of 32 points (the rows of B) and
/// block of at most 256 rows of X, ηᵀ = X Bᵀ by faer's GEMM, the softplus (and for the score
/// σ(η)) element-wise on it, then `G += (y − σ(η))ᵀ X` by a second GEMM — the block is
/// cache-resident between the two. Chunks are threaded for large batches; the chunks and blocks
/// depend on the sizes only, so the results are the same bits for every thread count. They
/// allocate one scratch of 32 × 256 values per call and thread, nothing per point. Their results
/// equal the per-point methods to rounding (within 1e-12 relative, tested; not bit for bit: the GEMM sums in
/// its own order and with fused multiply-adds), and the value of `grad_log_prob_batch` equals
/// `log_prob_batch` bit for bit.
/// The type holds no interior mutability, so it is `Send + Sync`.
///
/// # Example
/// ```
/// use kl_dist::{LogDensity, LogisticOptions, LogisticRegression};
///
/// # fn main() -> Result<(), kl_dist::Error> {
/// // One feature, four rows: the label follows the sign of the feature (with one exception).
/// let x = [-2.0, -1.0, 1.0, 2.0];
/// let y = [0.0, 1.0, 1.0, 1.0];
/// let post = LogisticRegression::new(&x, 1, &y, LogisticOptions::default())?;
/// assert_eq!(post.dim(), 2); // intercept + one coefficient
/// assert_eq!(post.feature_means(), Some(&[0.0][..]));
/// let laplace = post.laplace()?;
/// let mut g = [0.0; 2];
/// post.grad_log_prob(laplace.mean(), &mut g);
/// assert!(g.iter().all(|v| v.abs() < 1e-8)); // the MAP
/// assert!(laplace.mean()[1] > 0.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    n: usize,
    /// Columns of the design matrix, k + intercept.
    p: usize,
    /// The design matrix, row-major n × p.
    x: Vec<f64>,
    y: Vec<f64>,
    prior_scale: f64,
    intercept: bool,
    means: Option<Vec<f64>>,
    sds: Option<Vec<f64>>,
}

/// `(log(1 + e^η), σ(η))` without overflow, from one exponential: with e = e^{−|η|} ∈ (0, 1],
/// `log(1 + e^η) = max(η, 0) + ln(1 + e)` and `σ(η) = 1/(1 + e)` for η ≥ 0, `e/(1 + e)` otherwise.
/// Uses the vectorizable [`fastmath`] `exp` and `ln` (within 2 ulp); `ln(1 + e)` instead of
/// `ln_1p(e)` costs at most ~1e-16 absolute per row, where the softplus is ≥ |η| or ≥ ln 2.
#[inline(always)]
fn softplus_sigmoid(eta: f64) -> (f64, f64) {
    let e = fastmath::exp(-eta.abs());
    let one_e = 1.0 + e;
    let sp = eta.max(0.0) + fastmath::ln(one_e);
    let sig = if eta >= 0.0 { 1.0 } else { e } / one_e;
    (sp, sig)
}

/// `Σⱼ xⱼ βⱼ`, summed in order from 0.
#[inline(always)]
fn dot(x: &[f64], beta: &[f64]) -> f64 {
    let mut s = 0.0;
    for (a, b) in x.iter().zip(beta) {
        s += a * b;
    }
    s
}

impl LogisticRegression {
    /// The posterior for `features` (row-major n × `n_features`) and `labels` (n values, each
    /// exactly 0 or 1).
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no rows (`what = "labels"`) or no columns at all
    /// (`n_features = 0` without an intercept, `what = "features"`);
    /// [`Error::DimensionMismatch`] if `features` does not hold n × `n_features` values;
    /// [`Error::NonFinite`] for a non-finite feature (flat index); [`Error::BadLabel`] naming
    /// the row of a label that is not 0 or 1; [`Error::BadParameter`] for a prior scale that is
    /// not positive and finite; [`Error::ConstantFeature`] naming a constant column when
    /// standardizing.
    pub fn new(
        features: &[f64],
        n_features: usize,
        labels: &[f64],
        options: LogisticOptions,
    ) -> Result<Self, Error> {
        let n = labels.len();
        let k = n_features;
        if n == 0 {
            return Err(Error::ZeroDimension { what: "labels" });
        }
        let p = k + usize::from(options.intercept);
        if p == 0 {
            return Err(Error::ZeroDimension { what: "features" });
        }
        if features.len() != n * k {
            return Err(Error::DimensionMismatch {
                what: "features",
                expected: n * k,
                got: features.len(),
            });
        }
        crate::mvn::check_finite("features", features)?;
        if let Some((row, &value)) = labels
            .iter()
            .enumerate()
            .find(|(_, v)| !(**v == 0.0 || **v == 1.0))
        {
            return Err(Error::BadLabel { row, value });
        }
        check_positive("prior_scale", options.prior_scale)?;
        let (means, sds) = if options.standardize {
            let mut means = vec![0.0; k];
            let mut sds = vec![0.0; k];
            for j in 0..k {
                let col = || features.iter().skip(j).step_by(k);
                let first = features[j];
                if col().all(|v| *v == first) {
                    return Err(Error::ConstantFeature { index: j });
                }
                let m = col().sum::<f64>() / n as f64;
                let var = col().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
                let sd = var.sqrt();
                if !(sd > 0.0 && sd.is_finite()) {
                    return Err(Error::ConstantFeature { index: j });
                }
                means[j] = m;
                sds[j] = sd;
            }
            (Some(means), Some(sds))
        } else {
            (None, None)
        };
        let off = usize::from(options.intercept);
        let mut x = vec![0.0; n * p];
        for (row, src) in x.chunks_exact_mut(p).zip(features.chunks_exact(k.max(1))) {
            if options.intercept {
                row[0] = 1.0;
            }
            for j in 0..k {
                row[off + j] = match (&means, &sds) {
                    (Some(m), Some(s)) => (src[j] - m[j]) / s[j],
                    _ => src[j],
                };
            }
        }
        // With k = 0 there are no feature chunks to zip with: the rows are the intercept alone.
        if k == 0 {
            x.iter_mut().for_each(|v| *v = 1.0);
        }
        Ok(LogisticRegression {
            n,
            p,
            x,
            y: labels.to_vec(),
            prior_scale: options.prior_scale,
            intercept: options.intercept,
            means,
            sds,
        })
    }

    /// Number of rows n.
    pub fn n_rows(&self) -> usize {
        self.n
    }

    /// s, the prior standard deviation of every coefficient.
    pub fn prior_scale(&self) -> f64 {
        self.prior_scale
    }

    /// Whether coefficient 0 is the intercept.
    pub fn has_intercept(&self) -> bool {
        self.intercept
    }

    /// The design matrix X (row-major n × dim): the column of ones first if there is an
    /// intercept, then the (standardized) features.
    pub fn design(&self) -> &[f64] {
        &self.x
    }

    /// The labels y.
    pub fn labels(&self) -> &[f64] {
        &self.y
    }

    /// The means subtracted from the feature columns, `None` if not standardizing.
    pub fn feature_means(&self) -> Option<&[f64]> {
        self.means.as_deref()
    }

    /// The population standard deviations (divisor n) the feature columns were divided by,
    /// `None` if not standardizing.
    pub fn feature_sds(&self) -> Option<&[f64]> {
        self.sds.as_deref()
    }

    /// The Laplace approximation N(β̂, (−H)⁻¹) at the MAP β̂, found by Newton's method from 0 with
    /// step halving (the log posterior is strictly concave, so the iteration converges).
    /// H = −Xᵀ diag(σ(η)(1 − σ(η))) X − I/s² is factored by Cholesky; the covariance is the
    /// solve of (−H) Σ = I through that factor (no explicit inverse). Stops when the Newton
    /// decrement gᵀ(−H)⁻¹g falls below 1e-20 (relative to 1 + |log p̃|) or the step is below
    /// 1e-12 (relative to 1 + ‖β‖∞).
    ///
    /// # Errors
    /// [`Error::NoConvergence`] after 100 iterations (`what = "Newton's method"`);
    /// [`Error::NotPositiveDefinite`] if −H is not numerically positive definite (pivot index).
    pub fn laplace(&self) -> Result<Mvn, Error> {
        let p = self.p;
        let mut beta = vec![0.0; p];
        let mut grad = vec![0.0; p];
        let mut trial = vec![0.0; p];
        let mut neg_h = vec![0.0; p * p];
        let mut wx = vec![0.0; self.n * p];
        let mut lp = self.grad_log_prob(&beta, &mut grad);
        let mut converged = false;
        let mut chol = None;
        for _ in 0..MAX_NEWTON {
            self.neg_hessian(&beta, &mut wx, &mut neg_h);
            let c =
                Cholesky::new(&neg_h, p).map_err(|pivot| Error::NotPositiveDefinite { pivot })?;
            let mut step = grad.clone();
            c.solve(&mut step);
            let decrement: f64 = step.iter().zip(&grad).map(|(a, b)| a * b).sum();
            chol = Some(c);
            if decrement <= 1e-20 * (1.0 + lp.abs()) {
                converged = true;
                break;
            }
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..60 {
                for ((tr, b), s) in trial.iter_mut().zip(&beta).zip(&step) {
                    *tr = b + t * s;
                }
                let lp_new = self.log_prob(&trial);
                if lp_new >= lp {
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                // No ascent at any step length: β is the maximizer to working precision.
                converged = true;
                break;
            }
            let size = step.iter().fold(0.0f64, |m, s| m.max((t * s).abs()));
            beta.copy_from_slice(&trial);
            lp = self.grad_log_prob(&beta, &mut grad);
            let scale = 1.0 + beta.iter().fold(0.0f64, |m, b| m.max(b.abs()));
            if size <= 1e-12 * scale {
                self.neg_hessian(&beta, &mut wx, &mut neg_h);
                chol = Some(
                    Cholesky::new(&neg_h, p)
                        .map_err(|pivot| Error::NotPositiveDefinite { pivot })?,
                );
                converged = true;
                break;
            }
        }
        let chol = match (converged, chol) {
            (true, Some(c)) => c,
            _ => {
                return Err(Error::NoConvergence {
                    what: "Newton's method",
                    iterations: MAX_NEWTON,
                });
            }
        };
        let mut cov = vec![0.0; p * p];
        for i in 0..p {
            cov[i * p + i] = 1.0;
        }
        chol.solve_cols(&mut cov, p);
        // Symmetrize the rounding (the solve against I is symmetric in exact arithmetic).
        for i in 0..p {
            for j in 0..i {
                let v = 0.5 * (cov[i * p + j] + cov[j * p + i]);
                cov[i * p + j] = v;
                cov[j * p + i] = v;
            }
        }
        Mvn::new(&beta, &cov)
    }

    /// `−H = Xᵀ diag(σ(η)(1 − σ(η))) X + I/s²` at β into `neg_h` (`wx` is n × p scratch).
    fn neg_hessian(&self, beta: &[f64], wx: &mut [f64], neg_h: &mut [f64]) {
        let p = self.p;
        for (xr, wr) in self.x.chunks_exact(p).zip(wx.chunks_exact_mut(p)) {
            let s = softplus_sigmoid(dot(xr, beta)).1;
            let w = s * (1.0 - s);
            for (o, v) in wr.iter_mut().zip(xr) {
                *o = w * v;
            }
        }
        neg_h.fill(0.0);
        matmul_tn_acc(&self.x, wx, p, p, neg_h);
        let prec = 1.0 / (self.prior_scale * self.prior_scale);
        for i in 0..p {
            neg_h[i * p + i] += prec;
        }
    }

    /// `−‖β‖² / 2s²`.
    #[inline]
    fn log_prior(&self, beta: &[f64]) -> f64 {
        let ss: f64 = beta.iter().map(|b| b * b).sum();
        -0.5 * ss / (self.prior_scale * self.prior_scale)
    }
}

impl LogDensity for LogisticRegression {
    fn dim(&self) -> usize {
        self.p
    }

    fn log_prob(&self, beta: &[f64]) -> f64 {
        assert_dim(beta, self.p);
        let mut ll = 0.0;
        for (xr, y) in self.x.chunks_exact(self.p).zip(&self.y) {
            let eta = dot(xr, beta);
            ll += y * eta - softplus_sigmoid(eta).0;
        }
        ll + self.log_prior(beta)
    }

    fn grad_log_prob(&self, beta: &[f64], grad: &mut [f64]) -> f64 {
        let p = self.p;
        assert_dim(beta, p);
        assert_dim(grad, p);
        let prec = 1.0 / (self.prior_scale * self.prior_scale);
        for (g, b) in grad.iter_mut().zip(beta) {
            *g = -prec * b;
        }
        let mut ll = 0.0;
        for (xr, y) in self.x.chunks_exact(p).zip(&self.y) {
            let eta = dot(xr, beta);
            let (sp, sig) = softplus_sigmoid(eta);
            ll += y * eta - sp;
            let r = y - sig;
            for (g, v) in grad.iter_mut().zip(xr) {
                *g += r * v;
            }
        }
        ll + self.log_prior(beta)
    }

    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        self.batch(points, out, None);
    }

    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        self.batch(points, log_prob, Some(grad));
    }
}

/// The chunk body of the batch methods, compiled for the instruction set chosen at run time
/// (the element-wise loop; faer's GEMMs dispatch on their own).
struct Chunks<'a> {
    post: &'a LogisticRegression,
    points: &'a [f64],
    log_prob: &'a mut [f64],
    grad: Option<&'a mut [f64]>,
    /// ηᵀ, then Rᵀ, for one block of rows: `rows × CHUNK` values.
    eta: &'a mut [f64],
}

impl Kernel for Chunks<'_> {
    #[inline(always)]
    fn run(self) {
        let Chunks {
            post,
            points,
            log_prob,
            mut grad,
            eta,
        } = self;
        let p = post.p;
        let rows = post.row_block();
        let prec = 1.0 / (post.prior_scale * post.prior_scale);
        let mut prod = [1.0; CHUNK];
        for (c, (pts, lp)) in points
            .chunks(CHUNK * p)
            .zip(log_prob.chunks_mut(CHUNK))
            .enumerate()
        {
            let m = lp.len();
            let bt = faer::MatRef::from_row_major_slice(pts, m, p).transpose();
            let mut g = grad
                .as_deref_mut()
                .map(|g| &mut g[c * CHUNK * p..c * CHUNK * p + m * p]);
            if let Some(g) = g.as_deref_mut() {
                for (gv, b) in g.iter_mut().zip(pts) {
                    *gv = -prec * b;
                }
            }
            lp.fill(0.0);
            if m < SMALL_CHUNK {
                small_chunk(post, pts, lp, g, eta);
                for (a, b) in lp.iter_mut().zip(pts.chunks_exact(p)) {
                    *a += post.log_prior(b);
                }
                continue;
            }
            for (xb, yb) in post.x.chunks(rows * p).zip(post.y.chunks(rows)) {
                let r = yb.len();
                let xb_mat = faer::MatRef::from_row_major_slice(xb, r, p);
                let et = &mut eta[..r * m];
                // ηᵀ (r × m) = X_block Bᵀ.
                faer::linalg::matmul::matmul(
                    faer::MatMut::from_row_major_slice_mut(et, r, m),
                    faer::Accum::Replace,
                    xb_mat,
                    bt,
                    1.0,
                    faer::Par::Seq,
                );
                // Σⱼ [yⱼ ηⱼ − max(ηⱼ, 0)] into `lp`, Πⱼ (1 + e^{−|ηⱼ|}) into `prod` (factors in
                // (1, 2], below 2²⁵⁶ over a block; one `ln` per block instead of one per row),
                // and for the score Rᵀ = y − σ(η) over ηᵀ. The value loops of both methods are
                // the same operations, so their log p̃ are the same bits.
                let prod = &mut prod[..m];
                prod.fill(1.0);
                match g.as_deref_mut() {
                    Some(g) => {
                        for (row, &y) in et.chunks_exact_mut(m).zip(yb) {
                            for ((a, q), e) in lp.iter_mut().zip(prod.iter_mut()).zip(row) {
                                let eta = *e;
                                let ex = fastmath::exp(-eta.abs());
                                let one_e = 1.0 + ex;
                                *a += y * eta - eta.max(0.0);
                                *q *= one_e;
                                *e = y - if eta >= 0.0 { 1.0 } else { ex } / one_e;
                            }
                        }
                        // G (m × p) += Rᵀᵀ X_block.
                        faer::linalg::matmul::matmul(
                            faer::MatMut::from_row_major_slice_mut(g, m, p),
                            faer::Accum::Add,
                            faer::MatRef::from_row_major_slice(et, r, m).transpose(),
                            xb_mat,
                            1.0,
                            faer::Par::Seq,
                        );
                    }
                    None => {
                        for (row, &y) in et.chunks_exact(m).zip(yb) {
                            for ((a, q), &eta) in lp.iter_mut().zip(prod.iter_mut()).zip(row) {
                                *a += y * eta - eta.max(0.0);
                                *q *= 1.0 + fastmath::exp(-eta.abs());
                            }
                        }
                    }
                }
                for (a, q) in lp.iter_mut().zip(prod.iter()) {
                    *a -= fastmath::ln(*q);
                }
            }
            for (a, b) in lp.iter_mut().zip(pts.chunks_exact(p)) {
                *a += post.log_prior(b);
            }
        }
    }
}

/// Lanes of the along-the-rows loop of [`small_chunk`]: row j of a block adds to partial sum
/// and product j mod `LANES` (a fixed order: the bits depend on the sizes only).
const LANES: usize = 8;

/// One point's pass of [`small_chunk`] over a block's row of η (and labels `y`): the terms
/// y η − max(η, 0) into `terms` and the factors 1 + e^{−|η|} into `factors` (a loop along the
/// row, vectorized over it), with `SCORE` η turned into the residuals y − σ(η); then their sum
/// and product, each over [`LANES`] partial ones.
#[inline(always)]
fn along_rows<const SCORE: bool>(
    row: &mut [f64],
    y: &[f64],
    terms: &mut [f64],
    factors: &mut [f64],
) -> (f64, f64) {
    for (((e, &y), t), f) in row.iter_mut().zip(y).zip(&mut *terms).zip(&mut *factors) {
        let eta = *e;
        let ex = fastmath::exp(-eta.abs());
        let one_e = 1.0 + ex;
        *t = y * eta - eta.max(0.0);
        *f = one_e;
        if SCORE {
            *e = y - if eta >= 0.0 { 1.0 } else { ex } / one_e;
        }
    }
    let mut sum = [0.0; LANES];
    let mut prod = [1.0; LANES];
    let (tc, fc) = (terms.chunks_exact(LANES), factors.chunks_exact(LANES));
    let (tr, fr) = (tc.remainder(), fc.remainder());
    for (t, f) in tc.zip(fc) {
        for l in 0..LANES {
            sum[l] += t[l];
            prod[l] *= f[l];
        }
    }
    for (l, (t, f)) in tr.iter().zip(fr).enumerate() {
        sum[l] += t;
        prod[l] *= f;
    }
    (sum.iter().sum(), prod.iter().product())
}

/// A chunk of m < [`SMALL_CHUNK`] points: per block of rows, η (m × r) = B X_blockᵀ by faer's
/// GEMM, then for each point one pass along its row of η — the terms y η − max(η, 0) into
/// [`LANES`] partial sums, the factors 1 + e^{−|η|} into as many partial products (each of at
/// most ⌈256 / 8⌉ factors in (1, 2]), the residuals y − σ(η) in place — and the score
/// G += R X_block. `eta` holds at least `rows × (m + 2)` values.
#[inline(always)]
fn small_chunk(
    post: &LogisticRegression,
    pts: &[f64],
    lp: &mut [f64],
    mut grad: Option<&mut [f64]>,
    eta: &mut [f64],
) {
    let p = post.p;
    let m = lp.len();
    let rows = post.row_block();
    let b = faer::MatRef::from_row_major_slice(pts, m, p);
    let (eta, tail) = eta.split_at_mut(rows * m);
    let (terms, factors) = tail.split_at_mut(rows);
    for (xb, yb) in post.x.chunks(rows * p).zip(post.y.chunks(rows)) {
        let r = yb.len();
        let xb_mat = faer::MatRef::from_row_major_slice(xb, r, p);
        let e = &mut eta[..m * r];
        let (terms, factors) = (&mut terms[..r], &mut factors[..r]);
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(e, m, r),
            faer::Accum::Replace,
            b,
            xb_mat.transpose(),
            1.0,
            faer::Par::Seq,
        );
        for (row, a) in e.chunks_exact_mut(r).zip(lp.iter_mut()) {
            let (sum, prod) = if grad.is_some() {
                along_rows::<true>(row, yb, terms, factors)
            } else {
                along_rows::<false>(row, yb, terms, factors)
            };
            *a += sum;
            *a -= fastmath::ln(prod);
        }
        if let Some(g) = grad.as_deref_mut() {
            // G (m × p) += R X_block.
            faer::linalg::matmul::matmul(
                faer::MatMut::from_row_major_slice_mut(g, m, p),
                faer::Accum::Add,
                faer::MatRef::from_row_major_slice(e, m, r),
                xb_mat,
                1.0,
                faer::Par::Seq,
            );
        }
    }
}

impl LogisticRegression {
    /// Rows of X per block of the batch kernels: the n rows cut into ⌈n / [`MAX_ROWS`]⌉ blocks of
    /// equal size (the last one shorter). A function of n only.
    fn row_block(&self) -> usize {
        self.n.div_ceil(self.n.div_ceil(MAX_ROWS))
    }

    /// The batch methods: the points in fixed chunks of [`CHUNK`], consecutive chunks in runs, one
    /// run per thread (for a large batch), each run with one scratch of `rows × CHUNK` values
    /// (the one allocation of a call, per run; the sizes do not grow with anything but the data). Per chunk and block of rows: ηᵀ = X_block Bᵀ by
    /// faer's GEMM on the calling thread, the element-wise softplus (and sigmoid, for the score)
    /// on it, then `G += (y − σ(η)) X_block`. The chunks and blocks depend on the sizes only, so
    /// the results are the same bits for every thread count.
    fn batch(&self, points: &[f64], log_prob: &mut [f64], grad: Option<&mut [f64]>) {
        let p = self.p;
        let n_pts = log_prob.len();
        assert_eq!(
            points.len(),
            n_pts * p,
            "points must hold log_prob.len() points of dimension d"
        );
        if let Some(g) = grad.as_deref() {
            assert_eq!(g.len(), points.len(), "grad must have the shape of points");
        }
        if n_pts == 0 {
            return;
        }
        let n_chunks = n_pts.div_ceil(CHUNK);
        let work = n_pts * self.n * (4 * p + 40);
        let parts = if work < par::PAR_WORK {
            1
        } else {
            par::threads().min(n_chunks)
        };
        let per = n_chunks.div_ceil(parts) * CHUNK;
        let scratch = self.row_block() * CHUNK.min(n_pts).max(SMALL_CHUNK + 2);
        let run = |pts: &[f64], lp: &mut [f64], g: Option<&mut [f64]>| {
            let mut eta = vec![0.0; scratch];
            par::vectorized(Chunks {
                post: self,
                points: pts,
                log_prob: lp,
                grad: g,
                eta: &mut eta,
            });
        };
        let jobs = points.chunks(per * p).zip(log_prob.chunks_mut(per));
        match grad {
            Some(g) => par::run_jobs(jobs.zip(g.chunks_mut(per * p)), |((pts, lp), g)| {
                run(pts, lp, Some(g))
            }),
            None => par::run_jobs(jobs, |(pts, lp)| run(pts, lp, None)),
        }
    }
}
