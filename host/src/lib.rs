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
//! - [`core`]: imageio's `imageio.core` as one module: its helpers
//!   ([`Dict`], [`Image`], [`image_as_uint`], progress indicators,
//!   `get_remote_file`, ...), and `Request`, `Format`, `FormatManager`.
//!
//! The layers run one way, each folder using only those before it:
//! `error`, `base` (the value types and helpers), `request`, `plugin`,
//! `registry` (a test checks the imports between the folders).
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

mod base;
mod error;
pub mod plugin;
pub mod registry;
pub mod request;

pub use crate::base::{
    BaseProgressIndicator, Dict, Dtype, Element, Image, Limits, MetaView, NdArray, NullProgressIndicator,
    ProgressIndicator, StdoutProgressIndicator, Value, appdata_dir, asarray, default_limits, generate_candidate_libs,
    get_platform, image_as_uint, image_as_uint_with_warning, load_lib, looks_lib, read_n_bytes, resource_dirs,
    resource_package_dir, set_default_limits,
};
#[cfg(feature = "http")]
pub use crate::request::fetching::{
    DEFAULT_REMOTE_URL, DOWNLOAD_TRIES, Fetcher, ForceDownload, NO_INTERNET_VALUES, get_remote_file, no_internet_value,
    sizeof_fmt,
};
#[cfg(feature = "http")]
pub use crate::request::http::{UrlResponse, request_timeout, urlopen};

/// imageio's `imageio.core` in one module: the helpers (`Dict`, `Image`,
/// `image_as_uint`, progress indicators, `get_remote_file`, `load_lib`,
/// the folders, the limits) and the classes (`Request`, `Format`,
/// `FormatManager`), each re-exported from its home.
pub mod core {
    pub use crate::base::{
        BaseProgressIndicator, Dict, Dtype, Image, LIMIT_NAMES, Limits, NdArray, NullProgressIndicator, Progress,
        ProgressIndicator, ProgressState, Status, StdoutProgressIndicator, Value, appdata_dir, asarray, default_limits,
        escape_controls, generate_candidate_libs, get_platform, image_as_uint, image_as_uint_with_warning, load_lib,
        looks_lib, read_n_bytes, resource_dirs, resource_package_dir, set_default_limits,
    };
    pub use crate::registry::{Format, FormatManager, has_module};
    #[cfg(feature = "http")]
    pub use crate::request::fetching::{
        DEFAULT_REMOTE_URL, DOWNLOAD_TRIES, Fetcher, ForceDownload, NO_INTERNET_VALUES, get_remote_file,
        no_internet_value, sizeof_fmt,
    };
    #[cfg(feature = "http")]
    pub use crate::request::http::{
        DEFAULT_DEADLINE, DEFAULT_MAX_DOWNLOAD, HttpLimits, UrlResponse, request_timeout, urlopen, urlopen_bounded,
    };
    pub use crate::request::{EXAMPLE_IMAGES, RETURN_BYTES, Request, SeekableReader};
}
pub use error::{Error, ErrorKind, PluginCode, Result};
/// Half-precision floats (`imageio::half::f16`), the element type of
/// `float16` images.
pub use half;
/// The array crate the pixels are in (`imageio::ndarray::ArrayD`, ...), so a
/// program needs no dependency of its own to name them.
pub use ndarray;
pub use registry::v3;
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

/// The library guide's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct GuideExamples;
