//! Calling into a format table: the request the host builds for the plugin,
//! and one safe wrapper per table function (with the plugin's lock when it
//! is not thread-safe).

use super::Origin;
use super::callbacks::{IoCtx, SinkCtx, local_filename};
use imageio_plugin_api::Value as AbiValue;
use imageio_plugin_api::ffi::{
    self, iio_array_view, iio_error, iio_format_v1, iio_instance, iio_kv, iio_request, iio_status, iio_str,
};
use std::ffi::{c_char, c_void};
use std::sync::{Mutex, MutexGuard};

/// A loaded plugin: identity, origin, and the lock that serialises calls when
/// one of its formats lacks `IIO_CAP_THREAD_SAFE`.
#[derive(Debug)]
pub(crate) struct PluginInfo {
    pub id: String,
    pub version: String,
    pub origin: Origin,
    lock: Option<Mutex<()>>,
}

impl PluginInfo {
    pub(crate) fn new(id: String, version: String, origin: Origin, serialize: bool) -> PluginInfo {
        PluginInfo {
            id,
            version,
            origin,
            lock: serialize.then(|| Mutex::new(())),
        }
    }

    /// Whether the host serialises calls into this plugin.
    pub(crate) fn is_serialized(&self) -> bool {
        self.lock.is_some()
    }
}

/// A plugin's error: its status and message.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: iio_status,
    pub message: String,
    /// The plugin gave no message; `message` is the host's.
    pub no_message: bool,
}

/// The host's view of one format table (a zero-extended copy).
pub(crate) struct Backend {
    table: iio_format_v1,
    pub plugin: std::sync::Arc<PluginInfo>,
}

// SAFETY: the table is an immutable copy of static plugin data (function
// pointers and pointers to static strings); calls are serialised by the
// plugin's lock when it does not declare IIO_CAP_THREAD_SAFE.
unsafe impl Send for Backend {}
// SAFETY: as above.
unsafe impl Sync for Backend {}

/// A request as the plugin sees it, with the host-owned buffers it points to.
pub(crate) struct RawRequest {
    uri: String,
    extension: String,
    first_bytes: Vec<u8>,
    _options: Vec<(String, AbiValue)>,
    kvs: Vec<iio_kv>,
    pub raw: iio_request,
}

fn str_of(s: &str) -> iio_str {
    iio_str {
        ptr: s.as_ptr().cast::<c_char>(),
        len: s.len(),
    }
}

/// Raw key/value views over `entries` (valid while `entries` lives).
pub(crate) fn kv_views(entries: &[(String, AbiValue)]) -> Vec<iio_kv> {
    entries
        .iter()
        .map(|(k, v)| iio_kv {
            key: str_of(k),
            value: v.to_raw(),
        })
        .collect()
}

impl RawRequest {
    pub(crate) fn new(
        uri: &str,
        io_mode: char,
        image_mode: char,
        extension: Option<&str>,
        first_bytes: &[u8],
        options: Vec<(String, AbiValue)>,
    ) -> Box<RawRequest> {
        let mut r = Box::new(RawRequest {
            uri: uri.to_owned(),
            extension: extension.unwrap_or("").to_lowercase(),
            first_bytes: first_bytes.to_vec(),
            _options: options,
            kvs: Vec::new(),
            raw: iio_request {
                struct_size: size_of::<iio_request>() as u32,
                io_mode: io_mode as u8 as c_char,
                image_mode: image_mode as u8 as c_char,
                _reserved: 0,
                stream: std::ptr::null(),
                uri: iio_str {
                    ptr: std::ptr::null(),
                    len: 0,
                },
                extension: iio_str {
                    ptr: std::ptr::null(),
                    len: 0,
                },
                first_bytes: std::ptr::null(),
                first_bytes_len: 0,
                options: std::ptr::null(),
                options_len: 0,
                host_ctx: std::ptr::null_mut(),
                get_local_filename: None,
            },
        });
        r.kvs = kv_views(&r._options);
        r.raw.uri = str_of(&r.uri);
        r.raw.extension = str_of(&r.extension);
        r.raw.first_bytes = r.first_bytes.as_ptr();
        r.raw.first_bytes_len = r.first_bytes.len();
        r.raw.options = r.kvs.as_ptr();
        r.raw.options_len = r.kvs.len();
        r
    }

    /// Attaches the instance's stream and `get_local_filename` (for `open`).
    pub(crate) fn attach(&mut self, io: &mut IoCtx) {
        self.raw.stream = &io.stream;
        self.raw.host_ctx = (io as *mut IoCtx).cast::<c_void>();
        self.raw.get_local_filename = Some(local_filename);
    }
}

fn new_error() -> iio_error {
    iio_error {
        code: 0,
        message: [0; ffi::IIO_ERROR_MESSAGE_LEN],
    }
}

fn failure(status: iio_status, err: &iio_error) -> Failure {
    // The message is NUL-terminated within the buffer, or we stop at its end.
    let bytes: Vec<u8> = err.message.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    let mut message = String::from_utf8_lossy(&bytes).into_owned();
    let no_message = message.trim().is_empty();
    if no_message {
        message = format!("the plugin returned status {status} without a message");
    }
    Failure {
        code: status,
        message,
        no_message,
    }
}

macro_rules! call {
    ($self:ident, $f:ident) => {
        match $self.table.$f {
            Some(f) => f,
            None => {
                return Err(Failure {
                    code: ffi::IIO_ERR_UNSUPPORTED,
                    message: concat!("the plugin has no ", stringify!($f), " function").into(),
                    no_message: false,
                });
            }
        }
    };
}

impl Backend {
    pub(crate) fn new(table: iio_format_v1, plugin: std::sync::Arc<PluginInfo>) -> Backend {
        Backend { table, plugin }
    }

    pub(crate) fn capabilities(&self) -> u32 {
        self.table.capabilities
    }

    fn lock(&self) -> Option<MutexGuard<'_, ()>> {
        self.plugin
            .lock
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The plugin's confidence (0..100) that it can read or write `req`.
    pub(crate) fn confidence(&self, req: &RawRequest, write: bool) -> i32 {
        let f = if write {
            self.table.can_write
        } else {
            self.table.can_read
        };
        let Some(f) = f else { return 0 };
        let _guard = self.lock();
        // SAFETY: `req.raw` and the buffers it points to live for the call; the
        // stream is NULL while probing (ABI rule).
        unsafe { f(&req.raw) }.clamp(0, 100)
    }

    /// Runs one fallible table call under the plugin's lock with a fresh
    /// error buffer, turning a non-OK status into a [`Failure`].
    fn checked(&self, call: impl FnOnce(&mut iio_error) -> iio_status) -> Result<(), Failure> {
        let mut err = new_error();
        let _guard = self.lock();
        let status = call(&mut err);
        if status != ffi::IIO_OK {
            return Err(failure(status, &err));
        }
        Ok(())
    }

    pub(crate) fn open(&self, req: &RawRequest) -> Result<*mut iio_instance, Failure> {
        let f = call!(self, open);
        let mut out: *mut iio_instance = std::ptr::null_mut();
        // SAFETY: valid request, out-pointer and error buffer for the call.
        self.checked(|err| unsafe { f(&req.raw, &mut out, err) })?;
        if out.is_null() {
            return Err(Failure {
                code: ffi::IIO_ERR_INTERNAL,
                message: "open returned OK without an instance".into(),
                no_message: false,
            });
        }
        Ok(out)
    }

    /// Closes an instance (exactly once per successful open).
    ///
    /// # Safety
    ///
    /// `inst` came from this backend's `open` and is not used afterwards.
    pub(crate) unsafe fn close(&self, inst: *mut iio_instance) -> Result<(), Failure> {
        let f = call!(self, close);
        // SAFETY: `inst` is open (contract); the error buffer is valid.
        self.checked(|err| unsafe { f(inst, err) })
    }

    /// # Safety
    ///
    /// `inst` is an open reader of this backend.
    pub(crate) unsafe fn get_length(&self, inst: *mut iio_instance) -> Result<u64, Failure> {
        let f = call!(self, get_length);
        let mut out = 0u64;
        // SAFETY: `inst` is open (contract); out-pointer and buffer are valid.
        self.checked(|err| unsafe { f(inst, &mut out, err) })?;
        Ok(out)
    }

    /// Decodes image `index` (`meta_only`: its metadata) into `sink`.
    ///
    /// # Safety
    ///
    /// `inst` is an open reader of this backend.
    pub(crate) unsafe fn get_data(
        &self,
        inst: *mut iio_instance,
        index: u64,
        sink: &mut SinkCtx,
        meta_only: bool,
    ) -> Result<(), Failure> {
        let f = if meta_only {
            call!(self, get_meta_data)
        } else {
            call!(self, get_data)
        };
        // SAFETY: `inst` is open (contract); the sink lives for the call.
        self.checked(|err| unsafe { f(inst, index, &sink.sink, err) })
    }

    /// # Safety
    ///
    /// `inst` is an open writer of this backend; `view` describes live data.
    pub(crate) unsafe fn append_data(
        &self,
        inst: *mut iio_instance,
        view: &iio_array_view,
        meta: &[iio_kv],
    ) -> Result<(), Failure> {
        let f = call!(self, append_data);
        // SAFETY: `inst` is open (contract); view and meta live for the call.
        self.checked(|err| unsafe { f(inst, view, meta.as_ptr(), meta.len(), err) })
    }

    /// # Safety
    ///
    /// `inst` is an open writer of this backend.
    pub(crate) unsafe fn set_meta_data(&self, inst: *mut iio_instance, meta: &[iio_kv]) -> Result<(), Failure> {
        let f = call!(self, set_meta_data);
        // SAFETY: `inst` is open (contract); meta lives for the call.
        self.checked(|err| unsafe { f(inst, meta.as_ptr(), meta.len(), err) })
    }
}
