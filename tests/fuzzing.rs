//! The fuzz targets' inputs, replayed on the stable toolchain: every seed in
//! `fuzz/seeds/<target>/` and every finding in `tests/data/findings/` goes
//! through what the target does (`fuzz/src/lib.rs`: read every image with a
//! 64 MiB cap per image, then the metadata). Errors are expected; a panic
//! (a plugin bug the SDK contained) or an abort fails. The fuzzing itself
//! needs nightly: `bash .ci/fuzz`.

use imageio::{Error, FormatManager, Request};
use imageio_tests::workspace;

/// What `imageio_fuzz::read` does.
fn read(fm: &FormatManager, format: &str, data: &[u8]) -> imageio::Result<()> {
    let req = Request::new(data.to_vec(), "r?")?;
    let mut r = fm.reader_for(req, Some(format))?;
    r.set_max_image_bytes(64 << 20);
    let n = r.get_length()?;
    for i in 0..n.min(16) {
        r.get_data(i)?;
    }
    r.get_meta_data(None)?;
    r.close()
}

#[test]
fn seeds_and_findings_replay_without_a_panic() {
    let fm = FormatManager::with_builtins();
    let mut inputs: Vec<(String, std::path::PathBuf)> = Vec::new();
    let seeds = workspace().join("fuzz/seeds");
    for target in std::fs::read_dir(&seeds).unwrap() {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        let Some(format) = name.strip_prefix("read_") else {
            continue;
        };
        for f in std::fs::read_dir(&target).unwrap() {
            inputs.push((format.to_uppercase(), f.unwrap().path()));
        }
    }
    assert!(inputs.len() >= 25, "the seed corpora are there: {}", inputs.len());
    // The seeds made by Pillow and numpy are valid files: each reads. The
    // hostile-* seeds (issue 16's bombs and cut files, in small) are each
    // a typed error.
    for (format, path) in &inputs {
        let data = std::fs::read(path).unwrap();
        let hostile = path.file_name().unwrap().to_string_lossy().starts_with("hostile-");
        match read(&fm, format, &data) {
            Err(e) if !hostile => panic!("the seed {} does not read as {format}: {e}", path.display()),
            Ok(()) if hostile => panic!("the hostile seed {} reads as {format}", path.display()),
            _ => {}
        }
    }
    // The findings, as every format: errors, never a panic.
    for f in std::fs::read_dir(workspace().join("tests/data/findings")).unwrap() {
        let f = f.unwrap().path();
        let data = std::fs::read(&f).unwrap();
        for format in ["PNG", "PNM", "JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP"] {
            if let Err(e @ Error::Panicked { .. }) = read(&fm, format, &data) {
                panic!("{format} {}: {e}", f.display());
            }
        }
    }
}
