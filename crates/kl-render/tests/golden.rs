//! Golden-image tests on small synthetic figures.
//!
//! Each figure is compared with `tests/golden/<name>.png`. Run with `KL_RENDER_BLESS=1` to
//! (re)write the goldens. On a mismatch the rendered image and a diff image (red where the
//! pixels differ) are written under the target directory and their paths are printed.

use std::path::PathBuf;

use kl_render::{
    Axes, Canvas, Colormap, ContourStyle, Figure, FigureSpec, Grid, LineStyle, MarkerStyle, Rgba,
    SubplotParams, linspace, notebook_levels,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A channel difference above this counts a pixel as different (anti-aliasing noise and
/// rounding between rasterizer versions stay below it; a line moved by a pixel does not).
const CHANNEL_TOL: u8 = 40;
/// How many pixels may differ before the images are declared different.
const PIXEL_TOL: usize = 12;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kl-render-golden")
}

/// Pixels whose channels differ by more than `CHANNEL_TOL`, and a diff image.
fn compare(a: &Canvas, b: &Canvas) -> Option<(usize, Canvas)> {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return None;
    }
    let (pa, pb) = (a.to_rgba8(), b.to_rgba8());
    let mut diff = Vec::with_capacity(pa.len());
    let mut count = 0;
    for (x, y) in pa.chunks_exact(4).zip(pb.chunks_exact(4)) {
        let d = x
            .iter()
            .zip(y)
            .map(|(p, q)| p.abs_diff(*q))
            .max()
            .unwrap_or(0);
        if d > CHANNEL_TOL {
            count += 1;
            diff.extend_from_slice(&[255, 0, 0, 255]);
        } else {
            // Faded original for context.
            let g = 255 - (255 - x[0].min(x[1]).min(x[2])) / 4;
            diff.extend_from_slice(&[g, g, g, 255]);
        }
    }
    let img = Canvas::from_rgba8(a.width(), a.height(), &diff).ok()?;
    Some((count, img))
}

fn decode(bytes: &[u8]) -> Result<Canvas, Box<dyn std::error::Error>> {
    let img = image::load_from_memory(bytes)?.to_rgba8();
    Ok(Canvas::from_rgba8(img.width(), img.height(), img.as_raw())?)
}

fn check(name: &str, canvas: &Canvas) -> TestResult {
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("KL_RENDER_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir())?;
        kl_render::write_png(&path, canvas)?;
        return Ok(());
    }
    check_against(&path, name, canvas)
}

fn check_against(path: &std::path::Path, name: &str, canvas: &Canvas) -> TestResult {
    let golden = decode(&std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e} (run with KL_RENDER_BLESS=1 to create it)",
            path.display()
        )
    })?)?;
    let out = out_dir();
    std::fs::create_dir_all(&out)?;
    match compare(canvas, &golden) {
        Some((n, _)) if n <= PIXEL_TOL => Ok(()),
        result => {
            let actual = out.join(format!("{name}.actual.png"));
            kl_render::write_png(&actual, canvas)?;
            let what = match result {
                Some((n, diff)) => {
                    let d = out.join(format!("{name}.diff.png"));
                    kl_render::write_png(&d, &diff)?;
                    format!("{n} pixels differ; diff in {}", d.display())
                }
                None => format!(
                    "size {}×{} differs from the golden's {}×{}",
                    canvas.width(),
                    canvas.height(),
                    golden.width(),
                    golden.height()
                ),
            };
            Err(format!("{name}: {what}; rendered image in {}", actual.display()).into())
        }
    }
}

fn small(rows: usize, cols: usize, w: f64, h: f64) -> FigureSpec {
    FigureSpec {
        rows,
        cols,
        width_in: w,
        height_in: h,
        dpi: 72.0,
        scale: 1.0,
    }
}

fn radial(n: usize, shift: f64) -> (Vec<f64>, [f64; 4]) {
    let xs = linspace(-3.0, 3.0, n);
    let mut v = Vec::new();
    for y in &xs {
        for x in &xs {
            let (u, w) = (x - shift, y + 0.5 * shift);
            v.push((-(u * u + w * w) / 2.0).exp());
        }
    }
    (v, [-3.0, 3.0, -3.0, 3.0])
}

fn circle_figure(shift: f64) -> Result<Canvas, kl_render::Error> {
    let (v, ext) = radial(48, shift);
    let grid = Grid::new(&v, 48, 48, ext)?;
    let mut fig = Figure::new(small(1, 1, 1.6, 1.6))?;
    let levels = notebook_levels(grid.max_value().unwrap_or(1.0));
    fig.panel_mut(0, 0)
        .contour(&grid, &levels, Colormap::Inferno)?;
    fig.render()
}

#[test]
fn circle_contours() -> TestResult {
    check("circle_contours", &circle_figure(0.0)?)
}

#[test]
fn the_comparison_catches_a_misplaced_line() -> TestResult {
    // The same circles moved by 1/20 of the extent (a few pixels) must not pass.
    let a = circle_figure(0.0)?;
    let b = circle_figure(0.3)?;
    let (n, _) = compare(&a, &b).ok_or("sizes differ")?;
    assert!(n > 10 * PIXEL_TOL, "only {n} pixels differ");
    // Even a one-pixel move (0.07 data units at ~14 px per unit) is caught.
    let (n, _) = compare(&a, &circle_figure(0.07)?).ok_or("sizes differ")?;
    assert!(
        n > 2 * PIXEL_TOL,
        "only {n} pixels differ after a 1 px move"
    );
    // And identical renders compare equal.
    let (n, _) = compare(&a, &circle_figure(0.0)?).ok_or("sizes differ")?;
    assert_eq!(n, 0);
    Ok(())
}

#[test]
fn a_mismatch_writes_the_rendered_and_diff_images() -> TestResult {
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let wrong = dir.join("wrong-golden.png");
    kl_render::write_png(&wrong, &circle_figure(0.5)?)?;
    let err = check_against(&wrong, "self-test", &circle_figure(0.0)?)
        .err()
        .ok_or("a moved circle passed")?;
    assert!(err.to_string().contains("pixels differ"), "{err}");
    let diff = image::open(dir.join("self-test.diff.png"))?;
    assert_eq!(diff.width(), 115);
    assert!(dir.join("self-test.actual.png").exists());
    Ok(())
}

#[test]
fn dots_over_and_under_contours() -> TestResult {
    let (v, ext) = radial(40, 0.0);
    let grid = Grid::new(&v, 40, 40, ext)?;
    let mut fig = Figure::new(small(1, 1, 1.6, 1.6))?;
    let levels = notebook_levels(1.0);
    let dots = [
        0.0, 0.0, 1.0, 1.0, -1.5, 0.5, 2.0, -2.0, 1.18, 0.0, 1.25, 0.1, -2.9, 2.9,
    ];
    fig.panel_mut(0, 0)
        .contour(&grid, &levels, Colormap::Inferno)?
        .scatter(&dots, MarkerStyle::notebook())?;
    check("dots", &fig.render()?)
}

#[test]
fn titled_grid_of_panels() -> TestResult {
    let mut fig = Figure::new(small(2, 2, 2.2, 2.2))?;
    for k in 0..4 {
        let (v, ext) = radial(24, 0.4 * k as f64);
        let grid = Grid::new(&v, 24, 24, ext)?;
        let levels = linspace(0.0, 1.1, 5);
        let cmap = if k % 2 == 0 {
            Colormap::Viridis
        } else {
            Colormap::Inferno
        };
        let style = if k == 0 {
            ContourStyle::plain()
        } else {
            ContourStyle::notebook()
        };
        fig.panel_mut(k / 2, k % 2)
            .contour_styled(&grid, &levels, cmap, style)?
            .title(&format!("iter: {}", 10 + k));
    }
    check("titled_grid", &fig.render()?)
}

#[test]
fn line_plot_with_axes() -> TestResult {
    let mut fig = Figure::new(small(1, 1, 4.0, 3.0))?;
    fig.set_subplot_params(SubplotParams {
        left: 0.2,
        bottom: 0.2,
        ..SubplotParams::default()
    });
    let a: Vec<[f64; 2]> = (0..=40)
        .map(|i| [f64::from(i), 0.02 + 5.0 * (-f64::from(i) / 6.0).exp()])
        .collect();
    let b: Vec<[f64; 2]> = (0..=40)
        .map(|i| [f64::from(i), 0.2 + 2.0 * (-f64::from(i) / 12.0).exp()])
        .collect();
    fig.panel_mut(0, 0)
        .series(&a, LineStyle::solid(Rgba::tab10(0), 1.5), "forward")
        .series(&b, LineStyle::dashed(Rgba::tab10(1), 1.5), "reverse")
        .axes(Axes {
            x_label: Some("iteration".into()),
            y_label: Some("KL".into()),
            log_y: true,
            legend: true,
        });
    check("line_plot", &fig.render()?)
}

#[test]
fn dashed_ellipse_and_text() -> TestResult {
    let mut fig = Figure::new(small(1, 1, 2.0, 2.0))?;
    let ellipse: Vec<[f64; 2]> = (0..64)
        .map(|k| {
            let t = std::f64::consts::TAU * f64::from(k) / 64.0;
            [2.0 * t.cos(), 1.0 * t.sin()]
        })
        .collect();
    fig.panel_mut(0, 0)
        .limits([-3.0, 3.0, -3.0, 3.0])
        .polygon(&ellipse, LineStyle::dashed(Rgba::hex(0x2ca02c), 1.5))
        .text([-2.5, 2.2], "q", 12.0, Rgba::BLACK);
    check("dashed_ellipse", &fig.render()?)
}

#[test]
fn level_colours_and_layer_order_on_the_pixels() -> TestResult {
    // One level crossing the panel's centre column: the pixel on the line has the level's
    // colour even with a dot under it (contours draw over scatter, as in matplotlib).
    let n = 20;
    let xs = linspace(0.0, 1.0, n);
    let v: Vec<f64> = xs.iter().flat_map(|_| xs.iter().copied()).collect();
    let grid = Grid::new(&v, n, n, [0.0, 1.0, 0.0, 1.0])?;
    let mut fig = Figure::new(small(1, 1, 2.0, 2.0))?;
    let levels = [0.0, 0.5, 1.0];
    fig.panel_mut(0, 0)
        .scatter(&[0.5, 0.5], MarkerStyle::notebook())?
        .contour_styled(&grid, &levels, Colormap::Viridis, ContourStyle::plain())?;
    let canvas = fig.render()?;
    let bx = fig.panel_box(0, 0);
    let x = ((bx.x0 + bx.x1) / 2.0).floor() as u32;
    let y = ((bx.y0 + bx.y1) / 2.0).floor() as u32;
    let want = Colormap::Viridis.at(0.5);
    let line = (x - 2..=x + 2)
        .filter_map(|x| canvas.pixel(x, y))
        .find(|p| {
            p.0[..3]
                .iter()
                .zip(&want.0[..3])
                .all(|(a, b)| a.abs_diff(*b) <= 3)
        });
    assert!(
        line.is_some(),
        "no pixel of colour {want:?} near the centre"
    );
    Ok(())
}
