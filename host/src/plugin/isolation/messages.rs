//! The protocol's structured messages, each written once: a type with
//! `encode` and `decode`, used by both sides (and by the registry cache).
//!
//! - [`Hello`]: the plugin's table, the worker's first message;
//! - [`LoadFailure`]: why the plugin did not load, every `LoadError` kind
//!   with its fields (so the host rebuilds the very error, not a guess
//!   from its text);
//! - [`RequestDesc`]: a request as the worker rebuilds it (mode, names,
//!   options, limits, size, first bytes).

use super::wire::{self, Dec, Enc};
use crate::base::{Dict, Limits};
use crate::plugin::ByteSignature;
use crate::plugin::LoadError;
use crate::plugin::extensions::{OptionDecl, OptionKind};
use std::io;
use std::path::{Path, PathBuf};

/// A format as `HELLO` describes it.
#[derive(Clone, Debug)]
pub(crate) struct HelloFormat {
    pub name: String,
    pub description: String,
    pub extensions: String,
    pub modes: String,
    pub read: bool,
    pub write: bool,
    pub signatures: Vec<ByteSignature>,
    /// The options it declares (ABI 1.2).
    pub options: Option<Vec<OptionDecl>>,
    /// Its documentation (ABI 1.2).
    pub doc: Option<String>,
}

/// A plugin's table as `HELLO` describes it.
#[derive(Clone, Debug)]
pub(crate) struct Hello {
    pub id: String,
    pub version: String,
    pub serialized: bool,
    pub formats: Vec<HelloFormat>,
}

impl Hello {
    /// Decodes a `HELLO` payload (after the tag).
    pub(crate) fn decode(d: &mut Dec<'_>) -> io::Result<Hello> {
        let id = d.str()?;
        let version = d.str()?;
        let serialized = d.u8()? != 0;
        let n = d.u32()? as usize;
        if n > 4096 {
            return Err(wire::bad("too many formats"));
        }
        let mut formats = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.str()?;
            let description = d.str()?;
            let extensions = d.str()?;
            let modes = d.str()?;
            let caps = d.u8()?;
            let ns = d.u32()? as usize;
            if ns > 64 {
                return Err(wire::bad("too many signatures"));
            }
            let signatures = (0..ns).map(|_| d.signature()).collect::<io::Result<_>>()?;
            let options = match d.u8()? {
                0 => None,
                _ => {
                    let n = d.u32()? as usize;
                    if n > 1024 {
                        return Err(wire::bad("too many options"));
                    }
                    let mut v = Vec::with_capacity(n);
                    for _ in 0..n {
                        let name = d.str()?;
                        let kind = OptionKind::from_raw(u32::from(d.u8()?));
                        let applies = d.u8()?;
                        v.push(OptionDecl {
                            name,
                            kind,
                            read: applies & 1 != 0,
                            write: applies & 2 != 0,
                            default: d.str()?,
                            doc: d.str()?,
                        });
                    }
                    Some(v)
                }
            };
            let doc = match d.u8()? {
                0 => None,
                _ => Some(d.str()?),
            };
            formats.push(HelloFormat {
                name,
                description,
                extensions,
                modes,
                read: caps & 1 != 0,
                write: caps & 2 != 0,
                signatures,
                options,
                doc,
            });
        }
        Ok(Hello {
            id,
            version,
            serialized,
            formats,
        })
    }

    /// Encodes it (the worker's message; the registry cache's entry).
    pub(crate) fn encode(&self, m: &mut Enc) {
        m.str(&self.id)
            .str(&self.version)
            .u8(u8::from(self.serialized))
            .u32(self.formats.len() as u32);
        for f in &self.formats {
            m.str(&f.name)
                .str(&f.description)
                .str(&f.extensions)
                .str(&f.modes)
                .u8(u8::from(f.read) | (u8::from(f.write) << 1))
                .u32(f.signatures.len() as u32);
            for s in &f.signatures {
                m.signature(s);
            }
            match &f.options {
                None => {
                    m.u8(0);
                }
                Some(v) => {
                    m.u8(1).u32(v.len() as u32);
                    for o in v {
                        m.str(&o.name)
                            .u8(o.kind.code() as u8)
                            .u8(u8::from(o.read) | (u8::from(o.write) << 1))
                            .str(&o.default)
                            .str(&o.doc);
                    }
                }
            }
            match &f.doc {
                None => m.u8(0),
                Some(t) => m.u8(1).str(t),
            };
        }
    }
}

/// Why a plugin did not load, as the worker found it: a `LoadError`
/// without its path (the host knows the path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LoadFailure {
    /// The dynamic loader's message.
    Open(String),
    /// No entry symbol.
    NotAPlugin,
    /// Built for another ABI major.
    IncompatibleAbi(u32),
    /// The entry point returned NULL.
    Refused,
    /// The table breaks the rules.
    BadTable(String),
    /// Anything else (the message).
    Other(String),
}

impl LoadFailure {
    /// The failure of `e`.
    pub(crate) fn of(e: &LoadError) -> LoadFailure {
        match e {
            LoadError::Open { message, .. } => LoadFailure::Open(message.clone()),
            LoadError::NotAPlugin { .. } => LoadFailure::NotAPlugin,
            LoadError::IncompatibleAbi { major, .. } => LoadFailure::IncompatibleAbi(*major),
            LoadError::Refused { .. } => LoadFailure::Refused,
            LoadError::BadTable { reason, .. } => LoadFailure::BadTable(reason.clone()),
            other => LoadFailure::Other(other.to_string()),
        }
    }

    /// The `LoadError` for the file `path`.
    pub(crate) fn into_error(self, path: &Path) -> LoadError {
        let path: PathBuf = path.to_owned();
        match self {
            LoadFailure::Open(message) => LoadError::Open { path, message },
            LoadFailure::NotAPlugin => LoadError::NotAPlugin { path },
            LoadFailure::IncompatibleAbi(major) => LoadError::IncompatibleAbi { path, major },
            LoadFailure::Refused => LoadError::Refused { path },
            LoadFailure::BadTable(reason) => LoadError::BadTable { path, reason },
            LoadFailure::Other(message) => LoadError::Open { path, message },
        }
    }

    /// Whether another environment might load the file (the dynamic
    /// loader's refusal: a missing dependency, another `LD_LIBRARY_PATH`):
    /// such an outcome is not remembered in the registry cache.
    pub(crate) fn is_environmental(&self) -> bool {
        matches!(self, LoadFailure::Open(_) | LoadFailure::Other(_))
    }

    /// Encodes it.
    pub(crate) fn encode(&self, m: &mut Enc) {
        match self {
            LoadFailure::Open(s) => m.u8(1).str(s),
            LoadFailure::NotAPlugin => m.u8(2),
            LoadFailure::IncompatibleAbi(major) => m.u8(3).u32(*major),
            LoadFailure::Refused => m.u8(4),
            LoadFailure::BadTable(s) => m.u8(5).str(s),
            LoadFailure::Other(s) => m.u8(6).str(s),
        };
    }

    /// Decodes it.
    pub(crate) fn decode(d: &mut Dec<'_>) -> io::Result<LoadFailure> {
        Ok(match d.u8()? {
            1 => LoadFailure::Open(d.str()?),
            2 => LoadFailure::NotAPlugin,
            3 => LoadFailure::IncompatibleAbi(d.u32()?),
            4 => LoadFailure::Refused,
            5 => LoadFailure::BadTable(d.str()?),
            6 => LoadFailure::Other(d.str()?),
            _ => return Err(wire::bad("a load failure")),
        })
    }
}

/// A request as the worker rebuilds its own: the format it is for, the
/// mode, the names the plugin sees, the options, the limits, the size of
/// the source, and its first bytes (when probing).
#[derive(Clone, Debug)]
pub(crate) struct RequestDesc {
    pub format: u32,
    /// `b'r'` or `b'w'`.
    pub io: u8,
    /// The image mode's character (`i`, `I`, `v`, `V`, `?`).
    pub image: u8,
    pub uri: String,
    /// The extension, lower case, with its dot; empty when none.
    pub extension: String,
    pub options: Dict,
    pub limits: Limits,
    pub size: Option<u64>,
    pub first_bytes: Vec<u8>,
}

impl RequestDesc {
    /// Encodes it after the request's tag.
    pub(crate) fn encode(&self, m: &mut Enc) {
        m.u32(self.format)
            .u8(self.io)
            .u8(self.image)
            .str(&self.uri)
            .str(&self.extension)
            .dict(&self.options)
            .limits(&self.limits)
            .opt_u64(self.size)
            .bytes(&self.first_bytes);
    }

    /// Decodes it.
    pub(crate) fn decode(d: &mut Dec<'_>) -> io::Result<RequestDesc> {
        Ok(RequestDesc {
            format: d.u32()?,
            io: d.u8()?,
            image: d.u8()?,
            uri: d.str()?,
            extension: d.str()?,
            options: d.dict()?,
            limits: d.limits()?,
            size: d.opt_u64()?,
            first_bytes: d.bytes()?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_failures_and_requests_round_trip() {
        for f in [
            LoadFailure::Open("no libfoo.so".into()),
            LoadFailure::NotAPlugin,
            LoadFailure::IncompatibleAbi(7),
            LoadFailure::Refused,
            LoadFailure::BadTable("no formats".into()),
        ] {
            let mut m = Enc::default();
            f.encode(&mut m);
            assert_eq!(LoadFailure::decode(&mut Dec::new(&m.buf)).unwrap(), f);
            let e = f.clone().into_error(Path::new("/p/x.so"));
            assert_eq!(LoadFailure::of(&e), f, "{e}");
        }
        let mut options = Dict::new();
        options.insert("quality", 90i64);
        let r = RequestDesc {
            format: 2,
            io: b'r',
            image: b'i',
            uri: "a.png".into(),
            extension: ".png".into(),
            options,
            limits: Limits::DEFAULT,
            size: Some(12),
            first_bytes: vec![1, 2, 3],
        };
        let mut m = Enc::default();
        r.encode(&mut m);
        let back = RequestDesc::decode(&mut Dec::new(&m.buf)).unwrap();
        assert_eq!(
            (back.format, back.uri.as_str(), back.size, back.first_bytes),
            (2, "a.png", Some(12), vec![1, 2, 3])
        );
        assert_eq!(back.options, r.options);
    }
}
