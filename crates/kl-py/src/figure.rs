//! A fit's figures as PNG bytes, drawn with kl-render the way the engine's figures are: p's
//! contours (viridis) under q's (inferno, the notebook's style), or the objective's curve.

use kl_dist::{LogDensity, density_grid};
use kl_render::{
    Axes, Colormap, ContourStyle, Figure, FigureSpec, Grid, LineStyle, MarkerStyle, Rgba,
    encode_png, notebook_levels, render,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::FitError;
use crate::fit::Fit;

/// The kinds of [`draw`].
pub(crate) const KINDS: &[&str] = &["fit", "loss"];

/// Grid points per axis of the contour plots.
const GRID: usize = 128;
/// Samples drawn as dots.
const N_DOTS: usize = 200;

fn render_error(e: kl_render::Error) -> PyErr {
    FitError::new_err(format!(
        "the figure cannot be drawn: {}",
        forward_backward_kl::report(&e)
    ))
}

/// The figure `kind` of `fit`.
pub(crate) fn draw(fit: &Fit, kind: &str) -> PyResult<Vec<u8>> {
    let fig = match kind {
        "fit" => contours(fit)?,
        _ => loss(fit)?,
    };
    encode_png(&render(&fig)).map_err(render_error)
}

/// The plot's extent: q's, p's (where its moments are known) and the means' path, each mean ±
/// 2.5 sd (p: 3 sd), made square.
fn extent(fit: &Fit) -> [f64; 4] {
    let q = fit.result.q();
    let (m, c) = (q.mean(), q.covariance());
    let mut lo = [m[0] - 2.5 * c[0].sqrt(), m[1] - 2.5 * c[3].sqrt()];
    let mut hi = [m[0] + 2.5 * c[0].sqrt(), m[1] + 2.5 * c[3].sqrt()];
    let mut cover = |x: f64, y: f64, sx: f64, sy: f64| {
        lo = [lo[0].min(x - sx), lo[1].min(y - sy)];
        hi = [hi[0].max(x + sx), hi[1].max(y + sy)];
    };
    if let Some(p) = fit.target.as_ref().and_then(|t| t.known())
        && let (Some(pm), Some(pc)) = (p.mean(), p.covariance())
    {
        cover(pm[0], pm[1], 3.0 * pc[0].sqrt(), 3.0 * pc[3].sqrt());
    }
    for r in fit.result.records() {
        cover(r.mean()[0], r.mean()[1], 0.5, 0.5);
    }
    let (cx, cy) = (0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]));
    let half = 0.5 * (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-6);
    [cx - half, cx + half, cy - half, cy + half]
}

fn contour_layer(
    panel: &mut kl_render::Panel,
    d: &dyn LogDensity,
    lim: [f64; 4],
    cmap: Colormap,
    style: ContourStyle,
) -> PyResult<()> {
    let mut v = vec![0.0; GRID * GRID];
    density_grid(d, lim, GRID, GRID, &mut v).map_err(crate::errors::value_error)?;
    let grid = Grid::new(&v, GRID, GRID, lim).map_err(render_error)?;
    let max = grid.max_value().unwrap_or(0.0);
    if max > 0.0 && max.is_finite() {
        panel.contour_styled(&grid, &notebook_levels(max), cmap, style);
    }
    Ok(())
}

fn contours(fit: &Fit) -> PyResult<Figure> {
    if fit.d != 2 {
        return Err(PyValueError::new_err(format!(
            "figure(\"fit\") draws 2-D fits; this one has d = {} (try figure(\"loss\"))",
            fit.d
        )));
    }
    let lim = extent(fit);
    let mut fig = Figure::new(FigureSpec::single()).map_err(render_error)?;
    let panel = fig.panel_mut(0, 0);
    panel.limits(lim);
    let (dots, _) = fit.result.p_samples().as_chunks::<2>();
    if !dots.is_empty() {
        panel.scatter(&dots[..dots.len().min(N_DOTS)], MarkerStyle::notebook());
    }
    if let Some(t) = &fit.target {
        contour_layer(panel, t, lim, Colormap::Viridis, ContourStyle::plain())?;
    }
    contour_layer(
        panel,
        fit.result.q(),
        lim,
        Colormap::Inferno,
        ContourStyle::notebook(),
    )?;
    let path: Vec<[f64; 2]> = fit
        .result
        .records()
        .iter()
        .map(|r| [r.mean()[0], r.mean()[1]])
        .collect();
    panel.polyline(&path, LineStyle::dashed(Rgba::tab10(0), 1.0));
    panel.title(&format!(
        "{} ({}): {} iterations",
        fit.result.objective().name(),
        match fit.result.family() {
            kl_fit::Family::FullRank => "full rank",
            kl_fit::Family::MeanField => "mean field",
        },
        fit.result.n_iters()
    ));
    Ok(fig)
}

fn loss(fit: &Fit) -> PyResult<Figure> {
    let pts: Vec<[f64; 2]> = fit
        .result
        .records()
        .iter()
        .filter(|r| r.loss.is_finite())
        .map(|r| [r.iteration as f64, r.loss])
        .collect();
    let spec = FigureSpec {
        rows: 1,
        cols: 1,
        width_in: 6.4,
        height_in: 4.8,
        dpi: 72.0,
        scale: 1.0,
    };
    let mut fig = Figure::new(spec).map_err(render_error)?;
    fig.panel_mut(0, 0)
        .series(&pts, LineStyle::solid(Rgba::tab10(0), 1.5), "loss")
        .axes(Axes {
            x_label: Some("iteration".into()),
            y_label: Some("objective".into()),
            ..Axes::default()
        })
        .title(fit.result.objective().name());
    Ok(fig)
}
