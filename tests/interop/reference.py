"""Reference data from independent implementations (Pillow, pypng, numpy).

  reference.py gen DIR    write PNG/PNM files with Pillow and pypng (and, for
                          the plain PNM variants and PAM, which Pillow cannot
                          write, a small numpy writer), plus for each file
                          NAME.json {"file", "dtype", "shape"} and NAME.bin
                          (the pixels Pillow/pypng decode, C order).
  reference.py read DIR   decode every NAME.png / NAME.p?m / NAME.pam that
                          imageio-rs wrote into DIR and dump NAME.ref.json and
                          NAME.ref.bin the same way.
"""
import json
import os
import sys

import numpy as np
import png  # pypng
from PIL import Image


def dump(base, arr, file, info=None):
    if arr.dtype == bool:
        # Pillow's mode "1" arrays are bool views of 0/255 bytes: normalise to 0/1.
        arr = arr.view(np.uint8) != 0
    arr = np.ascontiguousarray(arr)
    arr.tofile(base + ".bin")
    with open(base + ".json", "w") as f:
        json.dump({"file": file, "dtype": str(arr.dtype), "shape": list(arr.shape), "info": info or {}}, f)


def pypng_read(path):
    w, h, rows, info = png.Reader(filename=path).asDirect()
    planes = info["planes"]
    dtype = np.uint16 if info["bitdepth"] > 8 else np.uint8
    a = np.vstack([np.asarray(r, dtype=dtype) for r in rows]).reshape(h, w, planes)
    return a[:, :, 0] if planes == 1 else a


def pam_read(path):
    data = open(path, "rb").read()
    head, _, body = data.partition(b"ENDHDR\n")
    fields = dict(line.split(None, 1) for line in head.decode().splitlines()[1:] if line and " " in line)
    w, h, d, m = (int(fields[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    dt = np.dtype(">u2") if m > 255 else np.uint8
    a = np.frombuffer(body, dtype=dt, count=w * h * d).astype(np.uint16 if m > 255 else np.uint8)
    a = a.reshape(h, w, d)
    if fields.get("TUPLTYPE", "").strip() == "BLACKANDWHITE":
        return a[:, :, 0].astype(bool)
    return a[:, :, 0] if d == 1 else a


def pillow_pnm(path):
    """Pillow's pixels of a PNM file; Pillow reports 16-bit files in its
    32-bit "I" mode, so those are narrowed (after checking) to uint16."""
    arr = np.asarray(Image.open(path))
    if arr.dtype == np.int32:
        assert arr.min() >= 0 and arr.max() <= 65535
        arr = arr.astype(np.uint16)
    return arr


def ppm_tokens(data):
    """The header tokens of a binary PPM and the offset of its raster."""
    tokens, i = [], 0
    while len(tokens) < 4:
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            while data[i:i + 1] not in (b"\n", b""):
                i += 1
            continue
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        tokens.append(data[i:j])
        i = j
    return tokens, i + 1


def ppm_maxval(path):
    data = open(path, "rb").read(256)
    return int(ppm_tokens(data)[0][3]) if data[:2] == b"P6" else 0


def ppm16_read(path):
    data = open(path, "rb").read()
    (magic, w, h, _), start = ppm_tokens(data)
    w, h = int(w), int(h)
    return np.frombuffer(data, dtype=">u2", count=w * h * 3, offset=start).astype(np.uint16).reshape(h, w, 3)


def plain_pnm(path, kind, arr, maxval):
    with open(path, "w") as f:
        h, w = arr.shape[:2]
        f.write(f"P{kind}\n# written by reference.py\n{w} {h}\n")
        if kind != 1:
            f.write(f"{maxval}\n")
        flat = arr.reshape(-1)
        if kind == 1:
            flat = np.where(flat, 0, 1)  # PBM: 1 is black, True is white
        for i in range(0, len(flat), 12):
            f.write(" ".join(str(int(v)) for v in flat[i:i + 12]) + "\n")


def pam_write(path, arr, tupltype, maxval):
    h, w = arr.shape[:2]
    d = 1 if arr.ndim == 2 else arr.shape[2]
    with open(path, "wb") as f:
        f.write(f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH {d}\nMAXVAL {maxval}\nTUPLTYPE {tupltype}\nENDHDR\n".encode())
        f.write(arr.astype(">u2" if maxval > 255 else np.uint8).tobytes())


def gen(out):
    rng = np.random.default_rng(20261126)
    H, W = 37, 53
    u8 = lambda *s: rng.integers(0, 256, (H, W) + s, dtype=np.uint8)
    u16 = lambda *s: rng.integers(0, 65536, (H, W) + s, dtype=np.uint16)
    gray, la, rgb, rgba = u8(), u8(2), u8(3), u8(4)

    def pil(name, im, **kw):
        path = os.path.join(out, name)
        im.save(path, **kw)
        return path

    for name, arr, mode in [("pil_L", gray, "L"), ("pil_LA", la, "LA"), ("pil_RGB", rgb, "RGB"), ("pil_RGBA", rgba, "RGBA")]:
        p = pil(name + ".png", Image.fromarray(arr, mode))
        dump(os.path.join(out, name), np.asarray(Image.open(p)), name + ".png")
    from PIL import PngImagePlugin
    text = PngImagePlugin.PngInfo()
    text.add_text("Title", "hello imageio")
    text.add_text("Comment", "compressed " * 20, zip=True)
    text.add_itxt("Author", "Zoë", lang="fr")
    p = pil("pil_text.png", Image.fromarray(rgb), pnginfo=text, dpi=(300, 150))
    dump(os.path.join(out, "pil_text"), np.asarray(Image.open(p)), "pil_text.png", png_info(p))
    p = pil("pil_P.png", Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    dump(os.path.join(out, "pil_P"), np.asarray(Image.open(p).convert("RGB")), "pil_P.png")
    p = pil("pil_P_trns.png", Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16), transparency=3)
    dump(os.path.join(out, "pil_P_trns"), np.asarray(Image.open(p).convert("RGBA")), "pil_P_trns.png")
    p = pil("pil_1.png", Image.fromarray(gray > 100))
    dump(os.path.join(out, "pil_1"), np.asarray(Image.open(p)), "pil_1.png")
    p = pil("pil_I16.png", Image.fromarray(u16()))
    dump(os.path.join(out, "pil_I16"), np.asarray(Image.open(p)), "pil_I16.png")
    # pypng: 16-bit colour, interlaced, low bit depths
    for name, arr, kw in [
        ("pypng_rgb16", u16(3), dict(greyscale=False, alpha=False, bitdepth=16)),
        ("pypng_rgba16", u16(4), dict(greyscale=False, alpha=True, bitdepth=16)),
        ("pypng_la16", u16(2), dict(greyscale=True, alpha=True, bitdepth=16)),
        ("pypng_rgb_interlaced", rgb, dict(greyscale=False, alpha=False, bitdepth=8, interlace=True)),
        ("pypng_rgba16_interlaced", u16(4), dict(greyscale=False, alpha=True, bitdepth=16, interlace=True)),
    ]:
        path = os.path.join(out, name + ".png")
        with open(path, "wb") as f:
            png.Writer(W, H, **kw).write(f, arr.reshape(H, -1))
        dump(os.path.join(out, name), pypng_read(path), name + ".png")
    for depth in (2, 4):
        name = f"pypng_gray{depth}"
        path = os.path.join(out, name + ".png")
        with open(path, "wb") as f:
            png.Writer(W, H, greyscale=True, bitdepth=depth).write(f, (gray >> (8 - depth)).reshape(H, -1))
        dump(os.path.join(out, name), np.asarray(Image.open(path)), name + ".png")  # Pillow scales to 8 bit
    # PNM written by Pillow (binary P4/P5/P6, 16-bit P5)
    for name, im in [("pil_pbm.pbm", Image.fromarray(gray > 100)), ("pil_pgm.pgm", Image.fromarray(gray)),
                     ("pil_ppm.ppm", Image.fromarray(rgb)), ("pil_pgm16.pgm", Image.fromarray(u16()))]:
        p = pil(name, im)
        base = os.path.join(out, name.split(".")[0])
        dump(base, pillow_pnm(p), name)
    # Plain PNM and PAM, which Pillow does not write: the numpy writers above
    bw = gray > 100
    for name, kind, arr, mx in [("plain_p1.pbm", 1, bw, 1), ("plain_p2.pgm", 2, gray, 255), ("plain_p3.ppm", 3, rgb, 255),
                                ("plain_p2_16.pgm", 2, u16(), 65535)]:
        plain_pnm(os.path.join(out, name), kind, arr, mx)
        dump(os.path.join(out, name.split(".")[0]), arr, name)
    rgba16 = u16(4)
    for name, arr, tt, mx in [("pam_rgba.pam", rgba, "RGB_ALPHA", 255), ("pam_la.pam", la, "GRAYSCALE_ALPHA", 255),
                              ("pam_rgba16.pam", rgba16, "RGB_ALPHA", 65535), ("pam_bw.pam", bw.astype(np.uint8), "BLACKANDWHITE", 1)]:
        pam_write(os.path.join(out, name), arr, tt, mx)
        dump(os.path.join(out, name.split(".")[0]), arr.astype(bool) if tt == "BLACKANDWHITE" else arr, name)


def png_info(path):
    """The PNG metadata Pillow reports: text chunks, gamma, dpi."""
    im = Image.open(path)
    info = {k: v for k, v in im.text.items()}
    if "gamma" in im.info:
        info["gamma"] = float(im.info["gamma"])
    if "dpi" in im.info:
        info["dpi"] = [float(x) for x in im.info["dpi"]]
    return info


def read(d):
    for f in sorted(os.listdir(d)):
        base, ext = os.path.splitext(f)
        path = os.path.join(d, f)
        if ext == ".png":
            # Pillow narrows 16-bit colour to 8 bits, so pypng decodes PNGs
            # (Pillow cross-checks the 8-bit ones).
            arr = pypng_read(path)
            if arr.dtype == np.uint8:
                assert (np.asarray(Image.open(path)) == arr).all(), path
        elif ext == ".ppm" and ppm_maxval(path) > 255:
            arr = ppm16_read(path)  # Pillow narrows 16-bit colour PPM to 8 bits
        elif ext in (".pbm", ".pgm", ".ppm"):
            arr = pillow_pnm(path)
        elif ext == ".pam":
            arr = pam_read(path)
        else:
            continue
        dump(os.path.join(d, f + ".ref"), arr, f, png_info(path) if ext == ".png" else None)


if __name__ == "__main__":
    {"gen": gen, "read": read}[sys.argv[1]](sys.argv[2])
