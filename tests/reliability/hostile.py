"""Writes the hostile files of RELIABILITY.md into a folder (argument 1).

Each is small and claims far more than it holds: decompression bombs, huge
headers, truncated data, frames x canvas bombs. `run.sh` reads every one
with the tool under a 2 GiB address-space limit and reports the outcome,
the time and the peak memory.
"""
import os
import struct
import sys
import zlib

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, extra=b"", idat=b"\0" * 5):
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return head + extra + chunk(b"IDAT", zlib.compress(idat)) + chunk(b"IEND", b"")


def npy(shape, payload=b""):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }" % (shape,)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def bmp(width, height, bits, compression, data):
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256)) if bits <= 8 else b""
    offset = 14 + 40 + len(palette)
    return (b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
            + struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, len(data), 0, 0, 0, 0)
            + palette + data)


def zlib_of(byte, mib):
    """zlib's encoding of `mib` MiB of `byte`, made quickly: one MiB
    deflated and flushed to a byte boundary, repeated, then an empty final
    block and the Adler-32 of the whole."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    part = c.compress(byte * (1 << 20)) + c.flush(zlib.Z_SYNC_FLUSH)
    adler = 1
    block = byte * (1 << 20)
    for _ in range(mib):
        adler = zlib.adler32(block, adler)
    return b"\x78\xda" + part * mib + b"\x03\x00" + struct.pack(">I", adler)


def gif(frames, width=8192, height=8192):
    g = b"GIF89a" + struct.pack("<HH", width, height) + b"\0\0\0"
    frame = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x80" + b"\0\0\0\xff\xff\xff" + b"\x02\x02\x44\x01\x00"
    return g + frame * frames + b"\x3b"


# Decompression bomb: a zTXt chunk inflating to 300 MiB.
write("png-ztxt-bomb.png", png(4, 1, chunk(b"zTXt", b"Comment\0\0" + zlib_of(b"A", 300))))
# Headers claiming 3-4 GB of pixels.
write("png-60000x60000.png", png(60000, 60000, idat=b"\0" * 1000))
write("npy-60000x60000.npy", npy((60000, 60000), b"\0" * 100))
write("pgm-60000x60000.pgm", b"P5\n60000 60000\n255\n" + b"\0" * 100)
write("bmp-30000x30000-24bit.bmp", bmp(30000, 30000, 24, 0, b"\0" * 100))
# BMP RLE8 whose data is only the end-of-bitmap: 32768x32768 of nothing.
write("bmp-rle8-eob-32768.bmp", bmp(32768, 32768, 8, 1, b"\x00\x01"))
# Two billion empty frames (mimread, convert).
write("npy-2e9-empty-frames.npy", npy((2000000000, 0)))
# Frames x canvas: 200 and 5000 frames of 1x1 on 8192x8192.
write("gif-200-frames-8192.gif", gif(200))
write("gif-5000-frames-8192.gif", gif(5000))

# --- Issue 16 ---
seeds = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "seeds")


def seed(target, name):
    with open(os.path.join(seeds, target, name), "rb") as f:
        return f.read()


# A 1 MiB PNG whose iCCP chunk inflates to about a gigabyte.
write("png-iccp-bomb.png", png(4, 1, chunk(b"iCCP", b"icc\0\0" + zlib_of(b"\0", 1024))))
# A baseline JPEG (Pillow's, 464 bytes) whose frame header is patched to
# claim 30000x30000 pixels: its scan cannot hold 14 million blocks.
jpeg = bytearray(seed("read_jpeg", "gray.jpg"))
sof = jpeg.index(b"\xff\xc0")
jpeg[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
write("jpeg-30000x30000-header.jpg", bytes(jpeg))
# The same with one stray byte before its quantization table (decoders skip
# it; a marker walk that stopped there would find no frame header).
dqt = jpeg.index(b"\xff\xdb")
write("jpeg-30000x30000-stray-byte.jpg", bytes(jpeg[:dqt] + b"\x00" + jpeg[dqt:]))
# A JPEG cut 4 bytes short: the end of its scan and its EOI are missing.
write("jpeg-cut-4-bytes.jpg", seed("read_jpeg", "rgb.jpg")[:-4])
# A WebP (lossless, 1x1) with a 200 MiB ICCP chunk (sparse on disk).
vp8l = b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00\x00"
icc_size = 200 << 20
vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x20, 0, 0, 0]) + b"\0\0\0" + b"\0\0\0"
body = b"WEBP" + vp8x + b"ICCP" + struct.pack("<I", icc_size)
riff_size = len(body) + icc_size + len(vp8l)
with open(os.path.join(out, "webp-200mib-iccp.webp"), "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", riff_size) + body)
    f.seek(icc_size, 1)
    f.write(vp8l)
# A TIFF of 2000 pages of 4096x4096 gray pixels, every page's one strip the
# same deflated 16 MiB of zeros (about 16 KiB): 33.5 GB of pixels.
strip = zlib.compress(b"\0" * (4096 * 4096), 9)
pages = 2000
tags = 9
ifd_size = 2 + tags * 12 + 4
first_ifd = 8 + len(strip)
tif = bytearray(b"II*\0" + struct.pack("<I", first_ifd) + strip)
for i in range(pages):
    nxt = first_ifd + (i + 1) * ifd_size if i + 1 < pages else 0
    entries = [
        (256, 4, 1, 4096), (257, 4, 1, 4096), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 1),
        (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 4096), (279, 4, 1, len(strip)),
    ]
    tif += struct.pack("<H", tags)
    for tag, kind, count, value in entries:
        tif += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    tif += struct.pack("<I", nxt)
write("tiff-2000-pages-4096.tif", bytes(tif))
# Files cut at half and at nine tenths of their length (inside the image
# data), from files Pillow and numpy wrote (fuzz/seeds).
for target, name in [
    ("read_png", "rgb.png"), ("read_png", "rgba-interlaced.png"), ("read_jpeg", "progressive.jpg"),
    ("read_jpeg", "rgb.jpg"), ("read_gif", "anim.gif"), ("read_tiff", "rgb.tif"), ("read_tiff", "lzw.tif"),
    ("read_bmp", "rgb.bmp"), ("read_npy", "f32.npy"), ("read_pnm", "rgb.ppm"), ("read_webp", "lossless.webp"),
]:
    data = seed(target, name)
    for part in (50, 90):
        stem, ext = os.path.splitext(name)
        write(f"cut-{part}-{stem}{ext}", data[: len(data) * part // 100])
