//! The README's examples are real: its C plugin compiles from the header
//! alone and loads; its Rust example is a doctest of `imageio-plugin-api`.

use imageio::{FormatManager, Options};
use imageio_tests::{compile_c_plugin, dll_name, workspace};

fn c_example() -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find("<!-- example: c-plugin").expect("marker");
    let code = &readme[start..];
    let code = &code[code.find("```c\n").expect("c block") + 5..];
    code[..code.find("```").expect("end of block")].to_owned()
}

#[test]
fn readme_c_plugin_compiles_loads_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("gray8.c");
    std::fs::write(&src, c_example()).unwrap();
    let lib = dir.path().join(dll_name("gray8"));
    compile_c_plugin(&src, &lib);
    let fm = FormatManager::with_builtins();
    // SAFETY: the library was just built from the README.
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
    assert!(e.to_string().contains("truncated pixels"), "{e}");
}
