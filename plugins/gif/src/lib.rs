//! The GIF format plugin for imageio-rs, on the `gif` crate.
//!
//! Reads still and animated GIFs (mode `I`): every frame is composited on
//! the logical screen following its disposal method and returned whole, as
//! `uint8` `(H, W, 3)`, or `(H, W, 4)` when any frame uses transparency.
//! Metadata: `duration` (ms) per frame, `loop` (0 = forever; absent when the
//! file has no looping extension), `background` (the background colour
//! index), `icc_profile`.
//!
//! Writes a sequence of `uint8` (or `bool`) images, gray `(H, W)`, RGB or
//! RGBA, of one size: frames with at most 256 colours keep them exactly,
//! others are quantised (NeuQuant); fully transparent pixels of RGBA frames
//! become the transparent colour (alpha must be 0 or 255: GIF has no partial
//! transparency). Options: `duration` (ms, one number for
//! every frame or one per frame), `loop` (0 = forever, the default). A
//! frame's own `duration` metadata wins over the option.
//!
//! [`gif_plugin`] is the table accessor.

mod codec;

pub use codec::Gif;

imageio_plugin_api::plugin! {
    /// The plugin table of `imageio-gif` (one format, `GIF`).
    pub fn gif_plugin {
        id: "imageio-gif",
        version: env!("CARGO_PKG_VERSION"),
        formats: [Gif],
    }
}
