//! imageio's `imageio.core` namespace: the helpers (metadata [`Dict`],
//! [`Image`], [`image_as_uint`], progress indicators, `get_remote_file`,
//! `load_lib`, the folders imageio uses) and, as in imageio, the core
//! classes [`Format`], [`FormatManager`] and [`Request`].

pub(crate) mod convert;
pub(crate) mod dict;
pub(crate) mod dirs;
pub(crate) mod findlib;
pub(crate) mod image;
pub(crate) mod io;
pub(crate) mod limits;
pub(crate) mod prefault;
pub(crate) mod progress;
pub(crate) mod typed;
pub(crate) mod window;

pub use convert::{image_as_uint, image_as_uint_with_warning};
pub use dict::{Dict, Value};
pub use dirs::{appdata_dir, get_platform, resource_dirs, resource_package_dir};
pub use findlib::{generate_candidate_libs, load_lib, looks_lib};
pub use image::{Dtype, Image, NdArray, asarray};
pub use io::{escape_controls, read_n_bytes};
pub use limits::{LIMIT_NAMES, Limits, default_limits, set_default_limits};
pub use progress::{
    BaseProgressIndicator, NullProgressIndicator, Progress, ProgressIndicator, ProgressState, Status,
    StdoutProgressIndicator,
};
pub use typed::{Element, MetaView};
