//! The header compiles cleanly in C and C++, and its layouts match Rust's.

use imageio_plugin_api::ffi::*;
use imageio_tests::{cc, workspace};
use std::mem::{offset_of, size_of};
use std::process::Command;

fn compile(compiler: &str, std: &str, lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join(if lang == "c" { "t.c" } else { "t.cpp" });
    std::fs::write(
        &src,
        "#include \"imageio_plugin.h\"\nint main(void) { return IIO_OK; }\n",
    )
    .unwrap();
    let out = Command::new(compiler)
        .args([
            std,
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-fsyntax-only",
            "-x",
            lang,
        ])
        .arg("-I")
        .arg(workspace().join("include"))
        .arg(&src)
        .output()
        .expect("run the compiler");
    assert!(
        out.status.success(),
        "{compiler} {std}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_as_c99_pedantic() {
    compile(&cc(), "-std=c99", "c");
}

#[test]
fn header_compiles_as_cpp17_pedantic() {
    compile(
        &std::env::var("CXX").unwrap_or_else(|_| "c++".into()),
        "-std=c++17",
        "c++",
    );
}

#[test]
fn c_and_rust_layouts_agree() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("layout");
    let status = Command::new(cc())
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(workspace().join("include"))
        .arg(workspace().join("tests/c/layout.c"))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success());
    let out = String::from_utf8(Command::new(&exe).output().unwrap().stdout).unwrap();
    let c: std::collections::HashMap<&str, usize> = out
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.trim_end_matches(" size"), v.parse().unwrap())
        })
        .collect();
    let rust: Vec<(&str, usize)> = vec![
        ("iio_str", size_of::<iio_str>()),
        ("iio_error", size_of::<iio_error>()),
        ("iio_value", size_of::<iio_value>()),
        ("iio_kv", size_of::<iio_kv>()),
        ("iio_stream", size_of::<iio_stream>()),
        ("iio_request", size_of::<iio_request>()),
        ("iio_image_sink", size_of::<iio_image_sink>()),
        ("iio_array_view", size_of::<iio_array_view>()),
        ("iio_host_v1", size_of::<iio_host_v1>()),
        ("iio_format_v1", size_of::<iio_format_v1>()),
        ("iio_plugin_v1", size_of::<iio_plugin_v1>()),
        ("iio_value.f", offset_of!(iio_value, f)),
        ("iio_value.ptr", offset_of!(iio_value, ptr)),
        ("iio_value.len", offset_of!(iio_value, len)),
        ("iio_kv.value", offset_of!(iio_kv, value)),
        ("iio_stream.ctx", offset_of!(iio_stream, ctx)),
        ("iio_stream.read", offset_of!(iio_stream, read)),
        ("iio_stream.seek", offset_of!(iio_stream, seek)),
        ("iio_stream.size_hint", offset_of!(iio_stream, size_hint)),
        ("iio_request.io_mode", offset_of!(iio_request, io_mode)),
        ("iio_request.image_mode", offset_of!(iio_request, image_mode)),
        ("iio_request.stream", offset_of!(iio_request, stream)),
        ("iio_request.uri", offset_of!(iio_request, uri)),
        ("iio_request.extension", offset_of!(iio_request, extension)),
        ("iio_request.first_bytes", offset_of!(iio_request, first_bytes)),
        ("iio_request.options", offset_of!(iio_request, options)),
        ("iio_request.host_ctx", offset_of!(iio_request, host_ctx)),
        (
            "iio_request.get_local_filename",
            offset_of!(iio_request, get_local_filename),
        ),
        ("iio_image_sink.alloc", offset_of!(iio_image_sink, alloc)),
        ("iio_image_sink.set_meta", offset_of!(iio_image_sink, set_meta)),
        ("iio_array_view.shape", offset_of!(iio_array_view, shape)),
        ("iio_array_view.data", offset_of!(iio_array_view, data)),
        ("iio_host_v1.log", offset_of!(iio_host_v1, log)),
        ("iio_host_v1.log_max_level", offset_of!(iio_host_v1, log_max_level)),
        ("iio_format_v1.name", offset_of!(iio_format_v1, name)),
        ("iio_format_v1.modes", offset_of!(iio_format_v1, modes)),
        ("iio_format_v1.can_read", offset_of!(iio_format_v1, can_read)),
        ("iio_format_v1.open", offset_of!(iio_format_v1, open)),
        ("iio_format_v1.get_data", offset_of!(iio_format_v1, get_data)),
        ("iio_format_v1.set_meta_data", offset_of!(iio_format_v1, set_meta_data)),
        ("iio_plugin_v1.id", offset_of!(iio_plugin_v1, id)),
        ("iio_plugin_v1.formats", offset_of!(iio_plugin_v1, formats)),
        ("iio_plugin_v1.format_count", offset_of!(iio_plugin_v1, format_count)),
        ("iio_limits", size_of::<iio_limits>()),
        ("iio_signature", size_of::<iio_signature>()),
        ("iio_request.limits", offset_of!(iio_request, limits)),
        ("iio_format_v1.signatures", offset_of!(iio_format_v1, signatures)),
        (
            "iio_format_v1.signature_count",
            offset_of!(iio_format_v1, signature_count),
        ),
        ("iio_limits.max_width", offset_of!(iio_limits, max_width)),
        (
            "iio_limits.max_meta_total_bytes",
            offset_of!(iio_limits, max_meta_total_bytes),
        ),
        ("iio_signature.bytes", offset_of!(iio_signature, bytes)),
        ("iio_signature.mask", offset_of!(iio_signature, mask)),
        ("iio_signature.len", offset_of!(iio_signature, len)),
    ];
    assert_eq!(c.len(), rust.len(), "layout.c and this test list different items");
    for (name, size) in rust {
        assert_eq!(
            c.get(name),
            Some(&size),
            "{name}: C says {:?}, Rust says {size}",
            c.get(name)
        );
    }
}

/// ABI 1.0 is frozen: its structs (x86-64/aarch64 LP64) only grew at the
/// end in 1.1 and 1.2, every 1.0 field where it was.
#[test]
#[cfg(target_pointer_width = "64")]
fn abi_1_0_sizes_are_frozen() {
    // 1.0 ended at 144 and 96 bytes; 1.1 appended the signatures and the limits.
    assert_eq!(offset_of!(iio_format_v1, signatures), 144);
    assert_eq!(size_of::<iio_format_v1>(), 160);
    assert_eq!(offset_of!(iio_request, limits), 96);
    assert_eq!(size_of::<iio_request>(), 104);
    assert_eq!(offset_of!(iio_format_v1, set_meta_data), 136);
    assert_eq!(offset_of!(iio_request, get_local_filename), 88);
    assert_eq!(size_of::<iio_limits>(), 80);
    assert_eq!(size_of::<iio_signature>(), 32);
    assert_eq!(size_of::<iio_plugin_v1>(), 56);
    // 1.2 appended provide_extension to the host's table (the host fills
    // it in; plugins check struct_size), and grew no table a plugin fills.
    assert_eq!(offset_of!(iio_host_v1, provide_extension), 24);
    assert_eq!(size_of::<iio_host_v1>(), 32);
    assert_eq!(size_of::<iio_image_sink>(), 32);
    assert_eq!(size_of::<iio_stream>(), 48);
    assert_eq!(offset_of!(iio_plugin_v1, abi_version), 0);
    assert_eq!(offset_of!(iio_plugin_v1, struct_size), 4);
}
