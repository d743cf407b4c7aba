//! p as the page draws it: the density on the plot grid, contoured by kl-render's marching
//! squares at the notebook's levels, in viridis — the lines the figures draw, as data.

use kl_dist::AnyDensity;
use kl_render::{Colormap, Grid, contour_lines, notebook_levels};
use serde::Serialize;

use crate::figures::grid_values;

/// Grid points per axis of the page's density map (the figures' default is 128).
pub const GRID: usize = 160;

/// The contours of p over `lim`.
#[derive(Debug, Clone, Serialize)]
pub struct Contours {
    /// `[xmin, xmax, ymin, ymax]`.
    pub lim: [f64; 4],
    /// One entry per level above 0, lowest first.
    pub levels: Vec<Level>,
    /// p's mean, when it has one (the moment-matched Gaussian's).
    pub mean: Option<Vec<f64>>,
    /// p's covariance as a row-major 2 × 2, when finite.
    pub cov: Option<Vec<f64>>,
}

/// The isolines at one level.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    /// The density value.
    pub level: f64,
    /// `#rrggbb`.
    pub color: String,
    /// Each line as flat `[x0, y0, x1, y1, …]`, with whether it closes.
    pub lines: Vec<Line>,
}

/// One polyline.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// `[x0, y0, x1, y1, …]`, rounded to 1e-4 (a pixel is 1e-2 here).
    pub xy: Vec<f64>,
    /// Whether the last point joins the first.
    pub closed: bool,
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The contours of a 2-D density on a validated extent.
pub fn contours(p: &AnyDensity, lim: [f64; 4]) -> Contours {
    let values = grid_values(p, lim, GRID);
    let levels = match Grid::new(&values, GRID, GRID, lim) {
        Ok(grid) => {
            let max = grid.max_value().unwrap_or(0.0);
            let levels = notebook_levels(max);
            let colors = Colormap::Viridis.level_colors(&levels);
            levels
                .iter()
                .zip(colors)
                .filter(|(l, _)| **l > 0.0 && max > 0.0)
                .map(|(l, c)| Level {
                    level: *l,
                    color: format!("#{:02x}{:02x}{:02x}", c.0[0], c.0[1], c.0[2]),
                    lines: contour_lines(&grid, *l)
                        .into_iter()
                        .map(|pl| Line {
                            xy: pl
                                .points
                                .iter()
                                .flat_map(|p| [round4(p[0]), round4(p[1])])
                                .collect(),
                            closed: pl.closed,
                        })
                        .collect(),
                })
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let cov = p.covariance().filter(|c| c.iter().all(|v| v.is_finite()));
    Contours {
        lim,
        levels,
        mean: p.mean(),
        cov,
    }
}
