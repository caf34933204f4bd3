//! The WebP format plugin for imageio-rs, on `image-webp`.
//!
//! Reads lossy and lossless files, still or animated (mode `I`: each frame
//! composited on the canvas), as `uint8` `(H, W, 3)`, or `(H, W, 4)` when
//! the file has alpha, like Pillow. Metadata: `lossless`, `loop` (0 =
//! forever) and `duration` (ms, per frame) for animations, `icc_profile`,
//! `exif`.
//!
//! Writes losslessly: `uint8` `(H, W)`, `(H, W, 2)`, `(H, W, 3)` or
//! `(H, W, 4)`; one image (with `icc_profile` and `exif` metadata), or an
//! animation in mode `I` (frames of one size, each replacing the canvas;
//! options `duration` in ms, one number or one per frame, and `loop`, 0 =
//! forever). Lossy encoding is not available (`lossless=False` is an error
//! that says so).
//!
//! [`webp_plugin`] is the table accessor.

mod codec;

pub use codec::Webp;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-webp` (one format, `WEBP`).
    pub fn webp_plugin {
        id: "imageio-webp",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Webp],
    }
}
