//! `imageio check-plugin`, the conformance kit: every standard plugin
//! library passes; every broken fixture fails with a report that says why.

use imageio_tests::*;
use std::path::Path;
use std::process::{Command, Output};

fn check(lib: &Path, extra: &[&str]) -> Output {
    Command::new(imageio_bin())
        .arg("check-plugin")
        .arg(lib)
        .args(extra)
        .env("IMAGEIO_LOG", "off")
        .output()
        .expect("run imageio check-plugin")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_standard_plugin_passes() {
    for (name, lib) in standard_plugin_libraries() {
        let o = check(&lib, &["--json"]);
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(o.status.success() && report["passed"] == true, "{name}:\n{report:#}");
        let checks = report["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["check"].as_str().unwrap()).collect();
        for want in [
            "load",
            "table",
            "can_read",
            "damaged input",
            "threads",
            "error messages",
        ] {
            assert!(names.contains(&want), "{name}: no {want} check in {names:?}");
        }
        assert!(names.iter().any(|n| n.starts_with("round trip")), "{name}: {names:?}");
        // Every mode the format declares was round-tripped.
        let modes = checks[1]["detail"]
            .as_str()
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("modes ")
            .to_owned();
        for m in modes.chars() {
            assert!(
                names.contains(&format!("round trip {m}").as_str()),
                "{name}: mode {m} not checked"
            );
        }
        // Nothing was skipped for a standard plugin: each writes its own sample.
        assert!(checks.iter().all(|c| c["outcome"] == "PASS"), "{name}:\n{report:#}");
    }
}

#[test]
fn broken_fixtures_fail_with_a_clear_report() {
    let cases = [
        ("no_entry", "is not a plugin (no `iio_plugin_entry_v1` symbol)"),
        ("null_entry", "refused this host"),
        ("major2", "was built for plugin ABI 2.x"),
        ("major2_only", "was built for plugin ABI 2.x"),
        ("truncated", "truncated table"),
        ("missing_fn", "get_data is NULL"),
    ];
    for (fixture, why) in cases {
        let o = check(&c_fixture(fixture), &[]);
        let t = text(&o);
        assert!(!o.status.success(), "{fixture}: {t}");
        assert!(
            t.contains("load") && t.contains("FAIL") && t.contains(why),
            "{fixture}:\n{t}"
        );
        assert!(t.contains("result: FAIL"), "{fixture}:\n{t}");
    }
    // Loads, but panics on every read: contained, and reported.
    let o = check(&panicky_library(), &[]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("PANICS"), "{t}");
    // Segfaults: every call runs in a worker process, so the crash is the
    // phase's failure and the report goes on.
    let o = check(&c_fixture("crashy"), &["--timeout", "20"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("CRASH: the plugin's worker process was killed by signal 11"),
        "{t}"
    );
    assert!(t.contains("CRASHY error messages") && t.contains("result: FAIL"), "{t}");
    // Never returns: the worker is killed at the time limit.
    let o = check(&c_fixture("hangs"), &["--timeout", "2"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("HANG: the plugin's worker process did not finish get_data within 2 s"),
        "{t}"
    );
    // Without isolation the damaged-input phase still runs in a child process.
    let o = Command::new(imageio_bin())
        .arg("check-plugin")
        .arg(c_fixture("crashy"))
        .env("IMAGEIO_ISOLATION", "off")
        .output()
        .unwrap();
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("CRASH: the reader process died") && t.contains("in this process"),
        "{t}"
    );
    // Impure can_read and errors without messages.
    let o = check(&c_fixture("silent"), &[]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("can_read") && t.contains("empty input: 0 then 40"), "{t}");
    assert!(t.contains("errors WITHOUT a message"), "{t}");
}

#[test]
fn a_read_only_plugin_can_be_given_a_sample() {
    // The third-party SERIAL plugin cannot write its own sample.
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("x.serial");
    std::fs::write(&sample, b"SERIAL\x07").unwrap();
    let o = check(
        &c_fixture("serial"),
        &["--sample", &format!("SERIAL={}", sample.display())],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("SERIAL threads") && t.contains("not declared thread-safe: calls ran in parallel, each in a worker"),
        "{t}"
    );
    // In this process, the host serialises them.
    let o = Command::new(imageio_bin())
        .args(["check-plugin", "--sample", &format!("SERIAL={}", sample.display())])
        .arg(c_fixture("serial"))
        .env("IMAGEIO_LOG", "off")
        .env("IMAGEIO_ISOLATION", "off")
        .output()
        .unwrap();
    let t = text(&o);
    assert!(
        t.contains("not declared thread-safe: the host serialised the calls"),
        "{t}"
    );
    assert!(t.contains("SERIAL damaged input") && !t.contains("garbage only"), "{t}");
}

/// The kit catches liars: a can_read that claims any bytes, a reader that
/// invents the pixels a truncated file lacks, and one that ignores options
/// it does not know; the same plugin without its lie passes.
#[test]
fn liars_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("x.liar");
    let mut bytes = b"LIAR\x10\x0c".to_vec();
    bytes.extend((0..16 * 12).map(|i| (i * 7 % 251) as u8 + 1));
    std::fs::write(&sample, &bytes).unwrap();
    let with_sample = ["--sample".to_owned(), format!("LIAR={}", sample.display())];
    let args: Vec<&str> = with_sample.iter().map(String::as_str).collect();

    let o = check(&c_fixture("liar_honest"), &args);
    let t = text(&o);
    assert!(o.status.success(), "the honest one passes:\n{t}");

    let o = check(&c_fixture("liar_claims"), &args);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("claims random bytes (confidence 50)"),
        "{t}"
    );

    let o = check(&c_fixture("liar_invents"), &args);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("TRUNCATED files read as whole images with INVENTED pixels"),
        "{t}"
    );

    // Accepting unknown options without declaring any is a warning (ABI
    // 1.2: a plugin that declares none keeps today's behaviour).
    let o = check(&c_fixture("liar_lenient"), &args);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("LIAR options") && t.contains("WARN") && t.contains("reading accepts the unknown option"),
        "{t}"
    );

    let o = check(&c_fixture("liar_uncoded"), &args);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("LIAR error messages") && t.contains("left err->code unset"),
        "{t}"
    );
}

/// `--keep DIR` saves the inputs that failed; the report's lines come out
/// as the checks finish (the verdict last).
#[test]
fn failing_inputs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("x.liar");
    let mut bytes = b"LIAR\x10\x0c".to_vec();
    bytes.extend((0..16 * 12).map(|i| (i * 7 % 251) as u8 + 1));
    std::fs::write(&sample, &bytes).unwrap();
    let keep = dir.path().join("kept");
    let o = check(
        &c_fixture("liar_invents"),
        &[
            "--sample",
            &format!("LIAR={}", sample.display()),
            "--keep",
            keep.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let kept: Vec<String> = std::fs::read_dir(&keep)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !kept.is_empty()
            && kept
                .iter()
                .all(|k| k.starts_with("LIAR-damaged-") && k.ends_with("-invented-pixels.bin")),
        "{kept:?}"
    );
    // Each kept file is a truncation of the sample.
    for k in &kept {
        let b = std::fs::read(keep.join(k)).unwrap();
        assert!(b.len() < bytes.len() && bytes.starts_with(&b), "{k}");
    }
    let t = text(&o);
    assert!(t.trim_end().lines().last().unwrap().starts_with("result: FAIL"), "{t}");
}

/// A plugin that declares `IIO_CAP_THREAD_SAFE` is said to; a read-only
/// plugin checked without a sample passes with its skipped checks named
/// in the verdict, never as a full pass.
#[test]
fn the_verdict_says_what_was_checked_and_what_was_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join(dll_name("reads"));
    c_fixture_with("broken", &["BROKEN_WHERE=0", "BROKEN_HOW=1"], &lib);
    let o = check(&lib, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let verdict = t.trim_end().lines().last().unwrap();
    assert!(
        verdict.starts_with("result: PASS (") && verdict.contains("skipped: "),
        "{verdict}"
    );
    assert!(verdict.contains("options") && verdict.contains("threads"), "{verdict}");
    let sample = dir.path().join("x.brkn");
    std::fs::write(&sample, [b'B', b'R', b'K', b'N', 2, 2, 1, 2, 3, 4]).unwrap();
    let o = check(&lib, &["--sample", &format!("BROKEN={}", sample.display())]);
    let t = text(&o);
    assert!(
        t.contains("declared thread-safe: calls ran in parallel in worker processes"),
        "{t}"
    );
    let verdict = t.trim_end().lines().last().unwrap();
    assert!(
        verdict.starts_with("result: PASS (") && !verdict.contains("options"),
        "{verdict}"
    );
}

/// A plugin that declares no options and ignores unknown ones (as an
/// outsider's farbfeld plugin did) passes with a warning, not a failure;
/// the standard plugins declare theirs, and the host refuses the rest.
#[test]
fn a_plugin_that_ignores_unknown_options_passes_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join(dll_name("lenient"));
    c_fixture_with(
        "broken",
        &["BROKEN_WHERE=0", "BROKEN_HOW=1", "BROKEN_IGNORES_OPTIONS"],
        &lib,
    );
    let sample = dir.path().join("x.brkn");
    std::fs::write(&sample, [b'B', b'R', b'K', b'N', 2, 2, 1, 2, 3, 4]).unwrap();
    let o = check(&lib, &["--sample", &format!("BROKEN={}", sample.display())]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("BROKEN options") && t.contains("WARN") && t.contains("declares no options"),
        "{t}"
    );
    let verdict = t.trim_end().lines().last().unwrap();
    assert!(
        verdict.starts_with("result: PASS") && verdict.contains("1 warning: options"),
        "{verdict}"
    );
    let o = check(&png_plugin_library(), &[]);
    let t = text(&o);
    assert!(
        t.contains("declared (accept_truncated, compression): the host refuses the others"),
        "{t}"
    );
}
