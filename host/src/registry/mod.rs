//! The registry: the [`FormatManager`] and its formats, each [`Format`]'s
//! [`Reader`] and [`Writer`], and the user functions (`imread`, ...).

mod format;
mod functions;
mod manager;
mod reader;
mod state;
pub mod v3;
mod writer;

pub use format::Format;
pub use functions::{
    Memtest, Options, get_reader, get_writer, imread, imwrite, mimread, mimwrite, mvolread, mvolwrite, volread,
    volwrite,
};
pub use manager::{FormatManager, formats, has_module, plugin_dirs};
pub use reader::{DEFAULT_MAX_IMAGE_BYTES, ImageIter, LENGTH_UNKNOWN, Reader};
pub use writer::Writer;
