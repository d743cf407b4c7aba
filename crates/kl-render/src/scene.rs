//! The scene: a [`Figure`] of [`Panel`]s holding [`Layer`]s, as plain data.
//!
//! Nothing here knows about pixels or tiny-skia: a scene is a value (`Clone`, `PartialEq`,
//! `Debug`) that [`render`](crate::render) turns into a [`Canvas`](crate::Canvas). The only
//! fallible step is [`Figure::new`], which validates the [`FigureSpec`] once; after that
//! adding layers cannot fail (NaN data is simply not drawn).

use crate::contour::{Grid, Polyline, contour_lines};
use crate::{Colormap, Error, Rgba};

/// The most pixels a figure's canvas may have: 2²⁶ = 67 108 864 (64 Mpx).
///
/// A canvas costs 4 bytes a pixel, and encoding it takes two more copies (straight RGBA and
/// RGB, 7 bytes a pixel), so a figure at the limit peaks near 0.7 GiB — the most a run on a
/// shared machine should take for one image. The notebook's 5 × 4 grid (864 × 1080 px at
/// scale 1) fits up to scale 8 (6912 × 8640 = 59.7 Mpx).
pub const MAX_CANVAS_PIXELS: u64 = 1 << 26;

/// The longest side a canvas may have, in pixels: coordinates are mapped to `f32` and the
/// rasterizer stays exact far beyond this, and a canvas this long still fits tiny-skia's
/// `i32` row stride.
pub const MAX_CANVAS_SIDE: u32 = 32_767;

/// The most panels a figure may have (`rows * cols`).
pub const MAX_PANELS: usize = 10_000;

/// Horizontal anchor of a text relative to its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HAlign {
    /// The text starts at the position.
    Left,
    /// The text is centred on the position.
    Center,
    /// The text ends at the position.
    Right,
}

/// Vertical anchor of a text relative to its position.
///
/// For a text of several lines (`\n`), `Top` and `Baseline` anchor the first line, `Bottom`
/// the last one, and `Center` the middle of the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VAlign {
    /// The baseline passes through the position.
    Baseline,
    /// The top of the tallest letters (ascender height) is at the position.
    Top,
    /// Capital letters are centred on the position.
    Center,
    /// The lowest descender is at the position.
    Bottom,
}

/// Size and resolution of a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FigureSpec {
    /// Panel rows (at least 1).
    pub rows: usize,
    /// Panel columns (at least 1).
    pub cols: usize,
    /// Width in inches.
    pub width_in: f64,
    /// Height in inches.
    pub height_in: f64,
    /// Dots per inch; one point is `dpi / 72` pixels.
    pub dpi: f64,
    /// Extra factor on top of `dpi` for crisper output (2.0 doubles every length in pixels).
    pub scale: f64,
}

impl FigureSpec {
    /// The notebook's single figure: one panel, 6 × 6 in at 72 dpi (432 × 432 px).
    pub fn single() -> FigureSpec {
        FigureSpec {
            rows: 1,
            cols: 1,
            width_in: 6.0,
            height_in: 6.0,
            dpi: 72.0,
            scale: 1.0,
        }
    }

    /// The notebook's grid figure: 5 × 4 panels, 12 × 15 in at 72 dpi (864 × 1080 px).
    pub fn notebook_grid() -> FigureSpec {
        FigureSpec {
            rows: 5,
            cols: 4,
            width_in: 12.0,
            height_in: 15.0,
            dpi: 72.0,
            scale: 1.0,
        }
    }

    /// The same figure with `scale` set.
    pub fn with_scale(self, scale: f64) -> FigureSpec {
        FigureSpec { scale, ..self }
    }

    /// Pixels per point.
    pub fn px_per_pt(&self) -> f64 {
        self.dpi / 72.0 * self.scale
    }

    /// The figure size in (fractional) pixels, `inches * dpi * scale`.
    pub fn float_size(&self) -> (f64, f64) {
        (
            self.width_in * self.dpi * self.scale,
            self.height_in * self.dpi * self.scale,
        )
    }

    /// The canvas size in pixels, `floor(inches * dpi * scale)` as matplotlib's Agg canvas,
    /// after checking the spec: sizes, dpi and scale positive and finite
    /// ([`Error::FigureSpec`] naming the field), 1 to [`MAX_PANELS`] panels, and a canvas of
    /// at least 1 px, at most [`MAX_CANVAS_SIDE`] a side and [`MAX_CANVAS_PIXELS`] in all
    /// ([`Error::CanvasSize`] with the requested size and the limits).
    ///
    /// # Errors
    /// [`Error::FigureSpec`] and [`Error::CanvasSize`] as above.
    pub fn pixel_size(&self) -> Result<(u32, u32), Error> {
        let check = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::FigureSpec { field, value: v })
            }
        };
        check("width_in", self.width_in)?;
        check("height_in", self.height_in)?;
        check("dpi", self.dpi)?;
        check("scale", self.scale)?;
        if self.rows == 0 {
            return Err(Error::FigureSpec {
                field: "rows",
                value: 0.0,
            });
        }
        if self.cols == 0 {
            return Err(Error::FigureSpec {
                field: "cols",
                value: 0.0,
            });
        }
        match self.rows.checked_mul(self.cols) {
            Some(n) if n <= MAX_PANELS => {}
            n => {
                return Err(Error::FigureSpec {
                    field: "rows * cols",
                    value: n.map_or(f64::INFINITY, |n| n as f64),
                });
            }
        }
        // Matplotlib truncates: a 6.4 in figure at 72 dpi is 460 px wide, not 461.
        let (w, h) = self.float_size();
        let (w, h) = ((w + 1e-6).floor(), (h + 1e-6).floor());
        let side = f64::from(MAX_CANVAS_SIDE);
        let fits = (1.0..=side).contains(&w)
            && (1.0..=side).contains(&h)
            && w * h <= MAX_CANVAS_PIXELS as f64;
        if !fits {
            return Err(Error::CanvasSize {
                width: w,
                height: h,
                max_side: MAX_CANVAS_SIDE,
                max_pixels: MAX_CANVAS_PIXELS,
            });
        }
        Ok((w as u32, h as u32))
    }
}

/// Where the panels go, as fractions of the figure (matplotlib's `figure.subplot.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubplotParams {
    /// Left edge of the leftmost panels.
    pub left: f64,
    /// Right edge of the rightmost panels.
    pub right: f64,
    /// Bottom edge of the lowest panels.
    pub bottom: f64,
    /// Top edge of the highest panels.
    pub top: f64,
    /// Horizontal gap between panels, as a fraction of a panel's width.
    pub wspace: f64,
    /// Vertical gap between panels, as a fraction of a panel's height.
    pub hspace: f64,
}

impl Default for SubplotParams {
    /// Matplotlib's defaults: 0.125, 0.9, 0.11, 0.88, 0.2, 0.2.
    fn default() -> Self {
        SubplotParams {
            left: 0.125,
            right: 0.9,
            bottom: 0.11,
            top: 0.88,
            wspace: 0.2,
            hspace: 0.2,
        }
    }
}

/// How contour lines are stroked. Widths are in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContourStyle {
    /// Width of the coloured line.
    pub width: f64,
    /// A wider line drawn under every coloured line: `(width, colour)`.
    pub halo: Option<(f64, Rgba)>,
}

impl ContourStyle {
    /// The notebook's grid style: a 2 pt line over a 4 pt white halo at alpha 0.5.
    pub fn notebook() -> ContourStyle {
        ContourStyle {
            width: 2.0,
            halo: Some((4.0, Rgba::WHITE.with_alpha(0.5))),
        }
    }

    /// The notebook's target figure: 2 pt lines, no halo (measured on the reference).
    pub fn plain() -> ContourStyle {
        ContourStyle {
            width: 2.0,
            halo: None,
        }
    }

    /// Matplotlib's default `contour`: 1.5 pt lines, no halo.
    pub fn matplotlib_default() -> ContourStyle {
        ContourStyle {
            width: 1.5,
            halo: None,
        }
    }
}

impl Default for ContourStyle {
    /// [`ContourStyle::notebook`].
    fn default() -> Self {
        ContourStyle::notebook()
    }
}

/// How scatter points are drawn: a filled circle with an edge of the same colour, like
/// matplotlib's `scatter(..., s=area, color=c, alpha=a)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkerStyle {
    /// Marker area in points² (matplotlib's `s`): the diameter is `sqrt(area)` points.
    pub area_pt2: f64,
    /// Face and edge colour, with alpha.
    pub color: Rgba,
    /// Edge width in points (matplotlib's default for filled markers is 1.0).
    pub edge_width: f64,
}

impl MarkerStyle {
    /// The notebook's samples: `s=25`, black, alpha 0.7.
    pub fn notebook() -> MarkerStyle {
        MarkerStyle {
            area_pt2: 25.0,
            color: Rgba::BLACK.with_alpha(0.7),
            edge_width: 1.0,
        }
    }
}

impl Default for MarkerStyle {
    /// [`MarkerStyle::notebook`].
    fn default() -> Self {
        MarkerStyle::notebook()
    }
}

/// How a polyline is stroked. Lengths are in points.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStyle {
    /// Colour, with alpha.
    pub color: Rgba,
    /// Line width.
    pub width: f64,
    /// Dash pattern (on, off, on, off, ...) in points; `None` for a solid line. A pattern the
    /// rasterizer rejects (odd length, negative or all-zero lengths) draws a solid line.
    pub dash: Option<Vec<f64>>,
}

impl LineStyle {
    /// A solid line.
    pub fn solid(color: Rgba, width: f64) -> LineStyle {
        LineStyle {
            color,
            width,
            dash: None,
        }
    }

    /// Matplotlib's `'--'`: dashes of 3.7 and gaps of 1.6 line widths.
    pub fn dashed(color: Rgba, width: f64) -> LineStyle {
        LineStyle {
            color,
            width,
            dash: Some(vec![3.7 * width, 1.6 * width]),
        }
    }

    /// Matplotlib's `':'`: dots of 1 and gaps of 1.65 line widths.
    pub fn dotted(color: Rgba, width: f64) -> LineStyle {
        LineStyle {
            color,
            width,
            dash: Some(vec![width, 1.65 * width]),
        }
    }
}

/// How error bars are drawn: a line over each ± interval, optional caps, and an optional
/// marker on the centre (matplotlib's `errorbar(..., fmt="o", capsize=...)`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorBarStyle {
    /// Colour and width of the bars (a dash pattern is ignored: bars are solid).
    pub line: LineStyle,
    /// Length of the cap across each end of a bar, in points; 0 for no cap.
    pub cap_pt: f64,
    /// The marker on the centre point, if any (drawn over the bars).
    pub marker: Option<MarkerStyle>,
}

impl ErrorBarStyle {
    /// Bars of `width` points in `color`, 4 pt caps and a dot of the same colour (`s = 20`).
    pub fn new(color: Rgba, width: f64) -> ErrorBarStyle {
        ErrorBarStyle {
            line: LineStyle::solid(color, width),
            cap_pt: 4.0,
            marker: Some(MarkerStyle {
                area_pt2: 20.0,
                color,
                edge_width: 1.0,
            }),
        }
    }
}

/// One error bar: a centre and symmetric half-widths. A half-width that is zero, negative or
/// not finite draws no bar in that direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorBar {
    /// Centre `[x, y]` in data coordinates.
    pub center: [f64; 2],
    /// Half-width of the horizontal interval `x ± x_err`.
    pub x_err: f64,
    /// Half-height of the vertical interval `y ± y_err`.
    pub y_err: f64,
}

impl ErrorBar {
    /// A vertical bar `y ± err` at `x` (a coefficient's mean ± 2 sd, say).
    pub fn vertical(x: f64, y: f64, err: f64) -> ErrorBar {
        ErrorBar {
            center: [x, y],
            x_err: 0.0,
            y_err: err,
        }
    }

    /// A horizontal bar `x ± err` at `y`.
    pub fn horizontal(x: f64, y: f64, err: f64) -> ErrorBar {
        ErrorBar {
            center: [x, y],
            x_err: err,
            y_err: 0.0,
        }
    }
}

/// A framed panel with ticks, for line plots (matplotlib's default axes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axes {
    /// Label under the x axis.
    pub x_label: Option<String>,
    /// Label left of the y axis (rotated).
    pub y_label: Option<String>,
    /// Logarithmic x axis (values ≤ 0 are not drawn).
    pub log_x: bool,
    /// Logarithmic y axis (values ≤ 0 are not drawn).
    pub log_y: bool,
    /// Draw a legend of the labelled series in the upper right corner.
    pub legend: bool,
    /// Put the legend in the lower right corner instead (for curves that rise to the right).
    pub legend_lower_right: bool,
    /// Put the legend in the left corner (upper, or lower with `legend_lower_right`) instead of
    /// the right one (for curves that fall from the upper left).
    pub legend_left: bool,
    /// Custom x ticks `(position, label)` instead of the automatic ones, for categorical or
    /// integer positions (ticks outside the limits are not drawn).
    pub x_ticks: Option<Vec<(f64, String)>>,
}

/// One contour level: its value, colour and isolines.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourLevel {
    /// The level.
    pub level: f64,
    /// Its colour from the colormap.
    pub color: Rgba,
    /// Its isolines in data coordinates.
    pub lines: Vec<Polyline>,
}

/// One layer of a panel, in data coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// Scatter points (drawn first, matplotlib's z-order 1).
    Scatter {
        /// The points; non-finite ones are skipped.
        points: Vec<[f64; 2]>,
        /// The marker.
        style: MarkerStyle,
    },
    /// Contour lines, one colour per level.
    Contour {
        /// The levels, lowest first as given.
        levels: Vec<ContourLevel>,
        /// Line width and halo.
        style: ContourStyle,
    },
    /// A polyline or polygon outline.
    Line {
        /// The vertices; a non-finite one breaks the line.
        points: Vec<[f64; 2]>,
        /// Whether the last vertex joins the first.
        closed: bool,
        /// The stroke.
        style: LineStyle,
    },
    /// Error bars.
    ErrorBars {
        /// The bars.
        bars: Vec<ErrorBar>,
        /// Their style.
        style: ErrorBarStyle,
    },
}

/// A text in data coordinates (not clipped). `\n` starts a new line (line spacing 1.2 × size).
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// Anchor position in data coordinates.
    pub pos: [f64; 2],
    /// The text.
    pub text: String,
    /// Font size in points.
    pub size_pt: f64,
    /// Colour.
    pub color: Rgba,
    /// Horizontal anchor.
    pub h: HAlign,
    /// Vertical anchor.
    pub v: VAlign,
}

/// A legend entry: a label and the line style of its handle.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// The label.
    pub label: String,
    /// The handle's stroke.
    pub style: LineStyle,
}

/// One panel of a figure: data limits and the layers drawn inside them.
///
/// Layers are drawn in matplotlib's z-order whatever the order of the calls: scatter points
/// (z-order 1) first, then contours, polylines and error bars (z-order 2) in call order, then
/// texts, the axes decorations and the title. Scatter, contours, polylines and error bars are
/// clipped to the panel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    limits: Option<[f64; 4]>,
    layers: Vec<Layer>,
    texts: Vec<Text>,
    title: Option<String>,
    axes: Option<Axes>,
    legend: Vec<LegendEntry>,
}

impl Panel {
    /// Sets the data limits `[xmin, xmax, ymin, ymax]` mapped to the panel's box. Without
    /// limits the panel fits its data (a contour grid's extent exactly, otherwise 5 % margins
    /// as matplotlib). Limits that are not finite or empty make the panel draw no data.
    pub fn limits(&mut self, limits: [f64; 4]) -> &mut Self {
        self.limits = Some(limits);
        self
    }

    /// Contour lines in the notebook's style ([`ContourStyle::notebook`]), one colour per level
    /// as matplotlib's `contour(..., levels, cmap=colormap)`.
    pub fn contour(&mut self, grid: &Grid, levels: &[f64], colormap: Colormap) -> &mut Self {
        self.contour_styled(grid, levels, colormap, ContourStyle::notebook())
    }

    /// Contour lines with a chosen style. Sets the limits to the grid's extent if none are set.
    pub fn contour_styled(
        &mut self,
        grid: &Grid,
        levels: &[f64],
        colormap: Colormap,
        style: ContourStyle,
    ) -> &mut Self {
        let colors = colormap.level_colors(levels);
        let levels = levels
            .iter()
            .zip(colors)
            .map(|(&level, color)| ContourLevel {
                level,
                color,
                lines: contour_lines(grid, level),
            })
            .collect();
        if self.limits.is_none() {
            self.limits = Some(grid.extent());
        }
        self.layers.push(Layer::Contour { levels, style });
        self
    }

    /// Scatter points from `[x, y]` pairs; pairs that are not finite are skipped. (Flat
    /// `x, y, x, y, …` data: `flat.as_chunks::<2>().0`.)
    pub fn scatter(&mut self, points: &[[f64; 2]], style: MarkerStyle) -> &mut Self {
        self.layers.push(Layer::Scatter {
            points: points.to_vec(),
            style,
        });
        self
    }

    /// An open polyline in data coordinates. A non-finite point breaks the line.
    pub fn polyline(&mut self, points: &[[f64; 2]], style: LineStyle) -> &mut Self {
        self.layers.push(Layer::Line {
            points: points.to_vec(),
            closed: false,
            style,
        });
        self
    }

    /// A closed polyline (polygon outline) in data coordinates.
    pub fn polygon(&mut self, points: &[[f64; 2]], style: LineStyle) -> &mut Self {
        self.layers.push(Layer::Line {
            points: points.to_vec(),
            closed: true,
            style,
        });
        self
    }

    /// A polyline that appears in the legend under `label`.
    pub fn series(&mut self, points: &[[f64; 2]], style: LineStyle, label: &str) -> &mut Self {
        self.legend.push(LegendEntry {
            label: label.to_owned(),
            style: style.clone(),
        });
        self.polyline(points, style)
    }

    /// Error bars (see [`ErrorBar`]); a bar whose centre is not finite is skipped.
    pub fn error_bars(&mut self, bars: &[ErrorBar], style: ErrorBarStyle) -> &mut Self {
        self.layers.push(Layer::ErrorBars {
            bars: bars.to_vec(),
            style,
        });
        self
    }

    /// Text at `pos` in data coordinates (left end of the baseline), `size` in points. Not
    /// clipped; `\n` starts a new line.
    pub fn text(&mut self, pos: [f64; 2], text: &str, size: f64, color: Rgba) -> &mut Self {
        self.text_aligned(pos, text, size, color, HAlign::Left, VAlign::Baseline)
    }

    /// Text anchored at `pos` (data coordinates) as `h`, `v` say.
    pub fn text_aligned(
        &mut self,
        pos: [f64; 2],
        text: &str,
        size: f64,
        color: Rgba,
        h: HAlign,
        v: VAlign,
    ) -> &mut Self {
        self.texts.push(Text {
            pos,
            text: text.to_owned(),
            size_pt: size,
            color,
            h,
            v,
        });
        self
    }

    /// The panel's title: DejaVu Sans 12 pt, centred, baseline 6 pt above the panel.
    pub fn title(&mut self, title: &str) -> &mut Self {
        self.title = Some(title.to_owned());
        self
    }

    /// Draws a frame, ticks and tick labels (and optionally axis labels and a legend).
    pub fn axes(&mut self, axes: Axes) -> &mut Self {
        self.axes = Some(axes);
        self
    }

    /// The layers, in call order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The texts, in call order.
    pub fn texts(&self) -> &[Text] {
        &self.texts
    }

    /// The title, if set.
    pub fn title_text(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The axes decorations, if set.
    pub fn axes_spec(&self) -> Option<&Axes> {
        self.axes.as_ref()
    }

    /// The legend entries (from [`Panel::series`]), in call order.
    pub fn legend(&self) -> &[LegendEntry] {
        &self.legend
    }

    /// Whether the x axis is logarithmic.
    pub fn log_x(&self) -> bool {
        self.axes.as_ref().is_some_and(|a| a.log_x)
    }

    /// Whether the y axis is logarithmic.
    pub fn log_y(&self) -> bool {
        self.axes.as_ref().is_some_and(|a| a.log_y)
    }

    /// The limits drawn: explicit ones, or the data's (see [`Panel::limits`]). `None` when
    /// they are not finite, empty, or not positive on a log axis.
    pub fn effective_limits(&self) -> Option<[f64; 4]> {
        let lim = match self.limits {
            Some(l) => l,
            None => self.auto_limits()?,
        };
        let ok = lim.iter().all(|v| v.is_finite())
            && lim[0] < lim[1]
            && lim[2] < lim[3]
            && (!self.log_x() || lim[0] > 0.0)
            && (!self.log_y() || lim[2] > 0.0);
        ok.then_some(lim)
    }

    fn auto_limits(&self) -> Option<[f64; 4]> {
        let (log_x, log_y) = (self.log_x(), self.log_y());
        let mut b = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut add = |p: &[f64; 2]| {
            let x = if log_x { p[0].log10() } else { p[0] };
            let y = if log_y { p[1].log10() } else { p[1] };
            if x.is_finite() && y.is_finite() {
                b[0] = b[0].min(x);
                b[1] = b[1].max(x);
                b[2] = b[2].min(y);
                b[3] = b[3].max(y);
            }
        };
        for layer in &self.layers {
            match layer {
                Layer::Scatter { points, .. } | Layer::Line { points, .. } => {
                    points.iter().for_each(&mut add);
                }
                Layer::Contour { levels, .. } => levels
                    .iter()
                    .flat_map(|l| &l.lines)
                    .flat_map(|l| &l.points)
                    .for_each(&mut add),
                Layer::ErrorBars { bars, .. } => {
                    for bar in bars {
                        let [x, y] = bar.center;
                        let (dx, dy) = (positive_or_zero(bar.x_err), positive_or_zero(bar.y_err));
                        add(&[x - dx, y - dy]);
                        add(&[x + dx, y + dy]);
                    }
                }
            }
        }
        if !(b[0] <= b[1] && b[2] <= b[3]) {
            return None;
        }
        let pad = |lo: f64, hi: f64| {
            let d = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
            (lo - d, hi + d)
        };
        let (x0, x1) = pad(b[0], b[1]);
        let (y0, y1) = pad(b[2], b[3]);
        let (x0, x1) = if log_x {
            (10f64.powf(x0), 10f64.powf(x1))
        } else {
            (x0, x1)
        };
        let (y0, y1) = if log_y {
            (10f64.powf(y0), 10f64.powf(y1))
        } else {
            (y0, y1)
        };
        Some([x0, x1, y0, y1])
    }
}

/// `v` when it is a positive finite number, else 0.
pub(crate) fn positive_or_zero(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// Where a panel sits on the canvas, in pixels (y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelBox {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

/// A figure: a grid of [`Panel`]s on a background, as data. [`render`](crate::render) draws it.
///
/// Lengths given to it are in points (1/72 in); a figure's pixels per point are
/// `dpi / 72 * scale`. Only [`Figure::new`] can fail. (`PartialEq` compares the data as
/// given: a scene holding a NaN is not equal to itself.)
///
/// # Example
///
/// ```
/// use kl_render::{Axes, ErrorBar, ErrorBarStyle, Figure, FigureSpec, LineStyle, Rgba};
///
/// # fn main() -> Result<(), kl_render::Error> {
/// // Validated once: a 4 × 3 in figure at 72 dpi is 288 × 216 px.
/// let mut fig = Figure::new(FigureSpec {
///     rows: 1,
///     cols: 1,
///     width_in: 4.0,
///     height_in: 3.0,
///     dpi: 72.0,
///     scale: 1.0,
/// })?;
/// // Building the scene cannot fail; NaN data is simply not drawn.
/// fig.panel_mut(0, 0)
///     .limits([0.5, 3.5, -1.0, 3.0])
///     .error_bars(
///         &[ErrorBar::vertical(1.0, 0.5, 0.2), ErrorBar::vertical(2.0, 1.5, f64::NAN)],
///         ErrorBarStyle::new(Rgba::tab10(0), 1.5),
///     )
///     .polyline(&[[0.5, 0.0], [3.5, 2.0]], LineStyle::dashed(Rgba::BLACK, 1.0))
///     .text([3.4, 2.8], "k̂ = 0.41\nKL = 0.12", 10.0, Rgba::BLACK)
///     .axes(Axes {
///         x_ticks: Some(vec![(1.0, "μ₁".into()), (2.0, "μ₂".into()), (3.0, "L₁₁".into())]),
///         ..Axes::default()
///     })
///     .title("mean ± 2 sd");
/// // The scene is a value: inspect it, clone it, then draw it.
/// let panel = fig.panel(0, 0).expect("a 1 × 1 figure");
/// assert_eq!(panel.layers().len(), 2);
/// assert_eq!(panel.title_text(), Some("mean ± 2 sd"));
/// let canvas = kl_render::render(&fig);
/// assert_eq!((canvas.width(), canvas.height()), (288, 216));
/// let png = kl_render::encode_png(&canvas)?;
/// assert_eq!(&png[1..4], b"PNG");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    spec: FigureSpec,
    params: SubplotParams,
    width: u32,
    height: u32,
    panels: Vec<Panel>,
    background: Rgba,
}

impl Figure {
    /// An empty figure on a white background, after validating `spec` (see
    /// [`FigureSpec::pixel_size`] for what fails).
    ///
    /// # Errors
    /// What [`FigureSpec::pixel_size`] reports.
    pub fn new(spec: FigureSpec) -> Result<Figure, Error> {
        let (width, height) = spec.pixel_size()?;
        Ok(Figure {
            spec,
            params: SubplotParams::default(),
            width,
            height,
            panels: vec![Panel::default(); spec.rows * spec.cols],
            background: Rgba::WHITE,
        })
    }

    /// Replaces matplotlib's default subplot parameters.
    pub fn set_subplot_params(&mut self, params: SubplotParams) -> &mut Self {
        self.params = params;
        self
    }

    /// Sets the background colour (white by default).
    pub fn set_background(&mut self, color: Rgba) -> &mut Self {
        self.background = color;
        self
    }

    /// The figure's spec.
    pub fn spec(&self) -> FigureSpec {
        self.spec
    }

    /// The background colour.
    pub fn background(&self) -> Rgba {
        self.background
    }

    /// Canvas width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Canvas height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The panel at `row`, `col` (row 0 at the top).
    ///
    /// # Panics
    /// If `row >= rows` or `col >= cols` (a contract violation, not a data error).
    #[track_caller]
    pub fn panel_mut(&mut self, row: usize, col: usize) -> &mut Panel {
        assert!(
            row < self.spec.rows && col < self.spec.cols,
            "panel ({row}, {col}) outside a {} × {} figure",
            self.spec.rows,
            self.spec.cols
        );
        &mut self.panels[row * self.spec.cols + col]
    }

    /// The panel at `row`, `col`, or `None` outside the grid.
    pub fn get_panel_mut(&mut self, row: usize, col: usize) -> Option<&mut Panel> {
        if row < self.spec.rows && col < self.spec.cols {
            self.panels.get_mut(row * self.spec.cols + col)
        } else {
            None
        }
    }

    /// The panel at `row`, `col`, or `None` outside the grid.
    pub fn panel(&self, row: usize, col: usize) -> Option<&Panel> {
        if row < self.spec.rows && col < self.spec.cols {
            self.panels.get(row * self.spec.cols + col)
        } else {
            None
        }
    }

    /// The box of panel `row`, `col` in pixels, as matplotlib's `GridSpec` places it.
    pub fn panel_box(&self, row: usize, col: usize) -> PanelBox {
        let p = &self.params;
        // Positions are fractions of the unrounded figure size; Agg flips y about the
        // whole-pixel canvas height.
        let (w, h) = self.spec.float_size();
        let (rows, cols) = (self.spec.rows as f64, self.spec.cols as f64);
        let cell_w = (p.right - p.left) * w / (cols + p.wspace * (cols - 1.0));
        let cell_h = (p.top - p.bottom) * h / (rows + p.hspace * (rows - 1.0));
        let x0 = p.left * w + col as f64 * cell_w * (1.0 + p.wspace);
        let y0 = f64::from(self.height) - p.top * h + row as f64 * cell_h * (1.0 + p.hspace);
        PanelBox {
            x0,
            y0,
            x1: x0 + cell_w,
            y1: y0 + cell_h,
        }
    }

    /// Every panel with its box, row by row.
    pub fn panels(&self) -> impl Iterator<Item = (&Panel, PanelBox)> + '_ {
        let cols = self.spec.cols;
        self.panels
            .iter()
            .enumerate()
            .map(move |(i, p)| (p, self.panel_box(i / cols, i % cols)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f64; 4], b: [f64; 4]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * y.abs().max(1.0))
    }

    #[test]
    fn auto_limits_pad_5_percent_in_data_or_in_decades() {
        // Linear: x in [0, 10], y in [-1, 1] → 5 % margins (matplotlib's default).
        let mut p = Panel::default();
        p.polyline(
            &[[0.0, -1.0], [10.0, 1.0]],
            LineStyle::solid(Rgba::BLACK, 1.0),
        );
        let lim = p.effective_limits().expect("finite data");
        assert!(close(lim, [-0.5, 10.5, -1.1, 1.1]), "{lim:?}");
        // Log-log: 1..1000 is 3 decades, padded by 0.15 decade each side; (−1, 5) is not drawn.
        let mut q = Panel::default();
        q.polyline(
            &[[1.0, 1.0], [1000.0, 1000.0], [-1.0, 5.0]],
            LineStyle::solid(Rgba::BLACK, 1.0),
        )
        .axes(Axes {
            log_x: true,
            log_y: true,
            ..Axes::default()
        });
        let lim = q.effective_limits().expect("positive data");
        let (lo, hi) = (10f64.powf(-0.15), 10f64.powf(3.15));
        assert!(close(lim, [lo, hi, lo, hi]), "{lim:?}");
        // Explicit limits that are not positive on a log axis draw nothing.
        q.limits([0.0, 10.0, 1.0, 10.0]);
        assert_eq!(q.effective_limits(), None);
    }

    #[test]
    fn error_bars_count_their_whole_interval_in_the_limits() {
        let mut p = Panel::default();
        p.error_bars(
            &[
                ErrorBar::vertical(1.0, 0.0, 2.0),
                ErrorBar::horizontal(3.0, 0.0, 1.0),
                ErrorBar::vertical(f64::NAN, 50.0, 1.0),
            ],
            ErrorBarStyle::new(Rgba::BLACK, 1.0),
        );
        // x in [1, 4], y in [-2, 2] before the 5 % margins.
        let lim = p.effective_limits().expect("finite bars");
        assert!(close(lim, [0.85, 4.15, -2.2, 2.2]), "{lim:?}");
    }

    #[test]
    fn a_spec_is_checked_field_by_field() {
        let bad = FigureSpec {
            height_in: -1.0,
            ..FigureSpec::single()
        };
        assert_eq!(
            Figure::new(bad),
            Err(Error::FigureSpec {
                field: "height_in",
                value: -1.0
            })
        );
        let cols0 = FigureSpec {
            cols: 0,
            ..FigureSpec::single()
        };
        assert_eq!(
            cols0.pixel_size(),
            Err(Error::FigureSpec {
                field: "cols",
                value: 0.0
            })
        );
        // 6.4 in at 72 dpi is 460.8 px: truncated to 460 as matplotlib's Agg canvas.
        let mpl = FigureSpec {
            width_in: 6.4,
            height_in: 4.8,
            ..FigureSpec::single()
        };
        assert_eq!(mpl.pixel_size(), Ok((460, 345)));
    }
}
