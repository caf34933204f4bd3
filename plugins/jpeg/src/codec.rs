//! JPEG reading and writing (safe code only).
#![forbid(unsafe_code)]

use crate::exif;
use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, MetaBudget, OptionKind, OptionSpec, Properties, Reader, Request,
    Result, Signature, Stream, Value, Writer, image_shape,
};
use std::io::Write;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// The `JPEG` format.
pub struct Jpeg;

impl Format for Jpeg {
    const NAME: &'static str = "JPEG";
    const DESCRIPTION: &'static str = crate::encode::DESCRIPTION;
    const EXTENSIONS: &'static str = ".jpg .jpeg .jpe .jfif";
    const MODES: &'static str = "i";
    const SIGNATURES: &'static [Signature] = &[Signature::new(0, &[0xFF, 0xD8, 0xFF])];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[
        OptionSpec::read(
            "accept_truncated",
            OptionKind::Bool,
            "false",
            "read a cut or damaged file as far as it goes (`truncated` in the metadata)",
        ),
        OptionSpec::write("quality", OptionKind::Int, "75", "1 (worst) to 100 (best)"),
        OptionSpec::write("progressive", OptionKind::Bool, "false", "write a progressive JPEG"),
        OptionSpec::write("optimize", OptionKind::Bool, "false", "optimise the Huffman tables"),
        OptionSpec::write(
            "colorspace",
            OptionKind::Str,
            "RGB",
            "\"CMYK\" writes a 4-channel image as CMYK",
        ),
        OptionSpec::write(
            "subsampling",
            OptionKind::Any,
            "4:2:0",
            "-1, 0 (4:4:4), 1 (4:2:2), 2 (4:2:0), or the same as text",
        ),
    ]);
    const DOC: &'static str = "Reads baseline and progressive JPEGs: gray (H, W), RGB, and CMYK (H, W, 4) with Adobe's\n\
        inversion undone, uint8. Writes uint8 gray and RGB, and CMYK only when asked for. Strict: a\n\
        cut or damaged file is an error unless accept_truncated=true.\n\
        Metadata: colorspace (str), orientation (int, EXIF, reported not applied), exif (bytes),\n\
        icc_profile (bytes), dpi ([x, y] floats), progressive (bool); written: exif, icc_profile, dpi.";
    type Reader = JpegReader;
    type Writer = JpegWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        if matches!(req.image_mode(), 'i' | '?') && req.first_bytes().starts_with(&[0xFF, 0xD8, 0xFF]) {
            100
        } else {
            0
        }
    }

    fn open_reader(req: &Request<'_>) -> Result<JpegReader> {
        let options = req.options()?;
        options.check_known("JPEG", &["accept_truncated"])?;
        let accept_truncated = options.get_bool("accept_truncated")?.unwrap_or(false);
        let data = req.stream()?.read_to_end_bounded("JPEG", &req.limits())?;
        if !data.starts_with(&[0xFF, 0xD8]) {
            return Err(Error::corrupt("not a JPEG file (no SOI marker)"));
        }
        let layout = crate::layout::walk(&data);
        // The profile and EXIF block are bounded before the decoder copies
        // them (the profile can span 255 segments: 16 MiB).
        let mut budget = MetaBudget::new("JPEG", &req.limits());
        budget.spend("the ICC profile (APP2 segments)", layout.icc_bytes)?;
        budget.spend("the EXIF block (APP1)", layout.exif_bytes)?;
        // JPEG's own size limit, not zune-jpeg's default of 16384: the
        // request's limits judge the image's size.
        let header_options = DecoderOptions::default().set_max_width(65535).set_max_height(65535);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(&data[..]), header_options);
        let headers = decoder.decode_headers();
        // A file that cannot be whole is refused now (its truncation named
        // rather than the decoder's first complaint about it), or with
        // accept_truncated read as far as it goes and marked truncated.
        let size = decoder.info().map(|i| (i.width, i.height));
        let cut_short = match (check_whole(&layout, data.len(), size), headers) {
            (Err(e), _) if !accept_truncated => return Err(e),
            (_, Err(e)) => return Err(decoding_error(e)),
            (Err(e), Ok(())) => Some(e.message),
            (Ok(()), Ok(())) => None,
        };
        let input = decoder
            .input_colorspace()
            .ok_or_else(|| Error::corrupt("the JPEG header names no colour space"))?;
        let info = decoder
            .info()
            .ok_or_else(|| Error::corrupt("the JPEG header could not be read"))?;
        let exif = decoder.exif().cloned().map(|e| {
            if e.starts_with(b"Exif\0\0") {
                e
            } else {
                [b"Exif\0\0".as_slice(), &e].concat()
            }
        });
        let icc = decoder.icc_profile();
        let mut meta = Vec::new();
        if let Some(e) = &exif {
            if let Some(o) = exif::orientation(e) {
                meta.push(("orientation".to_owned(), Value::Int(i64::from(o))));
            }
            meta.push(("exif".to_owned(), Value::Bytes(e.clone())));
        }
        if let Some(icc) = icc {
            meta.push(("icc_profile".to_owned(), Value::Bytes(icc)));
        }
        if let Some((unit, x, y)) = layout.density {
            let scale = if unit == 2 { 2.54 } else { 1.0 };
            meta.push((
                "dpi".to_owned(),
                Value::FloatArray(vec![f64::from(x) * scale, f64::from(y) * scale]),
            ));
        }
        meta.push(("progressive".to_owned(), Value::Bool(layout.progressive)));
        let out = match input {
            ColorSpace::Luma => ColorSpace::Luma,
            ColorSpace::CMYK => ColorSpace::CMYK,
            _ => ColorSpace::RGB,
        };
        let colorspace = match out {
            ColorSpace::Luma => "L",
            ColorSpace::CMYK => "CMYK",
            _ => "RGB",
        };
        meta.push(("colorspace".to_owned(), Value::Str(colorspace.to_owned())));
        Ok(JpegReader {
            data,
            out,
            invert: out == ColorSpace::CMYK && layout.adobe,
            size: (u64::from(info.height), u64::from(info.width)),
            meta,
            accept_truncated,
            cut_short,
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<JpegWriter> {
        let options = req.options()?;
        options.check_known(
            "JPEG",
            &["quality", "progressive", "optimize", "colorspace", "subsampling"],
        )?;
        let subsampling = match options.get("subsampling") {
            None | Some(Value::Int(-1)) => crate::encode::Subsampling::S420,
            Some(Value::Int(0)) => crate::encode::Subsampling::S444,
            Some(Value::Int(1)) => crate::encode::Subsampling::S422,
            Some(Value::Int(2)) => crate::encode::Subsampling::S420,
            Some(Value::Str(s)) if s == "4:4:4" => crate::encode::Subsampling::S444,
            Some(Value::Str(s)) if s == "4:2:2" => crate::encode::Subsampling::S422,
            Some(Value::Str(s)) if s == "4:2:0" => crate::encode::Subsampling::S420,
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "JPEG option \"subsampling\" must be -1 (the default, 4:2:0), 0, 1, 2, \"4:4:4\", \
                     \"4:2:2\" or \"4:2:0\" (as in Pillow), not {other:?}"
                )));
            }
        };
        let cmyk = match options.get("colorspace") {
            None => false,
            Some(Value::Str(s)) if s.eq_ignore_ascii_case("cmyk") => true,
            Some(Value::Str(s)) if ["rgb", "l", "gray"].iter().any(|c| s.eq_ignore_ascii_case(c)) => false,
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "JPEG option \"colorspace\" must be \"CMYK\", \"RGB\" or \"L\", not {other:?}"
                )));
            }
        };
        let quality = match options.get_int("quality")? {
            None => 75,
            Some(q @ 1..=100) => q as u8,
            Some(q) => {
                return Err(Error::invalid_argument(format!(
                    "JPEG option \"quality\" must be 1..100, not {q}"
                )));
            }
        };
        Ok(JpegWriter {
            stream: req.stream()?,
            quality,
            progressive: options.get_bool("progressive")?.unwrap_or(false),
            optimize: options.get_bool("optimize")?.unwrap_or(false),
            subsampling,
            global_meta: Vec::new(),
            written: false,
            cmyk,
        })
    }
}

/// Refuses a file that cannot be whole, before anything is decoded or
/// allocated: one whose scans hold fewer bits than the frame has 8x8 blocks
/// (every block costs at least one bit of Huffman code in every scan that
/// codes it: a 629-byte file claiming 30000x30000 pixels would otherwise
/// decode to 2.5 GB of invented gray), and one that does not end with its
/// EOI marker (cut short; Pillow refuses both too).
fn check_whole(layout: &crate::layout::Layout, file_bytes: usize, decoded_size: Option<(u16, u16)>) -> Result<()> {
    if !layout.has_eoi && !layout.malformed {
        return Err(imageio_plugin_api::truncated_error(if layout.scans > 0 {
            "JPEG: the file ends before its end-of-image marker (EOI): the last scan is cut short"
        } else {
            "JPEG: the file ends before its image data (inside its headers)"
        }));
    }
    // Where the walk found no frame header the decoder did (a file our
    // walk cannot follow), its size still bounds the blocks: every
    // component is at least a quarter of it each way (sampling factors are
    // at most 4). Where the walk reached no scan, the whole file bounds the
    // image data. The check is never vacuous.
    let (blocks, (w, h)) = match (&layout.frame, decoded_size) {
        (Some(f), _) => (layout.blocks(), (f.0, f.1)),
        (None, Some((w, h))) => (u64::from(w).div_ceil(32) * u64::from(h).div_ceil(32), (w, h)),
        (None, None) => (0, (0, 0)),
    };
    let entropy = if layout.scans == 0 {
        file_bytes as u64
    } else {
        layout.entropy_bytes
    };
    if entropy.saturating_mul(8) < blocks {
        return Err(imageio_plugin_api::truncated_error(format!(
            "JPEG: the header claims {w}x{h} pixels ({blocks} blocks of 8x8) but the {file_bytes}-byte file holds \
             {entropy} bytes of image data, fewer than one bit per block: the data cannot hold the image"
        )));
    }
    Ok(())
}

fn decoding_error(e: zune_jpeg::errors::DecodeErrors) -> Error {
    Error::corrupt(format!("JPEG: {e}"))
}

/// An open JPEG reader (the encoded file is held in memory).
pub struct JpegReader {
    data: Vec<u8>,
    out: ColorSpace,
    invert: bool,
    size: (u64, u64),
    meta: Vec<(String, Value)>,
    /// Decode a truncated or damaged file as far as it goes (and say so in
    /// the metadata) instead of failing.
    accept_truncated: bool,
    /// Why the file's layout shows it cut short (only kept with
    /// `accept_truncated`: otherwise `open` refused it).
    cut_short: Option<String>,
}

impl Reader for JpegReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(1)
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        // From the headers read at open: nothing is decoded.
        if index != 0 {
            return Err(Error::index_out_of_range(index, 1));
        }
        let (h, w) = self.size;
        Ok(Properties {
            dtype: Dtype::U8,
            shape: image_shape(h, w, self.out.num_components() as u64),
        })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        if index != 0 {
            return Err(Error::index_out_of_range(index, 1));
        }
        let (h, w) = self.size;
        let channels = self.out.num_components() as u64;
        let buf = sink.alloc::<u8>(&image_shape(h, w, channels))?;
        // Strict by default: a truncated or damaged file is an error, never
        // an image with invented (gray) pixels.
        let damage = match self.decode(buf, true) {
            Ok(()) => self.cut_short.clone(),
            Err(e) if self.accept_truncated => {
                buf.fill(0);
                self.decode(buf, false)?;
                Some(e.message)
            }
            Err(e) => {
                return Err(Error::corrupt(format!(
                    "{} (the file is truncated or damaged; the option accept_truncated=true reads what there is)",
                    e.message
                )));
            }
        };
        if self.invert {
            for v in buf.iter_mut() {
                *v = 255 - *v;
            }
        }
        for (k, v) in &self.meta {
            sink.set_meta(k, v)?;
        }
        if let Some(why) = damage {
            log::warn!("JPEG: reading a damaged file as far as it goes: {why}");
            sink.set_meta("truncated", &Value::Bool(true))?;
        }
        Ok(())
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        if let Some(i) = index.filter(|&i| i != 0) {
            return Err(Error::index_out_of_range(i, 1));
        }
        for (k, v) in &self.meta {
            sink.set_meta(k, v)?;
        }
        Ok(())
    }
}

impl JpegReader {
    /// Decodes the image into `buf` (`strict`: any damage is an error).
    fn decode(&self, buf: &mut [u8], strict: bool) -> Result<()> {
        let options = DecoderOptions::default()
            .jpeg_set_out_colorspace(self.out)
            .set_max_width(65535)
            .set_max_height(65535)
            .set_strict_mode(strict);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(&self.data[..]), options);
        decoder.decode_headers().map_err(decoding_error)?;
        let expected = decoder
            .output_buffer_size()
            .ok_or_else(|| Error::corrupt("the JPEG header could not be read"))?;
        if buf.len() != expected {
            let (h, w) = self.size;
            return Err(Error::corrupt(format!(
                "the JPEG decoder's output ({expected} bytes) does not match the header's size {w}x{h}x{}",
                self.out.num_components()
            )));
        }
        decoder.decode_into(buf).map_err(decoding_error)
    }
}

/// An open JPEG writer (one image).
pub struct JpegWriter {
    stream: Stream,
    quality: u8,
    progressive: bool,
    optimize: bool,
    /// The chroma subsampling of YCbCr files.
    subsampling: crate::encode::Subsampling,
    global_meta: Vec<(String, Value)>,
    written: bool,
    /// CMYK was asked for (the option `colorspace="CMYK"`).
    cmyk: bool,
}

/// Whether metadata says the image is CMYK (`colorspace = "CMYK"`, as the
/// reader reports a CMYK file).
fn asks_cmyk<'a>(mut meta: impl Iterator<Item = &'a (String, Value)>) -> bool {
    meta.any(|(k, v)| k == "colorspace" && matches!(v, Value::Str(s) if s.eq_ignore_ascii_case("cmyk")))
}

impl Writer for JpegWriter {
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()> {
        if self.written {
            return Err(Error::unsupported(
                "a JPEG file holds one image; this one already has it",
            ));
        }
        if image.dtype != Dtype::U8 {
            return Err(Error::unsupported(format!(
                "JPEG stores uint8 images, not {} (convert the image first)",
                image.dtype.name()
            )));
        }
        let (h, w, c) = image.hwc("JPEG")?;
        let (Ok(h16), Ok(w16)) = (u16::try_from(h), u16::try_from(w)) else {
            return Err(Error::invalid_argument(format!(
                "JPEG images are at most 65535x65535, not {w}x{h}"
            )));
        };
        let components = match c {
            1 | 3 => c as u8,
            // Four channels are CMYK only when asked for: an RGBA image must
            // never silently become a CMYK file.
            4 if self.cmyk || asks_cmyk(self.global_meta.iter().chain(meta)) => 4,
            4 => {
                return Err(Error::unsupported(format!(
                    "JPEG has no alpha channel: a 4-channel image (shape {:?}) is written only as CMYK, \
                     with the option colorspace=\"CMYK\" (or the metadata colorspace=\"CMYK\" a CMYK JPEG \
                     reads with); drop the alpha channel to write RGB",
                    image.shape
                )));
            }
            other => {
                return Err(Error::unsupported(format!(
                    "JPEG stores gray, RGB or CMYK images, not {other} channels (shape {:?})",
                    image.shape
                )));
            }
        };
        let mut job = crate::encode::Job {
            pixels: image.bytes,
            width: w16,
            height: h16,
            components,
            quality: self.quality,
            progressive: self.progressive,
            optimize: self.optimize,
            subsampling: self.subsampling,
            density: None,
            exif: None,
            icc: None,
        };
        for (key, value) in self.global_meta.iter().chain(meta) {
            match (key.as_str(), value) {
                ("exif", Value::Bytes(b)) => {
                    let payload = if b.starts_with(b"Exif\0\0") {
                        b.clone()
                    } else {
                        [b"Exif\0\0".as_slice(), b].concat()
                    };
                    job.exif = Some(payload);
                }
                ("icc_profile", Value::Bytes(b)) => job.icc = Some(b.clone()),
                ("dpi", Value::FloatArray(d)) if d.len() == 2 => {
                    let clamp = |v: f64| v.round().clamp(1.0, 65535.0) as u16;
                    job.density = Some((clamp(d[0]), clamp(d[1])));
                }
                _ => {}
            }
        }
        let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut self.stream);
        crate::encode::encode(&job, &mut out)?;
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
