//! PNG and GIF bytes: determinism, decodability, the streaming GIF writer, and bad scenes.

use image::AnimationDecoder;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};
use kl_render::{
    Canvas, Colormap, Error, Figure, FigureSpec, GifWriter, Grid, MAX_CANVAS_PIXELS,
    MAX_CANVAS_SIDE, MarkerStyle, Rgba, linspace, notebook_levels,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

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
        .contour(&grid, &notebook_levels(1.0), Colormap::Inferno)
        .scatter(&[[0.0, 0.0], [1.0, -1.0]], MarkerStyle::notebook())
        .title(&format!("iter: {k}"));
    Ok(kl_render::render(&fig))
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
    // A different frame gives different bytes.
    assert_ne!(kl_render::encode_png(&frame(2)?)?, pa);
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

/// The GIF encoding as it was before the streaming writer (image's `GifEncoder` over all
/// frames at once, speed 30, looping): the reference the writer must match byte for byte.
fn reference_gif(frames: &[Canvas], delay_ms: u32) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 30);
        encoder.set_repeat(Repeat::Infinite)?;
        for f in frames {
            let img = RgbaImage::from_raw(f.width(), f.height(), f.to_rgba8()).ok_or("size")?;
            let delay = Delay::from_numer_denom_ms(delay_ms, 1);
            encoder.encode_frame(Frame::from_parts(img, 0, 0, delay))?;
        }
    }
    Ok(out)
}

#[test]
fn streaming_gif_matches_the_all_at_once_encoding_byte_for_byte() -> TestResult {
    let frames: Vec<Canvas> = (0..4).map(frame).collect::<Result<_, _>>()?;
    let want = reference_gif(&frames, 250)?;
    let mut gif = GifWriter::new(250);
    for f in &frames {
        gif.push(f)?;
    }
    assert_eq!(gif.frames(), 4);
    assert_eq!(gif.finish()?, want);
    assert_eq!(kl_render::encode_gif(&frames, 250)?, want);
    // One frame, and another delay.
    assert_eq!(
        kl_render::encode_gif(&frames[..1], 40)?,
        reference_gif(&frames[..1], 40)?
    );
    Ok(())
}

#[test]
fn a_wrong_sized_frame_is_refused_and_leaves_the_stream_intact() -> TestResult {
    let frames: Vec<Canvas> = (0..2).map(frame).collect::<Result<_, _>>()?;
    let mut gif = GifWriter::new(100);
    gif.push(&frames[0])?;
    assert_eq!(
        gif.push(&Canvas::new(4, 4, Rgba::WHITE)?),
        Err(Error::FrameSize {
            index: 1,
            expected: (108, 72),
            found: (4, 4)
        })
    );
    gif.push(&frames[1])?;
    assert_eq!(gif.finish()?, reference_gif(&frames, 100)?);
    assert_eq!(GifWriter::new(100).finish(), Err(Error::NoFrames));
    Ok(())
}

#[test]
fn canvas_limits_carry_the_requested_size_and_the_limit() -> TestResult {
    // The notebook grid at scale 8 fits (59.7 Mpx); at scale 9 it does not (75.6 Mpx).
    let fig = Figure::new(FigureSpec::notebook_grid().with_scale(8.0))?;
    assert_eq!((fig.width(), fig.height()), (6912, 8640));
    let err = Figure::new(FigureSpec::notebook_grid().with_scale(9.0))
        .err()
        .ok_or("a 75 Mpx canvas was accepted")?;
    assert_eq!(
        err,
        Error::CanvasSize {
            width: 7776.0,
            height: 9720.0,
            max_side: MAX_CANVAS_SIDE,
            max_pixels: MAX_CANVAS_PIXELS,
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("7776 × 9720") && msg.contains("67108864"),
        "{msg}"
    );
    // A long thin figure is refused on its side, whatever its area.
    let thin = FigureSpec {
        width_in: 500.0,
        height_in: 1.0,
        ..FigureSpec::single()
    };
    assert!(matches!(
        Figure::new(thin),
        Err(Error::CanvasSize { width: 36000.0, .. })
    ));
    assert!(matches!(
        Canvas::new(0, 5, Rgba::WHITE),
        Err(Error::CanvasSize { .. })
    ));
    assert!(matches!(
        Canvas::new(32_767, 32_767, Rgba::WHITE),
        Err(Error::CanvasSize { .. })
    ));
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
    spec = FigureSpec {
        rows: 200,
        cols: 51,
        ..FigureSpec::single()
    };
    assert!(matches!(
        Figure::new(spec),
        Err(Error::FigureSpec {
            field: "rows * cols",
            ..
        })
    ));

    let mut fig = Figure::new(FigureSpec::single())?;
    assert!(fig.get_panel_mut(1, 0).is_none());
    assert!(fig.panel(0, 1).is_none());
    let v = [0.0; 5];
    assert!(matches!(
        Grid::new(&v, 2, 2, [0.0, 1.0, 0.0, 1.0]),
        Err(Error::GridShape { len: 5, .. })
    ));
    let mut small = Canvas::new(10, 10, Rgba::WHITE)?;
    assert_eq!(
        kl_render::render_into(&fig, &mut small),
        Err(Error::CanvasMismatch {
            expected: (432, 432),
            found: (10, 10)
        })
    );

    // NaN everywhere: no panic, nothing drawn but the background.
    let nan = vec![f64::NAN; 16];
    let grid = Grid::new(&nan, 4, 4, [0.0, 1.0, 0.0, 1.0])?;
    let mut fig = Figure::new(FigureSpec::single())?;
    fig.panel_mut(0, 0)
        .contour(&grid, &notebook_levels(f64::NAN), Colormap::Inferno)
        .scatter(
            &[[f64::NAN, 0.0], [0.5, f64::INFINITY]],
            MarkerStyle::notebook(),
        )
        .error_bars(
            &[kl_render::ErrorBar::vertical(f64::NAN, 0.5, 1.0)],
            kl_render::ErrorBarStyle::new(Rgba::BLACK, 1.0),
        )
        .limits([f64::NAN, 1.0, 0.0, 1.0]);
    let c = kl_render::render(&fig);
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
            &[[0.5, 0.5]],
            MarkerStyle {
                area_pt2: 1.0e30,
                color: Rgba::BLACK,
                edge_width: f64::NAN,
            },
        )
        .scatter(
            &[[0.5, 0.5]],
            MarkerStyle {
                area_pt2: -3.0,
                color: Rgba::BLACK,
                edge_width: f64::INFINITY,
            },
        )
        .error_bars(
            &[kl_render::ErrorBar {
                center: [0.5, 0.5],
                x_err: f64::INFINITY,
                y_err: 1.0e300,
            }],
            kl_render::ErrorBarStyle {
                line: kl_render::LineStyle::solid(Rgba::BLACK, 1.0),
                cap_pt: f64::NAN,
                marker: None,
            },
        )
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
        .text([0.5, 0.5], "\n\nthree\n", 10.0, Rgba::BLACK)
        .title("\u{1F600} \u{0} iter");
    let _ = kl_render::render(&fig);
    Ok(())
}
