//! The standard formats against independent implementations, both ways
//! (`tests/interop/formats.py`): files Pillow, tifffile and numpy wrote, in
//! every mode the plugins claim, read by imageio-rs and compared with the
//! reference tools' own decoding (and with the shapes and dtypes imageio
//! itself returns for them); files imageio-rs wrote, read by the
//! reference tools and compared with what was written, and read by imageio
//! itself with the shapes and dtypes imageio-rs reads them with. Lossless formats
//! must match exactly; lossy ones (JPEG, lossy WebP) within the stated
//! tolerance.

use imageio::{Dtype, Image, NdArray, Options, Value};
use imageio_tests::*;
use ndarray::{ArrayD, Dimension, IxDyn};
use serde_json::{Value as Json, json};
use std::process::Command;

fn formats_py(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(workspace().join("tests/interop/formats.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "formats.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares a decoded array with raw expected bytes; returns a failure.
fn compare(what: &str, got: &NdArray, frame: &Json, max_diff: f64, mean_diff: f64) -> Option<String> {
    let dtype = frame["dtype"].as_str().unwrap();
    let shape: Vec<usize> = frame["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    if got.dtype().name() != dtype || got.shape() != shape.as_slice() {
        return Some(format!(
            "{what}: {:?} {}, expected {shape:?} {dtype}",
            got.shape(),
            got.dtype().name()
        ));
    }
    let want = std::fs::read(frame["raw"].as_str().unwrap()).unwrap();
    let ours = got.to_bytes();
    if max_diff == 0.0 {
        if ours != want {
            let at = ours.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
            return Some(format!("{what}: bytes differ from the reference at byte {at}"));
        }
        return None;
    }
    // Lossy formats are uint8.
    let diffs: Vec<f64> = ours
        .iter()
        .zip(&want)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs())
        .collect();
    let max = diffs.iter().copied().fold(0.0, f64::max);
    let mean = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
    (max > max_diff || mean > mean_diff)
        .then(|| format!("{what}: max diff {max}, mean {mean:.3} (allowed {max_diff}, {mean_diff})"))
}

fn value_matches(got: Option<&Value>, want: &Json) -> bool {
    match (got, want) {
        (Some(Value::Int(i)), Json::Number(n)) => n.as_f64() == Some(*i as f64),
        (Some(Value::Float(f)), Json::Number(n)) => n.as_f64().is_some_and(|w| (w - f).abs() < 1e-9),
        (Some(Value::Bool(b)), Json::Bool(w)) => b == w,
        (Some(Value::Str(s)), Json::String(w)) => s == w,
        (Some(Value::FloatArray(a)), Json::Array(w)) => {
            a.len() == w.len()
                && a.iter()
                    .zip(w)
                    .all(|(x, y)| y.as_f64().is_some_and(|y| (x - y).abs() < 1e-6))
        }
        (Some(Value::IntArray(a)), Json::Array(w)) => {
            a.len() == w.len() && a.iter().zip(w).all(|(x, y)| y.as_f64() == Some(*x as f64))
        }
        _ => false,
    }
}

fn check_meta(what: &str, im: &Image, want: &Json, failures: &mut Vec<String>) {
    for (k, v) in want.as_object().into_iter().flatten() {
        let got = im.meta.get(k);
        if !value_matches(got, v) {
            failures.push(format!("{what}: metadata {k} = {got:?}, expected {v}"));
        }
    }
}

#[test]
fn files_written_by_reference_tools_read_identically() {
    let dir = tempfile::tempdir().unwrap();
    formats_py(&["gen", dir.path().to_str().unwrap()]);
    let manifest: Json = serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let entries = manifest.as_array().unwrap();
    let mut failures = Vec::new();
    let mut per_format = std::collections::BTreeMap::<String, usize>::new();
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let file = e["file"].as_str().unwrap();
        let fmt = e["format"].as_str().unwrap();
        let mode = e["mode"].as_str().unwrap().chars().next().unwrap();
        let read = || -> imageio::Result<(String, Vec<Image>)> {
            let mut r = imageio::get_reader(file, mode, &Options::default())?;
            let chosen = r.format().name().to_owned();
            let mut images = Vec::new();
            for im in r.iter_data()? {
                images.push(im?);
            }
            r.close()?;
            Ok((chosen, images))
        };
        let (chosen, images) = match read() {
            Ok(x) => x,
            Err(err) => {
                failures.push(format!("{name}: cannot read: {err}"));
                continue;
            }
        };
        if chosen != fmt {
            failures.push(format!("{name}: read as {chosen}, not {fmt}"));
        }
        let frames = e["frames"].as_array().unwrap();
        if images.len() != frames.len() {
            failures.push(format!("{name}: {} images, expected {}", images.len(), frames.len()));
            continue;
        }
        let (max, mean) = (e["max_diff"].as_f64().unwrap(), e["mean_diff"].as_f64().unwrap());
        for (i, (im, frame)) in images.iter().zip(frames).enumerate() {
            failures.extend(compare(&format!("{name}[{i}]"), &im.data, frame, max, mean));
        }
        // The same shapes and dtypes as imageio itself (its v2 API).
        if let Some(view) = e.get("imageio") {
            let mut shape: Vec<u64> = images[0].shape().iter().map(|&d| d as u64).collect();
            if mode == 'I' || mode == 'V' {
                shape.insert(0, images.len() as u64);
            }
            if view["shape"] != json!(shape) || view["dtype"] != images[0].dtype().name() {
                failures.push(format!(
                    "{name}: imageio gives {view}, imageio-rs {shape:?} {}",
                    images[0].dtype().name()
                ));
            }
            *per_format.entry("imageio".into()).or_default() += 1;
        }
        check_meta(name, &images[0], &e["meta"], &mut failures);
        for (i, want) in e["frame_meta"].as_array().unwrap().iter().enumerate() {
            check_meta(&format!("{name}[{i}]"), &images[i], want, &mut failures);
        }
        *per_format.entry(fmt.to_owned()).or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(per_format["imageio"] >= 100, "{per_format:?}");
    // Every format is covered.
    for f in ["JPEG", "TIFF", "GIF", "BMP", "NPY", "WEBP"] {
        assert!(per_format.get(f).copied().unwrap_or(0) >= 3, "{f}: {per_format:?}");
    }
}

/// Pseudo-random values covering a dtype's range.
fn sample(dtype: Dtype, shape: &[usize], seed: u64) -> NdArray {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 11
    };
    let n: usize = shape.iter().product();
    let s = IxDyn(shape);
    macro_rules! ints {
        ($t:ty) => {
            ArrayD::from_shape_vec(s, (0..n).map(|_| next() as $t).collect())
                .unwrap()
                .into()
        };
    }
    match dtype {
        Dtype::U8 => ints!(u8),
        Dtype::U16 => ints!(u16),
        Dtype::U32 => ints!(u32),
        Dtype::U64 => ArrayD::from_shape_vec(s, (0..n).map(|_| next() << 11 | next() & 0x7ff).collect::<Vec<u64>>())
            .unwrap()
            .into(),
        Dtype::I8 => ints!(i8),
        Dtype::I16 => ints!(i16),
        Dtype::I32 => ints!(i32),
        Dtype::I64 => ArrayD::from_shape_vec(
            s,
            (0..n)
                .map(|_| (next() << 11 | next() & 0x7ff) as i64)
                .collect::<Vec<i64>>(),
        )
        .unwrap()
        .into(),
        Dtype::F32 => ArrayD::from_shape_vec(s, (0..n).map(|_| (next() as f32 / 1e9) - 4000.0).collect::<Vec<f32>>())
            .unwrap()
            .into(),
        Dtype::F64 => ArrayD::from_shape_vec(s, (0..n).map(|_| (next() as f64 / 1e9) - 4000.0).collect::<Vec<f64>>())
            .unwrap()
            .into(),
        Dtype::Bool => ArrayD::from_shape_vec(s, (0..n).map(|_| next() & 1 == 1).collect::<Vec<bool>>())
            .unwrap()
            .into(),
        Dtype::F16 => ArrayD::from_shape_vec(
            s,
            (0..n)
                .map(|_| imageio::half::f16::from_f32((next() % 60000) as f32 / 8.0 - 3000.0))
                .collect::<Vec<_>>(),
        )
        .unwrap()
        .into(),
    }
}

/// A smooth uint8 image (lossy codecs are judged on realistic content).
fn smooth(shape: &[usize]) -> NdArray {
    NdArray::U8(ArrayD::from_shape_fn(IxDyn(shape), |i| {
        let c = if i.ndim() == 3 { i[2] } else { 0 };
        ((i[0] * 3 + i[1] * 2 + c * 50) % 256) as u8
    }))
}

/// A uint8 image with few colours (exact in a GIF palette).
fn few_colors(shape: &[usize]) -> NdArray {
    NdArray::U8(ArrayD::from_shape_fn(IxDyn(shape), |i| {
        let c = if i.ndim() == 3 { i[2] } else { 0 };
        (((i[0] / 4 + i[1] / 5) % 7) * 30 + c * 10) as u8
    }))
}

struct Out {
    dir: std::path::PathBuf,
    entries: Vec<Json>,
}

impl Out {
    fn raw(&self, name: &str, a: &NdArray) -> Json {
        let p = self.dir.join(format!("{name}.raw"));
        std::fs::write(&p, a.to_bytes()).unwrap();
        json!({ "raw": p.to_str().unwrap(), "dtype": a.dtype().name(), "shape": a.shape() })
    }

    fn add(&mut self, name: &str, fmt: &str, mode: &str, frames: &[NdArray], extra: Json) {
        let raws: Vec<Json> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| self.raw(&format!("{name}.{i}"), f))
            .collect();
        let mut e = json!({
            "name": name, "file": self.dir.join(name).to_str().unwrap(), "format": fmt, "mode": mode,
            "frames": raws, "max_diff": 0, "mean_diff": 0.0, "frame_meta": [],
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            e[k] = v.clone();
        }
        self.entries.push(e);
    }
}

#[test]
fn files_we_write_are_read_identically_by_reference_tools() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Out {
        dir: dir.path().to_path_buf(),
        entries: Vec::new(),
    };
    let path = |name: &str| dir.path().join(name);
    let opts = Options::default;

    // JPEG: gray, RGB and CMYK; baseline and progressive.
    for (name, shape, kw) in [
        ("gray.jpg", vec![40usize, 56], json!({})),
        ("rgb.jpg", vec![48, 64, 3], json!({})),
        ("progressive.jpg", vec![48, 64, 3], json!({"progressive": true})),
        ("cmyk.jpg", vec![32, 40, 4], json!({})),
    ] {
        let a = smooth(&shape);
        // Full-resolution chroma: the default 4:2:0 (Pillow's) is checked
        // against Pillow's own encoding in jpeg_metadata_we_write_....
        let mut o = opts().with_kwarg("quality", 95).with_kwarg("subsampling", "4:4:4");
        if kw["progressive"] == true {
            o = o.with_kwarg("progressive", true);
        }
        if shape.len() == 3 && shape[2] == 4 {
            // Four channels are CMYK only when asked for.
            o = o.with_kwarg("colorspace", "CMYK");
        }
        imageio::imwrite(path(name), &Image::from(a.clone()), &o).unwrap();
        out.add(name, "JPEG", "i", &[a], json!({"max_diff": 24, "mean_diff": 2.0}));
    }

    // TIFF: every dtype, gray/RGB/RGBA, every compression.
    // Every dtype but bool (TIFF has no boolean samples to write).
    let dtypes = &Dtype::ALL[..10];
    let mut seed = 1;
    for &dtype in dtypes {
        for channels in [1usize, 3, 4] {
            for comp in ["none", "lzw", "deflate", "packbits"] {
                seed += 1;
                let shape: Vec<usize> = if channels == 1 {
                    vec![13, 17]
                } else {
                    vec![13, 17, channels]
                };
                let a = sample(dtype, &shape, seed);
                let name = format!("{}-{channels}-{comp}.tif", dtype.name());
                imageio::imwrite(
                    path(&name),
                    &Image::from(a.clone()),
                    &opts().with_kwarg("compression", comp),
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
                out.add(&name, "TIFF", "i", &[a], json!({}));
            }
        }
    }
    // Pages with metadata, and a volume.
    let pages: Vec<NdArray> = (0..3).map(|i| sample(Dtype::U16, &[9, 11, 3], 100 + i)).collect();
    let images: Vec<Image> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut im = Image::from(p.clone());
            im.meta.insert("description", format!("page {i}"));
            im.meta.insert("resolution", Value::FloatArray(vec![72.0, 300.0]));
            im
        })
        .collect();
    imageio::mimwrite(path("pages.tif"), &images, &opts().with_kwarg("compression", "lzw")).unwrap();
    let frame_meta: Vec<Json> = (0..3)
        .map(|i| json!({"description": format!("page {i}"), "resolution": [72.0, 300.0]}))
        .collect();
    out.add("pages.tif", "TIFF", "I", &pages, json!({ "frame_meta": frame_meta }));
    let vol = sample(Dtype::F32, &[4, 6, 5], 7);
    imageio::volwrite(path("volume.tif"), &Image::from(vol.clone()), &opts()).unwrap();
    out.add("volume.tif", "TIFF", "v", &[vol], json!({}));
    let vols: Vec<NdArray> = (0..2).map(|k| sample(Dtype::U16, &[3, 5, 6], 50 + k)).collect();
    imageio::mvolwrite(
        path("volumes.tif"),
        &vols.iter().cloned().map(Image::from).collect::<Vec<_>>(),
        &opts(),
    )
    .unwrap();
    out.add("volumes.tif", "TIFF", "V", &vols, json!({}));

    // GIF: an animation with durations and a loop count; a still image.
    let frames: Vec<NdArray> = (0..3)
        .map(|k| {
            let base = few_colors(&[24, 30, 3]);
            let NdArray::U8(mut a) = base else { unreachable!() };
            a.mapv_inplace(|v| v.wrapping_add(k * 40));
            NdArray::U8(a)
        })
        .collect();
    let images: Vec<Image> = frames.iter().cloned().map(Image::from).collect();
    imageio::mimwrite(
        path("anim.gif"),
        &images,
        &opts()
            .with_kwarg("duration", Value::IntArray(vec![100, 250, 400]))
            .with_kwarg("loop", 2),
    )
    .unwrap();
    let frame_meta: Vec<Json> = [100, 250, 400]
        .iter()
        .map(|d| json!({"duration": d, "loop": 2}))
        .collect();
    out.add("anim.gif", "GIF", "I", &frames, json!({ "frame_meta": frame_meta }));
    let still = few_colors(&[10, 12, 3]);
    imageio::imwrite(path("still.gif"), &Image::from(still.clone()), &opts()).unwrap();
    out.add("still.gif", "GIF", "i", &[still], json!({}));

    // BMP: gray, RGB, RGBA.
    for (name, shape) in [
        ("gray.bmp", vec![11usize, 13]),
        ("rgb.bmp", vec![11, 13, 3]),
        ("rgba.bmp", vec![7, 9, 4]),
    ] {
        let a = sample(Dtype::U8, &shape, shape.len() as u64 * 31);
        imageio::imwrite(path(name), &Image::from(a.clone()), &opts()).unwrap();
        out.add(name, "BMP", "i", &[a], json!({}));
    }

    // NPY: every dtype, 0 to 4 dimensions; a stack written in mode I.
    for dtype in Dtype::ALL {
        for shape in [vec![], vec![5usize], vec![3, 4], vec![2, 3, 4], vec![2, 2, 3, 2]] {
            seed += 1;
            let a = sample(dtype, &shape, seed);
            let name = format!("{}-{}d.npy", dtype.name(), shape.len());
            imageio::formats()
                .get_writer(path(&name), 'v', &opts())
                .and_then(|mut w| {
                    w.append_data(&Image::from(a.clone()), None)?;
                    w.close()
                })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            out.add(&name, "NPY", "v", &[a], json!({}));
        }
    }
    let stack: Vec<NdArray> = (0..3).map(|i| sample(Dtype::I16, &[4, 5], 300 + i)).collect();
    imageio::mimwrite(
        path("stack.npy"),
        &stack.iter().cloned().map(Image::from).collect::<Vec<_>>(),
        &opts(),
    )
    .unwrap();
    let NdArray::I16(first) = &stack[0] else { unreachable!() };
    let mut all = Vec::new();
    for s in &stack {
        if let NdArray::I16(a) = s {
            all.extend(a.iter().copied());
        }
    }
    let stacked = NdArray::I16(ArrayD::from_shape_vec(IxDyn(&[3, first.shape()[0], first.shape()[1]]), all).unwrap());
    out.add("stack.npy", "NPY", "v", &[stacked], json!({}));

    // WebP, lossless: gray (read back as RGB by Pillow), RGB, RGBA.
    for (name, shape) in [
        ("gray.webp", vec![9usize, 14]),
        ("rgb.webp", vec![12, 10, 3]),
        ("rgba.webp", vec![8, 8, 4]),
    ] {
        let a = sample(Dtype::U8, &shape, shape.iter().sum::<usize>() as u64);
        imageio::imwrite(path(name), &Image::from(a.clone()), &opts()).unwrap();
        out.add(name, "WEBP", "i", &[a], json!({"gray_as_rgb": true}));
    }

    // How imageio-rs reads each file back (imageio must read it the same way).
    for e in &mut out.entries {
        let file = e["file"].as_str().unwrap().to_owned();
        let mode = e["mode"].as_str().unwrap().chars().next().unwrap();
        let images = match mode {
            'I' => imageio::mimread(&file, &Options::default()).unwrap(),
            'V' => imageio::mvolread(&file, &Options::default()).unwrap(),
            'v' => vec![imageio::volread(&file, &Options::default()).unwrap()],
            _ => vec![imageio::imread(&file, &Options::default()).unwrap()],
        };
        let mut shape: Vec<usize> = images[0].shape().to_vec();
        if mode == 'I' || mode == 'V' {
            shape.insert(0, images.len());
        }
        e["ours_read"] = json!({ "shape": shape, "dtype": images[0].dtype().name() });
    }
    let manifest = dir.path().join("ours.json");
    std::fs::write(&manifest, serde_json::to_vec(&out.entries).unwrap()).unwrap();
    let failures: Vec<String> = serde_json::from_str(&formats_py(&["check", manifest.to_str().unwrap()])).unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(out.entries.len() > 150, "{}", out.entries.len());
}

#[test]
fn options_reach_the_plugins_and_unknown_ones_are_named() {
    let im = Image::from(smooth(&[64, 64, 3]));
    let size = |q: i64| {
        imageio::imwrite("<bytes>.jpg", &im, &Options::default().with_kwarg("quality", q))
            .unwrap()
            .unwrap()
            .len()
    };
    assert!(
        size(95) > size(30) * 2,
        "quality changes the file: {} vs {}",
        size(95),
        size(30)
    );
    let e = imageio::imwrite("<bytes>.jpg", &im, &Options::default().with_kwarg("qualty", 90)).unwrap_err();
    assert!(
        e.to_string().contains(
            "unknown option \"qualty\" for format JPEG (known options: quality, progressive, optimize, colorspace, subsampling)"
        ),
        "{e}"
    );
    for (ext, bad) in [
        (".tif", "compresion"),
        (".gif", "fps"),
        (".webp", "quality"),
        (".bmp", "x"),
        (".npy", "y"),
    ] {
        let e = imageio::imwrite(format!("<bytes>{ext}"), &im, &Options::default().with_kwarg(bad, 1)).unwrap_err();
        assert!(
            e.to_string().contains(&format!("unknown option \"{bad}\"")),
            "{ext}: {e}"
        );
    }
    let e = imageio::imwrite(
        "<bytes>.tif",
        &im,
        &Options::default().with_kwarg("compression", "jpeg2000"),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("must be none, lzw, deflate (zlib), packbits or a TIFF code"),
        "{e}"
    );
    let e = imageio::imwrite("<bytes>.webp", &im, &Options::default().with_kwarg("lossless", false)).unwrap_err();
    assert!(e.to_string().contains("lossy WebP encoding is not available"), "{e}");
}

/// Uncompressed 24-bit BMPs (read in place, without a decoder): bottom-up
/// and top-down rows, with and without row padding, read as Pillow reads
/// them; one cut short is an error.
#[test]
fn uncompressed_24_bit_bmps_read_as_pillow_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h, top_down) in [(5usize, 3usize, false), (5, 3, true), (4, 2, false), (4, 2, true)] {
        let row = (w * 3).div_ceil(4) * 4;
        let mut px = Vec::new();
        for y in 0..h {
            for x in 0..w {
                px.extend([(x * 40) as u8, (y * 70) as u8, (x * 13 + y * 29) as u8]);
            }
            px.resize((y + 1) * row, 0xEE);
        }
        let mut f = b"BM".to_vec();
        f.extend((54 + px.len() as u32).to_le_bytes());
        f.extend([0, 0, 0, 0]);
        f.extend(54u32.to_le_bytes());
        f.extend(40u32.to_le_bytes());
        f.extend((w as i32).to_le_bytes());
        f.extend((if top_down { -(h as i32) } else { h as i32 }).to_le_bytes());
        f.extend(1u16.to_le_bytes());
        f.extend(24u16.to_le_bytes());
        f.extend([0u8; 24]);
        f.extend(&px);
        let path = dir.path().join(format!("x{w}{top_down}.bmp"));
        std::fs::write(&path, &f).unwrap();
        let ours = imageio::imread(path.as_path(), &Options::default()).unwrap();
        let pillow = py(
            "import sys, numpy as np\nfrom PIL import Image\n\
             print(' '.join(map(str, np.asarray(Image.open(sys.argv[1]).convert('RGB')).ravel())))",
            &[&path],
        );
        let want: Vec<u8> = pillow.split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert_eq!(ours.shape(), &[h, w, 3]);
        assert_eq!(ours.data.to_bytes(), want, "{w}x{h} top_down={top_down}");
        let cut = imageio::imread(f[..f.len() - row - 2].to_vec(), &Options::default());
        assert!(cut.is_err(), "{w}x{h} top_down={top_down}: a cut file read");
    }
}

/// The JPEG writer's metadata, as Pillow reads it: the EXIF block, an ICC
/// profile larger than one marker (split over APP2 segments), the density,
/// with optimised Huffman tables and progressive scans; and the pixels of
/// a q100 4:2:0 file within JPEG's error of the source.
#[test]
fn jpeg_metadata_we_write_is_what_pillow_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("meta.jpg");
    let a = smooth(&[64, 80, 3]);
    let exif: Vec<u8> = b"Exif\0\0II*\0\x08\0\0\0\0\0".to_vec();
    let icc: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut image = Image::from(a.clone());
    image.meta.insert("exif", Value::Bytes(exif.clone()));
    image.meta.insert("icc_profile", Value::Bytes(icc.clone()));
    image.meta.insert("dpi", Value::FloatArray(vec![300.0, 150.0]));
    let o = Options::default()
        .with_kwarg("quality", 100)
        .with_kwarg("optimize", true)
        .with_kwarg("progressive", true);
    imageio::imwrite(&file, &image, &o).unwrap();
    let script = "import sys, hashlib, numpy as np\nfrom PIL import Image\n\
                  im = Image.open(sys.argv[1])\n\
                  print(im.mode, im.size, im.info.get('dpi'), im.info.get('progressive'))\n\
                  print(hashlib.sha256(im.info['icc_profile']).hexdigest(), len(im.info['icc_profile']))\n\
                  print(im.info['exif'].hex())\n\
                  np.save(sys.argv[2], np.asarray(im))\n";
    let npy = dir.path().join("pillow.npy");
    let shown = py(script, &[file.as_os_str(), npy.as_os_str()]);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "RGB (80, 64) (300, 150) 1", "{shown}");
    let icc_hash = py(
        "import sys, hashlib\nprint(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest(), 150000)",
        &[{
            let p = dir.path().join("icc.bin");
            std::fs::write(&p, &icc).unwrap();
            p
        }],
    );
    assert_eq!(lines[1], icc_hash.trim(), "the ICC profile, joined from its segments");
    let hex: String = exif.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(lines[2], hex);
    // The default 4:2:0 at q100: Pillow decodes our file as it decodes the
    // file it encodes itself from the same pixels and options.
    let source = dir.path().join("source.npy");
    imageio::imwrite(&source, &Image::from(a.clone()), &Options::default()).unwrap();
    let own = dir.path().join("own.npy");
    py(
        "import sys, io, numpy as np\nfrom PIL import Image\n\
         b = io.BytesIO()\n\
         Image.fromarray(np.load(sys.argv[1])).save(b, 'JPEG', quality=100, optimize=True, progressive=True)\n\
         np.save(sys.argv[2], np.asarray(Image.open(b)))\n",
        &[source.as_os_str(), own.as_os_str()],
    );
    let ours = imageio::imread(&npy, &Options::default()).unwrap();
    let theirs = imageio::imread(&own, &Options::default()).unwrap();
    let (NdArray::U8(x), NdArray::U8(y)) = (&ours.data, &theirs.data) else {
        panic!("uint8 expected")
    };
    assert_eq!(x.shape(), y.shape());
    let worst = x.iter().zip(y.iter()).map(|(p, q)| p.abs_diff(*q)).max().unwrap();
    // A build without libjpeg encodes with jpeg-encoder, whose chroma
    // downsampling is not libjpeg's (its pixels are checked at 4:4:4 above).
    let encoder = imageio::formats().get("JPEG").unwrap().description().to_owned();
    if encoder.contains("libjpeg-turbo") {
        assert!(worst <= 2, "our 4:2:0 file decodes up to {worst} away from Pillow's");
    }
    // CMYK keeps its density (in a JFIF header, as Pillow writes it); an
    // empty ICC profile writes none; one too large for 255 markers is an
    // error, not a damaged file.
    let cmyk_file = dir.path().join("cmyk.jpg");
    let mut cmyk = Image::from(smooth(&[24, 32, 4]));
    cmyk.meta.insert("dpi", Value::FloatArray(vec![200.0, 200.0]));
    cmyk.meta.insert("icc_profile", Value::Bytes(Vec::new()));
    imageio::imwrite(&cmyk_file, &cmyk, &Options::default().with_kwarg("colorspace", "CMYK")).unwrap();
    let shown = py(
        "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1])\n\
         print(im.mode, im.info.get('dpi'), 'icc_profile' in im.info)",
        &[cmyk_file.as_os_str()],
    );
    assert_eq!(shown.trim(), "CMYK (200, 200) False");
    let mut huge = Image::from(smooth(&[8, 8, 3]));
    huge.meta.insert("icc_profile", Value::Bytes(vec![7; 255 * 65519 + 1]));
    let e = imageio::imwrite(dir.path().join("huge.jpg"), &huge, &Options::default()).unwrap_err();
    assert!(e.to_string().contains("ICC profile"), "{e}");
    assert!(!dir.path().join("huge.jpg").exists());
    // Wider than libjpeg's 65500: written all the same (by jpeg-encoder),
    // and read back.
    let wide_file = dir.path().join("wide.jpg");
    let wide = NdArray::U8(ArrayD::from_elem(IxDyn(&[2, 65_501]), 90u8));
    imageio::imwrite(&wide_file, &Image::from(wide), &Options::default()).unwrap();
    let back = imageio::imread(&wide_file, &Options::default()).unwrap();
    assert_eq!(back.data.shape(), &[2, 65_501]);
    // Pillow's subsampling values are ours; others are refused by name.
    for bad in [json!(3), json!("4:1:1")] {
        let o = match &bad {
            Json::String(t) => Options::default().with_kwarg("subsampling", t.as_str()),
            other => Options::default().with_kwarg("subsampling", other.as_i64().unwrap()),
        };
        let e = imageio::imwrite(dir.path().join("bad.jpg"), &Image::from(a.clone()), &o).unwrap_err();
        assert!(e.to_string().contains("subsampling"), "{e}");
    }
}

/// Large PNGs are deflated on several threads (one zlib stream in primed
/// pieces): pypng, an independent pure-Python decoder that checks the
/// stream's Adler-32 and every chunk's CRC, reads exactly our pixels, 8-bit
/// RGB and 16-bit RGBA, at the default level and at level 9.
#[test]
fn large_pngs_deflated_in_pieces_read_exactly_in_pypng() {
    let dir = tempfile::tempdir().unwrap();
    let rgb = NdArray::U8(ArrayD::from_shape_fn(IxDyn(&[820, 1024, 3]), |d| {
        let (y, x, c) = (d[0], d[1], d[2]);
        ((x * (c + 1) + y * 3) as u8) ^ (((x * 31 + y * 17) % 7) as u8)
    }));
    let rgba16 = NdArray::U16(ArrayD::from_shape_fn(IxDyn(&[500, 640, 4]), |d| {
        let (y, x, c) = (d[0], d[1], d[2]);
        ((x * 97 + y * 131 + c * 7919) % 65536) as u16
    }));
    let script = "import sys, numpy as np, png\n\
                  w, h, rows, info = png.Reader(filename=sys.argv[1]).asDirect()\n\
                  dtype = np.uint16 if info['bitdepth'] > 8 else np.uint8\n\
                  a = np.vstack([np.asarray(r, dtype=dtype) for r in rows]).reshape(h, w, info['planes'])\n\
                  np.save(sys.argv[2], a)\n";
    for (name, array, level) in [
        ("rgb.png", &rgb, None),
        ("rgb9.png", &rgb, Some(9)),
        ("rgba16.png", &rgba16, None),
    ] {
        let file = dir.path().join(name);
        let mut o = Options::default();
        if let Some(l) = level {
            o = o.with_kwarg("compression", l);
        }
        imageio::imwrite(&file, &Image::from(array.clone()), &o).unwrap();
        let npy = dir.path().join(format!("{name}.npy"));
        py(script, &[file.as_os_str(), npy.as_os_str()]);
        let back = imageio::imread(&npy, &Options::default()).unwrap();
        assert!(back.data == *array, "{name}: pypng reads other pixels");
    }
}

/// float16 end to end: numpy's `float16` NPY and tifffile's half-float
/// TIFF read as `float16` with the same values; our NPY reads back in
/// numpy; `image_as_uint` on half floats matches imageio's.
#[test]
fn float16_reads_and_writes_as_numpy_and_tifffile_do() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("half.npy");
    let tif = dir.path().join("half.tif");
    let values = py(
        "import sys, json, numpy as np, tifffile\n\
         a = (np.arange(24, dtype=np.float32).reshape(4, 6) / 7 - 1).astype(np.float16)\n\
         a[0, 0] = np.inf; a[0, 1] = -0.0; a[0, 2] = 65504; a[0, 3] = 6e-8\n\
         np.save(sys.argv[1], a); tifffile.imwrite(sys.argv[2], a)\n\
         print(json.dumps([repr(float(x)) for x in a.ravel()]))",
        &[&npy, &tif],
    );
    let parse = |text: &str| -> Vec<f64> {
        let v: Vec<String> = serde_json::from_str(text).unwrap();
        v.iter().map(|x| x.parse::<f64>().unwrap()).collect()
    };
    let want = parse(&values);
    for file in [&npy, &tif] {
        let im = imageio::v3::imread(file.as_path()).unwrap();
        assert_eq!(im.dtype().name(), "float16", "{}", file.display());
        assert_eq!(im.shape(), &[4, 6]);
        let got: Vec<f64> = im
            .as_array::<imageio::half::f16>()
            .unwrap()
            .iter()
            .map(|v| v.to_f64())
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!(
                g == w || (g.is_nan() && w.is_nan()),
                "{}: {got:?} vs {want:?}",
                file.display()
            );
        }
        assert!(got[1].is_sign_negative(), "-0.0 keeps its sign");
    }
    // Ours, read by numpy.
    let ours = dir.path().join("ours.npy");
    let im = imageio::v3::imread(npy.as_path()).unwrap();
    imageio::v3::imwrite(&ours, &im).unwrap();
    let back = py(
        "import sys, json, numpy as np\n\
         a = np.load(sys.argv[1]); assert str(a.dtype) == 'float16', a.dtype\n\
         print(json.dumps([repr(float(x)) for x in a.ravel()]))",
        &[&ours],
    );
    assert_eq!(parse(&back), want);
    // image_as_uint of half floats, against imageio's.
    let small = py(
        "import sys, json, numpy as np\n\
         from imageio.core import image_as_uint\n\
         import warnings; warnings.simplefilter('ignore')\n\
         a = np.array([0, 0.25, 0.5, 0.999, 1], dtype=np.float16)\n\
         print(json.dumps([int(x) for x in image_as_uint(a, bitdepth=8)] + [int(x) for x in image_as_uint(a, bitdepth=16)]))",
        &[] as &[&str],
    );
    let expect: Vec<i64> = serde_json::from_str(&small).unwrap();
    let a = imageio::NdArray::F16(
        imageio::ndarray::arr1(&[0.0f32, 0.25, 0.5, 0.999, 1.0].map(imageio::half::f16::from_f32)).into_dyn(),
    );
    let u8s = imageio::image_as_uint(&a, Some(8)).unwrap().to_bytes();
    let u16s: Vec<i64> = imageio::image_as_uint(&a, Some(16))
        .unwrap()
        .as_u16()
        .unwrap()
        .iter()
        .map(|&v| i64::from(v))
        .collect();
    let ours: Vec<i64> = u8s.iter().map(|&v| i64::from(v)).chain(u16s).collect();
    assert_eq!(ours, expect);
}
