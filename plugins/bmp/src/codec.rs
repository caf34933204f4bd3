//! BMP reading and writing (safe code only).
#![forbid(unsafe_code)]

use image::ImageDecoder;
use image::codecs::bmp::{BmpDecoder, BmpEncoder};
use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, OptionSpec, Properties, Reader, Request, Result, Signature, Stream,
    Value, Writer, image_shape,
};
use std::io::{BufReader, Read, Seek, SeekFrom};

/// The largest image decoded, in pixels (a hostile header gets an error).
const MAX_PIXELS: u64 = 1 << 30;

/// The `BMP` format.
pub struct Bmp;

impl Format for Bmp {
    const NAME: &'static str = "BMP";
    const DESCRIPTION: &'static str = "Windows bitmap (image crate's BMP codec)";
    const EXTENSIONS: &'static str = ".bmp .dib";
    const MODES: &'static str = "i";
    const SIGNATURES: &'static [Signature] = &[Signature::new(0, b"BM")];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[]);
    const DOC: &'static str = "Reads 1, 4, 8, 16, 24 and 32-bit BMPs, RLE4/RLE8, bitfields, top-down and bottom-up, with\n\
        Pillow's shapes (bilevel as bool, gray palettes as (H, W)). Writes gray (8-bit), RGB (24-bit)\n\
        and RGBA (32-bit).\n\
        Metadata: compression (int), dpi ([x, y] floats).";
    const NEEDS_SEEK: bool = true;
    type Reader = BmpReader;
    type Writer = BmpWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        let b = req.first_bytes();
        if matches!(req.image_mode(), 'i' | '?') && b.len() >= 18 && b.starts_with(b"BM") {
            let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
            if matches!(dib, 12 | 40 | 52 | 56 | 64 | 108 | 124) {
                return 100;
            }
        }
        0
    }

    fn open_reader(req: &Request<'_>) -> Result<BmpReader> {
        req.options()?.check_known("BMP", &[])?;
        let mut stream = req.stream()?;
        let start = stream.stream_position()?;
        let info = Info::read(&mut stream)?;
        stream.seek(SeekFrom::Start(start))?;
        Ok(BmpReader {
            stream,
            start,
            info,
            limits: req.limits(),
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<BmpWriter> {
        req.options()?.check_known("BMP", &[])?;
        Ok(BmpWriter {
            stream: req.stream()?,
            written: false,
        })
    }
}

/// What Pillow makes of a palette.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PaletteKind {
    /// Black and white: `bool`.
    Bilevel,
    /// Entry `i` is gray `i`: the index is the value.
    Gray,
    /// Colours: applied.
    Color,
}

/// The header fields the plugin needs beyond the decoder's.
struct Info {
    bits: u16,
    compression: u32,
    /// Where the pixel data starts (from the file's start).
    data_offset: u64,
    width: u64,
    height: u64,
    /// Rows are stored top to bottom (a negative height), not bottom up.
    top_down: bool,
    palette: Vec<[u8; 3]>,
    dpi: Option<(f64, f64)>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Info {
    fn read(r: &mut impl Read) -> Result<Info> {
        let mut head = [0u8; 18];
        r.read_exact(&mut head)
            .map_err(|_| Error::corrupt("the file is too short for a BMP header"))?;
        if &head[..2] != b"BM" {
            return Err(Error::corrupt("not a BMP file (no BM signature)"));
        }
        let dib_size = le32(&head, 14) as usize;
        if !(12..=1024).contains(&dib_size) {
            return Err(Error::corrupt(format!("unsupported BMP header size {dib_size}")));
        }
        let mut dib = vec![0u8; dib_size];
        dib[..4].copy_from_slice(&head[14..18]);
        r.read_exact(&mut dib[4..])
            .map_err(|_| Error::corrupt("the BMP header is truncated"))?;
        let data_offset = u64::from(le32(&head, 10));
        let (width, height, top_down) = if dib_size == 12 {
            (u64::from(le16(&dib, 4)), u64::from(le16(&dib, 6)), false)
        } else {
            let h = le32(&dib, 8) as i32;
            (u64::from(le32(&dib, 4)), u64::from(h.unsigned_abs()), h < 0)
        };
        let (bits, compression, colors_used, padding, dpi) = if dib_size == 12 {
            (le16(&dib, 10), 0, 0, 3usize, None)
        } else if dib_size >= 40 {
            let ppm = |v: u32| f64::from(v) * 0.0254;
            let (x, y) = (le32(&dib, 24), le32(&dib, 28));
            let dpi =
                (x > 0 && y > 0).then(|| ((ppm(x) * 1000.0).round() / 1000.0, (ppm(y) * 1000.0).round() / 1000.0));
            (le16(&dib, 14), le32(&dib, 16), le32(&dib, 32), 4usize, dpi)
        } else {
            return Err(Error::corrupt(format!("unsupported BMP header size {dib_size}")));
        };
        let mut palette = Vec::new();
        if bits <= 8 {
            let max = 1u32 << bits;
            let colors = if colors_used == 0 || colors_used > max {
                max
            } else {
                colors_used
            } as usize;
            let mut raw = vec![0u8; colors * padding];
            // A short palette is tolerated: missing entries are black.
            let mut got = 0;
            while got < raw.len() {
                match r.read(&mut raw[got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            palette = raw.chunks_exact(padding).map(|c| [c[2], c[1], c[0]]).collect();
        }
        Ok(Info {
            bits,
            compression,
            data_offset,
            width,
            height,
            top_down,
            palette,
            dpi,
        })
    }

    fn palette_kind(&self) -> PaletteKind {
        let gray_at = |i: usize, v: u8| self.palette.get(i) == Some(&[v, v, v]);
        if self.palette.len() <= 2 {
            if gray_at(0, 0) && (self.palette.len() < 2 || gray_at(1, 255)) {
                return PaletteKind::Bilevel;
            }
        } else if (0..self.palette.len()).all(|i| gray_at(i, i as u8)) {
            return PaletteKind::Gray;
        }
        PaletteKind::Color
    }
}

fn image_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(l) => Error::no_memory(format!("BMP: {l}")),
        image::ImageError::Unsupported(u) => Error::unsupported(format!("BMP: {u}")),
        image::ImageError::IoError(io) => Error::from(io),
        other => Error::corrupt(format!("BMP: {other}")),
    }
}

/// Walks the RLE8 or RLE4 data at the reader's position and checks that it
/// covers every pixel of the image before its end-of-bitmap (or the end of
/// the file): pixels a run, an absolute run, a delta or an end of line
/// accounts for, counted as Pillow counts them.
fn check_rle(r: &mut impl Read, info: &Info) -> Result<()> {
    let (w, h) = (info.width, info.height);
    let need = w.saturating_mul(h);
    let four = info.compression == 2;
    let mut done: u64 = 0; // pixels accounted for, row-major
    let mut pair = [0u8; 2];
    let short = |done: u64| {
        Error::corrupt(format!(
            "not enough image data: the BMP's RLE data ends after {done} of its {need} pixels ({w}x{h})"
        ))
    };
    while done < need {
        if r.read_exact(&mut pair).is_err() {
            return Err(short(done));
        }
        let (n, v) = (u64::from(pair[0]), pair[1]);
        if n > 0 {
            done += n;
            continue;
        }
        match v {
            0 => {
                // End of line: the rest of the row (if any) is zeros.
                if w > 0 && !done.is_multiple_of(w) {
                    done = done.div_ceil(w) * w;
                }
            }
            1 => return Err(short(done)),
            2 => {
                let mut d = [0u8; 2];
                if r.read_exact(&mut d).is_err() {
                    return Err(short(done));
                }
                done += u64::from(d[0]) + u64::from(d[1]) * w;
            }
            count => {
                let count = u64::from(count);
                let bytes = if four { count.div_ceil(2) } else { count };
                let padded = bytes + (bytes % 2);
                if std::io::copy(&mut r.by_ref().take(padded), &mut std::io::sink())? < padded {
                    return Err(short(done));
                }
                done += count;
            }
        }
    }
    Ok(())
}

/// An open BMP reader.
pub struct BmpReader {
    stream: Stream,
    start: u64,
    info: Info,
    limits: imageio_plugin_api::Limits,
}

impl BmpReader {
    /// An uncompressed 24-bit BMP, read straight into the host's buffer a
    /// row at a time (bottom-up rows land in reverse order; padding to 4
    /// bytes is skipped), then BGR swapped to RGB in place: no decoder, no
    /// intermediate buffer. Data that ends early is an error.
    fn read_rgb24(&mut self, sink: &mut ImageSink<'_>) -> Result<()> {
        let (w, h) = (self.info.width, self.info.height);
        self.limits.check_image("BMP", w, h, 1, 3)?;
        let row = usize::try_from(w.saturating_mul(3)).map_err(|_| Error::no_memory("the BMP is too large"))?;
        let pad = (4 - row % 4) % 4;
        let out = sink.alloc::<u8>(&image_shape(h, w, 3))?;
        self.stream.seek(SeekFrom::Start(self.start + self.info.data_offset))?;
        let rows = h as usize;
        let short = || {
            Error::corrupt(format!(
                "not enough image data: the BMP's pixel data ends before its {rows} rows"
            ))
        };
        if pad == 0 && self.info.top_down {
            self.stream.read_exact(out).map_err(|_| short())?;
        } else {
            let mut skip = [0u8; 3];
            for r in 0..rows {
                let dest = if self.info.top_down { r } else { rows - 1 - r };
                self.stream
                    .read_exact(&mut out[dest * row..(dest + 1) * row])
                    .map_err(|_| short())?;
                if pad > 0 && r + 1 < rows {
                    self.stream.read_exact(&mut skip[..pad]).map_err(|_| short())?;
                }
            }
        }
        for px in out.chunks_exact_mut(3) {
            px.swap(0, 2);
        }
        self.meta(sink)
    }

    fn meta(&self, sink: &mut ImageSink<'_>) -> Result<()> {
        sink.set_meta("compression", &Value::Int(i64::from(self.info.compression)))?;
        if let Some((x, y)) = self.info.dpi {
            sink.set_meta("dpi", &Value::FloatArray(vec![x, y]))?;
        }
        Ok(())
    }
}

impl Reader for BmpReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(1)
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        // From the headers (the codec's header parse reads no pixel data),
        // with get_data's shapes: bilevel palettes as bool, gray as (H, W).
        if index != 0 {
            return Err(Error::index_out_of_range(index, 1));
        }
        self.stream.seek(SeekFrom::Start(self.start))?;
        let decoder = BmpDecoder::new(BufReader::new(&mut self.stream)).map_err(image_error)?;
        let (w, h) = decoder.dimensions();
        let (w, h) = (u64::from(w), u64::from(h));
        let kind = if self.info.bits <= 8 {
            self.info.palette_kind()
        } else {
            PaletteKind::Color
        };
        Ok(match kind {
            _ if self.info.compression == 0 && self.info.bits == 24 => Properties {
                dtype: Dtype::U8,
                shape: image_shape(h, w, 3),
            },
            PaletteKind::Color => Properties {
                dtype: Dtype::U8,
                shape: image_shape(h, w, u64::from(decoder.color_type().channel_count())),
            },
            PaletteKind::Bilevel => Properties {
                dtype: Dtype::Bool,
                shape: vec![h, w],
            },
            _ => Properties {
                dtype: Dtype::U8,
                shape: vec![h, w],
            },
        })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        if index != 0 {
            return Err(Error::index_out_of_range(index, 1));
        }
        if matches!(self.info.compression, 1 | 2) {
            // The RLE data must cover the whole image: a stream that ends
            // early is an error (as in Pillow), not an image of zeros.
            self.stream.seek(SeekFrom::Start(self.start + self.info.data_offset))?;
            check_rle(&mut BufReader::new(&mut self.stream), &self.info)?;
        }
        if self.info.compression == 0 && self.info.bits == 24 {
            return self.read_rgb24(sink);
        }
        self.stream.seek(SeekFrom::Start(self.start))?;
        let decoder = BmpDecoder::new(BufReader::new(&mut self.stream)).map_err(image_error)?;
        let (w, h) = decoder.dimensions();
        let (w, h) = (u64::from(w), u64::from(h));
        if w.saturating_mul(h) > MAX_PIXELS {
            return Err(Error::no_memory(format!(
                "a {w}x{h} BMP is over the {MAX_PIXELS}-pixel limit"
            )));
        }
        self.limits.check_image("BMP", w, h, 1, 4)?;
        // The decoder applies the palette; Pillow's gray and bilevel palettes
        // are then reduced to one channel (their red is the value).
        let kind = if self.info.bits <= 8 {
            self.info.palette_kind()
        } else {
            PaletteKind::Color
        };
        let channels = u64::from(decoder.color_type().channel_count());
        if kind == PaletteKind::Color {
            let out = sink.alloc::<u8>(&image_shape(h, w, channels))?;
            if out.len() as u64 != decoder.total_bytes() {
                return Err(Error::internal("unexpected BMP output size"));
            }
            decoder.read_image(out).map_err(image_error)?;
        } else {
            let size = usize::try_from(decoder.total_bytes()).map_err(|_| Error::no_memory("the BMP is too large"))?;
            let mut rgb = Vec::new();
            rgb.try_reserve_exact(size)
                .map_err(|_| Error::no_memory(format!("no memory for the {size}-byte BMP palette image")))?;
            rgb.resize(size, 0);
            decoder.read_image(&mut rgb).map_err(image_error)?;
            let step = channels as usize;
            let out = if kind == PaletteKind::Bilevel {
                sink.alloc_bool(&[h, w])?
            } else {
                sink.alloc::<u8>(&[h, w])?
            };
            for (o, px) in out.iter_mut().zip(rgb.chunks_exact(step)) {
                *o = if kind == PaletteKind::Bilevel {
                    u8::from(px[0] != 0)
                } else {
                    px[0]
                };
            }
        }
        self.meta(sink)
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        if let Some(i) = index.filter(|&i| i != 0) {
            return Err(Error::index_out_of_range(i, 1));
        }
        self.meta(sink)
    }
}

/// An open BMP writer (one image).
pub struct BmpWriter {
    stream: Stream,
    written: bool,
}

impl Writer for BmpWriter {
    fn append_data(&mut self, image: &ImageView<'_>, _meta: &[(String, Value)]) -> Result<()> {
        if self.written {
            return Err(Error::unsupported(
                "a BMP file holds one image; this one already has it",
            ));
        }
        let (h, w, c) = image.hwc("BMP")?;
        let (Ok(h32), Ok(w32)) = (u32::try_from(h), u32::try_from(w)) else {
            return Err(Error::invalid_argument(format!(
                "BMP cannot store an image of shape {:?}",
                image.shape
            )));
        };
        let data = image.u8_or_bool("BMP")?;
        let data: &[u8] = &data;
        let color = match c {
            1 => image::ExtendedColorType::L8,
            3 => image::ExtendedColorType::Rgb8,
            4 => image::ExtendedColorType::Rgba8,
            other => {
                return Err(Error::unsupported(format!(
                    "BMP stores gray, RGB or RGBA images, not {other} channels (shape {:?})",
                    image.shape
                )));
            }
        };
        let mut out = std::io::BufWriter::new(&mut self.stream);
        BmpEncoder::new(&mut out)
            .encode(data, w32, h32, color)
            .map_err(image_error)?;
        std::io::Write::flush(&mut out)?;
        self.written = true;
        Ok(())
    }

    fn close(self) -> Result<()> {
        Ok(())
    }
}
