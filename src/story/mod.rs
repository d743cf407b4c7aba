//! The figures that tell what the notebook only hints at:
//!
//! - `converged.png`: p, q after a forward-KL fit and q after a reverse-KL fit, both run to
//!   convergence with Adam, the moment-matched Gaussian (forward KL's closed-form optimum) dashed
//!   over the forward fit, each fit's exact KL both ways and Pareto k̂ of its q — mode covering
//!   against mode seeking in one image.
//! - `reverse_kl_optima.png`: reverse-KL fits from several seeded starts; each converged q with its
//!   exact D(q‖p): the modes it can lock onto.
//! - `estimator_variance.png`: the spread of reverse-KL gradient estimates, `total` against `stl`,
//!   as q moves to a Gaussian p (STL's vanishes at q = p).
//! - The lesson's figures ([`lesson`]): Bishop's Figures 10.2 and 10.3 and the Rényi α continuum.
//! - `accuracy.png` ([`accuracy`]): accuracy against evaluations of the target for ADVI,
//!   Pathfinder, GSM and BaM on a Gaussian, the banana and the logistic posterior.
//!
//! Every fit is an [`Experiment`] run by [`engine::run`] — the one engine: the story's own fits
//! are written here as TOML text, the lesson's are the files of `experiments/lesson/` (compiled
//! in). Every draw comes from fixed seeds, so the files are byte-identical from run to run.

pub mod accuracy;
pub mod lesson;

use std::path::Path;

use kl_dist::{AnyDensity, Mixture, Mvn};
use kl_fit::{Fit, FitResult, Init, Optimizer, StepSize};
use kl_grad::{Estimator, Objective, ReverseKl};
use kl_render::{
    Axes, Colormap, ContourStyle, FigureSpec, HAlign, LineStyle, MarkerStyle, Rgba, VAlign,
};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use rayon::prelude::*;

use crate::config::{self, Experiment, Files};
use crate::engine::{self, Run};
use crate::error::Error;
use crate::figures::{
    Output, Style, contour_layer, grid_values, line_plot_spec, new_figure, png, tab10,
};
use kl_fit::ExactKl;

const LIM: [f64; 4] = [-4.0, 4.0, -4.0, 4.0];
const GRID: usize = 128;

/// The notebook's mixture `0.8·N([0.5,−0.7], [[1,1],[1,2]]) + 0.2·N([−2.5,2.5], [[0.5,0.1],[0.1,0.5]])`.
pub fn notebook_mixture() -> Mixture {
    Mixture::from_parameters(
        &[0.8, 0.2],
        &[
            (vec![0.5, -0.7], vec![1.0, 1.0, 1.0, 2.0]),
            (vec![-2.5, 2.5], vec![0.5, 0.1, 0.1, 0.5]),
        ],
    )
    .expect("the notebook's mixture is valid")
}

/// Validates an experiment given as TOML text (`path` names it in errors; it may name no file)
/// and runs it through the engine (the lesson's committed files, compiled in).
///
/// # Errors
/// The validation's [`Error::Config`] or the engine's [`Error::Fit`].
pub fn run_text(text: &str, path: &str) -> Result<Run, Error> {
    let exp: Experiment = config::parse(text, Path::new(path), &NoFiles)?;
    engine::run(&exp)
}

/// The [`Files`] of experiments compiled in: they name no file, and any read is refused.
struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path, what: &'static str, _limit: u64) -> Result<Vec<u8>, Error> {
        Err(Error::Input {
            path: path.to_path_buf(),
            message: format!("a story experiment reads no files (asked for a {what})"),
        })
    }
}

/// Runs one of the story's own fits, naming it in errors.
fn run_fit(name: &str, fit: Fit<'_>) -> Result<FitResult, Error> {
    fit.run().map_err(|source| Error::Fit {
        experiment: format!("{name} (story)"),
        source,
    })
}

/// The story's fits to the notebook's mixture: from (μ₀, L₀), Adam with a fixed step, the
/// draws of p for the dots, diagnostics from 4000 draws.
fn mixture_fit<'a>(
    fit: Fit<'a>,
    n_samples: usize,
    start: ([f64; 2], [f64; 4]),
    learning_rate: f64,
    n_iters: usize,
    seed: u64,
) -> Fit<'a> {
    fit.n_samples(n_samples)
        .p_samples(n_samples)
        .init(Init::Explicit {
            mean: start.0.to_vec(),
            raw: start.1.to_vec(),
        })
        .optimizer(Optimizer::adam())
        .step_size(StepSize::Fixed(learning_rate))
        .max_iters(n_iters)
        .seed(seed)
}

/// The answer of a run: the averaged q of a Monte Carlo fit, the last state otherwise.
///
/// # Errors
/// Never for a run the engine returned (kept fallible for the callers' `?`).
pub fn final_model(run: &Run) -> Result<Mvn, Error> {
    Ok(run.fit.q().clone())
}

/// "k_hat = 0.83 (unreliable)": Pareto k̂ of the fit's answer and its verdict (kl-render cannot
/// place the combining hat, so it is spelled out).
pub fn k_hat_note(fit: &FitResult) -> String {
    match fit.diagnosis() {
        Some(d) => format!("k_hat = {:.2} ({})", d.k_hat, d.verdict),
        None => "k_hat: no diagnostic".to_string(),
    }
}

/// The ellipse {μ + r C u : ‖u‖ = 1} of a 2-D normal.
pub(crate) fn ellipse(q: &Mvn, r: f64) -> Vec<[f64; 2]> {
    let (m, l) = (q.mean(), q.cholesky().factor());
    (0..=120)
        .map(|k| {
            let t = std::f64::consts::TAU * k as f64 / 120.0;
            let (u, v) = (r * t.cos(), r * t.sin());
            [m[0] + l[0] * u, m[1] + l[2] * u + l[3] * v]
        })
        .collect()
}

/// All the story's figures, the lesson's included, the two halves joined on rayon's pool; every
/// job is deterministic on its own, so the bytes do not depend on the schedule.
pub fn story_figures(style: Style) -> Result<Vec<Output>, Error> {
    let ((story, accuracy), lesson) = rayon::join(
        || {
            rayon::join(
                || -> Result<Vec<Output>, Error> {
                    Ok(vec![
                        converged(style)?,
                        reverse_optima(style)?,
                        estimator_variance(style)?,
                    ])
                },
                || accuracy::accuracy_figure(style),
            )
        },
        || lesson::lesson_figures(style),
    );
    let mut out = story?;
    out.push(accuracy?);
    out.extend(lesson?);
    Ok(out)
}

fn faint_p(panel: &mut kl_render::Panel, p_grid: &[f64]) {
    contour_layer(
        panel,
        p_grid,
        GRID,
        LIM,
        Colormap::Viridis,
        ContourStyle {
            width: 0.8,
            halo: None,
        },
    )
}

/// The exact KL both ways of the fit's answer q, and its k̂, under the panel.
fn kl_text(panel: &mut kl_render::Panel, kl: &ExactKl, q: &Mvn, fit: &FitResult) {
    let (f, r) = kl.eval(q);
    panel.text_aligned(
        [0.0, -4.25],
        &format!("D(p‖q) = {f:.3}    D(q‖p) = {r:.3}"),
        11.0,
        Rgba::BLACK,
        HAlign::Center,
        VAlign::Top,
    );
    panel.text_aligned(
        [0.0, -4.75],
        &k_hat_note(fit),
        11.0,
        Rgba::BLACK,
        HAlign::Center,
        VAlign::Top,
    );
}

fn converged(style: Style) -> Result<Output, Error> {
    let name = "converged.png";
    let p = notebook_mixture();
    // Forward: maximum likelihood on 2·10⁴ samples of p (its optimum is their mean and
    // covariance), Adam from the standard normal.
    let forward = run_fit(
        "converged-forward",
        mixture_fit(
            Fit::forward_kl_samples_of(p.clone()),
            20_000,
            ([0.0, 0.0], [1.0, 0.0, 0.0, 1.0]),
            0.1,
            300,
            2017,
        ),
    )?;
    // Reverse: from the notebook's starting point, STL gradients (low variance near the optimum).
    let reverse = run_fit(
        "converged-reverse",
        mixture_fit(
            Fit::reverse_kl(p.clone()).estimator(Estimator::Stl),
            500,
            NOTEBOOK_START,
            0.05,
            400,
            2017,
        ),
    )?;
    let (q_fwd, q_rev) = (forward.q().clone(), reverse.q().clone());
    let matched = p.moment_matched();
    let kl = ExactKl::new(AnyDensity::Mixture(p.clone()), 0);

    let spec = FigureSpec {
        rows: 1,
        cols: 3,
        width_in: 15.0,
        height_in: 5.6,
        dpi: 72.0,
        scale: style.scale,
    };
    let mut fig = new_figure(name, spec)?;
    let p_grid = grid_values(&p, LIM, GRID);
    let panel = fig.panel_mut(0, 0);
    contour_layer(
        panel,
        &p_grid,
        GRID,
        LIM,
        Colormap::Viridis,
        ContourStyle::plain(),
    );
    let dots = forward.p_samples().as_chunks::<2>().0;
    panel.scatter(&dots[..dots.len().min(200)], MarkerStyle::notebook());
    panel.title("target p: a two-component mixture");

    let panel = fig.panel_mut(0, 1);
    faint_p(panel, &p_grid);
    contour_layer(
        panel,
        &grid_values(&q_fwd, LIM, GRID),
        GRID,
        LIM,
        Colormap::Inferno,
        ContourStyle::notebook(),
    );
    for radius in [1.0, 2.0, 3.0] {
        panel.polyline(
            &ellipse(&matched, radius),
            LineStyle::dashed(Rgba::BLACK, 1.2),
        );
    }
    kl_text(panel, &kl, &q_fwd, &forward);
    panel.title("forward KL D(p‖q): covers both modes");

    let panel = fig.panel_mut(0, 2);
    faint_p(panel, &p_grid);
    contour_layer(
        panel,
        &grid_values(&q_rev, LIM, GRID),
        GRID,
        LIM,
        Colormap::Inferno,
        ContourStyle::notebook(),
    );
    kl_text(panel, &kl, &q_rev, &reverse);
    panel.title("reverse KL D(q‖p): locks onto one mode");
    png(name, &fig)
}

/// The notebook's starting point (μ₀, L₀).
const NOTEBOOK_START: ([f64; 2], [f64; 4]) = ([1.7278, 2.2046], [0.7948, 0.9764, -1.1834, 1.9164]);

/// The reverse fit of `reverse_kl_optima.png` from start `k`: seed 100 + k; mean ~ N(0, 2² I)
/// drawn from that seed, L = 0.6 I (a small q anywhere in the view); STL, Adam.
fn optimum_fit(k: u64) -> Result<([f64; 2], Mvn), Error> {
    let mut rng = Pcg64::seed_from_u64(100 + k);
    let mut mean = [0.0; 2];
    for m in &mut mean {
        *m = 2.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng);
    }
    let fit = run_fit(
        &format!("reverse-optimum-{k}"),
        mixture_fit(
            Fit::reverse_kl(notebook_mixture()).estimator(Estimator::Stl),
            256,
            (mean, [0.6, 0.0, 0.0, 0.6]),
            0.08,
            250,
            100 + k,
        ),
    )?;
    Ok((mean, fit.q().clone()))
}

fn reverse_optima(style: Style) -> Result<Output, Error> {
    let name = "reverse_kl_optima.png";
    let p = notebook_mixture();
    let kl = ExactKl::new(AnyDensity::Mixture(p.clone()), 0);
    let mut fig = new_figure(
        name,
        FigureSpec {
            rows: 1,
            cols: 1,
            width_in: 7.0,
            height_in: 7.0,
            dpi: 72.0,
            scale: style.scale,
        },
    )?;
    // The eight fits, on rayon's pool (each deterministic on its own; the order is kept).
    let fits: Vec<Result<([f64; 2], Mvn), Error>> =
        (0..8u64).into_par_iter().map(optimum_fit).collect();
    let panel = fig.panel_mut(0, 0);
    faint_p(panel, &grid_values(&p, LIM, GRID));
    for (k, fitted) in fits.into_iter().enumerate() {
        let (start, q) = fitted?;
        let (_, rev) = kl.eval(&q);
        let color = tab10(k);
        panel.series(
            &ellipse(&q, 2.0),
            LineStyle::solid(color, 2.0),
            &format!("start {k}: D(q‖p) = {rev:.3}"),
        );
        panel.polyline(
            &[start, [q.mean()[0], q.mean()[1]]],
            LineStyle::dashed(color.with_alpha(0.6), 1.0),
        );
        panel.scatter(
            &[start],
            MarkerStyle {
                area_pt2: 30.0,
                color,
                edge_width: 1.0,
            },
        );
    }
    panel.limits(LIM);
    panel.axes(Axes {
        legend: true,
        ..Axes::default()
    });
    panel.title("reverse KL from 8 starts (dot → 2σ ellipse of the converged q)");
    png(name, &fig)
}

fn estimator_variance(style: Style) -> Result<Output, Error> {
    let name = "estimator_variance.png";
    let err = |message: String| Error::Usage {
        message: format!("{name}: {message}"),
    };
    let p = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).map_err(|e| err(e.to_string()))?;
    let cp = p.cholesky().factor().to_vec();
    let start = [1.7278, 2.2046, 0.7948, 0.9764, -1.1834, 1.9164];
    let ts = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];
    let (reps, n) = (200, 16);
    let mut rng = Pcg64::seed_from_u64(2017);
    let mut curves: [Vec<[f64; 2]>; 2] = [Vec::new(), Vec::new()];
    for (c, estimator) in [Estimator::Total, Estimator::Stl].into_iter().enumerate() {
        let mut objective = ReverseKl::new(AnyDensity::Mvn(p.clone()), n, estimator, &mut rng)
            .map_err(|e| err(e.to_string()))?;
        for &t in &ts {
            let target = [p.mean()[0], p.mean()[1], cp[0], cp[1], cp[2], cp[3]];
            let theta: Vec<f64> = start
                .iter()
                .zip(target)
                .map(|(a, b)| (1.0 - t) * a + t * b)
                .collect();
            let mut grad = vec![0.0; 6];
            let (mut sum, mut sum_sq) = (vec![0.0; 6], vec![0.0; 6]);
            for _ in 0..reps {
                objective.resample_with(&mut rng);
                objective
                    .value_and_grad(&theta, &mut grad)
                    .map_err(|e| err(e.to_string()))?;
                for i in 0..6 {
                    sum[i] += grad[i];
                    sum_sq[i] += grad[i] * grad[i];
                }
            }
            let var: f64 = (0..6)
                .map(|i| (sum_sq[i] - sum[i] * sum[i] / reps as f64) / (reps - 1) as f64)
                .sum();
            curves[c].push([t, var.max(0.0).sqrt()]);
        }
    }
    let mut fig = new_figure(name, line_plot_spec(style))?;
    fig.panel_mut(0, 0)
        .series(
            &curves[0],
            LineStyle::solid(tab10(0), 1.5),
            "total (the notebook's)",
        )
        .series(
            &curves[1],
            LineStyle::solid(tab10(1), 1.5),
            "stl (sticking the landing)",
        )
        .axes(Axes {
            x_label: Some("t: q = (1 − t)·q₀ + t·p".into()),
            y_label: Some("std of the gradient estimate".into()),
            log_y: true,
            legend: true,
            ..Axes::default()
        })
        .title(&format!(
            "reverse-KL gradient spread, Gaussian p, n = {n} draws"
        ));
    png(name, &fig)
}
