//! The plugin authors' guide's examples are real: its C plugin compiles from
//! the header alone, loads, reads and writes; its Rust plugin is a doctest of
//! `imageio-plugin-api`.

use imageio::{FormatManager, Options};
use imageio_tests::{compile_c_plugin, dll_name, workspace};

/// The first C code block after `marker` in the file `doc`.
fn c_block(doc: &str, marker: &str) -> String {
    let readme = std::fs::read_to_string(workspace().join(doc)).unwrap();
    let start = readme.find(marker).expect("marker");
    let code = &readme[start..];
    let code = &code[code.find("```c\n").expect("c block") + 5..];
    code[..code.find("```").expect("end of block")].to_owned()
}

#[test]
fn the_guides_c_plugin_compiles_loads_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("gray8.c");
    std::fs::write(&src, c_block("plugin-api/README.md", "## A complete plugin in C")).unwrap();
    let lib = dir.path().join(dll_name("gray8_guide"));
    compile_c_plugin(&src, &lib);
    let fm = FormatManager::with_builtins();
    // SAFETY: the library was just built from the guide.
    assert_eq!(unsafe { fm.load_plugin(&lib) }.unwrap(), ["GRAY8"]);
    let mut file = b"GRAY8\n\x03\x02".to_vec();
    file.extend([1, 2, 3, 4, 5, 6]);
    let im = fm.imread(file.clone(), &Options::default()).unwrap();
    assert_eq!(im.shape(), &[2, 3]);
    assert_eq!(
        im.data.as_u8().unwrap().iter().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let e = fm.imread(file[..10].to_vec(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("the file is truncated"), "{e}");
    let written = fm
        .imwrite("<bytes>", &im, &Options::default().with_format("GRAY8"))
        .unwrap()
        .unwrap();
    assert_eq!(written, file);
}
