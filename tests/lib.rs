//! Helpers for the integration tests: building the shared libraries the
//! tests load (Rust plugins through cargo, C fixtures through the C
//! compiler), paths, and the Python reference tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

/// The cargo profile directory the test binary runs from (`target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..")
        .to_owned()
}

/// Builds (once) the `imageio` binary and the Rust plugin libraries, with the
/// profile the tests run in. `cargo test` builds neither by itself.
pub fn build_artifacts() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace()).args([
            "build",
            "-p",
            "imageio-cli",
            "-p",
            "imageio-worker",
            "-p",
            "imageio-png-plugin",
            "-p",
            "imageio-jpeg-plugin",
            "-p",
            "imageio-tiff-plugin",
            "-p",
            "imageio-gif-plugin",
            "-p",
            "imageio-bmp-plugin",
            "-p",
            "imageio-npy-plugin",
            "-p",
            "imageio-webp-plugin",
            "-p",
            "iio-fixture-panicky",
        ]);
        if profile_dir().file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        // The variables cargo sets for a running test describe this test
        // crate; build scripts that watch them (ring watches
        // CARGO_MANIFEST_DIR) would otherwise rebuild on every switch
        // between this build and the outer one.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
                "CARGO_TARGET_TMPDIR",
            ]
            .iter()
            .any(|p| key.starts_with(p))
            {
                cmd.env_remove(key.as_ref());
            }
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the plugin libraries failed");
    });
}

/// A file name of a shared library in the platform's style.
pub fn dll_name(stem: &str) -> String {
    format!(
        "{}{stem}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    )
}

/// The `imageio` command-line tool.
pub fn imageio_bin() -> PathBuf {
    build_artifacts();
    profile_dir().join(format!("imageio{}", std::env::consts::EXE_SUFFIX))
}

/// The PNG plugin as a shared library.
pub fn png_plugin_library() -> PathBuf {
    build_artifacts();
    profile_dir().join(dll_name("imageio_png_plugin"))
}

/// Every standard plugin as a shared library: (format name, path).
pub fn standard_plugin_libraries() -> Vec<(&'static str, PathBuf)> {
    build_artifacts();
    let mut out = vec![("PNM", pnm_plugin_library())];
    for (name, stem) in [
        ("PNG", "imageio_png_plugin"),
        ("JPEG", "imageio_jpeg_plugin"),
        ("TIFF", "imageio_tiff_plugin"),
        ("GIF", "imageio_gif_plugin"),
        ("BMP", "imageio_bmp_plugin"),
        ("NPY", "imageio_npy_plugin"),
        ("WEBP", "imageio_webp_plugin"),
    ] {
        out.push((name, profile_dir().join(dll_name(stem))));
    }
    out
}

/// The panicking fixture plugin.
pub fn panicky_library() -> PathBuf {
    build_artifacts();
    profile_dir().join(dll_name("iio_fixture_panicky"))
}

/// The PNM plugin (C) as a shared library.
pub fn pnm_plugin_library() -> PathBuf {
    PathBuf::from(imageio_pnm::SHARED_LIBRARY)
}

fn fixtures_out() -> PathBuf {
    let d = profile_dir().join("iio-c-fixtures");
    std::fs::create_dir_all(&d).expect("fixture dir");
    d
}

/// The C compiler (`$CC` or `cc`).
pub fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

/// Compiles a C source into a shared library with the plugin flags of
/// the project and only `include/` on the include path.
/// The fixtures' tables are written in ABI 1.0's positional style: the
/// 1.1 fields they leave out are zero, as C guarantees (and as the ABI
/// means), which `-Wextra` would otherwise warn about.
pub fn compile_c_plugin(source: &Path, out: &Path) {
    compile_c_plugin_with(&[source], out, &workspace().join("include"));
}

/// Like [`compile_c_plugin`], against the header in `include` (the frozen
/// ABI 1.0 header is `tests/c/abi-1.0`).
pub fn compile_c_plugin_with(sources: &[&Path], out: &Path, include: &Path) {
    build_artifacts();
    let status = Command::new(cc())
        .args(imageio_pnm::C_PLUGIN_FLAGS)
        .args(["-fPIC", "-shared", "-Wno-missing-field-initializers"])
        .arg("-I")
        .arg(include)
        .arg("-I")
        .arg(workspace().join("tests/c/fixtures"))
        .args(sources)
        .arg("-o")
        .arg(out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {sources:?} failed");
}

/// The C fixture `tests/c/fixtures/<name>.c` as a shared library (built once).
pub fn c_fixture(name: &str) -> PathBuf {
    // Plugins loaded from files run in the worker program by default.
    build_artifacts();
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let out = fixtures_out().join(dll_name(&format!("fixture_{name}")));
    let src = workspace().join(format!("tests/c/fixtures/{name}.c"));
    let stale = match (std::fs::metadata(&out), std::fs::metadata(&src)) {
        (Ok(o), Ok(s)) => o.modified().ok() < s.modified().ok(),
        _ => true,
    };
    if stale {
        compile_c_plugin(&src, &out);
    }
    out
}

/// `tests/c/fixtures/<name>.c` built with `defines` (`-D` flags, as
/// `NAME=VALUE`) as the shared library `out`.
pub fn c_fixture_with(name: &str, defines: &[&str], out: &Path) {
    build_artifacts();
    let status = Command::new(cc())
        .args(imageio_pnm::C_PLUGIN_FLAGS)
        .args(["-fPIC", "-shared"])
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-I")
        .arg(workspace().join("include"))
        .arg(workspace().join(format!("tests/c/fixtures/{name}.c")))
        .arg("-o")
        .arg(out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {name} with {defines:?} failed");
}

/// The worker program that runs isolated plugins (built beside `imageio`).
pub fn worker_bin() -> PathBuf {
    build_artifacts();
    profile_dir().join(format!("imageio-worker{}", std::env::consts::EXE_SUFFIX))
}

/// A file of random bytes with the shared-library suffix.
pub fn garbage_library(dir: &Path) -> PathBuf {
    let p = dir.join(dll_name("garbage"));
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&p, bytes).expect("write garbage");
    p
}

/// The Python interpreter of the reference tools (Pillow, numpy, pypng):
/// `$IIO_PYTHON`, else `<workspace>/.venv/bin/python`. Fails loudly when
/// missing: the interoperability tests never skip silently.
pub fn python() -> PathBuf {
    let p = std::env::var_os("IIO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "the reference Python ({}) is missing: run `bash .ci/setup-python` (the README's test command does)",
        p.display()
    );
    p
}

/// Runs a Python snippet with the reference tools and returns its stdout;
/// fails the test (with Python's stderr) when the snippet fails.
pub fn py(code: &str, args: &[impl AsRef<std::ffi::OsStr>]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("python prints UTF-8")
}

/// Runs the reference script `tests/interop/reference.py` with `args`.
pub fn run_reference(args: &[&str]) {
    let out = Command::new(python())
        .arg(workspace().join("tests/interop/reference.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "reference.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small HTTP/1.1 server on 127.0.0.1 for the network tests: each path
/// has a behaviour, and every request is counted. Nothing leaves the
/// machine.
pub mod httpd {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// What the server does for a path.
    #[derive(Clone)]
    pub enum Route {
        /// 200 with a `Content-Length`.
        Ok(Vec<u8>),
        /// 200 without a length: the body ends when the connection closes.
        NoLength(Vec<u8>),
        /// Declares the whole length, sends half, and closes the connection.
        DropHalfway(Vec<u8>),
        /// Reads the request and never answers (until the test ends).
        Hang,
        /// 200 without a length and a body that never ends (zeros, as fast
        /// as the client reads; the server stops after 64 MiB).
        Endless,
        /// 200 without a length, one byte every this often (30 s at most).
        Trickle(Duration),
    }

    /// A running server.
    pub struct Server {
        port: u16,
        routes: Arc<Mutex<HashMap<String, Route>>>,
        hits: Arc<Mutex<HashMap<String, usize>>>,
    }

    impl Server {
        /// Starts a server with no routes (every path is a 404).
        pub fn start() -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
            let port = listener.local_addr().expect("addr").port();
            let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
            let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
            let (r, h) = (Arc::clone(&routes), Arc::clone(&hits));
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let (r, h) = (Arc::clone(&r), Arc::clone(&h));
                    std::thread::spawn(move || serve(conn, &r, &h));
                }
            });
            Server { port, routes, hits }
        }

        /// Sets what `path` (starting with `/`) answers.
        pub fn route(&self, path: &str, route: Route) -> &Server {
            self.routes.lock().unwrap().insert(path.to_owned(), route);
            self
        }

        /// `http://127.0.0.1:PORT` followed by `path`.
        pub fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}{path}", self.port)
        }

        /// How many requests `path` received.
        pub fn hits(&self, path: &str) -> usize {
            self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
        }
    }

    fn serve(conn: TcpStream, routes: &Mutex<HashMap<String, Route>>, hits: &Mutex<HashMap<String, usize>>) {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
        let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => break,
                Ok(_) if header == "\r\n" || header == "\n" => break,
                Ok(_) => {}
            }
        }
        *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let route = routes.lock().unwrap().get(&path).cloned();
        let mut out = conn;
        let _ = match route {
            None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"),
            Some(Route::Ok(body)) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
            }
            Some(Route::NoLength(body)) => out
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .and_then(|()| out.write_all(&body)),
            Some(Route::DropHalfway(body)) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes())
                    .and_then(|()| out.write_all(&body[..body.len() / 2]))
            }
            Some(Route::Hang) => {
                std::thread::sleep(Duration::from_secs(60));
                Ok(())
            }
            Some(Route::Endless) => out
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .and_then(|()| {
                    let block = [0u8; 64 * 1024];
                    for _ in 0..1024 {
                        out.write_all(&block)?;
                    }
                    Ok(())
                }),
            Some(Route::Trickle(every)) => {
                out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    .and_then(|()| {
                        let stop = std::time::Instant::now() + Duration::from_secs(30);
                        while std::time::Instant::now() < stop {
                            out.write_all(b"x")?;
                            out.flush()?;
                            std::thread::sleep(every);
                        }
                        Ok(())
                    })
            }
        };
        let _ = out.flush();
        let _ = out.shutdown(std::net::Shutdown::Both);
    }
}

/// The hostile files of `tests/reliability/hostile.py`, written once per
/// test process into a temporary folder that lives as long as it.
pub fn hostile_files() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(python())
            .arg(workspace().join("tests/reliability/hostile.py"))
            .arg(dir.path())
            .output()
            .expect("run hostile.py");
        assert!(
            out.status.success(),
            "hostile.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// The CPU time (user and system) used so far by this process and by its
/// live child processes (plugin workers), for the benches' CPU columns.
/// Children are read from `/proc/<pid>/stat` (clock ticks); a child that
/// ended is counted by `RUSAGE_CHILDREN` once reaped.
pub fn cpu_time() -> std::time::Duration {
    use std::time::Duration;
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: an all-zero rusage is valid; getrusage writes it.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid out-pointer.
        if unsafe { libc::getrusage(who, &mut u) } == 0 {
            total += tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let me = std::process::id().to_string();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // Fields after the command (which may hold spaces): state, ppid, ...
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.get(1) == Some(&me.as_str()) {
                let t: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
                    + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
                total += Duration::from_millis(t * 1000 / ticks);
            }
        }
    }
    total
}
