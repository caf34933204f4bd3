//! `include/imageio_plugin.h` is generated from `src/ffi.rs` by cbindgen and
//! committed. This test regenerates it in memory and fails when the committed
//! file is stale. `IIO_BLESS=1` rewrites the file instead.

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
    let path = crate_dir.join("../include/imageio_plugin.h");
    if std::env::var_os("IIO_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/imageio_plugin.h is stale: regenerate it with \
         `IIO_BLESS=1 cargo test -p imageio-plugin-api --test header` and commit it"
    );
}
