//! The reparameterized batch of a Gaussian mixture (a normal is the one-component case): at the
//! points xᵢ = μ + L εᵢ, `log p(xᵢ)` and the two score sums a reparameterized gradient needs,
//! Σᵢ ∇ log p(xᵢ) and Σᵢ ∇ log p(xᵢ) εᵢᵀ, computed from ε by matrix products.
//!
//! Component k whitens xᵢ as zᵢₖ = Cₖ⁻¹ (xᵢ − μₖ) = bₖ + Aₖ εᵢ with Aₖ = Cₖ⁻¹ L and
//! bₖ = Cₖ⁻¹ (μ − μₖ): triangular solves once per call (d right-hand sides and one), not per
//! point, so the per-point work is one GEMM, `Zᵀ = [A₁; …; A_K] εᵀ`. The score of component k is
//! −Cₖ⁻ᵀ zᵢₖ, and both sums are linear in it:
//! Σᵢ ∇ log p(xᵢ) εᵢᵀ = −Σₖ Cₖ⁻ᵀ Mₖ with Mₖ = Σᵢ rᵢₖ zᵢₖ εᵢᵀ (the second GEMM, `(Zᵀ ∘ R) ε`), and
//! Σᵢ ∇ log p(xᵢ) = −Σₖ Cₖ⁻ᵀ Σᵢ rᵢₖ zᵢₖ, with the responsibilities rᵢₖ. The back-substitutions
//! Cₖ⁻ᵀ are applied once per call, to the d × d sums. No inverse is formed: Aₖ, bₖ and the
//! final Cₖ⁻ᵀ are triangular solves with the Cholesky factors.
//!
//! From K = 3 components on ([`SCORE_PATH_MIN_K`]) the kernel works on the components' scores
//! instead: yᵢₖ = Σₖ⁻¹ (xᵢ − μₖ) = qₖ + Pₖ εᵢ with Pₖ = Σₖ⁻¹ L, so the point's score
//! −Σₖ rᵢₖ yᵢₖ is formed before the product with ε, and Σᵢ ∇ log p(xᵢ) εᵢᵀ is one d × d × n GEMM
//! instead of K (the Mahalanobis terms are (Lεᵢ + μ − μₖ)ᵀ yᵢₖ): 2 K n d² + 4 n d² flops
//! instead of 4 K n d², and no back-substitution of the sums (see [`mixture_scores`]).
//!
//! Cost: 4 K n d² flops in two GEMMs (the per-point path: 2 K n d² in triangular solves, plus
//! the push-forward and Σ gᵢ εᵢᵀ, 4 n d²). More flops, but at GEMM speed: on the 2-core VM the
//! reverse-KL step is 1.2–2× faster than the per-point path at every benched d > 8
//! (BENCHMARKS.md, `scale/reverse-kl-per-point`).
//!
//! # Invariants
//! - The points are cut into sub-blocks of 256 or 512 points (a function of K and d), and the
//!   sub-blocks into at most [`GROUPS`] consecutive groups (fewer when one group's sums are
//!   large; the count depends on n, d and K only). Each group sums its sub-blocks in order into
//!   its own partial sums; these are added in group order. Threads take whole groups, so every
//!   result is the same bits for every thread count.
//! - Nothing is allocated once the caller's workspace has grown to the size of the problem (the
//!   first call): the per-group sums, one scratch per thread and the per-call matrices live in
//!   it. Its size does not grow with n: at most max(2²¹, 2 K d (d + 1)) values of sums, plus one
//!   `(K d + K + 2) × 512` scratch per thread (K ≥ 3: `(K d + 2 d + K + 2) × 256`).

use crate::Mvn;
use crate::fastmath;
use crate::linalg::{gemm, lanes_sum};
use crate::par::{self, Kernel};

/// At most this many groups of sub-blocks (the partial sums kept per call).
pub(crate) const GROUPS: usize = 16;

/// Points per sub-block, a function of K d only: the inner dimension of `M += Zᵀ ε`, long enough
/// that the K d × d sums are read and written once per 256 or 512 points, with `Zᵀ` (K d × sb)
/// within 256 KiB for K d ≤ 128 (measured at d = 16, K = 8: 512 is slower there; at K d ≥ 256
/// 512 is faster).
fn sub_block(kd: usize) -> usize {
    if kd <= 128 { 256 } else { 512 }
}

/// The groups' partial sums stay within this many `f64` (16 MiB) whatever d and K: fewer groups
/// (a power of two, at least 2) when one group's sums are large.
const SUMS_BUDGET: usize = 1 << 21;

/// The number of groups for `n_sb` sub-blocks whose sums take `sums_len` values each: a function
/// of the problem's size only.
fn group_count(n_sb: usize, sums_len: usize) -> usize {
    let cap = (SUMS_BUDGET / sums_len).max(2);
    let cap = if cap >= GROUPS {
        GROUPS
    } else {
        1 << cap.ilog2()
    };
    n_sb.min(cap)
}

/// `log p(xᵢ)` into `log_prob` (n), Σᵢ ∇ log p(xᵢ) into `grad_mu` (d) and Σᵢ ∇ log p(xᵢ) εᵢᵀ into
/// `grad_l` (d × d row-major) for the mixture Σₖ exp(`log_weights[k]`) N(μₖ, Σₖ) at
/// xᵢ = `mu` + `l` εᵢ (`eps` row-major n × d, `l` row-major d × d). `work` is grown as needed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mixture_affine(
    comps: &[Mvn],
    log_weights: &[f64],
    mu: &[f64],
    l: &[f64],
    eps: &[f64],
    log_prob: &mut [f64],
    grad_mu: &mut [f64],
    grad_l: &mut [f64],
    work: &mut Vec<f64>,
) {
    let kc = comps.len();
    let d = mu.len();
    let n = log_prob.len();
    assert!(
        comps.iter().all(|c| c.dim() == d),
        "mu must have the target's dimension"
    );
    assert_eq!(l.len(), d * d, "l must be d × d");
    assert_eq!(eps.len(), n * d, "eps must be n × d");
    assert_eq!(grad_mu.len(), d, "grad_mu must have length d");
    assert_eq!(grad_l.len(), d * d, "grad_l must be d × d");
    assert_eq!(log_weights.len(), kc, "one log weight per component");
    if kc >= SCORE_PATH_MIN_K {
        return mixture_scores(
            comps,
            log_weights,
            mu,
            l,
            eps,
            log_prob,
            grad_mu,
            grad_l,
            work,
        );
    }
    let kd = kc * d;
    let sb = sub_block(kd);
    // Sums of a group: [Σ r z (K d) | M = Σ (r z) εᵀ (K d × d)]; scratch of a thread:
    // [Zᵀ (K d × sb) | a (K × sb) | max (sb) | 1 / Σ (sb)].
    let groups = Groups::new(n, kc, d, sb, kd + kd * d, sb * (kd + kc + 2));
    let head = kd * d + kd + kc + d * d;
    if work.len() < head + groups.len() {
        work.resize(head + groups.len(), 0.0);
    }
    let (bm, rest) = work.split_at_mut(kd * d);
    let (bias, rest) = rest.split_at_mut(kd);
    let (base, rest) = rest.split_at_mut(kc);
    let (tmp, area) = rest.split_at_mut(d * d);

    // Per call: B = [A₁; …; A_K] (K d × d) with Aₖ = Cₖ⁻¹ L, the offsets bₖ = Cₖ⁻¹ (μ − μₖ) and
    // the log constants.
    for (k, c) in comps.iter().enumerate() {
        let a = &mut bm[k * d * d..(k + 1) * d * d];
        a.copy_from_slice(l);
        c.cholesky().solve_lower_matrix(a, d);
        let b = &mut bias[k * d..(k + 1) * d];
        b.iter_mut()
            .zip(mu)
            .zip(c.mean())
            .for_each(|((b, m), mk)| *b = m - mk);
        c.cholesky().solve_lower(b);
        base[k] = log_weights[k] + c.log_norm();
    }
    let (bm, bias, base) = (&*bm, &*bias, &*base);

    let total = groups.run(area, log_prob, |start, lp, sums, scratch| {
        let m = lp.len();
        par::vectorized(SubBlock {
            d,
            kc,
            bm,
            bias,
            base,
            e: &eps[start * d..(start + m) * d],
            lp,
            sums,
            scratch,
        });
    });

    // The back-substitutions Cₖ⁻ᵀ on the sums.
    let (rz, mk) = total.split_at_mut(kd);
    grad_mu.fill(0.0);
    grad_l.fill(0.0);
    for (k, c) in comps.iter().enumerate() {
        let v = &mut rz[k * d..(k + 1) * d];
        c.cholesky().solve_upper(v);
        grad_mu.iter_mut().zip(&*v).for_each(|(g, v)| *g -= v);
        tmp.copy_from_slice(&mk[k * d * d..(k + 1) * d * d]);
        c.cholesky().solve_upper_matrix(tmp, d);
        grad_l.iter_mut().zip(&*tmp).for_each(|(g, v)| *g -= v);
    }
}

/// How one call cuts its `n` points: sub-blocks of `sb` points, consecutive sub-blocks in
/// groups that each sum into their own `sums_len` partial sums, consecutive groups in runs, one
/// per thread with a `scratch_len` scratch. A function of the sizes only (the Invariants above).
struct Groups {
    sb: usize,
    sums_len: usize,
    scratch_len: usize,
    n_groups: usize,
    per_group: usize,
    per_run: usize,
    runs: usize,
}

impl Groups {
    fn new(n: usize, kc: usize, d: usize, sb: usize, sums_len: usize, scratch_len: usize) -> Self {
        let n_sb = n.div_ceil(sb).max(1);
        let per_group = n_sb.div_ceil(group_count(n_sb, sums_len));
        let n_groups = n_sb.div_ceil(per_group);
        // Threads: as for the per-point kernels (n K d² units of work), whole groups each.
        let parts = if n * kc * d * d < par::PAR_WORK {
            1
        } else {
            par::threads().min(n_groups)
        };
        let per_run = n_groups.div_ceil(parts);
        Groups {
            sb,
            sums_len,
            scratch_len,
            n_groups,
            per_group,
            per_run,
            runs: n_groups.div_ceil(per_run),
        }
    }

    /// Values of the workspace the groups' sums and the runs' scratch take.
    fn len(&self) -> usize {
        self.n_groups * self.sums_len + self.runs * self.scratch_len
    }

    /// Runs `block(start, log_prob, sums, scratch)` on every sub-block in order (`start` its
    /// first point, `log_prob` its part of the output, `sums` its group's), the runs spread over
    /// threads, and returns the groups' sums added in group order. `area` is at least
    /// [`Groups::len`] long.
    fn run<'a, F>(&self, area: &'a mut [f64], log_prob: &mut [f64], block: F) -> &'a mut [f64]
    where
        F: Fn(usize, &mut [f64], &mut [f64], &mut [f64]) + Sync,
    {
        let Groups {
            sb,
            sums_len,
            scratch_len,
            n_groups,
            per_group,
            per_run,
            runs,
        } = *self;
        let group_pts = per_group * sb;
        let (slots, rest) = area.split_at_mut(n_groups * sums_len);
        let scratch = &mut rest[..runs * scratch_len];
        let jobs = slots
            .chunks_mut(per_run * sums_len)
            .zip(log_prob.chunks_mut(per_run * group_pts))
            .zip(scratch.chunks_mut(scratch_len))
            .enumerate();
        par::run_jobs(jobs, |(t, ((sums, lp), scratch))| {
            let groups = sums.chunks_mut(sums_len).zip(lp.chunks_mut(group_pts));
            for (g, (sums, lpg)) in groups.enumerate() {
                let first = (t * per_run + g) * group_pts;
                sums.fill(0.0);
                for (b, lpb) in lpg.chunks_mut(sb).enumerate() {
                    block(first + b * sb, lpb, &mut *sums, &mut *scratch);
                }
            }
        });
        let (total, later) = slots.split_at_mut(sums_len);
        for s in later.chunks_exact(sums_len) {
            total.iter_mut().zip(s).for_each(|(t, v)| *t += v);
        }
        total
    }
}

/// Log-sum-exp over the K rows of `a` (K × m, m = `lp.len()`) per point: `lp` ← log Σₖ exp aₖ
/// and `a` ← the responsibilities exp(aₖ − max) / Σ. `mx` and `inv` are scratch (m each).
#[inline(always)]
fn responsibilities(a: &mut [f64], mx: &mut [f64], inv: &mut [f64], lp: &mut [f64]) {
    let m = lp.len();
    mx.copy_from_slice(&a[..m]);
    for ak in a.chunks_exact(m).skip(1) {
        mx.iter_mut().zip(ak).for_each(|(x, v)| *x = x.max(*v));
    }
    for ak in a.chunks_exact_mut(m) {
        ak.iter_mut()
            .zip(mx.iter())
            .for_each(|(v, x)| *v = fastmath::exp(*v - x));
    }
    inv.copy_from_slice(&a[..m]);
    for ak in a.chunks_exact(m).skip(1) {
        inv.iter_mut().zip(ak).for_each(|(s, v)| *s += v);
    }
    for ((l, x), s) in lp.iter_mut().zip(mx.iter()).zip(inv.iter_mut()) {
        *l = x + fastmath::ln(*s);
        *s = 1.0 / *s;
    }
    for ak in a.chunks_exact_mut(m) {
        ak.iter_mut().zip(inv.iter()).for_each(|(v, s)| *v *= s);
    }
}

/// One sub-block of `m` points, points along the rows (contiguous) of every buffer:
/// Zᵀ = B εᵀ + b, the log terms, log-sum-exp, Zᵀ ← (Zᵀ + b) ∘ R, and the sums Σ r z (row sums
/// of Zᵀ) and M = Zᵀ ε accumulated into `sums`.
struct SubBlock<'a> {
    d: usize,
    kc: usize,
    bm: &'a [f64],
    bias: &'a [f64],
    base: &'a [f64],
    e: &'a [f64],
    lp: &'a mut [f64],
    sums: &'a mut [f64],
    scratch: &'a mut [f64],
}

impl Kernel for SubBlock<'_> {
    #[inline(always)]
    fn run(self) {
        let SubBlock {
            d,
            kc,
            bm,
            bias,
            base,
            e,
            lp,
            sums,
            scratch,
        } = self;
        let kd = kc * d;
        let m = lp.len();
        let sb = sub_block(kd);
        let (zt, rest) = scratch.split_at_mut(sb * kd);
        let (a, rest) = rest.split_at_mut(sb * kc);
        let (mx, inv) = rest.split_at_mut(sb);
        let (zt, a, mx, inv) = (
            &mut zt[..kd * m],
            &mut a[..kc * m],
            &mut mx[..m],
            &mut inv[..m],
        );
        // Zᵀ (K d × m) = B (K d × d) εᵀ (d × m).
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(zt, kd, m),
            faer::Accum::Replace,
            faer::MatRef::from_row_major_slice(bm, kd, d),
            faer::MatRef::from_row_major_slice(e, m, d).transpose(),
            1.0,
            faer::Par::Seq,
        );
        // aₖ = base − ½ ‖zₖ + bₖ‖², each point's d terms summed in row order.
        for (k, ak) in a.chunks_exact_mut(m).enumerate() {
            ak.fill(0.0);
            let rows = zt[k * d * m..(k + 1) * d * m].chunks_exact(m);
            for (row, &b) in rows.zip(&bias[k * d..(k + 1) * d]) {
                for (q, z) in ak.iter_mut().zip(row) {
                    let v = z + b;
                    *q += v * v;
                }
            }
            let c = base[k];
            ak.iter_mut().for_each(|q| *q = c - 0.5 * *q);
        }
        responsibilities(a, mx, inv, lp);
        // Zᵀ ← (Zᵀ + b) ∘ r and Σ r z as row sums.
        let (rz, mk) = sums.split_at_mut(kd);
        for (k, ak) in a.chunks_exact(m).enumerate() {
            let rows = zt[k * d * m..(k + 1) * d * m].chunks_exact_mut(m);
            for ((row, b), acc) in rows
                .zip(&bias[k * d..(k + 1) * d])
                .zip(&mut rz[k * d..(k + 1) * d])
            {
                let b = *b;
                let mut part = [0.0; 8];
                let mut chunks = row.chunks_exact_mut(8);
                let mut rs = ak.chunks_exact(8);
                for (zc, rc) in (&mut chunks).zip(&mut rs) {
                    let zc: &mut [f64; 8] = zc.try_into().expect("8 lanes");
                    let rc: &[f64; 8] = rc.try_into().expect("8 lanes");
                    let mut zv = *zc;
                    for t in 0..8 {
                        zv[t] = (zv[t] + b) * rc[t];
                        part[t] += zv[t];
                    }
                    *zc = zv;
                }
                let mut tail = 0.0;
                for (z, r) in chunks.into_remainder().iter_mut().zip(rs.remainder()) {
                    *z = (*z + b) * r;
                    tail += *z;
                }
                *acc += (((part[0] + part[4]) + (part[1] + part[5]))
                    + ((part[2] + part[6]) + (part[3] + part[7])))
                    + tail;
            }
        }
        // M += Zᵀ ε.
        gemm(mk, true, zt, e, kd, m, d);
    }
}

/// Points per sub-block of [`mixture_scores`] (measured at d = 16, 32, 64, 128 with K = 8, 4, 4,
/// 4: 128 and 512 are 5–25 % slower).
const SCORE_SUB_BLOCK: usize = 256;

/// From this many components on, [`mixture_affine`] works on the scores (see [`mixture_scores`]):
/// 2 K n d² + 4 n d² flops in GEMMs against the whitened path's 4 K n d² (equal at K = 2).
const SCORE_PATH_MIN_K: usize = 3;

/// [`mixture_affine`] for K ≥ 3, on the components' scores instead of the whitened points.
///
/// Component k's score at xᵢ is −yᵢₖ with yᵢₖ = Σₖ⁻¹ (xᵢ − μₖ) = qₖ + Pₖ εᵢ, where
/// Pₖ = Σₖ⁻¹ L = Cₖ⁻ᵀ Cₖ⁻¹ L and qₖ = Σₖ⁻¹ (μ − μₖ) (four triangular solves per component and
/// call). The Mahalanobis term is (xᵢ − μₖ)ᵀ yᵢₖ = (uᵢ + δₖ)ᵀ yᵢₖ with uᵢ = L εᵢ and
/// δₖ = μ − μₖ, and the point's score is gᵢ = −Σₖ rᵢₖ yᵢₖ, so that
/// Σᵢ ∇ log p(xᵢ) εᵢᵀ = −Σᵢ (Σₖ rᵢₖ yᵢₖ) εᵢᵀ is one d × d × n product instead of K of them,
/// and no back-substitution is left for the sums. Per sub-block: Yᵀ = [P₁; …; P_K] εᵀ and
/// Uᵀ = L εᵀ (GEMMs), the log terms and responsibilities (element-wise), and the sums. Threads,
/// groups and determinism as in [`mixture_affine`]. The element-wise passes take four rows of
/// Yᵀ (or four components) per pass over the points ([`fma_rows`]).
#[allow(clippy::too_many_arguments)]
fn mixture_scores(
    comps: &[Mvn],
    log_weights: &[f64],
    mu: &[f64],
    l: &[f64],
    eps: &[f64],
    log_prob: &mut [f64],
    grad_mu: &mut [f64],
    grad_l: &mut [f64],
    work: &mut Vec<f64>,
) {
    let kc = comps.len();
    let d = mu.len();
    let n = log_prob.len();
    let kd = kc * d;
    let sb = SCORE_SUB_BLOCK;
    // Sums of a group: [Σ g (d) | Σ g εᵀ (d × d)]; scratch of a thread:
    // [Yᵀ (K d × sb) | Uᵀ (d × sb) | Gᵀ (d × sb) | a (K × sb) | max (sb) | 1 / Σ (sb)].
    let groups = Groups::new(n, kc, d, sb, d + d * d, sb * (kd + 2 * d + kc + 2));
    let head = kd * d + 2 * kd + kc;
    if work.len() < head + groups.len() {
        work.resize(head + groups.len(), 0.0);
    }
    let (pm, rest) = work.split_at_mut(kd * d);
    let (q, rest) = rest.split_at_mut(kd);
    let (delta, rest) = rest.split_at_mut(kd);
    let (base, area) = rest.split_at_mut(kc);

    // Per call: P = [P₁; …; P_K] (K d × d), qₖ, δₖ and the log constants.
    for (k, c) in comps.iter().enumerate() {
        let p = &mut pm[k * d * d..(k + 1) * d * d];
        p.copy_from_slice(l);
        c.cholesky().solve_matrix(p, d);
        let dk = &mut delta[k * d..(k + 1) * d];
        dk.iter_mut()
            .zip(mu)
            .zip(c.mean())
            .for_each(|((v, m), mk)| *v = m - mk);
        let qk = &mut q[k * d..(k + 1) * d];
        qk.copy_from_slice(dk);
        c.cholesky().solve(qk);
        base[k] = log_weights[k] + c.log_norm();
    }
    let (pm, q, delta, base) = (&*pm, &*q, &*delta, &*base);

    let total = groups.run(area, log_prob, |start, lp, sums, scratch| {
        let m = lp.len();
        par::vectorized(ScoreBlock {
            d,
            kc,
            pm,
            q,
            delta,
            base,
            l,
            e: &eps[start * d..(start + m) * d],
            lp,
            sums,
            scratch,
        });
    });

    // The sums are of −∇ log p.
    let (gs, ge) = total.split_at(d);
    grad_mu.iter_mut().zip(gs).for_each(|(o, v)| *o = -v);
    grad_l.iter_mut().zip(ge).for_each(|(o, v)| *o = -v);
}

/// One sub-block of `m` points for [`mixture_scores`], points along the rows of every buffer:
/// Yᵀ = P εᵀ (y = that + q), Uᵀ = L εᵀ, the log terms aₖ = baseₖ − ½ (u + δₖ)ᵀ yₖ,
/// log-sum-exp, Gᵀ = Σₖ Yₖᵀ ∘ rₖ, and the sums Σ g (row sums of Gᵀ) and Σ g εᵀ = Gᵀ ε.
struct ScoreBlock<'a> {
    d: usize,
    kc: usize,
    pm: &'a [f64],
    q: &'a [f64],
    delta: &'a [f64],
    base: &'a [f64],
    l: &'a [f64],
    e: &'a [f64],
    lp: &'a mut [f64],
    sums: &'a mut [f64],
    scratch: &'a mut [f64],
}

impl Kernel for ScoreBlock<'_> {
    #[inline(always)]
    fn run(self) {
        let ScoreBlock {
            d,
            kc,
            pm,
            q,
            delta,
            base,
            l,
            e,
            lp,
            sums,
            scratch,
        } = self;
        let kd = kc * d;
        let m = lp.len();
        let sb = SCORE_SUB_BLOCK;
        let (yt, rest) = scratch.split_at_mut(sb * kd);
        let (ut, rest) = rest.split_at_mut(sb * d);
        let (gt, rest) = rest.split_at_mut(sb * d);
        let (a, rest) = rest.split_at_mut(sb * kc);
        let (mx, inv) = rest.split_at_mut(sb);
        let (yt, ut, gt, a, mx, inv) = (
            &mut yt[..kd * m],
            &mut ut[..d * m],
            &mut gt[..d * m],
            &mut a[..kc * m],
            &mut mx[..m],
            &mut inv[..m],
        );
        let et = faer::MatRef::from_row_major_slice(e, m, d).transpose();
        // Yᵀ (K d × m) = q 1ᵀ + P (K d × d) εᵀ (q first, the product added to it), Uᵀ (d × m) =
        // L εᵀ.
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(yt, kd, m),
            faer::Accum::Replace,
            faer::MatRef::from_row_major_slice(pm, kd, d),
            et,
            1.0,
            faer::Par::Seq,
        );
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(ut, d, m),
            faer::Accum::Replace,
            faer::MatRef::from_row_major_slice(l, d, d),
            et,
            1.0,
            faer::Par::Seq,
        );
        // aₖ = base − ½ Σⱼ (uⱼ + δₖⱼ) (yₖⱼ + qₖⱼ), j in order (Yᵀ is only read, q is added
        // where it is used): four rows j at a time for every component, while Uᵀ's four rows
        // are in cache, then the last rows one at a time.
        a.fill(0.0);
        let row = |buf, r| row_of(buf, r, m);
        let mut j = 0;
        while j + 4 <= d {
            let u = [0, 1, 2, 3].map(|t| row(ut, j + t));
            for (k, ak) in a.chunks_exact_mut(m).enumerate() {
                let r = k * d + j;
                let y = [0, 1, 2, 3].map(|t| row(yt, r + t));
                fma_rows(
                    ak,
                    u,
                    [0, 1, 2, 3].map(|t| delta[r + t]),
                    y,
                    Some([0, 1, 2, 3].map(|t| q[r + t])),
                );
            }
            j += 4;
        }
        for (k, ak) in a.chunks_exact_mut(m).enumerate() {
            for j in j..d {
                let r = k * d + j;
                fma_rows(ak, [row(ut, j)], [delta[r]], [row(yt, r)], Some([q[r]]));
            }
            let c = base[k];
            ak.iter_mut().for_each(|v| *v = c - 0.5 * *v);
        }
        responsibilities(a, mx, inv, lp);
        // Gᵀ = Σₖ (Yₖᵀ + qₖ) ∘ rₖ, k in order (four components at a time, then one at a time),
        // and its row sums into Σ g.
        let (gsum, ge) = sums.split_at_mut(d);
        for (j, (grow, acc)) in gt.chunks_exact_mut(m).zip(gsum.iter_mut()).enumerate() {
            let y = |k: usize| row(yt, k * d + j);
            let r = |k: usize| row(a, k);
            let qk = |k: usize| q[k * d + j];
            grow.fill(0.0);
            let mut k = 0;
            while k + 4 <= kc {
                let ks = [k, k + 1, k + 2, k + 3];
                fma_rows(grow, ks.map(y), ks.map(qk), ks.map(r), None);
                k += 4;
            }
            for k in k..kc {
                fma_rows(grow, [y(k)], [qk(k)], [r(k)], None);
            }
            *acc += lanes_sum(grow);
        }
        // Σ g εᵀ += Gᵀ ε.
        gemm(ge, true, gt, e, d, m, d);
    }
}

/// `acc[i] += Σₜ (x[t][i] + a[t]) (y[t][i] + b[t])` (`b = None`: `y[t][i]` alone), t in order,
/// by fused multiply-adds
/// (`f64::mul_add`, correctly rounded: the same bits with or without an FMA instruction). The
/// element-wise passes of [`ScoreBlock`] are bound by memory traffic, so T rows per pass over
/// `acc` (T = 4) read and write it once instead of T times.
#[inline(always)]
fn fma_rows<const T: usize>(
    acc: &mut [f64],
    x: [&[f64]; T],
    a: [f64; T],
    y: [&[f64]; T],
    b: Option<[f64; T]>,
) {
    let m = acc.len();
    let (x, y) = (x.map(|r| &r[..m]), y.map(|r| &r[..m]));
    for (i, v) in acc.iter_mut().enumerate() {
        let mut s = *v;
        for t in 0..T {
            let yv = match b {
                Some(b) => y[t][i] + b[t],
                None => y[t][i],
            };
            s = (x[t][i] + a[t]).mul_add(yv, s);
        }
        *v = s;
    }
}

/// Row `r` of the row-major matrix `buf` with rows of `m` values.
#[inline(always)]
fn row_of(buf: &[f64], r: usize, m: usize) -> &[f64] {
    &buf[r * m..r * m + m]
}
