//! The imageio-rs plugin ABI and the Rust plugin SDK.
//!
//! - [`ffi`] is the C ABI 1.1 itself (`#[repr(C)]` types and constants), the
//!   single source of `include/imageio_plugin.h`.
//! - The rest is a small, safe SDK for plugins written in Rust: implement
//!   [`Format`] (with a [`Reader`] and a [`Writer`]) for each format, list the
//!   formats with [`plugin!`], and export the library's entry point with
//!   [`export_entry!`] in the crate that builds the shared library. Every call
//!   into the plugin runs under `catch_unwind`, so a panic becomes
//!   `IIO_ERR_PANIC` instead of killing the host, and `log` records reach the
//!   host's logger.
//!
//! ```
//! use imageio_plugin_api::{Error, Format, ImageSink, Reader, Request, Result, Unsupported};
//!
//! /// A format whose files are "RAW1" then width, height and gray bytes.
//! pub struct Raw1;
//! pub struct Raw1Reader { data: Vec<u8> }
//!
//! impl Format for Raw1 {
//!     const NAME: &'static str = "RAW1";
//!     const DESCRIPTION: &'static str = "A toy gray-scale format";
//!     const EXTENSIONS: &'static str = ".raw1";
//!     const MODES: &'static str = "i";
//!     type Reader = Raw1Reader;
//!     type Writer = Unsupported;
//!     fn can_read(req: &Request<'_>) -> i32 {
//!         if req.first_bytes().starts_with(b"RAW1") { 100 } else { 0 }
//!     }
//!     fn open_reader(req: &Request<'_>) -> Result<Raw1Reader> {
//!         use std::io::Read;
//!         let mut data = Vec::new();
//!         req.stream()?.read_to_end(&mut data)?;
//!         Ok(Raw1Reader { data })
//!     }
//! }
//!
//! impl Reader for Raw1Reader {
//!     fn get_length(&mut self) -> Result<u64> { Ok(1) }
//!     fn get_data(&mut self, index: u64, sink: &mut ImageSink<'_>) -> Result<()> {
//!         if index != 0 { return Err(Error::index_out_of_range(index, 1)); }
//!         let (w, h) = (self.data[4] as u64, self.data[5] as u64);
//!         let pixels = self.data.get(6..6 + (w * h) as usize).ok_or_else(|| Error::corrupt("truncated"))?;
//!         sink.alloc::<u8>(&[h, w])?.copy_from_slice(pixels);
//!         Ok(())
//!     }
//!     fn get_meta_data(&mut self, _index: Option<u64>, _sink: &mut ImageSink<'_>) -> Result<()> { Ok(()) }
//! }
//!
//! imageio_plugin_api::plugin! {
//!     /// The table accessor (link it as a builtin, or export it with `export_entry!`).
//!     pub fn raw1_plugin { id: "raw1", version: "0.1.0", formats: [Raw1] }
//! }
//! ```

pub mod ffi;
pub mod raw;

mod bounded;
mod error;
mod export;
mod format;
mod limits;
mod logging;
mod request;
mod sink;
mod stream;
mod value;

pub use bounded::MetaBudget;
pub use error::{Error, Result};
pub use export::format_table;
pub use format::{
    Format, ImageView, MAX_ANIMATION_PIXELS, OptionKind, OptionSpec, Properties, Reader, Signature, Unsupported,
    Writer, check_animation, fits_mode, frame_duration_ms, image_shape, lists_extension, parse_extensions,
};
pub use limits::{LIMIT_NAMES, Limits};
pub use request::{ACCEPT_TRUNCATED, Options, Request, truncated_error};
pub use sink::{Dtype, Element, ImageSink};
pub use stream::Stream;
pub use value::Value;

/// Items the macros expand to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{FormatExtensions, SyncTable, entry, extensions, format_table, offer, str_lit};
}

/// The plugin authors' guide's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct AuthorGuideExamples;

/// The name of the entry symbol a plugin library exports.
pub const ENTRY_SYMBOL: &str = "iio_plugin_entry_v1";

/// Defines a plugin's table accessor: an `extern "C"` function with a unique
/// name that returns the plugin's static `iio_plugin_v1` table listing the
/// given formats. Link it into a program as a builtin, or export it from a
/// shared library with [`export_entry!`].
///
/// The accessor returns NULL when the host speaks another ABI major.
#[macro_export]
macro_rules! plugin {
    (
        $(#[$meta:meta])*
        $vis:vis fn $accessor:ident {
            id: $id:expr,
            version: $version:expr,
            formats: [$($format:ty),+ $(,)?] $(,)?
        }
    ) => {
        $(#[$meta])*
        ///
        /// # Safety
        ///
        /// `host` is NULL or points to a valid `iio_host_v1`.
        $vis unsafe extern "C" fn $accessor(
            host: *const $crate::ffi::iio_host_v1,
        ) -> *const $crate::ffi::iio_plugin_v1 {
            const COUNT: usize = [$(stringify!($format)),+].len();
            static TABLES: $crate::__private::SyncTable<[$crate::ffi::iio_format_v1; COUNT]> =
                $crate::__private::SyncTable([$($crate::__private::format_table::<$format>()),+]);
            static POINTERS: $crate::__private::SyncTable<[*const $crate::ffi::iio_format_v1; COUNT]> = {
                let mut pointers = [::core::ptr::null(); COUNT];
                let mut i = 0;
                while i < COUNT {
                    pointers[i] = &TABLES.0[i];
                    i += 1;
                }
                $crate::__private::SyncTable(pointers)
            };
            static PLUGIN: $crate::__private::SyncTable<$crate::ffi::iio_plugin_v1> =
                $crate::__private::SyncTable($crate::ffi::iio_plugin_v1 {
                    abi_version: $crate::ffi::IIO_ABI_VERSION,
                    struct_size: ::core::mem::size_of::<$crate::ffi::iio_plugin_v1>() as u32,
                    id: $crate::__private::str_lit($id),
                    version: $crate::__private::str_lit($version),
                    formats: &POINTERS.0 as *const [*const $crate::ffi::iio_format_v1; COUNT]
                        as *const *const $crate::ffi::iio_format_v1,
                    format_count: COUNT,
                });
            // SAFETY: a non-null `host` points to the host's static table (the
            // contract of the entry point); only its first fields are read.
            if !host.is_null() && unsafe { (*host).abi_version } >> 16 != $crate::ffi::IIO_ABI_VERSION_MAJOR {
                return ::core::ptr::null();
            }
            // ABI 1.2: each format's extensions, offered to a host that
            // knows them.
            static EXTENSIONS: [$crate::__private::FormatExtensions; COUNT] =
                [$($crate::__private::extensions::<$format>()),+];
            let mut i = 0;
            while i < COUNT {
                // SAFETY: `host` as above; the tables and extensions are
                // this plugin's statics.
                unsafe { $crate::__private::offer(host, &TABLES.0[i], &EXTENSIONS[i]) };
                i += 1;
            }
            &PLUGIN.0
        }
    };
}

/// Exports `iio_plugin_entry_v1` from a shared library, forwarding to a table
/// accessor defined with [`plugin!`]. Use it once, in the crate that builds the
/// `cdylib`, never in a library that may be linked into a program beside
/// another plugin (two exported entry points cannot share one program).
///
/// The entry installs a `log` forwarder to the host and a panic hook that
/// reports panics through the host's log.
#[macro_export]
macro_rules! export_entry {
    ($accessor:path) => {
        #[cfg(panic = "abort")]
        compile_error!("imageio plugins must be built with panic = \"unwind\"");

        /// The plugin library's entry point (see `imageio_plugin.h`).
        ///
        /// # Safety
        ///
        /// `host` is NULL or points to a valid `iio_host_v1` that lives for the
        /// whole process.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn iio_plugin_entry_v1(
            host: *const $crate::ffi::iio_host_v1,
        ) -> *const $crate::ffi::iio_plugin_v1 {
            // SAFETY: the caller's contract is forwarded unchanged.
            unsafe { $crate::__private::entry(host, $accessor) }
        }
    };
}
