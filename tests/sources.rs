//! Zip members (read, write, replace) checked against Python's zipfile and
//! Pillow, and `imageio:` standard images served by a local mirror.

use imageio::Options;
use imageio_tests::httpd::{Route, Server};
use imageio_tests::*;
use std::path::Path;
use std::process::Command;

fn hello() -> imageio::Image {
    imageio::imread(workspace().join("tests/data/hello-page.png"), &Options::default()).unwrap()
}

/// The members of an archive (name, size) as Python's zipfile lists them,
/// and the CRC check of every member.
fn python_members(zip: &Path) -> Vec<String> {
    let code = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nfor i in z.infolist(): print(i.filename)";
    py(code, &[zip.to_str().unwrap()]).lines().map(str::to_owned).collect()
}

#[test]
fn reads_members_of_archives_written_by_python() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("pics.zip");
    // Python writes a deflated archive with a Pillow PNG inside a folder.
    let code = "import sys, zipfile\nsrc, dst = sys.argv[1], sys.argv[2]\nwith zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as z:\n    z.write(src, 'inner/deep/x.png')\n    z.writestr('notes.txt', 'hello')";
    py(
        code,
        &[
            workspace().join("tests/data/hello-page.png").to_str().unwrap(),
            zip.to_str().unwrap(),
        ],
    );
    let member = format!("{}/inner/deep/x.png", zip.display());
    let im = imageio::imread(&member, &Options::default()).unwrap();
    assert_eq!(im.data, hello().data);
    // Backslash separators and an upper-case .ZIP needle work too.
    let upper = dir.path().join("UP.ZIP");
    std::fs::copy(&zip, &upper).unwrap();
    let im = imageio::imread(format!("{}\\inner\\deep\\x.png", upper.display()), &Options::default()).unwrap();
    assert_eq!(im.data, hello().data);
    // The request: file name, extension, firstbytes from the member.
    let mut req = imageio::Request::new(member.as_str(), "ri").unwrap();
    assert_eq!(req.uri_type(), imageio::request::UriType::Zipped);
    assert_eq!(req.filename(), member);
    assert_eq!(req.extension(), Some(".png"));
    assert_eq!(&req.firstbytes().unwrap()[..4], b"\x89PNG");
    // Errors name the archive and the member.
    let e = imageio::imread(format!("{}/missing.png", zip.display()), &Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}/missing.png: the archive '{}' has no member 'missing.png'",
            zip.display(),
            zip.display()
        )
    );
    let e = imageio::imread(format!("{}/nope.zip/x.png", dir.path().display()), &Options::default()).unwrap_err();
    assert!(e.to_string().starts_with("No such file: "), "{e}");
    let not_zip = dir.path().join("fake.zip");
    std::fs::write(&not_zip, b"this is not an archive").unwrap();
    let e = imageio::imread(format!("{}/x.png", not_zip.display()), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("is not a readable zip archive"), "{e}");
}

#[test]
fn a_directory_named_zip_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("photos.zip");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(workspace().join("tests/data/hello-page.png"), folder.join("a.png")).unwrap();
    let uri = format!("{}/a.png", folder.display());
    let req = imageio::Request::new(uri.as_str(), "ri").unwrap();
    assert_eq!(req.uri_type(), imageio::request::UriType::Filename);
    assert_eq!(imageio::imread(&uri, &Options::default()).unwrap().data, hello().data);
    // Writing into it writes a plain file too.
    let out = format!("{}/b.png", folder.display());
    imageio::imwrite(&out, &hello(), &Options::default()).unwrap();
    assert!(folder.join("b.png").is_file());
}

#[test]
fn writes_members_and_replaces_instead_of_duplicating() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("out.zip");
    let im = hello();
    let a = format!("{}/inner/a.png", zip.display());
    imageio::imwrite(&a, &im, &Options::default()).unwrap();
    imageio::imwrite(format!("{}/b.pnm", zip.display()), &im, &Options::default()).unwrap();
    // Same member again, with different pixels: replaced, not duplicated.
    let gray = imageio::Image::from(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[5, 7]), |i| {
        (i[0] * 7 + i[1]) as u8
    }));
    imageio::imwrite(&a, &gray, &Options::default()).unwrap();
    assert_eq!(python_members(&zip), ["b.pnm", "inner/a.png"]);
    // Pillow decodes what we wrote into the archive.
    let code = "import sys, io, zipfile\nimport numpy as np\nfrom PIL import Image\nz = zipfile.ZipFile(sys.argv[1])\nfor n in ['inner/a.png', 'b.pnm']:\n    a = np.asarray(Image.open(io.BytesIO(z.read(n))))\n    print(n, a.shape, int(a.astype('int64').sum()))";
    let listing = py(code, &[zip.to_str().unwrap()]);
    let sum = |im: &imageio::Image| im.data.as_u8().unwrap().iter().map(|&v| v as i64).sum::<i64>();
    assert_eq!(
        listing,
        format!("inner/a.png (5, 7) {}\nb.pnm (320, 372, 3) {}\n", sum(&gray), sum(&im))
    );
    assert_eq!(imageio::imread(&a, &Options::default()).unwrap().data, gray.data);
    // Nothing but the archive in the folder: no temporary files left.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.zip"]);
}

#[test]
fn a_failed_member_write_leaves_the_archive_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("keep.zip");
    imageio::imwrite(format!("{}/a.png", zip.display()), &hello(), &Options::default()).unwrap();
    let before = std::fs::read(&zip).unwrap();
    // A float image the PNG plugin refuses: the write fails.
    let bad = imageio::Image::from(ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[4, 4, 5])));
    assert!(imageio::imwrite(format!("{}/a.png", zip.display()), &bad, &Options::default()).is_err());
    assert_eq!(std::fs::read(&zip).unwrap(), before);
    // A corrupt archive is never overwritten.
    let broken = dir.path().join("broken.zip");
    std::fs::write(&broken, b"garbage, not a zip").unwrap();
    let e = imageio::imwrite(format!("{}/a.png", broken.display()), &hello(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("is not a readable zip archive"), "{e}");
    assert_eq!(std::fs::read(&broken).unwrap(), b"garbage, not a zip");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file is left"
    );
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(imageio_bin());
    cmd.args(args)
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .env_remove("IMAGEIO_NO_INTERNET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_command_line_reads_and_writes_zip_members() {
    let dir = tempfile::tempdir().unwrap();
    let ud = dir.path().join("ud");
    let env = [("IMAGEIO_USERDIR", ud.to_str().unwrap())];
    let src = workspace().join("tests/data/hello-page.png");
    let out = format!("{}/out.zip/y.png", dir.path().display());
    let o = cli(&["convert", src.to_str().unwrap(), &out], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(python_members(&dir.path().join("out.zip")), ["y.png"]);
    let o = cli(&["info", &out, "--json"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["format"], "PNG");
    assert_eq!(j["images"][0]["shape"], serde_json::json!([320, 372, 3]));
}

#[test]
fn standard_images_come_from_the_mirror() {
    let server = Server::start();
    let png = std::fs::read(workspace().join("tests/data/hello-page.png")).unwrap();
    server.route("/images/chelsea.png", Route::Ok(png.clone()));
    // chelsea.zip holds chelsea.png, like imageio's.
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("chelsea.zip");
    imageio::imwrite(format!("{}/chelsea.png", zip.display()), &hello(), &Options::default()).unwrap();
    server.route("/images/chelsea.zip", Route::Ok(std::fs::read(&zip).unwrap()));
    let ud = tempfile::tempdir().unwrap();
    let base = server.url("/");
    let env = [
        ("IMAGEIO_USERDIR", ud.path().to_str().unwrap()),
        ("IMAGEIO_REMOTE_URL", base.as_str()),
    ];

    for uri in [
        "imageio:chelsea.png",
        "imageio:CHELSEA.PNG",
        "imageio:chelsea.zip/chelsea.png",
    ] {
        let o = cli(&["info", uri, "--json"], &env);
        assert!(o.status.success(), "{uri}: {}", String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("only JSON on stdout");
        assert_eq!(j["images"][0]["shape"], serde_json::json!([320, 372, 3]), "{uri}");
    }
    assert_eq!(server.hits("/images/chelsea.png"), 1, "downloaded once, then cached");
    assert!(ud.path().join(".imageio/images/chelsea.zip").is_file());

    let err = |args: &[&str]| {
        let o = cli(args, &env);
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).trim().to_owned()
    };
    assert_eq!(
        err(&["info", "imageio:nope.png"]),
        "imageio: error: Unknown standard image 'nope.png'."
    );
    assert_eq!(
        err(&["info", "imageio://chelsea.png"]),
        "imageio: error: Unknown standard image '//chelsea.png'."
    );
    let target = tmp.path().join("x.png");
    std::fs::write(&target, &png).unwrap();
    assert_eq!(
        err(&["convert", target.to_str().unwrap(), "imageio:chelsea.png"]),
        "imageio: error: Cannot write to the standard images."
    );
    // A bare standard-image name that is not a file here.
    let o = Command::new(imageio_bin())
        .args(["info", "chelsea.png"])
        .current_dir(tmp.path())
        .envs(env)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains(
        "No such file: 'chelsea.png'. This file looks like one of the standard images, but from imageio 2.1, standard images have to be specified using \"imageio:chelsea.png\"."
    ));
}
