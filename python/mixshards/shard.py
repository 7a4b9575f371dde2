"""One MixShard file: structure checked at open, chunks inflated and checked on
demand, reference samples resolved from the directory's source copy."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import zlib
from collections import OrderedDict
from typing import Callable, Optional

import numpy as np

from . import fileio, inflate, layout, rules, wording
from .errors import ShardError
from .labels import SparseLabels
from .transform import transform_many


class Chunk:
    """One inflated, checked chunk, references resolved. Arrays are read-only (they may be cached).

    A v3 shard stores its labels as sparse records: :attr:`sparse` gives them as they are, and
    :attr:`labels` the dense rows they stand for, expanded (and held to rule 7, naming file and
    chunk) on first use — a reader that wants only the sparse form never builds ``n × K`` floats.
    """

    __slots__ = ("first_sample", "images", "provenance", "sparse", "ops", "_labels", "_expand")

    def __init__(self, first_sample: int, images: np.ndarray, labels: Optional[np.ndarray], provenance: Optional[np.ndarray],
                 sparse: Optional[SparseLabels] = None, expand: Optional[Callable[[], np.ndarray]] = None,
                 ops: Optional[np.ndarray] = None):
        self.first_sample = first_sample
        #: ``n × C × H × W`` uint8: every sample's pixels (references resolved).
        self.images = images
        #: ``n`` records of :data:`mixshards.layout.PROVENANCE_V2` (v1 records
        #: converted), or ``None`` when the shard stores no provenance.
        self.provenance = provenance
        #: v3: the labels in sparse form (:class:`mixshards.labels.SparseLabels`); ``None`` for
        #: a shard that stores dense rows (v1, v2, v3 ``labelType`` 0).
        self.sparse = sparse
        #: v4: ``n`` op records of :data:`mixshards.layout.OP_RECORD` (the ``[augment]`` ops beyond
        #: crop and flip, and random erasing); ``None`` before v4 or without provenance.
        self.ops = ops
        self._labels = labels
        self._expand = expand

    @property
    def labels(self) -> np.ndarray:
        """``n × K`` float32 soft labels: the rows as stored, or the sparse records expanded."""
        if self._labels is None:
            rows = self._expand()
            rows.flags.writeable = False
            self._labels = rows
        return self._labels

    def __len__(self) -> int:
        return len(self.images)

    def _field(self, name: str) -> Optional[np.ndarray]:
        return None if self.provenance is None else self.provenance[name]

    @property
    def primary(self) -> Optional[np.ndarray]:
        """``n`` uint32: source index of each primary, or ``None`` without provenance."""
        return self._field("primary")

    @property
    def partner(self) -> Optional[np.ndarray]:
        """``n`` uint32: source index of each partner (``== primary`` when unmixed), or ``None``."""
        return self._field("partner")

    @property
    def lam(self) -> Optional[np.ndarray]:
        """``n`` float32: weight of the primary (1 when unmixed), or ``None``."""
        return self._field("lam")

    @property
    def kind(self) -> Optional[np.ndarray]:
        """``n`` uint8: 0 copy, 1 blend, 2 cutmix (``layout.KINDS``), or ``None``."""
        return self._field("kind")

    @property
    def reference(self) -> Optional[np.ndarray]:
        """``n`` bool: stored as a reference to the source copy (its pixels resolved here), or ``None``."""
        return None if self.provenance is None else (self.provenance["flags"] & layout.REFERENCE) != 0


#: The default bound on the memory a source copy's images take in a reader (1 GiB), as in Swift
#: (``SourceImages.defaultCacheBytes``): a copy that fits is held whole, a larger compressed one keeps
#: at most this much of inflated chunks (see :class:`SourceImages`).
DEFAULT_SOURCE_CACHE_BYTES = 1 << 30

_SIZE = re.compile(r"^[0-9.]+[KMGkmg]?$")


def source_cache_bytes(environ=None) -> int:
    """The bound on the memory a source copy's images take (:class:`SourceImages`):
    ``MIXSHARDS_SOURCE_CACHE`` (bytes, or with a K, M or G suffix for KiB, MiB, GiB) when set,
    else :data:`DEFAULT_SOURCE_CACHE_BYTES`."""
    text = (os.environ if environ is None else environ).get("MIXSHARDS_SOURCE_CACHE")
    if text is None:
        return DEFAULT_SOURCE_CACHE_BYTES
    unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    digits = text[:-1] if unit != 1 else text
    try:
        value = float(digits) * unit if _SIZE.match(text) and digits else 0.0
    except ValueError:
        value = 0.0
    if not value > 0 or value >= 2 ** 63:
        raise ShardError(f"MIXSHARDS_SOURCE_CACHE must be a size in bytes, optionally with K, M or G (got {text!r})")
    return int(value)


def unpacked_source_directory(environ=None) -> Optional[str]:
    """Where compressed source copies are read through their unpacked copy (:class:`SourceImages`):
    ``MIXSHARDS_UNPACKED_SOURCE`` when set and not empty, else ``None`` (as the Swift readers)."""
    return (os.environ if environ is None else environ).get("MIXSHARDS_UNPACKED_SOURCE") or None


def unpacked_file_name(key: str) -> str:
    """The unpacked copy's file name for a source copy whose SHA-256 is ``key`` (Swift ``UnpackedSource``)."""
    return f"source-{key}.unpacked"


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

#: Bytes of chunks inflated at a time while making an unpacked copy.
_UNPACK_BLOCK_BYTES = 64 << 20


class _ChunkCache:
    """Inflated source-copy chunks (read-only ``n × C × H × W`` arrays) by chunk index, at most
    ``capacity`` bytes of them and always the one inserted last, least recently used dropped
    first; safe to share between threads."""

    def __init__(self, capacity: int):
        self.capacity = max(0, int(capacity))
        self._chunks: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.inflated = self.evicted = self.resident_bytes = 0

    def get(self, keys) -> dict:
        with self._lock:
            out = {}
            for k in keys:
                a = self._chunks.get(k)
                if a is not None:
                    self._chunks.move_to_end(k)
                    out[k] = a
            self.hits += len(out)
            return out

    def put(self, k: int, a: np.ndarray) -> None:
        with self._lock:
            if k in self._chunks:
                return
            self.inflated += 1
            while self._chunks and self.resident_bytes + a.nbytes > self.capacity:
                _, old = self._chunks.popitem(last=False)
                self.resident_bytes -= old.nbytes
                self.evicted += 1
            self._chunks[k] = a
            self.resident_bytes += a.nbytes


class SourceImages:
    """The source images reference samples point into: the directory's source
    copy (``source/train.mxs``, a shard of split ``source``).

    One byte bound, ``cache_bytes`` (default :func:`source_cache_bytes`: 1 GiB, or
    ``MIXSHARDS_SOURCE_CACHE``), is the memory the copy's images may take in this
    process:

    - A copy whose images fit the bound is **held whole**, in one ``count × C × H × W``
      array laid out as the file (Swift keeps such a copy in one buffer too), and a
      reference resolves by one numpy gather. A compressed copy's chunks are inflated
      into their place when a reference first needs them; an uncompressed copy is read
      into it by :meth:`hold`, which a directory's reader (:func:`mixshards.open`) calls
      when it opens the copy, so that DataLoader workers forked later share its pages.
    - A larger uncompressed, unfiltered copy (or one not held: a lone shard's,
      ``verify``'s) is read image by image: resolving references reads just the images
      they name (``os.pread``, one read per run of nearby images).
    - A larger compressed (or filtered) v3 copy keeps at most the bound of inflated
      chunks (least recently used dropped first; always the chunk inflated last).
    - With ``unpacked=(directory, sha256)`` (what :func:`mixshards.open` passes when
      ``MIXSHARDS_UNPACKED_SOURCE`` is set), a compressed copy of any size is read
      through its unpacked copy there instead, made first when it is missing (Swift's
      ``UnpackedSource``; see :meth:`_open_unpacked`), and the bound does not apply.

    An uncompressed copy's rawCRCs are all checked when it is opened; a compressed
    copy's chunks are read (one ``pread`` per run of nearby chunks), inflated, unfiltered
    and their rawCRC checked each time one is inflated, which a held copy does once.
    Opening checks the structure and that it is a source copy. Source image ``k`` is
    sample ``k`` of the file. Safe to share between threads.
    """

    #: Images of a chunk (or chunks) at most this many bytes apart are read with one ``pread``.
    GAP_BYTES = 16384

    def __init__(self, path: str, cache_bytes: Optional[int] = None,
                 unpacked: Optional[tuple[str, str]] = None):
        self.shard = ShardFile(path)
        h = self.shard.header
        problem = layout.source_copy_problem(h)
        if problem is not None:
            self.shard.close()
            raise ShardError(f"{self.shard.path}: header: {problem}")
        self.path = self.shard.path
        #: Images held.
        self.count = h.sample_count
        #: ``(C, H, W)``.
        self.shape = h.shape
        #: Whether chunks are inflated on demand (a compressed or filtered copy).
        self.compressed = h.codec != "none" or h.image_filter != "none"
        #: The bound on the memory the copy's images take (see the class's documentation).
        self.cache_bytes = source_cache_bytes() if cache_bytes is None else max(0, int(cache_bytes))
        #: Bytes of the copy's images.
        self.image_bytes_total = self.count * h.image_bytes
        #: Whether the copy's images fit :attr:`cache_bytes` (then it is, or can be, held whole).
        self.fits = 0 < self.image_bytes_total <= self.cache_bytes
        self._per_chunk = max(h.samples_per_chunk, 1)
        self._image_bytes = h.image_bytes
        self._offsets = np.asarray(self.shard.index["offset"], np.int64)
        self._file = self.shard.file
        self._cache = _ChunkCache(self.cache_bytes)
        self._whole: Optional[np.ndarray] = None   # the held copy (count × C × H × W)
        self._ready: Optional[np.ndarray] = None   # compressed and held: which chunks are in place
        self._hold_lock = threading.Lock()
        #: The unpacked copy read through, and whether this object made it (``None``: not read so).
        self.unpacked: Optional[tuple[str, bool]] = None
        self._mapped = None  # the unpacked copy, mapped copy-on-write
        if self.compressed:
            if unpacked is not None and self.count > 0:
                try:
                    self._open_unpacked(*unpacked)
                except BaseException:
                    self.shard.close()
                    raise
            return
        fd = self._file.open()
        try:
            for i, (offset, _stored, raw, _first, _n, crc, _images) in enumerate(self.shard.index.tolist()):
                computed = 0
                for at in range(offset, offset + raw, 1 << 24):  # 16 MiB at a time: chunks reach 64 MiB
                    computed = zlib.crc32(fileio.pread_exact(fd, min(1 << 24, offset + raw - at), at, self.path,
                                                             f"chunk {i}: ", "the chunk"), computed)
                if computed != crc:
                    raise ShardError(f"{self.path}: chunk {i}: rawCRC mismatch "
                                     f"(stored {layout.hex32(crc)}, computed {layout.hex32(computed)})")
        finally:
            os.close(fd)

    def _open_unpacked(self, directory: str, key: str) -> None:
        """Reads a compressed copy through its unpacked copy in ``directory`` (the file Swift's
        ``UnpackedSource`` makes and maps: every chunk's raw payload, each at a multiple of 64
        bytes, padding zero), made now when it is missing or of another length. Each chunk's
        rawCRC is checked the first time a reference needs it; one that fails is inflated again
        into this process's copy-on-write pages and the file removed, to be made again."""
        if not _SHA256_HEX.fullmatch(key):
            raise ShardError(f"{self.path}: cannot be unpacked under a key that is not a SHA-256 (64 lowercase hex digits)")
        index = self.shard.index
        raw = np.asarray(index["raw"], np.int64)
        padded = (raw + 63) & ~63
        self._u_offsets = np.concatenate([[0], np.cumsum(padded)[:-1]]).astype(np.int64)
        self._u_raw = raw
        total = int(padded.sum())
        path = os.path.join(directory, unpacked_file_name(key))
        made = False
        if not (os.path.isfile(path) and os.path.getsize(path) == total):
            self._make_unpacked(path, total)
            made = True
        mapped = np.memmap(path, np.uint8, mode="c")
        if len(mapped) != total:
            raise ShardError(f"{path}: holds {len(mapped)} bytes; the unpacked copy of {self.path} holds {total} "
                             "(another process replaced it?)")
        # Every chunk but the last holds `per` images and has the same payload: image k of the full chunks
        # is at (k // per)·S + (k % per)·imageBytes, the last chunk's at its own offset.
        per, ib, shape = self._per_chunk, self._image_bytes, self.shape
        full = self.count // per
        pixel = (shape[1] * shape[2], shape[2], 1)
        if full and not np.all(padded[:full] == padded[0]):
            raise ShardError(f"{self.path}: chunks of {per} images differ in size; cannot be read unpacked")
        # One image a chunk (the default): one index per image, no second axis to index.
        self._u_full = ((np.ndarray((full, *shape), np.uint8, mapped, 0, (int(padded[0]), *pixel)) if per == 1 else
                         np.ndarray((full, per, *shape), np.uint8, mapped, 0, (int(padded[0]), ib, *pixel)))
                        if full else None)
        rest = self.count - full * per
        self._u_last = (np.ndarray((rest, *shape), np.uint8, mapped, int(self._u_offsets[full]), (ib, *pixel))
                        if rest else None)
        self._u_full_count = full * per
        self._u_checked = np.zeros(self.shard.chunk_count, bool)
        self._u_unchecked = self.shard.chunk_count  # chunks not yet checked (0: nothing left to look up)
        self._u_damaged = False
        self._mapped = mapped
        self.unpacked = (path, made)

    def _make_unpacked(self, path: str, total: int) -> None:
        """Writes the unpacked copy to a temporary file beside ``path`` (exclusive, never through a
        link), every chunk inflated and checked, fsynced and renamed to ``path``."""
        try:
            with fileio.AtomicFile(path) as out:
                n = self.shard.chunk_count
                first = 0
                while first < n:
                    last, size = first, 0
                    while last < n and (last == first or size + self._u_raw[last] <= _UNPACK_BLOCK_BYTES):
                        size += int(self._u_raw[last])
                        last += 1
                    for payload in self._payloads(list(range(first, last))).values():
                        out.write(payload)
                        out.write(bytes(-len(payload) % 64))
                    first = last
        except OSError as e:
            raise ShardError(f"{path}: cannot write the unpacked copy: {e.strerror or e}") from None

    def _unpacked_images(self, u: np.ndarray) -> np.ndarray:
        """:meth:`images` through the unpacked copy: chunks not yet checked have their rawCRC
        checked (a damaged one inflated into this process's pages), then one gather."""
        per = self._per_chunk
        chunk = u // per
        todo = np.unique(chunk[~self._u_checked[chunk]]) if self._u_unchecked else chunk[:0]
        for k in todo.tolist():
            a, r = int(self._u_offsets[k]), int(self._u_raw[k])
            if zlib.crc32(self._mapped[a:a + r]) != int(self.shard.index["crc"][k]):
                self._mapped[a:a + r] = np.frombuffer(self._payloads([k])[k], np.uint8)
                with self._cache._lock:
                    self._cache.inflated += 1
                    first_damage, self._u_damaged = not self._u_damaged, True
                if first_damage:
                    try:
                        os.unlink(self.unpacked[0])
                    except OSError:
                        pass
            with self._cache._lock:
                if not self._u_checked[k]:
                    self._u_checked[k] = True
                    self._u_unchecked -= 1
        if self._u_last is None:  # every image in a full chunk
            out = self._u_full[u] if per == 1 else self._u_full[chunk, u - chunk * per]
        else:
            out = np.empty((len(u), *self.shape), np.uint8)
            in_full = u < self._u_full_count
            if self._u_full is not None:
                out[in_full] = (self._u_full[u[in_full]] if per == 1 else
                                self._u_full[chunk[in_full], u[in_full] - chunk[in_full] * per])
            out[~in_full] = self._u_last[u[~in_full] - self._u_full_count]
        out.flags.writeable = False
        return out

    @property
    def held(self) -> bool:
        """Whether the copy is held whole in memory (a compressed one that fits: filled chunk by chunk
        as references need them, its array made when the first one does)."""
        return self.fits if self.compressed else self._whole is not None

    def hold(self) -> "SourceImages":
        """Reads an uncompressed copy that fits the bound into memory now (a compressed one that fits
        is held from the start, filled chunk by chunk as references need them); returns ``self``."""
        if self.fits and not self.compressed and self._whole is None:
            with self._hold_lock:
                if self._whole is None:
                    whole = self._read_images(np.arange(self.count, dtype=np.int64))
                    whole.flags.writeable = False
                    self._whole = whole
        return self

    def cache_statistics(self) -> dict:
        """How a compressed copy has served requests for chunks: ``hits`` (chunks found inflated,
        in the cache or in place in a held copy), chunks ``inflated`` and ``evicted``,
        ``resident_bytes`` (the inflated images kept); all 0 for an uncompressed copy."""
        c = self._cache
        with c._lock:
            return {"hits": c.hits, "inflated": c.inflated, "evicted": c.evicted, "resident_bytes": c.resident_bytes}

    def __len__(self) -> int:
        return self.count

    def image(self, k: int) -> np.ndarray:
        """Source image ``k`` (``C × H × W``, read-only)."""
        if not 0 <= k < self.count:
            raise IndexError(f"{self.path}: source image {k} out of range ({_indices(self.count)})")
        return self.images([k])[0]

    def images(self, indices) -> np.ndarray:
        """Source images ``indices`` (sorted, distinct, in range) as one read-only ``n × C × H × W`` array."""
        u = np.asarray(indices, np.int64)
        if not len(u):
            return np.empty((0, *self.shape), np.uint8)
        if self._mapped is not None:
            return self._unpacked_images(u)
        if self.compressed:
            return self._held_images(u) if self.fits else self._inflated_images(u)
        whole = self._whole
        if whole is not None:
            out = whole[u]
            out.flags.writeable = False
            return out
        return self._read_images(u)

    def _read_images(self, u: np.ndarray) -> np.ndarray:
        """Images ``u`` (sorted, distinct) of an uncompressed copy, read from the file."""
        ib = self._image_bytes
        chunk = u // self._per_chunk
        # Runs of images of one chunk at most GAP_BYTES apart are read with one pread each (the images between
        # read and dropped): cheaper than a call each. The loop below only reads; the rest is vectorised.
        gap = max(0, self.GAP_BYTES // ib)
        cut = np.flatnonzero((chunk[1:] != chunk[:-1]) | (u[1:] - u[:-1] > gap + 1)) + 1
        starts, ends = np.r_[0, cut], np.r_[cut, len(u)]
        first, count = u[starts], u[ends - 1] - u[starts] + 1
        offsets = (self._offsets[chunk[starts]] + (first - chunk[starts] * self._per_chunk) * ib).tolist()
        sizes = (count * ib).tolist()
        fd = self._file.open()
        try:
            parts = [os.pread(fd, n, o) for n, o in zip(sizes, offsets)]
            for j, (n, o) in enumerate(zip(sizes, offsets)):
                if len(parts[j]) != n:  # a short read: retried until the file ends (then an error)
                    parts[j] = fileio.pread_exact(fd, n, o, self.path, f"chunk {int(chunk[starts[j]])}: ",
                                                  "reading its images")
        except OSError as e:
            raise ShardError(f"{self.path}: read failed ({e.strerror or e})") from None
        finally:
            os.close(fd)
        pool = np.frombuffer(parts[0] if len(parts) == 1 else b"".join(parts), np.uint8).reshape(-1, *self.shape)
        if len(pool) == len(u):
            return pool
        # Image u[j] of run r is at pool position (images before run r) + (u[j] − first[r]).
        run = np.repeat(np.arange(len(starts)), ends - starts)
        before = np.r_[0, np.cumsum(count)[:-1]]
        return pool[before[run] + u - first[run]]

    def _held_images(self, u: np.ndarray) -> np.ndarray:
        """:meth:`images` of a held compressed copy: the chunks holding ``u`` not yet in place are
        inflated and checked into it (once), then one gather."""
        if self._whole is None:
            with self._hold_lock:
                if self._whole is None:  # np.empty: pages are only taken as chunks are inflated into them
                    self._ready = np.zeros(self.shard.chunk_count, bool)
                    self._whole = np.empty((self.count, *self.shape), np.uint8)
        needed = np.unique(u // self._per_chunk)
        missing = needed[~self._ready[needed]]
        c = self._cache
        with c._lock:
            c.hits += len(needed) - len(missing)
        if len(missing):
            # Another thread may inflate the same chunk meanwhile: both write the same checked bytes.
            for k, images in self._inflate(missing.tolist()).items():
                self._whole[k * self._per_chunk:k * self._per_chunk + len(images)] = images
                with c._lock:
                    if not self._ready[k]:
                        self._ready[k] = True
                        c.inflated += 1
                        c.resident_bytes += images.nbytes
        out = self._whole[u]
        out.flags.writeable = False
        return out

    def _inflated_images(self, u: np.ndarray) -> np.ndarray:
        """:meth:`images` of a compressed copy larger than the bound: the chunks holding ``u`` from
        the cache, the others read, inflated and checked (then cached), gathered into one array."""
        per = self._per_chunk
        chunk = u // per
        needed = np.unique(chunk)
        keys = needed.tolist()
        got = self._cache.get(keys)
        missing = [k for k in keys if k not in got]
        if missing:
            inflated = self._inflate(missing)
            for k, images in inflated.items():
                self._cache.put(k, images)
            got.update(inflated)
        # Every chunk but the last holds `per` images and the last sorts last: chunk needed[r]
        # starts at r·per in the pool.
        pool = np.concatenate([got[k] for k in keys]) if len(keys) > 1 else got[keys[0]]
        rank = np.searchsorted(needed, chunk)
        out = pool[rank * per + (u - chunk * per)]
        out.flags.writeable = False
        return out

    def _payloads(self, chunks: list) -> dict:
        """The raw payloads (bytes: images unfiltered, then the rest) of chunks ``chunks`` (sorted),
        inflated and their rawCRC checked."""
        return self._inflate(chunks, as_payloads=True)

    def _inflate(self, chunks: list, as_payloads: bool = False) -> dict:
        """Chunks ``chunks`` (sorted) read (one ``pread`` per run at most GAP_BYTES apart), inflated,
        unfiltered and their rawCRC checked, as read-only ``n × C × H × W`` arrays (with
        ``as_payloads``, as :meth:`_payloads`)."""
        index = self.shard.index
        entries = [tuple(int(v) for v in index[k]) for k in chunks]
        runs, start = [], 0
        for j in range(1, len(chunks) + 1):
            if j == len(chunks) or entries[j][0] - (entries[j - 1][0] + entries[j - 1][1]) > self.GAP_BYTES:
                runs.append((start, j))
                start = j
        h = self.shard.header
        payloads = []
        fd = self._file.open()
        try:
            for a, b in runs:
                first, last = entries[a], entries[b - 1]
                data = fileio.pread_exact(fd, last[0] + last[1] - first[0], first[0], self.path,
                                          f"chunk {chunks[a]}: ", "the chunk")
                for j in range(a, b):
                    offset, stored, raw = entries[j][:3]
                    k = chunks[j]

                    def fail(what: str, k=k) -> ShardError:
                        return ShardError(f"{self.path}: chunk {k}: {what}")
                    part = data[offset - first[0]:offset - first[0] + stored]
                    payloads.append(_inflate(part, raw, fail) if h.codec == "zlib" else part)
        except OSError as e:
            raise ShardError(f"{self.path}: read failed ({e.strerror or e})") from None
        finally:
            os.close(fd)
        counts = [e[4] for e in entries]
        region = [n * self._image_bytes for n in counts]
        stored = np.frombuffer(b"".join(p[:r] for p, r in zip(payloads, region)), np.uint8).reshape(-1, *self.shape)
        images = undo_delta(stored) if h.image_filter == "delta" else stored
        out, at = {}, 0
        for j, k in enumerate(chunks):
            mine = images[at:at + counts[j]]
            at += counts[j]
            computed = zlib.crc32(payloads[j][region[j]:], zlib.crc32(mine))
            if computed != entries[j][5]:
                raise ShardError(f"{self.path}: chunk {k}: rawCRC mismatch "
                                 f"(stored {layout.hex32(entries[j][5])}, computed {layout.hex32(computed)})")
            if as_payloads:
                out[k] = mine.tobytes() + bytes(payloads[j][region[j]:])
                continue
            mine = mine.copy() if len(chunks) > 1 else mine  # its own buffer: a cached chunk holds no other's bytes
            mine.flags.writeable = False
            out[k] = mine
        return out

    def transformed(self, indices, dx, dy, flip, out: Optional[np.ndarray] = None,
                    positions: Optional[np.ndarray] = None) -> np.ndarray:
        """``out[positions[i]]`` = source image ``indices[i]`` under transform
        ``(dx[i], dy[i], flip[i])`` (see :mod:`mixshards.transform`); indices must be in range."""
        indices = np.asarray(indices, np.int64)
        unique, inverse = np.unique(indices, return_inverse=True)
        return transform_many(self.images(unique), inverse.reshape(-1), dx, dy, flip, out, positions)

    def close(self) -> None:
        self.shard.close()

    def __enter__(self) -> "SourceImages":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def undo_delta(images: np.ndarray) -> np.ndarray:
    """Inverts the horizontal delta filter: a running sum mod 256 within each row.

    ``images`` is ``(…, W)`` uint8; returns a new contiguous array of the same shape.
    """
    out = np.array(images, dtype=np.uint8, order="C")
    # Column by column: W−1 vectorised adds over every row at once, which is
    # several times faster than np.cumsum along a short last axis. uint8 wraps
    # mod 256, exactly the filter's inverse.
    for x in range(1, out.shape[-1]):
        np.add(out[..., x], out[..., x - 1], out=out[..., x])
    return out


class ShardFile:
    """A read-only ``.mxs`` file (v1, v2 or v3).

    Opening checks the structure (magics, version, header CRC, format limits,
    file size, index CRC, every chunk's bounds and counts); :meth:`read_chunk`
    checks a chunk's contents (inflated size, rawCRC, provenance records, v3 sparse
    label records, label rows of weights in [0, 1] summing to 1) and resolves reference samples from ``source`` (the
    directory's :class:`SourceImages`), so what it yields is the fully
    materialised sample. A shard with references read without ``source`` fails
    at the first chunk that holds one. Every error is a :class:`ShardError`
    naming the file and, where there is one, the chunk.

    Chunks are read with ``os.pread``, not memory-mapped: a file truncated by
    another process after it was opened is then an error naming the file and the
    chunk (``chunk 3: the file ends at byte N, the chunk needs M``), not a SIGBUS
    that kills the process. No descriptor is held between reads (the file is
    reopened, and checked to be the same file, for each).
    """

    def __init__(self, path: str, source: Optional[SourceImages] = None, source_count: Optional[int] = None,
                 split_name: str = "source"):
        self.path = str(path)
        #: Resolves reference samples (``None``: the shard must hold none).
        self.source = source
        #: With ``source_count`` (a directory's reader knows it), every provenance primary and partner must be
        #: below it: an index into the ``split_name`` split's source images.
        self.source_count, self.split_name = source_count, split_name
        self._owned_source: Optional[SourceImages] = None
        #: The file, read by offset.
        self.file = fileio.RegularFile(self.path)
        size = self.size = self.file.size
        if size == 0:
            raise ShardError(f"{self.path}: header: file is 0 bytes, shorter than the 64-byte header")
        fd = self.file.open()
        try:
            def read(offset: int, n: int, where: str = "", part: str = "the read") -> bytes:
                return fileio.pread_exact(fd, n, offset, self.path, where, part)
            self.header = layout.decode_header(read(0, min(size, layout.HEADER_BYTES), "header: ", "the header"),
                                               self.path)
            footer = layout.decode_footer(lambda o, n: read(o, n, "footer: ", "the footer"), size, self.path)
            #: The chunk index, a structured array of ``layout.INDEX_DTYPE``.
            self.index = layout.decode_index(lambda o, n: read(o, n, "index: ", "the index"), size, self.header,
                                             footer, self.path)
        finally:
            os.close(fd)

    @property
    def sample_count(self) -> int:
        return self.header.sample_count

    @property
    def chunk_count(self) -> int:
        return self.header.chunk_count

    @property
    def bytes(self) -> bytes:
        """The whole file, read now (each use reads it again: see :meth:`sha256` to hash it)."""
        return self.file.read(0, self.size)

    def sha256(self) -> str:
        """SHA-256 (hex) of the file, read in blocks."""
        h = hashlib.sha256()
        fd = self.file.open()
        try:
            for at in range(0, self.size, 1 << 22):
                h.update(fileio.pread_exact(fd, min(1 << 22, self.size - at), at, self.path, "", "hashing it"))
        finally:
            os.close(fd)
        return h.hexdigest()

    def chunk_of(self, sample: int) -> int:
        """The chunk holding sample ``sample`` of this file (chunks hold ``samples_per_chunk`` each)."""
        return sample // self.header.samples_per_chunk

    def read_chunk(self, i: int) -> Chunk:
        """Inflates and checks chunk ``i``."""
        if not 0 <= i < self.chunk_count:
            raise IndexError(f"{self.path}: chunk {i} out of range ({_indices(self.chunk_count)})")
        offset, stored, raw, first, n, crc, m = (int(v) for v in self.index[i])
        h = self.header

        def fail(what: str) -> ShardError:
            return ShardError(f"{self.path}: chunk {i}: {what}")

        data = self.file.read(offset, stored, f"chunk {i}: ", "the chunk")
        payload = _inflate(data, raw, fail) if h.codec == "zlib" else data
        image_region = m * h.image_bytes
        buf = np.frombuffer(payload, dtype=np.uint8)
        stored_images = buf[:image_region].reshape(m, *h.shape)
        if h.image_filter == "delta":
            stored_images = undo_delta(stored_images)
            computed = zlib.crc32(payload[image_region:], zlib.crc32(stored_images))
        else:
            computed = zlib.crc32(payload)
        if computed != crc:
            raise fail(f"rawCRC mismatch (stored {layout.hex32(crc)}, computed {layout.hex32(computed)})")
        k = h.class_count
        provenance = ops = None
        if h.has_provenance:
            provenance = layout.decode_provenance(payload, image_region + n * h.label_bytes, n, h, first,
                                                  lambda what: fail(what))
            if h.op_record_bytes:
                ops = layout.decode_ops(payload, image_region + n * (h.label_bytes + h.provenance_bytes), n, h, provenance,
                                        first, fail)
            if self.source_count is not None:
                # Rule 8 for the directory reader (mixshards.open), worded as verify words it (rules.py, SampleRules.swift).
                what = "a test image (the split has" if self.split_name == "test" else "a training image (the source has"
                for role in ("primary", "partner"):
                    beyond = provenance[role] >= self.source_count
                    if beyond.any():
                        j = int(np.argmax(beyond))
                        raise fail(f"sample {first + j}: provenance: {role} {int(provenance[role][j])} is not "
                                   f"{what} {wording.grouped(self.source_count)})")
        sparse = expand = labels = None
        if h.label_type == "sparse":
            # Rule 7a, every record against its provenance, before anything is expanded.
            records = layout.decode_sparse_labels(payload, image_region, n, h, provenance, first, fail)
            sparse = SparseLabels.from_records(records, k, h.label_smoothing)

            def expand() -> np.ndarray:
                rows = layout.expand_sparse(records, k, h.label_smoothing)
                _check_label_rows(rows, first, fail)
                return rows
        else:
            labels = np.frombuffer(payload, dtype="<f4", count=n * k, offset=image_region).reshape(n, k)
        images = stored_images if not h.has_references else self._resolve(stored_images, provenance, first, fail)
        if labels is not None:
            _check_label_rows(labels, first, fail)
            labels = labels.astype(np.float32, copy=False)
            labels.flags.writeable = False
        images.flags.writeable = False
        return Chunk(first, images, labels, provenance, sparse, expand, ops)

    def _resolve(self, stored: np.ndarray, provenance: np.ndarray, first: int, fail) -> np.ndarray:
        """Every sample's pixels: the stored ones in sample order, references from the source copy."""
        n, m = len(provenance), len(stored)
        reference = (provenance["flags"] & layout.REFERENCE) != 0
        references = int(reference.sum())
        if references != n - m:
            raise fail(f"{references} samples are references but the index says {n - m}")
        if references == 0:
            return stored
        source = self.source
        if source is None:
            raise fail(f"{references} samples are references to the source copy; read the shard within its "
                       f"shard directory ({layout.SOURCE_FILE})")
        if source.shape != self.header.shape:
            raise fail(f"the source copy's images ({wording.image(*source.shape)}) differ from the shard's "
                       f"({wording.image(*self.header.shape)})")
        refs = np.flatnonzero(reference)
        primary = provenance["primary"][refs]
        beyond = primary >= source.count
        if beyond.any():
            j = int(np.argmax(beyond))
            raise fail(f"sample {first + int(refs[j])}: references source image {primary[j]}, "
                       f"the source copy holds {source.count}")
        images = np.empty((n, *self.header.shape), np.uint8)
        images[~reference] = stored
        p = provenance[refs]
        source.transformed(primary, p["primary_dx"], p["primary_dy"], (p["flags"] & layout.FLIP_PRIMARY) != 0,
                           out=images, positions=refs)
        return images

    def read_all(self) -> Chunk:
        """Every chunk, checked, as one block (sparse labels expanded chunk by chunk on first use)."""
        chunks = [self.read_chunk(i) for i in range(self.chunk_count)]
        h = self.header
        sparse = h.label_type == "sparse"
        if not chunks:
            return Chunk(0, np.zeros((0, *h.shape), np.uint8), np.zeros((0, h.class_count), np.float32),
                         np.zeros(0, layout.PROVENANCE_V2) if h.has_provenance else None,
                         SparseLabels.concatenate([], h.class_count, h.label_smoothing) if sparse else None)

        def cat(name: str):
            parts = [getattr(c, name) for c in chunks]
            return None if parts[0] is None else np.concatenate(parts)
        if not sparse:
            return Chunk(0, cat("images"), cat("labels"), cat("provenance"), ops=cat("ops"))
        return Chunk(0, cat("images"), None, cat("provenance"),
                     SparseLabels.concatenate([c.sparse for c in chunks], h.class_count, h.label_smoothing),
                     lambda: np.concatenate([c.labels for c in chunks]), cat("ops"))

    def close(self) -> None:
        """Closes the source copy this shard opened for itself (:func:`mixshards.open_shard`); the
        shard holds no descriptor or map of its own."""
        if self._owned_source is not None:
            self._owned_source.close()
            self._owned_source = None

    def __enter__(self) -> "ShardFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _indices(n: int) -> str:
    """The valid indices of ``n`` items, for an out-of-range message: ``from 0 to 9``."""
    return wording.span(0, n - 1) if n > 0 else "there are none"


def _inflate(data: bytes, raw: int, fail) -> bytes:
    """Inflates one zlib stream that must hold exactly ``raw`` bytes (never more is allocated):
    by libdeflate when it is installed (:mod:`mixshards.inflate`), else, and for the error, zlib."""
    fast = inflate.inflate_exact(data, raw)
    if fast is not None:
        return fast
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, raw + 1)
    except zlib.error as e:
        raise fail(f"zlib stream is damaged: {e}") from None
    if len(out) > raw:
        raise fail(f"inflates to more than the expected {raw} bytes")
    if not d.eof:
        raise fail("zlib stream is truncated")
    if d.unused_data:
        raise fail(f"{len(d.unused_data)} trailing bytes after the zlib stream")
    if len(out) != raw:
        raise fail(f"inflated {len(out)} bytes, expected {raw}")
    return out


def _check_label_rows(labels: np.ndarray, first: int, fail) -> None:
    """Each weight in [0, 1], each row summing to 1 (±1e-4): :func:`mixshards.rules.check_label_rows`."""
    rules.check_label_rows(labels, first, fail)
