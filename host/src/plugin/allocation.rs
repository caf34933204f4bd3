//! The allocation policy: what image a plugin may ask the host for (the
//! dtype, the dimensions, the image-byte, width, height and pixel limits),
//! the one check every backend applies, in process or isolated; and the
//! pixel count a reader's budget of decoded pixels is charged with.

use crate::base::Limits;
use imageio_plugin_api::Dtype;
use imageio_plugin_api::raw::shape_bytes;

/// An image allocation a plugin asked for, checked.
pub(crate) struct AllocRequest {
    pub dtype: Dtype,
    /// The extents, as this platform's sizes.
    pub dims: Vec<usize>,
    /// The array's size in bytes.
    pub bytes: u64,
}

/// Checks a plugin's allocation (the dtype code, at most 32 dimensions, no
/// overflow, the image-byte, width, height and pixel limits): the one check
/// of every backend, in process or isolated.
pub(crate) fn checked_alloc(limits: &Limits, dtype: u32, shape: &[u64]) -> Result<AllocRequest, String> {
    let dtype = Dtype::from_code(dtype).ok_or_else(|| format!("unknown dtype code {dtype}"))?;
    if shape.len() > 32 {
        return Err(format!("{} dimensions (at most 32)", shape.len()));
    }
    let bytes = shape_bytes(dtype.size() as u64, shape).ok_or_else(|| format!("shape {shape:?} overflows"))?;
    if bytes > limits.max_image_bytes {
        return Err(format!(
            "an image of shape {shape:?} and dtype {} needs {bytes} bytes, over the limit of {} bytes",
            dtype.name(),
            limits.max_image_bytes
        ));
    }
    if let Some(reason) = over_pixel_limits(limits, shape) {
        return Err(reason);
    }
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("shape {shape:?} does not fit this platform"))?;
    usize::try_from(bytes).map_err(|_| format!("shape {shape:?} does not fit this platform"))?;
    Ok(AllocRequest { dtype, dims, bytes })
}

/// The pixels of an array of `shape`: rows are `shape[0]`, columns
/// `shape[1]`; a last axis of at most 4 in a 3-D or larger array is the
/// channels, every other axis counts as pixels (the planes of a volume).
pub(crate) fn pixel_count(shape: &[u64]) -> u64 {
    let spatial = if shape.len() >= 3 && shape[shape.len() - 1] <= 4 {
        &shape[..shape.len() - 1]
    } else {
        shape
    };
    spatial.iter().fold(1u64, |a, &d| a.saturating_mul(d))
}

/// Why an array of `shape` breaks the width, height or pixel limits, if it
/// does (see [`pixel_count`]). `max_total_pixels` here is what is left of
/// the file's budget of decoded pixels when the array is asked for (the
/// reader lowers it by every image it has returned).
fn over_pixel_limits(limits: &Limits, shape: &[u64]) -> Option<String> {
    if shape.len() < 2 {
        return None;
    }
    let (height, width) = (shape[0], shape[1]);
    let pixels = pixel_count(shape);
    if width > limits.max_width || height > limits.max_height {
        Some(format!(
            "an image of shape {shape:?} is over the size limit of {}x{} pixels",
            limits.max_width, limits.max_height
        ))
    } else if pixels > limits.max_pixels {
        Some(format!(
            "an image of shape {shape:?} has {pixels} pixels, over the limit of {}",
            limits.max_pixels
        ))
    } else if pixels > limits.max_total_pixels {
        Some(format!(
            "an image of shape {shape:?} has {pixels} pixels, more than the {} left of the limit on pixels \
             decoded per file (total_pixels)",
            limits.max_total_pixels
        ))
    } else {
        None
    }
}

/// A byte array as booleans, in place (no second buffer): every non-zero
/// byte becomes `true` (1), so each byte is then a valid `bool`.
pub(crate) fn bytes_to_bools(mut a: ndarray::ArrayD<u8>) -> ndarray::ArrayD<bool> {
    a.mapv_inplace(|v| u8::from(v != 0));
    let shape = a.raw_dim();
    let (mut bytes, offset) = a.into_raw_vec_and_offset();
    debug_assert!(offset.unwrap_or(0) == 0, "a fresh standard-layout array");
    let (ptr, len, cap) = (bytes.as_mut_ptr(), bytes.len(), bytes.capacity());
    std::mem::forget(bytes);
    // SAFETY: `bool` has the size and alignment of `u8`, and every byte is
    // now 0 or 1, a valid `bool`; the allocation moves from the `Vec<u8>`
    // (forgotten) to the `Vec<bool>` with the same length and capacity.
    let bools = unsafe { Vec::from_raw_parts(ptr.cast::<bool>(), len, cap) };
    ndarray::ArrayD::from_shape_vec(shape, bools).expect("same shape and length")
}
