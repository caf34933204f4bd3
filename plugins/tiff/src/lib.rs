//! The TIFF format plugin for imageio-rs, on the `tiff` crate.
//!
//! Reads every page (mode `I`, or one page in mode `i`) with the dtype and
//! shape tifffile gives: `uint8`-`uint64`, `int8`-`int64`, `float32`,
//! `float64` (and 1-bit pages as `bool`), gray `(H, W)`, gray+alpha, RGB,
//! RGBA and other multi-sample pages `(H, W, C)` (planar pages `(C, H, W)`,
//! as stored, like tifffile), in
//! strips or tiles, uncompressed, LZW, Deflate or PackBits; palette pages
//! read as their indices, as tifffile does. Modes `v` and `V` read volumes
//! `(Z, H, W[, C])`: the volumes this plugin wrote (a private tag marks
//! each one's first page), tifffile's series (its `{"shape": [...]}`
//! description starts one), or else all pages as one volume (they must
//! share shape and dtype). Metadata
//! per page: `description`, `resolution` (x, y), `resolution_unit` (1 none,
//! 2 inch, 3 cm), `compression` (the TIFF code), `software`, `datetime`.
//!
//! Writes pages (modes `i`/`I`) or volumes (modes `v`/`V`, one page per
//! slice; other readers see the pages, tifffile one series of them) of
//! those dtypes, gray, RGB or RGBA (alpha marked as unassociated).
//! Options: `compression` (`none`, `lzw`, `deflate` or `zlib`, `packbits`,
//! or the TIFF code). Metadata written: `description`, `resolution`,
//! `resolution_unit`, `software`.
//!
//! [`tiff_plugin`] is the table accessor.

mod codec;
mod scan;
mod write;

pub use codec::Tiff;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-tiff` (one format, `TIFF`).
    pub fn tiff_plugin {
        id: "imageio-tiff",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Tiff],
    }
}
