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

mod dict;
mod error;
mod format;
mod functions;
mod image;
mod manager;
pub mod plugin;
pub mod request;
mod util;

pub use dict::{Dict, Value};
pub use error::{Error, Result};
pub use format::{DEFAULT_MAX_IMAGE_BYTES, Format, ImageIter, LENGTH_UNKNOWN, Reader, Writer};
pub use functions::{
    Memtest, Options, get_reader, get_writer, imread, imwrite, mimread, mimwrite, mvolread, mvolwrite, volread,
    volwrite,
};
pub use image::{Dtype, Image, NdArray, asarray};
pub use manager::{FormatManager, formats, has_module, plugin_dirs};
pub use request::{Request, Uri};
pub use util::{appdata_dir, get_platform, read_n_bytes, resource_dirs};

/// The README's Rust examples (the library and a plugin), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

/// imageio's `imageio.core` namespace.
pub mod core {
    pub use crate::request::RETURN_BYTES;
    pub use crate::{
        Dict, Error, Format, FormatManager, Image, Request, appdata_dir, asarray, get_platform, has_module,
        read_n_bytes, resource_dirs,
    };
}
