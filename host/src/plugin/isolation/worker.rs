//! The host's side of isolation: a [`Pool`] per plugin owns its worker
//! process (started on first use, started afresh after a crash), makes one
//! call at a time, serves the worker's callbacks (the request's stream, the
//! image's memory, log records) while it waits, and turns a crash, an
//! abort, an `exit` or a time-out into one [`Error::WorkerFailed`]. The
//! [`IsolatedFormat`] backend and its instances speak the same seam as the
//! in-process backend.

use super::IsolationConfig;
use super::serve::{Hello, WORKER_FD};
use super::shm::{self, Memfd};
use super::wire::{self, Channel, Dec, Enc, Message, tag};
use crate::core::{Dict, Image, Limits, NdArray};
use crate::error::{Error, Result};
use crate::plugin::PluginInfo;
use crate::plugin::backend::{Call, Capabilities, Failure, FormatBackend, Instance};
use crate::request::{IoMode, Request, Source};
use imageio_plugin_api::Dtype;
use std::io::SeekFrom;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a worker serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Serves {
    /// A plugin library file.
    File(PathBuf),
    /// A builtin plugin (by id), compiled into the worker program.
    Builtin(String),
}

/// A running worker.
struct Proc {
    child: Child,
    chan: Channel,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a worker did not answer.
pub(crate) enum Death {
    /// It died: how (a signal, an exit status).
    Died(String),
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
            Death::TimedOut(t) => format!(
                "did not finish {what} within {} s and was killed (IMAGEIO_PLUGIN_TIMEOUT sets the limit)",
                t.as_secs_f64()
            ),
            Death::Garbled(m) => format!("broke the worker protocol during {what} ({m}) and was stopped"),
        }
    }
}

/// Describes how a child ended.
pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            libc::SIGSEGV => " (SIGSEGV, a crash)",
            libc::SIGABRT => " (SIGABRT, an abort)",
            libc::SIGBUS => " (SIGBUS, a crash)",
            libc::SIGILL => " (SIGILL, a crash)",
            libc::SIGFPE => " (SIGFPE, a crash)",
            libc::SIGKILL => " (SIGKILL)",
            _ => "",
        };
        format!("was killed by signal {sig}{name}")
    } else {
        match status.code() {
            Some(c) => format!("exited with status {c} (the plugin called exit)"),
            None => "ended".into(),
        }
    }
}

/// What a call needs from the host while the worker works: the request
/// (for stream callbacks), and for `get_data` the limits and the buffer
/// the image goes into.
pub(crate) struct CallCtx<'a> {
    pub request: Option<&'a mut Request>,
    pub limits: Option<Limits>,
    pub buffer: Option<HostBuffer>,
    /// An I/O error a callback met (added to the plugin's failure).
    pub io_error: Option<std::io::Error>,
}

impl<'a> CallCtx<'a> {
    pub(crate) fn new(request: Option<&'a mut Request>) -> CallCtx<'a> {
        CallCtx {
            request,
            limits: None,
            buffer: None,
            io_error: None,
        }
    }
}

/// The worker of one plugin and what the host knows of it.
pub(crate) struct Pool {
    serves: Serves,
    program: PathBuf,
    config: IsolationConfig,
    /// The plugin's identity (its calls are serialised: one worker).
    pub info: PluginInfo,
    /// The format names registered from the plugin's table, in order.
    names: Vec<String>,
    state: Mutex<PoolState>,
}

struct PoolState {
    proc: Option<Proc>,
    /// Incremented each time a worker ends; instances of an earlier
    /// worker are dead.
    generation: u64,
    failures: u32,
    quarantined: Option<String>,
}

impl Pool {
    pub(crate) fn new(
        serves: Serves,
        program: PathBuf,
        config: IsolationConfig,
        info: PluginInfo,
        names: Vec<String>,
    ) -> Pool {
        Pool {
            serves,
            program,
            config,
            info,
            names,
            state: Mutex::new(PoolState {
                proc: None,
                generation: 0,
                failures: 0,
                quarantined: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a worker and reads its `HELLO` within `timeout` (the scan).
    pub(crate) fn spawn(
        serves: &Serves,
        program: &std::path::Path,
        timeout: Duration,
    ) -> std::result::Result<(Hello, ProcHandle), ScanOutcome> {
        let (host, child_end) = Channel::pair().map_err(|e| ScanOutcome::Unavailable(e.to_string()))?;
        let mut cmd = Command::new(program);
        cmd.arg("serve");
        match serves {
            Serves::File(p) => cmd.arg(p),
            Serves::Builtin(id) => cmd.arg("--builtin").arg(id),
        };
        cmd.stdin(Stdio::null());
        if let Some(level) = log::max_level().to_level() {
            cmd.env("IMAGEIO_WORKER_LOG", level.as_str());
        }
        let fd = child_end.raw();
        // SAFETY: between fork and exec the closure calls only
        // async-signal-safe functions (dup2, setrlimit, prctl) on
        // descriptors and values prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                // The socket on fd 3 (dup2 clears close-on-exec; when it is
                // fd 3 already, dup2 does nothing and fcntl clears it).
                if fd == WORKER_FD {
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, WORKER_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // A plugin's stdout must not mix with the host's output.
                libc::dup2(2, 1);
                // No core dumps of a crashing plugin.
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                // It can never gain privileges (setuid programs it might
                // run stay unprivileged).
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| ScanOutcome::Unavailable(format!("cannot start {}: {e}", program.display())))?;
        drop(child_end);
        // A send the worker does not take within the scan limit fails.
        let _ = host.set_send_timeout(timeout.max(Duration::from_secs(1)));
        let mut proc = Proc { child, chan: host };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match proc.chan.recv(Some(left)) {
                Ok(Some(m)) => match m.bytes.split_first() {
                    Some((&tag::HELLO, body)) => {
                        let hello = Hello::decode(&mut Dec::new(body))
                            .map_err(|e| ScanOutcome::Quarantine(format!("sent a broken table ({e})")))?;
                        return Ok((hello, ProcHandle(proc)));
                    }
                    Some((&tag::LOAD_ERROR, body)) => {
                        let mut d = Dec::new(body);
                        let message = d.str().unwrap_or_default();
                        let kind = d.u8().unwrap_or(0);
                        return Err(ScanOutcome::Rejected(message, kind));
                    }
                    Some((&tag::LOG, body)) => forward_log(body),
                    _ => return Err(ScanOutcome::Quarantine("sent something other than its table".into())),
                },
                Ok(None) => {
                    return Err(ScanOutcome::Quarantine(format!(
                        "hung while loading (no table within {} s; killed)",
                        timeout.as_secs_f64()
                    )));
                }
                Err(_) => {
                    let how = match reap(&mut proc.child) {
                        Ok((status, true)) => describe_exit(status),
                        Ok((_, false)) => "broke off its table and was killed".to_owned(),
                        Err(_) => "ended".to_owned(),
                    };
                    return Err(ScanOutcome::Quarantine(format!("{how} while loading")));
                }
            }
        }
    }

    /// Makes one call: sends `msg` (with `fds`) to the worker, started if
    /// need be, serves its callbacks, and returns its reply. `generation`
    /// is the worker an instance belongs to (`None` for calls that need no
    /// instance).
    pub(crate) fn call(
        &self,
        generation: Option<u64>,
        msg: &Enc,
        fds: &[RawFd],
        ctx: &mut CallCtx<'_>,
    ) -> std::result::Result<(Message, u64), Death> {
        let mut st = self.lock();
        if let Some(q) = &st.quarantined {
            return Err(Death::Died(format!("is quarantined ({q})")));
        }
        if let Some(g) = generation
            && (g != st.generation || st.proc.is_none())
        {
            return Err(Death::Died("had already ended (an earlier call crashed it)".into()));
        }
        if st.proc.is_none() {
            match Pool::spawn(&self.serves, &self.program, self.config.scan_timeout) {
                Ok((hello, ProcHandle(p))) => {
                    // The worker must serve the table the formats were
                    // registered from (the file may have changed since).
                    let names: Vec<&str> = hello.formats.iter().map(|f| f.name.as_str()).collect();
                    if names != self.names.iter().map(String::as_str).collect::<Vec<_>>() {
                        drop(p);
                        self.failed(&mut st);
                        return Err(Death::Died(format!(
                            "serves other formats than were registered ({names:?}); the file changed: run \
                             `imageio plugins --rescan`"
                        )));
                    }
                    st.proc = Some(p);
                }
                Err(o) => {
                    self.failed(&mut st);
                    return Err(Death::Died(format!("could not start: {}", o.message())));
                }
            }
        }
        let generation = st.generation;
        let proc = st.proc.as_mut().expect("started above");
        // A panic in a callback (the caller's stream) leaves the worker in
        // the middle of the call: it is stopped before the panic goes on.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve_call(proc, msg, fds, ctx, self.config.call_timeout, self.config.zero_copy)
        }));
        let r = match r {
            Ok(r) => r,
            Err(panic) => {
                drop(st.proc.take());
                st.generation += 1;
                drop(st);
                std::panic::resume_unwind(panic);
            }
        };
        if r.is_err() {
            // The worker is finished: reap it and count the failure.
            drop(st.proc.take());
            self.failed(&mut st);
        }
        r.map(|m| (m, generation))
    }

    /// Counts a failed worker (a crash, a time-out, a failed start) and
    /// quarantines the plugin at the limit.
    fn failed(&self, st: &mut PoolState) {
        st.generation += 1;
        st.failures += 1;
        if st.failures >= self.config.crash_limit && st.quarantined.is_none() {
            let reason = format!("its worker failed {} times in one process", st.failures);
            st.quarantined = Some(reason.clone());
            if let Serves::File(path) = &self.serves {
                crate::plugin::scan::quarantine(path, &reason, &self.config);
            }
        }
    }

    /// Stops the worker of `generation` (it answered out of protocol) and
    /// counts the failure.
    pub(crate) fn discard(&self, generation: u64) {
        let mut st = self.lock();
        if st.generation == generation && st.proc.is_some() {
            drop(st.proc.take());
            self.failed(&mut st);
        }
    }
}

/// A worker started by a scan, handed over or dropped (which stops it).
pub(crate) struct ProcHandle(Proc);

/// What scanning a plugin file found, when it did not find a table.
pub(crate) enum ScanOutcome {
    /// The worker could not start (the host's problem, not the plugin's).
    Unavailable(String),
    /// The plugin loaded cleanly but is not usable (a `LoadError`'s message
    /// and kind).
    Rejected(String, u8),
    /// The plugin crashed, aborted, exited or hung while loading.
    Quarantine(String),
}

impl ScanOutcome {
    pub(crate) fn message(&self) -> &str {
        match self {
            ScanOutcome::Unavailable(m) | ScanOutcome::Rejected(m, _) | ScanOutcome::Quarantine(m) => m,
        }
    }
}

/// The worker's end as a `Death`, reaping it.
fn death_of(proc: &mut Proc) -> Death {
    match reap(&mut proc.child) {
        Ok((status, true)) => Death::Died(describe_exit(status)),
        Ok((_, false)) => Death::Died("closed its socket and was killed".into()),
        Err(e) => Death::Died(format!("ended ({e})")),
    }
}

/// Waits a moment for a worker whose socket closed to end by itself, else
/// kills it: never blocks on a worker that lives on. `true` when it ended
/// by itself (its status says how).
fn reap(child: &mut Child) -> std::io::Result<(std::process::ExitStatus, bool)> {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, true));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return child.wait().map(|s| (s, false));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One call on a live worker.
fn serve_call(
    proc: &mut Proc,
    msg: &Enc,
    fds: &[RawFd],
    ctx: &mut CallCtx<'_>,
    timeout: Duration,
    zero_copy: bool,
) -> std::result::Result<Message, Death> {
    if proc.chan.send(&msg.buf, fds).is_err() {
        return Err(death_of(proc));
    }
    // The time limit counts only the worker's time: the clock stops while
    // the host serves a callback. A wall-clock cap of 4 times the limit
    // stops a worker that keeps the host busy with callbacks forever.
    let mut budget = timeout;
    let cap = Instant::now() + timeout.saturating_mul(4);
    loop {
        if Instant::now() >= cap {
            let _ = proc.child.kill();
            let _ = proc.child.wait();
            return Err(Death::TimedOut(timeout.saturating_mul(4)));
        }
        let waited = Instant::now();
        let m = match proc.chan.recv(Some(budget)) {
            Ok(Some(m)) => m,
            Ok(None) => {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
                return Err(Death::TimedOut(timeout));
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
                return Err(Death::Garbled(e.to_string()));
            }
            Err(_) => return Err(death_of(proc)),
        };
        budget = budget.saturating_sub(waited.elapsed());
        let Some((&t, body)) = m.bytes.split_first() else {
            return Err(Death::Garbled("an empty message".into()));
        };
        let answer = match t {
            tag::READ | tag::WRITE | tag::SEEK | tag::ALLOC => callback(t, body, ctx, zero_copy),
            tag::LOG => {
                forward_log(body);
                continue;
            }
            _ => return Ok(m),
        };
        match answer {
            Ok(a) => {
                // An image's memory goes with its answer.
                let fds: Vec<RawFd> = match (t, &ctx.buffer) {
                    (tag::ALLOC, Some(b)) => b.shared.as_ref().map(|s| s.raw()).into_iter().collect(),
                    _ => Vec::new(),
                };
                if proc.chan.send(&a.buf, &fds).is_err() {
                    return Err(death_of(proc));
                }
            }
            Err(e) => {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
                return Err(Death::Garbled(e.to_string()));
            }
        }
    }
}

/// Logs a worker's record as the host's.
fn forward_log(body: &[u8]) {
    let mut d = Dec::new(body);
    let (Ok(level), Ok(target), Ok(message)) = (d.u8(), d.str(), d.str()) else {
        return;
    };
    let level = match level {
        1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    };
    // The worker sends the records of the plugin's log callback as the
    // in-process host logs them (target `imageio::plugin`).
    log::log!(target: target.as_str(), level, "{}", crate::core::escape_controls(&message));
}

/// Answers one callback; an `Err` is a protocol violation.
fn callback(t: u8, body: &[u8], ctx: &mut CallCtx<'_>, zero_copy: bool) -> std::io::Result<Enc> {
    let mut d = Dec::new(body);
    let io_error = |ctx: &mut CallCtx<'_>, e: Error| {
        let text = e.to_string();
        ctx.io_error = Some(std::io::Error::other(text.clone()));
        let mut m = Enc::new(tag::IO_ERROR);
        m.str(&text);
        m
    };
    match t {
        tag::READ => {
            let want = d.u64()?.min(16 << 20) as usize;
            let Some(req) = ctx.request.as_deref_mut() else {
                return Err(wire::bad("a read outside an open instance"));
            };
            let mut buf = vec![0u8; want];
            let mut got = 0;
            while got < want {
                match req.read(&mut buf[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) => return Ok(io_error(ctx, e)),
                }
            }
            buf.truncate(got);
            let mut m = Enc::new(tag::BYTES);
            m.bytes(&buf);
            Ok(m)
        }
        tag::WRITE => {
            let data = d.bytes()?;
            let Some(req) = ctx.request.as_deref_mut() else {
                return Err(wire::bad("a write outside an open instance"));
            };
            match req.write_all(data) {
                Ok(()) => Ok(Enc::new(tag::DONE)),
                Err(e) => Ok(io_error(ctx, e)),
            }
        }
        tag::SEEK => {
            let off = d.i64()?;
            let whence = d.u8()?;
            let Some(req) = ctx.request.as_deref_mut() else {
                return Err(wire::bad("a seek outside an open instance"));
            };
            let pos = match whence {
                0 => match u64::try_from(off) {
                    Ok(o) => SeekFrom::Start(o),
                    // The plugin's own mistake: an I/O error, as in process.
                    Err(_) => {
                        return Ok(io_error(
                            ctx,
                            Error::InvalidArgument(format!("a seek to {off}, before the start")),
                        ));
                    }
                },
                1 => SeekFrom::Current(off),
                _ => SeekFrom::End(off),
            };
            match req.seek(pos) {
                Ok(p) => {
                    let mut m = Enc::new(tag::POS);
                    m.u64(p);
                    Ok(m)
                }
                Err(e) => Ok(io_error(ctx, e)),
            }
        }
        tag::ALLOC => {
            let code = d.u32()?;
            let shape = d.u64s()?;
            let Some(limits) = ctx.limits else {
                return Err(wire::bad("an allocation outside get_data"));
            };
            if ctx.buffer.is_some() {
                let mut m = Enc::new(tag::REFUSED);
                m.str("alloc was called more than once in one call");
                return Ok(m);
            }
            match HostBuffer::new(code, &shape, &limits, zero_copy) {
                Ok(b) => {
                    let mut m = Enc::new(tag::SKEW);
                    m.u64((b.ptr as usize % shm::page_size()) as u64);
                    ctx.buffer = Some(b);
                    Ok(m)
                }
                Err(reason) => {
                    let mut m = Enc::new(tag::REFUSED);
                    m.str(&reason);
                    Ok(m)
                }
            }
        }
        _ => Err(wire::bad("an unknown callback")),
    }
}

/// The host's array buffer for an image a worker decodes: allocated
/// (uninitialised) when the worker asks, filled by adopting the worker's
/// sealed memfd, then turned into the array without a copy.
pub(crate) struct HostBuffer {
    dtype: Dtype,
    dims: Vec<usize>,
    ptr: *mut u8,
    bytes: usize,
    layout: std::alloc::Layout,
    /// The memory shared with the worker while it decodes (none for an
    /// empty image, and none once filled).
    shared: Option<shm::SharedImage>,
}

// SAFETY: the buffer is plain memory owned by this value.
unsafe impl Send for HostBuffer {}

impl HostBuffer {
    /// Checks the request against the limits (the same checks as an
    /// in-process allocation) and allocates.
    fn new(code: u32, shape: &[u64], limits: &Limits, zero_copy: bool) -> std::result::Result<HostBuffer, String> {
        let crate::plugin::callbacks::AllocRequest { dtype, dims, bytes } =
            crate::plugin::callbacks::checked_alloc(limits, code, shape)?;
        let bytes = bytes as usize;
        let align = dtype_align(dtype);
        let layout = std::alloc::Layout::from_size_align(bytes.max(1), align).map_err(|e| e.to_string())?;
        let ptr = if bytes == 0 {
            std::ptr::null_mut()
        } else {
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc(layout) };
            if p.is_null() {
                return Err(format!(
                    "no memory for an image of shape {shape:?} and dtype {} ({bytes} bytes)",
                    dtype.name()
                ));
            }
            p
        };
        let mut buffer = HostBuffer {
            dtype,
            dims,
            ptr,
            bytes,
            layout,
            shared: None,
        };
        if bytes > 0 {
            // SAFETY: `ptr` is the buffer's own allocation of `bytes`
            // bytes; it lives (and is not read) until the sharing ends in
            // `fill`, or when `HostBuffer::drop` drops the SharedImage
            // before freeing the buffer.
            let shared = unsafe { shm::SharedImage::new(ptr, bytes, zero_copy) };
            buffer.shared = Some(shared.map_err(|e| format!("no shared memory for the image: {e}"))?);
        }
        Ok(buffer)
    }

    /// Ends the sharing: the buffer holds the worker's image, sealed.
    fn fill(&mut self) -> std::io::Result<()> {
        if let Some(shared) = self.shared.take() {
            shared.finish()?;
        }
        Ok(())
    }

    /// The array (booleans validated to 0/1), the buffer moving into it.
    fn into_array(mut self) -> NdArray {
        assert!(self.shared.is_none(), "the buffer is filled before it becomes an array");
        let n = self.dims.iter().product::<usize>();
        let dims = std::mem::take(&mut self.dims);
        let ptr = std::mem::replace(&mut self.ptr, std::ptr::null_mut());
        if self.bytes == 0 {
            return NdArray::zeros(self.dtype, &dims);
        }
        macro_rules! take {
            ($t:ty, $v:ident) => {{
                // SAFETY: `ptr` was allocated with the layout of `n`
                // elements of `$t` (size n * size_of, alignment align_of:
                // `dtype_align`), and
                // every byte is initialised (filled); ownership moves to
                // the Vec.
                let v = unsafe { Vec::from_raw_parts(ptr.cast::<$t>(), n, n) };
                NdArray::$v(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&dims), v).expect("same length"))
            }};
        }
        match self.dtype {
            Dtype::U8 => take!(u8, U8),
            Dtype::U16 => take!(u16, U16),
            Dtype::U32 => take!(u32, U32),
            Dtype::U64 => take!(u64, U64),
            Dtype::I8 => take!(i8, I8),
            Dtype::I16 => take!(i16, I16),
            Dtype::I32 => take!(i32, I32),
            Dtype::I64 => take!(i64, I64),
            Dtype::F32 => take!(f32, F32),
            Dtype::F64 => take!(f64, F64),
            Dtype::Bool => {
                // SAFETY: as above, for bytes.
                let v = unsafe { Vec::from_raw_parts(ptr, n, n) };
                let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&dims), v).expect("same length");
                NdArray::Bool(crate::plugin::callbacks::bytes_to_bools(a))
            }
        }
    }
}

/// The alignment of a dtype's Rust element type (what `Vec<T>` expects).
fn dtype_align(d: Dtype) -> usize {
    use std::mem::align_of;
    match d {
        Dtype::U8 | Dtype::I8 | Dtype::Bool => 1,
        Dtype::U16 | Dtype::I16 => align_of::<u16>(),
        Dtype::U32 | Dtype::I32 => align_of::<u32>(),
        Dtype::F32 => align_of::<f32>(),
        Dtype::U64 | Dtype::I64 => align_of::<u64>(),
        Dtype::F64 => align_of::<f64>(),
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        // The sharing ends first (its drop gives the interior private
        // memory back), then the buffer goes to the allocator.
        drop(self.shared.take());
        if !self.ptr.is_null() {
            // SAFETY: allocated in `new` with this layout and not handed on.
            unsafe { std::alloc::dealloc(self.ptr, self.layout) };
        }
    }
}

/// One format of an isolated plugin.
pub(crate) struct IsolatedFormat {
    pub pool: Arc<Pool>,
    pub index: u32,
    pub name: String,
    pub caps: Capabilities,
}

impl IsolatedFormat {
    fn failure(&self, uri: &str, index: Option<u64>, reply: &Message, io: Option<std::io::Error>) -> Error {
        let mut d = Dec::new(&reply.bytes[1..]);
        let code = d.i64().unwrap_or(i64::from(imageio_plugin_api::ffi::IIO_ERR_INTERNAL));
        let message = d.str().unwrap_or_default();
        let no_message = d.u8().unwrap_or(0) != 0;
        let code_unset = d.u8().unwrap_or(0) != 0;
        match code {
            wire::PROTOCOL_FAILURE => Error::Protocol {
                uri: uri.to_owned(),
                format: self.name.clone(),
                plugin: self.pool.info.id.clone(),
                message,
            },
            wire::LIMITS_FAILURE => Error::MemoryLimit(message),
            code => {
                let mut f = Failure::from_plugin(code as i32, if no_message { String::new() } else { message });
                f.no_message = no_message;
                f.code_unset = code_unset;
                f.into_error(
                    &Call {
                        uri,
                        format: &self.name,
                        plugin: &self.pool.info.id,
                        index,
                    },
                    io,
                )
            }
        }
    }

    fn died(&self, uri: &str, what: &str, d: &Death) -> Error {
        Error::WorkerFailed {
            uri: uri.to_owned(),
            format: self.name.clone(),
            plugin: self.pool.info.id.clone(),
            reason: d.reason(what),
        }
    }

    /// The request as the worker builds its own: mode, names, options,
    /// limits, size, and the first bytes when probing.
    fn describe(&self, tag: u8, request: &mut Request, probe: bool) -> Result<Enc> {
        let first = if probe && request.mode().io == IoMode::Read {
            request.firstbytes()?.to_vec()
        } else {
            Vec::new()
        };
        let mode = request.mode();
        let mut m = Enc::new(tag);
        m.u32(self.index)
            .u8(if mode.io == IoMode::Read { b'r' } else { b'w' })
            .u8(mode.image.as_char() as u8)
            .str(request.filename())
            .str(&request.extension().unwrap_or("").to_lowercase())
            .dict(request.kwargs())
            .limits(request.limits())
            .opt_u64(request.size_hint())
            .bytes(&first);
        Ok(m)
    }
}

/// A descriptor the worker can read the source through on its own, when
/// the source is a local file or bytes in memory.
fn source_fd(request: &Request) -> Option<OwnedFd> {
    match request.source()? {
        Source::File(p) => std::fs::File::open(p).ok().map(OwnedFd::from),
        Source::Bytes(b) => Memfd::with_bytes("imageio-source", b).ok().map(Memfd::into_fd),
        _ => None,
    }
}

impl FormatBackend for IsolatedFormat {
    fn plugin(&self) -> &PluginInfo {
        &self.pool.info
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn confidence(&self, request: &mut Request) -> Result<i32> {
        let msg = self.describe(tag::CONFIDENCE, request, true)?;
        let mut ctx = CallCtx::new(None);
        match self.pool.call(None, &msg, &[], &mut ctx) {
            Ok((m, _)) if m.bytes.first() == Some(&tag::INT) => {
                Ok(Dec::new(&m.bytes[1..]).i64().unwrap_or(0).clamp(0, 100) as i32)
            }
            Ok((m, _)) => Err(self.failure(request.filename(), None, &m, None)),
            Err(d) => Err(self.died(request.filename(), "can_read", &d)),
        }
    }

    fn open(&self, request: Box<Request>) -> std::result::Result<Box<dyn Instance>, (Error, Box<Request>)> {
        let mut request = request;
        let msg = match self.describe(tag::OPEN, &mut request, false) {
            Ok(m) => m,
            Err(e) => return Err((e, request)),
        };
        let fd = if request.mode().io == IoMode::Read {
            source_fd(&request)
        } else {
            None
        };
        let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
        let uri = request.filename().to_owned();
        let mut ctx = CallCtx::new(Some(&mut request));
        let r = self.pool.call(None, &msg, &fds, &mut ctx);
        let io = ctx.io_error.take();
        match r {
            Ok((m, generation)) if m.bytes.first() == Some(&tag::U64) => {
                let handle = Dec::new(&m.bytes[1..]).u64().unwrap_or(0);
                let write = request.mode().io == IoMode::Write;
                Ok(Box::new(IsolatedInstance {
                    format: IsolatedFormat {
                        pool: self.pool.clone(),
                        index: self.index,
                        name: self.name.clone(),
                        caps: self.caps,
                    },
                    generation,
                    handle,
                    request,
                    write,
                }))
            }
            Ok((m, _)) => Err((self.failure(&uri, None, &m, io), request)),
            Err(d) => Err((self.died(&uri, "open", &d), request)),
        }
    }
}

/// An instance living in a worker.
struct IsolatedInstance {
    format: IsolatedFormat,
    generation: u64,
    handle: u64,
    request: Box<Request>,
    write: bool,
}

impl IsolatedInstance {
    /// One call about this instance; `Ok` with the reply of the expected
    /// tag, else the error.
    fn call(
        &mut self,
        what: &str,
        expect: u8,
        msg: &Enc,
        fds: &[RawFd],
        limits: Option<Limits>,
        index: Option<u64>,
    ) -> Result<(Message, Option<HostBuffer>)> {
        let mut ctx = CallCtx::new(Some(&mut self.request));
        ctx.limits = limits;
        let r = self.format.pool.call(Some(self.generation), msg, fds, &mut ctx);
        let buffer = ctx.buffer.take();
        let io = ctx.io_error.take();
        let uri = self.request.filename().to_owned();
        match r {
            Ok((m, _)) if m.bytes.first() == Some(&expect) => Ok((m, buffer)),
            Ok((m, _)) if m.bytes.first() == Some(&tag::FAILED) => Err(self.format.failure(&uri, index, &m, io)),
            Ok((_, g)) => {
                self.format.pool.discard(g);
                Err(self
                    .format
                    .died(&uri, what, &Death::Garbled("an unexpected reply".into())))
            }
            Err(d) => Err(self.format.died(&uri, what, &d)),
        }
    }
}

impl Instance for IsolatedInstance {
    fn request(&self) -> &Request {
        &self.request
    }

    fn get_length(&mut self) -> Result<u64> {
        let mut m = Enc::new(tag::LENGTH);
        m.u64(self.handle);
        let (r, _) = self.call("get_length", tag::U64, &m, &[], None, None)?;
        Ok(Dec::new(&r.bytes[1..]).u64().unwrap_or(0))
    }

    fn get_data(&mut self, index: u64, limits: &Limits) -> Result<Image> {
        let mut m = Enc::new(tag::DATA);
        m.u64(self.handle).u64(index).limits(limits);
        let (reply, buffer) = self.call("get_data", tag::IMAGE, &m, &[], Some(*limits), Some(index))?;
        let uri = self.request.filename().to_owned();
        let garbled = |what: &str| self.format.died(&uri, "get_data", &Death::Garbled(what.into()));
        if reply.bytes.len() as u64 > limits.max_meta_total_bytes.saturating_add(1 << 16) {
            return Err(Error::MemoryLimit(format!(
                "{uri}: format {} ({}): the image's metadata is over the limit of {} bytes",
                self.format.name, self.format.pool.info.id, limits.max_meta_total_bytes
            )));
        }
        let mut d = Dec::new(&reply.bytes[1..]);
        let (Ok(code), Ok(shape), Ok(meta)) = (d.u32(), d.u64s(), d.dict()) else {
            return Err(garbled("a malformed image"));
        };
        let Some(mut buffer) = buffer else {
            return Err(Error::Protocol {
                uri,
                format: self.format.name.clone(),
                plugin: self.format.pool.info.id.clone(),
                message: "get_data returned OK without allocating an image".into(),
            });
        };
        if buffer.dtype.code() != code || !buffer.dims.iter().map(|&d| d as u64).eq(shape.iter().copied()) {
            return Err(garbled("an image unlike the one allocated"));
        }
        if let Err(e) = buffer.fill() {
            return Err(garbled(&e.to_string()));
        }
        Ok(Image {
            data: buffer.into_array(),
            meta,
        })
    }

    fn get_meta_data(&mut self, index: Option<u64>) -> Result<Dict> {
        let mut m = Enc::new(tag::META);
        m.u64(self.handle).opt_u64(index);
        let (r, _) = self.call("get_meta_data", tag::DICT, &m, &[], None, None)?;
        let max = self.request.limits().max_meta_total_bytes;
        if r.bytes.len() as u64 > max.saturating_add(1 << 16) {
            return Err(Error::MemoryLimit(format!(
                "{}: format {} ({}): the metadata is over the limit of {max} bytes",
                self.request.filename(),
                self.format.name,
                self.format.pool.info.id
            )));
        }
        Dec::new(&r.bytes[1..]).dict().map_err(|e| {
            self.format
                .died(self.request.filename(), "get_meta_data", &Death::Garbled(e.to_string()))
        })
    }

    fn append_data(&mut self, image: &Image, meta: &Dict) -> Result<()> {
        let bytes = crate::plugin::inprocess::contiguous_bytes(&image.data);
        let memfd = Memfd::with_bytes("imageio-append", &bytes).map_err(|e| Error::Io {
            uri: self.request.filename().to_owned(),
            source: e,
        })?;
        let mut m = Enc::new(tag::APPEND);
        let shape: Vec<u64> = image.shape().iter().map(|&d| d as u64).collect();
        m.u64(self.handle).u32(image.dtype().code()).u64s(&shape).dict(meta);
        let fds = if bytes.is_empty() { vec![] } else { vec![memfd.raw()] };
        self.call("append_data", tag::OK, &m, &fds, None, None).map(|_| ())
    }

    fn set_meta_data(&mut self, meta: &Dict) -> Result<()> {
        let mut m = Enc::new(tag::SET_META);
        m.u64(self.handle).dict(meta);
        self.call("set_meta_data", tag::OK, &m, &[], None, None).map(|_| ())
    }

    fn close(mut self: Box<Self>) -> (Result<()>, Box<Request>) {
        let mut m = Enc::new(tag::CLOSE);
        m.u64(self.handle);
        let r = self.call("close", tag::OK, &m, &[], None, None).map(|_| ());
        // A reader whose worker is gone has nothing left to close; a
        // writer's output is incomplete, so its error stands (and nothing
        // is written).
        let r = match r {
            Err(Error::WorkerFailed { .. }) if !self.write => Ok(()),
            r => r,
        };
        let IsolatedInstance { request, .. } = *self;
        (r, request)
    }
}
