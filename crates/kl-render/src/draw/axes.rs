//! Frame, ticks, tick labels, axis labels and legend, with matplotlib's default sizes.

use tiny_skia::{FillRule, LineCap, Paint, PathBuilder, Pixmap, Stroke, Transform};

use super::prim::{draw_text, stroke};
use super::text::TextEngine;
use crate::Rgba;
use crate::layout::{LABEL_PT, Mapping, Tick, TickLabel, log_minor_ticks, x_ticks, y_ticks};
use crate::scene::{Axes, HAlign, LegendEntry, PanelBox, VAlign};

const SPINE_PT: f64 = 0.8;
const TICK_LEN_PT: f64 = 3.5;
const TICK_PAD_PT: f64 = 3.5;
const LABEL_PAD_PT: f64 = 4.0;
const MINOR_LEN_PT: f64 = 2.0;

fn label_width(engine: &TextEngine, l: &TickLabel, size: f64) -> f64 {
    engine.width(&l.base, size) + l.sup.as_ref().map_or(0.0, |s| engine.width(s, size * 0.7))
}

fn draw_label(
    canvas: &mut Pixmap,
    engine: &TextEngine,
    l: &TickLabel,
    size: f64,
    pos: (f64, f64),
    align: (HAlign, VAlign),
) {
    let w = label_width(engine, l, size);
    let x0 = match align.0 {
        HAlign::Left => pos.0,
        HAlign::Center => pos.0 - w / 2.0,
        HAlign::Right => pos.0 - w,
    };
    let (_, dy) = engine.anchor_offset("", size, HAlign::Left, align.1);
    let base_y = pos.1 + dy;
    let left = (HAlign::Left, VAlign::Baseline);
    draw_text(
        canvas,
        engine,
        &l.base,
        size,
        (x0, base_y),
        left,
        Rgba::BLACK,
        0.0,
    );
    if let Some(sup) = &l.sup {
        let x = x0 + engine.width(&l.base, size);
        let y = base_y - 0.45 * size;
        draw_text(
            canvas,
            engine,
            sup,
            size * 0.7,
            (x, y),
            left,
            Rgba::BLACK,
            0.0,
        );
    }
}

fn snap(v: f64, width_px: f64) -> f64 {
    // Thin odd-width lines on pixel centres, like Agg's snapping.
    if (width_px.round() as i64) % 2 == 1 {
        v.floor() + 0.5
    } else {
        v.round()
    }
}

fn black_stroke(width: f64) -> (Paint<'static>, Stroke) {
    let mut p = Paint::default();
    p.set_color_rgba8(0, 0, 0, 255);
    let s = Stroke {
        width: width as f32,
        line_cap: LineCap::Butt,
        ..Stroke::default()
    };
    (p, s)
}

pub(crate) fn draw_axes(
    canvas: &mut Pixmap,
    axes: &Axes,
    legend: &[LegendEntry],
    map: Mapping,
    k: f64,
    engine: &TextEngine,
) {
    let bx = map.bx;
    let lim = map.lim;
    let spine = SPINE_PT * k;
    let (x0, x1) = (snap(bx.x0, spine), snap(bx.x1, spine));
    let (y0, y1) = (snap(bx.y0, spine), snap(bx.y1, spine));
    let (p, s) = black_stroke(spine);
    let mut pb = PathBuilder::new();
    pb.move_to(x0 as f32, y0 as f32);
    pb.line_to(x1 as f32, y0 as f32);
    pb.line_to(x1 as f32, y1 as f32);
    pb.line_to(x0 as f32, y1 as f32);
    pb.close();
    let tick_len = TICK_LEN_PT * k;
    let size = LABEL_PT * k;
    let width_pt = (bx.x1 - bx.x0) / k;
    let height_pt = (bx.y1 - bx.y0) / k;

    let xt = x_ticks(axes, lim[0], lim[1], width_pt);
    let label_top = y1 + tick_len + TICK_PAD_PT * k;
    for Tick { value, label } in &xt {
        let Some((px, _)) = map.map([*value, lim[2]]) else {
            continue;
        };
        let px = snap(f64::from(px), spine);
        pb.move_to(px as f32, y1 as f32);
        pb.line_to(px as f32, (y1 + tick_len) as f32);
        draw_label(
            canvas,
            engine,
            label,
            size,
            (px, label_top),
            (HAlign::Center, VAlign::Top),
        );
    }
    let yt = y_ticks(axes, lim[2], lim[3], height_pt);
    let label_right = x0 - tick_len - TICK_PAD_PT * k;
    let mut widest: f64 = 0.0;
    for Tick { value, label } in &yt {
        let Some((_, py)) = map.map([lim[0], *value]) else {
            continue;
        };
        let py = snap(f64::from(py), spine);
        pb.move_to(x0 as f32, py as f32);
        pb.line_to((x0 - tick_len) as f32, py as f32);
        widest = widest.max(label_width(engine, label, size));
        draw_label(
            canvas,
            engine,
            label,
            size,
            (label_right, py),
            (HAlign::Right, VAlign::Center),
        );
    }
    if let Some(path) = pb.finish() {
        canvas.stroke_path(&path, &p, &s, Transform::identity(), None);
    }
    // Minor ticks at 2..9 × 10^k on log axes: 2 pt long, 0.6 pt wide.
    let mut pb = PathBuilder::new();
    if axes.log_y {
        for v in log_minor_ticks(lim[2], lim[3]) {
            let Some((_, py)) = map.map([lim[0], v]) else {
                continue;
            };
            let py = snap(f64::from(py), 0.6 * k);
            pb.move_to(x0 as f32, py as f32);
            pb.line_to((x0 - MINOR_LEN_PT * k) as f32, py as f32);
        }
    }
    if axes.log_x && axes.x_ticks.is_none() {
        for v in log_minor_ticks(lim[0], lim[1]) {
            let Some((px, _)) = map.map([v, lim[2]]) else {
                continue;
            };
            let px = snap(f64::from(px), 0.6 * k);
            pb.move_to(px as f32, y1 as f32);
            pb.line_to(px as f32, (y1 + MINOR_LEN_PT * k) as f32);
        }
    }
    if let Some(path) = pb.finish() {
        let (p, s) = black_stroke(0.6 * k);
        canvas.stroke_path(&path, &p, &s, Transform::identity(), None);
    }
    if let Some(xlab) = &axes.x_label {
        let y = label_top + size * (1556.0 + 426.0) / 2048.0 + LABEL_PAD_PT * k;
        draw_text(
            canvas,
            engine,
            xlab,
            size,
            ((bx.x0 + bx.x1) / 2.0, y),
            (HAlign::Center, VAlign::Top),
            Rgba::BLACK,
            0.0,
        );
    }
    if let Some(ylab) = &axes.y_label {
        let x = label_right - widest - LABEL_PAD_PT * k;
        // Rotated 90°: the text's "bottom" faces the axis.
        draw_text(
            canvas,
            engine,
            ylab,
            size,
            (x, (bx.y0 + bx.y1) / 2.0),
            (HAlign::Center, VAlign::Bottom),
            Rgba::BLACK,
            90.0,
        );
    }
    if axes.legend && !legend.is_empty() {
        draw_legend(
            canvas,
            legend,
            bx,
            k,
            engine,
            axes.legend_lower_right,
            axes.legend_left,
        );
    }
}

fn draw_legend(
    canvas: &mut Pixmap,
    entries: &[LegendEntry],
    bx: PanelBox,
    k: f64,
    engine: &TextEngine,
    lower: bool,
    left: bool,
) {
    let size = LABEL_PT * k;
    let em = size;
    let row_h = size * (1556.0 + 426.0) / 2048.0;
    let handle = 2.0 * em;
    let pad = 0.4 * em;
    let text_pad = 0.8 * em;
    let spacing = 0.5 * em;
    let text_w = entries
        .iter()
        .map(|e| engine.width(&e.label, size))
        .fold(0.0, f64::max);
    let w = 2.0 * pad + handle + text_pad + text_w;
    let n = entries.len() as f64;
    let h = 2.0 * pad + n * row_h + (n - 1.0) * spacing;
    let right = if left {
        bx.x0 + 0.5 * em + w
    } else {
        bx.x1 - 0.5 * em
    };
    let top = if lower {
        bx.y1 - 0.5 * em - h
    } else {
        bx.y0 + 0.5 * em
    };
    let (l, t) = (right - w, top);
    let r = (0.2 * em) as f32;
    let mut pb = PathBuilder::new();
    let (lf, tf, rf, bf) = (l as f32, t as f32, right as f32, (t + h) as f32);
    pb.move_to(lf + r, tf);
    pb.line_to(rf - r, tf);
    pb.quad_to(rf, tf, rf, tf + r);
    pb.line_to(rf, bf - r);
    pb.quad_to(rf, bf, rf - r, bf);
    pb.line_to(lf + r, bf);
    pb.quad_to(lf, bf, lf, bf - r);
    pb.line_to(lf, tf + r);
    pb.quad_to(lf, tf, lf + r, tf);
    pb.close();
    if let Some(frame) = pb.finish() {
        let mut fill = Paint::default();
        fill.set_color_rgba8(255, 255, 255, 204);
        canvas.fill_path(
            &frame,
            &fill,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
        let mut edge = Paint::default();
        edge.set_color_rgba8(204, 204, 204, 255);
        let s = Stroke {
            width: k as f32,
            ..Stroke::default()
        };
        canvas.stroke_path(&frame, &edge, &s, Transform::identity(), None);
    }
    for (i, LegendEntry { label, style }) in entries.iter().enumerate() {
        let cy = t + pad + i as f64 * (row_h + spacing) + row_h / 2.0;
        let hx = l + pad;
        let mut pb = PathBuilder::new();
        pb.move_to(hx as f32, cy as f32);
        pb.line_to((hx + handle) as f32, cy as f32);
        if let Some(path) = pb.finish() {
            let [rr, g, b, a] = style.color.0;
            let mut p = Paint::default();
            p.set_color_rgba8(rr, g, b, a);
            let cap = if style.dash.is_some() {
                LineCap::Butt
            } else {
                LineCap::Square
            };
            if let Some(s) = stroke(style.width * k, cap, style.dash.as_deref(), k) {
                canvas.stroke_path(&path, &p, &s, Transform::identity(), None);
            }
        }
        draw_text(
            canvas,
            engine,
            label,
            size,
            (hx + handle + text_pad, cy),
            (HAlign::Left, VAlign::Center),
            Rgba::BLACK,
            0.0,
        );
    }
}
