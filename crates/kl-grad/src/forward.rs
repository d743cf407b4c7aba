//! Forward KL D(p ‖ q): in closed form for a Gaussian p, and by maximum likelihood on samples of p.
//!
//! Both are the Gaussian cross-entropy −E_m[log q] of a distribution known through its mean `m` and
//! covariance `M`:  `H(m, M; q) = d/2 ln 2π + ½ log det Σ + ½ tr(Σ⁻¹ S)`, `S = M + δ δᵀ`, `δ = m − μ`,
//! with gradient `∇μ = −Σ⁻¹ δ` and `∇L = Σ⁻¹ L − Σ⁻¹ S Σ⁻¹ L`. The trace comes for free:
//! with `U = Σ⁻¹ S Σ⁻¹ L`, `tr(Σ⁻¹ S) = tr(U Lᵀ) = Σᵢⱼ Uᵢⱼ Lᵢⱼ`.

use kl_dist::Mvn;
use kl_dist::dense::{gemm, matmul};

use crate::model::Model;
use crate::{Error, Objective};

use kl_dist::HALF_LN_2PI;

/// Above this dimension the kernel runs on faer (GEMM, triangular solves with d right-hand sides);
/// up to it, on the hand-written small kernels (the d = 2 figures keep their bits).
const SMALL: usize = 8;

/// From this many multiply-adds of one d × d × d product on (d ≈ 100), the d > 8 kernel works on
/// fixed column blocks.
const BLOCKED_WORK: usize = 1 << 20;

/// The number of column blocks of the d > 8 kernel: 1 below [`BLOCKED_WORK`], else one per 64
/// columns, between 2 and 8. A function of `d` only, never of the thread count.
fn column_blocks(d: usize) -> usize {
    if d * d * d < BLOCKED_WORK {
        1
    } else {
        (d / 64).clamp(2, 8)
    }
}

/// The cross-entropy kernel shared by both forward objectives (and by any objective that knows
/// p through a mean and a covariance: see [`CrossEntropy::set_moments`]).
///
/// # Invariants
/// - One evaluation is O(d³) and allocation-free: for d > 8 one triangular product (Σ = L Lᵀ),
///   faer's Cholesky, four triangular solves with d right-hand sides and one GEMM (`M W`; the
///   `δ δᵀ` part of S is a rank-one update): ≈ 7⅓ d³ flops, 3⅔ GEMMs of d × d.
/// - Everything after the Cholesky factor is column by column: column j of W = Σ⁻¹ L and of
///   U = Σ⁻¹ S W needs column j of L only. From d ≈ 100 on the columns are cut into fixed blocks
///   ([`column_blocks`], a function of d) that run as one job each, spread over the threads: one
///   hand-off per evaluation, and the same bits for every thread count. Below that there is one
///   block, the whole matrix.
#[derive(Debug, Clone)]
pub(crate) struct CrossEntropy {
    /// Mean of p (or of the samples).
    m: Vec<f64>,
    /// Covariance of p (or the 1/n covariance of the samples), row-major.
    cov: Vec<f64>,
    model: Model,
    s: Vec<f64>,
    /// For d > 8: W by column blocks, block b (columns `b w ..`, `w = ⌈d / blocks⌉`) a row-major
    /// `d × w_b` matrix at offset `d b w`.
    wb: Vec<f64>,
    /// U by column blocks, block b a row-major `(d + 1) × w_b` matrix at offset `(d + 1) b w`
    /// whose last row is the scratch for `Wᵀ δ` (for d ≤ 8 the first d² entries are U, row-major).
    t: Vec<f64>,
    delta: Vec<f64>,
}

impl CrossEntropy {
    pub(crate) fn new(m: Vec<f64>, cov: Vec<f64>) -> Self {
        let d = m.len();
        CrossEntropy {
            m,
            cov,
            model: Model::new(d),
            s: vec![0.0; d * d],
            wb: vec![0.0; d * d],
            t: vec![0.0; (d + 1) * d],
            delta: vec![0.0; d],
        }
    }

    /// Replaces the mean and covariance of p by `mean` (d) and `cov` (d × d, row-major), copied
    /// into the kernel's buffers (no allocation).
    pub(crate) fn set_moments(&mut self, mean: &[f64], cov: &[f64]) {
        self.m.copy_from_slice(mean);
        self.cov.copy_from_slice(cov);
    }

    pub(crate) fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> Result<f64, Error> {
        let d = self.model.d;
        if d <= SMALL {
            self.model.load(theta)?;
        } else {
            self.model.load_factor(theta)?;
        }
        let (mu, l) = theta.split_at(d);
        for ((dl, m), u) in self.delta.iter_mut().zip(&self.m).zip(mu) {
            *dl = m - u;
        }
        let trace = if d <= SMALL {
            let t = &mut self.t[..d * d];
            for i in 0..d {
                for j in 0..d {
                    self.s[i * d + j] = self.cov[i * d + j] + self.delta[i] * self.delta[j];
                }
            }
            // U = Σ⁻¹ S W into t.
            matmul(&self.s, &self.model.w, d, d, d, t);
            self.model.chol.solve_matrix(t, d);
            t.iter().zip(l).map(|(u, l)| u * l).sum()
        } else {
            self.blocks(l)
        };
        let value = d as f64 * HALF_LN_2PI + 0.5 * self.model.log_det() + 0.5 * trace;
        if let Some(grad) = grad {
            check_len(grad, d)?;
            let (gmu, gl) = grad.split_at_mut(d);
            gmu.copy_from_slice(&self.delta);
            if d <= SMALL {
                self.model.chol.solve(gmu);
            } else {
                // faer's solves with one right-hand side (the scalar substitution reads C by
                // columns).
                self.model.chol.solve_matrix(gmu, 1);
            }
            gmu.iter_mut().for_each(|g| *g = -*g);
            if d <= SMALL {
                for ((g, w), u) in gl.iter_mut().zip(&self.model.w).zip(&self.t) {
                    *g = w - u;
                }
            } else {
                let w = d.div_ceil(column_blocks(d));
                let blocks = self.wb.chunks(d * w).zip(self.t.chunks((d + 1) * w));
                for (b, (wb, tb)) in blocks.enumerate() {
                    let width = wb.len() / d;
                    let rows = gl.chunks_exact_mut(d).zip(wb.chunks_exact(width));
                    for ((g, wr), tr) in rows.zip(tb.chunks_exact(width)) {
                        let g = &mut g[b * w..b * w + width];
                        g.iter_mut()
                            .zip(wr.iter().zip(tr))
                            .for_each(|(g, (w, u))| *g = w - u);
                    }
                }
            }
        }
        Ok(value)
    }

    /// For d > 8 (the factor of Σ loaded): W = Σ⁻¹ L and U = Σ⁻¹ (M W + δ (Wᵀ δ)ᵀ) by column
    /// blocks into `wb` and `t`, and returns `tr(Σ⁻¹ S) = Σᵢⱼ Uᵢⱼ Lᵢⱼ` (summed block by block).
    fn blocks(&mut self, l: &[f64]) -> f64 {
        let d = self.model.d;
        let nb = column_blocks(d);
        let w = d.div_ceil(nb);
        let (chol, cov, delta) = (&self.model.chol, &self.cov[..], &self.delta[..]);
        // Work of one job, in multiply-adds: two solves and one product per column.
        let work = 2 * d * d * d;
        kl_dist::dense::for_each_chunk2(
            work,
            &mut self.wb,
            d * w,
            &mut self.t,
            (d + 1) * w,
            |b0, wrun, trun| {
                let runs = wrun.chunks_mut(d * w).zip(trun.chunks_mut((d + 1) * w));
                for (b, (wb, tb)) in runs.enumerate() {
                    let c0 = (b0 + b) * w;
                    let width = wb.len() / d;
                    // W's block: L's columns c0 .. c0 + width, then Σ⁻¹ applied to them.
                    for (wr, lr) in wb.chunks_exact_mut(width).zip(l.chunks_exact(d)) {
                        wr.copy_from_slice(&lr[c0..c0 + width]);
                    }
                    chol.solve_matrix(wb, width);
                    // S W = M W + δ (Wᵀ δ)ᵀ: one GEMM and a rank-one update (the block's last
                    // row holds Wᵀ δ).
                    let (u, v) = tb.split_at_mut(d * width);
                    gemm(u, false, cov, wb, d, d, width);
                    v.fill(0.0);
                    for (wr, dl) in wb.chunks_exact(width).zip(delta) {
                        v.iter_mut().zip(wr).for_each(|(v, w)| *v += dl * w);
                    }
                    for (ur, dl) in u.chunks_exact_mut(width).zip(delta) {
                        ur.iter_mut().zip(v.iter()).for_each(|(u, v)| *u += dl * v);
                    }
                    chol.solve_matrix(u, width);
                }
            },
        );
        // Four running sums (a single one is a chain of dependent additions), in a fixed order.
        let mut acc = [0.0; 4];
        for (b, tb) in self.t.chunks((d + 1) * w).enumerate() {
            let width = tb.len() / (d + 1);
            for (ur, lr) in tb[..d * width].chunks_exact(width).zip(l.chunks_exact(d)) {
                let lr = &lr[b * w..b * w + width];
                let (uq, ut) = ur.split_at(width / 4 * 4);
                let (lq, lt) = lr.split_at(width / 4 * 4);
                for (u4, l4) in uq.chunks_exact(4).zip(lq.chunks_exact(4)) {
                    for k in 0..4 {
                        acc[k] += u4[k] * l4[k];
                    }
                }
                for (k, (u, l)) in ut.iter().zip(lt).enumerate() {
                    acc[k] += u * l;
                }
            }
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }
}

pub(crate) fn check_len(grad: &[f64], d: usize) -> Result<(), Error> {
    if grad.len() != d + d * d {
        return Err(Error::DimensionMismatch {
            what: "gradient",
            expected: d + d * d,
            got: grad.len(),
        });
    }
    Ok(())
}

/// D(p ‖ q) in closed form for a Gaussian target p, constants included (0 at q = p):
/// `½ [tr(Σ⁻¹ Σp) + (μ − μp)ᵀ Σ⁻¹ (μ − μp) − d + log det Σ − log det Σp]`.
///
/// The notebook's loss is `½ [log det Σ + tr(Σ⁻¹ Σp) + (μ − μp)ᵀ Σ⁻¹ (μ − μp)]`: it drops the
/// constants `− log det Σp − d`, which do not depend on θ, so both have the same gradient and
/// the same iterates; only the reported value differs by `½ (log det Σp + d)`.
///
/// # Example
/// ```
/// use kl_dist::Mvn;
/// use kl_grad::{ForwardKlExact, Objective};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0])?;
/// let mut obj = ForwardKlExact::new(p);
/// // θ = (μ, L) row-major: q = N((1, 0), I). D(p ‖ q) = ½ ‖μ‖² = ½, ∇μ = Σ⁻¹ (μ − μp) = (1, 0)
/// // and, at Σ = Σp = I, ∇L = −δ δᵀ with δ = μ − μp.
/// let theta = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
/// let mut grad = [0.0; 6];
/// let value = obj.value_and_grad(&theta, &mut grad)?;
/// assert!((value - 0.5).abs() < 1e-12);
/// let expected = [1.0, 0.0, -1.0, 0.0, 0.0, 0.0];
/// assert!(grad.iter().zip(&expected).all(|(g, e)| (g - e).abs() < 1e-12));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ForwardKlExact {
    kernel: CrossEntropy,
    /// Entropy of p, subtracted from the cross-entropy.
    entropy: f64,
}

impl ForwardKlExact {
    /// The objective for the target `p`.
    pub fn new(p: Mvn) -> Self {
        let entropy = p.entropy();
        ForwardKlExact {
            kernel: CrossEntropy::new(p.mean().to_vec(), p.covariance().to_vec()),
            entropy,
        }
    }
}

impl Objective for ForwardKlExact {
    fn dim(&self) -> usize {
        self.kernel.model.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        Ok(self.kernel.eval(theta, Some(grad))? - self.entropy)
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        Ok(self.kernel.eval(theta, None)? - self.entropy)
    }
}

/// −(1/n) Σ log q(xᵢ) over fixed samples xᵢ of p: forward KL up to p's entropy, estimated by
/// maximum likelihood.
///
/// The value depends on the samples only through their mean x̄ and their (1/n) covariance M,
/// which are computed once at construction (centred, two-pass): each evaluation then costs
/// O(d³), not O(n d²), and equals the per-sample mean exactly in real arithmetic (the tests
/// compare it with `−mean(log_prob)` over the samples).
#[derive(Debug, Clone)]
pub struct ForwardKlSamples {
    kernel: CrossEntropy,
    n_samples: usize,
}

impl ForwardKlSamples {
    /// From `samples`, row-major `n × d` with `d = dim`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for `dim = 0` (`what = "dimension"`) or a sample count that
    /// is not a multiple of `dim` (`what = "samples"`); [`Error::NoSamples`] for no samples;
    /// [`Error::NonFiniteSample`] naming the sample and coordinate of a non-finite value.
    pub fn new(samples: &[f64], dim: usize) -> Result<Self, Error> {
        if dim == 0 {
            return Err(Error::DimensionMismatch {
                what: "dimension",
                expected: 1,
                got: 0,
            });
        }
        if !samples.len().is_multiple_of(dim) {
            return Err(Error::DimensionMismatch {
                what: "samples",
                expected: samples.len().div_ceil(dim) * dim,
                got: samples.len(),
            });
        }
        let n = samples.len() / dim;
        if n == 0 {
            return Err(Error::NoSamples);
        }
        if let Some(k) = samples.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteSample {
                sample: k / dim,
                coordinate: k % dim,
                value: samples[k],
            });
        }
        let (mean, cov) = sample_moments(samples, dim);
        Ok(ForwardKlSamples {
            kernel: CrossEntropy::new(mean, cov),
            n_samples: n,
        })
    }

    /// Number of samples n.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// The sample mean x̄.
    pub fn sample_mean(&self) -> &[f64] {
        &self.kernel.m
    }

    /// The (1/n) sample covariance: with x̄, the maximum-likelihood Gaussian.
    pub fn sample_covariance(&self) -> &[f64] {
        &self.kernel.cov
    }
}

/// Mean and (1/n) covariance of `n × d` samples, centred (two passes).
pub fn sample_moments(samples: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = samples.len() / d;
    let mut mean = vec![0.0; d];
    for x in samples.chunks(d) {
        mean.iter_mut().zip(x).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0; d * d];
    let mut c = vec![0.0; d];
    for x in samples.chunks(d) {
        c.iter_mut()
            .zip(x)
            .zip(&mean)
            .for_each(|((c, v), m)| *c = v - m);
        for i in 0..d {
            for j in 0..=i {
                cov[i * d + j] += c[i] * c[j];
            }
        }
    }
    for i in 0..d {
        for j in 0..=i {
            let v = cov[i * d + j] / n as f64;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mean, cov)
}

impl Objective for ForwardKlSamples {
    fn dim(&self) -> usize {
        self.kernel.model.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.kernel.eval(theta, Some(grad))
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.kernel.eval(theta, None)
    }
}
