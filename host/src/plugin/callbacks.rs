//! The host's callbacks that plugins call: the host table (logging), the
//! stream over a request, the image sink and `get_local_filename`, with the
//! pinned contexts behind them. Each runs under one panic boundary
//! (`guarded`): a host bug becomes an error status, never an unwind
//! through C frames.

use super::allocation::{AllocRequest, bytes_to_bools, checked_alloc};
use crate::base::image::NdArray;
use crate::base::{Dict, Limits, Value};
use crate::request::Request;
use imageio_plugin_api::ffi::{self, iio_host_v1, iio_image_sink, iio_status, iio_str, iio_stream, iio_value};
use imageio_plugin_api::raw::{slice, slice_mut, str_lossy};
use imageio_plugin_api::{Dtype, Value as AbiValue};
use std::ffi::{CString, c_char, c_void};
use std::io::{self, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::OnceLock;

/// The one panic boundary of every host callback: runs `f`, and gives
/// `fallback` if it panics (a host bug must never unwind through C frames).
fn guarded<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

unsafe extern "C" fn host_log(level: u32, target: iio_str, message: iio_str) {
    guarded((), || {
        // SAFETY: the plugin passes valid strings for the call (ABI rule).
        let (target, message) = unsafe { (str_lossy(&target), str_lossy(&message)) };
        log::log!(target: "imageio::plugin", imageio_plugin_api::raw::log_level_of(level), "[{target}] {message}");
    });
}

struct HostTable(iio_host_v1);
// SAFETY: the table is immutable after creation and holds only a function pointer.
unsafe impl Sync for HostTable {}
// SAFETY: as above.
unsafe impl Send for HostTable {}

/// The host table handed to every plugin (static for the process).
pub(crate) fn host_table() -> *const iio_host_v1 {
    static HOST: OnceLock<HostTable> = OnceLock::new();
    &HOST
        .get_or_init(|| {
            HostTable(iio_host_v1 {
                struct_size: size_of::<iio_host_v1>() as u32,
                abi_version: ffi::IIO_ABI_VERSION,
                log: Some(host_log),
                // Plugins forward everything; the host's logger filters, so a
                // logger installed after the plugins were loaded still sees them.
                log_max_level: ffi::IIO_LOG_TRACE,
                _reserved: 0,
                provide_extension: Some(super::extensions::provide_extension),
            })
        })
        .0
}

// ------------------------------------------------------------------ contexts

/// A callback context that plugins reach through a raw pointer (the `ctx`
/// of the `iio_stream` or `iio_image_sink` they are handed). It is
/// allocated once and never moves, and the host reaches it only through
/// the same pointer, so the plugin's copy stays valid until the owner drops
/// it. The host never holds a reference from [`get_mut`](Self::get_mut)
/// across a call into the plugin.
pub(crate) struct Pinned<T> {
    ptr: NonNull<T>,
}

impl<T> Pinned<T> {
    fn new(value: T) -> Pinned<T> {
        Pinned {
            ptr: NonNull::from(Box::leak(Box::new(value))),
        }
    }

    /// The pointer plugins are given.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The context, between calls into the plugin.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        // SAFETY: the allocation lives until drop; `&mut self` makes this the
        // only host access, and no plugin call is running (the host uses the
        // context only between calls).
        unsafe { &mut *self.ptr.as_ptr() }
    }
}

impl<T> Drop for Pinned<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed once.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

// SAFETY: a `Pinned<T>` owns its `T` like a `Box<T>`.
unsafe impl<T: Send> Send for Pinned<T> {}

// ------------------------------------------------------------------ streams

/// The context behind a request's `iio_stream` and `get_local_filename`,
/// owned by the open instance from `open` to `close`.
pub(crate) struct IoCtx {
    pub stream: iio_stream,
    /// The request; refreshed before every call into the plugin.
    pub request: *mut Request,
    /// The last I/O error a callback met, kept for the error report.
    pub last_error: Option<io::Error>,
    /// The local file names handed to the plugin, alive until close.
    local_names: Vec<CString>,
}

impl IoCtx {
    pub(crate) fn new(size_hint: Option<u64>, read: bool) -> Pinned<IoCtx> {
        let ctx = Pinned::new(IoCtx {
            stream: iio_stream {
                struct_size: size_of::<iio_stream>() as u32,
                _reserved: 0,
                ctx: std::ptr::null_mut(),
                read: if read { Some(stream_read) } else { None },
                write: if read { None } else { Some(stream_write) },
                seek: Some(stream_seek),
                size_hint: size_hint.unwrap_or(ffi::IIO_SIZE_UNKNOWN),
            },
            request: std::ptr::null_mut(),
            last_error: None,
            local_names: Vec::new(),
        });
        // SAFETY: the context was just allocated and nothing else uses it.
        unsafe { (*ctx.as_ptr()).stream.ctx = ctx.as_ptr().cast::<c_void>() };
        ctx
    }
}

/// Runs `f` on the context's request, mapping errors and panics to statuses.
///
/// # Safety
///
/// `ctx` is the `IoCtx` the host put in the stream, with a valid `request`
/// that nothing else uses during the call.
unsafe fn with_request(
    ctx: *mut c_void,
    f: impl FnOnce(&mut Request, &mut Vec<CString>) -> io::Result<()>,
) -> iio_status {
    if ctx.is_null() {
        return ffi::IIO_ERR_INTERNAL;
    }
    // SAFETY: forwarded from this function's contract.
    let io_ctx = unsafe { &mut *ctx.cast::<IoCtx>() };
    if io_ctx.request.is_null() {
        return ffi::IIO_ERR_INTERNAL;
    }
    // SAFETY: forwarded from this function's contract.
    let request = unsafe { &mut *io_ctx.request };
    match guarded(None, || Some(f(request, &mut io_ctx.local_names))) {
        Some(Ok(())) => ffi::IIO_OK,
        Some(Err(e)) => {
            io_ctx.last_error = Some(e);
            ffi::IIO_ERR_IO
        }
        None => ffi::IIO_ERR_INTERNAL,
    }
}

fn to_io(e: crate::Error) -> io::Error {
    match e {
        crate::Error::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

unsafe extern "C" fn stream_read(ctx: *mut c_void, buf: *mut u8, len: usize, out_read: *mut usize) -> iio_status {
    if (buf.is_null() && len > 0) || out_read.is_null() {
        return ffi::IIO_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: the plugin passes the stream's own ctx during a call (ABI rule).
    unsafe {
        with_request(ctx, |req, _| {
            // SAFETY: the plugin promises `len` writable bytes at `buf`.
            let dst = slice_mut(buf, len);
            let n = req.read(dst).map_err(to_io)?;
            // SAFETY: `out_read` is a valid out-pointer (checked non-null).
            *out_read = n;
            Ok(())
        })
    }
}

unsafe extern "C" fn stream_write(ctx: *mut c_void, buf: *const u8, len: usize, out_written: *mut usize) -> iio_status {
    if (buf.is_null() && len > 0) || out_written.is_null() {
        return ffi::IIO_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: the plugin passes the stream's own ctx during a call (ABI rule).
    unsafe {
        with_request(ctx, |req, _| {
            // SAFETY: the plugin promises `len` readable bytes at `buf`.
            let src = slice(buf, len);
            req.write_all(src).map_err(to_io)?;
            // SAFETY: `out_written` is a valid out-pointer (checked non-null).
            *out_written = len;
            Ok(())
        })
    }
}

unsafe extern "C" fn stream_seek(ctx: *mut c_void, off: i64, whence: u32, out_pos: *mut u64) -> iio_status {
    if out_pos.is_null() {
        return ffi::IIO_ERR_INVALID_ARGUMENT;
    }
    let pos = match whence {
        ffi::IIO_SEEK_SET if off >= 0 => SeekFrom::Start(off as u64),
        ffi::IIO_SEEK_CUR => SeekFrom::Current(off),
        ffi::IIO_SEEK_END => SeekFrom::End(off),
        _ => return ffi::IIO_ERR_INVALID_ARGUMENT,
    };
    // SAFETY: the plugin passes the stream's own ctx during a call (ABI rule).
    unsafe {
        with_request(ctx, |req, _| {
            let p = req.seek(pos).map_err(to_io)?;
            // SAFETY: `out_pos` is a valid out-pointer (checked non-null).
            *out_pos = p;
            Ok(())
        })
    }
}

pub(crate) unsafe extern "C" fn local_filename(host_ctx: *mut c_void, out_path: *mut *const c_char) -> iio_status {
    if out_path.is_null() {
        return ffi::IIO_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: `host_ctx` is the IoCtx of the instance (set by the host at open).
    unsafe {
        with_request(host_ctx, |req, names| {
            let path = req.get_local_filename().map_err(to_io)?;
            let c = CString::new(path.to_string_lossy().into_owned())
                .map_err(|_| io::Error::other("the local file name contains a NUL byte"))?;
            // SAFETY: `out_path` is a valid out-pointer (checked non-null);
            // the string lives in the context until the instance is closed.
            *out_path = c.as_ptr();
            names.push(c);
            Ok(())
        })
    }
}

// ------------------------------------------------------------------ sinks

/// Where an image's memory comes from when it is not the host's heap: an
/// isolated worker allocates it in shared memory the host then adopts.
pub(crate) trait AllocHook: Send {
    /// Memory for an image of `dtype` and `shape` (`bytes` bytes, already
    /// checked against the limits), or why there is none.
    fn alloc(&mut self, dtype: Dtype, shape: &[u64], bytes: u64) -> Result<*mut c_void, String>;
}

/// Collects what a plugin reports in one `get_data`/`get_meta_data` call.
pub(crate) struct SinkCtx {
    pub sink: iio_image_sink,
    /// Faulting a large heap image's pages in while the plugin writes it;
    /// declared before `array` so it stops (on drop) before the array's
    /// memory could go.
    pub prefault: Option<crate::base::prefault::Prefault>,
    /// The request's limits: the host enforces the image and metadata
    /// limits here whatever the plugin checks itself (a 1.0 plugin knows
    /// none of them).
    pub limits: Limits,
    /// Metadata bytes reported so far in this call.
    pub meta_bytes: u64,
    /// A metadata entry over the limits: the call fails with it even if
    /// the plugin ignores the refusal.
    pub meta_refused: Option<String>,
    pub array: Option<NdArray>,
    /// Booleans arrive as bytes and are converted after the call.
    pub bool_bytes: Option<ndarray::ArrayD<u8>>,
    pub meta: Dict,
    pub alloc_calls: u32,
    pub refused: Option<String>,
    /// Allocates the image instead of the heap (a worker's shared memory).
    pub hook: Option<Box<dyn AllocHook>>,
    /// The hook gave the image's memory.
    pub hooked: bool,
}

impl SinkCtx {
    pub(crate) fn new(limits: Limits, allow_alloc: bool) -> Pinned<SinkCtx> {
        let ctx = Pinned::new(SinkCtx {
            sink: iio_image_sink {
                struct_size: size_of::<iio_image_sink>() as u32,
                _reserved: 0,
                ctx: std::ptr::null_mut(),
                alloc: if allow_alloc { Some(sink_alloc) } else { None },
                set_meta: Some(sink_set_meta),
            },
            limits,
            meta_bytes: 0,
            meta_refused: None,
            array: None,
            bool_bytes: None,
            meta: Dict::new(),
            alloc_calls: 0,
            refused: None,
            hook: None,
            hooked: false,
            prefault: None,
        });
        // SAFETY: the context was just allocated and nothing else uses it.
        unsafe { (*ctx.as_ptr()).sink.ctx = ctx.as_ptr().cast::<c_void>() };
        ctx
    }

    /// The array the plugin filled, if it allocated one.
    pub(crate) fn take_array(&mut self) -> Option<NdArray> {
        if let Some(b) = self.bool_bytes.take() {
            return Some(NdArray::Bool(bytes_to_bools(b)));
        }
        self.array.take()
    }

    fn alloc(&mut self, dtype: u32, shape: &[u64]) -> Result<*mut c_void, String> {
        self.alloc_calls += 1;
        if self.alloc_calls > 1 {
            return Err("alloc was called more than once in one call".into());
        }
        let AllocRequest { dtype, dims, bytes } = checked_alloc(&self.limits, dtype, shape)?;
        if let Some(hook) = self.hook.as_mut() {
            self.hooked = true;
            return hook.alloc(dtype, shape, bytes);
        }
        // The plugin writes booleans as bytes (0 or 1, but any byte may come):
        // they are kept as bytes and made valid booleans after the call.
        let as_dtype = if dtype == Dtype::Bool { Dtype::U8 } else { dtype };
        let mut array = NdArray::try_zeros(as_dtype, &dims).ok_or_else(|| {
            format!(
                "no memory for an image of shape {shape:?} and dtype {} ({bytes} bytes)",
                dtype.name()
            )
        })?;
        let p = crate::base::image::with_array!(&mut array, a => a.as_mut_ptr().cast::<c_void>());
        let len = bytes as usize;
        if len >= crate::base::prefault::PREFAULT_MIN {
            // The array's buffer does not move when the array is moved out
            // of the sink, and the sink (with this) goes first.
            self.prefault = Some(crate::base::prefault::Prefault::start(p as usize, len));
        }
        match (dtype, array) {
            (Dtype::Bool, NdArray::U8(a)) => self.bool_bytes = Some(a),
            (_, array) => self.array = Some(array),
        }
        Ok(p)
    }
}

impl SinkCtx {
    /// Counts one metadata entry against the metadata limits.
    fn count_meta(&mut self, key: &str, value: &AbiValue) -> Result<(), String> {
        let bytes = (key.len() + value_bytes(value)) as u64;
        self.limits
            .check_meta(
                "the plugin",
                &format!("the metadata entry '{key}'"),
                bytes,
                &mut self.meta_bytes,
            )
            .map_err(|e| e.message)
    }
}

/// The bytes a metadata value holds.
fn value_bytes(v: &AbiValue) -> usize {
    match v {
        AbiValue::Str(s) => s.len(),
        AbiValue::Bytes(b) => b.len(),
        AbiValue::IntArray(a) => a.len() * 8,
        AbiValue::FloatArray(a) => a.len() * 8,
        _ => 8,
    }
}

unsafe extern "C" fn sink_alloc(ctx: *mut c_void, dtype: u32, ndim: u32, shape: *const u64) -> *mut c_void {
    if ctx.is_null() || (shape.is_null() && ndim > 0) {
        return std::ptr::null_mut();
    }
    // SAFETY: `ctx` is the SinkCtx the host put in the sink, used by one call.
    let sink = unsafe { &mut *ctx.cast::<SinkCtx>() };
    let result = guarded(None, || {
        // SAFETY: the plugin passes `ndim` extents at `shape`.
        let shape = unsafe { slice(shape, ndim as usize) };
        Some(sink.alloc(dtype, shape))
    });
    match result {
        Some(Ok(p)) => p,
        Some(Err(reason)) => {
            sink.refused = Some(reason);
            std::ptr::null_mut()
        }
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn sink_set_meta(ctx: *mut c_void, key: iio_str, value: *const iio_value) -> iio_status {
    if ctx.is_null() || value.is_null() {
        return ffi::IIO_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: `ctx` is the SinkCtx the host put in the sink, used by one call.
    let sink = unsafe { &mut *ctx.cast::<SinkCtx>() };
    guarded(ffi::IIO_ERR_INTERNAL, || {
        // SAFETY: key and value follow the ABI's rules for the call.
        let key = unsafe { str_lossy(&key) };
        // SAFETY: as above.
        match unsafe { AbiValue::from_raw(&*value) } {
            Some(v) => {
                if let Err(reason) = sink.count_meta(&key, &v) {
                    sink.meta_refused.get_or_insert(reason);
                    return ffi::IIO_ERR_NO_MEMORY;
                }
                sink.meta.insert(key, Value::from(v));
                ffi::IIO_OK
            }
            None => ffi::IIO_ERR_UNSUPPORTED,
        }
    })
}
