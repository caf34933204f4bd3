//! `image_as_uint`: imageio's conversion of any array to
//! `uint8` or `uint16` before saving, with its exact rules.

use crate::base::image::NdArray;
use crate::error::{Error, Result};
use ndarray::ArrayD;
use std::borrow::Cow;

/// An element type `image_as_uint` can read.
trait Elem: Copy {
    const FLOAT: bool;
    fn to_f64(self) -> f64;
    /// How imageio's warning shows the scalar (`"{}".format(x)`).
    fn py_str(self) -> String;
    /// A C cast (`astype`): integers wrap, floats truncate (saturating in
    /// Rust where C is undefined; NaN gives 0).
    fn cast_u8(self) -> u8;
    fn cast_u16(self) -> u16;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const FLOAT: bool = false;
            fn to_f64(self) -> f64 { self as f64 }
            fn py_str(self) -> String { self.to_string() }
            fn cast_u8(self) -> u8 { self as u8 }
            fn cast_u16(self) -> u16 { self as u16 }
        }
    )*};
}
int_elem!(u8, u16, u32, u64, i8, i16, i32, i64);

impl Elem for f32 {
    const FLOAT: bool = true;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    /// imageio formats with `"{}".format(scalar)`, which widens a float32
    /// to a Python float: `1e20f32` shows as `1.0000000200408773e+20`.
    fn py_str(self) -> String {
        f64::from(self).py_str()
    }
    fn cast_u8(self) -> u8 {
        self as u8
    }
    fn cast_u16(self) -> u16 {
        self as u16
    }
}

impl Elem for f64 {
    const FLOAT: bool = true;
    fn to_f64(self) -> f64 {
        self
    }
    fn py_str(self) -> String {
        py_float_str(&format!("{self:e}"), self.is_finite(), self.is_nan(), self < 0.0)
    }
    fn cast_u8(self) -> u8 {
        self as u8
    }
    fn cast_u16(self) -> u16 {
        self as u16
    }
}

impl Elem for bool {
    const FLOAT: bool = false;
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn py_str(self) -> String {
        if self { "True".into() } else { "False".into() }
    }
    fn cast_u8(self) -> u8 {
        u8::from(self)
    }
    fn cast_u16(self) -> u16 {
        u16::from(self)
    }
}

/// Python's `repr` of a float from Rust's shortest `{:e}` form: positional
/// for exponents -4..16 (with `.0` when integral), else `1.5e-05` style.
fn py_float_str(sci: &str, finite: bool, nan: bool, negative: bool) -> String {
    if nan {
        return "nan".into();
    }
    if !finite {
        return if negative { "-inf".into() } else { "inf".into() };
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.chars().all(|c| c == '0') {
        return format!("{sign}0.0");
    }
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..point], &digits[point..])
            }
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// `nanmin` and `nanmax` (NaN when every element is NaN or there are none).
fn nan_min_max<T: Elem>(a: &ArrayD<T>) -> (f64, f64, Option<(T, T)>) {
    let mut best: Option<(T, T, f64, f64)> = None;
    for &v in a.iter() {
        let x = v.to_f64();
        if x.is_nan() {
            continue;
        }
        best = Some(match best {
            None => (v, v, x, x),
            Some((lo, hi, lx, hx)) => {
                let (lo, lx) = if x < lx { (v, x) } else { (lo, lx) };
                let (hi, hx) = if x > hx { (v, x) } else { (hi, hx) };
                (lo, hi, lx, hx)
            }
        });
    }
    match best {
        Some((lo, hi, lx, hx)) => (lx, hx, Some((lo, hi))),
        None => (f64::NAN, f64::NAN, None),
    }
}

/// The output of a conversion step.
enum Out {
    U8(ArrayD<u8>),
    U16(ArrayD<u16>),
}

impl Out {
    fn map<T: Elem>(a: &ArrayD<T>, bits: u32, f: impl Fn(T) -> f64) -> Out {
        // The cast truncates (after the +0.499999999), like numpy's astype.
        if bits == 8 {
            Out::U8(a.mapv(|v| f(v) as u8))
        } else {
            Out::U16(a.mapv(|v| f(v) as u16))
        }
    }

    fn into_array(self) -> NdArray {
        match self {
            Out::U8(a) => NdArray::U8(a),
            Out::U16(a) => NdArray::U16(a),
        }
    }
}

fn warning(input: &str, out: &str, extra: &str) -> String {
    format!(
        "Lossy conversion from {input} to {out}. {extra} Convert image to {out} prior to saving to suppress this warning."
    )
}

/// The float steps: `[0, 1]` scaling, else the min/max stretch.
fn convert<T: Elem>(a: &ArrayD<T>, bits: u32, input: &str) -> Result<(NdArray, Option<String>)> {
    let out_name = if bits == 8 { "uint8" } else { "uint16" };
    let scale = f64::from((1u32 << bits) - 1);
    let (mi, ma, extremes) = nan_min_max(a);
    if T::FLOAT && mi >= 0.0 && ma <= 1.0 {
        let arr = Out::map(a, bits, |v| v.to_f64() * scale + 0.499_999_999);
        return Ok((arr.into_array(), Some(warning(input, out_name, "Range [0, 1]."))));
    }
    if !mi.is_finite() {
        return Err(Error::InvalidArgument("Minimum image value is not finite".into()));
    }
    if !ma.is_finite() {
        return Err(Error::InvalidArgument("Maximum image value is not finite".into()));
    }
    let (lo, hi) = extremes.expect("finite extremes exist");
    if ma == mi {
        // imageio v2.6+: a constant image is cast as is, without a warning.
        let arr = if bits == 8 {
            NdArray::U8(a.mapv(Elem::cast_u8))
        } else {
            NdArray::U16(a.mapv(Elem::cast_u16))
        };
        return Ok((arr, None));
    }
    let extra = format!("Range [{}, {}].", lo.py_str(), hi.py_str());
    let arr = Out::map(a, bits, |v| (v.to_f64() - mi) / (ma - mi) * scale + 0.499_999_999);
    Ok((arr.into_array(), Some(warning(input, out_name, &extra))))
}

/// Like [`image_as_uint`], also returning the warning it logs (`None` when
/// the conversion is lossless or the image is constant).
pub fn image_as_uint_with_warning(im: &NdArray, bitdepth: Option<u32>) -> Result<(Cow<'_, NdArray>, Option<String>)> {
    let bits = match bitdepth {
        None | Some(0) => 8,
        Some(b @ (8 | 16)) => b,
        Some(_) => return Err(Error::InvalidArgument("Bitdepth must be either 8 or 16".into())),
    };
    let input = im.dtype().name();
    let out_name = if bits == 8 { "uint8" } else { "uint16" };
    let shift = |from: u32| warning(input, out_name, &format!("Losing {} bits of resolution.", from - bits));
    let (arr, warn) = match (im, bits) {
        (NdArray::U8(_), 8) | (NdArray::U16(_), 16) => return Ok((Cow::Borrowed(im), None)),
        (NdArray::U16(a), 8) => (NdArray::U8(a.mapv(|v| (v >> 8) as u8)), Some(shift(16))),
        (NdArray::U32(a), 8) => (NdArray::U8(a.mapv(|v| (v >> 24) as u8)), Some(shift(32))),
        (NdArray::U32(a), _) => (NdArray::U16(a.mapv(|v| (v >> 16) as u16)), Some(shift(32))),
        (NdArray::U64(a), 8) => (NdArray::U8(a.mapv(|v| (v >> 56) as u8)), Some(shift(64))),
        (NdArray::U64(a), _) => (NdArray::U16(a.mapv(|v| (v >> 48) as u16)), Some(shift(64))),
        (NdArray::U8(a), _) => convert(a, bits, input)?,
        (NdArray::U16(a), _) => convert(a, bits, input)?,
        (NdArray::I8(a), _) => convert(a, bits, input)?,
        (NdArray::I16(a), _) => convert(a, bits, input)?,
        (NdArray::I32(a), _) => convert(a, bits, input)?,
        (NdArray::I64(a), _) => convert(a, bits, input)?,
        (NdArray::F32(a), _) => convert(a, bits, input)?,
        (NdArray::F64(a), _) => convert(a, bits, input)?,
        // Half floats widen exactly, as numpy's astype(float64) does.
        (NdArray::F16(a), _) => convert(&a.mapv(half::f16::to_f64), bits, input)?,
        (NdArray::Bool(a), _) => convert(a, bits, input)?,
    };
    Ok((Cow::Owned(arr), warn))
}

/// Converts an array to `uint8` (`bitdepth` 8, the default for `None` and
/// `0`) or `uint16` (16) with imageio's exact rules, in order:
///
/// 1. the dtype already matches: the array itself, borrowed (no copy);
/// 2. floats within `[0, 1]` (NaN ignored): `x * (2^bits - 1) + 0.499999999`;
/// 3. `uint16` to 8 bits, `uint32`, `uint64`: a right shift;
/// 4. everything else (signed integers, `uint8` to 16 bits, floats outside
///    `[0, 1]`, `bool`): a min/max stretch
///    `(x - min) / (max - min) * (2^bits - 1) + 0.499999999`; a non-finite
///    minimum or maximum is an error; a constant image is cast as is
///    (imageio v2.6+; negative integers wrap, floats saturate).
///
/// The final cast truncates, so `0.5` becomes 127 ("round half down"), and
/// NaN becomes 0. Every lossy case logs imageio's warning through `log`
/// (target `imageio`): `Lossy conversion from float32 to uint8. Range [0,
/// 1]. Convert image to uint8 prior to saving to suppress this warning.`
/// `bool` (an error in imageio) is defined here: `False`/`True` become 0 and
/// the maximum. The stretch is computed in float64 throughout: imageio
/// computes `max - min` in the input's own dtype, which overflows for
/// signed integers spanning more than half their range (`int8 [-128,
/// 127]`) and then fails its own assertion under numpy 2.
///
/// ```
/// use imageio::core::image_as_uint;
/// use imageio::NdArray;
/// use ndarray::{arr1, ArrayD};
/// let f = NdArray::F64(arr1(&[0.0, 0.5, 1.0]).into_dyn());
/// assert_eq!(image_as_uint(&f, None)?.as_u8().unwrap().as_slice().unwrap(), &[0, 127, 255]);
/// let i = NdArray::I32(arr1(&[0, 100, 200]).into_dyn());
/// assert_eq!(image_as_uint(&i, Some(8))?.as_u8().unwrap().as_slice().unwrap(), &[0, 127, 255]);
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn image_as_uint(im: &NdArray, bitdepth: Option<u32>) -> Result<Cow<'_, NdArray>> {
    let (arr, warn) = image_as_uint_with_warning(im, bitdepth)?;
    if let Some(w) = warn {
        log::warn!(target: "imageio", "{w}");
    }
    Ok(arr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    #[test]
    fn python_float_repr() {
        let s = |x: f64| x.py_str();
        assert_eq!(s(0.0), "0.0");
        assert_eq!(s(2.0), "2.0");
        assert_eq!(s(-2.5), "-2.5");
        assert_eq!(s(0.1), "0.1");
        assert_eq!(s(1e-5), "1e-05");
        assert_eq!(s(0.0001), "0.0001");
        assert_eq!(s(1.5e16), "1.5e+16");
        assert_eq!(s(1e15), "1000000000000000.0");
        assert_eq!(s(123.456), "123.456");
        assert_eq!(0.1f32.py_str(), "0.10000000149011612");
        assert_eq!(0.5f32.py_str(), "0.5");
    }

    #[test]
    fn matching_dtype_is_not_copied() {
        let a = NdArray::U16(arr1(&[1u16, 2]).into_dyn());
        assert!(matches!(image_as_uint(&a, Some(16)).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn errors() {
        let a = NdArray::F64(arr1(&[0.0, f64::INFINITY]).into_dyn());
        assert_eq!(
            image_as_uint(&a, None).unwrap_err().to_string(),
            "Maximum image value is not finite"
        );
        let a = NdArray::F64(arr1(&[f64::NAN, f64::NAN]).into_dyn());
        assert_eq!(
            image_as_uint(&a, None).unwrap_err().to_string(),
            "Minimum image value is not finite"
        );
        let a = NdArray::F64(arr1(&[f64::NEG_INFINITY, 0.0]).into_dyn());
        assert_eq!(
            image_as_uint(&a, None).unwrap_err().to_string(),
            "Minimum image value is not finite"
        );
        let a = NdArray::U8(arr1(&[1u8]).into_dyn());
        assert_eq!(
            image_as_uint(&a, Some(12)).unwrap_err().to_string(),
            "Bitdepth must be either 8 or 16"
        );
    }

    #[test]
    fn bool_is_defined() {
        let a = NdArray::Bool(arr1(&[false, true]).into_dyn());
        let (out, warn) = image_as_uint_with_warning(&a, None).unwrap();
        assert_eq!(out.as_u8().unwrap().as_slice().unwrap(), &[0, 255]);
        assert_eq!(
            warn.unwrap(),
            "Lossy conversion from bool to uint8. Range [False, True]. Convert image to uint8 prior to saving to suppress this warning."
        );
    }
}
