//! The BMP format plugin for imageio-rs, on `image`'s BMP codec.
//!
//! Reads 1, 4, 8, 16, 24 and 32-bit files, uncompressed, RLE4, RLE8 and
//! bitfields, bottom-up and top-down, with Pillow's (and so imageio's)
//! shapes: a palette that is pure black and white reads as `bool` `(H, W)`,
//! a palette where entry `i` is gray `i` reads as `uint8` `(H, W)`, any other
//! palette is applied (`(H, W, 3)`), 24-bit and 32-bit without an alpha mask
//! are `(H, W, 3)`, and 32-bit with an alpha mask is `(H, W, 4)`. Metadata:
//! `compression` (the BMP code) and `dpi` when the file gives a resolution.
//!
//! Writes `uint8` (and `bool`) `(H, W)` as 8-bit gray, `(H, W, 3)` as 24-bit
//! and `(H, W, 4)` as 32-bit with an alpha mask (a V4 header).
//!
//! [`bmp_plugin`] is the table accessor.

mod codec;

pub use codec::Bmp;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-bmp` (one format, `BMP`).
    pub fn bmp_plugin {
        id: "imageio-bmp",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Bmp],
    }
}
