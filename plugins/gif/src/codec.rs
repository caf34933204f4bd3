//! GIF reading (with compositing) and writing (safe code only).
#![forbid(unsafe_code)]

use gif::{ColorOutput, DecodeOptions, DisposalMethod, Repeat};
use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, Limits, MetaBudget, OptionSpec, Properties, Reader, Request, Result,
    Signature, Stream, Value, Writer, image_shape,
};
use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::Arc;

/// The largest canvas decoded, in pixels.
const MAX_PIXELS: u64 = 1 << 26;

/// The `GIF` format.
pub struct Gif;

impl Format for Gif {
    const NAME: &'static str = "GIF";
    const DESCRIPTION: &'static str = "Graphics Interchange Format, still and animated (gif crate)";
    const EXTENSIONS: &'static str = ".gif";
    const MODES: &'static str = "iI";
    const SIGNATURES: &'static [Signature] = &[Signature::new(0, b"GIF87a"), Signature::new(0, b"GIF89a")];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[OptionSpec::DURATION, OptionSpec::LOOP]);
    const DOC: &'static str = "Reads animations composited frame by frame into RGB (RGBA where transparency shows), uint8.\n\
        Writes sequences of uint8 gray, RGB and RGBA frames: exact palettes up to 256 colours,\n\
        NeuQuant beyond.\n\
        Metadata: duration (int, ms, per frame), loop (int), background (int), icc_profile (bytes).";
    type Reader = GifReader;
    type Writer = GifWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        let b = req.first_bytes();
        if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            100
        } else {
            0
        }
    }

    fn open_reader(req: &Request<'_>) -> Result<GifReader> {
        req.options()?.check_known("GIF", &[])?;
        let data = req.stream()?.read_to_end_bounded("GIF", &req.limits())?;
        GifReader::new(data, &req.limits())
    }

    fn open_writer(req: &Request<'_>) -> Result<GifWriter> {
        let options = req.options()?;
        options.check_known("GIF", &["duration", "loop"])?;
        let durations = options.get_float_list("duration")?.unwrap_or_default();
        let loop_count = options.get_int_in("loop", 0..=65535)?.unwrap_or(0) as u16;
        Ok(GifWriter {
            stream: Some(req.stream()?),
            durations,
            loop_count,
            encoder: None,
            size: (0, 0),
            frames: 0,
        })
    }
}

fn decoding_error(e: gif::DecodingError) -> Error {
    match e {
        gif::DecodingError::Io(io) => Error::corrupt(format!("GIF: the data ends early or cannot be read ({io})")),
        other => Error::corrupt(format!("GIF: {other}")),
    }
}

fn options() -> DecodeOptions {
    let mut o = DecodeOptions::new();
    o.set_color_output(ColorOutput::Indexed);
    o.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::new(1 << 30).expect("nonzero"),
    ));
    o
}

/// What one pass over the file learned.
struct Summary {
    width: u16,
    height: u16,
    delays: Vec<u16>,
    transparency: bool,
    loop_count: Option<i64>,
    background: Option<usize>,
    icc: Option<Vec<u8>>,
}

/// The compositing state: the canvas and what disposal needs.
struct Canvas {
    rgba: Vec<u8>,
    next: usize,
    /// The previous frame's rectangle and disposal.
    pending: Option<(DisposalMethod, [usize; 4], Option<Vec<u8>>)>,
}

/// An open GIF reader (the encoded file is held in memory, shared by every
/// decoder started over it).
pub struct GifReader {
    data: Arc<[u8]>,
    summary: Summary,
    decoder: Option<gif::Decoder<Cursor<Arc<[u8]>>>>,
    canvas: Canvas,
}

impl GifReader {
    fn new(data: Vec<u8>, limits: &Limits) -> Result<GifReader> {
        let data: Arc<[u8]> = data.into();
        // The summary pass reads each frame's header and skips its pixel
        // data undecoded: counting the frames costs the file's size, not
        // the pixels it claims.
        let mut summary_options = options();
        summary_options.skip_frame_decoding(true);
        let mut decoder = summary_options
            .read_info(Cursor::new(Arc::clone(&data)))
            .map_err(decoding_error)?;
        let (width, height) = (decoder.width(), decoder.height());
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(Error::no_memory(format!(
                "a {width}x{height} GIF is over the pixel limit"
            )));
        }
        limits.check_image("GIF", u64::from(width), u64::from(height), 1, 4)?;
        // The profile's sub-blocks are gathered by the gif crate from the
        // file in memory; it is checked against the metadata limits before
        // it is copied.
        let icc = match decoder.icc_profile() {
            Some(icc) => {
                MetaBudget::new("GIF", limits).spend("the ICC profile (ICCRGBG1 extension)", icc.len() as u64)?;
                Some(icc.to_vec())
            }
            None => None,
        };
        let background = decoder.bg_color();
        let mut delays = Vec::new();
        let mut transparency = false;
        while let Some(frame) = decoder.read_next_frame().map_err(decoding_error)? {
            delays.push(frame.delay);
            limits.check_frames("GIF", delays.len() as u64)?;
            transparency |= frame.transparent.is_some();
        }
        if delays.is_empty() {
            return Err(Error::corrupt("the GIF has no image"));
        }
        limits.check_animation("GIF", delays.len() as u64, u64::from(width), u64::from(height))?;
        let loop_count = match decoder.repeat() {
            Repeat::Infinite => Some(0),
            Repeat::Finite(0) => None,
            Repeat::Finite(n) => Some(i64::from(n)),
        };
        let pixels = usize::from(width) * usize::from(height);
        let mut reader = GifReader {
            data,
            summary: Summary {
                width,
                height,
                delays,
                transparency,
                loop_count,
                background,
                icc,
            },
            decoder: None,
            canvas: Canvas {
                rgba: vec![0; pixels * 4],
                next: 0,
                pending: None,
            },
        };
        // RGBA only when some composited frame really shows transparency
        // (a transparent index over earlier pixels does not): like Pillow,
        // whose optimised animations use one without being transparent.
        if transparency {
            let mut visible = false;
            for i in 0..reader.summary.delays.len() {
                reader.advance_to(i)?;
                if reader.canvas.rgba.chunks_exact(4).any(|p| p[3] != 255) {
                    visible = true;
                    break;
                }
            }
            reader.summary.transparency = visible;
            reader.decoder = None;
        }
        Ok(reader)
    }

    fn global_meta(&self, sink: &mut ImageSink<'_>) -> Result<()> {
        if let Some(n) = self.summary.loop_count {
            sink.set_meta("loop", &Value::Int(n))?;
        }
        if let Some(b) = self.summary.background {
            sink.set_meta("background", &Value::Int(b as i64))?;
        }
        if let Some(icc) = &self.summary.icc {
            sink.set_meta("icc_profile", &Value::Bytes(icc.clone()))?;
        }
        Ok(())
    }

    /// Composites frames up to and including `index` on the canvas.
    fn advance_to(&mut self, index: usize) -> Result<()> {
        if index < self.canvas.next || self.decoder.is_none() {
            self.decoder = Some(
                options()
                    .read_info(Cursor::new(Arc::clone(&self.data)))
                    .map_err(decoding_error)?,
            );
            self.canvas.rgba.fill(0);
            self.canvas.next = 0;
            self.canvas.pending = None;
        }
        let width = usize::from(self.summary.width);
        let height = usize::from(self.summary.height);
        let decoder = self.decoder.as_mut().expect("just set");
        while self.canvas.next <= index {
            let global = decoder.global_palette().map(<[u8]>::to_vec);
            let frame = decoder
                .read_next_frame()
                .map_err(decoding_error)?
                .ok_or_else(|| Error::corrupt("the GIF ended before the frame asked for"))?;
            // Dispose of the previous frame first.
            if let Some((method, [l, t, w, h], saved)) = self.canvas.pending.take() {
                match method {
                    DisposalMethod::Background => {
                        for y in t..(t + h).min(height) {
                            let row = (y * width + l) * 4;
                            let end = (y * width + (l + w).min(width)) * 4;
                            self.canvas.rgba[row..end].fill(0);
                        }
                    }
                    DisposalMethod::Previous => {
                        if let Some(saved) = saved {
                            self.canvas.rgba.copy_from_slice(&saved);
                        }
                    }
                    _ => {}
                }
            }
            let palette = frame
                .palette
                .clone()
                .or(global)
                .ok_or_else(|| Error::corrupt("a GIF frame has no colour table"))?;
            let (l, t) = (usize::from(frame.left), usize::from(frame.top));
            let (fw, fh) = (usize::from(frame.width), usize::from(frame.height));
            let saved = (frame.dispose == DisposalMethod::Previous).then(|| self.canvas.rgba.clone());
            // Each index's RGBA once per frame (an index past the colour
            // table is black, as before), then a row at a time.
            let mut lut = [[0u8, 0, 0, 255]; 256];
            for (entry, rgb) in lut.iter_mut().zip(palette.chunks_exact(3)) {
                entry[..3].copy_from_slice(rgb);
            }
            let visible = fw.min(width.saturating_sub(l));
            if visible > 0 && fw > 0 {
                for (y, src) in frame
                    .buffer
                    .chunks_exact(fw)
                    .enumerate()
                    .take(height.saturating_sub(t).min(fh))
                {
                    let row = ((t + y) * width + l) * 4;
                    let dst = &mut self.canvas.rgba[row..row + visible * 4];
                    let pixels = dst.chunks_exact_mut(4).zip(&src[..visible]);
                    match frame.transparent {
                        None => pixels.for_each(|(d, &i)| d.copy_from_slice(&lut[usize::from(i)])),
                        Some(clear) => pixels
                            .filter(|&(_, &i)| i != clear)
                            .for_each(|(d, &i)| d.copy_from_slice(&lut[usize::from(i)])),
                    }
                }
            }
            self.canvas.pending = Some((frame.dispose, [l, t, fw, fh], saved));
            self.canvas.next += 1;
        }
        Ok(())
    }
}

impl Reader for GifReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(self.summary.delays.len() as u64)
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        // From the frame table read at open: no frame is decoded here.
        let n = self.summary.delays.len() as u64;
        if index >= n {
            return Err(Error::index_out_of_range(index, n));
        }
        let (w, h) = (u64::from(self.summary.width), u64::from(self.summary.height));
        let channels = if self.summary.transparency { 4 } else { 3 };
        Ok(Properties {
            dtype: Dtype::U8,
            shape: image_shape(h, w, channels),
        })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        let n = self.summary.delays.len() as u64;
        if index >= n {
            return Err(Error::index_out_of_range(index, n));
        }
        let i = index as usize;
        self.advance_to(i)?;
        let (w, h) = (u64::from(self.summary.width), u64::from(self.summary.height));
        if self.summary.transparency {
            sink.alloc::<u8>(&image_shape(h, w, 4))?
                .copy_from_slice(&self.canvas.rgba);
        } else {
            let out = sink.alloc::<u8>(&image_shape(h, w, 3))?;
            for (o, p) in out.chunks_exact_mut(3).zip(self.canvas.rgba.chunks_exact(4)) {
                o.copy_from_slice(&p[..3]);
            }
        }
        sink.set_meta("duration", &Value::Int(i64::from(self.summary.delays[i]) * 10))?;
        self.global_meta(sink)
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        let n = self.summary.delays.len() as u64;
        match index {
            Some(i) if i >= n => return Err(Error::index_out_of_range(i, n)),
            Some(i) => sink.set_meta("duration", &Value::Int(i64::from(self.summary.delays[i as usize]) * 10))?,
            None => {}
        }
        self.global_meta(sink)
    }
}

/// An open GIF writer.
pub struct GifWriter {
    /// The stream, until the first frame hands it to the encoder.
    stream: Option<Stream>,
    durations: Vec<f64>,
    loop_count: u16,
    encoder: Option<gif::Encoder<std::io::BufWriter<Stream>>>,
    size: (u16, u16),
    frames: usize,
}

fn encoding_error(e: gif::EncodingError) -> Error {
    match e {
        gif::EncodingError::Io(io) => Error::from(io),
        other => Error::invalid_argument(format!("GIF: {other}")),
    }
}

/// An exact palette for at most 256 colours (plus the transparent one), or
/// `None` when there are more.
fn exact_palette(rgba: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Option<u8>)> {
    let mut index: HashMap<[u8; 3], u8> = HashMap::new();
    let mut palette = Vec::new();
    let has_clear = rgba.chunks_exact(4).any(|p| p[3] == 0);
    let transparent = if has_clear {
        palette.extend_from_slice(&[0, 0, 0]);
        Some(0u8)
    } else {
        None
    };
    let mut pixels = Vec::with_capacity(rgba.len() / 4);
    for p in rgba.chunks_exact(4) {
        if p[3] == 0 {
            pixels.push(0);
            continue;
        }
        let key = [p[0], p[1], p[2]];
        let i = match index.get(&key) {
            Some(&i) => i,
            None => {
                let n = palette.len() / 3;
                if n >= 256 {
                    return None;
                }
                palette.extend_from_slice(&key);
                index.insert(key, n as u8);
                n as u8
            }
        };
        pixels.push(i);
    }
    Some((pixels, palette, transparent))
}

impl Writer for GifWriter {
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()> {
        let (h, w, c) = image.hwc("GIF")?;
        let (Ok(h16), Ok(w16)) = (u16::try_from(h), u16::try_from(w)) else {
            return Err(Error::invalid_argument(format!(
                "GIF images are at most 65535x65535, not {w}x{h}"
            )));
        };
        let data = image.u8_or_bool("GIF")?;
        let data: &[u8] = &data;
        if c == 4 && data.chunks_exact(4).any(|p| p[3] != 0 && p[3] != 255) {
            return Err(Error::unsupported(
                "GIF transparency is on or off: RGBA frames must have alpha 0 or 255 (threshold the alpha first)",
            ));
        }
        let mut rgba: Vec<u8> = match c {
            1 => data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
            3 => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            4 => data.to_vec(),
            other => {
                return Err(Error::unsupported(format!(
                    "GIF stores gray, RGB or RGBA images, not {other} channels"
                )));
            }
        };
        if self.encoder.is_none() {
            let stream = self
                .stream
                .take()
                .ok_or_else(|| Error::internal("the GIF stream is gone"))?;
            let out = std::io::BufWriter::new(stream);
            let mut encoder = gif::Encoder::new(out, w16, h16, &[]).map_err(encoding_error)?;
            encoder
                .set_repeat(if self.loop_count == 0 {
                    Repeat::Infinite
                } else {
                    Repeat::Finite(self.loop_count)
                })
                .map_err(encoding_error)?;
            self.encoder = Some(encoder);
            self.size = (w16, h16);
        } else if self.size != (w16, h16) {
            return Err(Error::invalid_argument(format!(
                "every GIF frame must have the first one's size {}x{}, not {w}x{h}",
                self.size.0, self.size.1
            )));
        }
        let mut frame = match exact_palette(&rgba) {
            Some((pixels, palette, transparent)) => {
                gif::Frame::from_palette_pixels(w16, h16, pixels, palette, transparent)
            }
            None => gif::Frame::from_rgba_speed(w16, h16, &mut rgba, 10),
        };
        let ms = imageio_plugin_api::frame_duration_ms(meta, &self.durations, self.frames);
        frame.delay = (ms / 10.0).round().clamp(0.0, 65535.0) as u16;
        frame.dispose = DisposalMethod::Background;
        self.encoder
            .as_mut()
            .expect("just set")
            .write_frame(&frame)
            .map_err(encoding_error)?;
        self.frames += 1;
        Ok(())
    }

    fn close(self) -> Result<()> {
        let Some(encoder) = self.encoder else {
            return Err(Error::invalid_argument("no image was written to the GIF file"));
        };
        let mut out = encoder.into_inner().map_err(encoding_error)?;
        out.flush()?;
        Ok(())
    }
}
