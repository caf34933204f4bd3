//! Running plugins in worker processes, and the policy that decides which.
//!
//! The host's side:
//! - here: [`Isolation`] (the policy) and [`IsolationConfig`] (policy, per
//!   plugin choices, the worker program, limits), read from the
//!   environment or set through the API, and where the worker program is
//!   found;
//! - `scan`: scanning plugin files in a worker, the registry cache;
//! - `pool`: each plugin's workers, one call at a time on each, the
//!   worker's callbacks served while it works;
//! - `process`: starting, ending and reaping one worker process, and its
//!   output;
//! - `isolated`: the isolated backend (`IsolatedFormat`), behind the same
//!   seam as the in-process one; `buffer`: the host's array an image
//!   decoded in a worker lands in.
//!
//! Both sides:
//! - `wire`: the socket and the encoding of values; `messages`: the
//!   structured messages; `shm`: sealed shared memory for pixels.
//!
//! The worker's side:
//! - `worker`: what a worker process runs; `sandbox`: how it confines
//!   itself.
//!
//! Isolation needs Linux (memfd, `SOCK_SEQPACKET`, Landlock, seccomp).

#[cfg(target_os = "linux")]
pub(crate) mod buffer;
#[cfg(target_os = "linux")]
pub(crate) mod isolated;
#[cfg(target_os = "linux")]
pub(crate) mod messages;
#[cfg(target_os = "linux")]
pub(crate) mod pool;
#[cfg(target_os = "linux")]
pub(crate) mod process;
#[cfg(target_os = "linux")]
pub(crate) mod sandbox;
#[cfg(target_os = "linux")]
pub(crate) mod scan;
#[cfg(target_os = "linux")]
pub(crate) mod shm;
#[cfg(target_os = "linux")]
pub(crate) mod wire;
#[cfg(target_os = "linux")]
pub(crate) mod worker;

use std::path::PathBuf;
use std::time::Duration;

/// Which plugins run in a worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Every plugin runs in this process (a crash in a plugin is a crash of
    /// the program).
    Off,
    /// Plugins loaded from files run isolated; the builtins, compiled into
    /// the program, run in it. The default.
    #[default]
    ThirdParty,
    /// Every plugin runs isolated, the builtins too.
    All,
}

impl Isolation {
    /// `off`, `third-party` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Off => "off",
            Isolation::ThirdParty => "third-party",
            Isolation::All => "all",
        }
    }

    fn parse(text: &str) -> Option<Isolation> {
        match text.trim() {
            "off" | "none" | "in-process" => Some(Isolation::Off),
            "third-party" | "default" => Some(Isolation::ThirdParty),
            "all" => Some(Isolation::All),
            _ => None,
        }
    }
}

/// How plugins are isolated: the policy, per-plugin exceptions, the worker
/// program and its limits.
///
/// ```
/// use imageio::plugin::{Isolation, IsolationConfig};
/// let c = IsolationConfig::parse("third-party,imageio-png=all,liar=off").unwrap();
/// assert_eq!(c.policy, Isolation::ThirdParty);
/// assert!(c.isolates("liar", false) == false && c.isolates("other", false));
/// assert!(!c.isolates("imageio-gif", true) && c.isolates("imageio-png", true));
/// ```
#[derive(Debug, Clone)]
pub struct IsolationConfig {
    /// The policy.
    pub policy: Isolation,
    /// Exceptions by plugin id: `true` runs that plugin isolated, `false`
    /// in this process, whatever the policy.
    pub per_plugin: Vec<(String, bool)>,
    /// The worker program; `None` looks for it (see
    /// [`worker_program`](Self::worker_program)).
    pub worker: Option<PathBuf>,
    /// How long one call into an isolated plugin may run (the time the
    /// worker computes; time the host spends serving its reads does not
    /// count; the call may take at most 4 times this in all).
    /// `IMAGEIO_PLUGIN_TIMEOUT` in seconds; 30 s by default.
    pub call_timeout: Duration,
    /// How long scanning a new plugin (loading it and reading its table in
    /// a child process) may take: `IMAGEIO_SCAN_TIMEOUT` in seconds, 10 s
    /// by default.
    pub scan_timeout: Duration,
    /// The most worker processes one plugin runs at once: calls from
    /// different threads run in parallel, each on a worker of its own
    /// (separate processes are safe for any plugin, thread-safe or not).
    /// `IMAGEIO_WORKERS`; by default the number of cores (at most 8).
    pub max_workers: usize,
    /// Whether workers sandbox themselves (Landlock and seccomp: no files
    /// but the ones the host passes, no network, no programs; see the
    /// crate's README). On by default; `IMAGEIO_SANDBOX=off` turns it off.
    pub sandbox: bool,
    /// Map pixels from the worker's shared memory into the host's array
    /// instead of copying them (on by default). The mapping is private and
    /// sealed; programs that install a global allocator which assumes
    /// memory returned to it with `MADV_DONTNEED` reads as zeros may set
    /// `IMAGEIO_ISOLATION_COPY=1` to copy instead.
    pub zero_copy: bool,
    /// The registry cache file; `None` is the default place
    /// (`IMAGEIO_PLUGIN_CACHE`, else the user's cache folder).
    pub registry_cache: Option<PathBuf>,
    /// Where isolation cannot start (no worker program, not Linux): `false`
    /// (the default) refuses the plugins that must run isolated, with an
    /// error saying why; `true` runs them in this process, with a warning.
    pub fallback_in_process: bool,
}

impl Default for IsolationConfig {
    fn default() -> IsolationConfig {
        IsolationConfig {
            policy: Isolation::ThirdParty,
            per_plugin: Vec::new(),
            worker: None,
            call_timeout: Duration::from_secs(30),
            scan_timeout: Duration::from_secs(10),
            max_workers: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
            sandbox: true,
            zero_copy: true,
            registry_cache: None,
            fallback_in_process: false,
        }
    }
}

impl IsolationConfig {
    /// `policy[,plugin-id=policy...]`, the form of `IMAGEIO_ISOLATION`
    /// (`off`, `third-party`, `all`; per plugin, `off` runs it in process,
    /// anything else isolated).
    pub fn parse(text: &str) -> Result<IsolationConfig, String> {
        let mut c = IsolationConfig::default();
        for (i, item) in text.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            match item.split_once('=') {
                None if i == 0 => {
                    c.policy = Isolation::parse(item)
                        .ok_or_else(|| format!("{item:?} is not an isolation policy (off, third-party, all)"))?;
                }
                None => return Err(format!("{item:?}: per-plugin entries are id=policy")),
                Some((id, p)) => {
                    let p = Isolation::parse(p)
                        .ok_or_else(|| format!("{p:?} is not an isolation policy (off, third-party, all)"))?;
                    c.per_plugin.push((id.trim().to_owned(), p != Isolation::Off));
                }
            }
        }
        Ok(c)
    }

    /// The configuration from the environment: `IMAGEIO_ISOLATION`,
    /// `IMAGEIO_WORKER`, `IMAGEIO_PLUGIN_TIMEOUT` and `IMAGEIO_SCAN_TIMEOUT`
    /// (seconds), `IMAGEIO_WORKERS`, `IMAGEIO_SANDBOX=off`,
    /// `IMAGEIO_ISOLATION_COPY=1`, `IMAGEIO_ISOLATION_FALLBACK=in-process`.
    /// A value that does not parse is logged and the default kept.
    pub fn from_env() -> IsolationConfig {
        let mut c = match std::env::var("IMAGEIO_ISOLATION") {
            Ok(t) => IsolationConfig::parse(&t).unwrap_or_else(|e| {
                log::warn!("ignoring IMAGEIO_ISOLATION ({e}); plugins from files run isolated");
                IsolationConfig::default()
            }),
            Err(_) => IsolationConfig::default(),
        };
        c.worker = std::env::var_os("IMAGEIO_WORKER").map(PathBuf::from);
        for (var, slot) in [
            ("IMAGEIO_PLUGIN_TIMEOUT", &mut c.call_timeout),
            ("IMAGEIO_SCAN_TIMEOUT", &mut c.scan_timeout),
        ] {
            if let Ok(t) = std::env::var(var) {
                match t.trim().parse::<f64>() {
                    Ok(s) if s > 0.0 => match Duration::try_from_secs_f64(s) {
                        Ok(d) => *slot = d,
                        Err(_) => log::warn!("ignoring {var}={t:?} (too large)"),
                    },
                    _ => log::warn!("ignoring {var}={t:?} (seconds, more than 0)"),
                }
            }
        }
        if let Ok(t) = std::env::var("IMAGEIO_WORKERS") {
            match t.trim().parse::<usize>() {
                Ok(n) if n > 0 => c.max_workers = n,
                _ => log::warn!("ignoring IMAGEIO_WORKERS={t:?} (a number of workers, more than 0)"),
            }
        }
        c.sandbox = std::env::var("IMAGEIO_SANDBOX").map_or(true, |v| v.trim() != "off");
        c.zero_copy = std::env::var("IMAGEIO_ISOLATION_COPY").map_or(true, |v| v != "1");
        c.fallback_in_process = std::env::var("IMAGEIO_ISOLATION_FALLBACK").is_ok_and(|v| v == "in-process");
        c
    }

    /// Whether the plugin `id` runs isolated (`builtin`: compiled into the
    /// program).
    pub fn isolates(&self, id: &str, builtin: bool) -> bool {
        if let Some((_, on)) = self.per_plugin.iter().rev().find(|(p, _)| p == id) {
            return *on;
        }
        match self.policy {
            Isolation::Off => false,
            Isolation::ThirdParty => !builtin,
            Isolation::All => true,
        }
    }

    /// The worker program, or why there is none (the places looked in,
    /// and the fixes). The lookup order:
    ///
    /// 1. [`IsolationConfig::worker`] (from the API, or `IMAGEIO_WORKER`);
    /// 2. the running program itself, when it called
    ///    [`serve_if_worker`](crate::plugin::serve_if_worker) at the top of
    ///    `main` (nothing needs to be shipped);
    /// 3. `imageio-worker` beside the running program;
    /// 4. `<prefix>/libexec/imageio/imageio-worker`, where the library that
    ///    holds this code is `<prefix>/lib/...` (an installed shared
    ///    library), or the program is `<prefix>/bin/...`.
    pub fn worker_program(&self) -> Result<PathBuf, String> {
        if !cfg!(target_os = "linux") {
            return Err("plugin isolation needs Linux (memfd and SOCK_SEQPACKET sockets)".into());
        }
        if let Some(p) = &self.worker {
            return if p.is_file() {
                Ok(p.clone())
            } else {
                Err(format!(
                    "the worker program {} (IMAGEIO_WORKER or IsolationConfig::worker) is missing",
                    p.display()
                ))
            };
        }
        if crate::plugin::is_own_worker()
            && let Ok(me) = std::env::current_exe()
        {
            return Ok(me);
        }
        let name = format!("imageio-worker{}", std::env::consts::EXE_SUFFIX);
        let mut looked = Vec::new();
        if let Some(d) = crate::base::dirs::exe_dir() {
            looked.push(d.join(&name));
            // A test program of cargo's runs from target/<profile>/deps,
            // beside which cargo puts the workspace's programs.
            if d.ends_with("deps")
                && let Some(p) = d.parent()
            {
                looked.push(p.join(&name));
            }
            if let Some(prefix) = d.parent() {
                looked.push(prefix.join("libexec").join("imageio").join(&name));
            }
        }
        if let Some(lib) = library_path()
            && let Some(prefix) = lib.parent().and_then(|d| d.parent())
        {
            looked.push(prefix.join("libexec").join("imageio").join(&name));
        }
        looked.dedup();
        if let Some(found) = looked.iter().find(|p| p.is_file()) {
            return Ok(found.clone());
        }
        Err(format!(
            "no worker program to run it in (looked for {}); fix: call \
             imageio::plugin::serve_if_worker() first thing in main, install imageio-worker beside the \
             program, set IMAGEIO_WORKER, or run plugins in this process (IMAGEIO_ISOLATION=off)",
            looked
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The file holding this code: the shared library the host is part of, or
/// the program it is linked into.
fn library_path() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        // SAFETY: dladdr only reads the loader's tables for an address of
        // this library's own code; `info` is written by it.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        let here = library_path as *const () as *const libc::c_void;
        // SAFETY: as above.
        if unsafe { libc::dladdr(here, &mut info) } != 0 && !info.dli_fname.is_null() {
            // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
            let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
            let p = PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(
                name.to_bytes(),
            ));
            return p.canonicalize().ok();
        }
    }
    None
}
