//! PNG reading and writing (safe code only).
#![forbid(unsafe_code)]

use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, Limits, MetaBudget, OptionKind, OptionSpec, Properties, Reader,
    Request, Result, Signature, Stream, Value, Writer,
};
use png::{BitDepth, ColorType, Transformations};
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Refuses a palette the png crate would index past: a PLTE chunk whose
/// length is not a multiple of 3 (png 0.18.1 panics expanding it; found by
/// `fuzz/`, `tests/data/findings/png-panic-*`).
fn check_palette(info: &png::Info<'_>) -> Result<()> {
    if let Some(p) = &info.palette
        && (p.len() % 3 != 0 || p.len() > 768)
    {
        return Err(Error::corrupt(format!(
            "the PNG palette (PLTE) has {} bytes, not a multiple of 3 up to 768",
            p.len()
        )));
    }
    Ok(())
}

/// The chunks that hold metadata: their declared length is checked
/// against the metadata limits before the png crate reads them.
const META_CHUNKS: [&[u8; 4]; 5] = [b"iCCP", b"zTXt", b"iTXt", b"tEXt", b"eXIf"];

/// Walks the chunks before the image data, checking each metadata chunk's
/// declared length against `budget` before any of it is read, and reads the
/// ICC profile itself: its compressed bytes within the limits, inflated
/// within them (the png crate would inflate up to its allocation limit
/// first, gigabytes for a small bomb). Returns the profile, if any; a
/// damaged one is dropped with a warning, as Pillow does. Also returns how
/// far it went (so the caller can step back inside its buffer).
fn scan_metadata(r: &mut (impl std::io::BufRead + Seek), budget: &mut MetaBudget) -> Result<(Option<Vec<u8>>, i64)> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head)?;
    if head != *SIGNATURE {
        return Err(Error::corrupt("not a PNG file (no signature)"));
    }
    let mut icc = None;
    let mut pos: i64 = 8;
    loop {
        r.read_exact(&mut head)?;
        pos += 8;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = &head[4..8];
        if len > 0x7fff_ffff {
            return Err(Error::corrupt(format!(
                "the PNG chunk {} claims {len} bytes (at most 2^31-1)",
                String::from_utf8_lossy(kind).escape_default()
            )));
        }
        if kind == b"IDAT" || kind == b"IEND" {
            return Ok((icc, pos));
        }
        // The chunk's data and CRC, however it is read below.
        pos += i64::from(len) + 4;
        if !META_CHUNKS.iter().any(|m| kind == *m) {
            r.seek_relative(i64::from(len) + 4)?;
            continue;
        }
        let what = format!("the PNG {} chunk", String::from_utf8_lossy(kind));
        budget.check(&what, u64::from(len))?;
        if kind != b"iCCP" || icc.is_some() {
            r.seek_relative(i64::from(len) + 4)?;
            continue;
        }
        // Read without spending: the inflated profile is what counts.
        let data = budget.clone().read(&what, r, u64::from(len))?;
        let mut crc = [0u8; 4];
        r.read_exact(&mut crc)?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(b"iCCP");
        hasher.update(&data);
        if hasher.finalize() != u32::from_be_bytes(crc) {
            // The png crate skips ancillary chunks that fail their CRC.
            log::warn!("PNG: the iCCP chunk fails its CRC check; the profile is ignored");
            continue;
        }
        // A profile name of 1-79 bytes, a NUL, the method (0 = zlib).
        let Some(nul) = data.iter().take(80).position(|&b| b == 0).filter(|&n| n > 0) else {
            log::warn!("PNG: the iCCP chunk has no valid profile name; the profile is ignored");
            continue;
        };
        if data.get(nul + 1) != Some(&0) {
            log::warn!("PNG: the iCCP chunk names an unknown compression method; the profile is ignored");
            continue;
        }
        match budget.inflate_zlib("the ICC profile (iCCP)", &data[nul + 2..]) {
            Ok(profile) => icc = Some(profile),
            Err(e) if e.code == imageio_plugin_api::ffi::IIO_ERR_CORRUPT => {
                log::warn!("PNG: {}; the profile is ignored", e.message);
            }
            Err(e) => return Err(e),
        }
    }
}

/// A compressed text chunk's text, or the error for one that is damaged or
/// inflates past the limits.
fn bounded_text(
    keyword: &str,
    text: std::result::Result<String, png::DecodingError>,
    limits: &Limits,
) -> Result<String> {
    text.map_err(|e| {
        // The png crate does not export its text errors; its message tells
        // a chunk that inflates too far from a damaged one.
        let message = e.to_string();
        if message.contains("decompression space") {
            Error::no_memory(format!(
                "the PNG text chunk '{keyword}' inflates to more than the metadata limit ({} per chunk, {} in all)",
                mib(limits.max_meta_entry_bytes),
                mib(limits.max_meta_total_bytes)
            ))
        } else {
            Error::corrupt(format!("the PNG text chunk '{keyword}' is damaged: {message}"))
        }
    })
}

/// `n` bytes for a message (`16 MiB`, or bytes when not whole MiB).
fn mib(n: u64) -> String {
    if n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// A png decoder over `stream` whose own allocations obey `limits`.
fn decoder<R: std::io::BufRead + Seek>(stream: R, limits: &Limits) -> png::Decoder<R> {
    let bytes = usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX);
    let mut decoder = png::Decoder::new_with_limits(stream, png::Limits { bytes });
    // The profile is read by `scan_metadata`, within the metadata limits.
    decoder.set_ignore_iccp_chunk(true);
    decoder
}

/// The `PNG` format.
pub struct Png;

impl Format for Png {
    const NAME: &'static str = "PNG";
    const DESCRIPTION: &'static str = "Portable Network Graphics (png crate)";
    const EXTENSIONS: &'static str = ".png";
    const MODES: &'static str = "i";
    const SIGNATURES: &'static [Signature] = &[Signature::new(0, SIGNATURE)];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[
        OptionSpec::read(
            "accept_truncated",
            OptionKind::Bool,
            "false",
            "read cut or damaged pixel data as far as it goes (zeros after; `truncated` in the metadata)",
        ),
        OptionSpec::write(
            "compression",
            OptionKind::Int,
            "6",
            "the deflate level, 0 (none) to 9 (smallest)",
        ),
    ]);
    const DOC: &'static str = "Reads gray, gray+alpha, RGB, RGBA and palette PNGs (palettes expanded, tRNS to alpha) of\n\
        1, 2, 4, 8 and 16 bits, interlaced or not: uint8, uint16, or bool for 1-bit gray. Writes uint8,\n\
        uint16 and bool images of 1-4 channels. Strict: cut or damaged pixel data is an error unless\n\
        accept_truncated=true.\n\
        Metadata: gamma (float), dpi ([x, y] floats), text chunks (str), icc_profile (bytes), exif\n\
        (bytes), pixels_per_unit ([x, y] ints, no unit); written: gamma, dpi, text.";
    const NEEDS_SEEK: bool = true;
    type Reader = PngReader;
    type Writer = PngWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        if !matches!(req.image_mode(), 'i' | '?') {
            return 0;
        }
        if req.first_bytes().starts_with(SIGNATURE) {
            100
        } else {
            0
        }
    }

    fn open_reader(req: &Request<'_>) -> Result<PngReader> {
        let options = req.options()?;
        options.check_known("PNG", &[imageio_plugin_api::ACCEPT_TRUNCATED])?;
        let accept_truncated = options.accept_truncated()?;
        let limits = req.limits();
        let mut stream = req.stream()?;
        let start = stream.stream_position()?;
        let header = {
            let mut budget = MetaBudget::new("PNG", &limits);
            let mut buffered = BufReader::new(&mut stream);
            let (icc, read) = scan_metadata(&mut buffered, &mut budget)?;
            // Back to the start, inside the buffer when the walk fit in it.
            buffered.seek_relative(-read)?;
            let decoder = decoder(buffered, &limits);
            let reader = decoder.read_info().map_err(decoding_error)?;
            Header::of(reader.info(), icc, &mut budget, &limits)?
        };
        Ok(PngReader {
            stream,
            start,
            header,
            limits,
            accept_truncated,
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<PngWriter> {
        let options = req.options()?;
        options.check_known("PNG", &["compression"])?;
        let compression = match options.get_int("compression")? {
            None => png::Compression::Balanced,
            Some(0) => png::Compression::NoCompression,
            Some(1) => png::Compression::Fastest,
            Some(2..=3) => png::Compression::Fast,
            Some(4..=7) => png::Compression::Balanced,
            Some(8..=9) => png::Compression::High,
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "option \"compression\" must be 0..9, not {other}"
                )));
            }
        };
        Ok(PngWriter {
            stream: req.stream()?,
            compression,
            global_meta: Vec::new(),
            written: false,
        })
    }
}

/// What the header says, kept from `open` for metadata and dtype decisions.
struct Header {
    width: u32,
    height: u32,
    color: ColorType,
    depth: BitDepth,
    has_trns: bool,
    meta: Vec<(String, Value)>,
}

impl Header {
    fn of(info: &png::Info<'_>, icc: Option<Vec<u8>>, budget: &mut MetaBudget, limits: &Limits) -> Result<Header> {
        let mut meta = Vec::new();
        if let Some(g) = info.gama_chunk.or(info.source_gamma) {
            meta.push(("gamma".to_owned(), Value::Float(f64::from(g.into_value()))));
        }
        if let Some(dims) = info.pixel_dims {
            match dims.unit {
                png::Unit::Meter => {
                    // As Pillow: pixels per metre times 0.0254, unrounded.
                    let dpi = |ppm: u32| f64::from(ppm) * 0.0254;
                    meta.push((
                        "dpi".to_owned(),
                        Value::FloatArray(vec![dpi(dims.xppu), dpi(dims.yppu)]),
                    ));
                }
                png::Unit::Unspecified => meta.push((
                    "pixels_per_unit".to_owned(),
                    Value::IntArray(vec![i64::from(dims.xppu), i64::from(dims.yppu)]),
                )),
            }
        }
        meta.push(("interlace".to_owned(), Value::Bool(info.interlaced)));
        if let Some(icc) = icc {
            meta.push(("icc_profile".to_owned(), Value::Bytes(icc)));
        }
        if let Some(exif) = &info.exif_metadata {
            budget.spend("the PNG eXIf chunk", exif.len() as u64)?;
            meta.push(("exif".to_owned(), Value::Bytes(exif.to_vec())));
        }
        for t in &info.uncompressed_latin1_text {
            budget.spend(&format!("the PNG text chunk '{}'", t.keyword), t.text.len() as u64)?;
            meta.push((t.keyword.clone(), Value::Str(t.text.clone())));
        }
        // Compressed text is inflated with a bound: a small zTXt chunk can
        // expand to gigabytes (a decompression bomb). zTXt and iTXt chunks
        // are two types with the same methods: a macro inflates either.
        macro_rules! inflate {
            ($chunk:expr) => {{
                let mut t = $chunk.clone();
                let allowed = usize::try_from(budget.available()).unwrap_or(usize::MAX);
                let text = t.decompress_text_with_limit(allowed).and_then(|()| t.get_text());
                let text = bounded_text(&t.keyword, text, limits)?;
                budget.spend(&format!("the PNG text chunk '{}'", t.keyword), text.len() as u64)?;
                meta.push((t.keyword, Value::Str(text)));
            }};
        }
        for t in &info.compressed_latin1_text {
            inflate!(t);
        }
        for t in &info.utf8_text {
            inflate!(t);
        }
        Ok(Header {
            width: info.width,
            height: info.height,
            color: info.color_type,
            depth: info.bit_depth,
            has_trns: info.trns.is_some(),
            meta,
        })
    }

    /// A 1-bit gray image without transparency reads as booleans.
    fn is_bool(&self) -> bool {
        self.color == ColorType::Grayscale && self.depth == BitDepth::One && !self.has_trns
    }
}

fn decoding_error(e: png::DecodingError) -> Error {
    match e {
        png::DecodingError::IoError(io) => Error::from(io),
        png::DecodingError::LimitsExceeded => Error::no_memory("the PNG decoder's memory limit was exceeded"),
        other => Error::corrupt(format!("invalid PNG data: {other}")),
    }
}

fn encoding_error(e: png::EncodingError) -> Error {
    match e {
        png::EncodingError::IoError(io) => Error::from(io),
        other => Error::invalid_argument(format!("cannot encode PNG: {other}")),
    }
}

/// An open PNG reader.
pub struct PngReader {
    stream: Stream,
    start: u64,
    header: Header,
    limits: Limits,
    /// Read image data that ends early or is damaged as far as it goes.
    accept_truncated: bool,
}

/// The outcome of decoding the pixels: with `accept_truncated`, data that
/// ends early or is damaged leaves the rows decoded so far (zeros after)
/// and `Ok(true)`; limits and I/O failures stay errors.
fn decoded(accept_truncated: bool, r: std::result::Result<png::OutputInfo, png::DecodingError>) -> Result<bool> {
    match r {
        Ok(_) => Ok(false),
        Err(png::DecodingError::LimitsExceeded) => Err(decoding_error(png::DecodingError::LimitsExceeded)),
        Err(png::DecodingError::IoError(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => Err(e.into()),
        Err(_) if accept_truncated => Ok(true),
        Err(e) => Err(imageio_plugin_api::truncated_error(decoding_error(e).message)),
    }
}

impl Reader for PngReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(1)
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        if index != 0 {
            return Err(Error::index_out_of_range(index, 1));
        }
        // The chunks before the pixels only: no IDAT is inflated.
        self.stream.seek(SeekFrom::Start(self.start))?;
        let mut decoder = decoder(BufReader::new(&mut self.stream), &self.limits);
        decoder.set_transformations(Transformations::EXPAND);
        let reader = decoder.read_info().map_err(decoding_error)?;
        let (color, depth) = reader.output_color_type();
        let channels = color.samples() as u64;
        let (h, w) = (u64::from(self.header.height), u64::from(self.header.width));
        let dtype = match depth {
            BitDepth::Sixteen => Dtype::U16,
            _ if self.header.is_bool() => Dtype::Bool,
            _ => Dtype::U8,
        };
        let shape = if channels == 1 {
            vec![h, w]
        } else {
            vec![h, w, channels]
        };
        Ok(Properties { dtype, shape })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        if index != 0 {
            return Err(Error::index_out_of_range(index, 1));
        }
        self.stream.seek(SeekFrom::Start(self.start))?;
        let limits = self.limits;
        let mut decoder = decoder(BufReader::new(&mut self.stream), &limits);
        decoder.set_transformations(Transformations::EXPAND);
        let mut reader = decoder.read_info().map_err(decoding_error)?;
        check_palette(reader.info())?;
        let (color, depth) = reader.output_color_type();
        let channels = color.samples() as u64;
        let (h, w) = (u64::from(self.header.height), u64::from(self.header.width));
        let shape: Vec<u64> = if channels == 1 {
            vec![h, w]
        } else {
            vec![h, w, channels]
        };
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| Error::no_memory("the PNG image is too large"))?;
        let truncated;
        let accept = self.accept_truncated;
        match depth {
            BitDepth::Sixteen => {
                // Decoded straight into the host's buffer (big-endian, as
                // PNG stores it), then put in native order in place: no
                // scratch copy of the image.
                let out = sink.alloc_bytes(Dtype::U16, &shape)?;
                if out.len() != size {
                    return Err(Error::internal("unexpected PNG output size"));
                }
                truncated = decoded(accept, reader.next_frame(out))?;
                for sample in out.chunks_exact_mut(2) {
                    let native = u16::from_be_bytes([sample[0], sample[1]]).to_ne_bytes();
                    sample.copy_from_slice(&native);
                }
            }
            _ if self.header.is_bool() => {
                let out = sink.alloc_bool(&shape)?;
                if out.len() != size {
                    return Err(Error::internal("unexpected PNG output size"));
                }
                truncated = decoded(accept, reader.next_frame(out))?;
                for v in out.iter_mut() {
                    *v = u8::from(*v != 0);
                }
            }
            _ => {
                let out = sink.alloc::<u8>(&shape)?;
                if out.len() != size {
                    return Err(Error::internal("unexpected PNG output size"));
                }
                truncated = decoded(accept, reader.next_frame(out))?;
            }
        }
        for (k, v) in &self.header.meta {
            sink.set_meta(k, v)?;
        }
        if truncated {
            sink.set_meta("truncated", &Value::Bool(true))?;
        }
        Ok(())
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        if let Some(i) = index.filter(|&i| i != 0) {
            return Err(Error::index_out_of_range(i, 1));
        }
        for (k, v) in &self.header.meta {
            sink.set_meta(k, v)?;
        }
        Ok(())
    }
}

/// An open PNG writer (one image).
pub struct PngWriter {
    stream: Stream,
    compression: png::Compression,
    global_meta: Vec<(String, Value)>,
    written: bool,
}

fn color_of(shape: &[u64]) -> Result<(u32, u32, ColorType)> {
    let (h, w, c) = match *shape {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => {
            return Err(Error::invalid_argument(format!(
                "PNG needs a 2D image or a 3D image with 1-4 channels, not shape {shape:?}"
            )));
        }
    };
    let color = match c {
        1 => ColorType::Grayscale,
        2 => ColorType::GrayscaleAlpha,
        3 => ColorType::Rgb,
        4 => ColorType::Rgba,
        _ => {
            return Err(Error::invalid_argument(format!(
                "PNG images have 1 to 4 channels, not {c} (shape {shape:?})"
            )));
        }
    };
    let dim = |d: u64| u32::try_from(d).ok().filter(|&d| d > 0);
    match (dim(h), dim(w)) {
        (Some(h), Some(w)) => Ok((h, w, color)),
        _ => Err(Error::invalid_argument(format!(
            "PNG cannot store an image of shape {shape:?}"
        ))),
    }
}

impl PngWriter {
    fn apply_meta(encoder: &mut png::Encoder<'_, impl Write>, meta: &[(String, Value)]) -> Result<()> {
        for (key, value) in meta {
            match (key.as_str(), value) {
                ("gamma", Value::Float(g)) => encoder.set_source_gamma(png::ScaledFloat::new(*g as f32)),
                ("dpi", Value::FloatArray(d)) if d.len() == 2 => {
                    let ppm = |dpi: f64| (dpi / 0.0254).round() as u32;
                    encoder.set_pixel_dims(Some(png::PixelDimensions {
                        xppu: ppm(d[0]),
                        yppu: ppm(d[1]),
                        unit: png::Unit::Meter,
                    }));
                }
                (k, Value::Str(text)) if (1..=79).contains(&k.len()) => {
                    let latin1 = k.chars().all(|c| (' '..='~').contains(&c));
                    if !latin1 {
                        continue;
                    }
                    let result = if text.chars().all(|c| (c as u32) < 256 && c != '\0') {
                        encoder.add_text_chunk(k.to_owned(), text.clone())
                    } else {
                        encoder.add_itxt_chunk(k.to_owned(), text.clone())
                    };
                    result.map_err(encoding_error)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Writer for PngWriter {
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()> {
        if self.written {
            return Err(Error::unsupported(
                "a PNG file holds one image; this one already has it",
            ));
        }
        let (height, width, color) = color_of(image.shape)?;
        let mut out = BufWriter::new(&mut self.stream);
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_compression(self.compression);
        let bytes: Vec<u8>;
        let data: &[u8] = match image.dtype {
            Dtype::U8 => {
                encoder.set_depth(BitDepth::Eight);
                image.bytes
            }
            Dtype::Bool => {
                encoder.set_depth(BitDepth::Eight);
                bytes = image.bytes.iter().map(|&b| if b != 0 { 255 } else { 0 }).collect();
                &bytes
            }
            Dtype::U16 => {
                encoder.set_depth(BitDepth::Sixteen);
                let samples = image
                    .as_slice::<u16>()
                    .ok_or_else(|| Error::internal("misaligned u16 data"))?;
                bytes = samples.iter().flat_map(|s| s.to_be_bytes()).collect();
                &bytes
            }
            other => {
                return Err(Error::unsupported(format!(
                    "PNG stores uint8, uint16 or bool images, not {} (convert the image first)",
                    other.name()
                )));
            }
        };
        Self::apply_meta(&mut encoder, &self.global_meta)?;
        Self::apply_meta(&mut encoder, meta)?;
        // Large images at zlib levels: deflated on every core (see
        // deflate.rs); the rest through the png crate.
        let bpp = color.samples() * if image.dtype == Dtype::U16 { 2 } else { 1 };
        let row_bytes = width as usize * bpp;
        let level = match self.compression {
            png::Compression::Balanced => Some(6),
            png::Compression::High => Some(9),
            _ => None,
        };
        let pieces = crate::deflate::pieces_for(data.len() + height as usize);
        let parallel = match level {
            Some(level) if pieces > 1 => crate::deflate::zlib_stream(data, row_bytes, bpp, level, pieces),
            _ => None,
        };
        let mut writer = encoder.write_header().map_err(encoding_error)?;
        match parallel {
            Some(stream) => {
                // The pieces one after the other, an IDAT chunk per MiB.
                for idat in stream.iter().flat_map(|piece| piece.chunks(1 << 20)) {
                    writer.write_chunk(png::chunk::IDAT, idat).map_err(encoding_error)?;
                }
            }
            None => writer.write_image_data(data).map_err(encoding_error)?,
        }
        writer.finish().map_err(encoding_error)?;
        out.flush()?;
        self.written = true;
        Ok(())
    }

    fn set_meta_data(&mut self, meta: &[(String, Value)]) -> Result<()> {
        self.global_meta = meta.to_vec();
        Ok(())
    }

    fn close(self) -> Result<()> {
        if !self.written {
            log::debug!("PNG writer closed without an image");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageio_plugin_api::Options;

    #[test]
    fn color_of_maps_shapes_to_color_types() {
        assert_eq!(color_of(&[2, 3]).unwrap(), (2, 3, ColorType::Grayscale));
        assert_eq!(color_of(&[2, 3, 4]).unwrap(), (2, 3, ColorType::Rgba));
        assert!(color_of(&[2, 3, 5]).is_err());
        assert!(color_of(&[0, 3]).is_err());
        assert!(color_of(&[4]).is_err());
    }

    #[test]
    fn options_check_names_the_unknown_option() {
        let opts = Options {
            entries: vec![("qualty".into(), Value::Int(3))],
        };
        let err = opts.check_known("PNG", &["compression"]).unwrap_err();
        assert!(err.message.contains("\"qualty\""), "{}", err.message);
    }
}
