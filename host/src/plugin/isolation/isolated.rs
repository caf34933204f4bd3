//! The isolated backend: [`IsolatedFormat`] and its instances speak the
//! same seam as the in-process backend, each call made on a worker of the
//! plugin's [`Pool`]; an instance lives in the worker that opened it. And
//! [`HostBuffer`], the host's array an image decoded in a worker lands in.

use super::messages::RequestDesc;
use super::pool::{CallCtx, On, Opened, Pool};
use super::process::{Death, memory_cap};
use super::shm::{self, Memfd};
use super::wire::{self, Dec, Enc, Message, tag};
use crate::base::{Dict, Image, Limits, NdArray};
use crate::error::{Error, Result};
use crate::plugin::PluginInfo;
use crate::plugin::backend::{Call, Capabilities, Failure, FormatBackend, Instance};
use crate::request::{IoMode, Request, Source};
use imageio_plugin_api::Dtype;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// The host's array buffer for an image a worker decodes: allocated
/// (uninitialised) when the worker asks, filled by adopting the worker's
/// sealed memfd, then turned into the array without a copy.
pub(crate) struct HostBuffer {
    pub(super) dtype: Dtype,
    pub(super) dims: Vec<usize>,
    pub(super) ptr: *mut u8,
    pub(super) bytes: usize,
    pub(super) layout: std::alloc::Layout,
    /// The memory shared with the worker while it decodes (none for an
    /// empty image, and none once filled).
    pub(super) shared: Option<shm::SharedImage>,
}

// SAFETY: the buffer is plain memory owned by this value.
unsafe impl Send for HostBuffer {}

impl HostBuffer {
    /// Checks the request against the limits (the same checks as an
    /// in-process allocation) and allocates.
    pub(super) fn new(
        code: u32,
        shape: &[u64],
        limits: &Limits,
        zero_copy: bool,
    ) -> std::result::Result<HostBuffer, String> {
        let crate::plugin::allocation::AllocRequest { dtype, dims, bytes } =
            crate::plugin::allocation::checked_alloc(limits, code, shape)?;
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
                NdArray::Bool(crate::plugin::allocation::bytes_to_bools(a))
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
        if let Death::OutOfMemory { .. } = d {
            return Error::MemoryLimit(format!(
                "{uri}: format {} ({}): its worker {}",
                self.name,
                self.pool.info.id,
                d.reason(what)
            ));
        }
        Error::WorkerFailed {
            uri: uri.to_owned(),
            format: self.name.clone(),
            plugin: self.pool.info.id.clone(),
            reason: d.reason(what),
        }
    }

    /// The request as the worker builds its own (see [`RequestDesc`]).
    fn describe(&self, tag: u8, request: &mut Request, probe: bool) -> Result<Enc> {
        let first_bytes = if probe && request.mode().io == IoMode::Read {
            request.firstbytes()?.to_vec()
        } else {
            Vec::new()
        };
        let mode = request.mode();
        let desc = RequestDesc {
            format: self.index,
            io: if mode.io == IoMode::Read { b'r' } else { b'w' },
            image: mode.image.as_char() as u8,
            uri: request.filename().to_owned(),
            extension: request.extension().unwrap_or("").to_lowercase(),
            options: request.kwargs().clone(),
            limits: *request.limits(),
            size: request.size_hint(),
            first_bytes,
        };
        let mut m = Enc::new(tag);
        desc.encode(&mut m);
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

    fn isolated(&self) -> bool {
        true
    }

    fn confidence(&self, request: &mut Request) -> Result<i32> {
        let msg = self.describe(tag::CONFIDENCE, request, true)?;
        let mut ctx = CallCtx::new(None);
        let cap = Some(memory_cap(request.limits()));
        match self.pool.call(On::Any(cap), &msg, &[], &mut ctx) {
            Ok((m, _, _)) if m.bytes.first() == Some(&tag::INT) => {
                Ok(Dec::new(&m.bytes[1..]).i64().unwrap_or(0).clamp(0, 100) as i32)
            }
            Ok((m, _, _)) => Err(self.failure(request.filename(), None, &m, None)),
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
        // The worker's memory cap follows the request's limits.
        let cap = Some(memory_cap(request.limits()));
        let mut ctx = CallCtx::new(Some(&mut request));
        let r = self.pool.call(On::Any(cap), &msg, &fds, &mut ctx);
        let io = ctx.io_error.take();
        match r {
            Ok((m, slot, generation)) if m.bytes.first() == Some(&tag::U64) => {
                let handle = Dec::new(&m.bytes[1..]).u64().unwrap_or(0);
                let write = request.mode().io == IoMode::Write;
                Ok(Box::new(IsolatedInstance {
                    opened: slot.opened(generation),
                    format: IsolatedFormat {
                        pool: self.pool.clone(),
                        index: self.index,
                        name: self.name.clone(),
                        caps: self.caps,
                    },
                    handle,
                    request,
                    write,
                }))
            }
            Ok((m, _, _)) => Err((self.failure(&uri, None, &m, io), request)),
            Err(d) => Err((self.died(&uri, "open", &d), request)),
        }
    }
}

/// An instance living in a worker.
struct IsolatedInstance {
    format: IsolatedFormat,
    /// The worker it lives in (counted there until this drops).
    opened: Opened,
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
        let r = self.format.pool.call(
            On::Instance(self.opened.slot(), self.opened.generation()),
            msg,
            fds,
            &mut ctx,
        );
        let buffer = ctx.buffer.take();
        let io = ctx.io_error.take();
        let uri = self.request.filename().to_owned();
        match r {
            Ok((m, _, _)) if m.bytes.first() == Some(&expect) => Ok((m, buffer)),
            Ok((m, _, _)) if m.bytes.first() == Some(&tag::FAILED) => Err(self.format.failure(&uri, index, &m, io)),
            Ok((_, slot, g)) => {
                self.format.pool.discard(&slot, g);
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
                message: crate::plugin::backend::NO_IMAGE.into(),
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
