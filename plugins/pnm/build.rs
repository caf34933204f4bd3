//! Compiles the C plugin twice with the project's C flags:
//! - `pnm.c` into a static library linked into this crate (the builtin);
//! - `pnm.c` + `entry.c` into `libimageio_pnm.so` (the loadable plugin) in
//!   `OUT_DIR`, whose path the crate exports as `SHARED_LIBRARY`.

use std::path::PathBuf;
use std::process::Command;

include!("flags.rs");

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    // The header: this crate's copy of include/imageio_plugin.h (the
    // header test keeps it identical), so the published crate builds alone.
    let include = manifest.join("include");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for f in ["flags.rs", "c/pnm.c", "c/entry.c"] {
        println!("cargo:rerun-if-changed={}", manifest.join(f).display());
    }
    println!("cargo:rerun-if-changed={}", include.join("imageio_plugin.h").display());

    let mut build = cc::Build::new();
    build.file(manifest.join("c/pnm.c")).include(&include).warnings(false);
    for f in C_PLUGIN_FLAGS {
        build.flag(f);
    }
    build.compile("imageio_pnm");

    let dll = format!(
        "{}imageio_pnm.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    );
    let target = out.join(&dll);
    let compiler = cc::Build::new().pic(true).get_compiler();
    let mut cmd: Command = compiler.to_command();
    cmd.args(C_PLUGIN_FLAGS)
        .arg("-O2")
        .arg("-shared")
        .arg("-I")
        .arg(&include)
        .arg(manifest.join("c/pnm.c"))
        .arg(manifest.join("c/entry.c"))
        .arg("-o")
        .arg(&target);
    if cfg!(target_os = "linux") {
        cmd.arg("-Wl,--no-undefined");
    }
    let status = cmd.status().expect("run the C compiler");
    assert!(status.success(), "building {dll} failed: {cmd:?}");
    println!("cargo:rustc-env=IMAGEIO_PNM_SHARED_LIBRARY={}", target.display());
}
