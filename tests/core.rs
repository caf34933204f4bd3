//! Request, FormatManager and the user functions on real files.

use imageio::{Dict, Error, FormatManager, Image, Options, Request, Uri, Value};
use imageio_tests::workspace;
use ndarray::{ArrayD, IxDyn};
use std::io::Cursor;

fn sample() -> Image {
    imageio::imread(workspace().join("tests/data/hello-page.png"), &Options::default()).unwrap()
}

/// Independent check of the committed sample: its decoded pixels hash to the
/// value Pillow gives (`hashlib.sha256(np.asarray(Image.open(f)).tobytes())`).
#[test]
fn sample_png_matches_pillow_checksum() {
    let out = std::process::Command::new(imageio_tests::python())
        .arg("-c")
        .arg(
            "import sys,hashlib,numpy as np;from PIL import Image;\
             print(hashlib.sha256(np.asarray(Image.open(sys.argv[1])).tobytes()).hexdigest())",
        )
        .arg(workspace().join("tests/data/hello-page.png"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pillow = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let python_sha = std::process::Command::new(imageio_tests::python())
        .arg("-c")
        .arg("import sys,hashlib;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&sample().data.to_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8(python_sha.stdout).unwrap().trim(), pillow);
}

#[test]
fn sources_file_bytes_stream_file_url_and_tilde() {
    let path = workspace().join("tests/data/hello-page.png");
    let expected = sample();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        imageio::imread(bytes.clone(), &Options::default()).unwrap().data,
        expected.data
    );
    let mut cursor = Cursor::new([b"junk".to_vec(), bytes.clone()].concat());
    cursor.set_position(4);
    assert_eq!(
        imageio::imread(Uri::reader(cursor), &Options::default()).unwrap().data,
        expected.data
    );
    let url = format!("file://{}", path.display());
    assert_eq!(
        imageio::imread(url.as_str(), &Options::default()).unwrap().data,
        expected.data
    );
    let req = Request::new("~/x.png", "wi").unwrap();
    assert!(!req.filename().starts_with('~'), "{}", req.filename());
}

#[test]
fn request_rules_and_messages() {
    let r = Request::new(vec![1u8, 2, 3], "ri").unwrap();
    assert_eq!((r.filename(), r.extension()), ("<bytes>", None));
    let r = Request::with_options("<bytes>", "wi", Some(".png"), Dict::new()).unwrap();
    assert_eq!(r.extension(), Some(".png"));
    let e = Request::with_options("<bytes>", "wi", Some("png"), Dict::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`extension` should be a file extension starting with a `.`, but is `png`."
    );
    let e = Request::new("/does/not/exist.png", "ri").unwrap_err();
    assert_eq!(e.to_string(), "No such file: '/does/not/exist.png'");
    let e = Request::new("/does/not/x.png", "wi").unwrap_err();
    assert_eq!(e.to_string(), "The directory '/does/not' does not exist");
    let e = Request::new("chelsea.png", "ri").unwrap_err();
    assert!(
        e.to_string()
            .contains("standard images have to be specified using \"imageio:chelsea.png\"")
    );
    assert_eq!(
        Request::new("imageio:nope.png", "ri").unwrap_err().to_string(),
        "Unknown standard image 'nope.png'."
    );
    assert_eq!(
        Request::new("imageio:chelsea.png", "wi").unwrap_err().to_string(),
        "Cannot write to the standard images."
    );
    assert_eq!(
        Request::new("http://x/y.png", "wi").unwrap_err().to_string(),
        "imageio does not support writing to http/ftp."
    );
    let e = Request::new(vec![0xFFu8; 300], "ri")
        .and_then(|mut r| Ok(r.firstbytes()?.len()))
        .unwrap();
    assert_eq!(e, 256);
}

#[test]
fn firstbytes_reads_from_the_current_position_and_restores_it() {
    let mut c = Cursor::new(b"0123456789".to_vec());
    c.set_position(4);
    let mut r = Request::new(Uri::reader(c), "ri").unwrap();
    assert_eq!(r.firstbytes().unwrap(), b"456789");
}

#[test]
fn manager_lookup_sort_and_add_format() {
    let fm = FormatManager::with_builtins();
    assert_eq!(fm.get("png").unwrap().name(), "PNG");
    assert_eq!(fm.get("x.PGM").unwrap().name(), "PNM");
    assert_eq!(fm.get(".ppm").unwrap().name(), "PNM");
    // An existing file is probed by content: a PNG named .ppm is PNG.
    let dir = tempfile::tempdir().unwrap();
    let disguised = dir.path().join("disguised.ppm");
    std::fs::copy(workspace().join("tests/data/hello-page.png"), &disguised).unwrap();
    assert_eq!(fm.get(disguised.to_str().unwrap()).unwrap().name(), "PNG");
    // A directory is no image, and the error says so.
    let e = imageio::imread(dir.path(), &Options::default()).unwrap_err();
    assert!(e.to_string().ends_with(": it is a directory"), "{e}");
    assert_eq!(
        fm.get("nonexistent").unwrap_err().to_string(),
        "No format known by name NONEXISTENT."
    );
    assert_eq!(fm.get("a.b.c").unwrap_err().to_string(), "No format known by name .c.");
    assert_eq!(
        fm.get("").unwrap_err().to_string(),
        "No format matches the empty string."
    );
    let builtin = ["PNG", "PNM", "JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP"];
    assert_eq!(fm.get_format_names(), builtin);
    fm.sort(&["pnm"]).unwrap();
    assert_eq!(
        fm.get_format_names(),
        ["PNM", "PNG", "JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP"]
    );
    fm.sort(&[]).unwrap();
    assert_eq!(fm.get_format_names(), builtin);
    assert!(fm.sort(&["a.b"]).is_err());
    let png = fm.get("PNG").unwrap();
    let e = fm.add_format(png.clone(), true).unwrap_err();
    assert_eq!(e.to_string(), "Given Format instance is already registered");
    let again = imageio::Format::from_rust::<imageio_png_like::Dummy>().unwrap();
    fm.add_format(again.clone(), false).unwrap();
    let e = fm
        .add_format(imageio::Format::from_rust::<imageio_png_like::Dummy>().unwrap(), false)
        .unwrap_err();
    assert!(e.to_string().contains("A Format named 'DUMMY' is already registered"));
    fm.add_format(imageio::Format::from_rust::<imageio_png_like::Dummy>().unwrap(), true)
        .unwrap();
    assert_eq!(
        fm.get_format_names(),
        ["PNG", "PNM", "JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP", "DUMMY"]
    );
    assert!(fm.show().contains("PNG - Portable Network Graphics (png crate) [.png]"));
}

/// A format registered by the program from a Rust type (scoped registration).
mod imageio_png_like {
    use imageio_plugin_api::{Format, Unsupported};
    pub struct Dummy;
    impl Format for Dummy {
        const NAME: &'static str = "dummy";
        const DESCRIPTION: &'static str = "a dummy";
        const EXTENSIONS: &'static str = ".foobar .nonexistentext";
        const MODES: &'static str = "iI";
        type Reader = Unsupported;
        type Writer = Unsupported;
    }
}

#[test]
fn selection_uses_content_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG saved as .ppm is still read as PNG (pass 2).
    let p = dir.path().join("actually_png.ppm");
    std::fs::copy(workspace().join("tests/data/hello-page.png"), &p).unwrap();
    let r = imageio::get_reader(&p, '?', &Options::default()).unwrap();
    assert_eq!(r.format().name(), "PNG");
    let e = imageio::get_reader(&p, 'v', &Options::default()).unwrap_err();
    assert!(e.to_string().contains("in single-volume mode"), "{e}");
    let e = imageio::get_reader(&p, 'v', &Options::default().with_format("PNG")).unwrap_err();
    assert_eq!(e.to_string(), "Format PNG cannot read in single-volume mode");
    let unknown = dir.path().join("x.unknownext");
    std::fs::write(&unknown, b"hello").unwrap();
    let e = imageio::imread(&unknown, &Options::default()).unwrap_err();
    assert!(matches!(e, Error::NoFormatFound { .. }), "{e}");
    assert!(e.to_string().contains("x.unknownext"), "{e}");
}

#[test]
fn reader_lifecycle() {
    let mut r = imageio::get_reader(workspace().join("tests/data/hello-page.png"), 'i', &Options::default()).unwrap();
    assert_eq!(r.get_length().unwrap(), 1);
    let meta = r.get_meta_data(None).unwrap();
    assert!(matches!(meta.get("gamma"), Some(Value::Float(g)) if (g - 0.45455).abs() < 1e-4));
    let first = r.get_next_data().unwrap();
    assert_eq!(first.shape(), &[320, 372, 3]);
    let e = r.get_next_data().unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { .. }), "{e}");
    r.set_image_index(0).unwrap();
    assert_eq!(r.get_next_data().unwrap().data, first.data);
    assert_eq!(r.iter_data().unwrap().count(), 1);
    r.close().unwrap();
    r.close().unwrap();
    assert_eq!(
        r.get_data(0).unwrap_err().to_string(),
        "I/O operation on closed Reader."
    );
}

#[test]
fn writes_are_atomic_and_errors_leave_the_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.png");
    std::fs::write(&target, b"previous content").unwrap();
    let bad = Image::from(ArrayD::<f32>::zeros(IxDyn(&[4, 4])));
    let e = imageio::imwrite(&target, &bad, &Options::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("PNG stores uint8, uint16 or bool images, not float32"),
        "{e}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"previous content");
    let e = imageio::imwrite(&target, &sample(), &Options::default().with_kwarg("qualty", 3)).unwrap_err();
    assert!(e.to_string().contains("unknown option \"qualty\""), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), b"previous content");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind: {leftovers:?}");
    imageio::imwrite(&target, &sample(), &Options::default()).unwrap();
    assert_eq!(
        imageio::imread(&target, &Options::default()).unwrap().data,
        sample().data
    );
}

#[test]
fn user_function_rules() {
    let e = imageio::imwrite(
        "<bytes>",
        &Image::from(ArrayD::<u8>::zeros(IxDyn(&[2, 2, 5]))),
        &Options::default(),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "Image must be 2D (grayscale, RGB, or RGBA)."
    );
    let e = imageio::mimwrite("<bytes>", &[], &Options::default().with_format("PNG"));
    assert_eq!(e.unwrap_err().to_string(), "Zero images were written.");
    let e = imageio::volwrite("<bytes>", &sample(), &Options::default().with_format("PNG")).unwrap_err();
    assert_eq!(e.to_string(), "Format PNG cannot write in single-volume mode");
}

/// A `Write` target whose bytes the test can see afterwards.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn writing_to_a_stream_and_to_bytes() {
    let target = Shared::default();
    let mut w = imageio::get_writer(Uri::writer(target.clone()), 'i', &Options::default().with_format("PNG")).unwrap();
    w.append_data(&sample(), None).unwrap();
    assert!(
        target.0.lock().unwrap().is_empty(),
        "nothing reaches the stream before close"
    );
    w.close().unwrap();
    let written = target.0.lock().unwrap().clone();
    assert!(written.starts_with(b"\x89PNG"));
    assert_eq!(
        imageio::imread(written, &Options::default()).unwrap().data,
        sample().data
    );
    // `<bytes>` with a format name becomes `<bytes>.pnm`.
    let bytes = imageio::imwrite("<bytes>", &sample(), &Options::default().with_format("pnm"))
        .unwrap()
        .unwrap();
    assert!(bytes.starts_with(b"P6"));
}

#[test]
fn local_filenames_are_temporary_and_always_removed() {
    let png = std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap();
    let mut r = Request::new(png.clone(), "ri").unwrap();
    let a = r.get_local_filename().unwrap();
    let b = r.get_local_filename().unwrap();
    assert_ne!(a, b);
    assert_eq!(std::fs::read(&a).unwrap(), png);
    assert!(a.file_name().unwrap().to_string_lossy().starts_with("imageio_"));
    r.finish().unwrap();
    assert!(!a.exists() && !b.exists(), "every temporary file is removed");
    // Dropping an unfinished request cleans up too.
    let mut r = Request::new(png, "ri").unwrap();
    let c = r.get_local_filename().unwrap();
    drop(r);
    assert!(!c.exists());
    // A local file is its own local file name.
    let path = workspace().join("tests/data/hello-page.png");
    let mut r = Request::new(&path, "ri").unwrap();
    assert_eq!(r.get_local_filename().unwrap(), path);
}

#[test]
fn hostile_and_truncated_inputs_give_typed_errors() {
    let png = std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap();
    for cut in [9, 40, png.len() / 2, png.len() - 5] {
        let e = imageio::imread(png[..cut].to_vec(), &Options::default()).unwrap_err();
        assert!(
            matches!(e, Error::Plugin { .. } | Error::NoFormatFound { .. }),
            "{cut}: {e}"
        );
        assert!(e.to_string().contains("<bytes>"), "{e}");
    }
    // A PPM header that claims 2^31 x 2^31 pixels: refused by the host's limit.
    let e = imageio::imread(b"P5\n2147483647 2147483647\n255\n\x00".to_vec(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("over the limit"), "{e}");
    // A PNG header that claims 100000 x 100000 16-bit RGB: refused before any allocation.
    let e = imageio::imread(hostile_png(100_000, 100_000), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("over the limit of 4294967296 bytes"), "{e}");
    let e = imageio::imread(b"P6\n4 4\n255\nshort".to_vec(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let e = imageio::imread(b"P2\n2 1\n10\n5 11\n".to_vec(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("too large"), "{e}");
}

/// A PNG whose IHDR claims `w` x `h` 16-bit RGB pixels, with one tiny IDAT.
fn hostile_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr = [&w.to_be_bytes()[..], &h.to_be_bytes(), &[16, 2, 0, 0, 0]].concat();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Deterministic corruptions (byte flips, truncations) of real PNG and PNM
/// files: every one decodes or fails with a typed error; nothing crashes.
#[test]
fn corrupted_files_never_crash_the_host() {
    let png = std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap();
    let small = imageio::Image::from(ArrayD::from_shape_fn(IxDyn(&[16, 16, 3]), |i| {
        (i[0] * 16 + i[1] + i[2]) as u8
    }));
    let mut seeds = vec![png];
    for (fmt, ascii) in [("PNM", false), ("PNM", true), ("PNG", false)] {
        let mut opts = Options::default().with_format(fmt);
        if ascii {
            opts = opts.with_kwarg("ascii", true);
        }
        seeds.push(imageio::imwrite("<bytes>", &small, &opts).unwrap().unwrap());
    }
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failures = 0;
    for seed in &seeds {
        for round in 0..150 {
            let mut data = seed.clone();
            for _ in 0..(1 + round % 4) {
                let i = (next() as usize) % data.len().min(if round % 2 == 0 { 64 } else { usize::MAX });
                data[i] = next() as u8;
            }
            if round % 5 == 0 {
                let cut = (next() as usize) % data.len();
                data.truncate(cut.max(1));
            }
            if imageio::imread(data, &Options::default()).is_err() {
                failures += 1;
            }
        }
    }
    assert!(failures > 0, "the corruptions were too gentle to test anything");
}

/// Errors say whose fault they are, and a plugin's status is matchable
/// without the ABI's constants.
#[test]
fn errors_have_a_kind() {
    use imageio::{ErrorKind, PluginCode};
    let png = workspace().join("tests/data/hello-page.png");
    let e = imageio::imread(&png, &Options::default().with_kwarg("no_such_option", 1)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Plugin {
                code: PluginCode::InvalidArgument,
                no_message: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Misuse, "an unknown option is the caller's mistake");
    assert!(e.to_string().contains("no_such_option"), "{e}");

    let bytes = std::fs::read(&png).unwrap();
    let e = imageio::imread(
        bytes[..bytes.len() / 2].to_vec(),
        &Options::default().with_format("PNG"),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e:?}");

    let e = imageio::imread(workspace().join("no/such/file.png"), &Options::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = imageio::imread(&png, &Options::default().with_format("NO-SUCH")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoFormat);
    let e = imageio::imread(vec![0u8; 64], &Options::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoFormat);
    let e = Request::new(&png, "rx").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misuse);
}

/// imageio's special read URIs (`<video0>`, `<screen>`, `<clipboard>`) are
/// bytes-type requests handed to the plugins by name, with no data of the
/// host's; in write mode they are plain file names, as in imageio.
#[test]
fn special_read_uris_reach_the_plugins_by_name() {
    for uri in ["<video0>", "<screen>", "<clipboard>"] {
        let mut r = Request::new(uri, "ri").unwrap();
        assert_eq!(r.filename(), uri);
        assert_eq!(r.uri_type(), imageio::UriType::Bytes);
        assert!(r.firstbytes().unwrap().is_empty());
        assert_eq!(r.extension(), None);
        let e = imageio::imread(uri, &Options::default()).unwrap_err();
        assert_eq!(e.kind(), imageio::ErrorKind::NoFormat, "{e}");
        assert!(e.to_string().contains(uri), "{e}");
    }
    // Creating a write request touches nothing on disk.
    let w = Request::new("<screen>", "wi").unwrap();
    assert_eq!(w.uri_type(), imageio::UriType::Filename);
}
