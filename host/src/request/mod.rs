//! [`Request`]: one read or write of one resource, whatever it is (spec §1.9).

mod mode;
mod optional;
mod seekable;
mod standard;
mod uri;

#[cfg(feature = "http")]
pub(crate) mod http;
#[cfg(feature = "zip")]
pub(crate) mod zip;

pub use mode::{ImageMode, IoMode, Mode};
pub use seekable::SeekableReader;
pub use standard::{EXAMPLE_IMAGES, StandardImage, standard_image};
pub(crate) use uri::WriteSeek;
pub use uri::{ReadSeek, Uri, UriType};

use crate::core::Dict;
use crate::core::io::read_n_bytes;
use crate::error::{Error, Result};
use std::ffi::CString;
use std::fmt;
use std::io::{self, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempPath;

/// The write target that makes a request return the encoded bytes.
pub const RETURN_BYTES: &str = "<bytes>";

/// The open byte stream of a request.
pub(crate) enum FileIo {
    Read(Box<dyn ReadSeek>),
    Write(Box<dyn WriteSeek>),
    Memory(Cursor<Vec<u8>>),
}

impl FileIo {
    pub(crate) fn reader(&mut self) -> io::Result<&mut dyn ReadSeek> {
        match self {
            FileIo::Read(r) => Ok(&mut **r),
            FileIo::Write(_) | FileIo::Memory(_) => {
                Err(io::Error::new(io::ErrorKind::Unsupported, "the request is for writing"))
            }
        }
    }

    pub(crate) fn writer(&mut self) -> io::Result<&mut dyn WriteSeek> {
        match self {
            FileIo::Write(w) => Ok(&mut **w),
            FileIo::Memory(c) => Ok(c),
            FileIo::Read(_) => Err(io::Error::new(io::ErrorKind::Unsupported, "the request is for reading")),
        }
    }

    pub(crate) fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            FileIo::Read(r) => r.seek(pos),
            FileIo::Write(w) => w.seek(pos),
            FileIo::Memory(c) => c.seek(pos),
        }
    }
}

/// Where a write goes once the request finishes.
enum Target {
    /// A member of a zip archive, written (or replaced) on success.
    Zip { archive: PathBuf, member: String },
    /// A temporary file beside the target, renamed onto it on success.
    File { target: PathBuf, temp: Option<TempPath> },
    /// Memory: the result, or the caller's stream.
    Memory { sink: Option<Box<dyn Write + Send>> },
}

/// One read or write of one resource (imageio's `Request`).
///
/// ```
/// use imageio::Request;
/// let mut req = Request::new(vec![0x89, b'P', b'N', b'G'], "ri").unwrap();
/// assert_eq!(req.filename(), "<bytes>");
/// assert_eq!(req.extension(), None);
/// assert_eq!(req.firstbytes().unwrap(), b"\x89PNG");
/// ```
pub struct Request {
    uri_type: UriType,
    filename: String,
    path: Option<PathBuf>,
    mode: Mode,
    extension: Option<String>,
    kwargs: Dict,
    bytes: Option<Arc<[u8]>>,
    user_reader: Option<Box<dyn ReadSeek>>,
    file: Option<FileIo>,
    start: u64,
    target: Option<Target>,
    firstbytes: Option<Vec<u8>>,
    temp_files: Vec<TempPath>,
    local_write: Option<PathBuf>,
    local_names: Vec<CString>,
    result: Option<Vec<u8>>,
    finished: bool,
    zip: Option<(PathBuf, String)>,
}

fn expand_user(name: &str) -> PathBuf {
    if let Some(rest) = name.strip_prefix('~')
        && (rest.is_empty() || rest.starts_with('/') || rest.starts_with(std::path::MAIN_SEPARATOR))
        && let Some(home) = std::env::home_dir()
    {
        return home.join(rest.trim_start_matches(['/', std::path::MAIN_SEPARATOR]));
    }
    PathBuf::from(name)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// `Path(name).suffix.lower()`, or `None` without one.
fn suffix_of(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let dot = base.rfind('.')?;
    if dot == 0 || dot + 1 == base.len() {
        return None;
    }
    Some(base[dot..].to_lowercase())
}

impl Request {
    /// A request for `uri` in `mode` (`"ri"`, `"wI"`, `"r?"`, ...).
    pub fn new(uri: impl Into<Uri>, mode: &str) -> Result<Request> {
        Self::with_options(uri, mode, None, Dict::new())
    }

    /// A request with an explicit `extension` (overriding the file name's,
    /// e.g. `".png"` for `x.png.part`) and the options (imageio's keyword
    /// arguments) that reach the plugin.
    pub fn with_options(uri: impl Into<Uri>, mode: &str, extension: Option<&str>, kwargs: Dict) -> Result<Request> {
        let mode = Mode::parse(mode)?;
        let mut req = Request {
            uri_type: UriType::Bytes,
            filename: String::new(),
            path: None,
            mode,
            extension: None,
            kwargs,
            bytes: None,
            user_reader: None,
            file: None,
            start: 0,
            target: None,
            firstbytes: None,
            temp_files: Vec::new(),
            local_write: None,
            local_names: Vec::new(),
            result: None,
            finished: false,
            zip: None,
        };
        req.parse_uri(uri.into())?;
        if let Some(ext) = extension {
            if !ext.starts_with('.') {
                return Err(Error::InvalidArgument(format!(
                    "`extension` should be a file extension starting with a `.`, but is `{ext}`."
                )));
            }
            req.extension = Some(ext.to_owned());
        } else {
            req.extension = match req.uri_type {
                UriType::Filename | UriType::Zipped => suffix_of(&req.filename),
                UriType::Http | UriType::Ftp => {
                    let no_query = req.filename.split(['?', '#']).next().unwrap_or("");
                    let path = no_query.splitn(4, '/').nth(3).unwrap_or("");
                    suffix_of(path)
                }
                UriType::Bytes | UriType::File => suffix_of(&req.filename),
            };
        }
        Ok(req)
    }

    fn parse_uri(&mut self, uri: Uri) -> Result<()> {
        let read = self.mode.io == IoMode::Read;
        match uri {
            Uri::Str(s) => {
                if let Some(name) = s.strip_prefix("imageio:") {
                    if !read {
                        return Err(Error::Unsupported("Cannot write to the standard images.".into()));
                    }
                    let image = standard_image(name)?;
                    let local = optional::fetch_standard_image(&image.remote, &s)?;
                    let mut local = local.to_string_lossy().into_owned();
                    if let Some(member) = &image.member {
                        local.push('/');
                        local.push_str(member);
                    }
                    self.set_filename(&local)?;
                } else if s.starts_with("http://") || s.starts_with("https://") {
                    if !read {
                        return Err(Error::Unsupported(
                            "imageio does not support writing to http/ftp.".into(),
                        ));
                    }
                    self.uri_type = UriType::Http;
                    self.filename = s;
                } else if s.starts_with("ftp://") || s.starts_with("ftps://") {
                    if !read {
                        return Err(Error::Unsupported(
                            "imageio does not support writing to http/ftp.".into(),
                        ));
                    }
                    self.uri_type = UriType::Ftp;
                    self.filename = s;
                } else if let Some(rest) = s.strip_prefix("file://") {
                    self.set_filename(rest)?;
                } else if s.starts_with(RETURN_BYTES) && !read {
                    self.uri_type = UriType::Bytes;
                    self.filename = s;
                } else {
                    self.set_filename(&s)?;
                }
            }
            Uri::Path(p) => {
                let s = p.to_string_lossy().into_owned();
                self.set_filename(&s)?;
            }
            Uri::Bytes(b) => {
                if !read {
                    return Err(Error::CannotUnderstandUri {
                        uri: format!("<{} bytes>", b.len()),
                    });
                }
                self.uri_type = UriType::Bytes;
                self.filename = RETURN_BYTES.into();
                self.bytes = Some(b);
            }
            Uri::Reader(r) => {
                if !read {
                    return Err(Error::InvalidArgument(
                        "a stream to read from was given for writing; use Uri::writer".into(),
                    ));
                }
                self.uri_type = UriType::File;
                self.filename = "<file>".into();
                self.user_reader = Some(r);
            }
            Uri::Writer(w) => {
                if read {
                    return Err(Error::InvalidArgument(
                        "a stream to write to was given for reading; use Uri::reader".into(),
                    ));
                }
                self.uri_type = UriType::File;
                self.filename = "<file>".into();
                self.target = Some(Target::Memory { sink: Some(w) });
            }
        }
        Ok(())
    }

    fn set_filename(&mut self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::CannotUnderstandUri { uri: "''".into() });
        }
        self.uri_type = UriType::Filename;
        let expanded = if name.starts_with('~') {
            expand_user(name)
        } else {
            PathBuf::from(name)
        };
        let read = self.mode.io == IoMode::Read;
        let expanded_str = expanded.to_string_lossy().into_owned();
        if let Some((archive, member)) = uri::split_zip_path(&expanded_str, !read) {
            let shown = archive.to_string_lossy().into_owned();
            if read && !archive.exists() && EXAMPLE_IMAGES.contains(&shown.as_str()) {
                return Err(Error::BareStandardImageName { name: shown });
            }
            let archive = absolute(&archive);
            if read {
                if !archive.exists() {
                    return Err(Error::FileNotFound { path: archive });
                }
            } else {
                let dir = archive.parent().map(Path::to_path_buf).unwrap_or_default();
                if !dir.as_os_str().is_empty() && !dir.is_dir() {
                    return Err(Error::DirectoryNotFound { path: dir });
                }
            }
            self.uri_type = UriType::Zipped;
            self.filename = format!("{}/{member}", archive.to_string_lossy());
            self.zip = Some((archive, member));
            return Ok(());
        }
        if read && !expanded.exists() && EXAMPLE_IMAGES.contains(&name) {
            return Err(Error::BareStandardImageName { name: name.to_owned() });
        }
        let path = absolute(&expanded);
        if read {
            if !path.exists() {
                return Err(Error::FileNotFound { path });
            }
        } else {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                return Err(Error::DirectoryNotFound { path: dir });
            }
        }
        self.filename = path.to_string_lossy().into_owned();
        self.path = Some(path);
        Ok(())
    }

    /// The resource's name: an absolute file name, a URL, `<bytes>` or `<file>`.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The kind of resource.
    pub fn uri_type(&self) -> UriType {
        self.uri_type
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The extension with its dot (`.png`): the override if one was given (as
    /// given), else the file name's suffix in lower case, else `None`.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// The options for the plugin (imageio's `kwargs`).
    pub fn kwargs(&self) -> &Dict {
        &self.kwargs
    }

    /// The file name's path, for local files.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn io_error(&self, source: io::Error) -> Error {
        Error::Io {
            uri: self.filename.clone(),
            source,
        }
    }

    /// The open stream over the resource (opened on first use).
    pub(crate) fn get_file(&mut self) -> Result<&mut FileIo> {
        if self.file.is_none() {
            let file = self.open_file()?;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("just set"))
    }

    fn open_file(&mut self) -> Result<FileIo> {
        let read = self.mode.io == IoMode::Read;
        match (self.uri_type, read) {
            (UriType::Bytes, true) => {
                let bytes = self.bytes.clone().unwrap_or_else(|| Arc::from(Vec::new()));
                Ok(FileIo::Read(Box::new(Cursor::new(bytes))))
            }
            (UriType::File, true) => {
                let mut r = self
                    .user_reader
                    .take()
                    .ok_or_else(|| Error::Unsupported("the caller's stream was already consumed".into()))?;
                self.start = r.stream_position().map_err(|e| self.io_error(e))?;
                Ok(FileIo::Read(r))
            }
            (UriType::Filename, true) => {
                let path = self.path.clone().expect("file requests have a path");
                let f = std::fs::File::open(&path).map_err(|e| self.io_error(e))?;
                Ok(FileIo::Read(Box::new(io::BufReader::with_capacity(1 << 16, f))))
            }
            (UriType::Filename, false) => {
                let target = self.path.clone().expect("file requests have a path");
                let dir = target
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let temp =
                    crate::core::io::temp_beside(&dir, ".imageio-", ".part", None).map_err(|e| self.io_error(e))?;
                let (file, temp_path) = temp.into_parts();
                self.target = Some(Target::File {
                    target,
                    temp: Some(temp_path),
                });
                Ok(FileIo::Write(Box::new(io::BufWriter::with_capacity(1 << 16, file))))
            }
            (UriType::Bytes | UriType::File, false) => {
                if self.target.is_none() {
                    self.target = Some(Target::Memory { sink: None });
                }
                Ok(FileIo::Memory(Cursor::new(Vec::new())))
            }
            (UriType::Http, _) => Ok(FileIo::Read(optional::open_http(&self.filename)?)),
            (UriType::Ftp, _) => Err(Error::Unsupported(format!(
                "{}: ftp:// and ftps:// are not supported; only http:// and https:// URLs can be read",
                Error::short_uri(&self.filename)
            ))),
            (UriType::Zipped, true) => {
                let (archive, member) = self.zip.clone().expect("zip requests have an archive");
                let bytes = optional::read_zip_member(&archive, &member, &self.filename)?;
                Ok(FileIo::Read(Box::new(Cursor::new(bytes))))
            }
            (UriType::Zipped, false) => {
                let (archive, member) = self.zip.clone().expect("zip requests have an archive");
                self.target = Some(Target::Zip { archive, member });
                Ok(FileIo::Memory(Cursor::new(Vec::new())))
            }
        }
    }

    /// The size of the source in bytes, when known.
    pub(crate) fn size_hint(&self) -> Option<u64> {
        match self.uri_type {
            UriType::Bytes => self.bytes.as_ref().map(|b| b.len() as u64),
            UriType::Filename if self.mode.io == IoMode::Read => self
                .path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len()),
            UriType::Zipped if self.mode.io == IoMode::Read => self
                .zip
                .as_ref()
                .and_then(|(archive, member)| optional::zip_member_size(archive, member)),
            _ => None,
        }
    }

    /// Up to 256 bytes from the source's current position, the position left
    /// unchanged (empty for a directory, and when writing).
    pub fn firstbytes(&mut self) -> Result<&[u8]> {
        if self.firstbytes.is_none() {
            let bytes = self.read_firstbytes()?;
            self.firstbytes = Some(bytes);
        }
        Ok(self.firstbytes.as_deref().expect("just set"))
    }

    fn read_firstbytes(&mut self) -> Result<Vec<u8>> {
        if self.mode.io == IoMode::Write {
            return Ok(Vec::new());
        }
        if let Some(b) = &self.bytes {
            return Ok(b[..b.len().min(256)].to_vec());
        }
        if self.path.as_ref().is_some_and(|p| p.is_dir()) {
            return Ok(Vec::new());
        }
        let uri = self.filename.clone();
        let io_err = move |source| Error::Io {
            uri: uri.clone(),
            source,
        };
        let reader = self.get_file()?.reader().map_err(&io_err)?;
        let pos = reader.stream_position().map_err(&io_err)?;
        let bytes = read_n_bytes(reader, 256).map_err(&io_err)?;
        reader.seek(SeekFrom::Start(pos)).map_err(&io_err)?;
        Ok(bytes)
    }

    /// Moves the source back to where it started (so the next format tried
    /// sees the whole file).
    pub(crate) fn rewind(&mut self) -> Result<()> {
        let start = self.start;
        if let Some(file) = self.file.as_mut()
            && let Err(e) = file.seek(SeekFrom::Start(start))
        {
            return Err(self.io_error(e));
        }
        Ok(())
    }

    /// A local file name holding the resource, for libraries that only take
    /// paths. A local file is its own name. Otherwise reading copies the
    /// source (from its current position) into a temporary file, and writing
    /// gives a temporary file whose content becomes the result. Every
    /// temporary file is removed when the request finishes (or is dropped).
    /// Writes to a local file get a temporary file beside it, renamed onto
    /// the target on success.
    pub fn get_local_filename(&mut self) -> Result<PathBuf> {
        let read = self.mode.io == IoMode::Read;
        if self.uri_type == UriType::Filename {
            if read {
                return Ok(self.path.clone().expect("file requests have a path"));
            }
            self.get_file()?;
            if let Some(Target::File { temp: Some(t), .. }) = &self.target {
                let p = t.to_path_buf();
                self.local_write = Some(p.clone());
                return Ok(p);
            }
            return Err(Error::Unsupported("no temporary file for this write".into()));
        }
        let suffix = self.extension.clone().unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix("imageio_")
            .suffix(&suffix)
            .tempfile()
            .map_err(|e| self.io_error(e))?;
        let (mut file, path) = temp.into_parts();
        if read {
            let uri = self.filename.clone();
            let io_err = move |source| Error::Io {
                uri: uri.clone(),
                source,
            };
            let reader = self.get_file()?.reader().map_err(&io_err)?;
            io::copy(reader, &mut file).map_err(&io_err)?;
            file.flush().map_err(&io_err)?;
        } else {
            self.local_write = Some(path.to_path_buf());
        }
        let p = path.to_path_buf();
        self.temp_files.push(path);
        Ok(p)
    }

    /// Like [`get_local_filename`](Self::get_local_filename), as a C string
    /// that lives as long as the request.
    pub(crate) fn local_filename_c(&mut self) -> Result<*const std::ffi::c_char> {
        let p = self.get_local_filename()?;
        let c = CString::new(p.to_string_lossy().into_owned())
            .map_err(|_| Error::Unsupported("the local file name contains a NUL byte".into()))?;
        self.local_names.push(c);
        Ok(self.local_names.last().expect("just pushed").as_ptr())
    }

    /// Finishes the request: a write is committed (a file renamed into place,
    /// `<bytes>` stored for [`get_result`](Self::get_result), a caller's stream
    /// written), files are closed, and temporary files removed. Idempotent.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let outcome = if self.mode.io == IoMode::Write {
            self.commit()
        } else {
            Ok(())
        };
        self.file = None;
        self.temp_files.clear();
        self.bytes = None;
        outcome
    }

    fn commit(&mut self) -> Result<()> {
        let uri = self.filename.clone();
        let io_err = |source| Error::Io {
            uri: uri.clone(),
            source,
        };
        let file = self.file.take();
        match self.target.take() {
            Some(Target::File { target, temp }) => {
                if let Some(mut f) = file {
                    f.writer().and_then(|w| w.flush()).map_err(io_err)?;
                    drop(f);
                }
                if let Some(temp) = temp {
                    temp.persist(&target).map_err(|e| io_err(e.error))?;
                }
            }
            Some(Target::Zip { archive, member }) => {
                let bytes = self.written_bytes(file).map_err(io_err)?;
                optional::write_zip_member(&archive, &member, &bytes, &uri)?;
            }
            Some(Target::Memory { sink }) => {
                let bytes = self.written_bytes(file).map_err(io_err)?;
                match sink {
                    Some(mut s) => {
                        s.write_all(&bytes).and_then(|()| s.flush()).map_err(io_err)?;
                    }
                    None => self.result = Some(bytes),
                }
            }
            None => {}
        }
        Ok(())
    }

    /// What a plugin wrote to memory (or to the local file it asked for).
    fn written_bytes(&self, file: Option<FileIo>) -> io::Result<Vec<u8>> {
        if let Some(local) = &self.local_write {
            return std::fs::read(local);
        }
        Ok(match file {
            Some(FileIo::Memory(c)) => c.into_inner(),
            _ => Vec::new(),
        })
    }

    /// The bytes written to a `<bytes>` target, once; `None` afterwards and
    /// for other targets.
    pub fn get_result(&mut self) -> Option<Vec<u8>> {
        self.result.take()
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("filename", &self.filename)
            .field("mode", &self.mode.to_string())
            .field("uri_type", &self.uri_type)
            .field("extension", &self.extension)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_follows_pathlib() {
        assert_eq!(suffix_of("/a/b.PNG"), Some(".png".into()));
        assert_eq!(suffix_of("noext"), None);
        assert_eq!(suffix_of("/d/.hidden"), None);
        assert_eq!(suffix_of("archive.tar.gz"), Some(".gz".into()));
        assert_eq!(suffix_of("<bytes>.png"), Some(".png".into()));
        assert_eq!(suffix_of("<bytes>"), None);
        assert_eq!(suffix_of("noext."), None);
    }

    #[test]
    fn mode_errors_follow_the_spec() {
        let msg = |m: &str| Mode::parse(m).unwrap_err().to_string();
        assert_eq!(msg("rii"), "Request requires mode to have two chars");
        assert_eq!(msg("xi"), "Request requires mode[0] to be \"r\" or \"w\"");
        assert_eq!(msg("rx"), "Request requires mode[1] to be in \"iIvV?\"");
    }

    #[test]
    fn http_extension_ignores_query() {
        let r = Request::new("http://example.com/b.JPG?x=1.2", "ri").unwrap();
        assert_eq!(r.extension(), Some(".jpg"));
        let r = Request::new("http://example.com", "ri").unwrap();
        assert_eq!(r.extension(), None);
    }
}
