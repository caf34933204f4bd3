//! What every fuzz target does with its input, shared by the targets and
//! by the stable replay test of the corpora (`tests/fuzzing.rs` does the
//! same through the library).

use imageio::{FormatManager, Options, Request};
use std::sync::OnceLock;

/// The builtin formats, without plugin folders (fuzzing the host and its
/// standard plugins, not whatever is installed).
fn manager() -> &'static FormatManager {
    static FM: OnceLock<FormatManager> = OnceLock::new();
    FM.get_or_init(FormatManager::with_builtins)
}

/// Reads `data` as `format`: every image (at most 16, each at most 64 MiB)
/// and the metadata. Errors are fine; a panic, an abort, a hang or an
/// allocation past the bounds is a finding.
pub fn read(format: &str, data: &[u8]) {
    let run = || -> imageio::Result<()> {
        let req = Request::new(data.to_vec(), "r?")?;
        let mut r = manager().reader_for(req, Some(format))?;
        r.set_max_image_bytes(64 << 20);
        let n = r.get_length()?;
        for i in 0..n.min(16) {
            r.get_data(i)?;
        }
        r.get_meta_data(None)?;
        r.close()
    };
    let _ = run();
}

/// Parses `data` as a URI and a mode, as a caller's strings would be: the
/// request's classification and checks (no download: `IMAGEIO_NO_INTERNET`
/// is set by the target).
pub fn request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // The first two characters are the mode, the rest the URI.
    let cut = text.char_indices().nth(2).map_or(text.len(), |(i, _)| i);
    let (mode, uri) = text.split_at(cut);
    if let Ok(mut req) = Request::new(uri, mode) {
        let _ = req.extension();
        let _ = req.uri_type();
        // Reading an http(s) source would connect (and resolve its host
        // name); the target fuzzes parsing, and never uses the network.
        let remote = matches!(req.source(), Some(imageio::Source::Http(_) | imageio::Source::Ftp(_)));
        if !remote {
            let _ = req.firstbytes();
        }
    }
    let _ = Options::default();
}
