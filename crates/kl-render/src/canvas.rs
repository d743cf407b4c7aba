//! The pixel buffer everything is drawn into.

use tiny_skia::{Color, Pixmap, PremultipliedColorU8};

use crate::scene::{MAX_CANVAS_PIXELS, MAX_CANVAS_SIDE};
use crate::{Error, Rgba};

/// An RGBA8 image: the output of [`render`](crate::render) and the input of the encoders.
///
/// Internally a premultiplied [`tiny_skia::Pixmap`]; [`Canvas::pixmap_mut`] lets a caller draw
/// their own paths into it with tiny-skia.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    pixmap: Pixmap,
}

impl Canvas {
    /// A canvas filled with `background`. Fails with [`Error::CanvasSize`] when a side is zero
    /// or longer than [`MAX_CANVAS_SIDE`], or there are more than [`MAX_CANVAS_PIXELS`] pixels.
    ///
    /// # Errors
    /// [`Error::CanvasSize`] as above.
    pub fn new(width: u32, height: u32, background: Rgba) -> Result<Canvas, Error> {
        let err = Error::CanvasSize {
            width: f64::from(width),
            height: f64::from(height),
            max_side: MAX_CANVAS_SIDE,
            max_pixels: MAX_CANVAS_PIXELS,
        };
        let fits = (1..=MAX_CANVAS_SIDE).contains(&width)
            && (1..=MAX_CANVAS_SIDE).contains(&height)
            && u64::from(width) * u64::from(height) <= MAX_CANVAS_PIXELS;
        if !fits {
            return Err(err);
        }
        let mut pixmap = Pixmap::new(width, height).ok_or(err)?;
        let [r, g, b, a] = background.0;
        pixmap.fill(Color::from_rgba8(r, g, b, a));
        Ok(Canvas { pixmap })
    }

    /// Straight (not premultiplied) RGBA8 pixels, row by row.
    ///
    /// # Errors
    /// [`Error::CanvasSize`] as for [`Canvas::new`]; [`Error::CanvasData`] when `data` does not
    /// hold `4 · width · height` bytes.
    pub fn from_rgba8(width: u32, height: u32, data: &[u8]) -> Result<Canvas, Error> {
        let mut canvas = Canvas::new(width, height, Rgba([0, 0, 0, 0]))?;
        if data.len() != canvas.pixmap.data().len() {
            return Err(Error::CanvasData {
                len: data.len(),
                width,
                height,
            });
        }
        for (px, c) in canvas
            .pixmap
            .pixels_mut()
            .iter_mut()
            .zip(data.chunks_exact(4))
        {
            *px = tiny_skia::ColorU8::from_rgba(c[0], c[1], c[2], c[3]).premultiply();
        }
        Ok(canvas)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixmap.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixmap.height()
    }

    /// The colour of one pixel (straight alpha), `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgba> {
        self.pixmap.pixel(x, y).map(demultiply)
    }

    /// Straight (not premultiplied) RGBA8 pixels, row by row.
    pub fn to_rgba8(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pixmap.data().len());
        for px in self.pixmap.pixels() {
            out.extend_from_slice(&demultiply(*px).0);
        }
        out
    }

    /// Whether every pixel is opaque.
    pub fn is_opaque(&self) -> bool {
        self.pixmap.pixels().iter().all(|p| p.alpha() == 255)
    }

    /// The underlying premultiplied pixmap.
    pub fn pixmap(&self) -> &Pixmap {
        &self.pixmap
    }

    /// The underlying premultiplied pixmap, to draw into with tiny-skia.
    pub fn pixmap_mut(&mut self) -> &mut Pixmap {
        &mut self.pixmap
    }
}

fn demultiply(p: PremultipliedColorU8) -> Rgba {
    let c = p.demultiply();
    Rgba([c.red(), c.green(), c.blue(), c.alpha()])
}
