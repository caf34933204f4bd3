//! The standard plugins compiled into this program, each behind its Cargo
//! feature. They register through the same C table as a plugin library,
//! by their table accessor (never the exported entry symbol, which two
//! libraries cannot share in one program).

use imageio_plugin_api::ffi::{iio_host_v1, iio_plugin_v1};

/// A builtin plugin's table accessor.
pub(crate) type Accessor = unsafe extern "C" fn(*const iio_host_v1) -> *const iio_plugin_v1;

/// The builtin plugins of this build: (id, table accessor), in registration order.
#[allow(
    unused_mut,
    clippy::vec_init_then_push,
    reason = "each builtin is pushed behind its own feature"
)]
pub(crate) fn builtins() -> Vec<(&'static str, Accessor)> {
    let mut list: Vec<(&'static str, Accessor)> = Vec::new();
    #[cfg(feature = "png")]
    list.push(("imageio-png", imageio_png::png_plugin));
    #[cfg(feature = "pnm")]
    list.push(("imageio-pnm", imageio_pnm::iio_pnm_plugin));
    #[cfg(feature = "jpeg")]
    list.push(("imageio-jpeg", imageio_jpeg::jpeg_plugin));
    #[cfg(feature = "tiff")]
    list.push(("imageio-tiff", imageio_tiff::tiff_plugin));
    #[cfg(feature = "gif")]
    list.push(("imageio-gif", imageio_gif::gif_plugin));
    #[cfg(feature = "bmp")]
    list.push(("imageio-bmp", imageio_bmp::bmp_plugin));
    #[cfg(feature = "npy")]
    list.push(("imageio-npy", imageio_npy::npy_plugin));
    #[cfg(feature = "webp")]
    list.push(("imageio-webp", imageio_webp::webp_plugin));
    list
}
