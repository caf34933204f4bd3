//! Byte helpers: imageio's `read_n_bytes`, and the temporary file of every
//! atomic write.

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
