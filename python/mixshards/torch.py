"""PyTorch: an ``IterableDataset`` of normalised batches for DDP, resumable mid-epoch.

Imported only when torch is installed::

    from mixshards.torch import MixShardDataset, DataLoader
    train = MixShardDataset("shards/cifar10-mixup", batch_size=128, seed=0)
    loader = DataLoader(train, num_workers=2)
    for epoch in range(start, epochs):
        train.set_epoch(epoch)
        for x, y in loader:   # x: float32 N×C×H×W normalised, y: float32 N×K soft labels
            ...
        torch.save({"data": train.state_dict(), ...}, path)   # resumable mid-epoch too

Under ``torch.distributed`` each rank reads its own contiguous part of the
epoch (see :meth:`mixshards.Epoch.batches`) and, by default (``even=True``),
every rank yields the same number of batches, as DDP requires.

For many classes (MixShard v3 shards store labels sparse), ``sparse_labels=True``
yields ``y = (classes, weights)``, int64 and float32 ``N×2``, instead of ``N×K`` rows,
with the epoch's label smoothing in ``train.smoothing``; :func:`sparse_cross_entropy`
is the soft-target loss on them::

    train = MixShardDataset("shards/imagenet21k", sparse_labels=True)
    for x, (classes, weights) in DataLoader(train):
        loss = sparse_cross_entropy(model(x), classes, weights, train.smoothing)
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import torch
import torch.distributed as dist
import torch.utils.data as tud

from .dataset import Dataset, Epoch
from .normalize import Normalizer
from .partition import rank_batch_range, round_robin_skips, split_range
from .rng import initial_parameters

__all__ = ["MixShardDataset", "DataLoader", "init_like_mixtrain", "sparse_cross_entropy"]


class MixShardDataset(tud.IterableDataset):
    """Batches ``(images, labels)`` of one epoch (``split="train"``) or of the test split.

    Yields whole batches: use it with ``batch_size=None`` in a DataLoader, or
    with :class:`DataLoader` below, which also records progress for
    :meth:`state_dict` when ``num_workers > 0``.

    - ``batch_size``, ``drop_last``: as in :meth:`mixshards.Epoch.batches`.
    - ``seed``: shuffles chunk order as mixtrain does for (seed, epoch);
      ``None`` reads in file order (the default for the test split).
    - ``mean``, ``std``: per-channel statistics; default: the directory's own (the manifest's
      ``source.channelStats``, as mixtrain; a directory made before mixprep recorded them: the
      CIFAR-10 constants, with a warning). The ones in use are the attributes ``mean`` and ``std``.
    - ``rank``, ``world_size``: default from ``torch.distributed`` when initialised, else 0 and 1.
    - ``even``: cut every rank to the smallest rank's batch count (needed by DDP).
    - ``sparse_labels``: yield labels as ``(classes, weights)`` (``N×2`` each; see
      :class:`mixshards.labels.SparseLabels`) with ε in :attr:`smoothing`, not ``N×K`` rows.
      Needs shards that store them (MixShard v3); others raise a ``ShardError`` at the first pass.
    """

    def __init__(self, directory, split: str = "train", batch_size: int = 128, seed: Optional[int] = 0,
                 drop_last: bool = False, even: bool = True, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, rank: Optional[int] = None,
                 world_size: Optional[int] = None, cache_chunks: int = 4, sparse_labels: bool = False):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' (got {split!r})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1 (got {batch_size})")
        self.directory = str(directory)
        self.split = split
        self.batch_size = batch_size
        self.seed = seed if split == "train" else None
        self.drop_last = drop_last
        self.even = even
        self._rank, self._world = rank, world_size
        self._cache_chunks = cache_chunks
        self.sparse_labels = sparse_labels
        self._ds: Optional[Dataset] = None
        if mean is None or std is None:
            mean, std = self._dataset().statistics
        self.normalizer = Normalizer(mean, std)
        #: The per-channel figures the images are normalised with.
        self.mean, self.std = self.normalizer.mean, self.normalizer.std
        self.epoch = 0
        self._start = 0      # batches to skip on the next pass (resume)
        self._consumed = 0   # batches delivered in this epoch

    # Each process (DataLoader worker) opens the directory itself.
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ds"] = None
        return state

    def _dataset(self) -> Dataset:
        if self._ds is None:
            self._ds = Dataset(self.directory, cache_chunks=self._cache_chunks)
        return self._ds

    def _epoch(self) -> Epoch:
        d = self._dataset()
        return d.test if self.split == "test" else d.epoch(self.epoch)

    @property
    def smoothing(self) -> float:
        """The label smoothing ε of the current epoch's sparse labels (0 for the test split)."""
        return self._epoch().smoothing

    def rank_and_world_size(self) -> tuple[int, int]:
        if self._world is not None:
            return (self._rank or 0), self._world
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def set_epoch(self, epoch: int) -> None:
        """Selects training epoch ``epoch`` (keys the shuffle; cycles past the
        materialised epochs) and starts it from its first batch."""
        self.epoch = int(epoch)
        self._start = self._consumed = 0

    def state_dict(self) -> dict:
        """``{"epoch", "batches"}``: the epoch and the batches this rank has consumed of it."""
        return {"epoch": self.epoch, "batches": self._consumed}

    def load_state_dict(self, state: dict) -> None:
        """Resumes: the next pass starts after ``state["batches"]`` batches of ``state["epoch"]``."""
        self.epoch = int(state["epoch"])
        self._start = self._consumed = int(state["batches"])

    def _rank_batches(self, ep: Epoch) -> range:
        rank, world = self.rank_and_world_size()
        r = rank_batch_range(len(ep), self.batch_size, rank, world, self.drop_last)
        if self.even:
            r = range(r.start, r.start + min(ep.batch_counts(self.batch_size, world, self.drop_last)))
        return r

    def __len__(self) -> int:
        """Batches this rank yields in a whole pass."""
        return len(self._rank_batches(self._epoch()))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ep = self._epoch()
        mine = self._rank_batches(ep)
        start = self._start
        info = tud.get_worker_info()
        if info is None:
            workers, worker = 1, 0
            self._start, self._consumed = 0, start   # the resume point applies to this pass only
        else:
            workers, worker = info.num_workers, info.id
        # Workers take contiguous runs of this rank's batches; the DataLoader
        # delivers them round-robin, so a resume skips each worker's share.
        counts = [len(split_range(len(mine), w, workers)) for w in range(workers)]
        part = split_range(len(mine), worker, workers)
        first = mine.start + part.start + round_robin_skips(counts, start)[worker]
        return self._generate(ep, first, mine.start + part.stop, counting=info is None)

    def _generate(self, ep: Epoch, first: int, stop: int, counting: bool):
        for images, labels in ep.batch_range(first, stop, self.batch_size, self.seed, sparse=self.sparse_labels):
            x = torch.from_numpy(self.normalizer(images))
            if self.sparse_labels:
                y = (torch.from_numpy(labels.classes.copy()), torch.from_numpy(labels.weights.copy()))
            else:
                y = torch.from_numpy(labels)
            if counting:
                self._consumed += 1
            yield x, y


class DataLoader(tud.DataLoader):
    """A ``torch.utils.data.DataLoader`` for :class:`MixShardDataset` (``batch_size=None``)
    that records the batches delivered, so ``dataset.state_dict()`` is right with
    worker processes too. Persistent workers are refused: they would keep a stale
    epoch and resume point."""

    def __init__(self, dataset: MixShardDataset, num_workers: int = 0, **kwargs):
        if kwargs.get("persistent_workers"):
            raise ValueError("persistent_workers would keep a stale epoch; MixShardDataset needs fresh workers")
        super().__init__(dataset, batch_size=None, num_workers=num_workers, **kwargs)

    def __iter__(self):
        it = super().__iter__()
        ds = self.dataset
        if self.num_workers == 0:
            return it  # the dataset counts in this process
        ds._consumed, ds._start = ds._start, 0   # workers took their copy of the resume point
        return self._counting(it, ds)

    @staticmethod
    def _counting(it, ds: MixShardDataset):
        for batch in it:
            ds._consumed += 1
            yield batch


def sparse_cross_entropy(logits: torch.Tensor, classes: torch.Tensor, weights: torch.Tensor, smoothing: float) -> torch.Tensor:
    """The soft-target cross-entropy ``−Σ_c y_c·log_softmax(z)_c`` (mean over the batch) of sparse
    labels, without building the ``N×K`` targets: with ``y = (1 − ε)·scatter(weights at classes)
    + ε/K``, it is ``−(1 − ε)·Σ_t weights[:, t]·log p[classes[:, t]] − ε·mean_c(log p)``. Equals
    the loss on the dense rows to float rounding (they are rounded to float32 operation by
    operation; this is computed in the logits' precision)."""
    logp = torch.log_softmax(logits, dim=1)
    picked = logp.gather(1, classes.to(logits.device))
    loss = -(1 - smoothing) * (weights.to(logp.dtype).to(logits.device) * picked).sum(1)
    if smoothing > 0:
        loss = loss - smoothing * logp.mean(1)
    return loss.mean()


@torch.no_grad()
def init_like_mixtrain(model: torch.nn.Module, seed: int) -> None:
    """Overwrites ``model``'s parameters with the ones ``mixtrain train --seed SEED`` starts from,
    bit for bit, so that a PyTorch run and a mixtrain run of the same network start from the same
    point (DESIGN.md, "The contract with PyTorch").

    The distribution is PyTorch's default for ``Conv2d`` and ``Linear`` (U(±1/√fan_in) for
    weights and biases), only the generator differs. Every parameter must be the ``weight`` or
    ``bias`` of such a layer, in the order mixtrain's network has them (the seed CNN's
    ``model.parameters()`` order)."""
    modules = dict(model.named_modules())
    tensors, params = [], []
    for name, p in model.named_parameters():
        owner_name, _, kind = name.rpartition(".")
        owner = modules.get(owner_name)
        if not isinstance(owner, (torch.nn.Conv2d, torch.nn.Linear)) or kind not in ("weight", "bias"):
            raise ValueError(f"init_like_mixtrain: {name} is not the weight or bias of a Conv2d or Linear layer")
        tensors.append((tuple(p.shape), owner.weight[0].numel()))
        params.append(p)
    for p, value in zip(params, initial_parameters(seed, tensors)):
        p.copy_(torch.from_numpy(value))
