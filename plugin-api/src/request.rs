//! [`Request`]: what the host asks of a format, and its [`Options`].

use crate::error::{Error, Result};
use crate::ffi::{self, iio_request};
use crate::stream::Stream;
use crate::value::Value;
use std::path::PathBuf;

/// A borrowed view of the host's request (valid for one call).
pub struct Request<'a> {
    raw: &'a iio_request,
}

fn str_from(s: &ffi::iio_str) -> &str {
    // SAFETY: the host passes `iio_str`s that point to `len` valid bytes for
    // the duration of the call (the ABI's ownership rules).
    let bytes = unsafe { crate::raw::slice(s.ptr.cast::<u8>(), s.len) };
    std::str::from_utf8(bytes).unwrap_or("")
}

impl<'a> Request<'a> {
    /// Wraps the host's request.
    ///
    /// # Safety
    ///
    /// `raw` is a valid request whose pointers follow the ABI's rules for the
    /// lifetime `'a`.
    pub(crate) unsafe fn from_raw(raw: &'a iio_request) -> Self {
        Request { raw }
    }

    /// `'r'` or `'w'`.
    pub fn io_mode(&self) -> char {
        self.raw.io_mode as u8 as char
    }

    /// `'i'`, `'I'`, `'v'`, `'V'` or `'?'`.
    pub fn image_mode(&self) -> char {
        self.raw.image_mode as u8 as char
    }

    /// The request's name, for messages only.
    pub fn uri(&self) -> &'a str {
        str_from(&self.raw.uri)
    }

    /// The extension with its dot, lower case (`.png`), or `""`.
    pub fn extension(&self) -> &'a str {
        str_from(&self.raw.extension)
    }

    /// Up to 256 leading bytes of the source (empty when writing).
    pub fn first_bytes(&self) -> &'a [u8] {
        // SAFETY: the host passes `first_bytes_len` valid bytes for the call.
        unsafe { crate::raw::slice(self.raw.first_bytes, self.raw.first_bytes_len) }
    }

    /// The caller's resource limits: what the host passed (ABI 1.1), or
    /// [`Limits::DEFAULT`](crate::Limits::DEFAULT) from a 1.0 host. Check
    /// them before allocating anything whose size the file decides.
    pub fn limits(&self) -> crate::Limits {
        let end = std::mem::offset_of!(iio_request, limits) + size_of::<*const ffi::iio_limits>();
        if (self.raw.struct_size as usize) < end || self.raw.limits.is_null() {
            return crate::Limits::DEFAULT;
        }
        // SAFETY: the field is present (struct_size) and points to the
        // host's limits, valid for the call.
        unsafe { crate::Limits::from_raw(self.raw.limits) }
    }

    /// The caller's options (imageio's keyword arguments), copied.
    pub fn options(&self) -> Result<Options> {
        // SAFETY: the host passes `options_len` valid entries for the call.
        let kvs = unsafe { crate::raw::slice(self.raw.options, self.raw.options_len) };
        let mut entries = Vec::with_capacity(kvs.len());
        for kv in kvs {
            let key = str_from(&kv.key).to_owned();
            // SAFETY: the value's pointers follow the ABI's rules for the call.
            let value = unsafe { Value::from_raw(&kv.value) }.ok_or_else(|| {
                Error::invalid_argument(format!("option {key:?} has a value this plugin cannot read"))
            })?;
            entries.push((key, value));
        }
        Ok(Options { entries })
    }

    /// The stream over the source or target. Only inside `open` (the SDK's
    /// `open_reader`/`open_writer`); a reader or writer keeps it until close.
    pub fn stream(&self) -> Result<Stream> {
        if self.raw.stream.is_null() {
            return Err(Error::internal("the request has no stream (probing?)"));
        }
        // SAFETY: a non-null stream stays valid from `open` until `close` (ABI rule).
        Ok(unsafe { Stream::from_raw(self.raw.stream) })
    }

    /// A local file holding the source (reading) or to be written (writing),
    /// for libraries that only take paths. Valid until the instance is closed.
    pub fn local_filename(&self) -> Result<PathBuf> {
        let f = self
            .raw
            .get_local_filename
            .ok_or_else(|| Error::unsupported("the host offers no local file name"))?;
        let mut out: *const core::ffi::c_char = core::ptr::null();
        // SAFETY: `host_ctx` is the host's context; `out` is a valid out-pointer.
        let status = unsafe { f(self.raw.host_ctx, &mut out) };
        if status != ffi::IIO_OK || out.is_null() {
            return Err(Error::new(
                if status == ffi::IIO_OK {
                    ffi::IIO_ERR_INTERNAL
                } else {
                    status
                },
                "the host could not provide a local file name",
            ));
        }
        // SAFETY: on success the host stored a NUL-terminated path valid until close.
        let path = unsafe { core::ffi::CStr::from_ptr(out) };
        Ok(PathBuf::from(path.to_string_lossy().into_owned()))
    }
}

/// The option that reads truncated or damaged files as far as they go.
pub const ACCEPT_TRUNCATED: &str = "accept_truncated";

/// The error of a reader that met a truncated or damaged file while
/// `accept_truncated` is off: `what` (naming the format and the damage),
/// then how to read it anyway.
pub fn truncated_error(what: impl std::fmt::Display) -> Error {
    Error::corrupt(format!(
        "{what} (the file is truncated or damaged; the option accept_truncated=true reads what there is)"
    ))
}

/// The caller's options for one request, with helpers that turn an unknown or
/// mistyped option into a clear error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// The entries in the caller's order.
    pub entries: Vec<(String, Value)>,
}

impl Options {
    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Fails, naming the option, if any key is not in `known`.
    pub fn check_known(&self, format: &str, known: &[&str]) -> Result<()> {
        for (k, _) in &self.entries {
            if !known.contains(&k.as_str()) {
                let list = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                return Err(Error::invalid_argument(format!(
                    "unknown option {k:?} for format {format} (known options: {list})"
                )));
            }
        }
        Ok(())
    }

    /// An integer option (`Bool` counts as 0/1).
    pub fn get_int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(Value::Bool(b)) => Ok(Some(i64::from(*b))),
            Some(v) => Err(Error::invalid_argument(format!(
                "option {key:?} must be an integer, not {v:?}"
            ))),
        }
    }

    /// An integer option that must lie in `range` (the error names it).
    pub fn get_int_in(&self, key: &str, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>> {
        match self.get_int(key)? {
            Some(v) if !range.contains(&v) => Err(Error::invalid_argument(format!(
                "option {key:?} must be {}..{}, not {v}",
                range.start(),
                range.end()
            ))),
            v => Ok(v),
        }
    }

    /// A number, or a list of numbers (per-frame durations, say), as floats.
    pub fn get_float_list(&self, key: &str) -> Result<Option<Vec<f64>>> {
        Ok(match self.get(key) {
            None | Some(Value::None) => None,
            Some(Value::Int(i)) => Some(vec![*i as f64]),
            Some(Value::Float(f)) => Some(vec![*f]),
            Some(Value::IntArray(a)) => Some(a.iter().map(|&v| v as f64).collect()),
            Some(Value::FloatArray(a)) => Some(a.clone()),
            Some(v) => {
                return Err(Error::invalid_argument(format!(
                    "option {key:?} must be a number or a list of numbers, not {v:?}"
                )));
            }
        })
    }

    /// The `accept_truncated` option (Pillow's `LOAD_TRUNCATED_IMAGES`):
    /// `false` unless given. A reader that honours it reads a truncated or
    /// damaged file as far as it goes and sets the metadata `truncated`.
    pub fn accept_truncated(&self) -> Result<bool> {
        Ok(self.get_bool(ACCEPT_TRUNCATED)?.unwrap_or(false))
    }

    /// A boolean option (an integer counts as true when non-zero).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Int(i)) => Ok(Some(*i != 0)),
            Some(v) => Err(Error::invalid_argument(format!(
                "option {key:?} must be a boolean, not {v:?}"
            ))),
        }
    }
}
