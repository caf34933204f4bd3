//! TIFF reading (safe code only).
#![forbid(unsafe_code)]

use crate::write::{TiffWriter, parse_compression};
use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, MetaBudget, OptionKind, OptionSpec, Properties, Reader, Request, Result,
    Signature, Stream, Value,
};
use std::io::{BufReader, Seek};
use tiff::decoder::{Decoder, Limits};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError};

/// The `TIFF` format.
pub struct Tiff;

impl Format for Tiff {
    const NAME: &'static str = "TIFF";
    const DESCRIPTION: &'static str = "Tagged Image File Format: pages and volumes (tiff crate)";
    const EXTENSIONS: &'static str = ".tif .tiff";
    const MODES: &'static str = "iIvV";
    const SIGNATURES: &'static [Signature] = &[
        Signature::new(0, b"II*\0"),
        Signature::new(0, b"MM\0*"),
        Signature::new(0, b"II+\0"),
        Signature::new(0, b"MM\0+"),
    ];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[OptionSpec::write(
        "compression",
        OptionKind::Any,
        "none",
        "none, lzw, deflate or packbits (or their TIFF codes)",
    )]);
    const DOC: &'static str = "Reads pages (mode I) and volumes (v, V): every integer and float dtype, 1-bit as bool;\n\
        gray, RGB, RGBA, multi-sample, planar as (C, H, W); strips or tiles; none, LZW, Deflate,\n\
        PackBits. Writes the same dtypes, gray/RGB/RGBA, pages or volumes.\n\
        Metadata: description, software, datetime (str), resolution ([x, y] floats),\n\
        resolution_unit (int), compression (int); written: description, resolution, resolution_unit.";
    const NEEDS_SEEK: bool = true;
    type Reader = TiffReader;
    type Writer = TiffWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        let b = req.first_bytes();
        if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") || b.starts_with(b"II+\0") || b.starts_with(b"MM\0+") {
            100
        } else {
            0
        }
    }

    fn open_reader(req: &Request<'_>) -> Result<TiffReader> {
        req.options()?.check_known("TIFF", &[])?;
        let mut stream = req.stream()?;
        let file_len = crate::scan::check_directories(&mut stream)?;
        let limits = req.limits();
        // One decoder for the reader's life: it owns the stream, and knows
        // every IFD's offset after this walk, so reading page i later is a
        // direct seek (no walk from page 0, no new buffers).
        let mut decoder = new_decoder(stream, &limits)?;
        // The tiff crate bounds each tag's values by the per-entry limit;
        // the strings kept from every page count against the total.
        let mut budget = MetaBudget::new("TIFF", &limits);
        let mut pages = vec![page_info(&mut decoder, &mut budget, file_len)?];
        while decoder.more_images() {
            if pages.len() >= 1 << 20 {
                return Err(Error::corrupt("the TIFF has more than a million pages (an IFD loop?)"));
            }
            limits.check_frames("TIFF", pages.len() as u64 + 1)?;
            decoder.next_image().map_err(tiff_error)?;
            pages.push(page_info(&mut decoder, &mut budget, file_len)?);
        }
        let volumes = series(&pages);
        Ok(TiffReader {
            decoder,
            pages,
            volumes,
            volume: matches!(req.image_mode(), 'v' | 'V'),
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<TiffWriter> {
        let options = req.options()?;
        options.check_known("TIFF", &["compression"])?;
        let compression = parse_compression(options.get("compression"))?;
        Ok(TiffWriter::new(
            req.stream()?,
            compression,
            matches!(req.image_mode(), 'v' | 'V'),
        ))
    }
}

pub(crate) fn tiff_error(e: TiffError) -> Error {
    match e {
        TiffError::IoError(io) => Error::corrupt(format!("TIFF: the data ends early or cannot be read ({io})")),
        TiffError::LimitsExceeded => Error::no_memory("TIFF: the image is over the decoder's memory limit"),
        TiffError::UnsupportedError(u) => Error::unsupported(format!("TIFF: {u}")),
        TiffError::UsageError(u) => Error::invalid_argument(format!("TIFF: {u}")),
        other => Error::corrupt(format!("TIFF: {other}")),
    }
}

/// A decoder over `stream` whose buffers obey the request's limits: the
/// decoded image within the image limit, its strip and tile buffers within
/// the allocation limit (at most 512 MiB), a tag's values within the
/// metadata limit.
fn new_decoder<R: std::io::Read + Seek>(
    stream: R,
    request: &imageio_plugin_api::Limits,
) -> Result<Decoder<BufReader<R>>> {
    let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let mut limits = Limits::default();
    limits.decoding_buffer_size = as_usize(request.max_image_bytes);
    limits.intermediate_buffer_size = as_usize(request.max_alloc_bytes.min(1 << 29));
    limits.ifd_value_size = as_usize(request.max_meta_entry_bytes);
    Ok(Decoder::new(BufReader::new(stream))
        .map_err(tiff_error)?
        .with_limits(limits))
}

/// What a page holds.
#[derive(Debug, Clone)]
struct Page {
    width: u64,
    height: u64,
    channels: u64,
    dtype: Dtype,
    /// 1-bit gray, unpacked to bool.
    bilevel: bool,
    planar: bool,
    /// The page carries this plugin's volume tag.
    volume_start: bool,
    meta: Vec<(String, Value)>,
    /// Why the page's data is not all in the file, if it is not: reading
    /// that page is an error; the other pages still read.
    cut_short: Option<String>,
}

impl Page {
    /// An error if the page's data runs past the end of the file.
    fn check_whole(&self, index: usize) -> Result<()> {
        match &self.cut_short {
            Some(why) => Err(Error::corrupt(format!("page {index}: {why}"))),
            None => Ok(()),
        }
    }
}

impl Page {
    /// `(H, W)`, `(H, W, C)`, or `(C, H, W)` for planar pages (as tifffile,
    /// and so imageio, returns them: the samples as stored).
    fn shape(&self) -> Vec<u64> {
        if self.planar && self.channels > 1 {
            vec![self.channels, self.height, self.width]
        } else {
            imageio_plugin_api::image_shape(self.height, self.width, self.channels)
        }
    }
}

/// Refuses a page whose strips or tiles run past the end of the file (a
/// file cut short, even by the last bytes of a deflate stream's checksum,
/// which the decoder would not miss): Pillow and tifffile refuse it too.
fn check_data_in_file<R: std::io::Read + Seek>(d: &mut Decoder<R>, file_len: u64) -> Result<()> {
    let (offsets, counts) = if d.find_tag(Tag::TileOffsets).map_err(tiff_error)?.is_some() {
        (Tag::TileOffsets, Tag::TileByteCounts)
    } else {
        (Tag::StripOffsets, Tag::StripByteCounts)
    };
    let offsets = d
        .find_tag_unsigned_vec::<u64>(offsets)
        .map_err(tiff_error)?
        .unwrap_or_default();
    let counts = d
        .find_tag_unsigned_vec::<u64>(counts)
        .map_err(tiff_error)?
        .unwrap_or_default();
    for (i, (&at, &n)) in offsets.iter().zip(&counts).enumerate() {
        if at.saturating_add(n) > file_len {
            return Err(Error::corrupt(format!(
                "TIFF: the image data ends early: strip or tile {i} runs to byte {} of a {file_len}-byte file",
                at.saturating_add(n)
            )));
        }
    }
    Ok(())
}

fn page_info<R: std::io::Read + Seek>(d: &mut Decoder<R>, budget: &mut MetaBudget, file_len: u64) -> Result<Page> {
    let cut_short = check_data_in_file(d, file_len).err().map(|e| e.message);
    let (width, height) = d.dimensions().map_err(tiff_error)?;
    let color = d.colortype().map_err(tiff_error)?;
    let (bits, channels) = match color {
        ColorType::Gray(b) | ColorType::Palette(b) => (b, 1),
        ColorType::GrayA(b) => (b, 2),
        ColorType::RGB(b) | ColorType::YCbCr(b) | ColorType::Lab(b) => (b, 3),
        ColorType::RGBA(b) | ColorType::CMYK(b) => (b, 4),
        ColorType::CMYKA(b) => (b, 5),
        ColorType::Multiband { bit_depth, num_samples } => (bit_depth, num_samples),
        other => {
            return Err(Error::unsupported(format!(
                "TIFF colour type {other:?} is not supported"
            )));
        }
    };
    let format = d
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .map_err(tiff_error)?
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    let bilevel = bits == 1 && channels == 1 && format == 1;
    let dtype = match (format, bits) {
        (1, 1) if bilevel => Dtype::Bool,
        (1, 8) => Dtype::U8,
        (1, 16) => Dtype::U16,
        (1, 32) => Dtype::U32,
        (1, 64) => Dtype::U64,
        (2, 8) => Dtype::I8,
        (2, 16) => Dtype::I16,
        (2, 32) => Dtype::I32,
        (2, 64) => Dtype::I64,
        (3, 16) => Dtype::F16,
        (3, 32) => Dtype::F32,
        (3, 64) => Dtype::F64,
        (f, b) => {
            return Err(Error::unsupported(format!(
                "TIFF samples of {b} bits with sample format {f} are not supported"
            )));
        }
    };
    let planar = d
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(tiff_error)?
        == Some(2);
    let mut meta = Vec::new();
    // A string over the metadata limits (the tiff crate refuses one over
    // the per-entry limit; the total runs out on a stack of many pages) is
    // left out with a warning: the pages still read.
    let mut ascii = |d: &mut Decoder<R>, tag: Tag| -> Result<Option<String>> {
        let value = match d.find_tag(tag) {
            Ok(Some(tiff::decoder::ifd::Value::Ascii(s))) => s,
            Ok(_) => return Ok(None),
            Err(TiffError::LimitsExceeded) => {
                log::warn!("TIFF: the tag {tag:?} is over the metadata limit per entry; it is left out");
                return Ok(None);
            }
            Err(_) => return Ok(None),
        };
        match budget.spend(&format!("the tag {tag:?}"), value.len() as u64) {
            Ok(()) => Ok(Some(value)),
            Err(e) => {
                log::warn!("{}; it is left out", e.message);
                Ok(None)
            }
        }
    };
    if let Some(s) = ascii(d, Tag::ImageDescription)? {
        meta.push(("description".to_owned(), Value::Str(s)));
    }
    let rational = |d: &mut Decoder<R>, tag| match d.find_tag(tag) {
        Ok(Some(tiff::decoder::ifd::Value::Rational(n, den))) if den != 0 => Some(f64::from(n) / f64::from(den)),
        _ => None,
    };
    if let (Some(x), Some(y)) = (rational(d, Tag::XResolution), rational(d, Tag::YResolution)) {
        meta.push(("resolution".to_owned(), Value::FloatArray(vec![x, y])));
    }
    if let Ok(Some(unit)) = d.find_tag_unsigned::<u16>(Tag::ResolutionUnit) {
        meta.push(("resolution_unit".to_owned(), Value::Int(i64::from(unit))));
    }
    if let Ok(Some(c)) = d.find_tag_unsigned::<u16>(Tag::Compression) {
        meta.push(("compression".to_owned(), Value::Int(i64::from(c))));
    }
    if let Some(s) = ascii(d, Tag::Software)? {
        meta.push(("software".to_owned(), Value::Str(s)));
    }
    if let Some(s) = ascii(d, Tag::DateTime)? {
        meta.push(("datetime".to_owned(), Value::Str(s)));
    }
    Ok(Page {
        width: u64::from(width),
        height: u64::from(height),
        channels: u64::from(channels),
        dtype,
        bilevel,
        planar,
        volume_start: d
            .find_tag(Tag::Unknown(crate::write::VOLUME_TAG))
            .ok()
            .flatten()
            .is_some(),
        meta,
        cut_short,
    })
}

/// Splits the pages into volumes: a page marked by this plugin's volume tag,
/// or whose description is tifffile's shape metadata (`{"shape": [...]`),
/// starts a new volume; without any, all pages are one volume.
fn series(pages: &[Page]) -> Vec<std::ops::Range<usize>> {
    let starts: Vec<usize> = pages
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.volume_start
                || p.meta
                    .iter()
                    .any(|(k, v)| k == "description" && matches!(v, Value::Str(s) if s.starts_with("{\"shape\": [")))
        })
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        return std::iter::once(0..pages.len()).collect();
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(pages.len());
        out.push(s..end);
    }
    out
}

/// An open TIFF reader.
pub struct TiffReader {
    decoder: Decoder<BufReader<Stream>>,
    pages: Vec<Page>,
    /// The pages of each volume (modes `v` and `V`).
    volumes: Vec<std::ops::Range<usize>>,
    volume: bool,
}

/// Decodes the decoder's current page into `out` (the samples as stored,
/// chunky or planar, in native byte order).
fn decode_page<R: std::io::Read + Seek>(decoder: &mut Decoder<R>, page: &Page, out: &mut [u8]) -> Result<()> {
    if page.bilevel {
        let row = page.width.div_ceil(8) as usize;
        let mut packed = vec![0u8; row * page.height as usize];
        decoder.read_image_bytes(&mut packed).map_err(tiff_error)?;
        let white_is_zero = decoder
            .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
            .ok()
            .flatten()
            == Some(0);
        for (y, line) in out.chunks_exact_mut(page.width as usize).enumerate() {
            for (x, v) in line.iter_mut().enumerate() {
                let bit = (packed[y * row + x / 8] >> (7 - x % 8)) & 1;
                *v = if white_is_zero { 1 - bit } else { bit };
            }
        }
        Ok(())
    } else {
        decoder.read_image_bytes(out).map_err(tiff_error)
    }
}

impl TiffReader {
    /// Decodes the pages `range` into `out`, one after the other, with one
    /// decoder walking the IFD chain once.
    fn read_pages(&mut self, range: std::ops::Range<usize>, out: &mut [u8]) -> Result<()> {
        let page_bytes = (out.len() / range.len().max(1)).max(1);
        let decoder = &mut self.decoder;
        decoder.seek_to_image(range.start).map_err(tiff_error)?;
        for (k, (page, chunk)) in self.pages[range]
            .iter()
            .zip(out.chunks_exact_mut(page_bytes))
            .enumerate()
        {
            if k > 0 {
                decoder.next_image().map_err(tiff_error)?;
            }
            decode_page(decoder, page, chunk)?;
        }
        Ok(())
    }
}

impl Reader for TiffReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(if self.volume {
            self.volumes.len()
        } else {
            self.pages.len()
        } as u64)
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        // From the page headers read at open: nothing is decoded.
        let length = self.get_length()?;
        if index >= length {
            return Err(Error::index_out_of_range(index, length));
        }
        if self.volume {
            let range = self.volumes[index as usize].clone();
            let first = &self.pages[range.start];
            if self.pages[range.clone()]
                .iter()
                .any(|p| p.shape() != first.shape() || p.dtype != first.dtype)
            {
                // get_data refuses it, with the reason.
                return Err(Error::unsupported("pages of different shapes"));
            }
            let mut shape = vec![range.len() as u64];
            shape.extend(first.shape());
            return Ok(Properties {
                dtype: first.dtype,
                shape,
            });
        }
        let page = &self.pages[index as usize];
        Ok(Properties {
            dtype: page.dtype,
            shape: page.shape(),
        })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        let length = self.get_length()?;
        if index >= length {
            return Err(Error::index_out_of_range(index, length));
        }
        if self.volume {
            let range = self.volumes[index as usize].clone();
            let first = self.pages[range.start].clone();
            if let Some(p) = self.pages[range.clone()]
                .iter()
                .find(|p| p.shape() != first.shape() || p.dtype != first.dtype)
            {
                return Err(Error::unsupported(format!(
                    "the TIFF's pages differ ({:?} {} and {:?} {}), so they do not form one volume; read them in mode 'I'",
                    first.shape(),
                    first.dtype.name(),
                    p.shape(),
                    p.dtype.name()
                )));
            }
            for i in range.clone() {
                self.pages[i].check_whole(i)?;
            }
            let mut shape = vec![range.len() as u64];
            shape.extend(first.shape());
            let out = sink.alloc_bytes(first.dtype, &shape)?;
            self.read_pages(range, out)?;
            for (k, v) in &first.meta {
                sink.set_meta(k, v)?;
            }
            return Ok(());
        }
        let i = index as usize;
        let page = self.pages[i].clone();
        page.check_whole(i)?;
        let out = sink.alloc_bytes(page.dtype, &page.shape())?;
        self.read_pages(i..i + 1, out)?;
        for (k, v) in &page.meta {
            sink.set_meta(k, v)?;
        }
        Ok(())
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        let length = self.get_length()?;
        let i = match index {
            Some(i) if i >= length => return Err(Error::index_out_of_range(i, length)),
            Some(i) if self.volume => self.volumes[i as usize].start,
            Some(i) => i as usize,
            None => 0,
        };
        for (k, v) in &self.pages[i].meta {
            sink.set_meta(k, v)?;
        }
        Ok(())
    }
}
