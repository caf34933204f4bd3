//! [`MetaBudget`]: reading and inflating metadata entries within the
//! request's limits, *before* anything large is allocated or copied.
//!
//! A metadata entry is the cheapest way for a small hostile file to ask for
//! gigabytes: a 1 MiB PNG `iCCP` chunk can inflate to 1 GiB, and a WebP
//! chunk header can claim 4 GiB. Every standard plugin reads its metadata
//! through one budget per file, so an entry over the per-entry limit, or the
//! metadata of a file over the total limit, is a limits error found while
//! reading, never after the copy.

use crate::error::{Error, Result};
use crate::limits::Limits;
use std::io::Read;

/// The most read into memory at once for an entry whose length is declared
/// by the file: a lying length costs at most this much before the data runs
/// out.
const STEP: usize = 1 << 20;

/// What one file may still spend on metadata: the per-entry limit and the
/// rest of the total (`Limits::max_meta_entry_bytes`,
/// `Limits::max_meta_total_bytes`).
///
/// ```
/// use imageio_plugin_api::{Limits, MetaBudget};
/// let limits = Limits { max_meta_entry_bytes: 1000, max_meta_total_bytes: 1500, ..Limits::DEFAULT };
/// let mut budget = MetaBudget::new("PNG", &limits);
/// // A declared length is checked before a byte is read.
/// assert!(budget.check("a text chunk", 2000).is_err());
/// // Reading takes from the total: the second 800 bytes are over it.
/// let mut data = std::io::Cursor::new(vec![7u8; 1600]);
/// assert_eq!(budget.read("a profile", &mut data, 800).unwrap().len(), 800);
/// assert!(budget.read("a profile", &mut data, 800).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct MetaBudget {
    format: String,
    limits: Limits,
    /// Bytes of metadata spent so far (what [`Limits::check_meta`] counts).
    spent: u64,
}

impl MetaBudget {
    /// The budget of one file read under `limits` (`format` names the
    /// format in errors).
    pub fn new(format: &str, limits: &Limits) -> MetaBudget {
        MetaBudget {
            format: format.to_owned(),
            limits: *limits,
            spent: 0,
        }
    }

    /// What is left of the limit on all metadata of the file.
    fn left(&self) -> u64 {
        self.limits.max_meta_total_bytes.saturating_sub(self.spent)
    }

    /// The most bytes the next entry may have: the per-entry limit or what
    /// is left of the total, whichever is smaller.
    pub fn available(&self) -> u64 {
        self.limits.max_meta_entry_bytes.min(self.left())
    }

    /// Checks an entry of `bytes` (`what` names it in the error) against the
    /// limits without spending anything: use it on a length the file
    /// declares, before reading.
    pub fn check(&self, what: &str, bytes: u64) -> Result<()> {
        let mut spent = self.spent;
        self.limits.check_meta(&self.format, what, bytes, &mut spent)
    }

    /// Checks an entry of `bytes` and spends them.
    pub fn spend(&mut self, what: &str, bytes: u64) -> Result<()> {
        self.limits.check_meta(&self.format, what, bytes, &mut self.spent)
    }

    /// Reads an entry of `len` bytes that the file declares, from `r`: the
    /// length is checked (and spent) before anything is read, and memory
    /// grows only with the data that really arrives. Data that ends before
    /// `len` is a corrupt-file error.
    pub fn read(&mut self, what: &str, r: &mut impl Read, len: u64) -> Result<Vec<u8>> {
        self.spend(what, len)?;
        let len =
            usize::try_from(len).map_err(|_| Error::no_memory(format!("{}: {what} is too large", self.format)))?;
        let mut out = Vec::new();
        while out.len() < len {
            let step = (len - out.len()).min(STEP);
            out.try_reserve_exact(step)
                .map_err(|_| Error::no_memory(format!("{}: no memory for {what}", self.format)))?;
            let got = r.by_ref().take(step as u64).read_to_end(&mut out)?;
            if got < step {
                return Err(Error::corrupt(format!(
                    "{}: {what} declares {len} bytes but the file ends after {}",
                    self.format,
                    out.len()
                )));
            }
        }
        Ok(out)
    }

    /// Inflates a zlib stream (RFC 1950: PNG's `iCCP`, `zTXt` and `iTXt`)
    /// that holds one entry, stopping as soon as the output passes what the
    /// budget allows: a decompression bomb costs at most the limit, in a
    /// fraction of a second. The output is spent from the budget.
    ///
    /// Errors: a limits (`IIO_ERR_NO_MEMORY`) error for an entry that
    /// inflates too far, a corrupt-data error for a damaged stream.
    ///
    /// ```
    /// use imageio_plugin_api::{Limits, MetaBudget};
    /// let mut budget = MetaBudget::new("PNG", &Limits::DEFAULT);
    /// // zlib's own encoding of b"hi".
    /// assert_eq!(budget.inflate_zlib("a text", &[0x78, 0x9c, 0xcb, 0xc8, 0x04, 0x00, 0x01, 0x3b, 0x00, 0xd2]).unwrap(), b"hi");
    /// assert!(budget.inflate_zlib("a text", b"not zlib").is_err());
    /// ```
    pub fn inflate_zlib(&mut self, what: &str, compressed: &[u8]) -> Result<Vec<u8>> {
        use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_zlib_with_limit};
        let (entry, alloc) = (self.limits.max_meta_entry_bytes, self.limits.max_alloc_bytes);
        let max = usize::try_from(self.available().min(alloc)).unwrap_or(usize::MAX);
        match decompress_to_vec_zlib_with_limit(compressed, max) {
            Ok(out) => {
                self.spend(what, out.len() as u64)?;
                Ok(out)
            }
            Err(e) if e.status == TINFLStatus::HasMoreOutput => Err(Error::no_memory(if alloc < self.available() {
                format!(
                    "{}: {what} inflates to more than the limit of {alloc} bytes per allocation",
                    self.format
                )
            } else if entry <= self.left() {
                format!(
                    "{}: {what} inflates to more than the metadata limit of {entry} bytes per entry",
                    self.format
                )
            } else {
                format!(
                    "{}: {what} inflates to more than the {} bytes left of the metadata limit in all",
                    self.format,
                    self.left()
                )
            })),
            Err(e) => Err(Error::corrupt(format!(
                "{}: {what} is damaged (its compressed data: {:?})",
                self.format, e.status
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
    }

    #[test]
    fn inflate_within_the_budget_spends_it() {
        let limits = Limits {
            max_meta_entry_bytes: 100,
            max_meta_total_bytes: 150,
            ..Limits::DEFAULT
        };
        let mut b = MetaBudget::new("PNG", &limits);
        assert_eq!(b.inflate_zlib("one", &zlib(&[1; 100])).unwrap(), vec![1; 100]);
        assert_eq!(b.available(), 50);
        let e = b.inflate_zlib("two", &zlib(&[2; 60])).unwrap_err();
        assert_eq!(e.code, crate::ffi::IIO_ERR_NO_MEMORY, "{}", e.message);
        assert!(e.message.contains("two"), "{}", e.message);
        let e = b.inflate_zlib("three", b"\x78\x9cnot deflate").unwrap_err();
        assert_eq!(e.code, crate::ffi::IIO_ERR_CORRUPT, "{}", e.message);
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let limits = Limits {
            max_meta_entry_bytes: 1 << 20,
            ..Limits::DEFAULT
        };
        let bomb = zlib(&vec![0u8; 64 << 20]);
        let e = MetaBudget::new("PNG", &limits).inflate_zlib("iCCP", &bomb).unwrap_err();
        assert!(e.message.contains("1048576 bytes per entry"), "{}", e.message);
        // With the metadata limits off, the allocation limit still holds.
        let open = Limits {
            max_alloc_bytes: 2 << 20,
            ..Limits::NONE
        };
        let e = MetaBudget::new("PNG", &open).inflate_zlib("iCCP", &bomb).unwrap_err();
        assert!(e.message.contains("2097152 bytes per allocation"), "{}", e.message);
    }

    #[test]
    fn a_lying_length_allocates_only_what_arrives() {
        let mut b = MetaBudget::new("WEBP", &Limits::NONE);
        let e = b
            .read("the EXIF chunk", &mut std::io::Cursor::new(vec![0u8; 10]), 3 << 30)
            .unwrap_err();
        assert_eq!(e.code, crate::ffi::IIO_ERR_CORRUPT);
        assert!(e.message.contains("ends after 10"), "{}", e.message);
    }
}
