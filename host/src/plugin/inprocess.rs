//! The in-process backend: calls a format table of a plugin loaded into this
//! process. All of the host's ABI marshalling is here: the `iio_request` the
//! plugin sees, the stream and sink contexts, image views for writers,
//! metadata both ways, and the mapping of a plugin's status to an [`Error`]
//! (done once, for every call).

use super::PluginInfo;
use super::backend::{Call, Capabilities, Failure, FormatBackend, Instance};
use super::callbacks::{AllocHook, IoCtx, Pinned, SinkCtx, local_filename};
use crate::base::image::with_array;
use crate::base::{Dict, Image, Limits, NdArray};
use crate::error::{Error, Result};
use crate::request::{IoMode, Request};
use imageio_plugin_api::Value as AbiValue;
use imageio_plugin_api::ffi::{
    self, iio_array_view, iio_error, iio_format_v1, iio_instance, iio_kv, iio_request, iio_status,
};
use imageio_plugin_api::raw::str_view;
use std::ffi::{c_char, c_void};
use std::ptr::NonNull;
use std::sync::{Arc, MutexGuard};

// The host's "unknown length" is the ABI's: lengths pass through unchanged.
const _: () = assert!(super::backend::LENGTH_UNKNOWN == ffi::IIO_LENGTH_UNKNOWN);

/// One format table (a zero-extended copy) with its plugin and name.
struct Table {
    raw: iio_format_v1,
    plugin: Arc<PluginInfo>,
    /// The format's upper-case name, for errors.
    format: String,
    /// What it offered beyond the table (ABI 1.2).
    ext: super::extensions::Extensions,
}

// SAFETY: the table is an immutable copy of static plugin data (function
// pointers and pointers to static strings); calls are serialised by the
// plugin's lock when it does not declare IIO_CAP_THREAD_SAFE.
unsafe impl Send for Table {}
// SAFETY: as above.
unsafe impl Sync for Table {}

/// A format served by a format table in this process.
pub(crate) struct InProcess {
    table: Arc<Table>,
}

impl InProcess {
    /// The backend of `raw`, a validated copy of a plugin's format table.
    pub(crate) fn new(raw: iio_format_v1, plugin: Arc<PluginInfo>, name: &str) -> InProcess {
        InProcess {
            table: Arc::new(Table {
                raw,
                plugin,
                format: name.to_uppercase(),
                ext: super::extensions::Extensions::default(),
            }),
        }
    }

    /// With the extensions the format offered.
    pub(crate) fn with_extensions(self, ext: super::extensions::Extensions) -> InProcess {
        let t = Arc::try_unwrap(self.table).unwrap_or_else(|_| unreachable!("a new table has one owner"));
        InProcess {
            table: Arc::new(Table { ext, ..t }),
        }
    }

    /// What the format offered beyond its table.
    pub(crate) fn extensions(&self) -> &super::extensions::Extensions {
        &self.table.ext
    }
}

/// The backend of a format written with the Rust SDK and registered by the
/// program itself: its table, as a plugin library would export it.
pub(crate) fn rust_format<F: imageio_plugin_api::Format>() -> InProcess {
    let info = Arc::new(PluginInfo::new(
        format!("rust:{}", F::NAME),
        String::new(),
        super::Origin::Program,
        !F::THREAD_SAFE,
    ));
    InProcess::new(imageio_plugin_api::format_table::<F>(), info, F::NAME)
}

impl Table {
    fn lock(&self) -> Option<MutexGuard<'_, ()>> {
        self.plugin.lock()
    }

    /// Runs one fallible table call under the plugin's lock with a fresh
    /// error buffer, turning a non-OK status into a [`Failure`].
    fn checked(&self, call: impl FnOnce(&mut iio_error) -> iio_status) -> std::result::Result<(), Failure> {
        let mut err = iio_error {
            code: 0,
            message: [0; ffi::IIO_ERROR_MESSAGE_LEN],
        };
        let _guard = self.lock();
        let status = call(&mut err);
        if status == ffi::IIO_OK {
            return Ok(());
        }
        // The message is NUL-terminated within the buffer, or stops at its end.
        let bytes: Vec<u8> = err.message.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        let mut f = Failure::from_plugin(status, String::from_utf8_lossy(&bytes).into_owned());
        f.code_unset = err.code != status;
        Err(f)
    }

    /// The host error for a failed call on `uri` (see [`Failure::into_error`]).
    fn error(&self, uri: &str, f: Failure, io: Option<std::io::Error>, index: Option<u64>) -> Error {
        let call = Call {
            uri,
            format: &self.format,
            plugin: &self.plugin.id,
            index,
        };
        f.into_error(&call, io)
    }

    /// The error for a plugin that broke the ABI's rules.
    fn protocol(&self, uri: &str, message: impl Into<String>) -> Error {
        Error::Protocol {
            uri: uri.to_owned(),
            format: self.format.clone(),
            plugin: self.plugin.id.clone(),
            message: message.into(),
        }
    }
}

/// A table function, or the failure of a plugin that lacks it.
macro_rules! function {
    ($table:expr, $f:ident) => {
        match $table.raw.$f {
            Some(f) => f,
            None => {
                return Err(Failure::host(
                    ffi::IIO_ERR_UNSUPPORTED,
                    concat!("the plugin has no ", stringify!($f), " function"),
                ));
            }
        }
    };
}

/// A request as the plugin sees it, with the host-owned buffers it points to.
struct RawRequest {
    _uri: String,
    _extension: String,
    _first_bytes: Vec<u8>,
    _options: Vec<(String, AbiValue)>,
    _kvs: Vec<iio_kv>,
    limits: ffi::iio_limits,
    raw: iio_request,
}

impl RawRequest {
    /// The plugin's view of `request`; `first_bytes` only for probing.
    fn new(request: &mut Request, with_first_bytes: bool) -> Result<Box<RawRequest>> {
        let mode = request.mode();
        let read = mode.io == IoMode::Read;
        let first_bytes = if with_first_bytes && read {
            request.firstbytes()?.to_vec()
        } else {
            Vec::new()
        };
        let options = meta_to_abi(request.kwargs());
        let kvs = kv_views(&options);
        let uri = request.filename().to_owned();
        let extension = request.extension().unwrap_or("").to_lowercase();
        let raw = iio_request {
            struct_size: size_of::<iio_request>() as u32,
            io_mode: if read { b'r' } else { b'w' } as c_char,
            image_mode: mode.image.as_char() as u8 as c_char,
            _reserved: 0,
            stream: std::ptr::null(),
            uri: str_view(&uri),
            extension: str_view(&extension),
            first_bytes: first_bytes.as_ptr(),
            first_bytes_len: first_bytes.len(),
            options: kvs.as_ptr(),
            options_len: kvs.len(),
            host_ctx: std::ptr::null_mut(),
            get_local_filename: None,
            limits: std::ptr::null(),
        };
        // The strings and vectors own heap buffers, which do not move when
        // they are moved into the box.
        let mut boxed = Box::new(RawRequest {
            _uri: uri,
            _extension: extension,
            _first_bytes: first_bytes,
            _options: options,
            _kvs: kvs,
            limits: request.limits().to_raw(),
            raw,
        });
        // The box does not move again, so the plugin's pointer to the
        // limits stays valid as long as the request view.
        boxed.raw.limits = &boxed.limits;
        Ok(boxed)
    }

    /// Attaches the instance's stream and `get_local_filename` (for `open`).
    fn attach(&mut self, io: &Pinned<IoCtx>) {
        let io = io.as_ptr();
        // SAFETY: only the field's address is taken; the context lives (and
        // stays put) until the instance is closed.
        self.raw.stream = unsafe { std::ptr::addr_of!((*io).stream) };
        self.raw.host_ctx = io.cast::<c_void>();
        self.raw.get_local_filename = Some(local_filename);
    }
}

/// Raw key/value views over `entries` (valid while `entries` lives).
fn kv_views(entries: &[(String, AbiValue)]) -> Vec<iio_kv> {
    entries
        .iter()
        .map(|(k, v)| iio_kv {
            key: str_view(k),
            value: v.to_raw(),
        })
        .collect()
}

/// The host's metadata as ABI values (nested dicts as dotted keys).
fn meta_to_abi(meta: &Dict) -> Vec<(String, AbiValue)> {
    meta.flatten()
        .into_iter()
        .filter_map(|(k, v)| AbiValue::try_from(v).ok().map(|v| (k, v)))
        .collect()
}

impl FormatBackend for InProcess {
    fn plugin(&self) -> &PluginInfo {
        &self.table.plugin
    }

    fn options(&self) -> Option<&[super::extensions::OptionDecl]> {
        self.table.ext.options.as_deref()
    }

    fn doc(&self) -> Option<&str> {
        self.table.ext.doc.as_deref()
    }

    fn capabilities(&self) -> Capabilities {
        let caps = self.table.raw.capabilities;
        Capabilities {
            read: caps & ffi::IIO_CAP_READ != 0,
            write: caps & ffi::IIO_CAP_WRITE != 0,
        }
    }

    fn confidence(&self, request: &mut Request) -> Result<i32> {
        let write = request.mode().io == IoMode::Write;
        let f = if write {
            self.table.raw.can_write
        } else {
            self.table.raw.can_read
        };
        let Some(f) = f else { return Ok(0) };
        let raw = RawRequest::new(request, true)?;
        let _guard = self.table.lock();
        // SAFETY: `raw.raw` and the buffers it points to live for the call;
        // the stream is NULL while probing (ABI rule).
        Ok(unsafe { f(&raw.raw) }.clamp(0, 100))
    }

    fn open(&self, request: Box<Request>) -> std::result::Result<Box<dyn Instance>, (Error, Box<Request>)> {
        self.open_instance(request).map(|o| Box::new(o) as Box<dyn Instance>)
    }
}

impl InProcess {
    /// Opens an instance: the concrete type, for the worker, which also
    /// decodes into shared memory ([`Open::get_data_shared`]).
    pub(crate) fn open_instance(&self, request: Box<Request>) -> std::result::Result<Open, (Error, Box<Request>)> {
        let mut request = request;
        let read = request.mode().io == IoMode::Read;
        let mut raw = match RawRequest::new(&mut request, false) {
            Ok(r) => r,
            Err(e) => return Err((e, request)),
        };
        let mut io = IoCtx::new(request.size_hint(), read);
        io.get_mut().request = &mut *request;
        raw.attach(&io);
        let table = &self.table;
        let opened = (|| {
            let f = function!(table, open);
            let mut out: *mut iio_instance = std::ptr::null_mut();
            // SAFETY: a valid request, out-pointer and error buffer for the call.
            table.checked(|err| unsafe { f(&raw.raw, &mut out, err) })?;
            NonNull::new(out)
                .ok_or_else(|| Failure::host(ffi::IIO_ERR_INTERNAL, "open returned OK without an instance"))
        })();
        match opened {
            Ok(instance) => Ok(Open {
                table: Arc::clone(&self.table),
                instance,
                request,
                io,
            }),
            Err(f) => {
                let e = table.error(request.filename(), f, io.get_mut().last_error.take(), None);
                Err((e, request))
            }
        }
    }
}

/// An open instance of a format table, with its request and stream context
/// (pinned, so the addresses the plugin holds stay put until close).
pub(crate) struct Open {
    table: Arc<Table>,
    instance: NonNull<iio_instance>,
    request: Box<Request>,
    io: Pinned<IoCtx>,
}

// SAFETY: the instance is used by one thread at a time (every call goes
// through `&mut self`), which the ABI allows; the request and contexts are
// owned.
unsafe impl Send for Open {}

impl Open {
    /// One call into the plugin: the stream context pointed at the request,
    /// then `body` (which looks the function up and calls it under the
    /// plugin's lock), then a failure mapped to the host's error with the
    /// I/O error the stream met. `index` is the image of a `get_data`.
    fn call(
        &mut self,
        index: Option<u64>,
        body: impl FnOnce(&Table, *mut iio_instance) -> std::result::Result<(), Failure>,
    ) -> Result<()> {
        let io = self.io.get_mut();
        io.request = &mut *self.request;
        io.last_error = None;
        let r = body(&self.table, self.instance.as_ptr());
        r.map_err(|f| {
            let io = self.io.get_mut().last_error.take();
            self.table.error(self.request.filename(), f, io, index)
        })
    }

    /// One `get_data` or `get_meta_data` call into a fresh sink.
    fn fill(&mut self, index: u64, sink: &Pinned<SinkCtx>, meta_only: bool) -> Result<()> {
        let raw_sink = sink.as_ptr();
        self.call((!meta_only).then_some(index), |table, inst| {
            let f = if meta_only {
                function!(table, get_meta_data)
            } else {
                function!(table, get_data)
            };
            // SAFETY: the instance is open (owned by this value, closed only
            // by consuming it); the sink lives for the call and the host
            // holds no reference to it meanwhile.
            let r = table.checked(|err| unsafe { f(inst, index, std::ptr::addr_of!((*raw_sink).sink), err) });
            // SAFETY: the call has returned; nothing else uses the sink.
            if let Some(reason) = unsafe { (*raw_sink).meta_refused.take() } {
                // Over a metadata limit: an error even when the plugin
                // ignored the refusal and returned OK.
                return Err(Failure::host(ffi::IIO_ERR_NO_MEMORY, reason));
            }
            r.map_err(|mut f| {
                // SAFETY: the call has returned; nothing else uses the sink.
                if let Some(reason) = unsafe { (*raw_sink).refused.take() } {
                    f.message = format!("{} ({reason})", f.message);
                }
                f
            })
        })
    }
}

impl Open {
    /// Like `get_data`, with the image's memory from `hook` (a worker's
    /// shared memory, which the hook keeps): returns the image's metadata.
    pub(crate) fn get_data_shared(&mut self, index: u64, limits: &Limits, hook: Box<dyn AllocHook>) -> Result<Dict> {
        let mut sink = SinkCtx::new(*limits, true);
        sink.get_mut().hook = Some(hook);
        let r = self.fill(index, &sink, false);
        let sink = sink.get_mut();
        r.and_then(|()| {
            if sink.hooked {
                Ok(std::mem::take(&mut sink.meta))
            } else {
                Err(self.table.protocol(self.request.filename(), super::backend::NO_IMAGE))
            }
        })
    }
}

impl Instance for Open {
    fn request(&self) -> &Request {
        &self.request
    }

    fn get_properties(&mut self, index: u64) -> Result<Option<super::extensions::ImageProps>> {
        let Some(ext) = self.table.ext.properties else {
            return Ok(None);
        };
        let Some(f) = ext.get_properties else { return Ok(None) };
        // SAFETY: an all-zero iio_image_properties is valid.
        let mut out: ffi::iio_image_properties = unsafe { std::mem::zeroed() };
        out.struct_size = size_of::<ffi::iio_image_properties>() as u32;
        let r = self.call(Some(index), |table, inst| {
            let _guard = table.lock();
            // SAFETY: the instance is open; the out-struct and error buffer
            // are valid for the call.
            table.checked(|err| unsafe { f(inst, index, &mut out, err) })
        });
        match r {
            Ok(()) => {}
            // "Decode to find out."
            Err(Error::Plugin {
                code: crate::error::PluginCode::Unsupported,
                ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        }
        let dtype = imageio_plugin_api::Dtype::from_code(out.dtype);
        let ndim = out.ndim as usize;
        match dtype {
            Some(dtype) if ndim <= ffi::IIO_MAX_NDIM => Ok(Some(super::extensions::ImageProps {
                dtype,
                shape: out.shape[..ndim].iter().map(|&d| d as usize).collect(),
            })),
            _ => Err(self.table.protocol(
                self.request.filename(),
                format!("get_properties gave dtype {} and {} dimensions", out.dtype, out.ndim),
            )),
        }
    }

    fn get_length(&mut self) -> Result<u64> {
        let mut out = 0u64;
        self.call(None, |table, inst| {
            let f = function!(table, get_length);
            // SAFETY: the instance is open; out-pointer and buffer are valid.
            table.checked(|err| unsafe { f(inst, &mut out, err) })
        })?;
        Ok(out)
    }

    fn get_data(&mut self, index: u64, limits: &Limits) -> Result<Image> {
        let mut sink = SinkCtx::new(*limits, true);
        self.fill(index, &sink, false)?;
        let sink = sink.get_mut();
        let data = sink
            .take_array()
            .ok_or_else(|| self.table.protocol(self.request.filename(), super::backend::NO_IMAGE))?;
        Ok(Image {
            data,
            meta: std::mem::take(&mut sink.meta),
        })
    }

    fn get_meta_data(&mut self, index: Option<u64>) -> Result<Dict> {
        let mut sink = SinkCtx::new(*self.request.limits(), false);
        self.fill(index.unwrap_or(ffi::IIO_INDEX_GLOBAL), &sink, true)?;
        Ok(std::mem::take(&mut sink.get_mut().meta))
    }

    fn append_data(&mut self, image: &Image, meta: &Dict) -> Result<()> {
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
        let entries = meta_to_abi(meta);
        let kvs = kv_views(&entries);
        self.call(None, |table, inst| {
            let f = function!(table, append_data);
            // SAFETY: the instance is open; view, shape, strides, data and
            // meta live until the call returns.
            table.checked(|err| unsafe { f(inst, &view, kvs.as_ptr(), kvs.len(), err) })
        })
    }

    fn set_meta_data(&mut self, meta: &Dict) -> Result<()> {
        let entries = meta_to_abi(meta);
        let kvs = kv_views(&entries);
        self.call(None, |table, inst| {
            let f = function!(table, set_meta_data);
            // SAFETY: the instance is open; meta lives until the call returns.
            table.checked(|err| unsafe { f(inst, kvs.as_ptr(), kvs.len(), err) })
        })
    }

    fn close(mut self: Box<Self>) -> (Result<()>, Box<Request>) {
        let r = self.call(None, |table, inst| {
            let f = function!(table, close);
            // SAFETY: the instance is open, and this value, which owns it,
            // is consumed here: it is never used again.
            table.checked(|err| unsafe { f(inst, err) })
        });
        let Open { request, .. } = *self;
        (r, request)
    }
}

/// The elements' bytes in C order (borrowed when the array is already
/// C-contiguous; booleans as 0/1 bytes).
pub(crate) fn contiguous_bytes(a: &NdArray) -> std::borrow::Cow<'_, [u8]> {
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
