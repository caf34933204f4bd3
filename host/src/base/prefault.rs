//! Faulting a fresh buffer's pages in ahead of the code that fills it.
//!
//! A freshly allocated image buffer costs a page fault per 4 KiB page the
//! first time a plugin writes it (allocating and zeroing the page): for a
//! 48 MiB image that is most of a raw read's time. [`Prefault`] faults the
//! pages in from the buffer's end on a second thread while the plugin
//! writes from the start, so the two meet in the middle and the plugin
//! waits for half the faults. It changes no byte (`MADV_POPULATE_WRITE`
//! only maps pages, as the first write would); on other systems, or
//! kernels before Linux 5.14, it does nothing. The buffer's interior is
//! first advised to use transparent huge pages (`IMAGEIO_HUGEPAGES=off`
//! turns that off).

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
        if hugepages_wanted() {
            advise_huge(start, len);
        }
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

/// Whether large buffers are advised to use transparent huge pages: yes
/// unless `IMAGEIO_HUGEPAGES` is `off` or `0` (read once per process).
fn hugepages_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| !matches!(std::env::var("IMAGEIO_HUGEPAGES").as_deref(), Ok("off" | "0")))
}

/// Advises the 2 MiB-aligned interior of a fresh buffer to use transparent
/// huge pages (where the system's policy is `madvise`, as numpy does for
/// its large arrays): one fault then maps and zeroes 2 MiB instead of
/// 4 KiB, which halves a raw format's read. The buffer's ends keep small
/// pages, so no memory is spent beyond the buffer; a kernel without THP
/// ignores the advice.
#[cfg(target_os = "linux")]
fn advise_huge(start: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let first = start.div_ceil(HUGE) * HUGE;
    let end = (start + len) / HUGE * HUGE;
    if end > first {
        // SAFETY: advice on whole pages inside a live buffer; MADV_HUGEPAGE
        // changes how faults are served (and lets the kernel merge pages),
        // never a byte. A failure (no THP in this kernel) is harmless.
        unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_: usize, _: usize) {}

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
