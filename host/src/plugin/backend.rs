//! The one seam between the host and its plugins.
//!
//! Everything above this module (formats, readers, writers, the manager)
//! speaks host values: a [`Request`], an [`Image`], a [`Dict`], an
//! [`Error`] already mapped from the plugin's status. A backend turns those
//! into calls of a plugin's format table and back. The in-process backend
//! ([`super::inprocess`]) calls the table directly; an isolated backend runs
//! the same table in a worker process and implements the same two traits.

use super::PluginInfo;
use crate::core::{Dict, Image};
use crate::error::{Error, Result};
use crate::request::Request;

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
    fn open(&self, request: Box<Request>) -> std::result::Result<Box<dyn Instance>, (Error, Box<Request>)>;
}

/// An open plugin instance, owning its request. Closing consumes it, so no
/// call can reach a plugin after its close.
pub(crate) trait Instance: Send {
    /// The request the instance reads or writes.
    fn request(&self) -> &Request;

    /// Number of images: 0 (metadata only), 1, N, or `LENGTH_UNKNOWN`.
    fn get_length(&mut self) -> Result<u64>;

    /// Image `index` with its metadata; the pixels may take at most
    /// `max_bytes`.
    fn get_data(&mut self, index: u64, max_bytes: u64) -> Result<Image>;

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
