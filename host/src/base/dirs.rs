//! Where imageio keeps things: `get_platform`, `appdata_dir`,
//! `resource_dirs`.

use std::io;
use std::path::{Path, PathBuf};

/// `linux64`, `win32`, `osx64`, `freebsd64`, ... or `None` for other systems.
///
/// ```
/// let p = imageio::get_platform().unwrap();
/// assert!(p.ends_with("32") || p.ends_with("64"));
/// ```
pub fn get_platform() -> Option<String> {
    let bits = usize::BITS as usize;
    let os = if cfg!(target_os = "linux") {
        "linux"
    } else if cfg!(target_os = "windows") {
        "win"
    } else if cfg!(target_os = "macos") {
        "osx"
    } else if cfg!(target_os = "freebsd") {
        "freebsd"
    } else {
        return None;
    };
    Some(format!("{os}{bits}"))
}

/// The user directory: `$IMAGEIO_USERDIR` if set (even to an empty
/// string, as imageio does), else the home directory if it is one, else
/// `/var/tmp` (imageio issue #54; the system temp dir where there is no
/// `/var/tmp`).
fn user_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("IMAGEIO_USERDIR") {
        return PathBuf::from(d);
    }
    match std::env::home_dir() {
        Some(h) if h.is_dir() => h,
        _ => {
            let var_tmp = PathBuf::from("/var/tmp");
            if var_tmp.is_dir() {
                var_tmp
            } else {
                std::env::temp_dir()
            }
        }
    }
}

/// Whether a file can be created and removed in `dir`.
fn writable(dir: &Path) -> bool {
    let probe = dir.join("test.write");
    std::fs::File::create(&probe).is_ok() && std::fs::remove_file(&probe).is_ok()
}

/// The folder that plays the role of Python's `sys.prefix`: the parent of
/// the executable's folder (`<prefix>/bin/imageio` gives `<prefix>`).
fn install_prefix() -> Option<PathBuf> {
    exe_dir()?.parent().map(PathBuf::from)
}

/// The application data directory for `appname`, created if
/// missing; without an `appname`, the base directory itself (not created).
///
/// The rules, in order:
/// 1. the user directory is `$IMAGEIO_USERDIR` if set (an empty value
///    counts, as in imageio), else the home directory, else `/var/tmp`;
/// 2. the base is `%LOCALAPPDATA%` (or `%APPDATA%` when `roaming`) on
///    Windows and `~/Library/Application Support` on macOS when they are
///    directories, else the user directory;
/// 3. a portable install wins: a writable `settings` folder in the install
///    prefix (the executable's folder's parent), or in the folder above it;
/// 4. `appname` is appended, as a hidden `.appname` when the base is the
///    user directory, and created with every missing parent. Creation is
///    race-free: another process creating it at the same time is fine.
///
/// ```
/// # let tmp = std::env::temp_dir().join("iio-appdata-doc");
/// # unsafe { std::env::set_var("IMAGEIO_USERDIR", &tmp) };
/// let dir = imageio::appdata_dir(Some("imageio"), false)?;
/// assert!(dir.ends_with(".imageio") && dir.is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn appdata_dir(appname: Option<&str>, roaming: bool) -> io::Result<PathBuf> {
    let user = user_dir();
    let mut path: Option<PathBuf> = None;
    if cfg!(target_os = "windows") {
        let local = std::env::var_os("LOCALAPPDATA").filter(|v| !v.is_empty());
        let roam = std::env::var_os("APPDATA").filter(|v| !v.is_empty());
        path = if roaming { roam.or(local) } else { local.or(roam) }.map(PathBuf::from);
    } else if cfg!(target_os = "macos") {
        path = Some(user.join("Library").join("Application Support"));
    }
    let mut path = match path {
        Some(p) if p.is_dir() => p,
        _ => user.clone(),
    };
    if let Some(prefix) = install_prefix() {
        for rel in ["settings", "../settings"] {
            let local = std::path::absolute(prefix.join(rel)).unwrap_or_else(|_| prefix.join(rel));
            if local.is_dir() && writable(&local) {
                path = local;
                break;
            }
        }
    }
    if let Some(name) = appname.filter(|n| !n.is_empty()) {
        let name = if path == user {
            format!(".{}", name.trim_start_matches('.'))
        } else {
            name.to_owned()
        };
        path = path.join(name);
        // create_dir_all tolerates a concurrent creator (imageio #460).
        std::fs::create_dir_all(&path)?;
    }
    Ok(path)
}

/// The user's imageio folder as a place for plugins: `appdata_dir("imageio")`,
/// unless the user folder is not the user's own: an empty or relative
/// `IMAGEIO_USERDIR` (which would mean the current folder), or the shared
/// fallback (`/var/tmp`) taken when there is no home folder, where anyone
/// may have put files.
pub(crate) fn user_plugin_home() -> Option<PathBuf> {
    match std::env::var_os("IMAGEIO_USERDIR") {
        Some(d) if !Path::new(&d).is_absolute() => return None,
        Some(_) => {}
        None if !std::env::home_dir().is_some_and(|h| h.is_absolute() && h.is_dir()) => return None,
        None => {}
    }
    let dir = appdata_dir(Some("imageio"), false).ok()?;
    dir.is_absolute().then_some(dir)
}

/// The folder of the running executable.
pub(crate) fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(PathBuf::from)
}

/// The installed resources folder: `<prefix>/share/imageio-rs`, where the
/// executable is `<prefix>/bin/...` (imageio's `resource_package_dir()`).
pub fn resource_package_dir() -> Option<PathBuf> {
    Some(install_prefix()?.join("share").join("imageio-rs"))
}

/// Where imageio looks for resources, in order: the installed
/// resources folder ([`resource_package_dir`]), the user's
/// `appdata_dir("imageio")` (created; left out silently when it cannot be),
/// and the executable's folder. Plugin discovery searches the `plugins/`
/// folder of each, and [`get_remote_file`](crate::get_remote_file) looks for
/// cached files in each.
///
/// ```
/// # unsafe { std::env::set_var("IMAGEIO_USERDIR", std::env::temp_dir().join("iio-resource-doc")) };
/// let dirs = imageio::resource_dirs();
/// assert!(dirs.iter().any(|d| d.ends_with(".imageio")));
/// ```
pub fn resource_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    dirs.extend(resource_package_dir());
    if let Ok(d) = appdata_dir(Some("imageio"), false) {
        dirs.push(d);
    }
    dirs.extend(exe_dir());
    dirs
}
