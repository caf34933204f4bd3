//! The libjpeg-turbo encoder (`c/turbo.c`, built by `build.rs` when the
//! system has libjpeg): the declarations of `c/turbo.h` and the one call.

use crate::encode::{Job, Subsampling};
use imageio_plugin_api::{Error, Result};
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io::Write;

/// `struct iio_jpeg_turbo_marker`.
#[repr(C)]
struct Marker {
    data: *const u8,
    len: usize,
    app: c_int,
    icc: c_int,
}

/// `struct iio_jpeg_turbo_job`.
#[repr(C)]
struct CJob {
    pixels: *const u8,
    width: c_uint,
    height: c_uint,
    components: c_int,
    quality: c_int,
    progressive: c_int,
    optimize: c_int,
    luma_h: c_int,
    luma_v: c_int,
    has_density: c_int,
    x_density: c_uint,
    y_density: c_uint,
    markers: *const Marker,
    marker_count: usize,
}

type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize) -> c_int;

const OK: c_int = 0;
/// The ICC bytes one APP2 marker carries (65533 less the 14-byte ICC
/// header).
const ICC_BYTES_PER_MARKER: usize = 65519;
/// libjpeg's largest width or height (`JPEG_MAX_DIMENSION`).
pub const MAX_DIMENSION: u16 = 65500;
const WRITE_FAILED: c_int = 2;

unsafe extern "C" {
    fn iio_jpeg_turbo_encode(
        job: *const CJob,
        write: WriteFn,
        ctx: *mut c_void,
        message: *mut c_char,
        message_len: usize,
    ) -> c_int;
}

/// The luma component's horizontal and vertical sampling factors (chroma
/// is 1x1).
fn luma_factors(s: Subsampling) -> (c_int, c_int) {
    match s {
        Subsampling::S444 => (1, 1),
        Subsampling::S422 => (2, 1),
        Subsampling::S420 => (2, 2),
    }
}

/// Where the encoded bytes go, and the first write error.
struct Sink<'a> {
    out: &'a mut dyn Write,
    error: Option<std::io::Error>,
}

/// The write callback: `ctx` is the `Sink` of the running encode.
///
/// # Safety
/// `ctx` points to a live `Sink` that nothing else uses during the call,
/// and `data` to `len` readable bytes.
unsafe extern "C" fn write_out(ctx: *mut c_void, data: *const u8, len: usize) -> c_int {
    // SAFETY: the caller's contract: ctx is the Sink passed to
    // iio_jpeg_turbo_encode, used only by this callback during the call.
    let sink = unsafe { &mut *ctx.cast::<Sink<'_>>() };
    // SAFETY: libjpeg hands its output buffer, `len` bytes long.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    // A panic must not unwind into C: a panicking writer is a failed write.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.out.write_all(bytes))) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            sink.error = Some(e);
            1
        }
        Err(_) => {
            sink.error = Some(std::io::Error::other("the output stream panicked"));
            1
        }
    }
}

/// Encodes `job` with libjpeg-turbo into `out`.
pub fn encode(job: &Job<'_>, out: &mut dyn Write) -> Result<()> {
    let mut markers = Vec::new();
    if let Some(exif) = &job.exif {
        markers.push(Marker {
            data: exif.as_ptr(),
            len: exif.len(),
            app: 1,
            icc: 0,
        });
    }
    if let Some(icc) = job.icc.as_ref().filter(|icc| !icc.is_empty()) {
        // libjpeg splits a profile over APP2 markers numbered in one byte
        // and does not check the count: refuse what does not fit, as
        // jpeg-encoder does, rather than write a damaged profile.
        if icc.len().div_ceil(ICC_BYTES_PER_MARKER) > 255 {
            return Err(Error::invalid_argument(format!(
                "JPEG: an ICC profile of {} bytes does not fit 255 APP2 markers ({} bytes at most)",
                icc.len(),
                255 * ICC_BYTES_PER_MARKER
            )));
        }
        markers.push(Marker {
            data: icc.as_ptr(),
            len: icc.len(),
            app: 2,
            icc: 1,
        });
    }
    if let Some(exif) = &job.exif
        && exif.len() > 65533
    {
        return Err(Error::invalid_argument(format!(
            "JPEG: an EXIF block of {} bytes does not fit one APP1 segment (65533 at most)",
            exif.len()
        )));
    }
    let (has_density, (x_density, y_density)) = match job.density {
        Some(d) => (1, d),
        None => (0, (1, 1)),
    };
    let cjob = CJob {
        pixels: job.pixels.as_ptr(),
        width: c_uint::from(job.width),
        height: c_uint::from(job.height),
        components: c_int::from(job.components),
        quality: c_int::from(job.quality),
        progressive: c_int::from(job.progressive),
        optimize: c_int::from(job.optimize),
        luma_h: luma_factors(job.subsampling).0,
        luma_v: luma_factors(job.subsampling).1,
        has_density,
        x_density: c_uint::from(x_density),
        y_density: c_uint::from(y_density),
        markers: markers.as_ptr(),
        marker_count: markers.len(),
    };
    let mut sink = Sink { out, error: None };
    let mut message = [0 as c_char; 256];
    // SAFETY: every pointer in cjob points into `job` or `markers`, which
    // outlive the call (pixels: width x height x components bytes, checked
    // by `encode::encode`); the callback gets `sink`, used by nothing else
    // until the call returns; `message` is writable for its length. The C
    // side never unwinds and never keeps a pointer after returning.
    let status = unsafe {
        iio_jpeg_turbo_encode(
            &cjob,
            write_out,
            (&raw mut sink).cast::<c_void>(),
            message.as_mut_ptr(),
            message.len(),
        )
    };
    if status == OK {
        return Ok(());
    }
    if status == WRITE_FAILED
        && let Some(e) = sink.error
    {
        return Err(Error::from(e));
    }
    // SAFETY: the C side leaves a NUL-terminated string in `message`.
    let text = unsafe { std::ffi::CStr::from_ptr(message.as_ptr()) }.to_string_lossy();
    Err(Error::invalid_argument(format!("JPEG: libjpeg: {text}")))
}
