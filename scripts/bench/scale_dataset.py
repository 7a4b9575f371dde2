#!/usr/bin/env python3
"""Makes the scale benchmark's synthetic dataset: 128x128 JPEGs in 1,000 class folders.

    python3 scripts/bench/scale_dataset.py CIFAR10_DIR OUT [--train 200000] [--test 10000]
                                           [--classes 1000] [--side 128] [--processes 2]

Image i of the training split is CIFAR-10 training record i mod 50,000, upscaled
32 -> side with Pillow's BICUBIC, given a variant by i div 50,000 (0: as is,
1: mirrored, 2: colour channels rotated, 3: mirrored and rotated; further
variants repeat), plus Gaussian grain of sigma 4 grey levels from numpy's
PCG64 seeded with i (test: seeded with 10**9 + i), and saved as JPEG quality 90
(Pillow's defaults otherwise). Its class is i mod --classes: the labels carry no
signal. The grain makes decoded pixels about as hard to compress as photographs
(upscaled CIFAR alone is unrealistically smooth). This is input for
scripts/bench/scale.sh (throughput, memory and disk), not a training dataset.

    OUT/train/cNNNN/iNNNNNN.jpg   OUT/test/cNNNN/iNNNNNN.jpg

Deterministic (same Pillow, libjpeg and numpy give the same bytes). Written into
OUT.partial/ and renamed to OUT when complete (OUT/DONE records the settings); an
OUT with the same settings is left alone, any other OUT is refused.
"""
import argparse
import multiprocessing
import os
import shutil
import sys
import time

import numpy as np
from PIL import Image

RECORD = 1 + 3 * 32 * 32
CHUNK = 2_000


def cifar(src, files):
    data = np.concatenate([np.fromfile(os.path.join(src, f), dtype=np.uint8) for f in files])
    return data.reshape(-1, RECORD)[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # N, H, W, C


RECORDS = {}


def load(src):
    """Pool initialiser: each process reads CIFAR-10 once."""
    RECORDS["train"] = cifar(src, [f"data_batch_{i}.bin" for i in range(1, 6)])
    RECORDS["test"] = cifar(src, ["test_batch.bin"])


def make(task):
    split, split_dir, first, count, classes, side, seed_base = task
    records = RECORDS[split]
    n = len(records)
    for i in range(first, first + count):
        pixels = records[i % n]
        variant = (i // n) % 4
        if variant & 1:
            pixels = pixels[:, ::-1, :]
        if variant & 2:
            pixels = pixels[:, :, [1, 2, 0]]
        im = Image.fromarray(np.ascontiguousarray(pixels), "RGB").resize((side, side), Image.BICUBIC)
        grain = np.random.Generator(np.random.PCG64(seed_base + i)).normal(0, 4, (side, side, 3))
        out = np.clip(np.asarray(im, dtype=np.float64) + grain, 0, 255).round().astype(np.uint8)
        path = os.path.join(split_dir, f"c{i % classes:04d}", f"i{i:06d}.jpg")
        Image.fromarray(out, "RGB").save(path, "JPEG", quality=90)
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="CIFAR-10 binary folder")
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=200_000)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--side", type=int, default=128)
    ap.add_argument("--processes", type=int, default=2)
    a = ap.parse_args()
    if min(a.train, a.test, a.classes, a.side, a.processes) < 1:
        ap.error("every count must be positive")
    out = os.path.abspath(a.out)
    settings = f"scale train={a.train} test={a.test} classes={a.classes} side={a.side}\n"
    done = os.path.join(out, "DONE")
    if os.path.exists(done):
        with open(done) as f:
            if f.read() == settings:
                print(f"{out}: complete, nothing to do")
                return 0
        sys.exit(f"error: {out} was made with other settings; remove it first")
    if os.path.exists(out):
        sys.exit(f"error: {out} exists but is not complete; remove it first")
    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    tasks = []
    for split, count, seed_base in (("train", a.train, 0), ("test", a.test, 10**9)):
        split_dir = os.path.join(partial, split)
        for c in range(min(a.classes, count)):
            os.makedirs(os.path.join(split_dir, f"c{c:04d}"))
        for first in range(0, count, CHUNK):
            tasks.append((split, split_dir, first, min(CHUNK, count - first), a.classes, a.side, seed_base))
    total = a.train + a.test
    made, start = 0, time.time()
    with multiprocessing.Pool(a.processes, initializer=load, initargs=(a.src,)) as pool:
        for n in pool.imap_unordered(make, tasks):
            made += n
            rate = made / (time.time() - start)
            print(f"{made}/{total} images, {rate:.0f}/s, ETA {(total - made) / rate:.0f} s", flush=True)
    with open(os.path.join(partial, "DONE"), "w") as f:
        f.write(settings)
    os.rename(partial, out)
    print(f"{out}: {a.train} train + {a.test} test images in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
