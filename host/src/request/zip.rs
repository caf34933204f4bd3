//! Members of zip archives as request sources and targets
//! (`archive.zip/inner/x.png`).

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The largest member read into memory (a zip bomb gets an error).
pub(crate) const MAX_MEMBER_BYTES: u64 = 4 << 30;

fn archive_error(uri: &str, message: impl std::fmt::Display) -> Error {
    Error::Archive {
        uri: uri.to_owned(),
        message: message.to_string(),
    }
}

/// Reads one member of an archive into memory.
pub(crate) fn read_member(zip_path: &Path, member: &str, uri: &str) -> Result<Vec<u8>> {
    if member.is_empty() {
        return Err(archive_error(uri, "no member name after the archive's name"));
    }
    let file = std::fs::File::open(zip_path).map_err(|e| Error::Io {
        uri: zip_path.display().to_string(),
        source: e,
    })?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        archive_error(
            uri,
            format!("'{}' is not a readable zip archive: {e}", zip_path.display()),
        )
    })?;
    let mut entry = match archive.by_name(member) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(archive_error(
                uri,
                format!("the archive '{}' has no member '{member}'", zip_path.display()),
            ));
        }
        Err(e) => return Err(archive_error(uri, format!("cannot open member '{member}': {e}"))),
    };
    if entry.is_dir() {
        return Err(archive_error(uri, format!("member '{member}' is a directory")));
    }
    if entry.size() > MAX_MEMBER_BYTES {
        return Err(Error::MemoryLimit(format!(
            "{uri}: member '{member}' is {} bytes, over the limit of {MAX_MEMBER_BYTES}",
            entry.size()
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    (&mut entry)
        .take(MAX_MEMBER_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| archive_error(uri, format!("cannot read member '{member}': {e}")))?;
    Ok(bytes)
}

/// The size of a member, if the archive and member can be read.
pub(crate) fn member_size(zip_path: &Path, member: &str) -> Option<u64> {
    let file = std::fs::File::open(zip_path).ok()?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).ok()?;
    let entry = archive.by_name(member).ok()?;
    Some(entry.size())
}

/// Writes `bytes` as `member` of the archive, creating the archive if it
/// does not exist. A member of the same name is replaced (never a second
/// entry with the same name); every other member is copied as is, without
/// recompressing. The new archive is written to a temporary file beside the
/// old one and renamed over it, so a failure leaves the old archive intact.
pub(crate) fn write_member(zip_path: &Path, member: &str, bytes: &[u8], uri: &str) -> Result<()> {
    if member.is_empty() {
        return Err(archive_error(uri, "no member name after the archive's name"));
    }
    let io_err = |source| Error::Io {
        uri: zip_path.display().to_string(),
        source,
    };
    let dir = zip_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The new archive keeps the old one's permissions.
    let mut perms = None;
    let existing = if zip_path.is_file() {
        let f = std::fs::File::open(zip_path).map_err(io_err)?;
        perms = f.metadata().ok().map(|m| m.permissions());
        Some(zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| {
            archive_error(
                uri,
                format!("'{}' is not a readable zip archive: {e}", zip_path.display()),
            )
        })?)
    } else {
        None
    };
    let file = crate::base::io::AtomicFile::new_in(dir, perms).map_err(io_err)?;
    let mut writer = zip::ZipWriter::new(Quiet::new(std::io::BufWriter::new(file)));
    let zip_err = |e: zip::result::ZipError| archive_error(uri, format!("cannot write the archive: {e}"));
    if let Some(mut archive) = existing {
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(zip_err)?;
            if entry.name_raw() == member.as_bytes() {
                continue;
            }
            writer.raw_copy_file(entry).map_err(zip_err)?;
        }
    }
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
    writer.start_file(member, options).map_err(zip_err)?;
    std::io::Write::write_all(&mut writer, bytes).map_err(io_err)?;
    let quiet = writer.finish().map_err(zip_err)?;
    let file = quiet
        .into_inner()
        .map_err(io_err)?
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?;
    file.commit(zip_path).map_err(io_err)
}

/// The archive's output, made quiet after a failure: the first I/O error
/// is returned (and kept); after it, writes and seeks only move a virtual
/// position (as a file would), so that the zip writer, dropped after an
/// error, finalises into nothing instead of printing its own line to
/// stderr. The temporary file is then discarded.
struct Quiet<W> {
    inner: W,
    failed: Option<std::io::ErrorKind>,
    /// The position, and the end, as the zip writer sees them.
    pos: u64,
    end: u64,
}

impl<W> Quiet<W> {
    fn new(inner: W) -> Quiet<W> {
        Quiet {
            inner,
            failed: None,
            pos: 0,
            end: 0,
        }
    }

    /// The writer, or the error that made it quiet.
    fn into_inner(self) -> std::io::Result<W> {
        match self.failed {
            None => Ok(self.inner),
            Some(kind) => Err(std::io::Error::new(kind, "writing the archive failed earlier")),
        }
    }

    fn moved(&mut self, pos: u64) {
        self.pos = pos;
        self.end = self.end.max(pos);
    }
}

impl<W: std::io::Write> std::io::Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_none() {
            match self.inner.write(buf) {
                Ok(n) => {
                    self.moved(self.pos + n as u64);
                    return Ok(n);
                }
                Err(e) => {
                    self.failed = Some(e.kind());
                    return Err(e);
                }
            }
        }
        self.moved(self.pos + buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        self.inner.flush().inspect_err(|e| self.failed = Some(e.kind()))
    }
}

impl<W: std::io::Seek> std::io::Seek for Quiet<W> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        if self.failed.is_none() {
            match self.inner.seek(pos) {
                Ok(p) => {
                    self.moved(p);
                    return Ok(p);
                }
                Err(e) => self.failed = Some(e.kind()),
            }
        }
        let target = match pos {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            std::io::SeekFrom::End(d) => self.end.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        self.moved(target);
        Ok(target)
    }
}
