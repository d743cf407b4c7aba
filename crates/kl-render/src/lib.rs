//! Contour figures to PNG and GIF, drawn to look like matplotlib's.
//!
//! `kl-render` turns grids of values and point sets into pixels. It knows nothing about
//! distributions or optimisation: grids and points in, pixels out. It has three layers, like
//! tiny-skia and resvg:
//!
//! 1. **Geometry** ([`contour`]): marching squares over a [`Grid`] gives [`Polyline`]s in data
//!    coordinates, with contourpy's conventions (above means `z > level`, saddles resolved by
//!    the cell centre, non-finite cells give no line, lines cut by the frame stay open).
//! 2. **Drawing**: a [`Figure`] of `rows × cols` [`Panel`]s placed like matplotlib's default
//!    subplots; each panel holds contours ([`Panel::contour`]), scatter points, polylines,
//!    texts, a title and optional [`Axes`]. [`Figure::render`] rasterizes it with tiny-skia
//!    (anti-aliased, round joins, each polyline one path so a translucent line never darkens
//!    where it overlaps itself) into a [`Canvas`].
//! 3. **Files**: [`write_png`] and [`write_gif`] write atomically (temporary file, then
//!    rename); [`encode_png`] and [`encode_gif`] give the bytes.
//!
//! Invariants:
//!
//! - lengths given to the drawing API are in points (1/72 in); a figure's pixels per point are
//!   `dpi / 72 * scale`;
//! - bad data never panics: NaN values give no line or point, malformed grids and figure
//!   specs are [`Error`]s (only [`Figure::panel_mut`] with an out-of-range index panics);
//! - output is deterministic: the same inputs give byte-identical PNG and GIF files (no
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
//! let lines = contour_lines(&grid, 0.5)?;
//! assert_eq!(lines.len(), 1);
//! assert!(lines[0].closed);
//!
//! // A figure like the notebook's, at twice the resolution.
//! let mut fig = Figure::new(FigureSpec::single().with_scale(2.0))?;
//! let levels = notebook_levels(grid.max_value().unwrap_or(1.0));
//! fig.panel_mut(0, 0)
//!     .contour(&grid, &levels, Colormap::Inferno)?
//!     .scatter(&[0.0, 0.5, -1.0, 1.0], MarkerStyle::notebook())?
//!     .title("iter: 0");
//! let canvas = fig.render()?;
//! assert_eq!((canvas.width(), canvas.height()), (864, 864));
//! let png = kl_render::encode_png(&canvas)?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok(())
//! # }
//! ```

mod axes;
mod canvas;
mod cmap_tables;
mod colormap;
pub mod contour;
mod figure;
mod output;
mod text;

use std::fmt;
use std::path::PathBuf;

pub use canvas::Canvas;
pub use colormap::{Colormap, Rgba};
pub use contour::{Grid, Polyline, contour_lines, linspace, notebook_levels};
pub use figure::{
    Axes, ContourStyle, Figure, FigureSpec, LineStyle, MarkerStyle, Panel, PanelBox, SubplotParams,
};
pub use output::{encode_gif, encode_png, write_atomic, write_gif, write_png};
pub use text::{HAlign, VAlign};

/// Everything that can go wrong in this crate.
#[derive(Debug)]
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
    /// A canvas size that is zero or too large.
    CanvasSize {
        /// Width in pixels.
        width: f64,
        /// Height in pixels.
        height: f64,
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
    /// A canvas given to [`Figure::render_into`] that does not have the figure's size.
    CanvasMismatch {
        /// The figure's size.
        expected: (u32, u32),
        /// The canvas's size.
        found: (u32, u32),
    },
    /// Flat `x, y` coordinates of odd length.
    OddCoordinates {
        /// The length given.
        len: usize,
    },
    /// The embedded DejaVu Sans font could not be read.
    Font,
    /// [`write_gif`] or [`encode_gif`] with no frame.
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
    /// A file could not be written.
    Write {
        /// The file that was to be written.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
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
            Error::CanvasSize { width, height } => {
                write!(f, "canvas of {width} × {height} px is empty or too large")
            }
            Error::CanvasData { len, width, height } => write!(
                f,
                "{len} bytes of pixel data do not make a {width} × {height} RGBA8 image"
            ),
            Error::CanvasMismatch { expected, found } => write!(
                f,
                "canvas is {} × {} px but the figure is {} × {} px",
                found.0, found.1, expected.0, expected.1
            ),
            Error::OddCoordinates { len } => {
                write!(f, "{len} flat coordinates do not make x, y pairs")
            }
            Error::Font => f.write_str("the embedded DejaVu Sans font could not be read"),
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
            Error::Write { path, source } => {
                write!(f, "could not write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}
