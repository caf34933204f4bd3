//! Loading real shared libraries: standard plugins, broken fixtures, panics,
//! serialisation of plugins that are not thread-safe.

use imageio::plugin::{LoadError, PluginStatus};
use imageio::{Error, FormatManager, Options};
use imageio_tests::*;
use std::path::Path;

fn load(fm: &FormatManager, p: &Path) -> Result<Vec<String>, LoadError> {
    // SAFETY: the test loads libraries built from this repository.
    unsafe { fm.load_plugin(p) }
}

#[test]
fn standard_plugins_load_as_shared_libraries() {
    let fm = FormatManager::new();
    assert_eq!(load(&fm, &png_plugin_library()).unwrap(), ["PNG"]);
    assert_eq!(load(&fm, &pnm_plugin_library()).unwrap(), ["PNM"]);
    let png = fm.get("PNG").unwrap();
    assert!(matches!(png.origin(), imageio::plugin::Origin::File(_)));
    let im = fm
        .imread(workspace().join("tests/data/hello-page.png"), &Options::default())
        .unwrap();
    assert_eq!(im.shape(), &[320, 372, 3]);
    // The same pixels through the builtin.
    let builtin = FormatManager::with_builtins()
        .imread(workspace().join("tests/data/hello-page.png"), &Options::default())
        .unwrap();
    assert_eq!(im.data, builtin.data);
    // PNM from the C shared library, round trip through <bytes>.
    let bytes = fm
        .imwrite("<bytes>", &im, &Options::default().with_format("PNM"))
        .unwrap()
        .unwrap();
    assert!(bytes.starts_with(b"P6\n372 320\n255\n"));
    assert_eq!(fm.imread(bytes, &Options::default()).unwrap().data, im.data);
}

#[test]
fn loading_the_same_file_twice_registers_once() {
    let fm = FormatManager::new();
    load(&fm, &png_plugin_library()).unwrap();
    assert!(load(&fm, &png_plugin_library()).unwrap().is_empty());
    assert_eq!(fm.len(), 1);
}

#[test]
fn each_broken_plugin_has_its_own_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let fm = FormatManager::with_builtins();
    let garbage = load(&fm, &garbage_library(dir.path())).unwrap_err();
    assert!(matches!(garbage, LoadError::Open { .. }), "{garbage}");
    let no_entry = load(&fm, &c_fixture("no_entry")).unwrap_err();
    assert!(matches!(no_entry, LoadError::NotAPlugin { .. }), "{no_entry}");
    assert!(
        no_entry
            .to_string()
            .contains("is not a plugin (no `iio_plugin_entry_v1` symbol)")
    );
    let major2 = load(&fm, &c_fixture("major2")).unwrap_err();
    assert!(
        matches!(major2, LoadError::IncompatibleAbi { major: 2, .. }),
        "{major2}"
    );
    assert!(
        major2
            .to_string()
            .contains("was built for plugin ABI 2.x; this host speaks 1.2")
    );
    let major2_only = load(&fm, &c_fixture("major2_only")).unwrap_err();
    assert!(
        matches!(major2_only, LoadError::IncompatibleAbi { major: 2, .. }),
        "{major2_only}"
    );
    let refused = load(&fm, &c_fixture("null_entry")).unwrap_err();
    assert!(matches!(refused, LoadError::Refused { .. }), "{refused}");
    let truncated = load(&fm, &c_fixture("truncated")).unwrap_err();
    assert!(matches!(truncated, LoadError::BadTable { .. }), "{truncated}");
    assert!(truncated.to_string().contains("truncated table"), "{truncated}");
    let missing = load(&fm, &c_fixture("missing_fn")).unwrap_err();
    assert!(missing.to_string().contains("get_data is NULL"), "{missing}");
    // Every outcome recorded, and the host still works.
    let rejected = fm
        .plugin_reports()
        .iter()
        .filter(|r| r.status == PluginStatus::Rejected)
        .count();
    assert_eq!(rejected, 7);
    let im = fm
        .imread(workspace().join("tests/data/hello-page.png"), &Options::default())
        .unwrap();
    assert_eq!(im.shape(), &[320, 372, 3]);
}

#[test]
fn discovery_sorts_files_and_records_shadowed_plugins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(png_plugin_library(), dir.path().join(dll_name("b_png"))).unwrap();
    garbage_library(dir.path());
    std::fs::write(dir.path().join("notes.txt"), "not a library").unwrap();
    let fm = FormatManager::with_builtins();
    // SAFETY: the folder holds this test's own fixtures.
    unsafe { fm.load_plugin_dirs(&[dir.path().to_owned()]) };
    let reports = fm.plugin_reports();
    let files: Vec<_> = reports
        .iter()
        .filter_map(|r| match &r.origin {
            imageio::plugin::Origin::File(p) => Some((p.file_name().unwrap().to_string_lossy().into_owned(), r.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        files,
        [
            (dll_name("b_png"), PluginStatus::Shadowed),
            (dll_name("garbage"), PluginStatus::Rejected)
        ]
    );
    assert!(matches!(
        fm.get("PNG").unwrap().origin(),
        imageio::plugin::Origin::Builtin(_)
    ));
}

#[test]
fn a_panicking_plugin_is_contained_and_the_host_keeps_working() {
    let fm = FormatManager::with_builtins();
    assert_eq!(load(&fm, &panicky_library()).unwrap(), ["PANICKY"]);
    let file = workspace().join("tests/data/hello-page.png");
    // can_read panics: treated as "cannot read", PNG still wins.
    let im = fm.imread(&file, &Options::default()).unwrap();
    assert_eq!(im.shape(), &[320, 372, 3]);
    for _ in 0..3 {
        let err = fm
            .imread(&file, &Options::default().with_format("PANICKY"))
            .unwrap_err();
        match &err {
            Error::Panicked {
                format,
                plugin,
                message,
                ..
            } => {
                assert_eq!((format.as_str(), plugin.as_str()), ("PANICKY", "panicky"));
                assert!(message.contains("simulated plugin bug: width 0xDEAD"), "{message}");
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert!(err.to_string().contains("hello-page.png"), "{err}");
    }
    assert_eq!(fm.imread(&file, &Options::default()).unwrap().data, im.data);
}

/// Log records the host's logger received (target, message).
static RECORDS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        RECORDS
            .lock()
            .unwrap()
            .push((r.target().to_owned(), r.args().to_string()));
    }
    fn flush(&self) {}
}

#[test]
fn plugin_log_records_and_panic_messages_reach_the_host_logger() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let fm = FormatManager::with_builtins();
    load(&fm, &panicky_library()).unwrap();
    let file = workspace().join("tests/data/hello-page.png");
    let _ = fm
        .imread(&file, &Options::default().with_format("PANICKY"))
        .unwrap_err();
    let records = RECORDS.lock().unwrap().clone();
    let from_plugin: Vec<_> = records.iter().filter(|(t, _)| t == "imageio::plugin").collect();
    assert!(
        from_plugin
            .iter()
            .any(|(_, m)| m.contains("PANICKY is about to fail on") && m.contains("hello-page.png")),
        "{from_plugin:?}"
    );
    assert!(
        from_plugin
            .iter()
            .any(|(_, m)| m.contains("simulated plugin bug: width 0xDEAD")),
        "the panic message is routed to the host's log: {from_plugin:?}"
    );
}

#[test]
fn plugins_without_thread_safe_are_serialized() {
    let fm = FormatManager::with_builtins();
    load(&fm, &c_fixture("serial")).unwrap();
    let f = fm.get("SERIAL").unwrap();
    assert!(f.is_serialized());
    assert!(!fm.get("PNG").unwrap().is_serialized());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.serial");
    std::fs::write(&file, b"SERIAL\x07").unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10 {
                    let im = fm.imread(&file, &Options::default()).unwrap();
                    assert_eq!(im.data.as_u8().unwrap().iter().copied().collect::<Vec<_>>(), [7; 6]);
                }
            });
        }
    });
}
