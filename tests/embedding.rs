//! A Rust program built outside the workspace, depending on the `imageio`
//! crate and shipping nothing else, reads a file through a third-party
//! plugin found in `IMAGEIO_PLUGIN_PATH`: with the one-line hook
//! (`imageio::plugin::serve_if_worker()`) it is its own worker. Without the
//! hook and without a worker program, its error names the plugin, the
//! reason and the fix, with no log set up.

use imageio_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const MAIN: &str = r#"
fn main() {
    if std::env::var_os("EMBEDDER_NO_HOOK").is_none() {
        imageio::plugin::serve_if_worker();
    }
    let path = std::env::args().nth(1).expect("a file");
    match imageio::imread(path.as_str(), &imageio::Options::default()) {
        Ok(im) => println!("read {:?} {:?}", im.shape(), im.data.to_bytes()),
        Err(e) => {
            println!("error: {e}");
            std::process::exit(1);
        }
    }
}
"#;

/// The embedding program, built once (offline, with the workspace's lock
/// file, into a target folder of its own under the workspace's).
fn embedder() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = profile_dir().join("embedder-project");
            std::fs::create_dir_all(dir.join("src")).unwrap();
            let manifest = format!(
                "[package]\nname = \"embedder\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nimageio = {{ package = \"imageio-rs\", path = {:?}, default-features = false }}\n\n[workspace]\n",
                workspace().join("host")
            );
            std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
            std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
            std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let target = profile_dir().join("embedder-target");
            let mut cmd = Command::new(cargo);
            cmd.current_dir(&dir)
                .args(["build", "--offline", "--quiet"])
                .env("CARGO_TARGET_DIR", &target);
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy().into_owned();
                if key.starts_with("CARGO_") && key != "CARGO_HOME" {
                    cmd.env_remove(key);
                }
            }
            let status = cmd.status().expect("run cargo");
            assert!(status.success(), "building the embedding program failed");
            target
                .join("debug")
                .join(format!("embedder{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

fn run(program: &Path, plugins: &Path, cache: &Path, file: &Path, hook: bool) -> (bool, String) {
    let mut c = Command::new(program);
    c.arg(file)
        .env("IMAGEIO_PLUGIN_PATH", plugins)
        .env("IMAGEIO_PLUGIN_CACHE", cache)
        .env_remove("IMAGEIO_WORKER")
        .env_remove("IMAGEIO_ISOLATION");
    if !hook {
        c.env("EMBEDDER_NO_HOOK", "1");
    }
    let o = c.output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn a_program_that_embeds_the_library_is_its_own_worker_with_one_line() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    c_fixture_with(
        "broken",
        &["BROKEN_WHERE=0", "BROKEN_HOW=1"],
        &plugins.join(dll_name("thirdparty")),
    );
    let file = root.path().join("x.brkn");
    std::fs::write(&file, [b'B', b'R', b'K', b'N', 2, 2, 1, 2, 3, 4]).unwrap();
    let program = embedder();
    // Nothing shipped beside it.
    assert!(!program.with_file_name("imageio-worker").exists());
    let (ok, out) = run(&program, &plugins, &root.path().join("cache.bin"), &file, true);
    assert!(ok, "{out}");
    assert!(out.contains("read [2, 2] [1, 2, 3, 4]"), "{out}");

    // Without the hook, nothing to run the plugin in: the error says which
    // plugin, why, and what to do.
    let (ok, out) = run(&program, &plugins, &root.path().join("cache2.bin"), &file, false);
    assert!(!ok, "{out}");
    for needle in [
        "libthirdparty",
        "must run isolated",
        "no worker program",
        "serve_if_worker",
        "IMAGEIO_WORKER",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from: {out}");
    }
}
