//! Small hostile files found by fuzzing (`tests/data/findings/`, named after
//! what they did), each now a typed error: read in a child process under a
//! 2 GiB address-space limit, they must end in a one-line error naming the
//! file, never an abort.

use imageio::{ErrorKind, Options};
use imageio_tests::{imageio_bin, workspace};
use std::process::Command;

fn findings(prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(workspace().join("tests/data/findings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no findings named {prefix}*");
    files
}

/// TIFF files of 367-1601 bytes whose tags claim counts up to 0xC2000000:
/// the tiff crate allocated 2-4 GiB for them and aborted under a 2 GiB cap.
#[test]
fn tiff_tag_count_bombs_are_errors() {
    for f in findings("tiff-oom-") {
        let e = imageio::imread(&f, &Options::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput, "{}: {e}", f.display());
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 2097152 && exec \"$0\" info \"$1\"")
            .arg(imageio_bin())
            .arg(&f)
            .env_remove("IMAGEIO_PLUGIN_PATH")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: a clean error, not a signal: {stderr}",
            f.display()
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(f.file_name().unwrap().to_str().unwrap()),
            "names the file: {stderr}"
        );
        assert!(stderr.contains("past the end"), "{stderr}");
    }
}
