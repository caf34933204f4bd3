//! Small helpers of imageio's core: `read_n_bytes`, `get_platform`,
//! `appdata_dir`, `resource_dirs`.

use std::io::{self, Read};
use std::path::PathBuf;

/// Reads up to `n` bytes, stopping at the first empty read (spec §1.9.5).
///
/// ```
/// let mut src: &[u8] = b"abcdef";
/// assert_eq!(imageio::read_n_bytes(&mut src, 4).unwrap(), b"abcd");
/// assert_eq!(imageio::read_n_bytes(&mut src, 9).unwrap(), b"ef");
/// ```
pub fn read_n_bytes(f: &mut (impl Read + ?Sized), n: usize) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match f.read(&mut out[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.truncate(got);
    Ok(out)
}

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

/// The user directory imageio uses: `$IMAGEIO_USERDIR` if set, else the home
/// directory if it is one, else `/var/tmp`.
fn user_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("IMAGEIO_USERDIR") {
        return PathBuf::from(d);
    }
    match std::env::home_dir() {
        Some(h) if h.is_dir() => h,
        _ => std::env::temp_dir(),
    }
}

/// Where `appdata_dir(appname)` lives, without creating it.
pub(crate) fn appdata_path(appname: &str) -> PathBuf {
    let user = user_dir();
    let mut base = None;
    if cfg!(target_os = "windows") {
        base = std::env::var_os("LOCALAPPDATA")
            .or_else(|| std::env::var_os("APPDATA"))
            .map(PathBuf::from)
            .filter(|p| p.is_dir());
    } else if cfg!(target_os = "macos") {
        base = Some(user.join("Library/Application Support")).filter(|p| p.is_dir());
    }
    match base {
        Some(b) => b.join(appname),
        None if appname.is_empty() => user,
        None => user.join(format!(".{}", appname.trim_start_matches('.'))),
    }
}

/// The application data directory for `appname`, created if missing (a
/// hidden `.appname` in the user directory on Linux). See spec §1.7.
///
/// ```
/// # let tmp = std::env::temp_dir().join("iio-appdata-doc");
/// # unsafe { std::env::set_var("IMAGEIO_USERDIR", &tmp) };
/// let dir = imageio::appdata_dir("imageio")?;
/// assert!(dir.ends_with(".imageio") && dir.is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn appdata_dir(appname: &str) -> io::Result<PathBuf> {
    let p = appdata_path(appname);
    if !appname.is_empty() {
        std::fs::create_dir_all(&p)?;
    }
    Ok(p)
}

/// The folder of the running executable.
pub(crate) fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(PathBuf::from)
}

/// Where imageio looks for resources, in order: the installed resources
/// folder (`<prefix>/share/imageio-rs` beside `<prefix>/bin`), the user's
/// `appdata_dir("imageio")`, and the executable's folder. Nothing is created.
///
/// ```
/// let dirs = imageio::resource_dirs();
/// assert_eq!(dirs.len(), 3);
/// assert!(dirs[1].ends_with(".imageio"));
/// ```
pub fn resource_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let exe = exe_dir();
    if let Some(prefix) = exe.as_ref().and_then(|e| e.parent()) {
        dirs.push(prefix.join("share").join("imageio-rs"));
    }
    dirs.push(appdata_path("imageio"));
    if let Some(e) = exe {
        dirs.push(e);
    }
    dirs
}
