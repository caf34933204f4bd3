//! imageio's `imageio.core` namespace: the helpers (metadata [`Dict`],
//! [`Image`], [`image_as_uint`], progress indicators, `get_remote_file`,
//! `load_lib`, the folders imageio uses) and, as in imageio, the core
//! classes [`Format`], [`FormatManager`] and [`Request`].

pub(crate) mod convert;
pub(crate) mod dict;
pub(crate) mod dirs;
#[cfg(feature = "http")]
pub(crate) mod fetching;
pub(crate) mod findlib;
pub(crate) mod image;
pub(crate) mod io;
pub(crate) mod limits;
pub(crate) mod prefault;
pub(crate) mod progress;
pub(crate) mod window;

pub use convert::{image_as_uint, image_as_uint_with_warning};
pub use dict::{Dict, Value};
pub use dirs::{appdata_dir, get_platform, resource_dirs, resource_package_dir};
#[cfg(feature = "http")]
pub use fetching::{
    DEFAULT_REMOTE_URL, DOWNLOAD_TRIES, Fetcher, ForceDownload, NO_INTERNET_VALUES, get_remote_file, no_internet_value,
    sizeof_fmt,
};
pub use findlib::{generate_candidate_libs, load_lib, looks_lib};
pub use image::{Dtype, Image, NdArray, asarray};
pub use io::{escape_controls, read_n_bytes};
pub use limits::{LIMIT_NAMES, Limits, default_limits, set_default_limits};
pub use progress::{
    BaseProgressIndicator, NullProgressIndicator, Progress, ProgressIndicator, ProgressState, Status,
    StdoutProgressIndicator,
};

pub use crate::registry::{Format, FormatManager, has_module};
#[cfg(feature = "http")]
pub use crate::request::http::{
    DEFAULT_DEADLINE, DEFAULT_MAX_DOWNLOAD, HttpLimits, UrlResponse, request_timeout, urlopen, urlopen_bounded,
};
pub use crate::request::{EXAMPLE_IMAGES, RETURN_BYTES, Request, SeekableReader};
