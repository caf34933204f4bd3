//! The JPEG format plugin for imageio-rs: `zune-jpeg` decodes; the
//! system's libjpeg-turbo encodes (`c/turbo.c`, found by `build.rs`), or
//! `jpeg-encoder` in a build without libjpeg.
//!
//! Reads baseline and progressive 8-bit files with Pillow's (and so
//! imageio's) shapes: grayscale `(H, W)`, YCbCr/RGB `(H, W, 3)`, CMYK
//! `(H, W, 4)` (inverted back when an Adobe marker says the file stores it
//! inverted, as Pillow does); YCCK files are converted to RGB. Metadata:
//! `orientation` (the EXIF orientation, 1-8, reported and not applied),
//! `exif` (the APP1 payload, starting with `Exif\0\0` like Pillow's),
//! `icc_profile`, `dpi` (from the JFIF density), `progressive`.
//!
//! Writes `uint8` `(H, W)` as grayscale, `(H, W, 3)` as YCbCr and
//! `(H, W, 4)` as CMYK (Adobe-inverted, so Pillow reads the same values
//! back). Options: `quality` (1-100, default 75 like Pillow), `progressive`
//! and `optimize` (booleans), `subsampling` (Pillow's values: 0 or "4:4:4",
//! 1 or "4:2:2", 2 or "4:2:0", the default). Metadata written: `exif` (bytes), `icc_profile`
//! (bytes) and `dpi`.
//!
//! Encoding uses libjpeg-turbo or `jpeg-encoder`, whose licences ask for
//! this acknowledgement: this software is based in part on the work of the
//! Independent JPEG Group.
//!
//! [`jpeg_plugin`] is the table accessor.

mod codec;
mod encode;
mod exif;
mod layout;
#[cfg(jpeg_turbo)]
mod turbo;

pub use codec::Jpeg;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-jpeg` (one format, `JPEG`).
    pub fn jpeg_plugin {
        id: "imageio-jpeg",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Jpeg],
    }
}
