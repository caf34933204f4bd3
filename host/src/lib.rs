//! imageio-rs: the core of Python's imageio (`Request`, `Format`,
//! `FormatManager`, `Image`, `Dict` and the user functions) as a host for
//! format plugins that are shared libraries speaking one versioned C ABI
//! (`include/imageio_plugin.h`).
//!
//! ```
//! use imageio::{Image, Options};
//! use ndarray::{ArrayD, IxDyn};
//! let im = Image::from(ArrayD::from_shape_fn(IxDyn(&[8, 8]), |i| (i[0] * 8 + i[1]) as u8));
//! let png = imageio::imwrite("<bytes>", &im, &Options::default().with_format("PNG"))?.unwrap();
//! let back = imageio::imread(png, &Options::default())?;
//! assert_eq!(back.data, im.data);
//! # Ok::<(), imageio::Error>(())
//! ```

//! ## Where things are
//!
//! - [`request`]: what a read or write is about: [`Request`], its
//!   [`Mode`], the caller's [`Uri`], and the sources behind it (files,
//!   bytes, streams, zip members, http(s), standard images).
//! - [`registry`]: the [`FormatManager`], each [`Format`], its [`Reader`]
//!   and [`Writer`], and the user functions ([`imread`], ...).
//! - [`plugin`]: where formats come from: loading plugin libraries, and the
//!   one seam (the backend) through which the host calls a plugin.
//! - [`core`]: imageio's `imageio.core` helpers ([`Dict`], [`Image`],
//!   [`image_as_uint`], progress indicators, `get_remote_file`, ...).
//!
//! The items a program uses most also have a short path at the top
//! (`imageio::Request`, `imageio::Mode`, `imageio::imread`, ...); each item's
//! home is the module above that holds it.
//!
//! ## Features
//!
//! All on by default: `http` (http(s) sources and `get_remote_file`, with
//! `ureq`), `zip` (zip-member sources and targets), and one per builtin
//! plugin (`png`, `pnm`, `jpeg`, `tiff`, `gif`, `bmp`, `npy`, `webp`).
//! Without a feature its sources give a clear "not available in this build"
//! error, and its builtin format is absent (a plugin library can still
//! provide it).

pub mod core;
mod error;
pub mod plugin;
pub mod registry;
pub mod request;

pub use crate::core::{
    BaseProgressIndicator, Dict, Dtype, Image, Limits, NdArray, NullProgressIndicator, ProgressIndicator,
    StdoutProgressIndicator, Value, appdata_dir, asarray, default_limits, generate_candidate_libs, get_platform,
    image_as_uint, image_as_uint_with_warning, load_lib, looks_lib, read_n_bytes, resource_dirs, resource_package_dir,
    set_default_limits,
};
#[cfg(feature = "http")]
pub use crate::core::{
    DEFAULT_REMOTE_URL, DOWNLOAD_TRIES, Fetcher, ForceDownload, NO_INTERNET_VALUES, UrlResponse, get_remote_file,
    no_internet_value, request_timeout, sizeof_fmt, urlopen,
};
pub use error::{Error, ErrorKind, PluginCode, Result};
pub use registry::{
    DEFAULT_MAX_IMAGE_BYTES, Format, FormatManager, ImageIter, LENGTH_UNKNOWN, Memtest, Options, Reader, Writer,
    formats, get_reader, get_writer, has_module, imread, imwrite, mimread, mimwrite, mvolread, mvolwrite, plugin_dirs,
    volread, volwrite,
};
pub use request::{ImageMode, IoMode, Mode, Request, SeekableReader, Source, Target, Uri, UriType};

/// The README's Rust examples (the library and a plugin), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
