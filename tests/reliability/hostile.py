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


def gif(frames, width=8192, height=8192):
    g = b"GIF89a" + struct.pack("<HH", width, height) + b"\0\0\0"
    frame = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x80" + b"\0\0\0\xff\xff\xff" + b"\x02\x02\x44\x01\x00"
    return g + frame * frames + b"\x3b"


# Decompression bomb: a zTXt chunk inflating to 300 MiB.
write("png-ztxt-bomb.png", png(4, 1, chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * (300 << 20), 9))))
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
