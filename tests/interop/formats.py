"""Reference side of the format interoperability suite.

  formats.py gen DIR        writes files with Pillow, tifffile and numpy in
                            every mode the standard plugins claim, decodes
                            each with the same tool, and writes
                            DIR/manifest.json: for every file, the expected
                            frames as raw C-order native-endian bytes, the
                            tolerance and the metadata to expect.
  formats.py check MANIFEST reads the files imageio-rs wrote (listed in
                            MANIFEST in the same shape) with the reference
                            tools and prints a JSON list of failures.

The expectations come from the reference tools only; nothing here uses
imageio-rs."""

import io
import json
import os
import struct
import sys

import numpy as np
import tifffile
from PIL import Image, ImageSequence

RNG = np.random.default_rng(20261126)


def smooth(h, w, c=None, dtype=np.uint8):
    """A smooth gradient plus mild noise: realistic for lossy codecs."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 255.0 / max(w - 1, 1) + y * 128.0 / max(h - 1, 1)) % 256
    if c is not None:
        base = np.stack([(base + 60 * k) % 256 for k in range(c)], axis=-1)
    noisy = base + RNG.integers(-6, 7, size=base.shape)
    return np.clip(noisy, 0, 255).astype(dtype)


def numeric(shape, dtype):
    """Values over the dtype's range (for lossless formats)."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return RNG.integers(0, 2, size=shape).astype(bool)
    if dt.kind == "f":
        return (RNG.standard_normal(size=shape) * 1000).astype(dt)
    info = np.iinfo(dt)
    return RNG.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)


def few_colors(h, w, n=40, c=3):
    palette = RNG.integers(0, 256, size=(n, c), dtype=np.uint8)
    idx = (np.add.outer(np.arange(h) // 4, np.arange(w) // 5)) % n
    return palette[idx]


class Gen:
    def __init__(self, out):
        self.out = out
        self.entries = []

    def path(self, name):
        return os.path.join(self.out, name)

    def raw(self, name, arr):
        arr = np.array(arr, order="C", copy=True)
        if arr.dtype == bool:
            arr = arr != 0  # Pillow's mode "1" arrays are views of 0/255 bytes
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        p = self.path(name + ".raw")
        arr.tofile(p)
        return {"raw": p, "dtype": str(arr.dtype), "shape": list(arr.shape)}

    def add(self, name, fmt, mode, frames, max_diff=0, mean_diff=0.0, meta=None, frame_meta=None):
        self.entries.append(
            {
                "name": name,
                "file": self.path(name),
                "format": fmt,
                "mode": mode,
                "frames": [self.raw(f"{name}.{i}", f) for i, f in enumerate(frames)],
                "max_diff": max_diff,
                "mean_diff": mean_diff,
                "meta": meta or {},
                "frame_meta": frame_meta or [],
            }
        )


def pil_array(im):
    """A Pillow image as imageio's Pillow plugin returns it."""
    if im.mode == "P":
        im = im.convert(im.palette.mode)
    return np.asarray(im)


def gen_jpeg(g):
    cases = {
        "gray.jpg": (Image.fromarray(smooth(48, 64)), {}),
        "rgb420.jpg": (Image.fromarray(smooth(50, 66, 3)), {}),
        "rgb444.jpg": (Image.fromarray(smooth(40, 40, 3)), {"subsampling": 0}),
        "progressive.jpg": (Image.fromarray(smooth(64, 80, 3)), {"progressive": True}),
        "progressive-gray.jpg": (Image.fromarray(smooth(33, 47)), {"progressive": True}),
        "cmyk.jpg": (Image.fromarray(smooth(32, 48, 4), mode="CMYK"), {}),
    }
    for name, (im, kw) in cases.items():
        im.save(g.path(name), quality=90, **kw)
        g.add(name, "JPEG", "i", [pil_array(Image.open(g.path(name)))], max_diff=12, mean_diff=1.0,
              meta={"progressive": bool(kw.get("progressive", False))})
    # EXIF orientation, reported (not applied).
    exif = Image.Exif()
    exif[0x0112] = 6
    im = Image.fromarray(smooth(20, 30, 3))
    im.save(g.path("oriented.jpg"), quality=90, exif=exif.tobytes())
    g.add("oriented.jpg", "JPEG", "i", [pil_array(Image.open(g.path("oriented.jpg")))], max_diff=12,
          mean_diff=1.0, meta={"orientation": 6})


TIFF_DTYPES = ["uint8", "uint16", "uint32", "int16", "float32", "float64"]
TIFF_COMPRESSIONS = [None, "lzw", "zlib", "packbits"]


def gen_tiff(g):
    for dtype in TIFF_DTYPES:
        for channels in (None, 3, 4):
            for comp in TIFF_COMPRESSIONS:
                shape = (17, 23) if channels is None else (17, 23, channels)
                a = numeric(shape, dtype)
                kind = {None: "gray", 3: "rgb", 4: "rgba"}[channels]
                name = f"{dtype}-{kind}-{comp or 'none'}.tif"
                kw = {}
                if channels == 3:
                    kw["photometric"] = "rgb"
                elif channels == 4:
                    kw.update(photometric="rgb", extrasamples=["unassalpha"])
                else:
                    kw["photometric"] = "minisblack"
                tifffile.imwrite(g.path(name), a, compression=comp, **kw)
                g.add(name, "TIFF", "i", [tifffile.imread(g.path(name))])
    # Multi-page, with description and resolution on each page.
    pages = [numeric((12, 9, 3), "uint8") for _ in range(3)]
    with tifffile.TiffWriter(g.path("pages.tif")) as tw:
        for i, p in enumerate(pages):
            tw.write(p, photometric="rgb", description=f"page {i}", resolution=(72.0, 150.0),
                     resolutionunit="INCH", compression="lzw", metadata=None)
    g.add("pages.tif", "TIFF", "I", pages,
          frame_meta=[{"description": f"page {i}", "resolution": [72.0, 150.0], "resolution_unit": 2}
                      for i in range(3)])
    # A volume: one series of 5 slices.
    vol = numeric((5, 11, 13), "uint16")
    tifffile.imwrite(g.path("volume.tif"), vol, photometric="minisblack", compression="zlib")
    g.add("volume.tif", "TIFF", "v", [tifffile.imread(g.path("volume.tif"))])
    # Two volumes: two tifffile series (mode V).
    vols = [numeric((3, 7, 8), "int16"), numeric((3, 7, 8), "int16")]
    with tifffile.TiffWriter(g.path("volumes.tif")) as tw:
        for v in vols:
            tw.write(v, photometric="minisblack")
    with tifffile.TiffFile(g.path("volumes.tif")) as tf:
        g.add("volumes.tif", "TIFF", "V", [s.asarray() for s in tf.series])
    # Planar RGB, and tiles.
    planar = numeric((3, 14, 10), "uint8")
    tifffile.imwrite(g.path("planar.tif"), planar, photometric="rgb", planarconfig="separate")
    g.add("planar.tif", "TIFF", "i", [tifffile.imread(g.path("planar.tif"))])
    tiled = numeric((40, 50), "float32")
    tifffile.imwrite(g.path("tiled.tif"), tiled, tile=(16, 16), compression="zlib")
    g.add("tiled.tif", "TIFF", "i", [tiled])
    # Pillow's own compressed writers too.
    rgb = smooth(21, 19, 3)
    for comp in ("tiff_lzw", "tiff_adobe_deflate", "packbits"):
        name = f"pillow-{comp}.tif"
        Image.fromarray(rgb).save(g.path(name), compression=comp)
        g.add(name, "TIFF", "i", [rgb])


def gen_gif(g):
    frames = [few_colors(30, 40, n=30 + 10 * i) for i in range(4)]
    frames[2][5:15, 5:25] = frames[1][5:15, 5:25]  # partly unchanged: Pillow crops the frame
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(g.path("anim.gif"), save_all=True, append_images=ims[1:], duration=[100, 200, 300, 400], loop=0)
    ref = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(g.path("anim.gif")))]
    g.add("anim.gif", "GIF", "I", ref, meta={"loop": 0},
          frame_meta=[{"duration": d} for d in (100, 200, 300, 400)])
    Image.fromarray(frames[0]).save(g.path("still.gif"))
    g.add("still.gif", "GIF", "i", [np.asarray(Image.open(g.path("still.gif")).convert("RGB"))])
    ims[0].save(g.path("loop3.gif"), save_all=True, append_images=ims[1:2], duration=50, loop=3)
    ref = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(g.path("loop3.gif")))]
    g.add("loop3.gif", "GIF", "I", ref, meta={"loop": 3})


def bmp_file(width, height, bits, palette, rows, compression=0, top_down=False):
    """A BMP with a BITMAPINFOHEADER: rows are the encoded pixel rows in file order."""
    data = b"".join(rows) if isinstance(rows, list) else rows
    pal = b"".join(bytes((b, gg, r, 0)) for (r, gg, b) in palette)
    offset = 14 + 40 + len(pal)
    h = -height if top_down else height
    header = struct.pack("<2sIHHI", b"BM", offset + len(data), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, h, 1, bits, compression, len(data), 2835, 2835,
                       len(palette), 0)
    return header + info + pal + data


def rle8(index_rows):
    out = bytearray()
    for row in index_rows:  # bottom-up order is the caller's
        i = 0
        while i < len(row):
            run = 1
            while i + run < len(row) and row[i + run] == row[i] and run < 255:
                run += 1
            out += bytes((run, row[i]))
            i += run
        out += b"\x00\x00"
    out += b"\x00\x01"
    return bytes(out)


def rle4(index_rows):
    out = bytearray()
    for row in index_rows:
        i = 0
        while i < len(row):
            run = 1
            while i + run < len(row) and row[i + run] == row[i] and run < 255:
                run += 1
            out += bytes((run, (row[i] << 4) | row[i]))
            i += run
        out += b"\x00\x00"
    out += b"\x00\x01"
    return bytes(out)


def gen_bmp(g):
    def pil(name):
        return pil_array(Image.open(g.path(name)))

    Image.fromarray(RNG.integers(0, 2, size=(13, 21)).astype(bool)).save(g.path("bilevel.bmp"))
    g.add("bilevel.bmp", "BMP", "i", [pil("bilevel.bmp")])
    Image.fromarray(smooth(15, 17)).save(g.path("gray8.bmp"))
    g.add("gray8.bmp", "BMP", "i", [pil("gray8.bmp")])
    Image.fromarray(few_colors(16, 18)).convert("P", palette=Image.Palette.ADAPTIVE, colors=40).save(
        g.path("palette8.bmp"))
    g.add("palette8.bmp", "BMP", "i", [pil("palette8.bmp")])
    Image.fromarray(smooth(19, 23, 3)).save(g.path("rgb24.bmp"))
    g.add("rgb24.bmp", "BMP", "i", [pil("rgb24.bmp")])
    Image.fromarray(smooth(9, 7, 4)).save(g.path("rgba32.bmp"))
    g.add("rgba32.bmp", "BMP", "i", [pil("rgba32.bmp")])
    # Hand-made files for what Pillow does not write: RLE8, RLE4, 4-bit,
    # top-down, 32-bit with an alpha mask. Pillow decodes them as the reference.
    w, h = 20, 12
    pal16 = [tuple(int(v) for v in RNG.integers(0, 256, 3)) for _ in range(16)]
    idx = (np.add.outer(np.arange(h) // 3, np.arange(w) // 4) % 16).astype(np.uint8)
    bottom_up = [list(r) for r in idx[::-1]]
    with open(g.path("rle8.bmp"), "wb") as f:
        f.write(bmp_file(w, h, 8, pal16, rle8(bottom_up), compression=1))
    g.add("rle8.bmp", "BMP", "i", [pil("rle8.bmp")])
    with open(g.path("rle4.bmp"), "wb") as f:
        f.write(bmp_file(w, h, 4, pal16, rle4(bottom_up), compression=2))
    g.add("rle4.bmp", "BMP", "i", [pil("rle4.bmp")])
    rows4 = []
    for r in bottom_up:
        packed = bytes((r[i] << 4) | r[i + 1] for i in range(0, w, 2))
        rows4.append(packed + b"\x00" * ((4 - len(packed) % 4) % 4))
    with open(g.path("pal4.bmp"), "wb") as f:
        f.write(bmp_file(w, h, 4, pal16, rows4))
    g.add("pal4.bmp", "BMP", "i", [pil("pal4.bmp")])
    rgb = smooth(h, w, 3)
    rows = [bytes(r[:, ::-1].tobytes()) + b"\x00" * ((4 - (w * 3) % 4) % 4) for r in rgb]
    with open(g.path("topdown.bmp"), "wb") as f:
        f.write(bmp_file(w, h, 24, [], rows, top_down=True))
    g.add("topdown.bmp", "BMP", "i", [pil("topdown.bmp")])
    # 32-bit BI_BITFIELDS with an alpha mask, V4 header.
    rgba = smooth(6, 5, 4)
    pix = b"".join(bytes((p[2], p[1], p[0], p[3])) for row in rgba[::-1] for p in row)
    v4 = struct.pack("<IiiHHIIiiIIIIII", 108, 5, 6, 1, 32, 3, len(pix), 2835, 2835, 0, 0,
                     0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000) + b"BGRs" + b"\x00" * 48
    with open(g.path("bitfields.bmp"), "wb") as f:
        f.write(struct.pack("<2sIHHI", b"BM", 14 + 108 + len(pix), 0, 0, 14 + 108) + v4 + pix)
    g.add("bitfields.bmp", "BMP", "i", [pil("bitfields.bmp")])


NPY_DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32",
              "float64"]


def gen_npy(g):
    shapes = [(), (7,), (5, 6), (4, 3, 2), (2, 3, 4, 5)]
    for dtype in NPY_DTYPES:
        for order in ("<", ">"):
            for fortran in (False, True):
                for shape in shapes:
                    a = numeric(shape, dtype)
                    dt = np.dtype(dtype).newbyteorder(order) if np.dtype(dtype).itemsize > 1 else np.dtype(dtype)
                    b = np.asarray(a, dtype=dt, order="F" if fortran else "C")
                    name = f"{dtype}-{'be' if order == '>' else 'le'}-{'F' if fortran else 'C'}-{len(shape)}d.npy"
                    np.save(g.path(name), b)
                    g.add(name, "NPY", "v", [np.load(g.path(name)).astype(np.dtype(dtype).newbyteorder("="))])
    # Stacked: mode I reads the first axis as images.
    stack = numeric((3, 4, 5), "int16")
    np.save(g.path("stack.npy"), stack)
    g.add("stack.npy", "NPY", "I", list(stack))


def gen_webp(g):
    rgb = smooth(24, 31, 3)
    rgba = smooth(20, 22, 4)
    Image.fromarray(rgb).save(g.path("lossless-rgb.webp"), lossless=True)
    g.add("lossless-rgb.webp", "WEBP", "i", [rgb], meta={"lossless": True})
    Image.fromarray(rgba).save(g.path("lossless-rgba.webp"), lossless=True, exact=True)
    g.add("lossless-rgba.webp", "WEBP", "i", [rgba], meta={"lossless": True})
    Image.fromarray(rgb).save(g.path("lossy.webp"), quality=90)
    g.add("lossy.webp", "WEBP", "i", [np.asarray(Image.open(g.path("lossy.webp")))], max_diff=8, mean_diff=1.0,
          meta={"lossless": False})
    frames = [Image.fromarray(few_colors(16, 16, n=5 + i)) for i in range(3)]
    frames[0].save(g.path("anim.webp"), save_all=True, append_images=frames[1:], lossless=True,
                   duration=[70, 80, 90], loop=0)
    anim = Image.open(g.path("anim.webp"))
    ref = [np.asarray(f.convert(anim.mode)) for f in ImageSequence.Iterator(anim)]
    # image-webp 0.2.4 blends opaque pixels of later frames with a rounding
    # error (libwebp copies them): values can be 1 lower. Stated tolerance.
    g.add("anim.webp", "WEBP", "I", ref, max_diff=1, mean_diff=1.0,
          frame_meta=[{"duration": d} for d in (70, 80, 90)])


def gen(out):
    os.makedirs(out, exist_ok=True)
    g = Gen(out)
    for f in (gen_jpeg, gen_tiff, gen_gif, gen_bmp, gen_npy, gen_webp):
        f(g)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(g.entries, f)


# ---- check: files imageio-rs wrote, read by the reference tools ----


def read_frames(entry):
    fmt, path, mode = entry["format"], entry["file"], entry["mode"]
    if fmt == "TIFF":
        if mode == "v":
            return [tifffile.imread(path)], [{}]
        if mode == "V":
            with tifffile.TiffFile(path) as tf:
                if len(tf.series) > 1:  # tifffile's own series
                    return [s.asarray() for s in tf.series], [{} for _ in tf.series]
                # Files imageio-rs wrote: tifffile sees the pages (one series);
                # the volume boundaries are imageio-rs metadata, so compare the
                # pages split at the expected volume sizes.
                pages = tifffile.imread(path)
                frames, at = [], 0
                for want in entry["frames"]:
                    z = want["shape"][0]
                    frames.append(pages[at:at + z])
                    at += z
                return frames, [{} for _ in frames]
        with tifffile.TiffFile(path) as tf:
            frames, metas = [], []
            for page in tf.pages:
                frames.append(page.asarray())
                m = {"description": page.description}
                if "XResolution" in page.tags:
                    x, y = page.tags["XResolution"].value, page.tags["YResolution"].value
                    m["resolution"] = [x[0] / x[1], y[0] / y[1]]
                frames and metas.append(m)
            return frames, metas
    if fmt == "NPY":
        return [np.load(path)], [{}]
    im = Image.open(path)
    if fmt in ("GIF", "WEBP") and getattr(im, "n_frames", 1) > 1 or mode == "I":
        frames, metas = [], []
        for f in ImageSequence.Iterator(im):
            want = entry["frames"][0]["shape"]
            mode_ = "RGBA" if len(want) == 3 and want[2] == 4 else "RGB"
            frames.append(np.asarray(f.convert(mode_)))
            metas.append({"duration": f.info.get("duration"), "loop": im.info.get("loop")})
        return frames, metas
    return [pil_array(im)], [dict(im.info)]


def check(manifest):
    with open(manifest) as f:
        entries = json.load(f)
    failures = []
    for e in entries:
        try:
            frames, metas = read_frames(e)
        except Exception as ex:  # a file the reference cannot read is a failure
            failures.append(f"{e['name']}: the reference tool cannot read it: {ex!r}")
            continue
        if len(frames) != len(e["frames"]):
            failures.append(f"{e['name']}: {len(frames)} frames, expected {len(e['frames'])}")
            continue
        for i, (got, want) in enumerate(zip(frames, e["frames"])):
            exp = np.fromfile(want["raw"], dtype=want["dtype"]).reshape(want["shape"])
            if e.get("gray_as_rgb") and got.ndim == 3 and exp.ndim == 2:
                exp = np.repeat(exp[:, :, None], got.shape[2], axis=2)
            if got.shape != exp.shape or got.dtype != exp.dtype:
                failures.append(f"{e['name']}[{i}]: {got.shape} {got.dtype}, expected {exp.shape} {exp.dtype}")
                continue
            if exp.dtype.kind == "f":
                same = np.array_equal(got, exp, equal_nan=True)
                diff = 0.0 if same else float("inf")
                mean = diff
            else:
                d = np.abs(got.astype(np.float64) - exp.astype(np.float64))
                diff, mean = float(d.max()) if d.size else 0.0, float(d.mean()) if d.size else 0.0
            if diff > e["max_diff"] or mean > e["mean_diff"]:
                failures.append(f"{e['name']}[{i}]: max diff {diff}, mean {mean:.3f} (allowed {e['max_diff']}, "
                                f"{e['mean_diff']})")
        # imageio (tifffile) has no multi-volume marker but its own, so for
        # mode V it sees one volume of all pages: compared above by pages.
        if "ours_read" in e and e["format"] != "NPY" and e["mode"] != "V":
            try:
                view = imageio_view(e["file"], e["mode"])
            except Exception as ex:
                failures.append(f"{e['name']}: imageio cannot read it: {ex!r}")
                view = e["ours_read"]
            if view != e["ours_read"]:
                failures.append(f"{e['name']}: imageio reads {view}, imageio-rs {e['ours_read']}")
        for i, want in enumerate(e.get("frame_meta", [])):
            for k, v in want.items():
                got = metas[i].get(k) if i < len(metas) else None
                if got != v:
                    failures.append(f"{e['name']}[{i}]: metadata {k} = {got!r}, expected {v!r}")
    json.dump(failures, sys.stdout)




def imageio_view(path, mode):
    """What imageio itself returns (its v2 API, which imageio-rs ports, with
    imageio's default plugin choice): the shape (frames stacked for mode I)."""
    import imageio.v2 as iio

    if mode == "I":
        frames = iio.mimread(path)
        arr = np.stack(frames)
    elif mode == "V":
        arr = np.stack(iio.mvolread(path))
    elif mode == "v":
        arr = iio.volread(path)
    else:
        arr = iio.imread(path)
    return {"shape": list(arr.shape), "dtype": str(arr.dtype)}


def add_imageio_views(out):
    path = os.path.join(out, "manifest.json")
    with open(path) as f:
        entries = json.load(f)
    for e in entries:
        if e["format"] == "NPY":
            continue  # imageio has no .npy plugin
        try:
            e["imageio"] = imageio_view(e["file"], e["mode"])
        except Exception as ex:
            e["imageio"] = {"error": repr(ex)}
    with open(path, "w") as f:
        json.dump(entries, f)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        add_imageio_views(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        raise SystemExit(__doc__)
