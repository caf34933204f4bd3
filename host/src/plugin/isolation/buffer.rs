//! The host's array buffer for an image a worker decodes: allocated when
//! the worker asks (checked against the limits), shared with the worker,
//! then sealed and turned into the array without a copy.

use super::shm;
use crate::base::{Limits, NdArray};
use imageio_plugin_api::Dtype;

/// The host's array buffer for an image a worker decodes: allocated
/// (uninitialised) when the worker asks, filled by adopting the worker's
/// sealed memfd, then turned into the array without a copy.
pub(crate) struct HostBuffer {
    pub(super) dtype: Dtype,
    pub(super) dims: Vec<usize>,
    pub(super) ptr: *mut u8,
    pub(super) bytes: usize,
    pub(super) layout: std::alloc::Layout,
    /// The memory shared with the worker while it decodes (none for an
    /// empty image, and none once filled).
    pub(super) shared: Option<shm::SharedImage>,
}

// SAFETY: the buffer is plain memory owned by this value.
unsafe impl Send for HostBuffer {}

impl HostBuffer {
    /// Checks the request against the limits (the same checks as an
    /// in-process allocation) and allocates.
    pub(super) fn new(
        code: u32,
        shape: &[u64],
        limits: &Limits,
        zero_copy: bool,
    ) -> std::result::Result<HostBuffer, String> {
        let crate::plugin::allocation::AllocRequest { dtype, dims, bytes } =
            crate::plugin::allocation::checked_alloc(limits, code, shape)?;
        let bytes = bytes as usize;
        let align = dtype_align(dtype);
        let layout = std::alloc::Layout::from_size_align(bytes.max(1), align).map_err(|e| e.to_string())?;
        let ptr = if bytes == 0 {
            std::ptr::null_mut()
        } else {
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc(layout) };
            if p.is_null() {
                return Err(format!(
                    "no memory for an image of shape {shape:?} and dtype {} ({bytes} bytes)",
                    dtype.name()
                ));
            }
            p
        };
        let mut buffer = HostBuffer {
            dtype,
            dims,
            ptr,
            bytes,
            layout,
            shared: None,
        };
        if bytes > 0 {
            // SAFETY: `ptr` is the buffer's own allocation of `bytes`
            // bytes; it lives (and is not read) until the sharing ends in
            // `fill`, or when `HostBuffer::drop` drops the SharedImage
            // before freeing the buffer.
            let shared = unsafe { shm::SharedImage::new(ptr, bytes, zero_copy) };
            buffer.shared = Some(shared.map_err(|e| format!("no shared memory for the image: {e}"))?);
        }
        Ok(buffer)
    }

    /// Ends the sharing: the buffer holds the worker's image, sealed.
    pub(super) fn fill(&mut self) -> std::io::Result<()> {
        if let Some(shared) = self.shared.take() {
            shared.finish()?;
        }
        Ok(())
    }

    /// The array (booleans validated to 0/1), the buffer moving into it.
    pub(super) fn into_array(mut self) -> NdArray {
        assert!(self.shared.is_none(), "the buffer is filled before it becomes an array");
        let n = self.dims.iter().product::<usize>();
        let dims = std::mem::take(&mut self.dims);
        let ptr = std::mem::replace(&mut self.ptr, std::ptr::null_mut());
        if self.bytes == 0 {
            return NdArray::zeros(self.dtype, &dims);
        }
        macro_rules! take {
            ($t:ty, $v:ident) => {{
                // SAFETY: `ptr` was allocated with the layout of `n`
                // elements of `$t` (size n * size_of, alignment align_of:
                // `dtype_align`), and
                // every byte is initialised (filled); ownership moves to
                // the Vec.
                let v = unsafe { Vec::from_raw_parts(ptr.cast::<$t>(), n, n) };
                NdArray::$v(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&dims), v).expect("same length"))
            }};
        }
        match self.dtype {
            Dtype::U8 => take!(u8, U8),
            Dtype::U16 => take!(u16, U16),
            Dtype::U32 => take!(u32, U32),
            Dtype::U64 => take!(u64, U64),
            Dtype::I8 => take!(i8, I8),
            Dtype::I16 => take!(i16, I16),
            Dtype::I32 => take!(i32, I32),
            Dtype::I64 => take!(i64, I64),
            Dtype::F32 => take!(f32, F32),
            Dtype::F64 => take!(f64, F64),
            Dtype::F16 => take!(half::f16, F16),
            Dtype::Bool => {
                // SAFETY: as above, for bytes.
                let v = unsafe { Vec::from_raw_parts(ptr, n, n) };
                let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&dims), v).expect("same length");
                NdArray::Bool(crate::plugin::allocation::bytes_to_bools(a))
            }
        }
    }
}

/// The alignment of a dtype's Rust element type (what `Vec<T>` expects).
fn dtype_align(d: Dtype) -> usize {
    use std::mem::align_of;
    match d {
        Dtype::U8 | Dtype::I8 | Dtype::Bool => 1,
        Dtype::U16 | Dtype::I16 => align_of::<u16>(),
        Dtype::F16 => align_of::<half::f16>(),
        Dtype::U32 | Dtype::I32 => align_of::<u32>(),
        Dtype::F32 => align_of::<f32>(),
        Dtype::U64 | Dtype::I64 => align_of::<u64>(),
        Dtype::F64 => align_of::<f64>(),
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        // The sharing ends first (its drop gives the interior private
        // memory back), then the buffer goes to the allocator.
        drop(self.shared.take());
        if !self.ptr.is_null() {
            // SAFETY: allocated in `new` with this layout and not handed on.
            unsafe { std::alloc::dealloc(self.ptr, self.layout) };
        }
    }
}
