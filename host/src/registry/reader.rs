//! [`Reader`]: an open reader (imageio's `Format.Reader`), and its
//! iterator [`ImageIter`].

use super::format::Format;
use super::state::State;
use crate::base::{Dict, Image};
use crate::error::{Error, Result};
use crate::plugin::backend::Instance;
use crate::request::Request;
use std::fmt;

/// The default cap on one image's size in bytes (4 GiB): a hostile header
/// gets an error, not an out-of-memory abort.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = crate::base::Limits::DEFAULT.max_image_bytes;

/// `get_length` value for "unknown or unbounded" (imageio's `inf`).
pub const LENGTH_UNKNOWN: u64 = crate::plugin::backend::LENGTH_UNKNOWN;

/// An open reader (imageio's `Format.Reader`). Closed on drop.
pub struct Reader {
    format: Format,
    state: State,
    last_index: i64,
    /// The length, once asked (a plugin's answer does not change).
    length: Option<u64>,
    /// The request's limits, with this reader's cap on image bytes.
    limits: crate::base::Limits,
    /// Pixels of every image returned so far, each index counted once (a
    /// second read of an image costs nothing more): with
    /// `max_total_pixels`, the budget of the whole file, checked before
    /// each new image is allocated.
    decoded_pixels: u64,
    /// The indices counted in `decoded_pixels`.
    counted: std::collections::HashSet<u64>,
}

impl Reader {
    pub(crate) fn new(format: Format, instance: Box<dyn Instance>) -> Reader {
        let limits = *instance.request().limits();
        Reader {
            format,
            state: State::Open(instance),
            last_index: -1,
            length: None,
            limits,
            decoded_pixels: 0,
            counted: std::collections::HashSet::new(),
        }
    }

    /// The format reading.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The request (also after a successful close).
    pub fn request(&self) -> Option<&Request> {
        self.state.request()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        self.state.is_closed()
    }

    /// Caps one image's size in bytes (default: the request's
    /// [`Limits`](crate::Limits), [`DEFAULT_MAX_IMAGE_BYTES`] unless set).
    /// Plugins see the request's limits from `open`; this cap applies to
    /// the host's allocation of later images.
    pub fn set_max_image_bytes(&mut self, bytes: u64) {
        self.limits.max_image_bytes = bytes;
    }

    fn instance(&mut self) -> Result<&mut dyn Instance> {
        self.state.instance("Reader")
    }

    /// Number of images: 0 (metadata only), 1, N, or [`LENGTH_UNKNOWN`].
    /// On a closed reader it is the answer given before closing, if it was
    /// asked (imageio's `get_length` works on a closed reader); the plugin
    /// is never called after its close.
    pub fn get_length(&mut self) -> Result<u64> {
        if let Some(n) = self.length {
            return Ok(n);
        }
        let n = self.instance()?.get_length()?;
        self.length = Some(n);
        Ok(n)
    }

    fn read(&mut self, index: u64) -> Result<Image> {
        let limits = self.limits;
        if index >= limits.max_frames {
            return Err(Error::MemoryLimit(format!(
                "{}: image {index} is past the limit of {} frames",
                self.format.name(),
                limits.max_frames
            )));
        }
        // The host's allocation refuses an image over what is left of the
        // file's pixel budget, before the plugin decodes it: this holds
        // every plugin (TIFF pages, NPY frames, a C plugin's images) to
        // `total_pixels`, not only those that count for themselves.
        let mut call = limits;
        let seen = self.counted.contains(&index);
        if !seen {
            call.max_total_pixels = limits.max_total_pixels.saturating_sub(self.decoded_pixels);
        }
        let image = self.instance()?.get_data(index, &call)?;
        if !seen {
            let shape: Vec<u64> = image.shape().iter().map(|&d| d as u64).collect();
            self.decoded_pixels = self
                .decoded_pixels
                .saturating_add(crate::plugin::allocation::pixel_count(&shape));
            self.counted.insert(index);
        }
        Ok(image)
    }

    /// Image `index` with its metadata. Sets the index for
    /// [`get_next_data`](Self::get_next_data) first, even when reading fails.
    pub fn get_data(&mut self, index: u64) -> Result<Image> {
        self.instance()?;
        self.last_index = i64::try_from(index).unwrap_or(i64::MAX);
        self.read(index)
    }

    /// The image after the last one asked for.
    pub fn get_next_data(&mut self) -> Result<Image> {
        let next = self.last_index.saturating_add(1).max(0) as u64;
        self.get_data(next)
    }

    /// Makes `index` the next image of [`get_next_data`](Self::get_next_data)
    /// (imageio v2.11+: clamped to `-1..=length`).
    pub fn set_image_index(&mut self, index: i64) -> Result<()> {
        self.instance()?;
        let n = self.get_length()?;
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.last_index = (index.saturating_sub(1)).max(-1).min(n);
        Ok(())
    }

    /// Image `index`'s dtype and shape without decoding its pixels, where
    /// the format can tell (ABI 1.2 properties); `None` otherwise.
    pub fn properties(&mut self, index: u64) -> Result<Option<crate::plugin::extensions::ImageProps>> {
        self.instance()?.get_properties(index)
    }

    /// The metadata of image `index`, or the file's global metadata for `None`.
    pub fn get_meta_data(&mut self, index: Option<u64>) -> Result<Dict> {
        self.instance()?.get_meta_data(index)
    }

    /// Iterates over the images (imageio's `iter_data`): stops at the length;
    /// an index error stops an unbounded stream; a frame that cannot be read
    /// ends the iteration with a warning when it is the last one.
    pub fn iter_data(&mut self) -> Result<ImageIter<'_>> {
        self.instance()?;
        let n = self.get_length()?;
        Ok(ImageIter {
            reader: self,
            index: 0,
            length: n,
            done: false,
        })
    }

    /// Closes the reader (idempotent): the plugin's close, then the request's
    /// `finish`. If the plugin's close fails, the reader still counts as
    /// closed and the request is dropped unfinished (as imageio skips
    /// `finish`).
    pub fn close(&mut self) -> Result<()> {
        let Some(instance) = self.state.take_open() else {
            return Ok(());
        };
        let (closed, mut request) = instance.close();
        closed?;
        let finished = request.finish();
        self.state = State::Closed(Some(request));
        finished
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::warn!("closing a reader failed: {e}");
        }
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("format", &self.format.name())
            .field("closed", &self.closed())
            .finish_non_exhaustive()
    }
}

/// The iterator of [`Reader::iter_data`].
pub struct ImageIter<'a> {
    reader: &'a mut Reader,
    index: u64,
    length: u64,
    done: bool,
}

impl Iterator for ImageIter<'_> {
    type Item = Result<Image>;

    fn next(&mut self) -> Option<Result<Image>> {
        if self.done || self.index >= self.length {
            return None;
        }
        let i = self.index;
        self.index += 1;
        match self.reader.read(i) {
            Ok(im) => Some(Ok(im)),
            Err(Error::IndexOutOfRange { .. }) if self.length == LENGTH_UNKNOWN => {
                self.done = true;
                None
            }
            Err(e @ (Error::IndexOutOfRange { .. } | Error::CannotReadFrame { .. })) => {
                self.done = true;
                if self.length - i == 1 {
                    let uri = self
                        .reader
                        .request()
                        .map(|r| r.filename().to_owned())
                        .unwrap_or_default();
                    log::warn!("Could not read last frame of {uri}. ({e})");
                    None
                } else {
                    Some(Err(e))
                }
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
