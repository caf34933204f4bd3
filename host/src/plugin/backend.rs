//! The one seam between the host and its plugins.
//!
//! Everything above this module (formats, readers, writers, the manager)
//! speaks host values: a [`Request`], an [`Image`], a [`Dict`], an
//! [`Error`] already mapped from the plugin's status. A backend turns those
//! into calls of a plugin's format table and back. The in-process backend
//! ([`super::inprocess`]) calls the table directly; an isolated backend runs
//! the same table in a worker process and implements the same two traits.

use super::PluginInfo;
use crate::base::{Dict, Image, Limits};
use crate::error::{Error, PluginCode, Result};
use crate::request::Request;
use imageio_plugin_api::ffi;

/// `get_length`'s answer for "unknown or unbounded" (imageio's `inf`;
/// the ABI's `IIO_LENGTH_UNKNOWN`).
pub(crate) const LENGTH_UNKNOWN: u64 = u64::MAX;

/// What a plugin whose `get_data` succeeded without an image did wrong
/// (every backend says it the same way).
pub(crate) const NO_IMAGE: &str = "get_data returned OK without allocating an image";

/// What a format declares it can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// It has a reader.
    pub read: bool,
    /// It has a writer.
    pub write: bool,
}

/// One format of one plugin, as the host calls it.
pub(crate) trait FormatBackend: Send + Sync {
    /// The plugin serving the format.
    fn plugin(&self) -> &PluginInfo;

    /// What the format declares.
    fn capabilities(&self) -> Capabilities;

    /// The plugin's confidence (0..100) that it can read (for a read
    /// request) or write (for a write request) `request`.
    fn confidence(&self, request: &mut Request) -> Result<i32>;

    /// Opens a plugin instance on `request`. On failure the request comes
    /// back, so that another format can be tried.
    /// Whether the format runs in worker processes.
    fn isolated(&self) -> bool {
        false
    }

    /// The options the format declares (ABI 1.2), `None` when it declares
    /// none (and checks its own).
    fn options(&self) -> Option<&[super::extensions::OptionDecl]> {
        None
    }

    /// The format's own documentation (ABI 1.2).
    fn doc(&self) -> Option<&str> {
        None
    }

    fn open(&self, request: Box<Request>) -> std::result::Result<Box<dyn Instance>, (Error, Box<Request>)>;
}

/// An open plugin instance, owning its request. Closing consumes it, so no
/// call can reach a plugin after its close.
pub(crate) trait Instance: Send {
    /// The request the instance reads or writes.
    fn request(&self) -> &Request;

    /// Number of images: 0 (metadata only), 1, N, or `LENGTH_UNKNOWN`.
    fn get_length(&mut self) -> Result<u64>;

    /// Image `index`'s dtype and shape without decoding it (ABI 1.2), or
    /// `None` when the format cannot tell (the caller then decodes).
    fn get_properties(&mut self, index: u64) -> Result<Option<super::extensions::ImageProps>> {
        let _ = index;
        Ok(None)
    }

    /// Image `index` with its metadata, within `limits` (the request's,
    /// with the reader's own cap on image bytes).
    fn get_data(&mut self, index: u64, limits: &Limits) -> Result<Image>;

    /// The metadata of image `index`, or the file's for `None`.
    fn get_meta_data(&mut self, index: Option<u64>) -> Result<Dict>;

    /// Appends an image with `meta` (the image's own metadata merged with
    /// the caller's).
    fn append_data(&mut self, image: &Image, meta: &Dict) -> Result<()>;

    /// Sets the file's global metadata.
    fn set_meta_data(&mut self, meta: &Dict) -> Result<()>;

    /// Closes the instance and hands its request back (to be finished, or
    /// dropped to discard a write).
    fn close(self: Box<Self>) -> (Result<()>, Box<Request>);
}

/// A plugin's failure as a backend meets it: the plugin's status and
/// message, before it becomes an [`Error`]. Every backend maps failures
/// with [`into_error`](Self::into_error), so a status means the same
/// whichever backend ran the plugin.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The `IIO_ERR_*` status.
    pub code: i32,
    /// The plugin's message, or the host's when it gave none.
    pub message: String,
    /// The plugin gave no message; `message` is the host's.
    pub no_message: bool,
    /// The plugin did not set `err->code`.
    pub code_unset: bool,
}

/// Where a failure happened, for its error.
pub(crate) struct Call<'a> {
    /// The request's name.
    pub uri: &'a str,
    /// The format's name.
    pub format: &'a str,
    /// The plugin's id.
    pub plugin: &'a str,
    /// The image asked for, in `get_data` (a frame that cannot be read is
    /// [`Error::CannotReadFrame`] there).
    pub index: Option<u64>,
}

impl Failure {
    /// A failure the host itself reports (a missing function, ...).
    pub(crate) fn host(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            no_message: false,
            code_unset: false,
        }
    }

    /// A plugin's status and message (empty when it gave none). Control
    /// characters in the message (which may quote the file) are escaped.
    pub(crate) fn from_plugin(code: i32, message: String) -> Failure {
        let no_message = message.trim().is_empty();
        let message = crate::base::escape_controls(&message).into_owned();
        Failure {
            code,
            message: if no_message {
                format!("the plugin returned status {code} without a message")
            } else {
                message
            },
            no_message,
            code_unset: false,
        }
    }

    /// The host's error for this failure (the one mapping of statuses to
    /// errors); `io` is the I/O error a stream callback met during the
    /// call, added to the message.
    pub(crate) fn into_error(mut self, call: &Call<'_>, io: Option<std::io::Error>) -> Error {
        if let Some(io) = io {
            self.message.push_str(&format!(" ({io})"));
        }
        let uri = call.uri.to_owned();
        match (self.code, call.index) {
            (ffi::IIO_ERR_PANIC, _) => Error::Panicked {
                uri,
                format: call.format.to_owned(),
                plugin: call.plugin.to_owned(),
                message: self.message,
            },
            (ffi::IIO_ERR_INDEX_OUT_OF_RANGE, _) => Error::IndexOutOfRange {
                uri,
                message: self.message,
            },
            (ffi::IIO_ERR_CANNOT_READ_FRAME, Some(index)) => Error::CannotReadFrame {
                uri,
                index,
                message: self.message,
            },
            (code, _) => Error::Plugin {
                uri,
                format: call.format.to_owned(),
                plugin: call.plugin.to_owned(),
                code: PluginCode::from_status(code),
                message: self.message,
                no_message: self.no_message,
                code_unset: self.code_unset,
            },
        }
    }
}
