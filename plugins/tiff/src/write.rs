//! TIFF writing (safe code only).
#![forbid(unsafe_code)]

use crate::codec::tiff_error;
use imageio_plugin_api::{Dtype, Element, Error, ImageView, Result, Stream, Value, Writer};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, Rational, TiffEncoder, TiffValue};
use tiff::tags::{PhotometricInterpretation, ResolutionUnit, SampleFormat, Tag};

/// A private tag (in the TIFF range for private use) on the first page of
/// each volume written in modes `v`/`V`, holding the volume's shape. Other
/// readers ignore it and see the pages; this reader splits them into
/// volumes. (tifffile's own `{"shape": ...}` description is not used: tifffile
/// takes it as a promise that the volume's data is contiguous in the file,
/// which this writer's page-by-page layout is not.)
pub(crate) const VOLUME_TAG: u16 = 65_420;

/// The `compression` option: a name or a TIFF code.
pub(crate) fn parse_compression(value: Option<&Value>) -> Result<Compression> {
    let bad = |v: &dyn std::fmt::Debug| {
        Error::invalid_argument(format!(
            "TIFF option \"compression\" must be none, lzw, deflate (zlib), packbits or a TIFF code, not {v:?}"
        ))
    };
    Ok(match value {
        None => Compression::Uncompressed,
        Some(Value::Str(s)) => match s.to_ascii_lowercase().as_str() {
            "none" | "" | "raw" => Compression::Uncompressed,
            "lzw" => Compression::Lzw,
            "deflate" | "zlib" | "adobe_deflate" | "tiff_adobe_deflate" => Compression::Deflate(DeflateLevel::Balanced),
            "packbits" => Compression::Packbits,
            _ => return Err(bad(s)),
        },
        Some(Value::Int(code)) => match code {
            1 => Compression::Uncompressed,
            5 => Compression::Lzw,
            8 | 32946 => Compression::Deflate(DeflateLevel::Balanced),
            32773 => Compression::Packbits,
            _ => return Err(bad(code)),
        },
        Some(other) => return Err(bad(other)),
    })
}

/// Signed RGB and RGBA colour types (the `tiff` crate has gray only).
macro_rules! signed_color {
    ($($name:ident: $t:ty, $n:literal, $photo:ident;)*) => {$(
        struct $name;
        impl ColorType for $name {
            type Inner = $t;
            const TIFF_VALUE: PhotometricInterpretation = PhotometricInterpretation::$photo;
            const BITS_PER_SAMPLE: &'static [u16] = &[(size_of::<$t>() * 8) as u16; $n];
            const SAMPLE_FORMAT: &'static [SampleFormat] = &[SampleFormat::Int; $n];
            fn horizontal_predict(row: &[$t], result: &mut Vec<$t>) {
                result.extend_from_slice(&row[..$n.min(row.len())]);
                for i in $n..row.len() {
                    result.push(row[i].wrapping_sub(row[i - $n]));
                }
            }
        }
    )*};
}
signed_color! {
    RgbI8: i8, 3, RGB;
    RgbI16: i16, 3, RGB;
    RgbI32: i32, 3, RGB;
    RgbI64: i64, 3, RGB;
    RgbaI8: i8, 4, RGB;
    RgbaI16: i16, 4, RGB;
    RgbaI32: i32, 4, RGB;
    RgbaI64: i64, 4, RGB;
}

/// The metadata one page gets.
#[derive(Default, Clone)]
struct PageMeta {
    /// The volume's shape, on the first page of each volume.
    volume_start: Option<Vec<u32>>,
    description: Option<String>,
    resolution: Option<(f64, f64)>,
    unit: Option<u16>,
    software: Option<String>,
}

impl PageMeta {
    fn apply(&mut self, meta: &[(String, Value)]) {
        for (k, v) in meta {
            match (k.as_str(), v) {
                ("description", Value::Str(s)) => self.description = Some(s.clone()),
                ("software", Value::Str(s)) => self.software = Some(s.clone()),
                ("resolution", Value::FloatArray(r)) if r.len() == 2 => self.resolution = Some((r[0], r[1])),
                ("resolution", Value::IntArray(r)) if r.len() == 2 => {
                    self.resolution = Some((r[0] as f64, r[1] as f64))
                }
                ("resolution_unit", Value::Int(u)) if (1..=3).contains(u) => self.unit = Some(*u as u16),
                _ => {}
            }
        }
    }
}

/// A positive float as a TIFF rational.
fn rational(v: f64) -> Rational {
    if v.fract() == 0.0 && v >= 0.0 && v <= f64::from(u32::MAX) {
        return Rational { n: v as u32, d: 1 };
    }
    let d = 10_000u32;
    Rational {
        n: (v * f64::from(d)).round().clamp(0.0, f64::from(u32::MAX)) as u32,
        d,
    }
}

/// The output, shared with the encoder so that `close` can flush it and
/// see the error (the encoder has no way to give its writer back).
#[derive(Clone)]
struct Shared(Arc<Mutex<BufWriter<Stream>>>);

impl Shared {
    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, BufWriter<Stream>>> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("the TIFF output was poisoned by a panic"))
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock()?.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.lock()?.flush()
    }
}

impl Seek for Shared {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.lock()?.seek(pos)
    }
}

type Encoder = TiffEncoder<Shared>;

fn write_page<C: ColorType>(
    enc: &mut Encoder,
    w: u32,
    h: u32,
    data: &[C::Inner],
    alpha: bool,
    meta: &PageMeta,
) -> Result<()>
where
    [C::Inner]: TiffValue,
{
    let mut image = enc.new_image::<C>(w, h).map_err(tiff_error)?;
    if alpha {
        image.encoder().write_tag(Tag::ExtraSamples, 2u16).map_err(tiff_error)?;
    }
    if let Some(shape) = &meta.volume_start {
        image
            .encoder()
            .write_tag(Tag::Unknown(VOLUME_TAG), &shape[..])
            .map_err(tiff_error)?;
    }
    if let Some(d) = &meta.description {
        image
            .encoder()
            .write_tag(Tag::ImageDescription, d.as_str())
            .map_err(tiff_error)?;
    }
    let software = meta.software.as_deref().unwrap_or("imageio-rs");
    image.encoder().write_tag(Tag::Software, software).map_err(tiff_error)?;
    if let Some((x, y)) = meta.resolution {
        image.x_resolution(rational(x));
        image.y_resolution(rational(y));
        let unit = match meta.unit {
            Some(1) => ResolutionUnit::None,
            Some(3) => ResolutionUnit::Centimeter,
            _ => ResolutionUnit::Inch,
        };
        image.resolution_unit(unit);
    }
    image.write_data(data).map_err(tiff_error)
}

fn typed<T: Element>(bytes: &[u8], dtype: Dtype) -> Result<&[T]> {
    ImageView {
        dtype,
        shape: &[],
        bytes,
    }
    .as_slice::<T>()
    .ok_or_else(|| Error::internal("misaligned image data"))
}

/// Writes one page of `channels` samples per pixel.
fn page(enc: &mut Encoder, dtype: Dtype, w: u32, h: u32, c: u64, bytes: &[u8], meta: &PageMeta) -> Result<()> {
    macro_rules! go {
        ($color:ty, $t:ty) => {
            write_page::<$color>(enc, w, h, typed::<$t>(bytes, dtype)?, c == 4, meta)
        };
    }
    use colortype::*;
    match (dtype, c) {
        (Dtype::U8, 1) => go!(Gray8, u8),
        (Dtype::U16, 1) => go!(Gray16, u16),
        (Dtype::U32, 1) => go!(Gray32, u32),
        (Dtype::U64, 1) => go!(Gray64, u64),
        (Dtype::I8, 1) => go!(GrayI8, i8),
        (Dtype::I16, 1) => go!(GrayI16, i16),
        (Dtype::I32, 1) => go!(GrayI32, i32),
        (Dtype::I64, 1) => go!(GrayI64, i64),
        (Dtype::F32, 1) => go!(Gray32Float, f32),
        (Dtype::F64, 1) => go!(Gray64Float, f64),
        (Dtype::U8, 3) => go!(RGB8, u8),
        (Dtype::U16, 3) => go!(RGB16, u16),
        (Dtype::U32, 3) => go!(RGB32, u32),
        (Dtype::U64, 3) => go!(RGB64, u64),
        (Dtype::I8, 3) => go!(RgbI8, i8),
        (Dtype::I16, 3) => go!(RgbI16, i16),
        (Dtype::I32, 3) => go!(RgbI32, i32),
        (Dtype::I64, 3) => go!(RgbI64, i64),
        (Dtype::F32, 3) => go!(RGB32Float, f32),
        (Dtype::F64, 3) => go!(RGB64Float, f64),
        (Dtype::U8, 4) => go!(RGBA8, u8),
        (Dtype::U16, 4) => go!(RGBA16, u16),
        (Dtype::U32, 4) => go!(RGBA32, u32),
        (Dtype::U64, 4) => go!(RGBA64, u64),
        (Dtype::I8, 4) => go!(RgbaI8, i8),
        (Dtype::I16, 4) => go!(RgbaI16, i16),
        (Dtype::I32, 4) => go!(RgbaI32, i32),
        (Dtype::I64, 4) => go!(RgbaI64, i64),
        (Dtype::F32, 4) => go!(RGBA32Float, f32),
        (Dtype::F64, 4) => go!(RGBA64Float, f64),
        (Dtype::Bool, _) => Err(Error::unsupported(
            "TIFF writing of bool images is not supported (convert to uint8 first)",
        )),
        (_, c) => Err(Error::unsupported(format!(
            "TIFF pages with {c} channels are not supported for writing (1, 3 or 4 are)"
        ))),
    }
}

/// An open TIFF writer.
pub struct TiffWriter {
    /// The stream, until the first image hands it to the encoder.
    stream: Option<Stream>,
    compression: Compression,
    volume: bool,
    encoder: Option<Encoder>,
    output: Option<Shared>,
    global: PageMeta,
    pages: usize,
}

impl TiffWriter {
    pub(crate) fn new(stream: Stream, compression: Compression, volume: bool) -> TiffWriter {
        TiffWriter {
            stream: Some(stream),
            compression,
            volume,
            encoder: None,
            output: None,
            global: PageMeta::default(),
            pages: 0,
        }
    }
}

impl Writer for TiffWriter {
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()> {
        // Pages: (H, W) or (H, W, C); volumes: (Z, H, W) or (Z, H, W, C).
        let (z, h, w, c) = match (self.volume, image.shape) {
            (false, [h, w]) => (1, *h, *w, 1),
            (false, [h, w, c]) => (1, *h, *w, *c),
            (true, [z, h, w]) => (*z, *h, *w, 1),
            (true, [z, h, w, c]) => (*z, *h, *w, *c),
            (volume, shape) => {
                let want = if volume {
                    "(Z, H, W) or (Z, H, W, C)"
                } else {
                    "(H, W) or (H, W, C)"
                };
                return Err(Error::invalid_argument(format!(
                    "TIFF needs an image shaped {want}, not {shape:?}"
                )));
            }
        };
        let (Ok(w32), Ok(h32)) = (u32::try_from(w), u32::try_from(h)) else {
            return Err(Error::invalid_argument(format!("TIFF cannot store a {w}x{h} page")));
        };
        if w == 0 || h == 0 || z == 0 {
            return Err(Error::invalid_argument(format!(
                "TIFF cannot store an empty image {:?}",
                image.shape
            )));
        }
        if self.encoder.is_none() {
            let stream = self
                .stream
                .take()
                .ok_or_else(|| Error::internal("the TIFF stream is gone"))?;
            let output = Shared(Arc::new(Mutex::new(BufWriter::with_capacity(1 << 16, stream))));
            let encoder = TiffEncoder::new(output.clone())
                .map_err(tiff_error)?
                .with_compression(self.compression);
            self.encoder = Some(encoder);
            self.output = Some(output);
        }
        let mut page_meta = self.global.clone();
        page_meta.apply(meta);
        let encoder = self.encoder.as_mut().expect("just set");
        let page_bytes = image.bytes.len() / z as usize;
        for (k, chunk) in image.bytes.chunks_exact(page_bytes).enumerate() {
            let mut meta = page_meta.clone();
            if self.volume && k == 0 {
                meta.volume_start = Some(
                    image
                        .shape
                        .iter()
                        .map(|&d| u32::try_from(d).unwrap_or(u32::MAX))
                        .collect(),
                );
            }
            page(encoder, image.dtype, w32, h32, c, chunk, &meta)?;
            self.pages += 1;
        }
        Ok(())
    }

    fn set_meta_data(&mut self, meta: &[(String, Value)]) -> Result<()> {
        self.global.apply(meta);
        Ok(())
    }

    fn close(self) -> Result<()> {
        let Some(encoder) = self.encoder else {
            return Err(Error::invalid_argument("no image was written to the TIFF file"));
        };
        if self.pages == 0 {
            return Err(Error::invalid_argument("no image was written to the TIFF file"));
        }
        drop(encoder);
        if let Some(mut output) = self.output {
            output.flush()?;
        }
        Ok(())
    }
}
