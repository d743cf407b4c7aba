//! Text as filled glyph outlines (DejaVu Sans, matplotlib's default font).

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve};
use tiny_skia::{Path, PathBuilder, Transform};

use crate::scene::{HAlign, VAlign};

/// DejaVu Sans ascender height of `l`, and descender depth of `p`, in em.
const ASCENT_EM: f64 = 1556.0 / 2048.0;
const DESCENT_EM: f64 = 426.0 / 2048.0;
const CAP_EM: f64 = 1493.0 / 2048.0;

/// Below this size (px) glyphs get a light hinting, like FreeType's in matplotlib: x-height
/// and cap height on whole pixels, left edges on whole pixels.
const HINT_MAX_PX: f64 = 40.0;
const X_HEIGHT_UNITS: f64 = 1120.0;
const CAP_UNITS: f64 = 1493.0;

/// Height above the baseline (px) of font unit height `u` at `s` px per unit.
fn hint_y(u: f64, s: f64, size_px: f64) -> f64 {
    if size_px > HINT_MAX_PX || u <= 0.0 {
        return u * s;
    }
    let x = (X_HEIGHT_UNITS * s).round().max(1.0);
    let c = (CAP_UNITS * s).round().max(x);
    if u <= X_HEIGHT_UNITS {
        u * x / X_HEIGHT_UNITS
    } else if u <= CAP_UNITS {
        x + (u - X_HEIGHT_UNITS) * (c - x) / (CAP_UNITS - X_HEIGHT_UNITS)
    } else {
        c + (u - CAP_UNITS) * s
    }
}

pub(crate) struct TextEngine {
    font: FontRef<'static>,
    units_per_em: f64,
}

impl std::fmt::Debug for TextEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextEngine(DejaVu Sans)")
    }
}

impl TextEngine {
    /// The embedded DejaVu Sans. It is a fixed, known-good font (a unit test parses it), so
    /// failing to read it is a build defect, not a data error.
    pub(crate) fn new() -> Self {
        let font = FontRef::try_from_slice(dejavu::sans::regular())
            .expect("the embedded DejaVu Sans is a valid font");
        let units_per_em = f64::from(
            font.units_per_em()
                .expect("the embedded DejaVu Sans has units per em"),
        );
        TextEngine { font, units_per_em }
    }

    fn glyphs(&self, text: &str) -> Vec<(GlyphId, f64)> {
        // (glyph, pen x in font units)
        let mut out = Vec::with_capacity(text.len());
        let mut x = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = prev {
                x += f64::from(self.font.kern_unscaled(p, id));
            }
            out.push((id, x));
            x += f64::from(self.font.h_advance_unscaled(id));
            prev = Some(id);
        }
        out
    }

    /// Advance width of `text` at `size_px`.
    pub(crate) fn width(&self, text: &str, size_px: f64) -> f64 {
        let mut w = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = prev {
                w += f64::from(self.font.kern_unscaled(p, id));
            }
            w += f64::from(self.font.h_advance_unscaled(id));
            prev = Some(id);
        }
        w * size_px / self.units_per_em
    }

    /// Offset from the anchor to the baseline start (in the text's own frame, y down).
    pub(crate) fn anchor_offset(
        &self,
        text: &str,
        size_px: f64,
        h: HAlign,
        v: VAlign,
    ) -> (f64, f64) {
        let w = self.width(text, size_px);
        let dx = match h {
            HAlign::Left => 0.0,
            HAlign::Center => -w / 2.0,
            HAlign::Right => -w,
        };
        let dy = match v {
            VAlign::Baseline => 0.0,
            VAlign::Top => ASCENT_EM * size_px,
            VAlign::Center => CAP_EM * size_px / 2.0,
            VAlign::Bottom => -DESCENT_EM * size_px,
        };
        (dx, dy)
    }

    /// Appends the outlines of `text` with its baseline start at the origin of `ts` (pixel
    /// units, y down) to `pb`.
    pub(crate) fn append_path(
        &self,
        pb: &mut PathBuilder,
        text: &str,
        size_px: f64,
        ts: Transform,
    ) {
        let s = size_px / self.units_per_em;
        for (id, pen) in self.glyphs(text) {
            let Some(outline) = self.font.outline(id) else {
                continue;
            };
            // Light hinting for small sizes: the glyph's left edge on a whole pixel.
            let shift = if size_px <= HINT_MAX_PX && ts.is_translate() {
                let left = (pen + f64::from(outline.bounds.min.x)) * s + f64::from(ts.tx);
                left.round() - left
            } else {
                0.0
            };
            let map = |p: ab_glyph::Point| -> (f32, f32) {
                let x = (pen + f64::from(p.x)) * s + shift;
                let y = -hint_y(f64::from(p.y), s, size_px);
                let mut pt = tiny_skia::Point::from_xy(x as f32, y as f32);
                ts.map_point(&mut pt);
                (pt.x, pt.y)
            };
            let mut last: Option<ab_glyph::Point> = None;
            for curve in &outline.curves {
                let start = match curve {
                    OutlineCurve::Line(a, _)
                    | OutlineCurve::Quad(a, _, _)
                    | OutlineCurve::Cubic(a, _, _, _) => *a,
                };
                if last != Some(start) {
                    if last.is_some() {
                        pb.close();
                    }
                    let (x, y) = map(start);
                    pb.move_to(x, y);
                }
                match curve {
                    OutlineCurve::Line(_, b) => {
                        let (x, y) = map(*b);
                        pb.line_to(x, y);
                        last = Some(*b);
                    }
                    OutlineCurve::Quad(_, c, b) => {
                        let (cx, cy) = map(*c);
                        let (x, y) = map(*b);
                        pb.quad_to(cx, cy, x, y);
                        last = Some(*b);
                    }
                    OutlineCurve::Cubic(_, c1, c2, b) => {
                        let (ax, ay) = map(*c1);
                        let (bx, by) = map(*c2);
                        let (x, y) = map(*b);
                        pb.cubic_to(ax, ay, bx, by, x, y);
                        last = Some(*b);
                    }
                }
            }
            if last.is_some() {
                pb.close();
            }
        }
    }

    /// The outlines of `text` as one path (None for blank text).
    pub(crate) fn path(&self, text: &str, size_px: f64, ts: Transform) -> Option<Path> {
        let mut pb = PathBuilder::new();
        self.append_path(&mut pb, text, size_px, ts);
        pb.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_parses_and_measures() {
        let engine = TextEngine::new();
        assert_eq!(engine.units_per_em, 2048.0);
        // DejaVu Sans: "0" advances 1303 units.
        assert!((engine.width("00", 2048.0) - 2.0 * 1303.0).abs() < 1e-9);
    }
}
