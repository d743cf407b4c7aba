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
//!
//! Every fit is an [`Experiment`] run by [`engine::run`] — the one engine: the story's own fits
//! are written here as TOML text, the lesson's are the files of `experiments/lesson/` (compiled
//! in). Every draw comes from fixed seeds, so the files are byte-identical from run to run.

pub mod lesson;

use std::path::Path;

use kl_dist::{AnyDensity, Mixture, Mvn};
use kl_grad::{Estimator, Objective, ReverseKl};
use kl_render::{
    Axes, Colormap, ContourStyle, FigureSpec, HAlign, LineStyle, MarkerStyle, Rgba, VAlign,
};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

use crate::config::{self, Experiment, Files};
use crate::engine::exact_kl::ExactKl;
use crate::engine::{self, Run};
use crate::error::{Error, FitError};
use crate::figures::{
    Output, Style, contour_layer, grid_values, line_plot_spec, new_figure, png, tab10,
};

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

/// [`notebook_mixture`] as an experiment's `[target]` table.
const NOTEBOOK_MIXTURE: &str = r#"
[target]
kind = "mixture"
weights = [0.8, 0.2]
components = [
  { mean = [0.5, -0.7], cov = [[1.0, 1.0], [1.0, 2.0]] },
  { mean = [-2.5, 2.5], cov = [[0.5, 0.1], [0.1, 0.5]] },
]
"#;

/// The [`Files`] of experiments written in code: they name no file, and any read is refused.
struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path, what: &'static str, _limit: u64) -> Result<Vec<u8>, Error> {
        Err(Error::Input {
            path: path.to_path_buf(),
            message: format!("a story experiment reads no files (asked for a {what})"),
        })
    }
}

/// Validates an experiment given as TOML text (`path` names it in errors; it may name no file)
/// and runs it through the engine.
///
/// # Errors
/// The validation's [`Error::Config`] or the engine's [`Error::Fit`].
pub fn run_text(text: &str, path: &str) -> Result<Run, Error> {
    let exp: Experiment = config::parse(text, Path::new(path), &NoFiles)?;
    engine::run(&exp)
}

/// The final q of a run.
///
/// # Errors
/// [`Error::Fit`] if its covariance is not positive definite (a valid trace never has that).
pub fn final_model(run: &Run) -> Result<Mvn, Error> {
    let last = run.trace.iterations.len().saturating_sub(1);
    run.trace.model(last).map_err(|source| Error::Fit {
        experiment: run.experiment.name.clone(),
        source: FitError::Model {
            iteration: last,
            source,
        },
    })
}

/// "k_hat = 0.83 (unreliable)": Pareto k̂ of the run's final q and its verdict (kl-render cannot
/// place the combining hat, so it is spelled out).
pub fn k_hat_note(run: &Run) -> String {
    match run.trace.final_diagnostic() {
        Some(d) => format!("k_hat = {:.2} ({})", d.k_hat, d.verdict),
        None => "k_hat: no diagnostic".to_string(),
    }
}

/// A float as TOML (shortest round-trip form, always with a decimal point or exponent).
fn toml_f64(x: f64) -> String {
    format!("{x:?}")
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

/// All the story's figures, the lesson's included. The lesson's runs go on a second thread;
/// every job is deterministic on its own, so the bytes do not depend on the split.
pub fn story_figures(style: Style) -> Result<Vec<Output>, Error> {
    let (story, lesson) = std::thread::scope(|s| {
        let lesson = s.spawn(move || lesson::lesson_figures(style));
        let story = (|| -> Result<Vec<Output>, Error> {
            Ok(vec![
                converged(style)?,
                reverse_optima(style)?,
                estimator_variance(style)?,
            ])
        })();
        (
            story,
            lesson
                .join()
                .unwrap_or_else(|_| Err(panicked("the lesson figures"))),
        )
    });
    let mut out = story?;
    out.extend(lesson?);
    Ok(out)
}

/// The error of a job that panicked (a bug: jobs return their errors).
pub(crate) fn panicked(what: &str) -> Error {
    Error::Usage {
        message: format!("internal error: {what} panicked"),
    }
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

/// The exact KL both ways of the run's final q, and its k̂, under the panel.
fn kl_text(panel: &mut kl_render::Panel, kl: &ExactKl, q: &Mvn, run: &Run) {
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
        &k_hat_note(run),
        11.0,
        Rgba::BLACK,
        HAlign::Center,
        VAlign::Top,
    );
}

/// The forward fit of `converged.png`: maximum likelihood on 2·10⁴ samples of p (its optimum is
/// their mean and covariance), Adam from the standard normal.
const CONVERGED_FORWARD: &str = r#"
name = "converged-forward"
seed = 2017

[init]
mean = [0.0, 0.0]
raw = [[1.0, 0.0], [0.0, 1.0]]

[objective]
kind = "forward-kl-samples"
n_samples = 20000

[optimizer]
kind = "adam"
learning_rate = 0.1
n_iters = 300
"#;

/// The reverse fit of `converged.png`: from the notebook's starting point, STL gradients (low
/// variance near the optimum).
const CONVERGED_REVERSE: &str = r#"
name = "converged-reverse"
seed = 2017

[init]
mean = [1.7278, 2.2046]
raw = [[0.7948, 0.9764], [-1.1834, 1.9164]]

[objective]
kind = "reverse-kl"
n_samples = 500
estimator = "stl"

[optimizer]
kind = "adam"
learning_rate = 0.05
n_iters = 400
"#;

fn converged(style: Style) -> Result<Output, Error> {
    let name = "converged.png";
    let p = notebook_mixture();
    let forward = run_text(
        &format!("{CONVERGED_FORWARD}{NOTEBOOK_MIXTURE}"),
        "story/converged-forward.toml",
    )?;
    let reverse = run_text(
        &format!("{CONVERGED_REVERSE}{NOTEBOOK_MIXTURE}"),
        "story/converged-reverse.toml",
    )?;
    let (q_fwd, q_rev) = (final_model(&forward)?, final_model(&reverse)?);
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
    let dots = forward.samples.as_chunks::<2>().0;
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

/// The reverse fit of `reverse_kl_optima.png` from start `k`: seed 100 + k; mean ~ N(0, 2² I)
/// drawn from that seed, L = 0.6 I (a small q anywhere in the view); STL, Adam.
fn optimum_experiment(k: u64) -> (String, [f64; 2]) {
    let mut rng = Pcg64::seed_from_u64(100 + k);
    let mut mean = [0.0; 2];
    for m in &mut mean {
        *m = 2.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng);
    }
    let text = format!(
        r#"
name = "reverse-optimum-{k}"
seed = {seed}

[init]
mean = [{m0}, {m1}]
raw = [[0.6, 0.0], [0.0, 0.6]]

[objective]
kind = "reverse-kl"
n_samples = 256
estimator = "stl"

[optimizer]
kind = "adam"
learning_rate = 0.08
n_iters = 250
{NOTEBOOK_MIXTURE}"#,
        seed = 100 + k,
        m0 = toml_f64(mean[0]),
        m1 = toml_f64(mean[1]),
    );
    (text, mean)
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
    // The eight fits, on two threads (each deterministic on its own).
    let fit = |k: u64| -> Result<([f64; 2], Mvn), Error> {
        let (text, start) = optimum_experiment(k);
        let run = run_text(&text, &format!("story/reverse-optimum-{k}.toml"))?;
        Ok((start, final_model(&run)?))
    };
    let fits: Vec<Result<([f64; 2], Mvn), Error>> = std::thread::scope(|s| {
        let odd = s.spawn(|| (1..8u64).step_by(2).map(fit).collect::<Vec<_>>());
        let even: Vec<_> = (0..8u64).step_by(2).map(fit).collect();
        let odd = odd
            .join()
            .unwrap_or_else(|_| vec![Err(panicked("a reverse-KL fit"))]);
        let mut all = Vec::new();
        let mut o = odd.into_iter();
        for x in even {
            all.push(x);
            all.extend(o.next());
        }
        all.extend(o);
        all
    });
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
