//! `imageio::v3`: the nine daily tasks of an imageio v3 user, written with
//! `imageio::v3` here and with Python imageio v3 in
//! `tests/interop/daily_tasks.py`, run on the same files (a PNG, a GIF that
//! Pillow wrote, a 16-bit PNG, the PNG over http): both find the same
//! pixels, metadata and properties, and the Rust takes no more lines.

use imageio::ndarray::{Axis, s, stack};
use imageio::v3::{self, Args};
use imageio::{ErrorKind, Image, Result};
use imageio_tests::httpd::{Route, Server};
use imageio_tests::*;
use serde_json::{Value as Json, json};
use std::path::Path;

fn digest(im: &Image) -> Json {
    let bytes = im.data.to_bytes();
    let size = im.dtype().size();
    let values: Vec<i64> = match size {
        1 => bytes.iter().map(|&b| i64::from(b)).collect(),
        _ => bytes
            .chunks(2)
            .map(|c| i64::from(u16::from_ne_bytes([c[0], c[1]])))
            .collect(),
    };
    let weighted: i64 = values.iter().enumerate().map(|(i, v)| v * (i as i64 % 251)).sum();
    json!({"shape": im.shape(), "dtype": im.dtype().name(), "sum": values.iter().sum::<i64>(), "weighted": weighted})
}

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The nine tasks with imageio::v3 (between the markers: what is counted;
/// one statement a line, as the Python, so not wrapped by rustfmt).
#[rustfmt::skip]
fn tasks(png: &Path, gif: &Path, png16: &Path, url: &str, out: &Path) -> Res<Json> {
    // tasks:begin
    let rgb = v3::imread(png)?;
    let dpi = rgb.meta_view().dpi();
    let durations = v3::imiter(gif)?.map(|f| Ok(f?.meta_view().duration_ms())).collect::<Result<Vec<_>>>()?;
    let props = v3::improps(gif)?;
    let from_bytes = v3::imread(std::fs::read(png)?)?;
    let from_http = v3::imread(url)?;
    Args::new().option("quality", 90).imwrite(out.join("q90.jpg"), &rgb)?;
    let px = rgb.as_array::<u8>()?;
    let frames = stack(Axis(0), &[0, 64, 128].map(|y| px.slice(s![y..y + 64, ..64, ..])))?;
    Args::new().all().option("duration", 100).option("loop", 0).imwrite(out.join("anim.gif"), &frames.into())?;
    let eight = imageio::image_as_uint(&v3::imread(png16)?.data, Some(8))?.into_owned();
    let missing = v3::imread(out.join("missing.png")).is_err_and(|e| e.kind() == ErrorKind::NotFound);
    // tasks:end
    Ok(json!({
        "rgb": digest(&rgb), "dpi": dpi.map(|(x, y)| vec![x, y]), "durations": durations,
        "props": {"shape": props.shape, "dtype": props.dtype.name(), "n_images": props.n_images, "is_batch": props.is_batch},
        "bytes_same": from_bytes.data == rgb.data, "http_same": from_http.data == rgb.data,
        "eight": digest(&Image::from(eight)), "missing": if missing { "not found" } else { "read" },
    }))
}

/// The lines between the markers, blank lines left out.
fn counted(text: &str, comment: &str) -> usize {
    let begin = format!("{comment} tasks:begin");
    let end = format!("{comment} tasks:end");
    text.lines()
        .skip_while(|l| l.trim() != begin)
        .skip(1)
        .take_while(|l| l.trim() != end)
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn the_nine_daily_tasks_read_what_python_imageio_v3_reads_in_no_more_lines() {
    let dir = tempfile::tempdir().unwrap();
    let png = workspace().join("tests/data/hello-page.png");
    // A GIF of Pillow's, three frames of 40, 80 and 120 ms.
    let gif = dir.path().join("pillow.gif");
    py(
        "import sys; from PIL import Image\n\
         frames = [Image.new('RGB', (32, 24), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]\n\
         frames[0].save(sys.argv[1], save_all=True, append_images=frames[1:], duration=[40, 80, 120], loop=0)",
        &[&gif],
    );
    let png16 = dir.path().join("deep.png");
    let deep = imageio::ndarray::ArrayD::from_shape_fn(imageio::ndarray::IxDyn(&[16, 20]), |i| {
        (i[0] * 4000 + i[1] * 97) as u16
    });
    v3::imwrite(&png16, &Image::from(deep)).unwrap();
    let server = Server::start();
    server.route("/hello.png", Route::Ok(std::fs::read(&png).unwrap()));
    let url = server.url("/hello.png");
    let (rust_out, py_out) = (dir.path().join("rust"), dir.path().join("py"));
    std::fs::create_dir_all(&rust_out).unwrap();
    std::fs::create_dir_all(&py_out).unwrap();

    let ours = tasks(&png, &gif, &png16, &url, &rust_out).unwrap();
    let script = workspace().join("tests/interop/daily_tasks.py");
    let theirs: Json = serde_json::from_str(&py(
        &std::fs::read_to_string(&script).unwrap(),
        &[
            png.as_os_str(),
            gif.as_os_str(),
            png16.as_os_str(),
            url.as_ref(),
            py_out.as_os_str(),
        ],
    ))
    .unwrap();
    for key in ["rgb", "dpi", "props", "bytes_same", "http_same", "eight", "missing"] {
        assert_eq!(
            ours[key], theirs[key],
            "{key}: ours {} against imageio's {}",
            ours[key], theirs[key]
        );
    }
    let durations = |j: &Json| -> Vec<f64> {
        j["durations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    assert_eq!(durations(&ours), durations(&theirs));
    assert_eq!(durations(&ours), [40.0, 80.0, 120.0]);

    // What each wrote reads back alike in the other: the animated GIF's
    // frames and durations, and the quality-90 JPEG.
    let check = py(
        "import sys, json, numpy as np, imageio.v3 as iio\n\
         ours, theirs = sys.argv[1], sys.argv[2]\n\
         a, b = iio.imread(ours + '/anim.gif'), iio.imread(theirs + '/anim.gif')\n\
         d = [iio.immeta(ours + '/anim.gif', index=i)['duration'] for i in range(len(a))]\n\
         j1, j2 = iio.imread(ours + '/q90.jpg').astype(int), iio.imread(theirs + '/q90.jpg').astype(int)\n\
         print(json.dumps({'same_frames': bool(a.shape == b.shape and (a == b).all()), 'durations': d,\n\
           'jpeg_shape': list(j1.shape), 'jpeg_mean_diff': float(np.abs(j1 - j2).mean())}))",
        &[&rust_out, &py_out],
    );
    let check: Json = serde_json::from_str(&check).unwrap();
    assert_eq!(check["same_frames"], true, "{check}");
    assert_eq!(check["durations"], json!([100, 100, 100]), "{check}");
    assert_eq!(check["jpeg_shape"], json!([320, 372, 3]));
    assert!(check["jpeg_mean_diff"].as_f64().unwrap() < 1.0, "{check}");

    let rust_lines = counted(&std::fs::read_to_string(workspace().join("tests/v3.rs")).unwrap(), "//");
    let python_lines = counted(&std::fs::read_to_string(&script).unwrap(), "#");
    assert!(
        rust_lines <= python_lines,
        "the nine tasks take {rust_lines} lines with imageio::v3 against {python_lines} in Python"
    );
}

#[test]
fn imopen_reads_writes_and_tells_properties_lazily() {
    let dir = tempfile::tempdir().unwrap();
    let tif = dir.path().join("pages.tif");
    let pages = imageio::ndarray::ArrayD::from_shape_fn(imageio::ndarray::IxDyn(&[3, 8, 10]), |i| {
        (i[0] * 50 + i[1] + i[2]) as u8
    });
    let mut f = v3::Args::new().all().imopen(&tif, "w").unwrap();
    f.write(&Image::from(pages.clone())).unwrap();
    assert!(f.request().is_some(), "a writer has its request");
    f.close().unwrap();
    let mut f = v3::imopen(&tif, "r").unwrap();
    let props = f.properties(None).unwrap();
    assert_eq!(
        (props.shape.clone(), props.n_images, props.is_batch),
        (vec![3, 8, 10], 3, true)
    );
    assert_eq!(f.properties(Some(2)).unwrap().shape, [8, 10]);
    assert_eq!(
        f.read(Some(1)).unwrap().data.to_bytes(),
        pages.index_axis(Axis(0), 1).iter().copied().collect::<Vec<u8>>()
    );
    let all: Vec<Image> = f.iter().unwrap().collect::<imageio::Result<_>>().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        f.read(None).unwrap().data,
        Image::from(pages).data,
        "index None: the batch"
    );
    f.close().unwrap();
    // One image: no batch axis; an index past the end is misuse.
    let one = v3::Args::new().index(0).imread(&tif).unwrap();
    assert_eq!(one.shape(), &[8, 10]);
    let e = v3::Args::new().index(9).imread(&tif).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misuse, "{e}");
    // A typed pixel view and TryFrom both ways.
    assert_eq!(one.as_array::<u8>().unwrap()[[0, 0]], 0);
    let owned: imageio::ndarray::ArrayD<u8> = one.clone().try_into().unwrap();
    assert_eq!(owned.shape(), &[8, 10]);
    assert!(
        imageio::ndarray::ArrayD::<f32>::try_from(one)
            .unwrap_err()
            .to_string()
            .contains("uint8, not float32")
    );
}
