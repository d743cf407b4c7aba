use super::{assert_dim, check_positive};
use crate::fastmath;
use crate::linalg::{Cholesky, matmul_tn_acc};
use crate::mvn::Scratch;
use crate::par::{self, BatchKernels};
use crate::{Error, LogDensity, Mvn};

/// Points per block of the batch kernels: `η = X Bᵀ` is computed for this many points at a time
/// (the lanes of the vectorized loops).
const CHUNK: usize = 16;
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
/// The batch methods work on blocks of 16 points (a last partial block point by point): one pass
/// over the rows computes η = X Bᵀ for the block and accumulates the score Xᵀ (y − σ(η)) (the two matrix products fused row by row,
/// vectorized across the 16 lanes, threaded over blocks for large batches, the instruction set
/// chosen at run time). They allocate nothing per point: a scratch of 2 · dim · 16 values, on the
/// stack for dim ≤ 16, else one heap buffer per call and thread. Their results equal the
/// per-point methods bit for bit (same operations in the same order).
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

/// `Σⱼ xⱼ βⱼ`, summed in order from 0 (the batch kernels sum the same way, lane by lane).
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
        par::log_prob_batch(self, points, out);
    }

    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        par::grad_log_prob_batch(self, points, log_prob, grad);
    }
}

impl BatchKernels for LogisticRegression {
    fn work_per_point(&self) -> usize {
        // Two n × p products plus an exp and a ln per row.
        self.n * (2 * self.p + 40)
    }

    #[inline(always)]
    fn log_prob_batch_impl(&self, points: &[f64], out: &mut [f64]) {
        self.batch_kernel(points, out, None);
    }

    #[inline(always)]
    fn grad_log_prob_batch_impl(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        self.batch_kernel(points, log_prob, Some(grad));
    }
}

impl LogisticRegression {
    /// The batch body: for each full block of [`CHUNK`] points, one pass over the rows computes
    /// ηᵢ for all lanes (`Bᵀ` is `p × CHUNK`), adds `yᵢ ηᵢ − softplus(ηᵢ)` and, for the gradient,
    /// accumulates `Gᵀ += xᵢ (yᵢ − σ(ηᵢ))ᵀ` — the products X Bᵀ and Xᵀ R fused row by row, so no
    /// n × m buffer; the last, partial block (< 16 points) goes through the per-point methods.
    /// Every lane performs the same operations in the same order as [`LogDensity::log_prob`] /
    /// [`LogDensity::grad_log_prob`] on that point, so the results are identical. Scratch
    /// `2 p · CHUNK` values: on the stack for p ≤ 16, else one heap buffer per call.
    #[inline(always)]
    fn batch_kernel(&self, points: &[f64], out: &mut [f64], mut grad: Option<&mut [f64]>) {
        const M: usize = CHUNK;
        let p = self.p;
        let prec = 1.0 / (self.prior_scale * self.prior_scale);
        let full = out.len() / M * M;
        let mut scratch = Scratch::new();
        let buf = if full > 0 {
            scratch.get(2 * p * M)
        } else {
            &mut []
        };
        let (bt, gt) = buf.split_at_mut(buf.len() / 2);
        for (c, (pts, o)) in points[..full * p]
            .chunks_exact(p * M)
            .zip(out[..full].chunks_exact_mut(M))
            .enumerate()
        {
            for (s, b) in pts.chunks_exact(p).enumerate() {
                for (i, v) in b.iter().enumerate() {
                    bt[i * M + s] = *v;
                    gt[i * M + s] = -prec * v;
                }
            }
            let mut acc = [0.0; M];
            for (xr, &y) in self.x.chunks_exact(p).zip(&self.y) {
                let mut eta = [0.0; M];
                for (xj, btj) in xr.iter().zip(bt.chunks_exact(M)) {
                    for (e, b) in eta.iter_mut().zip(btj) {
                        *e += xj * b;
                    }
                }
                for (a, e) in acc.iter_mut().zip(eta.iter_mut()) {
                    let (sp, sig) = softplus_sigmoid(*e);
                    *a += y * *e - sp;
                    *e = y - sig;
                }
                if grad.is_some() {
                    for (xj, gtj) in xr.iter().zip(gt.chunks_exact_mut(M)) {
                        for (g, r) in gtj.iter_mut().zip(eta.iter()) {
                            *g += r * xj;
                        }
                    }
                }
            }
            for ((os, a), b) in o.iter_mut().zip(acc).zip(pts.chunks_exact(p)) {
                *os = a + self.log_prior(b);
            }
            if let Some(g) = grad.as_deref_mut() {
                let g = &mut g[c * p * M..(c + 1) * p * M];
                for s in 0..M {
                    for i in 0..p {
                        g[s * p + i] = gt[i * M + s];
                    }
                }
            }
        }
        // The partial block, point by point.
        let tail = points[full * p..].chunks_exact(p).zip(&mut out[full..]);
        match grad {
            Some(g) => {
                for ((b, o), gk) in tail.zip(g[full * p..].chunks_exact_mut(p)) {
                    *o = self.grad_log_prob(b, gk);
                }
            }
            None => {
                for (b, o) in tail {
                    *o = self.log_prob(b);
                }
            }
        }
    }
}
