//! The panic-guarded `extern "C"` shims that turn a [`Format`] into an
//! `iio_format_v1` table, and the entry point's body.

use crate::error::{Error, Result};
use crate::ffi::{
    self, iio_array_view, iio_error, iio_format_v1, iio_host_v1, iio_image_sink, iio_instance, iio_kv, iio_plugin_v1,
    iio_request, iio_status, iio_str,
};
use crate::format::{Format, ImageView, Reader, Writer};
use crate::request::Request;
use crate::sink::{Dtype, ImageSink};
use crate::value::Value;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A wrapper that lets static tables holding raw pointers live in a `static`.
#[repr(transparent)]
pub struct SyncTable<T>(pub T);

// SAFETY: the tables are immutable after initialisation and only point to
// other immutable statics (strings, tables, functions).
unsafe impl<T> Sync for SyncTable<T> {}

/// An `iio_str` over a static string (usable in constants).
pub const fn str_lit(s: &'static str) -> iio_str {
    crate::raw::str_view(s)
}

/// Writes `message` (truncated on a char boundary) and `code` into `err`.
fn write_error(err: *mut iio_error, code: iio_status, message: &str) {
    if err.is_null() {
        return;
    }
    let mut end = message.len().min(ffi::IIO_ERROR_MESSAGE_LEN - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    // SAFETY: `err` is non-null and, by the ABI, points to a caller-owned
    // `iio_error`; we write at most 511 bytes plus a NUL into its message.
    unsafe {
        (*err).code = code;
        let dst = (*err).message.as_mut_ptr().cast::<u8>();
        core::ptr::copy_nonoverlapping(message.as_ptr(), dst, end);
        *dst.add(end) = 0;
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("plugin panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("plugin panicked: {s}")
    } else {
        "plugin panicked".to_owned()
    }
}

/// The SDK's one panic boundary: runs `f`; a panic gives its message (the
/// payload is dropped inside a second boundary, since dropping it may panic
/// too). Nothing unwinds into the host's C frames.
fn catch<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = panic_message(&*payload);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        message
    })
}

/// Runs `f`, turning an error or a panic into a status and a message.
fn guard(err: *mut iio_error, f: impl FnOnce() -> Result<()>) -> iio_status {
    match catch(f) {
        Ok(Ok(())) => ffi::IIO_OK,
        Ok(Err(e)) => {
            let code = if e.code == ffi::IIO_OK {
                ffi::IIO_ERR_INTERNAL
            } else {
                e.code
            };
            write_error(err, code, &e.message);
            code
        }
        Err(message) => {
            write_error(err, ffi::IIO_ERR_PANIC, &message);
            ffi::IIO_ERR_PANIC
        }
    }
}

enum Instance<F: Format> {
    Reader(F::Reader),
    Writer(F::Writer),
}

/// # Safety
///
/// `inst` was returned by `open::<F>` and not yet closed.
unsafe fn instance<'a, F: Format>(inst: *mut iio_instance) -> Result<&'a mut Instance<F>> {
    if inst.is_null() {
        return Err(Error::internal("NULL instance"));
    }
    // SAFETY: forwarded from this function's contract: the pointer came from
    // `Box::into_raw` in `open::<F>` and is used by one thread at a time.
    Ok(unsafe { &mut *inst.cast::<Instance<F>>() })
}

fn meta_from_raw(meta: *const iio_kv, len: usize) -> Result<Vec<(String, Value)>> {
    // SAFETY: the host passes `len` valid entries for the call (ABI rule).
    let kvs = unsafe { crate::raw::slice(meta, len) };
    kvs.iter()
        .map(|kv| {
            // SAFETY: key and value follow the ABI's borrowing rules for the call.
            let key = unsafe { crate::raw::str_lossy(&kv.key) };
            // SAFETY: as above.
            let value = unsafe { Value::from_raw(&kv.value) }.unwrap_or(Value::None);
            Ok((key, value))
        })
        .collect()
}

unsafe extern "C" fn can_read<F: Format>(req: *const iio_request) -> i32 {
    if req.is_null() {
        return 0;
    }
    // SAFETY: the host passes a valid request for the call.
    let req = unsafe { Request::from_raw(&*req) };
    catch(|| F::can_read(&req).clamp(0, 100)).unwrap_or(0)
}

unsafe extern "C" fn can_write<F: Format>(req: *const iio_request) -> i32 {
    if req.is_null() {
        return 0;
    }
    // SAFETY: the host passes a valid request for the call.
    let req = unsafe { Request::from_raw(&*req) };
    catch(|| F::can_write(&req).clamp(0, 100)).unwrap_or(0)
}

unsafe extern "C" fn open<F: Format>(
    req: *const iio_request,
    out: *mut *mut iio_instance,
    err: *mut iio_error,
) -> iio_status {
    guard(err, || {
        if req.is_null() || out.is_null() {
            return Err(Error::internal("open: NULL argument"));
        }
        // SAFETY: the host passes a valid request for the call.
        let req = unsafe { Request::from_raw(&*req) };
        let instance: Instance<F> = match req.io_mode() {
            'r' => Instance::Reader(F::open_reader(&req)?),
            'w' => Instance::Writer(F::open_writer(&req)?),
            m => return Err(Error::invalid_argument(format!("unknown io mode {m:?}"))),
        };
        let ptr = Box::into_raw(Box::new(instance)).cast::<iio_instance>();
        // SAFETY: `out` is a valid out-pointer (checked non-null).
        unsafe { *out = ptr };
        Ok(())
    })
}

unsafe extern "C" fn close<F: Format>(inst: *mut iio_instance, err: *mut iio_error) -> iio_status {
    guard(err, || {
        if inst.is_null() {
            return Ok(());
        }
        // SAFETY: the pointer came from `Box::into_raw` in `open::<F>`, and the
        // host calls close exactly once.
        let instance = unsafe { Box::from_raw(inst.cast::<Instance<F>>()) };
        match *instance {
            Instance::Reader(r) => r.close(),
            Instance::Writer(w) => w.close(),
        }
    })
}

unsafe extern "C" fn get_length<F: Format>(inst: *mut iio_instance, out: *mut u64, err: *mut iio_error) -> iio_status {
    guard(err, || {
        // SAFETY: the host passes an open instance.
        let Instance::Reader(r) = (unsafe { instance::<F>(inst) })? else {
            return Err(Error::invalid_argument("get_length on a writer"));
        };
        let n = r.get_length()?;
        if out.is_null() {
            return Err(Error::internal("get_length: NULL out"));
        }
        // SAFETY: `out` is a valid out-pointer (checked non-null).
        unsafe { *out = n };
        Ok(())
    })
}

unsafe extern "C" fn get_data<F: Format>(
    inst: *mut iio_instance,
    index: u64,
    sink: *const iio_image_sink,
    err: *mut iio_error,
) -> iio_status {
    guard(err, || {
        // SAFETY: the host passes an open instance.
        let Instance::Reader(r) = (unsafe { instance::<F>(inst) })? else {
            return Err(Error::invalid_argument("get_data on a writer"));
        };
        if sink.is_null() {
            return Err(Error::internal("get_data: NULL sink"));
        }
        // SAFETY: the host's sink is valid for the call.
        let mut sink = ImageSink::new(unsafe { &*sink });
        r.get_data(index, &mut sink)
    })
}

unsafe extern "C" fn get_meta_data<F: Format>(
    inst: *mut iio_instance,
    index: u64,
    sink: *const iio_image_sink,
    err: *mut iio_error,
) -> iio_status {
    guard(err, || {
        // SAFETY: the host passes an open instance.
        let Instance::Reader(r) = (unsafe { instance::<F>(inst) })? else {
            return Err(Error::invalid_argument("get_meta_data on a writer"));
        };
        if sink.is_null() {
            return Err(Error::internal("get_meta_data: NULL sink"));
        }
        // SAFETY: the host's sink is valid for the call.
        let mut sink = ImageSink::new(unsafe { &*sink });
        let index = (index != ffi::IIO_INDEX_GLOBAL).then_some(index);
        r.get_meta_data(index, &mut sink)
    })
}

unsafe extern "C" fn append_data<F: Format>(
    inst: *mut iio_instance,
    im: *const iio_array_view,
    meta: *const iio_kv,
    meta_len: usize,
    err: *mut iio_error,
) -> iio_status {
    guard(err, || {
        // SAFETY: the host passes an open instance.
        let Instance::Writer(w) = (unsafe { instance::<F>(inst) })? else {
            return Err(Error::invalid_argument("append_data on a reader"));
        };
        if im.is_null() {
            return Err(Error::internal("append_data: NULL image"));
        }
        // SAFETY: the host's view is valid for the call.
        let view = unsafe { &*im };
        let dtype = Dtype::from_code(view.dtype)
            .ok_or_else(|| Error::unsupported(format!("unknown dtype code {}", view.dtype)))?;
        // SAFETY: `shape` holds `ndim` extents (ABI rule).
        let shape = unsafe { crate::raw::slice(view.shape, view.ndim as usize) };
        let len = crate::raw::shape_bytes(dtype.size() as u64, shape)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::invalid_argument("image too large"))?;
        // SAFETY: `data` holds the C-contiguous elements: `len` bytes (ABI rule).
        let bytes = unsafe { crate::raw::slice(view.data.cast::<u8>(), len) };
        let meta = meta_from_raw(meta, meta_len)?;
        w.append_data(&ImageView { dtype, shape, bytes }, &meta)
    })
}

unsafe extern "C" fn set_meta_data<F: Format>(
    inst: *mut iio_instance,
    meta: *const iio_kv,
    meta_len: usize,
    err: *mut iio_error,
) -> iio_status {
    guard(err, || {
        // SAFETY: the host passes an open instance.
        let Instance::Writer(w) = (unsafe { instance::<F>(inst) })? else {
            return Err(Error::invalid_argument("set_meta_data on a reader"));
        };
        let meta = meta_from_raw(meta, meta_len)?;
        w.set_meta_data(&meta)
    })
}

unsafe extern "C" fn get_properties<F: Format>(
    inst: *mut iio_instance,
    index: u64,
    out: *mut ffi::iio_image_properties,
    err: *mut iio_error,
) -> iio_status {
    guard(err, || {
        // SAFETY: the host passes an open instance.
        let Instance::Reader(r) = (unsafe { instance::<F>(inst) })? else {
            return Err(Error::invalid_argument("get_properties on a writer"));
        };
        if out.is_null() {
            return Err(Error::internal("get_properties: NULL out"));
        }
        let p = r.properties(index)?;
        if p.shape.len() > ffi::IIO_MAX_NDIM {
            return Err(Error::internal("more than 32 dimensions"));
        }
        // SAFETY: `out` is the host's valid out-struct (checked non-null);
        // only the fields of ABI 1.2 are written.
        let o = unsafe { &mut *out };
        o.dtype = p.dtype.code();
        o.ndim = p.shape.len() as u32;
        o.shape[..p.shape.len()].copy_from_slice(&p.shape);
        Ok(())
    })
}

/// The properties extension of format `F` (ABI 1.2).
pub const fn properties_ext<F: Format>() -> ffi::iio_properties_ext_v1 {
    ffi::iio_properties_ext_v1 {
        struct_size: size_of::<ffi::iio_properties_ext_v1>() as u32,
        _reserved: 0,
        get_properties: Some(get_properties::<F>),
    }
}

/// The options extension of format `F` (ABI 1.2; empty when it declares
/// none, and then not offered).
pub const fn options_ext<F: Format>() -> ffi::iio_options_ext_v1 {
    let (options, count) = match F::OPTIONS {
        Some(o) => (o.as_ptr().cast::<ffi::iio_option_decl>(), o.len()),
        None => (core::ptr::null(), 0),
    };
    ffi::iio_options_ext_v1 {
        struct_size: size_of::<ffi::iio_options_ext_v1>() as u32,
        _reserved: 0,
        options,
        count,
    }
}

/// The documentation extension of format `F` (ABI 1.2).
pub const fn doc_ext<F: Format>() -> ffi::iio_doc_ext_v1 {
    ffi::iio_doc_ext_v1 {
        struct_size: size_of::<ffi::iio_doc_ext_v1>() as u32,
        _reserved: 0,
        text: str_lit(F::DOC),
    }
}

/// The extensions of format `F` and which of them it offers, for the
/// `plugin!` macro's statics.
pub struct FormatExtensions {
    /// Properties without decoding.
    pub properties: ffi::iio_properties_ext_v1,
    /// Declared options.
    pub options: ffi::iio_options_ext_v1,
    /// Whether the format declares options.
    pub has_options: bool,
    /// Documentation.
    pub doc: ffi::iio_doc_ext_v1,
    /// Whether the format has documentation.
    pub has_doc: bool,
}

/// Format `F`'s extensions.
pub const fn extensions<F: Format>() -> FormatExtensions {
    FormatExtensions {
        properties: properties_ext::<F>(),
        options: options_ext::<F>(),
        has_options: F::OPTIONS.is_some(),
        doc: doc_ext::<F>(),
        has_doc: !F::DOC.is_empty(),
    }
}

/// Offers the extensions of `format` to `host`, where the host knows
/// extensions (ABI 1.2; an older host's table is shorter, and is left
/// alone).
///
/// # Safety
///
/// `host` is NULL or the host's valid table; `format` and `ext` are the
/// plugin's static tables.
pub unsafe fn offer(host: *const iio_host_v1, format: *const iio_format_v1, ext: &'static FormatExtensions) {
    if host.is_null() {
        return;
    }
    // SAFETY: a non-null host table starts with its u32 struct_size.
    let size = unsafe { (*host).struct_size } as usize;
    if size < core::mem::offset_of!(iio_host_v1, provide_extension) + size_of::<usize>() {
        return;
    }
    // SAFETY: the table is at least that long (checked above).
    let Some(provide) = (unsafe { (*host).provide_extension }) else {
        return;
    };
    let offers: [(u32, *const core::ffi::c_void, bool); 3] = [
        (ffi::IIO_EXT_PROPERTIES_V1, (&raw const ext.properties).cast(), true),
        (
            ffi::IIO_EXT_OPTIONS_V1,
            (&raw const ext.options).cast(),
            ext.has_options,
        ),
        (ffi::IIO_EXT_DOC_V1, (&raw const ext.doc).cast(), ext.has_doc),
    ];
    for (id, ptr, on) in offers {
        if on {
            // SAFETY: the host's function, with the plugin's static table
            // and extension (the ABI's contract); an unknown id is refused,
            // which is fine.
            let _ = unsafe { provide(format, id, ptr) };
        }
    }
}

// SAFETY: the extension structs hold function pointers and pointers to
// static data only.
unsafe impl Sync for FormatExtensions {}

/// The static table of format `F`.
pub const fn format_table<F: Format>() -> iio_format_v1 {
    let mut caps = 0;
    if <F::Reader as Reader>::SUPPORTED {
        caps |= ffi::IIO_CAP_READ;
    }
    if <F::Writer as Writer>::SUPPORTED {
        caps |= ffi::IIO_CAP_WRITE;
    }
    if F::THREAD_SAFE {
        caps |= ffi::IIO_CAP_THREAD_SAFE;
    }
    if F::NEEDS_SEEK {
        caps |= ffi::IIO_CAP_NEEDS_SEEK;
    }
    iio_format_v1 {
        struct_size: size_of::<iio_format_v1>() as u32,
        capabilities: caps,
        name: str_lit(F::NAME),
        description: str_lit(F::DESCRIPTION),
        extensions: str_lit(F::EXTENSIONS),
        modes: str_lit(F::MODES),
        can_read: Some(can_read::<F>),
        can_write: Some(can_write::<F>),
        open: Some(open::<F>),
        close: Some(close::<F>),
        get_length: Some(get_length::<F>),
        get_data: Some(get_data::<F>),
        get_meta_data: Some(get_meta_data::<F>),
        append_data: Some(append_data::<F>),
        set_meta_data: Some(set_meta_data::<F>),
        signatures: if F::SIGNATURES.is_empty() {
            core::ptr::null()
        } else {
            F::SIGNATURES.as_ptr().cast::<ffi::iio_signature>()
        },
        signature_count: F::SIGNATURES.len(),
    }
}

/// The body of an exported `iio_plugin_entry_v1`: install the log forwarder,
/// then return the accessor's table. Never unwinds.
///
/// # Safety
///
/// `host` is NULL or points to a valid `iio_host_v1` that lives for the process.
pub unsafe fn entry(
    host: *const iio_host_v1,
    accessor: unsafe extern "C" fn(*const iio_host_v1) -> *const iio_plugin_v1,
) -> *const iio_plugin_v1 {
    catch(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { crate::logging::install(host) };
        // SAFETY: forwarded from this function's contract.
        unsafe { accessor(host) }
    })
    .unwrap_or(core::ptr::null())
}
