//! Regression tests for the six bugs the host's restructuring (one seam
//! between host and plugins, typed requests) made impossible. Each failed on
//! the code before it.

use imageio::{Error, ErrorKind, Format, FormatManager, Image, Memtest, Options, Request};
use imageio_plugin_api::{self as sdk, ImageSink};
use imageio_tests::workspace;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls of [`CountingReader::get_length`], to prove the host never calls
/// into a closed plugin instance.
static LENGTH_CALLS: AtomicUsize = AtomicUsize::new(0);

struct Counting;
struct CountingReader;

impl sdk::Format for Counting {
    const NAME: &'static str = "COUNTING";
    const DESCRIPTION: &'static str = "counts get_length calls";
    const EXTENSIONS: &'static str = ".counting";
    const MODES: &'static str = "i";
    type Reader = CountingReader;
    type Writer = sdk::Unsupported;

    fn can_read(req: &sdk::Request<'_>) -> i32 {
        if req.first_bytes().starts_with(b"COUNTING") {
            100
        } else {
            0
        }
    }

    fn open_reader(_req: &sdk::Request<'_>) -> sdk::Result<CountingReader> {
        Ok(CountingReader)
    }
}

impl sdk::Reader for CountingReader {
    fn get_length(&mut self) -> sdk::Result<u64> {
        LENGTH_CALLS.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }
    fn get_data(&mut self, _index: u64, sink: &mut ImageSink<'_>) -> sdk::Result<()> {
        sink.alloc::<u8>(&[1, 1])?;
        Ok(())
    }
    fn get_meta_data(&mut self, _index: Option<u64>, _sink: &mut ImageSink<'_>) -> sdk::Result<()> {
        Ok(())
    }
}

/// Bug 1: `get_length` after `close` called the plugin with a NULL instance
/// (a C plugin that dereferences it segfaults). Now a closed reader answers
/// from what it was told before closing, or says it is closed.
#[test]
fn a_closed_reader_never_calls_its_plugin() {
    let fm = FormatManager::new();
    fm.add_format(Format::from_rust::<Counting>().unwrap(), false).unwrap();
    let opts = Options::default();

    let mut r = fm.get_reader(b"COUNTING".to_vec(), 'i', &opts).unwrap();
    r.close().unwrap();
    let before = LENGTH_CALLS.load(Ordering::SeqCst);
    let e = r.get_length().unwrap_err();
    assert!(matches!(e, Error::Closed("Reader")), "{e}");
    assert_eq!(e.kind(), ErrorKind::Misuse);
    assert_eq!(
        LENGTH_CALLS.load(Ordering::SeqCst),
        before,
        "no call into the closed plugin"
    );

    // Asked before closing: the answer stays (imageio's get_length works on
    // a closed reader), still without calling the plugin again.
    let mut r = fm.get_reader(b"COUNTING".to_vec(), 'i', &opts).unwrap();
    assert_eq!(r.get_length().unwrap(), 1);
    r.close().unwrap();
    let before = LENGTH_CALLS.load(Ordering::SeqCst);
    assert_eq!(r.get_length().unwrap(), 1);
    assert!(r.get_meta_data(None).is_err());
    assert!(r.set_image_index(0).is_err());
    assert_eq!(LENGTH_CALLS.load(Ordering::SeqCst), before);

    // The same through a real plugin (PNG, builtin): the old code answered
    // "NULL instance [internal error]".
    let mut r = imageio::get_reader(workspace().join("tests/data/hello-page.png"), 'i', &opts).unwrap();
    r.close().unwrap();
    assert_eq!(
        r.get_length().unwrap_err().to_string(),
        "I/O operation on closed Reader."
    );
}

/// A forward-only stream of `len` bytes.
struct Forward {
    left: u64,
}

impl Read for Forward {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (out.len() as u64).min(self.left) as usize;
        out[..n].fill(7);
        self.left -= n as u64;
        Ok(n)
    }
}

/// Bug 2: seeking a forward-only stream 1 TiB ahead and reading one byte
/// grew the read-ahead buffer by the whole distance and aborted the process.
#[test]
fn a_far_seek_on_a_forward_only_stream_costs_only_the_stream() {
    let mut r = imageio::SeekableReader::new(Forward { left: 5000 });
    assert_eq!(r.seek(SeekFrom::Start(1 << 40)).unwrap(), 1 << 40);
    let mut one = [0u8; 1];
    assert_eq!(r.read(&mut one).unwrap(), 0, "past the end reads nothing");
    assert_eq!(r.buffered(), 5000);
    assert_eq!(r.seek(SeekFrom::End(-1)).unwrap(), 4999);
    assert_eq!(r.read(&mut one).unwrap(), 1);
    assert_eq!(one, [7]);
}

/// Bug 3: finishing a write request that nothing wrote created an empty
/// target file; imageio creates nothing.
#[test]
fn a_write_that_writes_nothing_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("never.png");
    let mut req = Request::new(target.as_path(), "wi").unwrap();
    req.finish().unwrap();
    assert!(!target.exists(), "no file for a request nothing wrote");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no temporary file either: {left:?}");

    // Nothing written to memory: no result.
    let mut req = Request::new("<bytes>", "wi").unwrap();
    req.finish().unwrap();
    assert_eq!(req.get_result(), None);
}

/// Bug 4: `get_remote_file(name, Some(dir))` failed with
/// `appdata_dir("imageio"): Not a directory` when the user folder was
/// unusable, although `dir` was given and held the file. Runs in a child
/// process (this test binary again), since it sets the environment.
#[test]
fn a_given_directory_needs_no_user_folder() {
    let home = tempfile::tempdir().unwrap();
    let not_a_dir = home.path().join("plain-file");
    std::fs::write(&not_a_dir, b"not a folder").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("images")).unwrap();
    std::fs::write(dir.path().join("images/cached.png"), b"cached").unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "regressions::child_get_remote_file_into_a_given_directory",
            "--ignored",
            "--nocapture",
        ])
        .env("IMAGEIO_USERDIR", &not_a_dir)
        .env("IMAGEIO_NO_INTERNET", "1")
        .env("IIO_TEST_FETCH_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 passed"), "the child ran the test: {stdout}");

    // The tool's `fetch --dir` too.
    let out = std::process::Command::new(imageio_tests::imageio_bin())
        .args(["fetch", "images/cached.png", "--dir", dir.path().to_str().unwrap()])
        .env("IMAGEIO_USERDIR", &not_a_dir)
        .env("IMAGEIO_NO_INTERNET", "1")
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.path().join("images/cached.png").to_str().unwrap()
    );
}

/// The child of [`a_given_directory_needs_no_user_folder`].
#[test]
#[ignore = "run by a_given_directory_needs_no_user_folder in a child process"]
fn child_get_remote_file_into_a_given_directory() {
    let dir = std::path::PathBuf::from(std::env::var_os("IIO_TEST_FETCH_DIR").expect("run by the parent test"));
    assert!(
        imageio::appdata_dir(Some("imageio"), false).is_err(),
        "the user folder is unusable"
    );
    let path = imageio::get_remote_file("images/cached.png", Some(&dir), false, true).unwrap();
    assert_eq!(path, dir.join("images/cached.png"));
    // Without a directory the unusable user folder is still an error.
    assert!(imageio::get_remote_file("images/cached.png", None, false, true).is_err());
}

/// Bug 5: `mvolwrite` of no volumes said "Zero images were written.".
#[test]
fn mvolwrite_of_nothing_speaks_of_volumes() {
    let opts = Options::default().with_format("TIFF");
    let e = imageio::mvolwrite("<bytes>", &[], &opts).unwrap_err();
    assert_eq!(e.to_string(), "Zero volumes were written.");
    let none: [Image; 0] = [];
    let e = imageio::mimwrite("<bytes>", &none, &opts).unwrap_err();
    assert_eq!(e.to_string(), "Zero images were written.");
}

/// Bug 6: `Memtest::parse` accepted ".5MB", which imageio's size syntax
/// (`^(\d+\.?\d*)\s*([kKMGTPEZY]?i?)B?$`) refuses.
#[test]
fn memtest_sizes_follow_imageio_syntax() {
    for bad in [".5MB", ".5", "1.2.3MB", "", "MB", "12K", "-1MB"] {
        assert!(Memtest::parse(bad).is_err(), "{bad:?} must be refused");
    }
    for (good, bytes) in [
        ("0.5MB", 500_000),
        ("5.MB", 5_000_000),
        ("256MB", 256_000_000),
        ("1 GiB", 1 << 30),
        ("1000", 1000),
        ("2Ki", 2048),
    ] {
        assert_eq!(Memtest::parse(good).unwrap(), Memtest::Bytes(bytes), "{good:?}");
    }
}

/// The typed request: each kind of resource carries exactly its data.
#[test]
fn requests_say_what_they_read_and_write() {
    use imageio::{Source, Target};
    let png = workspace().join("tests/data/hello-page.png");
    let r = Request::new(png.as_path(), "ri").unwrap();
    assert!(matches!(r.source(), Some(Source::File(p)) if *p == png));
    assert!(r.target().is_none());
    let r = Request::new(vec![1u8, 2], "ri").unwrap();
    assert!(matches!(r.source(), Some(Source::Bytes(b)) if b.len() == 2));
    let r = Request::new("http://127.0.0.1:9/x.png", "ri").unwrap();
    assert!(matches!(r.source(), Some(Source::Http(u)) if u.ends_with("/x.png")));
    let r = Request::new("<bytes>", "wi").unwrap();
    assert!(matches!(r.target(), Some(Target::Memory)));
    let dir = tempfile::tempdir().unwrap();
    let r = Request::new(dir.path().join("a.zip/m/x.png"), "wi").unwrap();
    assert!(matches!(r.target(), Some(Target::Zip { member, .. }) if member == "m/x.png"));
    let r = Request::new(imageio::Uri::writer(Vec::new()), "wi").unwrap();
    assert!(matches!(r.target(), Some(Target::Stream(_))));
}

/// A plugin that writes by path (`get_local_filename`) to a `<bytes>`, a
/// stream or a zip target: the file it wrote is the output (found in review
/// of the typed request, which first lost it).
#[test]
fn writes_by_path_reach_every_target() {
    use std::sync::{Arc, Mutex};
    let write_by_path = |req: &mut Request| {
        let path = req.get_local_filename().unwrap();
        std::fs::write(&path, b"written by path").unwrap();
        req.finish().unwrap();
    };

    let mut req = Request::new("<bytes>", "wi").unwrap();
    write_by_path(&mut req);
    assert_eq!(req.get_result().as_deref(), Some(&b"written by path"[..]));

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Shared::default();
    let mut req = Request::new(imageio::Uri::writer(sink.clone()), "wi").unwrap();
    write_by_path(&mut req);
    assert_eq!(&*sink.0.lock().unwrap(), b"written by path");

    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("a.zip");
    let mut req = Request::new(dir.path().join("a.zip/inner/x.bin"), "wi").unwrap();
    write_by_path(&mut req);
    let back = Request::new(zip.join("inner/x.bin"), "ri")
        .unwrap()
        .firstbytes()
        .unwrap()
        .to_vec();
    assert_eq!(back, b"written by path");

    let target = dir.path().join("plain.bin");
    let mut req = Request::new(target.as_path(), "wi").unwrap();
    write_by_path(&mut req);
    assert_eq!(std::fs::read(&target).unwrap(), b"written by path");
}

/// A writer dropped without `close` (an early return on an error) leaves
/// no partial file: the target stays as it was.
#[test]
fn a_dropped_writer_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let frame = Image::from(ndarray::ArrayD::<u8>::zeros(ndarray::IxDyn(&[4, 4])));
    let target = dir.path().join("frames.tif");
    let mut w = imageio::get_writer(target.as_path(), 'I', &Options::default()).unwrap();
    w.append_data(&frame, None).unwrap();
    drop(w);
    assert!(!target.exists(), "no partial file");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no temporary file: {left:?}");

    // An existing target stays untouched.
    std::fs::write(&target, b"old").unwrap();
    let mut w = imageio::get_writer(target.as_path(), 'I', &Options::default()).unwrap();
    w.append_data(&frame, None).unwrap();
    drop(w);
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
}
