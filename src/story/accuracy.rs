//! `accuracy.png` (issue #21): accuracy against the number of evaluations of the target, log-log,
//! for four ways of fitting a full-rank Gaussian q — ADVI (kl-fit's reverse KL), Pathfinder, GSM
//! and BaM (kl-vi) — on three targets, one panel each:
//!
//! - (a) a Gaussian p in d = 16 with condition number 100 ([`ill_conditioned_gaussian`]): D(q‖p)
//!   solid, D(p‖q) dotted, both in closed form;
//! - (b) the zoo's banana (`experiments/zoo-banana-reverse.toml`): the ELBO gap
//!   ELBO(q*) − ELBO(q) = D(q‖p) − D(q*‖p) to the best Gaussian q*, the ELBO exact by
//!   Gauss–Hermite quadrature ([`banana_elbo`]);
//! - (c) the breast-cancer logistic posterior (`experiments/logistic-reverse.toml`): the ELBO gap,
//!   the ELBO exact by the one-dimensional reduction of each likelihood term
//!   ([`logistic_elbo`]).
//!
//! ELBO(q*) is the best Gaussian ELBO of `reference/best_gaussian.json` (computed outside the
//! project by `reference/best_gaussian.py`): [`BEST_ELBO_BANANA`], [`BEST_ELBO_LOGISTIC`]. A
//! score-based fit (GSM, BaM with a decaying step) converges to its own fixed point, not to q*:
//! on a non-Gaussian target its gap levels off above zero, and the figure shows where.
//!
//! The x axis counts what each algorithm pays: gradients of log p̃ (each also gives log p̃) plus
//! log densities evaluated alone — Pathfinder's K ELBO draws at every iterate, ADVI's step-size
//! search and draws. Pathfinder's point at a cost is the best iterate *by its own ELBO estimate*
//! so far (what it would return if stopped there); ADVI's curve is its iterates, its marker the
//! averaged answer it returns. Every algorithm starts from q₀ = N(m₀, I) (Pathfinder from m₀),
//! m₀ the experiment file's starting mean (0 for the Gaussian).
//!
//! # Invariants
//! - Every run has a fixed seed and runs on one thread; the three panels run on rayon's pool
//!   and are collected in order: the same bytes at any thread count.
//! - Memory does not grow with the iterations: a curve keeps a point only when the cost has
//!   grown by the factor [`POINT_STEP`] since its last one (and its last state), at most
//!   [`POINTS_PER_DECADE`] points a decade of cost.
//! - Every plotted value is finite, and the cost of a curve strictly increasing
//!   (`tests/figures.rs`); a non-finite value or a failed run is an error naming the panel and the
//!   algorithm.

use std::ops::ControlFlow;

use kl_dist::{Banana, LogDensity, LogisticRegression, Mvn, kl_divergence};
use kl_fit::{Fit, Progress};
use kl_render::{Axes, FigureSpec, HAlign, LineStyle, MarkerStyle, Rgba, SubplotParams, VAlign};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use rayon::prelude::*;

use crate::config::{self, Experiment, Files, TargetSpec};
use crate::error::Error;
use crate::figures::{Output, Style, new_figure, png, tab10};

/// The dimension of panel (a)'s Gaussian.
pub const GAUSSIAN_DIM: usize = 16;
/// The condition number of its covariance.
pub const GAUSSIAN_CONDITION: f64 = 100.0;
/// The seed of its rotation and mean.
pub const GAUSSIAN_SEED: u64 = 21;

/// The best full-rank Gaussian ELBO on the banana: `reference/best_gaussian.json`,
/// `targets.banana["full-rank"].elbo_quadrature` (= −min D(q‖p), the banana is normalized).
pub const BEST_ELBO_BANANA: f64 = -0.25368792853436695;
/// The best full-rank Gaussian ELBO on the logistic posterior: `reference/best_gaussian.json`,
/// `targets.logistic["full-rank"].elbo_quadrature` (log p̃ unnormalized, as kl-dist's).
pub const BEST_ELBO_LOGISTIC: f64 = -0.35380364404453246;

/// Points a curve keeps per decade of cost, at most.
pub const POINTS_PER_DECADE: f64 = 20.0;
/// The factor by which the cost grows between two kept points: 10^(1/[`POINTS_PER_DECADE`]).
pub const POINT_STEP: f64 = 1.122_018_454_301_963_3;

/// The values below this are drawn on the lower edge of a panel (log axes need a floor).
pub const FLOOR: f64 = 1e-12;

/// The panels of the figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// (a) the ill-conditioned Gaussian.
    Gaussian,
    /// (b) the banana.
    Banana,
    /// (c) the logistic posterior.
    Logistic,
}

impl Which {
    /// All three, in the figure's order.
    pub const ALL: [Which; 3] = [Which::Gaussian, Which::Banana, Which::Logistic];

    fn name(self) -> &'static str {
        match self {
            Which::Gaussian => "gaussian",
            Which::Banana => "banana",
            Which::Logistic => "logistic",
        }
    }
}

/// The algorithms, in the legend's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// kl-fit's reverse KL: Adam, the "auto" step size, [`ADVI_DRAWS`] draws a step.
    Advi,
    /// Single-path Pathfinder with Stan's history J = 5.
    Pathfinder5,
    /// Single-path Pathfinder with history J = d.
    PathfinderD,
    /// GSM with batch 2 (the authors' default).
    Gsm,
    /// BaM with batch [`BAM_BATCH`] and the paper's decaying λₜ = B d / (t + 1).
    Bam,
}

impl Algorithm {
    /// All of them.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Advi,
        Algorithm::Pathfinder5,
        Algorithm::PathfinderD,
        Algorithm::Gsm,
        Algorithm::Bam,
    ];

    /// The legend's label.
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Advi => "ADVI (Adam, auto step, 16 draws)",
            Algorithm::Pathfinder5 => "Pathfinder (J = 5, K = 25)",
            Algorithm::PathfinderD => "Pathfinder (J = d, K = 25)",
            Algorithm::Gsm => "GSM (B = 2)",
            Algorithm::Bam => "BaM (B = 16, λ = Bd/(t+1))",
        }
    }

    fn style(self, width: f64) -> LineStyle {
        match self {
            Algorithm::Advi => LineStyle::solid(tab10(0), width),
            Algorithm::Pathfinder5 => LineStyle::solid(tab10(1), width),
            Algorithm::PathfinderD => LineStyle::dashed(tab10(1), width),
            Algorithm::Gsm => LineStyle::solid(tab10(2), width),
            Algorithm::Bam => LineStyle::solid(tab10(3), width),
        }
    }
}

/// Draws of q per ADVI step.
pub const ADVI_DRAWS: usize = 16;
/// ADVI's cap on iterations: far above what its "auto" schedule needs to settle, so each curve
/// ends where the fit stops by itself.
pub const ADVI_MAX_ITERS: usize = 60_000;
/// BaM's batch.
pub const BAM_BATCH: usize = 16;
/// Pathfinder's draws per iterate for its ELBO estimate (Stan's K).
const PATHFINDER_K: usize = 25;

/// One curve: `[cost, value]` points, the cost strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Whose.
    pub algorithm: Algorithm,
    /// `true` for D(p‖q) (panel (a)); `false` for D(q‖p) or the ELBO gap.
    pub forward: bool,
    /// The points.
    pub points: Vec<[f64; 2]>,
}

/// What one panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelData {
    /// Which panel.
    pub which: Which,
    /// Its curves.
    pub curves: Vec<Curve>,
    /// ADVI's returned (averaged) answer: its total cost and its value.
    pub advi_answer: [f64; 2],
}

impl PanelData {
    /// The reverse (or ELBO-gap) curve of `algorithm`.
    pub fn curve(&self, algorithm: Algorithm) -> Option<&Curve> {
        self.curves
            .iter()
            .find(|c| c.algorithm == algorithm && !c.forward)
    }
}

/// Panel (a)'s target: N(m, Σ) in d = [`GAUSSIAN_DIM`] with Σ = Q diag(λ) Qᵀ, the eigenvalues
/// λₖ = 100^{k/(d−1)} (log-spaced from 1 to [`GAUSSIAN_CONDITION`]) and Q the orthonormal
/// factor of a d × d matrix of standard normal draws (modified Gram–Schmidt on its columns), then
/// m ~ N(0, I), all drawn in that order from `Pcg64::seed_from_u64(GAUSSIAN_SEED)`.
///
/// # Errors
/// Never in practice (kl-dist's check of the covariance).
pub fn ill_conditioned_gaussian() -> Result<Mvn, kl_dist::Error> {
    let d = GAUSSIAN_DIM;
    let mut rng = Pcg64::seed_from_u64(GAUSSIAN_SEED);
    let mut a: Vec<f64> = (0..d * d)
        .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng))
        .collect();
    // Modified Gram–Schmidt on the columns of the row-major `a`.
    for j in 0..d {
        for k in 0..j {
            let r: f64 = (0..d).map(|i| a[i * d + k] * a[i * d + j]).sum();
            for i in 0..d {
                a[i * d + j] -= r * a[i * d + k];
            }
        }
        let norm = (0..d)
            .map(|i| a[i * d + j] * a[i * d + j])
            .sum::<f64>()
            .sqrt();
        for i in 0..d {
            a[i * d + j] /= norm;
        }
    }
    let lambda: Vec<f64> = (0..d)
        .map(|k| GAUSSIAN_CONDITION.powf(k as f64 / (d - 1) as f64))
        .collect();
    let mut cov = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let v: f64 = (0..d)
                .map(|k| a[i * d + k] * lambda[k] * a[j * d + k])
                .sum();
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    let mean: Vec<f64> = (0..d)
        .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng))
        .collect();
    Mvn::new(&mean, &cov)
}

/// The 5-point Gauss–Hermite rule for E over N(0, 1): nodes ±√2·{0, 0.958572464613819,
/// 2.020182870456086} and weights wᵢ/√π (Abramowitz & Stegun, Table 25.10), exact for
/// polynomials of degree ≤ 9.
const GH5: [(f64, f64); 5] = [
    (-2.856_970_013_872_806, 0.011_257_411_327_720_69),
    (-1.355_626_179_974_266, 0.222_075_922_005_612_6),
    (0.0, 0.533_333_333_333_333_3),
    (1.355_626_179_974_266, 0.222_075_922_005_612_6),
    (2.856_970_013_872_806, 0.011_257_411_327_720_69),
];

/// The ELBO E_q[log p(x)] + H(q) of a 2-D normal q on the banana, exactly: log p is a polynomial
/// of degree 4 in x = μ + L ε, so the 5 × 5 product Gauss–Hermite rule in ε integrates it without
/// error (up to rounding). `−banana_elbo(p, q)` is D(q‖p) (the banana is normalized).
pub fn banana_elbo(p: &Banana, q: &Mvn) -> f64 {
    let (m, l) = (q.mean(), q.cholesky().factor());
    let mut e = 0.0;
    for &(s, ws) in &GH5 {
        for &(t, wt) in &GH5 {
            let x = [m[0] + l[0] * s, m[1] + l[2] * s + l[3] * t];
            e += ws * wt * p.log_prob(&x);
        }
    }
    e + q.entropy()
}

/// Half-width, in standard deviations, of the trapezoid rule of [`logistic_elbo`].
const T_MAX: f64 = 9.0;

/// The trapezoid steps of [`logistic_elbo`]: h = ¼ · 2⁻ʲ, j < `STEP_LEVELS`.
const STEP_LEVELS: usize = 12;

/// The weights h φ(kh), k = 0, 1, …, ⌈9/h⌉, of the trapezoid rule with step h = ¼ · 2⁻ʲ for
/// E over N(0, 1) on [−9, 9] (symmetric: k and −k share a weight), computed once a level.
#[derive(Default)]
struct Trapezoid {
    levels: Vec<Option<Vec<f64>>>,
}

impl Trapezoid {
    /// E[softplus(η)] for η ~ N(m, sd²): the trapezoid rule in t = (η − m)/sd on [−9, 9] with the
    /// largest step h = ¼ · 2⁻ʲ ≤ max(½/sd, ¼ · 2⁻¹¹). softplus is analytic in the strip
    /// |Im η| < π, so the error is of order exp(−2π²/(h·sd)) ≤ e⁻³⁹ (and exp(−2π²/h²) from the
    /// weight) for sd ≤ 2¹²; the truncation costs φ(9) ≈ 1e-18.
    fn expected_softplus(&mut self, m: f64, sd: f64) -> f64 {
        let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        if sd <= 0.0 {
            return softplus(m);
        }
        let mut j = 0;
        while j + 1 < STEP_LEVELS && 0.25 * 0.5f64.powi(j as i32) * sd > 0.5 {
            j += 1;
        }
        if self.levels.len() < STEP_LEVELS {
            self.levels.resize(STEP_LEVELS, None);
        }
        let h = 0.25 * 0.5f64.powi(j as i32);
        let w = self.levels[j].get_or_insert_with(|| {
            let n = (T_MAX / h).ceil() as usize;
            let norm = h / (2.0 * std::f64::consts::PI).sqrt();
            (0..=n)
                .map(|k| {
                    let t = k as f64 * h;
                    norm * (-0.5 * t * t).exp()
                })
                .collect()
        });
        let step = sd * h;
        let mut e = w[0] * softplus(m);
        for (k, wk) in w.iter().enumerate().skip(1) {
            let dt = step * k as f64;
            e += wk * (softplus(m + dt) + softplus(m - dt));
        }
        e
    }
}

/// The ELBO E_q[log p̃(β)] + H(q) of a normal q on the logistic posterior, without Monte Carlo
/// (the reduction of `reference/vi.py`'s `elbo_quadrature_logistic`): under q each linear
/// predictor ηᵢ = zᵢᵀβ is N(zᵢᵀμ, ‖Lᵀzᵢ‖²), so E_q[yᵢηᵢ − softplus(ηᵢ)] is one-dimensional
/// (a trapezoid rule), and E_q[‖β‖²] = ‖μ‖² + tr Σ, H(q) exact.
pub fn logistic_elbo(p: &LogisticRegression, q: &Mvn) -> f64 {
    let d = p.dim();
    let (mu, l) = (q.mean(), q.cholesky().factor());
    let mut w = vec![0.0; d];
    let mut rule = Trapezoid::default();
    let mut e = 0.0;
    for (z, y) in p.design().chunks_exact(d).zip(p.labels()) {
        let m: f64 = z.iter().zip(mu).map(|(a, b)| a * b).sum();
        w.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..d {
            for j in 0..=i {
                w[j] += l[i * d + j] * z[i];
            }
        }
        let sd = w.iter().map(|v| v * v).sum::<f64>().sqrt();
        e += y * m - rule.expected_softplus(m, sd);
    }
    let s2 = p.prior_scale() * p.prior_scale();
    let trace: f64 = (0..d).map(|i| q.covariance()[i * d + i]).sum();
    let norm2: f64 = mu.iter().map(|v| v * v).sum();
    e - 0.5 * (norm2 + trace) / s2 + q.entropy()
}

/// The [`Files`] of the figure's compiled-in experiments: the breast-cancer data only.
struct CompiledData;

const BREAST_CANCER: &[u8] = include_bytes!("../../data/breast_cancer.csv");

impl Files for CompiledData {
    fn read(
        &self,
        path: &std::path::Path,
        what: &'static str,
        limit: u64,
    ) -> Result<Vec<u8>, Error> {
        if path.file_name().is_some_and(|n| n == "breast_cancer.csv")
            && BREAST_CANCER.len() as u64 <= limit
        {
            return Ok(BREAST_CANCER.to_vec());
        }
        Err(Error::Input {
            path: path.to_path_buf(),
            message: format!("accuracy.png reads only the compiled-in data (asked for a {what})"),
        })
    }
}

fn experiment(text: &str, path: &str) -> Result<Experiment, Error> {
    config::parse(text, std::path::Path::new(path), &CompiledData)
}

/// A failure of panel `which`'s `algorithm`, as an error naming both.
fn fail(which: Which, what: &str, message: impl std::fmt::Display) -> Error {
    Error::Usage {
        message: format!("accuracy.png, panel {}, {what}: {message}", which.name()),
    }
}

/// How a q is scored: `(reverse, forward)` with reverse D(q‖p) or the ELBO gap, forward D(p‖q)
/// where it is in closed form.
enum Score {
    Gaussian(Mvn),
    Banana(Banana),
    Logistic(LogisticRegression),
}

impl Score {
    fn eval(&self, q: &Mvn) -> Result<(f64, Option<f64>), kl_dist::Error> {
        Ok(match self {
            Score::Gaussian(p) => (kl_divergence(q, p)?, Some(kl_divergence(p, q)?)),
            Score::Banana(p) => (BEST_ELBO_BANANA - banana_elbo(p, q), None),
            Score::Logistic(p) => (BEST_ELBO_LOGISTIC - logistic_elbo(p, q), None),
        })
    }
}

/// The kept points of one run: thinned by cost, forward values alongside.
#[derive(Default)]
struct Thinned {
    reverse: Vec<[f64; 2]>,
    forward: Vec<[f64; 2]>,
    next: f64,
    error: Option<String>,
}

impl Thinned {
    fn due(&self, cost: f64) -> bool {
        self.error.is_none() && cost >= self.next
    }

    /// Scores `q` at `cost` and keeps it (the cost must exceed the last kept one).
    fn keep(&mut self, score: &Score, cost: f64, q: &Mvn) -> ControlFlow<()> {
        if self.reverse.last().is_some_and(|p| p[0] >= cost) {
            return ControlFlow::Continue(());
        }
        match score.eval(q) {
            Ok((r, f)) if r.is_finite() && f.is_none_or(f64::is_finite) => {
                self.reverse.push([cost, r]);
                if let Some(f) = f {
                    self.forward.push([cost, f]);
                }
                self.next = cost * POINT_STEP;
                ControlFlow::Continue(())
            }
            Ok((r, f)) => {
                self.error = Some(format!("a non-finite value ({r}, {f:?}) at cost {cost}"));
                ControlFlow::Break(())
            }
            Err(e) => {
                self.error = Some(format!("at cost {cost}: {e}"));
                ControlFlow::Break(())
            }
        }
    }

    fn finish(self, which: Which, algorithm: Algorithm) -> Result<Vec<Curve>, Error> {
        if let Some(e) = self.error {
            return Err(fail(which, algorithm.label(), e));
        }
        let mut out = vec![Curve {
            algorithm,
            forward: false,
            points: self.reverse,
        }];
        if !self.forward.is_empty() {
            out.push(Curve {
                algorithm,
                forward: true,
                points: self.forward,
            });
        }
        Ok(out)
    }
}

/// The settings of one panel.
struct Setup {
    which: Which,
    /// The mean of q₀ = N(start, I) for ADVI, GSM and BaM, and Pathfinder's starting point.
    start: Vec<f64>,
    target: kl_fit::Target,
    score: Score,
    dim: usize,
    advi_iters: usize,
    gsm_iters: usize,
    bam_iters: usize,
}

fn setup(which: Which) -> Result<Setup, Error> {
    // The experiment file's starting mean (the banana's [0.3, 0.3] is off the axis x₁ = 0, on
    // which L-BFGS from 0 would never leave it; the posterior's is 0).
    let start_of = |exp: &Experiment| match &exp.init {
        kl_fit::Init::Explicit { mean, .. } | kl_fit::Init::MeanField { mean, .. } => mean.clone(),
        kl_fit::Init::Gaussian(q) => q.mean().to_vec(),
        _ => vec![0.0; exp.target.dim()],
    };
    let target_of = |exp: &Experiment| match &exp.target {
        TargetSpec::Banana(p) => Ok(Score::Banana(p.clone())),
        TargetSpec::LogisticRegression(l) => Ok(Score::Logistic(l.density.clone())),
        other => Err(fail(
            which,
            "target",
            format!("unexpected kind {}", other.kind()),
        )),
    };
    let (score, start, advi_iters, gsm_iters, bam_iters) = match which {
        Which::Gaussian => {
            let p = ill_conditioned_gaussian().map_err(|e| fail(which, "target", e))?;
            (
                Score::Gaussian(p),
                vec![0.0; GAUSSIAN_DIM],
                ADVI_MAX_ITERS,
                2_000,
                250,
            )
        }
        Which::Banana => {
            let exp = experiment(
                include_str!("../../experiments/zoo-banana-reverse.toml"),
                "experiments/zoo-banana-reverse.toml",
            )?;
            (target_of(&exp)?, start_of(&exp), ADVI_MAX_ITERS, 5_000, 625)
        }
        Which::Logistic => {
            let exp = experiment(
                include_str!("../../experiments/logistic-reverse.toml"),
                "experiments/logistic-reverse.toml",
            )?;
            (target_of(&exp)?, start_of(&exp), ADVI_MAX_ITERS, 2_000, 250)
        }
    };
    let (target, dim): (kl_fit::Target, usize) = match &score {
        Score::Gaussian(p) => (p.clone().into(), p.dim()),
        Score::Banana(p) => (p.clone().into(), p.dim()),
        Score::Logistic(p) => (p.clone().into(), p.dim()),
    };
    Ok(Setup {
        which,
        start,
        target,
        score,
        dim,
        advi_iters,
        gsm_iters,
        bam_iters,
    })
}

/// The seed of every run of panel `which` (each run its own generator from it).
fn seed(which: Which) -> u64 {
    match which {
        Which::Gaussian => 2101,
        Which::Banana => 2102,
        Which::Logistic => 2103,
    }
}

/// N(mean, I).
fn unit(mean: &[f64]) -> Result<Mvn, kl_dist::Error> {
    let d = mean.len();
    let mut eye = vec![0.0; d * d];
    for i in 0..d {
        eye[i * d + i] = 1.0;
    }
    Mvn::new(mean, &eye)
}

/// ADVI: kl-fit's reverse-KL fit from q₀ = N(start, I), its iterates thinned by cost; and its
/// answer.
fn advi(s: &Setup) -> Result<(Vec<Curve>, [f64; 2]), Error> {
    let which = s.which;
    let mut kept = Thinned::default();
    let max = s.advi_iters;
    let q0 = unit(&s.start).map_err(|e| fail(which, "q0", e))?;
    let fit = Fit::reverse_kl(s.target.clone())
        .init(kl_fit::Init::Gaussian(q0))
        .n_samples(ADVI_DRAWS)
        .max_iters(max)
        .diagnostics(0)
        .exact_kl(false)
        .seed(seed(which))
        .observer(|p: &Progress<'_>| {
            let cost = (p.n_grad_evals + p.n_density_evals) as f64;
            if !(kept.due(cost) || p.iteration == max) {
                return ControlFlow::Continue(());
            }
            match p.q() {
                Ok(q) => kept.keep(&s.score, cost, &q),
                Err(e) => {
                    kept.error = Some(e.to_string());
                    ControlFlow::Break(())
                }
            }
        })
        .run()
        .map_err(|e| fail(which, "ADVI", e))?;
    let cost = (fit.n_grad_evals() + fit.n_density_evals()) as f64;
    let (answer, _) = s
        .score
        .eval(fit.q())
        .map_err(|e| fail(which, "ADVI's answer", e))?;
    let curves = kept.finish(which, Algorithm::Advi)?;
    Ok((curves, [cost, answer]))
}

/// Single-path Pathfinder from `start`: at each iterate, the best Gaussian so far by
/// Pathfinder's own ELBO estimate.
fn pathfinder(s: &Setup, algorithm: Algorithm) -> Result<Vec<Curve>, Error> {
    let which = s.which;
    let history = if algorithm == Algorithm::Pathfinder5 {
        5
    } else {
        s.dim
    };
    let settings = kl_vi::PathfinderSettings {
        history,
        max_lbfgs_iters: 200,
        elbo_draws: PATHFINDER_K,
        n_paths: 1,
        draws_per_path: 100,
        n_draws: 100,
        ..kl_vi::PathfinderSettings::default()
    };
    let mut kept = Thinned::default();
    let mut best: Option<(f64, Mvn)> = None;
    let mut last_cost = 0.0;
    let mut rng = Pcg64::seed_from_u64(seed(which) + 10 * history as u64);
    let mut observe = |st: &kl_vi::State<'_>| {
        let cost = (st.n_grad_evals + st.n_density_evals) as f64;
        last_cost = cost;
        let improved = match (st.loss, &best) {
            (Some(l), Some((b, _))) => l < *b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if improved && let Some(l) = st.loss {
            best = Some((l, st.q.clone()));
        }
        match &best {
            Some((_, q)) if improved || kept.due(cost) => kept.keep(&s.score, cost, q),
            _ => ControlFlow::Continue(()),
        }
    };
    kl_vi::pathfinder(
        kl_fit_density(s),
        &s.start,
        &settings,
        &mut rng,
        &mut observe,
    )
    .map_err(|e| fail(which, algorithm.label(), e))?;
    if let Some((_, q)) = &best
        && kept.error.is_none()
    {
        let _ = kept.keep(&s.score, last_cost, q);
    }
    kept.finish(which, algorithm)
}

/// The target as a `LogDensity` for kl-vi.
fn kl_fit_density(s: &Setup) -> &dyn LogDensity {
    match &s.score {
        Score::Gaussian(p) => p,
        Score::Banana(p) => p,
        Score::Logistic(p) => p,
    }
}

/// GSM or BaM from q₀ = N(start, I), every iteration shown, thinned by cost.
fn score_based(s: &Setup, algorithm: Algorithm) -> Result<Vec<Curve>, Error> {
    let which = s.which;
    let q0 = unit(&s.start).map_err(|e| fail(which, "q0", e))?;
    let mut kept = Thinned::default();
    let mut rng =
        Pcg64::seed_from_u64(seed(which) + if algorithm == Algorithm::Gsm { 1 } else { 2 });
    let max = if algorithm == Algorithm::Gsm {
        s.gsm_iters
    } else {
        s.bam_iters
    };
    let mut observe = |st: &kl_vi::State<'_>| {
        let cost = (st.n_grad_evals + st.n_density_evals) as f64;
        if kept.due(cost) || st.iteration == max {
            kept.keep(&s.score, cost, st.q)
        } else {
            ControlFlow::Continue(())
        }
    };
    let p = kl_fit_density(s);
    let run = if algorithm == Algorithm::Gsm {
        kl_vi::gsm(
            p,
            &q0,
            &kl_vi::GsmSettings {
                batch_size: 2,
                max_iters: max,
            },
            &mut rng,
            &mut observe,
        )
    } else {
        kl_vi::bam(
            p,
            &q0,
            &kl_vi::BamSettings {
                batch_size: BAM_BATCH,
                max_iters: max,
                schedule: kl_vi::Schedule::Decaying { scale: 1.0 },
            },
            &mut rng,
            &mut observe,
        )
    };
    run.map_err(|e| fail(which, algorithm.label(), e))?;
    kept.finish(which, algorithm)
}

/// The data of one panel: every algorithm's curves, one after another on this thread.
///
/// # Errors
/// A run that fails, or a non-finite value, naming the panel and the algorithm.
pub fn panel_data(which: Which) -> Result<PanelData, Error> {
    let s = setup(which)?;
    let (mut curves, advi_answer) = advi(&s)?;
    curves.extend(pathfinder(&s, Algorithm::Pathfinder5)?);
    curves.extend(pathfinder(&s, Algorithm::PathfinderD)?);
    curves.extend(score_based(&s, Algorithm::Gsm)?);
    curves.extend(score_based(&s, Algorithm::Bam)?);
    Ok(PanelData {
        which,
        curves,
        advi_answer,
    })
}

/// `[lo, hi]` of positive values, widened by `pad` decades each side.
fn log_range(values: impl Iterator<Item = f64>, pad: f64) -> [f64; 2] {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return [1.0, 10.0];
    }
    let f = 10f64.powf(pad);
    [lo / f, hi * f]
}

/// The note in a panel's upper right: where the score-based fits end on a non-Gaussian target.
fn note(d: &PanelData) -> Option<String> {
    let end = |a: Algorithm| d.curve(a).and_then(|c| c.points.last()).map(|p| p[1]);
    let (gsm, bam) = (end(Algorithm::Gsm)?, end(Algorithm::Bam)?);
    match d.which {
        Which::Gaussian => None,
        Which::Banana => Some(format!(
            "GSM and BaM end {gsm:.2} and {bam:.3} nats off:\nwithout a decaying step GSM keeps moving,\nand neither targets the reverse-KL optimum"
        )),
        Which::Logistic => Some(format!(
            "GSM ends {gsm:.2}, BaM {bam:.2} nats below the best ELBO:\ntheir fixed points are not the reverse-KL optimum"
        )),
    }
}

/// The figure: three panels side by side.
///
/// # Errors
/// A failed run (see [`panel_data`]) or a canvas beyond the limits at this scale.
pub fn accuracy_figure(style: Style) -> Result<Output, Error> {
    let name = "accuracy.png";
    let data: Vec<Result<PanelData, Error>> =
        Which::ALL.par_iter().map(|w| panel_data(*w)).collect();
    let (width_in, height_in) = (18.0, 6.0);
    let mut fig = new_figure(
        name,
        FigureSpec {
            rows: 1,
            cols: 3,
            width_in,
            height_in,
            dpi: 72.0,
            scale: style.scale,
        },
    )?;
    fig.set_subplot_params(SubplotParams {
        left: 0.05,
        right: 0.99,
        bottom: 0.13,
        top: 0.9,
        wspace: 0.22,
        hspace: 0.2,
    });
    for (col, panel_data) in data.into_iter().enumerate() {
        let d = panel_data?;
        let x = log_range(
            d.curves.iter().flat_map(|c| c.points.iter().map(|p| p[0])),
            0.1,
        );
        let y_hi = log_range(
            d.curves.iter().flat_map(|c| c.points.iter().map(|p| p[1])),
            0.3,
        )[1];
        let y_lo = log_range(
            d.curves
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p[1]))
                .chain([d.advi_answer[1]]),
            0.3,
        )[0]
        .max(FLOOR);
        let panel = fig.panel_mut(0, col);
        for c in &d.curves {
            let pts: Vec<[f64; 2]> = c.points.iter().map(|p| [p[0], p[1].max(FLOOR)]).collect();
            if c.forward {
                let mut st = c.algorithm.style(1.3);
                st.dash = Some(vec![1.0, 2.0]);
                panel.polyline(&pts, st);
            } else {
                panel.series(&pts, c.algorithm.style(1.8), c.algorithm.label());
            }
        }
        panel.scatter(
            &[[d.advi_answer[0], d.advi_answer[1].max(FLOOR)]],
            MarkerStyle {
                area_pt2: 45.0,
                color: tab10(0),
                edge_width: 1.0,
            },
        );
        let (title, y_label) = match d.which {
            Which::Gaussian => (
                "(a) Gaussian, d = 16, condition number 100",
                "D(q‖p) solid,  D(p‖q) dotted  (nats)",
            ),
            Which::Banana => (
                "(b) the banana (zoo)",
                "ELBO gap to the best Gaussian (nats)",
            ),
            Which::Logistic => (
                "(c) logistic regression, breast cancer, d = 31",
                "ELBO gap to the best Gaussian (nats)",
            ),
        };
        // One legend for the three panels, in the banana's empty lower left.
        if d.which == Which::Banana {
            panel.series(
                &[],
                LineStyle::dotted(Rgba::BLACK, 1.3),
                "dotted, in (a): D(p‖q) of the same q",
            );
            panel.series(
                &[],
                LineStyle::solid(Rgba::WHITE, 0.1),
                "●  ADVI's answer (averaged)",
            );
        }
        panel
            .limits([x[0], x[1], y_lo, y_hi])
            .axes(Axes {
                x_label: Some("evaluations of p (gradients + log densities)".into()),
                y_label: Some(y_label.into()),
                log_x: true,
                log_y: true,
                legend: d.which == Which::Banana,
                legend_lower_right: true,
                legend_left: true,
                ..Axes::default()
            })
            .title(title);
        if let Some(note) = note(&d) {
            panel.text_aligned(
                [x[1] / 1.3, y_hi / 1.5],
                &note,
                9.0,
                Rgba::BLACK,
                HAlign::Right,
                VAlign::Top,
            );
        }
    }
    png(name, &fig)
}
