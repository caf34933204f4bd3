//! Isolation, finished: a hostile plugin (`tests/c/fixtures/hostile.c`) in
//! a worker can open no file the host did not pass, create none, reach no
//! network, start no program or process, signal no other process, raise
//! no limit; its memory is capped; nothing it starts outlives the host; its
//! output reaches the host's log escaped and bounded; calls from several
//! threads run on several workers; a plugin file swapped while the host
//! runs is refused at the next start. Real C plugins, real worker
//! processes, real `imageio` runs.

use imageio::plugin::{IsolationConfig, PluginStatus};
use imageio::{Error, FormatManager, Options};
use imageio_tests::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hostile plugin alone in a folder of its own.
fn hostile_dir(root: &Path) -> PathBuf {
    let dir = root.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let lib = dir.join(dll_name("hostile"));
    if !lib.exists() {
        c_fixture_with("hostile", &[], &lib);
    }
    dir
}

/// A HOSTILE file asking for `action`.
fn action(root: &Path, action: u8) -> PathBuf {
    with_arg(root, action, "")
}

/// A HOSTILE file asking for `action` with an argument (a path, a port).
fn with_arg(root: &Path, action: u8, arg: &str) -> PathBuf {
    let p = root.join(format!("act{action}.hstl"));
    let mut bytes = b"HSTL".to_vec();
    bytes.push(action);
    bytes.extend_from_slice(arg.as_bytes());
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A manager with the hostile plugin, isolated (the default policy).
fn manager(root: &Path) -> FormatManager {
    manager_with(root, |_| {})
}

/// The same, with the isolation configuration changed by `change`.
fn manager_with(root: &Path, change: impl FnOnce(&mut IsolationConfig)) -> FormatManager {
    let fm = FormatManager::with_builtins();
    let mut config = IsolationConfig {
        registry_cache: Some(root.join("cache.bin")),
        worker: Some(worker_bin()),
        call_timeout: Duration::from_secs(20),
        ..IsolationConfig::default()
    };
    change(&mut config);
    fm.set_isolation(config);
    let lib = hostile_dir(root).join(dll_name("hostile"));
    // SAFETY: the test's own fixture (hostile by design, and isolated).
    unsafe { fm.load_plugin(&lib) }.unwrap();
    fm
}

/// What the plugin reported: (it succeeded, errno, the worker's pid, extra).
fn outcome(fm: &FormatManager, file: &Path) -> (u32, u32, u32, u32) {
    let im = fm
        .imread(file, &Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let v: Vec<u32> = im
        .data
        .to_bytes()
        .chunks(4)
        .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    (v[0], v[1], v[2], v[3])
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive (its process has ended).
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn the_sandbox_keeps_a_hostile_plugin_from_files_network_programs_and_the_host() {
    let root = tempfile::tempdir().unwrap();
    let fm = manager(root.path());
    // A secret of the user's, and a file the plugin would create.
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, b"S3CRET").unwrap();
    let created = root.path().join("created-by-plugin");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let try_path = |path: &Path, what: u8| outcome(&fm, &with_arg(root.path(), what, path.to_str().unwrap()));
    let (ok, errno, ..) = try_path(&created, 1);
    assert_eq!(ok, 0, "the plugin created a file");
    assert!(!created.exists(), "the plugin created {}", created.display());
    assert!(
        errno == libc::EACCES as u32 || errno == libc::EPERM as u32,
        "errno {errno}"
    );
    let (ok, _, _, byte) = try_path(&secret, 2);
    assert_eq!((ok, byte), (0, 0), "the plugin read the user's file");
    if Path::new("/etc/shadow").exists() {
        let (ok, ..) = try_path(Path::new("/etc/shadow"), 2);
        assert_eq!(ok, 0, "the plugin read /etc/shadow");
    }
    let (ok, errno, ..) = outcome(&fm, &with_arg(root.path(), 3, &port));
    assert_eq!(ok, 0, "the plugin reached the network");
    assert!(listener.accept().is_err(), "a connection reached the test's server");
    assert!(
        errno == libc::EPERM as u32 || errno == libc::EACCES as u32,
        "errno {errno}"
    );
    let (ok, ..) = outcome(&fm, &action(root.path(), 4));
    assert_eq!(ok, 0, "the plugin forked a process");
    let (ok, ..) = outcome(&fm, &action(root.path(), 5));
    assert_eq!(ok, 0, "the plugin ran a program");
    let (ok, ..) = outcome(&fm, &action(root.path(), 9));
    assert_eq!(ok, 0, "the plugin signalled its host");
    let (ok, ..) = outcome(&fm, &action(root.path(), 11));
    assert_eq!(ok, 0, "the plugin raised its memory cap");
    // And it still works: the same plugin answers a harmless call.
    let (ok, ..) = outcome(&fm, &action(root.path(), 10));
    assert_eq!(ok, 1);
}

#[test]
fn a_plugin_that_touches_30_gib_meets_its_memory_cap_with_a_limits_error() {
    let root = tempfile::tempdir().unwrap();
    let fm = manager(root.path());
    let file = action(root.path(), 6);
    let limits = "image_bytes=64M,alloc_bytes=64M";
    let options = Options {
        limits: Some(imageio::default_limits().parsed(limits).unwrap()),
        ..Options::default()
    };
    let err = fm.imread(file.as_path(), &options).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit(_)), "{err:?}");
    assert_eq!(err.kind(), imageio::ErrorKind::Limits);
    let text = err.to_string();
    assert!(text.contains("memory cap of") && text.contains("act6.hstl"), "{text}");
    // The next call on the plugin works (a fresh worker).
    let (ok, ..) = outcome(&fm, &action(root.path(), 10));
    assert_eq!(ok, 1);
}

/// `imageio info FILE` with the hostile plugin, output captured.
fn tool(root: &Path, file: &Path) -> Command {
    let mut c = Command::new(imageio_bin());
    c.arg("info")
        .arg(file)
        .env("IMAGEIO_PLUGIN_PATH", hostile_dir(root))
        .env("IMAGEIO_PLUGIN_CACHE", root.join("cache.bin"))
        .env_remove("IMAGEIO_ISOLATION")
        .env_remove("IMAGEIO_SANDBOX")
        .env_remove("IMAGEIO_LOG");
    c
}

#[test]
fn plugin_output_reaches_the_log_escaped_and_bounded() {
    let root = tempfile::tempdir().unwrap();
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let o = tool(root.path(), &action(root.path(), 7))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The worker's scratch folder went with the program.
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a scratch folder was left behind"
    );
    assert!(
        !o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b),
        "a raw ESC byte reached the terminal"
    );
    assert!(
        o.stderr.len() < 256 << 10,
        "{} bytes of the plugin's 32 MiB reached stderr",
        o.stderr.len()
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("plugin hostile (worker "), "{err}");
    assert!(err.contains("\\x1b"), "the escapes are shown escaped");
    assert!(
        err.contains("the rest is dropped"),
        "{}",
        &err[err.len().saturating_sub(400)..]
    );
    // Its stdout never mixes with the tool's.
    assert!(String::from_utf8_lossy(&o.stdout).starts_with(&format!("{}", root.path().join("act7.hstl").display())));
}

#[test]
fn nothing_a_plugin_starts_outlives_the_host_even_after_kill_9() {
    let root = tempfile::tempdir().unwrap();
    // The host killed with SIGKILL while its worker hangs in get_data: the
    // worker (reparented) ends too.
    let mut host = tool(root.path(), &action(root.path(), 8))
        .env("IMAGEIO_PLUGIN_TIMEOUT", "600")
        // A host killed by SIGKILL cannot remove its worker's scratch
        // folder: keep it in the test's own.
        .env("TMPDIR", root.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(host.stderr.take().unwrap());
    let mut worker = None;
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if line.contains("hanging") {
            let pid = line.split("(worker ").nth(1).and_then(|t| t.split(')').next());
            worker = pid.and_then(|p| p.parse::<u32>().ok());
            break;
        }
        line.clear();
    }
    let worker = worker.unwrap_or_else(|| panic!("no worker said it hangs: {line}"));
    assert!(alive(worker));
    host.kill().unwrap();
    host.wait().unwrap();
    assert!(wait_gone(worker), "worker {worker} outlived its host");
    let mut rest = String::new();
    let _ = err.read_to_string(&mut rest);

    // Without the sandbox, a plugin can fork; what it starts still ends
    // with its worker, the whole process group, when the host lets the
    // plugin go.
    let fm = manager_with(root.path(), |c| c.sandbox = false);
    let (ok, _, _, child) = outcome(&fm, &action(root.path(), 4));
    assert_eq!(ok, 1, "without the sandbox the fork succeeds");
    assert!(alive(child), "the plugin's child runs while its worker does");
    drop(fm);
    assert!(
        wait_gone(child),
        "the plugin's child {child} outlived the plugin's workers"
    );
}

#[test]
fn calls_from_several_threads_run_on_several_workers() {
    let root = tempfile::tempdir().unwrap();
    // As many workers as threads, whatever the machine's cores.
    let fm = manager_with(root.path(), |c| c.max_workers = 4);
    let file = action(root.path(), 10);
    let pids = std::sync::Mutex::new(std::collections::BTreeSet::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..2 {
                    let (ok, _, pid, _) = outcome(&fm, &file);
                    assert_eq!(ok, 1);
                    pids.lock().unwrap().insert(pid);
                }
            });
        }
    });
    // Each call holds its worker 300 ms; four threads at once cannot all
    // have waited for one worker (before, every call ran on the one).
    let pids = pids.into_inner().unwrap();
    assert!(pids.len() >= 2, "all calls ran on one worker: {pids:?}");
}

#[test]
fn a_plugin_file_replaced_while_the_host_runs_is_refused_at_the_next_start() {
    let root = tempfile::tempdir().unwrap();
    let fm = manager(root.path());
    let (ok, _, first, _) = outcome(&fm, &action(root.path(), 10));
    assert_eq!(ok, 1);
    // The worker ends (a crash kills it: the memory cap is quickest).
    let lib = hostile_dir(root.path()).join(dll_name("hostile"));
    let small = Options {
        limits: Some(
            imageio::default_limits()
                .parsed("image_bytes=16M,alloc_bytes=16M")
                .unwrap(),
        ),
        ..Options::default()
    };
    assert!(fm.imread(action(root.path(), 6).as_path(), &small).is_err());
    // Another file, writable by everyone, takes its place.
    let other = root.path().join("other.so");
    c_fixture_with("hostile", &["IIO_VARIANT=2"], &other);
    std::fs::rename(&other, &lib).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = fm
        .imread(action(root.path(), 10).as_path(), &Options::default())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("refused") && text.contains("writable"), "{text}");
    // Mode fixed, the file is still not the one registered.
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = fm
        .imread(action(root.path(), 10).as_path(), &Options::default())
        .unwrap_err();
    assert!(err.to_string().contains("changed since it was registered"), "{err}");
    assert!(!alive(first) || first == std::process::id());
    // A new manager (a new process) loads the new file.
    let fm = manager(root.path());
    assert_eq!(fm.plugin_reports().last().unwrap().status, PluginStatus::Loaded);
}
