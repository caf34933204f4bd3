//! [`Limits`]: how much one request may make a plugin allocate and decode,
//! shared by the host (which sets them) and plugins (which obey them before
//! they allocate). ABI 1.1 passes them as `iio_request.limits`.

use crate::error::{Error, Result};
use crate::ffi::{self, iio_limits};
use std::fmt;

/// Resource limits for one request. Every field is a maximum; `u64::MAX`
/// means none. The defaults ([`Limits::DEFAULT`]) let every real image
/// through and stop bombs (a small file whose header claims gigabytes)
/// before anything large is allocated.
///
/// ```
/// use imageio_plugin_api::Limits;
/// let l = Limits::DEFAULT;
/// assert!(l.check_image("PNG", 1920, 1080, 1, 3).is_ok());
/// let small = Limits { max_pixels: 1000, ..Limits::DEFAULT };
/// assert!(small.check_image("PNG", 1920, 1080, 1, 3).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Image width in pixels.
    pub max_width: u64,
    /// Image height in pixels.
    pub max_height: u64,
    /// Pixels in one image (width x height, times depth for a volume).
    pub max_pixels: u64,
    /// Pixels decoded for the whole file (every frame's canvas added up):
    /// the bound on decoding time.
    pub max_total_pixels: u64,
    /// Bytes of one decoded image array.
    pub max_image_bytes: u64,
    /// Bytes of any one allocation a plugin makes on its own (scratch, a
    /// canvas, a tag's values, a decompressed chunk).
    pub max_alloc_bytes: u64,
    /// Images (frames, pages) in one file.
    pub max_frames: u64,
    /// Bytes of one metadata entry (a text chunk, a tag, a profile).
    pub max_meta_entry_bytes: u64,
    /// Bytes of all metadata of one file.
    pub max_meta_total_bytes: u64,
}

/// The names of the fields as [`Limits::set`] and the text form take them,
/// in order.
pub const LIMIT_NAMES: [&str; 9] = [
    "width",
    "height",
    "pixels",
    "total_pixels",
    "image_bytes",
    "alloc_bytes",
    "frames",
    "meta_entry_bytes",
    "meta_total_bytes",
];

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

impl Limits {
    /// The defaults: 16 Mi pixels wide or high, 4 Gi pixels per image and
    /// per file, 4 GiB per image and per allocation, a million frames,
    /// 16 MiB per metadata entry and 64 MiB of metadata in all.
    pub const DEFAULT: Limits = Limits {
        max_width: 1 << 24,
        max_height: 1 << 24,
        max_pixels: 1 << 32,
        max_total_pixels: 1 << 32,
        max_image_bytes: 4 << 30,
        max_alloc_bytes: 4 << 30,
        max_frames: 1_000_000,
        max_meta_entry_bytes: 16 << 20,
        max_meta_total_bytes: 64 << 20,
    };

    /// No limits at all (for trusted input only).
    pub const NONE: Limits = Limits {
        max_width: u64::MAX,
        max_height: u64::MAX,
        max_pixels: u64::MAX,
        max_total_pixels: u64::MAX,
        max_image_bytes: u64::MAX,
        max_alloc_bytes: u64::MAX,
        max_frames: u64::MAX,
        max_meta_entry_bytes: u64::MAX,
        max_meta_total_bytes: u64::MAX,
    };

    fn fields(&self) -> [u64; 9] {
        [
            self.max_width,
            self.max_height,
            self.max_pixels,
            self.max_total_pixels,
            self.max_image_bytes,
            self.max_alloc_bytes,
            self.max_frames,
            self.max_meta_entry_bytes,
            self.max_meta_total_bytes,
        ]
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut u64> {
        Some(match name {
            "width" => &mut self.max_width,
            "height" => &mut self.max_height,
            "pixels" => &mut self.max_pixels,
            "total_pixels" => &mut self.max_total_pixels,
            "image_bytes" => &mut self.max_image_bytes,
            "alloc_bytes" => &mut self.max_alloc_bytes,
            "frames" => &mut self.max_frames,
            "meta_entry_bytes" => &mut self.max_meta_entry_bytes,
            "meta_total_bytes" => &mut self.max_meta_total_bytes,
            _ => return None,
        })
    }

    /// Sets the limit `name` (one of [`LIMIT_NAMES`]) from text: a number
    /// with an optional binary suffix (`k`, `M`, `G`, `T`, with or without
    /// `iB`) or `none`. Setting `image_bytes` also lowers `alloc_bytes` to
    /// it, so one cap bounds a plugin's scratch as well as its output.
    ///
    /// ```
    /// use imageio_plugin_api::Limits;
    /// let mut l = Limits::DEFAULT;
    /// l.set("image_bytes", "64MiB").unwrap();
    /// assert_eq!((l.max_image_bytes, l.max_alloc_bytes), (64 << 20, 64 << 20));
    /// assert!(l.set("widht", "5").is_err());
    /// ```
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<(), String> {
        let n = parse_amount(value)
            .ok_or_else(|| format!("limit {name}: {value:?} is not a number (like 4096, 64MiB, 2G) or none"))?;
        let field = self
            .field_mut(name)
            .ok_or_else(|| format!("unknown limit {name:?} (known: {})", LIMIT_NAMES.join(", ")))?;
        *field = n;
        if name == "image_bytes" {
            self.max_alloc_bytes = self.max_alloc_bytes.min(n);
        }
        Ok(())
    }

    /// Applies `name=value` pairs separated by commas (the form of
    /// `IMAGEIO_LIMITS` and the tool's `--limits`).
    ///
    /// ```
    /// use imageio_plugin_api::Limits;
    /// let l = Limits::DEFAULT.parsed("pixels=1e6, frames=10").unwrap();
    /// assert_eq!((l.max_pixels, l.max_frames), (1_000_000, 10));
    /// ```
    pub fn parsed(mut self, text: &str) -> std::result::Result<Limits, String> {
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("limit {item:?} is not of the form name=value"))?;
            self.set(k.trim(), v.trim())?;
        }
        Ok(self)
    }

    /// The ABI form.
    pub fn to_raw(&self) -> iio_limits {
        iio_limits {
            struct_size: size_of::<iio_limits>() as u32,
            _reserved: 0,
            max_width: self.max_width,
            max_height: self.max_height,
            max_pixels: self.max_pixels,
            max_total_pixels: self.max_total_pixels,
            max_image_bytes: self.max_image_bytes,
            max_alloc_bytes: self.max_alloc_bytes,
            max_frames: self.max_frames,
            max_meta_entry_bytes: self.max_meta_entry_bytes,
            max_meta_total_bytes: self.max_meta_total_bytes,
        }
    }

    /// From the ABI form; fields beyond the struct's `struct_size` (a
    /// host of an earlier minor) keep their defaults.
    ///
    /// # Safety
    ///
    /// `raw` points to at least `raw.struct_size` readable bytes.
    pub unsafe fn from_raw(raw: *const iio_limits) -> Limits {
        let mut out = Limits::DEFAULT;
        // SAFETY: the struct starts with its u32 size (ABI rule).
        let size = unsafe { (*raw).struct_size } as usize;
        let base = raw.cast::<u8>();
        let first = std::mem::offset_of!(iio_limits, max_width);
        for (i, name) in LIMIT_NAMES.iter().enumerate() {
            let off = first + i * size_of::<u64>();
            if off + size_of::<u64>() > size {
                break;
            }
            // SAFETY: `off + 8 <= struct_size` bytes are readable
            // (contract); the fields are u64s laid out one after another
            // from `max_width`.
            let v = unsafe { base.add(off).cast::<u64>().read_unaligned() };
            *out.field_mut(name).expect("every listed name is a field") = v;
        }
        out
    }

    /// Checks one image of `width` x `height` pixels (`depth` planes for a
    /// volume, else 1) with `bytes_per_pixel` bytes per pixel against the
    /// width, height, pixel and image-byte limits, before it is allocated.
    pub fn check_image(&self, format: &str, width: u64, height: u64, depth: u64, bytes_per_pixel: u64) -> Result<()> {
        if width > self.max_width || height > self.max_height {
            return Err(Error::no_memory(format!(
                "{format}: a {width}x{height} image is over the size limit of {}x{} pixels",
                self.max_width, self.max_height
            )));
        }
        let pixels = width.saturating_mul(height).saturating_mul(depth.max(1));
        if pixels > self.max_pixels {
            return Err(Error::no_memory(format!(
                "{format}: a {width}x{height}{} image is {pixels} pixels, over the limit of {}",
                if depth > 1 { format!("x{depth}") } else { String::new() },
                self.max_pixels
            )));
        }
        let bytes = pixels.saturating_mul(bytes_per_pixel);
        if bytes > self.max_image_bytes {
            return Err(Error::no_memory(format!(
                "{format}: a {width}x{height} image needs {bytes} bytes, over the limit of {} bytes per image",
                self.max_image_bytes
            )));
        }
        Ok(())
    }

    /// Checks a count of frames (pages) against the frame limit.
    pub fn check_frames(&self, format: &str, frames: u64) -> Result<()> {
        if frames > self.max_frames {
            return Err(Error::no_memory(format!(
                "{format}: {frames} frames are over the limit of {}",
                self.max_frames
            )));
        }
        Ok(())
    }

    /// Checks an animation's decoding cost (`frames` on a `width` x
    /// `height` canvas) against the frame and total-pixel limits, before
    /// anything is decoded.
    ///
    /// ```
    /// use imageio_plugin_api::Limits;
    /// assert!(Limits::DEFAULT.check_animation("GIF", 1000, 1920, 1080).is_ok());
    /// assert!(Limits::DEFAULT.check_animation("GIF", 200, 8192, 8192).is_err());
    /// ```
    pub fn check_animation(&self, format: &str, frames: u64, width: u64, height: u64) -> Result<()> {
        self.check_frames(format, frames)?;
        let total = frames.saturating_mul(width).saturating_mul(height);
        if total > self.max_total_pixels {
            return Err(Error::no_memory(format!(
                "{format}: {frames} frames on a {width}x{height} canvas are {total} pixels to decode, \
                 over the limit of {}",
                self.max_total_pixels
            )));
        }
        Ok(())
    }

    /// Checks one allocation of `bytes` the plugin makes on its own
    /// (`what` names it in the error).
    pub fn check_alloc(&self, format: &str, what: &str, bytes: u64) -> Result<()> {
        if bytes > self.max_alloc_bytes {
            return Err(Error::no_memory(format!(
                "{format}: {what} needs {bytes} bytes, over the limit of {} bytes per allocation",
                self.max_alloc_bytes
            )));
        }
        Ok(())
    }

    /// A zeroed buffer of `n` elements, within the allocation limit and
    /// allocated fallibly: a limits or no-memory error, never an abort.
    ///
    /// ```
    /// use imageio_plugin_api::Limits;
    /// let l = Limits { max_alloc_bytes: 1024, ..Limits::DEFAULT };
    /// assert_eq!(l.alloc_zeroed::<u16>("BMP", "a row", 512).unwrap().len(), 512);
    /// assert!(l.alloc_zeroed::<u16>("BMP", "a row", 513).is_err());
    /// ```
    pub fn alloc_zeroed<T: Clone + Default>(&self, format: &str, what: &str, n: usize) -> Result<Vec<T>> {
        let bytes = (n as u64).saturating_mul(size_of::<T>() as u64);
        self.check_alloc(format, what, bytes)?;
        let mut v = Vec::new();
        v.try_reserve_exact(n)
            .map_err(|_| Error::no_memory(format!("{format}: no memory for {what} ({bytes} bytes)")))?;
        v.resize(n, T::default());
        Ok(v)
    }

    /// Checks one metadata entry of `bytes` (`what` names it) and adds it
    /// to `total`, the bytes of metadata the file has given so far.
    pub fn check_meta(&self, format: &str, what: &str, bytes: u64, total: &mut u64) -> Result<()> {
        if bytes > self.max_meta_entry_bytes {
            return Err(Error::no_memory(format!(
                "{format}: {what} is {bytes} bytes, over the metadata limit of {} bytes per entry",
                self.max_meta_entry_bytes
            )));
        }
        *total = total.saturating_add(bytes);
        if *total > self.max_meta_total_bytes {
            return Err(Error::no_memory(format!(
                "{format}: the metadata reaches {} bytes with {what}, over the limit of {} bytes in all",
                *total, self.max_meta_total_bytes
            )));
        }
        Ok(())
    }
}

impl fmt::Display for Limits {
    /// The `name=value` form [`Limits::parsed`] reads (`none` for no limit).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, v)) in LIMIT_NAMES.iter().zip(self.fields()).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if v == ffi::IIO_NO_LIMIT {
                write!(f, "{name}=none")?;
            } else {
                write!(f, "{name}={v}")?;
            }
        }
        Ok(())
    }
}

/// `4096`, `1e6`, `64MiB`, `2G`, `none`.
fn parse_amount(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("unlimited") {
        return Some(u64::MAX);
    }
    let split = t.find(|c: char| c.is_ascii_alphabetic() && c != 'e').unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let shift = match suffix.trim().trim_end_matches("iB").trim_end_matches('B') {
        "" => 0,
        "k" | "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let base: f64 = num.trim().parse().ok()?;
    if !base.is_finite() || base < 0.0 {
        return None;
    }
    let v = base * (1u64 << shift) as f64;
    (v < u64::MAX as f64).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_amounts_parse() {
        let l = Limits::DEFAULT.parsed("frames=none, meta_entry_bytes=1k").unwrap();
        assert_eq!(Limits::DEFAULT.parsed(&l.to_string()).unwrap(), l);
        assert_eq!(parse_amount("2G"), Some(2 << 30));
        assert_eq!(parse_amount("1.5k"), Some(1536));
        assert_eq!(parse_amount("-1"), None);
        assert_eq!(parse_amount("5 parsecs"), None);
    }

    #[test]
    fn raw_form_round_trips_and_a_shorter_struct_keeps_defaults() {
        let l = Limits::NONE.parsed("pixels=7,meta_total_bytes=9").unwrap();
        let raw = l.to_raw();
        // SAFETY: `raw` is a whole iio_limits.
        assert_eq!(unsafe { Limits::from_raw(&raw) }, l);
        let mut short = raw;
        short.struct_size = std::mem::offset_of!(iio_limits, max_total_pixels) as u32;
        // SAFETY: the struct is whole; only a prefix is claimed.
        let got = unsafe { Limits::from_raw(&short) };
        assert_eq!(got.max_pixels, 7);
        assert_eq!(got.max_meta_total_bytes, Limits::DEFAULT.max_meta_total_bytes);
    }
}
