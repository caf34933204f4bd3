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
    let temp = crate::core::io::temp_beside(dir, ".imageio-", ".zip.part", perms).map_err(io_err)?;
    let (file, temp_path) = temp.into_parts();
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
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
    let buffered = writer.finish().map_err(zip_err)?;
    let file = buffered.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    drop(file);
    temp_path.persist(zip_path).map_err(|e| io_err(e.error))?;
    Ok(())
}
