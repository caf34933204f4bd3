//! NPY reading and writing (safe code only).
#![forbid(unsafe_code)]

use imageio_plugin_api::{
    Dtype, Error, Format, ImageSink, ImageView, OptionKind, OptionSpec, Properties, Reader, Request, Result, Signature,
    Stream, Value, Writer,
};
use std::io::{Read, Seek, SeekFrom, Write};

const MAGIC: &[u8] = b"\x93NUMPY";
/// The largest header accepted (numpy's own limit is 10 000 bytes by
/// default; this leaves room for long shapes without trusting a hostile
/// length).
const MAX_HEADER: usize = 1 << 20;

/// The `NPY` format.
pub struct Npy;

impl Format for Npy {
    const NAME: &'static str = "NPY";
    const DESCRIPTION: &'static str = "NumPy's .npy array files (any dtype, order and dimensions)";
    const EXTENSIONS: &'static str = ".npy";
    const MODES: &'static str = "iIvV";
    const SIGNATURES: &'static [Signature] = &[Signature::new(0, MAGIC)];
    const OPTIONS: Option<&'static [OptionSpec]> = Some(&[OptionSpec::read(
        "accept_truncated",
        OptionKind::Bool,
        "false",
        "read a short payload as far as it goes (zeros after; `truncated` in the metadata)",
    )]);
    const DOC: &'static str = "Reads numpy's .npy: every numeric dtype, either byte order, C or Fortran order, any number\n\
        of dimensions; in modes I and V the first axis counts images. Writes C order,\n\
        little-endian; I and V stack the images.";
    const NEEDS_SEEK: bool = true;
    type Reader = NpyReader;
    type Writer = NpyWriter;

    fn can_read(req: &Request<'_>) -> i32 {
        if req.first_bytes().starts_with(MAGIC) { 100 } else { 0 }
    }

    fn open_reader(req: &Request<'_>) -> Result<NpyReader> {
        let options = req.options()?;
        options.check_known("NPY", &[imageio_plugin_api::ACCEPT_TRUNCATED])?;
        let accept_truncated = options.accept_truncated()?;
        let mut stream = req.stream()?;
        let header = read_header(&mut stream)?;
        let data_start = stream.stream_position()?;
        let stacked = matches!(req.image_mode(), 'I' | 'V');
        Ok(NpyReader {
            stream,
            header,
            data_start,
            stacked,
            accept_truncated,
        })
    }

    fn open_writer(req: &Request<'_>) -> Result<NpyWriter> {
        req.options()?.check_known("NPY", &[])?;
        Ok(NpyWriter {
            stream: req.stream()?,
            stacked: matches!(req.image_mode(), 'I' | 'V'),
            frames: 0,
            count_at: 0,
            frame_shape: Vec::new(),
            dtype: None,
        })
    }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    dtype: Dtype,
    /// The file's byte order differs from this machine's.
    swap: bool,
    fortran: bool,
    shape: Vec<u64>,
    descr: String,
}

impl Header {
    fn count(&self) -> Result<u64> {
        imageio_plugin_api::raw::shape_bytes(1, &self.shape)
            .ok_or_else(|| Error::corrupt(format!("the shape {:?} is too large", self.shape)))
    }
}

fn read_header(r: &mut impl Read) -> Result<Header> {
    let mut lead = [0u8; 8];
    r.read_exact(&mut lead)
        .map_err(|_| Error::corrupt("the file is too short for an NPY header"))?;
    if &lead[..6] != MAGIC {
        return Err(Error::corrupt("not an NPY file (no \\x93NUMPY magic)"));
    }
    let (major, minor) = (lead[6], lead[7]);
    let len = match major {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            usize::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)?;
            usize::try_from(u32::from_le_bytes(b)).unwrap_or(usize::MAX)
        }
        _ => {
            return Err(Error::unsupported(format!(
                "NPY version {major}.{minor} is not supported"
            )));
        }
    };
    if len > MAX_HEADER {
        return Err(Error::corrupt(format!("the NPY header claims {len} bytes")));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)
        .map_err(|_| Error::corrupt("the NPY header is truncated"))?;
    let text = if major == 3 {
        String::from_utf8(text).map_err(|_| Error::corrupt("the NPY header is not UTF-8"))?
    } else {
        text.iter().map(|&b| char::from(b)).collect()
    };
    parse_header(&text)
}

/// The value after `'key':` in the header dict.
fn field<'a>(text: &'a str, key: &str) -> Result<&'a str> {
    let pat = format!("'{key}'");
    let at = text
        .find(&pat)
        .ok_or_else(|| Error::corrupt(format!("the NPY header has no '{key}'")))?;
    let rest = text[at + pat.len()..].trim_start();
    rest.strip_prefix(':')
        .map(str::trim_start)
        .ok_or_else(|| Error::corrupt(format!("the NPY header's '{key}' has no value")))
}

fn parse_header(text: &str) -> Result<Header> {
    let descr_field = field(text, "descr")?;
    let quote = descr_field
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| Error::unsupported("structured NPY dtypes are not supported"))?;
    let descr: String = descr_field[1..].chars().take_while(|&c| c != quote).collect();
    let mut chars = descr.chars();
    let order = chars.next();
    let kind = chars.as_str();
    let little = match order {
        Some('<') => true,
        Some('>') => false,
        Some('|' | '=') => cfg!(target_endian = "little"),
        _ => return Err(Error::corrupt(format!("unknown NPY byte order in '{descr}'"))),
    };
    let dtype = match kind {
        "b1" => Dtype::Bool,
        "u1" => Dtype::U8,
        "u2" => Dtype::U16,
        "u4" => Dtype::U32,
        "u8" => Dtype::U64,
        "i1" => Dtype::I8,
        "i2" => Dtype::I16,
        "i4" => Dtype::I32,
        "i8" => Dtype::I64,
        "f4" => Dtype::F32,
        "f8" => Dtype::F64,
        "f2" => Dtype::F16,
        other => {
            return Err(Error::unsupported(format!(
                "NPY dtype '{other}' is not supported (bool, int8-64, uint8-64, float16, float32 and float64 are)"
            )));
        }
    };
    let fortran = match field(text, "fortran_order")? {
        f if f.starts_with("True") => true,
        f if f.starts_with("False") => false,
        _ => return Err(Error::corrupt("the NPY header's 'fortran_order' is not True or False")),
    };
    let shape_field = field(text, "shape")?;
    let inner = shape_field
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| Error::corrupt("the NPY header's 'shape' is not a tuple"))?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let d = part.trim_end_matches('L');
        shape.push(
            d.parse::<u64>()
                .map_err(|_| Error::corrupt(format!("the NPY shape has a bad extent '{part}'")))?,
        );
    }
    let swap = dtype.size() > 1 && little != cfg!(target_endian = "little");
    Ok(Header {
        dtype,
        swap,
        fortran,
        shape,
        descr,
    })
}

/// An open NPY reader.
pub struct NpyReader {
    stream: Stream,
    header: Header,
    data_start: u64,
    stacked: bool,
    /// Read a file whose data ends early as far as it goes (zeros after).
    accept_truncated: bool,
}

/// Reads into `buf` until it is full or the stream ends; the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

/// Reverses the bytes of each `size`-byte element.
fn swap_bytes(bytes: &mut [u8], size: usize) {
    for e in bytes.chunks_exact_mut(size) {
        e.reverse();
    }
}

/// Rearranges Fortran-order elements of `shape` into C order.
fn fortran_to_c(src: &[u8], dst: &mut [u8], shape: &[u64], size: usize) {
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let n = dims.iter().product::<usize>();
    if n == 0 {
        return;
    }
    // Fortran strides (in elements): the first axis varies fastest.
    let mut fstride = vec![1usize; dims.len()];
    for k in 1..dims.len() {
        fstride[k] = fstride[k - 1] * dims[k - 1];
    }
    let mut index = vec![0usize; dims.len()];
    for c in 0..n {
        let f: usize = index.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        dst[c * size..(c + 1) * size].copy_from_slice(&src[f * size..(f + 1) * size]);
        // Advance the C-order index (last axis fastest).
        for k in (0..dims.len()).rev() {
            index[k] += 1;
            if index[k] < dims[k] {
                break;
            }
            index[k] = 0;
        }
    }
}

impl NpyReader {
    fn length(&self) -> u64 {
        if self.stacked {
            self.header.shape.first().copied().unwrap_or(1)
        } else {
            1
        }
    }
}

impl Reader for NpyReader {
    fn get_length(&mut self) -> Result<u64> {
        Ok(self.length())
    }

    fn properties(&mut self, index: u64) -> Result<Properties> {
        // From the header: nothing is read.
        let length = self.length();
        if index >= length {
            return Err(Error::index_out_of_range(index, length));
        }
        let h = &self.header;
        let shape = if self.stacked && !h.shape.is_empty() {
            h.shape[1..].to_vec()
        } else {
            h.shape.clone()
        };
        Ok(Properties { dtype: h.dtype, shape })
    }

    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
        let length = self.length();
        if index >= length {
            return Err(Error::index_out_of_range(index, length));
        }
        let h = self.header.clone();
        let size = h.dtype.size();
        let total = h.count()?;
        let (shape, frame_count) = if self.stacked && !h.shape.is_empty() {
            let per = total.checked_div(h.shape[0]).unwrap_or(0);
            (h.shape[1..].to_vec(), per)
        } else {
            (h.shape.clone(), total)
        };
        let frame_bytes = usize::try_from(frame_count.saturating_mul(size as u64))
            .map_err(|_| Error::no_memory("the NPY array is too large"))?;
        let out = sink.alloc_bytes(h.dtype, &shape)?;
        if out.len() != frame_bytes {
            return Err(Error::internal("unexpected buffer size"));
        }
        let truncated =
            || imageio_plugin_api::truncated_error(format!("the NPY data is truncated (expected {total} elements)"));
        let mut short = false;
        if h.fortran && h.shape.len() > 1 {
            // Read the whole array, then pick this image out in C order.
            let all_bytes = usize::try_from(total.saturating_mul(size as u64))
                .map_err(|_| Error::no_memory("the NPY array is too large"))?;
            let mut all = Vec::new();
            all.try_reserve_exact(all_bytes)
                .map_err(|_| Error::no_memory("no memory for the Fortran-order NPY array"))?;
            self.stream.seek(SeekFrom::Start(self.data_start))?;
            (&mut self.stream).take(all_bytes as u64).read_to_end(&mut all)?;
            if all.len() != all_bytes {
                if !self.accept_truncated {
                    return Err(truncated());
                }
                short = true;
                all.resize(all_bytes, 0);
            }
            let mut c_order = vec![0u8; all_bytes];
            fortran_to_c(&all, &mut c_order, &h.shape, size);
            let start = usize::try_from(index).unwrap_or(0) * frame_bytes;
            out.copy_from_slice(&c_order[start..start + frame_bytes]);
        } else {
            let offset = self.data_start + index * frame_bytes as u64;
            self.stream.seek(SeekFrom::Start(offset))?;
            if read_up_to(&mut self.stream, out)? < out.len() {
                if !self.accept_truncated {
                    return Err(truncated());
                }
                // What is missing stays zero (the host's buffer is zeroed).
                short = true;
            }
        }
        if h.swap {
            swap_bytes(out, size);
        }
        if h.dtype == Dtype::Bool {
            for v in out.iter_mut() {
                *v = u8::from(*v != 0);
            }
        }
        if short {
            sink.set_meta("truncated", &Value::Bool(true))?;
        }
        sink.set_meta("fortran_order", &Value::Bool(h.fortran))?;
        sink.set_meta("descr", &Value::Str(h.descr))?;
        Ok(())
    }

    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()> {
        if let Some(i) = index.filter(|&i| i >= self.length()) {
            return Err(Error::index_out_of_range(i, self.length()));
        }
        sink.set_meta("fortran_order", &Value::Bool(self.header.fortran))?;
        sink.set_meta("descr", &Value::Str(self.header.descr.clone()))?;
        Ok(())
    }
}

/// The `descr` numpy writes for a dtype, little-endian.
fn descr_of(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::Bool => "|b1",
        Dtype::U8 => "|u1",
        Dtype::U16 => "<u2",
        Dtype::U32 => "<u4",
        Dtype::U64 => "<u8",
        Dtype::I8 => "|i1",
        Dtype::I16 => "<i2",
        Dtype::I32 => "<i4",
        Dtype::I64 => "<i8",
        Dtype::F32 => "<f4",
        Dtype::F64 => "<f8",
        Dtype::F16 => "<f2",
    }
}

/// The whole header block: magic, version, length and the padded dict.
fn header_bytes(dtype: Dtype, shape: &[u64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.len() {
        0 => "()".to_owned(),
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    header_with(dtype, &shape_text)
}

/// The width of the first extent of a stacked file's header, written as a
/// placeholder first and overwritten at close (spaces are valid inside a
/// Python tuple: numpy and this reader read `(   3, 9, 11)`).
const COUNT_WIDTH: usize = 20;

/// A header for a stack of `frame` arrays whose count is not known yet: the
/// bytes, and the offset of the count field in them.
fn stacked_header(dtype: Dtype, frame: &[u64]) -> (Vec<u8>, usize) {
    let placeholder = format!("{:>COUNT_WIDTH$}", 0);
    let rest: Vec<String> = frame.iter().map(u64::to_string).collect();
    let shape_text = if rest.is_empty() {
        format!("({placeholder},)")
    } else {
        format!("({placeholder}, {})", rest.join(", "))
    };
    let bytes = header_with(dtype, &shape_text);
    let at = bytes
        .windows(COUNT_WIDTH + 1)
        .position(|w| w[0] == b'(' && w[1..] == *placeholder.as_bytes())
        .expect("the placeholder is in the header")
        + 1;
    (bytes, at)
}

/// The header bytes for `shape_text` (a Python tuple), padded to 64 bytes.
fn header_with(dtype: Dtype, shape_text: &str) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}",
        descr_of(dtype)
    );
    let (version, len_size) = if dict.len() + 1 + 10 < 65536 {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let unpadded = 6 + 2 + len_size + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + pad + 1;
    let mut out = Vec::with_capacity(unpadded + pad);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header_len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

/// The elements' bytes in little-endian order (booleans as 0/1), borrowed
/// when they already are.
fn le_bytes<'a>(image: &ImageView<'a>) -> std::borrow::Cow<'a, [u8]> {
    let swap = cfg!(target_endian = "big") && image.dtype.size() > 1;
    let normalize = image.dtype == Dtype::Bool && image.bytes.iter().any(|&b| b > 1);
    if !swap && !normalize {
        return std::borrow::Cow::Borrowed(image.bytes);
    }
    let mut bytes = image.bytes.to_vec();
    if swap {
        swap_bytes(&mut bytes, image.dtype.size());
    }
    if normalize {
        for b in &mut bytes {
            *b = u8::from(*b != 0);
        }
    }
    std::borrow::Cow::Owned(bytes)
}

/// An open NPY writer: one array is written as it is appended; stacked
/// images are kept until `close`, when their count (the header's first
/// extent) is known.
pub struct NpyWriter {
    stream: Stream,
    stacked: bool,
    /// Stacked images written so far.
    frames: u64,
    /// Where the count of a stacked file's header is, in the stream.
    count_at: u64,
    frame_shape: Vec<u64>,
    dtype: Option<Dtype>,
}

impl Writer for NpyWriter {
    fn append_data(&mut self, image: &ImageView<'_>, _meta: &[(String, Value)]) -> Result<()> {
        match self.dtype {
            None => {
                self.dtype = Some(image.dtype);
                self.frame_shape = image.shape.to_vec();
            }
            Some(_) if !self.stacked => {
                return Err(Error::unsupported(
                    "an NPY file holds one array; write several images in mode 'I' or 'V' to stack them",
                ));
            }
            Some(d) if d != image.dtype || self.frame_shape != image.shape => {
                return Err(Error::invalid_argument(format!(
                    "stacked NPY images must share shape and dtype: the first was {:?} {}, this one {:?} {}",
                    self.frame_shape,
                    d.name(),
                    image.shape,
                    image.dtype.name()
                )));
            }
            Some(_) => {}
        }
        if self.stacked {
            // Streamed: each image is written as it comes (nothing is kept),
            // under a header whose count is filled in at close.
            if self.frames == 0 {
                let (header, at) = stacked_header(image.dtype, image.shape);
                self.count_at = self.stream.stream_position()? + at as u64;
                self.stream.write_all(&header)?;
            }
            self.stream.write_all(&le_bytes(image))?;
            self.frames += 1;
        } else {
            self.stream.write_all(&header_bytes(image.dtype, image.shape))?;
            self.stream.write_all(&le_bytes(image))?;
        }
        Ok(())
    }

    fn close(mut self) -> Result<()> {
        if self.dtype.is_none() {
            return Err(Error::invalid_argument("no array was written to the NPY file"));
        }
        if self.stacked {
            let end = self.stream.stream_position()?;
            self.stream.seek(SeekFrom::Start(self.count_at))?;
            self.stream
                .write_all(format!("{:>COUNT_WIDTH$}", self.frames).as_bytes())?;
            self.stream.seek(SeekFrom::Start(end))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let h = parse_header("{'descr': '>i2', 'fortran_order': True, 'shape': (3, 4), }").unwrap();
        assert_eq!(h.dtype, Dtype::I16);
        assert!(h.fortran && h.swap);
        assert_eq!(h.shape, [3, 4]);
        let h = parse_header("{'descr': '|u1', 'fortran_order': False, 'shape': (), }").unwrap();
        assert!(h.shape.is_empty() && !h.swap);
        let h = parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }").unwrap();
        assert_eq!(h.shape, [5]);
        let e = parse_header("{'descr': '<c16', 'fortran_order': False, 'shape': (5,), }").unwrap_err();
        assert!(e.to_string().contains("'c16' is not supported"), "{e}");
        let e = parse_header("{'descr': [('x', '<i4')], 'fortran_order': False, 'shape': (5,), }").unwrap_err();
        assert!(e.to_string().contains("structured"), "{e}");
        // Latin-1 bytes in a damaged header are characters, not a panic.
        let e = parse_header("{'descr': '\u{e9}i4', 'fortran_order': False, 'shape': (5,), }").unwrap_err();
        assert!(e.to_string().contains("unknown NPY byte order"), "{e}");
    }

    #[test]
    fn header_is_aligned_and_parses_back() {
        for shape in [vec![], vec![7], vec![2, 3, 4]] {
            let b = header_bytes(Dtype::U16, &shape);
            assert_eq!(b.len() % 64, 0);
            let h = read_header(&mut &b[..]).unwrap();
            assert_eq!(h.shape, shape);
            assert_eq!(h.dtype, Dtype::U16);
        }
    }

    #[test]
    fn fortran_order_transposes() {
        // shape (2, 3): Fortran memory is column by column.
        let f: Vec<u8> = vec![1, 4, 2, 5, 3, 6];
        let mut c = vec![0u8; 6];
        fortran_to_c(&f, &mut c, &[2, 3], 1);
        assert_eq!(c, [1, 2, 3, 4, 5, 6]);
    }
}
