//! The JPEG format plugin for imageio-rs: `zune-jpeg` decodes,
//! `jpeg-encoder` encodes.
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
//! and `optimize` (booleans). Metadata written: `exif` (bytes), `icc_profile`
//! (bytes) and `dpi`.
//!
//! Encoding uses `jpeg-encoder`, whose licence asks for this
//! acknowledgement: this software is based in part on the work of the
//! Independent JPEG Group.
//!
//! [`jpeg_plugin`] is the table accessor.

mod codec;
mod exif;

pub use codec::Jpeg;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-jpeg` (one format, `JPEG`).
    pub fn jpeg_plugin {
        id: "imageio-jpeg",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Jpeg],
    }
}
