//! What plugin isolation and the registry cache cost, measured side by side
//! in one run (medians of interleaved passes):
//!
//! - decoding a 4096x4096 RGB PNG through the PNG plugin's shared library,
//!   run in this process and in a worker process (the pixels mapped from
//!   the worker's sealed memory into the host's array, not copied), with
//!   the builtin for reference;
//! - eight 1024x768 PNG files read at once on eight threads through the
//!   plugin's shared library, in this process and isolated (a pool of
//!   workers: calls from different threads run in different workers), and
//!   one such file on one thread (the cost of a call through a worker);
//! - starting `imageio formats` with no plugin files and with 50 of them,
//!   once they have been scanned (the registry cache answers; no plugin
//!   code runs).
//!
//! `cargo bench -p imageio-tests --bench isolation` builds what it needs
//! (release), prints a table and writes `target/bench-isolation.json`.

use imageio::plugin::{Isolation, IsolationConfig};
use imageio::{FormatManager, Image, Options};
use imageio_tests::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// A deterministic 4096x4096 RGB image with smooth and busy regions (it
/// compresses to a few tens of MB, like a photograph).
fn picture() -> Image {
    let (h, w) = (4096usize, 4096usize);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    Image::from(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[h, w, 3]), |i| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let smooth = ((i[0] / 16 + i[1] / 16 + i[2] * 40) % 256) as u8;
        if i[0] % 512 < 128 { (state & 0xFF) as u8 } else { smooth }
    }))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn manager(policy: Isolation, cache: &std::path::Path) -> FormatManager {
    let fm = FormatManager::new();
    fm.set_isolation(IsolationConfig {
        policy,
        worker: Some(worker_bin()),
        registry_cache: Some(cache.to_owned()),
        // The caller's IMAGEIO_WORKERS and IMAGEIO_SANDBOX apply.
        ..IsolationConfig::from_env()
    });
    // SAFETY: the repository's own PNG plugin.
    unsafe { fm.load_plugin(&png_plugin_library()) }.expect("the PNG plugin loads");
    fm
}

fn main() {
    build_artifacts();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache = dir.path().join("cache.bin");
    let file = dir.path().join("big.png");
    let image = picture();
    imageio::imwrite(file.as_path(), &image, &Options::default()).expect("write the PNG");
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);

    let builtin = FormatManager::with_builtins();
    let in_process = manager(Isolation::Off, &cache);
    let isolated = manager(Isolation::ThirdParty, &cache);
    assert!(isolated.plugin_reports()[0].isolated);
    let cases: [(&str, &FormatManager); 3] = [
        ("builtin", &builtin),
        ("shared library, in process", &in_process),
        ("shared library, isolated", &isolated),
    ];
    // Warm up (and check the pixels agree).
    for (name, fm) in &cases {
        let im = fm.imread(file.as_path(), &Options::default()).expect("decode");
        assert_eq!(im.data, image.data, "{name}");
    }
    let passes: u32 = 7;
    let mut decode: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut touched: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    // CPU time (this process and its workers) per case, summed over the
    // passes (child processes are counted in clock ticks).
    let mut decode_cpu = vec![Duration::ZERO; cases.len()];
    for _ in 0..passes {
        for (i, (_, fm)) in cases.iter().enumerate() {
            let c = cpu_time();
            let t = Instant::now();
            let im = fm.imread(file.as_path(), &Options::default()).expect("decode");
            decode[i].push(t.elapsed());
            decode_cpu[i] += cpu_time().saturating_sub(c);
            // Then every byte read once, as a consumer would: an isolated
            // image's pages are mapped into this process on first touch.
            let sum: u64 = im.data.as_u8().expect("uint8").iter().map(|&v| u64::from(v)).sum();
            touched[i].push(t.elapsed());
            std::hint::black_box(sum);
        }
    }
    let decode: Vec<Duration> = decode.into_iter().map(median).collect();
    let touched: Vec<Duration> = touched.into_iter().map(median).collect();

    // Eight files on eight threads, and one file on one thread.
    let small: Vec<std::path::PathBuf> = (0..8)
        .map(|k| {
            let p = dir.path().join(format!("small{k}.png"));
            let im = Image::from(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[768, 1024, 3]), |i| {
                ((i[0] * 7 + i[1] * 3 + i[2] * 50 + k * 11) % 251) as u8
            }));
            imageio::imwrite(p.as_path(), &im, &Options::default()).expect("write a PNG");
            p
        })
        .collect();
    // Each returns (wall, CPU of this process and its workers).
    let parallel = |fm: &FormatManager| {
        let c = cpu_time();
        let t = Instant::now();
        std::thread::scope(|s| {
            for f in &small {
                s.spawn(move || std::hint::black_box(fm.imread(f.as_path(), &Options::default()).expect("decode")));
            }
        });
        (t.elapsed(), cpu_time().saturating_sub(c))
    };
    let single = |fm: &FormatManager| {
        let c = cpu_time();
        let t = Instant::now();
        std::hint::black_box(fm.imread(small[0].as_path(), &Options::default()).expect("decode"));
        (t.elapsed(), cpu_time().saturating_sub(c))
    };
    for fm in [&in_process, &isolated] {
        parallel(fm);
    }
    let (mut par_in, mut par_iso, mut one_in, mut one_iso) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cpu = [Duration::ZERO; 4];
    for _ in 0..passes {
        for (k, (fm, out)) in [(&in_process, &mut par_in), (&isolated, &mut par_iso)]
            .into_iter()
            .enumerate()
        {
            let (w, c) = parallel(fm);
            out.push(w);
            cpu[k] += c;
        }
        for _ in 0..5 {
            for (k, (fm, out)) in [(&in_process, &mut one_in), (&isolated, &mut one_iso)]
                .into_iter()
                .enumerate()
            {
                let (w, c) = single(fm);
                out.push(w);
                cpu[2 + k] += c;
            }
        }
    }
    let per = |c: Duration, n: u32| ms(c / n);
    let (par_cpu_in, par_cpu_iso) = (per(cpu[0], passes), per(cpu[1], passes));
    let (one_cpu_in, one_cpu_iso) = (per(cpu[2], passes * 5), per(cpu[3], passes * 5));
    let (par_in, par_iso, one_in, one_iso) = (median(par_in), median(par_iso), median(one_in), median(one_iso));

    // Start-up with 0 and 50 plugin files (scanned once, before timing).
    let none = dir.path().join("none");
    let fifty = dir.path().join("fifty");
    std::fs::create_dir_all(&none).expect("folder");
    std::fs::create_dir_all(&fifty).expect("folder");
    let plugin = c_fixture("liar_honest");
    for i in 0..50 {
        std::fs::copy(&plugin, fifty.join(dll_name(&format!("p{i:02}")))).expect("copy");
    }
    let start = |plugins: &std::path::Path| {
        let c = cpu_time();
        let t = Instant::now();
        let o = Command::new(imageio_bin())
            .arg("formats")
            .env("IMAGEIO_PLUGIN_PATH", plugins)
            .env("IMAGEIO_PLUGIN_CACHE", &cache)
            .env("IMAGEIO_LOG", "off")
            .output()
            .expect("run imageio");
        assert!(o.status.success());
        // The tool ran as a child, reaped: RUSAGE_CHILDREN counts it.
        (t.elapsed(), cpu_time().saturating_sub(c))
    };
    start(&fifty);
    let (mut t0, mut t50) = (Vec::new(), Vec::new());
    let (mut c0, mut c50) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..31 {
        let (w, c) = start(&none);
        t0.push(w);
        c0 += c;
        let (w, c) = start(&fifty);
        t50.push(w);
        c50 += c;
    }
    let (t0, t50) = (median(t0), median(t50));
    let (c0, c50) = (ms(c0 / 31), ms(c50 / 31));

    println!(
        "plugin isolation and the registry cache ({passes} interleaved passes, warm; wall: medians; CPU: means of \
         this process and its workers)"
    );
    println!("PNG 4096x4096 RGB decode ({} MB file):", size / 1_000_000);
    for (i, (name, _)) in cases.iter().enumerate() {
        println!(
            "  {name:<28} {:>8.1} ms wall  {:.3}x in process  CPU {:>6.1} ms   then every byte read: {:>6.1} ms  {:.3}x",
            ms(decode[i]),
            decode[i].as_secs_f64() / decode[1].as_secs_f64(),
            ms(decode_cpu[i] / passes),
            ms(touched[i]),
            touched[i].as_secs_f64() / touched[1].as_secs_f64()
        );
    }
    println!(
        "8 PNG files 1024x768 on 8 threads ({} workers at most):",
        isolated.isolation().max_workers
    );
    println!(
        "  in process                   {:>8.1} ms wall  CPU {par_cpu_in:>6.1} ms",
        ms(par_in)
    );
    println!(
        "  isolated                     {:>8.1} ms wall  {:.3}x in process  CPU {par_cpu_iso:>6.1} ms",
        ms(par_iso),
        par_iso.as_secs_f64() / par_in.as_secs_f64()
    );
    println!("1 PNG file 1024x768, one thread:");
    println!(
        "  in process                   {:>8.2} ms wall  CPU {one_cpu_in:>6.2} ms",
        ms(one_in)
    );
    println!(
        "  isolated                     {:>8.2} ms wall  (+{:.2} ms a call)  CPU {one_cpu_iso:>6.2} ms",
        ms(one_iso),
        ms(one_iso) - ms(one_in)
    );
    println!("start-up, `imageio formats` (31 interleaved runs):");
    println!(
        "  no plugin files              {:>8.2} ms wall  CPU {c0:>6.2} ms",
        ms(t0)
    );
    println!(
        "  50 plugin files, scanned     {:>8.2} ms wall  (+{:.2} ms)  CPU {c50:>6.2} ms",
        ms(t50),
        ms(t50) - ms(t0)
    );
    let json = serde_json::json!({
        "png_decode_ms": {
            "builtin": ms(decode[0]), "in_process": ms(decode[1]), "isolated": ms(decode[2]),
            "isolated_over_in_process": decode[2].as_secs_f64() / decode[1].as_secs_f64(),
        },
        "png_decode_and_read_ms": {
            "builtin": ms(touched[0]), "in_process": ms(touched[1]), "isolated": ms(touched[2]),
            "isolated_over_in_process": touched[2].as_secs_f64() / touched[1].as_secs_f64(),
        },
        "png_decode_cpu_ms": {
            "builtin": ms(decode_cpu[0] / passes), "in_process": ms(decode_cpu[1] / passes),
            "isolated": ms(decode_cpu[2] / passes),
        },
        "eight_files_eight_threads_cpu_ms": { "in_process": par_cpu_in, "isolated": par_cpu_iso },
        "one_file_cpu_ms": { "in_process": one_cpu_in, "isolated": one_cpu_iso },
        "eight_files_eight_threads_ms": {
            "in_process": ms(par_in), "isolated": ms(par_iso),
            "isolated_over_in_process": par_iso.as_secs_f64() / par_in.as_secs_f64(),
        },
        "one_file_ms": { "in_process": ms(one_in), "isolated": ms(one_iso), "added": ms(one_iso) - ms(one_in) },
        "startup_ms": { "none": ms(t0), "fifty_scanned": ms(t50), "added": ms(t50) - ms(t0) },
    });
    let out = workspace().join("target/bench-isolation.json");
    let _ = std::fs::write(&out, json.to_string());
    println!("(written to {})", out.display());
}
