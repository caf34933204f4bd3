//! Byte and text helpers: imageio's `read_n_bytes`, the temporary file of
//! every atomic write, and escaping untrusted text for a terminal.

use std::io::{self, Read};
use std::path::Path;

/// Reads up to `n` bytes, stopping at the first empty read.
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

/// A temporary file in `dir`, to be renamed over a file there once it is
/// complete (atomic writes): created with `perms`, or else as a normal new
/// file (0666 less the umask) rather than tempfile's private 0600.
pub(crate) fn temp_beside(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    perms: Option<std::fs::Permissions>,
) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    match perms {
        Some(p) => {
            builder.permissions(p);
        }
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(std::fs::Permissions::from_mode(0o666));
            }
        }
    }
    builder.tempfile_in(dir)
}

/// `text` with the characters that could steer a terminal escaped:
/// control characters (C0, DEL, C1, so escape sequences and carriage
/// returns) as `\xNN` or `\u{NNNN}`, and the bidirectional overrides that
/// reorder what is shown. File names, metadata and plugin messages come
/// from files and plugins, and pass through this before reaching a terminal.
///
/// ```
/// use imageio::core::escape_controls;
/// assert_eq!(escape_controls("plain é"), "plain é");
/// assert_eq!(escape_controls("a\x1b[2Jb\r"), "a\\x1b[2Jb\\x0d");
/// assert_eq!(escape_controls("\u{202e}gpj.exe"), "\\u{202e}gpj.exe");
/// ```
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(risky) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !risky(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}
