//! Scanning plugin files out of process, and the registry cache.
//!
//! A plugin file is known by its fingerprint: canonical path, size,
//! modification time, inode and device, and the host's ABI version. A file
//! whose fingerprint is not in the cache is loaded in a worker process that
//! sends its table; the outcome (the table, a clean rejection, or a
//! quarantine when loading crashed, aborted, exited or hung) goes into the
//! cache, so later starts read the table without running any plugin code.
//! A quarantined file is tried again only when it changes, or when a
//! rescan is forced ([`force_rescan`], `imageio plugins --rescan`).
//!
//! The cache is one file (`IMAGEIO_PLUGIN_CACHE`, else
//! `$XDG_CACHE_HOME/imageio/plugin-registry.bin` or
//! `~/.cache/imageio/plugin-registry.bin`), replaced atomically; one that
//! does not parse (corrupt, foreign, another version) is rebuilt.

use super::IsolationConfig;
use super::messages::{Hello, LoadFailure};
use super::process::{self, Launch, ScanOutcome, Serves};
use super::wire::{Dec, Enc};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &[u8; 8] = b"IIOREG03";

static RESCAN: AtomicBool = AtomicBool::new(false);
/// The cache as this process read it (once per cache file), behind the
/// lock that also serialises this process's writes of it.
static CACHE: Mutex<Vec<(PathBuf, Vec<Entry>)>> = Mutex::new(Vec::new());

/// Makes every plugin file of this process be scanned again, whatever the
/// cache says (quarantined files included), as `imageio plugins --rescan`
/// does. Call it before the plugins are loaded.
pub fn force_rescan() {
    RESCAN.store(true, Ordering::SeqCst);
}

/// What identifies one version of a plugin file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    pub dev: u64,
    pub abi: u32,
}

impl Fingerprint {
    pub(crate) fn of(path: &Path) -> std::io::Result<Fingerprint> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(Fingerprint {
            path: path.to_owned(),
            size: m.len(),
            mtime_ns: m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()),
            inode: m.ino(),
            dev: m.dev(),
            abi: imageio_plugin_api::ffi::IIO_ABI_VERSION,
        })
    }

    /// For messages: "12345 bytes, inode 678, modified at 1764644000 s".
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} bytes, inode {}, modified at {} s since 1970",
            self.size,
            self.inode,
            self.mtime_ns / 1_000_000_000
        )
    }

    fn encode(&self, m: &mut Enc) {
        m.str(&self.path.to_string_lossy())
            .u64(self.size)
            .i64(self.mtime_ns)
            .u64(self.inode)
            .u64(self.dev)
            .u32(self.abi);
    }

    fn decode(d: &mut Dec<'_>) -> std::io::Result<Fingerprint> {
        Ok(Fingerprint {
            path: PathBuf::from(d.str()?),
            size: d.u64()?,
            mtime_ns: d.i64()?,
            inode: d.u64()?,
            dev: d.u64()?,
            abi: d.u32()?,
        })
    }
}

/// What scanning a file found.
#[derive(Clone, Debug)]
pub(crate) enum Scanned {
    /// Its table.
    Table(Hello),
    /// It loaded but is not a usable plugin.
    Rejected(LoadFailure),
    /// Loading it crashed, aborted, exited or hung: the reason.
    Quarantined(String),
}

#[derive(Debug)]
struct Entry {
    print: Fingerprint,
    scanned: Scanned,
}

/// The cache file's place, if there is one.
fn cache_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IMAGEIO_PLUGIN_CACHE") {
        let p = PathBuf::from(p);
        return p.is_absolute().then_some(p);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::home_dir()
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".cache"))
        })?;
    Some(base.join("imageio").join("plugin-registry.bin"))
}

/// The cache's bytes, when the file is one this user may trust: a regular
/// file (not a link, a FIFO or a device: opened without following links
/// and without blocking), owned by this user, writable by no one else.
/// A cache that is absent reads as empty; one that is not trusted is
/// ignored with a warning (and never written over).
fn read_trusted(path: &Path) -> Result<Vec<u8>, String> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot open it ({e}): a symbolic link is not trusted")),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("it is not a regular file".into());
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!("it is owned by user {}, not by this user ({me})", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "it is writable by group or others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    let mut bytes = Vec::new();
    file.take(256 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn read_cache(path: &Path) -> Result<Vec<Entry>, String> {
    let bytes = read_trusted(path)?;
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    match decode_cache(&bytes) {
        Ok(entries) => Ok(entries),
        Err(e) => {
            log::info!(
                "the plugin registry cache {} is unreadable ({e}); rebuilding it",
                path.display()
            );
            Ok(Vec::new())
        }
    }
}

/// Holds the cache's lock file (`<cache>.lock`, created 0600) locked for
/// the life of the value: two processes updating the cache take turns, so
/// neither loses the other's entries.
struct CacheLock {
    _file: Option<std::fs::File>,
}

impl CacheLock {
    fn take(cache: &Path) -> CacheLock {
        let mut name = cache.as_os_str().to_owned();
        name.push(".lock");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(PathBuf::from(name))
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.file_type().is_file()));
        if let Some(f) = &file {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on an open descriptor; blocks until the other
            // process's update is done (a bounded, short critical section).
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        }
        CacheLock { _file: file }
    }
}

fn decode_cache(bytes: &[u8]) -> std::io::Result<Vec<Entry>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not a registry cache of this version");
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(bad)?;
    let mut d = Dec::new(rest);
    if d.u32()? != imageio_plugin_api::ffi::IIO_ABI_VERSION {
        return Err(bad());
    }
    let n = d.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let print = Fingerprint::decode(&mut d)?;
        let scanned = match d.u8()? {
            0 => Scanned::Table(Hello::decode(&mut d)?),
            1 => Scanned::Rejected(LoadFailure::decode(&mut d)?),
            2 => Scanned::Quarantined(d.str()?),
            _ => return Err(bad()),
        };
        out.push(Entry { print, scanned });
    }
    Ok(out)
}

fn write_cache(path: &Path, entries: &[Entry]) {
    let mut m = Enc::default();
    m.buf.extend_from_slice(MAGIC);
    m.u32(imageio_plugin_api::ffi::IIO_ABI_VERSION)
        .u32(entries.len() as u32);
    for e in entries {
        e.print.encode(&mut m);
        match &e.scanned {
            Scanned::Table(h) => {
                m.u8(0);
                h.encode(&mut m);
            }
            Scanned::Rejected(f) => {
                m.u8(1);
                f.encode(&mut m);
            }
            Scanned::Quarantined(reason) => {
                m.u8(2).str(reason);
            }
        }
    }
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let f = crate::base::io::AtomicFile::beside(path, None)?;
        use std::os::unix::fs::PermissionsExt;
        f.file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.file().write_all(&m.buf)?;
        f.commit(path)
    };
    if let Err(e) = write() {
        log::debug!("cannot write the plugin registry cache {}: {e}", path.display());
    }
}

/// The cache's entries, or why it is not used (said once per process).
fn trusted_entries(cache: &Path) -> Option<Vec<Entry>> {
    match read_cache(cache) {
        Ok(e) => Some(e),
        Err(why) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                log::warn!(
                    "not using the plugin registry cache {}: {why}; plugins are scanned afresh",
                    cache.display()
                )
            });
            None
        }
    }
}

/// The table of the plugin file `path` (canonical), from the cache or by
/// scanning it in a worker started from `program`; `Err` when no worker
/// could start (isolation is unavailable).
pub(crate) fn scan(path: &Path, program: &Path, config: &IsolationConfig) -> Result<Scanned, String> {
    let print = Fingerprint::of(path).map_err(|e| format!("cannot examine {}: {e}", path.display()))?;
    let cache = config.registry_cache.clone().or_else(cache_path);
    if !RESCAN.load(Ordering::SeqCst)
        && let Some(c) = &cache
    {
        let mut all = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entries) = loaded(&mut all, c)
            && let Some(e) = entries.iter().find(|e| e.print == print)
        {
            return Ok(e.scanned.clone());
        }
    }
    let launch = Launch {
        serves: &Serves::File(path.to_owned()),
        program,
        timeout: config.scan_timeout,
        memory_cap: Some(super::process::memory_cap(&crate::base::Limits::DEFAULT)),
        sandbox: config.sandbox,
        label: format!("plugin file {}", path.display()),
    };
    let scanned = match process::spawn(&launch) {
        Ok((hello, worker)) => {
            drop(worker);
            Scanned::Table(hello)
        }
        Err(ScanOutcome::Rejected(f)) => Scanned::Rejected(f),
        Err(ScanOutcome::Quarantine(reason)) => {
            let reason = format!("{reason} ({})", print.describe());
            log::warn!(
                "{} is quarantined: {reason}; it is not loaded until it changes (or `imageio plugins --rescan`)",
                path.display()
            );
            Scanned::Quarantined(reason)
        }
        Err(ScanOutcome::Unavailable(why)) => return Err(why),
    };
    // A library the dynamic loader refused (a missing dependency, another
    // LD_LIBRARY_PATH) may load in another environment: not remembered.
    let environmental = matches!(&scanned, Scanned::Rejected(f) if f.is_environmental());
    if let Some(c) = cache.as_ref().filter(|_| !environmental) {
        record(c, print, scanned.clone());
    }
    Ok(scanned)
}

/// Puts `scanned` in the cache for `print`, replacing the file's older
/// entries and dropping entries of files that are gone; under the cache's
/// lock, after reading what other processes wrote since. An untrusted
/// cache is left alone.
fn record(cache: &Path, print: Fingerprint, scanned: Scanned) {
    let mut all = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let lock = CacheLock::take(cache);
    let Some(mut entries) = trusted_entries(cache) else {
        return;
    };
    entries.retain(|e| e.print.path != print.path && e.print.path.exists());
    entries.push(Entry { print, scanned });
    write_cache(cache, &entries);
    drop(lock);
    all.retain(|(p, _)| p != cache);
    all.push((cache.to_owned(), entries));
}

/// The entries of `cache`, read from the file the first time (`None`: the
/// file is not trusted).
fn loaded<'a>(all: &'a mut Vec<(PathBuf, Vec<Entry>)>, cache: &Path) -> Option<&'a [Entry]> {
    let i = match all.iter().position(|(p, _)| p == cache) {
        Some(i) => i,
        None => {
            all.push((cache.to_owned(), trusted_entries(cache)?));
            all.len() - 1
        }
    };
    Some(&all[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_round_trips_and_garbage_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.so");
        std::fs::write(&f, b"x").unwrap();
        let print = Fingerprint::of(&f).unwrap();
        let cache = dir.path().join("c.bin");
        record(&cache, print.clone(), Scanned::Quarantined("boom".into()));
        let entries = read_cache(&cache).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].print, print);
        assert!(matches!(&entries[0].scanned, Scanned::Quarantined(r) if r == "boom"));
        assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o600);
        std::fs::write(&cache, b"IIOREG03\x01\x00\x01\x00\xff\xff\xff\xff").unwrap();
        assert!(read_cache(&cache).unwrap().is_empty());
        std::fs::write(&cache, b"something else").unwrap();
        assert!(read_cache(&cache).unwrap().is_empty());
    }

    #[test]
    fn a_cache_that_is_a_link_a_fifo_or_writable_by_others_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.so");
        std::fs::write(&f, b"x").unwrap();
        let real = dir.path().join("real.bin");
        record(&real, Fingerprint::of(&f).unwrap(), Scanned::Quarantined("boom".into()));
        let link = dir.path().join("link.bin");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(read_cache(&link).unwrap_err().contains("link"));
        let fifo = dir.path().join("fifo.bin");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(
            read_cache(&fifo).unwrap_err().contains("regular"),
            "a FIFO is refused without blocking"
        );
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read_cache(&real).unwrap_err().contains("writable"));
        // Recording into an untrusted cache leaves it alone.
        let before = std::fs::read(&real).unwrap();
        record(
            &real,
            Fingerprint::of(&f).unwrap(),
            Scanned::Quarantined("other".into()),
        );
        assert_eq!(std::fs::read(&real).unwrap(), before);
    }
}
