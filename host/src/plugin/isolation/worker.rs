//! The worker's side: what a worker process runs (the `imageio-worker`
//! program, or a program that embeds the library and called
//! [`serve_if_worker`](crate::plugin::serve_if_worker)). It sandboxes
//! itself (see `sandbox`), loads one plugin (a library file, or a
//! builtin), sends its table (`HELLO`), then answers the host's requests
//! one at a time with the in-process backend, its streams and image memory
//! reaching back to the host over the socket.
//!
//! Everything a plugin can do wrong happens here: a crash, an abort, an
//! `exit`, a hang or running out of memory ends or stalls this process
//! only; the host sees the socket close or the time run out. When the host
//! dies, a watch thread sees the socket hang up and kills this process's
//! group.

use super::messages::{Hello, HelloFormat, LoadFailure, RequestDesc};
use super::sandbox;
use super::shm::{Mapping, Memfd};
use super::wire::{self, Channel, Dec, Enc, Message, tag};
use crate::base::Dict;
use crate::base::prefault::Prefault;
use crate::base::window::Window;
use crate::plugin::backend::{FormatBackend, Instance};
use crate::plugin::callbacks::AllocHook;
use crate::plugin::inprocess::{InProcess, Open};
use crate::plugin::loader::{self, PluginTable};
use crate::request::{Request, Uri};
use imageio_plugin_api::Dtype;
use std::collections::HashMap;
use std::ffi::c_void;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::Arc;

/// The descriptor the host leaves the worker's end of the socket on.
pub(crate) const WORKER_FD: i32 = 3;

/// The first argument of a worker process: how a program tells it is
/// started as a worker.
pub(crate) const SERVE_ARG: &str = "--imageio-worker-serve";

/// Bytes asked of the host per read callback (fewer round trips than the
/// plugin's own reads, which are served from this buffer).
const READ_CHUNK: usize = 1 << 20;

/// Whether this process was started as a worker (its first argument).
pub(crate) fn started_as_worker() -> bool {
    std::env::args_os().nth(1).is_some_and(|a| a == SERVE_ARG)
}

/// The worker's main: `--imageio-worker-serve LIBRARY` or
/// `--imageio-worker-serve --builtin ID`, the socket on fd 3.
pub(crate) fn worker_main() -> ExitCode {
    ExitCode::from(serve())
}

/// Serves, and returns the exit status: 0 when the host hung up (or the
/// plugin did not load, which the host was told), 2 when not started by a
/// host, 3 when the worker itself failed.
pub(crate) fn serve() -> u8 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let target = match args.as_slice() {
        [cmd, flag, id] if cmd == SERVE_ARG && flag == "--builtin" => {
            Target::Builtin(id.to_string_lossy().into_owned())
        }
        [cmd, path] if cmd == SERVE_ARG => Target::File(path.into()),
        _ => {
            eprintln!(
                "imageio-worker: runs one imageio plugin for a host process; it is started by the host, \
                 not by hand"
            );
            return 2;
        }
    };
    // Is fd 3 a socket the host passed? Checked before taking it.
    // SAFETY: fcntl on a descriptor number only queries it.
    if unsafe { libc::fcntl(WORKER_FD, libc::F_GETFD) } < 0 {
        eprintln!("imageio-worker: no host socket on fd {WORKER_FD}; it is started by the host, not by hand");
        return 2;
    }
    // SAFETY: the host passes the worker's end of a socket pair as fd 3
    // and nothing else in this process uses that descriptor.
    let chan = Arc::new(Channel::from_fd(unsafe { OwnedFd::from_raw_fd(WORKER_FD) }));
    install_logger(&chan);
    let sandboxed = std::env::var("IMAGEIO_WORKER_SANDBOX").map_or(true, |v| v != "0");
    let plugin_file = match &target {
        Target::File(p) => Some(p.as_path()),
        Target::Builtin(_) => None,
    };
    let mut confinement = None;
    if sandboxed {
        match sandbox::before_load(plugin_file) {
            Ok(c) => confinement = Some(c),
            Err(e) => {
                let mut m = Enc::new(tag::LOAD_ERROR);
                LoadFailure::Other(format!("the worker could not sandbox itself: {e}")).encode(&mut m);
                let _ = chan.send(&m.buf, &[]);
                return 0;
            }
        }
    }
    watch_host(&chan);
    let table = match load(&target) {
        Ok(t) => t,
        Err(failure) => {
            let mut m = Enc::new(tag::LOAD_ERROR);
            failure.encode(&mut m);
            let _ = chan.send(&m.buf, &[]);
            return 0;
        }
    };
    if let Some(c) = confinement
        && let Err(e) = sandbox::after_load(c)
    {
        log::error!("imageio-worker: the sandbox could not be narrowed after loading: {e}");
        return 3;
    }
    if chan.send(&hello(&table).buf, &[]).is_err() {
        return 0;
    }
    let mut worker = Worker {
        chan,
        formats: table.formats.into_iter().map(|f| f.backend).collect(),
        instances: HashMap::new(),
        next: 1,
    };
    loop {
        match worker.chan.recv(None) {
            Ok(Some(m)) => {
                if let Err(e) = worker.handle(m) {
                    log::error!("imageio-worker: {e}");
                    return 3;
                }
            }
            // The host closed the socket (or died): done.
            _ => return 0,
        }
    }
}

/// Watches the socket on a thread of its own: when the host hangs up (it
/// ended, or died), the worker's whole process group is killed, whatever
/// the plugin is doing. Without it a busy worker, and anything it started,
/// would outlive a host killed with `kill -9`.
fn watch_host(chan: &Arc<Channel>) {
    let fd = chan.raw();
    let spawned = std::thread::Builder::new()
        .name("imageio-worker-watch".into())
        .spawn(move || {
            loop {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLRDHUP,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; the socket lives as long as the
                // process (the channel is never dropped before exit).
                let r = unsafe { libc::poll(&mut p, 1, -1) };
                if r > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    // SAFETY: signals this process's own group (the host
                    // made the worker its leader); touches no memory.
                    unsafe {
                        libc::kill(0, libc::SIGKILL);
                        libc::_exit(0);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("imageio-worker: no thread to watch the host: {e}");
    }
}

enum Target {
    File(std::path::PathBuf),
    Builtin(String),
}

/// Loads the plugin; on failure, what failed.
fn load(target: &Target) -> Result<PluginTable<InProcess>, LoadFailure> {
    let r = match target {
        // SAFETY: the host asked for this file, which passed its trust
        // checks; running its code (in this expendable, sandboxed process)
        // is the point.
        Target::File(p) => unsafe { loader::load_library(p) },
        Target::Builtin(id) => match crate::plugin::builtins::builtins().into_iter().find(|(b, _)| b == id) {
            Some((id, accessor)) => loader::read_builtin(accessor, id),
            None => return Err(LoadFailure::Other(format!("no builtin plugin {id:?} in this worker"))),
        },
    };
    r.map_err(|e| LoadFailure::of(&e))
}

/// The `HELLO` message: the plugin's table as the host registers it.
fn hello(table: &PluginTable<InProcess>) -> Enc {
    let info = table.formats.first().map(|f| f.backend.plugin());
    let described = Hello {
        id: table.id.clone(),
        version: info.map_or_else(String::new, |i| i.version.clone()),
        serialized: info.is_some_and(|i| i.is_serialized()),
        formats: table
            .formats
            .iter()
            .map(|f| {
                let caps = f.backend.capabilities();
                let ext = f.backend.extensions();
                HelloFormat {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    extensions: f.extensions.clone(),
                    modes: f.modes.clone(),
                    read: caps.read,
                    write: caps.write,
                    signatures: f.signatures.clone(),
                    options: ext.options.clone(),
                    doc: ext.doc.clone(),
                }
            })
            .collect(),
    };
    let mut m = Enc::new(tag::HELLO);
    described.encode(&mut m);
    m
}

/// Sends log records to the host (which logs them as its own).
struct ChannelLogger {
    chan: Arc<Channel>,
}

impl log::Log for ChannelLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let mut m = Enc::new(tag::LOG);
        m.u32(imageio_plugin_api::raw::log_level_code(record.level()))
            .str(record.target())
            .str(&record.args().to_string());
        let _ = self.chan.send(&m.buf, &[]);
    }
    fn flush(&self) {}
}

fn install_logger(chan: &Arc<Channel>) {
    let level = std::env::var("IMAGEIO_WORKER_LOG")
        .ok()
        .and_then(|l| l.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    if log::set_boxed_logger(Box::new(ChannelLogger { chan: chan.clone() })).is_ok() {
        log::set_max_level(level);
    }
}

/// The worker's state: the plugin's formats and its open instances, the
/// in-process backend's own types (the worker is where they run).
struct Worker {
    chan: Arc<Channel>,
    formats: Vec<Arc<InProcess>>,
    instances: HashMap<u64, Open>,
    next: u64,
}

/// An error of the worker itself (the socket), which ends it.
type Fatal = io::Error;

impl Worker {
    fn reply(&self, m: &Enc, fds: &[i32]) -> Result<(), Fatal> {
        self.chan.send(&m.buf, fds)
    }

    fn fail(&self, e: &crate::Error) -> Result<(), Fatal> {
        self.reply(&wire::failure(e), &[])
    }

    fn format(&self, i: u32) -> io::Result<&Arc<InProcess>> {
        self.formats
            .get(i as usize)
            .ok_or_else(|| wire::bad("a format index past the table"))
    }

    fn instance(&mut self, h: u64) -> io::Result<&mut Open> {
        self.instances
            .get_mut(&h)
            .ok_or_else(|| wire::bad("an unknown instance"))
    }

    fn handle(&mut self, m: Message) -> Result<(), Fatal> {
        let (&t, body) = m.bytes.split_first().ok_or_else(|| wire::bad("an empty message"))?;
        let mut d = Dec::new(body);
        let mut fds = m.fds.into_iter();
        match t {
            tag::CONFIDENCE => {
                let desc = RequestDesc::decode(&mut d)?;
                let mut req = request_from(&desc, None, &self.chan, true)?;
                let r = self.format(desc.format)?.confidence(&mut req);
                match r {
                    Ok(c) => self.reply(Enc::new(tag::INT).i64(i64::from(c)), &[]),
                    Err(e) => self.fail(&e),
                }
            }
            tag::OPEN => {
                let desc = RequestDesc::decode(&mut d)?;
                let req = request_from(&desc, fds.next(), &self.chan, false)?;
                match self.format(desc.format)?.open_instance(Box::new(req)) {
                    Ok(inst) => {
                        let h = self.next;
                        self.next += 1;
                        self.instances.insert(h, inst);
                        self.reply(Enc::new(tag::U64).u64(h), &[])
                    }
                    Err((e, _)) => self.fail(&e),
                }
            }
            tag::LENGTH => {
                let h = d.u64()?;
                match self.instance(h)?.get_length() {
                    Ok(n) => self.reply(Enc::new(tag::U64).u64(n), &[]),
                    Err(e) => self.fail(&e),
                }
            }
            tag::DATA => {
                let h = d.u64()?;
                let index = d.u64()?;
                let limits = d.limits()?;
                let image = Arc::new(std::sync::Mutex::new(None));
                let hook = Box::new(SharedAlloc {
                    chan: self.chan.clone(),
                    image: image.clone(),
                });
                let r = self.instance(h)?.get_data_shared(index, &limits, hook);
                let image = image.lock().unwrap_or_else(|p| p.into_inner()).take();
                match r {
                    Ok(meta) => self.send_image(image, &meta),
                    Err(e) => self.fail(&e),
                }
            }
            tag::PROPS => {
                let h = d.u64()?;
                let index = d.u64()?;
                match self.instance(h)?.get_properties(index) {
                    // A flag, then (when answered) the dtype and shape.
                    Ok(None) => self.reply(Enc::new(tag::PROPS).u8(0), &[]),
                    Ok(Some(p)) => {
                        let shape: Vec<u64> = p.shape.iter().map(|&x| x as u64).collect();
                        self.reply(Enc::new(tag::PROPS).u8(1).u32(p.dtype.code()).u64s(&shape), &[])
                    }
                    Err(e) => self.fail(&e),
                }
            }
            tag::META => {
                let h = d.u64()?;
                let index = d.opt_u64()?;
                match self.instance(h)?.get_meta_data(index) {
                    Ok(meta) => self.reply(Enc::new(tag::DICT).dict(&meta), &[]),
                    Err(e) => self.fail(&e),
                }
            }
            tag::APPEND => {
                let h = d.u64()?;
                let dtype = Dtype::from_code(d.u32()?).ok_or_else(|| wire::bad("a dtype"))?;
                let shape = d.u64s()?;
                let meta = d.dict()?;
                let image = image_from_fd(dtype, &shape, fds.next())?;
                match self.instance(h)?.append_data(&image, &meta) {
                    Ok(()) => self.reply(&Enc::new(tag::OK), &[]),
                    Err(e) => self.fail(&e),
                }
            }
            tag::SET_META => {
                let h = d.u64()?;
                let meta = d.dict()?;
                match self.instance(h)?.set_meta_data(&meta) {
                    Ok(()) => self.reply(&Enc::new(tag::OK), &[]),
                    Err(e) => self.fail(&e),
                }
            }
            tag::CLOSE => {
                let h = d.u64()?;
                let inst = self
                    .instances
                    .remove(&h)
                    .ok_or_else(|| wire::bad("an unknown instance"))?;
                let (r, mut req) = Box::new(inst).close();
                // A writer's bytes reach the host as the request finishes.
                let r = r.and_then(|()| {
                    if req.mode().io == crate::IoMode::Write {
                        req.finish()
                    } else {
                        Ok(())
                    }
                });
                match r {
                    Ok(()) => self.reply(&Enc::new(tag::OK), &[]),
                    Err(e) => self.fail(&e),
                }
            }
            other => Err(wire::bad(&format!("unknown request tag {other}"))),
        }
    }

    fn send_image(&self, image: Option<WorkerImage>, meta: &Dict) -> Result<(), Fatal> {
        let Some(image) = image else {
            return Err(wire::bad("an image without its memory"));
        };
        let WorkerImage {
            dtype,
            shape,
            prefault,
            map,
        } = image;
        // The plugin is done with the memory: stop faulting pages in, then
        // unmap it (the host then seals it, which it can only do once no
        // writable mapping is left).
        drop(prefault);
        drop(map);
        let mut m = Enc::new(tag::IMAGE);
        m.u32(dtype.code()).u64s(&shape).dict(meta);
        self.reply(&m, &[])
    }
}

/// The plugin's request in the worker: the host's description, over a
/// stream that is the file the host passed (`fd`) or the host's own
/// stream, read through callbacks.
fn request_from(desc: &RequestDesc, fd: Option<OwnedFd>, chan: &Arc<Channel>, probe: bool) -> io::Result<Request> {
    let mode = format!("{}{}", desc.io as char, desc.image as char);
    let ext = (!desc.extension.is_empty()).then_some(desc.extension.as_str());
    let source: Uri = if desc.io == b'w' {
        Uri::Writer(Box::new(RemoteWriter { chan: chan.clone() }))
    } else if probe {
        // Probing never reads the stream: only the first bytes.
        Uri::Reader(Box::new(io::Cursor::new(desc.first_bytes.clone())))
    } else {
        match fd {
            Some(fd) => Uri::Reader(Box::new(FdReader::new(fd))),
            None => Uri::Reader(Box::new(RemoteReader::new(chan.clone(), desc.size))),
        }
    };
    let mut req =
        Request::with_options(source, &mode, ext, desc.options.clone()).map_err(|e| io::Error::other(e.to_string()))?;
    req.set_limits(desc.limits);
    req.set_worker_view(&desc.uri, desc.size);
    Ok(req)
}

/// A file the host passed, read with an offset of its own (`pread`), so
/// reading here never moves the host's position, and without reopening
/// it by name (which the sandbox forbids).
struct FdReader {
    file: std::fs::File,
    pos: u64,
}

impl FdReader {
    fn new(fd: OwnedFd) -> FdReader {
        FdReader {
            file: std::fs::File::from(fd),
            pos: 0,
        }
    }
}

impl Read for FdReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(out, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for FdReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.file.metadata()?.len().checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start"))?;
        Ok(self.pos)
    }
}

/// The host's stream, read through `READ` and `SEEK` callbacks, a chunk
/// at a time.
struct RemoteReader {
    chan: Arc<Channel>,
    /// The host's last answer to a read, and the position in it.
    window: Window,
    size: Option<u64>,
}

impl RemoteReader {
    fn new(chan: Arc<Channel>, size: Option<u64>) -> RemoteReader {
        RemoteReader {
            chan,
            window: Window::new(Vec::new()),
            size,
        }
    }

    /// One callback: the request, then the host's answer.
    fn ask(&self, m: &Enc) -> io::Result<Message> {
        self.chan.send(&m.buf, &[])?;
        let reply = self
            .chan
            .recv(None)?
            .ok_or_else(|| io::Error::other("no answer from the host"))?;
        if reply.bytes.first() == Some(&tag::IO_ERROR) {
            let msg = Dec::new(&reply.bytes[1..]).str().unwrap_or_default();
            return Err(io::Error::other(msg));
        }
        Ok(reply)
    }
}

impl Read for RemoteReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.window.drained() {
            let next = self.window.end();
            let reply = self.ask(Enc::new(tag::READ).u64(out.len().max(READ_CHUNK) as u64))?;
            if reply.bytes.first() != Some(&tag::BYTES) {
                return Err(wire::bad("a read answered with something else"));
            }
            let bytes = Dec::new(&reply.bytes[1..]).bytes()?;
            self.window.buf.clear();
            self.window.buf.extend_from_slice(bytes);
            self.window.filled(next, bytes.len());
        }
        Ok(self.window.take(out))
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.window.position().checked_add_signed(d),
            SeekFrom::End(d) => self.size.and_then(|s| s.checked_add_signed(d)),
        };
        if let Some(t) = target
            && self.window.seek_inside(t)
        {
            return Ok(t);
        }
        let (off, whence) = match (target, pos) {
            (Some(t), _) => (
                i64::try_from(t).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a seek past 2^63"))?,
                0u8,
            ),
            (None, SeekFrom::End(d)) => (d, 2u8),
            (None, _) => return Err(io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start")),
        };
        let reply = self.ask(Enc::new(tag::SEEK).i64(off).u8(whence))?;
        if reply.bytes.first() != Some(&tag::POS) {
            return Err(wire::bad("a seek answered with something else"));
        }
        let p = Dec::new(&reply.bytes[1..]).u64()?;
        self.window.filled(p, 0);
        Ok(p)
    }
}

/// The host's target: a writer's bytes go to the host in `WRITE`
/// callbacks as the worker's request finishes.
struct RemoteWriter {
    chan: Arc<Channel>,
}

impl Write for RemoteWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(READ_CHUNK);
        self.chan.send(&Enc::new(tag::WRITE).bytes(&data[..n]).buf, &[])?;
        let reply = self
            .chan
            .recv(None)?
            .ok_or_else(|| io::Error::other("no answer from the host"))?;
        match reply.bytes.first() {
            Some(&tag::DONE) => Ok(n),
            Some(&tag::IO_ERROR) => Err(io::Error::other(Dec::new(&reply.bytes[1..]).str().unwrap_or_default())),
            _ => Err(wire::bad("a write answered with something else")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The image's memory for the plugin: a memfd laid out at the page offset
/// of the host's buffer, which the host allocates (and checks against the
/// limits) when asked.
struct SharedAlloc {
    chan: Arc<Channel>,
    /// Where the image's memory is left for the worker (the hook itself
    /// goes with the plugin's sink).
    image: Arc<std::sync::Mutex<Option<WorkerImage>>>,
}

/// An image allocated in the host's shared memory: its dtype, its shape,
/// and (none for an empty image) the page pre-faulting, then the plugin's
/// mapping of the memfd: fields drop in order, so the pre-faulting thread
/// stops before the mapping goes.
struct WorkerImage {
    dtype: Dtype,
    shape: Vec<u64>,
    prefault: Option<Prefault>,
    map: Option<Mapping>,
}

impl AllocHook for SharedAlloc {
    fn alloc(&mut self, dtype: Dtype, shape: &[u64], bytes: u64) -> Result<*mut c_void, String> {
        let mut m = Enc::new(tag::ALLOC);
        m.u32(dtype.code()).u64s(shape);
        self.chan.send(&m.buf, &[]).map_err(|e| e.to_string())?;
        let reply = self
            .chan
            .recv(None)
            .map_err(|e| e.to_string())?
            .ok_or("no answer from the host")?;
        let mut d = Dec::new(reply.bytes.get(1..).unwrap_or_default());
        let skew = match reply.bytes.first() {
            Some(&tag::SKEW) => d.u64().map_err(|e| e.to_string())? as usize,
            Some(&tag::REFUSED) => return Err(d.str().unwrap_or_default()),
            _ => return Err("the host answered an allocation with something else".into()),
        };
        let mut slot = self.image.lock().unwrap_or_else(|p| p.into_inner());
        if bytes == 0 {
            *slot = Some(WorkerImage {
                dtype,
                shape: shape.to_vec(),
                prefault: None,
                map: None,
            });
            return Ok(std::ptr::NonNull::<u64>::dangling().as_ptr().cast());
        }
        // The host's memfd: byte `skew + i` is the image's byte `i`.
        let fd = reply
            .fds
            .into_iter()
            .next()
            .ok_or("the host sent no memory for the image")?;
        let len = skew + bytes as usize;
        let map = Memfd::from_fd(fd, len)
            .map_shared()
            .map_err(|e| format!("cannot map the image's shared memory: {e}"))?;
        // SAFETY: the mapping holds `skew + bytes` bytes.
        let p = unsafe { map.ptr().add(skew) };
        *slot = Some(WorkerImage {
            dtype,
            shape: shape.to_vec(),
            prefault: Some(Prefault::start(map.ptr() as usize, map.len())),
            map: Some(map),
        });
        Ok(p.cast())
    }
}

/// An image the host passed for a writer: its bytes from the sealed memfd.
fn image_from_fd(dtype: Dtype, shape: &[u64], fd: Option<OwnedFd>) -> io::Result<crate::base::Image> {
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let bytes = imageio_plugin_api::raw::shape_bytes(dtype.size() as u64, shape).ok_or_else(|| wire::bad("a shape"))?;
    let data = match fd {
        Some(fd) => super::shm::read_sealed(&fd, bytes)?,
        None if bytes == 0 => Vec::new(),
        None => return Err(wire::bad("an image without its memory")),
    };
    if data.len() as u64 != bytes {
        return Err(wire::bad("an image of the wrong size"));
    }
    let array = crate::base::NdArray::from_bytes(dtype, &dims, &data).ok_or_else(|| wire::bad("an image"))?;
    Ok(crate::base::Image::new(array, Dict::new()))
}
