//! `include/imageio_plugin.h` is generated from `src/ffi.rs` by cbindgen and
//! committed, with identical copies in this crate's `include/` (the
//! published SDK ships the header) and in the PNM plugin's `include/` (its
//! published crate compiles C against it). This test regenerates it in
//! memory and fails when any committed copy is stale. `IIO_BLESS=1`
//! rewrites them instead.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_src(crate_dir.join("src/ffi.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header")
        .write(&mut generated);
    for path in [
        crate_dir.join("../include/imageio_plugin.h"),
        crate_dir.join("include/imageio_plugin.h"),
        crate_dir.join("../plugins/pnm/include/imageio_plugin.h"),
    ] {
        if std::env::var_os("IIO_BLESS").is_some() {
            std::fs::write(&path, &generated).expect("write header");
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: regenerate it with `IIO_BLESS=1 cargo test -p imageio-plugin-api --test header` and \
             commit it",
            path.display()
        );
    }
}
