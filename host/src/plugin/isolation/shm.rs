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
    pub(crate) fn map_shared(&self) -> io::Result<Mapping> {
        Mapping::new(
            self.fd.as_raw_fd(),
            self.len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )
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
        Ok(Mapping { ptr: p.cast(), len })
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

/// Makes the `len` bytes at `dst` hold bytes `skew..skew + len` of the
/// sealed memfd `fd`, where `skew` is `dst`'s offset within its page (the
/// layout the worker was told to use): the page-aligned interior is mapped
/// copy-on-write in place, the partial pages at either end are copied.
/// With `zero_copy` false, or for a small image, everything is copied.
///
/// # Safety
///
/// `dst` is valid for `len` writable bytes that the caller owns and that
/// nothing else references during the call (the host's freshly allocated
/// array buffer).
pub(crate) unsafe fn adopt(fd: &OwnedFd, dst: *mut u8, len: usize, zero_copy: bool) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let page = page_size();
    let start = dst as usize;
    let skew = start % page;
    check_sealed(fd.as_raw_fd(), (skew + len) as u64)?;
    // The whole file, read-only and private: the source of the copies.
    let src = Mapping::new(fd.as_raw_fd(), skew + len, libc::PROT_READ, libc::MAP_PRIVATE)?;
    let end = start + len;
    let inner_start = start.div_ceil(page) * page;
    let inner_end = end / page * page;
    let mapped = zero_copy && inner_end > inner_start && inner_end - inner_start >= 16 * page;
    if !mapped {
        // SAFETY: `src` maps `skew + len` readable bytes; `dst` is valid for
        // `len` bytes (contract); they do not overlap (a new mapping).
        unsafe { std::ptr::copy_nonoverlapping(src.ptr().add(skew), dst, len) };
        return Ok(());
    }
    // The interior: file offset of `inner_start` is page-aligned because
    // the file's byte `skew` sits at `start`.
    let file_off = inner_start - start + skew;
    // SAFETY: the range [inner_start, inner_end) lies inside the caller's
    // buffer (contract) and is page-aligned; MAP_FIXED replaces those pages
    // of the buffer with a private (copy-on-write) view of the sealed file,
    // which nothing can change any more. The buffer stays readable and
    // writable memory of this process, as it was.
    let p = unsafe {
        libc::mmap(
            inner_start as *mut libc::c_void,
            inner_end - inner_start,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_POPULATE,
            fd.as_raw_fd(),
            file_off as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        let e = io::Error::last_os_error();
        // Nothing was replaced: fall back to copying.
        // SAFETY: as in the copying branch above.
        unsafe { std::ptr::copy_nonoverlapping(src.ptr().add(skew), dst, len) };
        log::debug!("mapping an image's shared memory failed ({e}); copied it instead");
        return Ok(());
    }
    // The partial pages at the ends.
    let head = inner_start - start;
    let tail = end - inner_end;
    // SAFETY: both ranges lie inside `dst`'s `len` bytes and inside the
    // source mapping; they do not overlap the source.
    unsafe {
        std::ptr::copy_nonoverlapping(src.ptr().add(skew), dst, head);
        std::ptr::copy_nonoverlapping(src.ptr().add(skew + (inner_end - start)), inner_end as *mut u8, tail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_memfd_becomes_a_buffer_with_and_without_mapping() {
        let page = page_size();
        for (len, zero_copy) in [(40 * page + 123, true), (40 * page + 123, false), (100, true)] {
            let mut dst = vec![0u8; len];
            let skew = dst.as_ptr() as usize % page;
            let m = Memfd::new("t", skew + len).unwrap();
            {
                let map = m.map_shared().unwrap();
                for i in 0..len {
                    // SAFETY: the mapping holds skew + len bytes.
                    unsafe { *map.ptr().add(skew + i) = (i % 251) as u8 };
                }
            }
            m.seal().unwrap();
            // SAFETY: `dst` is ours and unreferenced.
            unsafe { adopt(&m.fd, dst.as_mut_ptr(), len, zero_copy) }.unwrap();
            assert!(dst.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
            // Writable afterwards, privately.
            dst[len / 2] = 7;
            assert_eq!(dst[len / 2], 7);
        }
    }

    #[test]
    fn unsealed_memory_is_refused() {
        let m = Memfd::new("t", 8192).unwrap();
        let mut dst = vec![0u8; 100];
        // SAFETY: `dst` is ours.
        assert!(unsafe { adopt(&m.fd, dst.as_mut_ptr(), 100, true) }.is_err());
    }
}
