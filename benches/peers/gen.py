#!/usr/bin/env python3
"""Writes the benchmark's images into OUTDIR, deterministically (seeded
noise over gradients, so the raw pixels are the same on every run; the
encoded files depend only on the library versions pinned in
tests/interop/requirements.txt).

  rgb8.npy, .png, .jpg (q90, 4:2:0), .tif (uncompressed), .ppm, .bmp
        4096x4096 RGB8 (48 MiB of pixels)
  rgb8-lzw.tif, rgb8-deflate.tif   the same, LZW and deflate (tifffile, horizontal predictor off)
  rgb8-lossless.webp                the same, lossless WebP (Pillow, method 1)
  stack.tif   100 pages of 256x256 RGB8, uncompressed
  stack.gif   100 frames of 256x256, one global palette
  rgba16.png  1024x1024 RGBA16 (written here: Pillow writes no 16-bit colour PNG)
  small.png   64x64 RGB8 (the per-call cost, the whole-process `info`)
  batch/      200 PNGs of 512x512 RGB8 (the batch conversion)

Usage: python gen.py OUTDIR
"""
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image


def photo(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack(
        [xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (w + h - 2)], axis=-1
    )
    img += rng.integers(-8, 8, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def png16(path, a):
    """A plain 16-bit RGBA PNG: filter 0 rows, zlib level 6."""
    h, w, _ = a.shape
    rows = b"".join(b"\0" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                           + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    a = photo(4096, 4096, 0)
    np.save(out / "rgb8.npy", a)
    im = Image.fromarray(a)
    im.save(out / "rgb8.png")
    im.save(out / "rgb8.jpg", quality=90, subsampling=2)
    im.save(out / "rgb8.ppm")
    im.save(out / "rgb8.bmp")
    tifffile.imwrite(out / "rgb8.tif", a, photometric="rgb")
    tifffile.imwrite(out / "rgb8-lzw.tif", a, photometric="rgb", compression="lzw", rowsperstrip=64)
    tifffile.imwrite(out / "rgb8-deflate.tif", a, photometric="rgb", compression="zlib", rowsperstrip=64)
    im.save(out / "rgb8-lossless.webp", lossless=True, method=1)
    pages = np.stack([photo(256, 256, 10 + i) for i in range(100)])
    tifffile.imwrite(out / "stack.tif", pages, photometric="rgb", metadata=None)
    frames = [Image.fromarray(p).quantize(256, dither=Image.Dither.NONE) for p in pages]
    frames[0].save(out / "stack.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    Image.fromarray(photo(64, 64, 7)).save(out / "small.png")
    p16 = photo(1024, 1024, 3).astype(np.uint16) * 257
    png16(out / "rgba16.png", np.concatenate([p16, p16[..., :1]], axis=-1))
    batch = out / "batch"
    batch.mkdir(exist_ok=True)
    for i in range(200):
        Image.fromarray(photo(512, 512, 1000 + i)).save(batch / f"b{i:03}.png")


if __name__ == "__main__":
    main(sys.argv[1])
