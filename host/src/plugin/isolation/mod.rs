//! Running plugins in worker processes, and the policy that decides which.
//!
//! - here: [`Isolation`] (the policy) and [`IsolationConfig`] (policy, per
//!   plugin choices, the worker program, time limits), read from the
//!   environment or set through the API;
//! - `wire`: the protocol's messages and the socket they travel on;
//! - `shm`: sealed shared memory for pixels (no copy into the host);
//! - `worker`: the host's side: spawning a worker, one call with its
//!   stream callbacks, crash and time-out detection, the isolated backend;
//! - `serve`: the worker's side, the loop the `imageio-worker` program runs.
//!
//! The worker is the `imageio-worker` program (installed beside `imageio`;
//! found through `IMAGEIO_WORKER`, [`IsolationConfig::worker`], or next to
//! the running program). Isolation needs Linux (memfd, `SOCK_SEQPACKET`).

#[cfg(target_os = "linux")]
pub(crate) mod serve;
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
    /// The worker program; `None` looks for it (`IMAGEIO_WORKER`, then
    /// `imageio-worker` next to the running program).
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
    /// A plugin whose worker crashes or times out this many times in one
    /// process is quarantined (3 by default).
    pub crash_limit: u32,
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
            crash_limit: 3,
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
    /// (seconds),
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

    /// The worker program, or why there is none.
    pub fn worker_program(&self) -> Result<PathBuf, String> {
        if !cfg!(target_os = "linux") {
            return Err("plugin isolation needs Linux (memfd and SOCK_SEQPACKET sockets)".into());
        }
        let name = format!("imageio-worker{}", std::env::consts::EXE_SUFFIX);
        let candidate = match &self.worker {
            Some(p) => p.clone(),
            None => match crate::core::dirs::exe_dir() {
                // A test program of cargo's runs from target/<profile>/deps,
                // beside which cargo puts the workspace's programs.
                Some(d) if d.ends_with("deps") && !d.join(&name).is_file() => {
                    d.parent().map_or_else(|| d.join(&name), |p| p.join(&name))
                }
                Some(d) => d.join(&name),
                None => return Err(format!("no {name} found (the running program's folder is unknown)")),
            },
        };
        if candidate.is_file() {
            Ok(candidate)
        } else {
            Err(format!(
                "the worker program {} is missing (install imageio-worker beside the program, set \
                 IMAGEIO_WORKER, or choose IMAGEIO_ISOLATION=off to run plugins in this process)",
                candidate.display()
            ))
        }
    }
}
