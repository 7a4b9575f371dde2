"""A shard directory opened for reading: epochs, random access, batches."""

from __future__ import annotations

import bisect
import hashlib
import os
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np

from . import fileio, layout, manifest as manifest_mod, normalize, sourcefiles, wording
from .errors import ShardError
from .labels import PACKED_COLUMNS, SparseLabels
from .order import DEFAULT_SHUFFLE_WINDOW, EpochOrder
from .rng import chunk_order
from .shard import Chunk, ShardFile, SourceImages, unpacked_source_directory
from .sourcefiles import SkippedFile, SourceFile, SourceFiles
from .transform import Transform


@dataclass(frozen=True)
class Sample:
    """One sample of an epoch."""

    #: Position in the epoch (or the test split).
    position: int
    #: ``C × H × W`` uint8 (read-only).
    image: np.ndarray
    #: ``K`` float32 soft label, summing to 1 (read-only).
    label: np.ndarray
    #: Source index of the primary image, or ``None`` without provenance.
    primary: Optional[int]
    #: Source index of the partner (``== primary`` when unmixed), or ``None``.
    partner: Optional[int]
    #: Weight of the primary (1 when unmixed), or ``None``.
    lam: Optional[float]
    #: How the pixels were made: ``"copy"`` (the primary under its transform),
    #: ``"blend"`` or ``"cutmix"`` (v1: copy when unmixed, else blend), or ``None``.
    kind: Optional[str] = None
    #: Transforms of the primary and of the partner (v2; identity in v1), or ``None``.
    primary_transform: Optional[Transform] = None
    partner_transform: Optional[Transform] = None
    #: The CutMix box ``(x0, y0, x1, y1)``, pixels ``[x0, x1) × [y0, y1)`` from the
    #: partner (kind cutmix; ``(0, 0, 0, 0)`` otherwise), or ``None``.
    box: Optional[tuple[int, int, int, int]] = None
    #: Stored as a reference to the source copy (its pixels resolved from it), or ``None``.
    reference: Optional[bool] = None
    #: The file list of the sample's split, loaded on first use (directories made from image files).
    _files: Optional[Callable[[], Optional[SourceFiles]]] = field(default=None, repr=False, compare=False)

    @property
    def primary_file(self) -> Optional[SourceFile]:
        """The original image file behind :attr:`primary` (row ``primary`` of the split's
        file list; a test sample without provenance: the row of its position), or ``None``
        when the directory was not made from image files or the sample has no provenance."""
        return self._file(self.primary)

    @property
    def partner_file(self) -> Optional[SourceFile]:
        """The file behind :attr:`partner` (the primary's when unmixed), or ``None`` likewise."""
        return self._file(self.partner)

    def _file(self, index: Optional[int]) -> Optional[SourceFile]:
        files = self._files() if self._files is not None else None
        if files is None:
            return None
        if index is None:
            if files.split != "test":
                return None
            index = self.position  # test position k is test source image k
        return files[index]


def chunk_labels(chunk: Chunk, sparse: bool = False) -> np.ndarray:
    """A chunk's labels as the readers move them: ``n × K`` dense rows (v3 sparse records expanded),
    or with ``sparse`` its sparse records packed ``n × 4`` (:meth:`SparseLabels.packed`)."""
    return chunk.sparse.packed() if sparse else chunk.labels


class ChunkCache:
    """A small LRU cache of inflated chunks, shared by every shard of a dataset."""

    def __init__(self, capacity: int):
        self.capacity = max(0, capacity)
        self._items: OrderedDict[tuple[str, int], Chunk] = OrderedDict()

    def get(self, shard: ShardFile, i: int, dense: bool = True) -> Chunk:
        """Chunk ``i`` of ``shard``, from the cache or read (``dense``: whether the caller will read
        its dense label rows; a byte-limited cache counts them)."""
        key = (shard.path, i)
        c = self._items.get(key)
        if c is not None:
            self._items.move_to_end(key)
            return c
        c = shard.read_chunk(i)
        if self.capacity:
            self._items[key] = c
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return c


class Epoch:
    """The samples of one training epoch, or of the test split, in position order.

    Shards are listed in the manifest in position order: shard s of an epoch
    holds the positions after those of shards 0..s-1, and chunk c of a shard
    holds its samples ``c·samplesPerChunk …``. ``len(ep)``, ``ep[k]`` and
    :meth:`batches` follow from that and the shard indexes.
    """

    def __init__(self, name: str, number: int, shards: list[ShardFile], cache: ChunkCache,
                 files: Optional[Callable[[], Optional[SourceFiles]]] = None,
                 shape: Optional[tuple[int, int, int]] = None, class_count: Optional[int] = None):
        #: ``"epoch 3"`` or ``"test"``.
        self.name = name
        #: The training epoch number that keys the shuffle (0 for the test split).
        self.number = number
        self.shards = shards
        self._cache = cache
        self._files = files
        self._starts = [0]
        for s in shards:
            self._starts.append(self._starts[-1] + s.sample_count)
        #: Every chunk as ``(shard, chunk)``, in file order.
        self.chunks = [(si, c) for si, s in enumerate(shards) for c in range(s.chunk_count)]
        self._chunk_sizes = [int(shards[si].index["count"][c]) for si, c in self.chunks]
        #: ``(C, H, W)`` and the number of classes.
        self.shape = tuple(shape) if shape is not None else (shards[0].header.shape if shards else (0, 0, 0))
        self.class_count = class_count if class_count is not None else (shards[0].header.class_count if shards else 0)
        self._orders: dict[tuple, EpochOrder] = {}

    def __len__(self) -> int:
        return self._starts[-1]

    def __repr__(self) -> str:
        return f"<mixshards.Epoch {self.name}: {len(self)} samples in {len(self.shards)} shards>"

    def __getitem__(self, k):
        """Sample ``k`` (negative counts from the end); a slice or a sequence of positions
        gives a list of samples (see :meth:`take` for arrays)."""
        if isinstance(k, slice):
            return [self._sample(i) for i in range(*k.indices(len(self)))]
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            return self._sample(self._position(k))
        if isinstance(k, (list, tuple, range, np.ndarray)):
            return [self._sample(self._position(i)) for i in np.asarray(k).reshape(-1).tolist()]
        raise TypeError(f"positions are integers, slices or sequences of integers (got {type(k).__name__})")

    def _position(self, k) -> int:
        n = len(self)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"positions are integers (got {type(k).__name__})")
        k = int(k)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"position {k} out of range for {self.name} of {n} samples")
        return k

    def _locate(self, k: int) -> tuple[ShardFile, int]:
        """The shard holding position ``k`` and ``k``'s sample number in it."""
        si = bisect.bisect_right(self._starts, k) - 1
        return self.shards[si], k - self._starts[si]

    def _sample(self, k: int) -> Sample:
        shard, local = self._locate(k)
        c = self._cache.get(shard, shard.chunk_of(local))
        j = local - c.first_sample
        if c.provenance is None:
            return Sample(k, c.images[j], c.labels[j], None, None, None, _files=self._files)
        r = c.provenance[j]
        flags = int(r["flags"])
        return Sample(k, c.images[j], c.labels[j], int(r["primary"]), int(r["partner"]), float(r["lam"]),
                      layout.KINDS[int(r["kind"])],
                      Transform(int(r["primary_dx"]), int(r["primary_dy"]), bool(flags & layout.FLIP_PRIMARY)),
                      Transform(int(r["partner_dx"]), int(r["partner_dy"]), bool(flags & layout.FLIP_PARTNER)),
                      (int(r["box_x0"]), int(r["box_y0"]), int(r["box_x1"]), int(r["box_y1"])),
                      bool(flags & layout.REFERENCE), self._files)

    def empty(self, n: int, sparse: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Uninitialised arrays for ``n`` samples: ``(uint8 n×C×H×W, float32 n×K)``, or with
        ``sparse`` the labels packed ``n × 4`` (:meth:`mixshards.labels.SparseLabels.packed`)."""
        return (np.empty((n, *self.shape), np.uint8),
                np.empty((n, PACKED_COLUMNS if sparse else self.class_count), np.float32))

    def take(self, positions, cache: Optional[ChunkCache] = None, sparse: bool = False, packed: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels of the samples at ``positions`` (any order, repeats allowed) as
        ``(uint8 n×C×H×W, float32 n×K)``: one gather per chunk they fall in, chunks read through
        ``cache`` (default: the dataset's LRU cache, :func:`mixshards.open`'s ``cache_chunks``).
        With ``sparse=True`` the labels are :class:`SparseLabels` (v3 shards; see :meth:`batches`),
        or with ``packed=True`` too, their ``n × 4`` packed form."""
        cache = cache if cache is not None else self._cache
        if sparse:
            self.check_sparse()
        p = np.asarray(positions, np.int64).reshape(-1)
        n = len(self)
        if len(p) and (p.min() < -n or p.max() >= n):
            bad = int(p[(p < -n) | (p >= n)][0])
            raise IndexError(f"position {bad} out of range for {self.name} of {n} samples")
        p = np.where(p < 0, p + n, p)
        images, labels = self.empty(len(p), sparse)
        if not len(p):
            return images, self._labels_out(labels, sparse, packed)
        starts = np.asarray(self._starts, np.int64)
        si = np.searchsorted(starts, p, side="right") - 1
        local = p - starts[si]
        per_chunk = np.asarray([s.header.samples_per_chunk for s in self.shards], np.int64)
        ci = local // per_chunk[si]
        key = si * (int(ci.max()) + 1) + ci
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        for group in np.split(order, bounds):
            shard = self.shards[int(si[group[0]])]
            chunk = cache.get(shard, int(ci[group[0]]), dense=not sparse)
            rows = local[group] - chunk.first_sample
            images[group] = chunk.images[rows]
            labels[group] = chunk_labels(chunk, sparse)[rows]
        return images, self._labels_out(labels, sparse, packed)

    def _labels_out(self, labels: np.ndarray, sparse: bool, packed: bool = False):
        """Labels as a reader yields them: dense rows, packed sparse ones, or :class:`SparseLabels`."""
        if not sparse or packed:
            return labels
        return SparseLabels.unpack(labels, self.smoothing, self.class_count)

    @property
    def files(self) -> Optional[SourceFiles]:
        """The file list of this epoch's split (training files for every epoch), loaded and
        checked on first use; ``None`` when the directory was not made from image files."""
        return self._files() if self._files is not None else None

    def chunk_order(self, seed: Optional[int]) -> list[int]:
        """Indices into :attr:`chunks` in reading order: file order without a
        seed, else mixtrain's order for (seed, this epoch's number)."""
        if seed is None:
            return list(range(len(self.chunks)))
        return chunk_order(len(self.chunks), seed, self.number)

    def order(self, seed: Optional[int], shuffle_window: int = DEFAULT_SHUFFLE_WINDOW) -> EpochOrder:
        """The epoch's global reading order for ``seed`` and ``shuffle_window`` (see :mod:`mixshards.order`)."""
        key = (seed, shuffle_window)
        o = self._orders.get(key)
        if o is None:
            o = self._orders[key] = EpochOrder(self._chunk_sizes, seed, self.number, shuffle_window)
        return o

    def read_chunk(self, chunk_id: int) -> Chunk:
        """Chunk ``chunk_id`` (an index into :attr:`chunks`), read now (not through the LRU cache)."""
        si, ci = self.chunks[chunk_id]
        return self.shards[si].read_chunk(ci)

    def plan(self, batch_size: int = 128, rank: int = 0, world_size: int = 1, seed: Optional[int] = None,
             drop_last: bool = False, shuffle_window: int = DEFAULT_SHUFFLE_WINDOW, even=False):
        """The :class:`mixshards.stream.EpochPlan` of :meth:`batches` with these arguments."""
        from .stream import EpochPlan
        return EpochPlan(self, batch_size, rank, world_size, seed, shuffle_window, drop_last, even)

    def batch_counts(self, batch_size: int = 128, world_size: int = 1, drop_last: bool = False,
                     even=False) -> list[int]:
        """Batches each rank gets from :meth:`batches`: counts that differ by at most one, or
        (``even="pad"`` or ``"drop"``) equal ones, as DDP needs."""
        from .partition import RankPart
        return [RankPart(len(self), batch_size, r, world_size, drop_last, even).batches for r in range(world_size)]

    def batches(self, batch_size: int = 128, rank: int = 0, world_size: int = 1, seed: Optional[int] = None,
                drop_last: bool = False, shuffle_window: int = DEFAULT_SHUFFLE_WINDOW, even=False,
                start: int = 0, sparse: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches ``(images uint8 N×C×H×W, labels float32 N×K)`` of this rank's part, from batch ``start``;
        with ``sparse=True``, ``(images, SparseLabels)``: per sample two classes and two weights
        (:class:`mixshards.labels.SparseLabels`, ``dense = (1 − ε)·scatter(weights at classes)
        + ε/K``), never ``N × K`` floats — for many classes. The sparse form needs shards that
        store it (MixShard v3 as mixprep writes it); a directory of dense rows (v1, v2) is
        refused with a :class:`ShardError` before the first batch (see :meth:`sparse_problem`).

        The order (:mod:`mixshards.order`): without a seed, file order; with one, chunks in
        mixtrain's order for (seed, this epoch's number) and, unless ``shuffle_window=0``,
        the samples of every ``shuffle_window`` consecutive chunks shuffled (seeded) among
        themselves; ``shuffle_window=0`` gives exactly mixtrain's batches. The epoch's batches
        in that order are dealt to ranks as contiguous runs (see
        :class:`mixshards.partition.RankPart`): disjoint, together complete (without
        ``drop_last``), counts within one, or equal with ``even="pad"`` (short ranks get a
        batch of repeated samples) or ``even="drop"``; a rank reads only the windows of its run.
        """
        if sparse:
            self.check_sparse()
        from .stream import batches
        return batches(self.plan(batch_size, rank, world_size, seed, drop_last, shuffle_window, even), start,
                       sparse=sparse)

    def sparse_problem(self) -> Optional[str]:
        """Why this epoch's labels have no sparse form (a shard storing dense rows, or shards
        of different label smoothing), naming the shard; ``None`` when every shard stores
        sparse records of one ε."""
        smoothing = None
        for s in self.shards:
            h = s.header
            if h.label_type != "sparse":
                return (f"{s.path}: stores dense label rows (MixShard v{h.version}, labelType float32), not the sparse "
                        "form (MixShard v3, as mixprep writes it: rewrite the directory with mixprep run); read dense rows")
            if smoothing is not None and h.label_smoothing != smoothing:
                return (f"{s.path}: label smoothing {rules_float(h.label_smoothing)} differs from "
                        f"{rules_float(smoothing)}, the smoothing of {self.shards[0].path}")
            smoothing = h.label_smoothing
        return None

    def check_sparse(self) -> None:
        """Raises :class:`ShardError` with :meth:`sparse_problem` when there is one."""
        problem = self.sparse_problem()
        if problem is not None:
            raise ShardError(problem)

    @property
    def smoothing(self) -> float:
        """The label smoothing ε of this epoch's sparse labels (0 for the test split); see :meth:`sparse_problem`."""
        self.check_sparse()
        return self.shards[0].header.label_smoothing if self.shards else 0.0

    def batch_positions(self, batch_size: int = 128, rank: int = 0, world_size: int = 1, seed: Optional[int] = None,
                        drop_last: bool = False, shuffle_window: int = DEFAULT_SHUFFLE_WINDOW, even=False,
                        start: int = 0) -> Iterator[np.ndarray]:
        """The positions of the samples of each batch :meth:`batches` yields with
        the same arguments (int64 arrays; look samples up with ``ep[k]``)."""
        plan = self.plan(batch_size, rank, world_size, seed, drop_last, shuffle_window, even)
        for k in range(start, plan.batches):
            yield plan.batch_positions(k)


def rules_float(v) -> str:
    """A float32 worded as Swift's ``Wording.float``."""
    return layout.rules_float_text(v)


class Dataset:
    """A complete shard directory: its manifest and lazily opened epochs.

    Use :func:`mixshards.open`. Opening checks the manifest; an epoch's shards
    are opened (structure checked, headers compared with the manifest) when the
    epoch is first used, and the source copy (directories whose unmixed samples
    are stored as references) with the first training epoch: an uncompressed
    copy's CRCs are checked then, a compressed copy's chunks when they are first
    inflated; a copy whose images fit ``source_cache_bytes`` is held whole in memory,
    a larger compressed one keeps at most that many bytes of inflated chunks (see
    :class:`mixshards.SourceImages`). Every reference resolves from it to the bytes
    the sample would have stored.
    """

    def __init__(self, directory: str, cache_chunks: int = 8, storage=None, cache_bytes: Optional[int] = None,
                 source_cache_bytes: Optional[int] = None):
        self.path = str(directory)
        #: Where listed files come from when they are not local (:class:`mixshards.remote.RemoteStore`).
        self._storage = storage
        #: The directory's URL when it is remote (see :func:`mixshards.open`), else ``None``.
        self.url: Optional[str] = None
        #: The bound on the memory the source copy's images take (``None``: 1 GiB or
        #: ``MIXSHARDS_SOURCE_CACHE``; see :class:`mixshards.SourceImages`).
        self.source_cache_bytes = source_cache_bytes
        self.manifest = manifest_mod.load(self.path)
        #: Class names, in label order.
        self.classes: tuple[str, ...] = self.manifest.class_names
        #: ``(C, H, W)``.
        self.shape: tuple[int, int, int] = self.manifest.shape
        #: Training epochs materialised on disk.
        self.epochs: int = len(self.manifest.train)
        #: Image files: how the folder was recognised (``"class folders train/ + val/"``, …);
        #: ``None`` for CIFAR records.
        self.layout: Optional[str] = self.manifest.layout
        if cache_bytes is None:
            self._cache = ChunkCache(cache_chunks)
        else:  # shuffled access to ep[k]: inflated chunks kept up to a size (mixshards.mapstyle)
            from .mapstyle import ByteCache
            self._cache = ByteCache(cache_bytes)
        self._files: dict[str, SourceFiles] = {}
        self._skipped: Optional[tuple[SkippedFile, ...]] = None
        self._train: dict[int, list[ShardFile]] = {}
        self._test: Optional[list[ShardFile]] = None
        self._source: Optional[SourceImages] = None
        self._warned_cycle = False
        self._statistics: Optional[tuple[tuple[float, ...], tuple[float, ...]]] = None

    def __repr__(self) -> str:
        return f"<mixshards.Dataset {self.path}: {self.epochs} epoch(s), {len(self.classes)} classes, shape {self.shape}>"

    @property
    def statistics(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(mean, std)``: what this directory's images are normalised with, one figure per channel —
        the manifest's ``source.channelStats`` (the training split's own; a std of 0 read as 1), or
        for a directory made before mixprep recorded them the CIFAR-10 constants, with one warning.
        mixtrain normalises with the same (see :mod:`mixshards.normalize`)."""
        if self._statistics is None:
            self._statistics = normalize.source_statistics(self.manifest.source, self.shape[0], self.manifest.path)
        return self._statistics

    @property
    def mean(self) -> tuple[float, ...]:
        """The per-channel means of :attr:`statistics`, e.g. ``(0.4914, 0.4822, 0.4465)`` for CIFAR-10."""
        return self.statistics[0]

    @property
    def std(self) -> tuple[float, ...]:
        """The per-channel standard deviations of :attr:`statistics`, e.g. ``(0.247, 0.2435, 0.2616)``."""
        return self.statistics[1]

    def normalizer(self) -> normalize.Normalizer:
        """A :class:`~mixshards.normalize.Normalizer` with :attr:`mean` and :attr:`std`: ``ds.normalizer()(images)``
        turns a batch of uint8 images into the float32 input mixtrain feeds its network."""
        return normalize.Normalizer(self.mean, self.std)

    def epoch(self, e: int, warn: bool = True) -> Epoch:
        """Training epoch ``e`` (0-based). Beyond the materialised epochs it reuses
        the shards of epoch ``e mod epochs`` (with one warning per dataset; ``warn=False``:
        none), as mixtrain does; ``e`` still keys the shuffle."""
        if not isinstance(e, (int, np.integer)) or isinstance(e, bool) or e < 0:
            raise ValueError(f"epoch must be an integer ≥ 0 (got {e!r})")
        e = int(e)
        m = e % self.epochs
        if m != e and warn and not self._warned_cycle:
            self._warned_cycle = True
            warnings.warn(cycle_warning(self.path, e, self.epochs), stacklevel=2)
        if m not in self._train:
            source = self.source_copy
            self._train[m] = [self._open(s, i, "train", m, source) for i, s in enumerate(self.manifest.train[m])]
        return Epoch(f"epoch {e}", e, self._train[m], self._cache, self._files_of("train"), self.shape,
                     len(self.classes))

    @property
    def test(self) -> Epoch:
        """The test split (unmixed, one-hot labels)."""
        if self._test is None:
            self._test = [self._open(s, i, "test", layout.TEST_EPOCH) for i, s in enumerate(self.manifest.test)]
        return Epoch("test", 0, self._test, self._cache, self._files_of("test"), self.shape, len(self.classes))

    @property
    def has_files(self) -> bool:
        """Whether the directory was made from image files and lists them (``source.files``)."""
        return self.manifest.source_files is not None

    def files(self, split: str = "train") -> SourceFiles:
        """The original files of ``split`` (``"train"`` or ``"test"``), in position order:
        ``ds.files("train")[s.primary]`` is the file behind a training sample's primary.
        Read from ``source/{split}-files.csv`` on first use (presence, size and SHA-256
        checked against the manifest, every row checked). Raises :class:`ShardError`
        for a directory made from CIFAR records, which lists no files."""
        if split not in sourcefiles.SPLIT_FILES:
            raise ValueError(f"split must be 'train' or 'test' (got {split!r})")
        if split not in self._files:
            if self.manifest.source_files is None:
                raise ShardError(f"{self.path}: made from {self.manifest.source.get('name', 'records')} records, "
                                 "not image files: it lists no source files")
            self._fetch(self.manifest.source_files.train if split == "train" else self.manifest.source_files.test)
            self._files[split] = load_source_files(self.manifest, self.path, split)
        return self._files[split]

    def skipped_files(self) -> tuple[SkippedFile, ...]:
        """The files skipped as undecodable (``dataset.skip_bad``), from ``skipped-files.csv``;
        empty when none was (and for CIFAR records)."""
        if self._skipped is None:
            info = self.manifest.source_files
            if info is not None and info.skipped is not None:
                self._fetch(info.skipped)
            self._skipped = () if info is None or info.skipped is None else load_skipped_files(self.manifest, self.path)
        return self._skipped

    def _fetch(self, entry: manifest_mod.ShardEntry, pin: bool = False) -> None:
        """A remote directory's listed file, downloaded and verified into the cache (nothing locally)."""
        if self._storage is not None:
            self._storage.fetch(entry, pin=pin)

    def _files_of(self, split: str) -> Optional[Callable[[], SourceFiles]]:
        return None if self.manifest.source_files is None else (lambda: self.files(split))

    @property
    def source_copy(self) -> Optional[SourceImages]:
        """The directory's source copy (opened and checked on first use; held whole in memory when
        its images fit ``source_cache_bytes``, an uncompressed one read now so that DataLoader
        workers forked later share it: see :class:`mixshards.SourceImages`), or ``None`` when it
        has none."""
        if self._source is None and self.manifest.source_copy is not None:
            self._fetch(self.manifest.source_copy, pin=True)
            self._source = open_source_copy(self.manifest, self.path, self.source_cache_bytes).hold()
        return self._source

    def _open(self, entry: manifest_mod.ShardEntry, position: int, split: str, epoch: int,
              source: Optional[SourceImages] = None) -> ShardFile:
        """Opens the shard listed at ``position`` of a split, checking its header against the listing."""
        path = os.path.join(self.path, entry.file)
        count = self.manifest.source["trainCount" if split == "train" else "testCount"]
        if self._storage is not None:  # a remote directory: fetched when its chunks are first read
            shard = self._storage.shard(entry, path, source, count, split)
        elif not os.path.exists(path):
            raise ShardError(f"{path}: missing (listed in {manifest_mod.FILE_NAME})")
        else:
            shard = ShardFile(path, source, source_count=count, split_name=split)
        h = shard.header
        if h.sample_count != entry.samples:
            raise ShardError(f"{path}: holds {h.sample_count} samples, the manifest says {entry.samples}")
        if h.split != split or (split == "train" and h.epoch != epoch):
            raise ShardError(f"{path}: header says split {h.split} epoch {h.epoch}, "
                             f"the manifest lists it under {split} epoch {epoch}")
        if h.shard_index != position:
            where = f"train epoch {epoch}" if split == "train" else "the test split"
            raise ShardError(f"{path}: header says shardIndex {h.shard_index}, the manifest lists it at position "
                             f"{position} of {where}")
        if h.class_count != len(self.classes):
            raise ShardError(f"{path}: has {h.class_count} classes, the manifest names {len(self.classes)}")
        if h.shape != self.shape:
            raise ShardError(f"{path}: image shape {wording.image(*h.shape)} differs from the manifest's "
                             f"{wording.image(*self.shape)}")
        return shard

    def close(self) -> None:
        """Forgets every opened shard (they hold no descriptor between reads)."""
        for shards in [*self._train.values(), self._test or []]:
            for s in shards:
                s.close()
        self._train.clear()
        self._test = None
        if self._source is not None:
            self._source.close()
            self._source = None
        if self._storage is not None:
            self._storage.close()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cycle_warning(path: str, e: int, epochs: int) -> str:
    """The warning for reading epoch ``e`` of a directory that materialises ``epochs``."""
    return (f"{path}: epoch {e} is beyond the {epochs} materialised; "
            f"epochs ≥ {epochs} reuse the shards of epoch (e mod {epochs}), reshuffled")


def open_source_copy(manifest: manifest_mod.Manifest, directory: str,
                     cache_bytes: Optional[int] = None) -> Optional[SourceImages]:
    """The source copy a manifest lists, opened and checked (structure, an uncompressed
    copy's CRCs, image count), or ``None`` when it lists none; ``cache_bytes`` bounds the
    memory its images take (see :class:`SourceImages`)."""
    entry = manifest.source_copy
    if entry is None:
        return None
    path = os.path.join(str(directory), entry.file)
    if not os.path.exists(path):
        raise ShardError(f"{path}: missing (listed in {manifest_mod.FILE_NAME})")
    unpacked_dir = unpacked_source_directory()
    source = SourceImages(path, cache_bytes, unpacked=(unpacked_dir, entry.sha256) if unpacked_dir else None)
    train_count = manifest.source.get("trainCount")
    if source.count != entry.samples or source.count != train_count:
        source.close()
        raise ShardError(f"{path}: holds {source.count} images, the manifest says {entry.samples} "
                         f"(source: {train_count} training images)")
    return source


def read_listed(directory: str, entry: manifest_mod.ShardEntry) -> tuple[Optional[bytes], list[str]]:
    """The bytes of a file the manifest lists (a file list) and the problems with them (one line,
    naming the file): missing, a size other than the manifest's (then it is neither read nor
    hashed: a list extended to 4 GiB used to be read whole), or a SHA-256 other than the manifest's."""
    path = os.path.join(str(directory), entry.file)
    if not os.path.exists(path):
        return None, [f"{path}: missing (listed in {manifest_mod.FILE_NAME})"]
    try:
        data, size, digest = fileio.read_listed(path, entry.bytes)
    except ShardError as e:
        return None, [str(e)]
    if size != entry.bytes:
        return None, [f"{path}: {size} bytes, the manifest says {entry.bytes}"]
    problems = []
    if digest != entry.sha256:
        problems.append(f"{path}: SHA-256 {digest[:16]}… differs from the manifest's {entry.sha256[:16]}…")
    return data, problems


def _checked(directory: str, entry: manifest_mod.ShardEntry) -> bytes:
    data, problems = read_listed(directory, entry)
    if problems:
        raise ShardError(problems[0])
    return data


def load_source_files(manifest: manifest_mod.Manifest, directory: str, split: str) -> SourceFiles:
    """A split's file list, checked against the manifest (presence, size, SHA-256, rows)
    and row by row (see :func:`mixshards.sourcefiles.parse_files`)."""
    info = manifest.source_files
    entry = info.train if split == "train" else info.test
    path = os.path.join(str(directory), entry.file)
    files = sourcefiles.parse_files(_checked(directory, entry), path, split, manifest.class_names)
    if len(files) != entry.samples:
        raise ShardError(f"{path}: {len(files)} rows, the manifest says {entry.samples}")
    return files


def load_skipped_files(manifest: manifest_mod.Manifest, directory: str) -> tuple[SkippedFile, ...]:
    """``skipped-files.csv``, checked against the manifest and row by row."""
    entry = manifest.source_files.skipped
    path = os.path.join(str(directory), entry.file)
    skipped = sourcefiles.parse_skipped(_checked(directory, entry), path)
    if len(skipped) != entry.samples:
        raise ShardError(f"{path}: {len(skipped)} rows, the manifest says {entry.samples}")
    return skipped


def source_copy_for_shard(path: str, header: layout.Header) -> Optional[SourceImages]:
    """The source copy a lone shard file resolves its references from: the one of
    the shard directory two levels up (``DIR/train/epoch-NNN/shard-NNNNN.mxs``),
    or ``None`` when the shard has no references (what ``mixprep inspect`` does)."""
    if not header.has_references:
        return None
    directory = os.path.dirname(os.path.dirname(os.path.dirname(str(path)))) or "."
    if not os.path.exists(os.path.join(directory, manifest_mod.FILE_NAME)):
        raise ShardError(f"{path}: holds reference samples, and no shard directory ({manifest_mod.FILE_NAME}) "
                         "two levels up holds their source copy")
    return open_source_copy(manifest_mod.load(directory), directory)


def open_shard(path: str) -> ShardFile:
    """Opens a lone shard file, with the source copy of its directory when it holds references."""
    with ShardFile(path) as probe:
        header = probe.header
    source = source_copy_for_shard(path, header)
    shard = ShardFile(path, source)
    shard._owned_source = source  # closed with the shard
    return shard
