//! Colormaps and colours.

use crate::cmap_tables;

/// A straight (not premultiplied) RGBA colour, 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba(pub [u8; 4]);

impl Rgba {
    /// Opaque black.
    pub const BLACK: Rgba = Rgba([0, 0, 0, 255]);
    /// Opaque white.
    pub const WHITE: Rgba = Rgba([255, 255, 255, 255]);

    /// An opaque colour.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Rgba {
        Rgba([r, g, b, 255])
    }

    /// From a hex code `0xRRGGBB`, opaque.
    pub const fn hex(rgb: u32) -> Rgba {
        Rgba([(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8, 255])
    }

    /// The same colour with alpha `alpha` (0..=1, clamped; NaN gives 0).
    pub fn with_alpha(self, alpha: f64) -> Rgba {
        let a = if alpha.is_nan() {
            0.0
        } else {
            alpha.clamp(0.0, 1.0)
        };
        let [r, g, b, _] = self.0;
        Rgba([r, g, b, (a * 255.0).round() as u8])
    }

    /// Matplotlib's default colour cycle (`tab10`), entry `k` modulo 10.
    pub fn tab10(k: usize) -> Rgba {
        const T: [u32; 10] = [
            0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
            0xbcbd22, 0x17becf,
        ];
        Rgba::hex(T[k % 10])
    }
}

/// A colormap from a value in `[0, 1]` to a colour.
#[derive(Debug, Clone, Copy)]
pub enum Colormap {
    /// Matplotlib's `viridis` (exact 256-entry table).
    Viridis,
    /// Matplotlib's `inferno` (exact 256-entry table).
    Inferno,
    /// Matplotlib's `magma` (exact 256-entry table).
    Magma,
    /// Matplotlib's `plasma` (exact 256-entry table).
    Plasma,
    /// Matplotlib's `cividis` (exact 256-entry table).
    Cividis,
    /// Any `colorous` gradient, sampled continuously.
    Gradient(colorous::Gradient),
    /// One colour for every value.
    Solid(Rgba),
}

impl Colormap {
    /// The colour at `t`, as matplotlib's `cmap(t)`: for a 256-entry table, entry
    /// `floor(t * 256)` clamped to `[0, 255]`. NaN maps to the lowest entry.
    pub fn at(&self, t: f64) -> Rgba {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let table = match self {
            Colormap::Viridis => &cmap_tables::VIRIDIS,
            Colormap::Inferno => &cmap_tables::INFERNO,
            Colormap::Magma => &cmap_tables::MAGMA,
            Colormap::Plasma => &cmap_tables::PLASMA,
            Colormap::Cividis => &cmap_tables::CIVIDIS,
            Colormap::Gradient(g) => {
                let (r, gg, b) = g.eval_continuous(t).into_tuple();
                return Rgba::rgb(r, gg, b);
            }
            Colormap::Solid(c) => return *c,
        };
        let k = ((t * 256.0) as usize).min(255);
        let [r, g, b] = table[k];
        Rgba::rgb(r, g, b)
    }

    /// The colours matplotlib's `contour(..., levels, cmap=self)` gives each level: the levels
    /// are normalised over their own range (`vmin` = lowest, `vmax` = highest level), so with
    /// ten evenly spaced levels level `k` gets `cmap(k / 9)`. A single level (or all equal)
    /// gets `cmap(0)`, as matplotlib's `Normalize` does for `vmin == vmax`.
    pub fn level_colors(&self, levels: &[f64]) -> Vec<Rgba> {
        let finite = levels.iter().copied().filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        levels
            .iter()
            .map(|&l| {
                if hi > lo {
                    self.at((l - lo) / (hi - lo))
                } else {
                    self.at(0.0)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_level_colours_match_matplotlib() {
        // matplotlib: [cmap(k / 9) for k in range(10)], rounded to 8 bits.
        let inferno = [
            [0, 0, 4],
            [27, 12, 65],
            [74, 12, 107],
            [120, 28, 109],
            [165, 44, 96],
            [207, 68, 70],
            [237, 105, 37],
            [251, 155, 6],
            [247, 209, 61],
            [252, 255, 164],
        ];
        let viridis = [
            [68, 1, 84],
            [72, 40, 120],
            [62, 73, 137],
            [49, 104, 142],
            [38, 130, 142],
            [31, 158, 137],
            [53, 183, 121],
            [110, 206, 88],
            [181, 222, 43],
            [253, 231, 37],
        ];
        let levels = crate::notebook_levels(0.37);
        for (c, want) in Colormap::Inferno.level_colors(&levels).iter().zip(inferno) {
            assert_eq!(c.0[..3], want);
        }
        for (c, want) in Colormap::Viridis.level_colors(&levels).iter().zip(viridis) {
            assert_eq!(c.0[..3], want);
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        assert_eq!(Colormap::Viridis.at(f64::NAN), Colormap::Viridis.at(0.0));
        assert_eq!(Colormap::Viridis.at(7.0), Colormap::Viridis.at(1.0));
        assert_eq!(Colormap::Inferno.level_colors(&[1.0]).len(), 1);
        assert!(Colormap::Inferno.level_colors(&[]).is_empty());
        let _ = Colormap::Gradient(colorous::MAGMA).at(0.5);
        assert_eq!(Rgba::BLACK.with_alpha(0.7).0[3], 179);
    }
}
