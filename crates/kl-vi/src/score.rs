//! Score-based VI: Gaussian score matching (GSM) and batch and match (BaM), their closed-form
//! updates and the loop they share.

use std::ops::ControlFlow;

use kl_dist::{Cholesky, LogDensity, Mvn, Sample};
use rand_pcg::Pcg64;

use crate::error::{check_at_least, check_positive, check_scores};
use crate::linalg::{add_outer, dot, matmul, matvec, sym_eigen, symmetrize};
use crate::{Error, Outcome, State};

/// Settings of [`gsm`]; the defaults are those of the authors' reference implementation
/// (github.com/modichirag/GSM-VI, `gsmvi/gsm.py`: `batch_size=2`, `niter=5000`).
#[derive(Debug, Clone, PartialEq)]
pub struct GsmSettings {
    /// B, the draws of q per iteration whose updates are averaged (default 2).
    pub batch_size: usize,
    /// The number of iterations (default 5000).
    pub max_iters: usize,
}

impl Default for GsmSettings {
    fn default() -> Self {
        GsmSettings {
            batch_size: 2,
            max_iters: 5000,
        }
    }
}

/// The learning-rate schedule λₜ of [`bam`] (t = 0, 1, … the iteration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// λₜ = λ for every t.
    Constant(f64),
    /// λₜ = `scale` · B · d / (t + 1), the decaying schedule of Cai et al. (2024) with
    /// `scale = 1`.
    Decaying {
        /// The factor in front of B d / (t + 1).
        scale: f64,
    },
}

impl Schedule {
    /// λₜ for batch size `batch_size` and dimension `dim`.
    pub fn learning_rate(&self, t: usize, batch_size: usize, dim: usize) -> f64 {
        match *self {
            Schedule::Constant(l) => l,
            Schedule::Decaying { scale } => scale * (batch_size * dim) as f64 / (t as f64 + 1.0),
        }
    }

    fn check(&self) -> Result<(), Error> {
        match *self {
            Schedule::Constant(l) => check_positive("schedule (constant λ)", l),
            Schedule::Decaying { scale } => check_positive("schedule (decaying scale)", scale),
        }
    }
}

/// Settings of [`bam`].
#[derive(Debug, Clone, PartialEq)]
pub struct BamSettings {
    /// B, the draws of q per iteration (default 10).
    pub batch_size: usize,
    /// The number of iterations (default 5000, as the reference implementation's `niter`).
    pub max_iters: usize,
    /// The learning rate λₜ (default [`Schedule::Decaying`] with `scale = 1`: λₜ = B d / (t + 1)).
    pub schedule: Schedule,
}

impl Default for BamSettings {
    fn default() -> Self {
        BamSettings {
            batch_size: 10,
            max_iters: 5000,
            schedule: Schedule::Decaying { scale: 1.0 },
        }
    }
}

/// Checks that `points` and `scores` hold the same whole number of points of dimension `d`.
fn check_batch(q: &Mvn, points: &[f64], scores: &[f64]) -> Result<usize, Error> {
    let d = q.dim();
    if points.is_empty() || !points.len().is_multiple_of(d) {
        return Err(Error::DimensionMismatch {
            what: "points",
            expected: d,
            got: points.len(),
        });
    }
    if scores.len() != points.len() {
        return Err(Error::DimensionMismatch {
            what: "scores",
            expected: points.len(),
            got: scores.len(),
        });
    }
    crate::error::check_finite("points", points)?;
    crate::error::check_finite("scores", scores)?;
    Ok(points.len() / d)
}

/// One GSM update (Modi et al. 2023, Algorithm 1 and its closed form): for each point `x` of
/// the batch with score `g` = ∇ log p(x), the (μ, Σ) closest to q in KL whose score matches,
/// −Σ'⁻¹(x − μ') = g, written as increments (Δμ, ΔΣ) with
///
/// ρ = ½ √(1 + 4 (gᵀΣg + ((μ − x)ᵀg)²)) − ½,
/// Δμ = 1/(1 + ρ) [I − (μ − x) gᵀ / (1 + ρ + (μ − x)ᵀg)] (Σg − μ + x),
/// ΔΣ = (μ − x)(μ − x)ᵀ − (μ + Δμ − x)(μ + Δμ − x)ᵀ;
///
/// the increments are averaged over the batch. `points` and `scores` are row-major
/// B × d.
///
/// # Errors
/// [`Error::DimensionMismatch`] for a batch that is not whole points of q's dimension,
/// [`Error::NonFiniteInput`] for a non-finite entry, and [`Error::NotPositiveDefinite`]
/// (`what = "GSM covariance update"`) when the averaged Σ' is not positive definite (possible
/// for B > 1 or through rounding; [`gsm`] rejects such a step).
pub fn gsm_step(q: &Mvn, points: &[f64], scores: &[f64]) -> Result<Mvn, Error> {
    let b = check_batch(q, points, scores)?;
    let d = q.dim();
    let (mu, sigma) = (q.mean(), q.covariance());
    let mut new_mu = mu.to_vec();
    let mut new_sigma = sigma.to_vec();
    let w = 1.0 / b as f64;
    let mut sg = vec![0.0; d];
    let mut diff = vec![0.0; d];
    let mut step = vec![0.0; d];
    let mut moved = vec![0.0; d];
    for (x, g) in points.chunks_exact(d).zip(scores.chunks_exact(d)) {
        matvec(sigma, g, d, d, &mut sg);
        for i in 0..d {
            diff[i] = mu[i] - x[i];
        }
        let gsg = dot(g, &sg);
        let mu_g = dot(&diff, g);
        let rho = 0.5 * (1.0 + 4.0 * (gsg + mu_g * mu_g)).sqrt() - 0.5;
        // eps0 = Σg − μ + x = Σg − diff.
        for i in 0..d {
            step[i] = sg[i] - diff[i];
        }
        let coef = dot(g, &step) / (1.0 + rho + mu_g);
        for i in 0..d {
            step[i] = (step[i] - diff[i] * coef) / (1.0 + rho);
            new_mu[i] += w * step[i];
            moved[i] = diff[i] + step[i];
        }
        add_outer(&mut new_sigma, &diff, &diff, w);
        add_outer(&mut new_sigma, &moved, &moved, -w);
    }
    symmetrize(&mut new_sigma, d);
    build(&new_mu, &new_sigma, "GSM covariance update")
}

fn build(mean: &[f64], cov: &[f64], what: &'static str) -> Result<Mvn, Error> {
    if mean.iter().chain(cov).any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteUpdate { what });
    }
    Mvn::new(mean, cov).map_err(|e| match e {
        kl_dist::Error::NotPositiveDefinite { pivot } => Error::NotPositiveDefinite { what, pivot },
        source => Error::Distribution { what, source },
    })
}

/// The symmetric positive definite solution Σ' of the BaM matrix equation Σ' U Σ' + Σ' = V
/// for symmetric positive semidefinite `u` and symmetric positive definite `v` (row-major
/// d × d), computed by symmetric factorizations only: with V = C Cᵀ (Cholesky) and
/// Cᵀ U C = Q Λ Qᵀ (faer's `self_adjoint_eigen`),
///
/// Σ' = C Q diag(fᵢ) Qᵀ Cᵀ, fᵢ = 1 / (½ + √(¼ + λᵢ)),
///
/// the symmetric form of 2V (I + (I + 4UV)^{1/2})⁻¹; returns the factor W = C Q diag(√fᵢ)
/// with Σ' = W Wᵀ, row-major.
///
/// # Errors
/// [`Error::DimensionMismatch`] for matrices that are not `d × d`, [`Error::NonFiniteInput`],
/// [`Error::NotPositiveDefinite`] (`what = "V"`) and [`Error::EigenFailed`].
pub fn bam_factor(u: &[f64], v: &[f64], d: usize) -> Result<Vec<f64>, Error> {
    for (what, m) in [("U", u), ("V", v)] {
        if m.len() != d * d {
            return Err(Error::DimensionMismatch {
                what,
                expected: d * d,
                got: m.len(),
            });
        }
        crate::error::check_finite(what, m)?;
    }
    let chol =
        Cholesky::new(v, d).map_err(|pivot| Error::NotPositiveDefinite { what: "V", pivot })?;
    let c = chol.factor();
    let mut uc = vec![0.0; d * d];
    matmul(u, c, d, d, d, &mut uc);
    let mut m = vec![0.0; d * d];
    crate::linalg::matmul_tn(c, &uc, d, d, d, &mut m);
    symmetrize(&mut m, d);
    let (lambda, q) = sym_eigen(&m, d, "CᵀUC")?;
    // Cᵀ U C is positive semidefinite; a negative eigenvalue is rounding, clamp it.
    let f: Vec<f64> = lambda
        .iter()
        .map(|&l| (1.0 / (0.5 + (0.25 + l.max(0.0)).sqrt())).sqrt())
        .collect();
    let mut qf = q;
    for row in qf.chunks_exact_mut(d) {
        for (x, fj) in row.iter_mut().zip(&f) {
            *x *= fj;
        }
    }
    let mut w = vec![0.0; d * d];
    matmul(c, &qf, d, d, d, &mut w);
    Ok(w)
}

/// Σ' = W Wᵀ for the factor of [`bam_factor`], row-major: the solution of Σ' U Σ' + Σ' = V.
///
/// # Errors
/// As [`bam_factor`].
pub fn bam_covariance(u: &[f64], v: &[f64], d: usize) -> Result<Vec<f64>, Error> {
    let w = bam_factor(u, v, d)?;
    let mut s = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let x = dot(&w[i * d..(i + 1) * d], &w[j * d..(j + 1) * d]);
            s[i * d + j] = x;
            s[j * d + i] = x;
        }
    }
    Ok(s)
}

/// One BaM update (Cai et al. 2024, Algorithm 1) with learning rate λ from a batch of B points
/// xᵦ ~ q and their scores gᵦ (row-major B × d): with the batch means x̄, ḡ and the
/// covariances C = (1/B) Σ (xᵦ − x̄)(xᵦ − x̄)ᵀ, Γ = (1/B) Σ (gᵦ − ḡ)(gᵦ − ḡ)ᵀ,
///
/// U = λ Γ + λ/(1+λ) ḡ ḡᵀ, V = Σ + λ C + λ/(1+λ) (μ − x̄)(μ − x̄)ᵀ,
/// Σ' solves Σ' U Σ' + Σ' = V ([`bam_factor`]), μ' = 1/(1+λ) μ + λ/(1+λ) (Σ' ḡ + x̄).
///
/// (The statistics divide by B, as in the reference implementation `gsmvi/bam.py`.)
///
/// # Errors
/// As [`gsm_step`] for the batch; [`Error::InvalidSetting`] for λ not positive and finite;
/// [`Error::NotPositiveDefinite`] (`what = "BaM covariance update"`) when Σ' is singular to
/// working precision.
pub fn bam_step(q: &Mvn, points: &[f64], scores: &[f64], lambda: f64) -> Result<Mvn, Error> {
    check_positive("learning_rate", lambda)?;
    let b = check_batch(q, points, scores)?;
    let d = q.dim();
    let w = 1.0 / b as f64;
    let mut xbar = vec![0.0; d];
    let mut gbar = vec![0.0; d];
    for (x, g) in points.chunks_exact(d).zip(scores.chunks_exact(d)) {
        for i in 0..d {
            xbar[i] += w * x[i];
            gbar[i] += w * g[i];
        }
    }
    let shrink = lambda / (1.0 + lambda);
    let mut u = vec![0.0; d * d];
    let mut v = q.covariance().to_vec();
    let mut dx = vec![0.0; d];
    let mut dg = vec![0.0; d];
    for (x, g) in points.chunks_exact(d).zip(scores.chunks_exact(d)) {
        for i in 0..d {
            dx[i] = x[i] - xbar[i];
            dg[i] = g[i] - gbar[i];
        }
        add_outer(&mut u, &dg, &dg, lambda * w);
        add_outer(&mut v, &dx, &dx, lambda * w);
    }
    add_outer(&mut u, &gbar, &gbar, shrink);
    let dm: Vec<f64> = q.mean().iter().zip(&xbar).map(|(m, x)| m - x).collect();
    add_outer(&mut v, &dm, &dm, shrink);
    symmetrize(&mut u, d);
    symmetrize(&mut v, d);
    let what = "BaM covariance update";
    let factor = bam_factor(&u, &v, d).map_err(|e| match e {
        Error::NotPositiveDefinite { pivot, .. } => Error::NotPositiveDefinite { what, pivot },
        other => other,
    })?;
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let x = dot(&factor[i * d..(i + 1) * d], &factor[j * d..(j + 1) * d]);
            cov[i * d + j] = x;
            cov[j * d + i] = x;
        }
    }
    let mut sg = vec![0.0; d];
    matvec(&cov, &gbar, d, d, &mut sg);
    let mean: Vec<f64> = (0..d)
        .map(|i| (q.mean()[i] + lambda * (sg[i] + xbar[i])) / (1.0 + lambda))
        .collect();
    build(&mean, &cov, what)
}

/// Gaussian score matching VI (Modi, Gower, Margossian, Blei & Saul, NeurIPS 2023): each
/// iteration draws `batch_size` points from q, evaluates their scores (one
/// `grad_log_prob_batch` call) and applies [`gsm_step`].
///
/// A step whose covariance is not positive definite (the Cholesky factorization of the
/// averaged Σ' fails, or an entry of the update overflows) is **rejected**: q stays as it was, the iteration counts, and
/// [`Outcome::rejected_steps`] is incremented (the reference implementation's
/// `_check_goodness` "revert"). `observe` sees q after every iteration (rejected or not);
/// [`ControlFlow::Break`] stops the run with [`Outcome::interrupted`] set. `loss` is `None`
/// (GSM computes no ELBO).
///
/// # Errors
/// [`Error::InvalidSetting`] (`batch_size` or `max_iters` zero), [`Error::DimensionMismatch`]
/// (`what = "q0"`), [`Error::NonFiniteScore`] naming the iteration, draw and coordinate.
pub fn gsm<P: LogDensity + ?Sized>(
    p: &P,
    q0: &Mvn,
    s: &GsmSettings,
    rng: &mut Pcg64,
    observe: &mut dyn FnMut(&State<'_>) -> ControlFlow<()>,
) -> Result<Outcome, Error> {
    check_at_least("batch_size", s.batch_size, 1)?;
    check_at_least("max_iters", s.max_iters, 1)?;
    run(
        p,
        q0,
        s.batch_size,
        s.max_iters,
        rng,
        observe,
        |_, q, xs, gs| gsm_step(q, xs, gs),
    )
}

/// Batch and match VI (Cai, Modi, Pillaud-Vivien, Margossian, Gower, Blei & Saul, ICML 2024):
/// each iteration t draws `batch_size` points from q, evaluates their scores and applies
/// [`bam_step`] with λₜ from the schedule. Rejections, observation and errors as in [`gsm`]
/// (Σ' is positive definite by construction, so a rejection means it is singular to working
/// precision).
///
/// # Errors
/// As [`gsm`], and [`Error::InvalidSetting`] for a schedule whose λ or scale is not positive.
pub fn bam<P: LogDensity + ?Sized>(
    p: &P,
    q0: &Mvn,
    s: &BamSettings,
    rng: &mut Pcg64,
    observe: &mut dyn FnMut(&State<'_>) -> ControlFlow<()>,
) -> Result<Outcome, Error> {
    check_at_least("batch_size", s.batch_size, 1)?;
    check_at_least("max_iters", s.max_iters, 1)?;
    s.schedule.check()?;
    let (b, d) = (s.batch_size, p.dim());
    let schedule = s.schedule;
    run(p, q0, b, s.max_iters, rng, observe, move |t, q, xs, gs| {
        bam_step(q, xs, gs, schedule.learning_rate(t, b, d))
    })
}

/// The loop of [`gsm`] and [`bam`]: draw, score, update (or reject), observe. Memory: the
/// batch buffers and two normals, independent of `max_iters`.
fn run<P: LogDensity + ?Sized>(
    p: &P,
    q0: &Mvn,
    batch_size: usize,
    max_iters: usize,
    rng: &mut Pcg64,
    observe: &mut dyn FnMut(&State<'_>) -> ControlFlow<()>,
    mut update: impl FnMut(usize, &Mvn, &[f64], &[f64]) -> Result<Mvn, Error>,
) -> Result<Outcome, Error> {
    let d = p.dim();
    if q0.dim() != d {
        return Err(Error::DimensionMismatch {
            what: "q0",
            expected: d,
            got: q0.dim(),
        });
    }
    let mut q = q0.clone();
    let mut xs = vec![0.0; batch_size * d];
    let mut gs = vec![0.0; batch_size * d];
    let mut lp = vec![0.0; batch_size];
    let mut out = Outcome {
        q: q0.clone(),
        iterations: 0,
        interrupted: false,
        n_grad_evals: 0,
        n_density_evals: 0,
        rejected_steps: 0,
    };
    for t in 0..max_iters {
        q.sample(rng, &mut xs);
        p.grad_log_prob_batch(&xs, &mut lp, &mut gs);
        out.n_grad_evals += batch_size as u64;
        check_scores(t, &gs, d)?;
        match update(t, &q, &xs, &gs) {
            Ok(next) => q = next,
            Err(Error::NotPositiveDefinite { .. } | Error::NonFiniteUpdate { .. }) => {
                out.rejected_steps += 1;
            }
            Err(e) => return Err(e),
        }
        out.iterations = t + 1;
        let state = State {
            iteration: t + 1,
            q: &q,
            loss: None,
            n_grad_evals: out.n_grad_evals,
            n_density_evals: out.n_density_evals,
        };
        if observe(&state).is_break() {
            out.interrupted = true;
            break;
        }
    }
    out.q = q;
    Ok(out)
}
