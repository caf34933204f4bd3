"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/:
small files of every format, made by Pillow and numpy (independent of the
plugins under test), plus the repository's test image for PNG.
Run: .venv/bin/python fuzz/seeds.py
"""
import io
import os

import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
rng = np.random.default_rng(7)
rgb = (rng.random((12, 16, 3)) * 255).astype("uint8")
gray = rgb[..., 0]
rgba = np.dstack([rgb, (rng.random((12, 16)) > 0.5).astype("uint8") * 255])


def save(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pil(image, fmt, **kw):
    b = io.BytesIO()
    image.save(b, fmt, **kw)
    return b.getvalue()


# The seeds written here are made anew; the hostile-* seeds (regression
# inputs of issue 16, written by hand from tests/reliability/hostile.py's
# recipes) are kept.
for folder, _, names in os.walk(root):
    for name in names:
        if not name.startswith("hostile-"):
            os.remove(os.path.join(folder, name))
save("read_png", "rgb.png", pil(Image.fromarray(rgb), "PNG"))
save("read_png", "rgba-interlaced.png", pil(Image.fromarray(rgba), "PNG", interlace=1))
save("read_png", "palette.png", pil(Image.fromarray(rgb).quantize(8), "PNG"))
save("read_png", "gray16.png", pil(Image.fromarray(gray.astype("uint16") * 257), "PNG"))
with open(os.path.join(os.path.dirname(root), "..", "tests", "data", "hello-page.png"), "rb") as f:
    save("read_png", "hello-page.png", f.read())
save("read_pnm", "rgb.ppm", pil(Image.fromarray(rgb), "PPM"))
save("read_pnm", "gray.pgm", pil(Image.fromarray(gray), "PPM"))
save("read_pnm", "ascii.pbm", b"P1\n4 2\n0 1 0 1\n1 0 1 0\n")
save("read_jpeg", "rgb.jpg", pil(Image.fromarray(rgb), "JPEG", quality=90))
save("read_jpeg", "progressive.jpg", pil(Image.fromarray(rgb), "JPEG", progressive=True))
save("read_jpeg", "gray.jpg", pil(Image.fromarray(gray), "JPEG"))
save("read_jpeg", "cmyk.jpg", pil(Image.fromarray(rgba, mode="CMYK"), "JPEG"))
save("read_tiff", "rgb.tif", pil(Image.fromarray(rgb), "TIFF"))
save("read_tiff", "lzw.tif", pil(Image.fromarray(rgb), "TIFF", compression="tiff_lzw"))
save("read_tiff", "deflate-gray.tif", pil(Image.fromarray(gray), "TIFF", compression="tiff_adobe_deflate"))
save("read_tiff", "pages.tif", pil(Image.fromarray(rgb), "TIFF", save_all=True,
                                   append_images=[Image.fromarray(gray)]))
save("read_gif", "still.gif", pil(Image.fromarray(rgb), "GIF"))
frames = [Image.fromarray(np.roll(rgb, k, axis=1)) for k in range(3)]
save("read_gif", "anim.gif", pil(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0))
save("read_bmp", "rgb.bmp", pil(Image.fromarray(rgb), "BMP"))
save("read_bmp", "gray.bmp", pil(Image.fromarray(gray), "BMP"))
save("read_bmp", "bilevel.bmp", pil(Image.fromarray(gray > 128), "BMP"))
for name, a in [("u8.npy", rgb), ("f32.npy", rgb.astype("float32")), ("i16-fortran.npy",
                np.asfortranarray(gray.astype(">i2")))]:
    b = io.BytesIO()
    np.save(b, a)
    save("read_npy", name, b.getvalue())
save("read_webp", "lossless.webp", pil(Image.fromarray(rgba), "WEBP", lossless=True))
save("read_webp", "lossy.webp", pil(Image.fromarray(rgb), "WEBP", quality=80))
save("read_webp", "anim.webp", pil(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True))
for i, s in enumerate(["ri/tmp/x.png", "wI<bytes>", "riimageio:chelsea.png", "rvhttp://h/x.tif?a=1",
                       "r?file:///tmp/a.zip/b/c.png", "wiout.zip/../x.png", "rx~/x", "ri"]):
    save("request", f"uri-{i}", s.encode())
