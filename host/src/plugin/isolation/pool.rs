//! The host's side of isolation: a [`Pool`] of worker processes per
//! plugin (started on demand, up to one per core by default, each started
//! afresh after it dies), one call at a time on each, the worker's
//! callbacks served while it works (the request's stream, the image's
//! memory, log records), and a crash, an abort, an `exit`, a time-out or
//! the memory cap turned into one error of that call. A failure never
//! outlasts its call: the next call starts a new worker. Every start of a
//! plugin file checks its trust and its fingerprint again.

use super::IsolationConfig;
use super::process::{self, Death, Launch, Proc, Serves};
use super::scan::Fingerprint;
use super::shm;
use super::wire::{self, Dec, Enc, Message, tag};
use crate::base::Limits;
use crate::error::Error;
use crate::plugin::PluginInfo;
use crate::request::Request;
use std::io::SeekFrom;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::buffer::HostBuffer;

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

/// One worker of a pool: its process (none until started, none after it
/// died), how many instances live in it, and how many calls use it now.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    /// Calls running or waiting on this worker.
    users: AtomicUsize,
}

struct SlotState {
    proc: Option<Proc>,
    /// Incremented each time the worker ends; instances of an earlier
    /// worker are dead.
    generation: u64,
    /// Instances open in the worker (it is not restarted under them).
    open: usize,
}

impl SlotState {
    /// Ends the worker (its group killed and reaped as the `Proc` drops):
    /// its instances are dead, the next call starts another.
    fn retire(&mut self) {
        self.proc = None;
        self.generation += 1;
        self.open = 0;
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an instance opened in the worker of `generation`, until the
    /// returned guard drops (the instance closed, or dropped unclosed).
    pub(crate) fn opened(self: &Arc<Self>, generation: u64) -> Opened {
        let mut st = self.lock();
        if st.generation == generation {
            st.open += 1;
        }
        Opened {
            slot: self.clone(),
            generation,
        }
    }
}

/// An instance counted in its worker (see [`Slot::opened`]).
pub(crate) struct Opened {
    slot: Arc<Slot>,
    generation: u64,
}

impl Opened {
    /// The worker the instance lives in.
    pub(crate) fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }

    /// Its generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        let mut st = self.slot.lock();
        if st.generation == self.generation {
            st.open = st.open.saturating_sub(1);
        }
    }
}

/// Where a call runs: on any worker (probing, opening), or on the worker
/// an instance lives in.
pub(crate) enum On<'a> {
    /// Any worker whose memory cap is at least this.
    Any(Option<u64>),
    /// The instance's worker, of this generation.
    Instance(&'a Arc<Slot>, u64),
}

/// The workers of one plugin and what the host knows of it.
pub(crate) struct Pool {
    serves: Serves,
    program: PathBuf,
    config: IsolationConfig,
    /// The plugin's identity.
    pub info: PluginInfo,
    /// The format names registered from the plugin's table, in order.
    names: Vec<String>,
    /// The plugin file's fingerprint when it was registered.
    print: Option<Fingerprint>,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Signalled when a call ends (a worker may be free).
    freed: Condvar,
}

impl Pool {
    pub(crate) fn new(
        serves: Serves,
        program: PathBuf,
        config: IsolationConfig,
        info: PluginInfo,
        names: Vec<String>,
    ) -> Pool {
        let print = match &serves {
            Serves::File(p) => Fingerprint::of(p).ok(),
            Serves::Builtin(_) => None,
        };
        Pool {
            serves,
            program,
            config,
            info,
            names,
            print,
            slots: Mutex::new(Vec::new()),
            freed: Condvar::new(),
        }
    }

    /// Makes one call: sends `msg` (with `fds`) to a worker, started if
    /// need be, serves its callbacks, and returns its reply with the
    /// worker it ran on and that worker's generation.
    pub(crate) fn call(
        &self,
        on: On<'_>,
        msg: &Enc,
        fds: &[RawFd],
        ctx: &mut CallCtx<'_>,
    ) -> std::result::Result<(Message, Arc<Slot>, u64), Death> {
        let (slot, generation, cap) = match on {
            On::Instance(slot, generation) => {
                slot.users.fetch_add(1, Ordering::SeqCst);
                (slot.clone(), Some(generation), None)
            }
            On::Any(cap) => (self.acquire(cap), None, cap),
        };
        let r = {
            let st = slot.lock();
            self.run(st, generation, cap, msg, fds, ctx)
        };
        slot.users.fetch_sub(1, Ordering::SeqCst);
        // Wake a caller waiting for a free worker.
        drop(self.slots.lock().unwrap_or_else(|p| p.into_inner()));
        self.freed.notify_one();
        r.map(|(m, g)| (m, slot, g))
    }

    /// A worker for a call needing `cap`, claimed: an idle one (fewest
    /// open instances first; one whose cap is too small only when it has
    /// no instances, as it is restarted), else a new one while the pool is
    /// under its size, else the first idle one once a call ends.
    fn acquire(&self, cap: Option<u64>) -> Arc<Slot> {
        let need = cap.unwrap_or(0);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let mut best: Option<(usize, usize)> = None;
            let mut too_small = false;
            for (i, s) in slots.iter().enumerate() {
                if s.users.load(Ordering::SeqCst) != 0 {
                    continue;
                }
                let Ok(st) = s.state.try_lock() else { continue };
                let fits = st.open == 0 || st.proc.as_ref().is_none_or(|p| p.cap >= need);
                too_small |= !fits;
                if fits && best.is_none_or(|(_, open)| st.open < open) {
                    best = Some((i, st.open));
                }
            }
            if let Some((i, _)) = best {
                let slot = slots[i].clone();
                slot.users.fetch_add(1, Ordering::SeqCst);
                return slot;
            }
            // A new worker while the pool is under its size, or when the
            // idle ones are too small for this call and hold instances
            // (which a restart would end): waiting would never help.
            if slots.len() < self.config.max_workers.max(1) || too_small {
                let slot = Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        proc: None,
                        generation: 0,
                        open: 0,
                    }),
                    users: AtomicUsize::new(1),
                });
                slots.push(slot.clone());
                return slot;
            }
            // Every worker is busy: wait for a call to end (or a moment,
            // should a wake-up be missed).
            slots = self
                .freed
                .wait_timeout(slots, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Runs one call on a claimed worker, starting it first when needed
    /// (or restarting it for a larger memory cap when it has no instances).
    fn run(
        &self,
        mut st: MutexGuard<'_, SlotState>,
        generation: Option<u64>,
        cap: Option<u64>,
        msg: &Enc,
        fds: &[RawFd],
        ctx: &mut CallCtx<'_>,
    ) -> std::result::Result<(Message, u64), Death> {
        if let Some(g) = generation
            && (g != st.generation || st.proc.is_none())
        {
            return Err(Death::Died("had already ended (an earlier call crashed it)".into()));
        }
        let need = cap.unwrap_or(0);
        if st.open == 0 && st.proc.as_ref().is_some_and(|p| p.cap < need) {
            st.retire();
        }
        if st.proc.is_none() {
            let proc = self.start(cap)?;
            st.proc = Some(proc);
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
                st.retire();
                drop(st);
                std::panic::resume_unwind(panic);
            }
        };
        if r.is_err() {
            // The worker is finished (reaped by `serve_call`); the next
            // call starts another. The failure is this call's alone.
            st.retire();
        }
        r.map(|m| (m, generation))
    }

    /// Stops the worker of `generation` in `slot` (it answered out of
    /// protocol).
    pub(crate) fn discard(&self, slot: &Slot, generation: u64) {
        let mut st = slot.lock();
        if st.generation == generation && st.proc.is_some() {
            st.retire();
        }
    }

    /// Starts a worker: a plugin file is checked again first (trust, and
    /// the fingerprint it was registered with), and the worker must serve
    /// the table the formats were registered from.
    fn start(&self, cap: Option<u64>) -> std::result::Result<Proc, Death> {
        if let Serves::File(path) = &self.serves {
            if let Err(reason) = crate::plugin::trust::check(path) {
                return Err(Death::Died(format!(
                    "was not started again: the plugin file is refused now ({reason})"
                )));
            }
            let now = Fingerprint::of(path).ok();
            if now.is_none() || now != self.print {
                return Err(Death::Died(format!(
                    "was not started again: the plugin file changed since it was registered ({}); \
                     restart the program to load the new file",
                    now.map_or_else(|| "it is gone".to_owned(), |p| p.describe())
                )));
            }
        }
        let launch = Launch {
            serves: &self.serves,
            program: &self.program,
            timeout: self.config.scan_timeout,
            memory_cap: cap,
            sandbox: self.config.sandbox,
            label: format!("plugin {}", self.info.id),
        };
        match process::spawn(&launch) {
            Ok((hello, p)) => {
                let names: Vec<&str> = hello.formats.iter().map(|f| f.name.as_str()).collect();
                if names != self.names.iter().map(String::as_str).collect::<Vec<_>>() {
                    return Err(Death::Died(format!(
                        "serves other formats than were registered ({names:?}); the file changed: run \
                         `imageio plugins --rescan`"
                    )));
                }
                Ok(p)
            }
            Err(o) => Err(Death::Died(format!("could not start: {}", o.message()))),
        }
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
        return Err(Death::of(proc));
    }
    // The time limit counts only the worker's time: the clock stops while
    // the host serves a callback. A wall-clock cap of 4 times the limit
    // stops a worker that keeps the host busy with callbacks forever.
    let mut budget = timeout;
    let cap = Instant::now() + timeout.saturating_mul(4);
    loop {
        if Instant::now() >= cap {
            proc.end(Duration::ZERO);
            return Err(Death::TimedOut(timeout.saturating_mul(4)));
        }
        let waited = Instant::now();
        let m = match proc.chan.recv(Some(budget)) {
            Ok(Some(m)) => m,
            Ok(None) => {
                proc.end(Duration::ZERO);
                return Err(Death::TimedOut(timeout));
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                proc.end(Duration::ZERO);
                return Err(Death::Garbled(e.to_string()));
            }
            Err(_) => return Err(Death::of(proc)),
        };
        budget = budget.saturating_sub(waited.elapsed());
        let Some((&t, body)) = m.bytes.split_first() else {
            return Err(Death::Garbled("an empty message".into()));
        };
        let answer = match t {
            tag::READ | tag::WRITE | tag::SEEK | tag::ALLOC => callback(t, body, ctx, zero_copy),
            tag::LOG => {
                process::forward_log(body);
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
                    return Err(Death::of(proc));
                }
            }
            Err(e) => {
                proc.end(Duration::ZERO);
                return Err(Death::Garbled(e.to_string()));
            }
        }
    }
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
