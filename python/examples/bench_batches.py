"""Throughput of ``Epoch.batches`` in one process: inflate, CRC and label checks,
delta undo and batch assembly, nothing consuming the batches.

    python python/examples/bench_batches.py SHARD_DIR [--epoch 0] [--batch 128] [--seed 0] [--shuffle-window 8] [--repeat 3]

Prints images/s per pass (wall clock) and per CPU second, like ``mixtrain bench-loader``.
"""

import argparse
import time

import mixshards


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("directory")
    p.add_argument("--epoch", type=int, default=0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shuffle-window", type=int, default=8, help="chunks shuffled together (0: mixtrain's order)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    ep = mixshards.open(args.directory).epoch(args.epoch)
    for _ in range(args.repeat):
        wall, cpu, n = time.perf_counter(), time.process_time(), 0
        for images, labels in ep.batches(args.batch, seed=args.seed, shuffle_window=args.shuffle_window):
            n += len(images)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{n} images in {wall:.2f} s: {n / wall:,.0f} images/s ({n / cpu:,.0f} per CPU second)")


if __name__ == "__main__":
    main()
