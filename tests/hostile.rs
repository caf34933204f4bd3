//! Hostile files, round two (issue 16): each row of the table as a
//! regression test, writes to targets that are not plain files, forward-only
//! streams, and the guard that runs every hostile file under a 2 GiB
//! address-space cap with a bound on its peak memory.

use imageio::{ErrorKind, Options, Uri};
use imageio_tests::{hostile_files, imageio_bin, py, workspace};
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The guard's limit against hangs: generous, and never a verdict on speed.
const HANG: Duration = Duration::from_secs(60);

fn hostile(name: &str) -> PathBuf {
    let p = hostile_files().join(name);
    assert!(p.exists(), "hostile.py writes {name}");
    p
}

/// How a run of the tool under the cap ended.
#[derive(Debug)]
struct Capped {
    /// The exit status, when it exited.
    code: Option<i32>,
    /// The signal that ended it, when one did (9 after the time limit).
    signal: Option<i32>,
    /// Its own peak resident memory in KiB (`ru_maxrss`).
    peak_kib: u64,
    /// What it wrote to stderr.
    stderr: String,
    /// Wall-clock seconds (reported, never judged).
    seconds: f64,
    /// The time limit ran out (it was killed).
    timed_out: bool,
}

/// `imageio ARGS` under a 2 GiB address-space cap, through `iio-capped`
/// (`tests/capped.rs`), which measures its peak memory.
fn capped(args: &[&OsStr]) -> Capped {
    let start = std::time::Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iio-capped"));
    cmd.arg(HANG.as_secs().to_string()).arg(imageio_bin()).args(args);
    // The caller's IMAGEIO_* settings (limits, plugin folders, isolation)
    // would change the verdicts: the guard runs the tool as shipped.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("IMAGEIO_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| -> Option<i64> {
        report
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
    };
    Capped {
        code: field("exit").map(|c| c as i32),
        signal: field("signal").map(|s| s as i32),
        peak_kib: field("peak_kib").expect("iio-capped reports the peak") as u64,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        seconds: start.elapsed().as_secs_f64(),
        timed_out: field("timed_out") == Some(1),
    }
}

/// A clean error: exit status 1, one line, saying `says`, within `peak_mib`.
fn assert_clean_error(run: &Capped, says: &str, peak_mib: u64) {
    assert_eq!(run.code, Some(1), "a clean error, not a signal or success: {run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(run.stderr.contains(says), "says {says:?}: {}", run.stderr);
    assert!(
        run.peak_kib < peak_mib << 10,
        "peak {} KiB over the bound of {peak_mib} MiB: {}",
        run.peak_kib,
        run.stderr
    );
}

fn kind_of(r: imageio::Result<imageio::Image>) -> (ErrorKind, String) {
    let e = r.expect_err("must fail");
    (e.kind(), e.to_string())
}

/// Row 1: the PNG reader copied the fully inflated profile (a gigabyte)
/// before the metadata limit was checked: SIGABRT under the cap.
#[test]
fn an_iccp_bomb_is_a_limits_error_with_nothing_large_allocated() {
    let file = hostile("png-iccp-bomb.png");
    let run = capped(&[OsStr::new("info"), file.as_os_str()]);
    assert_clean_error(&run, "ICC profile (iCCP) inflates to more than the metadata limit", 64);
    let (kind, msg) = kind_of(imageio::imread(&file, &Options::default()));
    assert_eq!(kind, ErrorKind::Limits, "{msg}");
    // A profile within the limits still reads, and exactly.
    let dir = tempfile::tempdir().unwrap();
    let with_icc = dir.path().join("icc.png");
    py(
        "import sys, numpy as np\nfrom PIL import Image\n\
         Image.fromarray(np.arange(48, dtype='uint8').reshape(4, 4, 3)).save(sys.argv[1], icc_profile=b'p' * 70000)",
        &[&with_icc],
    );
    let im = imageio::imread(&with_icc, &Options::default()).unwrap();
    assert_eq!(
        im.meta.get("icc_profile"),
        Some(&imageio::Value::Bytes(vec![b'p'; 70000]))
    );
    let tight = Options::default().with_limits(imageio::Limits::DEFAULT.parsed("meta_entry_bytes=60000").unwrap());
    let (kind, msg) = kind_of(imageio::imread(&with_icc, &tight));
    assert_eq!(kind, ErrorKind::Limits, "{msg}");
}

/// Row 2: a 464-byte baseline JPEG whose header claims 30000x30000 was
/// decoded to 2.5 GiB of gray and reported as success.
#[test]
fn a_jpeg_whose_data_cannot_hold_its_header_is_refused_before_allocating() {
    // Also with a stray byte between segments (found by review: a marker
    // walk that stopped there saw no frame and let the file through).
    for name in ["jpeg-30000x30000-header.jpg", "jpeg-30000x30000-stray-byte.jpg"] {
        let file = hostile(name);
        let run = capped(&[OsStr::new("info"), file.as_os_str()]);
        assert_clean_error(&run, "the data cannot hold the image", 64);
        let (kind, msg) = kind_of(imageio::imread(&file, &Options::default()));
        assert_eq!(kind, ErrorKind::Corrupt, "{name}: {msg}");
    }
}

/// Row 3: a JPEG cut 4 bytes short (the end of its scan and its EOI) read
/// as success with 244 of 3072 pixels wrong; Pillow raises.
#[test]
fn a_jpeg_cut_short_is_an_error_unless_truncation_is_accepted() {
    let file = hostile("jpeg-cut-4-bytes.jpg");
    let run = capped(&[OsStr::new("info"), file.as_os_str()]);
    assert_clean_error(&run, "end-of-image marker", 64);
    let verdict = py(
        "import sys\nfrom PIL import Image\ntry:\n    Image.open(sys.argv[1]).load(); print('read')\n\
         except Exception as e:\n    print('raised')",
        &[&file],
    );
    assert_eq!(verdict.trim(), "raised", "Pillow's verdict on the same file");
    let lenient = Options::default().with_kwarg("accept_truncated", true);
    let im = imageio::imread(&file, &lenient).unwrap();
    assert_eq!(im.meta.get("truncated"), Some(&imageio::Value::Bool(true)));
    // The whole file still reads.
    let whole = workspace().join("fuzz/seeds/read_jpeg/rgb.jpg");
    assert!(imageio::imread(&whole, &Options::default()).is_ok());
}

/// Row 4: a 239 KiB TIFF of 2000 pages of 4096x4096 was converted into a
/// 33.5 GB .npy under `--limits total_pixels=1e9`.
#[test]
fn pages_count_against_total_pixels_before_anything_is_written() {
    let file = hostile("tiff-2000-pages-4096.tif");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npy");
    let run = capped(&[
        OsStr::new("--limits"),
        OsStr::new("total_pixels=1e8"),
        OsStr::new("convert"),
        file.as_os_str(),
        out.as_os_str(),
    ]);
    assert_clean_error(&run, "total_pixels", 128);
    assert!(!out.exists(), "nothing written for a conversion over the budget");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
    // Through the library: five pages fit in 1e8 pixels, the sixth does not.
    let opts = Options::default().with_limits(imageio::Limits::DEFAULT.parsed("total_pixels=1e8").unwrap());
    let mut reader = imageio::get_reader(&file, 'I', &opts).unwrap();
    for i in 0..5 {
        reader.get_data(i).unwrap();
    }
    // An image read again is not counted again.
    reader.get_data(0).unwrap();
    let e = reader.get_data(5).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limits, "{e}");
}

/// Row 5: a WebP with a 200 MiB ICCP chunk peaked at 605 MiB before the
/// metadata limit applied.
#[test]
fn a_huge_webp_metadata_chunk_is_refused_before_it_is_read() {
    let file = hostile("webp-200mib-iccp.webp");
    let run = capped(&[OsStr::new("info"), file.as_os_str()]);
    assert_clean_error(&run, "the ICCP chunk is 209715200 bytes, over the metadata limit", 64);
}

/// A PNG to write, and its pixels as Pillow reads them.
fn sample_png() -> PathBuf {
    workspace().join("tests/data/hello-page.png")
}

/// Whether Pillow reads `a` and `b` as the same pixels.
fn same_pixels(a: &Path, b: &Path) -> bool {
    py(
        "import sys, numpy as np\nfrom PIL import Image\n\
         print(np.array_equal(np.asarray(Image.open(sys.argv[1])), np.asarray(Image.open(sys.argv[2]))))",
        &[a, b],
    )
    .trim()
        == "True"
}

/// A child process killed if the test ends before it is waited for.
struct Reaped(Option<std::process::Child>);

impl Reaped {
    /// Waits for the child, at most `HANG` (then kills it and fails).
    fn wait(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > HANG {
                let _ = child.kill();
                panic!("the child did not end within {} s", HANG.as_secs());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `cat FIFO > OUT`, reading the FIFO as another program would.
fn cat_into(fifo: &Path, out: &Path) -> Reaped {
    Reaped(Some(
        Command::new("sh")
            .arg("-c")
            .arg("exec cat \"$0\" > \"$1\"")
            .arg(fifo)
            .arg(out)
            .spawn()
            .unwrap(),
    ))
}

/// Row 6: a FIFO was replaced by a regular file and the reader got nothing.
/// And a conversion that fails still ends the reader's wait (an end of
/// file, not a hang).
#[test]
fn a_fifo_is_written_as_a_stream_and_stays_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("p");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let got = dir.path().join("out.png");
    let cat = cat_into(&fifo, &got);
    let out = Command::new(imageio_bin())
        .arg("convert")
        .arg(sample_png())
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(cat.wait().success());
    assert!(
        std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
        "still a FIFO"
    );
    assert!(
        same_pixels(&sample_png(), &got),
        "Pillow reads what came through the FIFO exactly"
    );

    // A PNG cut inside its image data: the reader and the writer open, the
    // pixels fail, the output is discarded.
    let bad = dir.path().join("bad.png");
    let png = std::fs::read(sample_png()).unwrap();
    std::fs::write(&bad, &png[..png.len() / 2]).unwrap();
    let empty = dir.path().join("empty.png");
    let cat = cat_into(&fifo, &empty);
    // The reader must already wait in its open() of the FIFO (the kernel
    // shows it in `wait_for_partner`): only a waiting reader can be woken
    // (one that comes later finds no writer, with any program).
    let pid = cat.0.as_ref().unwrap().id();
    let start = std::time::Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default() != "wait_for_partner" {
        assert!(start.elapsed() < HANG, "the reader never waited on the FIFO");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = Command::new(imageio_bin())
        .arg("convert")
        .arg(&bad)
        .arg(&fifo)
        .args(["--out-format", "PNG"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(cat.wait().success(), "the reader got an end of file");
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// Row 6: `/dev/stdout` in a pipe: the write goes down the pipe, and the
/// link is never replaced. The test writes through a link of its own to
/// `/proc/self/fd/1` (never the real `/dev/stdout`, which a failing test
/// as root could replace), and to `/dev/null`.
#[test]
fn a_descriptor_link_and_a_device_are_written_in_place_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = Command::new(imageio_bin())
        .arg("convert")
        .arg(sample_png())
        .arg(&link)
        .args(["--out-format", "PNG"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = dir.path().join("piped.png");
    std::fs::write(&got, &out.stdout).unwrap();
    assert!(same_pixels(&sample_png(), &got), "the pipe carried the PNG");
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is still a link");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/proc/self/fd/1"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing else created beside the link: {names:?}");

    // Stdout redirected to a file opened for appending: the shell's file,
    // appended to (not truncated, not replaced).
    let log = dir.path().join("log");
    std::fs::write(&log, b"first\n").unwrap();
    let status = Command::new(imageio_bin())
        .arg("convert")
        .arg(sample_png())
        .arg(&link)
        .args(["--out-format", "PNG"])
        .stdout(std::fs::OpenOptions::new().append(true).open(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let logged = std::fs::read(&log).unwrap();
    assert!(logged.starts_with(b"first\n\x89PNG"), "appended after the shell's text");
    assert_eq!(&logged[6..], &out.stdout[..]);

    // A character device.
    let out = Command::new(imageio_bin())
        .arg("convert")
        .arg(sample_png())
        .args(["/dev/null", "--out-format", "PNG"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// Row 7: replacing a file with a second hard link split the link (the
/// other name kept the old content). Both names now see the new image.
#[test]
fn a_hard_linked_target_keeps_its_links() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    std::fs::write(&a, b"old content").unwrap();
    std::fs::hard_link(&a, &b).unwrap();
    let inode = std::fs::metadata(&a).unwrap().ino();
    let image = imageio::imread(sample_png(), &Options::default()).unwrap();
    imageio::imwrite(&a, &image, &Options::default()).unwrap();
    let (ma, mb) = (std::fs::metadata(&a).unwrap(), std::fs::metadata(&b).unwrap());
    assert_eq!(
        (ma.ino(), mb.ino(), ma.nlink()),
        (inode, inode, 2),
        "the same file under both names"
    );
    assert!(same_pixels(&sample_png(), &b), "the other name sees the new image");
    // A file with one name is still replaced atomically (a new inode).
    let c = dir.path().join("c.png");
    std::fs::write(&c, b"old").unwrap();
    let before = std::fs::metadata(&c).unwrap().ino();
    imageio::imwrite(&c, &image, &Options::default()).unwrap();
    assert_ne!(std::fs::metadata(&c).unwrap().ino(), before);
}

/// `bytes` fed into a real pipe by a thread: the read end as a `File`,
/// whose `stream_position` and `seek` fail (ESPIPE), as stdin's do.
fn pipe_of(bytes: Vec<u8>) -> (std::fs::File, std::thread::JoinHandle<()>) {
    let (reader, mut writer) = std::io::pipe().unwrap();
    let feed = std::thread::spawn(move || {
        use std::io::Write;
        // The reader may stop early (a failed request): that is not ours to judge.
        let _ = writer.write_all(&bytes);
    });
    (std::fs::File::from(std::os::fd::OwnedFd::from(reader)), feed)
}

/// Every image of `uri`, in whatever mode its format reads.
fn read_all(uri: Uri) -> Vec<imageio::Image> {
    let mut reader = imageio::get_reader(uri, '?', &Options::default()).unwrap();
    reader.iter_data().unwrap().map(|im| im.unwrap()).collect()
}

/// Row 8: `Request::new` of a stream whose seek and tell fail failed with
/// "Not supported". A pipe (a `File` whose seek fails) and a plain `Read`
/// both read, through the buffering reader, with plugins that seek (PNG,
/// TIFF) and one that reads the whole stream (WebP).
#[test]
fn forward_only_streams_are_read_by_every_plugin() {
    for file in [
        sample_png(),
        workspace().join("fuzz/seeds/read_tiff/pages.tif"),
        workspace().join("fuzz/seeds/read_webp/anim.webp"),
    ] {
        let bytes = std::fs::read(&file).unwrap();
        let expected = read_all(bytes.clone().into());

        let (pipe, feed) = pipe_of(bytes.clone());
        let req = imageio::Request::new(Uri::reader(pipe), "rI");
        assert!(
            req.is_ok(),
            "{}: the request is created: {:?}",
            file.display(),
            req.err()
        );
        drop(req);
        feed.join().unwrap();

        let (pipe, feed) = pipe_of(bytes.clone());
        let from_pipe = read_all(Uri::reader(pipe));
        feed.join().unwrap();
        let read_only = std::io::Cursor::new(bytes).take(u64::MAX);
        let from_read = read_all(Uri::stream(read_only));
        for got in [from_pipe, from_read] {
            assert_eq!(got.len(), expected.len(), "{}", file.display());
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g.data, e.data, "{}: the same pixels as from memory", file.display());
            }
        }
    }
}

/// One file the guard runs: the command, what must happen, and the bound
/// on peak memory.
struct Case {
    /// The file (from hostile.py, the findings, or the fuzz seeds).
    path: PathBuf,
    /// The tool's arguments before the file (the file is last, or is
    /// followed by `after`).
    before: Vec<&'static str>,
    after: Vec<PathBuf>,
    /// `Some(text)`: a clean error saying `text`; `None`: success.
    error: Option<&'static str>,
    peak_mib: u64,
}

/// What the guard expects of each file hostile.py writes (by name or,
/// for the cut files, by prefix).
fn expectation(name: &str) -> Option<(Vec<&'static str>, Option<&'static str>, u64)> {
    let info = || vec!["info"];
    Some(match name {
        "png-ztxt-bomb.png" => (info(), Some("inflates to more than the metadata limit"), 96),
        "png-iccp-bomb.png" => (info(), Some("inflates to more than the metadata limit"), 96),
        "png-60000x60000.png" | "npy-60000x60000.npy" | "pgm-60000x60000.pgm" | "bmp-30000x30000-24bit.bmp" => {
            (info(), Some("refused to allocate"), 64)
        }
        "bmp-rle8-eob-32768.bmp" => (info(), Some("RLE data ends"), 64),
        "npy-2e9-empty-frames.npy" => (info(), Some("refused to allocate"), 64),
        "gif-200-frames-8192.gif" | "gif-5000-frames-8192.gif" => (info(), Some("pixels to decode"), 64),
        "jpeg-30000x30000-header.jpg" | "jpeg-30000x30000-stray-byte.jpg" => {
            (info(), Some("the data cannot hold the image"), 64)
        }
        "jpeg-cut-4-bytes.jpg" => (info(), Some("end-of-image marker"), 64),
        "webp-200mib-iccp.webp" => (info(), Some("over the metadata limit"), 64),
        "tiff-2000-pages-4096.tif" => (
            vec!["--limits", "total_pixels=1e8", "convert"],
            Some("total_pixels"),
            128,
        ),
        cut if cut.starts_with("cut-") => (info(), Some(""), 64),
        _ => return None,
    })
}

/// Every case: hostile.py's files, the fuzzing findings, and (as files
/// that must read) the fuzz seeds.
fn cases(out_dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut generated: Vec<_> = std::fs::read_dir(hostile_files())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    generated.sort();
    for path in generated {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((before, error, peak_mib)) = expectation(&name) else {
            panic!("hostile.py wrote {name}, which the guard has no expectation for: add one");
        };
        let after = if before.contains(&"convert") {
            vec![out_dir.join(format!("{name}.npy"))]
        } else {
            Vec::new()
        };
        cases.push(Case {
            path,
            before,
            after,
            error,
            peak_mib,
        });
    }
    let mut findings: Vec<_> = std::fs::read_dir(workspace().join("tests/data/findings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    findings.sort();
    for path in findings {
        cases.push(Case {
            path,
            before: vec!["info"],
            after: Vec::new(),
            error: Some(""),
            peak_mib: 64,
        });
    }
    let mut seeds: Vec<_> = std::fs::read_dir(workspace().join("fuzz/seeds"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "request")
        .flat_map(|e| std::fs::read_dir(e.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    seeds.sort();
    for path in seeds {
        // The hostile-* seeds are this files in small (fuzzing's
        // regression inputs); the rest were written by Pillow and numpy.
        let hostile = path.file_name().unwrap().to_string_lossy().starts_with("hostile-");
        cases.push(Case {
            path,
            before: vec!["info"],
            after: Vec::new(),
            error: hostile.then_some(""),
            peak_mib: 64,
        });
    }
    cases
}

/// The first line of an error, without the `imageio: error: <path>: `
/// prefix (the path is a temporary folder), escaped for a table cell.
fn message(stderr: &str, file: &Path) -> String {
    let line = stderr.lines().next().unwrap_or("");
    let name = file.file_name().unwrap().to_string_lossy();
    let rest = match line.find(&*name) {
        Some(i) => line[i + name.len()..].trim_start_matches(':').trim(),
        None => line,
    };
    rest.replace('|', "\\|")
}

const BEGIN: &str = "<!-- guard:begin (written by tests/hostile.rs; IMAGEIO_BLESS=1 rewrites it) -->";
const END: &str = "<!-- guard:end -->";

/// The guard (issue 16): every generated bomb, huge header and cut file,
/// every fuzzing finding and every fuzz seed, run by the tool under a 2 GiB
/// address-space cap. A signal, an abort, a success on a file that must
/// fail (or a failure on a seed), more than one line of error, or a peak
/// over the file's bound fails the test; the time limit guards against
/// hangs only, and the times are reported, not judged. The table is
/// written to `target/reliability-guard.md`; its columns that do not
/// depend on the machine (file, size, command, verdict, bound, message)
/// must match the table in RELIABILITY.md, which `IMAGEIO_BLESS=1`
/// regenerates from this run.
#[test]
fn guard_every_hostile_file_is_a_clean_bounded_error() {
    let out_dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for case in cases(out_dir.path()) {
        let mut args: Vec<&OsStr> = case.before.iter().map(OsStr::new).collect();
        args.push(case.path.as_os_str());
        args.extend(case.after.iter().map(|p| p.as_os_str()));
        let run = capped(&args);
        let name = case.path.file_name().unwrap().to_string_lossy().into_owned();
        let verdict = match (&run, case.error) {
            (r, _) if r.timed_out => format!("HUNG (killed after {} s)", HANG.as_secs()),
            (Capped { signal: Some(s), .. }, _) => format!("SIGNAL {s}"),
            (Capped { code: Some(0), .. }, None) => "read".to_owned(),
            (Capped { code: Some(0), .. }, Some(_)) => "READ, BUT MUST FAIL".to_owned(),
            (
                Capped {
                    code: Some(1), stderr, ..
                },
                Some(says),
            ) if stderr.lines().count() == 1 && stderr.contains(says) => "error".to_owned(),
            (r, _) => format!("WRONG: exit {:?}: {}", r.code, r.stderr.trim()),
        };
        let bounded = run.peak_kib < case.peak_mib << 10;
        if !matches!(verdict.as_str(), "read" | "error") || !bounded {
            failures.push(format!(
                "{name}: {verdict}; peak {} KiB (bound {} MiB)",
                run.peak_kib, case.peak_mib
            ));
        }
        for p in &case.after {
            if p.exists() {
                failures.push(format!("{name}: {} was written", p.display()));
            }
        }
        let mut command = case.before.join(" ");
        command.push_str(" FILE");
        if !case.after.is_empty() {
            command.push_str(" OUT.npy");
        }
        let size = std::fs::metadata(&case.path).unwrap().len();
        let msg = if verdict == "read" {
            String::new()
        } else {
            message(&run.stderr, &case.path)
        };
        rows.push([
            name,
            size.to_string(),
            format!("`imageio {command}`"),
            verdict,
            format!("{} MiB", case.peak_mib),
            msg,
            format!("{:.1}", run.peak_kib as f64 / 1024.0),
            format!("{:.2}", run.seconds),
        ]);
    }
    let head = "| file | bytes | command | verdict | peak bound | message | peak MiB (this run) | seconds (this run) |\n\
                | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    let table: String = head.to_owned()
        + &rows
            .iter()
            .map(|r| format!("| {} |\n", r.join(" | ")))
            .collect::<String>();
    let target = imageio_tests::profile_dir()
        .parent()
        .unwrap()
        .join("reliability-guard.md");
    std::fs::write(&target, &table).unwrap();
    println!("{table}");
    assert!(failures.is_empty(), "the guard failed:\n{}", failures.join("\n"));

    let doc_path = workspace().join("RELIABILITY.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("RELIABILITY.md has no guard table between {BEGIN} and {END}");
    };
    let committed = &doc[b + BEGIN.len()..e];
    // The machine-independent columns: all but the last two.
    let stable = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("| "))
            .map(|l| l.split(" | ").take(6).collect::<Vec<_>>().join(" | "))
            .collect()
    };
    if std::env::var_os("IMAGEIO_BLESS").is_some() {
        let new = format!("{}{BEGIN}\n{table}{END}{}", &doc[..b], &doc[e + END.len()..]);
        std::fs::write(&doc_path, new).unwrap();
    } else {
        let (old, new) = (stable(committed), stable(&table));
        let differing: Vec<String> = old
            .iter()
            .zip(&new)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  committed: {a}\n  this run:  {b}"))
            .take(3)
            .collect();
        assert!(
            old == new,
            "RELIABILITY.md's guard table is stale ({} rows committed, {} in this run); run \
             `IMAGEIO_BLESS=1 cargo test -p imageio-tests guard_` (this run's table: {}):\n{}",
            old.len(),
            new.len(),
            target.display(),
            differing.join("\n")
        );
    }
}
