"""The zlib-rle bound of mixprep (issue 21 item 3): how fast zlib alone deflates the very chunk
payloads a shard directory holds, with mixprep's settings (level 1, strategy Z_RLE, window 15,
memLevel 8), on one core. Twice its images/s is what mixprep at 2 threads could reach if it did
nothing but deflate; mixprep's own images/s divided by that is "the fraction of the bound".

    python3 scripts/bench/zlib_bound.py SHARD_DIR [--repeat 3] [--cores 2]

Reads every shard (train epochs and test split), inflates each chunk (the payload deflate saw:
filtered images, labels, provenance), then times compressing them all again; prints the best
of --repeat passes.
"""

import argparse
import glob
import os
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from mixshards.shard import ShardFile  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("directory")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args()
    paths = sorted(glob.glob(os.path.join(args.directory, "train", "*", "*.mxs"))
                   + glob.glob(os.path.join(args.directory, "test", "*.mxs")))
    if not paths:
        p.error(f"{args.directory}: no .mxs shards under train/ or test/")
    payloads, images, stored = [], 0, 0
    for path in paths:
        f = ShardFile(path)
        if f.header.codec != "zlib":
            p.error(f"{path}: codec {f.header.codec}, not zlib")
        data = f.bytes
        for e in f.index:
            off, n = int(e["offset"]), int(e["stored"])
            payloads.append(zlib.decompress(data[off:off + n]))
            stored += n
        images += f.sample_count
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        for raw in payloads:
            c = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
            c.compress(raw)
            c.flush()
        best = min(best, time.perf_counter() - t)
    raw_bytes = sum(len(x) for x in payloads)
    rate = images / best
    print(f"{len(paths)} shards, {len(payloads)} chunks, {images} images, {raw_bytes} raw bytes → {stored} stored")
    print(f"zlib level 1 Z_RLE, one core: {rate:,.0f} images/s (best of {args.repeat}: {best:.3f} s); "
          f"bound at {args.cores} cores: {args.cores * rate:,.0f} images/s")


if __name__ == "__main__":
    main()
