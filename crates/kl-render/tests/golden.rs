//! Golden-image tests on small synthetic figures.
//!
//! Each figure is compared with `tests/golden/<name>.png`. Run with `KL_RENDER_BLESS=1` to
//! (re)write the goldens. On a mismatch the rendered image and a diff image (red where the
//! pixels differ) are written under the target directory and their paths are printed.

use std::path::PathBuf;

use kl_render::layout::Mapping;
use kl_render::{
    Axes, Canvas, Colormap, ContourStyle, ErrorBar, ErrorBarStyle, Figure, FigureSpec, Grid,
    HAlign, LineStyle, MarkerStyle, Rgba, SubplotParams, VAlign, linspace, notebook_levels,
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
        std::fs::write(&path, kl_render::encode_png(canvas)?)?;
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
            std::fs::write(&actual, kl_render::encode_png(canvas)?)?;
            let what = match result {
                Some((n, diff)) => {
                    let d = out.join(format!("{name}.diff.png"));
                    std::fs::write(&d, kl_render::encode_png(&diff)?)?;
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
        .contour(&grid, &levels, Colormap::Inferno);
    Ok(kl_render::render(&fig))
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
    std::fs::write(&wrong, kl_render::encode_png(&circle_figure(0.5)?)?)?;
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
        [0.0, 0.0],
        [1.0, 1.0],
        [-1.5, 0.5],
        [2.0, -2.0],
        [1.18, 0.0],
        [1.25, 0.1],
        [-2.9, 2.9],
    ];
    fig.panel_mut(0, 0)
        .contour(&grid, &levels, Colormap::Inferno)
        .scatter(&dots, MarkerStyle::notebook());
    check("dots", &kl_render::render(&fig))
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
            .contour_styled(&grid, &levels, cmap, style)
            .title(&format!("iter: {}", 10 + k));
    }
    check("titled_grid", &kl_render::render(&fig))
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
            ..Axes::default()
        });
    check("line_plot", &kl_render::render(&fig))
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
    check("dashed_ellipse", &kl_render::render(&fig))
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
        .scatter(&[[0.5, 0.5]], MarkerStyle::notebook())
        .contour_styled(&grid, &levels, Colormap::Viridis, ContourStyle::plain());
    let canvas = kl_render::render(&fig);
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

#[test]
fn error_bars_with_categorical_ticks_and_a_note() -> TestResult {
    // "Each coefficient's mean ± 2 sd side by side": three coefficients, two fits each.
    let mut fig = Figure::new(small(1, 1, 4.0, 3.0))?;
    fig.set_subplot_params(SubplotParams {
        left: 0.15,
        bottom: 0.15,
        ..SubplotParams::default()
    });
    let a = [
        ErrorBar::vertical(0.9, 0.5, 0.4),
        ErrorBar::vertical(1.9, -0.7, 0.2),
        ErrorBar::vertical(2.9, 1.0, 0.6),
    ];
    let b = [
        ErrorBar::vertical(1.1, 0.6, 0.8),
        ErrorBar::vertical(2.1, -0.5, f64::NAN),
        ErrorBar::horizontal(3.1, 1.2, 0.15),
    ];
    fig.panel_mut(0, 0)
        .limits([0.5, 3.5, -1.5, 2.0])
        .polyline(
            &[[0.5, 0.0], [3.5, 0.0]],
            LineStyle::dotted(Rgba::BLACK, 0.8),
        )
        .error_bars(&a, ErrorBarStyle::new(Rgba::tab10(0), 1.5))
        .error_bars(&b, ErrorBarStyle::new(Rgba::tab10(1), 1.5))
        .text_aligned(
            [3.4, 1.9],
            "k\u{302} = 0.41\nKL = 0.12",
            9.0,
            Rgba::BLACK,
            HAlign::Right,
            VAlign::Top,
        )
        .axes(Axes {
            y_label: Some("coefficient".into()),
            x_ticks: Some(vec![
                (1.0, "\u{3bc}\u{2081}".into()),
                (2.0, "\u{3bc}\u{2082}".into()),
                (3.0, "L\u{2081}\u{2081}".into()),
            ]),
            ..Axes::default()
        });
    check("error_bars", &kl_render::render(&fig))
}

#[test]
fn log_log_line_plot() -> TestResult {
    let mut fig = Figure::new(small(1, 1, 4.0, 3.0))?;
    fig.set_subplot_params(SubplotParams {
        left: 0.2,
        bottom: 0.2,
        ..SubplotParams::default()
    });
    let n: Vec<f64> = (0..=30)
        .map(|i| 10f64.powf(1.0 + f64::from(i) / 10.0))
        .collect();
    let sd: Vec<[f64; 2]> = n.iter().map(|&n| [n, 3.0 / n.sqrt()]).collect();
    let bias: Vec<[f64; 2]> = n.iter().map(|&n| [n, 5.0 / n]).collect();
    fig.panel_mut(0, 0)
        .series(&sd, LineStyle::solid(Rgba::tab10(0), 1.5), "n^-1/2")
        .series(&bias, LineStyle::dashed(Rgba::tab10(1), 1.5), "n^-1")
        .axes(Axes {
            x_label: Some("n".into()),
            log_x: true,
            log_y: true,
            legend: true,
            ..Axes::default()
        });
    check("log_log", &kl_render::render(&fig))
}

/// A 2 × 2 in figure at 72 dpi whose one panel fills the canvas (144 px, 36 px a unit on
/// [0, 4]²), so pixel positions follow from the data by hand.
fn full_panel() -> Result<Figure, kl_render::Error> {
    let mut fig = Figure::new(small(1, 1, 2.0, 2.0))?;
    fig.set_subplot_params(SubplotParams {
        left: 0.0,
        right: 1.0,
        bottom: 0.0,
        top: 1.0,
        wspace: 0.0,
        hspace: 0.0,
    });
    fig.panel_mut(0, 0).limits([0.0, 4.0, 0.0, 4.0]);
    Ok(fig)
}

fn inked(c: &Canvas, x: u32, y: u32) -> bool {
    c.pixel(x, y).is_some_and(|p| p.0[0] < 200)
}

fn white(c: &Canvas, x: u32, y: u32) -> bool {
    c.pixel(x, y).is_some_and(|p| p.0 == [255, 255, 255, 255])
}

#[test]
fn error_bars_cover_exactly_their_interval() -> TestResult {
    let mut fig = full_panel()?;
    let style = ErrorBarStyle {
        line: LineStyle::solid(Rgba::BLACK, 2.0),
        cap_pt: 8.0,
        marker: None,
    };
    // Vertical: x = 2 (px 72), y = 2 ± 1 (rows 36..108). Horizontal: y = 0.5 (row 126),
    // x = 1 ± 0.5 (columns 18..54).
    fig.panel_mut(0, 0).error_bars(
        &[
            ErrorBar::vertical(2.0, 2.0, 1.0),
            ErrorBar::horizontal(1.0, 0.5, 0.5),
            ErrorBar::vertical(f64::NAN, 1.0, 1.0),
        ],
        style,
    );
    let c = kl_render::render(&fig);
    for y in 38..=106 {
        assert!(
            inked(&c, 71, y) && inked(&c, 72, y),
            "vertical bar missing at row {y}"
        );
        assert!(
            white(&c, 66, y) && white(&c, 78, y),
            "bar too wide at row {y}"
        );
    }
    for y in (0..=33).chain(111..=120) {
        assert!(
            white(&c, 72, y),
            "vertical bar beyond its interval at row {y}"
        );
    }
    // Caps 8 px long across both ends: columns 68..76.
    for y in [36, 107] {
        assert!(inked(&c, 69, y) && inked(&c, 75, y), "no cap at row {y}");
        assert!(
            white(&c, 65, y) && white(&c, 79, y),
            "cap too long at row {y}"
        );
    }
    for x in 20..=52 {
        assert!(inked(&c, x, 126), "horizontal bar missing at column {x}");
        assert!(white(&c, x, 120), "horizontal bar too thick at column {x}");
    }
    for x in (0..=13).chain(59..=64) {
        assert!(
            white(&c, x, 126),
            "horizontal bar beyond its interval at column {x}"
        );
    }
    Ok(())
}

#[test]
fn log_log_axes_map_a_power_law_to_a_straight_line() -> TestResult {
    // y = x² on [1, 1000]² log-log: the line through (1, 1) and (10^1.5, 1000), slope 2 in
    // decades. 1 decade = 48 px on a 144 px square: x = 48 u, y = 144 − 96 u, u = log10 x.
    let mut fig = full_panel()?;
    let pts: Vec<[f64; 2]> = (0..=60)
        .map(|i| {
            let x = 10f64.powf(1.5 * f64::from(i) / 60.0);
            [x, x * x]
        })
        .collect();
    fig.panel_mut(0, 0)
        .limits([1.0, 1000.0, 1.0, 1000.0])
        .polyline(&pts, LineStyle::solid(Rgba::BLACK, 1.5))
        .axes(Axes {
            log_x: true,
            log_y: true,
            ..Axes::default()
        });
    let c = kl_render::render(&fig);
    for (x, y) in [(24, 96), (48, 48), (60, 24)] {
        let near = (x - 1..=x + 1).any(|xx| inked(&c, xx, y));
        assert!(near, "no line near ({x}, {y})");
    }
    // Off the line: where linear axes would put it, and above its end.
    for (x, y) in [(48, 120), (100, 20), (24, 60)] {
        assert!(white(&c, x, y), "ink at ({x}, {y})");
    }
    // Non-positive data is not drawn on log axes and does not panic.
    let mut fig = full_panel()?;
    fig.panel_mut(0, 0)
        .limits([1.0, 1000.0, 1.0, 1000.0])
        .polyline(
            &[[0.0, -1.0], [-5.0, 10.0]],
            LineStyle::solid(Rgba::BLACK, 1.5),
        )
        .axes(Axes {
            log_x: true,
            log_y: true,
            ..Axes::default()
        });
    let c = kl_render::render(&fig);
    assert!((2..142).all(|x| (2..142).all(|y| white(&c, x, y))));
    Ok(())
}

#[test]
fn custom_x_ticks_sit_at_their_positions() -> TestResult {
    let mut fig = Figure::new(small(1, 1, 4.0, 3.0))?;
    let lim = [0.5, 3.5, 0.0, 1.0];
    fig.panel_mut(0, 0).limits(lim).axes(Axes {
        x_ticks: Some(vec![
            (1.0, "a".into()),
            (2.0, "b".into()),
            (3.0, "c".into()),
            (9.0, "outside".into()),
        ]),
        ..Axes::default()
    });
    let c = kl_render::render(&fig);
    let bx = fig.panel_box(0, 0);
    let map = Mapping {
        lim,
        bx,
        log_x: false,
        log_y: false,
    };
    // Tick marks are 3.5 pt long below the frame; nothing between them.
    let below = (bx.y1.round() as u32) + 2;
    for v in [1.0, 2.0, 3.0] {
        let (px, _) = map.map([v, 0.0]).ok_or("maps")?;
        let px = px.floor() as u32;
        assert!(inked(&c, px, below), "no tick at x = {v} (column {px})");
        assert!(white(&c, px + 6, below), "ink right of the tick at x = {v}");
    }
    let (p, _) = map.map([1.5, 0.0]).ok_or("maps")?;
    assert!(white(&c, p.floor() as u32, below), "a tick at x = 1.5");
    Ok(())
}

fn note(text: &str, v: VAlign) -> Result<Canvas, kl_render::Error> {
    let mut fig = full_panel()?;
    fig.panel_mut(0, 0)
        .text_aligned([0.5, 2.0], text, 20.0, Rgba::BLACK, HAlign::Left, v);
    Ok(kl_render::render(&fig))
}

fn rows_with_ink(c: &Canvas) -> Vec<u32> {
    (0..c.height())
        .filter(|&y| (0..c.width()).any(|x| !white(c, x, y)))
        .collect()
}

#[test]
fn multi_line_text_stacks_lines_1_2_sizes_apart() -> TestResult {
    // 20 pt at 72 dpi = 20 px: lines 24 px apart, each the single line's pixels.
    let one = note("A", VAlign::Top)?;
    let two = note("A\nA", VAlign::Top)?;
    let (p1, p2) = (one.to_rgba8(), two.to_rgba8());
    let row = 4 * one.width() as usize;
    let r1 = rows_with_ink(&one);
    let (first, last) = (r1[0] as usize, r1[r1.len() - 1] as usize);
    assert!(last - first < 24, "a line taller than the spacing");
    for y in first..=last {
        let z = y + 24;
        assert_eq!(
            p2[y * row..(y + 1) * row],
            p1[y * row..(y + 1) * row],
            "line 1, row {y}"
        );
        assert_eq!(
            p2[z * row..(z + 1) * row],
            p1[y * row..(y + 1) * row],
            "line 2, row {z}"
        );
    }
    assert_eq!(rows_with_ink(&two).len(), 2 * r1.len());
    // Bottom anchors the last line: it is where a single bottom-anchored line is.
    let r1 = rows_with_ink(&note("A", VAlign::Bottom)?);
    let r2 = rows_with_ink(&note("A\nA", VAlign::Bottom)?);
    assert_eq!(r2[r2.len() - 1], r1[r1.len() - 1]);
    assert_eq!(r2[0], r1[0] - 24);
    Ok(())
}
