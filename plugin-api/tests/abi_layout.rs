//! abi_stable in its bounded role: layout checking. With the
//! `stable-abi` feature, every ABI type derives `StableAbi`, and this test
//! compares the full layout of the two root tables (and everything reachable
//! from them: every struct, field, pointer and function signature) with the
//! snapshot of the current ABI in `tests/abi-<major>.<minor>.layout`. Any
//! change to a released type fails here; appending fields for a new minor
//! means a new snapshot file (the older ones stay, as the record of what
//! each minor was; `tests/abi.rs` in the workspace checks that 1.1 kept
//! every 1.0 offset). `IIO_BLESS=1` writes the current snapshot.
#![cfg(feature = "stable-abi")]

use abi_stable::StableAbi;
use imageio_plugin_api::ffi::{
    iio_doc_ext_v1, iio_host_v1, iio_image_properties, iio_options_ext_v1, iio_plugin_v1, iio_properties_ext_v1,
};
use std::path::Path;

/// The layouts as text: the two root tables, and (ABI 1.2) the extension
/// structs, which are reached through `void` pointers and so are not in
/// the tables' graphs.
fn snapshot() -> String {
    let mut text = format!(
        "iio_plugin_v1:\n{:#?}\n\niio_host_v1:\n{:#?}\n",
        <iio_plugin_v1 as StableAbi>::LAYOUT,
        <iio_host_v1 as StableAbi>::LAYOUT
    );
    if imageio_plugin_api::ffi::IIO_ABI_VERSION_MINOR >= 2 {
        text.push_str(&format!(
            "\niio_properties_ext_v1:\n{:#?}\n\niio_image_properties:\n{:#?}\n\niio_options_ext_v1:\n{:#?}\n\n\
             iio_doc_ext_v1:\n{:#?}\n",
            <iio_properties_ext_v1 as StableAbi>::LAYOUT,
            <iio_image_properties as StableAbi>::LAYOUT,
            <iio_options_ext_v1 as StableAbi>::LAYOUT,
            <iio_doc_ext_v1 as StableAbi>::LAYOUT
        ));
    }
    text
}

/// A snapshot without what varies between builds: lines with pointer
/// addresses, source line numbers (documentation edits) and the `UTypeId`
/// blocks (Rust's `TypeId` hashes the crate's build metadata, which changes
/// with its dependencies, not with the layout).
fn stable(text: &str) -> String {
    let mut out = String::new();
    let mut skip_until: Option<String> = None;
    for l in text.lines() {
        if let Some(end) = &skip_until {
            if l == end {
                skip_until = None;
            }
            continue;
        }
        let trimmed = l.trim_start();
        if trimmed.starts_with("type_id: UTypeId {") {
            let indent = &l[..l.len() - trimmed.len()];
            skip_until = Some(format!("{indent}}},"));
            continue;
        }
        if l.contains("0x0000") || trimmed.starts_with("line:") {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[test]
fn abi_layout_is_frozen() {
    use imageio_plugin_api::ffi::{IIO_ABI_VERSION_MAJOR, IIO_ABI_VERSION_MINOR};
    let name = format!("abi-{IIO_ABI_VERSION_MAJOR}.{IIO_ABI_VERSION_MINOR}.layout");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(&name);
    let now = stable(&snapshot());
    if std::env::var_os("IIO_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let frozen = stable(&std::fs::read_to_string(&path).unwrap_or_default());
    if frozen != now {
        let _ = std::fs::write(std::env::temp_dir().join(format!("{name}.actual")), &now);
    }
    assert!(
        frozen == now,
        "the layout of the ABI types changed (see tests/{name}; IIO_BLESS=1 writes it only when \
         the change is a deliberate new ABI version)"
    );
}

#[test]
fn abi_stable_checker_accepts_identical_layouts() {
    let l = <iio_plugin_v1 as StableAbi>::LAYOUT;
    abi_stable::abi_stability::abi_checking::check_layout_compatibility(l, l)
        .expect("identical layouts are compatible");
}
