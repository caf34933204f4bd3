//! WebP reading and writing (safe code only).
#![forbid(unsafe_code)]

use image_webp::{DecodingError, LoopCount, WebPDecoder, WebPEncoder};
use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, Reader, Request, Result, Stream, Value, Writer, image_shape,
};
use std::io::{Cursor, Read, Write};

/// The largest encoded file read into memory.
const MAX_FILE: u64 = 1 << 31;

/// The `WEBP` format.
pub struct Webp;

impl Format for Webp {
    const NAME: &'static str = "WEBP";
    const DESCRIPTION: &'static str = "WebP, lossy and lossless, still and animated (image-webp)";
    const EXTENSIONS: &'static str = ".webp";
    const MODES: &'static str = "iI";
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

    fn can_write(req: &Request<'_>) -> i32 {
        if req.extension() == ".webp" { 100 } else { 0 }
    }

    fn open_reader(req: &Request<'_>) -> Result<WebpReader> {
        req.options()?.check_known("WEBP", &[])?;
        let mut data = Vec::new();
        req.stream()?.take(MAX_FILE).read_to_end(&mut data)?;
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
            meta.push(("icc_profile".to_owned(), Value::Bytes(icc)));
        }
        if let Ok(Some(exif)) = decoder.exif_metadata() {
            meta.push(("exif".to_owned(), Value::Bytes(exif)));
        }
        let frames = if decoder.is_animated() {
            u64::from(decoder.num_frames())
        } else {
            1
        };
        Ok(WebpReader {
            decoder,
            frames,
            next_frame: 0,
            meta,
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<WebpWriter> {
        let options = req.options()?;
        options.check_known("WEBP", &["lossless"])?;
        if options.get_bool("lossless")? == Some(false) {
            return Err(Error::unsupported(
                "lossy WebP encoding is not available in imageio-webp; write lossless (the default)",
            ));
        }
        Ok(WebpWriter {
            stream: req.stream()?,
            global_meta: Vec::new(),
            written: false,
        })
    }
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
            let mut scratch = vec![0u8; size];
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

/// An open WebP writer (one lossless image).
pub struct WebpWriter {
    stream: Stream,
    global_meta: Vec<(String, Value)>,
    written: bool,
}

impl Writer for WebpWriter {
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()> {
        if self.written {
            return Err(Error::unsupported(
                "imageio-webp writes one image per file (animated WebP encoding is not available)",
            ));
        }
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
        let mut out = std::io::BufWriter::new(&mut self.stream);
        let mut encoder = WebPEncoder::new(&mut out);
        for (key, value) in self.global_meta.iter().chain(meta) {
            match (key.as_str(), value) {
                ("icc_profile", Value::Bytes(b)) => encoder.set_icc_profile(b.clone()),
                ("exif", Value::Bytes(b)) => encoder.set_exif_metadata(b.clone()),
                _ => {}
            }
        }
        encoder
            .encode(image.bytes, w32, h32, color)
            .map_err(|e| Error::internal(format!("WebP encoding failed: {e}")))?;
        out.flush()?;
        self.written = true;
        Ok(())
    }

    fn set_meta_data(&mut self, meta: &[(String, Value)]) -> Result<()> {
        self.global_meta = meta.to_vec();
        Ok(())
    }

    fn close(self) -> Result<()> {
        Ok(())
    }
}
