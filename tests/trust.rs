//! Which plugin folders and files the host loads at all, through the tool
//! in child processes (each with its own environment): folders must be
//! absolute and the user's own; folders and files writable by group or
//! others, or owned by another user, are refused with the reason; a
//! symbolic link is judged by its target.

use imageio_tests::{dll_name, imageio_bin, png_plugin_library};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `imageio ARGS` in `cwd` with `env`, and no other plugin path or user folder.
fn imageio(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(imageio_bin());
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .env_remove("IMAGEIO_USERDIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run imageio")
}

/// The plugin reports of `imageio plugins --json`, for files (not builtins).
fn file_reports(out: &Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    all.into_iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with('/')))
        .collect()
}

/// A copy of a real plugin library (PNG's; the builtin PNG shadows it, which
/// still shows that it was loaded) at `dir/name`, mode 0755.
fn plugin_at(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    chmod(dir, 0o755); // whatever the umask

    let path = dir.join(dll_name(name));
    std::fs::copy(png_plugin_library(), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The report of `path` (as found, or canonical: loaded files are reported
/// by their canonical path), if the host considered it.
fn report_of<'a>(reports: &'a [serde_json::Value], path: &Path) -> Option<&'a serde_json::Value> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let find = |p: &Path| reports.iter().find(|r| r["path"].as_str() == p.to_str());
    find(path).or_else(|| find(&canonical))
}

#[test]
fn plugin_folders_are_never_relative_or_shared() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    chmod(cwd.path(), 0o700);
    let relative = plugin_at(&cwd.path().join("rel"), "relplugin");
    let dot_imageio = plugin_at(&cwd.path().join(".imageio/plugins"), "dotplugin");

    // A relative IMAGEIO_PLUGIN_PATH entry is ignored, with a warning.
    let home_str = home.path().to_str().unwrap();
    let out = imageio(
        &["plugins", "--json"],
        cwd.path(),
        &[("IMAGEIO_PLUGIN_PATH", "rel"), ("IMAGEIO_USERDIR", home_str)],
    );
    let reports = file_reports(&out);
    assert!(report_of(&reports, &relative).is_none(), "{reports:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'rel'") && stderr.contains("must be absolute"),
        "{stderr}"
    );

    // An empty IMAGEIO_USERDIR never makes ./.imageio/plugins a plugin folder.
    let out = imageio(&["plugins", "--json"], cwd.path(), &[("IMAGEIO_USERDIR", "")]);
    assert!(report_of(&file_reports(&out), &dot_imageio).is_none());
    let out = imageio(&["dirs", "--json"], cwd.path(), &[("IMAGEIO_USERDIR", "")]);
    let dirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for d in dirs["plugin_dirs"].as_array().unwrap() {
        assert!(d.as_str().unwrap().starts_with('/'), "relative plugin folder {d}");
    }

    // Without a usable home folder the user folder falls back to /var/tmp,
    // which is shared: no plugin folder there.
    let out = imageio(&["dirs", "--json"], cwd.path(), &[("HOME", "/nonexistent-home")]);
    let dirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shared = [
        Path::new("/var/tmp/.imageio").to_owned(),
        std::env::temp_dir().join(".imageio"),
    ];
    for d in dirs["plugin_dirs"].as_array().unwrap() {
        let d = Path::new(d.as_str().unwrap());
        assert!(
            !shared.iter().any(|s| d.starts_with(s)),
            "a plugin folder in the shared fallback: {}",
            d.display()
        );
    }

    // The user's own folder still works.
    let own = plugin_at(&home.path().join(".imageio/plugins"), "ownplugin");
    chmod(&home.path().join(".imageio/plugins"), 0o755);
    let out = imageio(&["plugins", "--json"], cwd.path(), &[("IMAGEIO_USERDIR", home_str)]);
    let reports = file_reports(&out);
    let r = report_of(&reports, &own).expect("the user's plugin folder is searched");
    assert_ne!(r["status"], "rejected", "{r}");
}

#[test]
fn untrusted_folders_and_files_are_refused_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    let good_dir = root.path().join("good");
    let good = plugin_at(&good_dir, "good");
    let open_dir = root.path().join("open");
    let in_open_dir = plugin_at(&open_dir, "inopen");
    chmod(&open_dir, 0o777);
    let writable = plugin_at(&good_dir, "writable");
    chmod(&writable, 0o666);
    let group_writable = plugin_at(&good_dir, "groupwritable");
    chmod(&group_writable, 0o775);
    // A link is judged by its target: one to a good file loads, one to a
    // file others can write is refused.
    let elsewhere = root.path().join("elsewhere");
    let bad_target = plugin_at(&elsewhere, "badtarget");
    chmod(&bad_target, 0o666);
    let bad_link = good_dir.join(dll_name("badlink"));
    std::os::unix::fs::symlink(&bad_target, &bad_link).unwrap();
    let good_target = plugin_at(&elsewhere, "goodtarget");
    let good_link = good_dir.join(dll_name("goodlink"));
    std::os::unix::fs::symlink(&good_target, &good_link).unwrap();

    let path = std::env::join_paths([&good_dir, &open_dir]).unwrap();
    let userdir = tempfile::tempdir().unwrap();
    let out = imageio(
        &["plugins", "--json"],
        root.path(),
        &[
            ("IMAGEIO_PLUGIN_PATH", path.to_str().unwrap()),
            ("IMAGEIO_USERDIR", userdir.path().to_str().unwrap()),
        ],
    );
    let reports = file_reports(&out);
    let status = |p: &Path| report_of(&reports, p).map(|r| r["status"].as_str().unwrap().to_owned());
    let reason = |p: &Path| report_of(&reports, p).map(|r| r["reason"].as_str().unwrap().to_owned());

    assert_eq!(status(&good).as_deref(), Some("shadowed"), "{reports:?}");
    assert_eq!(
        status(&good_target).as_deref(),
        Some("shadowed"),
        "a link to a good file loads"
    );

    let open = reason(&open_dir).expect("the open folder is reported");
    assert!(
        open.contains("plugin folder refused") && open.contains("writable by group and others"),
        "{open}"
    );
    assert!(
        report_of(&reports, &in_open_dir).is_none(),
        "nothing in an open folder is looked at"
    );

    let w = reason(&writable).unwrap();
    assert!(w.contains("plugin file refused") && w.contains("mode 666"), "{w}");
    let g = reason(&group_writable).unwrap();
    assert!(g.contains("writable by its group"), "{g}");
    // The link is judged by its target, which the reason names.
    let l = reason(&bad_link).expect("the link is reported");
    assert!(
        l.contains("a link to") && l.contains("badtarget") && l.contains("writable by group and others"),
        "{l}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused"), "each refusal is a warning: {stderr}");

    // A file owned by another user (not root) is refused; needs root to set up.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let foreign = plugin_at(&good_dir, "foreign");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        let out = imageio(
            &["plugins", "--json"],
            root.path(),
            &[
                ("IMAGEIO_PLUGIN_PATH", good_dir.to_str().unwrap()),
                ("IMAGEIO_USERDIR", userdir.path().to_str().unwrap()),
            ],
        );
        let reports = file_reports(&out);
        let r = report_of(&reports, &foreign).expect("reported");
        assert_eq!(r["status"], "rejected");
        assert!(r["reason"].as_str().unwrap().contains("owned by user 65534"), "{r}");
    }
}
