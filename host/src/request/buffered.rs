//! A local file read through a buffer that survives seeks.
//!
//! `std::io::BufReader` forgets its buffer on every absolute seek and asks
//! the system for the position on every `stream_position`; a request seeks
//! back after sniffing the first bytes, again when a format is tried, and
//! plugins ask where they are. [`BufferedFile`] knows its position and keeps
//! the buffered window: a seek inside it costs no system call and no
//! re-read, and large reads bypass the buffer.

use crate::base::window::Window;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// The buffer's size.
const CAPACITY: usize = 64 * 1024;

/// A file with a read buffer and a known position. Invariant: the file's
/// own offset is the window's end.
pub(crate) struct BufferedFile {
    file: File,
    window: Window,
}

impl BufferedFile {
    /// Reads `file` from its current offset (0 for a freshly opened file).
    /// `size`, the file's size if known, keeps the buffer of a small file
    /// small (one read sees the end of the file; nothing more is zeroed).
    pub(crate) fn new(file: File, size: Option<u64>) -> BufferedFile {
        let capacity = size.map_or(CAPACITY, |s| {
            usize::try_from(s.saturating_add(1)).unwrap_or(CAPACITY).min(CAPACITY)
        });
        BufferedFile {
            file,
            window: Window::new(vec![0; capacity.max(1)]),
        }
    }
}

impl Read for BufferedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.window.drained() {
            let here = self.window.end();
            if out.len() >= self.window.buf.len() {
                // Large reads go straight into the caller's memory.
                let n = self.file.read(out)?;
                self.window.filled(here + n as u64, 0);
                return Ok(n);
            }
            let n = self.file.read(&mut self.window.buf)?;
            self.window.filled(here, n);
        }
        Ok(self.window.take(out))
    }
}

impl Seek for BufferedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => Some(self.window.position().checked_add_signed(d).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "invalid seek to a negative or overflowing position",
                )
            })?),
            SeekFrom::End(_) => None,
        };
        if let Some(t) = target
            && self.window.seek_inside(t)
        {
            return Ok(t);
        }
        let at = self.file.seek(target.map_or(to, SeekFrom::Start))?;
        self.window.filled(at, 0);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_and_seeks_like_the_file_itself() {
        let mut tmp = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 253) as u8).collect();
        tmp.write_all(&data).unwrap();
        tmp.seek(SeekFrom::Start(0)).unwrap();
        let mut f = BufferedFile::new(tmp, None);
        let mut small = [0u8; 100];
        f.read_exact(&mut small).unwrap();
        assert_eq!(&small[..], &data[..100]);
        assert_eq!(f.stream_position().unwrap(), 100);
        // Back inside the window, forward past it, from the end, relative.
        assert_eq!(f.seek(SeekFrom::Start(10)).unwrap(), 10);
        f.read_exact(&mut small).unwrap();
        assert_eq!(&small[..], &data[10..110]);
        assert_eq!(f.seek(SeekFrom::Start(200_000)).unwrap(), 200_000);
        f.read_exact(&mut small).unwrap();
        assert_eq!(&small[..], &data[200_000..200_100]);
        assert_eq!(f.seek(SeekFrom::End(-50)).unwrap(), 299_950);
        let mut rest = Vec::new();
        f.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[299_950..]);
        assert_eq!(f.seek(SeekFrom::Current(-300_000)).unwrap(), 0);
        assert!(f.seek(SeekFrom::Current(-1)).is_err());
        // A large read after a small one, then everything.
        f.read_exact(&mut small).unwrap();
        let mut big = vec![0u8; 150_000];
        f.read_exact(&mut big).unwrap();
        assert_eq!(&big[..], &data[100..150_100]);
        let mut all = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
        assert_eq!(f.stream_position().unwrap(), 300_000);
    }

    #[test]
    fn a_small_buffer_for_a_small_file_reads_the_same() {
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(b"0123456789").unwrap();
        tmp.seek(SeekFrom::Start(0)).unwrap();
        // A wrong hint (the file grew) costs reads, not bytes.
        let mut f = BufferedFile::new(tmp, Some(3));
        let mut all = Vec::new();
        f.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"0123456789");
        f.seek(SeekFrom::Start(8)).unwrap();
        let mut two = [0u8; 2];
        f.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"89");
    }
}
