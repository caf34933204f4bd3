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

pub mod conformance;
mod convert;
mod dict;
mod error;
mod fetching;
mod findlib;
mod format;
mod functions;
mod http;
mod image;
mod manager;
pub mod plugin;
pub mod progress;
pub mod request;
mod seekable;
mod util;
mod zipio;

pub use convert::{image_as_uint, image_as_uint_with_warning};
pub use dict::{Dict, Value};
pub use error::{Error, ErrorKind, PluginCode, Result};
pub use fetching::{
    DEFAULT_REMOTE_URL, DOWNLOAD_TRIES, Fetcher, ForceDownload, NO_INTERNET_VALUES, get_remote_file, no_internet_value,
    sizeof_fmt,
};
pub use findlib::{generate_candidate_libs, load_lib, looks_lib};
pub use format::{DEFAULT_MAX_IMAGE_BYTES, Format, ImageIter, LENGTH_UNKNOWN, Reader, Writer};
pub use functions::{
    Memtest, Options, get_reader, get_writer, imread, imwrite, mimread, mimwrite, mvolread, mvolwrite, volread,
    volwrite,
};
pub use http::{UrlResponse, request_timeout, urlopen};
pub use image::{Dtype, Image, NdArray, asarray};
pub use manager::{FormatManager, formats, has_module, plugin_dirs};
pub use progress::{BaseProgressIndicator, NullProgressIndicator, ProgressIndicator, StdoutProgressIndicator};
pub use request::{Request, Uri};
pub use seekable::SeekableReader;
pub use util::{appdata_dir, get_platform, read_n_bytes, resource_dirs, resource_package_dir};

/// The README's Rust examples (the library and a plugin), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

/// imageio's `imageio.core` namespace.
pub mod core {
    pub use crate::progress::{Progress, ProgressState, Status};
    pub use crate::request::{EXAMPLE_IMAGES, RETURN_BYTES};
    pub use crate::{
        BaseProgressIndicator, Dict, Error, Fetcher, ForceDownload, Format, FormatManager, Image,
        NullProgressIndicator, ProgressIndicator, Request, SeekableReader, StdoutProgressIndicator, UrlResponse,
        appdata_dir, asarray, generate_candidate_libs, get_platform, get_remote_file, has_module, image_as_uint,
        image_as_uint_with_warning, load_lib, looks_lib, no_internet_value, read_n_bytes, request_timeout,
        resource_dirs, sizeof_fmt, urlopen,
    };
}
