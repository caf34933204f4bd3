//! [`Stream`]: the host's byte stream as `Read + Write + Seek`.

use crate::ffi::{self, iio_stream};
use std::io;

/// The request's source or target, read, written and seeked through the host's
/// callbacks. Valid from `open` until the instance is closed; the SDK only
/// hands it out inside those bounds.
#[derive(Debug)]
pub struct Stream {
    raw: *const iio_stream,
}

// SAFETY: the ABI lets the host use an instance (and so its stream) from
// different threads on different calls, never from two at once; `Stream` is
// only reachable through the instance, which `&mut` access serialises.
unsafe impl Send for Stream {}

impl Stream {
    /// Wraps the host's stream.
    ///
    /// # Safety
    ///
    /// `raw` points to a valid `iio_stream` that outlives every use of the
    /// returned value (the host keeps it alive until `close`).
    pub(crate) unsafe fn from_raw(raw: *const iio_stream) -> Stream {
        Stream { raw }
    }

    fn raw(&self) -> &iio_stream {
        // SAFETY: `from_raw`'s contract keeps the pointee valid while `self` is used.
        unsafe { &*self.raw }
    }

    /// The total size in bytes, when the host knows it.
    pub fn size_hint(&self) -> Option<u64> {
        let hint = self.raw().size_hint;
        (hint != ffi::IIO_SIZE_UNKNOWN).then_some(hint)
    }

    /// The rest of the stream in memory, within `limits`' allocation limit
    /// (a larger source is an error naming `format`, never a silent
    /// truncation). Reserves the size the host reports, so a large file is
    /// read without regrowing the buffer.
    pub fn read_to_end_bounded(&mut self, format: &str, limits: &crate::Limits) -> crate::Result<Vec<u8>> {
        use io::Read;
        let max = limits.max_alloc_bytes;
        let mut data = Vec::new();
        if let Some(n) = self.size_hint() {
            limits.check_alloc(format, "the file's bytes", n)?;
            data.try_reserve_exact(usize::try_from(n).unwrap_or(usize::MAX))
                .map_err(|_| crate::Error::no_memory(format!("{format}: no memory for the file's {n} bytes")))?;
        }
        self.take(max.saturating_add(1)).read_to_end(&mut data)?;
        if data.len() as u64 > max {
            return Err(crate::Error::no_memory(format!(
                "{format}: the file is over the limit of {max} bytes per allocation"
            )));
        }
        Ok(data)
    }

    /// Whether the stream can seek.
    pub fn is_seekable(&self) -> bool {
        self.raw().seek.is_some()
    }
}

fn status_error(what: &str, status: ffi::iio_status) -> io::Error {
    io::Error::other(format!("the host's stream {what} failed (status {status})"))
}

impl io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let raw = self.raw();
        let read = raw
            .read
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "the stream is not readable"))?;
        let mut n = 0usize;
        // SAFETY: `buf` is valid for `buf.len()` writable bytes and `n` is a
        // valid out-pointer; `raw.ctx` is the host's context for this stream.
        let status = unsafe { read(raw.ctx, buf.as_mut_ptr(), buf.len(), &mut n) };
        if status != ffi::IIO_OK {
            return Err(status_error("read", status));
        }
        if n > buf.len() {
            return Err(io::Error::other(
                "the host's stream read reported more bytes than asked",
            ));
        }
        Ok(n)
    }
}

impl io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let raw = self.raw();
        let write = raw
            .write
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "the stream is not writable"))?;
        let mut n = 0usize;
        // SAFETY: `buf` is valid for `buf.len()` bytes and `n` is a valid out-pointer.
        let status = unsafe { write(raw.ctx, buf.as_ptr(), buf.len(), &mut n) };
        if status != ffi::IIO_OK {
            return Err(status_error("write", status));
        }
        Ok(n.min(buf.len()))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for Stream {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let raw = self.raw();
        let seek = raw
            .seek
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "the stream cannot seek"))?;
        let (off, whence) = match pos {
            io::SeekFrom::Start(o) => (
                i64::try_from(o).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek offset too large"))?,
                ffi::IIO_SEEK_SET,
            ),
            io::SeekFrom::Current(o) => (o, ffi::IIO_SEEK_CUR),
            io::SeekFrom::End(o) => (o, ffi::IIO_SEEK_END),
        };
        let mut new_pos = 0u64;
        // SAFETY: `new_pos` is a valid out-pointer; `raw.ctx` belongs to this stream.
        let status = unsafe { seek(raw.ctx, off, whence, &mut new_pos) };
        if status != ffi::IIO_OK {
            return Err(status_error("seek", status));
        }
        Ok(new_pos)
    }
}
