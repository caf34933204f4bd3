//! The isolated backend: [`IsolatedFormat`] and its instances speak the
//! same seam as the in-process backend, each call made on a worker of the
//! plugin's [`Pool`]; an instance lives in the worker that opened it. And
//! [`HostBuffer`], the host's array an image decoded in a worker lands in.

use super::buffer::HostBuffer;
use super::messages::RequestDesc;
use super::pool::{CallCtx, On, Opened, Pool};
use super::process::{Death, memory_cap};
use super::shm::Memfd;
use super::wire::{self, Dec, Enc, Message, tag};
use crate::base::{Dict, Image, Limits};
use crate::error::{Error, Result};
use crate::plugin::PluginInfo;
use crate::plugin::backend::{Call, Capabilities, Failure, FormatBackend, Instance};
use crate::request::{IoMode, Request, Source};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// One format of an isolated plugin.
pub(crate) struct IsolatedFormat {
    pub pool: Arc<Pool>,
    pub index: u32,
    pub name: String,
    pub caps: Capabilities,
    /// The options it declares (ABI 1.2, from its table).
    pub options: Option<Vec<crate::plugin::extensions::OptionDecl>>,
    /// Its documentation (ABI 1.2).
    pub doc: Option<String>,
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

    fn options(&self) -> Option<&[crate::plugin::extensions::OptionDecl]> {
        self.options.as_deref()
    }

    fn doc(&self) -> Option<&str> {
        self.doc.as_deref()
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
                        options: None,
                        doc: None,
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

    fn get_properties(&mut self, index: u64) -> Result<Option<crate::plugin::extensions::ImageProps>> {
        let mut m = Enc::new(tag::PROPS);
        m.u64(self.handle).u64(index);
        let (reply, _) = self.call("get_properties", tag::PROPS, &m, &[], None, Some(index))?;
        let mut d = Dec::new(&reply.bytes[1..]);
        let props = match d.u8() {
            Ok(0) => return Ok(None),
            Ok(_) => d.u32().ok().zip(d.u64s().ok()),
            Err(_) => None,
        };
        let Some((dtype, shape)) = props.and_then(|(c, s)| Some((imageio_plugin_api::Dtype::from_code(c)?, s))) else {
            let uri = self.request.filename().to_owned();
            return Err(self
                .format
                .died(&uri, "get_properties", &Death::Garbled("malformed properties".into())));
        };
        Ok(Some(crate::plugin::extensions::ImageProps {
            dtype,
            shape: shape.iter().map(|&x| x as usize).collect(),
        }))
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
