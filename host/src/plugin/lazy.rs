//! Lazy loading: a scanned plugin's formats are registered from its cached
//! table, and its library is loaded into this process (for plugins that
//! run in process) only when one of its formats is first used or asked
//! `can_read`. Listing formats and choosing one by name or extension runs
//! no plugin code.

use super::PluginInfo;
use super::backend::{Capabilities, FormatBackend, Instance};
use crate::error::{Error, Result};
use crate::request::Request;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// A plugin library loaded on first use.
pub(crate) struct LazyLibrary {
    path: PathBuf,
    /// The format names the scan found, in order: the loaded table must
    /// match them.
    names: Vec<String>,
    loaded: OnceLock<std::result::Result<Vec<Arc<dyn FormatBackend>>, String>>,
}

impl LazyLibrary {
    pub(crate) fn new(path: PathBuf, names: Vec<String>) -> LazyLibrary {
        LazyLibrary {
            path,
            names,
            loaded: OnceLock::new(),
        }
    }

    fn backends(&self) -> std::result::Result<&[Arc<dyn FormatBackend>], &str> {
        self.loaded
            .get_or_init(|| {
                log::debug!("loading {} on first use", self.path.display());
                // SAFETY: the file passed the trust checks and its scan (a
                // worker loaded it and read its table without failing);
                // the caller of `load_plugin` vouched for it.
                let table = unsafe { super::loader::load_library(&self.path) }.map_err(|e| e.to_string())?;
                let names: Vec<&str> = table.formats.iter().map(|f| f.name.as_str()).collect();
                if names != self.names.iter().map(String::as_str).collect::<Vec<_>>() {
                    return Err(format!(
                        "{} changed since it was scanned (its formats are now {names:?}); run \
                         `imageio plugins --rescan`",
                        self.path.display()
                    ));
                }
                Ok(table
                    .formats
                    .into_iter()
                    .map(|f| f.backend as Arc<dyn FormatBackend>)
                    .collect())
            })
            .as_deref()
            .map_err(String::as_str)
    }
}

/// One format of a lazily loaded library.
pub(crate) struct LazyFormat {
    pub lib: Arc<LazyLibrary>,
    pub index: usize,
    pub info: Arc<PluginInfo>,
    pub caps: Capabilities,
    /// The options it declares (ABI 1.2, from the scanned table).
    pub options: Option<Vec<super::extensions::OptionDecl>>,
    /// Its documentation (ABI 1.2).
    pub doc: Option<String>,
}

impl LazyFormat {
    fn backend(&self, uri: &str) -> Result<&Arc<dyn FormatBackend>> {
        match self.lib.backends() {
            Ok(b) => b
                .get(self.index)
                .ok_or_else(|| Error::LibraryNotLoaded(format!("{uri}: no format {}", self.index))),
            Err(e) => Err(Error::LibraryNotLoaded(e.to_owned())),
        }
    }
}

impl FormatBackend for LazyFormat {
    fn plugin(&self) -> &PluginInfo {
        &self.info
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn options(&self) -> Option<&[super::extensions::OptionDecl]> {
        self.options.as_deref()
    }

    fn doc(&self) -> Option<&str> {
        self.doc.as_deref()
    }

    fn confidence(&self, request: &mut Request) -> Result<i32> {
        let uri = request.filename().to_owned();
        self.backend(&uri)?.confidence(request)
    }

    fn open(&self, request: Box<Request>) -> std::result::Result<Box<dyn Instance>, (Error, Box<Request>)> {
        let uri = request.filename().to_owned();
        match self.backend(&uri) {
            Ok(b) => b.open(request),
            Err(e) => Err((e, request)),
        }
    }
}
