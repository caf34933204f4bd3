//! Provisioning: a plugin (a builtin, or a file) plus the isolation policy,
//! turned into the formats the registry registers. The one place that
//! decides where a plugin's code runs:
//!
//! - a builtin runs in this process, or (policy `all`) in a pool of workers;
//! - a file is scanned in a worker (or read from the registry cache), then
//!   served by a pool of workers, or (policy `off` for it) loaded into this
//!   process on first use; it is loaded here directly only when no worker
//!   can start and the caller allowed it (`IMAGEIO_ISOLATION_FALLBACK`).

use super::Origin;
use super::loader::{self, LoadError, PluginTable};
use super::{Isolation, IsolationConfig};
use std::path::{Path, PathBuf};

/// Told when isolation cannot start: the reason, and whether the plugins
/// run in this process instead.
pub(crate) type SayUnavailable<'a> = &'a dyn Fn(&str, bool);

/// The builtin `id`'s table, its formats in this process or in workers as
/// the policy says.
pub(crate) fn builtin(
    accessor: loader::EntryFn,
    id: &str,
    config: &IsolationConfig,
    say: SayUnavailable<'_>,
) -> Result<(PluginTable, bool), LoadError> {
    let table = loader::read_builtin(accessor, id)?.erased();
    if !config.isolates(id, true) {
        return Ok((table, false));
    }
    let why = match config.worker_program() {
        #[cfg(target_os = "linux")]
        Ok(program) => return Ok((isolated::builtin(table, id, program, config), true)),
        #[cfg(not(target_os = "linux"))]
        Ok(_) => unreachable!("no worker program off Linux"),
        Err(why) => why,
    };
    say(&why, config.fallback_in_process);
    if config.fallback_in_process {
        return Ok((table, false));
    }
    Err(LoadError::Unavailable {
        path: PathBuf::from(format!("<builtin {id}>")),
        reason: format!("it must run isolated (IMAGEIO_ISOLATION=all), and isolation cannot start: {why}"),
    })
}

/// The plugin file `path`'s table.
///
/// # Safety
///
/// Where no worker can start and the caller allowed the fallback, the
/// library is loaded into this process, which runs its code: only pass
/// files the user trusts.
pub(crate) unsafe fn file(
    path: &Path,
    config: &IsolationConfig,
    say: SayUnavailable<'_>,
) -> Result<(PluginTable, bool), LoadError> {
    #[cfg(target_os = "linux")]
    let why = match config.worker_program() {
        Ok(program) => match super::isolation::scan::scan(path, &program, config) {
            Ok(scanned) => return isolated::file(scanned, path, program, config),
            Err(why) => why,
        },
        Err(why) => why,
    };
    #[cfg(not(target_os = "linux"))]
    let why = config.worker_program().err().unwrap_or_default();
    if config.policy != Isolation::Off {
        say(&why, config.fallback_in_process);
        if !config.fallback_in_process {
            return Err(LoadError::Unavailable {
                path: path.to_owned(),
                reason: format!(
                    "it must run isolated (IMAGEIO_ISOLATION={}), and isolation cannot start: {why}",
                    config.policy.as_str()
                ),
            });
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { loader::load_library(path) }.map(|t| (t.erased(), false))
}

#[cfg(target_os = "linux")]
mod isolated {
    use super::*;
    use crate::plugin::PluginInfo;
    use crate::plugin::backend::{Capabilities, FormatBackend};
    use crate::plugin::isolation::isolated::IsolatedFormat;
    use crate::plugin::isolation::messages::HelloFormat;
    use crate::plugin::isolation::pool::Pool;
    use crate::plugin::isolation::process::Serves;
    use crate::plugin::isolation::scan::Scanned;
    use crate::plugin::lazy::{LazyFormat, LazyLibrary};
    use crate::plugin::loader::FormatSpec;
    use std::sync::Arc;

    /// A builtin's table with its formats served by a pool of workers.
    pub(super) fn builtin(table: PluginTable, id: &str, program: PathBuf, config: &IsolationConfig) -> PluginTable {
        let first = table.formats.first().map(|f| f.backend.plugin());
        let info = PluginInfo::new(
            id.to_owned(),
            first.map(|i| i.version.clone()).unwrap_or_default(),
            Origin::Builtin(id.to_owned()),
            first.is_some_and(|i| i.is_serialized()),
        );
        let names = table.formats.iter().map(|f| f.name.clone()).collect();
        let pool = Arc::new(Pool::new(
            Serves::Builtin(id.to_owned()),
            program,
            config.clone(),
            info,
            names,
        ));
        let formats = table
            .formats
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                let caps = f.backend.capabilities();
                f.backend = Arc::new(IsolatedFormat {
                    pool: pool.clone(),
                    index: i as u32,
                    name: f.name.clone(),
                    caps,
                    options: f.backend.options().map(<[_]>::to_vec),
                    doc: f.backend.doc().map(str::to_owned),
                });
                f
            })
            .collect();
        PluginTable { id: table.id, formats }
    }

    /// The table of a scanned plugin file: formats served by a pool of
    /// workers, or by the library loaded into this process on first use.
    pub(super) fn file(
        scanned: Scanned,
        path: &Path,
        program: PathBuf,
        config: &IsolationConfig,
    ) -> Result<(PluginTable, bool), LoadError> {
        let hello = match scanned {
            Scanned::Table(h) => h,
            Scanned::Quarantined(reason) => {
                return Err(LoadError::Quarantined {
                    path: path.to_owned(),
                    reason,
                });
            }
            Scanned::Rejected(failure) => return Err(failure.into_error(path)),
        };
        let isolated = config.isolates(&hello.id, false);
        // Calls into one worker never overlap (it serves them one at a
        // time), so an isolated plugin needs no lock of the host's; its
        // declaration is kept for what it says.
        let info = PluginInfo::new(
            hello.id.clone(),
            hello.version.clone(),
            Origin::File(path.to_owned()),
            hello.serialized,
        );
        let names: Vec<String> = hello.formats.iter().map(|f| f.name.clone()).collect();
        // Format i's backend: in the plugin's workers, or in the library
        // loaded here on first use.
        type MakeBackend = Box<dyn Fn(usize, &HelloFormat, Capabilities) -> Arc<dyn FormatBackend>>;
        let backend: MakeBackend = if isolated {
            let pool = Arc::new(Pool::new(
                Serves::File(path.to_owned()),
                program,
                config.clone(),
                info,
                names,
            ));
            Box::new(move |index, f, caps| {
                Arc::new(IsolatedFormat {
                    pool: pool.clone(),
                    index: index as u32,
                    name: f.name.clone(),
                    caps,
                    options: f.options.clone(),
                    doc: f.doc.clone(),
                })
            })
        } else {
            let lib = Arc::new(LazyLibrary::new(path.to_owned(), names));
            let info = Arc::new(info);
            Box::new(move |index, f, caps| {
                Arc::new(LazyFormat {
                    lib: lib.clone(),
                    index,
                    info: info.clone(),
                    caps,
                    options: f.options.clone(),
                    doc: f.doc.clone(),
                })
            })
        };
        let formats = hello
            .formats
            .into_iter()
            .enumerate()
            .map(|(i, f)| FormatSpec {
                backend: backend(
                    i,
                    &f,
                    Capabilities {
                        read: f.read,
                        write: f.write,
                    },
                ),
                name: f.name,
                description: f.description,
                extensions: f.extensions,
                modes: f.modes,
                signatures: f.signatures,
            })
            .collect();
        Ok((PluginTable { id: hello.id, formats }, isolated))
    }
}
