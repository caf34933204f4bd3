//! The library's layers run one way: each folder of `host/src` uses only
//! the folders below it, so no import circle can form between them.
//!
//! `error.rs` < `base/` (values and helpers) < `request/` < `plugin/` <
//! `registry/` < `lib.rs` (the public face, which may use them all).
//! Every `crate::...` path in code (comments aside) is checked, including
//! names the crate root re-exports, which count as their home folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const LAYERS: [&str; 5] = ["error", "base", "request", "plugin", "registry"];

fn layer(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("the source folder") {
        let p = e.expect("an entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code lines: comments dropped (doc links may name any public path).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate root's re-exports: each name and the folder it comes from.
fn root_names(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let lib = code(lib);
    let mut rest = lib.as_str();
    while let Some(i) = rest.find("pub use ") {
        rest = &rest[i + 8..];
        let end = rest.find(';').unwrap_or(rest.len());
        let stmt = &rest[..end];
        let path = stmt.trim_start_matches("crate::");
        let home = path.split("::").next().unwrap_or("").trim().to_owned();
        let items = stmt
            .split_once('{')
            .map_or(stmt.rsplit("::").next().unwrap_or(""), |(_, b)| b);
        for item in items.split([',', '}']) {
            let name = item.trim();
            if !name.is_empty() {
                names.insert(name.to_owned(), home.clone());
            }
        }
    }
    names
}

#[test]
fn each_folder_uses_only_the_folders_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let roots = root_names(&lib);
    assert!(roots.get("Error").is_some_and(|h| h == "error"), "{roots:?}");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for f in files {
        let rel = f.strip_prefix(&src).expect("inside src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_owned();
        let Some(mine) = layer(&top) else { continue };
        let text = code(&std::fs::read_to_string(&f).expect("a source file"));
        for (i, _) in text.match_indices("crate::") {
            let after = &text[i + 7..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let home = if layer(&name).is_some() {
                name.clone()
            } else if let Some(h) = roots.get(&name) {
                h.clone()
            } else {
                continue;
            };
            checked += 1;
            if let Some(theirs) = layer(&home)
                && theirs > mine
            {
                wrong.push(format!(
                    "{} uses crate::{name} ({home}, a layer above {top})",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        checked > 100,
        "too few paths checked ({checked}): is the source where it was?"
    );
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}
