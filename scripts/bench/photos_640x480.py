#!/usr/bin/env python3
"""Makes a folder of photo-sized JPEGs for mixprep's memory benchmark.

    python3 scripts/bench/photos_640x480.py CIFAR_DIR OUT [--count 2200]

Takes the first COUNT training images of the official CIFAR-10 binary folder
CIFAR_DIR (records of 1 label byte + 3,072 planar RGB bytes), upscales each to
640x480 with Pillow's BICUBIC and writes OUT/train/<class>/NNNNN.jpg (quality 90)
and, for the first COUNT/10 test images, OUT/test/<class>/NNNNN.jpg. The 2,420
images of COUNT = 2200 are 2.1 GiB decoded (640 x 480 x 3 bytes each), 60 MB as JPEG.
A benchmark fixture maker (Pillow is not a dependency of mixshards); deterministic,
and it does nothing when OUT/.complete exists.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image


def records(path):
    data = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return data[:, 0], data[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cifar")
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=2200)
    a = ap.parse_args()
    if os.path.exists(os.path.join(a.out, ".complete")):
        print(f"{a.out}: complete, kept")
        return 0
    names = [n.strip() for n in open(os.path.join(a.cifar, "batches.meta.txt")) if n.strip()]
    for split, file, count in [("train", "data_batch_1.bin", a.count), ("test", "test_batch.bin", max(1, a.count // 10))]:
        labels, images = records(os.path.join(a.cifar, file))
        for i in range(count):
            folder = os.path.join(a.out, split, names[labels[i]])
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(images[i]).resize((640, 480), Image.BICUBIC).save(
                os.path.join(folder, f"{i:05d}.jpg"), quality=90)
    open(os.path.join(a.out, ".complete"), "w").close()
    print(f"{a.out}: {a.count} train and {max(1, a.count // 10)} test JPEGs of 640x480")
    return 0


if __name__ == "__main__":
    sys.exit(main())
