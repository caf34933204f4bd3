//! [`Format`]: one image format, served by a plugin through its backend
//! (imageio's `Format`).

use super::reader::Reader;
use super::writer::Writer;
use crate::error::{Error, Result};
use crate::plugin::backend::{FormatBackend, Instance};
use crate::plugin::{ByteSignature, Origin};
use crate::request::{IoMode, Request};
use std::fmt;
use std::sync::Arc;

struct FormatInner {
    name: String,
    description: String,
    extensions: Vec<String>,
    modes: String,
    signatures: Vec<ByteSignature>,
    backend: Arc<dyn FormatBackend>,
}

/// One image format, served by a plugin (imageio's `Format`). Cheap to clone.
#[derive(Clone)]
pub struct Format {
    inner: Arc<FormatInner>,
}

impl Format {
    pub(crate) fn from_spec(
        name: &str,
        description: &str,
        extensions: &str,
        modes: &str,
        signatures: Vec<ByteSignature>,
        backend: Arc<dyn FormatBackend>,
    ) -> Result<Format> {
        if let Some(c) = modes.chars().find(|c| !"iIvV?".contains(*c)) {
            return Err(Error::InvalidArgument(format!(
                "Invalid value for mode given. ({c:?} in {modes:?})"
            )));
        }
        Ok(Format {
            inner: Arc::new(FormatInner {
                name: name.to_uppercase(),
                description: description.to_owned(),
                extensions: imageio_plugin_api::parse_extensions(extensions),
                modes: modes.to_owned(),
                signatures,
                backend,
            }),
        })
    }

    /// A format implemented in Rust with the plugin SDK, registered by the
    /// program itself (no shared library). Its calls go through the same C
    /// table as any plugin's.
    pub fn from_rust<F: imageio_plugin_api::Format>() -> Result<Format> {
        let backend = Arc::new(crate::plugin::inprocess::rust_format::<F>());
        let signatures = F::SIGNATURES
            .iter()
            .map(|s| {
                let raw = s.as_raw();
                // SAFETY: an SDK signature points to `'static` slices of `len` bytes.
                unsafe {
                    ByteSignature {
                        offset: raw.offset as usize,
                        bytes: imageio_plugin_api::raw::slice(raw.bytes, raw.len).to_vec(),
                        mask: (!raw.mask.is_null()).then(|| imageio_plugin_api::raw::slice(raw.mask, raw.len).to_vec()),
                    }
                }
            })
            .collect();
        Format::from_spec(F::NAME, F::DESCRIPTION, F::EXTENSIONS, F::MODES, signatures, backend)
    }

    /// The upper-case name (`PNG`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// One line for people.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The extensions, each with its dot, lower case (`[".png"]`).
    pub fn extensions(&self) -> &[String] {
        &self.inner.extensions
    }

    /// The image modes it supports (`"iI"`).
    pub fn modes(&self) -> &str {
        &self.inner.modes
    }

    /// imageio's `doc`: `"NAME - description\n\n    ..."`, then the
    /// format's own documentation and its declared options (ABI 1.2)
    /// where the plugin gives them.
    pub fn doc(&self) -> String {
        let mut text = format!(
            "{} - {}\n\n    Served by plugin {} ({}).\n",
            self.name(),
            self.description(),
            self.plugin_id(),
            self.origin()
        );
        if let Some(own) = self.inner.backend.doc() {
            text.push('\n');
            for line in own.lines() {
                text.push_str(format!("    {line}").trim_end());
                text.push('\n');
            }
        }
        if let Some(options) = self.options().filter(|o| !o.is_empty()) {
            text.push_str("\n    Options:\n");
            for o in options {
                let modes = match (o.read, o.write) {
                    (true, false) => "reading",
                    (false, true) => "writing",
                    _ => "reading and writing",
                };
                text.push_str(&format!(
                    "      {} ({}, {modes}; default {}): {}\n",
                    o.name,
                    o.kind.name(),
                    o.default,
                    o.doc
                ));
            }
        }
        text
    }

    /// The options the format declares (ABI 1.2; `None` when its plugin
    /// declares none and checks its own).
    pub fn options(&self) -> Option<&[crate::plugin::extensions::OptionDecl]> {
        self.inner.backend.options()
    }

    /// With declared options, the request's options checked before the
    /// plugin runs: an unknown one, or a value of the wrong kind, is the
    /// error the plugin itself would give (`Error::Plugin`, code
    /// `InvalidArgument`, its wording).
    fn check_options(&self, request: &Request) -> Result<()> {
        let Some(decls) = self.options() else { return Ok(()) };
        let refuse = |message: String| Error::Plugin {
            uri: request.filename().to_owned(),
            format: self.name().to_owned(),
            plugin: self.plugin_id().to_owned(),
            code: crate::error::PluginCode::InvalidArgument,
            message,
            no_message: false,
            code_unset: false,
        };
        let write = request.mode().io == IoMode::Write;
        let applies = |d: &&crate::plugin::extensions::OptionDecl| if write { d.write } else { d.read };
        for (key, value) in request.kwargs().iter() {
            match decls.iter().filter(applies).find(|d| d.name == key) {
                Some(d) if !d.kind.accepts(value) => {
                    return Err(refuse(format!(
                        "option {key:?} for format {} must be {}, not {value:?}",
                        self.name(),
                        d.kind.name()
                    )));
                }
                Some(_) => {}
                None => {
                    let known: Vec<&str> = decls.iter().filter(applies).map(|d| d.name.as_str()).collect();
                    let list = if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    };
                    return Err(refuse(format!(
                        "unknown option {key:?} for format {} (known options: {list})",
                        self.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Where the format comes from.
    pub fn origin(&self) -> &Origin {
        &self.inner.backend.plugin().origin
    }

    /// The id of the plugin that serves it.
    pub fn plugin_id(&self) -> &str {
        &self.inner.backend.plugin().id
    }

    /// The version of the plugin that serves it.
    pub fn plugin_version(&self) -> &str {
        &self.inner.backend.plugin().version
    }

    /// Whether its plugin does not declare `IIO_CAP_THREAD_SAFE`: in this
    /// process the host then serialises its calls; isolated, calls from
    /// different threads run in different worker processes.
    pub fn is_serialized(&self) -> bool {
        self.inner.backend.plugin().is_serialized()
    }

    /// Whether the format runs in worker processes (plugin isolation).
    pub fn is_isolated(&self) -> bool {
        self.inner.backend.isolated()
    }

    /// Whether the plugin declares reading.
    pub fn supports_read(&self) -> bool {
        self.inner.backend.capabilities().read
    }

    /// Whether the plugin declares writing.
    pub fn supports_write(&self) -> bool {
        self.inner.backend.capabilities().write
    }

    pub(crate) fn same_as(&self, other: &Format) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The plugin's confidence (0..100) that it can read (or write) the request.
    pub fn confidence(&self, request: &mut Request) -> Result<i32> {
        let write = request.mode().io == IoMode::Write;
        if (write && !self.supports_write()) || (!write && !self.supports_read()) {
            return Ok(0);
        }
        if !write && !self.inner.signatures.is_empty() {
            let first = request.firstbytes()?;
            if !self.inner.signatures.iter().any(|s| s.matches(first)) {
                return Ok(0);
            }
        }
        self.inner.backend.confidence(request)
    }

    /// Whether the format can read the request (confidence above 0).
    pub fn can_read(&self, request: &mut Request) -> Result<bool> {
        Ok(request.mode().io == IoMode::Read && self.confidence(request)? > 0)
    }

    /// Whether the format can write the request (confidence above 0).
    pub fn can_write(&self, request: &mut Request) -> Result<bool> {
        Ok(request.mode().io == IoMode::Write && self.confidence(request)? > 0)
    }

    fn check_mode(&self, request: &Request, action: &'static str) -> Result<()> {
        let image = request.mode().image;
        if let Some(c) = image.select_char()
            && !self.modes().contains(c)
        {
            return Err(Error::ModeNotSupported {
                format: self.name().to_owned(),
                action,
                mode: image.name(),
            });
        }
        Ok(())
    }

    /// Opens the plugin instance on `request`; on failure the request is
    /// handed back so that another format can be tried.
    fn open(&self, request: Box<Request>) -> std::result::Result<Box<dyn Instance>, (Error, Box<Request>)> {
        if let Err(e) = self.check_options(&request) {
            return Err((e, request));
        }
        self.inner.backend.open(request)
    }

    /// A reader on `request` (imageio's `get_reader`): checks the mode, then
    /// opens the plugin. The format's `can_read` is not consulted.
    pub fn get_reader(&self, request: Request) -> Result<Reader> {
        if request.mode().io != IoMode::Read {
            return Err(Error::InvalidArgument("get_reader needs a request in read mode".into()));
        }
        self.try_reader(Box::new(request)).map_err(|(e, _)| e)
    }

    pub(crate) fn try_reader(&self, request: Box<Request>) -> std::result::Result<Reader, (Error, Box<Request>)> {
        if let Err(e) = self.check_mode(&request, "read") {
            return Err((e, request));
        }
        let instance = self.open(request)?;
        Ok(Reader::new(self.clone(), instance))
    }

    /// A writer on `request` (imageio's `get_writer`).
    pub fn get_writer(&self, request: Request) -> Result<Writer> {
        if request.mode().io != IoMode::Write {
            return Err(Error::InvalidArgument(
                "get_writer needs a request in write mode".into(),
            ));
        }
        self.check_mode(&request, "write")?;
        let instance = self.open(Box::new(request)).map_err(|(e, _)| e)?;
        Ok(Writer::new(self.clone(), instance))
    }
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Format {} - {}>", self.name(), self.description())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.doc())
    }
}
