//! `get_remote_file`, `urlopen` and reading over http, against a real HTTP
//! server on 127.0.0.1 started by the tests (nothing leaves the machine).

use imageio::core::{Fetcher, ForceDownload, NullProgressIndicator, Progress, ProgressIndicator, ProgressState};
use imageio::{Error, Options};
use imageio_tests::httpd::{Route, Server};
use imageio_tests::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn hello_png() -> Vec<u8> {
    std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap()
}

/// A fetcher for the test server, caching in `cache`, looking nowhere else.
fn fetcher(server: &Server, cache: &Path) -> Fetcher {
    let mut f = Fetcher::new(&server.url("/"), cache);
    f.timeout = Duration::from_secs(2);
    f
}

fn fetch(
    f: &Fetcher,
    name: &str,
    dir: Option<&Path>,
    force: ForceDownload,
    auto: bool,
) -> imageio::Result<std::path::PathBuf> {
    f.fetch(name, dir, &force, auto, &mut NullProgressIndicator::new())
}

/// Files in a folder, recursively (to prove no partial download is left).
fn files_in(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn downloads_once_then_uses_the_cache() {
    let server = Server::start();
    server.route("/images/chelsea.png", Route::Ok(hello_png()));
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(&server, cache.path());
    let p = fetch(&f, "images/chelsea.png", None, ForceDownload::No, true).unwrap();
    assert_eq!(p, cache.path().join("images/chelsea.png"));
    assert_eq!(std::fs::read(&p).unwrap(), hello_png());
    assert_eq!(
        files_in(cache.path()),
        ["images/chelsea.png"],
        "no temporary file is left"
    );
    // Cached: no second request.
    let p2 = fetch(&f, "images/chelsea.png", None, ForceDownload::No, true).unwrap();
    assert_eq!(p2, p);
    assert_eq!(server.hits("/images/chelsea.png"), 1);
    // force: download again.
    fetch(&f, "images/chelsea.png", None, ForceDownload::Yes, true).unwrap();
    assert_eq!(server.hits("/images/chelsea.png"), 2);
    // A date the copy is newer than: cached. A future date: downloaded again.
    fetch(&f, "images/chelsea.png", None, "2000-01-01".into(), true).unwrap();
    assert_eq!(server.hits("/images/chelsea.png"), 2);
    fetch(&f, "images/chelsea.png", None, "2999-12-31".into(), true).unwrap();
    assert_eq!(server.hits("/images/chelsea.png"), 3);
    // A malformed date is an error, cached or not.
    let e = fetch(&f, "images/chelsea.png", None, "31/12/2999".into(), true).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("time data '31/12/2999' does not match format '%Y-%m-%d'"),
        "{e}"
    );
    assert_eq!(server.hits("/images/chelsea.png"), 3);
}

#[test]
fn a_given_directory_gets_a_copy_of_a_cached_file() {
    let server = Server::start();
    server.route("/a/b.png", Route::Ok(hello_png()));
    let cache = tempfile::tempdir().unwrap();
    let given = tempfile::tempdir().unwrap();
    let mut f = fetcher(&server, cache.path());
    fetch(&f, "a/b.png", None, ForceDownload::No, true).unwrap();
    // The cache is a search dir after the given one (like resource_dirs()).
    f.search_dirs = vec![cache.path().to_path_buf()];
    let p = fetch(&f, "a/b.png", Some(given.path()), ForceDownload::No, true).unwrap();
    assert_eq!(p, given.path().join("a/b.png"));
    assert_eq!(std::fs::read(&p).unwrap(), hello_png());
    assert_eq!(server.hits("/a/b.png"), 1, "copied, not downloaded");
    // Missing everywhere: downloaded into the given directory.
    server.route("/c.png", Route::Ok(b"abc".to_vec()));
    let p = fetch(&f, "c.png", Some(given.path()), ForceDownload::No, true).unwrap();
    assert_eq!(p, given.path().join("c.png"));
    assert!(!cache.path().join("c.png").exists());
}

#[test]
fn no_download_without_permission() {
    let server = Server::start();
    server.route("/x.png", Route::Ok(hello_png()));
    let cache = tempfile::tempdir().unwrap();
    let mut f = fetcher(&server, cache.path());
    let e = fetch(&f, "x.png", None, ForceDownload::No, false).unwrap_err();
    assert!(matches!(e, Error::NeedDownload { .. }), "{e}");
    // The internet switch comes before `auto` (imageio's order).
    f.no_internet = true;
    let e = fetch(&f, "x.png", None, ForceDownload::No, false).unwrap_err();
    assert!(matches!(e, Error::InternetNotAllowed));
    assert_eq!(
        e.to_string(),
        "Will not download resource from the internet because environment variable IMAGEIO_NO_INTERNET is set."
    );
    assert_eq!(server.hits("/x.png"), 0);
    // Names that would leave the cache are refused before anything else.
    f.no_internet = false;
    for bad in ["../x.png", "/etc/passwd", "a/../../x.png"] {
        let e = fetch(&f, bad, None, ForceDownload::No, true).unwrap_err();
        assert!(e.to_string().contains("is refused"), "{bad}: {e}");
    }
    assert!(files_in(cache.path()).is_empty());
}

#[test]
fn failed_downloads_leave_the_cache_clean() {
    let server = Server::start();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    server.route("/drop.bin", Route::DropHalfway(big));
    server.route("/hang.bin", Route::Hang);
    let cache = tempfile::tempdir().unwrap();
    let mut f = fetcher(&server, cache.path());
    // The connection drops half way, on every try.
    let e = fetch(&f, "drop.bin", None, ForceDownload::No, true).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("Unable to download 'drop.bin'. Perhaps there is no internet connection? If there is, please report this problem."),
        "{msg}"
    );
    assert_eq!(server.hits("/drop.bin"), 4, "imageio's four tries");
    assert!(files_in(cache.path()).is_empty(), "{:?}", files_in(cache.path()));
    // 404.
    let e = fetch(&f, "missing.png", None, ForceDownload::No, true).unwrap_err();
    assert!(e.to_string().contains("HTTP status 404 Not Found"), "{e}");
    // A server that never answers: the timeout ends each try.
    f.timeout = Duration::from_millis(300);
    f.tries = 2;
    let t = Instant::now();
    let e = fetch(&f, "hang.bin", None, ForceDownload::No, true).unwrap_err();
    assert!(
        e.to_string().contains("timed out") || e.to_string().contains("timeout"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(server.hits("/hang.bin"), 2);
    assert!(files_in(cache.path()).is_empty());
}

/// Records what a download reports.
struct Recorder {
    state: ProgressState,
    events: Vec<String>,
}

impl ProgressIndicator for Recorder {
    fn state(&self) -> &ProgressState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ProgressState {
        &mut self.state
    }
    fn on_start(&mut self) {
        self.events
            .push(format!("start {} {}", self.state.unit(), self.state.max()));
    }
    fn on_stop(&mut self) {
        self.events.push("stop".into());
    }
    fn on_write(&mut self, m: &str) {
        self.events.push(format!("write {m}"));
    }
}

#[test]
fn downloads_report_progress() {
    let server = Server::start();
    let body = vec![7u8; 100_000];
    server.route("/p.bin", Route::Ok(body.clone()));
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(&server, cache.path());
    let mut rec = Recorder {
        state: ProgressState::new("Downloading"),
        events: Vec::new(),
    };
    f.fetch("p.bin", None, &ForceDownload::No, true, &mut rec).unwrap();
    assert_eq!(rec.events, ["start bytes 100000", "stop", "write Done"]);
    assert_eq!(rec.state.progress(), Progress::Int(100_000));
}

#[test]
fn urlopen_and_reading_images_over_http() {
    let server = Server::start();
    let png = hello_png();
    server.route("/hello.png", Route::Ok(png.clone()));
    server.route("/stream.png", Route::NoLength(png.clone()));
    // A PNM: the C plugin seeks back to the raster when reading.
    let local = imageio::imread(workspace().join("tests/data/hello-page.png"), &Options::default()).unwrap();
    let pnm = imageio::imwrite("<bytes>", &local, &Options::default().with_format("PNM"))
        .unwrap()
        .unwrap();
    server.route("/hello.pnm", Route::Ok(pnm));

    let mut r = imageio::urlopen(&server.url("/hello.png"), Duration::from_secs(5)).unwrap();
    assert_eq!(r.content_length(), Some(png.len() as u64));
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut got).unwrap();
    assert_eq!(got, png);

    for path in ["/hello.png", "/stream.png", "/hello.pnm"] {
        let im = imageio::imread(server.url(path), &Options::default()).unwrap();
        assert_eq!(im.data, local.data, "{path}");
        // Every frame again through a reader that seeks between reads.
        let mut reader = imageio::get_reader(server.url(path), 'i', &Options::default()).unwrap();
        let a = reader.get_data(0).unwrap();
        let b = reader.get_data(0).unwrap();
        assert_eq!(a.data, b.data, "{path}");
    }
    // A plugin asking for a local file name gets a temporary copy.
    let mut req = imageio::Request::new(server.url("/hello.png"), "ri").unwrap();
    let tmp = req.get_local_filename().unwrap();
    assert_eq!(std::fs::read(&tmp).unwrap(), png);
    req.finish().unwrap();
    assert!(!tmp.exists());

    let e = imageio::imread(server.url("/nope.png"), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
    let e = imageio::imread("ftp://127.0.0.1/x.png", &Options::default()).unwrap_err();
    assert!(e.to_string().contains("ftp:// and ftps:// are not supported"), "{e}");
    let e = imageio::imwrite(server.url("/x.png"), &local, &Options::default()).unwrap_err();
    assert_eq!(e.to_string(), "imageio does not support writing to http/ftp.");
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(imageio_bin());
    cmd.args(args)
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .env_remove("IMAGEIO_NO_INTERNET")
        .env_remove("IMAGEIO_REQUEST_TIMEOUT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_command_line_fetches_and_reads_over_http() {
    let server = Server::start();
    server.route("/images/chelsea.png", Route::Ok(hello_png()));
    server.route("/hello.png", Route::Ok(hello_png()));
    server.route("/hang.png", Route::Hang);
    let ud = tempfile::tempdir().unwrap();
    let base = server.url("/");
    let env = [
        ("IMAGEIO_USERDIR", ud.path().to_str().unwrap()),
        ("IMAGEIO_REMOTE_URL", base.as_str()),
    ];

    // info over http.
    let out = cli(&["info", &server.url("/hello.png"), "--json"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["images"][0]["shape"], serde_json::json!([320, 372, 3]));

    // fetch: into the cache (a standard image's bare name works), quietly.
    let out = cli(&["fetch", "chelsea.png"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cached = ud.path().join(".imageio/images/chelsea.png");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), cached.to_str().unwrap());
    assert!(out.stderr.is_empty(), "no progress bar when stderr is not a terminal");
    assert_eq!(std::fs::read(&cached).unwrap(), hello_png());
    // --dir, and --force.
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        &[
            "fetch",
            "images/chelsea.png",
            "--dir",
            dir.path().to_str().unwrap(),
            "--force",
        ],
        &env,
    );
    assert!(out.status.success());
    assert!(dir.path().join("images/chelsea.png").is_file());
    assert_eq!(server.hits("/images/chelsea.png"), 2);

    // IMAGEIO_NO_INTERNET with a usual spelling.
    let mut no_net = env.to_vec();
    no_net.push(("IMAGEIO_NO_INTERNET", "on"));
    let out = cli(&["fetch", "images/other.png"], &no_net);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("IMAGEIO_NO_INTERNET is set"));

    // IMAGEIO_REQUEST_TIMEOUT bounds each try.
    let mut slow = env.to_vec();
    slow.push(("IMAGEIO_REQUEST_TIMEOUT", "0.2"));
    let t = Instant::now();
    let out = cli(&["info", &server.url("/hang.png")], &slow);
    assert!(!out.status.success());
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timed out"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_progress_bar_is_drawn_on_a_terminal_only() {
    let server = Server::start();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    server.route("/images/big.bin", Route::Ok(big));
    let ud = tempfile::tempdir().unwrap();
    let base = server.url("/");
    // `script` (util-linux) runs the tool on a pseudo-terminal.
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} fetch images/big.bin", imageio_bin().display()),
            "/dev/null",
        ])
        .env("IMAGEIO_USERDIR", ud.path())
        .env("IMAGEIO_REMOTE_URL", &base)
        .env_remove("IMAGEIO_NO_INTERNET")
        .output()
        .expect("`script` (util-linux) runs the tool on a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Downloading [") && text.contains("2.86 MiB"), "{text:?}");
    // Not a terminal: nothing on stderr.
    let out = cli(
        &["fetch", "images/big.bin", "--force"],
        &[
            ("IMAGEIO_USERDIR", ud.path().to_str().unwrap()),
            ("IMAGEIO_REMOTE_URL", &base),
        ],
    );
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Downloads and http sources are bounded: an endless response stops at
/// the size limit, a trickle at the deadline, a declared length over the
/// limit is refused before reading, and a failed fetch leaves no folders.
#[test]
fn downloads_are_bounded_in_size_and_time() {
    let server = Server::start();
    server.route("/images/endless.png", Route::Endless);
    server.route("/images/slow.png", Route::Trickle(Duration::from_millis(200)));
    server.route("/images/declared.png", Route::Ok(vec![0u8; 4096]));
    server.route("/deep/down/endless.png", Route::Endless);
    let cache = tempfile::tempdir().unwrap();
    let mut f = fetcher(&server, cache.path());
    // The size bound is met long before a deadline no loaded machine
    // reaches; the deadline is checked alone, on a stream that can never
    // meet the size bound (one byte every 200 ms): neither verdict depends
    // on the machine's speed.
    f.max_bytes = 1 << 20;
    f.deadline = Duration::from_secs(600);

    let e = fetch(&f, "images/endless.png", None, ForceDownload::No, true).unwrap_err();
    assert!(matches!(e, Error::DownloadFailed { .. }), "{e}");
    assert!(e.to_string().contains("larger than the limit of 1048576 bytes"), "{e}");
    assert_eq!(
        server.hits("/images/endless.png"),
        1,
        "no retry that would meet the same bound"
    );

    f.deadline = Duration::from_secs(1);
    let e = fetch(&f, "images/slow.png", None, ForceDownload::No, true).unwrap_err();
    assert!(e.to_string().contains("deadline"), "stopped by the deadline: {e}");
    f.deadline = Duration::from_secs(600);

    f.max_bytes = 1000;
    let e = fetch(&f, "images/declared.png", None, ForceDownload::No, true).unwrap_err();
    assert!(e.to_string().contains("declares 4096 bytes"), "{e}");

    let e = fetch(&f, "deep/down/endless.png", None, ForceDownload::No, true).unwrap_err();
    assert!(matches!(e, Error::DownloadFailed { .. }), "{e}");
    assert!(files_in(cache.path()).is_empty(), "{:?}", files_in(cache.path()));
    assert!(
        !cache.path().join("deep").exists(),
        "no folder left by the failed fetch"
    );
    assert!(!cache.path().join("images").exists());

    // An http source: the environment's bounds apply (through the tool; the
    // JPEG reader reads its whole stream).
    let out = Command::new(imageio_bin())
        .args(["info", &server.url("/images/endless.png"), "--format", "JPEG"])
        .env("IMAGEIO_MAX_DOWNLOAD", "2MB")
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("larger than the limit of 2000000 bytes"), "{stderr}");
}
