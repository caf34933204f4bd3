"""The nine daily tasks of an imageio v3 user, in Python imageio v3, for
tests/v3.rs: it runs the same tasks with imageio::v3 on the same files,
compares what both found, and counts the lines between the markers.

usage: daily_tasks.py PNG GIF PNG16 URL OUTDIR  (prints JSON)"""
import json
import sys

import numpy as np

import imageio.v3 as iio


def digest(a):
    a = np.ascontiguousarray(a)
    return {"shape": list(a.shape), "dtype": str(a.dtype), "sum": int(a.astype(np.int64).sum()),
            "weighted": int((a.astype(np.int64).ravel() * (np.arange(a.size) % 251)).sum())}


def main():
    png, gif, png16, url, out = sys.argv[1:6]
    # tasks:begin
    rgb = iio.imread(png)
    dpi = iio.immeta(png).get("dpi")
    durations = [iio.immeta(gif, index=i)["duration"] for i, _ in enumerate(iio.imiter(gif))]
    props = iio.improps(gif)
    with open(png, "rb") as f:
        from_bytes = iio.imread(f.read())
    from_http = iio.imread(url)
    iio.imwrite(f"{out}/q90.jpg", rgb, quality=90)
    frames = np.stack([rgb[:64, :64], rgb[64:128, :64], rgb[128:192, :64]])
    iio.imwrite(f"{out}/anim.gif", frames, duration=100, loop=0)
    eight = (iio.imread(png16) >> 8).astype(np.uint8)
    try:
        iio.imread(f"{out}/missing.png")
        missing = "read"
    except FileNotFoundError:
        missing = "not found"
    # tasks:end
    print(json.dumps({
        "rgb": digest(rgb), "dpi": list(dpi) if dpi else None, "durations": durations,
        "props": {"shape": list(props.shape), "dtype": str(props.dtype), "n_images": props.n_images,
                  "is_batch": props.is_batch},
        "bytes_same": bool((from_bytes == rgb).all()), "http_same": bool((from_http == rgb).all()),
        "eight": digest(eight), "missing": missing,
    }))


if __name__ == "__main__":
    main()
