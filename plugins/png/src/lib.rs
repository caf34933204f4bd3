//! The PNG format plugin for imageio-rs, on the `png` crate.
//!
//! Reads every PNG colour type at every bit depth (palette and low bit depths
//! expanded, `tRNS` turned into alpha, interlaced images de-interlaced) into
//! `uint8` or `uint16` arrays shaped like imageio's: `(H, W)` for gray,
//! `(H, W, 2)` gray+alpha, `(H, W, 3)` RGB, `(H, W, 4)` RGBA; a 1-bit gray
//! image without transparency reads as `bool`, as Pillow gives it. Metadata:
//! `gamma`, `dpi` (or `pixels_per_unit`), `interlace`, `icc_profile`, `exif`,
//! and every text chunk under its keyword.
//!
//! Writes `uint8`/`uint16`/`bool` arrays of those shapes (and `(H, W, 1)`),
//! with the options `compression` (0-9, Pillow's scale; default 6) and
//! metadata `gamma`, `dpi` and text (any string value). Images of 2 MiB and
//! more at the zlib levels are filtered and deflated on every core (one
//! zlib stream cut into primed pieces: `deflate`).
//!
//! [`png_plugin`] is the table accessor: link it as a builtin, or build
//! `imageio-png-plugin` for the shared library.

mod codec;
mod deflate;

pub use codec::Png;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-png` (one format, `PNG`).
    pub fn png_plugin {
        id: "imageio-png",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Png],
    }
}
