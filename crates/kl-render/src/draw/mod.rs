//! Drawing: the one module that knows tiny-skia. [`render`] turns a [`Figure`] into a
//! [`Canvas`].
//!
//! Imports go one way: `draw` → `layout` → `scene` → `contour`; inside, `mod` → `axes` →
//! `prim` → `text`.

mod axes;
mod prim;
mod text;

use tiny_skia::{FillRule, LineCap, Path, PathBuilder, Pixmap, PixmapPaint, Transform};

use crate::layout::Mapping;
use crate::scene::{
    ErrorBar, ErrorBarStyle, Figure, HAlign, Layer, MarkerStyle, Panel, PanelBox, VAlign,
    positive_or_zero,
};
use crate::{Canvas, Error, Rgba};
use prim::{draw_text, paint, stroke};
use text::TextEngine;

/// Draws `figure` on a new canvas of [`Figure::width`] × [`Figure::height`] filled with its
/// background. Cannot fail: the figure's size was validated by [`Figure::new`].
pub fn render(figure: &Figure) -> Canvas {
    let mut canvas = Canvas::new(figure.width(), figure.height(), figure.background())
        .expect("Figure::new checked the canvas size against MAX_CANVAS_PIXELS");
    draw_panels(figure, canvas.pixmap_mut());
    canvas
}

/// Draws the panels of `figure` over what `canvas` holds (which is not cleared, and the
/// figure's background is not painted). Fails with [`Error::CanvasMismatch`] when the canvas
/// does not have the figure's size.
///
/// # Errors
/// [`Error::CanvasMismatch`] as above.
pub fn render_into(figure: &Figure, canvas: &mut Canvas) -> Result<(), Error> {
    let expected = (figure.width(), figure.height());
    let found = (canvas.width(), canvas.height());
    if found != expected {
        return Err(Error::CanvasMismatch { expected, found });
    }
    draw_panels(figure, canvas.pixmap_mut());
    Ok(())
}

fn draw_panels(figure: &Figure, pixmap: &mut Pixmap) {
    let text = TextEngine::new();
    let k = figure.spec().px_per_pt();
    for (panel, bx) in figure.panels() {
        draw_panel(pixmap, panel, bx, k, &text);
    }
}

fn draw_panel(canvas: &mut Pixmap, panel: &Panel, bx: PanelBox, k: f64, text: &TextEngine) {
    if let Some(lim) = panel.effective_limits() {
        let map = Mapping {
            lim,
            bx,
            log_x: panel.log_x(),
            log_y: panel.log_y(),
        };
        draw_clipped_layers(canvas, panel.layers(), map, k);
        for t in panel.texts() {
            if let Some((x, y)) = map.map(t.pos) {
                draw_text(
                    canvas,
                    text,
                    &t.text,
                    t.size_pt * k,
                    (f64::from(x), f64::from(y)),
                    (t.h, t.v),
                    t.color,
                    0.0,
                );
            }
        }
        if let Some(axes) = panel.axes_spec() {
            axes::draw_axes(canvas, axes, panel.legend(), map, k, text);
        }
    }
    if let Some(title) = panel.title_text() {
        let x = (bx.x0 + bx.x1) / 2.0;
        let y = bx.y0 - 6.0 * k;
        draw_text(
            canvas,
            text,
            title,
            12.0 * k,
            (x, y),
            (HAlign::Center, VAlign::Baseline),
            Rgba::BLACK,
            0.0,
        );
    }
}

/// Appends the mapped polyline to `pb`; a point that does not map lifts the pen.
fn append(map: &Mapping, pb: &mut PathBuilder, points: &[[f64; 2]], closed: bool) {
    let mut pen = false;
    let mut all = true;
    let mut n = 0;
    for &p in points {
        match map.map(p) {
            Some((x, y)) => {
                if pen {
                    pb.line_to(x, y);
                } else {
                    pb.move_to(x, y);
                    pen = true;
                }
                n += 1;
            }
            None => {
                pen = false;
                all = false;
            }
        }
    }
    if closed && all && n > 2 {
        pb.close();
    }
}

/// Scatter, contours, lines and error bars, clipped to the panel box rounded to whole pixels
/// (as Agg's clip box), drawn on a transparent layer that is then composited over the canvas.
fn draw_clipped_layers(canvas: &mut Pixmap, layers: &[Layer], map: Mapping, k: f64) {
    if layers.is_empty() {
        return;
    }
    let bx = map.bx;
    let cw = f64::from(canvas.width());
    let ch = f64::from(canvas.height());
    let ix0 = bx.x0.round().clamp(0.0, cw);
    let iy0 = bx.y0.round().clamp(0.0, ch);
    let ix1 = bx.x1.round().clamp(0.0, cw);
    let iy1 = bx.y1.round().clamp(0.0, ch);
    if ix1 <= ix0 || iy1 <= iy0 {
        return;
    }
    // At most the canvas's size, which Figure::new validated.
    let Some(mut layer) = Pixmap::new((ix1 - ix0) as u32, (iy1 - iy0) as u32) else {
        return;
    };
    let origin = (ix0, iy0);
    let to_layer = Transform::from_translate(-ix0 as f32, -iy0 as f32);

    // z-order 1: scatter; z-order 2: contours, lines and error bars in call order.
    for l in layers {
        if let Layer::Scatter { points, style } = l {
            draw_scatter(&mut layer, points, *style, map, k, origin);
        }
    }
    for l in layers {
        match l {
            Layer::Scatter { .. } => {}
            Layer::Contour { levels, style } => {
                let paths: Vec<(Option<Path>, Rgba)> = levels
                    .iter()
                    .map(|level| {
                        let mut pb = PathBuilder::new();
                        for line in &level.lines {
                            append(&map, &mut pb, &line.points, line.closed);
                        }
                        (pb.finish(), level.color)
                    })
                    .collect();
                if let Some((hw, hc)) = style.halo
                    && let Some(s) = stroke(hw * k, LineCap::Butt, None, k)
                {
                    for path in paths.iter().filter_map(|(p, _)| p.as_ref()) {
                        layer.stroke_path(path, &paint(hc), &s, to_layer, None);
                    }
                }
                if let Some(s) = stroke(style.width * k, LineCap::Butt, None, k) {
                    for (path, color) in &paths {
                        if let Some(path) = path {
                            layer.stroke_path(path, &paint(*color), &s, to_layer, None);
                        }
                    }
                }
            }
            Layer::Line {
                points,
                closed,
                style,
            } => {
                let mut pb = PathBuilder::new();
                append(&map, &mut pb, points, *closed);
                let cap = if style.dash.is_some() {
                    LineCap::Butt
                } else {
                    LineCap::Square
                };
                if let Some(path) = pb.finish()
                    && let Some(s) = stroke(style.width * k, cap, style.dash.as_deref(), k)
                {
                    layer.stroke_path(&path, &paint(style.color), &s, to_layer, None);
                }
            }
            Layer::ErrorBars { bars, style } => {
                draw_error_bars(&mut layer, bars, style, map, k, origin);
            }
        }
    }
    canvas.draw_pixmap(
        ix0 as i32,
        iy0 as i32,
        layer.as_ref(),
        &PixmapPaint::default(),
        Transform::identity(),
        None,
    );
}

/// Each bar is a segment over its interval (in data coordinates, so a log axis maps it
/// correctly) with caps `cap_pt` long across its ends; all bars are one path, then the
/// markers go on top.
fn draw_error_bars(
    layer: &mut Pixmap,
    bars: &[ErrorBar],
    style: &ErrorBarStyle,
    map: Mapping,
    k: f64,
    origin: (f64, f64),
) {
    let cap = if style.cap_pt.is_finite() {
        (style.cap_pt.max(0.0) * k / 2.0).min(1.0e4) as f32
    } else {
        0.0
    };
    let (ox, oy) = (origin.0 as f32, origin.1 as f32);
    let mut pb = PathBuilder::new();
    let mut centres = Vec::with_capacity(bars.len());
    for bar in bars {
        let [x, y] = bar.center;
        if map.map(bar.center).is_none() {
            continue;
        }
        centres.push(bar.center);
        let (dx, dy) = (positive_or_zero(bar.x_err), positive_or_zero(bar.y_err));
        if dy > 0.0
            && let (Some((ax, ay)), Some((bx, by))) = (map.map([x, y - dy]), map.map([x, y + dy]))
        {
            let (ax, ay, bx, by) = (ax - ox, ay - oy, bx - ox, by - oy);
            pb.move_to(ax, ay);
            pb.line_to(bx, by);
            if cap > 0.0 {
                for yy in [ay, by] {
                    pb.move_to(ax - cap, yy);
                    pb.line_to(ax + cap, yy);
                }
            }
        }
        if dx > 0.0
            && let (Some((ax, ay)), Some((bx, by))) = (map.map([x - dx, y]), map.map([x + dx, y]))
        {
            let (ax, ay, bx, by) = (ax - ox, ay - oy, bx - ox, by - oy);
            pb.move_to(ax, ay);
            pb.line_to(bx, by);
            if cap > 0.0 {
                for xx in [ax, bx] {
                    pb.move_to(xx, ay - cap);
                    pb.line_to(xx, ay + cap);
                }
            }
        }
    }
    if let Some(path) = pb.finish()
        && let Some(s) = stroke(style.line.width * k, LineCap::Butt, None, k)
    {
        layer.stroke_path(
            &path,
            &paint(style.line.color),
            &s,
            Transform::identity(),
            None,
        );
    }
    if let Some(marker) = style.marker {
        draw_scatter(layer, &centres, marker, map, k, origin);
    }
}

/// Markers are rasterized once and stamped with their centres on pixel centres, as Agg's
/// `draw_markers` does: every dot looks the same and overlapping dots darken each other.
fn draw_scatter(
    layer: &mut Pixmap,
    points: &[[f64; 2]],
    style: MarkerStyle,
    map: Mapping,
    k: f64,
    origin: (f64, f64),
) {
    let area = if style.area_pt2.is_finite() {
        style.area_pt2.max(0.0)
    } else {
        0.0
    };
    // Capped so that a silly size cannot overflow the sprite's dimensions.
    let r = (area.sqrt() / 2.0 * k).min(2048.0);
    let lw = if style.edge_width.is_finite() {
        (style.edge_width.max(0.0) * k).min(2048.0)
    } else {
        0.0
    };
    if r <= 0.0 && lw <= 0.0 {
        return;
    }
    let half = (r + lw / 2.0).ceil() as u32 + 1;
    let size = 2 * half + 1;
    let Some(mut sprite) = Pixmap::new(size, size) else {
        return;
    };
    let c = half as f32 + 0.5;
    let Some(circle) = PathBuilder::from_circle(c, c, r.max(1e-3) as f32) else {
        return;
    };
    let p = paint(style.color);
    if r > 0.0 {
        sprite.fill_path(&circle, &p, FillRule::Winding, Transform::identity(), None);
    }
    if let Some(s) = stroke(lw, LineCap::Butt, None, k) {
        sprite.stroke_path(&circle, &p, &s, Transform::identity(), None);
    }
    let pp = PixmapPaint::default();
    let limit = f64::from(layer.width().max(layer.height())) + f64::from(size);
    for &pt in points {
        let Some((x, y)) = map.map(pt) else { continue };
        let px = (f64::from(x) - origin.0).floor();
        let py = (f64::from(y) - origin.1).floor();
        if px.abs() > limit || py.abs() > limit {
            continue;
        }
        let ox = px as i32 - half as i32;
        let oy = py as i32 - half as i32;
        layer.draw_pixmap(ox, oy, sprite.as_ref(), &pp, Transform::identity(), None);
    }
}
