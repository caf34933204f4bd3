//! [`Format`] and its [`Reader`] and [`Writer`] (spec §1.12, §1.13).

use crate::core::dict::Dict;
use crate::core::image::{Image, NdArray, with_array};
use crate::error::{Error, Result};
use crate::plugin::Origin;
use crate::plugin::backend::{Backend, Failure, PluginInfo, RawRequest, kv_views};
use crate::plugin::callbacks::{IoCtx, SinkCtx, meta_to_abi};
use crate::request::{IoMode, Request};
use imageio_plugin_api::ffi::{self, iio_array_view, iio_instance};
use std::fmt;
use std::sync::Arc;

/// The default cap on one image's size in bytes (4 GiB): a hostile header
/// gets an error, not an out-of-memory abort.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 4 << 30;

/// `get_length` value for "unknown or unbounded" (imageio's `inf`).
pub const LENGTH_UNKNOWN: u64 = ffi::IIO_LENGTH_UNKNOWN;

struct FormatInner {
    name: String,
    description: String,
    extensions: Vec<String>,
    modes: String,
    backend: Backend,
}

/// One image format, served by a plugin (imageio's `Format`). Cheap to clone.
#[derive(Clone)]
pub struct Format {
    inner: Arc<FormatInner>,
}

/// Parses a format's extension list the way imageio does: commas become
/// spaces, and each non-empty entry becomes `.` + the entry without dots, in
/// lower case.
pub(crate) fn parse_extensions(s: &str) -> Vec<String> {
    s.replace(',', " ")
        .split(' ')
        .filter(|e| !e.is_empty())
        .map(|e| format!(".{}", e.trim_matches('.').to_lowercase()))
        .collect()
}

impl Format {
    pub(crate) fn from_spec(
        name: &str,
        description: &str,
        extensions: &str,
        modes: &str,
        backend: Backend,
    ) -> Result<Format> {
        if let Some(c) = modes.chars().find(|c| !"iIvV?".contains(*c)) {
            return Err(Error::InvalidArgument(format!(
                "Invalid value for mode given. ({c:?} in {modes:?})"
            )));
        }
        Ok(Format {
            inner: Arc::new(FormatInner {
                name: name.to_uppercase(),
                description: description.to_owned(),
                extensions: parse_extensions(extensions),
                modes: modes.to_owned(),
                backend,
            }),
        })
    }

    /// A format implemented in Rust with the plugin SDK, registered by the
    /// program itself (no shared library). Its calls go through the same C
    /// table as any plugin's.
    pub fn from_rust<F: imageio_plugin_api::Format>() -> Result<Format> {
        let table = imageio_plugin_api::format_table::<F>();
        let info = Arc::new(PluginInfo::new(
            format!("rust:{}", F::NAME),
            String::new(),
            Origin::Program,
            !F::THREAD_SAFE,
        ));
        Format::from_spec(
            F::NAME,
            F::DESCRIPTION,
            F::EXTENSIONS,
            F::MODES,
            Backend::new(table, info),
        )
    }

    /// The upper-case name (`PNG`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// One line for people.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The extensions, each with its dot, lower case (`[".png"]`).
    pub fn extensions(&self) -> &[String] {
        &self.inner.extensions
    }

    /// The image modes it supports (`"iI"`).
    pub fn modes(&self) -> &str {
        &self.inner.modes
    }

    /// imageio's `doc`: `"NAME - description\n\n    ..."`.
    pub fn doc(&self) -> String {
        format!(
            "{} - {}\n\n    Served by plugin {} ({}).\n",
            self.name(),
            self.description(),
            self.plugin_id(),
            self.origin()
        )
    }

    /// Where the format comes from.
    pub fn origin(&self) -> &Origin {
        &self.inner.backend.plugin.origin
    }

    /// The id of the plugin that serves it.
    pub fn plugin_id(&self) -> &str {
        &self.inner.backend.plugin.id
    }

    /// The version of the plugin that serves it.
    pub fn plugin_version(&self) -> &str {
        &self.inner.backend.plugin.version
    }

    /// Whether the host serialises calls into its plugin (no `IIO_CAP_THREAD_SAFE`).
    pub fn is_serialized(&self) -> bool {
        self.inner.backend.plugin.is_serialized()
    }

    /// Whether the plugin declares reading.
    pub fn supports_read(&self) -> bool {
        self.inner.backend.capabilities() & ffi::IIO_CAP_READ != 0
    }

    /// Whether the plugin declares writing.
    pub fn supports_write(&self) -> bool {
        self.inner.backend.capabilities() & ffi::IIO_CAP_WRITE != 0
    }

    pub(crate) fn same_as(&self, other: &Format) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn raw_request(&self, request: &mut Request, with_firstbytes: bool) -> Result<Box<RawRequest>> {
        let mode = request.mode();
        let first = if with_firstbytes && mode.io == IoMode::Read {
            request.firstbytes()?.to_vec()
        } else {
            Vec::new()
        };
        let io = if mode.io == IoMode::Read { 'r' } else { 'w' };
        Ok(RawRequest::new(
            request.filename(),
            io,
            mode.image.as_char(),
            request.extension(),
            &first,
            meta_to_abi(request.kwargs()),
        ))
    }

    /// The plugin's confidence (0..100) that it can read (or write) the request.
    pub fn confidence(&self, request: &mut Request) -> Result<i32> {
        let write = request.mode().io == IoMode::Write;
        if (write && !self.supports_write()) || (!write && !self.supports_read()) {
            return Ok(0);
        }
        let raw = self.raw_request(request, true)?;
        Ok(self.inner.backend.confidence(&raw, write))
    }

    /// Whether the format can read the request (confidence above 0).
    pub fn can_read(&self, request: &mut Request) -> Result<bool> {
        Ok(request.mode().io == IoMode::Read && self.confidence(request)? > 0)
    }

    /// Whether the format can write the request (confidence above 0).
    pub fn can_write(&self, request: &mut Request) -> Result<bool> {
        Ok(request.mode().io == IoMode::Write && self.confidence(request)? > 0)
    }

    fn check_mode(&self, request: &Request, action: &'static str) -> Result<()> {
        let image = request.mode().image;
        if let Some(c) = image.select_char()
            && !self.modes().contains(c)
        {
            return Err(Error::ModeNotSupported {
                format: self.name().to_owned(),
                action,
                mode: image.name(),
            });
        }
        Ok(())
    }

    /// The host error for a plugin's failure; `io` is the I/O error a stream
    /// callback met during the call, added to the message.
    pub(crate) fn plugin_error(&self, uri: &str, mut f: Failure, io: Option<std::io::Error>) -> Error {
        if let Some(io) = io {
            f.message.push_str(&format!(" ({io})"));
        }
        let (format, plugin) = (self.name().to_owned(), self.plugin_id().to_owned());
        match f.code {
            ffi::IIO_ERR_PANIC => Error::Panicked {
                uri: uri.to_owned(),
                format,
                plugin,
                message: f.message,
            },
            ffi::IIO_ERR_INDEX_OUT_OF_RANGE => Error::IndexOutOfRange {
                uri: uri.to_owned(),
                message: f.message,
            },
            code => Error::Plugin {
                uri: uri.to_owned(),
                format,
                plugin,
                code: crate::plugin::plugin_code(code),
                message: f.message,
                no_message: f.no_message,
            },
        }
    }

    fn protocol(&self, uri: &str, message: impl Into<String>) -> Error {
        Error::Protocol {
            uri: uri.to_owned(),
            format: self.name().to_owned(),
            plugin: self.plugin_id().to_owned(),
            message: message.into(),
        }
    }

    /// Opens the plugin instance on `request`; on failure the request is
    /// handed back so that another format can be tried.
    fn open(&self, request: Box<Request>) -> std::result::Result<Opened, (Error, Box<Request>)> {
        let mut request = request;
        let read = request.mode().io == IoMode::Read;
        let mut raw = match self.raw_request(&mut request, false) {
            Ok(r) => r,
            Err(e) => return Err((e, request)),
        };
        let mut io = IoCtx::new(request.size_hint(), read);
        io.request = &mut *request;
        raw.attach(&mut io);
        match self.inner.backend.open(&raw) {
            Ok(instance) => Ok(Opened { request, io, instance }),
            Err(f) => {
                let uri = request.filename().to_owned();
                Err((self.plugin_error(&uri, f, io.last_error.take()), request))
            }
        }
    }

    /// A reader on `request` (imageio's `get_reader`): checks the mode, then
    /// opens the plugin. The format's `can_read` is not consulted.
    pub fn get_reader(&self, request: Request) -> Result<Reader> {
        if request.mode().io != IoMode::Read {
            return Err(Error::InvalidArgument("get_reader needs a request in read mode".into()));
        }
        self.try_reader(Box::new(request)).map_err(|(e, _)| e)
    }

    pub(crate) fn try_reader(&self, request: Box<Request>) -> std::result::Result<Reader, (Error, Box<Request>)> {
        if let Err(e) = self.check_mode(&request, "read") {
            return Err((e, request));
        }
        let opened = self.open(request)?;
        Ok(Reader {
            format: self.clone(),
            opened: Some(opened),
            closed: false,
            last_index: -1,
            length: None,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
        })
    }

    /// A writer on `request` (imageio's `get_writer`).
    pub fn get_writer(&self, request: Request) -> Result<Writer> {
        if request.mode().io != IoMode::Write {
            return Err(Error::InvalidArgument(
                "get_writer needs a request in write mode".into(),
            ));
        }
        self.check_mode(&request, "write")?;
        let opened = self.open(Box::new(request)).map_err(|(e, _)| e)?;
        Ok(Writer {
            format: self.clone(),
            opened: Some(opened),
            closed: false,
            failed: None,
        })
    }
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Format {} - {}>", self.name(), self.description())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.doc())
    }
}

/// An open plugin instance with its request and stream context.
struct Opened {
    request: Box<Request>,
    io: Box<IoCtx>,
    instance: *mut iio_instance,
}

// SAFETY: the instance is used by one thread at a time (every use goes
// through `&mut` of its Reader/Writer), which the ABI allows; the request and
// contexts are owned.
unsafe impl Send for Opened {}

impl Opened {
    /// Points the stream context at the request before a call into the plugin.
    fn prepare(&mut self) {
        self.io.request = &mut *self.request;
        self.io.last_error = None;
    }

    fn uri(&self) -> String {
        self.request.filename().to_owned()
    }
}

/// Closes an instance (once) and finishes its request (shared by readers
/// and writers). The request stays for `get_result`.
fn close_opened(format: &Format, o: &mut Opened) -> Result<()> {
    if o.instance.is_null() {
        return Ok(());
    }
    o.prepare();
    let instance = std::mem::replace(&mut o.instance, std::ptr::null_mut());
    // SAFETY: the instance is open and, now replaced by NULL, never used again.
    let closed = unsafe { format.inner.backend.close(instance) };
    let uri = o.uri();
    closed.map_err(|f| format.plugin_error(&uri, f, None))?;
    o.request.finish()
}

/// An open reader (imageio's `Format.Reader`). Closed on drop.
pub struct Reader {
    format: Format,
    opened: Option<Opened>,
    closed: bool,
    last_index: i64,
    /// The length, once asked (a plugin's answer does not change).
    length: Option<u64>,
    max_image_bytes: u64,
}

impl Reader {
    /// The format reading.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The request (`None` once closed).
    pub fn request(&self) -> Option<&Request> {
        self.opened.as_ref().map(|o| &*o.request)
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Caps one image's size in bytes (default [`DEFAULT_MAX_IMAGE_BYTES`]).
    pub fn set_max_image_bytes(&mut self, bytes: u64) {
        self.max_image_bytes = bytes;
    }

    fn opened(&mut self) -> Result<&mut Opened> {
        if self.closed {
            return Err(Error::Closed("Reader"));
        }
        self.opened.as_mut().ok_or(Error::Closed("Reader"))
    }

    /// Number of images: 0 (metadata only), 1, N, or [`LENGTH_UNKNOWN`].
    /// Works on a closed reader only if it was asked before closing.
    pub fn get_length(&mut self) -> Result<u64> {
        if let Some(n) = self.length {
            return Ok(n);
        }
        if self.closed {
            return Err(Error::Closed("Reader"));
        }
        let backend = &self.format.inner.backend;
        let o = self.opened.as_mut().ok_or(Error::Closed("Reader"))?;
        o.prepare();
        // SAFETY: the instance is open (we hold `opened`).
        let r = unsafe { backend.get_length(o.instance) };
        let uri = o.uri();
        let io = o.io.last_error.take();
        let n = r.map_err(|f| self.format.plugin_error(&uri, f, io))?;
        self.length = Some(n);
        Ok(n)
    }

    fn read(&mut self, index: u64) -> Result<Image> {
        let max = self.max_image_bytes;
        let format = self.format.clone();
        let o = self.opened()?;
        o.prepare();
        let mut sink = SinkCtx::new(max, true);
        // SAFETY: the instance is open (we hold `opened`).
        let r = unsafe { format.inner.backend.get_data(o.instance, index, &mut sink, false) };
        let uri = o.uri();
        let io = o.io.last_error.take();
        if let Err(mut f) = r {
            if let Some(reason) = sink.refused.take() {
                f.message = format!("{} ({reason})", f.message);
            }
            if f.code == ffi::IIO_ERR_CANNOT_READ_FRAME {
                return Err(Error::CannotReadFrame {
                    uri,
                    index,
                    message: f.message,
                });
            }
            return Err(self.format.plugin_error(&uri, f, io));
        }
        let data = sink
            .take_array()
            .ok_or_else(|| format.protocol(&uri, "get_data returned OK without allocating an image"))?;
        Ok(Image {
            data,
            meta: std::mem::take(&mut sink.meta),
        })
    }

    /// Image `index` with its metadata. Sets the index for
    /// [`get_next_data`](Self::get_next_data) first, even when reading fails.
    pub fn get_data(&mut self, index: u64) -> Result<Image> {
        self.opened()?;
        self.last_index = i64::try_from(index).unwrap_or(i64::MAX);
        self.read(index)
    }

    /// The image after the last one asked for.
    pub fn get_next_data(&mut self) -> Result<Image> {
        let next = self.last_index.saturating_add(1).max(0) as u64;
        self.get_data(next)
    }

    /// Makes `index` the next image of [`get_next_data`](Self::get_next_data)
    /// (imageio v2.11+: clamped to `-1..=length`).
    pub fn set_image_index(&mut self, index: i64) -> Result<()> {
        self.opened()?;
        let n = self.get_length()?;
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.last_index = (index.saturating_sub(1)).max(-1).min(n);
        Ok(())
    }

    /// The metadata of image `index`, or the file's global metadata for `None`.
    pub fn get_meta_data(&mut self, index: Option<u64>) -> Result<Dict> {
        let max = self.max_image_bytes;
        let format = self.format.clone();
        let o = self.opened()?;
        o.prepare();
        let mut sink = SinkCtx::new(max, false);
        let idx = index.unwrap_or(ffi::IIO_INDEX_GLOBAL);
        // SAFETY: the instance is open (we hold `opened`).
        let r = unsafe { format.inner.backend.get_data(o.instance, idx, &mut sink, true) };
        let uri = o.uri();
        let io = o.io.last_error.take();
        r.map_err(|f| self.format.plugin_error(&uri, f, io))?;
        Ok(std::mem::take(&mut sink.meta))
    }

    /// Iterates over the images (imageio's `iter_data`): stops at the length;
    /// an index error stops an unbounded stream; a frame that cannot be read
    /// ends the iteration with a warning when it is the last one.
    pub fn iter_data(&mut self) -> Result<ImageIter<'_>> {
        self.opened()?;
        let n = self.get_length()?;
        Ok(ImageIter {
            reader: self,
            index: 0,
            length: n,
            done: false,
        })
    }

    /// Closes the reader (idempotent): the plugin's close, then the request's
    /// `finish`. If the plugin's close fails, the reader still counts as closed.
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        match self.opened.as_mut() {
            Some(o) => close_opened(&self.format, o),
            None => Ok(()),
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::warn!("closing a reader failed: {e}");
        }
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("format", &self.format.name())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// The iterator of [`Reader::iter_data`].
pub struct ImageIter<'a> {
    reader: &'a mut Reader,
    index: u64,
    length: u64,
    done: bool,
}

impl Iterator for ImageIter<'_> {
    type Item = Result<Image>;

    fn next(&mut self) -> Option<Result<Image>> {
        if self.done || self.index >= self.length {
            return None;
        }
        let i = self.index;
        self.index += 1;
        match self.reader.read(i) {
            Ok(im) => Some(Ok(im)),
            Err(Error::IndexOutOfRange { .. }) if self.length == LENGTH_UNKNOWN => {
                self.done = true;
                None
            }
            Err(e @ (Error::IndexOutOfRange { .. } | Error::CannotReadFrame { .. })) => {
                self.done = true;
                if self.length - i == 1 {
                    let uri = self
                        .reader
                        .request()
                        .map(|r| r.filename().to_owned())
                        .unwrap_or_default();
                    log::warn!("Could not read last frame of {uri}. ({e})");
                    None
                } else {
                    Some(Err(e))
                }
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// An open writer (imageio's `Format.Writer`). Dropping it without
/// [`close`](Self::close) closes it, logging errors; call `close` to see them.
/// A file target is written atomically: it appears only after a successful
/// close.
pub struct Writer {
    format: Format,
    opened: Option<Opened>,
    closed: bool,
    /// Set when an append or set_meta_data failed: the output is discarded.
    failed: Option<String>,
}

impl Writer {
    /// The format writing.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn opened(&mut self) -> Result<&mut Opened> {
        if self.closed {
            return Err(Error::Closed("Writer"));
        }
        self.opened.as_mut().ok_or(Error::Closed("Writer"))
    }

    /// Appends an image. Its metadata is merged with `meta` (which wins).
    pub fn append_data(&mut self, image: &Image, meta: Option<&Dict>) -> Result<()> {
        let mut total = image.meta.clone();
        if let Some(m) = meta {
            total.update(m);
        }
        let format = self.format.clone();
        let o = self.opened()?;
        o.prepare();
        let uri = o.uri();
        let contiguous = contiguous_bytes(&image.data);
        let shape: Vec<u64> = image.data.shape().iter().map(|&d| d as u64).collect();
        let itemsize = image.data.dtype().size() as i64;
        let mut strides = vec![0i64; shape.len()];
        let mut acc = itemsize;
        for i in (0..shape.len()).rev() {
            strides[i] = acc;
            acc = acc.saturating_mul(shape[i] as i64);
        }
        let view = iio_array_view {
            dtype: image.data.dtype().code(),
            ndim: shape.len() as u32,
            shape: shape.as_ptr(),
            strides_bytes: strides.as_ptr(),
            data: contiguous.as_ptr().cast(),
        };
        let entries = meta_to_abi(&total);
        let kvs = kv_views(&entries);
        // SAFETY: the instance is open; view, shape, strides, data and meta
        // live until the call returns.
        let r = unsafe { format.inner.backend.append_data(o.instance, &view, &kvs) };
        let io = o.io.last_error.take();
        let r = r.map_err(|f| format.plugin_error(&uri, f, io));
        if let Err(e) = &r {
            self.failed = Some(e.to_string());
        }
        r
    }

    /// Sets the file's global metadata.
    pub fn set_meta_data(&mut self, meta: &Dict) -> Result<()> {
        let format = self.format.clone();
        let o = self.opened()?;
        o.prepare();
        let uri = o.uri();
        let entries = meta_to_abi(meta);
        let kvs = kv_views(&entries);
        // SAFETY: the instance is open; meta lives until the call returns.
        let r = unsafe { format.inner.backend.set_meta_data(o.instance, &kvs) };
        let r = r.map_err(|f| format.plugin_error(&uri, f, None));
        if let Err(e) = &r {
            self.failed = Some(e.to_string());
        }
        r
    }

    /// Closes the writer (idempotent) and commits the output: a file is
    /// renamed into place, `<bytes>` kept for [`get_result`](Self::get_result).
    /// On error, and after any failed append, nothing is committed and the
    /// target is left untouched.
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if let Some(reason) = self.failed.clone() {
            if let Some(o) = self.opened.as_mut() {
                let instance = std::mem::replace(&mut o.instance, std::ptr::null_mut());
                o.prepare();
                // SAFETY: the instance is open and, replaced by NULL, never used again.
                let _ = unsafe { self.format.inner.backend.close(instance) };
                let uri = o.uri();
                // Dropping the request removes its temporary file.
                self.opened = None;
                return Err(Error::Aborted { uri, message: reason });
            }
            return Ok(());
        }
        match self.opened.as_mut() {
            Some(o) => close_opened(&self.format, o),
            None => Ok(()),
        }
    }

    /// The encoded bytes of a `<bytes>` target, once, after a successful
    /// [`close`](Self::close).
    pub fn get_result(&mut self) -> Option<Vec<u8>> {
        self.opened.as_mut().and_then(|o| o.request.get_result())
    }
}

/// The elements' bytes in C order (borrowed when the array is already
/// C-contiguous; booleans as 0/1 bytes).
fn contiguous_bytes(a: &NdArray) -> std::borrow::Cow<'_, [u8]> {
    fn as_bytes<T: Copy>(s: &[T]) -> &[u8] {
        // SAFETY: any initialised `T: Copy` numeric slice may be viewed as bytes;
        // the length is the slice's size in bytes.
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
    }
    if let NdArray::Bool(_) = a {
        return std::borrow::Cow::Owned(a.to_bytes());
    }
    with_array!(a, arr => match arr.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(as_bytes(s)),
        None => std::borrow::Cow::Owned(a.to_bytes()),
    })
}

impl Drop for Writer {
    fn drop(&mut self) {
        match self.close() {
            Err(Error::Aborted { .. }) | Ok(()) => {}
            Err(e) => log::warn!("closing a writer failed: {e}"),
        }
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("format", &self.format.name())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}
