//! The `imageio` command-line tool, with a third-party C plugin built from
//! the header alone in a directory outside the repository.

use imageio_tests::*;
use std::process::{Command, Output};

fn run(args: &[&str], plugin_path: Option<&std::path::Path>, userdir: &std::path::Path) -> Output {
    let mut cmd = Command::new(imageio_bin());
    cmd.args(args)
        .env("IMAGEIO_USERDIR", userdir)
        .env_remove("IMAGEIO_PLUGIN_PATH");
    if let Some(p) = plugin_path {
        cmd.env("IMAGEIO_PLUGIN_PATH", p);
    }
    cmd.output().expect("run imageio")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn third_party_c_plugin_and_garbage_in_plugin_path() {
    let outside = tempfile::tempdir().unwrap();
    let userdir = tempfile::tempdir().unwrap();
    // Build the plugin outside the repository, from the header alone.
    let src = outside.path().join("serial.c");
    std::fs::copy(workspace().join("tests/c/fixtures/serial.c"), &src).unwrap();
    let plugins = outside.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    compile_c_plugin(&src, &plugins.join(dll_name("serial")));
    garbage_library(&plugins);
    std::fs::copy(c_fixture("no_entry"), plugins.join(dll_name("no_entry"))).unwrap();

    let formats = json(&run(&["formats", "--json"], Some(&plugins), userdir.path()));
    let serial = formats
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "SERIAL")
        .expect("SERIAL listed");
    assert!(serial["origin"].as_str().unwrap().ends_with(&dll_name("serial")));
    assert_eq!(serial["extensions"], serde_json::json!([".serial"]));
    assert_eq!(serial["modes"], "i");
    let names: Vec<_> = formats
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["PNG", "PNM", "JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP", "SERIAL"]
    );
    assert!(formats[0]["origin"] == "builtin");

    let plugins_json = json(&run(&["plugins", "--json"], Some(&plugins), userdir.path()));
    let by_file = |stem: &str| {
        plugins_json
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"].as_str().unwrap().ends_with(&dll_name(stem)))
            .unwrap_or_else(|| panic!("{stem} not listed: {plugins_json}"))
            .clone()
    };
    let garbage = by_file("garbage");
    assert_eq!(garbage["status"], "rejected");
    assert!(
        garbage["reason"].as_str().unwrap().contains("failed to load"),
        "{garbage}"
    );
    let no_entry = by_file("no_entry");
    assert_eq!(no_entry["status"], "rejected");
    assert!(
        no_entry["reason"].as_str().unwrap().contains("is not a plugin"),
        "{no_entry}"
    );
    assert_ne!(garbage["reason"], no_entry["reason"]);
    let serial = by_file("serial");
    assert_eq!(
        (serial["status"].as_str(), serial["formats"][0].as_str()),
        (Some("loaded"), Some("SERIAL"))
    );

    // Everything else still works, and the third-party format reads.
    let file = outside.path().join("x.serial");
    std::fs::write(&file, b"SERIAL\x09").unwrap();
    let info = json(&run(
        &["info", file.to_str().unwrap(), "--json"],
        Some(&plugins),
        userdir.path(),
    ));
    assert_eq!(info["format"], "SERIAL");
    assert_eq!(info["images"][0]["shape"], serde_json::json!([2, 3]));
    let png = workspace().join("tests/data/hello-page.png");
    let info = json(&run(
        &["info", png.to_str().unwrap(), "--json"],
        Some(&plugins),
        userdir.path(),
    ));
    assert_eq!(info["format"], "PNG");
    assert_eq!(info["length"], 1);
    assert_eq!(info["images"][0]["shape"], serde_json::json!([320, 372, 3]));
    assert_eq!(info["images"][0]["dtype"], "uint8");
    assert!(info["meta"]["gamma"].as_f64().is_some());
}

#[test]
fn format_order_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(imageio_bin());
    let out = cmd
        .args(["formats", "--json"])
        .env("IMAGEIO_USERDIR", dir.path())
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .env("IMAGEIO_FORMAT_ORDER", "pnm, png")
        .output()
        .unwrap();
    let names: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["PNM", "PNG", "JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP"]);
}

#[test]
fn convert_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let png = workspace().join("tests/data/hello-page.png");
    let ppm = dir.path().join("out.ppm");
    let out = run(
        &["convert", png.to_str().unwrap(), ppm.to_str().unwrap()],
        None,
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = imageio::imread(&png, &imageio::Options::default()).unwrap();
    let b = imageio::imread(&ppm, &imageio::Options::default()).unwrap();
    assert_eq!(a.data, b.data);
    let back = dir.path().join("back.png");
    let out = run(
        &[
            "convert",
            ppm.to_str().unwrap(),
            back.to_str().unwrap(),
            "--out-format",
            "PNG",
        ],
        None,
        dir.path(),
    );
    assert!(out.status.success());
    assert_eq!(
        imageio::imread(&back, &imageio::Options::default()).unwrap().data,
        a.data
    );

    let out = run(&["info", "/no/such/file.png"], None, dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "imageio: error: No such file: '/no/such/file.png'");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let out = run(&["info", text.to_str().unwrap()], None, dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("notes.txt") && err.lines().count() == 1,
        "{err}"
    );
}

/// Control bytes from files (names, metadata, plugin messages quoting the
/// file) never reach the terminal raw; `--json` stays exact.
#[test]
fn terminal_control_bytes_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\x1b[2J.png";
    let file = dir.path().join(name);
    let script = "import sys\nfrom PIL import Image, PngImagePlugin\ninfo = PngImagePlugin.PngInfo()\n\
                  info.add_text('Comment', 'red\\x1b[31m\\x07bell')\n\
                  Image.new('L', (4, 3)).save(sys.argv[1], pnginfo=info)\n";
    py(script, &[&file]);
    let userdir = tempfile::tempdir().unwrap();
    let text = run(&["info", file.to_str().unwrap()], None, userdir.path());
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let shown = String::from_utf8(text.stdout).unwrap();
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "raw control bytes: {shown:?}"
    );
    // Text values are shown quoted, escaped like Rust string literals.
    assert!(
        shown.contains("evil\\x1b[2J.png") && shown.contains("red\\u{1b}[31m\\u{7}bell"),
        "{shown}"
    );
    let j = json(&run(&["info", file.to_str().unwrap(), "--json"], None, userdir.path()));
    assert_eq!(
        j["images"][0]["meta"]["Comment"], "red\x1b[31m\x07bell",
        "exact in JSON"
    );

    // An error naming the file, and a plugin message quoting the file's bytes.
    let bad = dir.path().join("bad\x1b]0;title\x07.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x10\x00{'descr': '\x1b[5m'}\n").unwrap();
    let err = run(&["info", bad.to_str().unwrap()], None, userdir.path());
    assert!(!err.status.success());
    let stderr = String::from_utf8(err.stderr).unwrap();
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07'),
        "raw control bytes: {stderr:?}"
    );
    assert!(stderr.contains("bad\\x1b]0;title\\x07.npy"), "{stderr}");
}

/// `convert IN... --out-dir DIR --to EXT`: every good file converted (its
/// pixels as Pillow decodes the source), each bad one reported on its own
/// line while the rest go on, exit status 1, nothing written for a failure,
/// and the same result with one job as with two.
#[test]
fn batch_convert_converts_the_rest_and_reports_each_failure() {
    let src = tempfile::tempdir().unwrap();
    let script = "import sys, numpy as np\nfrom PIL import Image\nd = sys.argv[1]\n\
                  for i in range(6):\n\
                  \x20   a = np.random.default_rng(i).integers(0, 256, (17 + i, 23, 3), dtype=np.uint8)\n\
                  \x20   Image.fromarray(a).save(f'{d}/img{i}.png')\n\
                  Image.fromarray(np.full((5, 7), 9, np.uint8)).save(f'{d}/gray.bmp')\n\
                  frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 128, 255)]\n\
                  frames[0].save(f'{d}/anim.gif', save_all=True, append_images=frames[1:])\n";
    py(script, &[src.path()]);
    let s = |name: &str| src.path().join(name).to_str().unwrap().to_owned();
    let png = std::fs::read(s("img0.png")).unwrap();
    std::fs::write(s("cut.png"), &png[..png.len() / 2]).unwrap();
    std::fs::create_dir(src.path().join("again")).unwrap();
    std::fs::copy(s("img1.png"), s("again/img1.png")).unwrap();
    let good = [
        "img0.png", "img2.png", "img3.png", "img4.png", "img5.png", "gray.bmp", "anim.gif",
    ];
    let bad = ["cut.png", "missing.png", "img1.png", "again/img1.png"];
    let userdir = tempfile::tempdir().unwrap();
    for jobs in ["1", "2"] {
        let out_dir = tempfile::tempdir().unwrap();
        let target = out_dir.path().join("new/tiffs");
        let mut args = vec!["convert".to_owned()];
        args.extend(good.iter().chain(&bad).map(|n| s(n)));
        args.extend(["--out-dir", target.to_str().unwrap(), "--to", ".tif", "--jobs", jobs].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, None, userdir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), bad.len() + 1, "one line per failure and a summary: {err}");
        for name in bad {
            let path = s(name);
            assert_eq!(
                lines
                    .iter()
                    .filter(|l| l.starts_with("imageio: error: ") && l.contains(&path))
                    .count(),
                1 + usize::from(name.ends_with("img1.png")),
                "{name}: {err}"
            );
        }
        assert!(lines.last().unwrap().contains("converted 7 of 11"), "{err}");
        let mut written: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        let mut expected: Vec<String> = good
            .iter()
            .map(|n| format!("{}.tif", n.rsplit_once('.').unwrap().0))
            .collect();
        expected.sort();
        assert_eq!(written, expected, "only the good files, no temporary or partial file");
        // Pillow reads every output as the pixels it decodes from the source.
        let check = "import sys, numpy as np\nfrom PIL import Image, ImageSequence\n\
                     def frames(p):\n\
                     \x20   with Image.open(p) as im:\n\
                     \x20       return [np.asarray(f.convert('RGB') if f.mode == 'P' else f) for f in ImageSequence.Iterator(im)]\n\
                     for a, b in zip(sys.argv[1::2], sys.argv[2::2]):\n\
                     \x20   fa, fb = frames(a), frames(b)\n\
                     \x20   assert len(fa) == len(fb), (a, len(fa), len(fb))\n\
                     \x20   for x, y in zip(fa, fb):\n\
                     \x20       assert x.shape == y.shape and (x == y).all(), (a, x.shape, y.shape)\n\
                     print('same')\n";
        let pairs: Vec<String> = good
            .iter()
            .flat_map(|n| {
                let out = target.join(format!("{}.tif", n.rsplit_once('.').unwrap().0));
                [s(n), out.to_str().unwrap().to_owned()]
            })
            .collect();
        assert_eq!(py(check, &pairs).trim(), "same");
    }
    // All good: exit 0, one summary line.
    let out_dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "convert",
            &s("img0.png"),
            &s("img2.png"),
            "--out-dir",
            out_dir.path().to_str().unwrap(),
            "--to",
            "bmp",
        ],
        None,
        userdir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out_dir.path().join("img2.bmp").is_file());
    // An error whose own text names no file (JPEG holds one image, the GIF
    // has three) still gets a line that names it.
    let out = run(
        &[
            "convert",
            &s("anim.gif"),
            &s("img0.png"),
            "--out-dir",
            out_dir.path().to_str().unwrap(),
            "--to",
            "jpg",
        ],
        None,
        userdir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let failed: Vec<&str> = err.lines().filter(|l| l.starts_with("imageio: error: ")).collect();
    assert!(failed.len() == 1 && failed[0].contains(&s("anim.gif")), "{err}");
    assert!(out_dir.path().join("img0.jpg").is_file() && !out_dir.path().join("anim.jpg").exists());
}

/// `imageio formats NAME` shows the format's own documentation and its
/// declared options; `imageio info --props` gives shapes without decoding
/// (a PNG cut inside its pixel data still has them; plain `info` refuses it).
#[test]
fn formats_name_documents_a_format_and_info_props_decodes_nothing() {
    let o = std::process::Command::new(imageio_bin())
        .args(["formats", "jpg"])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{t}");
    assert!(t.starts_with("JPEG - "), "{t}");
    assert!(
        t.contains("quality (an integer, writing; default 75)") && t.contains("Metadata:"),
        "{t}"
    );
    let o = std::process::Command::new(imageio_bin())
        .args(["formats", "pnm", "--json"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["options"][0]["name"], "ascii");
    let dir = tempfile::tempdir().unwrap();
    let png = std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &png[..png.len() / 2]).unwrap();
    let o = std::process::Command::new(imageio_bin())
        .args(["info", "--props", "--json"])
        .arg(&cut)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["shape"], serde_json::json!([320, 372, 3]));
    assert_eq!(j["n_images"], 1);
    let o = std::process::Command::new(imageio_bin())
        .arg("info")
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "plain info decodes, and refuses the cut file");
}
