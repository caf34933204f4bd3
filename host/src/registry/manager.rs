//! [`FormatManager`]: the registry of formats, plugin discovery, format
//! selection, and the global manager [`formats()`].

use super::{Format, Reader, Writer};
use crate::error::{Error, Result};
use crate::plugin::loader::{LoadError, PluginTable};
use crate::plugin::{IsolationConfig, Origin, PluginReport, PluginStatus};
use crate::request::{IoMode, Request};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};

#[derive(Default)]
struct Inner {
    formats: Vec<Format>,
    sorted: Vec<Format>,
    reports: Vec<PluginReport>,
    loaded_paths: HashSet<PathBuf>,
}

/// A registry of formats (imageio's `FormatManager`). The global one is
/// [`formats()`]; a program may create its own (scoped registration).
///
/// ```
/// use imageio::FormatManager;
/// let fm = FormatManager::with_builtins();
/// assert_eq!(fm.get(".png").unwrap().name(), "PNG");
/// assert_eq!(fm.get("pgm").unwrap().name(), "PNM");
/// ```
pub struct FormatManager {
    inner: RwLock<Inner>,
    isolation: RwLock<IsolationConfig>,
    /// Isolation could not start, and the host said so (once).
    said_unavailable: std::sync::atomic::AtomicBool,
}

impl Default for FormatManager {
    fn default() -> FormatManager {
        FormatManager {
            inner: RwLock::default(),
            isolation: RwLock::new(IsolationConfig::from_env()),
            said_unavailable: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// The plugin directories, in search order: each absolute entry of
/// `IMAGEIO_PLUGIN_PATH` (`:`-separated, `;` on Windows; a relative entry is
/// ignored with a warning, never resolved against the current folder), then
/// the `plugins` folder of the installed resources
/// ([`resource_package_dir`](crate::resource_package_dir)), of the user's
/// imageio folder (left out when that folder is not the user's own: an empty
/// or relative `IMAGEIO_USERDIR`, or the `/var/tmp` fallback of a user
/// without a home folder), and of the executable's folder.
pub fn plugin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(p) = std::env::var_os("IMAGEIO_PLUGIN_PATH") {
        for d in std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()) {
            if d.is_absolute() {
                dirs.push(d);
            } else {
                log::warn!(
                    "ignoring the plugin folder '{}' in IMAGEIO_PLUGIN_PATH: plugin folders must be absolute paths",
                    d.display()
                );
            }
        }
    }
    let dirs_of = [
        crate::base::dirs::resource_package_dir(),
        crate::base::dirs::user_plugin_home(),
        crate::base::dirs::exe_dir(),
    ];
    dirs.extend(dirs_of.into_iter().flatten().map(|d| d.join("plugins")));
    dirs
}

impl FormatManager {
    /// An empty manager.
    pub fn new() -> FormatManager {
        FormatManager::default()
    }

    /// A manager with the standard plugins compiled into this program.
    pub fn with_builtins() -> FormatManager {
        let fm = FormatManager::new();
        fm.add_builtins();
        fm
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// How this manager isolates plugins (from the environment unless set).
    pub fn isolation(&self) -> IsolationConfig {
        self.isolation.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets how plugins loaded from now on are isolated.
    ///
    /// ```
    /// use imageio::plugin::{Isolation, IsolationConfig};
    /// let fm = imageio::FormatManager::new();
    /// fm.set_isolation(IsolationConfig { policy: Isolation::Off, ..IsolationConfig::default() });
    /// assert_eq!(fm.isolation().policy, Isolation::Off);
    /// ```
    pub fn set_isolation(&self, config: IsolationConfig) {
        *self.isolation.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    /// Registers the builtin plugins (PNG, PNM, JPEG, TIFF, GIF, BMP, NPY,
    /// WEBP); in a worker process each when the policy is
    /// [`Isolation::All`](crate::plugin::Isolation::All).
    pub fn add_builtins(&self) {
        let config = self.isolation();
        for (id, accessor) in crate::plugin::builtins::builtins() {
            let origin = Origin::Builtin(id.to_owned());
            let table = crate::plugin::provision::builtin(accessor, id, &config, &|why, in_process| {
                self.say_unavailable(why, in_process)
            });
            match table {
                Ok((table, isolated)) => self.register_table(table, origin, isolated),
                Err(e) => self.write().reports.push(PluginReport {
                    origin,
                    id: Some(id.to_owned()),
                    status: PluginStatus::Rejected,
                    reason: e.to_string(),
                    formats: Vec::new(),
                    isolated: false,
                }),
            }
        }
    }

    /// Says once per manager that isolation cannot start.
    fn say_unavailable(&self, why: &str, in_process: bool) {
        if !self.said_unavailable.swap(true, std::sync::atomic::Ordering::SeqCst) {
            if in_process {
                log::warn!(
                    "plugin isolation cannot start ({why}); running the plugins in this process, as                      IMAGEIO_ISOLATION_FALLBACK=in-process asks"
                );
            } else {
                log::warn!("plugin isolation cannot start ({why}); the plugins that must run isolated are not loaded");
            }
        }
    }

    fn register_table(&self, table: PluginTable, origin: Origin, isolated: bool) {
        let mut registered = Vec::new();
        let mut shadowed = Vec::new();
        let mut invalid = Vec::new();
        for spec in table.formats {
            let format = match Format::from_spec(
                &spec.name,
                &spec.description,
                &spec.extensions,
                &spec.modes,
                spec.signatures,
                spec.backend,
            ) {
                Ok(f) => f,
                Err(e) => {
                    invalid.push(format!("{}: {e}", spec.name));
                    continue;
                }
            };
            let name = format.name().to_owned();
            let mut inner = self.write();
            if inner.formats.iter().any(|f| f.name() == name) {
                let winner = inner
                    .formats
                    .iter()
                    .find(|f| f.name() == name)
                    .map(|f| f.origin().to_string());
                log::warn!(
                    "format {name} from {origin} is shadowed by the one already registered from {}",
                    winner.unwrap_or_default()
                );
                shadowed.push(name);
                continue;
            }
            inner.formats.push(format.clone());
            inner.sorted.push(format);
            registered.push(name);
        }
        let status = if registered.is_empty() && !shadowed.is_empty() {
            PluginStatus::Shadowed
        } else if registered.is_empty() {
            PluginStatus::Rejected
        } else {
            PluginStatus::Loaded
        };
        let mut reason = Vec::new();
        if !shadowed.is_empty() {
            reason.push(format!("already registered: {}", shadowed.join(", ")));
        }
        if !invalid.is_empty() {
            reason.push(format!("invalid formats: {}", invalid.join("; ")));
        }
        self.write().reports.push(PluginReport {
            origin,
            id: Some(table.id),
            status,
            reason: reason.join("; "),
            formats: registered,
            isolated,
        });
    }

    /// Loads one plugin library and registers its formats (a format whose
    /// name is taken is recorded as shadowed). The outcome is also recorded
    /// in [`plugin_reports`](Self::plugin_reports).
    ///
    /// # Safety
    ///
    /// Loading a library runs its initialisers and its entry point: arbitrary
    /// foreign code, "conceptually the same as calling an unknown foreign
    /// function". Only load files you trust.
    pub unsafe fn load_plugin(&self, path: &Path) -> Result<Vec<String>, LoadError> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        if !self.write().loaded_paths.insert(canonical.clone()) {
            return Ok(Vec::new());
        }
        let config = self.isolation();
        let say = |why: &str, in_process: bool| self.say_unavailable(why, in_process);
        // SAFETY: forwarded from this function's contract.
        match unsafe { crate::plugin::provision::file(&canonical, &config, &say) } {
            Ok((table, isolated)) => {
                self.register_table(table, Origin::File(canonical), isolated);
                Ok(self
                    .read()
                    .reports
                    .last()
                    .map(|r| r.formats.clone())
                    .unwrap_or_default())
            }
            Err(e) => {
                if matches!(e, LoadError::Quarantined { .. }) {
                    // Said loudly when it happened (the scan); later starts
                    // list it in `imageio plugins`.
                    log::info!("{e}");
                } else {
                    log::warn!("{e}");
                }
                let status = if matches!(e, LoadError::Quarantined { .. }) {
                    PluginStatus::Quarantined
                } else {
                    PluginStatus::Rejected
                };
                self.write().reports.push(PluginReport {
                    origin: Origin::File(canonical),
                    id: None,
                    status,
                    reason: e.to_string(),
                    formats: Vec::new(),
                    isolated: false,
                });
                Err(e)
            }
        }
    }

    /// Loads every shared library (by the platform's suffix) in `dirs`, each
    /// directory in turn, its files sorted by name. Missing directories are
    /// skipped. A folder or file that is not trusted (a relative folder;
    /// writable by group or others; owned by another user than this one or
    /// root; a symbolic link is judged by its target) is refused with a
    /// warning and recorded in [`plugin_reports`](Self::plugin_reports) with
    /// the reason.
    ///
    /// # Safety
    ///
    /// Every trusted library in those folders is loaded, which runs its
    /// initialisers and its entry point: arbitrary foreign code. Only name
    /// folders whose every file you trust (see [`load_plugin`](Self::load_plugin)).
    pub unsafe fn load_plugin_dirs(&self, dirs: &[PathBuf]) {
        let suffix = std::env::consts::DLL_EXTENSION;
        for dir in dirs {
            if !dir.is_dir() {
                continue;
            }
            if let Err(reason) = crate::plugin::trust::check(dir) {
                self.refuse(dir, format!("plugin folder refused: {reason}; nothing in it is loaded"));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == suffix))
                .collect();
            files.sort();
            for f in files {
                if let Err(reason) = crate::plugin::trust::check(&f) {
                    self.refuse(&f, format!("plugin file refused: {reason}"));
                    continue;
                }
                // SAFETY: the caller vouches for every file in these folders
                // (this function's contract), and the file passed the checks.
                let _ = unsafe { self.load_plugin(&f) };
            }
        }
    }

    /// Records (and logs) a plugin folder or file that is not loaded.
    fn refuse(&self, path: &Path, reason: String) {
        log::warn!("{reason}");
        self.write().reports.push(PluginReport {
            origin: Origin::File(path.to_owned()),
            id: None,
            status: PluginStatus::Rejected,
            reason,
            formats: Vec::new(),
            isolated: false,
        });
    }

    /// Every plugin considered (builtins first), with its outcome.
    pub fn plugin_reports(&self) -> Vec<PluginReport> {
        self.read().reports.clone()
    }

    /// Number of registered formats.
    pub fn len(&self) -> usize {
        self.read().formats.len()
    }

    /// Whether no format is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The formats in preference order.
    pub fn formats(&self) -> Vec<Format> {
        self.read().sorted.clone()
    }

    /// The format names in preference order.
    pub fn get_format_names(&self) -> Vec<String> {
        self.read().sorted.iter().map(|f| f.name().to_owned()).collect()
    }

    /// Registers `format`. A name already taken is an error unless
    /// `overwrite`, which removes the old format; the new one goes last.
    pub fn add_format(&self, format: Format, overwrite: bool) -> Result<()> {
        let mut inner = self.write();
        if inner.formats.iter().any(|f| f.same_as(&format)) {
            return Err(Error::InvalidArgument(
                "Given Format instance is already registered".into(),
            ));
        }
        if inner.formats.iter().any(|f| f.name() == format.name()) {
            if !overwrite {
                return Err(Error::InvalidArgument(format!(
                    "A Format named '{}' is already registered, use overwrite=True to replace.",
                    format.name()
                )));
            }
            inner.formats.retain(|f| f.name() != format.name());
            inner.sorted.retain(|f| f.name() != format.name());
        }
        inner.formats.push(format.clone());
        inner.sorted.push(format);
        Ok(())
    }

    /// Looks a format up by name, extension or file name (imageio's
    /// `formats[name]`): an existing file is probed; a name with a dot is an
    /// extension; else an exact name, then a name before `-`, then the name
    /// as an extension.
    pub fn get(&self, name: &str) -> Result<Format> {
        if name.is_empty() {
            return Err(Error::InvalidArgument("No format matches the empty string.".into()));
        }
        if Path::new(name).is_file()
            && let Ok(mut req) = Request::new(name, "r?")
            && let Some(f) = self.search_read_format(&mut req)?
        {
            return Ok(f);
        }
        let sorted = self.formats();
        if name.contains('.') {
            let lower = name.to_lowercase();
            let ext = match lower.rfind('.') {
                Some(i) if i > 0 && !lower[..i].ends_with(['/', '\\']) => lower[i..].to_owned(),
                _ => lower.clone(),
            };
            return sorted
                .into_iter()
                .find(|f| f.extensions().contains(&ext))
                .ok_or(Error::UnknownFormat { name: ext });
        }
        let upper = name.to_uppercase();
        if let Some(f) = sorted.iter().find(|f| f.name() == upper) {
            return Ok(f.clone());
        }
        if let Some(f) = sorted
            .iter()
            .find(|f| f.name().rsplit_once('-').map(|(a, _)| a) == Some(&upper))
        {
            return Ok(f.clone());
        }
        let ext = format!(".{}", name.to_lowercase());
        if let Some(f) = sorted.iter().find(|f| f.extensions().contains(&ext)) {
            return Ok(f.clone());
        }
        Err(Error::UnknownFormat { name: upper })
    }

    /// Puts the named formats first (imageio's `sort`): by the first name's
    /// score (exact match 2, name ending with it 1), then the second's, ...,
    /// then registration order. Each call starts from registration order;
    /// no names resets it.
    pub fn sort(&self, names: &[&str]) -> Result<()> {
        for n in names {
            if n.contains('.') || n.contains(',') {
                return Err(Error::InvalidArgument(
                    "Names given to formats.sort() should not contain dots or commas.".into(),
                ));
            }
        }
        let names: Vec<String> = names.iter().map(|n| n.trim().to_uppercase()).collect();
        let mut inner = self.write();
        let mut sorted = inner.formats.clone();
        for name in names.iter().rev() {
            sorted.sort_by_key(|f| -(i32::from(f.name() == name) + i32::from(f.name().ends_with(name.as_str()))));
        }
        inner.sorted = sorted;
        Ok(())
    }

    /// The formats in search order, not yet probed: pass 1 (modes and
    /// extension fit) then pass 2 (all the others), each in preference order.
    fn search_order(&self, request: &Request) -> Vec<Format> {
        let select = request.mode().image.select_char();
        let ext = request.extension().map(str::to_lowercase);
        let fits = |f: &Format| {
            select.is_none_or(|c| f.modes().contains(c)) && ext.as_ref().is_some_and(|e| f.extensions().contains(e))
        };
        let (first, second): (Vec<Format>, Vec<Format>) = self.formats().into_iter().partition(fits);
        first.into_iter().chain(second).collect()
    }

    /// Asks `format` whether it can read (or write) the request, under the
    /// one rule every search follows: a plugin that fails to answer (its
    /// worker died, its library does not load, it broke the ABI: an error of
    /// kind `Plugin`) is passed over with a warning, so one broken plugin
    /// does not stop the others, and its error is kept (`broken`) for when
    /// no format is found; any other error (the source cannot be read)
    /// ends the search.
    fn probe(format: &Format, request: &mut Request, write: bool, broken: &mut Option<Error>) -> Result<bool> {
        let ok = if write {
            format.can_write(request)
        } else {
            format.can_read(request)
        };
        match ok {
            Err(e) if e.kind() == crate::ErrorKind::Plugin => {
                log::warn!("{e}; trying the other formats");
                broken.get_or_insert(e);
                Ok(false)
            }
            other => other,
        }
    }

    /// The first format in search order that can read (or write) the
    /// request (see [`probe`](Self::probe) for broken plugins).
    fn search(&self, request: &mut Request, write: bool) -> Result<Option<Format>> {
        let mut broken = None;
        for f in self.search_order(request) {
            if Self::probe(&f, request, write, &mut broken)? {
                return Ok(Some(f));
            }
        }
        match broken {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// The first format (pass 1: modes and extension fit; pass 2: the rest)
    /// that can read the request, or `None`.
    pub fn search_read_format(&self, request: &mut Request) -> Result<Option<Format>> {
        self.search(request, false)
    }

    /// The first format that can write the request, or `None`.
    pub fn search_write_format(&self, request: &mut Request) -> Result<Option<Format>> {
        self.search(request, true)
    }

    fn no_format(&self, request: &Request, action: &'static str) -> Error {
        let mut hint = String::new();
        if request.path().is_some_and(|p| p.is_dir()) {
            hint = ": it is a directory".into();
        } else if let Some(ext) = request.extension()
            && !self
                .formats()
                .iter()
                .any(|f| f.extensions().iter().any(|e| e == &ext.to_lowercase()))
        {
            hint = format!(": no registered format handles '{ext}'");
        }
        // Plugins that could not be loaded may be why: each says what
        // happened and what to do, so no log is needed to find out.
        let broken: Vec<String> = self
            .read()
            .reports
            .iter()
            .filter(|r| matches!(r.status, PluginStatus::Quarantined | PluginStatus::Rejected))
            .map(|r| r.reason.clone())
            .collect();
        match broken.as_slice() {
            [] => {}
            [one] => hint.push_str(&format!("; a plugin was not loaded: {one}")),
            [first, rest @ ..] => hint.push_str(&format!(
                "; {} plugins were not loaded (`imageio plugins` lists them), the first: {first}",
                rest.len() + 1
            )),
        }
        Error::NoFormatFound {
            action,
            uri: Error::short_uri(request.filename()),
            mode: request.mode().image.name(),
            hint,
        }
    }

    /// A reader for a request: the named format, or the formats that can
    /// read it in search order; when one fails to open, the next is tried
    /// and the first error is reported if none succeeds.
    pub fn reader_for(&self, request: Request, format: Option<&str>) -> Result<Reader> {
        if let Some(name) = format {
            return self.get(name)?.get_reader(request);
        }
        let mut request = Box::new(request);
        let mut first_error = None;
        let mut broken = None;
        // Probe lazily: a format is asked only when every earlier one could
        // not read or failed to open (the search's rule for broken plugins).
        for f in self.search_order(&request) {
            if !Self::probe(&f, &mut request, false, &mut broken)? {
                continue;
            }
            request.rewind()?;
            match f.try_reader(request) {
                Ok(r) => return Ok(r),
                Err((e, back)) => {
                    log::debug!("format {} could not open {}: {e}", f.name(), back.filename());
                    first_error.get_or_insert(e);
                    request = back;
                }
            }
        }
        Err(first_error
            .or(broken)
            .unwrap_or_else(|| self.no_format(&request, "read")))
    }

    /// A writer for a request: the named format, or the first that can write it.
    pub fn writer_for(&self, mut request: Request, format: Option<&str>) -> Result<Writer> {
        if request.mode().io != IoMode::Write {
            return Err(Error::InvalidArgument("a writer needs a request in write mode".into()));
        }
        let f = match format {
            Some(name) => self.get(name)?,
            None => self
                .search_write_format(&mut request)?
                .ok_or_else(|| self.no_format(&request, "write"))?,
        };
        f.get_writer(request)
    }

    /// The list of formats, one per line: `NAME - description [.ext, ...]`
    /// (imageio's `show()` text).
    pub fn show(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for FormatManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for format in self.formats() {
            writeln!(
                f,
                "{} - {} [{}]",
                format.name(),
                format.description(),
                format.extensions().join(", ")
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for FormatManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<imageio.FormatManager with {} registered formats>", self.len())
    }
}

/// The process-wide manager: the builtins, then the plugins found in
/// [`plugin_dirs`], ordered by `IMAGEIO_FORMAT_ORDER` (comma-separated names
/// for [`FormatManager::sort`]; an invalid value is logged and ignored).
///
/// ```
/// let names = imageio::formats().get_format_names();
/// assert!(names.iter().any(|n| n == "PNG") && names.iter().any(|n| n == "PNM"));
/// ```
pub fn formats() -> &'static FormatManager {
    static GLOBAL: OnceLock<FormatManager> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let fm = FormatManager::with_builtins();
        // SAFETY: the plugin folders are the user's own configuration
        // (`IMAGEIO_PLUGIN_PATH`, the installed and user plugin folders, the
        // program's folder), the places a user puts plugins they trust.
        unsafe { fm.load_plugin_dirs(&plugin_dirs()) };
        if let Ok(order) = std::env::var("IMAGEIO_FORMAT_ORDER") {
            let names: Vec<&str> = order.split(',').collect();
            if let Err(e) = fm.sort(&names) {
                log::warn!("ignoring IMAGEIO_FORMAT_ORDER={order:?}: {e}");
            }
        }
        fm
    })
}

/// Whether a format of that name (or extension) is available in the global
/// manager: the Rust counterpart of imageio's `has_module`.
///
/// ```
/// assert!(imageio::has_module("PNG"));
/// assert!(!imageio::has_module("NO-SUCH-FORMAT"));
/// ```
pub fn has_module(name: &str) -> bool {
    formats().get(name).is_ok()
}
