//! The worker protocol's bytes: a message encoder and decoder for the
//! values that cross (integers, strings, [`Value`]s, [`Dict`]s,
//! [`Limits`], signatures), and the [`Channel`] they travel on, a
//! `SOCK_SEQPACKET` socket pair that keeps message boundaries and carries
//! file descriptors (a file source, an image's shared memory).
//!
//! A message over [`INLINE_MAX`] bytes travels in a sealed memfd, so any
//! size crosses without fragmenting. The decoder never trusts a length:
//! every read is checked against the bytes left, so a broken or hostile
//! worker gets a protocol error, not a panic or a huge allocation.

use crate::base::{Dict, Limits, Value};
use crate::plugin::ByteSignature;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The largest message sent inline; larger ones go through a memfd.
pub(crate) const INLINE_MAX: usize = 64 * 1024;
/// The largest message accepted from a memfd (a metadata dict with a big
/// profile still fits; a hostile length does not).
const LARGE_MAX: u64 = 1 << 30;
/// Tag of a message that travels in a memfd (its first fd).
const TAG_LARGE: u8 = 0xFF;
/// The most file descriptors one message carries.
const MAX_FDS: usize = 4;

/// Builds one message.
#[derive(Default)]
pub(crate) struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    /// A message starting with `tag`.
    pub(crate) fn new(tag: u8) -> Enc {
        Enc { buf: vec![tag] }
    }
    pub(crate) fn u8(&mut self, v: u8) -> &mut Enc {
        self.buf.push(v);
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Enc {
        self.buf.extend(v.to_le_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Enc {
        self.buf.extend(v.to_le_bytes());
        self
    }
    pub(crate) fn i64(&mut self, v: i64) -> &mut Enc {
        self.buf.extend(v.to_le_bytes());
        self
    }
    pub(crate) fn f64(&mut self, v: f64) -> &mut Enc {
        self.buf.extend(v.to_le_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Enc {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
        self
    }
    pub(crate) fn str(&mut self, v: &str) -> &mut Enc {
        self.bytes(v.as_bytes())
    }
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) -> &mut Enc {
        match v {
            Some(v) => self.u8(1).u64(v),
            None => self.u8(0),
        }
    }
    pub(crate) fn u64s(&mut self, v: &[u64]) -> &mut Enc {
        self.u64(v.len() as u64);
        for &x in v {
            self.u64(x);
        }
        self
    }
    pub(crate) fn value(&mut self, v: &Value) -> &mut Enc {
        match v {
            Value::None => self.u8(0),
            Value::Bool(b) => self.u8(1).u8(u8::from(*b)),
            Value::Int(i) => self.u8(2).i64(*i),
            Value::Float(f) => self.u8(3).f64(*f),
            Value::Str(s) => self.u8(4).str(s),
            Value::Bytes(b) => self.u8(5).bytes(b),
            Value::IntArray(a) => {
                self.u8(6).u64(a.len() as u64);
                for &x in a {
                    self.i64(x);
                }
                self
            }
            Value::FloatArray(a) => {
                self.u8(7).u64(a.len() as u64);
                for &x in a {
                    self.f64(x);
                }
                self
            }
            Value::Dict(d) => self.u8(8).dict(d),
        }
    }
    pub(crate) fn dict(&mut self, d: &Dict) -> &mut Enc {
        self.u64(d.len() as u64);
        for (k, v) in d.iter() {
            self.str(k).value(v);
        }
        self
    }
    pub(crate) fn limits(&mut self, l: &Limits) -> &mut Enc {
        let text = l.to_string();
        self.str(&text)
    }
    pub(crate) fn signature(&mut self, s: &ByteSignature) -> &mut Enc {
        self.u64(s.offset as u64).bytes(&s.bytes);
        match &s.mask {
            Some(m) => self.u8(1).bytes(m),
            None => self.u8(0),
        }
    }
}

/// Reads one message; every method fails cleanly on short or bad data.
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
}

/// A message that does not decode.
pub(crate) fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed worker message ({what})"))
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec { buf }
    }
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(bad("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub(crate) fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    pub(crate) fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    pub(crate) fn f64(&mut self) -> io::Result<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    /// A count of items of at least `item` bytes each, checked against the
    /// bytes left (so a hostile count cannot make a huge allocation).
    fn count(&mut self, item: usize) -> io::Result<usize> {
        let n = self.u64()?;
        if n.saturating_mul(item.max(1) as u64) > self.buf.len() as u64 {
            return Err(bad("a count past the end"));
        }
        Ok(n as usize)
    }
    pub(crate) fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }
    pub(crate) fn str(&mut self) -> io::Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| bad("text that is not UTF-8"))
    }
    pub(crate) fn opt_u64(&mut self) -> io::Result<Option<u64>> {
        Ok(match self.u8()? {
            0 => None,
            _ => Some(self.u64()?),
        })
    }
    pub(crate) fn u64s(&mut self) -> io::Result<Vec<u64>> {
        let n = self.count(8)?;
        (0..n).map(|_| self.u64()).collect()
    }
    pub(crate) fn value(&mut self, depth: u32) -> io::Result<Value> {
        Ok(match self.u8()? {
            0 => Value::None,
            1 => Value::Bool(self.u8()? != 0),
            2 => Value::Int(self.i64()?),
            3 => Value::Float(self.f64()?),
            4 => Value::Str(self.str()?),
            5 => Value::Bytes(self.bytes()?.to_vec()),
            6 => {
                let n = self.count(8)?;
                Value::IntArray((0..n).map(|_| self.i64()).collect::<io::Result<_>>()?)
            }
            7 => {
                let n = self.count(8)?;
                Value::FloatArray((0..n).map(|_| self.f64()).collect::<io::Result<_>>()?)
            }
            8 if depth < 16 => Value::Dict(self.dict_at(depth + 1)?),
            _ => return Err(bad("an unknown value kind")),
        })
    }
    fn dict_at(&mut self, depth: u32) -> io::Result<Dict> {
        let n = self.count(10)?;
        let mut d = Dict::new();
        for _ in 0..n {
            let k = self.str()?;
            let v = self.value(depth)?;
            d.insert(k, v);
        }
        Ok(d)
    }
    pub(crate) fn dict(&mut self) -> io::Result<Dict> {
        self.dict_at(0)
    }
    pub(crate) fn limits(&mut self) -> io::Result<Limits> {
        let text = self.str()?;
        Limits::NONE.parsed(&text).map_err(|_| bad("limits"))
    }
    pub(crate) fn signature(&mut self) -> io::Result<ByteSignature> {
        let offset = self.u64()? as usize;
        let bytes = self.bytes()?.to_vec();
        let mask = match self.u8()? {
            0 => None,
            _ => Some(self.bytes()?.to_vec()),
        };
        if mask.as_ref().is_some_and(|m| m.len() != bytes.len()) {
            return Err(bad("a signature mask of the wrong length"));
        }
        Ok(ByteSignature { offset, bytes, mask })
    }
}

/// One end of the host-worker socket.
pub(crate) struct Channel {
    fd: OwnedFd,
}

/// A received message and the descriptors that came with it.
pub(crate) struct Message {
    pub bytes: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

impl Channel {
    /// A connected pair (`SOCK_SEQPACKET`, close-on-exec).
    pub(crate) fn pair() -> io::Result<(Channel, Channel)> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two ints for socketpair to fill.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socketpair succeeded: both descriptors are open and ours.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Makes a send that cannot complete within `t` fail (a worker that
    /// stops reading cannot block the host).
    pub(crate) fn set_send_timeout(&self, t: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_usec: libc::suseconds_t::from(t.subsec_micros() as i32),
        };
        // SAFETY: a valid timeval for SO_SNDTIMEO on our own socket.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                std::ptr::addr_of!(tv).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The channel on an inherited descriptor (the worker's end).
    pub(crate) fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    /// The raw descriptor (to hand to the worker at spawn).
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends one message with `fds` attached.
    pub(crate) fn send(&self, msg: &[u8], fds: &[RawFd]) -> io::Result<()> {
        if msg.len() > INLINE_MAX {
            let big = super::shm::Memfd::with_bytes("imageio-msg", msg)?;
            let mut all = vec![big.raw()];
            all.extend_from_slice(fds);
            return self.send_raw(&[TAG_LARGE], &all);
        }
        self.send_raw(msg, fds)
    }

    fn send_raw(&self, msg: &[u8], fds: &[RawFd]) -> io::Result<()> {
        assert!(fds.len() <= MAX_FDS, "at most {MAX_FDS} descriptors per message");
        let mut iov = libc::iovec {
            iov_base: msg.as_ptr() as *mut libc::c_void,
            iov_len: msg.len(),
        };
        // Room for MAX_FDS descriptors, aligned for cmsghdr.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        if !fds.is_empty() {
            let payload = std::mem::size_of_val(fds) as u32;
            // SAFETY: CMSG_SPACE only computes a size.
            let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
            hdr.msg_control = control.as_mut_ptr().cast();
            hdr.msg_controllen = space;
            // SAFETY: the control buffer is `space` bytes (at most 64) and
            // aligned; CMSG_FIRSTHDR points into it, and the data written
            // (len(fds) ints) fits the space computed for them.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(&hdr);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(payload) as usize;
                std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast::<RawFd>(), fds.len());
            }
        }
        loop {
            // SAFETY: `hdr` describes valid buffers for the call; MSG_NOSIGNAL
            // turns a closed peer into EPIPE instead of SIGPIPE.
            let n = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Waits at most `timeout` (forever for `None`) for a message; `Ok(None)`
    /// when the time ran out. A closed peer is `UnexpectedEof`.
    pub(crate) fn recv(&self, timeout: Option<Duration>) -> io::Result<Option<Message>> {
        if let Some(t) = timeout {
            let mut p = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // A deadline, so that signals (EINTR) cannot stretch the wait.
            let deadline = std::time::Instant::now() + t;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
                // SAFETY: one valid pollfd.
                let r = unsafe { libc::poll(&mut p, 1, ms) };
                if r == 0 {
                    return Ok(None);
                }
                if r > 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
        let msg = self.recv_raw()?;
        if msg.bytes.first() == Some(&TAG_LARGE) && msg.bytes.len() == 1 {
            let mut fds = msg.fds.into_iter();
            let big = fds.next().ok_or_else(|| bad("a large message without its memfd"))?;
            let bytes = super::shm::read_sealed(&big, LARGE_MAX)?;
            return Ok(Some(Message {
                bytes,
                fds: fds.collect(),
            }));
        }
        Ok(Some(msg))
    }

    fn recv_raw(&self) -> io::Result<Message> {
        let mut buf = vec![0u8; INLINE_MAX];
        let mut control = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = control.as_mut_ptr().cast();
        hdr.msg_controllen = std::mem::size_of_val(&control);
        let n = loop {
            // SAFETY: `hdr` describes valid, writable buffers; received
            // descriptors are close-on-exec.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut hdr, libc::MSG_CMSG_CLOEXEC) };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        let mut fds = Vec::new();
        // SAFETY: the kernel filled `control` up to msg_controllen; the CMSG
        // macros walk only within it, and SCM_RIGHTS data holds ints, each a
        // descriptor now owned by this process.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&hdr);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c).cast::<RawFd>();
                    let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                    for i in 0..count {
                        fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                    }
                }
                c = libc::CMSG_NXTHDR(&hdr, c);
            }
        }
        if n == 0 && fds.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the worker closed its socket",
            ));
        }
        if hdr.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
            return Err(bad("a message or its descriptors were cut"));
        }
        buf.truncate(n);
        Ok(Message { bytes: buf, fds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_lengths_fail_cleanly() {
        let mut d = Dict::new();
        d.insert("a", Value::IntArray(vec![1, -2]));
        d.insert("b", Value::Str("é".into()));
        let mut inner = Dict::new();
        inner.insert("x", Value::Float(0.5));
        d.insert("n", Value::Dict(inner));
        let mut e = Enc::new(7);
        e.dict(&d).limits(&Limits::DEFAULT).opt_u64(Some(3));
        let mut r = Dec::new(&e.buf[1..]);
        assert_eq!(r.dict().unwrap(), d);
        assert_eq!(r.limits().unwrap(), Limits::DEFAULT);
        assert_eq!(r.opt_u64().unwrap(), Some(3));
        // A count claiming more than is there.
        let mut hostile = Enc::new(0);
        hostile.u64(u64::MAX);
        assert!(Dec::new(&hostile.buf[1..]).bytes().is_err());
        assert!(Dec::new(&hostile.buf[1..]).dict().is_err());
    }

    #[test]
    fn messages_and_descriptors_cross_and_large_ones_use_a_memfd() {
        let (a, b) = Channel::pair().unwrap();
        let f = tempfile::tempfile().unwrap();
        a.send(b"\x01hello", &[f.as_raw_fd()]).unwrap();
        let m = b.recv(Some(Duration::from_secs(5))).unwrap().unwrap();
        assert_eq!(m.bytes, b"\x01hello");
        assert_eq!(m.fds.len(), 1);
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        a.send(&big, &[]).unwrap();
        assert_eq!(b.recv(None).unwrap().unwrap().bytes, big);
        assert!(b.recv(Some(Duration::from_millis(10))).unwrap().is_none());
        drop(a);
        assert_eq!(b.recv(None).err().map(|e| e.kind()), Some(io::ErrorKind::UnexpectedEof));
    }
}

/// Message tags. Requests go from the host to the worker; each gets one
/// reply, and while the worker works on it, it may make callbacks, each
/// answered by the host (except `LOG`).
pub(crate) mod tag {
    // Host to worker: requests.
    pub const CONFIDENCE: u8 = 1;
    pub const OPEN: u8 = 2;
    pub const LENGTH: u8 = 3;
    pub const DATA: u8 = 4;
    pub const META: u8 = 5;
    pub const APPEND: u8 = 6;
    pub const SET_META: u8 = 7;
    pub const CLOSE: u8 = 8;
    /// Image properties (ABI 1.2); answered with `PROPS`: a flag, then the
    /// dtype and shape when the format could tell.
    pub const PROPS: u8 = 9;
    // Worker to host: replies.
    pub const HELLO: u8 = 20;
    pub const LOAD_ERROR: u8 = 21;
    pub const OK: u8 = 22;
    pub const INT: u8 = 23;
    pub const U64: u8 = 24;
    pub const IMAGE: u8 = 25;
    pub const DICT: u8 = 26;
    pub const FAILED: u8 = 27;
    // Worker to host: callbacks during a request.
    pub const READ: u8 = 40;
    pub const WRITE: u8 = 41;
    pub const SEEK: u8 = 42;
    pub const ALLOC: u8 = 43;
    pub const LOG: u8 = 44;
    // Host to worker: answers to callbacks.
    pub const BYTES: u8 = 50;
    pub const IO_ERROR: u8 = 51;
    pub const DONE: u8 = 52;
    pub const POS: u8 = 53;
    pub const SKEW: u8 = 54;
    pub const REFUSED: u8 = 55;
}

/// `FAILED` code for a plugin that broke the protocol (not an `IIO_ERR_*`).
pub(crate) const PROTOCOL_FAILURE: i64 = -1000;
/// `FAILED` code for a limits error the worker's host side raised.
pub(crate) const LIMITS_FAILURE: i64 = -1001;

/// A worker-side error as a `FAILED` message: the plugin's status and
/// message, so the host maps it exactly as it maps an in-process failure.
pub(crate) fn failure(e: &crate::Error) -> Enc {
    use crate::Error;
    use imageio_plugin_api::ffi;
    let code_unset = e.plugin_left_code_unset();
    let (code, message, no_message): (i64, String, bool) = match e {
        Error::Plugin {
            code,
            message,
            no_message,
            ..
        } => (i64::from(code.status()), message.clone(), *no_message),
        Error::Panicked { message, .. } => (i64::from(ffi::IIO_ERR_PANIC), message.clone(), false),
        Error::IndexOutOfRange { message, .. } => (i64::from(ffi::IIO_ERR_INDEX_OUT_OF_RANGE), message.clone(), false),
        Error::CannotReadFrame { message, .. } => (i64::from(ffi::IIO_ERR_CANNOT_READ_FRAME), message.clone(), false),
        Error::Protocol { message, .. } => (PROTOCOL_FAILURE, message.clone(), false),
        Error::MemoryLimit(m) => (LIMITS_FAILURE, m.clone(), false),
        other if other.kind() == crate::ErrorKind::Io => (i64::from(ffi::IIO_ERR_IO), other.to_string(), false),
        other => (i64::from(ffi::IIO_ERR_INTERNAL), other.to_string(), false),
    };
    let mut m = Enc::new(tag::FAILED);
    m.i64(code)
        .str(&message)
        .u8(u8::from(no_message))
        .u8(u8::from(code_unset));
    m
}
