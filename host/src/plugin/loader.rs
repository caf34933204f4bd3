//! Loading plugin libraries and reading (validating) plugin tables.

use super::ByteSignature;
use super::Origin;
use super::PluginInfo;
use super::backend::FormatBackend;
use super::callbacks::host_table;
use super::inprocess::InProcess;
use imageio_plugin_api::ffi::{self, iio_format_v1, iio_host_v1, iio_plugin_entry_v1_fn, iio_plugin_v1, iio_str};
use std::mem::{MaybeUninit, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::error::LoadError;

/// One format of a validated plugin table, served by a backend of type
/// `B` (as the loader reads it, the concrete in-process backend).
pub(crate) struct FormatSpec<B: ?Sized = dyn FormatBackend> {
    pub name: String,
    pub description: String,
    pub extensions: String,
    pub modes: String,
    pub signatures: Vec<ByteSignature>,
    pub backend: Arc<B>,
}

/// A validated plugin table.
pub(crate) struct PluginTable<B: ?Sized = dyn FormatBackend> {
    pub id: String,
    pub formats: Vec<FormatSpec<B>>,
}

impl PluginTable<InProcess> {
    /// The table behind the seam, as the registry holds it.
    pub(crate) fn erased(self) -> PluginTable {
        PluginTable {
            id: self.id,
            formats: self
                .formats
                .into_iter()
                .map(|f| FormatSpec {
                    name: f.name,
                    description: f.description,
                    extensions: f.extensions,
                    modes: f.modes,
                    signatures: f.signatures,
                    backend: f.backend as Arc<dyn FormatBackend>,
                })
                .collect(),
        }
    }
}

const MAX_STR: usize = 64 * 1024;
const MAX_FORMATS: usize = 4096;

/// Size of `iio_plugin_v1` in ABI 1.0 (everything up to `format_count`).
const PLUGIN_SIZE_1_0: usize = offset_of!(iio_plugin_v1, format_count) + size_of::<usize>();
/// Size of `iio_format_v1` in ABI 1.0.
const FORMAT_SIZE_1_0: usize = offset_of!(iio_format_v1, set_meta_data) + size_of::<usize>();
/// The most signatures one format may list.
const MAX_SIGNATURES: usize = 64;

/// Copies and checks a format's signatures (ABI 1.1; none from a 1.0
/// table, whose missing tail reads as NULL/0).
///
/// # Safety
///
/// `table.signatures` points to `table.signature_count` signatures whose
/// byte pointers are valid for their lengths (the plugin's promise).
unsafe fn read_signatures(table: &iio_format_v1, name: &str) -> Result<Vec<ByteSignature>, String> {
    let n = table.signature_count;
    if n == 0 {
        return Ok(Vec::new());
    }
    if table.signatures.is_null() || n > MAX_SIGNATURES {
        return Err(format!(
            "format {name} lists {n} signatures at {:?} (at most {MAX_SIGNATURES}, not NULL)",
            table.signatures
        ));
    }
    // SAFETY: `n` signatures at a non-null pointer (contract).
    let raw = unsafe { imageio_plugin_api::raw::slice(table.signatures, n) };
    let mut out = Vec::with_capacity(n);
    for (i, s) in raw.iter().enumerate() {
        let end = (s.offset as usize).saturating_add(s.len);
        if s.len == 0 || s.len > ffi::IIO_SIGNATURE_MAX_LEN || end > ffi::IIO_FIRST_BYTES_LEN || s.bytes.is_null() {
            return Err(format!(
                "format {name}: signature {i} (offset {}, {} bytes) must have 1..={} non-NULL bytes ending within the first {} bytes",
                s.offset,
                s.len,
                ffi::IIO_SIGNATURE_MAX_LEN,
                ffi::IIO_FIRST_BYTES_LEN
            ));
        }
        // SAFETY: `len` bytes at `bytes` and, when not NULL, at `mask` (contract).
        let (bytes, mask) = unsafe {
            (
                imageio_plugin_api::raw::slice(s.bytes, s.len).to_vec(),
                (!s.mask.is_null()).then(|| imageio_plugin_api::raw::slice(s.mask, s.len).to_vec()),
            )
        };
        out.push(ByteSignature {
            offset: s.offset as usize,
            bytes,
            mask,
        });
    }
    Ok(out)
}

/// Copies a plugin string.
///
/// # Safety
///
/// `s.ptr` points to `s.len` readable bytes (the plugin's promise).
unsafe fn read_str(s: &iio_str, what: &str) -> Result<String, String> {
    if s.len > MAX_STR {
        return Err(format!("{what} is {} bytes long (over {MAX_STR})", s.len));
    }
    if s.len > 0 && s.ptr.is_null() {
        return Err(format!("{what} is NULL with a length of {}", s.len));
    }
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { imageio_plugin_api::raw::str_bytes(s) };
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

/// Copies the prefix of a versioned struct (`struct_size` bytes, at most
/// `size_of::<T>()`) into a zeroed `T`, so an older plugin's missing tail
/// reads as NULL/0.
///
/// # Safety
///
/// `ptr` points to at least `len` readable bytes, and `T` is a `#[repr(C)]`
/// struct for which all-zero bytes are valid (integers, raw pointers and
/// `Option<fn>`).
unsafe fn copy_prefix<T>(ptr: *const u8, len: usize) -> T {
    let mut out = MaybeUninit::<T>::zeroed();
    let n = len.min(size_of::<T>());
    // SAFETY: `ptr` is readable for `n <= len` bytes and `out` is writable for
    // `n <= size_of::<T>()` bytes; the regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr().cast::<u8>(), n) };
    // SAFETY: zero bytes are a valid `T` (contract), and the copied prefix
    // consists of fields the plugin filled with valid values of their types.
    unsafe { out.assume_init() }
}

/// Reads and validates a plugin table returned by an entry point or a
/// builtin accessor.
///
/// # Safety
///
/// `ptr` is NULL or points to a plugin table that follows ABI 1.x's layout
/// rules and lives for the rest of the process.
pub(crate) unsafe fn read_plugin_table(
    ptr: *const iio_plugin_v1,
    origin: &Origin,
    offers: &[(usize, u32, usize)],
) -> Result<PluginTable<InProcess>, LoadError> {
    let path = match origin {
        Origin::File(p) => p.clone(),
        other => PathBuf::from(format!("<{other}>")),
    };
    let bad = |reason: String| LoadError::BadTable {
        path: path.clone(),
        reason,
    };
    if ptr.is_null() {
        return Err(LoadError::Refused { path });
    }
    // SAFETY: a non-null table starts with two u32 (abi_version, struct_size)
    // in every ABI version.
    let (abi_version, struct_size) = unsafe { (*ptr.cast::<u32>(), *ptr.cast::<u32>().add(1)) };
    if abi_version >> 16 != ffi::IIO_ABI_VERSION_MAJOR {
        return Err(LoadError::IncompatibleAbi {
            path,
            major: abi_version >> 16,
        });
    }
    if (struct_size as usize) < PLUGIN_SIZE_1_0 {
        return Err(bad(format!(
            "iio_plugin_v1.struct_size is {struct_size}, smaller than ABI 1.0's {PLUGIN_SIZE_1_0} (truncated table)"
        )));
    }
    // SAFETY: the plugin promises `struct_size` readable bytes; all fields of
    // iio_plugin_v1 are valid when zeroed.
    let plugin: iio_plugin_v1 = unsafe { copy_prefix(ptr.cast::<u8>(), struct_size as usize) };
    // SAFETY: the strings follow the ABI (ptr/len valid for the process).
    let id = unsafe { read_str(&plugin.id, "the plugin id") }.map_err(&bad)?;
    if id.is_empty() {
        return Err(bad("the plugin id is empty".into()));
    }
    // SAFETY: as above.
    let version = unsafe { read_str(&plugin.version, "the plugin version") }.map_err(&bad)?;
    if plugin.format_count > MAX_FORMATS {
        return Err(bad(format!(
            "format_count is {} (over {MAX_FORMATS})",
            plugin.format_count
        )));
    }
    if plugin.format_count > 0 && plugin.formats.is_null() {
        return Err(bad("formats is NULL".into()));
    }
    let mut thread_safe_all = true;
    let mut raw_formats = Vec::with_capacity(plugin.format_count);
    let mut addresses = Vec::with_capacity(plugin.format_count);
    for i in 0..plugin.format_count {
        // SAFETY: `formats` holds `format_count` pointers (ABI rule).
        let fptr = unsafe { *plugin.formats.add(i) };
        if fptr.is_null() {
            return Err(bad(format!("format {i} is NULL")));
        }
        // SAFETY: each format table starts with its u32 struct_size.
        let fsize = unsafe { *fptr.cast::<u32>() } as usize;
        if fsize < FORMAT_SIZE_1_0 {
            return Err(bad(format!(
                "format {i}: struct_size is {fsize}, smaller than ABI 1.0's {FORMAT_SIZE_1_0} (truncated table)"
            )));
        }
        // SAFETY: the plugin promises `fsize` readable bytes; zeroed is valid.
        let table: iio_format_v1 = unsafe { copy_prefix(fptr.cast::<u8>(), fsize) };
        thread_safe_all &= table.capabilities & ffi::IIO_CAP_THREAD_SAFE != 0;
        raw_formats.push(table);
        addresses.push(fptr as usize);
    }
    let info = Arc::new(PluginInfo::new(id.clone(), version, origin.clone(), !thread_safe_all));
    let mut formats = Vec::with_capacity(raw_formats.len());
    for (i, table) in raw_formats.into_iter().enumerate() {
        let what = |field: &str| format!("format {i} {field}");
        // SAFETY: the strings follow the ABI.
        let name = unsafe { read_str(&table.name, &what("name")) }.map_err(&bad)?;
        // SAFETY: as above.
        let description = unsafe { read_str(&table.description, &what("description")) }.map_err(&bad)?;
        // SAFETY: as above.
        let extensions = unsafe { read_str(&table.extensions, &what("extensions")) }.map_err(&bad)?;
        // SAFETY: as above.
        let modes = unsafe { read_str(&table.modes, &what("modes")) }.map_err(&bad)?;
        if name.trim().is_empty() {
            return Err(bad(format!("format {i} has an empty name")));
        }
        let caps = table.capabilities;
        if caps & (ffi::IIO_CAP_READ | ffi::IIO_CAP_WRITE) == 0 {
            return Err(bad(format!(
                "format {name} declares neither IIO_CAP_READ nor IIO_CAP_WRITE"
            )));
        }
        let mut missing = Vec::new();
        if table.open.is_none() {
            missing.push("open");
        }
        if table.close.is_none() {
            missing.push("close");
        }
        if caps & ffi::IIO_CAP_READ != 0 {
            for (f, present) in [
                ("can_read", table.can_read.is_some()),
                ("get_length", table.get_length.is_some()),
                ("get_data", table.get_data.is_some()),
                ("get_meta_data", table.get_meta_data.is_some()),
            ] {
                if !present {
                    missing.push(f);
                }
            }
        }
        if caps & ffi::IIO_CAP_WRITE != 0 {
            for (f, present) in [
                ("can_write", table.can_write.is_some()),
                ("append_data", table.append_data.is_some()),
                ("set_meta_data", table.set_meta_data.is_some()),
            ] {
                if !present {
                    missing.push(f);
                }
            }
        }
        if !missing.is_empty() {
            return Err(bad(format!(
                "format {name} declares capabilities it lacks functions for: {} is NULL",
                missing.join(", ")
            )));
        }
        // SAFETY: the signatures follow the ABI (a 1.0 table's copy has
        // them NULL/0).
        let signatures = unsafe { read_signatures(&table, &name) }.map_err(&bad)?;
        // SAFETY: the offers were made by this plugin's entry point with
        // its static extension structs (the ABI's rule).
        let ext = unsafe { super::extensions::Extensions::of(addresses[i], offers, &name) };
        let backend = Arc::new(InProcess::new(table, info.clone(), &name).with_extensions(ext));
        formats.push(FormatSpec {
            name,
            description,
            extensions,
            modes,
            signatures,
            backend,
        });
    }
    Ok(PluginTable { id, formats })
}

/// Calls a builtin's table accessor with the host table and reads its table.
/// A plugin's entry point.
pub(crate) type EntryFn = unsafe extern "C" fn(*const iio_host_v1) -> *const iio_plugin_v1;

pub(crate) fn read_builtin(accessor: EntryFn, id: &str) -> Result<PluginTable<InProcess>, LoadError> {
    // SAFETY: builtin accessors are linked into this program and return a
    // static table (or NULL); the host table is static.
    let (ptr, offers) = super::extensions::collecting(|| unsafe { accessor(host_table()) });
    // SAFETY: builtin tables follow the ABI and live for the process.
    unsafe { read_plugin_table(ptr, &Origin::Builtin(id.to_owned()), &offers) }
}

/// Loads a plugin library (never unloaded) and reads its table.
///
/// # Safety
///
/// Loading a library runs its initialisers and then its entry point: foreign
/// code with the process's privileges. Only load files you trust.
pub(crate) unsafe fn load_library(path: &Path) -> Result<PluginTable<InProcess>, LoadError> {
    let origin = Origin::File(path.to_owned());
    #[cfg(unix)]
    // SAFETY: forwarded from this function's contract.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map(libloading::Library::from);
    #[cfg(not(unix))]
    // SAFETY: forwarded from this function's contract.
    let lib = unsafe { libloading::Library::new(path) };
    let lib = lib.map_err(|e| LoadError::Open {
        path: path.to_owned(),
        message: loader_message(&e),
    })?;
    // Never unload: dlclose is unsound once a library registered TLS
    // destructors or handed out pointers.
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol, if present, has the entry point's type (ABI rule).
    let entry = unsafe { lib.get::<iio_plugin_entry_v1_fn>(c"iio_plugin_entry_v1") };
    let entry = match entry {
        Ok(sym) => *sym,
        Err(_) => {
            // A plugin for a later major exports only its own entry symbol.
            for major in 2..=9u32 {
                let name = std::ffi::CString::new(format!("iio_plugin_entry_v{major}")).expect("no NUL");
                // SAFETY: only the symbol's presence is checked; it is not called.
                if unsafe { lib.get::<*const ()>(name.as_c_str()) }.is_ok() {
                    return Err(LoadError::IncompatibleAbi {
                        path: path.to_owned(),
                        major,
                    });
                }
            }
            return Err(LoadError::NotAPlugin { path: path.to_owned() });
        }
    };
    let Some(entry) = entry else {
        return Err(LoadError::NotAPlugin { path: path.to_owned() });
    };
    // SAFETY: the entry point has the ABI's signature; the host table is static.
    let (table, offers) = super::extensions::collecting(|| unsafe { entry(host_table()) });
    // SAFETY: the table follows the ABI and lives as long as the (leaked) library.
    unsafe { read_plugin_table(table, &origin, &offers) }
}

/// The dynamic loader's own message, without libloading's wrapping.
fn loader_message(e: &libloading::Error) -> String {
    let s = e.to_string();
    match std::error::Error::source(e) {
        Some(src) => src.to_string(),
        None => s,
    }
}
