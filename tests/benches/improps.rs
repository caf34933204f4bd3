//! What `imageio::v3::improps` costs against reading the pixels it
//! describes, in one run (medians of interleaved passes), through the
//! builtins in this process and through isolated plugins (every builtin
//! in worker processes):
//!
//! - an 8000x6000 RGB PNG;
//! - a TIFF of 2000 pages (128x128 gray);
//! - a GIF of 5000 frames (64x64).
//!
//! `cargo bench -p imageio-tests --bench improps` prints a table and writes
//! `target/bench-improps.json`. The goal (issue 18): each under 2 % of
//! reading the pixels.

use imageio::plugin::{Isolation, IsolationConfig};
use imageio::v3::Args;
use imageio::{FormatManager, Image};
use imageio_tests::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Wall time and CPU time (this process and its workers) of `f`.
fn timed(f: impl FnOnce()) -> (Duration, Duration) {
    let c = cpu_time();
    let t = Instant::now();
    f();
    (t.elapsed(), cpu_time().saturating_sub(c))
}

fn main() {
    build_artifacts();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let png = dir.path().join("big.png");
    let big = imageio::ndarray::Array3::<u8>::from_shape_fn((6000, 8000, 3), |(y, x, c)| {
        ((x / 7 + y / 5 + c * 60) % 256) as u8 ^ if y % 64 < 8 { (x * 31 % 251) as u8 } else { 0 }
    });
    imageio::v3::imwrite(&png, &Image::from(big)).expect("write the PNG");
    let tif = dir.path().join("pages.tif");
    let pages =
        imageio::ndarray::Array3::<u8>::from_shape_fn((2000, 128, 128), |(p, y, x)| ((p + y * 3 + x) % 256) as u8);
    Args::new()
        .all()
        .imwrite(&tif, &Image::from(pages))
        .expect("write the TIFF");
    let gif = dir.path().join("frames.gif");
    let frames = imageio::ndarray::Array4::<u8>::from_shape_fn((5000, 64, 64, 3), |(f, y, x, c)| {
        ((f * 7 + y * 2 + x + c * 80) % 256) as u8
    });
    Args::new()
        .all()
        .imwrite(&gif, &Image::from(frames))
        .expect("write the GIF");

    let builtin = FormatManager::with_builtins();
    let isolated = FormatManager::new();
    isolated.set_isolation(IsolationConfig {
        policy: Isolation::All,
        worker: Some(worker_bin()),
        registry_cache: Some(dir.path().join("cache.bin")),
        ..IsolationConfig::from_env()
    });
    isolated.add_builtins();
    let managers: [(&str, &FormatManager); 2] = [("builtin", &builtin), ("isolated", &isolated)];
    let files: [(&str, &Path); 3] = [
        ("PNG 8000x6000", &png),
        ("TIFF 2000 pages", &tif),
        ("GIF 5000 frames", &gif),
    ];
    let passes: u32 = 5;
    let mut rows = Vec::new();
    println!(
        "improps against reading the pixels ({passes} interleaved passes, warm; wall: medians; CPU: means of this \
         process and its workers)"
    );
    for (what, file) in files {
        for (who, fm) in managers {
            // Warm up (and check the two agree).
            let props = Args::new().improps_in(fm, file).expect("improps");
            let read = Args::new().imread_in(fm, file).expect("imread");
            assert_eq!(props.shape, read.shape(), "{what}, {who}");
            let (mut p, mut r) = (Vec::new(), Vec::new());
            let (mut pc, mut rc) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..passes {
                let (w, c) = timed(|| {
                    std::hint::black_box(Args::new().improps_in(fm, file).expect("improps"));
                });
                p.push(w);
                pc += c;
                let (w, c) = timed(|| {
                    std::hint::black_box(Args::new().imread_in(fm, file).expect("imread"));
                });
                r.push(w);
                rc += c;
            }
            let (p, r) = (median(p), median(r));
            let (pc, rc) = (ms(pc / passes), ms(rc / passes));
            let share = p.as_secs_f64() / r.as_secs_f64() * 100.0;
            println!(
                "  {what:<16} {who:<9} improps {:>9.2} ms wall (CPU {pc:>7.2} ms)   imread {:>9.1} ms wall (CPU \
                 {rc:>8.1} ms)   {share:>6.2} %",
                ms(p),
                ms(r)
            );
            rows.push(
                serde_json::json!({"file": what, "manager": who, "improps_ms": ms(p), "imread_ms": ms(r),
                "improps_cpu_ms": pc, "imread_cpu_ms": rc, "percent": share}),
            );
        }
    }
    let out = workspace().join("target/bench-improps.json");
    let _ = std::fs::write(&out, serde_json::Value::Array(rows).to_string());
    println!("(written to {})", out.display());
}
