//! abi_stable in its bounded role: layout checking. With the
//! `stable-abi` feature, every ABI type derives `StableAbi`, and this test
//! compares the full layout of the two root tables (and everything reachable
//! from them: every struct, field, pointer and function signature) with the
//! snapshot of ABI 1.0 in `tests/abi-1.0.layout`. Any change to a released
//! type fails here; appending fields for a new minor means a new snapshot.
//! `IIO_BLESS=1` rewrites the snapshot.
#![cfg(feature = "stable-abi")]

use abi_stable::StableAbi;
use imageio_plugin_api::ffi::{iio_host_v1, iio_plugin_v1};
use std::path::Path;

/// The layouts as text, without what varies between builds (lines with
/// pointer addresses)
/// or with documentation edits (source line numbers).
fn snapshot() -> String {
    let text = format!(
        "iio_plugin_v1:\n{:#?}\n\niio_host_v1:\n{:#?}\n",
        <iio_plugin_v1 as StableAbi>::LAYOUT,
        <iio_host_v1 as StableAbi>::LAYOUT
    );
    text.lines()
        .filter(|l| !l.contains("0x0000") && !l.trim_start().starts_with("line:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn abi_1_0_layout_is_frozen() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/abi-1.0.layout");
    let now = snapshot();
    if std::env::var_os("IIO_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let frozen = std::fs::read_to_string(&path).unwrap_or_default();
    if frozen != now {
        let _ = std::fs::write(std::env::temp_dir().join("abi-1.0.layout.actual"), &now);
    }
    assert!(
        frozen == now,
        "the layout of the ABI types changed (see tests/abi-1.0.layout; IIO_BLESS=1 rewrites it \
         only when the change is a deliberate new ABI version)"
    );
}

#[test]
fn abi_stable_checker_accepts_identical_layouts() {
    let l = <iio_plugin_v1 as StableAbi>::LAYOUT;
    abi_stable::abi_stability::abi_checking::check_layout_compatibility(l, l)
        .expect("identical layouts are compatible");
}
