"""One rank's batches of an epoch, from any batch on, in one process or dealt to
DataLoader workers: the numpy core of ``Epoch.batches`` and of ``mixshards.torch``.

An :class:`EpochPlan` fixes everything the delivered order depends on — the
epoch, ``seed`` and ``shuffle_window`` (the global order, :mod:`mixshards.order`),
``batch_size``, ``rank``, ``world_size``, ``drop_last``, ``even`` (the rank's
part, :class:`mixshards.partition.RankPart`) — and nothing else: the batches
are the same whether one process reads them or several workers each read a
fixed share (:meth:`EpochPlan.worker_slices`) that the main process puts back in order.

Labels move as one float32 array per window or batch: ``n × K`` dense rows, or for a
reader of sparse labels (v3) the records packed ``n × 4``
(:meth:`mixshards.labels.SparseLabels.packed`), turned into :class:`SparseLabels` where
they are delivered.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np

from .labels import SparseLabels
from .order import DEFAULT_SHUFFLE_WINDOW, EpochOrder
from .partition import RankPart

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Epoch


class EpochPlan:
    """Rank ``rank``'s batches of ``epoch`` (a :class:`mixshards.Epoch`)."""

    def __init__(self, epoch: "Epoch", batch_size: int = 128, rank: int = 0, world_size: int = 1,
                 seed: Optional[int] = None, shuffle_window: int = DEFAULT_SHUFFLE_WINDOW, drop_last: bool = False,
                 even=False, excluded=()):
        self.epoch = epoch
        self.order: EpochOrder = epoch.order(seed, shuffle_window)
        self.part = RankPart(len(self.order), batch_size, rank, world_size, drop_last, even, excluded)
        self.batch_size = self.part.batch_size

    @property
    def batches(self) -> int:
        """Batches this rank delivers in the epoch."""
        return self.part.batches

    @property
    def samples(self) -> int:
        return self.part.samples

    def batch_positions(self, k: int) -> np.ndarray:
        """Epoch positions of the samples of batch ``k`` (int64)."""
        pieces = [self.order.positions(g, g + n) for _, g, n in self.part.segments(k * self.batch_size,
                                                                                    (k + 1) * self.batch_size)]
        return np.concatenate(pieces) if pieces else np.zeros(0, np.int64)

    def slices(self, start_batch: int = 0) -> list[tuple[int, int, int]]:
        """The rest of the part from batch ``start_batch`` as ``(part offset, global start, length)``
        slices, each inside one shuffle window (the unit a worker reads)."""
        out = []
        for at, g, n in self.part.segments(start_batch * self.batch_size, self.part.samples):
            while n > 0:
                j = self.order.window_of(g)
                take = min(n, int(self.order.starts[j + 1]) - g)
                out.append((at, g, take))
                at, g, n = at + take, g + take, n - take
        return out

    def worker_slices(self, start_batch: int = 0, worker: int = 0, workers: int = 1
                      ) -> list[tuple[int, int, int, int]]:
        """Worker ``worker`` of ``workers``'s share from batch ``start_batch`` on: slice i (see
        :meth:`slices`) belongs to worker ``i mod workers``, as ``(i, part offset, global start,
        length)``. A DataLoader that takes one item from each worker in turn receives the slices in
        order; together they are the rest of the part exactly once, and each window is read by one
        worker (but those where a resume point or padding cuts it)."""
        return [(i, at, g, n) for i, (at, g, n) in enumerate(self.slices(start_batch)) if i % workers == worker]


class WindowReader:
    """Reads samples at global indices of an epoch: the chunks of a shuffle window are
    read (inflated, checked, references resolved) once and their samples scattered into
    one array in the window's order (one copy), from which batches are slices. At most
    ``keep`` windows are held. Labels are dense rows, or with ``sparse`` packed sparse
    records (the epoch must store them: :meth:`mixshards.Epoch.check_sparse`)."""

    def __init__(self, epoch: "Epoch", order: EpochOrder, keep: int = 2, sparse: bool = False):
        self.epoch, self.order = epoch, order
        self.sparse = bool(sparse)
        self._windows: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._keep = max(1, keep)

    def _window(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Window ``j``'s images and labels, in its order."""
        w = self._windows.get(j)
        if w is not None:
            self._windows.move_to_end(j)
            return w
        from .dataset import chunk_labels
        chunks = [self.epoch.read_chunk(int(c)) for c in self.order.window_chunks(j)]
        perm = self.order.permutation(j)
        if perm is None and len(chunks) == 1:
            w = (chunks[0].images, chunk_labels(chunks[0], self.sparse))
        else:
            n = sum(len(c) for c in chunks)
            images, labels = self.epoch.empty(n, self.sparse)
            if perm is None:
                slot = np.arange(n, dtype=np.int64)
            else:
                slot = np.empty(n, np.int64)
                slot[perm] = np.arange(n, dtype=np.int64)  # where each sample goes: the inverse permutation
            at = 0
            for c in chunks:
                images[slot[at:at + len(c)]] = c.images
                labels[slot[at:at + len(c)]] = chunk_labels(c, self.sparse)
                at += len(c)
            w = (images, labels)
        self._windows[j] = w
        while len(self._windows) > self._keep:
            self._windows.popitem(last=False)
        return w

    def get(self, g: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The samples at global indices ``[g, g + n)``: views of a window's arrays when they lie in
        one window (read-only when the window is a single unshuffled chunk), else new arrays."""
        j = self.order.window_of(g)
        lo = g - int(self.order.starts[j])
        if g + n <= int(self.order.starts[j + 1]):
            images, labels = self._window(j)
            return images[lo:lo + n], labels[lo:lo + n]
        images, labels = self.epoch.empty(n, self.sparse)
        self.fill(g, n, images, labels)
        return images, labels

    def fill(self, g: int, n: int, images: np.ndarray, labels: np.ndarray) -> None:
        """Writes the samples at global indices ``[g, g + n)`` into ``images[:n]`` and ``labels[:n]``."""
        at = 0
        while at < n:
            j = self.order.window_of(g + at)
            lo = g + at - int(self.order.starts[j])
            take = min(n - at, int(self.order.starts[j + 1]) - (g + at))
            win_images, win_labels = self._window(j)
            images[at:at + take] = win_images[lo:lo + take]
            labels[at:at + take] = win_labels[lo:lo + take]
            at += take

    def take(self, g: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The samples at global indices ``[g, g + n)`` as new arrays."""
        images, labels = self.epoch.empty(n, self.sparse)
        self.fill(g, n, images, labels)
        return images, labels


def batches(plan: EpochPlan, start_batch: int = 0, stop_batch: Optional[int] = None,
            reader: Optional[WindowReader] = None, copy: bool = True, sparse: bool = False, packed: bool = False
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The plan's batches ``[start_batch, stop_batch)`` as ``(images uint8 N×C×H×W, labels float32 N×K)``:
    new arrays, or with ``copy=False``, views of the reader's windows where a batch lies in one
    (writable unless the window is a single unshuffled chunk). With ``sparse`` the labels are
    :class:`SparseLabels` (``packed``: their ``n × 4`` packed form); ``reader``, when given,
    must read the same form."""
    reader = reader or WindowReader(plan.epoch, plan.order, sparse=sparse)
    stop = plan.batches if stop_batch is None else min(stop_batch, plan.batches)
    smoothing = plan.epoch.smoothing if sparse and not packed else 0.0

    def out(images, labels):
        if sparse and not packed:
            return images, SparseLabels.unpack(labels, smoothing, plan.epoch.class_count)
        return images, labels
    for k in range(start_batch, stop):
        n = plan.part.batch_size_of(k)
        segments = plan.part.segments(k * plan.batch_size, k * plan.batch_size + n)
        if len(segments) == 1:
            images, labels = reader.get(segments[0][1], n)
            if copy or not images.flags.writeable:
                images, labels = images.copy(), labels.copy()
            yield out(images, labels)
            continue
        images, labels = plan.epoch.empty(n, sparse)
        fill = 0
        for _, g, m in segments:
            reader.fill(g, m, images[fill:], labels[fill:])
            fill += m
        yield out(images, labels)


def strided_batches(plan: EpochPlan, start_batch: int, worker: int, workers: int,
                    reader: Optional[WindowReader] = None, sparse: bool = False, packed: bool = False
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches ``start_batch + worker``, ``+ workers``, … of the plan: what a worker yields when
    a DataLoader takes one batch from each worker in turn and puts nothing back in order."""
    reader = reader or WindowReader(plan.epoch, plan.order, sparse=sparse)
    for k in range(start_batch + worker, plan.batches, workers):
        yield from batches(plan, k, k + 1, reader, sparse=sparse, packed=packed)
