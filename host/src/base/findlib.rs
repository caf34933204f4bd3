//! `load_lib`: find and load a shared library by exact names,
//! then by name prefixes in the common library folders.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Whether a file name looks like a shared library on this platform: `.dll`
/// on Windows, `.dylib` on macOS, else `.so` or `.so.` anywhere (so
/// `libfoo.so.1.2` qualifies).
pub fn looks_lib(fname: &str) -> bool {
    let f = fname.to_lowercase();
    if cfg!(target_os = "windows") {
        f.ends_with(".dll")
    } else if cfg!(target_os = "macos") {
        f.ends_with(".dylib")
    } else {
        f.ends_with(".so") || f.contains(".so.")
    }
}

/// The folders searched after `lib_dirs`: the system's library folders, the
/// install prefix's `bin lib DLLs Library/bin shared` (imageio's
/// `sys.prefix` folders), then `~/lib`.
fn default_lib_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/local/lib",
        "/opt/local/lib",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(prefix) = crate::base::dirs::exe_dir().and_then(|e| e.parent().map(Path::to_path_buf)) {
        for sub in ["bin", "lib", "DLLs", "Library/bin", "shared"] {
            dirs.push(prefix.join(sub));
        }
    }
    if let Some(home) = std::env::home_dir() {
        dirs.push(home.join("lib"));
    }
    dirs
}

/// The folders searched (existing ones only, duplicates once, `lib_dirs`
/// first) and the candidate files in them, in imageio's order: for each
/// folder, for each name, the files whose lower-cased name starts with the
/// name and that [look like libraries](looks_lib); shorter names first, and
/// among names of equal length the higher version first.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// for f in ["libfoo.so", "libfoo.so.1", "libfoo.so.2", "libfoobar.so", "readme.txt"] {
///     std::fs::write(dir.path().join(f), b"")?;
/// }
/// let (_, paths) = imageio::core::generate_candidate_libs(&["libfoo"], &[dir.path().to_path_buf()]);
/// let names: Vec<_> = paths.iter().take(4).map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
/// assert_eq!(names, ["libfoo.so", "libfoo.so.2", "libfoo.so.1", "libfoobar.so"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn generate_candidate_libs(lib_names: &[&str], lib_dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for d in lib_dirs.iter().cloned().chain(default_lib_dirs()) {
        if d.is_dir() && !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    let mut paths = Vec::new();
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        files.sort();
        files.reverse();
        files.sort_by_key(|f| f.chars().count());
        for name in lib_names {
            for f in &files {
                if f.to_lowercase().starts_with(name) && looks_lib(f) {
                    let p = dir.join(f);
                    if p.is_file() {
                        paths.push(p);
                    }
                }
            }
        }
    }
    (dirs, paths)
}

/// Loads a shared library: each of `exact_lib_names` as given
/// (bare names go through the system loader's search), then the
/// [candidates](generate_candidate_libs) for `lib_names` in `lib_dirs` and
/// the common folders. Empty names are ignored. Returns the library and the
/// name or path that loaded. The library is loaded with the platform's
/// defaults (`RTLD_LAZY | RTLD_LOCAL` on Unix).
///
/// Errors: `No library name given.`; `One or more NAME libraries were
/// found, but could not be loaded due to the following errors:` with each
/// failed candidate and its loader message; else `Could not find a NAME
/// library in any of:` with the folders searched.
///
/// ```
/// // The C library is always loadable by its exact name.
/// let (_lib, name) = imageio::load_lib(&["libc.so.6"], &[], &[])?;
/// assert_eq!(name, "libc.so.6");
/// let err = imageio::load_lib(&[], &["libnothing-like-this"], &[]).unwrap_err();
/// assert!(err.to_string().starts_with("Could not find a libnothing-like-this library in any of:\n"));
/// # Ok::<(), imageio::Error>(())
/// ```
pub fn load_lib(
    exact_lib_names: &[&str],
    lib_names: &[&str],
    lib_dirs: &[PathBuf],
) -> Result<(libloading::Library, String)> {
    let exact: Vec<&str> = exact_lib_names.iter().copied().filter(|n| !n.is_empty()).collect();
    let names: Vec<&str> = lib_names.iter().copied().filter(|n| !n.is_empty()).collect();
    let the_name = names
        .first()
        .or(exact.first())
        .copied()
        .ok_or_else(|| Error::InvalidArgument("No library name given.".into()))?;
    let (dirs, candidates) = generate_candidate_libs(&names, lib_dirs);
    for name in &exact {
        // SAFETY: loading a library runs its initialisers; load_lib's whole
        // purpose is to load the library the caller named, as imageio's does.
        if let Ok(lib) = unsafe { libloading::Library::new(*name) } {
            return Ok((lib, (*name).to_owned()));
        }
    }
    let mut errors = Vec::new();
    for path in &candidates {
        // SAFETY: as above; candidates are files the caller's names select.
        match unsafe { libloading::Library::new(path) } {
            Ok(lib) => return Ok((lib, path.to_string_lossy().into_owned())),
            Err(e) => errors.push(format!("{}:\n{e}", path.display())),
        }
    }
    let message = if errors.is_empty() {
        let listed: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        format!("Could not find a {the_name} library in any of:\n{}", listed.join("\n"))
    } else {
        format!(
            "One or more {the_name} libraries were found, but could not be loaded due to the following errors:\n{}",
            errors.join("\n\n")
        )
    };
    Err(Error::LibraryNotLoaded(message))
}
