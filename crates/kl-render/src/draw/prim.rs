//! Drawing primitives shared by the panel and axes code: paints, strokes and text.

use tiny_skia::{FillRule, LineCap, LineJoin, Paint, Pixmap, Stroke, StrokeDash, Transform};

use super::text::TextEngine;
use crate::Rgba;
use crate::scene::{HAlign, VAlign};

/// Line spacing of multi-line text, in font sizes (matplotlib's `linespacing`).
pub(crate) const LINE_SPACING: f64 = 1.2;

pub(crate) fn paint(color: Rgba) -> Paint<'static> {
    let [r, g, b, a] = color.0;
    let mut p = Paint::default();
    p.set_color_rgba8(r, g, b, a);
    p.anti_alias = true;
    p
}

/// A round-joined stroke, or `None` when the width is not a positive finite number (nothing
/// is drawn, like matplotlib's `linewidth=0`). A dash pattern tiny-skia rejects (odd length,
/// negative or all-zero lengths) draws a solid line.
pub(crate) fn stroke(width_px: f64, cap: LineCap, dash: Option<&[f64]>, k: f64) -> Option<Stroke> {
    if !(width_px.is_finite() && width_px > 0.0) {
        return None;
    }
    let width_px = width_px.min(1.0e4);
    let dash = dash.and_then(|d| {
        let v: Vec<f32> = d.iter().map(|x| (x * k) as f32).collect();
        StrokeDash::new(v, 0.0)
    });
    Some(Stroke {
        width: width_px as f32,
        line_cap: cap,
        line_join: LineJoin::Round,
        dash,
        ..Stroke::default()
    })
}

/// Draws `s` anchored at `pos` (pixels), rotated by `angle` degrees counter-clockwise. Lines
/// separated by `\n` are stacked [`LINE_SPACING`] font sizes apart, each aligned by `align.0`;
/// `align.1` anchors the block as [`VAlign`] says.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_text(
    canvas: &mut Pixmap,
    engine: &TextEngine,
    s: &str,
    size_px: f64,
    pos: (f64, f64),
    align: (HAlign, VAlign),
    color: Rgba,
    angle: f64,
) {
    if !s.contains('\n') {
        draw_line(canvas, engine, s, size_px, pos, align, color, angle);
        return;
    }
    let n = s.split('\n').count();
    let lh = LINE_SPACING * size_px;
    let block = (n - 1) as f64 * lh;
    let shift = match align.1 {
        VAlign::Top | VAlign::Baseline => 0.0,
        VAlign::Center => block / 2.0,
        VAlign::Bottom => block,
    };
    // "Down" in the text's frame, on the canvas (y down).
    let (sin, cos) = angle.to_radians().sin_cos();
    for (i, line) in s.split('\n').enumerate() {
        let d = i as f64 * lh - shift;
        let p = (pos.0 + d * sin, pos.1 + d * cos);
        draw_line(canvas, engine, line, size_px, p, align, color, angle);
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_line(
    canvas: &mut Pixmap,
    engine: &TextEngine,
    s: &str,
    size_px: f64,
    pos: (f64, f64),
    align: (HAlign, VAlign),
    color: Rgba,
    angle: f64,
) {
    let finite = size_px.is_finite() && pos.0.is_finite() && pos.1.is_finite();
    if !finite || size_px <= 0.0 || size_px > 1.0e4 {
        return;
    }
    let (dx, dy) = engine.anchor_offset(s, size_px, align.0, align.1);
    // Like Agg's text blits, start glyphs on whole pixels when upright.
    let ts = if angle == 0.0 {
        Transform::from_translate((pos.0 + dx).round() as f32, (pos.1 + dy).round() as f32)
    } else {
        Transform::from_translate(pos.0 as f32, pos.1 as f32)
            .pre_rotate(-angle as f32)
            .pre_translate(dx as f32, dy as f32)
    };
    if let Some(path) = engine.path(s, size_px, ts) {
        canvas.fill_path(
            &path,
            &paint(color),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}
