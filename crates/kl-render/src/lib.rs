//! Contour figures to PNG and GIF bytes, drawn to look like matplotlib's.
//!
//! `kl-render` turns grids of values and point sets into pixels. It knows nothing about
//! distributions or optimisation (grids and points in, bytes out) and writes no files. It has
//! four layers, each importing only the ones above it, like tiny-skia and resvg:
//!
//! 1. **Geometry** ([`contour`]): marching squares over a [`Grid`] gives [`Polyline`]s in data
//!    coordinates, with contourpy's conventions (above means `z > level`, saddles resolved by
//!    the cell centre, non-finite cells give no line, lines cut by the frame stay open).
//! 2. **Scene** ([`scene`], with [`layout`]): a [`Figure`] of `rows × cols` [`Panel`]s placed
//!    like matplotlib's default subplots; each panel holds [`Layer`]s (contours, scatter
//!    points, polylines and polygons, labelled series, error bars), [`Text`]s, a title and
//!    optional [`Axes`] (linear or log on either axis, custom x ticks). Plain data: `Clone`,
//!    `PartialEq`, `Debug`, no tiny-skia types. [`layout`] computes the data → pixel mapping
//!    and the ticks from it, also as data.
//! 3. **Drawing** ([`render`], [`render_into`]): the only code that knows tiny-skia. It
//!    rasterizes a figure (anti-aliased, round joins, each polyline one path so a translucent
//!    line never darkens where it overlaps itself) into a [`Canvas`].
//! 4. **Encoding** ([`encode_png`], [`GifWriter`], [`encode_gif`]): a canvas to PNG bytes, or
//!    frames one at a time to an animated GIF. Writing the bytes (atomically) is the caller's.
//!
//! Invariants:
//!
//! - a [`FigureSpec`] is validated once, by [`Figure::new`] (positive finite sizes, at most
//!   [`MAX_PANELS`] panels, a canvas of at most [`MAX_CANVAS_SIDE`] a side and
//!   [`MAX_CANVAS_PIXELS`] in all); a [`Grid`] by [`Grid::new`]. After that, building a scene
//!   and drawing it cannot fail; only encoding can;
//! - lengths given to the scene are in points (1/72 in); a figure's pixels per point are
//!   `dpi / 72 * scale`;
//! - bad data never panics: NaN values give no line, point or bar; only [`Figure::panel_mut`]
//!   with an out-of-range index panics (a contract violation);
//! - output is deterministic: the same scene gives byte-identical PNG and GIF bytes (no
//!   clocks, no hash maps, no threads).
//!
//! # Example
//!
//! ```
//! use kl_render::{Colormap, Figure, FigureSpec, Grid, MarkerStyle, contour_lines, notebook_levels};
//!
//! # fn main() -> Result<(), kl_render::Error> {
//! // A radial bump on a 64 × 64 grid over [-3, 3]².
//! let n = 64;
//! let xs: Vec<f64> = (0..n).map(|k| -3.0 + 6.0 * k as f64 / (n - 1) as f64).collect();
//! let values: Vec<f64> = xs
//!     .iter()
//!     .flat_map(|y| xs.iter().map(move |x| (-(x * x + y * y) / 2.0).exp()))
//!     .collect();
//! let grid = Grid::new(&values, n, n, [-3.0, 3.0, -3.0, 3.0])?;
//!
//! // Geometry only: the isoline at 0.5 is one closed loop.
//! let lines = contour_lines(&grid, 0.5);
//! assert_eq!(lines.len(), 1);
//! assert!(lines[0].closed);
//!
//! // A scene like the notebook's, at twice the resolution: only `Figure::new` can fail.
//! let mut fig = Figure::new(FigureSpec::single().with_scale(2.0))?;
//! let levels = notebook_levels(grid.max_value().unwrap_or(1.0));
//! fig.panel_mut(0, 0)
//!     .contour(&grid, &levels, Colormap::Inferno)
//!     .scatter(&[[0.0, 0.5], [-1.0, 1.0]], MarkerStyle::notebook())
//!     .title("iter: 0");
//!
//! // Drawing cannot fail; encoding gives bytes.
//! let canvas = kl_render::render(&fig);
//! assert_eq!((canvas.width(), canvas.height()), (864, 864));
//! let png = kl_render::encode_png(&canvas)?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod canvas;
mod cmap_tables;
mod colormap;
pub mod contour;
mod draw;
mod encode;
pub mod layout;
pub mod scene;

use std::fmt;

pub use canvas::Canvas;
pub use colormap::{Colormap, Rgba};
pub use contour::{Grid, Polyline, contour_lines, linspace, notebook_levels};
pub use draw::{render, render_into};
pub use encode::{GifWriter, encode_gif, encode_png};
pub use scene::{
    Axes, ContourLevel, ContourStyle, ErrorBar, ErrorBarStyle, Figure, FigureSpec, HAlign, Layer,
    LegendEntry, LineStyle, MAX_CANVAS_PIXELS, MAX_CANVAS_SIDE, MAX_PANELS, MarkerStyle, Panel,
    PanelBox, SubplotParams, Text, VAlign,
};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A grid whose value count is not `nx * ny`, or with fewer than 2 rows or columns.
    GridShape {
        /// Number of values given.
        len: usize,
        /// Columns claimed.
        nx: usize,
        /// Rows claimed.
        ny: usize,
    },
    /// A grid extent that is not finite or not increasing.
    Extent {
        /// The extent `[xmin, xmax, ymin, ymax]`.
        extent: [f64; 4],
    },
    /// A figure spec field that is zero, negative or not finite.
    FigureSpec {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// A canvas size that is zero or too large: a side over `max_side` or more than
    /// `max_pixels` pixels (see [`MAX_CANVAS_PIXELS`]).
    CanvasSize {
        /// Requested width in pixels.
        width: f64,
        /// Requested height in pixels.
        height: f64,
        /// The longest side allowed ([`MAX_CANVAS_SIDE`]).
        max_side: u32,
        /// The most pixels allowed ([`MAX_CANVAS_PIXELS`]).
        max_pixels: u64,
    },
    /// Pixel data whose length is not `width * height * 4`.
    CanvasData {
        /// Bytes given.
        len: usize,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A canvas given to [`render_into`] that does not have the figure's size.
    CanvasMismatch {
        /// The figure's size.
        expected: (u32, u32),
        /// The canvas's size.
        found: (u32, u32),
    },
    /// [`GifWriter::finish`] or [`encode_gif`] with no frame.
    NoFrames,
    /// A GIF frame whose size differs from the first frame's.
    FrameSize {
        /// Index of the frame.
        index: usize,
        /// The first frame's size.
        expected: (u32, u32),
        /// This frame's size.
        found: (u32, u32),
    },
    /// A frame larger than GIF's 65535 px limit.
    GifTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The image encoder failed.
    Encode {
        /// "PNG" or "GIF".
        format: &'static str,
        /// The encoder's message.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::GridShape { len, nx, ny } => write!(
                f,
                "grid of {len} values does not have shape nx = {nx} × ny = {ny} (each at least 2)"
            ),
            Error::Extent { extent } => write!(
                f,
                "grid extent {extent:?} is not finite with xmin < xmax and ymin < ymax"
            ),
            Error::FigureSpec { field, value } => {
                write!(
                    f,
                    "figure spec {field} = {value} must be positive and finite"
                )
            }
            Error::CanvasSize {
                width,
                height,
                max_side,
                max_pixels,
            } => write!(
                f,
                "a canvas of {width} × {height} px is empty or too large (the limit is \
                 {max_side} px a side and {max_pixels} px in all)"
            ),
            Error::CanvasData { len, width, height } => write!(
                f,
                "{len} bytes of pixel data do not make a {width} × {height} RGBA8 image"
            ),
            Error::CanvasMismatch { expected, found } => write!(
                f,
                "canvas is {} × {} px but the figure is {} × {} px",
                found.0, found.1, expected.0, expected.1
            ),
            Error::NoFrames => f.write_str("an animated GIF needs at least one frame"),
            Error::FrameSize {
                index,
                expected,
                found,
            } => write!(
                f,
                "GIF frame {index} is {} × {} px but frame 0 is {} × {} px",
                found.0, found.1, expected.0, expected.1
            ),
            Error::GifTooLarge { width, height } => {
                write!(
                    f,
                    "a {width} × {height} px frame exceeds GIF's 65535 px limit"
                )
            }
            Error::Encode { format, message } => write!(f, "{format} encoding failed: {message}"),
        }
    }
}

impl std::error::Error for Error {}
