//! [`ImageSink`]: where a reader puts pixels and metadata, and the dtypes.

use crate::error::{Error, Result};
use crate::ffi::{self, iio_dtype, iio_image_sink};
use crate::raw::str_view as str_of;
use crate::value::Value;

/// The element types an image can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// `uint8`
    U8,
    /// `uint16`
    U16,
    /// `uint32`
    U32,
    /// `uint64`
    U64,
    /// `int8`
    I8,
    /// `int16`
    I16,
    /// `int32`
    I32,
    /// `int64`
    I64,
    /// `float32`
    F32,
    /// `float64`
    F64,
    /// `bool` (one byte per element)
    Bool,
    /// `float16` (IEEE 754 half precision; ABI 1.2)
    F16,
}

impl Dtype {
    /// Every dtype, in ABI code order.
    pub const ALL: [Dtype; 12] = [
        Dtype::U8,
        Dtype::U16,
        Dtype::U32,
        Dtype::U64,
        Dtype::I8,
        Dtype::I16,
        Dtype::I32,
        Dtype::I64,
        Dtype::F32,
        Dtype::F64,
        Dtype::Bool,
        Dtype::F16,
    ];

    /// The ABI code (`IIO_DTYPE_*`).
    pub const fn code(self) -> iio_dtype {
        match self {
            Dtype::U8 => ffi::IIO_DTYPE_U8,
            Dtype::U16 => ffi::IIO_DTYPE_U16,
            Dtype::U32 => ffi::IIO_DTYPE_U32,
            Dtype::U64 => ffi::IIO_DTYPE_U64,
            Dtype::I8 => ffi::IIO_DTYPE_I8,
            Dtype::I16 => ffi::IIO_DTYPE_I16,
            Dtype::I32 => ffi::IIO_DTYPE_I32,
            Dtype::I64 => ffi::IIO_DTYPE_I64,
            Dtype::F32 => ffi::IIO_DTYPE_F32,
            Dtype::F64 => ffi::IIO_DTYPE_F64,
            Dtype::Bool => ffi::IIO_DTYPE_BOOL,
            Dtype::F16 => ffi::IIO_DTYPE_F16,
        }
    }

    /// The dtype of an ABI code, if it is one.
    pub fn from_code(code: iio_dtype) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.code() == code)
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 | Dtype::Bool => 1,
            Dtype::U16 | Dtype::I16 | Dtype::F16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }

    /// The name numpy gives it (`uint8`, `float32`, `bool`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::Bool => "bool",
            Dtype::F16 => "float16",
        }
    }
}

/// A Rust element type with a dtype. `bool` is not one: booleans travel as
/// `u8` through [`ImageSink::alloc_bool`].
pub trait Element: Copy + Default + Send + Sync + 'static {
    /// The element's dtype.
    const DTYPE: Dtype;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => { $(impl Element for $t { const DTYPE: Dtype = Dtype::$d; })* };
}
element!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32,
    i64 => I64, f32 => F32, f64 => F64);

/// The host's sink for one `get_data` or `get_meta_data` call.
pub struct ImageSink<'a> {
    raw: &'a iio_image_sink,
    allocated: bool,
}

impl<'a> ImageSink<'a> {
    pub(crate) fn new(raw: &'a iio_image_sink) -> Self {
        ImageSink { raw, allocated: false }
    }

    fn alloc_raw(&mut self, dtype: Dtype, shape: &[u64]) -> Result<&'a mut [u8]> {
        if self.allocated {
            return Err(Error::internal("ImageSink::alloc called twice in one call"));
        }
        let alloc = self
            .raw
            .alloc
            .ok_or_else(|| Error::internal("the host's sink has no alloc callback"))?;
        let count = crate::raw::shape_bytes(dtype.size() as u64, shape)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::no_memory(format!("an image of shape {shape:?} is too large")))?;
        let ndim = u32::try_from(shape.len()).map_err(|_| Error::invalid_argument("too many dimensions"))?;
        // SAFETY: `shape` is valid for `ndim` elements for the duration of the call;
        // `ctx` is the host's context for this sink.
        let ptr = unsafe { alloc(self.raw.ctx, dtype.code(), ndim, shape.as_ptr()) };
        if ptr.is_null() {
            return Err(Error::no_memory(format!(
                "the host refused to allocate an image of shape {shape:?} and dtype {}",
                dtype.name()
            )));
        }
        self.allocated = true;
        // SAFETY: the host's `alloc` returned a zero-filled buffer of exactly
        // `count` bytes, aligned for the dtype, that it keeps alive and does not
        // touch until this call returns; `self.allocated` ensures one slice only.
        Ok(unsafe { core::slice::from_raw_parts_mut(ptr.cast::<u8>(), count) })
    }

    /// Asks the host for a zero-filled, C-contiguous array of `shape` and
    /// returns it to be filled. At most once per call.
    pub fn alloc<T: Element>(&mut self, shape: &[u64]) -> Result<&'a mut [T]> {
        let bytes = self.alloc_raw(T::DTYPE, shape)?;
        let len = bytes.len() / size_of::<T>();
        let ptr = bytes.as_mut_ptr().cast::<T>();
        if !ptr.is_aligned() {
            return Err(Error::internal("the host returned a misaligned buffer"));
        }
        // SAFETY: the buffer holds `len * size_of::<T>()` initialised (zeroed)
        // bytes, is aligned for `T`, and every bit pattern is a valid `T` (all
        // `Element` types are plain integers or floats).
        Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
    }

    /// Like [`alloc`](Self::alloc) for any dtype, as raw bytes (elements in
    /// native byte order; `bool` as one byte, 0 or 1): for formats that
    /// read pixel data straight from the file.
    pub fn alloc_bytes(&mut self, dtype: Dtype, shape: &[u64]) -> Result<&'a mut [u8]> {
        self.alloc_raw(dtype, shape)
    }

    /// Like [`alloc`](Self::alloc) for a boolean image: one byte per element,
    /// 0 for false and 1 for true.
    pub fn alloc_bool(&mut self, shape: &[u64]) -> Result<&'a mut [u8]> {
        self.alloc_raw(Dtype::Bool, shape)
    }

    /// Adds a metadata entry; the host copies it.
    pub fn set_meta(&mut self, key: &str, value: &Value) -> Result<()> {
        let Some(set_meta) = self.raw.set_meta else {
            return Ok(());
        };
        let raw = value.to_raw();
        // SAFETY: `key` and `raw` (and the data it borrows from `value`) are
        // valid for the duration of the call.
        let status = unsafe { set_meta(self.raw.ctx, str_of(key), &raw) };
        match status {
            ffi::IIO_OK | ffi::IIO_ERR_UNSUPPORTED => Ok(()),
            code => Err(Error::new(code, format!("the host refused metadata entry {key:?}"))),
        }
    }
}
