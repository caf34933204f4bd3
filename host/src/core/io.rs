//! Byte and text helpers: imageio's `read_n_bytes`, the temporary file of
//! every atomic write, and escaping untrusted text for a terminal.

use std::io::{self, Read};
use std::path::Path;

/// Reads up to `n` bytes, stopping at the first empty read.
///
/// ```
/// let mut src: &[u8] = b"abcdef";
/// assert_eq!(imageio::read_n_bytes(&mut src, 4).unwrap(), b"abcd");
/// assert_eq!(imageio::read_n_bytes(&mut src, 9).unwrap(), b"ef");
/// ```
pub fn read_n_bytes(f: &mut (impl Read + ?Sized), n: usize) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match f.read(&mut out[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.truncate(got);
    Ok(out)
}

/// A file being written that appears under its final name only when
/// [committed](Self::commit): every atomic write (file targets, zip
/// archives, downloads, cache copies) goes through one.
///
/// On Linux it is an unnamed file (`O_TMPFILE`) in the target's folder,
/// linked in on commit, so a process killed mid-write leaves nothing behind.
/// Elsewhere, or on a file system without `O_TMPFILE`, it is a hidden named
/// temporary file beside the target (`.imageio-*.part`), removed on drop.
/// A new file gets the usual mode (0666 less the umask), or `perms`.
pub(crate) struct AtomicFile {
    file: std::fs::File,
    kind: Kind,
}

enum Kind {
    /// Unnamed, in this folder (Linux).
    #[cfg(target_os = "linux")]
    Unnamed(std::path::PathBuf),
    /// A named temporary file beside the target.
    Named(tempfile::TempPath),
}

impl AtomicFile {
    /// A new file in `dir` (the target's folder).
    pub(crate) fn new_in(dir: &Path, perms: Option<std::fs::Permissions>) -> io::Result<AtomicFile> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let mode = perms.as_ref().map_or(0o666, |p| p.mode() & 0o7777);
            let unnamed = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(mode)
                .open(dir);
            match unnamed {
                Ok(file) => {
                    if let Some(p) = &perms {
                        // The umask applies at creation; the replaced file's
                        // mode must survive it.
                        file.set_permissions(p.clone())?;
                    }
                    return Ok(AtomicFile {
                        file,
                        kind: Kind::Unnamed(dir.to_owned()),
                    });
                }
                // A file system or kernel without O_TMPFILE: a named file.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(".imageio-").suffix(".part");
        match perms {
            Some(p) => {
                builder.permissions(p);
            }
            None => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    builder.permissions(std::fs::Permissions::from_mode(0o666));
                }
            }
        }
        let (file, path) = builder.tempfile_in(dir)?.into_parts();
        Ok(AtomicFile {
            file,
            kind: Kind::Named(path),
        })
    }

    /// A new file beside `target`.
    pub(crate) fn beside(target: &Path, perms: Option<std::fs::Permissions>) -> io::Result<AtomicFile> {
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        AtomicFile::new_in(dir, perms)
    }

    /// The open file.
    pub(crate) fn file(&self) -> &std::fs::File {
        &self.file
    }

    /// A path by which other code (a path-only C library) can open this
    /// file: `/proc/self/fd/N` for an unnamed file.
    pub(crate) fn path(&self) -> std::path::PathBuf {
        match &self.kind {
            #[cfg(target_os = "linux")]
            Kind::Unnamed(_) => {
                use std::os::fd::AsRawFd;
                std::path::PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
            }
            Kind::Named(p) => p.to_path_buf(),
        }
    }

    /// Makes the file `target`: its bytes reach the disk, then its name
    /// (replacing `target` atomically), then the folder's entry.
    pub(crate) fn commit(self, target: &Path) -> io::Result<()> {
        self.file.sync_all()?;
        match self.kind {
            #[cfg(target_os = "linux")]
            Kind::Unnamed(dir) => link_unnamed(&self.file, &dir, target)?,
            Kind::Named(path) => path.persist(target).map_err(|e| e.error)?,
        }
        sync_dir(target);
        Ok(())
    }
}

impl io::Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl io::Seek for AtomicFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// Links an unnamed file in as `target`: directly when `target` does not
/// exist yet, else under a fresh temporary name renamed over it.
#[cfg(target_os = "linux")]
fn link_unnamed(file: &std::fs::File, dir: &Path, target: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL");
    let link = |to: &Path| -> io::Result<()> {
        let to = CString::new(to.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: both paths are valid NUL-terminated strings for the call.
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    match link(target) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for attempt in 0..100u32 {
        let name = dir.join(format!(
            ".imageio-{}-{attempt}-{}.part",
            std::process::id(),
            fastrand_u32()
        ));
        match link(&name) {
            Ok(()) => {
                return std::fs::rename(&name, target).inspect_err(|_| {
                    let _ = std::fs::remove_file(&name);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name"))
}

/// A cheap, varying number for temporary names (uniqueness comes from
/// retrying on a clash, not from this).
#[cfg(target_os = "linux")]
fn fastrand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() as u32
}

/// Makes a new entry in `path`'s folder durable (where the platform can).
pub(crate) fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// `text` with the characters that could steer a terminal escaped:
/// control characters (C0, DEL, C1, so escape sequences and carriage
/// returns) as `\xNN` or `\u{NNNN}`, and the bidirectional overrides that
/// reorder what is shown. File names, metadata and plugin messages come
/// from files and plugins, and pass through this before reaching a terminal.
///
/// ```
/// use imageio::core::escape_controls;
/// assert_eq!(escape_controls("plain é"), "plain é");
/// assert_eq!(escape_controls("a\x1b[2Jb\r"), "a\\x1b[2Jb\\x0d");
/// assert_eq!(escape_controls("\u{202e}gpj.exe"), "\\u{202e}gpj.exe");
/// ```
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(risky) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !risky(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}
