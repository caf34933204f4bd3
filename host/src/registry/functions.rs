//! The user functions: `imread`, `imwrite`, `mimread`, `mimwrite`, `volread`,
//! `volwrite`, `mvolread`, `mvolwrite`, `get_reader`, `get_writer`, on the
//! global manager (free functions) or on any [`FormatManager`] (methods).

use super::{Reader, Writer};
use crate::base::dict::Dict;
use crate::base::image::Image;
use crate::error::{Error, Result};
use crate::registry::manager::{FormatManager, formats};
use crate::request::{RETURN_BYTES, Request, Uri};

/// How much image data `mimread`/`mvolread` may read before stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Memtest {
    /// 256 MiB for `mimread`, 1 GiB for `mvolread` (imageio's defaults).
    #[default]
    Default,
    /// No limit.
    Off,
    /// A limit in bytes.
    Bytes(u64),
}

impl Memtest {
    /// Parses imageio's size strings: a number with an optional unit
    /// (`k M G T P E Z Y` = 1000^n, `Ki Mi ...` = 1024^n) and an optional `B`:
    /// `"256MB"`, `"1GiB"`, `"1000"`.
    ///
    /// ```
    /// use imageio::Memtest;
    /// assert_eq!(Memtest::parse("256MB").unwrap(), Memtest::Bytes(256_000_000));
    /// assert_eq!(Memtest::parse("1 GiB").unwrap(), Memtest::Bytes(1 << 30));
    /// assert!(Memtest::parse("12K").is_err());
    /// assert!(Memtest::parse(".5MB").is_err());
    /// assert_eq!(Memtest::parse("5.MB").unwrap(), Memtest::Bytes(5_000_000));
    /// ```
    pub fn parse(s: &str) -> Result<Memtest> {
        crate::base::io::parse_memory_size(s).map(Memtest::Bytes)
    }

    fn limit(self, default: u64) -> Option<u64> {
        match self {
            Memtest::Default => Some(default),
            Memtest::Off => None,
            Memtest::Bytes(b) => Some(b),
        }
    }
}

/// The optional arguments of the user functions.
///
/// ```
/// use imageio::{Options, Value};
/// let opts = Options::default().with_format("PNG").with_kwarg("compression", 9);
/// assert_eq!(opts.kwargs.get("compression"), Some(&Value::Int(9)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A format name or extension; skips the search.
    pub format: Option<String>,
    /// An explicit extension (`.png`), overriding the file name's.
    pub extension: Option<String>,
    /// Options for the plugin (imageio's keyword arguments); an option the
    /// plugin does not know is an error naming it.
    pub kwargs: Dict,
    /// The memory guard of `mimread`/`mvolread`.
    pub memtest: Memtest,
    /// Resource limits for this call (default: the process's
    /// [`default_limits`](crate::default_limits)).
    pub limits: Option<crate::base::Limits>,
}

impl Options {
    /// With a format name.
    pub fn with_format(mut self, name: &str) -> Options {
        self.format = Some(name.to_owned());
        self
    }

    /// With a memory guard for `mimread`/`mvolread`.
    ///
    /// ```
    /// use imageio::{Memtest, Options};
    /// let o = Options::default().with_memtest(Memtest::parse("64MB").unwrap());
    /// assert_eq!(o.memtest, Memtest::Bytes(64_000_000));
    /// ```
    pub fn with_memtest(mut self, memtest: Memtest) -> Options {
        self.memtest = memtest;
        self
    }

    /// With an extension override.
    pub fn with_extension(mut self, ext: &str) -> Options {
        self.extension = Some(ext.to_owned());
        self
    }

    /// With resource limits for this call.
    pub fn with_limits(mut self, limits: crate::base::Limits) -> Options {
        self.limits = Some(limits);
        self
    }

    /// With one plugin option.
    pub fn with_kwarg(mut self, key: &str, value: impl Into<crate::base::dict::Value>) -> Options {
        self.kwargs.insert(key, value);
        self
    }
}

fn check_2d(im: &Image) -> Result<()> {
    let s = im.shape();
    if s.len() == 2 || (s.len() == 3 && [1, 3, 4].contains(&s[2])) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "Image must be 2D (grayscale, RGB, or RGBA).".into(),
        ))
    }
}

fn check_3d(im: &Image) -> Result<()> {
    let s = im.shape();
    if s.len() == 3 || (s.len() == 4 && s[3] < 32) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "Image must be 3D, or 4D if each voxel is a tuple.".into(),
        ))
    }
}

impl FormatManager {
    /// A reader for `uri` (imageio's `get_reader`); `mode` is one of `iIvV?`.
    pub fn get_reader(&self, uri: impl Into<Uri>, mode: char, opts: &Options) -> Result<Reader> {
        let mut request =
            Request::with_options(uri, &format!("r{mode}"), opts.extension.as_deref(), opts.kwargs.clone())?;
        if let Some(limits) = opts.limits {
            request.set_limits(limits);
        }
        self.reader_for(request, opts.format.as_deref())
    }

    /// A writer for `uri` (imageio's `get_writer`). With `<bytes>` and a
    /// format, the format's name becomes the extension.
    pub fn get_writer(&self, uri: impl Into<Uri>, mode: char, opts: &Options) -> Result<Writer> {
        let mut uri = uri.into();
        if let (Uri::Str(s), Some(f)) = (&uri, &opts.format)
            && s == RETURN_BYTES
        {
            uri = Uri::Str(format!("{RETURN_BYTES}.{}", f.trim_matches(['.', ' ']).to_lowercase()));
        }
        let mut request =
            Request::with_options(uri, &format!("w{mode}"), opts.extension.as_deref(), opts.kwargs.clone())?;
        if let Some(limits) = opts.limits {
            request.set_limits(limits);
        }
        self.writer_for(request, opts.format.as_deref())
    }

    /// Reads one image.
    pub fn imread(&self, uri: impl Into<Uri>, opts: &Options) -> Result<Image> {
        let mut r = self.get_reader(uri, 'i', opts)?;
        let im = r.get_data(0)?;
        r.close()?;
        Ok(im)
    }

    /// Writes one image; returns the bytes for a `<bytes>` target.
    pub fn imwrite(&self, uri: impl Into<Uri>, image: &Image, opts: &Options) -> Result<Option<Vec<u8>>> {
        check_2d(image)?;
        self.write_all(uri, 'i', std::slice::from_ref(image), opts)
    }

    fn read_all(&self, uri: impl Into<Uri>, mode: char, opts: &Options, default_limit: u64) -> Result<Vec<Image>> {
        let mut r = self.get_reader(uri, mode, opts)?;
        let limit = opts.memtest.limit(default_limit);
        let mut images = Vec::new();
        let mut total = 0u64;
        let max_frames = r.request().map_or(u64::MAX, |q| q.limits().max_frames);
        for im in r.iter_data()? {
            let im = im?;
            // What a frame holds: its pixels and the image itself (so a
            // stream of empty frames is bounded too).
            let held = im.data.nbytes() + size_of::<Image>() + 2 * size_of::<usize>() * im.shape().len();
            total += held as u64;
            images.push(im);
            if images.len() as u64 > max_frames {
                return Err(Error::MemoryLimit(format!(
                    "imageio.{}() has read {} images, over the limit of {max_frames} frames",
                    if mode == 'V' { "mvolread" } else { "mimread" },
                    images.len()
                )));
            }
            if limit.is_some_and(|l| total > l) {
                let (what, func, mib) = if mode == 'V' {
                    ("volume", "mvolread", "1 GiB")
                } else {
                    ("image", "mimread", "256 MiB")
                };
                let said = match opts.memtest {
                    Memtest::Default => mib.to_owned(),
                    _ => format!("{} bytes", limit.unwrap_or_default()),
                };
                return Err(Error::MemoryLimit(format!(
                    "imageio.{func}() has read over {said} of {what} data.\nStopped to avoid memory problems. \
                     Use imageio.get_reader() or memtest=False."
                )));
            }
        }
        r.close()?;
        Ok(images)
    }

    fn write_all(&self, uri: impl Into<Uri>, mode: char, images: &[Image], opts: &Options) -> Result<Option<Vec<u8>>> {
        let mut w = self.get_writer(uri, mode, opts)?;
        for im in images {
            w.append_data(im, None)?;
        }
        w.close()?;
        Ok(w.get_result())
    }

    /// Reads all images (memory guard: [`Memtest`], 256 MiB by default).
    pub fn mimread(&self, uri: impl Into<Uri>, opts: &Options) -> Result<Vec<Image>> {
        self.read_all(uri, 'I', opts, 256 << 20)
    }

    /// Writes several images.
    pub fn mimwrite(&self, uri: impl Into<Uri>, images: &[Image], opts: &Options) -> Result<Option<Vec<u8>>> {
        if images.is_empty() {
            return Err(Error::InvalidArgument("Zero images were written.".into()));
        }
        for im in images {
            check_2d(im)?;
        }
        self.write_all(uri, 'I', images, opts)
    }

    /// Reads one volume.
    pub fn volread(&self, uri: impl Into<Uri>, opts: &Options) -> Result<Image> {
        let mut r = self.get_reader(uri, 'v', opts)?;
        let im = r.get_data(0)?;
        r.close()?;
        Ok(im)
    }

    /// Writes one volume.
    pub fn volwrite(&self, uri: impl Into<Uri>, volume: &Image, opts: &Options) -> Result<Option<Vec<u8>>> {
        check_3d(volume)?;
        self.write_all(uri, 'v', std::slice::from_ref(volume), opts)
    }

    /// Reads all volumes (memory guard: 1 GiB by default).
    pub fn mvolread(&self, uri: impl Into<Uri>, opts: &Options) -> Result<Vec<Image>> {
        self.read_all(uri, 'V', opts, 1 << 30)
    }

    /// Writes several volumes.
    pub fn mvolwrite(&self, uri: impl Into<Uri>, volumes: &[Image], opts: &Options) -> Result<Option<Vec<u8>>> {
        if volumes.is_empty() {
            return Err(Error::InvalidArgument("Zero volumes were written.".into()));
        }
        for v in volumes {
            check_3d(v)?;
        }
        self.write_all(uri, 'V', volumes, opts)
    }
}

/// A reader on the global manager (see [`FormatManager::get_reader`]).
///
/// ```no_run
/// let mut r = imageio::get_reader("photo.png", '?', &imageio::Options::default())?;
/// println!("{} image(s)", r.get_length()?);
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn get_reader(uri: impl Into<Uri>, mode: char, opts: &Options) -> Result<Reader> {
    formats().get_reader(uri, mode, opts)
}

/// A writer on the global manager (see [`FormatManager::get_writer`]).
///
/// ```no_run
/// let mut w = imageio::get_writer("out.png", 'i', &imageio::Options::default())?;
/// w.close()?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn get_writer(uri: impl Into<Uri>, mode: char, opts: &Options) -> Result<Writer> {
    formats().get_writer(uri, mode, opts)
}

/// Reads one image with the global manager.
///
/// ```no_run
/// let im = imageio::imread("photo.png", &imageio::Options::default())?;
/// println!("{:?} {}", im.shape(), im.dtype().name());
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn imread(uri: impl Into<Uri>, opts: &Options) -> Result<Image> {
    formats().imread(uri, opts)
}

/// Writes one image (2D, or 3D with 1, 3 or 4 channels) with the global
/// manager; returns the encoded bytes for the `<bytes>` target.
///
/// ```
/// use imageio::{Image, Options};
/// let im = Image::from(ndarray::ArrayD::<u8>::zeros(ndarray::IxDyn(&[4, 4, 3])));
/// let png = imageio::imwrite("<bytes>", &im, &Options::default().with_format("PNG"))?.unwrap();
/// assert!(png.starts_with(b"\x89PNG"));
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn imwrite(uri: impl Into<Uri>, image: &Image, opts: &Options) -> Result<Option<Vec<u8>>> {
    formats().imwrite(uri, image, opts)
}

/// Reads every image of a file with the global manager.
///
/// ```no_run
/// let frames = imageio::mimread("frames.png", &imageio::Options::default())?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn mimread(uri: impl Into<Uri>, opts: &Options) -> Result<Vec<Image>> {
    formats().mimread(uri, opts)
}

/// Writes several images with the global manager.
///
/// ```no_run
/// # let frames: Vec<imageio::Image> = vec![];
/// imageio::mimwrite("out.tif", &frames, &imageio::Options::default())?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn mimwrite(uri: impl Into<Uri>, images: &[Image], opts: &Options) -> Result<Option<Vec<u8>>> {
    formats().mimwrite(uri, images, opts)
}

/// Reads one volume with the global manager.
///
/// ```no_run
/// let vol = imageio::volread("scan.tif", &imageio::Options::default())?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn volread(uri: impl Into<Uri>, opts: &Options) -> Result<Image> {
    formats().volread(uri, opts)
}

/// Writes one volume (3D, or 4D with fewer than 32 values per voxel).
///
/// ```no_run
/// # let vol = imageio::Image::from(ndarray::ArrayD::<u8>::zeros(ndarray::IxDyn(&[2, 2, 2])));
/// imageio::volwrite("scan.tif", &vol, &imageio::Options::default())?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn volwrite(uri: impl Into<Uri>, volume: &Image, opts: &Options) -> Result<Option<Vec<u8>>> {
    formats().volwrite(uri, volume, opts)
}

/// Reads every volume of a file with the global manager.
///
/// ```no_run
/// let vols = imageio::mvolread("scans.tif", &imageio::Options::default())?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn mvolread(uri: impl Into<Uri>, opts: &Options) -> Result<Vec<Image>> {
    formats().mvolread(uri, opts)
}

/// Writes several volumes with the global manager.
///
/// ```no_run
/// # let vols: Vec<imageio::Image> = vec![];
/// imageio::mvolwrite("scans.tif", &vols, &imageio::Options::default())?;
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn mvolwrite(uri: impl Into<Uri>, volumes: &[Image], opts: &Options) -> Result<Option<Vec<u8>>> {
    formats().mvolwrite(uri, volumes, opts)
}
