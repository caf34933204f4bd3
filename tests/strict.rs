//! No silent wrong answer: damaged data is an error by default (checked
//! against Pillow's verdict on the same files), reading it anyway is an
//! explicit option that the metadata reports, and no conversion changes
//! what the pixels mean without being asked.

use imageio::{Error, ErrorKind, Image, Options, Value};
use imageio_tests::{imageio_bin, py};
use ndarray::{ArrayD, Dimension, IxDyn};
use std::process::Command;

fn smooth(shape: &[usize]) -> Image {
    Image::from(ArrayD::from_shape_fn(IxDyn(shape), |i| {
        let c = if i.ndim() == 3 { i[2] } else { 0 };
        ((i[0] * 5 + i[1] * 3 + c * 60) % 256) as u8
    }))
}

/// Whether Pillow decodes each file fully (`ok`) or raises (`error`).
fn pillow_verdicts(files: &[std::path::PathBuf]) -> Vec<bool> {
    let script = "import sys\nfrom PIL import Image\nfor f in sys.argv[1:]:\n    try:\n        \
                  Image.open(f).load(); print('ok')\n    except Exception:\n        print('error')\n";
    py(script, files).lines().map(|l| l == "ok").collect()
}

#[test]
fn truncated_jpegs_are_errors_as_in_pillow() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = imageio::imwrite(
        "<bytes>",
        &smooth(&[96, 128, 3]),
        &Options::default().with_format("JPEG").with_kwarg("quality", 90),
    )
    .unwrap()
    .unwrap();
    // 36 cuts inside the entropy-coded data (after the headers, before EOI).
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).expect("a scan");
    let (start, end) = (sos + 20, jpeg.len() - 2);
    let cuts: Vec<usize> = (0..36).map(|i| start + (end - start) * i / 36).collect();
    let files: Vec<_> = cuts
        .iter()
        .map(|&cut| {
            let f = dir.path().join(format!("cut-{cut}.jpg"));
            std::fs::write(&f, &jpeg[..cut]).unwrap();
            f
        })
        .collect();
    let pillow = pillow_verdicts(&files);
    assert!(pillow.iter().all(|ok| !ok), "Pillow refuses every cut: {pillow:?}");
    for f in &files {
        let e = imageio::imread(f, &Options::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{}: {e}", f.display());
        assert!(
            e.to_string().contains("accept_truncated"),
            "the message says how to read it anyway: {e}"
        );
    }
    // Asked for: the image as far as it goes, and the metadata says so.
    let im = imageio::imread(&files[18], &Options::default().with_kwarg("accept_truncated", true)).unwrap();
    assert_eq!(im.shape(), &[96, 128, 3]);
    assert_eq!(im.meta.get("truncated"), Some(&Value::Bool(true)));
    // The whole file: no flag.
    let im = imageio::imread(jpeg.clone(), &Options::default().with_kwarg("accept_truncated", true)).unwrap();
    assert_eq!(im.meta.get("truncated"), None);
    assert_eq!(im.meta.get("colorspace"), Some(&Value::Str("RGB".into())));
}

#[test]
fn rgba_never_becomes_cmyk_silently() {
    let rgba = smooth(&[16, 24, 4]);
    let e = imageio::imwrite("<bytes>", &rgba, &Options::default().with_format("JPEG")).unwrap_err();
    assert!(matches!(e, Error::Plugin { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.to_string().contains("colorspace=\"CMYK\""),
        "the message says how to ask: {e}"
    );

    // Asked for: CMYK, read back as CMYK (Pillow agrees on the mode).
    let dir = tempfile::tempdir().unwrap();
    let cmyk = dir.path().join("cmyk.jpg");
    imageio::imwrite(
        &cmyk,
        &rgba,
        &Options::default()
            .with_kwarg("colorspace", "CMYK")
            .with_kwarg("quality", 95),
    )
    .unwrap();
    let mode = py(
        "import sys\nfrom PIL import Image\nprint(Image.open(sys.argv[1]).mode)",
        &[&cmyk],
    );
    assert_eq!(mode.trim(), "CMYK");
    let back = imageio::imread(&cmyk, &Options::default()).unwrap();
    assert_eq!(back.meta.get("colorspace"), Some(&Value::Str("CMYK".into())));

    // The tool: RGBA PNG to JPEG fails and writes nothing; a CMYK JPEG
    // converts to JPEG (its metadata says CMYK).
    let png = dir.path().join("semi.png");
    imageio::imwrite(&png, &rgba, &Options::default()).unwrap();
    let jpg = dir.path().join("semi.jpg");
    let out = Command::new(imageio_bin())
        .args(["convert", png.to_str().unwrap(), jpg.to_str().unwrap()])
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CMYK"));
    assert!(!jpg.exists(), "no output file");
    let copy = dir.path().join("copy.jpg");
    let out = Command::new(imageio_bin())
        .args(["convert", cmyk.to_str().unwrap(), copy.to_str().unwrap()])
        .env_remove("IMAGEIO_PLUGIN_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        imageio::imread(&copy, &Options::default()).unwrap().shape(),
        &[16, 24, 4]
    );
}

/// An 8-bit RLE BMP: `width` x `height`, a gray palette, and `rle` as data.
fn rle8_bmp(width: i32, height: i32, rle: &[u8]) -> Vec<u8> {
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, i, i, 0]).collect();
    let offset = 14 + 40 + palette.len() as u32;
    let mut f = b"BM".to_vec();
    f.extend((offset + rle.len() as u32).to_le_bytes());
    f.extend([0u8; 4]);
    f.extend(offset.to_le_bytes());
    f.extend(40u32.to_le_bytes());
    f.extend(width.to_le_bytes());
    f.extend(height.to_le_bytes());
    f.extend(1u16.to_le_bytes());
    f.extend(8u16.to_le_bytes());
    f.extend(1u32.to_le_bytes()); // BI_RLE8
    f.extend((rle.len() as u32).to_le_bytes());
    f.extend([0u8; 16]);
    f.extend(palette);
    f.extend(rle);
    f
}

/// RLE data that ends before the image does is "not enough image data"
/// (Pillow's verdict too), not an image of zeros: the 1 KiB bomb that read
/// as a 32768x32768 image in 8 s and 4 GiB is an error at once.
#[test]
fn bmp_rle_that_ends_early_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Two full rows of a 4x2 image, then the end of the bitmap: complete.
    let full = [4, 10, 0, 0, 4, 20, 0, 0, 0, 1];
    // One row, then the end of the bitmap: a row short.
    let short = [4, 10, 0, 0, 0, 1];
    let files = [
        ("full.bmp", rle8_bmp(4, 2, &full)),
        ("short.bmp", rle8_bmp(4, 2, &short)),
        ("cut.bmp", rle8_bmp(4, 2, &full[..5])),
        ("bomb.bmp", rle8_bmp(32768, 32768, &[0, 1])),
    ];
    let paths: Vec<_> = files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    let pillow = pillow_verdicts(&paths);
    assert_eq!(pillow, [true, false, false, false], "Pillow's verdicts");
    let im = imageio::imread(&paths[0], &Options::default()).unwrap();
    assert_eq!(im.shape(), &[2, 4]);
    assert_eq!(im.data.to_bytes(), [20, 20, 20, 20, 10, 10, 10, 10], "bottom-up rows");
    for p in &paths[1..] {
        let e = imageio::imread(p, &Options::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{}: {e}", p.display());
        assert!(e.to_string().contains("not enough image data"), "{e}");
    }
}

/// Every other reader refuses truncated files too: 20 cuts each of files
/// Pillow and numpy write (PNG, GIF, TIFF, BMP, lossless WebP, PPM, NPY).
#[test]
fn truncated_files_are_errors_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys, numpy as np\nfrom PIL import Image\n\
                  a = (np.random.default_rng(1).random((64, 80, 3)) * 255).astype('uint8')\n\
                  for ext in ('png', 'gif', 'tif', 'bmp', 'ppm'):\n    Image.fromarray(a).save(sys.argv[1] + '/x.' + ext)\n\
                  Image.fromarray(a).save(sys.argv[1] + '/x.webp', lossless=True)\n\
                  np.save(sys.argv[1] + '/x.npy', a)\n";
    py(script, &[dir.path()]);
    for ext in ["png", "gif", "tif", "bmp", "webp", "ppm", "npy"] {
        let whole = std::fs::read(dir.path().join(format!("x.{ext}"))).unwrap();
        assert!(
            imageio::imread(whole.clone(), &Options::default()).is_ok(),
            "{ext}: the whole file reads"
        );
        for i in 1..=20 {
            let cut = whole.len() * i / 21;
            let r = imageio::imread(
                whole[..cut].to_vec(),
                &Options::default().with_extension(&format!(".{ext}")),
            );
            assert!(
                r.is_err(),
                "{ext} cut at {cut} of {} bytes read as an image",
                whole.len()
            );
        }
    }
}

/// With `accept_truncated`, PNG and NPY files cut inside their pixel data
/// read as far as they go: the full shape, the leading rows as Pillow and
/// numpy wrote them, zeros after, and `truncated: true` in the metadata.
/// Without it, the error says how to ask.
#[test]
fn accept_truncated_reads_png_and_npy_as_far_as_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys, numpy as np\nfrom PIL import Image\n\
                  a = (np.random.default_rng(2).random((64, 80, 3)) * 255).astype('uint8')\n\
                  Image.fromarray(a).save(sys.argv[1] + '/x.png', compress_level=0)\n\
                  np.save(sys.argv[1] + '/x.npy', a)\n";
    py(script, &[dir.path()]);
    for ext in ["png", "npy"] {
        let whole = std::fs::read(dir.path().join(format!("x.{ext}"))).unwrap();
        let full = imageio::imread(whole.clone(), &Options::default()).unwrap();
        let cut = whole[..whole.len() * 2 / 3].to_vec();
        let strict = imageio::imread(cut.clone(), &Options::default()).unwrap_err();
        assert!(strict.to_string().contains("accept_truncated=true"), "{ext}: {strict}");
        let opts = Options::default().with_kwarg("accept_truncated", true);
        let im = imageio::imread(cut, &opts).unwrap();
        assert_eq!(im.shape(), full.shape(), "{ext}");
        assert_eq!(im.meta.get("truncated"), Some(&Value::Bool(true)), "{ext}");
        let (a, b) = (im.data.to_bytes(), full.data.to_bytes());
        // The first rows are intact, the last are zeros.
        let row = 80 * 3;
        assert_eq!(a[..10 * row], b[..10 * row], "{ext}: the leading rows");
        assert!(
            a[a.len() - row..].iter().all(|&v| v == 0),
            "{ext}: the missing rows are zeros"
        );
        // A whole file with the option reads as usual, without the flag.
        let im = imageio::imread(whole, &opts).unwrap();
        assert_eq!(im.data, full.data);
        assert_eq!(im.meta.get("truncated"), None);
    }
}
