//! [`SeekableReader`]: makes any forward-only stream seekable by keeping
//! what was read (imageio's `SeekableFileObject`, with a
//! working `readline` through [`BufRead`]).

use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// The least read from the inner stream at a time.
const CHUNK: usize = 64 * 1024;
/// The most read from the inner stream at a time (bounds the zero-filled
/// space ahead of the data).
const MAX_STEP: usize = 4 << 20;

/// A read-only, seekable view of a forward-only stream: every byte read is
/// kept, so seeking back is free and seeking forward reads ahead. The
/// position may go past the end (reads there return nothing), like a file.
///
/// ```
/// use std::io::{BufRead, Read, Seek, SeekFrom};
/// use imageio::core::SeekableReader;
/// // A stream that cannot seek.
/// let inner = std::io::Cursor::new(b"line one\nline two\n".to_vec()).take(u64::MAX);
/// let mut r = SeekableReader::new(inner);
/// let mut line = String::new();
/// r.read_line(&mut line)?;
/// assert_eq!(line, "line one\n");
/// r.seek(SeekFrom::Start(5))?;
/// let mut word = [0u8; 3];
/// r.read_exact(&mut word)?;
/// assert_eq!(&word, b"one");
/// assert_eq!(r.seek(SeekFrom::End(-4))?, 14);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SeekableReader<R> {
    inner: R,
    /// `buffer[..filled]` holds the stream's bytes read so far; the rest is
    /// zeroed space for the next read (grown only by what reads need).
    buffer: Vec<u8>,
    filled: usize,
    pos: u64,
    have_all: bool,
}

impl<R: Read> SeekableReader<R> {
    /// Wraps `inner`, positioned at its start.
    pub fn new(inner: R) -> SeekableReader<R> {
        SeekableReader {
            inner,
            buffer: Vec::new(),
            filled: 0,
            pos: 0,
            have_all: false,
        }
    }

    /// The bytes read from the inner stream so far.
    pub fn buffered(&self) -> usize {
        self.filled
    }

    /// Whether the inner stream has been read to its end.
    pub fn has_all(&self) -> bool {
        self.have_all
    }

    /// Reads from the inner stream until the buffer holds `want` bytes or
    /// the stream ends. Each read asks for a bounded step, so a seek far
    /// past the end of a short stream costs that stream's length, never the
    /// seek distance; a buffer that cannot grow is an error, not an abort.
    fn fill_to(&mut self, want: u64) -> io::Result<()> {
        while !self.have_all && (self.filled as u64) < want {
            let need = usize::try_from(want - self.filled as u64).unwrap_or(usize::MAX);
            let step = need.clamp(CHUNK, MAX_STEP);
            let end = self.filled.checked_add(step).ok_or_else(too_big)?;
            if self.buffer.len() < end {
                self.buffer
                    .try_reserve(end - self.buffer.len())
                    .map_err(|_| too_big())?;
                self.buffer.resize(end, 0);
            }
            let got = loop {
                match self.inner.read(&mut self.buffer[self.filled..end]) {
                    Ok(n) => break n.min(step),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            self.filled += got;
            if got == 0 {
                self.have_all = true;
            }
        }
        Ok(())
    }

    fn fill_all(&mut self) -> io::Result<()> {
        while !self.have_all {
            let len = self.filled as u64;
            self.fill_to(len + CHUNK as u64)?;
        }
        Ok(())
    }
}

fn too_big() -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, "no memory for the read-ahead buffer")
}

impl<R: Read> Read for SeekableReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for SeekableReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled as u64 {
            self.fill_to(self.pos.saturating_add(1))?;
        }
        let start = usize::try_from(self.pos).unwrap_or(usize::MAX).min(self.filled);
        Ok(&self.buffer[start..self.filled])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt as u64;
    }
}

impl<R: Read> Seek for SeekableReader<R> {
    /// Seeks like a file: from the start, from the current position
    /// (clamped at 0, as imageio does) or from the end (which reads the
    /// whole stream). A negative absolute position is an error.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
            SeekFrom::End(d) => {
                self.fill_all()?;
                (self.filled as u64).saturating_add_signed(d)
            }
        };
        self.pos = target;
        Ok(target)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that hands out at most 3 bytes per read and cannot seek.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(3).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn seeks_like_bytesio() {
        let data: Vec<u8> = (0..=255u8).collect();
        let mut r = SeekableReader::new(Trickle(data.clone(), 0));
        let mut b = [0u8; 4];
        r.read_exact(&mut b).unwrap();
        assert_eq!(b, [0, 1, 2, 3]);
        assert_eq!(r.seek(SeekFrom::Current(-10)).unwrap(), 0, "clamped at 0");
        assert_eq!(r.seek(SeekFrom::Start(300)).unwrap(), 300, "past the end is allowed");
        assert_eq!(r.read(&mut b).unwrap(), 0);
        assert_eq!(r.seek(SeekFrom::End(-2)).unwrap(), 254);
        r.read_exact(&mut b[..2]).unwrap();
        assert_eq!(&b[..2], &[254, 255]);
        assert!(r.has_all());
        r.seek(SeekFrom::Start(100)).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[100..]);
    }

    /// A seek of 1 TiB past the end of a small forward-only stream, then a
    /// read, used to grow the buffer by the whole distance and abort.
    #[test]
    fn a_far_seek_costs_the_stream_not_the_distance() {
        let mut r = SeekableReader::new(Trickle(vec![1; 1000], 0));
        assert_eq!(r.seek(SeekFrom::Start(1 << 40)).unwrap(), 1 << 40);
        let mut b = [0u8; 1];
        assert_eq!(r.read(&mut b).unwrap(), 0);
        assert_eq!(r.buffered(), 1000);
        assert!(r.has_all());
        r.seek(SeekFrom::Start(999)).unwrap();
        assert_eq!(r.read(&mut b).unwrap(), 1);
    }

    #[test]
    fn reads_only_what_is_needed() {
        let mut r = SeekableReader::new(Trickle(vec![7; 1 << 20], 0));
        let mut b = [0u8; 10];
        r.read_exact(&mut b).unwrap();
        assert!(r.buffered() <= CHUNK + 3, "read ahead is bounded");
        assert!(!r.has_all());
    }
}
