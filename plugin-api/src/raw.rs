//! Small helpers for the raw side of the ABI, shared by the SDK and the host:
//! slices and strings from C pointers (a zero length may come with any
//! pointer, NULL included), string views, and overflow-checked shape sizes.

use crate::ffi::iio_str;
use core::ffi::c_char;

/// A slice from a C pointer and length; a zero length (or a NULL pointer)
/// gives the empty slice.
///
/// # Safety
///
/// When `len > 0` and `ptr` is not NULL, `ptr` points to `len` valid,
/// aligned, initialised elements that outlive the slice and are not written
/// meanwhile.
pub unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: forwarded from this function's contract.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }
}

/// A mutable slice from a C pointer and length; a zero length (or a NULL
/// pointer) gives the empty slice.
///
/// # Safety
///
/// When `len > 0` and `ptr` is not NULL, `ptr` points to `len` valid,
/// aligned, initialised elements that outlive the slice and that nothing
/// else reads or writes meanwhile.
pub unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 || ptr.is_null() {
        &mut []
    } else {
        // SAFETY: forwarded from this function's contract.
        unsafe { core::slice::from_raw_parts_mut(ptr, len) }
    }
}

/// An `iio_str` borrowing `s` (valid while `s` is; usable in constants).
pub const fn str_view(s: &str) -> iio_str {
    iio_str {
        ptr: s.as_ptr().cast::<c_char>(),
        len: s.len(),
    }
}

/// The bytes of an `iio_str`.
///
/// # Safety
///
/// As for [`slice()`]: `s.ptr` points to `s.len` readable bytes, or `s.len` is 0.
pub unsafe fn str_bytes<'a>(s: &iio_str) -> &'a [u8] {
    // SAFETY: forwarded from this function's contract.
    unsafe { slice(s.ptr.cast::<u8>(), s.len) }
}

/// An `iio_str` copied into a `String`, invalid UTF-8 replaced.
///
/// # Safety
///
/// As for [`str_bytes`].
pub unsafe fn str_lossy(s: &iio_str) -> String {
    // SAFETY: forwarded from this function's contract.
    String::from_utf8_lossy(unsafe { str_bytes(s) }).into_owned()
}

/// The size in bytes of an array of `shape` with `itemsize`-byte elements,
/// or `None` when it overflows `u64`.
///
/// ```
/// use imageio_plugin_api::raw::shape_bytes;
/// assert_eq!(shape_bytes(2, &[3, 4]), Some(24));
/// assert_eq!(shape_bytes(1, &[]), Some(1));
/// assert_eq!(shape_bytes(8, &[u64::MAX, 2]), None);
/// ```
pub fn shape_bytes(itemsize: u64, shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(itemsize, |acc, &d| acc.checked_mul(d))
}

/// Whether `first_bytes` hold `bytes` at `offset`, compared under `mask`
/// (every bit when `None`): the one signature match, used by the SDK's
/// [`Signature`](crate::Signature) and by the host for a plugin's table.
/// A source too short to reach the signature's end does not match.
pub fn signature_matches(offset: usize, bytes: &[u8], mask: Option<&[u8]>, first_bytes: &[u8]) -> bool {
    let Some(window) = offset
        .checked_add(bytes.len())
        .and_then(|end| first_bytes.get(offset..end))
    else {
        return false;
    };
    match mask {
        None => window == bytes,
        Some(mask) => window.iter().zip(bytes).zip(mask).all(|((&s, &b), &m)| s & m == b & m),
    }
}

/// The `IIO_LOG_*` code of a log level (the SDK's records to the host, and
/// the host's worker records): the one mapping, with [`log_level_of`].
pub fn log_level_code(level: log::Level) -> u32 {
    match level {
        log::Level::Error => crate::ffi::IIO_LOG_ERROR,
        log::Level::Warn => crate::ffi::IIO_LOG_WARN,
        log::Level::Info => crate::ffi::IIO_LOG_INFO,
        log::Level::Debug => crate::ffi::IIO_LOG_DEBUG,
        log::Level::Trace => crate::ffi::IIO_LOG_TRACE,
    }
}

/// The log level of an `IIO_LOG_*` code (an unknown code is `Trace`).
///
/// ```
/// use imageio_plugin_api::raw::{log_level_code, log_level_of};
/// for l in [log::Level::Error, log::Level::Warn, log::Level::Info, log::Level::Debug, log::Level::Trace] {
///     assert_eq!(log_level_of(log_level_code(l)), l);
/// }
/// ```
pub fn log_level_of(code: u32) -> log::Level {
    match code {
        crate::ffi::IIO_LOG_ERROR => log::Level::Error,
        crate::ffi::IIO_LOG_WARN => log::Level::Warn,
        crate::ffi::IIO_LOG_INFO => log::Level::Info,
        crate::ffi::IIO_LOG_DEBUG => log::Level::Debug,
        _ => log::Level::Trace,
    }
}
