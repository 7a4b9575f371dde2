"""One MixShard file: structure checked at open, chunks inflated and checked on
demand, reference samples resolved from the directory's source copy."""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import fileio, inflate, layout, rules, wording
from .errors import ShardError
from .transform import transform_many


@dataclass(frozen=True)
class Chunk:
    """One inflated, checked chunk, references resolved. Arrays are read-only (they may be cached)."""

    first_sample: int
    #: ``n × C × H × W`` uint8: every sample's pixels (references resolved).
    images: np.ndarray
    #: ``n × K`` float32.
    labels: np.ndarray
    #: ``n`` records of :data:`mixshards.layout.PROVENANCE_V2` (v1 records
    #: converted), or ``None`` when the shard stores no provenance.
    provenance: Optional[np.ndarray]

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


class SourceImages:
    """The source images reference samples point into: the directory's source
    copy (``source/train.mxs``, a v2 shard of split ``source``, stored
    uncompressed and unfiltered). Resolving references reads just the images
    they name (``os.pread``, one read per run of nearby images) and transforms
    them: no chunk is inflated.

    Opening checks the structure, that it is a source copy, and every chunk's
    rawCRC (once). Source image ``k`` is sample ``k`` of the file.
    """

    #: Images of a chunk at most this many bytes apart are read with one ``pread``.
    GAP_BYTES = 16384

    def __init__(self, path: str):
        self.shard = ShardFile(path)
        h = self.shard.header
        if h.split != "source" or h.codec != "none" or h.image_filter != "none" or h.has_references:
            self.shard.close()
            raise ShardError(f"{self.shard.path}: header: not a source copy "
                             "(needs split source, codec none, filter none, no references)")
        self.path = self.shard.path
        #: Images held.
        self.count = h.sample_count
        #: ``(C, H, W)``.
        self.shape = h.shape
        self._per_chunk = max(h.samples_per_chunk, 1)
        self._image_bytes = h.image_bytes
        self._offsets = np.asarray(self.shard.index["offset"], np.int64)
        self._file = self.shard.file
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
        ib = self._image_bytes
        if not len(u):
            return np.empty((0, *self.shape), np.uint8)
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
    """A read-only ``.mxs`` file (v1 or v2).

    Opening checks the structure (magics, version, header CRC, format limits,
    file size, index CRC, every chunk's bounds and counts); :meth:`read_chunk`
    checks a chunk's contents (inflated size, rawCRC, provenance records, label
    rows of weights in [0, 1] summing to 1) and resolves reference samples from ``source`` (the
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
        labels = np.frombuffer(payload, dtype="<f4", count=n * k, offset=image_region).reshape(n, k)
        provenance = None
        if h.has_provenance:
            provenance = layout.decode_provenance(payload, image_region + 4 * n * k, n, h, first,
                                                  lambda what: fail(what))
            if self.source_count is not None:
                # Rule 8 for the directory reader (mixshards.open), worded as verify words it (rules.py, SampleRules.swift).
                what = "a test image (the split has" if self.split_name == "test" else "a training image (the source has"
                for role in ("primary", "partner"):
                    beyond = provenance[role] >= self.source_count
                    if beyond.any():
                        j = int(np.argmax(beyond))
                        raise fail(f"sample {first + j}: provenance: {role} {int(provenance[role][j])} is not "
                                   f"{what} {wording.grouped(self.source_count)})")
        images = stored_images if not h.has_references else self._resolve(stored_images, provenance, first, fail)
        _check_label_rows(labels, first, fail)
        images.flags.writeable = False
        labels.flags.writeable = False
        return Chunk(first, images, labels.astype(np.float32, copy=False), provenance)

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
        """Every chunk, checked, as one block."""
        chunks = [self.read_chunk(i) for i in range(self.chunk_count)]
        h = self.header
        if not chunks:
            return Chunk(0, np.zeros((0, *h.shape), np.uint8), np.zeros((0, h.class_count), np.float32),
                         np.zeros(0, layout.PROVENANCE_V2) if h.has_provenance else None)

        def cat(name: str):
            parts = [getattr(c, name) for c in chunks]
            return None if parts[0] is None else np.concatenate(parts)
        return Chunk(0, cat("images"), cat("labels"), cat("provenance"))

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
