//! What the plugin host costs on top of the codec: `imageio::imread` (request,
//! format selection, the C ABI, host-allocated buffer) against the same PNG
//! decoded directly with the `png` crate, measured in the same run.
//!
//! `cargo bench -p imageio --bench overhead` prints, per case, the median time
//! of each and the ratio host/direct, plus the absolute per-call overhead.
//! It also reads a 48 MiB NPY file through `imageio::imread` against reading
//! the same file into memory with `std::fs::read` (the floor: "as fast as
//! the file can be read").

use std::hint::black_box;
use std::io::Cursor;
use std::time::{Duration, Instant};

fn direct_png(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut buf).expect("decode");
    buf
}

fn median(mut f: impl FnMut(), min_runs: usize, budget: Duration) -> Duration {
    for _ in 0..3 {
        f();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_runs || start.elapsed() < budget {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn case(name: &str, bytes: Vec<u8>) {
    let opts = imageio::Options::default();
    let host = median(
        || {
            black_box(imageio::imread(black_box(bytes.clone()), &opts).expect("imread"));
        },
        50,
        Duration::from_secs(2),
    );
    let direct = median(
        || {
            black_box(direct_png(black_box(&bytes.clone())));
        },
        50,
        Duration::from_secs(2),
    );
    println!(
        "{name:<28} host {:>10.1} µs   direct png {:>10.1} µs   ratio {:.3}   overhead {:>7.1} µs/call",
        host.as_secs_f64() * 1e6,
        direct.as_secs_f64() * 1e6,
        host.as_secs_f64() / direct.as_secs_f64(),
        (host.as_secs_f64() - direct.as_secs_f64()) * 1e6
    );
}

fn main() {
    let page = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/hello-page.png")).expect("sample");
    case("hello-page.png 372x320 RGB", page);
    let tiny = imageio::imwrite(
        "<bytes>",
        &imageio::Image::from(ndarray::ArrayD::<u8>::zeros(ndarray::IxDyn(&[1, 1]))),
        &imageio::Options::default().with_format("PNG"),
    )
    .expect("encode")
    .expect("bytes");
    case("1x1 gray (per-call cost)", tiny);
    let big = imageio::Image::from(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[2048, 2048, 3]), |i| {
        ((i[0] * 7 + i[1] * 13 + i[2] * 29) % 251) as u8
    }));
    let big = imageio::imwrite("<bytes>", &big, &imageio::Options::default().with_format("PNG"))
        .expect("encode")
        .expect("bytes");
    case("2048x2048 RGB (12 MiB)", big);
    npy_case();
}

/// NPY: the plugin reads the payload straight into the host's buffer.
fn npy_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.npy");
    let arr = imageio::Image::from(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[4096, 4096, 3]), |i| {
        ((i[0] + i[1] * 3 + i[2]) % 256) as u8
    }));
    imageio::imwrite(&path, &arr, &imageio::Options::default()).expect("write npy");
    let opts = imageio::Options::default();
    let host = median(
        || {
            black_box(imageio::imread(black_box(&path), &opts).expect("imread"));
        },
        10,
        Duration::from_secs(3),
    );
    let floor = median(
        || {
            black_box(std::fs::read(black_box(&path)).expect("read"));
        },
        10,
        Duration::from_secs(3),
    );
    println!(
        "{:<28} host {:>10.1} ms   fs::read  {:>10.1} ms   ratio {:.3}",
        "NPY 4096x4096x3 u8 (48 MiB)",
        host.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        host.as_secs_f64() / floor.as_secs_f64()
    );
}
