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
    /// A temporary file whose bytes are copied into the target on commit:
    /// for a target that must not be replaced (see [`InPlace`]).
    Spool(Spool),
}

/// Where a spooled output goes.
struct Spool {
    how: InPlace,
    /// The spool's name where the platform has no unnamed files.
    #[cfg(not(target_os = "linux"))]
    named: tempfile::TempPath,
}

/// Gives a reader waiting on the FIFO `path` an end of file, for a write
/// that ends without delivering anything to it (it failed, or wrote
/// nothing): opened without blocking (no error when nobody reads) and
/// closed. Nothing happens for any other kind of file.
pub(crate) fn release_fifo_reader(path: &Path) {
    #[cfg(unix)]
    if std::fs::metadata(path).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Why a target is written in place instead of replaced: the whole output
/// is produced first (formats may seek back), then copied into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InPlace {
    /// A FIFO, a character or block device (a terminal, `/dev/null`), or a
    /// socket: opened and written as a stream, never replaced.
    Special,
    /// One of this process's descriptors, named through a link
    /// (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`): written through a
    /// duplicate of the descriptor, where it stands (a pipe, a terminal, or
    /// a file the shell opened, its `>>` append mode kept).
    Descriptor(i32),
    /// A regular file with more than one name (hard links): every name
    /// sees the new content. Not atomic: a crash during the copy leaves the
    /// file partly written (as editors that keep links do).
    HardLinked,
}

/// How a write to `target` (a local path, links already resolved unless
/// they lead to a descriptor) must reach it: `None` for an atomic replace
/// (a new file, or a regular file with one name).
pub(crate) fn in_place(target: &Path) -> Option<InPlace> {
    match descriptor_link(target) {
        Some(Some(fd)) => return Some(InPlace::Descriptor(fd)),
        // Another process's descriptor: opened like any special file.
        Some(None) => return Some(InPlace::Special),
        None => {}
    }
    let m = std::fs::metadata(target).ok()?;
    if m.is_dir() {
        return None;
    }
    if !m.is_file() {
        return Some(InPlace::Special);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if m.nlink() > 1 {
            return Some(InPlace::HardLinked);
        }
    }
    None
}

/// Whether `path`, or a symbolic link on its way, names a process's
/// descriptor (`/dev/stdout`, `/dev/fd/N`, `/proc/<pid>/fd/N`).
pub(crate) fn through_descriptor_link(path: &Path) -> bool {
    descriptor_link(path).is_some()
}

/// The descriptor that `path` names through links, if it does: `Some(Some(n))`
/// for this process's descriptor `n` (`/dev/stdout` is 1, `/dev/fd/N` and
/// `/proc/self/fd/N` are N), `Some(None)` for another process's.
fn descriptor_link(path: &Path) -> Option<Option<i32>> {
    let me = std::process::id().to_string();
    let fd_of = |p: &Path| -> Option<Option<i32>> {
        let s = p.to_str()?;
        match s {
            "/dev/stdin" => return Some(Some(0)),
            "/dev/stdout" => return Some(Some(1)),
            "/dev/stderr" => return Some(Some(2)),
            _ => {}
        }
        if let Some(n) = s.strip_prefix("/dev/fd/") {
            return Some(n.parse().ok());
        }
        let (pid, n) = s.strip_prefix("/proc/")?.split_once("/fd/")?;
        let mine = pid == "self" || pid == "thread-self" || pid == me;
        Some(n.parse().ok().filter(|_| mine))
    };
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        if let Some(fd) = fd_of(&p) {
            return Some(fd);
        }
        let next = std::fs::read_link(&p).ok()?;
        p = match p.parent() {
            Some(dir) if next.is_relative() => lexical(&dir.join(next)),
            _ => next,
        };
    }
    None
}

/// `path` with `.` and `..` resolved by name (`/a/b/../c` is `/a/c`), as
/// the kernel resolves a link's relative target against its folder.
fn lexical(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Copies the whole spooled output into `target`. A hard-linked file gets
/// its new length reserved first (a full disk fails before a byte of the
/// old content is overwritten), is written over from its start, cut to the
/// new length and synced; anything else is written as a stream.
fn write_in_place(spool: &mut std::fs::File, target: &Path, how: InPlace) -> io::Result<()> {
    use io::Seek;
    spool.rewind()?;
    if how == InPlace::HardLinked {
        let len = spool.metadata()?.len();
        let mut file = std::fs::OpenOptions::new().write(true).open(target)?;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid descriptor and a range from 0.
            let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
            // EOPNOTSUPP/EINVAL: a file system that cannot reserve; go on.
            if r != 0 && r != libc::EOPNOTSUPP && r != libc::EINVAL {
                return Err(io::Error::from_raw_os_error(r));
            }
        }
        io::copy(spool, &mut file)?;
        file.set_len(len)?;
        return file.sync_all();
    }
    let mut out = open_in_place(target, how)?;
    io::copy(spool, &mut out)?;
    out.flush()
}

/// Opens `target` to be written in place as a stream: a duplicate of the
/// process's descriptor it names, a connection to a socket, or the target
/// opened for writing (nothing is created).
fn open_in_place(target: &Path, how: InPlace) -> io::Result<Box<dyn io::Write>> {
    #[cfg(unix)]
    if let InPlace::Descriptor(fd) = how {
        use std::os::fd::FromRawFd;
        // SAFETY: fcntl only reads the descriptor number; a closed one
        // fails with EBADF.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is a new descriptor that nothing else owns.
        return Ok(Box::new(unsafe { std::fs::File::from_raw_fd(dup) }));
    }
    #[cfg(unix)]
    if how == InPlace::Special
        && std::fs::metadata(target).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
    {
        return Ok(Box::new(std::os::unix::net::UnixStream::connect(target)?));
    }
    Ok(Box::new(std::fs::OpenOptions::new().write(true).open(target)?))
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

    /// The output file of a write to `target`: a new file beside it that
    /// replaces it on commit, or, for a target that must be written in place
    /// ([`in_place`]), a temporary file copied into it on commit (beside a
    /// hard-linked file, on its file system; elsewhere in the temporary
    /// folder, since a device's folder is `/dev`).
    pub(crate) fn for_target(target: &Path) -> io::Result<AtomicFile> {
        let Some(how) = in_place(target) else {
            return AtomicFile::beside(target, None);
        };
        let dir = match how {
            InPlace::HardLinked => target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_owned),
            _ => None,
        }
        .unwrap_or_else(std::env::temp_dir);
        #[cfg(target_os = "linux")]
        let (file, spool) = (tempfile::tempfile_in(&dir)?, Spool { how });
        #[cfg(not(target_os = "linux"))]
        let (file, spool) = {
            let (file, named) = tempfile::Builder::new()
                .prefix(".imageio-")
                .suffix(".part")
                .tempfile_in(&dir)?
                .into_parts();
            (file, Spool { how, named })
        };
        Ok(AtomicFile {
            file,
            kind: Kind::Spool(spool),
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
            #[cfg(target_os = "linux")]
            Kind::Spool(_) => {
                use std::os::fd::AsRawFd;
                std::path::PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
            }
            #[cfg(not(target_os = "linux"))]
            Kind::Spool(s) => s.named.to_path_buf(),
        }
    }

    /// Whether the commit replaces the target (else it writes into it).
    pub(crate) fn replaces(&self) -> bool {
        !matches!(self.kind, Kind::Spool(_))
    }

    /// Makes the file `target`: its bytes reach the disk, then its name
    /// (replacing `target` atomically), then the folder's entry.
    pub(crate) fn commit(mut self, target: &Path) -> io::Result<()> {
        if let Kind::Spool(spool) = &self.kind {
            return write_in_place(&mut self.file, target, spool.how);
        }
        self.file.sync_all()?;
        match self.kind {
            #[cfg(target_os = "linux")]
            Kind::Unnamed(dir) => link_unnamed(&self.file, &dir, target)?,
            Kind::Named(path) => path.persist(target).map_err(|e| e.error)?,
            Kind::Spool(_) => unreachable!("written in place above"),
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

/// Parses imageio's memory sizes (`"256MB"`, `"1GiB"`, `"1000"`): see
/// `Memtest::parse`.
pub(crate) fn parse_memory_size(s: &str) -> crate::error::Result<u64> {
    let bad =
        || crate::error::Error::InvalidArgument(format!("Memory size could not be parsed (is {s:?} a valid size?)"));
    let t = s.trim();
    let t = t.strip_suffix('B').unwrap_or(t);
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    // imageio's syntax: digits first (`\d+\.?\d*`), so ".5MB" is refused.
    if !num.starts_with(|c: char| c.is_ascii_digit()) || num.matches('.').count() > 1 {
        return Err(bad());
    }
    let num: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim();
    let (prefix, binary) = match unit.strip_suffix('i') {
        Some(p) => (p, true),
        None => (unit, false),
    };
    let power = match prefix {
        "" => 0,
        "k" if !binary => 1,
        "K" if binary => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        "E" => 6,
        "Z" => 7,
        "Y" => 8,
        _ => return Err(bad()),
    };
    if unit == "i" {
        return Err(bad());
    }
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    Ok((num * base.powi(power)) as u64)
}
