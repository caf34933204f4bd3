//! ABI 1.1 and the limits: a plugin built against the frozen 1.0 header
//! loads and reads unchanged (the host enforces the limits it cannot know);
//! a format's byte signatures keep its `can_read` from sources that do not
//! match; the caller's limits reach the standard plugins and the tool.

use imageio::{ErrorKind, FormatManager, Limits, Options};
use imageio_tests::{c_fixture, compile_c_plugin_with, dll_name, imageio_bin, workspace};
use std::process::Command;

/// A 4x3 8-bit PGM with pixels 0, 10, 20, ...
fn pgm() -> Vec<u8> {
    let mut f = b"P5\n4 3\n255\n".to_vec();
    f.extend((0..12u8).map(|i| i * 10));
    f
}

/// A manager holding only the plugin at `path`.
fn only(path: &std::path::Path) -> FormatManager {
    let fm = FormatManager::new();
    // SAFETY: the test's own plugin, built from this repository.
    let names = unsafe { fm.load_plugin(path) }.expect("the plugin loads");
    assert!(!names.is_empty());
    fm
}

#[test]
fn a_plugin_built_against_the_1_0_header_loads_reads_and_is_held_to_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join(dll_name("pnm_abi_1_0"));
    let c = workspace().join("plugins/pnm/c");
    compile_c_plugin_with(
        &[&c.join("pnm.c"), &c.join("entry.c")],
        &lib,
        &workspace().join("tests/c/abi-1.0"),
    );
    let fm = only(&lib);
    let file = dir.path().join("x.pgm");
    std::fs::write(&file, pgm()).unwrap();
    let im = fm.imread(file.as_path(), &Options::default()).unwrap();
    assert_eq!(im.shape(), &[3, 4]);
    assert_eq!(im.data.to_bytes(), (0..12u8).map(|i| i * 10).collect::<Vec<_>>());
    // The plugin cannot see the limits; the host's allocation enforces them.
    let small = Limits {
        max_pixels: 11,
        ..Limits::DEFAULT
    };
    let err = fm
        .imread(file.as_path(), &Options::default().with_limits(small))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limits, "{err}");
    assert!(err.to_string().contains("12 pixels, over the limit of 11"), "{err}");
    // Its table ends before the 1.1 fields: no signatures, so can_read is
    // asked about everything, as in 1.0.
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"not an image at all").unwrap();
    assert!(fm.imread(junk.as_path(), &Options::default()).is_err());
}

#[test]
fn signatures_keep_can_read_from_sources_that_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"PNG? no: random bytes that no format claims").unwrap();
    let liar = dir.path().join("ok.bin");
    std::fs::write(&liar, b"LIAR\x02\x01\x07\x09").unwrap();
    // Without a signature, the lying can_read claims the junk and its
    // reader then fails on it.
    let unsigned = only(&c_fixture("liar_claims"));
    let err = unsigned.imread(junk.as_path(), &Options::default()).unwrap_err();
    assert!(err.to_string().contains("LIAR"), "{err}");
    // With one, the host never offers the junk to it: no format can read it.
    let signed = only(&c_fixture("liar_signed"));
    let err = signed.imread(junk.as_path(), &Options::default()).unwrap_err();
    assert!(!err.to_string().contains("not a LIAR file"), "{err}");
    assert!(err.to_string().contains("Could not find a format"), "{err}");
    let im = signed.imread(liar.as_path(), &Options::default()).unwrap();
    assert_eq!(im.data.to_bytes(), vec![7, 9]);
}

#[test]
fn standard_plugins_obey_the_callers_limits() {
    let data = workspace().join("tests/data/hello-page.png");
    let page = imageio::imread(data.as_path(), &Options::default()).unwrap();
    let (h, w) = (page.shape()[0] as u64, page.shape()[1] as u64);
    // Width and height.
    let narrow = Limits {
        max_width: w - 1,
        ..Limits::DEFAULT
    };
    let err = imageio::imread(data.as_path(), &Options::default().with_limits(narrow)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limits, "{err}");
    // Frames, in a plugin's own count (GIF) and in mimread's guard.
    let frames: Vec<imageio::Image> = (0..3).map(|_| page.clone()).collect();
    let gif = imageio::mimwrite("<bytes>", &frames, &Options::default().with_format("GIF"))
        .unwrap()
        .unwrap();
    let two = Limits {
        max_frames: 2,
        ..Limits::DEFAULT
    };
    let err = imageio::mimread(gif.clone(), &Options::default().with_limits(two)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limits, "{err}");
    assert!(err.to_string().contains("3 frames are over the limit of 2"), "{err}");
    let tiff = imageio::mimwrite("<bytes>", &frames, &Options::default().with_format("TIFF"))
        .unwrap()
        .unwrap();
    let err = imageio::mimread(tiff, &Options::default().with_limits(two)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limits, "{err}");
    // A writer that must keep its frames until close (animated WebP) keeps
    // no more than the limits allow.
    let err = imageio::mimwrite(
        "<bytes>",
        &frames,
        &Options::default().with_format("WEBP").with_limits(two),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limits, "{err}");
    let small = Limits {
        max_alloc_bytes: 100,
        ..Limits::DEFAULT
    };
    let err = imageio::mimwrite(
        "<bytes>",
        &frames,
        &Options::default().with_format("WEBP").with_limits(small),
    )
    .unwrap_err();
    assert!(err.to_string().contains("kept until close"), "{err}");
    // Decoding budget: 3 frames of the page are 3*h*w pixels.
    let budget = Limits {
        max_total_pixels: 3 * h * w - 1,
        ..Limits::DEFAULT
    };
    let err = imageio::mimread(gif, &Options::default().with_limits(budget)).unwrap_err();
    assert!(err.to_string().contains("pixels to decode"), "{err}");
    // Metadata: a PNG text chunk over the per-entry limit.
    let mut im = page.clone();
    im.meta.insert("Comment", "x".repeat(5000));
    let png = imageio::imwrite("<bytes>", &im, &Options::default().with_format("PNG"))
        .unwrap()
        .unwrap();
    assert!(imageio::imread(png.clone(), &Options::default()).is_ok());
    let terse = Limits {
        max_meta_entry_bytes: 1000,
        ..Limits::DEFAULT
    };
    let err = imageio::imread(png, &Options::default().with_limits(terse)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limits, "{err}");
}

#[test]
fn the_tool_takes_limits_on_the_command_line_and_from_the_environment() {
    let data = workspace().join("tests/data/hello-page.png");
    let out = Command::new(imageio_bin())
        .args(["--limits", "pixels=100", "info"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("over the limit of 100"));
    let out = Command::new(imageio_bin())
        .arg("info")
        .arg(&data)
        .env("IMAGEIO_LIMITS", "pixels=100")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(imageio_bin())
        .args(["--limits", "widht=5", "info"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown limit \"widht\""));
    let out = Command::new(imageio_bin()).arg("info").arg(&data).output().unwrap();
    assert!(out.status.success());
}
