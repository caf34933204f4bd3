//! Writes that lose nothing and touch nothing else: a replaced file keeps
//! its permission bits, a link is written through (the link stays), and a
//! zip member name cannot leave its archive.

use imageio::{ErrorKind, Image, Options};
use ndarray::{ArrayD, IxDyn};
use std::os::unix::fs::PermissionsExt;

fn image() -> Image {
    Image::from(ArrayD::from_shape_fn(IxDyn(&[8, 8]), |i| (i[0] * 8 + i[1]) as u8))
}

#[test]
fn a_replaced_file_keeps_its_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("private.png");
    std::fs::write(&target, b"old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    imageio::imwrite(&target, &image(), &Options::default()).unwrap();
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "a private file stays private");
    assert_eq!(
        imageio::imread(&target, &Options::default()).unwrap().data,
        image().data
    );

    // A new file gets the usual mode (0666 less the umask), not tempfile's 0600.
    let fresh = dir.path().join("fresh.png");
    imageio::imwrite(&fresh, &image(), &Options::default()).unwrap();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o7777;
    assert_ne!(mode, 0o600, "{mode:o}");
}

#[test]
fn writing_through_a_link_replaces_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.png");
    std::fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.png");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    imageio::imwrite(&link, &image(), &Options::default()).unwrap();
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "the link stays a link"
    );
    assert_eq!(imageio::imread(&real, &Options::default()).unwrap().data, image().data);
}

#[test]
fn zip_member_names_cannot_escape() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("out.zip");
    // (A leading "/" after ".zip" is the separator, and backslashes become "/",
    // as in imageio: "out.zip//x.png" is "x.png", "out.zip/a\\b.png" is "a/b.png".)
    for member in ["../../escape.png", "a/../../escape.png", "c:/x.png", ".."] {
        let uri = format!("{}/{member}", archive.display());
        let e = imageio::imwrite(uri.as_str(), &image(), &Options::default().with_format("PNG")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Misuse, "{member}: {e}");
        assert!(e.to_string().contains("zip member name"), "{e}");
    }
    assert!(!archive.exists(), "no archive was written");
    assert!(!dir.path().parent().unwrap().join("escape.png").exists());
    // An ordinary member still works.
    let ok = format!("{}/inner/ok.png", archive.display());
    imageio::imwrite(ok.as_str(), &image(), &Options::default()).unwrap();
    assert_eq!(
        imageio::imread(ok.as_str(), &Options::default()).unwrap().data,
        image().data
    );
}

/// A disk that fills up while an archive is written (a file-size limit in a
/// child process): one line naming the archive, nothing printed by the zip
/// crate itself, and the old archive untouched.
#[test]
fn a_full_disk_during_a_zip_write_is_one_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut noise = 12345u32;
    let big = Image::from(ArrayD::from_shape_fn(IxDyn(&[256, 256, 3]), |_| {
        noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (noise >> 24) as u8
    }));
    let png = dir.path().join("noise.png");
    imageio::imwrite(&png, &big, &Options::default()).unwrap();
    let archive = dir.path().join("old.zip");
    let first = format!("{}/first.png", archive.display());
    imageio::imwrite(first.as_str(), &image(), &Options::default()).unwrap();
    let before = std::fs::read(&archive).unwrap();

    let target = format!("{}/second.png", archive.display());
    // 64 blocks of 512 bytes: the 200 KB member cannot be written. SIGXFSZ is
    // ignored, so the write fails with EFBIG instead of killing the process.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64 && exec \"$0\" convert \"$1\" \"$2\"")
        .arg(imageio_tests::imageio_bin())
        .arg(&png)
        .arg(&target)
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("old.zip") && !stderr.contains("ZipWriter"), "{stderr}");
    assert_eq!(std::fs::read(&archive).unwrap(), before, "the old archive is untouched");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "no temporary file left: {left:?}");
}

/// `kill -9` in the middle of a write leaves nothing behind: the file being
/// written has no name until it is complete (it used to stay as
/// `.imageio-*.part`).
#[test]
fn a_killed_write_leaves_no_file() {
    let plugin = imageio_tests::c_fixture("stalls");
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(&plugin, plugins.path().join(imageio_tests::dll_name("stalls"))).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.stalls");
    let mut child = std::process::Command::new(imageio_tests::imageio_bin())
        .args(["convert"])
        .arg(imageio_tests::workspace().join("tests/data/hello-page.png"))
        .arg(&target)
        .env("IMAGEIO_PLUGIN_PATH", plugins.path())
        // The plugin in this process, so the host's own file is the one
        // being written when the kill comes (an isolated plugin's bytes
        // reach the host only as the writer closes).
        .env("IMAGEIO_ISOLATION", "off")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (at most 30 s) until the child holds a file open in the target's
    // folder: the plugin has written its first bytes and stalls.
    let fds = format!("/proc/{}/fd", child.id());
    let writing = || {
        std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p.starts_with(out.path())))
    };
    let mut waited = 0;
    while !writing() && waited < 3000 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    assert!(writing(), "the child never started writing");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "a killed write left {left:?}");
}

/// A stack of NPY images is written as the images come (no frame kept until
/// close) under a header whose count is filled in at close; numpy reads the
/// result with the full shape, and so do we.
#[test]
fn stacked_npy_streams_and_numpy_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("stack.npy");
    let frames: Vec<Image> = (0..300u16)
        .map(|k| {
            Image::from(ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| {
                (k as usize * 6 + i[0] * 3 + i[1]) as u16
            }))
        })
        .collect();
    imageio::mimwrite(&target, &frames, &Options::default()).unwrap();
    let numpy = imageio_tests::py(
        "import sys, numpy as np\na = np.load(sys.argv[1])\nprint(a.shape, a.dtype, int(a[299, 1, 2]))",
        &[&target],
    );
    assert_eq!(numpy.trim(), "(300, 2, 3) uint16 1799");
    let back = imageio::mimread(&target, &Options::default().with_format("NPY")).unwrap();
    assert_eq!(back.len(), 300);
    assert_eq!(back[299].data, frames[299].data);
}
