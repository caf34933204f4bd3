//! [`Request`]: one read or write of one resource, whatever it is. What
//! is read is a [`Source`], what is written a [`Target`]: each kind carries
//! exactly its own data.

mod buffered;
mod mode;
mod optional;
mod seekable;
mod standard;
mod uri;

#[cfg(feature = "http")]
pub(crate) mod fetching;
#[cfg(feature = "http")]
pub(crate) mod http;
#[cfg(feature = "zip")]
pub(crate) mod zip;

pub use mode::{ImageMode, IoMode, Mode};
pub use seekable::SeekableReader;
pub use standard::{EXAMPLE_IMAGES, StandardImage, standard_image};
pub use uri::{ReadSeek, Uri, UriType};

use crate::base::Dict;
use crate::base::io::read_n_bytes;
use crate::error::{Error, Result};
use std::fmt;
use std::io::{self, BufWriter, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempPath;

/// The write target that makes a request return the encoded bytes.
pub const RETURN_BYTES: &str = "<bytes>";

/// What a read request reads.
pub enum Source {
    /// Encoded bytes in memory (`<bytes>`).
    Bytes(Arc<[u8]>),
    /// The caller's seekable stream (`<file>`), read from its position at
    /// the request's creation.
    Stream,
    /// A local file (an absolute path).
    File(PathBuf),
    /// A member of a zip archive.
    Zip {
        /// The archive (an absolute path).
        archive: PathBuf,
        /// The member's name, with `/` separators.
        member: String,
    },
    /// An http(s) URL.
    Http(String),
    /// An ftp(s) URL (recognised, refused when opened).
    Ftp(String),
    /// A special read URI (`<video0>`, `<screen>`, `<clipboard>`): no data
    /// of the host's, handed to the plugins by name (imageio's bytes-type
    /// URI for its grab and ffmpeg plugins); its stream is empty.
    Special(String),
}

/// The prefixes of the special read URIs (imageio's `SPECIAL_READ_URIS`).
pub const SPECIAL_READ_URIS: [&str; 3] = ["<video", "<screen>", "<clipboard>"];

/// Where a write request's bytes go.
pub enum Target {
    /// A local file (an absolute path), replaced atomically on success.
    File(PathBuf),
    /// A member of a zip archive, written (or replaced) on success.
    Zip {
        /// The archive (an absolute path).
        archive: PathBuf,
        /// The member's name, with `/` separators.
        member: String,
    },
    /// Memory: the bytes become [`Request::get_result`] (`<bytes>`).
    Memory,
    /// The caller's stream, written when the request finishes (if anything
    /// was written).
    Stream(Box<dyn Write + Send>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bytes(b) => write!(f, "Source::Bytes(<{} bytes>)", b.len()),
            Source::Stream => f.write_str("Source::Stream"),
            Source::File(p) => write!(f, "Source::File({p:?})"),
            Source::Zip { archive, member } => write!(f, "Source::Zip({archive:?}, {member:?})"),
            Source::Http(u) => write!(f, "Source::Http({u:?})"),
            Source::Ftp(u) => write!(f, "Source::Ftp({u:?})"),
            Source::Special(u) => write!(f, "Source::Special({u:?})"),
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::File(p) => write!(f, "Target::File({p:?})"),
            Target::Zip { archive, member } => write!(f, "Target::Zip({archive:?}, {member:?})"),
            Target::Memory => f.write_str("Target::Memory"),
            Target::Stream(_) => f.write_str("Target::Stream"),
        }
    }
}

/// A read: the source, and the open stream over it.
struct Reading {
    source: Source,
    /// The open stream (the caller's from the start; others opened on first use).
    file: Option<Box<dyn ReadSeek>>,
    /// Where the source starts in `file` (the caller's stream position).
    start: u64,
    /// A local file's kind and size as the request found it (is a
    /// directory, bytes); set for every local file, `None` otherwise.
    stat: Option<(bool, u64)>,
}

/// The bytes a write is producing.
enum Output {
    /// A file beside the target that takes its name on success (unnamed
    /// until then where the platform allows).
    Temp(BufWriter<crate::base::io::AtomicFile>),
    /// Memory (for `<bytes>`, a caller's stream and zip members).
    Memory(Cursor<Vec<u8>>),
}

/// A write: the target, and what has been produced for it.
struct Writing {
    target: Target,
    /// Opened on first use: nothing is created for a write nothing wrote.
    out: Option<Output>,
    /// A temporary file handed to a plugin (`get_local_filename`): its
    /// content is the output.
    local: Option<PathBuf>,
    /// The bytes of a finished `<bytes>` write.
    result: Option<Vec<u8>>,
    /// The output reached the target (set by a successful commit).
    delivered: bool,
}

impl Drop for Writing {
    /// A write to a FIFO that delivered nothing (it failed, or was
    /// discarded) still ends the wait of a reader on the other side.
    fn drop(&mut self) {
        if !self.delivered
            && let Target::File(path) = &self.target
        {
            crate::base::io::release_fifo_reader(path);
        }
    }
}

enum Resource {
    Read(Reading),
    Write(Writing),
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
    /// The resource's name: an absolute file name, a URL, `<bytes>` or `<file>`.
    filename: String,
    mode: Mode,
    extension: Option<String>,
    kwargs: Dict,
    resource: Resource,
    firstbytes: Option<Vec<u8>>,
    /// Temporary files of `get_local_filename`, removed when the request
    /// finishes or is dropped.
    temp_files: Vec<TempPath>,
    finished: bool,
    limits: crate::base::Limits,
    /// The source's size when the request cannot tell (an isolated
    /// worker's view of the host's source).
    size_override: Option<u64>,
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
        let (filename, resource) = resource_of(uri.into(), mode.io == IoMode::Read)?;
        let extension = match extension {
            Some(ext) if !ext.starts_with('.') => {
                return Err(Error::InvalidArgument(format!(
                    "`extension` should be a file extension starting with a `.`, but is `{ext}`."
                )));
            }
            Some(ext) => Some(ext.to_owned()),
            None => match &resource {
                Resource::Read(Reading {
                    source: Source::Http(_) | Source::Ftp(_),
                    ..
                }) => {
                    let no_query = filename.split(['?', '#']).next().unwrap_or("");
                    suffix_of(no_query.splitn(4, '/').nth(3).unwrap_or(""))
                }
                _ => suffix_of(&filename),
            },
        };
        Ok(Request {
            filename,
            mode,
            extension,
            kwargs,
            resource,
            firstbytes: None,
            temp_files: Vec::new(),
            finished: false,
            limits: crate::base::default_limits(),
            size_override: None,
        })
    }

    /// The resource's name: an absolute file name, a URL, `<bytes>` or `<file>`.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The resource limits the plugin gets and the host enforces (the
    /// process's [`default_limits`](crate::default_limits) unless set).
    pub fn limits(&self) -> &crate::base::Limits {
        &self.limits
    }

    /// Makes a worker's request over the host's stream look like the
    /// host's: its name (for the plugin's messages) and its size.
    #[cfg(target_os = "linux")]
    pub(crate) fn set_worker_view(&mut self, name: &str, size: Option<u64>) {
        self.filename = name.to_owned();
        self.size_override = size;
    }

    /// Sets the request's resource limits.
    pub fn set_limits(&mut self, limits: crate::base::Limits) {
        self.limits = limits;
    }

    /// What a read request reads (`None` for a write).
    pub fn source(&self) -> Option<&Source> {
        match &self.resource {
            Resource::Read(r) => Some(&r.source),
            Resource::Write(_) => None,
        }
    }

    /// Where a write request writes (`None` for a read).
    pub fn target(&self) -> Option<&Target> {
        match &self.resource {
            Resource::Write(w) => Some(&w.target),
            Resource::Read(_) => None,
        }
    }

    /// The kind of resource (imageio's `URI_*`).
    pub fn uri_type(&self) -> UriType {
        match &self.resource {
            Resource::Read(r) => match r.source {
                Source::Bytes(_) => UriType::Bytes,
                Source::Stream => UriType::File,
                Source::File(_) => UriType::Filename,
                Source::Zip { .. } => UriType::Zipped,
                Source::Http(_) => UriType::Http,
                Source::Ftp(_) => UriType::Ftp,
                Source::Special(_) => UriType::Bytes,
            },
            Resource::Write(w) => match w.target {
                Target::File(_) => UriType::Filename,
                Target::Zip { .. } => UriType::Zipped,
                Target::Memory => UriType::Bytes,
                Target::Stream(_) => UriType::File,
            },
        }
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
        match &self.resource {
            Resource::Read(Reading {
                source: Source::File(p),
                ..
            })
            | Resource::Write(Writing {
                target: Target::File(p),
                ..
            }) => Some(p),
            _ => None,
        }
    }

    fn io_error(&self, source: io::Error) -> Error {
        Error::Io {
            uri: self.filename.clone(),
            source,
        }
    }

    /// The open stream over a read's source (opened on first use). The
    /// resource's name is copied only for an error: this runs on every
    /// read and seek of the plugin's stream.
    fn reader(&mut self) -> Result<&mut dyn ReadSeek> {
        let size = match &self.resource {
            Resource::Read(Reading { file: None, .. }) => self.local_stat().map(|(_, len)| len),
            _ => None,
        };
        let uri = &self.filename;
        let io_error = |source| Error::Io {
            uri: uri.clone(),
            source,
        };
        let Resource::Read(r) = &mut self.resource else {
            return Err(io_error(io::Error::new(
                io::ErrorKind::Unsupported,
                "the request is for writing",
            )));
        };
        if r.file.is_none() {
            let file: Box<dyn ReadSeek> = match &r.source {
                Source::Bytes(b) => Box::new(Cursor::new(Arc::clone(b))),
                Source::Stream => {
                    return Err(Error::Unsupported("the caller's stream was already consumed".into()));
                }
                Source::File(path) => {
                    let f = std::fs::File::open(path).map_err(io_error)?;
                    Box::new(buffered::BufferedFile::new(f, size))
                }
                Source::Zip { archive, member } => {
                    Box::new(Cursor::new(optional::read_zip_member(archive, member, uri)?))
                }
                Source::Http(url) => optional::open_http(url)?,
                // The plugin handles it by name; the host has no data.
                Source::Special(_) => Box::new(Cursor::new(Arc::<[u8]>::from(Vec::new()))),
                Source::Ftp(_) => {
                    return Err(Error::Unsupported(format!(
                        "{}: ftp:// and ftps:// are not supported; only http:// and https:// URLs can be read",
                        Error::short_uri(uri)
                    )));
                }
            };
            r.file = Some(file);
        }
        Ok(r.file.as_deref_mut().expect("just opened"))
    }

    /// The output of a write (created on first use; the name is copied only
    /// for an error, as in [`reader`](Self::reader)).
    fn output(&mut self) -> Result<&mut Output> {
        let uri = &self.filename;
        let io_error = |source| Error::Io {
            uri: uri.clone(),
            source,
        };
        let Resource::Write(w) = &mut self.resource else {
            return Err(io_error(io::Error::new(
                io::ErrorKind::Unsupported,
                "the request is for reading",
            )));
        };
        if w.out.is_none() {
            let out = match &w.target {
                Target::File(target) => {
                    let file = crate::base::io::AtomicFile::for_target(target).map_err(io_error)?;
                    Output::Temp(BufWriter::with_capacity(1 << 16, file))
                }
                Target::Zip { .. } | Target::Memory | Target::Stream(_) => Output::Memory(Cursor::new(Vec::new())),
            };
            w.out = Some(out);
        }
        Ok(w.out.as_mut().expect("just created"))
    }

    /// Reads from the source into `buf` (for the plugin's stream).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let reader = self.reader()?;
        let r = loop {
            match reader.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        r.map_err(|source| self.io_error(source))
    }

    /// Writes all of `buf` to the output (for the plugin's stream).
    pub(crate) fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let r = match self.output()? {
            Output::Temp(file) => file.write_all(buf),
            Output::Memory(c) => c.write_all(buf),
        };
        r.map_err(|source| self.io_error(source))
    }

    /// Seeks the source or the output (for the plugin's stream).
    pub(crate) fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let r = if self.mode.io == IoMode::Read {
            self.reader()?.seek(pos)
        } else {
            match self.output()? {
                Output::Temp(file) => file.seek(pos),
                Output::Memory(c) => c.seek(pos),
            }
        };
        r.map_err(|source| self.io_error(source))
    }

    /// The size of the source in bytes, when known.
    pub(crate) fn size_hint(&self) -> Option<u64> {
        if self.size_override.is_some() {
            return self.size_override;
        }
        match self.source()? {
            Source::Bytes(b) => Some(b.len() as u64),
            Source::File(_) => self.local_stat().map(|(_, len)| len),
            Source::Zip { archive, member } => optional::zip_member_size(archive, member),
            Source::Stream | Source::Http(_) | Source::Ftp(_) | Source::Special(_) => None,
        }
    }

    /// A local file source's kind and size (`(is a directory, bytes)`), as
    /// the request found it when it was made.
    fn local_stat(&self) -> Option<(bool, u64)> {
        match &self.resource {
            Resource::Read(r) => r.stat,
            Resource::Write(_) => None,
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
        match self.source() {
            None => return Ok(Vec::new()),
            Some(Source::Bytes(b)) => return Ok(b[..b.len().min(256)].to_vec()),
            Some(Source::File(_)) if self.local_stat().is_some_and(|(dir, _)| dir) => return Ok(Vec::new()),
            Some(_) => {}
        }
        let uri = self.filename.clone();
        let io_err = move |source| Error::Io {
            uri: uri.clone(),
            source,
        };
        let reader = self.reader()?;
        let pos = reader.stream_position().map_err(&io_err)?;
        let bytes = read_n_bytes(reader, 256).map_err(&io_err)?;
        reader.seek(SeekFrom::Start(pos)).map_err(&io_err)?;
        Ok(bytes)
    }

    /// Moves the source back to where it started (so the next format tried
    /// sees the whole file).
    pub(crate) fn rewind(&mut self) -> Result<()> {
        if let Resource::Read(r) = &mut self.resource
            && let Some(file) = r.file.as_mut()
            && let Err(e) = file.seek(SeekFrom::Start(r.start))
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
    /// Writes to a local file get the file that will take the target's name
    /// on success (on Linux an unnamed file, named `/proc/self/fd/N`).
    pub fn get_local_filename(&mut self) -> Result<PathBuf> {
        if let Some(Source::File(p)) = self.source() {
            return Ok(p.clone());
        }
        if let Some(Target::File(_)) = self.target() {
            if let Output::Temp(file) = self.output()? {
                let p = file.get_ref().path();
                if let Resource::Write(w) = &mut self.resource {
                    w.local = Some(p.clone());
                }
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
        match &mut self.resource {
            Resource::Read(_) => {
                let uri = self.filename.clone();
                let io_err = move |source| Error::Io {
                    uri: uri.clone(),
                    source,
                };
                let reader = self.reader()?;
                io::copy(reader, &mut file).map_err(&io_err)?;
                file.flush().map_err(&io_err)?;
            }
            Resource::Write(w) => w.local = Some(path.to_path_buf()),
        }
        let p = path.to_path_buf();
        self.temp_files.push(path);
        Ok(p)
    }

    /// Finishes the request: a write is committed (a file renamed into place,
    /// `<bytes>` stored for [`get_result`](Self::get_result), a caller's stream
    /// written, a zip member stored) if anything was written, files are
    /// closed, and temporary files removed. Idempotent.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let outcome = match &mut self.resource {
            Resource::Write(w) => commit(w, &self.filename),
            Resource::Read(r) => {
                r.file = None;
                if let Source::Bytes(_) = r.source {
                    r.source = Source::Bytes(Arc::from(Vec::new()));
                }
                Ok(())
            }
        };
        self.temp_files.clear();
        outcome
    }

    /// The bytes written to a `<bytes>` target, once; `None` afterwards and
    /// for other targets.
    pub fn get_result(&mut self) -> Option<Vec<u8>> {
        match &mut self.resource {
            Resource::Write(w) => w.result.take(),
            Resource::Read(_) => None,
        }
    }
}

/// Commits a write: what was produced goes to its target. A write that
/// produced nothing (neither the output nor a local file was asked for)
/// creates nothing.
fn commit(w: &mut Writing, uri: &str) -> Result<()> {
    let io_err = |source| Error::Io {
        uri: uri.to_owned(),
        source,
    };
    let bytes = match (w.out.take(), &w.local) {
        (Some(Output::Temp(file)), _) => {
            let file = file.into_inner().map_err(|e| io_err(e.into_error()))?;
            if let Target::File(target) = &w.target {
                if file.replaces() {
                    keep_attributes(file.file(), target);
                }
                file.commit(target).map_err(io_err)?;
                w.delivered = true;
            }
            return Ok(());
        }
        // A plugin that wrote by path (`get_local_filename`): that file is the output.
        (_, Some(local)) => std::fs::read(local).map_err(io_err)?,
        (Some(Output::Memory(c)), None) => c.into_inner(),
        // Nothing was written: nothing is created.
        (None, None) => return Ok(()),
    };
    match &mut w.target {
        Target::Zip { archive, member } => optional::write_zip_member(archive, member, &bytes, uri),
        Target::Stream(s) => s.write_all(&bytes).and_then(|()| s.flush()).map_err(io_err),
        Target::Memory => {
            w.result = Some(bytes);
            Ok(())
        }
        Target::File(_) => Ok(()),
    }
}

/// Gives the new file the permission bits (and, where allowed, the owner)
/// of the file it replaces, so a private file stays private.
fn keep_attributes(new: &std::fs::File, replaced: &Path) {
    let Ok(old) = std::fs::metadata(replaced) else { return };
    if let Err(e) = new.set_permissions(old.permissions()) {
        log::warn!(
            "{}: could not keep the replaced file's permissions: {e}",
            replaced.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mine = new.metadata().map(|m| (m.uid(), m.gid())).ok();
        if mine != Some((old.uid(), old.gid())) {
            // Only root (or the owner, for the group) may; otherwise the
            // writer owns the new file, as with any rename.
            let _ = std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid()));
        }
    }
}

/// The name and resource of a caller's URI, with imageio's rules.
fn resource_of(uri: Uri, read: bool) -> Result<(String, Resource)> {
    let reading = |source| {
        Resource::Read(Reading {
            source,
            file: None,
            start: 0,
            stat: None,
        })
    };
    let writing = |target| {
        Resource::Write(Writing {
            target,
            out: None,
            local: None,
            result: None,
            delivered: false,
        })
    };
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
                local_resource(&local, read)
            } else if s.starts_with("http://") || s.starts_with("https://") {
                if !read {
                    return Err(Error::Unsupported(
                        "imageio does not support writing to http/ftp.".into(),
                    ));
                }
                Ok((s.clone(), reading(Source::Http(s))))
            } else if s.starts_with("ftp://") || s.starts_with("ftps://") {
                if !read {
                    return Err(Error::Unsupported(
                        "imageio does not support writing to http/ftp.".into(),
                    ));
                }
                Ok((s.clone(), reading(Source::Ftp(s))))
            } else if let Some(rest) = s.strip_prefix("file://") {
                local_resource(rest, read)
            } else if s.starts_with(RETURN_BYTES) && !read {
                Ok((s, writing(Target::Memory)))
            } else if read && SPECIAL_READ_URIS.iter().any(|p| s.starts_with(p)) {
                Ok((s.clone(), reading(Source::Special(s))))
            } else {
                local_resource(&s, read)
            }
        }
        Uri::Path(p) => local_resource(&p.to_string_lossy(), read),
        Uri::Bytes(b) => {
            if !read {
                return Err(Error::CannotUnderstandUri {
                    uri: format!("<{} bytes>", b.len()),
                });
            }
            Ok((RETURN_BYTES.into(), reading(Source::Bytes(b))))
        }
        Uri::Reader(mut r) => {
            if !read {
                return Err(Error::InvalidArgument(
                    "a stream to read from was given for writing; use Uri::writer".into(),
                ));
            }
            // A stream that cannot tell its position (a pipe, a socket)
            // cannot seek either: it is read through the buffering reader,
            // from where it stands.
            let (r, start) = match r.stream_position() {
                Ok(start) => (r, start),
                Err(_) => (Box::new(SeekableReader::new(r)) as Box<dyn ReadSeek>, 0),
            };
            Ok((
                "<file>".into(),
                Resource::Read(Reading {
                    source: Source::Stream,
                    file: Some(r),
                    start,
                    stat: None,
                }),
            ))
        }
        Uri::Writer(w) => {
            if read {
                return Err(Error::InvalidArgument(
                    "a stream to write to was given for reading; use Uri::reader".into(),
                ));
            }
            Ok(("<file>".into(), writing(Target::Stream(w))))
        }
    }
}

/// Refuses a zip member name that could leave the archive's tree when
/// extracted: `..` components, an absolute path, a drive letter, or a
/// backslash (the archive stores `/`).
fn check_member_name(member: &str, uri: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::InvalidArgument(format!(
            "{}: the zip member name '{member}' {why}; member names are relative paths with '/' separators",
            Error::short_uri(uri)
        )))
    };
    if member.starts_with('/') {
        return bad("is absolute");
    }
    if member.contains('\\') {
        return bad("contains a backslash");
    }
    if member.split('/').any(|c| c == "..") {
        return bad("contains '..'");
    }
    if member.as_bytes().get(1) == Some(&b':') {
        return bad("starts with a drive letter");
    }
    Ok(())
}

/// A local file name (with `~`), or a member of a zip archive, checked as
/// imageio does: a file to read must exist, a folder to write into too.
fn local_resource(name: &str, read: bool) -> Result<(String, Resource)> {
    if name.is_empty() {
        return Err(Error::CannotUnderstandUri { uri: "''".into() });
    }
    let expanded = if name.starts_with('~') {
        expand_user(name)
    } else {
        PathBuf::from(name)
    };
    let check = |path: &Path| -> Result<()> {
        if read {
            if !path.exists() {
                return Err(Error::FileNotFound { path: path.to_owned() });
            }
        } else {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                return Err(Error::DirectoryNotFound { path: dir });
            }
        }
        Ok(())
    };
    let expanded_str = expanded.to_string_lossy().into_owned();
    if let Some((archive, member)) = uri::split_zip_path(&expanded_str, !read) {
        let shown = archive.to_string_lossy().into_owned();
        if read && EXAMPLE_IMAGES.contains(&shown.as_str()) && !archive.exists() {
            return Err(Error::BareStandardImageName { name: shown });
        }
        let archive = absolute(&archive);
        check(&archive)?;
        let filename = format!("{}/{member}", archive.to_string_lossy());
        if !read {
            check_member_name(&member, &filename)?;
        }
        let resource = if read {
            Resource::Read(Reading {
                source: Source::Zip { archive, member },
                file: None,
                start: 0,
                stat: None,
            })
        } else {
            Resource::Write(Writing {
                target: Target::Zip { archive, member },
                out: None,
                local: None,
                result: None,
                delivered: false,
            })
        };
        return Ok((filename, resource));
    }
    if read && EXAMPLE_IMAGES.contains(&name) && !expanded.exists() {
        return Err(Error::BareStandardImageName { name: name.to_owned() });
    }
    let mut path = absolute(&expanded);
    if !read
        && std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
        && !crate::base::io::through_descriptor_link(&path)
    {
        // Writing through a link replaces what it points to, not the link
        // (a link to a descriptor, like /dev/stdout, is written in place).
        if let Ok(target) = std::fs::canonicalize(&path) {
            path = target;
        }
    }
    let stat = if read {
        // One lookup both checks the file and answers the request's later
        // questions (a directory? how large?).
        match std::fs::metadata(&path) {
            Ok(m) => Some((m.is_dir(), m.len())),
            Err(_) => return Err(Error::FileNotFound { path }),
        }
    } else {
        check(&path)?;
        None
    };
    let filename = path.to_string_lossy().into_owned();
    let resource = if read {
        Resource::Read(Reading {
            source: Source::File(path),
            file: None,
            start: 0,
            stat,
        })
    } else {
        Resource::Write(Writing {
            target: Target::File(path),
            out: None,
            local: None,
            result: None,
            delivered: false,
        })
    };
    Ok((filename, resource))
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("filename", &self.filename)
            .field("mode", &self.mode.to_string())
            .field("uri_type", &self.uri_type())
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
