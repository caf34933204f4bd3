//! Owned metadata and option values, and their conversion to and from `iio_value`.

use crate::ffi::{self, iio_value};
use core::ffi::c_void;

/// A metadata or option value, as it crosses the ABI.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (imageio's `None`).
    None,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// UTF-8 text.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Integers.
    IntArray(Vec<i64>),
    /// Floats.
    FloatArray(Vec<f64>),
}

impl Value {
    /// A raw view of this value, borrowing its data (valid while `self` lives).
    pub fn to_raw(&self) -> iio_value {
        let mut raw = iio_value {
            kind: ffi::IIO_VALUE_NONE,
            _reserved: 0,
            i: 0,
            f: 0.0,
            ptr: core::ptr::null(),
            len: 0,
        };
        match self {
            Value::None => {}
            Value::Bool(b) => {
                raw.kind = ffi::IIO_VALUE_BOOL;
                raw.i = i64::from(*b);
            }
            Value::Int(i) => {
                raw.kind = ffi::IIO_VALUE_INT;
                raw.i = *i;
            }
            Value::Float(f) => {
                raw.kind = ffi::IIO_VALUE_FLOAT;
                raw.f = *f;
            }
            Value::Str(s) => {
                raw.kind = ffi::IIO_VALUE_STR;
                raw.ptr = s.as_ptr().cast::<c_void>();
                raw.len = s.len();
            }
            Value::Bytes(b) => {
                raw.kind = ffi::IIO_VALUE_BYTES;
                raw.ptr = b.as_ptr().cast::<c_void>();
                raw.len = b.len();
            }
            Value::IntArray(v) => {
                raw.kind = ffi::IIO_VALUE_INT_ARRAY;
                raw.ptr = v.as_ptr().cast::<c_void>();
                raw.len = v.len();
            }
            Value::FloatArray(v) => {
                raw.kind = ffi::IIO_VALUE_FLOAT_ARRAY;
                raw.ptr = v.as_ptr().cast::<c_void>();
                raw.len = v.len();
            }
        }
        raw
    }

    /// Copies a raw value. Returns `None` for an unknown kind, a NULL pointer
    /// with a non-zero length, or text that is not UTF-8 (the caller decides
    /// how to report it).
    ///
    /// # Safety
    ///
    /// For the pointer kinds, `raw.ptr` points to `raw.len` valid elements of
    /// the kind's type (bytes, `int64_t` or `double`), or `raw.len` is 0.
    pub unsafe fn from_raw(raw: &iio_value) -> Option<Value> {
        if raw.len != 0 && raw.ptr.is_null() {
            return None;
        }
        Some(match raw.kind {
            ffi::IIO_VALUE_NONE => Value::None,
            ffi::IIO_VALUE_BOOL => Value::Bool(raw.i != 0),
            ffi::IIO_VALUE_INT => Value::Int(raw.i),
            ffi::IIO_VALUE_FLOAT => Value::Float(raw.f),
            ffi::IIO_VALUE_STR => {
                // SAFETY: forwarded from this function's contract.
                let bytes = unsafe { crate::raw::slice(raw.ptr.cast::<u8>(), raw.len) };
                Value::Str(String::from_utf8(bytes.to_vec()).ok()?)
            }
            ffi::IIO_VALUE_BYTES => {
                // SAFETY: forwarded from this function's contract.
                Value::Bytes(unsafe { crate::raw::slice(raw.ptr.cast::<u8>(), raw.len) }.to_vec())
            }
            ffi::IIO_VALUE_INT_ARRAY => {
                if !raw.ptr.cast::<i64>().is_aligned() {
                    return None;
                }
                // SAFETY: forwarded from this function's contract; alignment checked.
                Value::IntArray(unsafe { crate::raw::slice(raw.ptr.cast::<i64>(), raw.len) }.to_vec())
            }
            ffi::IIO_VALUE_FLOAT_ARRAY => {
                if !raw.ptr.cast::<f64>().is_aligned() {
                    return None;
                }
                // SAFETY: forwarded from this function's contract; alignment checked.
                Value::FloatArray(unsafe { crate::raw::slice(raw.ptr.cast::<f64>(), raw.len) }.to_vec())
            }
            _ => return None,
        })
    }
}
