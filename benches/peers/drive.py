#!/usr/bin/env python3
"""Runs every (case, tool) of the benchmark, each in its own process, in
PASSES interleaved passes, and prints the medians of the pass medians with
ratios against the case's reference peer; writes target/bench-peers.json.

Usage: python drive.py DATA IOBENCH PLUGIN_DIR [PASSES]
BENCH_CASES=png_decode,npy_read limits the run to those cases.
"""
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (case, tool) -> bytes written, for the encoders.
sizes = {}
# (case, tool) -> peak resident memory of each process, MiB (iobench only).
peaks = {}
ROOT = HERE.parent.parent

# case, file, runs per process, reference peer, tools ("rs"|"py"|"cli", tool, label)
# "cli" tools time the imageio program itself (start-up included).
CASES = [
    ("png_decode", "rgb8.png", 5, "iio2", [
        ("py", "iio2", "imageio.v2.imread"), ("py", "pil", "Pillow"),
        ("rs", "crate", "png crate"), ("rs", "ours", "imageio-rs"),
        ("rs", "ours-so", "imageio-rs, plugin .so"), ("rs", "ours-iso", "imageio-rs, plugin .so isolated")]),
    ("jpeg_decode", "rgb8.jpg", 7, "iio2", [
        ("py", "iio2", "imageio.v2.imread"), ("py", "pil", "Pillow"),
        ("rs", "crate", "zune-jpeg"), ("rs", "ours", "imageio-rs"),
        ("rs", "ours-iso", "imageio-rs, plugin .so isolated")]),
    ("tiff_read", "rgb8.tif", 9, "tifffile", [
        ("py", "tifffile", "tifffile.imread"), ("py", "iio2", "imageio.v2.imread"),
        ("rs", "crate", "tiff crate"), ("rs", "ours", "imageio-rs")]),
    ("tiff_lzw_read", "rgb8-lzw.tif", 5, "tifffile", [
        ("py", "tifffile", "tifffile.imread"), ("rs", "crate", "tiff crate"), ("rs", "ours", "imageio-rs")]),
    ("tiff_deflate_read", "rgb8-deflate.tif", 5, "tifffile", [
        ("py", "tifffile", "tifffile.imread"), ("rs", "crate", "tiff crate"), ("rs", "ours", "imageio-rs")]),
    ("webp_decode", "rgb8-lossless.webp", 3, "pil", [
        ("py", "pil", "Pillow"), ("py", "iio2", "imageio.v2.imread"), ("rs", "crate", "image-webp"),
        ("rs", "ours", "imageio-rs")]),
    ("tiffstack_read", "stack.tif", 9, "tifffile", [
        ("py", "tifffile", "tifffile.imread (the stack)"), ("py", "iio2", "imageio.v2.mimread"),
        ("rs", "crate", "tiff crate"), ("rs", "ours", "imageio-rs mimread")]),
    ("npy_read", "rgb8.npy", 9, "numpy", [
        ("py", "numpy", "numpy.load"), ("rs", "crate", "std::fs::read"), ("rs", "ours", "imageio-rs")]),
    ("ppm_read", "rgb8.ppm", 7, "iio2", [
        ("py", "iio2", "imageio.v2.imread"), ("py", "pil", "Pillow"), ("rs", "ours", "imageio-rs (C plugin)")]),
    ("bmp_read", "rgb8.bmp", 7, "iio2", [
        ("py", "iio2", "imageio.v2.imread"), ("py", "pil", "Pillow"), ("rs", "ours", "imageio-rs")]),
    ("gif_read", "stack.gif", 5, "iio2", [
        ("py", "iio2", "imageio.v2.mimread"), ("py", "pil", "Pillow"), ("rs", "ours", "imageio-rs mimread")]),
    ("png_encode", "rgb8.npy", 3, "iio2", [
        ("py", "iio2", "imageio.v2.imwrite"), ("py", "pil", "Pillow"),
        ("rs", "crate", "png crate"), ("rs", "ours", "imageio-rs")]),
    ("jpeg_encode", "rgb8.npy", 7, "iio2", [
        ("py", "iio2", "imageio.v2.imwrite q85"), ("py", "pil", "Pillow q85"),
        ("rs", "crate", "jpeg-encoder"), ("rs", "ours", "imageio-rs q85")]),
    # 16-bit RGBA: the plugin decodes into the host's buffer (speed and
    # peak memory against the png crate into a Vec).
    ("png16_decode", "rgba16.png", 7, "crate", [
        ("rs", "crate", "png crate"), ("rs", "ours", "imageio-rs")]),
    # The per-call cost: 1000 reads of a 64x64 PNG (ms per run = µs per read).
    ("png_small", "small.png", 5, "crate", [
        ("py", "iio2", "imageio.v2.imread"), ("rs", "crate", "png crate"), ("rs", "ours", "imageio-rs")]),
    # A whole process: `imageio info` of a 64x64 PNG against a Python process
    # that imports imageio and reads the same image and its metadata.
    ("info_process", "small.png", 5, "python", [
        ("cli", "python", "python: import imageio, imread, immeta"), ("cli", "info", "imageio info")]),
    # 200 PNGs (512x512) to BMP: one process per file, one after another (as
    # a shell loop does it), against one `imageio convert` with 1 and 2 jobs.
    ("batch_convert", "batch", 3, "jobs1", [
        ("cli", "per-file", "a process per file"), ("cli", "jobs1", "imageio convert --jobs 1"),
        ("cli", "jobs2", "imageio convert --jobs 2"), ("cli", "default", "imageio convert (default jobs)"),
        # The same into memory (/dev/shm): the conversions' own scaling,
        # without the disk's waits for each file's fsync.
        ("cli", "shm-jobs1", "into /dev/shm, --jobs 1", "shm-jobs1"),
        ("cli", "shm-jobs2", "into /dev/shm, --jobs 2", "shm-jobs1")]),
]


def cli(tool, path, runs, bin_dir):
    """Median ms of RUNS conversions of every file in the folder PATH."""
    import shutil
    import tempfile
    exe = str(bin_dir / "imageio")
    if tool in ("python", "info"):
        cmd = [exe, "info", str(path)] if tool == "info" else [
            sys.executable, "-c",
            "import sys, imageio.v3 as iio\nim = iio.imread(sys.argv[1])\n"
            "print(sys.argv[1], im.shape, im.dtype, iio.immeta(sys.argv[1]))", str(path)]
        times = []
        for _ in range(runs + 1):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append((time.perf_counter() - t) * 1e3)
        times = sorted(times[1:])
        return times[len(times) // 2]
    files = sorted(str(p) for p in path.iterdir())
    times = []
    for _ in range(runs + 1):
        shm = tool.startswith("shm-") and Path("/dev/shm").is_dir()
        out = tempfile.mkdtemp(prefix="iobench-", dir="/dev/shm" if shm else None)
        t = time.perf_counter()
        if tool == "per-file":
            for f in files:
                subprocess.run([exe, "convert", f, str(Path(out) / (Path(f).stem + ".bmp"))],
                               check=True, capture_output=True)
        else:
            jobs = [] if tool == "default" else ["--jobs", tool[-1]]
            subprocess.run([exe, "convert", *files, "--out-dir", out, "--to", "bmp", *jobs],
                           check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1e3)
        shutil.rmtree(out)
    times = sorted(times[1:])
    return times[len(times) // 2]


def one(kind, tool, case, path, runs, iobench, plugin_dir):
    if kind == "cli":
        try:
            return cli(tool, path, runs, plugin_dir), None
        except subprocess.CalledProcessError as e:
            return None, [e.stderr.decode(errors="replace").strip() or "failed"]
    if kind == "py":
        cmd = [sys.executable, str(HERE / "pybench.py"), case, tool, str(path), str(runs)]
    else:
        cmd = [str(iobench), case, tool, str(path), str(runs)]
        if tool in ("ours-so", "ours-iso"):
            fmt = case.split("_")[0]
            cmd.append(str(plugin_dir / f"libimageio_{fmt}_plugin.so"))
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1:] or ["failed"]
    fields = out.stdout.strip().splitlines()[-1].split()
    for extra in fields[1:]:
        key, _, value = extra.partition("=")
        if key == "bytes":
            sizes[(case, tool)] = int(value)
        elif key == "peak_mib":
            peaks.setdefault((case, tool), []).append(float(value))
    return float(fields[0]), None


def main():
    data, iobench, plugin_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    passes = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    only = [c for c in __import__("os").environ.get("BENCH_CASES", "").split(",") if c]
    global CASES
    if only:
        CASES = [c for c in CASES if c[0] in only]
    results = {}
    for p in range(passes):
        for case, file, runs, _, tools in CASES:
            for kind, tool, label, *_ in tools:
                ms, err = one(kind, tool, case, data / file, runs, iobench, plugin_dir)
                results.setdefault((case, label), []).append(ms)
                if err:
                    print(f"  {case} {label}: {err[0]}", file=sys.stderr)
        print(f"pass {p + 1} of {passes} done", file=sys.stderr)
    rows = []
    print(f"| case | tool | median ms | spread | vs reference |")
    print(f"| --- | --- | ---: | ---: | ---: |")
    for case, file, runs, ref, tools in CASES:
        def median_of(tool_name):
            label = next(t[2] for t in tools if t[1] == tool_name)
            vals = [v for v in results[(case, label)] if v is not None]
            return label, statistics.median(vals) if vals else float("nan")

        for kind, tool, label, *own_ref in tools:
            # A tool may name its own reference (a variant measured apart).
            ref_label, ref_ms = median_of(own_ref[0] if own_ref else ref)
            vals = [v for v in results[(case, label)] if v is not None]
            if not vals:
                print(f"| {case} | {label} | failed | | |")
                continue
            med = statistics.median(vals)
            spread = max(vals) - min(vals)
            ratio = ref_ms / med
            word = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
            if label == ref_label:
                word = "reference"
            elif own_ref:
                word += f" than {ref_label}"
            peak = peaks.get((case, tool))
            if peak:
                word += f", peak {statistics.median(peak):.0f} MiB"
            size = sizes.get((case, tool))
            ref_size = sizes.get((case, ref))
            if size and ref_size:
                word += f", {size:,} bytes ({size / ref_size:.4f}x)"
            print(f"| {case} | {label} | {med:.1f} | {spread:.1f} | {word} |")
            rows.append({"case": case, "tool": label, "median_ms": med, "spread_ms": spread,
                         "reference": ref_label, "speedup_vs_reference": ratio, "passes": vals,
                         "bytes": size, "peak_mib": statistics.median(peak) if peak else None})
    out = ROOT / "target" / "bench-peers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.platform(),
        "cpus": __import__("os").cpu_count(), "passes": passes, "rows": rows}, indent=1))
    print(f"\n(written to {out})", file=sys.stderr)


main()
