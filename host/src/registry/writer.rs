//! [`Writer`]: an open writer (imageio's `Format.Writer`).

use super::format::Format;
use super::state::State;
use crate::base::{Dict, Image};
use crate::error::{Error, ErrorKind, Result};
use crate::plugin::backend::Instance;
use std::fmt;

/// An open writer (imageio's `Format.Writer`). A file target is written
/// atomically: it appears only after a successful [`close`](Self::close).
///
/// Dropping a writer that was not closed discards its output (the target
/// is left untouched) and logs a warning: an early return on an error must
/// never commit a partial file. Call `close` to commit.
pub struct Writer {
    format: Format,
    state: State,
    /// Set when an append or set_meta_data failed: the output is discarded.
    failed: Option<(String, ErrorKind)>,
}

impl Writer {
    pub(crate) fn new(format: Format, instance: Box<dyn Instance>) -> Writer {
        Writer {
            format,
            state: State::Open(instance),
            failed: None,
        }
    }

    /// The format writing.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The request being written (`None` once closed), as
    /// [`Reader::request`](super::Reader::request).
    pub fn request(&self) -> Option<&crate::request::Request> {
        self.state.request()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        self.state.is_closed()
    }

    fn instance(&mut self) -> Result<&mut dyn Instance> {
        self.state.instance("Writer")
    }

    /// Remembers a failed call: the output will be discarded at close.
    fn note<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.failed = Some((e.to_string(), e.kind()));
        }
        r
    }

    /// Appends an image. Its metadata is merged with `meta` (which wins).
    pub fn append_data(&mut self, image: &Image, meta: Option<&Dict>) -> Result<()> {
        let mut total = image.meta.clone();
        if let Some(m) = meta {
            total.update(m);
        }
        let r = self.instance()?.append_data(image, &total);
        self.note(r)
    }

    /// Sets the file's global metadata.
    pub fn set_meta_data(&mut self, meta: &Dict) -> Result<()> {
        let r = self.instance()?.set_meta_data(meta);
        self.note(r)
    }

    /// Closes the writer (idempotent) and commits the output: a file is
    /// renamed into place, `<bytes>` kept for [`get_result`](Self::get_result).
    /// On error, and after any failed append, nothing is committed and the
    /// target is left untouched.
    pub fn close(&mut self) -> Result<()> {
        let Some(instance) = self.state.take_open() else {
            return Ok(());
        };
        let (closed, mut request) = instance.close();
        if let Some((message, kind)) = self.failed.clone() {
            // Dropping the request removes its temporary file.
            return Err(Error::Aborted {
                uri: request.filename().to_owned(),
                message,
                kind,
            });
        }
        closed?;
        request.finish()?;
        self.state = State::Closed(Some(request));
        Ok(())
    }

    /// Closes the writer without committing anything (the target is left
    /// untouched). Idempotent; a writer already closed stays as it is.
    pub fn discard(&mut self) {
        if let Some(instance) = self.state.take_open() {
            let (_closed, request) = instance.close();
            drop(request);
        }
    }

    /// The encoded bytes of a `<bytes>` target, once, after a successful
    /// [`close`](Self::close).
    pub fn get_result(&mut self) -> Option<Vec<u8>> {
        match &mut self.state {
            State::Closed(Some(request)) => request.get_result(),
            _ => None,
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A writer whose append failed already returned that error: discard
        // quietly. Otherwise say that the output was dropped.
        if !self.state.is_closed() && self.failed.is_none() {
            let uri = self
                .state
                .request()
                .map(|r| r.filename().to_owned())
                .unwrap_or_default();
            log::warn!("a writer for {uri} was dropped without close(): its output is discarded");
        }
        self.discard();
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("format", &self.format.name())
            .field("closed", &self.closed())
            .finish_non_exhaustive()
    }
}
