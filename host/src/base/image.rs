//! [`Image`] (an n-dimensional array plus metadata) and [`NdArray`].

use crate::base::dict::Dict;
pub use imageio_plugin_api::Dtype;
use ndarray::{ArrayD, IxDyn};

/// An n-dimensional array of one of the numeric dtypes.
#[derive(Debug, Clone, PartialEq)]
#[expect(missing_docs, reason = "one variant per dtype, named after it")]
pub enum NdArray {
    U8(ArrayD<u8>),
    U16(ArrayD<u16>),
    U32(ArrayD<u32>),
    U64(ArrayD<u64>),
    I8(ArrayD<i8>),
    I16(ArrayD<i16>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    Bool(ArrayD<bool>),
    F16(ArrayD<half::f16>),
}

/// Runs `$body` with `$a` bound to the inner `ArrayD<T>` of any variant.
macro_rules! with_array {
    ($value:expr, $a:ident => $body:expr) => {
        match $value {
            NdArray::U8($a) => $body,
            NdArray::U16($a) => $body,
            NdArray::U32($a) => $body,
            NdArray::U64($a) => $body,
            NdArray::I8($a) => $body,
            NdArray::I16($a) => $body,
            NdArray::I32($a) => $body,
            NdArray::I64($a) => $body,
            NdArray::F32($a) => $body,
            NdArray::F64($a) => $body,
            NdArray::Bool($a) => $body,
            NdArray::F16($a) => $body,
        }
    };
}
pub(crate) use with_array;

impl NdArray {
    /// The element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            NdArray::U8(_) => Dtype::U8,
            NdArray::U16(_) => Dtype::U16,
            NdArray::U32(_) => Dtype::U32,
            NdArray::U64(_) => Dtype::U64,
            NdArray::I8(_) => Dtype::I8,
            NdArray::I16(_) => Dtype::I16,
            NdArray::I32(_) => Dtype::I32,
            NdArray::I64(_) => Dtype::I64,
            NdArray::F32(_) => Dtype::F32,
            NdArray::F64(_) => Dtype::F64,
            NdArray::F16(_) => Dtype::F16,
            NdArray::Bool(_) => Dtype::Bool,
        }
    }

    /// The extents, outermost first.
    pub fn shape(&self) -> &[usize] {
        with_array!(self, a => a.shape())
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        with_array!(self, a => a.len())
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the data in bytes.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype().size()
    }

    /// A zero-filled array.
    pub fn zeros(dtype: Dtype, shape: &[usize]) -> NdArray {
        let s = IxDyn(shape);
        match dtype {
            Dtype::U8 => NdArray::U8(ArrayD::zeros(s)),
            Dtype::U16 => NdArray::U16(ArrayD::zeros(s)),
            Dtype::U32 => NdArray::U32(ArrayD::zeros(s)),
            Dtype::U64 => NdArray::U64(ArrayD::zeros(s)),
            Dtype::I8 => NdArray::I8(ArrayD::zeros(s)),
            Dtype::I16 => NdArray::I16(ArrayD::zeros(s)),
            Dtype::I32 => NdArray::I32(ArrayD::zeros(s)),
            Dtype::I64 => NdArray::I64(ArrayD::zeros(s)),
            Dtype::F32 => NdArray::F32(ArrayD::zeros(s)),
            Dtype::F64 => NdArray::F64(ArrayD::zeros(s)),
            Dtype::Bool => NdArray::Bool(ArrayD::from_elem(s, false)),
            Dtype::F16 => NdArray::F16(ArrayD::from_elem(s, half::f16::ZERO)),
        }
    }

    /// A zero-filled array like [`zeros`](Self::zeros), or `None` when the
    /// memory cannot be had (the allocation fails cleanly instead of
    /// aborting the process). Booleans are `false`.
    pub fn try_zeros(dtype: Dtype, shape: &[usize]) -> Option<NdArray> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        let s = IxDyn(shape);
        fn arr<T: Zeroable>(s: IxDyn, n: usize) -> Option<ArrayD<T>> {
            ArrayD::from_shape_vec(s, try_zeroed_vec::<T>(n)?).ok()
        }
        Some(match dtype {
            Dtype::U8 => NdArray::U8(arr(s, n)?),
            Dtype::U16 => NdArray::U16(arr(s, n)?),
            Dtype::U32 => NdArray::U32(arr(s, n)?),
            Dtype::U64 => NdArray::U64(arr(s, n)?),
            Dtype::I8 => NdArray::I8(arr(s, n)?),
            Dtype::I16 => NdArray::I16(arr(s, n)?),
            Dtype::I32 => NdArray::I32(arr(s, n)?),
            Dtype::I64 => NdArray::I64(arr(s, n)?),
            Dtype::F32 => NdArray::F32(arr(s, n)?),
            Dtype::F64 => NdArray::F64(arr(s, n)?),
            Dtype::Bool => NdArray::Bool(arr(s, n)?),
            Dtype::F16 => NdArray::F16(arr(s, n)?),
        })
    }

    /// An array of `dtype` and `shape` from its elements' bytes (C order,
    /// native byte order; booleans as bytes, any non-zero being true), or
    /// `None` when the length does not match.
    pub fn from_bytes(dtype: Dtype, shape: &[usize], bytes: &[u8]) -> Option<NdArray> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        if n.checked_mul(dtype.size())? != bytes.len() {
            return None;
        }
        let s = IxDyn(shape);
        macro_rules! arr {
            ($t:ty, $v:ident) => {
                NdArray::$v(
                    ArrayD::from_shape_vec(
                        s,
                        bytes
                            .chunks_exact(size_of::<$t>())
                            .map(|c| <$t>::from_ne_bytes(c.try_into().expect("chunk size")))
                            .collect(),
                    )
                    .ok()?,
                )
            };
        }
        Some(match dtype {
            Dtype::U8 => NdArray::U8(ArrayD::from_shape_vec(s, bytes.to_vec()).ok()?),
            Dtype::U16 => arr!(u16, U16),
            Dtype::U32 => arr!(u32, U32),
            Dtype::U64 => arr!(u64, U64),
            Dtype::I8 => arr!(i8, I8),
            Dtype::I16 => arr!(i16, I16),
            Dtype::I32 => arr!(i32, I32),
            Dtype::I64 => arr!(i64, I64),
            Dtype::F32 => arr!(f32, F32),
            Dtype::F64 => arr!(f64, F64),
            Dtype::F16 => arr!(half::f16, F16),
            Dtype::Bool => NdArray::Bool(ArrayD::from_shape_vec(s, bytes.iter().map(|&b| b != 0).collect()).ok()?),
        })
    }

    /// The `u8` array, if that is the dtype.
    pub fn as_u8(&self) -> Option<&ArrayD<u8>> {
        match self {
            NdArray::U8(a) => Some(a),
            _ => None,
        }
    }

    /// The `u16` array, if that is the dtype.
    pub fn as_u16(&self) -> Option<&ArrayD<u16>> {
        match self {
            NdArray::U16(a) => Some(a),
            _ => None,
        }
    }

    /// The `bool` array, if that is the dtype.
    pub fn as_bool(&self) -> Option<&ArrayD<bool>> {
        match self {
            NdArray::Bool(a) => Some(a),
            _ => None,
        }
    }

    /// The elements' bytes in C order and native byte order (`bool` as 0/1).
    pub fn to_bytes(&self) -> Vec<u8> {
        fn bytes_of<T: Copy>(a: &ArrayD<T>, to: impl Fn(T, &mut Vec<u8>)) -> Vec<u8> {
            let mut out = Vec::with_capacity(a.len() * size_of::<T>());
            for &v in a.iter() {
                to(v, &mut out);
            }
            out
        }
        match self {
            NdArray::U8(a) => bytes_of(a, |v, o| o.push(v)),
            NdArray::U16(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::U32(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::U64(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::I8(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::I16(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::I32(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::I64(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::F32(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::F64(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::F16(a) => bytes_of(a, |v, o| o.extend(v.to_ne_bytes())),
            NdArray::Bool(a) => bytes_of(a, |v, o| o.push(u8::from(v))),
        }
    }
}

macro_rules! ndarray_from {
    ($($t:ty => $v:ident),*) => {
        $(impl<D: ndarray::Dimension> From<ndarray::Array<$t, D>> for NdArray {
            /// An array of any number of dimensions (`Array2`, `Array3`, `ArrayD`, ...).
            fn from(a: ndarray::Array<$t, D>) -> NdArray { NdArray::$v(a.into_dyn()) }
        })*
    };
}
ndarray_from!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32,
    i64 => I64, f32 => F32, f64 => F64, bool => Bool, half::f16 => F16);

/// An image: an array plus its metadata (imageio's `Image`/`Array`).
///
/// ```
/// use imageio::{Dict, Image};
/// use ndarray::ArrayD;
/// let im = Image::new(ArrayD::<u8>::zeros(ndarray::IxDyn(&[2, 3])), Dict::new());
/// assert_eq!(im.shape(), &[2, 3]);
/// assert_eq!(im.dtype().name(), "uint8");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The pixels.
    pub data: NdArray,
    /// The metadata.
    pub meta: Dict,
}

impl Image {
    /// An image from an array and its metadata.
    pub fn new(data: impl Into<NdArray>, meta: Dict) -> Image {
        Image {
            data: data.into(),
            meta,
        }
    }

    /// The extents.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.data.dtype()
    }
}

impl<T> From<T> for Image
where
    T: Into<NdArray>,
{
    fn from(data: T) -> Image {
        Image::new(data, Dict::new())
    }
}

/// The plain array of an image, without its metadata and without a copy
/// (imageio's `asarray`).
///
/// ```
/// use imageio::{asarray, Image};
/// let im = Image::from(ndarray::ArrayD::<u16>::zeros(ndarray::IxDyn(&[4, 4])));
/// assert_eq!(asarray(&im).shape(), &[4, 4]);
/// ```
pub fn asarray(image: &Image) -> &NdArray {
    &image.data
}

/// Element types whose all-zero bytes are a valid value (`0`, `0.0`, `false`).
///
/// # Safety
///
/// Implement only for types for which every all-zero bit pattern is valid.
unsafe trait Zeroable: Clone {}
// SAFETY: zero bytes are 0 / 0.0 / false for each of these.
unsafe impl Zeroable for u8 {}
// SAFETY: as above.
unsafe impl Zeroable for u16 {}
// SAFETY: as above.
unsafe impl Zeroable for u32 {}
// SAFETY: as above.
unsafe impl Zeroable for u64 {}
// SAFETY: as above.
unsafe impl Zeroable for i8 {}
// SAFETY: as above.
unsafe impl Zeroable for i16 {}
// SAFETY: as above.
unsafe impl Zeroable for i32 {}
// SAFETY: as above.
unsafe impl Zeroable for i64 {}
// SAFETY: as above.
unsafe impl Zeroable for f32 {}
// SAFETY: as above.
unsafe impl Zeroable for f64 {}
// SAFETY: a zero byte is `false`.
unsafe impl Zeroable for bool {}
// SAFETY: zero bytes are +0.0 in half precision.
unsafe impl Zeroable for half::f16 {}

/// `n` zeroed elements, allocated fallibly (zeroed pages straight from the
/// allocator, like `vec![0; n]`, but `None` instead of an abort when the
/// memory cannot be had).
fn try_zeroed_vec<T: Zeroable>(n: usize) -> Option<Vec<T>> {
    if n == 0 || size_of::<T>() == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(n).ok()?;
    // SAFETY: the layout has a non-zero size (n > 0, T is not zero-sized).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `n`
    // elements of `T`; all of them are initialised (zero bytes are a valid
    // `T`: `Zeroable`); length and capacity are `n`.
    Some(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

#[cfg(test)]
mod alloc_tests {
    use super::*;

    #[test]
    fn try_zeros_fails_cleanly_and_zeroes() {
        let a = NdArray::try_zeros(Dtype::F64, &[3, 4]).unwrap();
        assert_eq!(a.shape(), &[3, 4]);
        assert!(a.to_bytes().iter().all(|&b| b == 0));
        assert!(
            NdArray::try_zeros(Dtype::Bool, &[2, 2])
                .unwrap()
                .to_bytes()
                .iter()
                .all(|&b| b == 0)
        );
        // Far more than any machine has: None, not an abort.
        assert!(NdArray::try_zeros(Dtype::U64, &[1 << 40, 1 << 20]).is_none());
        assert!(NdArray::try_zeros(Dtype::U8, &[usize::MAX, 2]).is_none());
        assert_eq!(NdArray::try_zeros(Dtype::U8, &[0, 5]).unwrap().shape(), &[0, 5]);
    }
}
