//! The sources and targets behind optional features (`http`, `zip`): each
//! either calls its module or, in a build without the feature, says so.

use super::ReadSeek;
#[cfg(not(all(feature = "http", feature = "zip")))]
use crate::error::Error;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// The error for a source or target this build leaves out.
#[cfg(not(all(feature = "http", feature = "zip")))]
fn not_in_build(feature: &str, what: &str, uri: &str) -> Error {
    Error::Unsupported(format!(
        "{}: {what} are not available in this build (the imageio crate's `{feature}` feature is off)",
        Error::short_uri(uri)
    ))
}

/// The local copy of a standard image (`images/chelsea.png`), downloaded if needed.
pub(super) fn fetch_standard_image(remote: &str, uri: &str) -> Result<PathBuf> {
    #[cfg(feature = "http")]
    {
        let _ = uri;
        crate::request::fetching::get_remote_file(remote, None, false, true)
    }
    #[cfg(not(feature = "http"))]
    {
        let _ = remote;
        Err(not_in_build("http", "standard images (imageio:NAME)", uri))
    }
}

/// An http(s) resource as a seekable stream.
pub(super) fn open_http(url: &str) -> Result<Box<dyn ReadSeek>> {
    #[cfg(feature = "http")]
    {
        let response = super::http::urlopen_bounded(url, super::http::HttpLimits::from_env())?;
        Ok(Box::new(super::SeekableReader::new(response)))
    }
    #[cfg(not(feature = "http"))]
    Err(not_in_build("http", "http(s) sources", url))
}

/// One member of a zip archive, read into memory.
pub(super) fn read_zip_member(archive: &Path, member: &str, uri: &str) -> Result<Vec<u8>> {
    #[cfg(feature = "zip")]
    return super::zip::read_member(archive, member, uri);
    #[cfg(not(feature = "zip"))]
    {
        let _ = (archive, member);
        Err(not_in_build("zip", "zip members", uri))
    }
}

/// The size of a member, if the archive and member can be read.
pub(super) fn zip_member_size(archive: &Path, member: &str) -> Option<u64> {
    #[cfg(feature = "zip")]
    return super::zip::member_size(archive, member);
    #[cfg(not(feature = "zip"))]
    {
        let _ = (archive, member);
        None
    }
}

/// Writes (or replaces) one member of a zip archive.
pub(super) fn write_zip_member(archive: &Path, member: &str, bytes: &[u8], uri: &str) -> Result<()> {
    #[cfg(feature = "zip")]
    return super::zip::write_member(archive, member, bytes, uri);
    #[cfg(not(feature = "zip"))]
    {
        let _ = (archive, member, bytes);
        Err(not_in_build("zip", "zip members", uri))
    }
}
