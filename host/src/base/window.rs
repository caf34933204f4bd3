//! A window of a stream's bytes held in memory, with the read position:
//! the part shared by the buffered readers over a local file
//! (`request::buffered`) and over the host's stream in a worker
//! (`plugin::isolation::serve`). Reads come out of it and a seek that
//! lands inside it moves the position without touching the stream.

/// `buf[..len]` holds the stream's bytes from offset `start`; the next read
/// starts at `start + pos` (`pos <= len`).
pub(crate) struct Window {
    /// The bytes (only `..len` are the stream's; the rest is room).
    pub(crate) buf: Vec<u8>,
    len: usize,
    start: u64,
    pos: usize,
}

impl Window {
    /// An empty window at offset 0 over `buf` as its room.
    pub(crate) fn new(buf: Vec<u8>) -> Window {
        Window {
            buf,
            len: 0,
            start: 0,
            pos: 0,
        }
    }

    /// The stream position of the next read.
    pub(crate) fn position(&self) -> u64 {
        self.start + self.pos as u64
    }

    /// The stream offset just past the window.
    pub(crate) fn end(&self) -> u64 {
        self.start + self.len as u64
    }

    /// Whether every byte in the window has been read.
    pub(crate) fn drained(&self) -> bool {
        self.pos == self.len
    }

    /// Copies from the window into `out`; returns how many bytes.
    pub(crate) fn take(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    /// Moves to `target` if it lies inside the window (its end included).
    pub(crate) fn seek_inside(&mut self, target: u64) -> bool {
        if target >= self.start && target <= self.end() {
            self.pos = (target - self.start) as usize;
            true
        } else {
            false
        }
    }

    /// The window now holds `buf[..len]`, the stream's bytes from `at`.
    pub(crate) fn filled(&mut self, at: u64, len: usize) {
        self.start = at;
        self.len = len.min(self.buf.len());
        self.pos = 0;
    }
}
