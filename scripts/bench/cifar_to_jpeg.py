#!/usr/bin/env python3
"""Turns the official CIFAR-10 binary folder into JPEG class folders.

    python3 scripts/bench/cifar_to_jpeg.py SRC OUT [--side 96] [--quality 90] [--processes 2]

SRC holds data_batch_1..5.bin, test_batch.bin and batches.meta.txt (class names,
one a line). Each record is 1 label byte + 3072 bytes of planar RGB 32x32
(1024 R, 1024 G, 1024 B). Writes

    OUT/train/<class>/<NNNNN>.jpg   50,000 images, NNNNN = record index in the split
    OUT/test/<class>/<NNNNN>.jpg    10,000 images

each upscaled 32 -> side with Pillow's BICUBIC and saved as JPEG at --quality
(Pillow's other defaults: 4:2:0 chroma subsampling, no optimisation). This is
benchmark input for scripts/bench-image-folders.sh, not a training dataset.

Deterministic (same Pillow/libjpeg => same bytes) and idempotent: the images are
written into OUT.partial/, the marker OUT.partial/.complete (which records the
settings) is written last and the folder is then renamed to OUT. When OUT already
has a marker with the same settings nothing is done; a marker with other settings,
or an OUT without a marker, is refused rather than overwritten.
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
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILES = ["test_batch.bin"]
PER_FILE = 10_000
CHUNK = 1_000  # records per task


def convert(task):
    """Converts records [start, start+count) of one batch file; returns the count."""
    src_file, split_dir, first_index, start, count, classes, side, quality = task
    data = np.fromfile(src_file, dtype=np.uint8, count=count * RECORD, offset=start * RECORD)
    records = data.reshape(count, RECORD)
    for r in range(count):
        label = int(records[r, 0])
        pixels = records[r, 1:].reshape(3, 32, 32).transpose(1, 2, 0)  # planar -> HWC
        im = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
        if side != 32:
            im = im.resize((side, side), Image.BICUBIC)
        path = os.path.join(split_dir, classes[label], f"{first_index + start + r:05d}.jpg")
        im.save(path, "JPEG", quality=quality)
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="CIFAR-10 binary folder (cifar-10-batches-bin)")
    ap.add_argument("out", help="output folder (gets train/ and test/)")
    ap.add_argument("--side", type=int, default=96, help="output side in pixels (default 96)")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    ap.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    a = ap.parse_args()
    if a.side < 1 or not 1 <= a.quality <= 100 or a.processes < 1:
        ap.error("--side and --processes must be positive, --quality in 1..100")

    out = os.path.abspath(a.out)
    marker_text = f"cifar10 jpeg side={a.side} quality={a.quality} pillow={Image.__version__}\n"
    marker = os.path.join(out, ".complete")
    if os.path.exists(marker):
        with open(marker) as f:
            have = f.read()
        # The Pillow version is informational; side and quality must match.
        if have.split(" pillow=")[0] == marker_text.split(" pillow=")[0]:
            print(f"{out}: complete ({have.strip()}), nothing to do")
            return 0
        sys.exit(f"error: {out} was made with other settings ({have.strip()}); remove it first")
    if os.path.exists(out):
        sys.exit(f"error: {out} exists but has no .complete marker; remove it first")

    with open(os.path.join(a.src, "batches.meta.txt")) as f:
        classes = [line.strip() for line in f if line.strip()]
    if len(classes) != 10:
        sys.exit(f"error: {a.src}/batches.meta.txt: expected 10 class names, found {len(classes)}")
    for name in TRAIN_FILES + TEST_FILES:
        path = os.path.join(a.src, name)
        if not os.path.isfile(path) or os.path.getsize(path) != PER_FILE * RECORD:
            sys.exit(f"error: {path}: missing or not {PER_FILE * RECORD} bytes")

    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run
    tasks = []
    for split, files in (("train", TRAIN_FILES), ("test", TEST_FILES)):
        split_dir = os.path.join(partial, split)
        for c in classes:
            os.makedirs(os.path.join(split_dir, c))
        for k, name in enumerate(files):
            for start in range(0, PER_FILE, CHUNK):
                tasks.append((os.path.join(a.src, name), split_dir, k * PER_FILE, start, CHUNK,
                              classes, a.side, a.quality))

    t0 = time.perf_counter()
    with multiprocessing.Pool(a.processes) as pool:
        written = sum(pool.imap_unordered(convert, tasks))
    seconds = time.perf_counter() - t0
    with open(os.path.join(partial, ".complete"), "w") as f:
        f.write(marker_text)
    os.rename(partial, out)
    print(f"{out}: {written} JPEGs ({a.side}x{a.side}, quality {a.quality}) in {seconds:.1f} s "
          f"with {a.processes} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
