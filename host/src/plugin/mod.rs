//! Where formats come from, and the host's side of the plugin ABI:
//!
//! - `loader`: loading plugin libraries (`dlopen`) and validating their tables;
//! - `builtins`: the standard plugins compiled in (each behind its feature);
//! - `backend`: the one seam, `FormatBackend` and `Instance`, through which
//!   everything above calls a plugin with host values, and the one mapping of
//!   a plugin's status to an [`Error`](crate::Error);
//! - `inprocess`: the backend that calls a format table in this process (all
//!   of the ABI marshalling, with `callbacks`: what plugins call back);
//! - `allocation`: what image a plugin may ask for (the limits' one check);
//! - `extensions`: what a format offers beyond its table (ABI 1.2:
//!   properties without decoding, declared options, documentation);
//! - `trust`: which plugin folders and files may be loaded at all;
//! - `lazy`: loading a scanned library into this process on first use;
//! - `isolation`: running plugins in worker processes, the scan and the
//!   registry cache, the policy;
//! - `provision`: a plugin file or builtin plus the policy, turned into
//!   formats (the one place the registry gets them from);
//! - here: each plugin's [`Origin`], the [`PluginReport`] of every plugin
//!   file considered, and the worker hook ([`serve_if_worker`]).

pub(crate) mod allocation;
pub(crate) mod backend;
pub(crate) mod builtins;
pub(crate) mod callbacks;
pub mod extensions;
pub(crate) mod inprocess;
pub mod isolation;
pub(crate) mod lazy;
pub(crate) mod loader;
pub(crate) mod provision;
pub(crate) mod trust;

#[cfg(target_os = "linux")]
pub use isolation::scan::force_rescan;
pub use isolation::{Isolation, IsolationConfig};

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this program called [`serve_if_worker`] (and can be its own
/// worker).
static OWN_WORKER: AtomicBool = AtomicBool::new(false);

/// Makes this program its own plugin worker: call it first thing in
/// `main`. When the host started this program as a worker, it serves one
/// plugin and exits (it never returns); otherwise it returns at once, and
/// from then on the host starts this very program for its workers, so a
/// program that embeds the library needs no `imageio-worker` beside it.
///
/// ```no_run
/// // First thing in `main`:
/// imageio::plugin::serve_if_worker();
/// // ... the program, reading images through plugins from files ...
/// ```
pub fn serve_if_worker() {
    #[cfg(target_os = "linux")]
    if isolation::worker::started_as_worker() {
        let code = isolation::worker::serve();
        // Leave without running the program's own code.
        std::process::exit(i32::from(code));
    }
    OWN_WORKER.store(true, Ordering::SeqCst);
}

/// Whether this program called [`serve_if_worker`].
pub(crate) fn is_own_worker() -> bool {
    OWN_WORKER.load(Ordering::SeqCst)
}

/// The worker program's main (`imageio-worker`): runs one plugin for a
/// host process. Not for other use.
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub fn worker_main() -> std::process::ExitCode {
    isolation::worker::worker_main()
}

use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// A plugin serving formats: identity, origin, and the lock that
/// serialises calls when one of its formats lacks `IIO_CAP_THREAD_SAFE`.
#[derive(Debug)]
pub(crate) struct PluginInfo {
    pub id: String,
    pub version: String,
    pub origin: Origin,
    lock: Option<Mutex<()>>,
}

impl PluginInfo {
    pub(crate) fn new(id: String, version: String, origin: Origin, serialize: bool) -> PluginInfo {
        PluginInfo {
            id,
            version,
            origin,
            lock: serialize.then(|| Mutex::new(())),
        }
    }

    /// Whether the host serialises calls into this plugin.
    pub(crate) fn is_serialized(&self) -> bool {
        self.lock.is_some()
    }

    /// The plugin's lock, held for one call, when calls are serialised.
    pub(crate) fn lock(&self) -> Option<MutexGuard<'_, ()>> {
        self.lock
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

pub use loader::LoadError;

/// A format's byte signature (ABI 1.1), copied out of its table: the
/// host matches it against a source's first bytes without calling (or
/// loading) the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ByteSignature {
    pub offset: usize,
    pub bytes: Vec<u8>,
    pub mask: Option<Vec<u8>>,
}

impl ByteSignature {
    /// Whether `first_bytes` match.
    pub(crate) fn matches(&self, first_bytes: &[u8]) -> bool {
        imageio_plugin_api::raw::signature_matches(self.offset, &self.bytes, self.mask.as_deref(), first_bytes)
    }
}

/// Where a format comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into this program (the plugin's id).
    Builtin(String),
    /// Loaded from a shared library.
    File(PathBuf),
    /// Registered by the program from a Rust type (`Format::from_rust`).
    Program,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin(_) => f.write_str("builtin"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Program => f.write_str("program"),
        }
    }
}

/// What became of a plugin considered at discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginStatus {
    /// Loaded; its formats are registered.
    Loaded,
    /// Not loaded (see the reason).
    Rejected,
    /// Loaded, but every format it offers was already registered by an
    /// earlier plugin, which wins.
    Shadowed,
    /// Loading it crashed, aborted, exited or hung in a child process, or
    /// its worker failed repeatedly: not loaded until the file changes (or
    /// a rescan).
    Quarantined,
}

impl PluginStatus {
    /// `loaded`, `rejected` or `shadowed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginStatus::Loaded => "loaded",
            PluginStatus::Rejected => "rejected",
            PluginStatus::Shadowed => "shadowed",
            PluginStatus::Quarantined => "quarantined",
        }
    }
}

/// The record of one plugin considered (a file, or a builtin).
#[derive(Debug, Clone)]
pub struct PluginReport {
    /// The plugin's origin.
    pub origin: Origin,
    /// The plugin's id, when its table was read.
    pub id: Option<String>,
    /// The outcome.
    pub status: PluginStatus,
    /// Why it was rejected or shadowed (empty when loaded cleanly).
    pub reason: String,
    /// The names of the formats it registered.
    pub formats: Vec<String>,
    /// Whether its formats run in a worker process.
    pub isolated: bool,
}
