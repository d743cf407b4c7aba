//! Figures of panels, drawn into a [`Canvas`] the way matplotlib lays them out.

use tiny_skia::{
    FillRule, LineCap, LineJoin, Paint, Path, PathBuilder, Pixmap, PixmapPaint, Stroke, StrokeDash,
    Transform,
};

use crate::contour::{Grid, Polyline, contour_lines};
use crate::text::{HAlign, TextEngine, VAlign};
use crate::{Canvas, Colormap, Error, Rgba};

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

    /// The canvas size in pixels, `floor(inches * dpi * scale)` as matplotlib's Agg canvas.
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
        // Matplotlib truncates: a 6.4 in figure at 72 dpi is 460 px wide, not 461.
        let (w, h) = self.float_size();
        let (w, h) = ((w + 1e-6).floor(), (h + 1e-6).floor());
        // tiny-skia's own limit is i32::MAX / 4 bytes per row; stay far below.
        const MAX: f64 = 32_767.0;
        if !(1.0..=MAX).contains(&w) || !(1.0..=MAX).contains(&h) {
            return Err(Error::CanvasSize {
                width: w,
                height: h,
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
    /// Dash pattern (on, off, on, off, ...) in points; `None` for a solid line.
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
}

/// A framed panel with ticks, for line plots (matplotlib's default axes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axes {
    /// Label under the x axis.
    pub x_label: Option<String>,
    /// Label left of the y axis (rotated).
    pub y_label: Option<String>,
    /// Logarithmic y axis (values ≤ 0 are not drawn).
    pub log_y: bool,
    /// Draw a legend of the labelled series in the upper right corner.
    pub legend: bool,
}

#[derive(Debug, Clone)]
enum Layer {
    Scatter {
        points: Vec<[f64; 2]>,
        style: MarkerStyle,
    },
    Contour {
        levels: Vec<(Vec<Polyline>, Rgba)>,
        style: ContourStyle,
    },
    Line {
        points: Vec<[f64; 2]>,
        closed: bool,
        style: LineStyle,
    },
}

#[derive(Debug, Clone)]
struct TextItem {
    pos: [f64; 2],
    text: String,
    size_pt: f64,
    color: Rgba,
    align: (HAlign, VAlign),
}

/// One panel of a figure: data limits and the layers drawn inside them.
///
/// Layers are drawn in matplotlib's z-order whatever the order of the calls: scatter points
/// (z-order 1) first, then contours and polylines (z-order 2) in call order, then texts, the
/// axes decorations and the title. Scatter, contours and polylines are clipped to the panel.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    limits: Option<[f64; 4]>,
    layers: Vec<Layer>,
    texts: Vec<TextItem>,
    title: Option<String>,
    axes: Option<Axes>,
    legend: Vec<(String, LineStyle)>,
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
    pub fn contour(
        &mut self,
        grid: &Grid,
        levels: &[f64],
        colormap: Colormap,
    ) -> Result<&mut Self, Error> {
        self.contour_styled(grid, levels, colormap, ContourStyle::notebook())
    }

    /// Contour lines with a chosen style.
    pub fn contour_styled(
        &mut self,
        grid: &Grid,
        levels: &[f64],
        colormap: Colormap,
        style: ContourStyle,
    ) -> Result<&mut Self, Error> {
        grid.validate()?;
        let colors = colormap.level_colors(levels);
        let mut out = Vec::with_capacity(levels.len());
        for (&level, color) in levels.iter().zip(colors) {
            out.push((contour_lines(grid, level)?, color));
        }
        if self.limits.is_none() {
            self.limits = Some(grid.extent);
        }
        self.layers.push(Layer::Contour { levels: out, style });
        Ok(self)
    }

    /// Scatter points from flat `x, y` pairs. An odd length is an error; pairs that are not
    /// finite are skipped.
    pub fn scatter(&mut self, xy: &[f64], style: MarkerStyle) -> Result<&mut Self, Error> {
        if !xy.len().is_multiple_of(2) {
            return Err(Error::OddCoordinates { len: xy.len() });
        }
        let points = xy.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        self.layers.push(Layer::Scatter { points, style });
        Ok(self)
    }

    /// Scatter points from `[x, y]` pairs; pairs that are not finite are skipped.
    pub fn scatter_points(&mut self, points: &[[f64; 2]], style: MarkerStyle) -> &mut Self {
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
        self.legend.push((label.to_owned(), style.clone()));
        self.polyline(points, style)
    }

    /// Text at `pos` in data coordinates (left end of the baseline), `size` in points. Not
    /// clipped.
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
        self.texts.push(TextItem {
            pos,
            text: text.to_owned(),
            size_pt: size,
            color,
            align: (h, v),
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

    fn log_y(&self) -> bool {
        self.axes.as_ref().is_some_and(|a| a.log_y)
    }

    /// The limits drawn: explicit ones, or the data's (see [`Panel::limits`]).
    pub fn effective_limits(&self) -> Option<[f64; 4]> {
        let lim = match self.limits {
            Some(l) => l,
            None => self.auto_limits()?,
        };
        let log = self.log_y();
        let ok = lim.iter().all(|v| v.is_finite())
            && lim[0] < lim[1]
            && lim[2] < lim[3]
            && (!log || lim[2] > 0.0);
        ok.then_some(lim)
    }

    fn auto_limits(&self) -> Option<[f64; 4]> {
        let log = self.log_y();
        let mut b = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut add = |p: &[f64; 2]| {
            let y = if log { p[1].log10() } else { p[1] };
            if p[0].is_finite() && y.is_finite() {
                b[0] = b[0].min(p[0]);
                b[1] = b[1].max(p[0]);
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
                    .flat_map(|(lines, _)| lines)
                    .flat_map(|l| &l.points)
                    .for_each(&mut add),
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
        if log {
            Some([x0, x1, 10f64.powf(y0), 10f64.powf(y1)])
        } else {
            Some([x0, x1, y0, y1])
        }
    }
}

/// A figure: a grid of [`Panel`]s on a white canvas.
#[derive(Debug, Clone)]
pub struct Figure {
    spec: FigureSpec,
    params: SubplotParams,
    width: u32,
    height: u32,
    panels: Vec<Panel>,
    background: Rgba,
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

impl Figure {
    /// An empty figure. Fails on a zero panel count or a size, dpi or scale that is not a
    /// positive finite number, or a canvas larger than 32767 px a side.
    pub fn new(spec: FigureSpec) -> Result<Figure, Error> {
        let (width, height) = spec.pixel_size()?;
        let n = spec.rows.checked_mul(spec.cols).ok_or(Error::FigureSpec {
            field: "rows * cols",
            value: f64::INFINITY,
        })?;
        if n > 10_000 {
            return Err(Error::FigureSpec {
                field: "rows * cols",
                value: n as f64,
            });
        }
        Ok(Figure {
            spec,
            params: SubplotParams::default(),
            width,
            height,
            panels: vec![Panel::default(); n],
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

    /// Draws the figure on a new canvas of [`Figure::width`] × [`Figure::height`].
    pub fn render(&self) -> Result<Canvas, Error> {
        let mut canvas = Canvas::new(self.width, self.height, self.background)?;
        self.render_into(&mut canvas)?;
        Ok(canvas)
    }

    /// Draws the panels over what `canvas` holds (which is not cleared). The canvas must have
    /// the figure's size.
    pub fn render_into(&self, canvas: &mut Canvas) -> Result<(), Error> {
        if (canvas.width(), canvas.height()) != (self.width, self.height) {
            return Err(Error::CanvasMismatch {
                expected: (self.width, self.height),
                found: (canvas.width(), canvas.height()),
            });
        }
        let text = TextEngine::new()?;
        let k = self.spec.px_per_pt();
        for row in 0..self.spec.rows {
            for col in 0..self.spec.cols {
                let panel = &self.panels[row * self.spec.cols + col];
                let bx = self.panel_box(row, col);
                draw_panel(canvas.pixmap_mut(), panel, bx, k, &text)?;
            }
        }
        Ok(())
    }
}

/// Data → pixel mapping of one panel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mapping {
    pub(crate) lim: [f64; 4],
    pub(crate) bx: PanelBox,
    pub(crate) log_y: bool,
}

impl Mapping {
    pub(crate) fn map(&self, p: [f64; 2]) -> Option<(f32, f32)> {
        let [x0, x1, y0, y1] = self.lim;
        let (y, ly0, ly1) = if self.log_y {
            (p[1].log10(), y0.log10(), y1.log10())
        } else {
            (p[1], y0, y1)
        };
        let px = self.bx.x0 + (p[0] - x0) / (x1 - x0) * (self.bx.x1 - self.bx.x0);
        let py = self.bx.y1 - (y - ly0) / (ly1 - ly0) * (self.bx.y1 - self.bx.y0);
        // Far-away points are clamped so that f32 and the rasterizer stay well-behaved; the
        // clip box hides them anyway.
        const FAR: f64 = 1.0e6;
        (px.is_finite() && py.is_finite())
            .then(|| (px.clamp(-FAR, FAR) as f32, py.clamp(-FAR, FAR) as f32))
    }

    fn append(&self, pb: &mut PathBuilder, points: &[[f64; 2]], closed: bool) {
        let mut pen = false;
        let mut all = true;
        let mut n = 0;
        for &p in points {
            match self.map(p) {
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
}

fn paint(color: Rgba) -> Paint<'static> {
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

fn draw_panel(
    canvas: &mut Pixmap,
    panel: &Panel,
    bx: PanelBox,
    k: f64,
    text: &TextEngine,
) -> Result<(), Error> {
    let lim = panel.effective_limits();
    let log_y = panel.log_y();
    if let Some(lim) = lim {
        let map = Mapping { lim, bx, log_y };
        draw_clipped_layers(canvas, panel, map, k)?;
        for t in &panel.texts {
            if let Some((x, y)) = map.map(t.pos) {
                draw_text(
                    canvas,
                    text,
                    &t.text,
                    t.size_pt * k,
                    (f64::from(x), f64::from(y)),
                    t.align,
                    t.color,
                    0.0,
                );
            }
        }
        if let Some(axes) = &panel.axes {
            crate::axes::draw_axes(canvas, axes, &panel.legend, map, k, text);
        }
    }
    if let Some(title) = &panel.title {
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
    Ok(())
}

/// Draws `s` anchored at `pos` (pixels), rotated by `angle` degrees counter-clockwise.
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

/// Scatter, contours and lines, clipped to the panel box rounded to whole pixels (as Agg's
/// clip box), drawn on a transparent layer that is then composited over the canvas.
fn draw_clipped_layers(
    canvas: &mut Pixmap,
    panel: &Panel,
    map: Mapping,
    k: f64,
) -> Result<(), Error> {
    if panel.layers.is_empty() {
        return Ok(());
    }
    let bx = map.bx;
    let cw = f64::from(canvas.width());
    let ch = f64::from(canvas.height());
    let ix0 = bx.x0.round().clamp(0.0, cw);
    let iy0 = bx.y0.round().clamp(0.0, ch);
    let ix1 = bx.x1.round().clamp(0.0, cw);
    let iy1 = bx.y1.round().clamp(0.0, ch);
    if ix1 <= ix0 || iy1 <= iy0 {
        return Ok(());
    }
    let (w, h) = ((ix1 - ix0) as u32, (iy1 - iy0) as u32);
    let mut layer = Pixmap::new(w, h).ok_or(Error::CanvasSize {
        width: f64::from(w),
        height: f64::from(h),
    })?;
    let to_layer = Transform::from_translate(-ix0 as f32, -iy0 as f32);

    // z-order 1: scatter; z-order 2: contours and lines in call order.
    for l in &panel.layers {
        if let Layer::Scatter { points, style } = l {
            draw_scatter(&mut layer, points, *style, map, k, (ix0, iy0));
        }
    }
    for l in &panel.layers {
        match l {
            Layer::Scatter { .. } => {}
            Layer::Contour { levels, style } => {
                let paths: Vec<(Option<Path>, Rgba)> = levels
                    .iter()
                    .map(|(lines, color)| {
                        let mut pb = PathBuilder::new();
                        for line in lines {
                            map.append(&mut pb, &line.points, line.closed);
                        }
                        (pb.finish(), *color)
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
                map.append(&mut pb, points, *closed);
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
    Ok(())
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
