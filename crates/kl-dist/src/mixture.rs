use rand::{Rng, RngExt};

use crate::fastmath;
use crate::linalg::LANES as BLOCK;
use crate::mvn::{Scratch, check_finite, transpose_block, with_buffer};
use crate::par::{self, BatchKernels, Kernel, vectorized};
use crate::{Error, LogDensity, Mvn, Sample};

/// A finite mixture Σₖ wₖ N(μₖ, Σₖ) of K ≥ 1 normals of one dimension.
///
/// `log_prob` is a log-sum-exp over `ln wₖ + log N(x; μₖ, Σₖ)`, so it stays finite and accurate
/// far out in the tails, where a sum of `exp` underflows to 0.
///
/// # Example
/// ```
/// use kl_dist::{Error, LogDensity, Mixture, Mvn};
///
/// # fn main() -> Result<(), Error> {
/// let a = Mvn::new(&[-1.0], &[1.0])?;
/// let b = Mvn::new(&[1.0], &[1.0])?;
/// let p = Mixture::new(&[0.5, 0.5], vec![a.clone(), b.clone()])?;
/// // At 0 both components are φ(1) = exp(−½) / √(2π).
/// let expected = -0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5;
/// assert!((p.log_prob(&[0.0]) - expected).abs() < 1e-12);
/// // Mean ½(−1) + ½(1) = 0, variance 1 + ½(1) + ½(1) = 2.
/// assert!(p.mean()[0].abs() < 1e-12 && (p.covariance()[0] - 2.0).abs() < 1e-12);
/// // Finite far in the tails, where exp(log N) underflows.
/// assert!(p.log_prob(&[60.0]).is_finite());
/// // Weights must sum to 1.
/// assert!(matches!(Mixture::new(&[0.5, 0.6], vec![a, b]), Err(Error::WeightsSum { .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    /// `cumulative[k] = w₀ + … + wₖ`, for sampling.
    cumulative: Vec<f64>,
    components: Vec<Mvn>,
}

impl Mixture {
    /// A mixture of `components` with `weights` (≥ 0, summing to 1 within 1e-6; they are then
    /// renormalized to sum to 1 exactly).
    ///
    /// # Errors
    /// [`Error::NoComponents`] for no components; [`Error::WeightCount`] when weights and
    /// components differ in number; [`Error::BadWeight`] naming a negative or NaN weight;
    /// [`Error::WeightsSum`] when the weights do not sum to 1 within 1e-6;
    /// [`Error::ComponentDimension`] naming a component whose dimension differs from the first's.
    pub fn new(weights: &[f64], components: Vec<Mvn>) -> Result<Self, Error> {
        if components.is_empty() {
            return Err(Error::NoComponents);
        }
        if weights.len() != components.len() {
            return Err(Error::WeightCount {
                weights: weights.len(),
                components: components.len(),
            });
        }
        let d = components[0].dim();
        if let Some((index, c)) = components.iter().enumerate().find(|(_, c)| c.dim() != d) {
            return Err(Error::ComponentDimension {
                index,
                expected: d,
                got: c.dim(),
            });
        }
        if let Some(index) = weights.iter().position(|w| w.is_nan() || *w < 0.0) {
            return Err(Error::BadWeight {
                index,
                value: weights[index],
            });
        }
        check_finite("weights", weights)?;
        let sum: f64 = weights.iter().sum();
        // The weights are finite here, so the sum is not NaN.
        if (sum - 1.0).abs() > 1e-6 {
            return Err(Error::WeightsSum { sum });
        }
        let weights: Vec<f64> = weights.iter().map(|w| w / sum).collect();
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Ok(Mixture {
            weights,
            log_weights,
            cumulative,
            components,
        })
    }

    /// Builds each component from `(mean, cov)` (row-major) and the mixture from them; a bad
    /// component is reported as [`Error::Component`] with its index.
    ///
    /// # Errors
    /// [`Error::Component`] with the index of a component [`Mvn::new`] refuses (its error as the
    /// source), then what [`Mixture::new`] reports.
    pub fn from_parameters(
        weights: &[f64],
        components: &[(Vec<f64>, Vec<f64>)],
    ) -> Result<Self, Error> {
        let comps = components
            .iter()
            .enumerate()
            .map(|(index, (m, c))| {
                Mvn::new(m, c).map_err(|e| Error::Component {
                    index,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Mixture::new(weights, comps)
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.components.len()
    }

    /// The weights (summing to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The components.
    pub fn components(&self) -> &[Mvn] {
        &self.components
    }

    /// The exact mean Σ wₖ μₖ.
    pub fn mean(&self) -> Vec<f64> {
        let d = self.dim();
        let mut m = vec![0.0; d];
        for (w, c) in self.weights.iter().zip(&self.components) {
            for (mi, ci) in m.iter_mut().zip(c.mean()) {
                *mi += w * ci;
            }
        }
        m
    }

    /// The exact covariance Σ wₖ (Σₖ + (μₖ − μ)(μₖ − μ)ᵀ), row-major.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let m = self.mean();
        let mut cov = vec![0.0; d * d];
        for (w, c) in self.weights.iter().zip(&self.components) {
            let (mu, s) = (c.mean(), c.covariance());
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += w * (s[i * d + j] + (mu[i] - m[i]) * (mu[j] - m[j]));
                }
            }
        }
        cov
    }

    /// The moment-matched Gaussian N(mean, covariance): the minimizer of D(p ‖ q) over Gaussian q.
    pub fn moment_matched(&self) -> Mvn {
        Mvn::new(&self.mean(), &self.covariance())
            .expect("a mixture of positive definite covariances has a positive definite covariance")
    }

    /// p(x).
    pub fn prob(&self, x: &[f64]) -> f64 {
        self.log_prob(x).exp()
    }

    /// Component log densities `aₖ = ln wₖ + log Nₖ` of a block of `m` points into `a` (`K × BLOCK`),
    /// and, when `u` is given (`K × d × BLOCK`), `Σₖ⁻¹ (x − μₖ)` for each component.
    #[inline(always)]
    fn block_terms(&self, xt: &[f64], a: &mut [f64], mut u: Option<&mut [f64]>) {
        let d = self.dim();
        let want_grad = u.is_some();
        for (k, c) in self.components.iter().enumerate() {
            let r: &mut [f64] = match u.as_deref_mut() {
                Some(u) => &mut u[k * d * BLOCK..(k + 1) * d * BLOCK],
                None => &mut a[self.components.len() * BLOCK..],
            };
            c.whiten_lanes(xt, r);
            let q = Mvn::lane_sq_norms(r, d);
            let base = self.log_weights[k] + c.log_norm();
            if want_grad {
                c.cholesky().solve_upper_cols(r, BLOCK);
            }
            for (av, qs) in a[k * BLOCK..(k + 1) * BLOCK].iter_mut().zip(q) {
                *av = base - 0.5 * qs;
            }
        }
    }
}

/// Per lane, the log-sum-exp `ln Σₖ exp(aₖ)` over the `K × BLOCK` block `a`, computed as
/// `max + ln Σₖ exp(aₖ − max)`. Leaves the responsibilities `exp(aₖ − max) / Σ` in `a`.
#[inline(always)]
fn lanes_logsumexp(a: &mut [f64], k_count: usize) -> [f64; BLOCK] {
    if k_count == 2 {
        return lanes_logsumexp_2(a);
    }
    let a = &mut a[..k_count * BLOCK];
    let mut max = [f64::NEG_INFINITY; BLOCK];
    for ak in a.chunks_exact(BLOCK) {
        for (mx, v) in max.iter_mut().zip(ak) {
            *mx = mx.max(*v);
        }
    }
    let mut sum = [0.0; BLOCK];
    for ak in a.chunks_exact_mut(BLOCK) {
        for ((v, s), mx) in ak.iter_mut().zip(sum.iter_mut()).zip(&max) {
            *v = fastmath::exp(*v - mx);
            *s += *v;
        }
    }
    let mut inv = [0.0; BLOCK];
    let mut out = [0.0; BLOCK];
    for (((o, i), mx), s) in out.iter_mut().zip(inv.iter_mut()).zip(max).zip(sum) {
        *o = mx + fastmath::ln(s);
        *i = 1.0 / s;
    }
    for ak in a.chunks_exact_mut(BLOCK) {
        for (v, i) in ak.iter_mut().zip(&inv) {
            *v *= i;
        }
    }
    out
}

/// [`lanes_logsumexp`] for K = 2 with one `exp` per lane instead of two: the larger term's
/// `exp(aₖ − max)` is `exp(0) = 1` exactly, so the values are the same bits as the general path.
#[inline(always)]
fn lanes_logsumexp_2(a: &mut [f64]) -> [f64; BLOCK] {
    let (a0, a1) = a[..2 * BLOCK].split_at_mut(BLOCK);
    let mut out = [0.0; BLOCK];
    let a0: &mut [f64; BLOCK] = a0.try_into().expect("BLOCK lanes");
    let a1: &mut [f64; BLOCK] = a1.try_into().expect("BLOCK lanes");
    let mut e = [0.0; BLOCK];
    let mut first = [false; BLOCK];
    for s in 0..BLOCK {
        let (x, y) = (a0[s], a1[s]);
        let f = x >= y;
        let max = if f { x } else { y };
        let lo = if f { y } else { x };
        first[s] = f;
        e[s] = lo - max;
        out[s] = max;
    }
    for v in e.iter_mut() {
        *v = fastmath::exp(*v);
    }
    for s in 0..BLOCK {
        let sum = 1.0 + e[s];
        out[s] += fastmath::ln(sum);
        let inv = 1.0 / sum;
        let other = e[s] * inv;
        a0[s] = if first[s] { inv } else { other };
        a1[s] = if first[s] { other } else { inv };
    }
    out
}

impl Mixture {
    /// The d = 2 kernel of the component terms: for the lanes `x`, `y` of a block, `aₖ` into `a`
    /// (`K × BLOCK`) and, when `u` is given (`K × 2 × BLOCK`), `Σₖ⁻¹ (x − μₖ)`. The same
    /// operations in the same order as the general path (whiten, then back-substitute).
    #[inline(always)]
    fn terms_2d(
        &self,
        x: &[f64; BLOCK],
        y: &[f64; BLOCK],
        a: &mut [f64],
        mut u: Option<&mut [f64]>,
    ) {
        for (k, c) in self.components.iter().enumerate() {
            let (mu, l, inv) = (c.mean(), c.cholesky().factor(), c.cholesky().inv_diag());
            let (m0, m1, l10, i0, i1) = (mu[0], mu[1], l[2], inv[0], inv[1]);
            let base = self.log_weights[k] + c.log_norm();
            let ak: &mut [f64; BLOCK] = (&mut a[k * BLOCK..(k + 1) * BLOCK])
                .try_into()
                .expect("BLOCK lanes");
            let mut r0 = [0.0; BLOCK];
            let mut r1 = [0.0; BLOCK];
            for s in 0..BLOCK {
                r0[s] = (x[s] - m0) * i0;
                r1[s] = ((y[s] - m1) - l10 * r0[s]) * i1;
                ak[s] = base - 0.5 * (r0[s] * r0[s] + r1[s] * r1[s]);
            }
            if let Some(u) = u.as_deref_mut() {
                let uk = &mut u[k * 2 * BLOCK..(k + 1) * 2 * BLOCK];
                let (u0, u1) = uk.split_at_mut(BLOCK);
                for s in 0..BLOCK {
                    let v1 = r1[s] * i1;
                    u1[s] = v1;
                    u0[s] = (r0[s] - l10 * v1) * i0;
                }
            }
        }
    }

    /// Lanes of a block of up to `BLOCK` 2-D points (row-major), zero-padded.
    #[inline(always)]
    fn lanes_2d(pts: &[f64]) -> ([f64; BLOCK], [f64; BLOCK]) {
        let mut x = [0.0; BLOCK];
        let mut y = [0.0; BLOCK];
        if let Ok(full) = <&[f64; 2 * BLOCK]>::try_from(pts) {
            for s in 0..BLOCK {
                x[s] = full[2 * s];
                y[s] = full[2 * s + 1];
            }
        } else {
            for (s, p) in pts.chunks_exact(2).enumerate() {
                x[s] = p[0];
                y[s] = p[1];
            }
        }
        (x, y)
    }

    #[inline(always)]
    fn log_prob_2d(&self, points: &[f64], out: &mut [f64]) {
        let kc = self.n_components();
        let mut scratch = Scratch::new();
        let a = scratch.get(kc * BLOCK);
        for (pts, o) in points.chunks(2 * BLOCK).zip(out.chunks_mut(BLOCK)) {
            let (x, y) = Self::lanes_2d(pts);
            self.terms_2d(&x, &y, a, None);
            let lse = lanes_logsumexp(a, kc);
            o.copy_from_slice(&lse[..o.len()]);
        }
    }

    /// `p(x) = Σₖ exp(aₖ)` for 2-D points (no log-sum-exp: the density itself is wanted).
    #[inline(always)]
    fn prob_2d(&self, points: &[f64], out: &mut [f64]) {
        let kc = self.n_components();
        let mut scratch = Scratch::new();
        let a = scratch.get(kc * BLOCK);
        for (pts, o) in points.chunks(2 * BLOCK).zip(out.chunks_mut(BLOCK)) {
            let (x, y) = Self::lanes_2d(pts);
            self.terms_2d(&x, &y, a, None);
            let mut p = [0.0; BLOCK];
            for ak in a.chunks_exact(BLOCK) {
                for (ps, v) in p.iter_mut().zip(ak) {
                    *ps += fastmath::exp(*v);
                }
            }
            o.copy_from_slice(&p[..o.len()]);
        }
    }

    #[inline(always)]
    fn grad_log_prob_2d(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        let kc = self.n_components();
        let mut scratch = Scratch::new();
        let buf = scratch.get(kc * BLOCK + kc * 2 * BLOCK);
        let (a, u) = buf.split_at_mut(kc * BLOCK);
        for ((pts, lp), g) in points
            .chunks(2 * BLOCK)
            .zip(log_prob.chunks_mut(BLOCK))
            .zip(grad.chunks_mut(2 * BLOCK))
        {
            let (x, y) = Self::lanes_2d(pts);
            self.terms_2d(&x, &y, a, Some(u));
            let lse = lanes_logsumexp(a, kc);
            lp.copy_from_slice(&lse[..lp.len()]);
            let mut g0 = [0.0; BLOCK];
            let mut g1 = [0.0; BLOCK];
            for (rk, uk) in a.chunks_exact(BLOCK).zip(u.chunks_exact(2 * BLOCK)) {
                let (u0, u1) = uk.split_at(BLOCK);
                for s in 0..BLOCK {
                    g0[s] -= rk[s] * u0[s];
                    g1[s] -= rk[s] * u1[s];
                }
            }
            if let Ok(full) = <&mut [f64; 2 * BLOCK]>::try_from(&mut *g) {
                for s in 0..BLOCK {
                    full[2 * s] = g0[s];
                    full[2 * s + 1] = g1[s];
                }
            } else {
                for (s, gs) in g.chunks_exact_mut(2).enumerate() {
                    gs[0] = g0[s];
                    gs[1] = g1[s];
                }
            }
        }
    }
}

/// From this dimension on, the mixture batch kernels whiten blocks of points with faer's
/// triangular solves (many right-hand sides, cache-blocked) instead of the 16-lane hand kernels.
pub(crate) const FAER_MIN_D: usize = 24;

/// Points per block of the faer kernels: the K whitened blocks (`K × d × nb`) stay within
/// ~1 MiB (the triangular solves want many right-hand sides: 64 → 256 at d = 128, K = 4 bought
/// ~25 %); a multiple of 8 in 64..=256. It depends on d and K only, so the blocks — and the
/// bits — are the same whatever the thread count.
pub(crate) fn faer_block(d: usize, k: usize) -> usize {
    ((128 * 1024) / (k * d)).clamp(64, 256) / 8 * 8
}

impl Mixture {
    /// The faer kernel over fixed blocks of points: `log p` into `log_prob` and, when `grad` is
    /// given, the score into it. Runs of blocks go to threads; each run allocates its scratch
    /// once.
    fn batch_faer(&self, points: &[f64], log_prob: &mut [f64], grad: Option<&mut [f64]>) {
        let (d, kc) = (self.dim(), self.n_components());
        let nb = faer_block(d, kc);
        let work = log_prob.len() * self.work_per_point();
        let want_grad = grad.is_some();
        let mut none = [0.0; 0];
        let (g, g_len) = match grad {
            Some(g) => (g, nb * d),
            None => (&mut none[..], 1),
        };
        let run = |c0: usize, lp: &mut [f64], g: &mut [f64]| {
            let mut r = vec![0.0; kc * d * nb];
            let mut a = vec![0.0; kc * nb];
            for (c, lp) in lp.chunks_mut(nb).enumerate() {
                let m = lp.len();
                let start = (c0 + c) * nb;
                let pts = &points[start * d..(start + m) * d];
                for (k, comp) in self.components.iter().enumerate() {
                    let rk = &mut r[k * d * nb..k * d * nb + m * d];
                    for (rs, xs) in rk.chunks_exact_mut(d).zip(pts.chunks_exact(d)) {
                        for ((v, x), mu) in rs.iter_mut().zip(xs).zip(comp.mean()) {
                            *v = x - mu;
                        }
                    }
                    comp.cholesky().solve_lower_points(rk);
                    let base = self.log_weights[k] + comp.log_norm();
                    for (av, rs) in a[k * nb..k * nb + m].iter_mut().zip(rk.chunks_exact(d)) {
                        *av = base - 0.5 * rs.iter().map(|v| v * v).sum::<f64>();
                    }
                    if want_grad {
                        comp.cholesky().solve_upper_points(rk);
                    }
                }
                // Per point: log-sum-exp, responsibilities in place of aₖ.
                for (s, l) in lp.iter_mut().enumerate() {
                    let mut max = f64::NEG_INFINITY;
                    for k in 0..kc {
                        max = max.max(a[k * nb + s]);
                    }
                    let mut sum = 0.0;
                    for k in 0..kc {
                        let e = fastmath::exp(a[k * nb + s] - max);
                        a[k * nb + s] = e;
                        sum += e;
                    }
                    *l = max + fastmath::ln(sum);
                    let inv = 1.0 / sum;
                    for k in 0..kc {
                        a[k * nb + s] *= inv;
                    }
                }
                if want_grad {
                    let gc = &mut g[c * nb * d..(c * nb + m) * d];
                    gc.fill(0.0);
                    for k in 0..kc {
                        let rk = &r[k * d * nb..k * d * nb + m * d];
                        for (s, (gs, us)) in
                            gc.chunks_exact_mut(d).zip(rk.chunks_exact(d)).enumerate()
                        {
                            let w = a[k * nb + s];
                            for (gv, u) in gs.iter_mut().zip(us) {
                                *gv -= w * u;
                            }
                        }
                    }
                }
            }
        };
        if want_grad {
            par::for_each_chunk2(work, log_prob, nb, g, g_len, run);
        } else {
            // One dummy slot per chunk for the unused second slice.
            let n_chunks = log_prob.len().div_ceil(nb);
            let mut dummy = [0.0; 1];
            if n_chunks <= 1 {
                run(0, log_prob, &mut dummy);
            } else {
                let mut slots = vec![0.0; n_chunks];
                par::for_each_chunk2(work, log_prob, nb, &mut slots, 1, |c0, lp, _| {
                    run(c0, lp, &mut dummy.clone())
                });
            }
        }
    }
}

impl BatchKernels for Mixture {
    fn work_per_point(&self) -> usize {
        let d = self.components[0].dim();
        self.n_components() * d * d
    }

    #[inline(always)]
    fn log_prob_batch_impl(&self, points: &[f64], out: &mut [f64]) {
        let (d, kc) = (self.dim(), self.n_components());
        if d == 2 {
            return self.log_prob_2d(points, out);
        }
        let mut scratch = Scratch::new();
        let buf = scratch.get(kc * BLOCK + 2 * d * BLOCK);
        let (xt, a) = buf.split_at_mut(d * BLOCK);
        for (pts, o) in points.chunks(d * BLOCK).zip(out.chunks_mut(BLOCK)) {
            transpose_block(pts, d, xt);
            self.block_terms(xt, a, None);
            let lse = lanes_logsumexp(a, kc);
            o.copy_from_slice(&lse[..o.len()]);
        }
    }

    #[inline(always)]
    fn grad_log_prob_batch_impl(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        let (d, kc) = (self.dim(), self.n_components());
        if d == 2 {
            return self.grad_log_prob_2d(points, log_prob, grad);
        }
        let mut scratch = Scratch::new();
        let buf = scratch.get(d * BLOCK + kc * BLOCK + kc * d * BLOCK);
        let (xt, buf) = buf.split_at_mut(d * BLOCK);
        let (a, u) = buf.split_at_mut(kc * BLOCK);
        let mut acc = [0.0; BLOCK];
        for ((pts, lp), g) in points
            .chunks(d * BLOCK)
            .zip(log_prob.chunks_mut(BLOCK))
            .zip(grad.chunks_mut(d * BLOCK))
        {
            let m = lp.len();
            transpose_block(pts, d, xt);
            self.block_terms(xt, a, Some(u));
            // Responsibilities rₖ = exp(aₖ − lse) in place of aₖ.
            let lse = lanes_logsumexp(a, kc);
            lp.copy_from_slice(&lse[..m]);
            for i in 0..d {
                acc.fill(0.0);
                for (rk, uk) in a.chunks_exact(BLOCK).zip(u.chunks_exact(d * BLOCK)) {
                    let uki = &uk[i * BLOCK..i * BLOCK + BLOCK];
                    for s in 0..BLOCK {
                        acc[s] -= rk[s] * uki[s];
                    }
                }
                for s in 0..m {
                    g[s * d + i] = acc[s];
                }
            }
        }
    }
}

impl LogDensity for Mixture {
    fn dim(&self) -> usize {
        self.components[0].dim()
    }

    fn log_prob(&self, x: &[f64]) -> f64 {
        let mut out = [0.0];
        self.log_prob_batch(x, &mut out);
        out[0]
    }

    fn grad_log_prob(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut out = [0.0];
        self.grad_log_prob_batch(x, &mut out, grad);
        out[0]
    }

    fn log_prob_batch(&self, points: &[f64], out: &mut [f64]) {
        if self.dim() >= FAER_MIN_D {
            assert_eq!(
                points.len(),
                out.len() * self.dim(),
                "points must hold out.len() points of dimension d"
            );
            return self.batch_faer(points, out, None);
        }
        par::log_prob_batch(self, points, out);
    }

    fn prob_batch(&self, points: &[f64], out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(
            points.len(),
            out.len() * d,
            "points must hold out.len() points of dimension d"
        );
        if d != 2 {
            self.log_prob_batch(points, out);
            out.iter_mut().for_each(|v| *v = fastmath::exp(*v));
            return;
        }
        struct Op<'a>(&'a Mixture, &'a [f64], &'a mut [f64]);
        impl Kernel for Op<'_> {
            #[inline(always)]
            fn run(self) {
                self.0.prob_2d(self.1, self.2);
            }
        }
        vectorized(Op(self, points, out));
    }

    fn grad_log_prob_batch(&self, points: &[f64], log_prob: &mut [f64], grad: &mut [f64]) {
        if self.dim() >= FAER_MIN_D {
            assert_eq!(
                points.len(),
                log_prob.len() * self.dim(),
                "points must hold log_prob.len() points"
            );
            assert_eq!(
                grad.len(),
                points.len(),
                "grad must have the shape of points"
            );
            return self.batch_faer(points, log_prob, Some(grad));
        }
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
            &self.components,
            &self.log_weights,
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

impl Sample for Mixture {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(out.len() % d, 0, "out must hold whole points");
        let last = self.n_components() - 1;
        with_buffer(d, |z| {
            for x in out.chunks_mut(d) {
                let u: f64 = rng.random();
                let k = self.cumulative.iter().position(|c| u < *c).unwrap_or(last);
                self.components[k].sample_one(rng, z, x);
            }
        })
    }
}
