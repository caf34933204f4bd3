//! The NPY format plugin for imageio-rs: numpy's `.npy` files.
//!
//! Reads versions 1.0, 2.0 and 3.0 of the format, every numeric dtype
//! numpy writes that imageio-rs has (`b1`, `i1`-`i8`, `u1`-`u8`, `f4`,
//! `f8`) in either byte order, C or Fortran order, with any number of
//! dimensions. In modes `i` and `v` the whole array is one image; in modes
//! `I` and `V` the first axis indexes the images (an `(N, H, W)` file is `N`
//! images). The payload is read straight into the host's buffer, so a C-order
//! native-endian file costs one read.
//!
//! Writes version 1.0 (2.0 when the header needs it), little-endian, C
//! order: one array in modes `i`/`v`, or the images appended in modes
//! `I`/`V` stacked along a new first axis (they must share shape and dtype).
//! Metadata: `fortran_order` and `descr` (the file's dtype string).
//!
//! [`npy_plugin`] is the table accessor.

mod codec;

pub use codec::Npy;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-npy` (one format, `NPY`).
    pub fn npy_plugin {
        id: "imageio-npy",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Npy],
    }
}
