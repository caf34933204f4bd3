//! Forwarding a plugin library's `log` records (and panic messages) to the host.

use crate::ffi::{self, iio_host_v1};
use crate::raw::str_view as str_of;
use std::sync::atomic::{AtomicPtr, Ordering};

static HOST: AtomicPtr<iio_host_v1> = AtomicPtr::new(core::ptr::null_mut());

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

use crate::raw::log_level_code as level_code;

fn send(level: u32, target: &str, message: &str) {
    let host = HOST.load(Ordering::Acquire);
    if host.is_null() {
        return;
    }
    // SAFETY: `HOST` only ever holds the host table passed to the entry point,
    // which lives for the whole process.
    let host = unsafe { &*host };
    if let Some(log) = host.log {
        // SAFETY: the strings are valid for the call; the host copies them.
        unsafe { log(level, str_of(target), str_of(message)) };
    }
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let message = record.args().to_string();
            send(level_code(record.level()), record.target(), &message);
        }
    }

    fn flush(&self) {}
}

/// Installs the forwarder for this library's `log` crate. Idempotent.
///
/// # Safety
///
/// `host` is NULL or points to a valid `iio_host_v1` that lives for the process.
pub(crate) unsafe fn install(host: *const iio_host_v1) {
    if host.is_null() {
        return;
    }
    // SAFETY: forwarded from this function's contract.
    let table = unsafe { &*host };
    let has_level = table.struct_size as usize >= core::mem::offset_of!(iio_host_v1, log_max_level) + size_of::<u32>();
    let max = if has_level {
        table.log_max_level
    } else {
        ffi::IIO_LOG_INFO
    };
    HOST.store(host.cast_mut(), Ordering::Release);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(match max {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        });
        // The library has its own std and so its own panic hook; route panic
        // messages to the host's log instead of the process's stderr.
        std::panic::set_hook(Box::new(|info| {
            send(ffi::IIO_LOG_DEBUG, "panic", &info.to_string());
        }));
    }
}
