//! Reverse KL D(q ‖ p): by Monte Carlo with the reparameterization x = μ + L ε for any target, and
//! in closed form for a Gaussian target.

use kl_dist::dense::{for_each_chunk2, gemm, gemm_tn, lanes_sum, matmul, matmul_tn_acc};
use kl_dist::{LogDensity, Mvn};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::forward::check_len;
use crate::model::Model;
use crate::{Error, Objective};

use kl_dist::HALF_LN_2PI;

/// Points per fixed chunk of the draws and of the reductions over points (see [`ReverseKl`]).
pub(crate) const DRAW_CHUNK: usize = 256;

/// Up to this dimension the push-forward and the reductions use the hand-written kernels (the
/// d = 2 figures' arithmetic); above it faer's GEMM over fixed chunks of points.
const SMALL: usize = 8;

/// The seed of chunk `c`'s stream from the step's key: a SplitMix64 finalizer of `key + c φ`
/// (distinct chunks get unrelated 64-bit seeds, which `Pcg64::seed_from_u64` expands further).
fn chunk_seed(key: u64, c: usize) -> u64 {
    let mut z = key.wrapping_add(
        (c as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The partial sums of one chunk of ε into `part` (`[Σ ‖ε‖², Σ ε (d), Σ ε εᵀ (d²)]`; only the
/// first entry unless `stl`).
fn chunk_stats(eps: &[f64], d: usize, stl: bool, part: &mut [f64]) {
    let mut acc = [0.0; 8];
    let chunks = eps.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|e| e * e).sum();
    for c in chunks {
        for (p, e) in acc.iter_mut().zip(c) {
            *p += e * e;
        }
    }
    part[0] = acc.iter().sum::<f64>() + tail;
    if stl {
        let (mean, outer) = part[1..1 + d + d * d].split_at_mut(d);
        mean.fill(0.0);
        for e in eps.chunks_exact(d) {
            mean.iter_mut().zip(e).for_each(|(m, v)| *m += v);
        }
        gemm_tn(outer, false, eps, eps, d, d);
    }
}

/// Which gradient estimator [`ReverseKl`] returns. Both have the same expectation, ∇θ D(q ‖ p).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    /// The total derivative of (1/n) Σ [log q(xᵢ; θ) − log p(xᵢ)] through xᵢ = μ + L εᵢ and through
    /// q's parameters: what autodiff of the notebook's loss gives.
    /// `∇μ = −ḡ`, `∇L = −L⁻ᵀ − (1/n) Σ gᵢ εᵢᵀ`, with gᵢ = ∇ log p(xᵢ).
    Total,
    /// "Sticking the landing" (Roeder, Wu & Duvenaud, 2017): the path derivative only, dropping the
    /// score term whose expectation is zero. `∇μ = (1/n) Σ (−L⁻ᵀ εᵢ − gᵢ)`,
    /// `∇L = (1/n) Σ (−L⁻ᵀ εᵢ − gᵢ) εᵢᵀ`. Exactly zero at q = p, whatever the draws.
    Stl,
}

/// (1/n) Σ [log q(xᵢ) − log p(xᵢ)] with xᵢ = μ + L εᵢ, εᵢ ~ N(0, I): reverse KL by Monte Carlo,
/// for any target that gives `log_prob` and `grad_log_prob`.
///
/// The objective owns its n draws ε; with them fixed the value is a deterministic function of θ.
/// Since L⁻¹ (xᵢ − μ) = εᵢ, log q(xᵢ) = −d/2 ln 2π − ½ log det Σ − ½ ‖εᵢ‖² exactly, so q's part
/// costs no solve per sample.
///
/// # Draw order (reproducibility contract)
/// [`ReverseKl::resample_with`] takes exactly one `u64` from the caller's RNG, the step's key.
/// The n points are cut into fixed chunks of 256 points (the last may be short); chunk
/// c draws its `m × d` standard normals, point by point, coordinate by coordinate, from its own
/// `Pcg64::seed_from_u64(s_c)` by rand_distr's ziggurat (`StandardNormal`), where
/// `s_c = splitmix64(key + (c + 1) · 0x9E3779B97F4A7C15)`. The chunks depend on n only, so ε —
/// and every value and gradient — is the same bits whatever the number of threads
/// (`KL_THREADS`, [`kl_dist::dense::set_threads`]) that draws and evaluates them. (Until
/// this contract, ε was `rng.sample(StandardNormal)` in one sequential loop.)
///
/// # Invariants
/// - Evaluating allocates nothing: every buffer (x, log p, ∇ log p, per-chunk partial sums) is
///   sized at construction, but for the target's scratch of
///   [`LogDensity::grad_log_prob_affine`], sized by the first evaluation with a gradient.
/// - For d > 8, the gradient comes from the target's `grad_log_prob_affine` where it has one
///   (mixtures and normals: matrix products on ε, no per-point solve); else from the points
///   and `grad_log_prob_batch`. Either way the sums are over fixed chunks of points.
/// - Sums over points are taken per fixed chunk of 256 points and the partial sums
///   added in chunk order (for d ≤ 8: one pass in point order).
///
/// # Example
/// ```
/// use kl_dist::Mvn;
/// use kl_grad::{Estimator, Objective, ReverseKl, ReverseKlExact};
/// use rand::SeedableRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0])?;
/// let mut rng = kl_grad::rand_pcg::Pcg64::seed_from_u64(7);
/// let mut obj = ReverseKl::new(p.clone(), 4000, Estimator::Stl, &mut rng)?;
/// let mut grad = [0.0; 6];
/// // θ = (μ, L) row-major. At q = p every term log q(xᵢ) − log p(xᵢ) is 0, and so is the
/// // "sticking the landing" gradient, whatever the draws.
/// let at_p = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
/// assert!(obj.value_and_grad(&at_p, &mut grad)?.abs() < 1e-12);
/// assert!(grad.iter().all(|g| g.abs() < 1e-12));
/// // Shifted by μ = (1, 0): D(q ‖ p) = ½ ‖μ‖² = ½, which the estimate approaches.
/// let shifted = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
/// let exact = ReverseKlExact::new(p).value(&shifted)?;
/// assert!((exact - 0.5).abs() < 1e-12);
/// assert!((obj.value(&shifted)? - exact).abs() < 0.1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReverseKl<P> {
    target: P,
    estimator: Estimator,
    n: usize,
    model: Model,
    /// ε, row-major n × d.
    eps: Vec<f64>,
    /// (1/n) Σ ‖εᵢ‖², ε̄ and E = (1/n) Σ εᵢ εᵢᵀ, refreshed by `resample`.
    eps_sq_mean: f64,
    eps_mean: Vec<f64>,
    eps_outer: Vec<f64>,
    /// Buffers: x (n × d), log p (n), ∇ log p (n × d), Lᵀ and a d × d product.
    xs: Vec<f64>,
    lp: Vec<f64>,
    g: Vec<f64>,
    lt: Vec<f64>,
    tmp: Vec<f64>,
    /// Per-chunk partial sums, `n_chunks × (1 + d + d²)`.
    part: Vec<f64>,
    /// The target's scratch for [`LogDensity::grad_log_prob_affine`] (sized by its first call).
    work: Vec<f64>,
    /// The last evaluated θ, and whether `xs` holds its points for the current ε.
    theta: Vec<f64>,
    xs_fresh: bool,
}

impl<P: LogDensity> ReverseKl<P> {
    /// The objective for `target` with `n_samples` draws of ε from `rng`.
    ///
    /// # Errors
    /// [`Error::NoSamples`] for `n_samples = 0`.
    pub fn new<R: Rng + ?Sized>(
        target: P,
        n_samples: usize,
        estimator: Estimator,
        rng: &mut R,
    ) -> Result<Self, Error> {
        if n_samples == 0 {
            return Err(Error::NoSamples);
        }
        let d = target.dim();
        let mut obj = ReverseKl {
            target,
            estimator,
            n: n_samples,
            model: Model::new(d),
            eps: vec![0.0; n_samples * d],
            eps_sq_mean: 0.0,
            eps_mean: vec![0.0; d],
            eps_outer: vec![0.0; d * d],
            xs: vec![0.0; n_samples * d],
            lp: vec![0.0; n_samples],
            g: vec![0.0; n_samples * d],
            lt: vec![0.0; d * d],
            tmp: vec![0.0; d * d],
            part: vec![0.0; n_samples.div_ceil(DRAW_CHUNK) * (1 + d + d * d)],
            work: Vec::new(),
            theta: vec![0.0; d + d * d],
            xs_fresh: false,
        };
        obj.resample_with(rng);
        Ok(obj)
    }

    /// Draws new ε (n × d standard normals) from one `u64` of `rng`, in fixed chunks of
    /// 256 points with a stream each, on threads when large: see the draw-order
    /// contract of [`ReverseKl`].
    pub fn resample_with<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.xs_fresh = false;
        let key = rng.next_u64();
        let d = self.model.d;
        let stl = self.estimator == Estimator::Stl && d > SMALL;
        let ps = 1 + d + d * d;
        let work = self.eps.len() * 24 + if stl { 2 * self.eps.len() * d } else { 0 };
        for_each_chunk2(
            work,
            &mut self.eps,
            DRAW_CHUNK * d,
            &mut self.part,
            ps,
            |c0, eps, part| {
                // Two chunks at a time, their draws interleaved: the two streams' dependency
                // chains overlap, and each chunk still gets its own stream's sequence.
                for (pair, (e, p)) in eps
                    .chunks_mut(2 * DRAW_CHUNK * d)
                    .zip(part.chunks_mut(2 * ps))
                    .enumerate()
                {
                    let c = c0 + 2 * pair;
                    let split = e.len().min(DRAW_CHUNK * d);
                    let (ea, eb) = e.split_at_mut(split);
                    let mut ra = Pcg64::seed_from_u64(chunk_seed(key, c));
                    let mut rb = Pcg64::seed_from_u64(chunk_seed(key, c + 1));
                    let both = eb.len();
                    let (ea_both, ea_rest) = ea.split_at_mut(both);
                    for (va, vb) in ea_both.iter_mut().zip(eb.iter_mut()) {
                        *va = crate::ziggurat::standard_normal_by_value(&mut ra);
                        *vb = crate::ziggurat::standard_normal_by_value(&mut rb);
                    }
                    for va in ea_rest {
                        *va = crate::ziggurat::standard_normal_by_value(&mut ra);
                    }
                    if d > SMALL {
                        let (pa, pb) = p.split_at_mut(ps.min(p.len()));
                        chunk_stats(ea, d, stl, pa);
                        if !eb.is_empty() {
                            chunk_stats(eb, d, stl, pb);
                        }
                    }
                }
            },
        );
        if d > SMALL {
            self.sum_eps_stats();
        } else {
            self.refresh_eps_stats();
        }
    }

    /// Replaces ε (row-major n × d) by caller-given draws.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] (`what = "eps"`) when `eps` is not n × d; ε is then
    /// unchanged.
    pub fn set_eps(&mut self, eps: &[f64]) -> Result<(), Error> {
        if eps.len() != self.eps.len() {
            return Err(Error::DimensionMismatch {
                what: "eps",
                expected: self.eps.len(),
                got: eps.len(),
            });
        }
        self.eps.copy_from_slice(eps);
        self.xs_fresh = false;
        self.refresh_eps_stats();
        Ok(())
    }

    /// The current draws ε, row-major n × d.
    pub fn eps(&self) -> &[f64] {
        &self.eps
    }

    /// The points xᵢ = μ + L εᵢ at the last evaluated θ (before any evaluation θ = 0) and the
    /// current ε, row-major n × d. Computed here when the last evaluation did not need them (a
    /// target with [`LogDensity::grad_log_prob_affine`] works on ε directly).
    pub fn points(&mut self) -> &[f64] {
        if !self.xs_fresh {
            let theta = std::mem::take(&mut self.theta);
            self.push_forward(&theta);
            self.theta = theta;
        }
        &self.xs
    }

    /// The target.
    pub fn target(&self) -> &P {
        &self.target
    }

    /// The estimator in use.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }

    /// Number of draws n.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// Adds the per-chunk partial sums of ε's statistics in chunk order (d > 8).
    fn sum_eps_stats(&mut self) {
        let d = self.model.d;
        let stl = self.estimator == Estimator::Stl;
        let inv_n = 1.0 / self.n as f64;
        let ps = 1 + d + d * d;
        self.eps_sq_mean = 0.0;
        self.eps_mean.fill(0.0);
        self.eps_outer.fill(0.0);
        for p in self.part.chunks_exact(ps) {
            self.eps_sq_mean += p[0];
            if stl {
                self.eps_mean
                    .iter_mut()
                    .zip(&p[1..1 + d])
                    .for_each(|(m, v)| *m += v);
                self.eps_outer
                    .iter_mut()
                    .zip(&p[1 + d..])
                    .for_each(|(m, v)| *m += v);
            }
        }
        self.eps_sq_mean *= inv_n;
        self.eps_mean.iter_mut().for_each(|v| *v *= inv_n);
        self.eps_outer.iter_mut().for_each(|v| *v *= inv_n);
    }

    /// (1/n) Σ ‖εᵢ‖² always; ε̄ and E only for the STL estimator, the only one that uses them.
    fn refresh_eps_stats(&mut self) {
        let d = self.model.d;
        if d > SMALL {
            let stl = self.estimator == Estimator::Stl;
            let ps = 1 + d + d * d;
            let work = if stl {
                2 * self.eps.len() * d
            } else {
                self.eps.len()
            };
            // The per-point log p buffer is only a chunk carrier here (not written).
            let eps = &self.eps;
            for_each_chunk2(
                work,
                &mut self.part,
                ps,
                &mut self.lp,
                DRAW_CHUNK,
                |c0, part, _| {
                    for (c, p) in part.chunks_mut(ps).enumerate() {
                        let start = (c0 + c) * DRAW_CHUNK * d;
                        let end = (start + DRAW_CHUNK * d).min(eps.len());
                        chunk_stats(&eps[start..end], d, stl, p);
                    }
                },
            );
            return self.sum_eps_stats();
        }
        let inv_n = 1.0 / self.n as f64;
        // Eight fixed partial sums (vectorizes; the order does not depend on anything but n d).
        let mut part = [0.0; 8];
        let chunks = self.eps.chunks_exact(8);
        let tail: f64 = chunks.remainder().iter().map(|e| e * e).sum();
        for c in chunks {
            for (p, e) in part.iter_mut().zip(c) {
                *p += e * e;
            }
        }
        self.eps_sq_mean = (part.iter().sum::<f64>() + tail) * inv_n;
        if self.estimator == Estimator::Stl {
            self.eps_mean.fill(0.0);
            self.eps_outer.fill(0.0);
            if d == 2 {
                let mut acc = [0.0; 5];
                for e in self.eps.chunks_exact(2) {
                    acc[0] += e[0];
                    acc[1] += e[1];
                    acc[2] += e[0] * e[0];
                    acc[3] += e[0] * e[1];
                    acc[4] += e[1] * e[1];
                }
                self.eps_mean.copy_from_slice(&acc[..2]);
                self.eps_outer
                    .copy_from_slice(&[acc[2], acc[3], acc[3], acc[4]]);
            } else {
                for e in self.eps.chunks_exact(d) {
                    self.eps_mean.iter_mut().zip(e).for_each(|(m, v)| *m += v);
                }
                matmul_tn_acc(&self.eps, &self.eps, d, d, &mut self.eps_outer);
            }
            self.eps_mean.iter_mut().for_each(|v| *v *= inv_n);
            self.eps_outer.iter_mut().for_each(|v| *v *= inv_n);
        }
    }

    /// xᵢ = μ + L εᵢ for all i, as X = 1 μᵀ + ε Lᵀ.
    fn push_forward(&mut self, theta: &[f64]) {
        self.xs_fresh = true;
        let d = self.model.d;
        let (mu, l) = theta.split_at(d);
        for i in 0..d {
            for j in 0..d {
                self.lt[j * d + i] = l[i * d + j];
            }
        }
        if d == 2 {
            let (l00, l01, l10, l11) = (l[0], l[1], l[2], l[3]);
            for (x, e) in self.xs.chunks_exact_mut(2).zip(self.eps.chunks_exact(2)) {
                x[0] = (e[0] * l00 + e[1] * l01) + mu[0];
                x[1] = (e[0] * l10 + e[1] * l11) + mu[1];
            }
            return;
        }
        if d <= SMALL {
            matmul(&self.eps, &self.lt, self.n, d, d, &mut self.xs);
            for x in self.xs.chunks_mut(d) {
                x.iter_mut().zip(mu).for_each(|(x, m)| *x += m);
            }
            return;
        }
        // X = ε Lᵀ + 1 μᵀ per fixed chunk of points, one GEMM each (`lp` only carries chunks).
        let (eps, lt) = (&self.eps, &self.lt);
        let work = 2 * self.n * d * d;
        for_each_chunk2(
            work,
            &mut self.xs,
            DRAW_CHUNK * d,
            &mut self.lp,
            DRAW_CHUNK,
            |c0, xs, _| {
                let start = c0 * DRAW_CHUNK * d;
                let e = &eps[start..start + xs.len()];
                for (xc, ec) in xs.chunks_mut(DRAW_CHUNK * d).zip(e.chunks(DRAW_CHUNK * d)) {
                    gemm(xc, false, ec, lt, ec.len() / d, d, d);
                    for x in xc.chunks_exact_mut(d) {
                        x.iter_mut().zip(mu).for_each(|(x, m)| *x += m);
                    }
                }
            },
        );
    }

    /// ḡ and G = Σ gᵢ εᵢᵀ (not yet scaled) into `gmu` and `gl`, per fixed chunk of points on
    /// threads, the partial sums added in chunk order (d > 8).
    fn reduce_scores(&mut self, gmu: &mut [f64], gl: &mut [f64]) {
        let d = self.model.d;
        let ps = 1 + d + d * d;
        let (eps, g) = (&self.eps, &self.g);
        let work = 2 * self.n * d * d;
        for_each_chunk2(
            work,
            &mut self.part,
            ps,
            &mut self.lp,
            DRAW_CHUNK,
            |c0, part, _| {
                for (c, p) in part.chunks_mut(ps).enumerate() {
                    let start = (c0 + c) * DRAW_CHUNK * d;
                    let end = (start + DRAW_CHUNK * d).min(eps.len());
                    let (gc, ec) = (&g[start..end], &eps[start..end]);
                    let (pm, pl) = p[..d + d * d].split_at_mut(d);
                    pm.fill(0.0);
                    for gs in gc.chunks_exact(d) {
                        pm.iter_mut().zip(gs).for_each(|(m, v)| *m += v);
                    }
                    gemm_tn(pl, false, gc, ec, d, d);
                }
            },
        );
        for p in self.part.chunks_exact(ps) {
            gmu.iter_mut().zip(&p[..d]).for_each(|(m, v)| *m += v);
            gl.iter_mut()
                .zip(&p[d..d + d * d])
                .for_each(|(m, v)| *m += v);
        }
    }

    fn log_q_mean(&self) -> f64 {
        let d = self.model.d as f64;
        -d * HALF_LN_2PI - 0.5 * self.model.log_det() - 0.5 * self.eps_sq_mean
    }

    fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> Result<f64, Error> {
        self.model.load(theta)?;
        self.theta.copy_from_slice(theta);
        self.xs_fresh = false;
        let d = self.model.d;
        let inv_n = 1.0 / self.n as f64;
        let Some(grad) = grad else {
            self.push_forward(theta);
            self.target.log_prob_batch(&self.xs, &mut self.lp);
            return Ok(self.log_q_mean() - self.lp.iter().sum::<f64>() * inv_n);
        };
        check_len(grad, d)?;
        let (gmu, gl) = grad.split_at_mut(d);
        // Σ gᵢ into gmu and G = Σ gᵢ εᵢᵀ = gᵀ ε into gl (scaled and negated below): from the
        // target's own reparameterized kernel where it has one (d > 8), else per point.
        let affine = d > SMALL && {
            let (mu, l) = theta.split_at(d);
            self.target.grad_log_prob_affine(
                mu,
                l,
                &self.eps,
                &mut self.lp,
                gmu,
                gl,
                &mut self.work,
            )
        };
        if !affine {
            self.push_forward(theta);
            self.target
                .grad_log_prob_batch(&self.xs, &mut self.lp, &mut self.g);
            gmu.fill(0.0);
            gl.fill(0.0);
        }
        let lp_sum = if d > SMALL {
            lanes_sum(&self.lp)
        } else {
            self.lp.iter().sum::<f64>()
        };
        let value = self.log_q_mean() - lp_sum * inv_n;
        if affine {
        } else if d == 2 {
            let mut acc = [0.0; 6];
            for (g, e) in self.g.chunks_exact(2).zip(self.eps.chunks_exact(2)) {
                acc[0] += g[0];
                acc[1] += g[1];
                acc[2] += g[0] * e[0];
                acc[3] += g[0] * e[1];
                acc[4] += g[1] * e[0];
                acc[5] += g[1] * e[1];
            }
            gmu.copy_from_slice(&acc[..2]);
            gl.copy_from_slice(&acc[2..]);
        } else if d <= SMALL {
            for g in self.g.chunks_exact(d) {
                gmu.iter_mut().zip(g).for_each(|(m, v)| *m += v);
            }
            matmul_tn_acc(&self.g, &self.eps, d, d, gl);
        } else {
            self.reduce_scores(gmu, gl);
        }
        gmu.iter_mut().for_each(|v| *v *= -inv_n);
        gl.iter_mut().for_each(|v| *v *= -inv_n);
        let w = &self.model.w;
        match self.estimator {
            Estimator::Total => {
                gl.iter_mut().zip(w).for_each(|(o, w)| *o -= w);
            }
            Estimator::Stl => {
                // ∇μ −= W ε̄; ∇L −= W E.
                for i in 0..d {
                    gmu[i] -= (0..d).map(|j| w[i * d + j] * self.eps_mean[j]).sum::<f64>();
                }
                if d <= SMALL {
                    matmul(w, &self.eps_outer, d, d, d, &mut self.tmp);
                } else {
                    gemm(&mut self.tmp, false, w, &self.eps_outer, d, d, d);
                }
                gl.iter_mut().zip(&self.tmp).for_each(|(o, t)| *o -= t);
            }
        }
        Ok(value)
    }
}

impl<P: LogDensity> Objective for ReverseKl<P> {
    fn dim(&self) -> usize {
        self.model.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.eval(theta, Some(grad))
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.eval(theta, None)
    }
    fn resample(&mut self, rng: &mut dyn rand::Rng) {
        self.resample_with(rng);
    }
    fn is_stochastic(&self) -> bool {
        true
    }
}

/// D(q ‖ p) in closed form for a Gaussian target:
/// `½ [tr(Σp⁻¹ Σ) + (μ − μp)ᵀ Σp⁻¹ (μ − μp) − d + log det Σp − log det Σ]`, with
/// `∇μ = Σp⁻¹ (μ − μp)` and `∇L = Σp⁻¹ L − Σ⁻¹ L`.
#[derive(Debug, Clone)]
pub struct ReverseKlExact {
    target: Mvn,
    model: Model,
    tmp: Vec<f64>,
    delta: Vec<f64>,
}

impl ReverseKlExact {
    /// The objective for the target `p`.
    pub fn new(p: Mvn) -> Self {
        let d = p.dim();
        ReverseKlExact {
            target: p,
            model: Model::new(d),
            tmp: vec![0.0; d * d],
            delta: vec![0.0; d],
        }
    }

    fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> Result<f64, Error> {
        self.model.load(theta)?;
        let d = self.model.d;
        let (mu, l) = theta.split_at(d);
        let cp = self.target.cholesky();
        // tr(Σp⁻¹ L Lᵀ) = ‖Cp⁻¹ L‖²_F.
        self.tmp.copy_from_slice(l);
        cp.solve_lower_cols(&mut self.tmp, d);
        let trace: f64 = self.tmp.iter().map(|v| v * v).sum();
        for ((dl, m), t) in self.delta.iter_mut().zip(mu).zip(self.target.mean()) {
            *dl = m - t;
        }
        let mut maha = 0.0;
        if let Some(grad) = grad {
            check_len(grad, d)?;
            let (gmu, gl) = grad.split_at_mut(d);
            gmu.copy_from_slice(&self.delta);
            cp.solve_lower(gmu);
            maha = gmu.iter().map(|v| v * v).sum();
            cp.solve_upper(gmu);
            cp.solve_upper_cols(&mut self.tmp, d);
            for ((g, a), w) in gl.iter_mut().zip(&self.tmp).zip(&self.model.w) {
                *g = a - w;
            }
        } else {
            // δ is not needed after this: whiten it in place (no allocation per evaluation).
            cp.solve_lower(&mut self.delta);
            maha += self.delta.iter().map(|v| v * v).sum::<f64>();
        }
        Ok(0.5
            * (trace + maha - d as f64 + self.target.log_det_covariance() - self.model.log_det()))
    }
}

impl Objective for ReverseKlExact {
    fn dim(&self) -> usize {
        self.model.d
    }
    fn value_and_grad(&mut self, theta: &[f64], grad: &mut [f64]) -> Result<f64, Error> {
        self.eval(theta, Some(grad))
    }
    fn value(&mut self, theta: &[f64]) -> Result<f64, Error> {
        self.eval(theta, None)
    }
}
