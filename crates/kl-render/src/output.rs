//! Encoding canvases to PNG and animated GIF, and writing files atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{Delay, ExtendedColorType, Frame, ImageEncoder, RgbaImage};

use crate::{Canvas, Error};

/// The canvas as PNG bytes: RGB when every pixel is opaque, RGBA otherwise. Deterministic.
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

/// Writes the canvas as a PNG file, atomically: the bytes go to a temporary file next to
/// `path`, which is then renamed over it. On failure no temporary file is left behind.
pub fn write_png(path: &Path, canvas: &Canvas) -> Result<(), Error> {
    let bytes = encode_png(canvas)?;
    write_atomic(path, &bytes)
}

/// An animated GIF of `frames` (all the same size), `delay_ms` per frame (GIF stores
/// hundredths of a second), looping forever. Colours are quantized per frame (NeuQuant);
/// deterministic.
pub fn encode_gif(frames: &[Canvas], delay_ms: u32) -> Result<Vec<u8>, Error> {
    let first = frames.first().ok_or(Error::NoFrames)?;
    let size = (first.width(), first.height());
    if size.0 > u32::from(u16::MAX) || size.1 > u32::from(u16::MAX) {
        return Err(Error::GifTooLarge {
            width: size.0,
            height: size.1,
        });
    }
    for (index, f) in frames.iter().enumerate() {
        if (f.width(), f.height()) != size {
            return Err(Error::FrameSize {
                index,
                expected: size,
                found: (f.width(), f.height()),
            });
        }
    }
    let enc_err = |e: image::ImageError| Error::Encode {
        format: "GIF",
        message: e.to_string(),
    };
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 30);
        encoder.set_repeat(Repeat::Infinite).map_err(enc_err)?;
        for f in frames {
            let img = RgbaImage::from_raw(f.width(), f.height(), f.to_rgba8()).ok_or(
                Error::CanvasData {
                    len: 0,
                    width: f.width(),
                    height: f.height(),
                },
            )?;
            let delay = Delay::from_numer_denom_ms(delay_ms, 1);
            encoder
                .encode_frame(Frame::from_parts(img, 0, 0, delay))
                .map_err(enc_err)?;
        }
    }
    Ok(out)
}

/// Writes an animated GIF (see [`encode_gif`]) atomically, like [`write_png`].
pub fn write_gif(path: &Path, frames: &[Canvas], delay_ms: u32) -> Result<(), Error> {
    let bytes = encode_gif(frames, delay_ms)?;
    write_atomic(path, &bytes)
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_owned());
    let tmp = format!(".{name}.tmp-{}", std::process::id());
    match path.parent() {
        Some(dir) => dir.join(tmp),
        None => PathBuf::from(tmp),
    }
}

/// Writes `bytes` to a temporary file in `path`'s directory, flushes it to disk and renames
/// it to `path`. Errors name `path`; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file may not even exist.
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}
