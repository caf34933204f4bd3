//! ABI 1.2: a format offers properties without decoding, its options and
//! its documentation through `iio_host_v1.provide_extension`, and no table
//! grew: plugins built against the frozen 1.0 and 1.1 headers load and
//! work, and a 1.1 source with positional tables compiles warning-free
//! against the 1.2 header. Real C plugins (the PNM plugin, built three
//! ways), in this process and in workers.

use imageio::plugin::{Isolation, IsolationConfig};
use imageio::v3::Args;
use imageio::{ErrorKind, FormatManager, Image, Options};
use imageio_tests::*;
use std::path::Path;

/// A manager holding only the plugin at `path`, isolated or not.
fn only(path: &Path, isolated: bool, cache: &Path) -> FormatManager {
    let fm = FormatManager::new();
    fm.set_isolation(IsolationConfig {
        policy: if isolated { Isolation::All } else { Isolation::Off },
        worker: Some(worker_bin()),
        registry_cache: Some(cache.to_owned()),
        ..IsolationConfig::default()
    });
    // SAFETY: the test's own plugin, built from this repository.
    unsafe { fm.load_plugin(path) }.expect("the plugin loads");
    fm
}

/// A 4x3 PGM, and the same cut after its header (no pixel data at all).
fn pgms(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let whole = dir.join("x.pgm");
    let mut f = b"P5\n4 3\n255\n".to_vec();
    f.extend((0..12u8).map(|i| i * 10));
    std::fs::write(&whole, &f).unwrap();
    let cut = dir.join("cut.pgm");
    std::fs::write(&cut, b"P5\n4 3\n255\n").unwrap();
    (whole, cut)
}

#[test]
fn a_1_2_c_plugin_offers_properties_options_and_documentation() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = pgms(dir.path());
    for isolated in [false, true] {
        let fm = only(&pnm_plugin_library(), isolated, &dir.path().join("cache.bin"));
        let f = fm.get("PNM").unwrap();
        assert_eq!(f.is_isolated(), isolated);
        let options = f.options().expect("PNM declares its options");
        assert_eq!(options.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["ascii"]);
        assert!(options[0].write && !options[0].read);
        let doc = f.doc();
        assert!(
            doc.contains("PAM") && doc.contains("ascii (a boolean, writing; default false)"),
            "{doc}"
        );

        // Properties come from the header: the cut file has none of its
        // pixels, yet its properties are known; reading it fails.
        let props = Args::new().improps_in(&fm, cut.as_path()).unwrap();
        assert_eq!(
            (props.shape.as_slice(), props.dtype.name(), props.n_images),
            (&[3, 4][..], "uint8", 1)
        );
        let e = fm.imread(cut.as_path(), &Options::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        assert_eq!(Args::new().imread_in(&fm, whole.as_path()).unwrap().shape(), &[3, 4]);

        // The host checks options before the plugin runs, in its words.
        let im = Image::from(imageio::ndarray::Array2::<u8>::zeros((2, 2)));
        let out = dir.path().join("o.pgm");
        let e = Args::new()
            .option("qualty", 90)
            .imwrite_in(&fm, out.as_path(), &im)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Misuse);
        assert!(
            e.to_string().ends_with(
                "format PNM (imageio-pnm) failed: unknown option \"qualty\" for format PNM (known options: ascii) \
                 [invalid argument]"
            ),
            "isolated: {isolated}: {e}"
        );
        let e = Args::new()
            .option("ascii", "yes")
            .imwrite_in(&fm, out.as_path(), &im)
            .unwrap_err();
        assert!(e.to_string().contains("must be a boolean"), "{e}");
        Args::new()
            .option("ascii", true)
            .imwrite_in(&fm, out.as_path(), &im)
            .unwrap();
        assert!(std::fs::read(&out).unwrap().starts_with(b"P2"));
        // A read option the format does not have for reading.
        let e = Args::new()
            .option("ascii", true)
            .imread_in(&fm, whole.as_path())
            .unwrap_err();
        assert!(e.to_string().contains("(known options: none)"), "{e}");
    }
}

#[test]
fn plugins_built_against_the_frozen_1_0_and_1_1_headers_work_on_a_1_2_host() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = pgms(dir.path());
    let c = workspace().join("plugins/pnm/c");
    for abi in ["1.0", "1.1"] {
        let lib = dir.path().join(dll_name(&format!("pnm_abi_{}", abi.replace('.', "_"))));
        compile_c_plugin_with(
            &[&c.join("pnm.c"), &c.join("entry.c")],
            &lib,
            &workspace().join(format!("tests/c/abi-{abi}")),
        );
        for isolated in [false, true] {
            let fm = only(&lib, isolated, &dir.path().join(format!("cache-{abi}.bin")));
            let f = fm.get("PNM").unwrap();
            assert!(
                f.options().is_none(),
                "{abi}: a plugin of ABI {abi} declares no options"
            );
            assert!(!f.doc().contains("Options:"), "{abi}");
            let im = fm.imread(whole.as_path(), &Options::default()).unwrap();
            assert_eq!(
                im.data.to_bytes(),
                (0..12u8).map(|i| i * 10).collect::<Vec<_>>(),
                "{abi}"
            );
            // No properties extension: the host decodes to answer, so the
            // cut file's properties are an error, the whole file's right.
            let props = Args::new().improps_in(&fm, whole.as_path()).unwrap();
            assert_eq!(props.shape, [3, 4], "{abi}");
            assert!(Args::new().improps_in(&fm, cut.as_path()).is_err(), "{abi}");
            // Its own option check still runs.
            let e = Args::new()
                .option("qualty", 1)
                .imwrite_in(&fm, dir.path().join("o.pgm"), &im)
                .unwrap_err();
            assert!(
                e.to_string().contains("unknown option \"qualty\" for format PNM"),
                "{abi}: {e}"
            );
        }
    }
}

/// Positional tables written for 1.1 (every fixture of `tests/c/fixtures`
/// is one) compile with `-Wall -Wextra -Wpedantic -Werror` against the 1.2
/// header: 1.2 grew no table a plugin fills in.
#[test]
fn a_1_1_source_with_positional_tables_compiles_warning_free_against_1_2() {
    let dir = tempfile::tempdir().unwrap();
    for fixture in ["broken", "hostile"] {
        let out = dir.path().join(dll_name(fixture));
        let status = std::process::Command::new(cc())
            .args(imageio_pnm::C_PLUGIN_FLAGS)
            .args(["-fPIC", "-shared", "-DBROKEN_WHERE=0", "-DBROKEN_HOW=1"])
            .arg("-I")
            .arg(workspace().join("include"))
            .arg("-I")
            .arg(workspace().join("tests/c/fixtures"))
            .arg(workspace().join(format!("tests/c/fixtures/{fixture}.c")))
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "{fixture}.c does not compile cleanly against the 1.2 header"
        );
    }
    // And the header, in C++, keeps IIO_HAS_FIELD clean of old-style casts.
    let src = dir.path().join("t.cpp");
    std::fs::write(
        &src,
        "#include \"imageio_plugin.h\"\nbool f(const iio_host_v1 *h) { return IIO_HAS_FIELD(h, iio_host_v1, \
         provide_extension); }\nint main() { return 0; }\n",
    )
    .unwrap();
    let out = std::process::Command::new(std::env::var("CXX").unwrap_or_else(|_| "c++".into()))
        .args([
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Wold-style-cast",
            "-Werror",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(workspace().join("include"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The standard Rust plugins answer properties from their headers: a PNG
/// whose pixel data is cut still has its properties, in process and
/// isolated, and they are what reading the whole file returns.
#[test]
fn standard_plugins_answer_properties_without_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let png = std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &png[..200]).unwrap();
    let all = FormatManager::with_builtins();
    all.set_isolation(IsolationConfig {
        policy: Isolation::All,
        worker: Some(worker_bin()),
        registry_cache: Some(dir.path().join("c.bin")),
        ..IsolationConfig::default()
    });
    let isolated = FormatManager::new();
    isolated.set_isolation(all.isolation());
    isolated.add_builtins();
    for fm in [&all, &isolated] {
        let props = Args::new().improps_in(fm, cut.as_path()).unwrap();
        assert_eq!(
            (props.shape.as_slice(), props.dtype.name()),
            (&[320, 372, 3][..], "uint8")
        );
        assert!(fm.imread(cut.as_path(), &Options::default()).is_err());
    }
    // Every standard format: the properties are exactly what reading gives.
    let frames =
        imageio::ndarray::Array4::<u8>::from_shape_fn((3, 16, 24, 3), |(f, y, x, c)| (f * 40 + y + x + c * 7) as u8);
    let batch = Image::from(frames);
    for ext in [".png", ".jpg", ".tif", ".gif", ".bmp", ".npy", ".webp", ".ppm"] {
        let file = dir.path().join(format!("x{ext}"));
        let multi = matches!(ext, ".tif" | ".gif" | ".npy" | ".webp");
        let image = if multi {
            batch.clone()
        } else {
            batch.slice_batch(0).unwrap()
        };
        let args = if multi && ext != ".npy" {
            Args::new().all()
        } else {
            Args::new()
        };
        args.imwrite(file.as_path(), &image).unwrap();
        for fm in [&all, &isolated] {
            let props = Args::new().improps_in(fm, file.as_path()).unwrap();
            let read = Args::new().imread_in(fm, file.as_path()).unwrap();
            assert_eq!(props.shape, read.shape(), "{ext}");
            assert_eq!(props.dtype, read.dtype(), "{ext}");
        }
    }
}
