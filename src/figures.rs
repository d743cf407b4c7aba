//! The figures of a run, as PNG/GIF bytes in memory: writing them, or comparing them with what is
//! on disk (`figures --check`), is the caller's choice.
//!
//! For a 2-D experiment named `a-b` with `plot.prefix = "p"`:
//! `p_target.png` (p's contours, viridis), `p_samples.png` (the first 200 samples),
//! `a_b_kl.png` (a rows × cols grid of q's contours, inferno, over the samples, titled with the
//! iteration each panel shows), `a_b_kl.gif` (one frame per iteration, at most [`MAX_GIF_FRAMES`] evenly spaced ones with the
//! first and the last) and `a_b_kl_curves.png`
//! (both exact KL directions against the iteration, at most [`MAX_CURVE_POINTS`] a curve). Other dimensions get the KL curves only.

use kl_dist::{LogDensity, Mvn, density_grid};
use kl_render::{
    Axes, Colormap, ContourStyle, Figure, FigureSpec, GifWriter, Grid, LineStyle, MarkerStyle,
    Rgba, encode_png, notebook_levels, render,
};

use crate::engine::Run;
use crate::error::Error;

/// Samples drawn as dots (the notebook's `samples[:200]`).
pub const N_DOTS: usize = 200;

/// One produced file: its name inside the figures folder and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Drawing options shared by all figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Pixel scale on top of the notebook's 72 dpi.
    pub scale: f64,
    /// Also draw what the notebook does not: the animation and the KL curves.
    pub extras: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            scale: 1.0,
            extras: true,
        }
    }
}

impl Style {
    /// Only the notebook's figures (target, samples, the grid), at its resolution.
    pub fn notebook() -> Style {
        Style {
            scale: 1.0,
            extras: false,
        }
    }
}

pub(crate) fn render_err(name: &str) -> impl Fn(kl_render::Error) -> Error + '_ {
    move |source| Error::Render {
        figure: name.into(),
        source,
    }
}

/// An empty figure of `spec`: the one fallible step of building a figure (the spec's scale and
/// panel counts come from the command line and the experiment file).
pub(crate) fn new_figure(name: &str, spec: FigureSpec) -> Result<Figure, Error> {
    Figure::new(spec).map_err(render_err(name))
}

/// The density of `d` on the plot grid, as an owned buffer.
pub(crate) fn grid_values<D: LogDensity + ?Sized>(d: &D, lim: [f64; 4], n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n * n];
    density_grid(d, lim, n, n, &mut v).expect("a 2-D density on a validated extent");
    v
}

/// Adds the notebook's contour layer of `values` (an `n × n` grid from [`grid_values`]) to a
/// panel.
pub(crate) fn contour_layer(
    panel: &mut kl_render::Panel,
    values: &[f64],
    n: usize,
    lim: [f64; 4],
    cmap: Colormap,
    style: ContourStyle,
) {
    let grid = Grid::new(values, n, n, lim)
        .expect("grid_values gives n × n values (n ≥ 8) on a validated extent");
    let max = grid.max_value().unwrap_or(0.0);
    if max > 0.0 {
        panel.contour_styled(&grid, &notebook_levels(max), cmap, style);
    }
    panel.limits(lim);
}

/// The iterations shown by a grid of `panels` panels over `n_iters` updates: 0, s, 2s, … with
/// `s = ⌈n_iters / panels⌉` (consecutive iterations when they fit, as in the notebook).
pub fn shown_iterations(n_iters: usize, panels: usize) -> Vec<usize> {
    let step = n_iters.div_ceil(panels.max(1)).max(1);
    (0..panels)
        .map(|k| k * step)
        .take_while(|&k| k <= n_iters)
        .collect()
}

/// The most frames of a run's animation (and so the most density grids a run's figures compute,
/// with the grid figure's panels): memory and time stay bounded whatever `n_iters` is.
pub const MAX_GIF_FRAMES: usize = 200;

/// The most points of each curve of the KL-curves figure.
pub const MAX_CURVE_POINTS: usize = 2000;

/// The iterations the animation of a trace with states `0..=last` shows: all of them when there
/// are at most [`MAX_GIF_FRAMES`], else [`MAX_GIF_FRAMES`] evenly spaced ones, always 0 and
/// `last`, increasing, without repeats.
pub fn gif_frames(last: usize) -> Vec<usize> {
    evenly_spaced(last, MAX_GIF_FRAMES)
}

/// At most `max` (≥ 2) indices of `0..=last` evenly spaced: `round(j · last / (max − 1))`, which
/// are distinct and include 0 and `last`; every index when there are at most `max`.
fn evenly_spaced(last: usize, max: usize) -> Vec<usize> {
    let max = max.max(2);
    if last < max {
        return (0..=last).collect();
    }
    let steps = (max - 1) as u128;
    // Integer arithmetic: round(j · last / steps) exactly, whatever `last` is.
    (0..max as u128)
        .map(|j| ((2 * j * last as u128 + steps) / (2 * steps)) as usize)
        .collect()
}

/// The points of `points` at the [`evenly_spaced`] indices: a curve of at most `max` points
/// with the first and the last.
fn decimate(points: Vec<[f64; 2]>, max: usize) -> Vec<[f64; 2]> {
    match points.len() {
        0 => points,
        n if n <= max => points,
        n => evenly_spaced(n - 1, max)
            .into_iter()
            .map(|i| points[i])
            .collect(),
    }
}

/// Every figure of one run.
pub fn run_figures(run: &Run, style: Style) -> Result<Vec<Output>, Error> {
    let exp = &run.experiment;
    let plot = &exp.plot;
    let stem = exp.name.replace('-', "_");
    let mut out = Vec::new();
    if run.trace.dim == 2 {
        let (dots, _) = run.samples.as_chunks::<2>();
        let dots = &dots[..dots.len().min(N_DOTS)];
        let (lim, n) = (plot.lim, plot.grid);
        if let Some(p) = &run.target {
            let name = format!("{}_target.png", plot.prefix);
            let mut fig = new_figure(&name, FigureSpec::single().with_scale(style.scale))?;
            contour_layer(
                fig.panel_mut(0, 0),
                &grid_values(p, lim, n),
                n,
                lim,
                Colormap::Viridis,
                ContourStyle::plain(),
            );
            out.push(png(&name, &fig)?);
        }
        let name = format!("{}_samples.png", plot.prefix);
        let mut fig = new_figure(&name, FigureSpec::single().with_scale(style.scale))?;
        fig.panel_mut(0, 0)
            .limits(lim)
            .scatter(dots, MarkerStyle::notebook());
        out.push(png(&name, &fig)?);

        // The last recorded state (a stopping rule may end the fit before `n_iters`; a long fit's
        // states are thinned, so `k` indexes the records and the titles say their iteration).
        let last = run.trace.iterations.len().saturating_sub(1);
        let model_err = |iteration: usize| {
            move |source| Error::Fit {
                experiment: exp.name.clone(),
                source: crate::error::FitError::Model { iteration, source },
            }
        };
        // Only the shown iterations' grids are computed, one at a time.
        let q_grid = |k: usize| -> Result<Vec<f64>, Error> {
            let q: Mvn = run.trace.model(k).map_err(model_err(k))?;
            Ok(grid_values(&q, lim, n))
        };

        let name = format!("{stem}_kl.png");
        let spec = FigureSpec {
            rows: plot.rows,
            cols: plot.cols,
            width_in: 3.0 * plot.cols as f64,
            height_in: 3.0 * plot.rows as f64,
            dpi: 72.0,
            scale: style.scale,
        };
        let mut fig = new_figure(&name, spec)?;
        for (panel_index, k) in shown_iterations(last, plot.rows * plot.cols)
            .into_iter()
            .enumerate()
        {
            let panel = fig.panel_mut(panel_index / plot.cols, panel_index % plot.cols);
            panel.scatter(dots, MarkerStyle::notebook());
            contour_layer(
                panel,
                &q_grid(k)?,
                n,
                lim,
                Colormap::Inferno,
                ContourStyle::notebook(),
            );
            panel.title(&format!("iter: {}", run.trace.iterations[k].iteration));
        }
        out.push(png(&name, &fig)?);

        if !style.extras {
            return Ok(out);
        }
        let name = format!("{stem}_kl.gif");
        // Each frame is drawn and encoded at once: one grid and one canvas alive at a time.
        let blank = new_figure(&name, FigureSpec::single().with_scale(style.scale))?;
        let mut gif = GifWriter::new(250);
        for k in gif_frames(last) {
            let mut fig = blank.clone();
            let panel = fig.panel_mut(0, 0);
            panel.scatter(dots, MarkerStyle::notebook());
            contour_layer(
                panel,
                &q_grid(k)?,
                n,
                lim,
                Colormap::Inferno,
                ContourStyle::notebook(),
            );
            panel.title(&format!(
                "{} — iter: {}",
                exp.name, run.trace.iterations[k].iteration
            ));
            gif.push(&render(&fig)).map_err(render_err(&name))?;
        }
        out.push(Output {
            name: name.clone(),
            bytes: gif.finish().map_err(render_err(&name))?,
        });
    }
    if run.target.is_some() && style.extras {
        out.push(kl_curves(run, style)?);
    }
    Ok(out)
}

/// Draws `fig` and encodes it: the one fallible step after the figure is built.
pub(crate) fn png(name: &str, fig: &Figure) -> Result<Output, Error> {
    Ok(Output {
        name: name.to_string(),
        bytes: encode_png(&render(fig)).map_err(render_err(name))?,
    })
}

/// A single-panel figure of matplotlib's default size, 6.4 × 4.8 in, for line plots.
pub(crate) fn line_plot_spec(style: Style) -> FigureSpec {
    FigureSpec {
        rows: 1,
        cols: 1,
        width_in: 6.4,
        height_in: 4.8,
        dpi: 72.0,
        scale: style.scale,
    }
}

/// matplotlib's first two default colours (tab:blue, tab:orange).
pub(crate) fn tab10(k: usize) -> Rgba {
    Rgba::tab10(k)
}

/// Both exact KL directions against the iteration, log scale.
fn kl_curves(run: &Run, style: Style) -> Result<Output, Error> {
    let name = format!("{}_kl_curves.png", run.experiment.name.replace('-', "_"));
    let its = &run.trace.iterations;
    let fwd: Vec<[f64; 2]> = its
        .iter()
        .filter_map(|i| Some([i.iteration as f64, i.kl_forward?]))
        .collect();
    let rev: Vec<[f64; 2]> = its
        .iter()
        .filter_map(|i| Some([i.iteration as f64, i.kl_reverse?]))
        .collect();
    // A long trace is thinned to at most MAX_CURVE_POINTS points a curve (first and last kept).
    let (fwd, rev) = (
        decimate(fwd, MAX_CURVE_POINTS),
        decimate(rev, MAX_CURVE_POINTS),
    );
    let mut fig = new_figure(&name, line_plot_spec(style))?;
    let positive = fwd.iter().chain(&rev).all(|p| p[1] > 0.0);
    fig.panel_mut(0, 0)
        .series(&fwd, LineStyle::solid(tab10(0), 1.5), "D(p ‖ q)  forward")
        .series(&rev, LineStyle::solid(tab10(1), 1.5), "D(q ‖ p)  reverse")
        .axes(Axes {
            x_label: Some("iteration".into()),
            y_label: Some("KL (nats)".into()),
            log_y: positive,
            legend: true,
            ..Axes::default()
        })
        .title(&format!("{} ({})", run.experiment.name, run.trace.method()));
    png(&name, &fig)
}

/// The names of the files [`run_figures`] writes for `exp` (for checks before the fit).
pub fn file_names(exp: &crate::config::Experiment) -> Vec<String> {
    let stem = exp.name.replace('-', "_");
    let p = &exp.plot.prefix;
    // What `run_figures` draws (with the extras): the target's density and the KL curves only
    // for a target with a density (not for a samples file).
    let density = exp.target.has_density();
    let mut names = Vec::new();
    if density {
        names.push(format!("{stem}_kl_curves.png"));
    }
    if exp.target.dim() == 2 {
        if density {
            names.push(format!("{p}_target.png"));
        }
        names.extend([
            format!("{p}_samples.png"),
            format!("{stem}_kl.png"),
            format!("{stem}_kl.gif"),
        ]);
    }
    names
}

/// Checks, before the fit, that the figures of `exp` at `style` fit on a canvas.
///
/// # Errors
/// [`Error::Config`] naming `plot.rows`/`plot.cols` and `--scale` when the grid figure would be
/// beyond the canvas limit.
pub fn check_canvas(exp: &crate::config::Experiment, style: Style) -> Result<(), Error> {
    let spec = FigureSpec {
        rows: exp.plot.rows,
        cols: exp.plot.cols,
        width_in: 3.0 * exp.plot.cols as f64,
        height_in: 3.0 * exp.plot.rows as f64,
        dpi: 72.0,
        scale: style.scale,
    };
    match spec.pixel_size() {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::Config {
            path: exp.path.clone(),
            at: None,
            key: Some("plot.rows, plot.cols".into()),
            message: format!(
                "the grid figure of {} × {} panels at --scale {} cannot be drawn: {e}; use fewer \
                 panels or a smaller --scale",
                exp.plot.rows, exp.plot.cols, style.scale
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_traces_animate_every_iteration() {
        // The notebook's 20 updates: 21 frames, today's bytes.
        assert_eq!(gif_frames(20), (0..=20).collect::<Vec<_>>());
        assert_eq!(gif_frames(0), vec![0]);
        assert_eq!(gif_frames(199), (0..=199).collect::<Vec<_>>());
    }

    #[test]
    fn long_traces_animate_at_most_the_cap_evenly_with_both_ends() {
        for last in [200, 201, 399, 1000, 20_000, 1_000_000] {
            let f = gif_frames(last);
            assert_eq!(f.len(), MAX_GIF_FRAMES, "last = {last}");
            assert_eq!((f[0], f[f.len() - 1]), (0, last));
            assert!(f.windows(2).all(|w| w[0] < w[1]), "increasing, distinct");
            // Evenly spaced: every gap within one of last / 199.
            let ideal = last as f64 / (MAX_GIF_FRAMES - 1) as f64;
            assert!(
                f.windows(2)
                    .all(|w| ((w[1] - w[0]) as f64 - ideal).abs() <= 1.0),
                "last = {last}"
            );
        }
        // 19 900 updates over 199 gaps: exactly every 100th.
        assert_eq!(&gif_frames(19_900)[..3], &[0, 100, 200]);
    }

    #[test]
    fn curves_are_thinned_keeping_first_and_last() {
        let points: Vec<[f64; 2]> = (0..=20_000).map(|k| [k as f64, 1.0]).collect();
        let thin = decimate(points, MAX_CURVE_POINTS);
        assert_eq!(thin.len(), MAX_CURVE_POINTS);
        assert_eq!((thin[0][0], thin[thin.len() - 1][0]), (0.0, 20_000.0));
        let short: Vec<[f64; 2]> = (0..10).map(|k| [k as f64, 0.0]).collect();
        assert_eq!(decimate(short.clone(), MAX_CURVE_POINTS), short);
    }
}
