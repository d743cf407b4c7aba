//! Layout as data: the data → pixel mapping of a panel and the ticks of its axes.
//!
//! Pure functions of the scene (no pixels, no fonts); the drawing module places what they
//! compute. Tick positions follow matplotlib's `MaxNLocator` (linear) and decade ticks (log).

use crate::scene::{Axes, PanelBox};

/// A tick label: mantissa text and an optional superscript (for `10^k`).
#[derive(Debug, Clone, PartialEq)]
pub struct TickLabel {
    /// The text on the baseline (`"0.5"`, `"10"`).
    pub base: String,
    /// A superscript after it (the exponent of `10^k`).
    pub sup: Option<String>,
}

impl TickLabel {
    fn plain(s: String) -> TickLabel {
        TickLabel { base: s, sup: None }
    }
}

/// One tick: its position in data coordinates and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position along the axis, in data coordinates.
    pub value: f64,
    /// The label drawn next to it.
    pub label: TickLabel,
}

/// Tick label size in points (matplotlib's default `font.size`).
pub(crate) const LABEL_PT: f64 = 10.0;

/// The major x ticks of a panel `width_pt` points wide with x limits `lo..hi`: the axes'
/// custom ticks inside the limits, decades on a log axis, or nice linear steps (at most
/// `width / 30 pt` intervals, as matplotlib's `nbins = axis length / (3 × label size)`).
pub fn x_ticks(axes: &Axes, lo: f64, hi: f64, width_pt: f64) -> Vec<Tick> {
    if let Some(custom) = &axes.x_ticks {
        let (a, b) = (lo.min(hi), lo.max(hi));
        return custom
            .iter()
            .filter(|(v, _)| v.is_finite() && *v >= a && *v <= b && (!axes.log_x || *v > 0.0))
            .map(|(v, l)| Tick {
                value: *v,
                label: TickLabel::plain(l.clone()),
            })
            .collect();
    }
    if axes.log_x {
        return log_ticks(lo, hi);
    }
    let nx = ((width_pt / (LABEL_PT * 3.0)).floor() as usize).clamp(1, 9);
    linear(lo, hi, nx)
}

/// The major y ticks of a panel `height_pt` points high with y limits `lo..hi`: decades on a
/// log axis, else nice linear steps (at most `height / 20 pt` intervals).
pub fn y_ticks(axes: &Axes, lo: f64, hi: f64, height_pt: f64) -> Vec<Tick> {
    if axes.log_y {
        return log_ticks(lo, hi);
    }
    let ny = ((height_pt / (LABEL_PT * 2.0)).floor() as usize).clamp(1, 9);
    linear(lo, hi, ny)
}

fn linear(lo: f64, hi: f64, nbins: usize) -> Vec<Tick> {
    let t = linear_ticks(lo, hi, nbins);
    let l = linear_labels(&t);
    t.into_iter()
        .zip(l)
        .map(|(value, label)| Tick { value, label })
        .collect()
}

/// Matplotlib's `MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10])`, simplified: the smallest nice
/// step giving at most `nbins` intervals, and the multiples of it inside `[lo, hi]`.
pub fn linear_ticks(lo: f64, hi: f64, nbins: usize) -> Vec<f64> {
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
pub fn linear_labels(ticks: &[f64]) -> Vec<TickLabel> {
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
        .map(|t| TickLabel::plain(format!("{:.*}", decimals, t).replace('-', "\u{2212}")))
        .collect()
}

/// Decades inside `[lo, hi]` labelled `10^k`; with fewer than two decades, 1-2-5 ticks.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
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
            .map(|&e| Tick {
                value: 10f64.powi(e),
                label: TickLabel {
                    base: "10".into(),
                    sup: Some(e.to_string().replace('-', "\u{2212}")),
                },
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
    out.into_iter()
        .zip(labels)
        .map(|(value, label)| Tick { value, label })
        .collect()
}

/// 2..9 × 10^k inside `[lo, hi]` (none when the range spans more than 40 decades).
pub fn log_minor_ticks(lo: f64, hi: f64) -> Vec<f64> {
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

/// Data → pixel mapping of one panel: limits `[xmin, xmax, ymin, ymax]` onto a box, each axis
/// linear or logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    /// The data limits (positive on a log axis).
    pub lim: [f64; 4],
    /// The panel's box in pixels.
    pub bx: PanelBox,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
}

impl Mapping {
    /// The pixel position of data point `p` (y down), or `None` when it does not map to a
    /// finite position (NaN, or ≤ 0 on a log axis). Far-away points are clamped to ±10⁶ px.
    pub fn map(&self, p: [f64; 2]) -> Option<(f32, f32)> {
        let [x0, x1, y0, y1] = self.lim;
        let (x, lx0, lx1) = if self.log_x {
            (p[0].log10(), x0.log10(), x1.log10())
        } else {
            (p[0], x0, x1)
        };
        let (y, ly0, ly1) = if self.log_y {
            (p[1].log10(), y0.log10(), y1.log10())
        } else {
            (p[1], y0, y1)
        };
        let px = self.bx.x0 + (x - lx0) / (lx1 - lx0) * (self.bx.x1 - self.bx.x0);
        let py = self.bx.y1 - (y - ly0) / (ly1 - ly0) * (self.bx.y1 - self.bx.y0);
        // Far-away points are clamped so that f32 and the rasterizer stay well-behaved; the
        // clip box hides them anyway.
        const FAR: f64 = 1.0e6;
        (px.is_finite() && py.is_finite())
            .then(|| (px.clamp(-FAR, FAR) as f32, py.clamp(-FAR, FAR) as f32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &[Tick]) -> Vec<f64> {
        t.iter().map(|t| t.value).collect()
    }

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
        assert_eq!(values(&t), vec![0.01, 0.1, 1.0, 10.0]);
        assert_eq!(t[0].label.sup.as_deref(), Some("\u{2212}2"));
        let t = log_ticks(0.3, 2.5);
        assert_eq!(values(&t), vec![0.5, 1.0, 2.0]);
        assert!(log_ticks(-1.0, 2.0).is_empty());
    }

    #[test]
    fn both_axes_can_be_log_and_x_ticks_can_be_custom() {
        let axes = Axes {
            log_x: true,
            log_y: true,
            ..Axes::default()
        };
        assert_eq!(
            values(&x_ticks(&axes, 1.0, 1000.0, 300.0)),
            [1.0, 10.0, 100.0, 1000.0]
        );
        assert_eq!(values(&y_ticks(&axes, 0.01, 1.0, 300.0)), [0.01, 0.1, 1.0]);
        let custom = Axes {
            x_ticks: Some(vec![
                (0.0, "μ₁".into()),
                (1.0, "μ₂".into()),
                (2.0, "L₁₁".into()),
                (f64::NAN, "nan".into()),
            ]),
            ..Axes::default()
        };
        let t = x_ticks(&custom, -0.5, 1.5, 300.0);
        assert_eq!(values(&t), [0.0, 1.0]);
        assert_eq!(t[1].label.base, "μ₂");
    }

    #[test]
    fn log_log_mapping_puts_decades_evenly() {
        let m = Mapping {
            lim: [1.0, 1000.0, 1.0, 1000.0],
            bx: PanelBox {
                x0: 0.0,
                y0: 0.0,
                x1: 300.0,
                y1: 300.0,
            },
            log_x: true,
            log_y: true,
        };
        let (x, y) = m.map([10.0, 100.0]).expect("finite");
        assert!(
            (x - 100.0).abs() < 1e-3 && (y - 100.0).abs() < 1e-3,
            "{x} {y}"
        );
        assert!(m.map([0.0, 10.0]).is_none());
        assert!(m.map([10.0, -1.0]).is_none());
    }
}
