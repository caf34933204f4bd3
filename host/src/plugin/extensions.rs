//! ABI 1.2 extensions: what a format offers beyond its table, through
//! `iio_host_v1.provide_extension` during the entry point (properties
//! without decoding, declared options, documentation).
//!
//! Why offered by the plugin rather than asked for by the host (CLAP's
//! `get_extension`): asking needs a function in a table, and every table's
//! size is frozen so that older C sources with positional initialisers keep
//! compiling warning-free; the host table is the host's own, so a new
//! function there costs plugins nothing. The host collects the offers made
//! on the loading thread while the entry point runs, and keeps them with
//! each format; an offer made at any other time is ignored.

use imageio_plugin_api::Dtype;
use imageio_plugin_api::ffi::{self, iio_doc_ext_v1, iio_format_v1, iio_options_ext_v1, iio_properties_ext_v1};
use imageio_plugin_api::raw::str_lossy;
use std::cell::RefCell;
use std::ffi::c_void;

/// The most options one format may declare.
const MAX_OPTIONS: usize = 1024;
/// The longest documentation kept.
const MAX_DOC: usize = 64 << 10;

thread_local! {
    /// The offers made on this thread while an entry point runs.
    static OFFERS: RefCell<Option<Vec<(usize, u32, usize)>>> = const { RefCell::new(None) };
}

/// Runs `entry` (a plugin's entry point or a builtin's accessor), and
/// returns its result with the extensions it offered: (format table
/// address, extension id, extension address).
pub(crate) fn collecting<T>(entry: impl FnOnce() -> T) -> (T, Vec<(usize, u32, usize)>) {
    OFFERS.with(|o| *o.borrow_mut() = Some(Vec::new()));
    let r = entry();
    let offers = OFFERS.with(|o| o.borrow_mut().take()).unwrap_or_default();
    (r, offers)
}

/// `iio_host_v1.provide_extension`.
pub(crate) unsafe extern "C" fn provide_extension(
    format: *const iio_format_v1,
    ext_id: u32,
    ext: *const c_void,
) -> ffi::iio_status {
    if format.is_null() || ext.is_null() {
        return ffi::IIO_ERR_INVALID_ARGUMENT;
    }
    if !matches!(
        ext_id,
        ffi::IIO_EXT_PROPERTIES_V1 | ffi::IIO_EXT_OPTIONS_V1 | ffi::IIO_EXT_DOC_V1
    ) {
        return ffi::IIO_ERR_UNSUPPORTED;
    }
    let taken = OFFERS.with(|o| match o.borrow_mut().as_mut() {
        Some(v) if v.len() < 4096 => {
            v.push((format as usize, ext_id, ext as usize));
            true
        }
        _ => false,
    });
    if taken { ffi::IIO_OK } else { ffi::IIO_ERR_UNSUPPORTED }
}

/// The kind of value an option takes (the ABI's `IIO_OPTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// Any value.
    Any,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A number.
    Float,
    /// Text.
    Str,
    /// A number or a list of numbers.
    Numbers,
    /// Bytes.
    Bytes,
}

impl OptionKind {
    /// The kind of an `IIO_OPTION_*` code (an unknown one is `Any`).
    pub(crate) fn from_raw(k: u32) -> OptionKind {
        match k {
            ffi::IIO_OPTION_BOOL => OptionKind::Bool,
            ffi::IIO_OPTION_INT => OptionKind::Int,
            ffi::IIO_OPTION_FLOAT => OptionKind::Float,
            ffi::IIO_OPTION_STR => OptionKind::Str,
            ffi::IIO_OPTION_NUMBERS => OptionKind::Numbers,
            ffi::IIO_OPTION_BYTES => OptionKind::Bytes,
            _ => OptionKind::Any,
        }
    }

    /// Its `IIO_OPTION_*` code (the protocol carries kinds by it too).
    pub(crate) fn code(self) -> u32 {
        match self {
            OptionKind::Any => ffi::IIO_OPTION_ANY,
            OptionKind::Bool => ffi::IIO_OPTION_BOOL,
            OptionKind::Int => ffi::IIO_OPTION_INT,
            OptionKind::Float => ffi::IIO_OPTION_FLOAT,
            OptionKind::Str => ffi::IIO_OPTION_STR,
            OptionKind::Numbers => ffi::IIO_OPTION_NUMBERS,
            OptionKind::Bytes => ffi::IIO_OPTION_BYTES,
        }
    }

    /// The kind's name, as messages say it.
    pub fn name(self) -> &'static str {
        match self {
            OptionKind::Any => "any value",
            OptionKind::Bool => "a boolean",
            OptionKind::Int => "an integer",
            OptionKind::Float => "a number",
            OptionKind::Str => "text",
            OptionKind::Numbers => "a number or a list of numbers",
            OptionKind::Bytes => "bytes",
        }
    }

    /// Whether `v` is of this kind (an integer is a number, a boolean an
    /// integer, as the plugins' own checks accept them).
    pub fn accepts(self, v: &crate::base::Value) -> bool {
        use crate::base::Value as V;
        match self {
            OptionKind::Any => true,
            // 0 and 1 pass for a boolean, as the plugins' own checks take them.
            OptionKind::Bool => matches!(v, V::Bool(_) | V::Int(0 | 1) | V::None),
            OptionKind::Int => matches!(v, V::Int(_) | V::Bool(_) | V::None),
            OptionKind::Float => matches!(v, V::Int(_) | V::Float(_) | V::None),
            OptionKind::Str => matches!(v, V::Str(_) | V::None),
            OptionKind::Numbers => matches!(v, V::Int(_) | V::Float(_) | V::IntArray(_) | V::FloatArray(_) | V::None),
            OptionKind::Bytes => matches!(v, V::Bytes(_) | V::None),
        }
    }
}

/// One option a format declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDecl {
    /// Its name.
    pub name: String,
    /// The kind of value it takes.
    pub kind: OptionKind,
    /// Whether it applies when reading.
    pub read: bool,
    /// Whether it applies when writing.
    pub write: bool,
    /// Its default, as text.
    pub default: String,
    /// One line about it.
    pub doc: String,
}

/// What a format offered.
#[derive(Default, Clone)]
pub(crate) struct Extensions {
    /// Properties without decoding.
    pub properties: Option<&'static iio_properties_ext_v1>,
    /// The options it knows (`None`: it declares none, and checks its own).
    pub options: Option<Vec<OptionDecl>>,
    /// Its documentation.
    pub doc: Option<String>,
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("properties", &self.properties.is_some())
            .field("options", &self.options)
            .field("doc", &self.doc.as_ref().map(String::len))
            .finish()
    }
}

impl Extensions {
    /// The extensions offered for the format table at `format`, read and
    /// checked (a malformed one is left out with a warning).
    ///
    /// # Safety
    ///
    /// The offers' addresses are the static structs a plugin passed to
    /// `provide_extension`, valid for the process.
    pub(crate) unsafe fn of(format: usize, offers: &[(usize, u32, usize)], name: &str) -> Extensions {
        let mut e = Extensions::default();
        for &(_, id, ext) in offers.iter().filter(|(f, ..)| *f == format) {
            match id {
                ffi::IIO_EXT_PROPERTIES_V1 => {
                    // SAFETY: the plugin passed a static iio_properties_ext_v1
                    // for this id (the ABI's rule); its size is checked first.
                    let p = unsafe { &*(ext as *const iio_properties_ext_v1) };
                    if (p.struct_size as usize) < size_of::<iio_properties_ext_v1>() || p.get_properties.is_none() {
                        log::warn!("format {name}: ignoring a malformed properties extension");
                    } else {
                        e.properties = Some(p);
                    }
                }
                ffi::IIO_EXT_OPTIONS_V1 => {
                    // SAFETY: as above, an iio_options_ext_v1.
                    let o = unsafe { &*(ext as *const iio_options_ext_v1) };
                    if (o.struct_size as usize) < size_of::<iio_options_ext_v1>()
                        || o.count > MAX_OPTIONS
                        || (o.options.is_null() && o.count > 0)
                    {
                        log::warn!("format {name}: ignoring a malformed options extension");
                        continue;
                    }
                    // SAFETY: `count` declarations at `options` (checked non-null).
                    let decls = unsafe { imageio_plugin_api::raw::slice(o.options, o.count) };
                    e.options = Some(
                        decls
                            .iter()
                            .map(|d| {
                                // SAFETY: the strings follow the ABI's rules and are static.
                                let (n, def, doc) =
                                    unsafe { (str_lossy(&d.name), str_lossy(&d.default_value), str_lossy(&d.doc)) };
                                let applies = if d.applies == 0 {
                                    ffi::IIO_CAP_READ | ffi::IIO_CAP_WRITE
                                } else {
                                    d.applies
                                };
                                OptionDecl {
                                    name: n,
                                    kind: OptionKind::from_raw(d.kind),
                                    read: applies & ffi::IIO_CAP_READ != 0,
                                    write: applies & ffi::IIO_CAP_WRITE != 0,
                                    default: def,
                                    doc,
                                }
                            })
                            .collect(),
                    );
                }
                ffi::IIO_EXT_DOC_V1 => {
                    // SAFETY: as above, an iio_doc_ext_v1.
                    let d = unsafe { &*(ext as *const iio_doc_ext_v1) };
                    if (d.struct_size as usize) < size_of::<iio_doc_ext_v1>() || d.text.len > MAX_DOC {
                        log::warn!("format {name}: ignoring a malformed documentation extension");
                        continue;
                    }
                    // SAFETY: a valid iio_str (ABI rule), static.
                    e.doc = Some(unsafe { str_lossy(&d.text) });
                }
                _ => {}
            }
        }
        e
    }
}

/// An image's dtype and shape, as a format reports them without decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProps {
    /// The element type.
    pub dtype: Dtype,
    /// The extents.
    pub shape: Vec<usize>,
}
