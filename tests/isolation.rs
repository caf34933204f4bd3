//! No plugin can take the host down: plugins from files are scanned in a
//! child process (the result cached, a crashing scan quarantined), loaded
//! lazily, and run in worker processes; a crash, an abort, an `exit` or a
//! hang anywhere is one error for the file concerned. Real plugins built
//! from C, real worker processes, real `imageio` runs.

use imageio::plugin::{Isolation, IsolationConfig, PluginStatus};
use imageio::{Error, FormatManager, Image, Options};
use imageio_tests::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the fixture breaks, and how (see `tests/c/fixtures/broken.c`).
const WHERE: [(u32, &str); 4] = [(1, "constructor"), (2, "entry"), (3, "can_read"), (4, "get_data")];
const HOW: [(u32, &str); 4] = [(1, "segfault"), (2, "abort"), (3, "exit"), (4, "hang")];

/// A folder holding only the broken fixture built with these choices.
fn broken_dir(root: &Path, where_: u32, how: u32) -> PathBuf {
    let dir = root.join(format!("plugins-{where_}{how}"));
    std::fs::create_dir_all(&dir).unwrap();
    c_fixture_with(
        "broken",
        &[&format!("BROKEN_WHERE={where_}"), &format!("BROKEN_HOW={how}")],
        &dir.join(dll_name("broken")),
    );
    dir
}

/// A valid BROKEN file: 2x2 pixels 1, 2, 3, 4 (width byte `width`).
fn brkn(dir: &Path, name: &str, width: u8) -> PathBuf {
    let p = dir.join(name);
    let mut bytes = b"BRKN".to_vec();
    bytes.extend([width, 2]);
    bytes.extend((0..width as usize * 2).map(|i| (i + 1) as u8));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `imageio ARGS` with the plugin folder, a private registry cache and
/// short time limits.
fn run(plugins: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(imageio_bin())
        .args(args)
        .env("IMAGEIO_PLUGIN_PATH", plugins)
        .env("IMAGEIO_PLUGIN_CACHE", cache)
        .env("IMAGEIO_SCAN_TIMEOUT", "2")
        .env("IMAGEIO_PLUGIN_TIMEOUT", "2")
        .env_remove("IMAGEIO_ISOLATION")
        .output()
        .unwrap()
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn no_broken_plugin_stops_formats_plugins_or_other_files() {
    let root = tempfile::tempdir().unwrap();
    let png = workspace().join("tests/data/hello-page.png");
    let png = png.to_str().unwrap();
    let file = brkn(root.path(), "x.brkn", 2);
    let file = file.to_str().unwrap();
    for (w, where_) in WHERE {
        for (h, how) in HOW {
            let case = format!("{how} in {where_}");
            let plugins = broken_dir(root.path(), w, h);
            let cache = root.path().join(format!("cache-{w}{h}.bin"));
            for _ in 0..2 {
                // Twice: the second run answers from the registry cache.
                let o = run(&plugins, &cache, &["formats"]);
                assert!(o.status.success(), "{case}: formats: {}", both(&o));
                assert!(String::from_utf8_lossy(&o.stdout).contains("PNG"), "{case}");
                let o = run(&plugins, &cache, &["plugins"]);
                assert!(o.status.success(), "{case}: plugins: {}", both(&o));
                let listed = String::from_utf8_lossy(&o.stdout).into_owned();
                let line = listed
                    .lines()
                    .find(|l| l.contains("libbroken"))
                    .unwrap_or_else(|| panic!("{case}: not listed: {listed}"));
                if w <= 2 {
                    // The scan ran it in a child process, which died or hung.
                    assert!(line.starts_with("quarantined"), "{case}: {line}");
                    let why = if h == 4 { "hung while loading" } else { "while loading" };
                    assert!(line.contains(why), "{case}: {line}");
                } else {
                    assert!(
                        line.starts_with("loaded") && line.contains("(isolated)"),
                        "{case}: {line}"
                    );
                }
                let o = run(&plugins, &cache, &["info", png]);
                assert!(o.status.success(), "{case}: info of a PNG: {}", both(&o));
            }
            // Its own file: a clean error naming what happened, exit 1.
            let o = run(&plugins, &cache, &["info", file]);
            assert_eq!(o.status.code(), Some(1), "{case}: {}", both(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            if w >= 3 {
                let call = if w == 3 { "can_read" } else { "get_data" };
                let what = match h {
                    1 => "signal 11",
                    2 => "signal 6",
                    3 => "exited with status 0",
                    _ => "did not finish",
                };
                assert!(err.contains(what) && err.contains(call), "{case}: {err}");
            }
        }
    }
}

/// A manager with the builtins, running plugins from files isolated (the
/// default policy) with a private registry cache.
fn isolated_manager(cache: &Path) -> FormatManager {
    let fm = FormatManager::new();
    fm.set_isolation(IsolationConfig {
        policy: Isolation::ThirdParty,
        worker: Some(worker_bin()),
        registry_cache: Some(cache.to_owned()),
        ..IsolationConfig::default()
    });
    fm.add_builtins();
    fm
}

#[test]
fn a_plugin_that_crashes_on_one_file_fails_that_file_and_reads_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join(dll_name("crash_on_ee"));
    c_fixture_with("broken", &["BROKEN_WHERE=5", "BROKEN_HOW=1"], &lib);
    let fm = isolated_manager(&dir.path().join("cache.bin"));
    // SAFETY: the test's own fixture.
    unsafe { fm.load_plugin(&lib) }.unwrap();
    let bad = brkn(dir.path(), "bad.brkn", 0xEE);
    let good = brkn(dir.path(), "good.brkn", 2);
    // However often it crashes: each bad file is its own error, each good
    // file after it reads, and nothing is remembered against the plugin.
    for _ in 0..4 {
        let err = fm.imread(bad.as_path(), &Options::default()).unwrap_err();
        assert!(
            matches!(&err, Error::WorkerFailed { reason, .. } if reason.contains("signal 11") && reason.contains("get_data")),
            "{err}"
        );
        assert!(err.to_string().contains("bad.brkn"), "{err}");
        // The same process, a fresh worker: the next file reads correctly.
        let im = fm.imread(good.as_path(), &Options::default()).unwrap();
        assert_eq!(im.shape(), &[2, 2]);
        assert_eq!(im.data.to_bytes(), vec![1, 2, 3, 4]);
    }
    // The next process (the same registry cache) loads it and reads.
    let next = isolated_manager(&dir.path().join("cache.bin"));
    // SAFETY: as above.
    unsafe { next.load_plugin(&lib) }.unwrap();
    assert_eq!(next.plugin_reports().last().unwrap().status, PluginStatus::Loaded);
    let im = next.imread(good.as_path(), &Options::default()).unwrap();
    assert_eq!(im.data.to_bytes(), vec![1, 2, 3, 4]);
}

#[test]
fn scanned_plugins_run_no_code_to_list_formats_and_rescan_scans_again() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    c_fixture_with(
        "broken",
        &["BROKEN_WHERE=0", "BROKEN_HOW=1", "COUNT_LOADS"],
        &plugins.join(dll_name("counting")),
    );
    let log = dir.path().join("loads.log");
    let cache = dir.path().join("cache.bin");
    let loads = || std::fs::read_to_string(&log).unwrap_or_default().lines().count();
    let go = |args: &[&str], isolation: &str| {
        let o = Command::new(imageio_bin())
            .args(args)
            .env("IMAGEIO_PLUGIN_PATH", &plugins)
            .env("IMAGEIO_PLUGIN_CACHE", &cache)
            .env("IMAGEIO_ISOLATION", isolation)
            .env("IIO_LOAD_LOG", &log)
            // The fixture counts its loads in a file, which the sandbox
            // would forbid.
            .env("IMAGEIO_SANDBOX", "off")
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", both(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(go(&["formats"], "third-party").contains("BROKEN"));
    assert_eq!(loads(), 1, "the scan loaded it once, in a child process");
    for isolation in ["third-party", "off"] {
        assert!(go(&["formats"], isolation).contains("BROKEN"));
        go(&["plugins"], isolation);
        go(
            &["info", workspace().join("tests/data/hello-page.png").to_str().unwrap()],
            isolation,
        );
    }
    assert_eq!(loads(), 1, "listing and other formats' files ran none of its code");
    let file = brkn(dir.path(), "x.brkn", 2);
    go(&["info", file.to_str().unwrap()], "off");
    assert_eq!(loads(), 2, "used: loaded (in this process, isolation off)");
    go(&["info", file.to_str().unwrap()], "third-party");
    assert_eq!(loads(), 3, "used: loaded (in a worker)");
    go(&["plugins", "--rescan"], "third-party");
    assert_eq!(loads(), 4, "--rescan scanned it again");
    // A cache that is not one is rebuilt, never fatal.
    std::fs::write(&cache, b"\x00garbage, not a registry").unwrap();
    assert!(go(&["plugins"], "third-party").contains("loaded"));
    assert_eq!(loads(), 5);
    assert!(std::fs::read(&cache).unwrap().starts_with(b"IIOREG03"));
    // A changed file is scanned again.
    c_fixture_with(
        "broken",
        &["BROKEN_WHERE=0", "BROKEN_HOW=2", "COUNT_LOADS"],
        &plugins.join(dll_name("counting")),
    );
    go(&["formats"], "third-party");
    assert_eq!(loads(), 6);
}

#[test]
fn without_a_worker_isolated_plugins_are_refused_unless_asked_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = broken_dir(dir.path(), 0, 1);
    let file = brkn(dir.path(), "x.brkn", 2);
    let go = |envs: &[(&str, &str)]| {
        let mut c = Command::new(imageio_bin());
        c.arg("plugins")
            .env("IMAGEIO_PLUGIN_PATH", &plugins)
            .env("IMAGEIO_PLUGIN_CACHE", dir.path().join("cache.bin"))
            .env("IMAGEIO_WORKER", "/nonexistent/imageio-worker");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = go(&[]);
    assert!(o.status.success());
    let out = both(&o);
    let line = out.lines().find(|l| l.contains("libbroken")).unwrap().to_owned();
    assert!(
        line.starts_with("rejected") && line.contains("isolation cannot start") && line.contains("/nonexistent"),
        "{out}"
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .matches("isolation cannot start")
            .count(),
        2,
        "said once as a warning, once for the plugin's own refusal: {out}"
    );
    for envs in [
        &[("IMAGEIO_ISOLATION", "off")][..],
        &[("IMAGEIO_ISOLATION_FALLBACK", "in-process")][..],
    ] {
        let o = go(envs);
        let out = both(&o);
        let line = out.lines().find(|l| l.contains("libbroken")).unwrap().to_owned();
        assert!(
            line.starts_with("loaded") && !line.contains("(isolated)"),
            "{envs:?}: {out}"
        );
    }
    // Off means off: the plugin reads, in this process.
    let o = Command::new(imageio_bin())
        .arg("info")
        .arg(&file)
        .env("IMAGEIO_PLUGIN_PATH", &plugins)
        .env("IMAGEIO_ISOLATION", "off")
        .env("IMAGEIO_WORKER", "/nonexistent/imageio-worker")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
}

/// An image with structure in every channel.
fn picture(h: usize, w: usize, c: usize) -> Image {
    Image::from(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[h, w, c]), |i| {
        ((i[0] * 7 + i[1] * 3 + i[2] * 50) % 251) as u8
    }))
}

#[test]
fn isolated_standard_plugins_read_and_write_exactly_as_the_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let builtins = FormatManager::with_builtins();
    // 400x300 RGB: more than 16 pages, so the pixels are mapped, not copied.
    let image = picture(300, 400, 3);
    for (name, lib) in standard_plugin_libraries() {
        let fm = FormatManager::new();
        fm.set_isolation(IsolationConfig {
            worker: Some(worker_bin()),
            registry_cache: Some(dir.path().join("cache.bin")),
            ..IsolationConfig::default()
        });
        // SAFETY: the repository's own plugin libraries.
        unsafe { fm.load_plugin(&lib) }.unwrap();
        assert!(fm.plugin_reports()[0].isolated, "{name}");
        let ext = fm.get(name).unwrap().extensions()[0].clone();
        let opts = Options::default().with_format(name);
        let ours = builtins.imwrite("<bytes>", &image, &opts).unwrap().unwrap();
        // Written in the worker: the same bytes as the builtin writes.
        let theirs = fm.imwrite("<bytes>", &image, &opts).unwrap().unwrap();
        assert_eq!(ours, theirs, "{name}: the isolated writer's bytes");
        let path = dir.path().join(format!("x{ext}"));
        fm.imwrite(path.as_path(), &image, &opts).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), ours, "{name}: written to a file");
        // Read in the worker from a file (its descriptor), from bytes (a
        // sealed memfd) and from a stream (read callbacks): what the
        // builtin reads.
        let expected = builtins.imread(path.as_path(), &Options::default()).unwrap();
        for (how, got) in [
            ("file", fm.imread(path.as_path(), &Options::default())),
            ("bytes", fm.imread(ours.clone(), &Options::default())),
            (
                "stream",
                fm.imread(
                    imageio::Uri::reader(std::io::Cursor::new(ours.clone())),
                    &Options::default(),
                ),
            ),
        ] {
            let got = got.unwrap_or_else(|e| panic!("{name} from {how}: {e}"));
            assert_eq!(got.data, expected.data, "{name} from {how}: pixels");
            assert_eq!(got.meta, expected.meta, "{name} from {how}: metadata");
        }
    }
}

#[test]
fn the_registry_cache_is_trusted_only_when_private_and_concurrent_scans_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    c_fixture_with(
        "broken",
        &["BROKEN_WHERE=0", "BROKEN_HOW=1"],
        &plugins.join(dll_name("good")),
    );
    let file = brkn(root.path(), "x.brkn", 2);
    // A FIFO where the cache should be: `formats` does not hang on it.
    let fifo = root.path().join("fifo.bin");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut child = Command::new(imageio_bin())
        .arg("formats")
        .env("IMAGEIO_PLUGIN_PATH", &plugins)
        .env("IMAGEIO_PLUGIN_CACHE", &fifo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`imageio formats` hangs on a FIFO as its registry cache");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("BROKEN"));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a regular file"),
        "{}",
        both(&o)
    );

    // A cache another user could write: its verdicts (here, a quarantine
    // planted for the plugin) are not believed, and it is not written.
    let planted = root.path().join("planted.bin");
    let poisoned = root.path().join("poisoned-plugins");
    std::fs::create_dir(&poisoned).unwrap();
    c_fixture_with(
        "broken",
        &["BROKEN_WHERE=1", "BROKEN_HOW=3"],
        &poisoned.join(dll_name("good")),
    );
    // A crash at load quarantines it in the cache...
    let o = run(&poisoned, &planted, &["plugins"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("quarantined"),
        "{}",
        both(&o)
    );
    // ...which now names the good plugin's file at the same path.
    std::fs::remove_file(poisoned.join(dll_name("good"))).unwrap();
    std::fs::copy(plugins.join(dll_name("good")), poisoned.join(dll_name("good"))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    let before = std::fs::read(&planted).unwrap();
    let o = run(&poisoned, &planted, &["info", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("writable by group or others"),
        "{}",
        both(&o)
    );
    assert_eq!(
        std::fs::read(&planted).unwrap(),
        before,
        "an untrusted cache was written"
    );

    // Created 0600 (its folder 0700) whatever the umask.
    let fresh = root.path().join("new").join("cache.bin");
    let o = Command::new("sh")
        .arg("-c")
        .arg("umask 002; exec \"$0\" formats")
        .arg(imageio_bin())
        .env("IMAGEIO_PLUGIN_PATH", &plugins)
        .env("IMAGEIO_PLUGIN_CACHE", &fresh)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(fresh.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );

    // Two processes scanning at once into one cache: every plugin's entry
    // is there afterwards.
    let shared = root.path().join("shared.bin");
    let dirs: Vec<PathBuf> = (0..2)
        .map(|d| {
            let dir = root.path().join(format!("set{d}"));
            std::fs::create_dir(&dir).unwrap();
            for i in 0..4 {
                std::fs::copy(plugins.join(dll_name("good")), dir.join(dll_name(&format!("p{d}{i}")))).unwrap();
            }
            dir
        })
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .map(|d| {
            Command::new(imageio_bin())
                .arg("plugins")
                .env("IMAGEIO_PLUGIN_PATH", d)
                .env("IMAGEIO_PLUGIN_CACHE", &shared)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let cache = std::fs::read(&shared).unwrap();
    for d in 0..2 {
        for i in 0..4 {
            let name = dll_name(&format!("p{d}{i}"));
            assert!(
                cache.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} lost from the cache"
            );
        }
    }
}
