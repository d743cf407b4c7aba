//! Frame, ticks, tick labels, axis labels and legend, with matplotlib's default sizes.

use tiny_skia::{FillRule, LineCap, Paint, PathBuilder, Pixmap, Stroke, Transform};

use crate::Rgba;
use crate::figure::{Axes, LineStyle, draw_text};
use crate::text::{HAlign, TextEngine, VAlign};

const SPINE_PT: f64 = 0.8;
const TICK_LEN_PT: f64 = 3.5;
const TICK_PAD_PT: f64 = 3.5;
const LABEL_PT: f64 = 10.0;
const LABEL_PAD_PT: f64 = 4.0;
const MINOR_LEN_PT: f64 = 2.0;

/// A tick label: mantissa text and an optional superscript (for `10^k`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TickLabel {
    pub base: String,
    pub sup: Option<String>,
}

/// Matplotlib's `MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10])`, simplified: the smallest nice
/// step giving at most `nbins` intervals, and the multiples of it inside `[lo, hi]`.
pub(crate) fn linear_ticks(lo: f64, hi: f64, nbins: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Vec::new();
    }
    let raw = (hi - lo) / nbins.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|s| s * mag)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let eps = step * 1e-9;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < eps { 0.0 } else { v }
        })
        .collect()
}

/// Labels with the fewest decimals that show every tick exactly (matplotlib's
/// `ScalarFormatter` without offset), with a true minus sign.
pub(crate) fn linear_labels(ticks: &[f64]) -> Vec<TickLabel> {
    let decimals = (0..=10)
        .find(|&d| {
            let f = 10f64.powi(d);
            ticks
                .iter()
                .all(|t| ((t * f) - (t * f).round()).abs() < 1e-6 * f.max(1.0))
        })
        .unwrap_or(10) as usize;
    ticks
        .iter()
        .map(|t| TickLabel {
            base: format!("{:.*}", decimals, t).replace('-', "\u{2212}"),
            sup: None,
        })
        .collect()
}

/// Decades inside `[lo, hi]` labelled `10^k`; with fewer than two decades, 1-2-5 ticks.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, TickLabel)> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let (a, b) = (lo.log10(), hi.log10());
    let first = (a - 1e-9).ceil() as i32;
    let last = (b + 1e-9).floor() as i32;
    let decades: Vec<i32> = (first..=last).collect();
    if decades.len() >= 2 {
        // Thin out so that at most ~8 labels remain.
        let every = decades.len().div_ceil(8);
        return decades
            .iter()
            .filter(|e| e.rem_euclid(every as i32) == 0)
            .map(|&e| {
                (
                    10f64.powi(e),
                    TickLabel {
                        base: "10".into(),
                        sup: Some(e.to_string().replace('-', "\u{2212}")),
                    },
                )
            })
            .collect();
    }
    let mut out = Vec::new();
    for e in (a.floor() as i32)..=(b.ceil() as i32) {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    let labels = linear_labels(&out);
    out.into_iter().zip(labels).collect()
}

/// 2..9 × 10^k inside `[lo, hi]` (at most a few hundred).
pub(crate) fn log_minor_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    if b - a > 40 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in a..=b {
        for m in 2..=9 {
            let v = f64::from(m) * 10f64.powi(e);
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
    }
    out
}

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
    legend: &[(String, LineStyle)],
    map: crate::figure::Mapping,
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

    // x ticks (matplotlib: nbins from the axis length / (3 × label size)).
    let nx = ((width_pt / (LABEL_PT * 3.0)).floor() as usize).clamp(1, 9);
    let xt = linear_ticks(lim[0], lim[1], nx);
    let xl = linear_labels(&xt);
    let label_top = y1 + tick_len + TICK_PAD_PT * k;
    for (t, l) in xt.iter().zip(&xl) {
        let Some((px, _)) = map.map([*t, lim[2]]) else {
            continue;
        };
        let px = snap(f64::from(px), spine);
        pb.move_to(px as f32, y1 as f32);
        pb.line_to(px as f32, (y1 + tick_len) as f32);
        draw_label(
            canvas,
            engine,
            l,
            size,
            (px, label_top),
            (HAlign::Center, VAlign::Top),
        );
    }
    // y ticks (nbins from the axis length / (2 × label size)).
    let ny = ((height_pt / (LABEL_PT * 2.0)).floor() as usize).clamp(1, 9);
    let yt: Vec<(f64, TickLabel)> = if axes.log_y {
        log_ticks(lim[2], lim[3])
    } else {
        let t = linear_ticks(lim[2], lim[3], ny);
        let l = linear_labels(&t);
        t.into_iter().zip(l).collect()
    };
    let label_right = x0 - tick_len - TICK_PAD_PT * k;
    let mut widest: f64 = 0.0;
    for (t, l) in &yt {
        let Some((_, py)) = map.map([lim[0], *t]) else {
            continue;
        };
        let py = snap(f64::from(py), spine);
        pb.move_to(x0 as f32, py as f32);
        pb.line_to((x0 - tick_len) as f32, py as f32);
        widest = widest.max(label_width(engine, l, size));
        draw_label(
            canvas,
            engine,
            l,
            size,
            (label_right, py),
            (HAlign::Right, VAlign::Center),
        );
    }
    if let Some(path) = pb.finish() {
        canvas.stroke_path(&path, &p, &s, Transform::identity(), None);
    }
    if axes.log_y {
        // Minor ticks at 2..9 × 10^k: 2 pt long, 0.6 pt wide.
        let mut pb = PathBuilder::new();
        for v in log_minor_ticks(lim[2], lim[3]) {
            let Some((_, py)) = map.map([lim[0], v]) else {
                continue;
            };
            let py = snap(f64::from(py), 0.6 * k);
            pb.move_to(x0 as f32, py as f32);
            pb.line_to((x0 - MINOR_LEN_PT * k) as f32, py as f32);
        }
        if let Some(path) = pb.finish() {
            let (p, s) = black_stroke(0.6 * k);
            canvas.stroke_path(&path, &p, &s, Transform::identity(), None);
        }
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
        draw_legend(canvas, legend, bx, k, engine);
    }
}

fn draw_legend(
    canvas: &mut Pixmap,
    entries: &[(String, LineStyle)],
    bx: crate::figure::PanelBox,
    k: f64,
    engine: &TextEngine,
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
        .map(|(l, _)| engine.width(l, size))
        .fold(0.0, f64::max);
    let w = 2.0 * pad + handle + text_pad + text_w;
    let n = entries.len() as f64;
    let h = 2.0 * pad + n * row_h + (n - 1.0) * spacing;
    let right = bx.x1 - 0.5 * em;
    let top = bx.y0 + 0.5 * em;
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
    for (i, (label, style)) in entries.iter().enumerate() {
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
            if let Some(s) = crate::figure::stroke(style.width * k, cap, style.dash.as_deref(), k) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        assert_eq!(
            linear_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(linear_ticks(0.0, 20.0, 4), vec![0.0, 5.0, 10.0, 15.0, 20.0]);
        assert!(linear_ticks(1.0, 1.0, 4).is_empty());
        assert!(linear_ticks(f64::NAN, 1.0, 4).is_empty());
        let l = linear_labels(&[-1.0, -0.5, 0.0, 0.5]);
        assert_eq!(l[0].base, "\u{2212}1.0");
        assert_eq!(l[2].base, "0.0");
        let l = linear_labels(&[0.0, 5.0, 10.0]);
        assert_eq!(l[1].base, "5");
    }

    #[test]
    fn log_ticks_are_decades() {
        let t = log_ticks(0.003, 20.0);
        let v: Vec<f64> = t.iter().map(|(v, _)| *v).collect();
        assert_eq!(v, vec![0.01, 0.1, 1.0, 10.0]);
        assert_eq!(t[0].1.sup.as_deref(), Some("\u{2212}2"));
        let t = log_ticks(0.3, 2.5);
        assert_eq!(
            t.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            vec![0.5, 1.0, 2.0]
        );
        assert!(log_ticks(-1.0, 2.0).is_empty());
    }
}
