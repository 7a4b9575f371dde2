#!/usr/bin/env python3
"""The Pillow loop that mixprep's JPEG class-folder reading is compared against.

    python3 scripts/bench/pillow_loop.py ROOT --size S [--processes 2] [--resample bicubic]

What it measures: decode + resize + center crop of every image under ROOT/train
and ROOT/test, the way a torchvision-style input pipeline does it, and nothing
else (no mixing, no compression, no writing). Files are listed like torchvision's
ImageFolder (each split's class folders sorted, files sorted), the list is split
into --processes contiguous parts, and each worker process (forked, as PyTorch's
DataLoader workers are on Linux) does for every file:

    im = Image.open(f).convert("RGB")
    scale the shorter side to S (rounded, bicubic by default), crop S x S from the centre
    np.asarray(im)                              # so the work is really done

Output: a "listing:" line (the parent's file listing, not timed), then one line

    pillow: N images in T s = R images/s (P processes), peak RSS X MiB (largest process), Y MiB (sum over processes)

T runs from just before the workers start to the last one done (process start-up
included, listing excluded). Peak RSS is each process's ru_maxrss (workers and the
parent); forked workers share pages with the parent, which the sum counts once per
process, so the sum is an upper bound.

Pillow is the yardstick here, not a dependency of mixshards: a benchmark, never CI.
"""
import argparse
import math
import multiprocessing
import os
import resource
import sys
import time

import numpy as np
from PIL import Image

# torchvision.datasets.folder.IMG_EXTENSIONS
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def image_folder(split_root):
    """Files of one split in torchvision ImageFolder's order (classes sorted, files sorted)."""
    classes = sorted(e.name for e in os.scandir(split_root) if e.is_dir())
    files = []
    for c in classes:
        for root, _, names in sorted(os.walk(os.path.join(split_root, c), followlinks=True)):
            for name in sorted(names):
                if name.lower().endswith(IMG_EXTENSIONS):
                    files.append(os.path.join(root, name))
    return files


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def work(files, size, resample, results):
    try:
        loop(files, size, resample)
    except BaseException as e:  # tell the parent rather than leave it waiting
        results.put((None, f"{type(e).__name__}: {e}"))
        raise
    results.put((len(files), max_rss_mib()))


def loop(files, size, resample):
    for f in files:
        im = Image.open(f).convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        nw = max(size, math.floor(w * s + 0.5))
        nh = max(size, math.floor(h * s + 0.5))
        im = im.resize((nw, nh), resample)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
        np.asarray(im)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", help="dataset root with train/<class>/* and test/<class>/*")
    ap.add_argument("--size", type=int, required=True, help="output side S")
    ap.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--resample", choices=sorted(RESAMPLE), default="bicubic")
    a = ap.parse_args()
    if a.size < 1 or a.processes < 1:
        ap.error("--size and --processes must be positive")

    t0 = time.perf_counter()
    files = []
    for split in ("train", "test"):
        d = os.path.join(a.root, split)
        if not os.path.isdir(d):
            sys.exit(f"error: {d}: no such folder")
        files += image_folder(d)
    listing = time.perf_counter() - t0
    if not files:
        sys.exit(f"error: {a.root}: no images")
    print(f"listing: {len(files)} files in {listing:.2f} s (not timed)", flush=True)

    n, p = len(files), a.processes
    parts = [files[i * n // p:(i + 1) * n // p] for i in range(p)]
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    t0 = time.perf_counter()
    workers = [ctx.Process(target=work, args=(part, a.size, RESAMPLE[a.resample], results))
               for part in parts]
    for w in workers:
        w.start()
    done = [results.get() for _ in workers]  # before join: a full queue blocks a worker's exit
    for w in workers:
        w.join()
    seconds = time.perf_counter() - t0
    errors = [msg for c, msg in done if c is None]
    if errors or any(w.exitcode != 0 for w in workers):
        sys.exit(f"error: a worker failed: {'; '.join(errors) or 'no message'}")

    images = sum(c for c, _ in done)
    rss = [r for _, r in done] + [max_rss_mib()]
    print(f"pillow: {images} images in {seconds:.2f} s = {images / seconds:.0f} images/s "
          f"({p} processes), peak RSS {max(rss):.0f} MiB (largest process), "
          f"{sum(rss):.0f} MiB (sum over processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
