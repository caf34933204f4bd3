//! Small hostile files found by fuzzing (`tests/data/findings/`, named after
//! what they did), each now a typed error: read in a child process under a
//! 2 GiB address-space limit, they must end in a one-line error naming the
//! file, never an abort.

use imageio::{ErrorKind, Options};
use imageio_tests::{imageio_bin, workspace};
use std::path::Path;
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

/// Runs `imageio info FILE` under a 2 GiB address-space limit and checks
/// that it ends in one clean line (exit status 1, not a signal) naming the
/// file and saying `says`.
fn assert_clean_error_under_2gib(file: &Path, says: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152 && exec \"$0\" info \"$1\"")
        .arg(imageio_bin())
        .arg(file)
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}: a clean error, not a signal: {stderr}",
        file.display()
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(file.file_name().unwrap().to_str().unwrap()),
        "names the file: {stderr}"
    );
    assert!(stderr.contains(says), "{stderr}");
}

/// An NPY file (version 1, `uint8`) of `shape` (a Python tuple) and `payload`.
fn npy(shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(payload);
    out
}

/// Every finding ends in a typed error, and under a 2 GiB address-space
/// limit in one line naming the file:
/// - `tiff-oom-*`: TIFFs of 367-1601 bytes whose tags claim counts up to
///   0xC2000000 (the tiff crate allocated 2-4 GiB and aborted);
/// - `webp-oom-*`: an animated WebP whose canvas claims 983041x2817 pixels
///   (a frame's scratch buffer of 8.3 GB aborted), found by `fuzz/`;
/// - `png-panic-*`: a PNG whose PLTE chunk is 536 bytes, not a multiple of
///   3 (png 0.18.1 panicked indexing it), found by `fuzz/` (CRCs fixed up,
///   so that it reaches the palette outside fuzzing builds too).
#[test]
fn every_finding_is_a_clean_error() {
    let cases = [
        ("tiff-oom-", ErrorKind::Corrupt, "past the end"),
        ("webp-oom-", ErrorKind::Limits, "over the limit"),
        ("png-panic-", ErrorKind::Corrupt, "not a multiple of 3"),
    ];
    let mut seen = 0;
    for (prefix, kind, says) in cases {
        for f in findings(prefix) {
            seen += 1;
            let e = imageio::imread(&f, &Options::default()).unwrap_err();
            assert_eq!(e.kind(), kind, "{}: {e}", f.display());
            assert_clean_error_under_2gib(&f, says);
        }
    }
    let all = std::fs::read_dir(workspace().join("tests/data/findings"))
        .unwrap()
        .count();
    assert_eq!(seen, all, "every file in tests/data/findings has a case here");
}

/// Small files whose headers claim 2.7-3.6 GB images: under a 2 GiB
/// address-space limit the host's buffer allocation used to abort the
/// process ("memory allocation of N bytes failed"); now it fails cleanly.
#[test]
fn huge_headers_are_errors_not_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    files.push(("big.npy", npy("(60000, 60000)", &[0u8; 100])));
    let mut pgm = b"P5\n60000 60000\n255\n".to_vec();
    pgm.extend([0u8; 100]);
    files.push(("big.pgm", pgm));
    let mut bmp = b"BM".to_vec();
    bmp.extend(154u32.to_le_bytes());
    bmp.extend([0u8; 4]);
    bmp.extend(54u32.to_le_bytes());
    for v in [40i32, 30000, 30000] {
        bmp.extend(v.to_le_bytes());
    }
    bmp.extend(1u16.to_le_bytes());
    bmp.extend(24u16.to_le_bytes());
    bmp.extend([0u8; 24]);
    bmp.extend([0u8; 100]);
    files.push(("big.bmp", bmp));
    for (name, bytes) in files {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        assert_clean_error_under_2gib(&f, "no memory");
    }
}

/// A 300 KB PNG whose zTXt chunk inflates to 300 MiB (a decompression
/// bomb): `imageio info --json` used to run for minutes and print gigabytes;
/// now it is a limits error at once. A text chunk under the limit still reads.
#[test]
fn a_ztxt_bomb_is_a_limits_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys, struct, zlib\n\
        def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))\n\
        for name, size in (('bomb.png', 300 << 20), ('fine.png', 1 << 20)):\n\
        \x20   png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 4, 1, 8, 0, 0, 0, 0))\n\
        \x20   png += chunk(b'zTXt', b'Comment\\0\\0' + zlib.compress(b'A' * size, 9))\n\
        \x20   png += chunk(b'IDAT', zlib.compress(b'\\0' * 5)) + chunk(b'IEND', b'')\n\
        \x20   open(sys.argv[1] + '/' + name, 'wb').write(png)\n";
    imageio_tests::py(script, &[dir.path()]);
    let e = imageio::imread(dir.path().join("bomb.png"), &Options::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limits, "{e}");
    assert!(
        e.to_string().contains("'Comment'") && e.to_string().contains("limit"),
        "{e}"
    );
    let fine = imageio::imread(dir.path().join("fine.png"), &Options::default()).unwrap();
    assert!(matches!(fine.meta.get("Comment"), Some(imageio::Value::Str(s)) if s.len() == 1 << 20));
}

/// `mimread` of an NPY of shape (2000000000, 0): two billion empty frames.
/// The memory guard counted only pixel bytes, so it never stopped and the
/// process ran out of memory; it now counts what each frame holds.
#[test]
fn empty_frames_count_against_the_memory_guard() {
    let npy = npy("(2000000000, 0)", &[]);
    let opts = Options {
        memtest: imageio::Memtest::Bytes(1 << 20),
        ..Options::default()
    };
    let e = imageio::mimread(npy, &opts.with_format("NPY")).unwrap_err();
    assert!(matches!(e, imageio::Error::MemoryLimit(_)), "{e}");
}

/// A 4.6 KB GIF: 200 frames of 1x1 pixel on an 8192x8192 canvas. Decoding
/// it composites 13 billion canvas pixels (`info` took 52 s); it is now a
/// limits error before anything is decoded. So is 5000 such frames.
#[test]
fn a_gif_of_many_frames_on_a_huge_canvas_is_a_limits_error() {
    fn gif(frames: usize) -> Vec<u8> {
        let mut g = b"GIF89a".to_vec();
        g.extend(8192u16.to_le_bytes());
        g.extend(8192u16.to_le_bytes());
        g.extend([0, 0, 0]); // no global colour table
        for _ in 0..frames {
            g.push(0x2C);
            g.extend([0, 0, 0, 0, 1, 0, 1, 0]); // at 0,0, 1x1
            g.push(0x80); // a local colour table of 2 entries
            g.extend([0, 0, 0, 255, 255, 255]);
            // LZW, minimum code size 2: clear (4), index 0, end (5).
            g.extend([2, 2, 0x44, 0x01, 0]);
        }
        g.push(0x3B);
        g
    }
    for frames in [200, 5000] {
        let e = imageio::imread(gif(frames), &Options::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limits, "{e}");
        assert!(e.to_string().contains("8192x8192 canvas"), "{e}");
    }
    // One frame on that canvas is fine (a 256 MiB RGB image is allowed).
    let one = imageio::imread(gif(1), &Options::default().with_format("GIF")).unwrap();
    assert_eq!(one.shape(), &[8192, 8192, 3]);
}
