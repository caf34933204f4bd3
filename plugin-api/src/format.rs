//! The traits a Rust plugin implements: [`Format`], [`Reader`], [`Writer`].

use crate::error::{Error, Result};
use crate::request::Request;
use crate::sink::{Dtype, Element, ImageSink};
use crate::value::Value;

/// One imageio `Format`. The associated constants fill the format's static
/// table; the functions are called through the SDK's panic-guarded shims.
pub trait Format: Sized + 'static {
    /// Short upper-case name (`PNG`).
    const NAME: &'static str;
    /// One line for people.
    const DESCRIPTION: &'static str;
    /// Space-separated extensions with dots (`.png`).
    const EXTENSIONS: &'static str;
    /// Supported image modes, a subset of `iIvV`.
    const MODES: &'static str;
    /// Whether different instances may run on different threads at once.
    /// Leave it `true` unless the format has unsynchronised global state.
    const THREAD_SAFE: bool = true;
    /// Whether the reader seeks its stream.
    const NEEDS_SEEK: bool = false;
    /// Byte signatures of the format's files (ABI 1.1; see [`Signature`]).
    /// Empty: the host asks `can_read` about every source.
    const SIGNATURES: &'static [Signature] = &[];
    /// The options the format knows (ABI 1.2; see [`OptionSpec`]). With
    /// `Some`, the host refuses any other option, and a value of the wrong
    /// kind, before the plugin runs; `None` (the default) leaves the check
    /// to the plugin (`Options::check_known`).
    const OPTIONS: Option<&'static [OptionSpec]> = None;
    /// The format's own documentation (ABI 1.2): what it reads and writes,
    /// its options, its metadata keys. Shown by `Format::doc` and
    /// `imageio formats NAME`; empty: none.
    const DOC: &'static str = "";
    /// The reader type, or [`Unsupported`].
    type Reader: Reader;
    /// The writer type, or [`Unsupported`].
    type Writer: Writer;

    /// Confidence 0..100 that this format can read `req` (look at
    /// `first_bytes`, `extension` and the modes; never at the stream).
    fn can_read(req: &Request<'_>) -> i32 {
        let _ = req;
        0
    }

    /// Confidence 0..100 that this format can write `req`. The default:
    /// 100 when the format has a writer, the request's extension is one of
    /// [`EXTENSIONS`](Self::EXTENSIONS) and its image mode is `?` or one of
    /// [`MODES`](Self::MODES); else 0.
    fn can_write(req: &Request<'_>) -> i32 {
        if Self::Writer::SUPPORTED
            && lists_extension(Self::EXTENSIONS, req.extension())
            && fits_mode(Self::MODES, req.image_mode())
        {
            100
        } else {
            0
        }
    }

    /// Opens a reader on `req.stream()`.
    fn open_reader(req: &Request<'_>) -> Result<Self::Reader> {
        let _ = req;
        Err(Error::unsupported(format!("format {} cannot read", Self::NAME)))
    }

    /// Opens a writer on `req.stream()`.
    fn open_writer(req: &Request<'_>) -> Result<Self::Writer> {
        let _ = req;
        Err(Error::unsupported(format!("format {} cannot write", Self::NAME)))
    }
}

/// A format's extension list as imageio reads it: entries separated by
/// spaces or commas, each becoming `.` + the entry without dots, in lower
/// case. The host registers a format's extensions with this function.
///
/// ```
/// use imageio_plugin_api::parse_extensions;
/// assert_eq!(parse_extensions(".tif TIFF,.Tiff."), [".tif", ".tiff", ".tiff"]);
/// ```
pub fn parse_extensions(list: &str) -> Vec<String> {
    list.split([' ', ','])
        .filter(|e| !e.is_empty())
        .map(|e| format!(".{}", e.trim_matches('.').to_lowercase()))
        .collect()
}

/// Whether `extension` (`.png`, any case) is in a format's extension list
/// (as [`parse_extensions`] reads it).
///
/// ```
/// use imageio_plugin_api::lists_extension;
/// assert!(lists_extension(".tif .tiff", ".TIFF"));
/// assert!(lists_extension("jpg,jpeg", ".jpeg"));
/// assert!(!lists_extension(".tif", ""));
/// ```
pub fn lists_extension(extensions: &str, extension: &str) -> bool {
    let ext = format!(".{}", extension.trim_matches('.').to_lowercase());
    ext.len() > 1 && parse_extensions(extensions).contains(&ext)
}

/// Whether a request's image mode (`i`, `I`, `v`, `V` or `?`) fits a
/// format's modes.
pub fn fits_mode(modes: &str, image_mode: char) -> bool {
    image_mode == '?' || modes.contains(image_mode)
}

/// An open reader (imageio's `Format.Reader`).
pub trait Reader: Send + Sized + 'static {
    /// Whether this is a real reader (only [`Unsupported`] says no).
    const SUPPORTED: bool = true;
    /// Number of images, or `IIO_LENGTH_UNKNOWN` (`u64::MAX`).
    fn get_length(&mut self) -> Result<u64>;
    /// Decodes image `index` into `sink` (use [`Error::index_out_of_range`]
    /// for an index that does not exist).
    fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()>;
    /// Reports the metadata of image `index`, or the global metadata for
    /// `None`, through [`ImageSink::set_meta`].
    fn get_meta_data(&mut self, index: Option<u64>, sink: &mut ImageSink<'_>) -> Result<()>;

    /// Image `index`'s dtype and shape, exactly what `get_data(index)`
    /// would deliver, read from headers or frame tables without decoding
    /// pixels (ABI 1.2). The default answers "unsupported": the host then
    /// decodes the image to find out.
    fn properties(&mut self, index: u64) -> Result<Properties> {
        let _ = index;
        Err(Error::unsupported("no properties without decoding"))
    }
    /// Releases the reader.
    fn close(self) -> Result<()> {
        Ok(())
    }
}

/// An open writer (imageio's `Format.Writer`).
pub trait Writer: Send + Sized + 'static {
    /// Whether this is a real writer (only [`Unsupported`] says no).
    const SUPPORTED: bool = true;
    /// Appends one image with its metadata.
    fn append_data(&mut self, image: &ImageView<'_>, meta: &[(String, Value)]) -> Result<()>;
    /// Sets the file's global metadata.
    fn set_meta_data(&mut self, meta: &[(String, Value)]) -> Result<()> {
        let _ = meta;
        Ok(())
    }
    /// Finishes the file (flush, trailers). Errors here fail the write.
    fn close(self) -> Result<()>;
}

/// The reader or writer of a format that cannot read or cannot write.
#[derive(Debug)]
pub enum Unsupported {}

impl Reader for Unsupported {
    const SUPPORTED: bool = false;
    fn get_length(&mut self) -> Result<u64> {
        match *self {}
    }
    fn get_data(&mut self, _: u64, _: &mut ImageSink<'_>) -> Result<()> {
        match *self {}
    }
    fn get_meta_data(&mut self, _: Option<u64>, _: &mut ImageSink<'_>) -> Result<()> {
        match *self {}
    }
}

impl Writer for Unsupported {
    const SUPPORTED: bool = false;
    fn append_data(&mut self, _: &ImageView<'_>, _: &[(String, Value)]) -> Result<()> {
        match *self {}
    }
    fn close(self) -> Result<()> {
        match self {}
    }
}

/// An image handed to a writer: C-contiguous data of one dtype.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    /// The element type.
    pub dtype: Dtype,
    /// The extents, outermost first.
    pub shape: &'a [u64],
    /// The elements' bytes in C order, native byte order.
    pub bytes: &'a [u8],
}

impl<'a> ImageView<'a> {
    /// The elements as `T`, or `None` if the dtype differs.
    pub fn as_slice<T: Element>(&self) -> Option<&'a [T]> {
        if self.dtype != T::DTYPE || !self.bytes.as_ptr().cast::<T>().is_aligned() {
            return None;
        }
        let len = self.bytes.len() / size_of::<T>();
        // SAFETY: the bytes are aligned for `T` (checked), hold `len` elements
        // of `T` (dtype checked) and every bit pattern is a valid `T`.
        Some(unsafe { core::slice::from_raw_parts(self.bytes.as_ptr().cast::<T>(), len) })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.dtype.size()
    }

    /// The elements as bytes for an 8-bit format: `uint8` as is, `bool` as
    /// 0/255; any other dtype is an error naming the format and the dtype.
    pub fn u8_or_bool(&self, format: &str) -> Result<std::borrow::Cow<'a, [u8]>> {
        match self.dtype {
            Dtype::U8 => Ok(std::borrow::Cow::Borrowed(self.bytes)),
            Dtype::Bool => Ok(std::borrow::Cow::Owned(
                self.bytes.iter().map(|&b| if b != 0 { 255 } else { 0 }).collect(),
            )),
            other => Err(Error::unsupported(format!(
                "{format} stores uint8 (or bool) images, not {} (convert the image first)",
                other.name()
            ))),
        }
    }

    /// `(height, width, channels)` of an image shaped `(H, W)` (one
    /// channel) or `(H, W, C)`, or an error naming the format and the shape.
    pub fn hwc(&self, format: &str) -> Result<(u64, u64, u64)> {
        match *self.shape {
            [h, w] if h > 0 && w > 0 => Ok((h, w, 1)),
            [h, w, c] if h > 0 && w > 0 && c > 0 => Ok((h, w, c)),
            _ => Err(Error::invalid_argument(format!(
                "{format} needs an image shaped (H, W) or (H, W, C), not {:?}",
                self.shape
            ))),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The array shape imageio uses for an image of `channels` channels:
/// `(H, W)` for one channel, else `(H, W, C)`.
pub fn image_shape(height: u64, width: u64, channels: u64) -> Vec<u64> {
    if channels == 1 {
        vec![height, width]
    } else {
        vec![height, width, channels]
    }
}

/// The display time of frame `index` of an animation, in milliseconds: the
/// frame's own `duration` metadata (a number) if it has one, else the
/// `duration` option (`per_frame`: one value for every frame, or one per
/// frame, the last repeated), else 0.
pub fn frame_duration_ms(meta: &[(String, Value)], per_frame: &[f64], index: usize) -> f64 {
    meta.iter()
        .find(|(k, _)| k == "duration")
        .and_then(|(_, v)| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        })
        .or_else(|| per_frame.get(index).or(per_frame.last()).copied())
        .unwrap_or(0.0)
}

/// The default bound on an animation's decoding cost (frames x canvas,
/// about 4.3 billion pixels): [`Limits::DEFAULT`](crate::Limits::DEFAULT)'s
/// `max_total_pixels`.
pub const MAX_ANIMATION_PIXELS: u64 = crate::Limits::DEFAULT.max_total_pixels;

/// [`Limits::check_animation`](crate::Limits::check_animation) under the
/// default limits. Prefer the request's limits (`req.limits()`), which the
/// caller may have changed.
pub fn check_animation(format: &str, frames: u64, width: u64, height: u64) -> Result<()> {
    crate::Limits::DEFAULT.check_animation(format, frames, width, height)
}

/// A byte signature of a format's files (ABI 1.1): the bytes at `offset`,
/// compared under an optional mask. A format that lists signatures is
/// offered only sources that match one (the host checks them without
/// loading the plugin); it is still asked `can_read` for those.
///
/// ```
/// use imageio_plugin_api::Signature;
/// const PNG: Signature = Signature::new(0, b"\x89PNG\r\n\x1a\n");
/// // "RIFF", any 4 size bytes, "WEBP".
/// const WEBP: Signature = Signature::masked(0, b"RIFF\0\0\0\0WEBP", b"\xff\xff\xff\xff\0\0\0\0\xff\xff\xff\xff");
/// assert!(PNG.matches(b"\x89PNG\r\n\x1a\n...."));
/// assert!(WEBP.matches(b"RIFF\x10\0\0\0WEBPVP8 "));
/// assert!(!WEBP.matches(b"RIFF\x10\0\0\0WAVE"));
/// ```
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct Signature(pub(crate) crate::ffi::iio_signature);

// SAFETY: a signature points only to `'static` immutable bytes.
unsafe impl Sync for Signature {}

impl Signature {
    /// `bytes` at `offset`, every bit compared.
    pub const fn new(offset: u32, bytes: &'static [u8]) -> Signature {
        Signature(crate::ffi::iio_signature {
            offset,
            _reserved: 0,
            bytes: bytes.as_ptr(),
            mask: core::ptr::null(),
            len: bytes.len(),
        })
    }

    /// `bytes` at `offset`, compared where `mask` has bits set. `mask` must
    /// be as long as `bytes` (checked when the table is built).
    pub const fn masked(offset: u32, bytes: &'static [u8], mask: &'static [u8]) -> Signature {
        assert!(
            bytes.len() == mask.len(),
            "a signature's mask must be as long as its bytes"
        );
        Signature(crate::ffi::iio_signature {
            offset,
            _reserved: 0,
            bytes: bytes.as_ptr(),
            mask: mask.as_ptr(),
            len: bytes.len(),
        })
    }

    /// The ABI form.
    pub const fn as_raw(&self) -> &crate::ffi::iio_signature {
        &self.0
    }

    /// Whether `first_bytes` (the source's leading bytes) match.
    pub fn matches(&self, first_bytes: &[u8]) -> bool {
        // SAFETY: built from `'static` slices of `len` bytes (the constructors).
        let (bytes, mask) = unsafe {
            (
                crate::raw::slice(self.0.bytes, self.0.len),
                (!self.0.mask.is_null()).then(|| crate::raw::slice(self.0.mask, self.0.len)),
            )
        };
        crate::raw::signature_matches(self.0.offset as usize, bytes, mask, first_bytes)
    }
}

/// An image's dtype and shape, as [`Reader::properties`] reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    /// The element type.
    pub dtype: Dtype,
    /// The extents (at most 32).
    pub shape: Vec<u64>,
}

/// The kind of value an option takes (what the host checks, ABI 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// Any value.
    Any = crate::ffi::IIO_OPTION_ANY as isize,
    /// A boolean.
    Bool = crate::ffi::IIO_OPTION_BOOL as isize,
    /// An integer (a boolean counts as 0/1).
    Int = crate::ffi::IIO_OPTION_INT as isize,
    /// A number.
    Float = crate::ffi::IIO_OPTION_FLOAT as isize,
    /// Text.
    Str = crate::ffi::IIO_OPTION_STR as isize,
    /// A number or a list of numbers.
    Numbers = crate::ffi::IIO_OPTION_NUMBERS as isize,
    /// Bytes.
    Bytes = crate::ffi::IIO_OPTION_BYTES as isize,
}

/// One option a format declares in [`Format::OPTIONS`]: a static table
/// entry.
///
/// ```
/// use imageio_plugin_api::{OptionKind, OptionSpec};
/// const OPTIONS: &[OptionSpec] = &[
///     OptionSpec::write("quality", OptionKind::Int, "75", "1 (worst) to 100 (best)"),
///     OptionSpec::read("accept_truncated", OptionKind::Bool, "false", "read a cut file, zeros after"),
/// ];
/// assert_eq!(OPTIONS[0].name(), "quality");
/// ```
#[repr(transparent)]
pub struct OptionSpec(crate::ffi::iio_option_decl);

// SAFETY: an option declaration holds pointers to static strings only.
unsafe impl Sync for OptionSpec {}

impl OptionSpec {
    const fn new(
        name: &'static str,
        kind: OptionKind,
        applies: u32,
        default: &'static str,
        doc: &'static str,
    ) -> OptionSpec {
        OptionSpec(crate::ffi::iio_option_decl {
            name: crate::export::str_lit(name),
            kind: kind as u32,
            applies,
            default_value: crate::export::str_lit(default),
            doc: crate::export::str_lit(doc),
        })
    }

    /// An option for reading.
    pub const fn read(name: &'static str, kind: OptionKind, default: &'static str, doc: &'static str) -> OptionSpec {
        OptionSpec::new(name, kind, crate::ffi::IIO_CAP_READ, default, doc)
    }

    /// An option for writing.
    pub const fn write(name: &'static str, kind: OptionKind, default: &'static str, doc: &'static str) -> OptionSpec {
        OptionSpec::new(name, kind, crate::ffi::IIO_CAP_WRITE, default, doc)
    }

    /// An option for reading and writing.
    pub const fn both(name: &'static str, kind: OptionKind, default: &'static str, doc: &'static str) -> OptionSpec {
        OptionSpec::new(
            name,
            kind,
            crate::ffi::IIO_CAP_READ | crate::ffi::IIO_CAP_WRITE,
            default,
            doc,
        )
    }

    /// The animation writers' `duration` option, as [`frame_duration_ms`]
    /// reads it.
    pub const DURATION: OptionSpec = OptionSpec::write(
        "duration",
        OptionKind::Numbers,
        "0",
        "each frame's display time in ms: one value, or one per frame (the last repeated); a frame's own \
         `duration` metadata wins",
    );

    /// The animation writers' `loop` option.
    pub const LOOP: OptionSpec = OptionSpec::write(
        "loop",
        OptionKind::Int,
        "0",
        "how often the animation plays, 0 for ever",
    );

    /// Its name.
    pub fn name(&self) -> &'static str {
        // SAFETY: built by `new` from a &'static str (valid UTF-8).
        std::str::from_utf8(unsafe { crate::raw::str_bytes(&self.0.name) }).unwrap_or("")
    }

    /// The ABI declaration.
    pub const fn as_raw(&self) -> &crate::ffi::iio_option_decl {
        &self.0
    }
}
