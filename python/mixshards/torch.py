"""PyTorch: batches of a shard directory for training (an ``IterableDataset``
with exact mid-epoch resume under DDP) and samples by index (a map-style
``Dataset`` for samplers), with the output a network wants.

Imported only when torch is installed::

    from mixshards.torch import MixShardDataset, DataLoader
    train = MixShardDataset("shards/cifar10-mixup", seed=0)        # batch size: the pipeline's
    loader = DataLoader(train, num_workers=2, device="cuda")         # uint8 leaves the workers
    if resuming:
        train.load_state_dict(checkpoint["data"])
    for epoch in range(train.epoch, epochs):
        train.set_epoch(epoch)                # keeps a loaded mid-epoch position
        for x, y in loader:                   # x: float32 N×C×H×W normalised, y: float32 N×K
            ...
            checkpoint = {"data": train.state_dict(), ...}   # at any batch

The delivered order is a function of (directory, seed, shuffle window, epoch,
batch size, rank, world size, drop_last, even) alone — not of the number of
DataLoader workers: :class:`DataLoader` gives each worker a fixed share of the
epoch (whole shuffle windows, :meth:`mixshards.stream.EpochPlan.worker_slices`)
and cuts them into batches in order, so a run resumed with any worker count delivers
exactly the remaining samples in the same order.

Images are normalised with the directory's own per-channel figures (the manifest's
``source.channelStats``, as mixtrain; :attr:`MixShardDataset.mean` and ``.std``), also
when the conversion runs on the device.

For many classes (MixShard v3 shards store labels sparse), ``sparse_labels=True``
yields ``y = (classes, weights)``, int64 and float32 ``N×2``, instead of ``N×K`` rows,
with the epoch's label smoothing in ``train.smoothing``; :func:`sparse_cross_entropy`
is the soft-target loss on them::

    train = MixShardDataset("shards/imagenet21k", sparse_labels=True)
    for x, (classes, weights) in DataLoader(train, num_workers=2):
        loss = sparse_cross_entropy(model(x), classes, weights, train.smoothing)
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.utils.data as tud

from .dataset import Dataset, Epoch, cycle_warning
from .labels import PACKED_COLUMNS
from .mapstyle import RandomAccess
from .order import DEFAULT_SHUFFLE_WINDOW, check_shuffle_window
from .output import Converter, OutputSpec, make_spec
from .partition import even_mode, merge
from .rng import initial_parameters
from .stream import EpochPlan, WindowReader, batches as plan_batches, strided_batches

__all__ = ["MixShardDataset", "MixShardMapDataset", "DataLoader", "collate", "to_input", "SampleBatch",
           "init_like_mixtrain", "sparse_cross_entropy", "STATE_FORMAT"]

#: ``state_dict()["format"]``.
STATE_FORMAT = "mixshards.torch.MixShardDataset/1"
_TORCH_DTYPES = {"uint8": torch.uint8, "float32": torch.float32, "float16": torch.float16,
                 "bfloat16": torch.bfloat16}
# Slots of the shared state tensor (seen by DataLoader workers, persistent ones included).
_EPOCH, _START, _GENERATION, _UNTRACKED, _RANK, _WORLD = range(6)


def _open(directory, cache_chunks: int, cache, cache_limit, manifest_sha256: Optional[str] = None,
          source_cache_bytes: Optional[int] = None) -> Dataset:
    """Opens the directory in this process; a remote one from the cached manifest when it is the
    one the main process opened (a DataLoader worker does not fetch it again)."""
    from . import open as open_directory, remote
    if remote.is_url(directory):
        return remote.open_remote(directory, cache, cache_limit, cache_chunks, expect_manifest_sha256=manifest_sha256,
                                  source_cache_bytes=source_cache_bytes)
    return open_directory(directory, cache_chunks=cache_chunks, source_cache_bytes=source_cache_bytes)


def _statistics(d: Dataset, mean, std) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalisation constants: ``mean``/``std`` when given, else the directory's own
    (:attr:`mixshards.Dataset.statistics`: the manifest's ``source.channelStats``, or for a
    directory made before mixprep recorded them the CIFAR-10 constants, with a warning)."""
    if mean is None or std is None:
        mean, std = d.statistics
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def to_input(x: torch.Tensor, spec: OutputSpec, device=None, non_blocking: bool = False,
             _converter: Optional[Converter] = None, _arithmetic: bool = False) -> torch.Tensor:
    """uint8 images ``N × C × H × W`` as ``spec`` says (:mod:`mixshards.output`), on ``device``
    (default: where ``x`` is). On the CPU floats come from float32 lookup tables; elsewhere
    the same float32 operations run on the device, ``(x/255 − mean)/std``, after the uint8
    bytes are copied there."""
    if device is not None:
        x = x.to(device, non_blocking=non_blocking)
    dtype = _TORCH_DTYPES[spec.dtype]
    nhwc = spec.layout != "NCHW"
    if not spec.is_float:
        out = x.permute(0, 2, 3, 1).contiguous() if nhwc else x
    elif x.device.type == "cpu" and not _arithmetic:
        conv = _converter or Converter(spec)
        direct = spec.dtype in ("float32", "float16")
        out = torch.from_numpy(conv.numpy(x.numpy(), None if direct else "float32"))
        if not direct:
            out = out.to(dtype)
    else:
        t = x.to(torch.float32).div_(255)
        if spec.normalize:
            mean = torch.tensor(spec.mean, dtype=torch.float32, device=t.device).view(1, -1, 1, 1)
            std = torch.tensor(spec.std, dtype=torch.float32, device=t.device).view(1, -1, 1, 1)
            t = t.sub_(mean).div_(std)
        out = t.to(dtype)
        if nhwc:
            out = out.permute(0, 2, 3, 1).contiguous()
    if spec.layout == "channels_last":
        out = out.permute(0, 3, 1, 2)  # shape N×C×H×W, memory N×H×W×C
    return out


class _Output:
    """The output options shared by both datasets."""

    def _init_output(self, d: Dataset, dtype, layout, normalize, mean, std, sparse_labels: bool = False) -> None:
        #: Whether labels are yielded as ``(classes, weights)`` (MixShard v3's sparse form).
        self.sparse_labels = bool(sparse_labels)
        mean, std = _statistics(d, mean, std)
        #: Per-channel mean and std (units of x/255) the datasets normalise with; use them to
        #: normalise on the device when the batches are uint8 (``dtype="uint8"``).
        self.mean, self.std = mean, std
        #: The output options (:class:`mixshards.output.OutputSpec`).
        self.spec: OutputSpec = make_spec(dtype, layout, normalize, mean, std)
        self._converter = Converter(self.spec)

    def convert(self, x: torch.Tensor, device=None, non_blocking: bool = False) -> torch.Tensor:
        """uint8 images to this dataset's output (dtype, layout, normalisation) on ``device``."""
        return to_input(x, self.spec, device, non_blocking, self._converter)

    def labels_out(self, y: torch.Tensor):
        """Labels as read (float32 rows ``N × K``, or with :attr:`sparse_labels` the records packed
        ``N × 4``, :meth:`mixshards.labels.SparseLabels.packed`) as this dataset yields them: the
        rows, or ``(classes int64 N×2, weights float32 N×2)``."""
        if not self.sparse_labels:
            return y
        return y[..., :2].to(torch.int64), y[..., 2:].contiguous()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ds"] = None  # each process (DataLoader worker) opens the directory itself
        state.pop("_plans", None)
        return state


class MixShardDataset(_Output, tud.IterableDataset):
    """Batches ``(images, labels)`` of one training epoch (``split="train"``) or of the
    test split, this rank's part, in an order fixed by the arguments alone.

    - ``batch_size``: default the pipeline's ``train.batch`` (mixtrain's), else 128;
      a :class:`DataLoader`'s ``batch_size`` sets it when it was not given here.
    - ``seed``: chunks in mixtrain's order for (seed, epoch), and samples shuffled within
      windows of ``shuffle_window`` chunks (default 8; 0: mixtrain's batches byte for
      byte). ``seed=None`` reads in file order (the default for the test split).
    - ``drop_last``: drop the epoch's last partial batch.
    - ``even``: equal batch counts on every rank, as DDP needs: ``"pad"`` (default for
      training; a short rank repeats one batch of its own samples, counted in
      :attr:`padded_samples`), ``"drop"`` (every rank stops at the smallest count), or
      ``False`` (counts differ by one; the test split's default: evaluation sums).
    - ``rank``, ``world_size``: default from ``torch.distributed`` when initialised, else 0 and 1.
    - ``dtype`` (``"float32"``, ``"float16"``, ``"bfloat16"``, ``"uint8"``), ``layout``
      (``"NCHW"``, ``"NHWC"``, ``"channels_last"``), ``normalize``, ``mean``, ``std``: the
      output (:mod:`mixshards.output`); ``mean`` and ``std`` default to the directory's own
      figures (the manifest's ``source.channelStats``, as mixtrain), and the ones in use are
      exposed as :attr:`mean` and :attr:`std` (to normalise on the device).
    - ``sparse_labels``: yield labels as ``(classes, weights)`` (``N×2`` each; see
      :class:`mixshards.labels.SparseLabels`) with ε in :attr:`smoothing`, not ``N×K`` rows
      (workers ship them packed, 16 bytes a sample). Needs shards that store them
      (MixShard v3); others raise a ``ShardError`` at the first pass.
    - ``cache``, ``cache_limit``: for a remote directory (an ``https://`` or fsspec URL),
      the local cache folder and its size limit (see :func:`mixshards.open`);
      ``source_cache_bytes``: the memory the source copy may take in each process (see
      :func:`mixshards.open`).

    Use it with :class:`DataLoader` (workers ship uint8 slices of whole shuffle windows,
    the main process cuts them into batches, converts, counts progress), or directly, or with a plain
    ``torch.utils.data.DataLoader(ds, batch_size=None)`` — its workers then each build
    every n-th batch (same order, more inflating) and :meth:`state_dict` cannot know
    what was delivered, so it refuses.
    """

    def __init__(self, directory, split: str = "train", batch_size: Optional[int] = None,
                 seed: Optional[int] = 0, shuffle_window: int = DEFAULT_SHUFFLE_WINDOW, drop_last: bool = False,
                 even: Any = "default", dtype="float32", layout: str = "NCHW", normalize: bool = True,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                 rank: Optional[int] = None, world_size: Optional[int] = None, cache_chunks: int = 0,
                 cache: Optional[str] = None, cache_limit: Optional[int] = None, sparse_labels: bool = False,
                 source_cache_bytes: Optional[int] = None):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' (got {split!r})")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be an integer ≥ 1 (got {batch_size!r})")
        self.directory = str(directory)
        self.split = split
        self.seed = seed if split == "train" else None
        self.shuffle_window = check_shuffle_window(shuffle_window)
        self.drop_last = bool(drop_last)
        self.even = even_mode(("pad" if split == "train" else False) if even == "default" else even)
        self._rank, self._world = rank, world_size
        self._cache_args = (cache_chunks, cache, cache_limit)
        self._source_cache_bytes = source_cache_bytes
        self._ds: Optional[Dataset] = None
        d = self._dataset()
        self._batch_size_given = batch_size is not None
        train = d.manifest.pipeline.get("train") if isinstance(d.manifest.pipeline, dict) else None
        default = train.get("batch") if isinstance(train, dict) else None
        self.batch_size = batch_size or (default if isinstance(default, int) and default > 0 else 128)
        self._manifest_sha256 = d.manifest.sha256
        self._init_output(d, dtype, layout, normalize, mean, std, sparse_labels)
        self.epoch = 0
        self._excluded: tuple[tuple[int, int], ...] = ()
        self._pending: Optional[dict] = None   # a loaded state whose pass has not started
        self._position = 0                     # batches delivered in this epoch (this rank)
        self._workers = 0                      # worker processes of the last pass
        self._generation = 0
        self._warned_cycle = False
        self._shared = torch.zeros(6, dtype=torch.int64).share_memory_()
        self._in_worker = False
        self._publish(0)

    # -- the directory, the plan -------------------------------------------------------------
    def _dataset(self) -> Dataset:
        if self._ds is None:
            self._ds = _open(self.directory, *self._cache_args, getattr(self, "_manifest_sha256", None),
                             self._source_cache_bytes)
        return self._ds

    @property
    def smoothing(self) -> float:
        """The label smoothing ε of the current epoch's sparse labels (0 for the test split); a
        ``ShardError`` for shards that store dense rows (see :meth:`mixshards.Epoch.sparse_problem`)."""
        return self._epoch_object(self.epoch).smoothing

    def rank_and_world_size(self) -> tuple[int, int]:
        """``rank`` and ``world_size`` as given, else torch.distributed's (in a DataLoader worker:
        what the main process saw when the pass began), else 0 and 1."""
        if self._world is not None:
            return (self._rank or 0), self._world
        if self._in_worker and int(self._shared[_WORLD]) > 0:
            return int(self._shared[_RANK]), int(self._shared[_WORLD])
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _epoch_object(self, epoch: int, warn: bool = False) -> Epoch:
        d = self._dataset()
        return d.test if self.split == "test" else d.epoch(epoch, warn=warn)

    def plan(self, epoch: Optional[int] = None) -> EpochPlan:
        """This rank's :class:`mixshards.stream.EpochPlan` of ``epoch`` (default: the current one)."""
        e = self.epoch if epoch is None else epoch
        rank, world = self.rank_and_world_size()
        excluded = self._excluded if e == self.epoch else ()
        key = (e, self.batch_size, rank, world, excluded)
        plans = self.__dict__.setdefault("_plans", {})
        plan = plans.get(key)
        if plan is None:
            plan = EpochPlan(self._epoch_object(e), self.batch_size, rank, world, self.seed, self.shuffle_window,
                             self.drop_last, self.even, excluded)
            if len(plans) > 4:
                plans.clear()
            plans[key] = plan
        return plan

    def __len__(self) -> int:
        """Batches this rank yields in a whole pass of the current epoch."""
        return self.plan().batches

    @property
    def padded_samples(self) -> int:
        """Samples repeated over all ranks in the current epoch to give them equal batch counts
        (``even="pad"``: at most ``world_size − 1`` batches)."""
        return self.plan().part.padded_total

    @property
    def dropped_samples(self) -> int:
        """Samples of the current epoch no rank delivers (``drop_last``, ``even="drop"``)."""
        return self.plan().part.dropped

    # -- epochs and resume --------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Selects training epoch ``epoch`` (it keys the shuffle; epochs past the materialised
        ones reuse their shards) and starts it from its first batch — unless a state loaded by
        :meth:`load_state_dict` is waiting for this very epoch: then it resumes there. A loaded
        mid-epoch state is never discarded silently: another epoch is then an error."""
        epoch = int(epoch)
        if epoch < 0:
            raise ValueError(f"epoch must be ≥ 0 (got {epoch})")
        p = self._pending
        if p is not None and epoch == p["epoch"]:
            return
        if p is not None and (p["batches"] > 0 or self._excluded) and p["batches"] < self._total(p["epoch"]):
            raise ValueError(f"set_epoch({epoch}): a loaded state resumes epoch {p['epoch']} after "
                             f"{p['batches']} of {self._total(p['epoch'])} batches; call set_epoch({p['epoch']}) "
                             "first (or load_state_dict(None) to discard it)")
        self._pending = None
        self._excluded = ()
        self.epoch = epoch
        self._position = 0
        self._maybe_warn_cycle(epoch)
        self._publish(0)

    def _total(self, epoch: int) -> int:
        return self.plan(epoch).batches

    def _maybe_warn_cycle(self, epoch: int) -> None:
        d = self._dataset()
        if self.split == "train" and epoch >= d.epochs and not self._warned_cycle:
            self._warned_cycle = True
            warnings.warn(cycle_warning(d.path, epoch, d.epochs), stacklevel=3)

    def _publish(self, start: int) -> None:
        rank, world = self.rank_and_world_size()
        self._shared[_RANK], self._shared[_WORLD] = rank, world
        self._shared[_EPOCH] = self.epoch
        self._shared[_START] = start
        self._shared[_GENERATION] = self._generation

    def state_dict(self) -> dict:
        """Where this rank is in the epoch and everything that position depends on:
        ``{"format", "split", "epoch", "batches", "samples", "seed", "shuffle_window",
        "batch_size", "world_size", "rank", "workers", "even", "drop_last", "epoch_samples",
        "manifest_sha256", "excluded"}``. ``batches`` and ``samples`` count what this rank has
        delivered of ``epoch`` (``workers``, the worker count of the last pass, is
        information only: the order does not depend on it)."""
        if int(self._shared[_UNTRACKED]):
            raise RuntimeError("MixShardDataset.state_dict(): a torch.utils.data.DataLoader with worker processes "
                               "delivered these batches, and only mixshards.torch.DataLoader counts them in this "
                               "process: use it for a resumable run")
        if self._pending is not None:
            return dict(self._pending)
        return self._state(self.epoch, self._position)

    def _state(self, epoch: int, batches: int) -> dict:
        plan = self.plan(epoch)
        rank, world = self.rank_and_world_size()
        return {"format": STATE_FORMAT, "split": self.split, "epoch": epoch, "batches": batches,
                "samples": min(plan.samples, batches * self.batch_size), "seed": self.seed,
                "shuffle_window": self.shuffle_window, "batch_size": self.batch_size, "world_size": world,
                "rank": rank, "workers": self._workers, "even": self.even, "drop_last": self.drop_last,
                "epoch_samples": len(plan.order), "manifest_sha256": self._manifest_sha256,
                "excluded": [list(r) for r in self._excluded]}

    def load_state_dict(self, state: Optional[dict], nearest: bool = False) -> None:
        """Resumes where ``state`` (from :meth:`state_dict`, on any rank: DDP keeps ranks in
        step) left off: the next pass of its epoch (:attr:`epoch`; ``set_epoch`` with it keeps
        the position) delivers exactly this rank's remaining batches, in the same order,
        whatever the number of DataLoader workers then and now.

        A state of another directory, split, seed or shuffle window is an error. One saved
        with another batch size, world size, ``even`` or ``drop_last`` is an error too, unless
        ``nearest=True``: then every sample no rank had delivered is delivered once, cut into
        this dataset's batches and ranks (the pass delivers no sample twice, except padding).
        ``None`` discards a loaded state."""
        if state is None:
            self._pending, self._excluded = None, ()
            self._position = 0
            self._publish(0)
            return
        if not isinstance(state, dict) or "epoch" not in state or "batches" not in state:
            raise ValueError("load_state_dict: not a MixShardDataset state (needs at least 'epoch' and 'batches')")
        epoch, batches = int(state["epoch"]), int(state["batches"])
        if epoch < 0 or batches < 0:
            raise ValueError(f"load_state_dict: epoch {epoch} and batches {batches} must be ≥ 0")
        if "format" not in state:  # mixshards 0.4: {"epoch", "batches"}, counted per worker layout
            if not nearest:
                raise ValueError("load_state_dict: this state ({'epoch', 'batches'}, mixshards 0.4) does not record "
                                 "the seed, batch size and world size it depends on; pass nearest=True to resume "
                                 f"epoch {epoch} after {batches} batches with this dataset's settings")
            state = {**self._state(epoch, batches), "workers": None}
        elif state["format"] != STATE_FORMAT:
            raise ValueError(f"load_state_dict: unknown state format {state['format']!r} (expected {STATE_FORMAT!r})")
        rank, world = self.rank_and_world_size()
        mine = {"manifest_sha256": self._manifest_sha256, "split": self.split, "seed": self.seed,
                "shuffle_window": self.shuffle_window}
        for key, value in mine.items():
            if state.get(key) != value:
                what = "another shard directory (manifest)" if key == "manifest_sha256" else f"{key} {state.get(key)!r}"
                raise ValueError(f"load_state_dict: the state was saved with {what}, this dataset has "
                                 f"{value if key != 'manifest_sha256' else 'another'}: its order cannot be resumed")
        partition = {"batch_size": self.batch_size, "world_size": world, "even": self.even, "drop_last": self.drop_last}
        differs = [k for k, v in partition.items() if state.get(k) != v]
        excluded = tuple((int(a), int(b)) for a, b in state.get("excluded") or ())
        if differs and not nearest:
            k = differs[0]
            raise ValueError(f"load_state_dict: the state was saved with {k} {state.get(k)!r}, this dataset has "
                             f"{partition[k]!r}; pass nearest=True to deliver the epoch's remaining samples "
                             "in this dataset's batches")
        self.epoch = epoch
        self._generation += 1
        if differs:
            from .partition import RankPart
            total = int(state["epoch_samples"])
            done = list(excluded)
            for r in range(int(state["world_size"])):
                part = RankPart(total, int(state["batch_size"]), r, int(state["world_size"]),
                                bool(state["drop_last"]), state["even"], excluded)
                done += part.delivered(batches)
            self._excluded = tuple(merge(done))
            batches = 0
        else:
            self._excluded = excluded
        self._position = batches
        self._pending = self._state(epoch, batches)
        self._publish(batches)

    # -- iteration ----------------------------------------------------------------------------
    def _begin_pass(self, workers: int) -> tuple[EpochPlan, int]:
        """Starts a pass in the main process: the plan and the first batch."""
        plan = self.plan()
        if self.sparse_labels:
            plan.epoch.check_sparse()
        start = self._pending["batches"] if self._pending is not None else 0
        self._pending = None
        start = min(start, plan.batches)
        self._position = start
        self._workers = workers
        self._shared[_UNTRACKED] = 0
        self._publish(start)
        return plan, start

    def _delivered(self) -> None:
        self._position += 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = tud.get_worker_info()
        if info is None:
            return self._main_pass()
        self._shared[_UNTRACKED] = 1
        return self._worker_batches(info.id, info.num_workers)

    def _main_pass(self):
        plan, start = self._begin_pass(0)
        for images, labels in plan_batches(plan, start, copy=False, sparse=self.sparse_labels, packed=True):
            x = self.convert(torch.from_numpy(images))
            self._delivered()
            yield x, self.labels_out(torch.from_numpy(labels))

    def _worker_plan(self) -> tuple[EpochPlan, int]:
        """In a worker: the plan and first batch the main process published."""
        self._in_worker = True
        if int(self._shared[_GENERATION]) != self._generation:
            raise RuntimeError("MixShardDataset: load_state_dict() was called after persistent DataLoader workers "
                               "started; make a new DataLoader after loading a state")
        self.epoch = int(self._shared[_EPOCH])
        plan = self.plan()
        if self.sparse_labels:
            plan.epoch.check_sparse()
        return plan, int(self._shared[_START])

    def _worker_batches(self, worker: int, workers: int):
        """A plain DataLoader's worker: every ``workers``-th batch from the start, converted here."""
        plan, start = self._worker_plan()
        for images, labels in strided_batches(plan, start, worker, workers, sparse=self.sparse_labels, packed=True):
            yield self.convert(torch.from_numpy(images)), self.labels_out(torch.from_numpy(labels))

    def _worker_slices(self, worker: int, workers: int):
        """A :class:`DataLoader` worker: its slices as ``(slice, part offset, uint8 images, labels)``,
        written straight into shared memory (the main process receives them without a copy)."""
        plan, start = self._worker_plan()
        reader = WindowReader(plan.epoch, plan.order, keep=1, sparse=self.sparse_labels)
        c, h, w = plan.epoch.shape
        columns = PACKED_COLUMNS if self.sparse_labels else plan.epoch.class_count
        for i, at, g, n in plan.worker_slices(start, worker, workers):
            x = torch.empty((n, c, h, w), dtype=torch.uint8).share_memory_()
            y = torch.empty((n, columns), dtype=torch.float32).share_memory_()
            reader.fill(g, n, x.numpy(), y.numpy())
            yield i, at, x, y

    def _raw_batches(self, plan: EpochPlan, start: int):
        """Batches in this process, uint8 and with labels as read (packed when sparse)."""
        for images, labels in plan_batches(plan, start, copy=False, sparse=self.sparse_labels, packed=True):
            yield torch.from_numpy(images), torch.from_numpy(labels)


class _SliceView(tud.IterableDataset):
    """What :class:`DataLoader` hands its workers: the dataset's slices, uint8."""

    def __init__(self, ds: MixShardDataset):
        self.ds = ds

    def __iter__(self):
        info = tud.get_worker_info()
        if info is None:  # pragma: no cover - DataLoader only uses it with workers
            raise RuntimeError("_SliceView is iterated by DataLoader workers only")
        return self.ds._worker_slices(info.id, info.num_workers)


class SampleBatch(list):
    """What :meth:`MixShardMapDataset.__getitems__` returns: a list of ``(image, label)``
    samples (views), that :func:`collate` turns into the stacked tensors it already holds.
    Sparse labels are a pair ``(classes, weights)``, per sample and stacked."""

    def __init__(self, images: torch.Tensor, labels):
        super().__init__(zip(images, zip(*labels) if isinstance(labels, tuple) else labels))
        self.images, self.labels = images, labels


def collate(batch):
    """A DataLoader ``collate_fn``: a :class:`SampleBatch` becomes ``(images, labels)`` without
    copying; anything else goes to ``torch.utils.data.default_collate``."""
    if isinstance(batch, SampleBatch):
        return batch.images, batch.labels
    return tud.default_collate(batch)


class MixShardMapDataset(_Output, tud.Dataset):
    """Samples ``(image, label)`` of one training epoch (or the test split) by position,
    for samplers: ``DataLoader(ds, batch_size=…, sampler=DistributedSampler(ds))``,
    ``Subset``, ``persistent_workers``. Inflated chunks are kept in a cache of
    ``cache_bytes`` per process (default 1 GiB: a CIFAR-10 epoch is 157 MB), so shuffled
    access inflates each chunk once. ``set_epoch(e)`` selects the training epoch (workers,
    persistent ones too, follow); ``ds[k]`` is position k of it. A batch of indices is read
    with one gather per chunk (``__getitems__``); :func:`collate` stacks nothing.
    Output options (normalisation with the directory's own figures by default),
    ``sparse_labels`` (a label is ``(classes, weights)``, ``2`` each, ε in :attr:`smoothing`)
    and ``source_cache_bytes`` as :class:`MixShardDataset`'s."""

    def __init__(self, directory, split: str = "train", epoch: int = 0, dtype="float32", layout: str = "NCHW",
                 normalize: bool = True, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, cache_bytes: Optional[int] = None,
                 cache: Optional[str] = None, cache_limit: Optional[int] = None, sparse_labels: bool = False,
                 source_cache_bytes: Optional[int] = None):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' (got {split!r})")
        self.directory, self.split = str(directory), split
        self._cache_args = (0, cache, cache_limit)
        self._cache_bytes = cache_bytes
        self._source_cache_bytes = source_cache_bytes
        self._ds: Optional[Dataset] = None
        self._access: Optional[RandomAccess] = None
        d = self._dataset()
        self._init_output(d, dtype, layout, normalize, mean, std, sparse_labels)
        self._shared = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._warned_cycle = False
        self.set_epoch(epoch)

    def __getstate__(self):
        state = super().__getstate__()
        state["_access"] = None
        return state

    def _dataset(self) -> Dataset:
        if self._ds is None:
            self._ds = _open(self.directory, *self._cache_args, getattr(self, "_manifest_sha256", None),
                             self._source_cache_bytes)
            self._manifest_sha256 = self._ds.manifest.sha256
        return self._ds

    @property
    def smoothing(self) -> float:
        """The label smoothing ε of the current epoch's sparse labels (0 for the test split)."""
        return self._reader().epoch.smoothing

    def _reader(self) -> RandomAccess:
        epoch = int(self._shared[0])
        if self._access is None:
            self._access = RandomAccess(self._dataset(), self.split, epoch, self._cache_bytes, warn=False)
        elif self._access.epoch_number != epoch:
            self._access.set_epoch(epoch)
        return self._access

    @property
    def epoch(self) -> int:
        return int(self._shared[0])

    @property
    def cache(self):
        """This process's :class:`mixshards.mapstyle.ByteCache`."""
        return self._reader().cache

    def set_epoch(self, epoch: int) -> None:
        """Selects training epoch ``epoch`` (workers follow, persistent ones too)."""
        epoch = int(epoch)
        if epoch < 0:
            raise ValueError(f"epoch must be ≥ 0 (got {epoch})")
        d = self._dataset()
        if self.split == "train" and epoch >= d.epochs and not self._warned_cycle:
            self._warned_cycle = True
            warnings.warn(cycle_warning(d.path, epoch, d.epochs), stacklevel=2)
        self._shared[0] = epoch

    def __len__(self) -> int:
        return len(self._reader())

    def _take(self, indices, raw: bool = False):
        """Images and labels at ``indices``: as read (uint8, labels packed when sparse) with ``raw``,
        else as this dataset yields them."""
        images, labels = self._reader().take(indices, sparse=self.sparse_labels)
        x, y = torch.from_numpy(images), torch.from_numpy(labels)
        return (x, y) if raw else (self.convert(x), self.labels_out(y))

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        x, y = self._take([k])
        return x[0], (tuple(t[0] for t in y) if isinstance(y, tuple) else y[0])

    def __getitems__(self, indices) -> SampleBatch:
        return SampleBatch(*self._take(indices))


class _MapView(tud.Dataset):
    """What :class:`DataLoader` hands its workers for a map-style dataset: uint8 samples."""

    def __init__(self, ds: MixShardMapDataset):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, k):
        x, y = self.ds._take([k], raw=True)
        return x[0], y[0]

    def __getitems__(self, indices):
        return SampleBatch(*self.ds._take(indices, raw=True))


class DataLoader(tud.DataLoader):
    """A ``torch.utils.data.DataLoader`` for both datasets that leaves conversion to the main
    process: workers ship uint8, and batches are converted (dtype, layout, normalisation) on
    ``device`` after an optional ``pin_memory`` copy.

    With :class:`MixShardDataset`, ``batch_size`` is the dataset's (when given here, it must
    match, or sets the dataset's when that was not given); workers read whole shuffle windows
    and the batches are put back in order, so the order and :meth:`MixShardDataset.state_dict`
    do not depend on ``num_workers``; ``persistent_workers`` works. With
    :class:`MixShardMapDataset` every DataLoader option works as usual (``sampler``,
    ``shuffle``, ``batch_size``…) and ``collate_fn`` defaults to :func:`collate`.
    """

    def __init__(self, dataset, batch_size: Optional[int] = None, num_workers: int = 0, device=None,
                 pin_memory: bool = False, prefetch_factor: Optional[int] = None,
                 persistent_workers: bool = False, **kwargs):
        self._target = torch.device(device) if device is not None else None
        if pin_memory and not torch.cuda.is_available():
            warnings.warn("pin_memory=True, but no CUDA device is available: not pinning", stacklevel=2)
            pin_memory = False
        self._pin = bool(pin_memory)
        if isinstance(dataset, MixShardDataset):
            for key in ("shuffle", "sampler", "batch_sampler", "collate_fn", "drop_last"):
                if kwargs.get(key):
                    raise ValueError(f"DataLoader: {key} does not apply to MixShardDataset, which yields whole "
                                     "batches in its own order (set seed, shuffle_window, drop_last on the dataset)")
                kwargs.pop(key, None)
            if batch_size is not None and batch_size != dataset.batch_size:
                if dataset._batch_size_given:
                    raise ValueError(f"DataLoader: batch_size {batch_size} differs from the dataset's "
                                     f"{dataset.batch_size}; MixShardDataset yields whole batches of its own size")
                dataset.batch_size = int(batch_size)
            self._mode = "iterable"
            inner = _SliceView(dataset) if num_workers > 0 else dataset
            super().__init__(inner, batch_size=None, num_workers=num_workers, pin_memory=False,
                             prefetch_factor=prefetch_factor, persistent_workers=persistent_workers, **kwargs)
            self._mix = dataset
        elif isinstance(dataset, MixShardMapDataset):
            kwargs.setdefault("collate_fn", collate)
            self._mode = "map"
            super().__init__(_MapView(dataset), batch_size=1 if batch_size is None else batch_size,
                             num_workers=num_workers, pin_memory=False, prefetch_factor=prefetch_factor,
                             persistent_workers=persistent_workers, **kwargs)
            self._mix = dataset
        else:
            raise TypeError(f"mixshards.torch.DataLoader reads MixShardDataset or MixShardMapDataset "
                            f"(got {type(dataset).__name__}); use torch.utils.data.DataLoader")

    @property
    def mixshards_dataset(self):
        """The dataset given (``.dataset`` is what the workers see)."""
        return self._mix

    def set_epoch(self, epoch: int) -> None:
        """``set_epoch`` of the dataset and, when it has one, of the sampler (DistributedSampler)."""
        self._mix.set_epoch(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        if self._mode == "iterable":
            return len(self._mix)
        return super().__len__()

    def _out(self, x: torch.Tensor, y: torch.Tensor):
        """A batch as read (uint8, labels packed when sparse) as the dataset yields it, on the device."""
        y = self._mix.labels_out(y)
        ys = y if isinstance(y, tuple) else (y,)
        if self._pin:
            x, ys = x.pin_memory(), tuple(t.pin_memory() for t in ys)
        target = self._target
        blocking = not self._pin
        x = self._mix.convert(x, target, non_blocking=not blocking)
        if target is not None:
            ys = tuple(t.to(target, non_blocking=not blocking) for t in ys)
        return x, (ys if isinstance(y, tuple) else ys[0])

    def __iter__(self):
        if self._mode == "map":
            return self._map_pass(super().__iter__())
        ds: MixShardDataset = self._mix
        plan, start = ds._begin_pass(self.num_workers)
        if self.num_workers == 0:
            return self._single(ds, plan, start)
        return self._assemble(ds, plan, start, super().__iter__())

    def _map_pass(self, it):
        for x, y in it:
            yield self._out(x, y)

    def _single(self, ds: MixShardDataset, plan: EpochPlan, start: int):
        for x, y in ds._raw_batches(plan, start):
            out = self._out(x, y)
            ds._delivered()
            yield out

    def _assemble(self, ds: MixShardDataset, plan: EpochPlan, start: int, it):
        """Cuts the workers' slices, put back in order, into batches (views where a batch lies in one)."""
        part, B = plan.part, plan.batch_size
        early: dict[int, tuple] = {}   # slices that came before their turn (in_order=False)
        held: list[tuple] = []         # slices in order, not yet wholly delivered: (part offset, images, labels)
        turn, k, pos = 0, start, start * B
        for i, at, x, y in it:
            early[i] = (at, x, y)
            while turn in early:
                held.append(early.pop(turn))
                turn += 1
                while k < plan.batches:
                    end = pos + part.batch_size_of(k)
                    if not held or held[-1][0] + len(held[-1][1]) < end:
                        break
                    xs, ys = [], []
                    for at, x, y in held:
                        lo, hi = max(pos, at), min(end, at + len(x))
                        if lo < hi:
                            xs.append(x[lo - at:hi - at])
                            ys.append(y[lo - at:hi - at])
                    held = [h for h in held if h[0] + len(h[1]) > end]
                    out = self._out(xs[0] if len(xs) == 1 else torch.cat(xs), ys[0] if len(ys) == 1 else torch.cat(ys))
                    ds._delivered()
                    k, pos = k + 1, end
                    yield out
        if k != plan.batches:
            raise RuntimeError(f"mixshards.torch.DataLoader: the workers delivered {k - start} of "
                               f"{plan.batches - start} batches")


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
