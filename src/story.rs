//! The figures that tell what the notebook only hints at:
//!
//! - `converged.png`: p, q after a forward-KL fit and q after a reverse-KL fit, both run to
//!   convergence with Adam, the moment-matched Gaussian (forward KL's closed-form optimum) dashed
//!   over the forward fit — mode covering against mode seeking in one image.
//! - `reverse_kl_optima.png`: reverse-KL fits from several seeded starts; each converged q with its
//!   exact D(q‖p): the modes it can lock onto.
//! - `estimator_variance.png`: the spread of reverse-KL gradient estimates, `total` against `stl`,
//!   as q moves to a Gaussian p (STL's vanishes at q = p).
//!
//! Every draw comes from fixed seeds, so the files are byte-identical from run to run.

use kl_dist::{AnyDensity, Mixture, Mvn, Sample};
use kl_grad::{Estimator, ForwardKlSamples, Objective, ReverseKl};
use kl_opt::Adam;
use kl_render::{
    Axes, Colormap, ContourStyle, FigureSpec, HAlign, LineStyle, MarkerStyle, Rgba, VAlign,
};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

use crate::engine::exact_kl::ExactKl;
use crate::error::Error;
use crate::figures::{
    Output, Style, contour_layer, grid_values, line_plot_spec, new_figure, png, tab10,
};

const LIM: [f64; 4] = [-4.0, 4.0, -4.0, 4.0];
const GRID: usize = 128;

/// The notebook's mixture 0.8·N([0.5,−0.7], [[1,1],[1,2]]) + 0.2·N([−2.5,2.5], [[0.5,0.1],[0.1,0.5]]).
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

fn story_err(what: &str) -> impl Fn(String) -> Error + '_ {
    move |message| Error::Usage {
        message: format!("{what}: {message}"),
    }
}

/// Adam on `objective` from `theta0` for `n_iters` steps, fresh draws each step; the final θ.
fn adam_fit(
    objective: &mut dyn Objective,
    theta0: &[f64],
    n_iters: usize,
    lr: f64,
    rng: &mut Pcg64,
) -> Result<Vec<f64>, String> {
    let mut adam = Adam::new(lr);
    let stochastic = objective.is_stochastic();
    let records = kl_opt::minimize(theta0, &mut adam, n_iters, |k, theta, grad| {
        if stochastic && k > 0 {
            objective.resample(rng);
        }
        objective.value_and_grad(theta, grad)
    })
    .map_err(|e| e.to_string())?;
    Ok(records.last().map(|r| r.theta.clone()).unwrap_or_default())
}

fn model(theta: &[f64]) -> Result<Mvn, String> {
    Mvn::from_factor(&theta[..2], &theta[2..]).map_err(|e| e.to_string())
}

/// The ellipse {μ + r C u : ‖u‖ = 1} of a 2-D normal.
fn ellipse(q: &Mvn, r: f64) -> Vec<[f64; 2]> {
    let (m, l) = (q.mean(), q.cholesky().factor());
    (0..=120)
        .map(|k| {
            let t = std::f64::consts::TAU * k as f64 / 120.0;
            let (u, v) = (r * t.cos(), r * t.sin());
            [m[0] + l[0] * u, m[1] + l[2] * u + l[3] * v]
        })
        .collect()
}

/// All three figures.
pub fn story_figures(style: Style) -> Result<Vec<Output>, Error> {
    Ok(vec![
        converged(style)?,
        reverse_optima(style)?,
        estimator_variance(style)?,
    ])
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

fn kl_text(panel: &mut kl_render::Panel, kl: &ExactKl, q: &Mvn) {
    let (f, r) = kl.eval(q);
    panel.text_aligned(
        [0.0, -4.25],
        &format!("D(p‖q) = {f:.3}    D(q‖p) = {r:.3}"),
        11.0,
        Rgba::BLACK,
        HAlign::Center,
        VAlign::Top,
    );
}

fn converged(style: Style) -> Result<Output, Error> {
    let name = "converged.png";
    let err = story_err(name);
    let p = notebook_mixture();
    let mut rng = Pcg64::seed_from_u64(2017);
    let mut samples = vec![0.0; 2 * 20_000];
    p.sample(&mut rng, &mut samples);
    // Forward KL: maximum likelihood on 2·10⁴ samples of p (its optimum is their mean and covariance).
    let mut forward = ForwardKlSamples::new(&samples, 2).map_err(|e| err(e.to_string()))?;
    let start = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let q_fwd = model(&adam_fit(&mut forward, &start, 2000, 0.05, &mut rng).map_err(&err)?)
        .map_err(&err)?;
    // Reverse KL from the notebook's starting point, STL gradients (low variance near the optimum).
    let notebook_start = [1.7278, 2.2046, 0.7948, 0.9764, -1.1834, 1.9164];
    let mut reverse =
        ReverseKl::new(p.clone(), 500, Estimator::Stl, &mut rng).map_err(|e| err(e.to_string()))?;
    let q_rev =
        model(&adam_fit(&mut reverse, &notebook_start, 2000, 0.02, &mut rng).map_err(&err)?)
            .map_err(&err)?;
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
    panel.scatter(&samples.as_chunks::<2>().0[..200], MarkerStyle::notebook());
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
    kl_text(panel, &kl, &q_fwd);
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
    kl_text(panel, &kl, &q_rev);
    panel.title("reverse KL D(q‖p): locks onto one mode");
    png(name, &fig)
}

fn reverse_optima(style: Style) -> Result<Output, Error> {
    let name = "reverse_kl_optima.png";
    let err = story_err(name);
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
    let panel = fig.panel_mut(0, 0);
    faint_p(panel, &grid_values(&p, LIM, GRID));
    for k in 0..8u64 {
        let mut rng = Pcg64::seed_from_u64(100 + k);
        // Start: mean ~ N(0, 2² I), L = 0.6 I: a small q anywhere in the view.
        let mut theta = [0.0, 0.0, 0.6, 0.0, 0.0, 0.6];
        for m in &mut theta[..2] {
            *m = 2.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng);
        }
        let mut objective = ReverseKl::new(p.clone(), 256, Estimator::Stl, &mut rng)
            .map_err(|e| err(e.to_string()))?;
        let q = model(&adam_fit(&mut objective, &theta, 1500, 0.02, &mut rng).map_err(&err)?)
            .map_err(&err)?;
        let (_, rev) = kl.eval(&q);
        let color = tab10(k as usize);
        panel.series(
            &ellipse(&q, 2.0),
            LineStyle::solid(color, 2.0),
            &format!("start {k}: D(q‖p) = {rev:.3}"),
        );
        panel.polyline(
            &[[theta[0], theta[1]], [q.mean()[0], q.mean()[1]]],
            LineStyle::dashed(color.with_alpha(0.6), 1.0),
        );
        panel.scatter(
            &[[theta[0], theta[1]]],
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
    let err = story_err(name);
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
