"""One MixShard file: structure checked at open, chunks inflated and checked on demand."""

from __future__ import annotations

import mmap
import os
import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import layout
from .errors import ShardError


@dataclass(frozen=True)
class Chunk:
    """One inflated, checked chunk. Arrays are read-only (they may be cached)."""

    first_sample: int
    #: ``n × C × H × W`` uint8.
    images: np.ndarray
    #: ``n × K`` float32.
    labels: np.ndarray
    #: ``n`` uint32 each, or ``None`` when the shard stores no provenance.
    primary: Optional[np.ndarray]
    partner: Optional[np.ndarray]
    #: ``n`` float32, or ``None``.
    lam: Optional[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


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
    """A read-only, memory-mapped ``.mxs`` file.

    Opening checks the structure (magics, version, header CRC, file size, index
    CRC, every chunk's bounds and counts); :meth:`chunk` checks a chunk's
    contents (inflated size, rawCRC, label rows summing to 1). Every error is a
    :class:`ShardError` naming the file and, where there is one, the chunk.
    """

    def __init__(self, path: str):
        self.path = str(path)
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as e:
            raise ShardError(f"{self.path}: cannot open ({e.strerror})") from None
        try:
            size = os.fstat(fd).st_size
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
            raise IndexError(f"{self.path}: chunk {i} out of range 0..<{self.chunk_count}")
        offset, stored, raw, first, n, crc, _ = (int(v) for v in self.index[i])
        h = self.header

        def fail(what: str) -> ShardError:
            return ShardError(f"{self.path}: chunk {i}: {what}")

        with self._bytes[offset:offset + stored] as data:  # released even on error, so close() can unmap
            payload = _inflate(data, raw, fail) if h.codec == "zlib" else bytes(data)
        image_region = n * h.image_bytes
        buf = np.frombuffer(payload, dtype=np.uint8)
        images = buf[:image_region].reshape(n, h.channels, h.height, h.width)
        if h.image_filter == "delta":
            images = undo_delta(images)
            computed = zlib.crc32(payload[image_region:], zlib.crc32(images))
        else:
            computed = zlib.crc32(payload)
        if computed != crc:
            raise fail(f"rawCRC mismatch (stored {layout.hex32(crc)}, computed {layout.hex32(computed)})")
        k = h.class_count
        labels = np.frombuffer(payload, dtype="<f4", count=n * k, offset=image_region).reshape(n, k)
        _check_label_rows(labels, first, fail)
        primary = partner = lam = None
        if h.has_provenance:
            prov = np.frombuffer(payload, dtype=np.dtype([("primary", "<u4"), ("partner", "<u4"), ("lam", "<f4")]),
                                 count=n, offset=image_region + 4 * n * k)
            primary, partner, lam = prov["primary"].copy(), prov["partner"].copy(), prov["lam"].copy()
        for a in (images, labels, primary, partner, lam):
            if a is not None:
                a.flags.writeable = False
        return Chunk(first, images, labels.astype(np.float32, copy=False), primary, partner, lam)

    def read_all(self) -> Chunk:
        """Every chunk, checked, as one block."""
        chunks = [self.read_chunk(i) for i in range(self.chunk_count)]
        h = self.header
        if not chunks:
            empty_u4 = np.zeros(0, np.uint32) if h.has_provenance else None
            return Chunk(0, np.zeros((0, *h.shape), np.uint8), np.zeros((0, h.class_count), np.float32),
                         empty_u4, empty_u4, np.zeros(0, np.float32) if h.has_provenance else None)

        def cat(name: str):
            parts = [getattr(c, name) for c in chunks]
            return None if parts[0] is None else np.concatenate(parts)
        return Chunk(0, cat("images"), cat("labels"), cat("primary"), cat("partner"), cat("lam"))

    def close(self) -> None:
        """Unmaps the file (left to the garbage collector while a view of it is still alive)."""
        self._bytes.release()
        try:
            self._map.close()
        except BufferError:
            pass

    def __enter__(self) -> "ShardFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    """Each row must sum to 1 (±1e-4), summed in float32 left to right like the Swift reader."""
    total = np.zeros(len(labels), dtype=np.float32)
    for j in range(labels.shape[1]):
        total += labels[:, j]
    bad = ~(np.isfinite(total) & (np.abs(total - np.float32(1)) <= np.float32(layout.LABEL_SUM_TOLERANCE)))
    if bad.any():
        s = int(np.argmax(bad))
        raise fail(f"sample {first + s}: label row sums to {float(total[s]):.7g}, not 1")
