//! Faulting a fresh buffer's pages in ahead of the code that fills it.
//!
//! A freshly allocated image buffer costs a page fault per 4 KiB page the
//! first time a plugin writes it (allocating and zeroing the page): for a
//! 48 MiB image that is most of a raw read's time. [`Prefault`] faults the
//! pages in from the buffer's end on a second thread while the plugin
//! writes from the start, so the two meet in the middle and the plugin
//! waits for half the faults. It changes no byte (`MADV_POPULATE_WRITE`
//! only maps pages, as the first write would); on other systems, or
//! kernels before Linux 5.14, it does nothing.

/// Buffers smaller than this are not worth a thread.
pub(crate) const PREFAULT_MIN: usize = 8 << 20;

/// A running pre-fault of one buffer; stopped and joined on drop, which
/// must come before the buffer is freed.
pub(crate) struct Prefault {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Prefault {
    /// Starts on the `len` bytes at `start`, which stay allocated until
    /// this value is dropped.
    pub(crate) fn start(start: usize, len: usize) -> Prefault {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = if cfg!(target_os = "linux") {
            std::thread::Builder::new()
                .name("imageio-prefault".into())
                .spawn(move || populate_backwards(start, len, &flag))
                .ok()
        } else {
            let _ = (start, len, flag.load(Ordering::Relaxed));
            None
        };
        Prefault { stop, thread }
    }
}

#[cfg(target_os = "linux")]
fn populate_backwards(start: usize, len: usize, stop: &std::sync::atomic::AtomicBool) {
    const CHUNK: usize = 1 << 20;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .unwrap_or(4096)
        .max(1);
    // Whole pages inside the buffer only.
    let first = start.div_ceil(page) * page;
    let mut end = (start + len) / page * page;
    while end > first && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let from = (end.saturating_sub(CHUNK) / page * page).max(first);
        // SAFETY: advice on whole pages of a live buffer (its owner joins
        // this thread before freeing it); MADV_POPULATE_WRITE only maps the
        // pages writable, as a first write would, and changes no byte.
        // EINVAL (a kernel before 5.14) ends the work.
        let r = unsafe { libc::madvise(from as *mut libc::c_void, end - from, libc::MADV_POPULATE_WRITE) };
        if r != 0 {
            break;
        }
        end = from;
    }
}

#[cfg(not(target_os = "linux"))]
fn populate_backwards(_: usize, _: usize, _: &std::sync::atomic::AtomicBool) {}

impl Drop for Prefault {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
