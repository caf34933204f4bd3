//! The host's error type, sorted by whose fault it is.

use std::path::PathBuf;

/// Every way a host operation can fail. Messages name the file (or `<bytes>`,
/// never raw bytes), the format or plugin, and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- bad input: the file, the data or the URI ----
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
    /// A plugin reported an error.
    #[error("{uri}: format {format} ({plugin}) failed: {message} [{}]", crate::plugin::status_name(*code))]
    Plugin {
        /// The request's name.
        uri: String,
        /// The format's name.
        format: String,
        /// The plugin's id.
        plugin: String,
        /// The `IIO_ERR_*` code.
        code: i32,
        /// The plugin's message.
        message: String,
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
    /// A plugin library could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::plugin::LoadError),
}

/// The host's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
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
