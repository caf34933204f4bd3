//! The helper functions against imageio itself (installed from PyPI into the
//! reference venv): `image_as_uint` tables for every dtype at 8 and 16 bits,
//! the progress indicator's exact output; and `load_lib`, `appdata_dir`,
//! `resource_dirs` on real files and processes.

use imageio::NdArray;
use imageio::core::{Progress, ProgressIndicator, StdoutProgressIndicator};
use imageio_tests::*;
use ndarray::{ArrayD, IxDyn};
use serde_json::{Value as Json, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// Runs a reference script with `input` on stdin and parses its JSON output.
fn reference_json(script: &str, input: &Json) -> Json {
    let mut child = Command::new(python())
        .arg(workspace().join("tests/interop").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference JSON")
}

fn array_of(dtype: &str, values: &[Json]) -> NdArray {
    let f = |v: &Json| v.as_f64().unwrap_or(f64::NAN);
    let i = |v: &Json| v.as_i64().expect("integer");
    let u = |v: &Json| v.as_u64().expect("unsigned");
    let shape = IxDyn(&[values.len()]);
    macro_rules! arr {
        ($conv:expr, $t:ty) => {
            ArrayD::from_shape_vec(shape, values.iter().map(|v| $conv(v) as $t).collect()).unwrap()
        };
    }
    match dtype {
        "uint8" => NdArray::U8(arr!(u, u8)),
        "uint16" => NdArray::U16(arr!(u, u16)),
        "uint32" => NdArray::U32(arr!(u, u32)),
        "uint64" => NdArray::U64(arr!(u, u64)),
        "int8" => NdArray::I8(arr!(i, i8)),
        "int16" => NdArray::I16(arr!(i, i16)),
        "int32" => NdArray::I32(arr!(i, i32)),
        "int64" => NdArray::I64(arr!(i, i64)),
        "float32" => NdArray::F32(arr!(f, f32)),
        "float64" => NdArray::F64(arr!(f, f64)),
        other => panic!("dtype {other}"),
    }
}

fn values_of(a: &NdArray) -> (Vec<u64>, &'static str) {
    match a {
        NdArray::U8(a) => (a.iter().map(|&v| u64::from(v)).collect(), "uint8"),
        NdArray::U16(a) => (a.iter().map(|&v| u64::from(v)).collect(), "uint16"),
        other => panic!("image_as_uint returned {:?}", other.dtype()),
    }
}

/// The cases: every integer and float dtype at both bit depths (and the
/// default), with full ranges, small ranges, negatives, constants, NaN and
/// the float `[0, 1]` branch.
fn as_uint_cases() -> Vec<Json> {
    let mut cases = Vec::new();
    let ints: [(&str, Json); 8] = [
        ("uint8", json!([[0, 1, 254, 255], [0, 1], [3, 3], [10, 20, 30]])),
        (
            "uint16",
            json!([[0, 255, 256, 65535], [0, 1], [7, 7], [1000, 2000, 40000]]),
        ),
        (
            "uint32",
            json!([[0, 255, 65536, 4294967295u64], [0, 1], [9, 9], [16777216, 33554432]]),
        ),
        (
            "uint64",
            json!([
                [0, 1, 4294967296u64, 18446744073709551615u64],
                [0, 1],
                [5, 5],
                [72057594037927936u64]
            ]),
        ),
        ("int8", json!([[-128, -1, 0, 127], [-2, 0, 2], [-1, -1], [0, 100]])),
        ("int16", json!([[-32768, 0, 32767], [0, 100, 200], [300, 300], [-5, 5]])),
        (
            "int32",
            json!([[0, 100, 200], [-2147483648, 0, 2147483647], [70000, 70000], [-1, -1]]),
        ),
        (
            "int64",
            json!([
                [0, 1],
                [-9223372036854775807i64, 9223372036854775807i64],
                [-3, 4, 5],
                [2, 2]
            ]),
        ),
    ];
    // The same float cases for both widths (1e300 is infinite in float32:
    // the "not finite" error), plus a denormal-range case for float64.
    let float_cases = json!([
        [0.0, 0.5, 1.0],
        [0.0, 2.0, null],
        [-1.5, 0.25, 3.75],
        [0.1, 0.2],
        [2.0, 2.0],
        [0.0, 1.0, null],
        [0.0, 255.0],
        [0.00001, 0.00002],
        [-1e20, 1e20],
        [null, null],
        [0.0, 1e300]
    ]);
    let mut f64_cases = float_cases.clone();
    f64_cases.as_array_mut().unwrap().push(json!([1e-300, 0.5]));
    let floats: [(&str, Json); 2] = [("float32", float_cases), ("float64", f64_cases)];
    for (dtype, sets) in ints.iter().chain(floats.iter()) {
        for values in sets.as_array().unwrap() {
            for bitdepth in [json!(8), json!(16), Json::Null] {
                cases.push(json!({ "dtype": dtype, "values": values, "bitdepth": bitdepth }));
            }
        }
    }
    cases.push(json!({ "dtype": "uint8", "values": [1, 2], "bitdepth": 12 }));
    cases
}

#[test]
fn image_as_uint_matches_imageio_for_every_dtype_and_depth() {
    let cases = as_uint_cases();
    let reference = reference_json("as_uint.py", &Json::Array(cases.clone()));
    let reference = reference.as_array().unwrap();
    assert_eq!(reference.len(), cases.len());
    for (case, want) in cases.iter().zip(reference) {
        let im = array_of(case["dtype"].as_str().unwrap(), case["values"].as_array().unwrap());
        let bitdepth = case["bitdepth"].as_u64().map(|b| b as u32);
        match imageio::image_as_uint_with_warning(&im, bitdepth) {
            Ok((out, warning)) => {
                assert!(want["error"].is_null(), "{case}: imageio raised {}", want["error"]);
                let (values, dtype) = values_of(&out);
                let want_values: Vec<u64> = want["out"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                assert_eq!(values, want_values, "{case}");
                assert_eq!(dtype, want["dtype"], "{case}");
                assert_eq!(warning.as_deref(), want["warning"].as_str(), "{case}");
            }
            Err(e) => assert_eq!(json!(e.to_string()), want["error"], "{case}"),
        }
    }
}

/// One operation on a progress indicator, for both implementations.
fn replay_rust(name: &str, ops: &Json) -> String {
    let mut p = StdoutProgressIndicator::with_writer(name, Vec::new());
    let t = Arc::new(Mutex::new(1000.0f64));
    p.state_mut().set_clock(Arc::new(move || {
        let mut t = t.lock().unwrap();
        *t += 0.06;
        *t
    }));
    let amount = |v: &Json| {
        if v.is_i64() {
            Progress::Int(v.as_i64().unwrap())
        } else {
            Progress::Float(v.as_f64().unwrap())
        }
    };
    for op in ops.as_array().unwrap() {
        let op = op.as_array().unwrap();
        match op[0].as_str().unwrap() {
            "start" => p.start(
                op[1].as_str().unwrap(),
                op[2].as_str().unwrap(),
                op[3].as_u64().unwrap(),
            ),
            "set" => p.set_progress(amount(&op[1]), op[2].as_bool().unwrap()),
            "inc" => p.increase_progress(amount(&op[1])),
            "write" => p.write(op[1].as_str().unwrap()),
            "finish" => p.finish(op[1].as_str()),
            "fail" => p.fail(op[1].as_str()),
            other => panic!("op {other}"),
        }
    }
    String::from_utf8(p.into_inner()).unwrap()
}

#[test]
fn progress_output_matches_imageio_byte_for_byte() {
    let scripts = [
        // The spec's sequence.
        json!([
            "Downloading",
            [
                ["start", "", "bytes", 1000],
                ["set", 10, false],
                ["set", 20, false],
                ["set", 30, true],
                ["finish", "Done"]
            ]
        ]),
        // Throttling with a clock that moves 0.06 s per reading, floats, %.
        json!([
            "Job",
            [
                ["start", "load", "%", 0],
                ["set", 12.5, false],
                ["inc", 10, false],
                ["inc", 10.25],
                ["inc", 1],
                ["set", 99.99, true],
                ["write", "careful"],
                ["finish", null]
            ]
        ]),
        json!([
            "Count",
            [
                ["start", "", "", 0],
                ["set", 0, true],
                ["set", 0, true],
                ["set", 0, true],
                ["set", 0, true],
                ["set", 0, true],
                ["set", 2.5, true],
                ["set", 123456.0, true],
                ["set", 0.0001234, true],
                ["set", 7, true],
                ["write", "note"],
                ["start", "again", "files", 3],
                ["inc", 1],
                ["inc", 1],
                ["inc", 1],
                ["fail", "broken"]
            ]
        ]),
        json!([
            "Units",
            [
                ["start", "", "", 8],
                ["set", 3, true],
                ["set", 8.7, true],
                ["finish", "ok"],
                ["start", "x", "MB", 0],
                ["set", 1e-7, true],
                ["set", 1e16, true],
                ["fail", null]
            ]
        ]),
    ];
    let scripts: Vec<Json> = scripts
        .into_iter()
        .map(|s| {
            // `inc` with a missing force flag: normalise to the two-item form.
            let ops: Vec<Json> = s[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|op| {
                    let a = op.as_array().unwrap();
                    if a[0] == "inc" {
                        json!(["inc", a[1]])
                    } else {
                        op.clone()
                    }
                })
                .collect();
            json!([s[0], ops])
        })
        .collect();
    for script in &scripts {
        let want = reference_json("progress.py", script);
        let got = replay_rust(script[0].as_str().unwrap(), &script[1]);
        assert_eq!(json!(got), want, "{script}");
    }
}

#[test]
fn load_lib_orders_candidates_like_imageio() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "libfoo.so",
        "libfoo.so.1",
        "libfoo.so.2",
        "libFoo.so.10",
        "libfoo-3.so",
        "libfoobar.so",
        "libfoo.so.1.2",
        "libfoo.txt",
    ];
    for n in names {
        std::fs::write(dir.path().join(n), b"").unwrap();
    }
    let (dirs, paths) = imageio::generate_candidate_libs(&["libfoo"], &[dir.path().to_path_buf()]);
    assert_eq!(dirs[0], dir.path());
    let ours: Vec<String> = paths
        .iter()
        .filter(|p| p.parent() == Some(dir.path()))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // The order the spec verified against imageio.
    assert_eq!(
        ours,
        [
            "libfoo.so",
            "libfoo.so.2",
            "libfoo.so.1",
            "libfoo-3.so",
            "libfoobar.so",
            "libFoo.so.10",
            "libfoo.so.1.2"
        ]
    );
}

#[test]
fn load_lib_loads_and_reports_like_imageio() {
    let dir = tempfile::tempdir().unwrap();
    let real = pnm_plugin_library();
    // An exact name loads as given.
    let exact = real.to_str().unwrap();
    let (_lib, name) = imageio::load_lib(&[exact], &[], &[]).unwrap();
    assert_eq!(name, exact);
    // A name found in the given folder.
    std::fs::copy(&real, dir.path().join("libiiotest.so")).unwrap();
    let (lib, path) = imageio::load_lib(
        &["/no/such/libiiotest.so"],
        &["libiiotest"],
        &[dir.path().to_path_buf()],
    )
    .unwrap();
    assert_eq!(path, dir.path().join("libiiotest.so").to_str().unwrap());
    // SAFETY: the symbol is the PNM plugin's entry point; only its address is read.
    let entry = unsafe { lib.get::<unsafe extern "C" fn()>(b"iio_plugin_entry_v1") };
    assert!(entry.is_ok(), "the loaded library is the plugin");
    // Candidates that fail to load: every one listed with the loader's error.
    let bad = garbage_library(dir.path());
    let bad_name = bad
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".so")
        .to_owned();
    let e = imageio::load_lib(&[], &[&bad_name], &[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    let head = format!(
        "One or more {bad_name} libraries were found, but could not be loaded due to the following errors:\n{}:\n",
        bad.display()
    );
    assert!(e.starts_with(&head), "{e}");
    // Nothing found: the folders searched.
    let e = imageio::load_lib(&["/no/such/lib.so"], &["libiionothing"], &[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    let head = format!(
        "Could not find a libiionothing library in any of:\n{}\n",
        dir.path().display()
    );
    assert!(e.starts_with(&head), "{e}");
    assert!(e.contains("\n/usr/lib"), "{e}");
    // No name at all.
    let e = imageio::load_lib(&[""], &[""], &[]).unwrap_err().to_string();
    assert_eq!(e, "No library name given.");
}

fn dirs_json(bin: &std::path::Path, cwd: &std::path::Path, env: &[(&str, Option<&str>)]) -> Json {
    let mut cmd = Command::new(bin);
    cmd.args(["dirs", "--json"])
        .current_dir(cwd)
        .env_remove("IMAGEIO_PLUGIN_PATH");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn appdata_dir_and_resource_dirs_follow_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bin = imageio_bin();
    // IMAGEIO_USERDIR: the base, and a hidden .imageio created in it.
    let ud = root.join("ud");
    let j = dirs_json(&bin, root, &[("IMAGEIO_USERDIR", Some(ud.to_str().unwrap()))]);
    assert_eq!(j["appdata_dir"], ud.to_str().unwrap());
    assert_eq!(j["cache_dir"], ud.join(".imageio").to_str().unwrap());
    assert!(ud.join(".imageio").is_dir(), "created");
    assert_eq!(j["platform"], imageio::get_platform().unwrap());
    // resource_dirs: installed resources, the appdata dir, the executable's folder.
    let exe_dir = bin.parent().unwrap();
    let want = json!([
        exe_dir.parent().unwrap().join("share/imageio-rs").to_str().unwrap(),
        ud.join(".imageio").to_str().unwrap(),
        exe_dir.to_str().unwrap(),
    ]);
    assert_eq!(j["resource_dirs"], want);
    let plugins: Vec<String> = want
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}/plugins", d.as_str().unwrap()))
        .collect();
    assert_eq!(j["plugin_dirs"], json!(plugins));

    // An empty IMAGEIO_USERDIR counts as set (imageio): relative to the cwd.
    let j = dirs_json(&bin, root, &[("IMAGEIO_USERDIR", Some(""))]);
    assert_eq!(j["appdata_dir"], "");
    assert_eq!(j["cache_dir"], ".imageio");
    assert!(root.join(".imageio").is_dir());

    // An unusable home directory falls back to /var/tmp (imageio #54).
    let j = dirs_json(
        &bin,
        root,
        &[("IMAGEIO_USERDIR", None), ("HOME", Some("/nonexistent/home"))],
    );
    assert_eq!(j["appdata_dir"], "/var/tmp");
    assert_eq!(j["cache_dir"], "/var/tmp/.imageio");

    // A portable install: a writable `settings` folder beside bin/ wins, and
    // the app folder in it is not hidden.
    let portable = root.join("portable");
    std::fs::create_dir_all(portable.join("bin")).unwrap();
    std::fs::create_dir_all(portable.join("settings")).unwrap();
    let pbin = portable.join("bin").join(bin.file_name().unwrap());
    std::fs::copy(&bin, &pbin).unwrap();
    let j = dirs_json(&pbin, root, &[("IMAGEIO_USERDIR", Some(ud.to_str().unwrap()))]);
    assert_eq!(j["appdata_dir"], portable.join("settings").to_str().unwrap());
    assert_eq!(j["cache_dir"], portable.join("settings/imageio").to_str().unwrap());
    assert_eq!(
        j["resource_dirs"][0],
        portable.join("share/imageio-rs").to_str().unwrap()
    );
    assert!(
        !portable.join("settings/test.write").exists(),
        "the probe file is removed"
    );

    // Creation is race-free: many processes creating the same folder at once.
    let fresh = root.join("race");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(&bin)
                .args(["dirs", "--json"])
                .env("IMAGEIO_USERDIR", &fresh)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert!(fresh.join(".imageio").is_dir());
}
