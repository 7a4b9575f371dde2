"""The reading order of an epoch: mixtrain's chunk order, then (Python readers)
a seeded shuffle of the samples within windows of consecutive chunks.

With a seed, an epoch's chunks are visited in mixtrain's order (a Fisher–Yates
shuffle keyed by (seed, stream 4, epoch, position 0): :func:`mixshards.rng.chunk_order`).
Those chunks, in that order, are cut into windows of ``shuffle_window``
consecutive chunks (the last may hold fewer), and the samples of window j,
taken chunk by chunk in that order, are permuted by the stable argsort of
``uniform_doubles(seed, stream 4, epoch, position 1 + j, n_j)`` — 53-bit
draws of the Philox stream mixtrain's chunk order uses, at positions it does
not. ``shuffle_window = 0`` keeps the samples of each chunk in file order:
exactly mixtrain's batches. Without a seed (``None``) the epoch is read in
file order.

The *global order* of an epoch is the list of its positions in that reading
order; index g of it is "global index g". Everything downstream (batches,
ranks, DataLoader workers, resume) is defined on global indices, so it does
not depend on how many processes read the epoch.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

import numpy as np

from .rng import STREAM_SHUFFLE, chunk_order, uniform_doubles

#: Chunks per shuffle window unless told otherwise: 2,048 samples with CIFAR's chunks of 256.
DEFAULT_SHUFFLE_WINDOW = 8


def check_shuffle_window(shuffle_window) -> int:
    """``shuffle_window`` as an int ≥ 0, or a ``ValueError``."""
    if isinstance(shuffle_window, bool) or not isinstance(shuffle_window, (int, np.integer)) or shuffle_window < 0:
        raise ValueError(f"shuffle_window must be a whole number of chunks ≥ 0, 0 for mixtrain's order "
                         f"(got {shuffle_window!r})")
    return int(shuffle_window)


class EpochOrder:
    """An epoch's global order, computed a window at a time.

    ``chunk_sizes`` are the epoch's chunks in file order (shard by shard, then
    chunk by chunk); chunk ``c`` holds the positions ``first[c] …``.
    """

    def __init__(self, chunk_sizes: Sequence[int], seed: Optional[int], epoch: int,
                 shuffle_window: int = DEFAULT_SHUFFLE_WINDOW):
        self.seed = None if seed is None else int(seed)
        self.epoch = int(epoch)
        self.shuffle_window = check_shuffle_window(shuffle_window)
        sizes = np.asarray(chunk_sizes, np.int64)
        #: Samples per chunk, file order.
        self.sizes = sizes
        #: Position of each chunk's first sample, file order.
        self.first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if len(sizes) else sizes
        #: Chunk ids (file order numbers) in reading order.
        self.chunks = np.asarray(chunk_order(len(sizes), self.seed, self.epoch) if self.seed is not None
                                 else range(len(sizes)), np.int64)
        #: Whether samples are permuted within windows (a seed and a window ≥ 1).
        self.shuffled = self.seed is not None and self.shuffle_window > 0
        group = self.shuffle_window if self.shuffled else 1
        #: Reading-order slots ``[w_start[j], w_start[j+1])`` of :attr:`chunks` form window j.
        self._group = group
        n_windows = -(-len(sizes) // group)
        ordered = sizes[self.chunks] if len(sizes) else sizes
        per_window = np.add.reduceat(ordered, np.arange(0, len(sizes), group)) if len(sizes) else np.zeros(0, np.int64)
        #: Global index of each window's first sample; ``starts[-1]`` is the epoch's length.
        self.starts = np.concatenate([[0], np.cumsum(per_window)]).astype(np.int64)
        self.windows = n_windows
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return int(self.starts[-1])

    def window_chunks(self, j: int) -> np.ndarray:
        """Window ``j``'s chunk ids, in reading order."""
        return self.chunks[j * self._group:(j + 1) * self._group]

    def window_of(self, g: int) -> int:
        """The window holding global index ``g``."""
        return int(np.searchsorted(self.starts, g, side="right")) - 1

    def permutation(self, j: int) -> Optional[np.ndarray]:
        """Window ``j``'s sample permutation (int64; entry t is the window-local index, in the
        window's chunks concatenated in reading order, of the sample at window slot t), or
        ``None`` when the epoch is not shuffled."""
        if not self.shuffled:
            return None
        p = self._cache.get(j)
        if p is None:
            n = int(self.starts[j + 1] - self.starts[j])
            keys = uniform_doubles(self.seed, STREAM_SHUFFLE, self.epoch, 1 + j, n)
            p = np.argsort(keys, kind="stable").astype(np.int64)
            self._cache[j] = p
            if len(self._cache) > 4:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(j)
        return p

    def positions(self, a: int, b: int) -> np.ndarray:
        """The epoch positions at global indices ``[a, b)`` (int64)."""
        out = []
        g = a
        while g < b:
            j = self.window_of(g)
            stop = min(b, int(self.starts[j + 1]))
            local = np.arange(g - self.starts[j], stop - self.starts[j], dtype=np.int64)
            p = self.permutation(j)
            if p is not None:
                local = p[local]
            chunks = self.window_chunks(j)
            bounds = np.concatenate([[0], np.cumsum(self.sizes[chunks])])
            which = np.searchsorted(bounds, local, side="right") - 1
            out.append(self.first[chunks[which]] + local - bounds[which])
            g = stop
        return np.concatenate(out) if out else np.zeros(0, np.int64)
