//! `iobench CASE TOOL FILE RUNS [PLUGIN]`: times one case with one Rust
//! tool, in this process, and prints the median of RUNS timed runs (after
//! one untimed run) in milliseconds. `benches/run` drives it beside the
//! Python peers.
//!
//! Tools: `ours` (imageio-rs with its builtin plugins), `ours-so` (the
//! plugin's shared library PLUGIN, run in this process), `ours-iso` (the
//! same library in a worker process), `crate` (the codec crate called
//! directly, where one exists).

use imageio::plugin::{Isolation, IsolationConfig};
use imageio::{FormatManager, Image, Options};
use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

/// The peak resident memory of this process so far, in MiB (`VmHWM` of
/// /proc/self/status; 0 where there is none).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Reads per run of `png_small`.
const SMALL_READS: usize = 1000;

/// The manager a tool reads and writes with.
fn manager(tool: &str, plugin: Option<&Path>) -> FormatManager {
    match tool {
        "ours" => FormatManager::with_builtins(),
        "ours-so" | "ours-iso" => {
            let fm = FormatManager::new();
            fm.set_isolation(IsolationConfig {
                policy: if tool == "ours-so" {
                    Isolation::Off
                } else {
                    Isolation::ThirdParty
                },
                ..IsolationConfig::from_env()
            });
            let lib = plugin.expect("ours-so and ours-iso need the plugin library");
            // SAFETY: the repository's own plugin library, built by benches/run.
            unsafe { fm.load_plugin(lib) }.expect("the plugin loads");
            fm
        }
        other => panic!("unknown tool {other}"),
    }
}

/// The pixels of an NPY file (the encoders' input).
fn pixels(file: &Path) -> Image {
    imageio::imread(file, &Options::default()).expect("read the source pixels")
}

/// One run of `case` with `tool` on `file`; returns something to keep.
fn run(case: &str, tool: &str, file: &Path, fm: Option<&FormatManager>, src: Option<&Image>) -> usize {
    let opts = Options::default();
    match (case, tool) {
        ("png_encode" | "jpeg_encode", "crate") => {
            let im = src.expect("pixels");
            let a = im.data.as_u8().expect("uint8");
            let (h, w) = (a.shape()[0], a.shape()[1]);
            let data = a.as_slice().expect("contiguous");
            if case == "png_encode" {
                let mut out = Vec::new();
                let mut e = png::Encoder::new(&mut out, w as u32, h as u32);
                e.set_color(png::ColorType::Rgb);
                e.set_depth(png::BitDepth::Eight);
                let mut wr = e.write_header().expect("header");
                wr.write_image_data(data).expect("encode");
                drop(wr);
                out.len()
            } else {
                let mut out = Vec::new();
                let e = jpeg_encoder::Encoder::new(&mut out, 85);
                e.encode(data, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
                    .expect("encode");
                out.len()
            }
        }
        ("png_encode" | "jpeg_encode", _) => {
            let (fmt, kwargs) = if case == "png_encode" {
                ("PNG", Options::default().with_format("PNG"))
            } else {
                ("JPEG", Options::default().with_format("JPEG").with_kwarg("quality", 85))
            };
            let _ = fmt;
            let out = fm
                .expect("manager")
                .imwrite("<bytes>", src.expect("pixels"), &kwargs)
                .expect("encode")
                .expect("bytes");
            out.len()
        }
        ("png_decode" | "png16_decode", "crate") => {
            let bytes = std::fs::read(file).expect("read");
            let mut d = png::Decoder::new(Cursor::new(bytes));
            d.set_transformations(png::Transformations::EXPAND);
            let mut r = d.read_info().expect("info");
            let mut buf = vec![0; r.output_buffer_size().expect("size")];
            r.next_frame(&mut buf).expect("decode");
            buf.len()
        }
        ("jpeg_decode", "crate") => {
            let bytes = std::fs::read(file).expect("read");
            let mut d = zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(&bytes[..]));
            d.decode().expect("decode").len()
        }
        ("tiff_read" | "tiff_lzw_read" | "tiff_deflate_read" | "tiffstack_read", "crate") => {
            let f = std::io::BufReader::new(std::fs::File::open(file).expect("open"));
            let mut d = tiff::decoder::Decoder::new(f).expect("tiff");
            let mut n = 0;
            loop {
                if let tiff::decoder::DecodingResult::U8(v) = d.read_image().expect("decode") {
                    n += v.len();
                }
                if !d.more_images() {
                    break;
                }
                d.next_image().expect("next");
            }
            n
        }
        ("npy_read", "crate") => std::fs::read(file).expect("read").len(),
        ("webp_decode", "crate") => {
            let f = std::io::BufReader::new(std::fs::File::open(file).expect("open"));
            let mut d = image_webp::WebPDecoder::new(f).expect("webp");
            let mut buf = vec![0; d.output_buffer_size().expect("size")];
            d.read_image(&mut buf).expect("decode");
            buf.len()
        }
        // The per-call cost: a thousand reads of a small PNG from its path
        // (so the run's milliseconds are microseconds per read).
        ("png_small", "crate") => (0..SMALL_READS)
            .map(|_| {
                let f = std::io::BufReader::new(std::fs::File::open(file).expect("open"));
                let mut d = png::Decoder::new(f);
                d.set_transformations(png::Transformations::EXPAND);
                let mut r = d.read_info().expect("info");
                let mut buf = vec![0; r.output_buffer_size().expect("size")];
                r.next_frame(&mut buf).expect("decode");
                black_box(buf).len()
            })
            .sum(),
        ("png_small", _) => {
            let fm = fm.expect("manager");
            (0..SMALL_READS)
                .map(|_| black_box(fm.imread(file, &opts).expect("imread")).data.nbytes())
                .sum()
        }
        ("tiffstack_read" | "gif_read", _) => {
            let fm = fm.expect("manager");
            let ims = fm.mimread(file, &opts.clone().with_memtest_off()).expect("mimread");
            ims.iter().map(|i| i.data.nbytes()).sum()
        }
        (_, "crate") => panic!("no direct codec for {case}"),
        _ => fm.expect("manager").imread(file, &opts).expect("imread").data.nbytes(),
    }
}

trait NoMemtest {
    fn with_memtest_off(self) -> Options;
}

impl NoMemtest for Options {
    fn with_memtest_off(mut self) -> Options {
        self.memtest = imageio::Memtest::Off;
        self
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, tool, file, runs, rest @ ..] = args.as_slice() else {
        eprintln!("usage: iobench CASE TOOL FILE RUNS [PLUGIN]");
        std::process::exit(2);
    };
    let file = Path::new(file);
    let runs: usize = runs.parse().expect("RUNS is a number");
    let plugin = rest.first().map(Path::new);
    let fm = (tool != "crate").then(|| manager(tool, plugin));
    let src = case.ends_with("_encode").then(|| pixels(file));
    let size = run(case, tool, file, fm.as_ref(), src.as_ref());
    black_box(size);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        black_box(run(case, tool, file, fm.as_ref(), src.as_ref()));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    // Encoders also report the size of what they wrote; every case the
    // process's peak resident memory.
    let median = times[times.len() / 2];
    let peak = format!("peak_mib={:.1}", peak_rss_mib());
    if case.ends_with("_encode") {
        println!("{median:.3} bytes={size} {peak}");
    } else {
        println!("{median:.3} {peak}");
    }
}
