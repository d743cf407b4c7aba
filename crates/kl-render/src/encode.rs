//! Encoding canvases to PNG and animated GIF bytes. Writing files is the caller's business.

use std::io::Write;
use std::sync::{Arc, Mutex};

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{Delay, ExtendedColorType, Frame, ImageEncoder, RgbaImage};

use crate::{Canvas, Error};

/// The canvas as PNG bytes: RGB when every pixel is opaque, RGBA otherwise. Deterministic.
///
/// # Errors
/// [`Error::Encode`] if the PNG encoder fails.
pub fn encode_png(canvas: &Canvas) -> Result<Vec<u8>, Error> {
    let rgba = canvas.to_rgba8();
    let mut out = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    let result = if canvas.is_opaque() {
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|c| [c[0], c[1], c[2]])
            .collect();
        encoder.write_image(
            &rgb,
            canvas.width(),
            canvas.height(),
            ExtendedColorType::Rgb8,
        )
    } else {
        encoder.write_image(
            &rgba,
            canvas.width(),
            canvas.height(),
            ExtendedColorType::Rgba8,
        )
    };
    result.map_err(|e| Error::Encode {
        format: "PNG",
        message: e.to_string(),
    })?;
    Ok(out)
}

/// An animated GIF of `frames` (all the same size), `delay_ms` per frame, looping forever:
/// [`GifWriter`] fed every frame. Deterministic.
///
/// # Errors
/// What [`GifWriter::push`] and [`GifWriter::finish`] report: [`Error::NoFrames`] for no
/// frames, [`Error::GifTooLarge`], [`Error::FrameSize`] for frames of different sizes,
/// [`Error::Encode`].
pub fn encode_gif(frames: &[Canvas], delay_ms: u32) -> Result<Vec<u8>, Error> {
    let mut gif = GifWriter::new(delay_ms);
    for f in frames {
        gif.push(f)?;
    }
    gif.finish()
}

/// The bytes the GIF encoder writes, shared so that they can be taken back once the encoder
/// (which writes the trailer when dropped) is gone.
#[derive(Debug, Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("GIF buffer lock poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A streaming animated-GIF encoder: frames go in one at a time with [`GifWriter::push`]
/// (encoded at once, so the caller never holds them all), [`GifWriter::finish`] gives the
/// bytes.
///
/// Every frame is `delay_ms` long (GIF stores hundredths of a second), the animation loops
/// forever, colours are quantized per frame (NeuQuant) and the output is deterministic.
///
/// Invariants: all frames have the first frame's size, at most 65535 px a side; a frame of
/// another size is rejected ([`Error::FrameSize`], naming its index) and leaves the stream as
/// it was.
///
/// ```
/// use kl_render::{Canvas, GifWriter, Rgba};
///
/// # fn main() -> Result<(), kl_render::Error> {
/// let mut gif = GifWriter::new(250);
/// for k in 0..3u8 {
///     gif.push(&Canvas::new(8, 8, Rgba::rgb(80 * k, 0, 0))?)?;
/// }
/// assert_eq!(gif.frames(), 3);
/// let bytes = gif.finish()?;
/// assert_eq!(&bytes[..6], b"GIF89a");
/// # Ok(())
/// # }
/// ```
pub struct GifWriter {
    buf: SharedBuf,
    encoder: Option<GifEncoder<SharedBuf>>,
    delay_ms: u32,
    size: Option<(u32, u32)>,
    frames: usize,
    failed: Option<String>,
}

impl std::fmt::Debug for GifWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GifWriter")
            .field("delay_ms", &self.delay_ms)
            .field("size", &self.size)
            .field("frames", &self.frames)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl GifWriter {
    /// An empty animation with `delay_ms` per frame.
    pub fn new(delay_ms: u32) -> GifWriter {
        let buf = SharedBuf::default();
        GifWriter {
            encoder: Some(GifEncoder::new_with_speed(buf.clone(), 30)),
            buf,
            delay_ms,
            size: None,
            frames: 0,
            failed: None,
        }
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Encodes `canvas` as the next frame. Fails on a frame larger than 65535 px a side
    /// ([`Error::GifTooLarge`]) or of another size than the first ([`Error::FrameSize`]);
    /// those leave the stream unchanged. An encoder failure ([`Error::Encode`]) spoils the
    /// stream: [`GifWriter::finish`] then fails too.
    ///
    /// # Errors
    /// As above: [`Error::GifTooLarge`], [`Error::FrameSize`], [`Error::Encode`].
    pub fn push(&mut self, canvas: &Canvas) -> Result<(), Error> {
        let found = (canvas.width(), canvas.height());
        match self.size {
            None => {
                if found.0 > u32::from(u16::MAX) || found.1 > u32::from(u16::MAX) {
                    return Err(Error::GifTooLarge {
                        width: found.0,
                        height: found.1,
                    });
                }
            }
            Some(expected) if expected != found => {
                return Err(Error::FrameSize {
                    index: self.frames,
                    expected,
                    found,
                });
            }
            Some(_) => {}
        }
        let result = self.encode(canvas);
        if let Err(Error::Encode { message, .. }) = &result {
            self.failed = Some(message.clone());
        }
        result?;
        self.size = Some(found);
        self.frames += 1;
        Ok(())
    }

    fn encode(&mut self, canvas: &Canvas) -> Result<(), Error> {
        if let Some(message) = &self.failed {
            return Err(gif_err(message.clone()));
        }
        let encoder = self
            .encoder
            .as_mut()
            .ok_or_else(|| gif_err("the encoder is gone".into()))?;
        if self.frames == 0 {
            encoder
                .set_repeat(Repeat::Infinite)
                .map_err(|e| gif_err(e.to_string()))?;
        }
        let img = RgbaImage::from_raw(canvas.width(), canvas.height(), canvas.to_rgba8()).ok_or(
            Error::CanvasData {
                len: 0,
                width: canvas.width(),
                height: canvas.height(),
            },
        )?;
        let delay = Delay::from_numer_denom_ms(self.delay_ms, 1);
        encoder
            .encode_frame(Frame::from_parts(img, 0, 0, delay))
            .map_err(|e| gif_err(e.to_string()))
    }

    /// The GIF bytes. Fails with [`Error::NoFrames`] when no frame was pushed, or with the
    /// encoder's error if a push failed in the encoder.
    ///
    /// # Errors
    /// As above: [`Error::NoFrames`], or the encoder's [`Error::Encode`].
    pub fn finish(mut self) -> Result<Vec<u8>, Error> {
        if let Some(message) = self.failed.take() {
            return Err(gif_err(message));
        }
        if self.frames == 0 {
            return Err(Error::NoFrames);
        }
        // Dropping the encoder writes the GIF trailer.
        drop(self.encoder.take());
        let buf = std::mem::take(&mut self.buf);
        let bytes = match Arc::try_unwrap(buf.0) {
            Ok(m) => m
                .into_inner()
                .map_err(|_| gif_err("lock poisoned".into()))?,
            Err(shared) => shared
                .lock()
                .map_err(|_| gif_err("lock poisoned".into()))?
                .clone(),
        };
        Ok(bytes)
    }
}

fn gif_err(message: String) -> Error {
    Error::Encode {
        format: "GIF",
        message,
    }
}
