//! PNG and GIF output: determinism, decodability, atomic writes and their errors.

use std::path::{Path, PathBuf};

use image::AnimationDecoder;
use kl_render::{
    Canvas, Colormap, Error, Figure, FigureSpec, Grid, MarkerStyle, Rgba, linspace, notebook_levels,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn scratch(name: &str) -> Result<PathBuf, std::io::Error> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kl-render-output")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn entries(dir: &Path) -> Result<Vec<String>, std::io::Error> {
    let mut v: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    v.sort();
    Ok(v)
}

fn frame(k: usize) -> Result<Canvas, Error> {
    let n = 24;
    let xs = linspace(-2.0, 2.0, n);
    let s = 0.5 + 0.25 * k as f64;
    let v: Vec<f64> = xs
        .iter()
        .flat_map(|y| xs.iter().map(move |x| (-(x * x + y * y) / (2.0 * s)).exp()))
        .collect();
    let grid = Grid::new(&v, n, n, [-2.0, 2.0, -2.0, 2.0])?;
    let mut fig = Figure::new(FigureSpec {
        rows: 1,
        cols: 1,
        width_in: 1.5,
        height_in: 1.0,
        dpi: 72.0,
        scale: 1.0,
    })?;
    fig.panel_mut(0, 0)
        .contour(&grid, &notebook_levels(1.0), Colormap::Inferno)?
        .scatter(&[0.0, 0.0, 1.0, -1.0], MarkerStyle::notebook())?
        .title(&format!("iter: {k}"));
    fig.render()
}

#[test]
fn png_is_deterministic_and_decodes_to_the_right_size() -> TestResult {
    let (a, b) = (frame(1)?, frame(1)?);
    let (pa, pb) = (kl_render::encode_png(&a)?, kl_render::encode_png(&b)?);
    assert_eq!(pa, pb);
    let img = image::load_from_memory(&pa)?;
    assert_eq!((img.width(), img.height()), (108, 72));
    // Opaque canvases are stored as RGB and decode to the same pixels.
    assert_eq!(img.to_rgba8().as_raw(), &a.to_rgba8());

    let dir = scratch("png")?;
    let path = dir.join("frame.png");
    kl_render::write_png(&path, &a)?;
    assert_eq!(std::fs::read(&path)?, pa);
    // Overwriting works and leaves nothing else behind.
    kl_render::write_png(&path, &frame(2)?)?;
    assert_eq!(entries(&dir)?, vec!["frame.png".to_owned()]);
    Ok(())
}

#[test]
fn transparent_canvases_keep_their_alpha() -> TestResult {
    let c = Canvas::new(3, 2, Rgba([10, 20, 30, 128]))?;
    let png = kl_render::encode_png(&c)?;
    let img = image::load_from_memory(&png)?.to_rgba8();
    let p = img.get_pixel(1, 1).0;
    assert_eq!(p[3], 128);
    assert!(
        p[..3]
            .iter()
            .zip([10u8, 20, 30])
            .all(|(a, b)| a.abs_diff(b) <= 1)
    );
    Ok(())
}

#[test]
fn gif_is_deterministic_looping_and_has_every_frame() -> TestResult {
    let frames: Vec<Canvas> = (0..3).map(frame).collect::<Result<_, _>>()?;
    let a = kl_render::encode_gif(&frames, 250)?;
    let b = kl_render::encode_gif(&frames, 250)?;
    assert_eq!(a, b);
    // NETSCAPE2.0 application extension = looping.
    assert!(a.windows(11).any(|w| w == b"NETSCAPE2.0"));
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&a))?;
    let decoded = decoder.into_frames().collect_frames()?;
    assert_eq!(decoded.len(), 3);
    for f in &decoded {
        assert_eq!(f.buffer().dimensions(), (108, 72));
        let (num, den) = f.delay().numer_denom_ms();
        assert_eq!(num / den, 250);
    }
    let dir = scratch("gif")?;
    let path = dir.join("anim.gif");
    kl_render::write_gif(&path, &frames, 250)?;
    assert_eq!(std::fs::read(&path)?, a);
    assert_eq!(entries(&dir)?, vec!["anim.gif".to_owned()]);
    Ok(())
}

#[test]
fn gif_input_errors() -> TestResult {
    assert!(matches!(
        kl_render::encode_gif(&[], 100),
        Err(Error::NoFrames)
    ));
    let frames = [
        Canvas::new(4, 4, Rgba::WHITE)?,
        Canvas::new(4, 5, Rgba::WHITE)?,
    ];
    match kl_render::encode_gif(&frames, 100) {
        Err(Error::FrameSize { index, .. }) => assert_eq!(index, 1),
        other => panic!("expected FrameSize, got {other:?}"),
    }
    Ok(())
}

#[test]
fn unwritable_path_is_an_error_naming_it_and_leaves_no_temp_file() -> TestResult {
    let dir = scratch("unwritable")?;
    let canvas = frame(0)?;

    // The parent is a regular file: nothing can be created there (even as root).
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x")?;
    let path = file.join("out.png");
    match kl_render::write_png(&path, &canvas) {
        Err(Error::Write { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected a write error, got {other:?}"),
    }
    let err = kl_render::write_png(&path, &canvas)
        .err()
        .ok_or("no error")?;
    assert!(err.to_string().contains("not-a-dir/out.png"), "{err}");
    assert!(std::error::Error::source(&err).is_some());

    // The target is a directory: the temporary file is written, the rename fails, and the
    // temporary file must be cleaned up.
    let target = dir.join("taken");
    std::fs::create_dir(&target)?;
    match kl_render::write_png(&target, &canvas) {
        Err(Error::Write { path: p, .. }) => assert_eq!(p, target),
        other => panic!("expected a write error, got {other:?}"),
    }
    match kl_render::write_gif(&target, &[canvas], 100) {
        Err(Error::Write { path: p, .. }) => assert_eq!(p, target),
        other => panic!("expected a write error, got {other:?}"),
    }
    assert_eq!(
        entries(&dir)?,
        vec!["not-a-dir".to_owned(), "taken".to_owned()]
    );
    Ok(())
}

#[test]
fn bad_figures_and_inputs_are_errors_not_panics() -> TestResult {
    let mut spec = FigureSpec::single();
    spec.dpi = 0.0;
    assert!(matches!(
        Figure::new(spec),
        Err(Error::FigureSpec { field: "dpi", .. })
    ));
    spec = FigureSpec::single();
    spec.rows = 0;
    assert!(Figure::new(spec).is_err());
    spec = FigureSpec::single();
    spec.width_in = f64::NAN;
    assert!(Figure::new(spec).is_err());
    spec = FigureSpec::single().with_scale(1e9);
    assert!(matches!(Figure::new(spec), Err(Error::CanvasSize { .. })));

    let mut fig = Figure::new(FigureSpec::single())?;
    assert!(matches!(
        fig.panel_mut(0, 0)
            .scatter(&[1.0, 2.0, 3.0], MarkerStyle::notebook()),
        Err(Error::OddCoordinates { len: 3 })
    ));
    assert!(fig.get_panel_mut(1, 0).is_none());
    let v = [0.0; 5];
    let bad = Grid {
        values: &v,
        nx: 2,
        ny: 2,
        extent: [0.0, 1.0, 0.0, 1.0],
    };
    assert!(matches!(
        fig.panel_mut(0, 0)
            .contour(&bad, &[0.5], Colormap::Viridis)
            .err(),
        Some(Error::GridShape { len: 5, .. })
    ));
    let mut small = Canvas::new(10, 10, Rgba::WHITE)?;
    assert!(matches!(
        fig.render_into(&mut small),
        Err(Error::CanvasMismatch { .. })
    ));

    // NaN everywhere: no panic, nothing drawn but the background.
    let nan = vec![f64::NAN; 16];
    let grid = Grid::new(&nan, 4, 4, [0.0, 1.0, 0.0, 1.0])?;
    let mut fig = Figure::new(FigureSpec::single())?;
    fig.panel_mut(0, 0)
        .contour(&grid, &notebook_levels(f64::NAN), Colormap::Inferno)?
        .scatter(
            &[f64::NAN, 0.0, 0.5, f64::INFINITY],
            MarkerStyle::notebook(),
        )?
        .limits([f64::NAN, 1.0, 0.0, 1.0]);
    let c = fig.render()?;
    assert!(c.to_rgba8().iter().all(|&b| b == 255));
    Ok(())
}

#[test]
fn panel_boxes_follow_matplotlib_subplot_params() -> TestResult {
    let fig = Figure::new(FigureSpec::notebook_grid())?;
    assert_eq!((fig.width(), fig.height()), (864, 1080));
    let b = fig.panel_box(0, 0);
    assert!((b.x0 - 108.0).abs() < 1e-9);
    assert!((b.y0 - 129.6).abs() < 1e-9);
    let w = 0.775 * 864.0 / 4.6;
    assert!((b.x1 - b.x0 - w).abs() < 1e-9);
    let last = fig.panel_box(4, 3);
    assert!((last.x1 - 0.9 * 864.0).abs() < 1e-9);
    assert!((last.y1 - 0.89 * 1080.0).abs() < 1e-9);
    let hi = Figure::new(FigureSpec::notebook_grid().with_scale(2.0))?;
    assert_eq!((hi.width(), hi.height()), (1728, 2160));
    Ok(())
}

#[test]
fn silly_styles_draw_nothing_odd_but_do_not_panic() -> TestResult {
    let mut fig = Figure::new(FigureSpec::single())?;
    let pts = [[0.0, 0.0], [0.5, 1.0], [1.0, 0.0]];
    fig.panel_mut(0, 0)
        .limits([0.0, 1.0, 0.0, 1.0])
        .scatter(
            &[0.5, 0.5],
            MarkerStyle {
                area_pt2: 1.0e30,
                color: Rgba::BLACK,
                edge_width: f64::NAN,
            },
        )?
        .scatter(
            &[0.5, 0.5],
            MarkerStyle {
                area_pt2: -3.0,
                color: Rgba::BLACK,
                edge_width: f64::INFINITY,
            },
        )?
        .polyline(&pts, kl_render::LineStyle::solid(Rgba::BLACK, -1.0))
        .polyline(&pts, kl_render::LineStyle::solid(Rgba::BLACK, f64::NAN))
        .polyline(
            &pts,
            kl_render::LineStyle {
                color: Rgba::BLACK,
                width: 1.0,
                dash: Some(vec![0.0, 0.0]),
            },
        )
        .polyline(&[], kl_render::LineStyle::solid(Rgba::BLACK, 1.0))
        .text([0.5, 0.5], "nan", f64::NAN, Rgba::BLACK)
        .text([0.5, 0.5], "huge", 1.0e12, Rgba::BLACK)
        .text([f64::NAN, 0.5], "", 10.0, Rgba::BLACK)
        .title("\u{1F600} \u{0} iter");
    fig.render()?;
    Ok(())
}
