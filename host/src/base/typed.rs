//! Typed access to pixels and metadata: [`Element`] (the Rust type of each
//! dtype), [`NdArray::as_array`] and `TryFrom` both ways, the explicit mode
//! conversions of an [`Image`] (Pillow's `L`, `RGB`, `RGBA`), and
//! [`MetaView`], the common metadata keys as Rust types.

use super::dict::{Dict, Value};
use super::image::{Dtype, Image, NdArray};
use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

mod sealed {
    pub trait Sealed {}
}

/// The Rust element type of a dtype (`u8` for `uint8`, ...): what
/// [`NdArray::as_array`] and `ArrayD::<T>::try_from(image)` take.
pub trait Element: Copy + 'static + sealed::Sealed {
    /// The dtype of this element type.
    const DTYPE: Dtype;
    /// The array, when it holds this element type.
    fn view(a: &NdArray) -> Option<&ArrayD<Self>>;
    /// The array, moved out, when it holds this element type.
    fn take(a: NdArray) -> std::result::Result<ArrayD<Self>, NdArray>;
}

macro_rules! element {
    ($($t:ty => $v:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$v;
            fn view(a: &NdArray) -> Option<&ArrayD<$t>> {
                match a {
                    NdArray::$v(x) => Some(x),
                    _ => None,
                }
            }
            fn take(a: NdArray) -> std::result::Result<ArrayD<$t>, NdArray> {
                match a {
                    NdArray::$v(x) => Ok(x),
                    other => Err(other),
                }
            }
        }
        impl TryFrom<NdArray> for ArrayD<$t> {
            type Error = Error;
            /// The array of this element type, moved out (no copy); an
            /// error naming both dtypes otherwise.
            fn try_from(a: NdArray) -> Result<ArrayD<$t>> {
                let have = a.dtype();
                <$t as Element>::take(a).map_err(|_| mismatch(have, Dtype::$v))
            }
        }
        impl TryFrom<Image> for ArrayD<$t> {
            type Error = Error;
            /// The image's pixels of this element type, moved out (no
            /// copy; the metadata is dropped).
            fn try_from(im: Image) -> Result<ArrayD<$t>> {
                ArrayD::<$t>::try_from(im.data)
            }
        }
    )*};
}
element!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32,
    i64 => I64, f32 => F32, f64 => F64, bool => Bool, half::f16 => F16);

fn mismatch(have: Dtype, want: Dtype) -> Error {
    Error::InvalidArgument(format!(
        "the image is {}, not {} (convert it first, e.g. with image_as_uint)",
        have.name(),
        want.name()
    ))
}

impl NdArray {
    /// A view of the array as `T`'s (no copy), when that is its dtype.
    ///
    /// ```
    /// use imageio::{Image, NdArray};
    /// let im = Image::from(ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[2, 3])));
    /// assert_eq!(im.data.as_array::<f32>().unwrap().shape(), &[2, 3]);
    /// assert!(im.data.as_array::<u8>().is_none());
    /// ```
    pub fn as_array<T: Element>(&self) -> Option<ArrayViewD<'_, T>> {
        T::view(self).map(|a| a.view())
    }
}

impl Image {
    /// A view of the pixels as `T`'s (no copy), or an error naming the
    /// image's dtype.
    ///
    /// ```
    /// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    /// let im = imageio::v3::imread("tests/data/hello-page.png")?;
    /// let px = im.as_array::<u8>()?;
    /// assert_eq!(px.shape(), &[320, 372, 3]);
    /// assert!(im.as_array::<u16>().is_err());
    /// # Ok::<(), imageio::Error>(())
    /// ```
    pub fn as_array<T: Element>(&self) -> Result<ArrayViewD<'_, T>> {
        self.data
            .as_array::<T>()
            .ok_or_else(|| mismatch(self.dtype(), T::DTYPE))
    }

    /// The image as 8-bit gray `(H, W)`, as Pillow's `convert("L")`: RGB and
    /// RGBA by ITU-R 601-2 luma (`L = R * 299/1000 + G * 587/1000 + B *
    /// 114/1000`, alpha dropped), booleans to 0 and 255. Only `uint8` and
    /// `bool` images convert: anything else is an error, never a silent
    /// rescale (scale with `image_as_uint(.., Some(8))` first). The
    /// metadata is kept.
    pub fn to_gray8(&self) -> Result<Image> {
        let (h, w, c, px) = self.pixels8("to_gray8")?;
        let mut out = Vec::with_capacity(h * w);
        for p in px.chunks_exact(c) {
            out.push(match c {
                1 | 2 => p[0],
                _ => luma(p[0], p[1], p[2]),
            });
        }
        self.rebuilt(&[h, w], out)
    }

    /// The image as 8-bit RGB `(H, W, 3)`, as Pillow's `convert("RGB")`:
    /// gray repeated, alpha dropped (not composited), booleans to 0 and
    /// 255; only `uint8` and `bool` images (see [`to_gray8`](Self::to_gray8)).
    pub fn to_rgb8(&self) -> Result<Image> {
        let (h, w, c, px) = self.pixels8("to_rgb8")?;
        let mut out = Vec::with_capacity(h * w * 3);
        for p in px.chunks_exact(c) {
            match c {
                1 | 2 => out.extend([p[0], p[0], p[0]]),
                _ => out.extend(&p[..3]),
            }
        }
        self.rebuilt(&[h, w, 3], out)
    }

    /// The image as 8-bit RGBA `(H, W, 4)`, as Pillow's `convert("RGBA")`:
    /// gray repeated, an opaque alpha added where there is none, a gray
    /// image's alpha kept; only `uint8` and `bool` images (see
    /// [`to_gray8`](Self::to_gray8)).
    ///
    /// ```
    /// use imageio::Image;
    /// let gray = Image::from(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 2]), vec![10u8, 200]).unwrap());
    /// let rgba = gray.to_rgba8()?;
    /// assert_eq!(rgba.shape(), &[1, 2, 4]);
    /// assert_eq!(rgba.data.to_bytes(), [10, 10, 10, 255, 200, 200, 200, 255]);
    /// assert_eq!(rgba.to_gray8()?.data.to_bytes(), [10, 200]);
    /// # Ok::<(), imageio::Error>(())
    /// ```
    pub fn to_rgba8(&self) -> Result<Image> {
        let (h, w, c, px) = self.pixels8("to_rgba8")?;
        let mut out = Vec::with_capacity(h * w * 4);
        for p in px.chunks_exact(c) {
            match c {
                1 => out.extend([p[0], p[0], p[0], 255]),
                2 => out.extend([p[0], p[0], p[0], p[1]]),
                3 => out.extend([p[0], p[1], p[2], 255]),
                _ => out.extend(&p[..4]),
            }
        }
        self.rebuilt(&[h, w, 4], out)
    }

    /// The pixels as 8-bit samples in C order, with `(H, W, channels)`.
    fn pixels8(&self, what: &str) -> Result<(usize, usize, usize, Vec<u8>)> {
        let shape = self.shape();
        let (h, w, c) = match *shape {
            [h, w] => (h, w, 1),
            [h, w, c] if (1..=4).contains(&c) => (h, w, c),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{what}: an image of shape {shape:?} is not gray (H, W) or (H, W, 1-4 channels)"
                )));
            }
        };
        let px = match &self.data {
            NdArray::U8(a) => a.iter().copied().collect(),
            NdArray::Bool(a) => a.iter().map(|&b| if b { 255 } else { 0 }).collect(),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "{what}: the image is {}; only uint8 and bool images convert (scale it with \
                     image_as_uint(.., Some(8)) first)",
                    other.dtype().name()
                )));
            }
        };
        Ok((h, w, c, px))
    }

    fn rebuilt(&self, shape: &[usize], px: Vec<u8>) -> Result<Image> {
        let data = ArrayD::from_shape_vec(IxDyn(shape), px).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(Image::new(data, self.meta.clone()))
    }

    /// The common metadata keys as Rust types (see [`MetaView`]).
    pub fn meta_view(&self) -> MetaView<'_> {
        MetaView(&self.meta)
    }

    /// The `index`-th image along the first axis of a batch (a copy of
    /// that slice, with this image's metadata).
    pub fn slice_batch(&self, index: usize) -> Result<Image> {
        let n = self.shape().first().copied().unwrap_or(0);
        if index >= n {
            return Err(Error::IndexOutOfRange {
                uri: "<batch>".into(),
                message: format!("image {index} of a batch of {n}"),
            });
        }
        let data = super::image::with_array!(&self.data, a => NdArray::from(a.index_axis(Axis(0), index).to_owned()));
        Ok(Image::new(data, self.meta.clone()))
    }
}

/// Pillow's luma, rounded as Pillow rounds it.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    // Pillow: L = (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16.
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// The metadata keys the standard plugins share, as Rust types; a key
/// absent or of another type is `None` (the raw value stays in the
/// [`Dict`]).
///
/// ```
/// use imageio::{Dict, Image};
/// let mut meta = Dict::new();
/// meta.insert("dpi", vec![72.0, 72.0]);
/// meta.insert("duration", 40);
/// let im = Image::new(ndarray::ArrayD::<u8>::zeros(ndarray::IxDyn(&[1, 1])), meta);
/// assert_eq!(im.meta_view().dpi(), Some((72.0, 72.0)));
/// assert_eq!(im.meta_view().duration_ms(), Some(40.0));
/// assert_eq!(im.meta_view().orientation(), None);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MetaView<'a>(&'a Dict);

impl<'a> MetaView<'a> {
    /// `dpi`: horizontal and vertical resolution, in dots per inch.
    pub fn dpi(&self) -> Option<(f64, f64)> {
        match self.0.get("dpi")? {
            Value::FloatArray(v) if v.len() == 2 => Some((v[0], v[1])),
            Value::IntArray(v) if v.len() == 2 => Some((v[0] as f64, v[1] as f64)),
            _ => None,
        }
    }

    /// `duration`: how long the frame shows, in milliseconds.
    pub fn duration_ms(&self) -> Option<f64> {
        self.0.get("duration")?.as_f64()
    }

    /// `loop`: how often an animation plays (0: for ever).
    pub fn loop_count(&self) -> Option<i64> {
        self.0.get("loop")?.as_i64()
    }

    /// `orientation`: the EXIF orientation (1-8), reported, not applied.
    pub fn orientation(&self) -> Option<u16> {
        self.0.get("orientation")?.as_i64().and_then(|o| u16::try_from(o).ok())
    }

    /// `icc_profile`: the embedded colour profile.
    pub fn icc_profile(&self) -> Option<&'a [u8]> {
        self.0.get("icc_profile")?.as_bytes()
    }

    /// `exif`: the raw EXIF block (TIFF-structured, as in a JPEG's APP1
    /// after `Exif\0\0`).
    pub fn exif_bytes(&self) -> Option<&'a [u8]> {
        self.0.get("exif")?.as_bytes()
    }

    /// The EXIF fields, parsed by `kamadak-exif` (each tag's name and its
    /// value as EXIF displays it), in the order of the file; `None` without
    /// an EXIF block, an error when the block does not parse.
    #[cfg(feature = "exif")]
    pub fn exif(&self) -> Option<Result<Vec<(String, String)>>> {
        let raw = self.exif_bytes()?;
        let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
        Some(
            exif::Reader::new()
                .read_raw(raw.to_vec())
                .map(|e| {
                    e.fields()
                        .map(|f| (f.tag.to_string(), f.display_value().with_unit(&e).to_string()))
                        .collect()
                })
                .map_err(|e| Error::InvalidArgument(format!("the EXIF block does not parse: {e}"))),
        )
    }
}
