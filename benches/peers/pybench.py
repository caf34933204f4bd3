#!/usr/bin/env python3
"""python pybench.py CASE TOOL FILE RUNS: times one case with one Python
peer, and prints the median of RUNS timed runs (after one untimed run) in
milliseconds. Tools: iio2 (imageio.v2), pil (Pillow, to a numpy array),
tifffile, numpy."""
import io
import sys
import time

import numpy as np


def runner(case, tool, path):
    if case.endswith("_encode"):
        src = np.load(path)
    if tool == "iio2":
        import imageio.v2 as iio

        if case in ("tiffstack_read", "gif_read"):
            return lambda: iio.mimread(path, memtest=False)
        if case == "png_small":
            return lambda: [iio.imread(path) for _ in range(1000)]
        if case == "png_encode":
            return lambda: len(iio.imwrite("<bytes>", src, format="PNG"))
        if case == "jpeg_encode":
            return lambda: len(iio.imwrite("<bytes>", src, format="JPEG", quality=85))
        return lambda: iio.imread(path)
    if tool == "pil":
        from PIL import Image, ImageSequence

        if case in ("tiffstack_read", "gif_read"):
            def frames():
                with Image.open(path) as im:
                    return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
            return frames
        if case.endswith("_encode"):
            fmt = "PNG" if case == "png_encode" else "JPEG"
            kw = {} if fmt == "PNG" else {"quality": 85}

            def enc():
                b = io.BytesIO()
                Image.fromarray(src).save(b, fmt, **kw)
                return len(b.getvalue())
            return enc

        def load():
            with Image.open(path) as im:
                return np.asarray(im)
        return load
    if tool == "tifffile":
        import tifffile

        # A stack reads as one (pages, H, W, C) array, as tifffile does it.
        return lambda: tifffile.imread(path)
    if tool == "numpy":
        return lambda: np.load(path)
    raise SystemExit(f"unknown tool {tool}")


def main():
    case, tool, path, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    f = runner(case, tool, path)
    size = f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    # Encoders also report the size of what they wrote.
    if case.endswith("_encode"):
        print(f"{times[len(times) // 2]:.3f} bytes={size}")
    else:
        print(f"{times[len(times) // 2]:.3f}")


main()
