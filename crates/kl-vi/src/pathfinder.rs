//! Pathfinder (Zhang, Carpenter, Gelman & Vehtari 2022): Gaussian approximations along an
//! L-BFGS path, the best by ELBO, and several paths pooled by PSIS importance resampling.

// Index loops over small dense matrices read as the formulas they implement.
#![allow(clippy::needless_range_loop)]

use std::convert::Infallible;
use std::ops::ControlFlow;

use kl_dist::{Cholesky, HALF_LN_2PI, LogDensity, Mvn};
use kl_opt::{InverseHessian, LbfgsError, LbfgsHistory, LbfgsSettings, LbfgsStop, lbfgs};
use rand::RngExt;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

use crate::error::{check_at_least, check_finite};
use crate::{Error, State};

/// Settings of [`pathfinder`]. The defaults are Stan's (`stan::services::pathfinder`):
/// `history_size = 5`, `num_iterations = 1000`, `num_elbo_draws = 25`, `num_paths = 4`,
/// `num_draws = 1000` per path, `num_multi_draws = 1000`, `init_radius = 2`, `tol_grad = 1e-8`,
/// `tol_rel_obj = 1e4 · ε`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathfinderSettings {
    /// J, the L-BFGS pairs kept (the rank of Σ's low-rank part is at most 2J).
    pub history: usize,
    /// The most L-BFGS iterations per path.
    pub max_lbfgs_iters: usize,
    /// K, the draws per iterate for its ELBO estimate.
    pub elbo_draws: usize,
    /// The number of paths.
    pub n_paths: usize,
    /// The draws from each path's best Gaussian that are pooled for importance resampling.
    pub draws_per_path: usize,
    /// The number of draws returned, resampled (with replacement) from the pool by their
    /// Pareto-smoothed weights.
    pub n_draws: usize,
    /// Paths after the first start at `init` + U(−r, r)ᵈ, r = `init_radius` (the first starts
    /// at `init`).
    pub init_radius: f64,
    /// The line search's curvature constant c₂ (strong Wolfe; default 0.9), in (0, 1); the
    /// sufficient-decrease constant is c₁ = min(10⁻⁴, c₂ / 2). Close to 0 the line search is
    /// nearly exact.
    pub line_search_c2: f64,
    /// L-BFGS stops when ‖∇ log p‖∞ ≤ `grad_tol`.
    pub grad_tol: f64,
    /// L-BFGS stops when the relative decrease of −log p falls below `rel_value_tol`.
    pub rel_value_tol: f64,
}

impl Default for PathfinderSettings {
    fn default() -> Self {
        PathfinderSettings {
            history: 5,
            max_lbfgs_iters: 1000,
            elbo_draws: 25,
            n_paths: 4,
            draws_per_path: 1000,
            n_draws: 1000,
            init_radius: 2.0,
            line_search_c2: 0.9,
            grad_tol: 1e-8,
            rel_value_tol: 1e4 * f64::EPSILON,
        }
    }
}

/// What happened on one path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathSummary {
    /// The starting point.
    pub start: Vec<f64>,
    /// The L-BFGS iteration whose Gaussian had the best ELBO (`None` if none had a finite one).
    pub best_iteration: Option<usize>,
    /// That ELBO estimate (`−inf` if none).
    pub elbo: f64,
    /// L-BFGS steps taken.
    pub lbfgs_iterations: usize,
    /// Why L-BFGS stopped (`None` if the path failed).
    pub stop: Option<LbfgsStop>,
    /// Why the path failed, if it did (the others are used; the run fails only if all do).
    pub error: Option<Error>,
}

/// The result of [`pathfinder`].
#[derive(Debug, Clone, PartialEq)]
pub struct PathfinderOutcome {
    /// The single-path Gaussian with the highest ELBO estimate over all paths and iterates.
    pub q: Mvn,
    /// Its ELBO estimate.
    pub elbo: f64,
    /// The path it belongs to.
    pub best_path: usize,
    /// One summary per path.
    pub paths: Vec<PathSummary>,
    /// `n_draws` draws (row-major `n_draws × d`) resampled with replacement from the pooled
    /// draws of every successful path's best Gaussian, by their Pareto-smoothed importance
    /// weights p/q.
    pub draws: Vec<f64>,
    /// The Gaussian moment-matched to `draws` (mean and 1/n covariance); `None` if their
    /// covariance is singular (e.g. fewer distinct draws than d + 1).
    pub draws_fit: Option<Mvn>,
    /// Pareto k̂ of the pooled importance weights (kl-diag's PSIS).
    pub pareto_k: f64,
    /// Whether the observer stopped the run (the draws then come from the paths so far).
    pub interrupted: bool,
    /// Scores evaluated (L-BFGS).
    pub n_grad_evals: u64,
    /// Log densities evaluated without a score (ELBO and pooled draws).
    pub n_density_evals: u64,
}

/// One Pathfinder Gaussian N(μ, Σ), Σ = diag(α) + β γ βᵀ, in the factored form of the paper's
/// Algorithm 4: with diag(α)^{-1/2} β = Q R (thin QR) and I + R γ Rᵀ = L Lᵀ,
/// a draw is φ = μ + diag(√α) (Q (L − I) Qᵀ u + u), u ~ N(0, I), at O(d r) cost.
#[derive(Debug, Clone)]
struct Approx {
    mu: Vec<f64>,
    sqrt_alpha: Vec<f64>,
    /// Q, row-major d × r.
    q: Vec<f64>,
    /// L − I, row-major r × r.
    lmi: Vec<f64>,
    r: usize,
    log_det: f64,
}

impl Approx {
    fn new(h: &LbfgsHistory, ih: &InverseHessian) -> Option<Approx> {
        let d = h.dim();
        let k = ih.rank();
        let alpha = ih.alpha();
        // μ = x − H ∇f (∇f = −∇ log p): the Newton step.
        let mut hg = vec![0.0; d];
        ih.apply(h.grad(), &mut hg);
        let mu: Vec<f64> = h.x().iter().zip(&hg).map(|(x, v)| x - v).collect();
        let sqrt_alpha: Vec<f64> = alpha.iter().map(|a| a.sqrt()).collect();
        let log_alpha: f64 = alpha.iter().map(|a| a.ln()).sum();
        if k == 0 {
            return Some(Approx {
                mu,
                sqrt_alpha,
                q: Vec::new(),
                lmi: Vec::new(),
                r: 0,
                log_det: log_alpha,
            });
        }
        let beta = ih.beta();
        let mut m = vec![0.0; d * k];
        for i in 0..d {
            for j in 0..k {
                m[i * k + j] = beta[i * k + j] / sqrt_alpha[i];
            }
        }
        let qr = faer::MatRef::from_row_major_slice(&m, d, k).qr();
        let qm = qr.compute_thin_Q();
        let rm = qr.thin_R();
        let r = d.min(k);
        let mut q = vec![0.0; d * r];
        for i in 0..d {
            for j in 0..r {
                q[i * r + j] = qm[(i, j)];
            }
        }
        // T = I + R γ Rᵀ (r × r).
        let gamma = ih.gamma();
        let mut rg = vec![0.0; r * k];
        for a in 0..r {
            for b in 0..k {
                rg[a * k + b] = (0..k).map(|c| rm[(a, c)] * gamma[c * k + b]).sum();
            }
        }
        let mut t = vec![0.0; r * r];
        for a in 0..r {
            for b in 0..=a {
                let v: f64 = (0..k).map(|c| rg[a * k + c] * rm[(b, c)]).sum();
                t[a * r + b] = v;
                t[b * r + a] = v;
            }
            t[a * r + a] += 1.0;
        }
        if t.iter().chain(&q).chain(&mu).any(|v| !v.is_finite()) {
            return None;
        }
        let chol = Cholesky::new(&t, r).ok()?;
        let mut lmi = chol.factor().to_vec();
        for a in 0..r {
            lmi[a * r + a] -= 1.0;
        }
        Some(Approx {
            mu,
            sqrt_alpha,
            q,
            lmi,
            r,
            log_det: log_alpha + chol.log_det(),
        })
    }

    /// φ = μ + diag(√α)(Q (L − I) Qᵀ u + u) into `phi` (u from `rng` into `u`); returns log q(φ).
    fn draw(&self, rng: &mut Pcg64, u: &mut [f64], w: &mut [f64], phi: &mut [f64]) -> f64 {
        let d = self.mu.len();
        let r = self.r;
        for ui in u.iter_mut() {
            *ui = rng.sample(StandardNormal);
        }
        phi.copy_from_slice(u);
        if r > 0 {
            // w = Qᵀ u.
            w.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..d {
                for j in 0..r {
                    w[j] += self.q[i * r + j] * u[i];
                }
            }
            // z = (L − I) w, into the back of w's buffer.
            let (w, z) = w.split_at_mut(r);
            for a in 0..r {
                z[a] = (0..=a).map(|b| self.lmi[a * r + b] * w[b]).sum();
            }
            for i in 0..d {
                phi[i] += (0..r).map(|j| self.q[i * r + j] * z[j]).sum::<f64>();
            }
        }
        for i in 0..d {
            phi[i] = self.mu[i] + self.sqrt_alpha[i] * phi[i];
        }
        let uu: f64 = u.iter().map(|v| v * v).sum();
        -0.5 * (self.log_det + uu) - d as f64 * HALF_LN_2PI
    }

    /// N(μ, F Fᵀ) with F = diag(√α)(I + Q (L − I) Qᵀ), the map of [`Approx::draw`].
    fn to_mvn(&self) -> Option<Mvn> {
        let d = self.mu.len();
        let r = self.r;
        let mut f = vec![0.0; d * d];
        // Q (L − I) (d × r).
        let mut ql = vec![0.0; d * r];
        for i in 0..d {
            for b in 0..r {
                ql[i * r + b] = (b..r)
                    .map(|a| self.q[i * r + a] * self.lmi[a * r + b])
                    .sum();
            }
        }
        for i in 0..d {
            for j in 0..d {
                let mut v: f64 = (0..r).map(|b| ql[i * r + b] * self.q[j * r + b]).sum();
                if i == j {
                    v += 1.0;
                }
                f[i * d + j] = self.sqrt_alpha[i] * v;
            }
        }
        Mvn::from_factor(&self.mu, &f).ok()
    }
}

/// The best Gaussian of a path so far.
struct Best {
    approx: Approx,
    q: Mvn,
    elbo: f64,
    iteration: usize,
}

/// Running counters and the observer, shared by the paths.
struct Shared<'o> {
    observe: &'o mut dyn FnMut(&State<'_>) -> ControlFlow<()>,
    iteration: usize,
    n_grad_evals: u64,
    n_density_evals: u64,
    interrupted: bool,
}

/// Pathfinder (Zhang, Carpenter, Gelman & Vehtari, JMLR 2022), single- or multi-path.
///
/// Each path runs [`kl_opt::lbfgs`] on −log p̃ (history J) from its start. At every iterate
/// k ≥ 1 it forms N(μₖ, Σₖ) with Σₖ = diag(α) + β γ βᵀ, the inverse-Hessian estimate from the
/// last J pairs ([`kl_opt::InverseHessian`]), and μₖ = xₖ + Σₖ ∇ log p̃(xₖ); estimates its ELBO
/// by K draws (the paper's factorization, O(d J) per draw) as the mean of log p̃ − log q; shows
/// it to `observe` (`loss` = −ELBO); and keeps the best. An iterate whose ELBO is not finite
/// (a draw where log p̃ is NaN or +inf) or whose factorization fails is skipped.
///
/// Then `draws_per_path` draws from each path's best Gaussian are pooled, with log weights
/// log p̃ − log q_path (NaN or +inf log p̃ counts as weight zero), Pareto-smoothed (kl-diag's
/// PSIS, k̂ reported) and `n_draws` of them resampled with replacement. Paths run one after
/// another from the one `rng`: path 0 from `init`, path i > 0 from `init` + U(−r, r)ᵈ.
///
/// # Errors
/// [`Error::InvalidSetting`], [`Error::DimensionMismatch`] (`what = "init"`),
/// [`Error::NonFiniteInput`] for a non-finite `init`; when every path fails, the first path's
/// error ([`Error::NonFiniteLogDensity`] / [`Error::NonFiniteScore`] at its start,
/// [`Error::NoLbfgsStep`], [`Error::NoFiniteElbo`]); [`Error::Psis`] if the pooled weights
/// are all zero.
pub fn pathfinder<P: LogDensity + ?Sized>(
    p: &P,
    init: &[f64],
    s: &PathfinderSettings,
    rng: &mut Pcg64,
    observe: &mut dyn FnMut(&State<'_>) -> ControlFlow<()>,
) -> Result<PathfinderOutcome, Error> {
    check_at_least("history", s.history, 1)?;
    check_at_least("max_lbfgs_iters", s.max_lbfgs_iters, 1)?;
    check_at_least("elbo_draws", s.elbo_draws, 1)?;
    check_at_least("n_paths", s.n_paths, 1)?;
    check_at_least("draws_per_path", s.draws_per_path, 1)?;
    check_at_least("n_draws", s.n_draws, 1)?;
    if !(s.init_radius >= 0.0 && s.init_radius.is_finite()) {
        return Err(Error::InvalidSetting {
            name: "init_radius",
            value: s.init_radius,
            expected: "non-negative and finite",
        });
    }
    let d = p.dim();
    if init.len() != d {
        return Err(Error::DimensionMismatch {
            what: "init",
            expected: d,
            got: init.len(),
        });
    }
    check_finite("init", init)?;
    if !(s.line_search_c2 > 0.0 && s.line_search_c2 < 1.0) {
        return Err(Error::InvalidSetting {
            name: "line_search_c2",
            value: s.line_search_c2,
            expected: "in (0, 1)",
        });
    }
    let lbfgs_settings = LbfgsSettings {
        history: s.history,
        max_iters: s.max_lbfgs_iters,
        c1: (0.5 * s.line_search_c2).min(1e-4),
        c2: s.line_search_c2,
        grad_tol: s.grad_tol,
        rel_value_tol: s.rel_value_tol,
        ..LbfgsSettings::default()
    };
    let mut shared = Shared {
        observe,
        iteration: 0,
        n_grad_evals: 0,
        n_density_evals: 0,
        interrupted: false,
    };
    let mut summaries = Vec::with_capacity(s.n_paths);
    let mut bests: Vec<Option<Best>> = Vec::with_capacity(s.n_paths);
    for path in 0..s.n_paths {
        if shared.interrupted {
            break;
        }
        let start: Vec<f64> = if path == 0 {
            init.to_vec()
        } else {
            init.iter()
                .map(|x| x + s.init_radius * (2.0 * rng.random::<f64>() - 1.0))
                .collect()
        };
        let (summary, best) = run_path(p, path, start, s, &lbfgs_settings, rng, &mut shared);
        summaries.push(summary);
        bests.push(best);
    }
    // The best single-path Gaussian.
    let Some((best_path, _)) = bests
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.as_ref().map(|b| (i, b.elbo)))
        .fold(None, |acc: Option<(usize, f64)>, (i, e)| match acc {
            Some((_, ae)) if ae >= e => acc,
            _ => Some((i, e)),
        })
    else {
        return Err(summaries
            .iter()
            .find_map(|s| s.error.clone())
            .unwrap_or(Error::NoFiniteElbo));
    };
    // Pooled draws and their log weights.
    let used: Vec<&Best> = bests.iter().flatten().collect();
    let n_pool = used.len() * s.draws_per_path;
    let mut pool = vec![0.0; n_pool * d];
    let mut log_q = vec![0.0; n_pool];
    let mut u = vec![0.0; d];
    let mut w = vec![0.0; 2 * d.max(1) + 4 * s.history];
    for (b, (chunk, lq)) in used.iter().zip(
        pool.chunks_mut(s.draws_per_path * d)
            .zip(log_q.chunks_mut(s.draws_per_path)),
    ) {
        for (phi, l) in chunk.chunks_mut(d).zip(lq.iter_mut()) {
            *l = b.approx.draw(rng, &mut u, &mut w, phi);
        }
    }
    let mut log_w = vec![0.0; n_pool];
    p.log_prob_batch(&pool, &mut log_w);
    shared.n_density_evals += n_pool as u64;
    for (lw, lq) in log_w.iter_mut().zip(&log_q) {
        *lw = if lw.is_nan() || *lw == f64::INFINITY {
            f64::NEG_INFINITY
        } else {
            *lw - lq
        };
    }
    let smoothed = kl_diag::psis(&log_w).map_err(Error::Psis)?;
    let pareto_k = smoothed.pareto_k();
    // Resampling with replacement: inverse CDF of the normalized smoothed weights.
    let mut cdf = Vec::with_capacity(n_pool);
    let mut acc = 0.0;
    for lw in smoothed.log_weights() {
        acc += lw.exp();
        cdf.push(acc);
    }
    let total = acc;
    let mut draws = vec![0.0; s.n_draws * d];
    for out in draws.chunks_mut(d) {
        let target = rng.random::<f64>() * total;
        let i = cdf.partition_point(|c| *c <= target).min(n_pool - 1);
        out.copy_from_slice(&pool[i * d..(i + 1) * d]);
    }
    let draws_fit = moment_match(&draws, d);
    let best = bests.swap_remove(best_path).ok_or(Error::NoFiniteElbo)?;
    Ok(PathfinderOutcome {
        q: best.q,
        elbo: best.elbo,
        best_path,
        paths: summaries,
        draws,
        draws_fit,
        pareto_k,
        interrupted: shared.interrupted,
        n_grad_evals: shared.n_grad_evals,
        n_density_evals: shared.n_density_evals,
    })
}

/// The Gaussian with the sample mean and (1/n) covariance of `draws`.
fn moment_match(draws: &[f64], d: usize) -> Option<Mvn> {
    let n = draws.len() / d;
    let mut mean = vec![0.0; d];
    for x in draws.chunks_exact(d) {
        for (m, xi) in mean.iter_mut().zip(x) {
            *m += xi / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    let mut c = vec![0.0; d];
    for x in draws.chunks_exact(d) {
        for i in 0..d {
            c[i] = x[i] - mean[i];
        }
        crate::linalg::add_outer(&mut cov, &c, &c, 1.0 / n as f64);
    }
    crate::linalg::symmetrize(&mut cov, d);
    Mvn::new(&mean, &cov).ok()
}

/// One path: L-BFGS with the ELBO of every iterate's Gaussian computed in the observer.
fn run_path<P: LogDensity + ?Sized>(
    p: &P,
    path: usize,
    start: Vec<f64>,
    s: &PathfinderSettings,
    lbfgs_settings: &LbfgsSettings,
    rng: &mut Pcg64,
    shared: &mut Shared<'_>,
) -> (PathSummary, Option<Best>) {
    let d = p.dim();
    let k = s.elbo_draws;
    let mut best: Option<Best> = None;
    let mut failure: Option<Error> = None;
    let mut xs = vec![0.0; k * d];
    let mut lq = vec![0.0; k];
    let mut lp = vec![0.0; k];
    let mut u = vec![0.0; d];
    let mut w = vec![0.0; 2 * d.max(1) + 4 * s.history];
    let n_grad = std::cell::Cell::new(0u64);
    let objective = |x: &[f64], g: &mut [f64]| -> Result<f64, Infallible> {
        n_grad.set(n_grad.get() + 1);
        let v = p.grad_log_prob(x, g);
        g.iter_mut().for_each(|gi| *gi = -*gi);
        Ok(-v)
    };
    let result = lbfgs(&start, lbfgs_settings, objective, |h: &LbfgsHistory| {
        if h.iteration() == 0 {
            return ControlFlow::Continue(());
        }
        let ih = h.inverse_hessian();
        let Some(approx) = Approx::new(h, &ih) else {
            return ControlFlow::Continue(());
        };
        for (x, l) in xs.chunks_mut(d).zip(lq.iter_mut()) {
            *l = approx.draw(rng, &mut u, &mut w, x);
        }
        p.log_prob_batch(&xs, &mut lp);
        shared.n_density_evals += k as u64;
        let elbo = if lp.iter().all(|v| v.is_finite() || *v == f64::NEG_INFINITY) {
            lp.iter().zip(&lq).map(|(a, b)| a - b).sum::<f64>() / k as f64
        } else {
            f64::NAN
        };
        let Some(q) = approx.to_mvn() else {
            return ControlFlow::Continue(());
        };
        shared.iteration += 1;
        let state = State {
            iteration: shared.iteration,
            q: &q,
            loss: elbo.is_finite().then_some(-elbo),
            n_grad_evals: shared.n_grad_evals + n_grad.get(),
            n_density_evals: shared.n_density_evals,
        };
        let flow = (shared.observe)(&state);
        if elbo.is_finite() && best.as_ref().is_none_or(|b| elbo > b.elbo) {
            best = Some(Best {
                approx,
                q,
                elbo,
                iteration: h.iteration(),
            });
        }
        if flow.is_break() {
            shared.interrupted = true;
        }
        flow
    });
    shared.n_grad_evals += n_grad.get();
    let (stop, iterations) = match result {
        Ok(o) => (Some(o.stop), o.iterations),
        Err(e) => {
            failure = Some(match e {
                LbfgsError::NonFiniteValue { value } => Error::NonFiniteLogDensity {
                    iteration: 0,
                    draw: 0,
                    value: -value,
                },
                LbfgsError::NonFiniteGradient { index, value } => Error::NonFiniteScore {
                    iteration: 0,
                    draw: 0,
                    index,
                    value: -value,
                },
                LbfgsError::InvalidSetting {
                    name,
                    value,
                    expected,
                } => Error::InvalidSetting {
                    name,
                    value,
                    expected,
                },
                _ => Error::NoLbfgsStep { path },
            });
            (None, 0)
        }
    };
    if failure.is_none() && best.is_none() && !shared.interrupted {
        failure = Some(Error::NoFiniteElbo);
    }
    let summary = PathSummary {
        start,
        best_iteration: best.as_ref().map(|b| b.iteration),
        elbo: best.as_ref().map_or(f64::NEG_INFINITY, |b| b.elbo),
        lbfgs_iterations: iterations,
        stop,
        error: failure,
    };
    (summary, best)
}
