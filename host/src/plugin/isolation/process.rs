//! A worker process as the host holds it.
//!
//! Started: in a process group of its own (so it ends with everything it
//! started), its socket on fd 3, no other descriptor of the host's, its
//! output (stdout and stderr) in a pipe the host reads into its log
//! (escaped, and bounded per worker), a memory cap (`RLIMIT_DATA`) from
//! the request's limits, no core dumps, no new privileges, and a private
//! scratch folder as `TMPDIR`, the only place its sandbox lets it write.
//! The worker sandboxes itself (see `worker::sandbox`) and watches its
//! socket: when the host dies, the worker kills its group.
//!
//! Ended: the whole group is killed before the worker is reaped (so no
//! process id is reused under it), and the reaping reads its peak memory,
//! which tells a worker stopped by its memory cap from a crash.

use super::messages::{Hello, LoadFailure};
use super::wire::{Channel, Dec, tag};
use super::worker::{SERVE_ARG, WORKER_FD};
use crate::base::escape_controls;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a worker serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Serves {
    /// A plugin library file.
    File(PathBuf),
    /// A builtin plugin (by id), compiled into the worker program.
    Builtin(String),
}

/// The memory a worker may use beyond what its limits allow for the image
/// and its metadata: the program, the plugin's libraries, its threads'
/// stacks and its working memory (see [`memory_cap`]).
pub(crate) const MEMORY_MARGIN: u64 = 512 << 20;

/// The memory cap of a worker serving requests with these limits: the
/// largest image or allocation the limits allow, plus their metadata,
/// plus [`MEMORY_MARGIN`].
pub(crate) fn memory_cap(limits: &crate::base::Limits) -> u64 {
    limits
        .max_image_bytes
        .max(limits.max_alloc_bytes)
        .saturating_add(limits.max_meta_total_bytes)
        .saturating_add(MEMORY_MARGIN)
}

/// How a worker is started.
pub(crate) struct Launch<'a> {
    pub serves: &'a Serves,
    pub program: &'a Path,
    /// How long loading may take (the `HELLO`).
    pub timeout: Duration,
    /// The memory cap (`None`: none).
    pub memory_cap: Option<u64>,
    /// Whether the worker sandboxes itself.
    pub sandbox: bool,
    /// What the worker's output lines are logged as coming from.
    pub label: String,
}

/// How a worker ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    /// Its wait status.
    pub status: i32,
    /// Whether it ended by itself (not killed by the host).
    pub by_itself: bool,
    /// Its peak resident memory, in bytes.
    pub peak: u64,
}

/// A running worker.
pub(crate) struct Proc {
    pid: libc::pid_t,
    pub chan: Channel,
    /// Its memory cap (`u64::MAX`: none).
    pub cap: u64,
    ended: Option<Ended>,
    /// Its scratch folder, removed when it ends (or when this program
    /// exits, for workers of the global manager, which is never dropped).
    scratch: Option<PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.end(Duration::ZERO);
        if let Some(dir) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(&dir);
            SCRATCH.lock().unwrap_or_else(|p| p.into_inner()).retain(|d| *d != dir);
        }
    }
}

/// The scratch folders of the workers alive, removed at exit.
static SCRATCH: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A new scratch folder for a worker (mode 0700), removed when the worker
/// ends or, at the latest, when this program exits normally.
fn scratch_dir() -> std::io::Result<PathBuf> {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    AT_EXIT.call_once(|| {
        extern "C" fn remove_all() {
            if let Ok(dirs) = SCRATCH.try_lock() {
                for d in dirs.iter() {
                    let _ = std::fs::remove_dir_all(d);
                }
            }
        }
        // SAFETY: registers a plain function without arguments; it only
        // removes folders this program made.
        unsafe { libc::atexit(remove_all) };
    });
    let dir = tempfile::Builder::new()
        .prefix("imageio-worker-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()?
        .keep();
    SCRATCH.lock().unwrap_or_else(|p| p.into_inner()).push(dir.clone());
    Ok(dir)
}

impl Proc {
    /// Ends the worker: waits up to `grace` for it to exit by itself, then
    /// kills its whole process group, and reaps it. Idempotent.
    pub(crate) fn end(&mut self, grace: Duration) -> Ended {
        if let Some(e) = self.ended {
            return e;
        }
        let deadline = Instant::now() + grace;
        let mut by_itself = false;
        loop {
            if exited(self.pid) {
                by_itself = true;
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // The group first, while the worker (a zombie at worst) still
        // holds its id; whatever it started ends with it.
        // SAFETY: kill with a negative id signals the process group the
        // worker leads (set up at its start); it touches no memory.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
        }
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: wait4 on our own child, with valid out-pointers.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut usage) };
            if r == self.pid || (r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted) {
                break;
            }
        }
        let ended = Ended {
            status,
            by_itself,
            peak: (usage.ru_maxrss.max(0) as u64).saturating_mul(1024),
        };
        self.ended = Some(ended);
        ended
    }
}

/// Whether the child `pid` has exited (without reaping it).
fn exited(pid: libc::pid_t) -> bool {
    // SAFETY: an all-zero siginfo_t is valid; waitid writes it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid on our own child with WNOWAIT leaves it unreaped.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid filled `info` (si_pid is 0 when nothing exited).
    r == 0 && unsafe { info.si_pid() } != 0
}

/// How a worker ended, in words: a signal, an exit status.
pub(crate) fn describe(e: &Ended) -> String {
    let status = e.status;
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        let name = match sig {
            libc::SIGSEGV => " (SIGSEGV, a crash)",
            libc::SIGABRT => " (SIGABRT, an abort)",
            libc::SIGBUS => " (SIGBUS, a crash)",
            libc::SIGILL => " (SIGILL, a crash)",
            libc::SIGFPE => " (SIGFPE, a crash)",
            libc::SIGKILL => " (SIGKILL)",
            libc::SIGSYS => " (SIGSYS, a forbidden system call)",
            _ => "",
        };
        format!("was killed by signal {sig}{name}")
    } else if libc::WIFEXITED(status) {
        format!(
            "exited with status {} (the plugin called exit)",
            libc::WEXITSTATUS(status)
        )
    } else {
        "ended".into()
    }
}

/// Why a worker did not answer.
pub(crate) enum Death {
    /// It died: how (a signal, an exit status).
    Died(String),
    /// It died having used most of its memory cap: out of memory.
    OutOfMemory {
        /// Its cap.
        cap: u64,
        /// Its peak resident memory.
        peak: u64,
        /// How it ended.
        how: String,
    },
    /// It overran the time limit and was killed.
    TimedOut(Duration),
    /// It sent something that is not the protocol.
    Garbled(String),
}

impl Death {
    /// The reason as the error says it, for the call `what`.
    pub(crate) fn reason(&self, what: &str) -> String {
        match self {
            Death::Died(how) => format!("{how} during {what}"),
            Death::OutOfMemory { cap, peak, how } => format!(
                "reached its memory cap of {} MiB during {what} (peak {} MiB) and {how}; the cap is the \
                 limits' largest image plus {} MiB (IMAGEIO_LIMITS raises it)",
                cap >> 20,
                peak >> 20,
                MEMORY_MARGIN >> 20
            ),
            Death::TimedOut(t) => format!(
                "did not finish {what} within {} s and was killed (IMAGEIO_PLUGIN_TIMEOUT sets the limit)",
                t.as_secs_f64()
            ),
            Death::Garbled(m) => format!("broke the worker protocol during {what} ({m}) and was stopped"),
        }
    }

    /// The death of a worker whose socket closed: it is ended (given a
    /// moment to exit by itself) and reaped, and a worker that died near
    /// its memory cap ran out of memory.
    pub(crate) fn of(proc: &mut Proc) -> Death {
        let e = proc.end(Duration::from_millis(200));
        if !e.by_itself {
            return Death::Died("closed its socket and was killed".into());
        }
        let how = describe(&e);
        let failed = libc::WIFSIGNALED(e.status) || libc::WEXITSTATUS(e.status) != 0;
        if failed && proc.cap != u64::MAX && e.peak.saturating_mul(4) >= proc.cap.saturating_mul(3) {
            return Death::OutOfMemory {
                cap: proc.cap,
                peak: e.peak,
                how,
            };
        }
        Death::Died(how)
    }
}

/// What starting a worker found, when it did not find a table.
pub(crate) enum ScanOutcome {
    /// The worker could not start (the host's problem, not the plugin's).
    Unavailable(String),
    /// The plugin loaded cleanly but is not usable.
    Rejected(LoadFailure),
    /// The plugin crashed, aborted, exited or hung while loading.
    Quarantine(String),
}

impl ScanOutcome {
    /// What happened, in words.
    pub(crate) fn message(&self) -> String {
        match self {
            ScanOutcome::Unavailable(m) | ScanOutcome::Quarantine(m) => m.clone(),
            ScanOutcome::Rejected(f) => f.clone().into_error(Path::new("the plugin")).to_string(),
        }
    }
}

/// Starts a worker and reads its `HELLO` within the launch's time limit.
pub(crate) fn spawn(launch: &Launch<'_>) -> Result<(Hello, Proc), ScanOutcome> {
    let (host, child_end) = Channel::pair().map_err(|e| ScanOutcome::Unavailable(e.to_string()))?;
    let scratch =
        scratch_dir().map_err(|e| ScanOutcome::Unavailable(format!("no scratch folder for a worker: {e}")))?;
    let mut cmd = Command::new(launch.program);
    cmd.arg(SERVE_ARG);
    match launch.serves {
        Serves::File(p) => cmd.arg(p),
        Serves::Builtin(id) => cmd.arg("--builtin").arg(id),
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    cmd.env("TMPDIR", &scratch);
    cmd.env("IMAGEIO_WORKER_SANDBOX", if launch.sandbox { "1" } else { "0" });
    if let Some(level) = log::max_level().to_level() {
        cmd.env("IMAGEIO_WORKER_LOG", level.as_str());
    }
    let fd = child_end.raw();
    let cap = launch.memory_cap;
    // SAFETY: between fork and exec the closure calls only
    // async-signal-safe functions (setpgid, dup2, fcntl, setrlimit, prctl,
    // close_range) on descriptors and values prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            // A process group of its own: the host ends it whole.
            libc::setpgid(0, 0);
            // The socket on fd 3 (dup2 clears close-on-exec; when it is
            // fd 3 already, dup2 does nothing and fcntl clears it).
            if fd == WORKER_FD {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, WORKER_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Its stdout goes where its stderr goes: the host's log.
            libc::dup2(2, 1);
            // No other descriptor of the host's crosses the exec.
            libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            // No core dumps of a crashing plugin.
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            if let Some(cap) = cap {
                let lim = libc::rlimit {
                    rlim_cur: cap as libc::rlim_t,
                    rlim_max: cap as libc::rlim_t,
                };
                libc::setrlimit(libc::RLIMIT_DATA, &lim);
            }
            // It can never gain privileges (setuid programs it might
            // run stay unprivileged).
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ScanOutcome::Unavailable(format!("cannot start {}: {e}", launch.program.display())))?;
    drop(child_end);
    let pid = child.id() as libc::pid_t;
    if let Some(out) = child.stderr.take() {
        drain_output(out, format!("{} (worker {pid})", launch.label));
    }
    // The host reaps the worker itself (`Proc::end`), with its usage.
    drop(child);
    // A send the worker does not take within the scan limit fails.
    let _ = host.set_send_timeout(launch.timeout.max(Duration::from_secs(1)));
    let mut proc = Proc {
        pid,
        chan: host,
        cap: cap.unwrap_or(u64::MAX),
        ended: None,
        scratch: Some(scratch),
    };
    let deadline = Instant::now() + launch.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match proc.chan.recv(Some(left)) {
            Ok(Some(m)) => match m.bytes.split_first() {
                Some((&tag::HELLO, body)) => {
                    let hello = Hello::decode(&mut Dec::new(body))
                        .map_err(|e| ScanOutcome::Quarantine(format!("sent a broken table ({e})")))?;
                    return Ok((hello, proc));
                }
                Some((&tag::LOAD_ERROR, body)) => {
                    let failure = LoadFailure::decode(&mut Dec::new(body))
                        .map_err(|e| ScanOutcome::Quarantine(format!("sent a broken load error ({e})")))?;
                    return Err(ScanOutcome::Rejected(failure));
                }
                Some((&tag::LOG, body)) => forward_log(body),
                _ => return Err(ScanOutcome::Quarantine("sent something other than its table".into())),
            },
            Ok(None) => {
                return Err(ScanOutcome::Quarantine(format!(
                    "hung while loading (no table within {} s; killed)",
                    launch.timeout.as_secs_f64()
                )));
            }
            Err(_) => {
                let how = match Death::of(&mut proc) {
                    Death::Died(how) | Death::OutOfMemory { how, .. } => how,
                    other => other.reason("loading"),
                };
                return Err(ScanOutcome::Quarantine(format!("{how} while loading")));
            }
        }
    }
}

/// The most of one worker's output that reaches the log; the rest is read
/// and dropped.
pub(crate) const OUTPUT_BUDGET: usize = 64 << 10;
/// The longest output line logged as it is; longer lines are cut.
const OUTPUT_LINE: usize = 1000;

/// Reads a worker's output on a thread of its own, and logs each line
/// (as a warning of target `imageio::plugin::output`), control characters
/// escaped, lines cut at 1000 characters, at most [`OUTPUT_BUDGET`] bytes
/// per worker; the rest is drained so the plugin never blocks on a full
/// pipe. The thread ends with the pipe (when the worker's group is gone).
fn drain_output(mut out: std::process::ChildStderr, label: String) {
    let spawned = std::thread::Builder::new()
        .name("imageio-worker-output".into())
        .spawn(move || {
            let mut logged = 0usize;
            let mut line: Vec<u8> = Vec::new();
            let mut cut = false;
            let mut buf = [0u8; 8192];
            let emit = |line: &mut Vec<u8>, cut: &mut bool, logged: &mut usize| {
                if *logged < OUTPUT_BUDGET {
                    let text = String::from_utf8_lossy(line);
                    let more = if *cut { " [line cut]" } else { "" };
                    log::warn!(target: "imageio::plugin::output", "{label}: {}{more}", escape_controls(&text));
                    *logged += line.len() + 1;
                    if *logged >= OUTPUT_BUDGET {
                        log::warn!(
                            target: "imageio::plugin::output",
                            "{label}: more output than {} KiB; the rest is dropped",
                            OUTPUT_BUDGET >> 10
                        );
                    }
                }
                line.clear();
                *cut = false;
            };
            loop {
                let n = match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if logged >= OUTPUT_BUDGET {
                    continue;
                }
                for &b in &buf[..n] {
                    if b == b'\n' {
                        emit(&mut line, &mut cut, &mut logged);
                    } else if line.len() < OUTPUT_LINE {
                        line.push(b);
                    } else {
                        cut = true;
                    }
                }
            }
            if !line.is_empty() {
                emit(&mut line, &mut cut, &mut logged);
            }
        });
    if let Err(e) = spawned {
        log::debug!("no thread to read a worker's output: {e}");
    }
}

/// Logs a worker's record as the host's.
pub(crate) fn forward_log(body: &[u8]) {
    let mut d = Dec::new(body);
    let (Ok(level), Ok(target), Ok(message)) = (d.u32(), d.str(), d.str()) else {
        return;
    };
    let level = imageio_plugin_api::raw::log_level_of(level);
    // The worker sends the records of the plugin's log callback as the
    // in-process host logs them (target `imageio::plugin`).
    log::log!(target: target.as_str(), level, "{}", crate::base::escape_controls(&message));
}
