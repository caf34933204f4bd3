//! What the plugin host costs on top of the codec: `imageio::imread` (request,
//! format selection, the C ABI, host-allocated buffer) against the same PNG
//! decoded directly with the `png` crate, measured in the same run.
//!
//! `cargo bench -p imageio --bench overhead` prints, per case, the median time
//! of each and the ratio host/direct, plus the absolute per-call overhead.

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
}
