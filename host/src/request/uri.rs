//! [`Uri`]: what a caller names as the resource of a request, and
//! [`UriType`], imageio's kinds of resource.

use std::fmt;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A seekable byte source.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// What a request reads from or writes to.
pub enum Uri {
    /// A string: a file name (with `~` and `file://`), `http(s)://`, `ftp://`,
    /// `imageio:NAME`, or `<bytes>` as a write target.
    Str(String),
    /// A path: no prefix parsing (`~` is still expanded).
    Path(PathBuf),
    /// Encoded bytes to read.
    Bytes(Arc<[u8]>),
    /// A stream to read (imageio's file objects). One whose `seek` or
    /// position fails (a pipe, a socket, stdin) is read through a
    /// [`SeekableReader`](crate::core::SeekableReader), so every plugin can
    /// read it.
    Reader(Box<dyn ReadSeek>),
    /// A stream to write to; the encoded bytes are written when the request
    /// finishes.
    Writer(Box<dyn Write + Send>),
}

impl Uri {
    /// A stream to read from.
    pub fn reader(r: impl Read + Seek + Send + 'static) -> Uri {
        Uri::Reader(Box::new(r))
    }

    /// A forward-only stream to read (stdin, a socket, a decoder's output):
    /// read through a [`SeekableReader`](crate::core::SeekableReader),
    /// which keeps what was read so that every plugin can seek in it.
    ///
    /// ```
    /// use std::io::Read;
    /// let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/hello-page.png")).unwrap();
    /// // `take` hides the Cursor's Seek: this stream can only be read forward.
    /// let stream = std::io::Cursor::new(png).take(u64::MAX);
    /// let image = imageio::imread(imageio::Uri::stream(stream), &imageio::Options::default()).unwrap();
    /// assert_eq!(image.shape(), &[320, 372, 3]);
    /// ```
    pub fn stream(r: impl Read + Send + 'static) -> Uri {
        Uri::Reader(Box::new(crate::request::SeekableReader::new(r)))
    }

    /// A stream to write to.
    pub fn writer(w: impl Write + Send + 'static) -> Uri {
        Uri::Writer(Box::new(w))
    }
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Str(s) => write!(f, "Uri::Str({s:?})"),
            Uri::Path(p) => write!(f, "Uri::Path({p:?})"),
            Uri::Bytes(b) => write!(f, "Uri::Bytes(<{} bytes>)", b.len()),
            Uri::Reader(_) => f.write_str("Uri::Reader(<file>)"),
            Uri::Writer(_) => f.write_str("Uri::Writer(<file>)"),
        }
    }
}

impl From<&str> for Uri {
    fn from(s: &str) -> Uri {
        Uri::Str(s.to_owned())
    }
}
impl From<String> for Uri {
    fn from(s: String) -> Uri {
        Uri::Str(s)
    }
}
impl From<&String> for Uri {
    fn from(s: &String) -> Uri {
        Uri::Str(s.clone())
    }
}
impl From<&Path> for Uri {
    fn from(p: &Path) -> Uri {
        Uri::Path(p.to_owned())
    }
}
impl From<PathBuf> for Uri {
    fn from(p: PathBuf) -> Uri {
        Uri::Path(p)
    }
}
impl From<&PathBuf> for Uri {
    fn from(p: &PathBuf) -> Uri {
        Uri::Path(p.clone())
    }
}
impl From<Vec<u8>> for Uri {
    fn from(b: Vec<u8>) -> Uri {
        Uri::Bytes(b.into())
    }
}
impl From<&[u8]> for Uri {
    fn from(b: &[u8]) -> Uri {
        Uri::Bytes(b.into())
    }
}
impl From<Arc<[u8]>> for Uri {
    fn from(b: Arc<[u8]>) -> Uri {
        Uri::Bytes(b)
    }
}

/// The kind of resource (imageio's `URI_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriType {
    /// Bytes in memory (`<bytes>`).
    Bytes,
    /// A caller's stream (`<file>`).
    File,
    /// A local file name.
    Filename,
    /// A member of a zip archive.
    Zipped,
    /// An http(s) URL.
    Http,
    /// An ftp(s) URL.
    Ftp,
}

/// Splits `archive.zip/inner/x.png` into the archive's path and the member
/// name, with imageio v2.10's rules: the first `.zip/` (or `.zip\`),
/// matched case-insensitively, past the first character; a directory named
/// `*.zip` is a plain folder; otherwise it is an archive when writing or
/// when it is an existing file. Member names use `/`.
pub(crate) fn split_zip_path(filename: &str, writing: bool) -> Option<(PathBuf, String)> {
    let lower = filename.to_ascii_lowercase();
    for needle in [".zip/", ".zip\\"] {
        let Some(i) = lower.find(needle) else {
            continue;
        };
        if i == 0 {
            continue;
        }
        let zip_path = PathBuf::from(&filename[..i + 4]);
        if zip_path.is_dir() {
            continue;
        }
        if writing || zip_path.is_file() {
            let member = filename[i + 4..].trim_start_matches(['/', '\\']).replace('\\', "/");
            return Some((zip_path, member));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_paths_follow_v2_10() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        // Writing: always a member.
        let (z, m) = split_zip_path(&format!("{d}/out.ZIP/a/b.png"), true).unwrap();
        assert_eq!(z, Path::new(&format!("{d}/out.ZIP")));
        assert_eq!(m, "a/b.png");
        // Reading: only when the archive exists.
        assert!(split_zip_path(&format!("{d}/x.zip/b.png"), false).is_none());
        std::fs::write(dir.path().join("x.zip"), b"").unwrap();
        assert!(split_zip_path(&format!("{d}/x.zip\\b.png"), false).is_some());
        // A folder named *.zip is a folder.
        std::fs::create_dir(dir.path().join("f.zip")).unwrap();
        assert!(split_zip_path(&format!("{d}/f.zip/b.png"), true).is_none());
        // Not at index 0.
        assert!(split_zip_path(".zip/b.png", true).is_none());
    }
}
