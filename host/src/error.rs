//! The host's error type, sorted by whose fault it is.

use std::path::{Path, PathBuf};

/// Every way a host operation can fail. Messages name the file (or `<bytes>`,
/// never raw bytes), the format or plugin, and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the input: the file, the data or the URI ----
    /// The file to read does not exist.
    #[error("No such file: '{}'", path.display())]
    FileNotFound {
        /// The absolute path.
        path: PathBuf,
    },
    /// The directory to write into does not exist.
    #[error("The directory '{}' does not exist", path.display())]
    DirectoryNotFound {
        /// The absolute path of the directory.
        path: PathBuf,
    },
    /// The URI is of no known kind (imageio's "Cannot understand given URI").
    #[error("Cannot understand given URI: {uri}.")]
    CannotUnderstandUri {
        /// The URI, shortened for display.
        uri: String,
    },
    /// A bare standard-image name was given without `imageio:`.
    #[error(
        "No such file: '{name}'. This file looks like one of the standard images, but from imageio 2.1, \
         standard images have to be specified using \"imageio:{name}\"."
    )]
    BareStandardImageName {
        /// The name given.
        name: String,
    },
    /// `imageio:NAME` names no standard image.
    #[error("Unknown standard image '{name}'.")]
    UnknownStandardImage {
        /// The name given.
        name: String,
    },
    /// No format can read (or write) the request.
    #[error("Could not find a format to {action} {uri} in {mode} mode{hint}")]
    NoFormatFound {
        /// `read` or `write`.
        action: &'static str,
        /// The request's name.
        uri: String,
        /// The image mode's name (`single-image`, ...).
        mode: &'static str,
        /// Extra help (empty or starting with `: `).
        hint: String,
    },
    /// A format name or extension matches no registered format.
    #[error("No format known by name {name}.")]
    UnknownFormat {
        /// The processed name, as imageio prints it.
        name: String,
    },
    /// The image index does not exist (imageio's `IndexError`).
    #[error("{uri}: {message}")]
    IndexOutOfRange {
        /// The request's name.
        uri: String,
        /// The plugin's or host's message.
        message: String,
    },
    /// A frame exists but could not be read (imageio's `CannotReadFrameError`).
    #[error("{uri}: could not read frame {index}: {message}")]
    CannotReadFrame {
        /// The request's name.
        uri: String,
        /// The frame.
        index: u64,
        /// The plugin's message.
        message: String,
    },

    /// A zip archive is invalid, or lacks the member asked for.
    #[error("{uri}: {message}")]
    Archive {
        /// The request's name (`archive.zip/member`).
        uri: String,
        /// What is wrong.
        message: String,
    },

    // ---- caller misuse ----
    /// A mode string is invalid.
    #[error("{0}")]
    InvalidMode(String),
    /// An argument is invalid (imageio's `ValueError`s).
    #[error("{0}")]
    InvalidArgument(String),
    /// The reader or writer was used after `close` (imageio's `RuntimeError`).
    #[error("I/O operation on closed {0}.")]
    Closed(&'static str),
    /// The format does not support the image mode.
    #[error("Format {format} cannot {action} in {mode} mode")]
    ModeNotSupported {
        /// The format's name.
        format: String,
        /// `read` or `write`.
        action: &'static str,
        /// The image mode's name.
        mode: &'static str,
    },
    /// The operation is not possible for this kind of request.
    #[error("{0}")]
    Unsupported(String),

    /// A write was abandoned after an error; nothing was committed.
    #[error("{uri}: nothing was written because an earlier write failed ({message}); the target is untouched")]
    Aborted {
        /// The request's name.
        uri: String,
        /// The earlier error.
        message: String,
        /// The earlier error's kind (the kind of this one).
        kind: ErrorKind,
    },

    // ---- limits ----
    /// A memory guard stopped the operation.
    #[error("{0}")]
    MemoryLimit(String),

    // ---- the operating system ----
    /// Reading or writing failed.
    #[error("{uri}: {source}")]
    Io {
        /// The request's name.
        uri: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    // ---- the network and downloads ----
    /// An http(s) resource could not be fetched (connection, timeout, status).
    #[error("{uri}: {message}")]
    Network {
        /// The URL.
        uri: String,
        /// The cause (`HTTP status 404 Not Found`, `timed out`, ...).
        message: String,
    },
    /// A download is needed but `IMAGEIO_NO_INTERNET` forbids it
    /// (imageio's `InternetNotAllowedError`).
    #[error("Will not download resource from the internet because environment variable IMAGEIO_NO_INTERNET is set.")]
    InternetNotAllowed,
    /// A download is needed but the caller asked for none (`auto = false`;
    /// imageio's `NeedDownloadError`).
    #[error("'{name}' is not available locally and automatic download is off (auto = false)")]
    NeedDownload {
        /// The remote file name.
        name: String,
    },
    /// Every download attempt failed.
    #[error(
        "Unable to download '{name}'. Perhaps there is no internet connection? If there is, please report this \
         problem. (last error: {cause})"
    )]
    DownloadFailed {
        /// The file's base name.
        name: String,
        /// The last attempt's error.
        cause: String,
    },
    /// `load_lib` found no loadable library (the message lists the folders
    /// searched, or each candidate's loader error).
    #[error("{0}")]
    LibraryNotLoaded(String),

    // ---- plugins ----
    /// A plugin reported an error. Its [`kind`](Error::kind) follows the
    /// plugin's status (an option it does not know is caller misuse, damaged
    /// data is bad input, ...).
    #[error("{uri}: format {format} ({plugin}) failed: {message} [{code}]")]
    Plugin {
        /// The request's name.
        uri: String,
        /// The format's name.
        format: String,
        /// The plugin's id.
        plugin: String,
        /// What the plugin said went wrong.
        code: PluginCode,
        /// The plugin's message (or one the host wrote when it gave none).
        message: String,
        /// The plugin gave no message; `message` is the host's.
        no_message: bool,
        /// The plugin failed without setting `err->code` (the ABI says it
        /// must); the status it returned is used.
        code_unset: bool,
    },
    /// A plugin panicked; it stays loaded and usable for new requests.
    #[error("{uri}: format {format} ({plugin}) panicked: {message}")]
    Panicked {
        /// The request's name.
        uri: String,
        /// The format's name.
        format: String,
        /// The plugin's id.
        plugin: String,
        /// The panic message.
        message: String,
    },
    /// A plugin broke the ABI's rules (returned OK without output, ...).
    #[error("{uri}: format {format} ({plugin}) broke the plugin protocol: {message}")]
    Protocol {
        /// The request's name.
        uri: String,
        /// The format's name.
        format: String,
        /// The plugin's id.
        plugin: String,
        /// What went wrong.
        message: String,
    },
    /// An isolated plugin's worker process died (a crash, an abort, an
    /// `exit`) or overran its time limit during a call. The worker is gone;
    /// the next call starts a fresh one.
    #[error("{uri}: format {format} ({plugin}): the plugin's worker process {reason}")]
    WorkerFailed {
        /// The request's name.
        uri: String,
        /// The format's name.
        format: String,
        /// The plugin's id.
        plugin: String,
        /// What happened: "was killed by signal 11 (SIGSEGV) in get_data",
        /// "did not answer get_data within 30 s and was killed", ...
        reason: String,
    },
    /// A plugin library could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// What kind of failure an [`Error`] is, and so what a caller can do
/// about it: the branches a program takes (a missing file, a file no
/// format reads, damaged data, a limit, ...), each error keeping its one
/// line of text.
///
/// ```
/// use imageio::ErrorKind;
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
/// let kind = |r: imageio::Result<imageio::Image>| r.unwrap_err().kind();
/// let o = imageio::Options::default();
/// assert_eq!(kind(imageio::imread("no/such/file.png", &o)), ErrorKind::NotFound);
/// assert_eq!(kind(imageio::imread(vec![1u8, 2, 3], &o)), ErrorKind::NoFormat);
/// let png = std::fs::read("tests/data/hello-page.png").unwrap();
/// let cut = png[..png.len() / 2].to_vec();
/// assert_eq!(kind(imageio::imread(cut, &o.clone().with_format("PNG"))), ErrorKind::Corrupt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller used the API wrongly: an invalid mode, URI or argument,
    /// an option the plugin does not know, a closed reader, an index past
    /// the end.
    Misuse,
    /// What was asked for does not exist: a missing file or folder, a
    /// zip member or a standard image that is not there.
    NotFound,
    /// No format can read (or write) it, or the format named is unknown.
    NoFormat,
    /// The data is damaged or cut short (a format claimed it and found it
    /// broken).
    Corrupt,
    /// A limit stopped the operation (a memory guard, an allocation refused).
    Limits,
    /// The operating system or the network failed.
    Io,
    /// A plugin failed, panicked, broke the protocol or could not be loaded.
    Plugin,
    /// The operation is not supported (by this build, the format or the request).
    Unsupported,
}

/// What a plugin said went wrong (its `IIO_ERR_*` status), without the
/// ABI's constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PluginCode {
    /// The plugin does not support what was asked (a mode, a dtype, a feature).
    Unsupported,
    /// An argument or option is invalid (for example an unknown option).
    InvalidArgument,
    /// Reading or writing the stream failed.
    Io,
    /// The data is damaged or truncated.
    Corrupt,
    /// The image index does not exist.
    IndexOutOfRange,
    /// The plugin ran out of memory.
    NoMemory,
    /// The plugin panicked.
    Panic,
    /// The plugin met an internal error.
    Internal,
    /// A frame exists but could not be read.
    CannotReadFrame,
    /// A status this host does not know.
    Other(i32),
}

impl PluginCode {
    /// Each known code and the `IIO_ERR_*` status it stands for: the one
    /// table both directions read.
    const STATUSES: [(PluginCode, i32); 9] = {
        use imageio_plugin_api::ffi;
        [
            (PluginCode::Unsupported, ffi::IIO_ERR_UNSUPPORTED),
            (PluginCode::InvalidArgument, ffi::IIO_ERR_INVALID_ARGUMENT),
            (PluginCode::Io, ffi::IIO_ERR_IO),
            (PluginCode::Corrupt, ffi::IIO_ERR_CORRUPT),
            (PluginCode::IndexOutOfRange, ffi::IIO_ERR_INDEX_OUT_OF_RANGE),
            (PluginCode::NoMemory, ffi::IIO_ERR_NO_MEMORY),
            (PluginCode::Panic, ffi::IIO_ERR_PANIC),
            (PluginCode::Internal, ffi::IIO_ERR_INTERNAL),
            (PluginCode::CannotReadFrame, ffi::IIO_ERR_CANNOT_READ_FRAME),
        ]
    };

    /// The `IIO_ERR_*` status it stands for.
    pub fn status(self) -> i32 {
        match self {
            PluginCode::Other(c) => c,
            known => Self::STATUSES.iter().find(|(c, _)| *c == known).map_or(0, |&(_, s)| s),
        }
    }

    /// The code of an `IIO_ERR_*` status (`Other` for one this host does
    /// not know).
    pub fn from_status(status: i32) -> PluginCode {
        Self::STATUSES
            .iter()
            .find(|&&(_, s)| s == status)
            .map_or(PluginCode::Other(status), |&(c, _)| c)
    }

    /// The host's name for the status (`corrupt data`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PluginCode::Unsupported => "unsupported",
            PluginCode::InvalidArgument => "invalid argument",
            PluginCode::Io => "i/o error",
            PluginCode::Corrupt => "corrupt data",
            PluginCode::IndexOutOfRange => "index out of range",
            PluginCode::NoMemory => "out of memory",
            PluginCode::Panic => "panic",
            PluginCode::Internal => "internal error",
            PluginCode::CannotReadFrame => "cannot read frame",
            PluginCode::Other(_) => "unknown status",
        }
    }

    /// The kind of error a plugin failure with this status is.
    pub fn kind(self) -> ErrorKind {
        match self {
            PluginCode::Unsupported => ErrorKind::Unsupported,
            PluginCode::InvalidArgument | PluginCode::IndexOutOfRange => ErrorKind::Misuse,
            PluginCode::Io => ErrorKind::Io,
            PluginCode::Corrupt | PluginCode::CannotReadFrame => ErrorKind::Corrupt,
            PluginCode::NoMemory => ErrorKind::Limits,
            PluginCode::Panic | PluginCode::Internal | PluginCode::Other(_) => ErrorKind::Plugin,
        }
    }
}

impl std::fmt::Display for PluginCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The host's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whose fault the error is.
    ///
    /// ```
    /// use imageio::{Error, ErrorKind};
    /// let e = imageio::imread(vec![1u8, 2, 3], &imageio::Options::default()).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::NoFormat);
    /// assert_eq!(Error::Closed("Reader").kind(), ErrorKind::Misuse);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FileNotFound { .. } | Error::DirectoryNotFound { .. } | Error::UnknownStandardImage { .. } => {
                ErrorKind::NotFound
            }
            Error::NoFormatFound { .. } | Error::UnknownFormat { .. } => ErrorKind::NoFormat,
            Error::CannotReadFrame { .. } | Error::Archive { .. } => ErrorKind::Corrupt,
            Error::CannotUnderstandUri { .. }
            | Error::BareStandardImageName { .. }
            | Error::IndexOutOfRange { .. }
            | Error::InvalidMode(_)
            | Error::InvalidArgument(_)
            | Error::Closed(_)
            | Error::ModeNotSupported { .. }
            | Error::NeedDownload { .. } => ErrorKind::Misuse,
            Error::Unsupported(_) | Error::InternetNotAllowed => ErrorKind::Unsupported,
            Error::MemoryLimit(_) => ErrorKind::Limits,
            Error::Aborted { kind, .. } => *kind,
            Error::Io { .. } | Error::Network { .. } | Error::DownloadFailed { .. } => ErrorKind::Io,
            Error::LibraryNotLoaded(_)
            | Error::Panicked { .. }
            | Error::Protocol { .. }
            | Error::WorkerFailed { .. }
            | Error::Load(_) => ErrorKind::Plugin,
            Error::Plugin { code, .. } => code.kind(),
        }
    }

    /// Whether a plugin reported this error without a message (the text is
    /// then the host's).
    pub fn plugin_gave_no_message(&self) -> bool {
        matches!(self, Error::Plugin { no_message: true, .. })
    }

    /// Whether a plugin reported this error without setting `err->code`
    /// (its returned status was used).
    pub fn plugin_left_code_unset(&self) -> bool {
        matches!(self, Error::Plugin { code_unset: true, .. })
    }

    /// Shortens a URI for messages the way imageio does (`repr` cut to 60 characters).
    pub(crate) fn short_uri(uri: &str) -> String {
        let r = format!("'{uri}'");
        if r.chars().count() > 60 {
            let head: String = r.chars().take(57).collect();
            format!("{head}...")
        } else {
            r
        }
    }
}

/// Why a plugin library was not loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The dynamic loader refused the file (not a shared library, missing
    /// dependencies, wrong architecture): its own message.
    #[error("{} failed to load: {message}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A shared library without the entry symbol.
    #[error("{} is not a plugin (no `iio_plugin_entry_v1` symbol)", path.display())]
    NotAPlugin {
        /// The file.
        path: PathBuf,
    },
    /// A plugin for another ABI major.
    #[error("{} was built for plugin ABI {major}.x; this host speaks {}.{}", path.display(),
        imageio_plugin_api::ffi::IIO_ABI_VERSION_MAJOR, imageio_plugin_api::ffi::IIO_ABI_VERSION_MINOR)]
    IncompatibleAbi {
        /// The file.
        path: PathBuf,
        /// The plugin's ABI major.
        major: u32,
    },
    /// The entry point returned NULL.
    #[error("{} refused this host (its entry point returned NULL)", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
    },
    /// The plugin's table breaks the ABI's rules.
    #[error("{} has an invalid plugin table: {reason}", path.display())]
    BadTable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Scanning the plugin in a child process crashed, aborted, exited or
    /// hung, or its worker crashed repeatedly: it is not loaded until the
    /// file changes (or `imageio plugins --rescan`).
    #[error("{} is quarantined: {reason}", path.display())]
    Quarantined {
        /// The file.
        path: PathBuf,
        /// What happened, with the file's fingerprint.
        reason: String,
    },
    /// The plugin must run isolated, and isolation cannot start here.
    #[error("{} is not loaded: {reason}", path.display())]
    Unavailable {
        /// The file.
        path: PathBuf,
        /// Why isolation cannot start, and how to choose otherwise.
        reason: String,
    },
}

impl LoadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Open { path, .. }
            | LoadError::NotAPlugin { path }
            | LoadError::IncompatibleAbi { path, .. }
            | LoadError::Refused { path }
            | LoadError::BadTable { path, .. }
            | LoadError::Quarantined { path, .. }
            | LoadError::Unavailable { path, .. } => path,
        }
    }
}
