//! WebP reading and writing (safe code only).
#![forbid(unsafe_code)]

use image_webp::{DecodingError, LoopCount, WebPDecoder, WebPEncoder};
use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, MetaBudget, OptionKind, OptionSpec, Properties, Reader, Request,
    Result, Signature, Stream, Value, Writer, image_shape,
};
use std::io::{Cursor, Write};

/// The largest canvas decoded, in pixels (a still WebP is at most 16383 x
/// 16383, about 2^28; an animation's canvas may claim far more).
const MAX_CANVAS_PIXELS: u64 = 1 << 28;

/// The `WEBP` format.
pub struct Webp;

impl Format for Webp {
    const NAME: &'static str = "WEBP";
    const DESCRIPTION: &'static str = "WebP, lossy and lossless, still and animated (image-webp)";
    const EXTENSIONS: &'static str = ".webp";
    const MODES: &'static str = "iI";
    const SIGNATURES: &'static [Signature] = &[Signature::masked(
        0,
        b"RIFF\0\0\0\0WEBP",
        &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF],
    )];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[
        OptionSpec::write(
            "lossless",
            OptionKind::Bool,
            "true",
            "only lossless encoding is available",
        ),
        OptionSpec::DURATION,
        OptionSpec::LOOP,
    ]);
    const DOC: &'static str = "Reads lossy and lossless WebP, still and animated: RGB, or RGBA with alpha, uint8. Writes\n\
        lossless gray, gray+alpha, RGB and RGBA; animations in mode I.\n\
        Metadata: lossless (bool), loop (int), duration (int, ms), icc_profile, exif (bytes).";
    type Reader = WebpReader;
    type Writer = WebpWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        let b = req.first_bytes();
        if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
            100
        } else {
            0
        }
    }

    fn open_reader(req: &Request<'_>) -> Result<WebpReader> {
        req.options()?.check_known("WEBP", &[])?;
        let mut stream = req.stream()?;
        let mut budget = MetaBudget::new("WEBP", &req.limits());
        check_metadata_chunks(&mut stream, &budget)?;
        let data = stream.read_to_end_bounded("WEBP", &req.limits())?;
        let declared = data
            .get(4..8)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) + 8);
        let file_len = data.len() as u64;
        let mut decoder = WebPDecoder::new(Cursor::new(data)).map_err(decoding_error)?;
        let mut meta = vec![("lossless".to_owned(), Value::Bool(!decoder.is_lossy()))];
        if decoder.is_animated() {
            let count = match decoder.loop_count() {
                LoopCount::Forever => 0,
                LoopCount::Times(n) => i64::from(n.get()),
            };
            meta.push(("loop".to_owned(), Value::Int(count)));
        }
        if let Ok(Some(icc)) = decoder.icc_profile() {
            budget.spend("the ICCP chunk", icc.len() as u64)?;
            meta.push(("icc_profile".to_owned(), Value::Bytes(icc)));
        }
        if let Ok(Some(exif)) = decoder.exif_metadata() {
            budget.spend("the EXIF chunk", exif.len() as u64)?;
            meta.push(("exif".to_owned(), Value::Bytes(exif)));
        }
        let frames = if decoder.is_animated() {
            u64::from(decoder.num_frames())
        } else {
            1
        };
        let (width, height) = decoder.dimensions();
        let pixels = u64::from(width) * u64::from(height);
        if pixels > MAX_CANVAS_PIXELS {
            return Err(Error::no_memory(format!(
                "WEBP: a {width}x{height} canvas is over the limit of {MAX_CANVAS_PIXELS} pixels"
            )));
        }
        let limits = req.limits();
        limits.check_image("WEBP", u64::from(width), u64::from(height), 1, 4)?;
        limits.check_animation("WEBP", frames, u64::from(width), u64::from(height))?;
        // The decoder's canvas and frame scratch, RGBA each.
        limits.check_alloc("WEBP", "the animation canvas", pixels.saturating_mul(4))?;
        // The RIFF header's size covers the whole file: a file shorter than
        // it is cut short, even when only the last chunk's padding byte is
        // missing (Pillow refuses it too). Checked after the limits, which
        // say more about a hostile header.
        if let Some(declared) = declared.filter(|&d| d > file_len) {
            return Err(Error::corrupt(format!(
                "WEBP: the file is truncated: its RIFF header declares {declared} bytes, the file has {file_len}"
            )));
        }
        Ok(WebpReader {
            decoder,
            frames,
            next_frame: 0,
            meta,
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<WebpWriter> {
        let options = req.options()?;
        options.check_known("WEBP", &["lossless", "duration", "loop"])?;
        if options.get_bool("lossless")? == Some(false) {
            return Err(Error::unsupported(
                "lossy WebP encoding is not available in imageio-webp; write lossless (the default)",
            ));
        }
        let durations = options.get_float_list("duration")?.unwrap_or_default();
        let loop_count = options.get_int_in("loop", 0..=65535)?.unwrap_or(0) as u16;
        Ok(WebpWriter {
            stream: req.stream()?,
            durations,
            loop_count,
            global_meta: Vec::new(),
            still: None,
            frames: Vec::new(),
            size: (0, 0),
            limits: req.limits(),
            kept: 0,
        })
    }
}

/// Walks the file's top-level chunks by their headers alone (seeking over
/// their data) and checks each metadata chunk's declared size against the
/// metadata limits before the file is read into memory: a 200 MiB `ICCP`
/// chunk is refused after reading a few dozen bytes. Leaves the stream at
/// its start. A chunk list that is damaged or cut short is left for the
/// decoder to report.
fn check_metadata_chunks(stream: &mut Stream, budget: &MetaBudget) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let start = stream.stream_position()?;
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).is_ok() && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        let mut chunk = [0u8; 8];
        while stream.read_exact(&mut chunk).is_ok() {
            let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
            let name = &chunk[..4];
            if matches!(name, b"ICCP" | b"EXIF" | b"XMP ") {
                budget.check(&format!("the {} chunk", String::from_utf8_lossy(name).trim_end()), size)?;
            }
            let padded = size + (size & 1);
            stream.seek(SeekFrom::Current(padded as i64))?;
        }
    }
    stream.seek(SeekFrom::Start(start))?;
    Ok(())
}

fn decoding_error(e: DecodingError) -> Error {
    match e {
        DecodingError::IoError(io) => Error::corrupt(format!("WebP: the data ends early or cannot be read ({io})")),
        DecodingError::MemoryLimitExceeded => Error::no_memory("WebP: the image is over the memory limit"),
        other => Error::corrupt(format!("WebP: {other}")),
    }
}

/// An open WebP reader (the encoded file is held in memory by the decoder).
pub struct WebpReader {
    decoder: WebPDecoder<Cursor<Vec<u8>>>,
    frames: u64,
    next_frame: u64,
    meta: Vec<(String, Value)>,
}

impl Reader for WebpReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(self.frames)
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        // From the headers read at open: nothing is decoded.
        if index >= self.frames {
            return Err(Error::index_out_of_range(index, self.frames));
        }
        let (w, h) = self.decoder.dimensions();
        let channels = if self.decoder.has_alpha() { 4 } else { 3 };
        Ok(Properties {
            dtype: Dtype::U8,
            shape: image_shape(u64::from(h), u64::from(w), channels),
        })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        if index >= self.frames {
            return Err(Error::index_out_of_range(index, self.frames));
        }
        let (w, h) = self.decoder.dimensions();
        let channels = if self.decoder.has_alpha() { 4 } else { 3 };
        let size = self
            .decoder
            .output_buffer_size()
            .ok_or_else(|| Error::no_memory("the WebP image is too large"))?;
        let shape = image_shape(u64::from(h), u64::from(w), channels);
        if !self.decoder.is_animated() {
            let buf = sink.alloc::<u8>(&shape)?;
            if buf.len() != size {
                return Err(Error::internal("unexpected WebP output size"));
            }
            self.decoder.read_image(buf).map_err(decoding_error)?;
        } else {
            if index < self.next_frame {
                self.decoder.reset_animation();
                self.next_frame = 0;
            }
            let mut scratch = Vec::new();
            scratch
                .try_reserve_exact(size)
                .map_err(|_| Error::no_memory(format!("no memory for a {size}-byte WebP frame")))?;
            scratch.resize(size, 0);
            while self.next_frame < index {
                self.decoder.read_frame(&mut scratch).map_err(decoding_error)?;
                self.next_frame += 1;
            }
            let buf = sink.alloc::<u8>(&shape)?;
            if buf.len() != size {
                return Err(Error::internal("unexpected WebP output size"));
            }
            let duration = self.decoder.read_frame(buf).map_err(decoding_error)?;
            self.next_frame += 1;
            sink.set_meta("duration", &Value::Int(i64::from(duration)))?;
        }
        for (k, v) in &self.meta {
            sink.set_meta(k, v)?;
        }
        Ok(())
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        if let Some(i) = index.filter(|&i| i >= self.frames) {
            return Err(Error::index_out_of_range(i, self.frames));
        }
        for (k, v) in &self.meta {
            sink.set_meta(k, v)?;
        }
        Ok(())
    }
}

/// One encoded frame of an animation.
struct EncodedFrame {
    /// The `VP8L` chunk (header and payload, padded).
    chunk: Vec<u8>,
    alpha: bool,
    duration: u32,
}

/// The first image: pixels, width, height, colour type and metadata.
type Still = (Vec<u8>, u32, u32, image_webp::ColorType, Vec<(String, Value)>);

/// An open WebP writer: one lossless image, or an animation of lossless
/// frames (written when the writer closes).
pub struct WebpWriter {
    stream: Stream,
    durations: Vec<f64>,
    loop_count: u16,
    global_meta: Vec<(String, Value)>,
    /// The first image, kept raw until we know whether more follow.
    still: Option<Still>,
    frames: Vec<EncodedFrame>,
    size: (u32, u32),
    /// The caller's limits: the encoded frames are kept until close (a WebP
    /// animation's header needs all of them), within the allocation and
    /// frame limits.
    limits: imageio_plugin_api::Limits,
    kept: u64,
}

/// Encodes one lossless image as a complete simple-format file.
fn encode_simple(
    data: &[u8],
    w: u32,
    h: u32,
    color: image_webp::ColorType,
    meta: &[(String, Value)],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = WebPEncoder::new(&mut out);
    for (key, value) in meta {
        match (key.as_str(), value) {
            ("icc_profile", Value::Bytes(b)) => encoder.set_icc_profile(b.clone()),
            ("exif", Value::Bytes(b)) => encoder.set_exif_metadata(b.clone()),
            _ => {}
        }
    }
    encoder
        .encode(data, w, h, color)
        .map_err(|e| Error::internal(format!("WebP encoding failed: {e}")))?;
    Ok(out)
}

/// The `VP8L` chunk of a simple-format file made by [`encode_simple`].
fn vp8l_chunk(file: &[u8]) -> Result<Vec<u8>> {
    let mut at = 12;
    while at + 8 <= file.len() {
        let size = u32::from_le_bytes([file[at + 4], file[at + 5], file[at + 6], file[at + 7]]) as usize;
        let end = (at + 8 + size + (size & 1)).min(file.len());
        if &file[at..at + 4] == b"VP8L" {
            return Ok(file[at..end].to_vec());
        }
        at = end;
    }
    Err(Error::internal("the WebP encoder produced no VP8L chunk"))
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn chunk(tag: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(payload.len() + 9);
    c.extend_from_slice(tag);
    c.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    c.extend_from_slice(payload);
    if payload.len() % 2 == 1 {
        c.push(0);
    }
    c
}

impl WebpWriter {
    fn frame_duration(&self, index: usize, meta: &[(String, Value)]) -> u32 {
        imageio_plugin_api::frame_duration_ms(meta, &self.durations, index)
            .round()
            .clamp(0.0, f64::from((1u32 << 24) - 1)) as u32
    }

    fn push_frame(
        &mut self,
        data: &[u8],
        w: u32,
        h: u32,
        color: image_webp::ColorType,
        meta: &[(String, Value)],
    ) -> Result<()> {
        let index = self.frames.len();
        let file = encode_simple(data, w, h, color, &[])?;
        let alpha = matches!(color, image_webp::ColorType::La8 | image_webp::ColorType::Rgba8);
        let duration = self.frame_duration(index, meta);
        self.frames.push(EncodedFrame {
            chunk: vp8l_chunk(&file)?,
            alpha,
            duration,
        });
        Ok(())
    }

    /// The animated file: VP8X, ANIM, then one ANMF per frame (full canvas,
    /// no blending, so every frame is exactly what was written).
    fn animation(&self) -> Vec<u8> {
        let (w, h) = self.size;
        let alpha = self.frames.iter().any(|f| f.alpha);
        let mut vp8x = vec![0x02 | if alpha { 0x10 } else { 0 }, 0, 0, 0];
        vp8x.extend_from_slice(&u24(w - 1));
        vp8x.extend_from_slice(&u24(h - 1));
        let mut anim = vec![0u8; 4];
        anim.extend_from_slice(&self.loop_count.to_le_bytes());
        let mut body = b"WEBP".to_vec();
        body.extend(chunk(b"VP8X", &vp8x));
        body.extend(chunk(b"ANIM", &anim));
        for f in &self.frames {
            let mut anmf = Vec::with_capacity(f.chunk.len() + 16);
            anmf.extend_from_slice(&u24(0));
            anmf.extend_from_slice(&u24(0));
            anmf.extend_from_slice(&u24(w - 1));
            anmf.extend_from_slice(&u24(h - 1));
            anmf.extend_from_slice(&u24(f.duration));
            anmf.push(0x02); // do not blend, do not dispose
            anmf.extend_from_slice(&f.chunk);
            body.extend(chunk(b"ANMF", &anmf));
        }
        let mut file = b"RIFF".to_vec();
        file.extend_from_slice(&(body.len() as u32).to_le_bytes());
        file.extend(body);
        file
    }
}

impl Writer for WebpWriter {
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()> {
        if image.dtype != Dtype::U8 {
            return Err(Error::unsupported(format!(
                "WebP stores uint8 images, not {} (convert the image first)",
                image.dtype.name()
            )));
        }
        let (h, w, c) = image.hwc("WebP")?;
        let too_big = || Error::invalid_argument(format!("WebP images are at most 16383x16383, not {w}x{h}"));
        let w32 = u32::try_from(w).ok().filter(|&v| v <= 16383).ok_or_else(too_big)?;
        let h32 = u32::try_from(h).ok().filter(|&v| v <= 16383).ok_or_else(too_big)?;
        let color = match c {
            1 => image_webp::ColorType::L8,
            2 => image_webp::ColorType::La8,
            3 => image_webp::ColorType::Rgb8,
            4 => image_webp::ColorType::Rgba8,
            other => {
                return Err(Error::unsupported(format!("WebP stores 1 to 4 channels, not {other}")));
            }
        };
        if self.still.is_none() && self.frames.is_empty() {
            self.size = (w32, h32);
            let mut all_meta = self.global_meta.clone();
            all_meta.extend_from_slice(meta);
            self.still = Some((image.bytes.to_vec(), w32, h32, color, all_meta));
            return Ok(());
        }
        if self.size != (w32, h32) {
            return Err(Error::invalid_argument(format!(
                "every WebP frame must have the first one's size {}x{}, not {w}x{h}",
                self.size.0, self.size.1
            )));
        }
        let before = self.frames.len();
        if let Some((data, fw, fh, fc, fmeta)) = self.still.take() {
            self.push_frame(&data, fw, fh, fc, &fmeta)?;
        }
        self.push_frame(image.bytes, w32, h32, color, meta)?;
        self.limits.check_frames("WEBP", self.frames.len() as u64)?;
        self.kept += self.frames[before..].iter().map(|f| f.chunk.len() as u64).sum::<u64>();
        self.limits
            .check_alloc("WEBP", "the animation's encoded frames (kept until close)", self.kept)
    }

    fn set_meta_data(&mut self, meta: &[(String, Value)]) -> Result<()> {
        self.global_meta = meta.to_vec();
        Ok(())
    }

    fn close(mut self) -> Result<()> {
        let file = match self.still.take() {
            Some((data, w, h, color, meta)) => encode_simple(&data, w, h, color, &meta)?,
            None if self.frames.is_empty() => {
                return Err(Error::invalid_argument("no image was written to the WebP file"));
            }
            None => self.animation(),
        };
        let mut out = std::io::BufWriter::new(&mut self.stream);
        out.write_all(&file)?;
        out.flush()?;
        Ok(())
    }
}
