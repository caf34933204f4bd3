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

use super::isolation::IsolationConfig;
use super::isolation::serve::Hello;
use super::isolation::wire::{Dec, Enc};
use super::isolation::worker::{Pool, ScanOutcome, Serves};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &[u8; 8] = b"IIOREG01";

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
#[derive(Clone)]
pub(crate) enum Scanned {
    /// Its table.
    Table(Hello),
    /// It loaded but is not a usable plugin: the message and the kind of
    /// `LoadError` (see `serve::load_error_kind`).
    Rejected(String, u8),
    /// Loading it crashed, aborted, exited or hung: the reason.
    Quarantined(String),
}

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

fn read_cache(path: &Path) -> Vec<Entry> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    match decode_cache(&bytes) {
        Ok(entries) => entries,
        Err(e) => {
            log::info!(
                "the plugin registry cache {} is unreadable ({e}); rebuilding it",
                path.display()
            );
            Vec::new()
        }
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
            1 => Scanned::Rejected(d.str()?, d.u8()?),
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
            Scanned::Rejected(msg, kind) => {
                m.u8(1).str(msg).u8(*kind);
            }
            Scanned::Quarantined(reason) => {
                m.u8(2).str(reason);
            }
        }
    }
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = crate::core::io::AtomicFile::beside(path, None)?;
        std::io::Write::write_all(&mut f.file(), &m.buf)?;
        f.commit(path)
    };
    if let Err(e) = write() {
        log::debug!("cannot write the plugin registry cache {}: {e}", path.display());
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
        let entries = loaded(&mut all, c);
        if let Some(e) = entries.iter().find(|e| e.print == print) {
            return Ok(e.scanned.clone());
        }
    }
    let scanned = match Pool::spawn(&Serves::File(path.to_owned()), program, config.scan_timeout) {
        Ok((hello, worker)) => {
            drop(worker);
            Scanned::Table(hello)
        }
        Err(ScanOutcome::Rejected(m, kind)) => Scanned::Rejected(m, kind),
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
    let environmental = matches!(scanned, Scanned::Rejected(_, 1));
    if let Some(c) = cache.as_ref().filter(|_| !environmental) {
        record(c, print, scanned.clone());
    }
    Ok(scanned)
}

/// Puts `scanned` in the cache for `print`, replacing the file's older
/// entries and dropping entries of files that are gone.
fn record(cache: &Path, print: Fingerprint, scanned: Scanned) {
    let mut all = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    // What other processes wrote since, then this entry.
    let mut entries = read_cache(cache);
    entries.retain(|e| e.print.path != print.path && e.print.path.exists());
    entries.push(Entry { print, scanned });
    write_cache(cache, &entries);
    all.retain(|(p, _)| p != cache);
    all.push((cache.to_owned(), entries));
}

/// The entries of `cache`, read from the file the first time.
fn loaded<'a>(all: &'a mut Vec<(PathBuf, Vec<Entry>)>, cache: &Path) -> &'a [Entry] {
    let i = match all.iter().position(|(p, _)| p == cache) {
        Some(i) => i,
        None => {
            all.push((cache.to_owned(), read_cache(cache)));
            all.len() - 1
        }
    };
    &all[i].1
}

/// Quarantines the plugin file `path` in the cache (its worker crashed
/// repeatedly), until the file changes or a rescan is forced.
pub(crate) fn quarantine(path: &Path, reason: &str, config: &IsolationConfig) {
    let Some(cache) = config.registry_cache.clone().or_else(cache_path) else {
        return;
    };
    let Ok(print) = Fingerprint::of(path) else { return };
    log::warn!("{}: quarantined: {reason}", path.display());
    let reason = format!("{reason} ({})", print.describe());
    record(&cache, print, Scanned::Quarantined(reason));
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
        let entries = read_cache(&cache);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].print, print);
        assert!(matches!(&entries[0].scanned, Scanned::Quarantined(r) if r == "boom"));
        std::fs::write(&cache, b"IIOREG01\x01\x00\x01\x00\xff\xff\xff\xff").unwrap();
        assert!(read_cache(&cache).is_empty());
        std::fs::write(&cache, b"something else").unwrap();
        assert!(read_cache(&cache).is_empty());
    }
}
