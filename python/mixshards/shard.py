"""One MixShard file: structure checked at open, chunks inflated and checked on
demand, reference samples resolved from the directory's source copy."""

from __future__ import annotations

import mmap
import os
import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import fileio, layout, rules, wording
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
    uncompressed and unfiltered), memory-mapped. Resolving a reference is a
    transform of bytes already in the map: no chunk is inflated.

    Opening checks the structure, that it is a source copy, and every chunk's
    rawCRC (once). Source image ``k`` is sample ``k`` of the file.
    """

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
        self._views = []
        data = self.shard.bytes
        for i, (offset, _stored, raw, _first, n, crc, _images) in enumerate(self.shard.index.tolist()):
            computed = zlib.crc32(data[offset:offset + raw])
            if computed != crc:
                self.close()
                raise ShardError(f"{self.path}: chunk {i}: rawCRC mismatch "
                                 f"(stored {layout.hex32(crc)}, computed {layout.hex32(computed)})")
            # Read-only views of the map: the chunk's images come first in its payload.
            self._views.append(np.frombuffer(data, np.uint8, n * h.image_bytes, offset).reshape(n, *h.shape))

    def __len__(self) -> int:
        return self.count

    def image(self, k: int) -> np.ndarray:
        """Source image ``k`` (``C × H × W``, a read-only view of the map)."""
        if not 0 <= k < self.count:
            raise IndexError(f"{self.path}: source image {k} out of range ({_indices(self.count)})")
        return self._views[k // self._per_chunk][k % self._per_chunk]

    def transformed(self, indices, dx, dy, flip, out: Optional[np.ndarray] = None,
                    positions: Optional[np.ndarray] = None) -> np.ndarray:
        """``out[positions[i]]`` = source image ``indices[i]`` under transform
        ``(dx[i], dy[i], flip[i])`` (see :mod:`mixshards.transform`); indices must be in range."""
        indices = np.asarray(indices, np.int64)
        if out is None:
            out = np.empty((len(indices), *self.shape), np.uint8)
        positions = np.arange(len(indices)) if positions is None else np.asarray(positions, np.int64)
        dx, dy, flip = np.asarray(dx), np.asarray(dy), np.asarray(flip, bool)
        chunk = indices // self._per_chunk
        for c in np.unique(chunk).tolist():
            sel = np.flatnonzero(chunk == c) if len(self._views) > 1 else slice(None)
            transform_many(self._views[c], indices[sel] - c * self._per_chunk, dx[sel], dy[sel], flip[sel],
                           out, positions[sel])
        return out

    def close(self) -> None:
        self._views = []
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
    """A read-only, memory-mapped ``.mxs`` file (v1 or v2).

    Opening checks the structure (magics, version, header CRC, format limits,
    file size, index CRC, every chunk's bounds and counts); :meth:`read_chunk`
    checks a chunk's contents (inflated size, rawCRC, provenance records, label
    rows of weights in [0, 1] summing to 1) and resolves reference samples from ``source`` (the
    directory's :class:`SourceImages`), so what it yields is the fully
    materialised sample. A shard with references read without ``source`` fails
    at the first chunk that holds one. Every error is a :class:`ShardError`
    naming the file and, where there is one, the chunk.
    """

    def __init__(self, path: str, source: Optional[SourceImages] = None):
        self.path = str(path)
        #: Resolves reference samples (``None``: the shard must hold none).
        self.source = source
        self._owned_source: Optional[SourceImages] = None
        fd, st = fileio.open_regular(self.path)
        try:
            size = st.st_size
            if size == 0:
                raise ShardError(f"{self.path}: header: file is 0 bytes, shorter than the 64-byte header")
            self._map = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self._bytes = memoryview(self._map)
        self.size = size
        self.header = layout.decode_header(self._bytes, self.path)
        footer = layout.decode_footer(self._bytes, self.path)
        #: The chunk index, a structured array of ``layout.INDEX_DTYPE``.
        self.index = layout.decode_index(self._bytes, self.header, footer, self.path)

    @property
    def sample_count(self) -> int:
        return self.header.sample_count

    @property
    def chunk_count(self) -> int:
        return self.header.chunk_count

    @property
    def bytes(self) -> memoryview:
        """The whole file (mapped)."""
        return self._bytes

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

        with self._bytes[offset:offset + stored] as data:  # released even on error, so close() can unmap
            payload = _inflate(data, raw, fail) if h.codec == "zlib" else bytes(data)
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
        """Unmaps the file (left to the garbage collector while a view of it is still alive)."""
        if self._owned_source is not None:
            self._owned_source.close()
            self._owned_source = None
        try:
            self._bytes.release()
        except BufferError:  # numpy views of the map (a source copy's images) are still alive
            pass
        try:
            self._map.close()
        except BufferError:
            pass

    def __enter__(self) -> "ShardFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _indices(n: int) -> str:
    """The valid indices of ``n`` items, for an out-of-range message: ``from 0 to 9``."""
    return wording.span(0, n - 1) if n > 0 else "there are none"


def _inflate(data: memoryview, raw: int, fail) -> bytes:
    """Inflates one zlib stream that must hold exactly ``raw`` bytes (never more is allocated)."""
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
