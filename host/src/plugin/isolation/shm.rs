//! Shared memory between the host and a worker: sealed memfds.
//!
//! The worker decodes an image straight into a memfd the size of the
//! host's array, laid out at the same offset within a page as the host's
//! buffer. Once the plugin is done, the worker unmaps it and seals it
//! against writes (`F_SEAL_WRITE`: from then on nobody, the worker
//! included, can change its bytes) and passes the descriptor. The host
//! checks the seals, then maps the memfd's pages copy-on-write over the
//! page-aligned interior of its own array buffer (`MAP_FIXED`), so the
//! pixels become the host's array without being copied; only the partial
//! pages at either end (at most 8 KiB) are copied.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The seals a memfd must carry before the host trusts its bytes.
const SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// The system's page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// An anonymous memory file.
pub(crate) struct Memfd {
    fd: OwnedFd,
    len: usize,
}

impl Memfd {
    /// A memfd of `len` zero bytes that can be sealed.
    pub(crate) fn new(name: &str, len: usize) -> io::Result<Memfd> {
        let cname = std::ffi::CString::new(name).map_err(|_| io::Error::other("a NUL in a memfd name"))?;
        // SAFETY: a valid NUL-terminated name; the flags are valid.
        let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: memfd_create returned a new descriptor, now owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ftruncate on our own descriptor.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Memfd { fd, len })
    }

    /// A memfd the other side made, of `len` bytes.
    pub(crate) fn from_fd(fd: OwnedFd, len: usize) -> Memfd {
        Memfd { fd, len }
    }

    /// A sealed memfd holding `bytes`.
    pub(crate) fn with_bytes(name: &str, bytes: &[u8]) -> io::Result<Memfd> {
        let m = Memfd::new(name, bytes.len())?;
        let mut f = std::fs::File::from(m.fd.try_clone()?);
        std::io::Write::write_all(&mut f, bytes)?;
        m.seal()?;
        Ok(m)
    }

    /// The descriptor, owned.
    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The descriptor.
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Maps the whole file shared and writable (the worker's image buffer).
    /// See `core::prefault` for faulting its pages in ahead of the plugin.
    pub(crate) fn map_shared(&self) -> io::Result<Mapping> {
        Mapping::new(
            self.fd.as_raw_fd(),
            self.len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )
    }

    /// Adds `seals` (`F_SEAL_*`).
    pub(crate) fn add_seals(&self, seals: libc::c_int) -> io::Result<()> {
        // SAFETY: fcntl on our own descriptor.
        if unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Seals the file against any change (every writable mapping must be
    /// gone first).
    pub(crate) fn seal(&self) -> io::Result<()> {
        // SAFETY: fcntl on our own descriptor.
        if unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// A memory mapping, unmapped on drop.
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value.
unsafe impl Send for Mapping {}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: libc::c_int, flags: libc::c_int) -> io::Result<Mapping> {
        if len == 0 {
            return Ok(Mapping {
                ptr: std::ptr::NonNull::dangling().as_ptr(),
                len: 0,
            });
        }
        // SAFETY: a fresh mapping chosen by the kernel; no existing memory
        // is affected.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        if prot & libc::PROT_WRITE != 0 && flags & libc::MAP_SHARED != 0 {
            // A process forked meanwhile (by another thread, or by a
            // plugin) must not keep the shared memory writable: the host's
            // seal would fail while it lives. Children get none of it.
            // SAFETY: advice on the range just mapped.
            if unsafe { libc::madvise(p, len, libc::MADV_DONTFORK) } != 0 {
                log::debug!("MADV_DONTFORK failed: {}", io::Error::last_os_error());
            }
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    /// The number of bytes mapped.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first byte.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `len` mapped, readable bytes for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the region was mapped by `new` and is unmapped once.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

/// Whether `fd` is a memfd of at least `len` bytes sealed against writes
/// and resizing.
fn check_sealed(fd: RawFd, len: u64) -> io::Result<()> {
    // SAFETY: fcntl/fstat on a descriptor this process owns.
    let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    if seals < 0 || seals & (libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK) != libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the worker passed shared memory that is not sealed against writes",
        ));
    }
    // SAFETY: `st` is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if (st.st_size as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the worker's shared memory holds {} bytes, not {len}", st.st_size),
        ));
    }
    Ok(())
}

/// The bytes of a sealed memfd (at most `max`).
pub(crate) fn read_sealed(fd: &OwnedFd, max: u64) -> io::Result<Vec<u8>> {
    // SAFETY: `st` is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on an owned descriptor.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let len = st.st_size as u64;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a worker message of {len} bytes (over {max})"),
        ));
    }
    check_sealed(fd.as_raw_fd(), len)?;
    let map = Mapping::new(fd.as_raw_fd(), len as usize, libc::PROT_READ, libc::MAP_PRIVATE)?;
    Ok(map.bytes().to_vec())
}

/// The host's array buffer shared with a worker while it decodes: a memfd
/// the host creates, whose byte `skew + i` is the image's byte `i`, where
/// `skew` is the buffer's offset within its page. Its page-aligned
/// interior is mapped shared over the buffer itself, so the worker's writes
/// land in the host's array (the worker pre-faults them from the end while
/// its plugin decodes from the start). When the worker is done, the
/// interior becomes a private (copy-on-write) view and the file is sealed
/// against writes (which fails if the worker still holds a writable
/// mapping: a plugin that keeps writing after it returned is caught); the
/// partial pages at either end (at most 8 KiB) are copied.
pub(crate) struct SharedImage {
    memfd: Memfd,
    dst: *mut u8,
    len: usize,
    skew: usize,
    /// The mapped interior (start address, length), if mapped.
    inner: Option<(usize, usize)>,
    /// `finish` succeeded: the interior is a sealed private view.
    finished: bool,
}

impl Drop for SharedImage {
    /// Unless finished, the interior gets fresh private memory again, so
    /// the buffer goes back to the allocator as ordinary memory that no
    /// other process can reach.
    fn drop(&mut self) {
        if let (false, Some((start, len))) = (self.finished, self.inner) {
            restore_anonymous(start, len);
        }
    }
}

/// Puts fresh private memory at `[start, start + len)` (page-aligned,
/// inside a buffer this process owns). If even that fails the process
/// aborts: the buffer would otherwise go back to the allocator unmapped or
/// shared.
fn restore_anonymous(start: usize, len: usize) {
    // SAFETY: the range is the page-aligned interior of the caller's own
    // buffer; it is replaced in place by anonymous memory.
    let p = unsafe {
        libc::mmap(
            start as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        log::error!(
            "cannot restore an image buffer's memory: {}",
            io::Error::last_os_error()
        );
        std::process::abort();
    }
}

// SAFETY: the buffer and mapping belong to the HostBuffer that owns this
// value; it is used from one thread at a time.
unsafe impl Send for SharedImage {}

impl SharedImage {
    /// Shares the `len` bytes at `dst` through a new memfd; with
    /// `zero_copy` (and an image of at least 16 pages) the interior is
    /// mapped in place, else the bytes are copied at the end.
    ///
    /// # Safety
    ///
    /// `dst` is valid for `len` writable bytes owned by the caller, who
    /// keeps them alive (and does not read them) until
    /// [`finish`](Self::finish) returns.
    pub(crate) unsafe fn new(dst: *mut u8, len: usize, zero_copy: bool) -> io::Result<SharedImage> {
        let page = page_size();
        let start = dst as usize;
        let skew = start % page;
        let memfd = Memfd::new("imageio-image", skew + len)?;
        // Its size is fixed before the worker sees it: a worker that could
        // shrink it would make the host's reads of the array fault (SIGBUS).
        memfd.add_seals(libc::F_SEAL_SHRINK | libc::F_SEAL_GROW)?;
        let end = start + len;
        let inner_start = start.div_ceil(page) * page;
        let inner_end = end / page * page;
        let mut inner = None;
        if zero_copy && inner_end > inner_start && inner_end - inner_start >= 16 * page {
            // SAFETY: the page-aligned range lies inside the caller's
            // buffer (contract); MAP_FIXED replaces those pages with a
            // shared view of the memfd at the matching (page-aligned)
            // offset. The memory stays readable and writable.
            let p = unsafe {
                libc::mmap(
                    inner_start as *mut libc::c_void,
                    inner_end - inner_start,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    memfd.raw(),
                    (inner_start - start + skew) as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                // A failed MAP_FIXED may have unmapped the range: give it
                // private memory again before anything touches it.
                restore_anonymous(inner_start, inner_end - inner_start);
            } else {
                // A child forked by another thread while the plugin writes
                // (any `Command` with a pre-exec hook forks) would hold a
                // writable copy of this shared mapping until it execs, and
                // the seal in `finish` would fail (EBUSY): children get
                // none of it. It is replaced by a private mapping, which
                // children do inherit, when the image is finished.
                // SAFETY: advice on the range just mapped.
                if unsafe { libc::madvise(p, inner_end - inner_start, libc::MADV_DONTFORK) } != 0 {
                    log::debug!(
                        "MADV_DONTFORK on a shared image failed ({}): a fork meanwhile may delay its seal",
                        io::Error::last_os_error()
                    );
                }
                inner = Some((inner_start, inner_end - inner_start));
            }
        }
        Ok(SharedImage {
            memfd,
            dst,
            len,
            skew,
            inner,
            finished: false,
        })
    }

    /// The memfd, for the worker.
    pub(crate) fn raw(&self) -> RawFd {
        self.memfd.raw()
    }

    /// Ends the sharing (see the type's documentation): afterwards the
    /// buffer holds the worker's bytes and nothing else can change them.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if let Some((start, len)) = self.inner {
            let off = start - self.dst as usize + self.skew;
            // SAFETY: the same range as the shared mapping, replaced in
            // place by a private view of the same file pages.
            let p = unsafe {
                libc::mmap(
                    start as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_FIXED,
                    self.memfd.raw(),
                    off as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                // Drop (not finished) gives the range private memory again.
                return Err(io::Error::last_os_error());
            }
        }
        if let Err(e) = self.memfd.seal() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the worker still maps the image writable after returning it ({e})"),
            ));
        }
        check_sealed(self.memfd.raw(), (self.skew + self.len) as u64)?;
        // The bytes outside the mapped interior (all of them when nothing
        // was mapped) are copied from the file.
        let start = self.dst as usize;
        let end = start + self.len;
        let ranges = match self.inner {
            Some((a, l)) => [(start, a), (a + l, end)],
            None => [(start, end), (end, end)],
        };
        for (from, to) in ranges {
            if to > from {
                // SAFETY: [from, to) lies inside the caller's buffer (the
                // constructor's contract), outside the mapped interior.
                let buf = unsafe { std::slice::from_raw_parts_mut(from as *mut u8, to - from) };
                read_exact_at(&self.memfd, buf, (from - start + self.skew) as u64)?;
            }
        }
        self.finished = true;
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes of `m` at `off`.
fn read_exact_at(m: &Memfd, buf: &mut [u8], off: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::mem::ManuallyDrop::new(
        // SAFETY: a borrowed view of the memfd's descriptor, never closed
        // (ManuallyDrop).
        unsafe { std::fs::File::from_raw_fd(m.raw()) },
    );
    f.read_exact_at(buf, off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_image_becomes_the_buffer_with_and_without_mapping() {
        let page = page_size();
        for (len, zero_copy) in [(40 * page + 123, true), (40 * page + 123, false), (100, true)] {
            let mut dst = vec![0u8; len];
            // SAFETY: `dst` is ours and not read until `finish`.
            let shared = unsafe { SharedImage::new(dst.as_mut_ptr(), len, zero_copy) }.unwrap();
            {
                // What the worker does: map the memfd and write the image.
                let f = std::mem::ManuallyDrop::new(
                    // SAFETY: a borrowed view, never closed.
                    unsafe { std::fs::File::from_raw_fd(shared.raw()) },
                );
                let map = Mapping::new(
                    f.as_raw_fd(),
                    shared.skew + len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                )
                .unwrap();
                for i in 0..len {
                    // SAFETY: the mapping holds skew + len bytes.
                    unsafe { *map.ptr().add(shared.skew + i) = (i % 251) as u8 };
                }
            }
            shared.finish().unwrap();
            assert!(dst.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
            // Writable afterwards, privately.
            dst[len / 2] = 7;
            assert_eq!(dst[len / 2], 7);
        }
    }

    #[test]
    fn a_worker_that_keeps_its_mapping_is_caught() {
        let page = page_size();
        let len = 40 * page;
        let mut dst = vec![0u8; len];
        // SAFETY: as above.
        let shared = unsafe { SharedImage::new(dst.as_mut_ptr(), len, true) }.unwrap();
        let f = std::mem::ManuallyDrop::new(
            // SAFETY: a borrowed view, never closed.
            unsafe { std::fs::File::from_raw_fd(shared.raw()) },
        );
        let _kept = Mapping::new(f.as_raw_fd(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED).unwrap();
        assert!(shared.finish().is_err());
    }
}
