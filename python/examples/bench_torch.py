"""Issue 19's throughput figures, in one session on one shard directory (full CIFAR-10:
``mixprep run pipelines/cifar10-mixup.toml --epochs 3 --out DIR``):

    python python/examples/bench_torch.py DIR [--workers 0 2] [--repeat 3] [--http] [--only loader,random,http]

- **loader**: ``mixshards.torch.DataLoader(MixShardDataset(DIR, dtype="uint8"), num_workers=W)`` against
  ``torch.utils.data.DataLoader(TensorDataset(uint8 images, labels), batch_size=B, shuffle=True,
  num_workers=W)`` holding the same epoch in memory (the target: ≥ 0.5×); persistent workers for both.
- **random**: ``MixShardMapDataset`` read through a DataLoader with ``shuffle=True`` (random positions),
  after one pass has filled the chunk cache (one epoch's chunks; the target: ≥ 20,000 samples/s).
- **http** (with ``--http``, needs nginx): the directory served by nginx on loopback, read through the
  cache, first pass (downloads) and later passes against the local directory (the target: ≥ 0.8×).

Each figure is the best of ``--repeat`` passes over epoch 0, wall clock, and per CPU second of this
process (workers' CPU is not counted there). The machine should be quiet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
import torch.utils.data as tud

import mixshards
from mixshards.torch import DataLoader, MixShardDataset, MixShardMapDataset


def timed(loader, repeat: int) -> tuple[float, float, int]:
    """Best samples/s (wall) over ``repeat`` passes, and the samples/CPU-second of that pass."""
    best = (0.0, 0.0, 0)
    for _ in range(repeat):
        wall, cpu, n = time.perf_counter(), time.process_time(), 0
        for x, _ in loader:
            n += len(x)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if n / wall > best[0]:
            best = (n / wall, n / max(cpu, 1e-9), n)
    return best


def line(name: str, r: tuple[float, float, int]) -> str:
    return f"  {name:44s} {r[0]:>10,.0f} samples/s  {r[1]:>10,.0f} per CPU s  ({r[2]:,} samples)"


def loader_figures(directory: str, workers: list[int], batch: int, repeat: int) -> list[str]:
    out = ["loader: uint8 batches of one epoch, seed 0"]
    ep = mixshards.open(directory).epoch(0)
    images = torch.from_numpy(np.concatenate([x for x, _ in ep.batches(4096, shuffle_window=0)]))
    labels = torch.from_numpy(np.concatenate([y for _, y in ep.batches(4096, shuffle_window=0)]))
    memory = tud.TensorDataset(images, labels)
    for w in workers:
        extra = dict(persistent_workers=True) if w else {}
        ds = MixShardDataset(directory, batch_size=batch, dtype="uint8", seed=0)
        ours = timed(DataLoader(ds, num_workers=w, **extra), repeat + 1)
        theirs = timed(tud.DataLoader(memory, batch_size=batch, shuffle=True, num_workers=w, **extra), repeat + 1)
        out.append(line(f"mixshards.torch.DataLoader, {w} workers", ours))
        out.append(line(f"TensorDataset in memory, {w} workers", theirs))
        out.append(f"  ratio at {w} workers: {ours[0] / theirs[0]:.2f} (wall), {ours[1] / theirs[1]:.2f} (CPU of this "
                   "process)")
    return out


def random_figures(directory: str, batch: int, repeat: int) -> list[str]:
    ds = MixShardMapDataset(directory, dtype="uint8")
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(0))
    first = timed(loader, 1)
    warm = timed(loader, repeat)
    cache = ds.cache
    return ["random access: MixShardMapDataset, shuffled positions, DataLoader with 0 workers",
            line("first pass (fills the cache)", first), line("cache warm", warm),
            f"  cache: {len(cache)} chunks, {cache.bytes / 2**20:,.0f} MiB"]


def http_figures(directory: str, batch: int, repeat: int) -> list[str]:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from tests.servers import Nginx  # the test suite's loopback nginx
    import pathlib
    server = Nginx(pathlib.Path(directory).resolve())
    cache = tempfile.mkdtemp(prefix="mixshards-bench-cache-")
    try:
        remote = MixShardDataset(server.url, batch_size=batch, dtype="uint8", seed=0, cache=cache)
        local = MixShardDataset(directory, batch_size=batch, dtype="uint8", seed=0)
        cold = timed(DataLoader(remote), 1)
        warm = timed(DataLoader(remote), repeat)
        here = timed(DataLoader(local), repeat + 1)
        return [f"http: {server.url} (nginx on loopback) through a cache in {cache}",
                line("first pass (downloads, verifies)", cold), line("later passes", warm),
                line("local directory", here), f"  ratio after the first epoch: {warm[0] / here[0]:.2f}"]
    finally:
        server.stop()
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("directory")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--http", action="store_true", help="also serve the directory with nginx and read it over HTTP")
    p.add_argument("--only", default="loader,random,http")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    parts = args.only.split(",")
    print(f"{args.directory}: torch {torch.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    if "loader" in parts:
        print("\n".join(loader_figures(args.directory, args.workers, args.batch, args.repeat)), flush=True)
    if "random" in parts:
        print("\n".join(random_figures(args.directory, args.batch, args.repeat)), flush=True)
    if "http" in parts and args.http:
        print("\n".join(http_figures(args.directory, args.batch, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
