//! Which plugin folders and files the host trusts enough to load: loading
//! runs the file's code with the process's rights, so a file that someone
//! else could have put or changed is refused.
//!
//! - a folder must be absolute (never resolved against the current folder);
//! - a folder or file must not be writable by group or others;
//! - it must be owned by the current user or by root;
//! - a symbolic link is judged by its target.

use std::path::Path;

/// Why `path` (a plugin folder or file) is not trusted, or `Ok`.
pub(crate) fn check(path: &Path) -> Result<(), String> {
    if !path.is_absolute() {
        return Err(format!("{} is a relative path", path.display()));
    }
    check_owner_and_mode(path)
}

#[cfg(unix)]
fn check_owner_and_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // `metadata` follows symbolic links: a link is judged by its target,
    // which the message then names.
    let meta = std::fs::metadata(path).map_err(|e| format!("{} cannot be examined: {e}", path.display()))?;
    let shown = match std::fs::read_link(path) {
        Ok(_) => match std::fs::canonicalize(path) {
            Ok(target) => format!("{} (a link to {})", path.display(), target.display()),
            Err(_) => path.display().to_string(),
        },
        Err(_) => path.display().to_string(),
    };
    let mode = meta.mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "{shown} is writable by {} (mode {:o})",
            match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            },
            mode & 0o7777
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "{shown} is owned by user {}, not by this user ({me}) or root",
            meta.uid()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(path: &Path) -> Result<(), String> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| format!("{} cannot be examined: {e}", path.display()))
}
