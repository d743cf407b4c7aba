//! Figures of several runs at once: the zoo (every classic target, p / forward fit / reverse fit)
//! and the logistic-regression posterior (each coefficient's mean ± 2 sd under both fits, and the
//! ESS along the forward fit). Pure: runs in, PNG bytes out.
//!
//! A run takes part by its name: `zoo-<target>-forward` / `zoo-<target>-reverse` for the zoo,
//! `logistic-forward` / `logistic-reverse` for the posterior.

use kl_dist::LogDensity;
use kl_render::{
    Axes, Colormap, ContourStyle, ErrorBar, ErrorBarStyle, FigureSpec, HAlign, LineStyle,
    MarkerStyle, Rgba, SubplotParams, VAlign,
};

use crate::engine::Run;
use crate::error::Error;
use crate::figures::{Output, Style, contour_layer, grid_values, new_figure, png, tab10};

/// The zoo's rows, in order: the run-name stem and the row's label.
pub const ZOO_ROWS: [(&str, &str); 5] = [
    ("banana", "banana"),
    ("funnel", "funnel (2-D)"),
    ("student-t", "Student t, ν = 3"),
    ("ring", "ring"),
    ("mixture", "the notebook's mixture"),
];

const GRID: usize = 96;

fn find<'a>(runs: &'a [Run], name: &str) -> Option<&'a Run> {
    runs.iter().find(|r| r.experiment.name == name)
}

/// "D(p‖q) = 0.123   D(q‖p) = 0.456" and, on a second line, "k_hat = 0.31 (good)" for the last
/// state of a run.
fn note(run: &Run) -> String {
    let mut parts = Vec::new();
    let (kl_forward, kl_reverse) = run.trace.answer_kl();
    if let Some(f) = kl_forward {
        parts.push(format!("D(p‖q) = {f:.3}"));
    }
    if let Some(r) = kl_reverse {
        parts.push(format!("D(q‖p) = {r:.3}"));
    }
    let mut text = parts.join("   ");
    if let Some(d) = run.trace.final_diagnostic() {
        text.push_str(&format!("\nk_hat = {:.2} ({})", d.k_hat, d.verdict));
    }
    text
}

/// The zoo's square panels: their side, the gaps between them and the margins, in inches. A
/// row's gap below holds its two lines of notes and the next row's titles; the top margin the
/// first titles, the bottom one the last notes.
const ZOO_PANEL_IN: f64 = 3.7;
const ZOO_WGAP_IN: f64 = 0.5;
const ZOO_HGAP_IN: f64 = 0.95;
const ZOO_SIDE_IN: f64 = 0.3;
const ZOO_TOP_IN: f64 = 0.45;
const ZOO_BOTTOM_IN: f64 = 0.6;

/// The zoo figure's size for `rows` rows: its panels, gaps and margins and nothing else.
fn zoo_spec(rows: usize, style: Style) -> FigureSpec {
    let r = rows as f64;
    FigureSpec {
        rows,
        cols: 3,
        width_in: 2.0 * ZOO_SIDE_IN + 3.0 * ZOO_PANEL_IN + 2.0 * ZOO_WGAP_IN,
        height_in: ZOO_TOP_IN + r * ZOO_PANEL_IN + (r - 1.0).max(0.0) * ZOO_HGAP_IN + ZOO_BOTTOM_IN,
        dpi: 72.0,
        scale: style.scale,
    }
}

/// Where [`zoo_spec`]'s panels go, as fractions of the figure.
fn zoo_layout(rows: usize) -> SubplotParams {
    let spec = zoo_spec(rows, Style::default());
    SubplotParams {
        left: ZOO_SIDE_IN / spec.width_in,
        right: 1.0 - ZOO_SIDE_IN / spec.width_in,
        bottom: ZOO_BOTTOM_IN / spec.height_in,
        top: 1.0 - ZOO_TOP_IN / spec.height_in,
        wspace: ZOO_WGAP_IN / ZOO_PANEL_IN,
        hspace: ZOO_HGAP_IN / ZOO_PANEL_IN,
    }
}

/// The zoo figure, when every one of its runs is there (`None` otherwise).
///
/// # Errors
/// A canvas beyond the limits at this scale, or a model that is not a normal.
pub fn zoo_figure(runs: &[Run], style: Style) -> Result<Option<Output>, Error> {
    let name = "zoo.png";
    let mut rows = Vec::new();
    for (stem, label) in ZOO_ROWS {
        let (Some(f), Some(r)) = (
            find(runs, &format!("zoo-{stem}-forward")),
            find(runs, &format!("zoo-{stem}-reverse")),
        ) else {
            return Ok(None);
        };
        rows.push((label, f, r));
    }
    let mut fig = new_figure(name, zoo_spec(rows.len(), style))?;
    fig.set_subplot_params(zoo_layout(rows.len()));
    for (i, (label, fwd, rev)) in rows.iter().enumerate() {
        let lim = fwd.experiment.plot.lim;
        let Some(p) = &fwd.target else { continue };
        let p_grid = grid_values(p, lim, GRID);
        let panel = fig.panel_mut(i, 0);
        contour_layer(
            panel,
            &p_grid,
            GRID,
            lim,
            Colormap::Viridis,
            ContourStyle::plain(),
        );
        let dots = &fwd.samples[..fwd.samples.len().min(2 * 300)];
        panel.scatter(dots.as_chunks::<2>().0, MarkerStyle::notebook());
        panel.title(&format!("p: {label}"));
        for (j, run, what) in [(1, fwd, "forward KL"), (2, rev, "reverse KL")] {
            let q = crate::story::final_model(run)?;
            let panel = fig.panel_mut(i, j);
            contour_layer(
                panel,
                &p_grid,
                GRID,
                lim,
                Colormap::Viridis,
                ContourStyle {
                    width: 0.7,
                    halo: None,
                },
            );
            contour_layer(
                panel,
                &grid_values(&q, lim, GRID),
                GRID,
                lim,
                Colormap::Inferno,
                ContourStyle::notebook(),
            );
            panel.title(&format!("{what} ({})", run.trace.objective.name()));
            // Under the panel, in the gap above the next row's titles: never on the contours.
            panel.text_aligned(
                [0.5 * (lim[0] + lim[1]), lim[2] - 0.02 * (lim[3] - lim[2])],
                &note(run),
                10.0,
                Rgba::BLACK,
                HAlign::Center,
                VAlign::Top,
            );
        }
        let _ = p.dim();
    }
    png(name, &fig).map(Some)
}

/// The logistic-regression figure, when both of its runs are there (`None` otherwise): the
/// coefficients' means ± 2 sd under the forward-IS and the reverse fit side by side, and the ESS of
/// the forward fit's importance weights along the fit.
///
/// # Errors
/// A canvas beyond the limits at this scale.
pub fn logistic_figure(runs: &[Run], style: Style) -> Result<Option<Output>, Error> {
    let name = "logistic_regression.png";
    let (Some(fwd), Some(rev)) = (
        find(runs, "logistic-forward"),
        find(runs, "logistic-reverse"),
    ) else {
        return Ok(None);
    };
    let spec = FigureSpec {
        rows: 2,
        cols: 1,
        width_in: 13.0,
        height_in: 9.0,
        dpi: 72.0,
        scale: style.scale,
    };
    let mut fig = new_figure(name, spec)?;
    // Room between the panels for the upper one's tick labels and x label and the lower one's
    // title (matplotlib's default hspace of 0.2 ran them together).
    fig.set_subplot_params(SubplotParams {
        left: 0.08,
        right: 0.97,
        bottom: 0.08,
        top: 0.94,
        wspace: 0.2,
        hspace: 0.38,
    });
    let d = fwd.trace.dim;
    let bars = |run: &Run, offset: f64| -> Vec<ErrorBar> {
        let q = run.fit.q();
        (0..d)
            .map(|k| {
                let sd = q.covariance()[k * d + k].max(0.0).sqrt();
                ErrorBar::vertical(k as f64 + offset, q.mean()[k], 2.0 * sd)
            })
            .collect()
    };
    let ticks: Vec<(f64, String)> = (0..d)
        .step_by(5)
        .map(|k| (k as f64, format!("β{k}")))
        .collect();
    let panel = fig.panel_mut(0, 0);
    panel
        .error_bars(&bars(fwd, -0.18), ErrorBarStyle::new(tab10(0), 1.4))
        .error_bars(&bars(rev, 0.18), ErrorBarStyle::new(tab10(1), 1.4))
        .series(&[], LineStyle::solid(tab10(0), 1.5), "forward KL (importance sampling)")
        .series(&[], LineStyle::solid(tab10(1), 1.5), "reverse KL")
        .axes(Axes {
            x_label: Some("coefficient (β0: intercept)".into()),
            y_label: Some("mean ± 2 sd".into()),
            legend: true,
            x_ticks: Some(ticks),
            ..Axes::default()
        })
        .title(&format!(
            "Bayesian logistic regression, breast cancer data (d = {d}): forward {}   |   reverse {}",
            note(fwd).trim().replace('\n', ", "),
            note(rev).trim().replace('\n', ", ")
        ));
    let ess: Vec<[f64; 2]> = fwd
        .trace
        .iterations
        .iter()
        .filter_map(|i| Some([i.iteration as f64, i.ess?]))
        .collect();
    fig.panel_mut(1, 0)
        .series(
            &ess,
            LineStyle::solid(tab10(0), 1.5),
            "ESS of the forward fit's weights",
        )
        .axes(Axes {
            x_label: Some("iteration".into()),
            y_label: Some(format!(
                "effective sample size (of {})",
                fwd.experiment.objective.n_samples
            )),
            legend: true,
            log_y: ess.iter().all(|p| p[1] > 0.0),
            ..Axes::default()
        })
        .title("forward KL by importance sampling from q: 1/Σ w̄ᵢ² at each step");
    png(name, &fig).map(Some)
}

/// One row of `benches/medians.json` (the fields the plot needs).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Median {
    /// `"reverse-kl"` or `"forward-kl-exact"`.
    pub objective: String,
    /// The dimension.
    pub d: usize,
    /// Our median step, µs.
    pub ours_us: f64,
    /// JAX-jit's, µs.
    pub jax_us: Option<f64>,
    /// faer's GEMMs of the step's shapes, µs.
    pub roofline_us: Option<f64>,
}

/// The step time against d, log-log: ours, JAX's and the GEMM roofline for both objectives (from
/// the committed bench medians, `benches/medians.json`).
///
/// # Errors
/// A canvas beyond the limits at this scale.
pub fn scale_figure(medians: &[Median], style: Style) -> Result<Output, Error> {
    let name = "bench_scale.png";
    let mut fig = new_figure(name, crate::figures::line_plot_spec(style))?;
    let panel = fig.panel_mut(0, 0);
    for (k, (objective, label)) in [
        ("reverse-kl", "reverse KL"),
        ("forward-kl-exact", "forward KL"),
    ]
    .iter()
    .enumerate()
    {
        let rows: Vec<&Median> = medians
            .iter()
            .filter(|m| m.objective == *objective)
            .collect();
        let pts = |f: &dyn Fn(&Median) -> Option<f64>| -> Vec<[f64; 2]> {
            rows.iter()
                .filter_map(|m| Some([m.d as f64, f(m)?]))
                .collect()
        };
        let color = tab10(k);
        panel
            .series(
                &pts(&|m| Some(m.ours_us)),
                LineStyle::solid(color, 1.8),
                &format!("{label}: ours"),
            )
            .series(
                &pts(&|m| m.jax_us),
                LineStyle::dashed(color, 1.2),
                &format!("{label}: JAX jit"),
            )
            .series(
                &pts(&|m| m.roofline_us),
                LineStyle::dotted(color, 1.2),
                &format!("{label}: GEMM roofline"),
            );
    }
    panel
        .axes(Axes {
            x_label: Some("dimension d".into()),
            y_label: Some("median step (µs)".into()),
            log_x: true,
            log_y: true,
            legend: true,
            legend_lower_right: true,
            ..Axes::default()
        })
        .title("one optimizer step vs d (2 cores; see BENCHMARKS.md)");
    png(name, &fig)
}
