//! Interoperability with independent implementations (Pillow, pypng, and a
//! numpy writer for the PNM variants Pillow lacks), in both directions.

use imageio::{Dict, Image, NdArray, Options};
use imageio_tests::run_reference;
use ndarray::{ArrayD, IxDyn};
use std::path::Path;

struct Reference {
    info: serde_json::Value,
    file: String,
    dtype: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn load_reference(json: &Path) -> Reference {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let bin = json.with_extension("bin");
    Reference {
        info: v["info"].clone(),
        file: v["file"].as_str().unwrap().to_owned(),
        dtype: v["dtype"].as_str().unwrap().to_owned(),
        shape: v["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect(),
        bytes: std::fs::read(bin).unwrap(),
    }
}

fn assert_same(what: &str, im: &NdArray, r: &Reference) {
    assert_eq!(im.dtype().name(), r.dtype, "{what}: dtype");
    assert_eq!(im.shape(), r.shape.as_slice(), "{what}: shape");
    let ours = im.to_bytes();
    if let Some(i) = ours.iter().zip(&r.bytes).position(|(a, b)| a != b) {
        panic!(
            "{what}: pixels differ from the reference decoder's at byte {i}: {} != {}",
            ours[i], r.bytes[i]
        );
    }
    assert_eq!(ours.len(), r.bytes.len(), "{what}: sizes differ");
}

#[test]
fn files_written_by_pillow_and_pypng_read_identically() {
    let dir = tempfile::tempdir().unwrap();
    run_reference(&["gen", dir.path().to_str().unwrap()]);
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            let r = load_reference(&p);
            let im = imageio::imread(dir.path().join(&r.file), &Options::default())
                .unwrap_or_else(|e| panic!("{}: {e}", r.file));
            assert_same(&r.file, &im.data, &r);
            assert_meta_matches(&r.file, &im.meta, &r.info);
            checked.push(r.file);
        }
    }
    checked.sort();
    // Every mode the plugins claim is covered.
    for must in [
        "pil_P_trns.png",
        "pil_1.png",
        "pypng_rgba16_interlaced.png",
        "pypng_gray2.png",
        "plain_p1.pbm",
        "plain_p2_16.pgm",
        "pam_rgba16.pam",
        "pam_bw.pam",
        "pil_pgm16.pgm",
        "pil_pbm.pbm",
    ] {
        assert!(checked.iter().any(|c| c == must), "{must} not checked: {checked:?}");
    }
    assert_eq!(checked.len(), 28, "{checked:?}");
}

/// Every metadata entry the reference tool reports is in ours, equal (floats
/// to 1e-3: dpi goes through pixels per metre).
fn assert_meta_matches(what: &str, ours: &imageio::Dict, reference: &serde_json::Value) {
    let Some(reference) = reference.as_object() else { return };
    for (k, v) in reference {
        let got = ours
            .get(k)
            .unwrap_or_else(|| panic!("{what}: metadata {k:?} missing from {ours}"));
        match (got, v) {
            (imageio::Value::Str(s), serde_json::Value::String(t)) => assert_eq!(s, t, "{what}: {k}"),
            (imageio::Value::Float(f), serde_json::Value::Number(n)) => {
                assert!((f - n.as_f64().unwrap()).abs() < 1e-3, "{what}: {k}: {f} vs {n}")
            }
            (imageio::Value::FloatArray(a), serde_json::Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "{what}: {k}");
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y.as_f64().unwrap()).abs() < 1e-2, "{what}: {k}: {a:?} vs {b:?}");
                }
            }
            other => panic!("{what}: {k}: {other:?}"),
        }
    }
}

#[test]
fn png_metadata_we_write_reads_back_in_pillow() {
    let dir = tempfile::tempdir().unwrap();
    let mut meta = Dict::new();
    meta.insert("Title", "written by imageio-rs");
    meta.insert("Description", "Zoë — non-Latin-1 text goes to iTXt");
    meta.insert("gamma", 0.5);
    meta.insert("dpi", vec![300.0, 150.0]);
    let im = Image::new(NdArray::from(pattern(&[8, 8, 3], |i| i as u8)), meta.clone());
    imageio::imwrite(dir.path().join("meta.png"), &im, &Options::default()).unwrap();
    run_reference(&["read", dir.path().to_str().unwrap()]);
    let r = load_reference(&dir.path().join("meta.png.ref.json"));
    let info = r.info.as_object().unwrap();
    assert_eq!(info["Title"], "written by imageio-rs");
    assert_eq!(info["Description"], "Zoë — non-Latin-1 text goes to iTXt");
    assert!((info["gamma"].as_f64().unwrap() - 0.5).abs() < 1e-5);
    let dpi: Vec<f64> = info["dpi"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!((dpi[0] - 300.0).abs() < 0.1 && (dpi[1] - 150.0).abs() < 0.1, "{dpi:?}");
    // And our reader agrees with what we wrote.
    let back = imageio::imread(dir.path().join("meta.png"), &Options::default()).unwrap();
    assert_meta_matches("meta.png", &back.meta, &r.info);
}

fn pattern<T: Copy>(shape: &[usize], f: impl Fn(usize) -> T) -> ArrayD<T> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

fn mix(i: usize) -> usize {
    i.wrapping_mul(2_654_435_761) >> 7
}

#[test]
fn files_we_write_read_identically_in_pillow_and_pypng() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (29, 41);
    let u8a = |c: &[usize]| NdArray::from(pattern(&[&[h, w][..], c].concat(), |i| mix(i) as u8));
    let u16a = |c: &[usize]| NdArray::from(pattern(&[&[h, w][..], c].concat(), |i| mix(i) as u16));
    let boola = || NdArray::from(pattern(&[h, w], |i| mix(i).is_multiple_of(3)));
    let cases: Vec<(&str, NdArray, Options)> = vec![
        ("gray.png", u8a(&[]), Options::default()),
        ("gray_alpha.png", u8a(&[2]), Options::default()),
        ("rgb.png", u8a(&[3]), Options::default().with_kwarg("compression", 9)),
        ("rgba.png", u8a(&[4]), Options::default().with_kwarg("compression", 0)),
        ("gray16.png", u16a(&[]), Options::default()),
        ("rgb16.png", u16a(&[3]), Options::default()),
        ("rgba16.png", u16a(&[4]), Options::default()),
        ("bits.pbm", boola(), Options::default()),
        ("bits_ascii.pbm", boola(), Options::default().with_kwarg("ascii", true)),
        ("gray.pgm", u8a(&[]), Options::default()),
        ("gray_ascii.pgm", u8a(&[]), Options::default().with_kwarg("ascii", true)),
        ("gray16.pgm", u16a(&[]), Options::default()),
        ("rgb.ppm", u8a(&[3]), Options::default()),
        ("rgb_ascii.ppm", u8a(&[3]), Options::default().with_kwarg("ascii", true)),
        ("rgb16.ppm", u16a(&[3]), Options::default()),
        ("rgba.pam", u8a(&[4]), Options::default()),
        ("gray_alpha16.pam", u16a(&[2]), Options::default()),
    ];
    for (name, data, opts) in &cases {
        // get_writer, not imwrite: imwrite refuses 2-channel images (imageio's rule).
        let mut w = imageio::get_writer(dir.path().join(name), 'i', opts).unwrap();
        w.append_data(&Image::new(data.clone(), Dict::new()), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        w.close().unwrap();
    }
    run_reference(&["read", dir.path().to_str().unwrap()]);
    for (name, data, _) in &cases {
        let r = load_reference(&dir.path().join(format!("{name}.ref.json")));
        assert_same(name, data, &r);
    }
}
