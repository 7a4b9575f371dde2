"""Random access to an epoch's samples by position, for map-style datasets
(samplers, ``Subset``, ``DistributedSampler``): inflated chunks are kept in a
cache limited in bytes, so that reading samples in any order inflates each
chunk once while the cache holds it.

A chunk of CIFAR-10 (256 samples) takes 0.8 MB inflated; one epoch of
CIFAR-10, 157 MB; the default limit (:data:`DEFAULT_CACHE_BYTES`) holds it.
Each process (every DataLoader worker) has its own cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Optional

import numpy as np

from .dataset import Dataset, Epoch
from .shard import Chunk, ShardFile

#: Default limit of a :class:`ByteCache`: 1 GiB of inflated chunks per process.
DEFAULT_CACHE_BYTES = 1 << 30


def chunk_bytes(c: Chunk, dense: bool = True) -> int:
    """Memory a chunk holds (images, labels, provenance): a v3 chunk's sparse records, and its
    dense rows when they are expanded or will be (``dense``: the reader reads them)."""
    n, k = len(c.images), 0
    if c.sparse is None or dense:
        k = n * (c.labels.shape[1] if c.sparse is None else c.sparse.class_count) * 4
    if c.sparse is not None:
        k += c.sparse.classes.nbytes + c.sparse.weights.nbytes
    return int(c.images.nbytes + k + (c.provenance.nbytes if c.provenance is not None else 0))


class ByteCache:
    """An LRU cache of inflated chunks holding at most ``limit`` bytes (a chunk larger than
    the limit is read and not kept). Same interface as the dataset's chunk cache: ``get(shard, i)``."""

    def __init__(self, limit: int = DEFAULT_CACHE_BYTES):
        if limit < 0:
            raise ValueError(f"cache_bytes must be ≥ 0 (got {limit})")
        self.limit = int(limit)
        self.bytes = 0
        self.hits = self.misses = 0
        self._items: OrderedDict[tuple[str, int], tuple[Chunk, int]] = OrderedDict()  # chunk, bytes counted
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, shard: ShardFile, i: int, dense: bool = True) -> Chunk:
        """Chunk ``i`` of ``shard``, from the cache or read and kept (``dense``: whether the caller
        reads its dense label rows, which a v3 chunk expands on first use: then they are counted)."""
        key = (shard.path, i)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item[0]
            self.misses += 1
        c = shard.read_chunk(i)
        size = chunk_bytes(c, dense)
        if size <= self.limit:
            with self._lock:
                if key not in self._items:
                    self._items[key] = (c, size)
                    self.bytes += size
                while self.bytes > self.limit:
                    _, (_, old) = self._items.popitem(last=False)
                    self.bytes -= old
        return c

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


class RandomAccess:
    """The samples of one epoch (or the test split) of a dataset by position, through a
    :class:`ByteCache`. ``set_epoch`` selects another training epoch (the cache keeps
    chunks of epochs that share shards: epochs past the materialised ones reuse them)."""

    def __init__(self, dataset: Dataset, split: str = "train", epoch: int = 0,
                 cache_bytes: Optional[int] = None, warn: bool = True):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' (got {split!r})")
        self.dataset, self.split = dataset, split
        self.cache = ByteCache(DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes)
        self._warn = warn
        self.epoch_number = -1
        self._epoch: Optional[Epoch] = None
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        if self.split == "test":
            epoch = 0
        if epoch == self.epoch_number and self._epoch is not None:
            return
        self.epoch_number = int(epoch)
        self._epoch = self.dataset.test if self.split == "test" else self.dataset.epoch(epoch, warn=self._warn)

    @property
    def epoch(self) -> Epoch:
        return self._epoch

    def __len__(self) -> int:
        return len(self._epoch)

    def take(self, positions, sparse: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(uint8 n×C×H×W, float32 n×K)`` of the samples at ``positions``; with ``sparse``, the
        labels' sparse records packed ``n × 4`` (:meth:`mixshards.labels.SparseLabels.packed`)."""
        return self._epoch.take(positions, self.cache, sparse=sparse, packed=sparse)
