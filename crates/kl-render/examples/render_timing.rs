//! Times one notebook grid (5 × 4 panels of 128² grids, 10 levels, 200 dots, titles):
//! contour extraction, rasterization and PNG encoding, best of several runs.
//!
//! `cargo run --release -p kl-render --example render_timing`

use std::time::{Duration, Instant};

use kl_render::{Colormap, Figure, FigureSpec, Grid, MarkerStyle, linspace, notebook_levels};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 128;
    let lim = [-4.0, 4.0, -4.0, 4.0];
    let xs = linspace(lim[0], lim[1], n);
    let grids: Vec<Vec<f64>> = (0..20)
        .map(|k| {
            let s = 1.0 + 0.05 * f64::from(k);
            xs.iter()
                .flat_map(|&y| {
                    xs.iter().map(move |&x| {
                        let (u, v) = (x - 0.3, y + 0.2);
                        (-(u * u / (2.0 * s) + v * v / 3.0 - 0.3 * u * v / s)).exp()
                    })
                })
                .collect()
        })
        .collect();
    let mut dots = Vec::new();
    for k in 0..200u32 {
        let t = f64::from(k) * 0.731;
        dots.push(3.0 * (t * 1.3).sin() * (t * 0.17).cos());
        dots.push(3.0 * (t * 0.7).cos() * (t * 0.29).sin());
    }
    for scale in [1.0, 2.0] {
        let (mut build, mut render, mut encode) = (Duration::MAX, Duration::MAX, Duration::MAX);
        let mut bytes = 0;
        for _ in 0..10 {
            let t0 = Instant::now();
            let mut fig = Figure::new(FigureSpec::notebook_grid().with_scale(scale))?;
            for (k, v) in grids.iter().enumerate() {
                let g = Grid::new(v, n, n, lim)?;
                let levels = notebook_levels(g.max_value().unwrap_or(1.0));
                fig.panel_mut(k / 4, k % 4)
                    .limits(lim)
                    .scatter(dots.as_chunks::<2>().0, MarkerStyle::notebook())
                    .contour(&g, &levels, Colormap::Inferno)
                    .title(&format!("iter: {k}"));
            }
            let t1 = Instant::now();
            let canvas = kl_render::render(&fig);
            let t2 = Instant::now();
            let png = kl_render::encode_png(&canvas)?;
            let t3 = Instant::now();
            bytes = png.len();
            build = build.min(t1 - t0);
            render = render.min(t2 - t1);
            encode = encode.min(t3 - t2);
        }
        println!(
            "scale {scale}: contours {:.1} ms, rasterize {:.1} ms, PNG encode {:.1} ms ({} KB)",
            build.as_secs_f64() * 1e3,
            render.as_secs_f64() * 1e3,
            encode.as_secs_f64() * 1e3,
            bytes / 1024
        );
    }
    Ok(())
}
