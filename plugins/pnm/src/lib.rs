//! The PNM plugin, written in C (`c/pnm.c`) against `include/imageio_plugin.h`
//! alone, linked into this crate as a builtin, and also built as a loadable
//! shared library ([`SHARED_LIBRARY`]).

use imageio_plugin_api::ffi::{iio_host_v1, iio_plugin_v1};

unsafe extern "C" {
    /// The C plugin's table accessor (defined in `c/pnm.c`).
    ///
    /// # Safety
    ///
    /// `host` is NULL or points to a valid `iio_host_v1`.
    pub fn iio_pnm_plugin(host: *const iio_host_v1) -> *const iio_plugin_v1;
}

/// Path of the loadable shared library built from the same C source
/// (`libimageio_pnm.so` in this crate's build directory).
pub const SHARED_LIBRARY: &str = env!("IMAGEIO_PNM_SHARED_LIBRARY");

include!("../flags.rs");
