"""MixShard v1 (``.mxs``): the on-disk layout, defined in this one module.

Mirrors ``Sources/ShardFormat/MixShardLayout.swift`` (DESIGN.md is the
specification)::

    Header (64 B) | chunk 0 | … | chunk N-1 | index (N × 32 B) | footer (32 B)

All integers and floats are little-endian (floats IEEE-754). A chunk's payload,
before filter and compression, holds for its n samples: images ``n×C×H×W``
bytes (sample, plane, row), labels ``n×K`` float32, and when header flag bit 0
is set, provenance ``n × {primary u32, partner u32, lambda f32}``. The image
filter applies to the image bytes only; the whole payload is then one zlib
stream (RFC 1950), or stored as is with codec 0.

This module only decodes fixed-size structures; every function raises
:class:`ShardError` naming the file (and the field) on a bad value.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import ShardError

MAGIC = b"MIXSHRD1"
END_MAGIC = b"MIXSHEND"
VERSION = 1
HEADER_BYTES = 64
INDEX_ENTRY_BYTES = 32
FOOTER_BYTES = 32
PROVENANCE_BYTES = 12
#: ``epoch`` field of a test-split shard.
TEST_EPOCH = 0xFFFFFFFF
#: Header flag bit 0: the payload carries provenance.
FLAG_PROVENANCE = 1
#: Tolerance on a label row's sum.
LABEL_SUM_TOLERANCE = 1e-4

PIXEL_TYPES = {0: "uint8"}
#: Only float32 (0) is written; float16 (1) is reserved and refused by readers.
LABEL_TYPES = {0: "float32"}
LABEL_TYPE_RESERVED = {1: "float16"}
CODECS = {0: "none", 1: "zlib"}
#: 1: within each row of each plane, byte[x] − byte[x−1] mod 256, first byte kept.
IMAGE_FILTERS = {0: "none", 1: "delta"}
SPLITS = {0: "train", 1: "test"}

# magic 8s, version H, headerBytes H, flags I, sampleCount I, chunkCount I,
# samplesPerChunk I, channels H, height H, width H, classCount H, pixelType B,
# labelType B, codec B, imageFilter B, split B, reserved 7x, epoch I,
# shardIndex I, reserved I, headerCRC I
_HEADER = struct.Struct("<8sHHIIII4H5B7xIIII")
# indexOffset Q, chunkCount I, indexCRC I, sampleCount I, reserved I, magic 8s
_FOOTER = struct.Struct("<QIIII8s")
#: One index entry: offset u64, storedBytes, rawBytes, firstSample, sampleCount, rawCRC, reserved (u32 each).
INDEX_DTYPE = np.dtype([("offset", "<u8"), ("stored", "<u4"), ("raw", "<u4"), ("first", "<u4"),
                        ("count", "<u4"), ("crc", "<u4"), ("reserved", "<u4")])
HEADER_CRC_OFFSET = 60
assert _HEADER.size == HEADER_BYTES and _FOOTER.size == FOOTER_BYTES and INDEX_DTYPE.itemsize == INDEX_ENTRY_BYTES


@dataclass(frozen=True)
class Header:
    """The 64-byte header, decoded and checked."""

    flags: int
    sample_count: int
    chunk_count: int
    samples_per_chunk: int
    channels: int
    height: int
    width: int
    class_count: int
    codec: str
    image_filter: str
    split: str
    epoch: int
    shard_index: int

    @property
    def has_provenance(self) -> bool:
        return bool(self.flags & FLAG_PROVENANCE)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return (self.channels, self.height, self.width)

    @property
    def image_bytes(self) -> int:
        return self.channels * self.height * self.width

    def raw_bytes(self, n: int) -> int:
        """Payload bytes of ``n`` samples before filter and compression."""
        return n * (self.image_bytes + 4 * self.class_count + (PROVENANCE_BYTES if self.has_provenance else 0))


@dataclass(frozen=True)
class Footer:
    """The 32-byte footer."""

    index_offset: int
    chunk_count: int
    index_crc: int
    sample_count: int


def hex32(v: int) -> str:
    return f"0x{v:08x}"


def decode_header(b: bytes | memoryview, path: str) -> Header:
    """Decodes and checks the header at the start of ``b`` (the whole file or its first bytes)."""
    def fail(what: str) -> ShardError:
        return ShardError(f"{path}: header: {what}")

    if len(b) < HEADER_BYTES:
        raise fail(f"file is {len(b)} bytes, shorter than the 64-byte header")
    (magic, version, header_bytes, flags, sample_count, chunk_count, per_chunk, channels, height, width,
     classes, pixel_type, label_type, codec, image_filter, split, epoch, shard_index, _reserved,
     stored_crc) = _HEADER.unpack_from(b, 0)
    if magic != MAGIC:
        raise fail("bad magic (not a MixShard file)")
    if version != VERSION:
        raise fail(f"unsupported version {version} (this reader knows {VERSION})")
    computed = zlib.crc32(b[:HEADER_CRC_OFFSET])
    if stored_crc != computed:
        raise fail(f"CRC mismatch (stored {hex32(stored_crc)}, computed {hex32(computed)})")
    if header_bytes != HEADER_BYTES:
        raise fail(f"headerBytes is {header_bytes}, expected {HEADER_BYTES}")
    if pixel_type not in PIXEL_TYPES:
        raise fail(f"unknown pixelType {pixel_type}")
    if label_type not in LABEL_TYPES:
        reserved = LABEL_TYPE_RESERVED.get(label_type)
        raise fail(f"unsupported labelType {label_type}" + (f" ({reserved}, reserved)" if reserved else ""))
    if codec not in CODECS:
        raise fail(f"unknown codec {codec}")
    if image_filter not in IMAGE_FILTERS:
        raise fail(f"unknown imageFilter {image_filter}")
    if split not in SPLITS:
        raise fail(f"unknown split {split}")
    if flags & ~FLAG_PROVENANCE:
        raise fail(f"unknown flags {hex32(flags)}")
    if not (channels and height and width and classes):
        raise fail("zero image dimension or class count")
    if per_chunk == 0 and sample_count != 0:
        raise fail("samplesPerChunk is 0")
    return Header(flags, sample_count, chunk_count, per_chunk, channels, height, width, classes,
                  CODECS[codec], IMAGE_FILTERS[image_filter], SPLITS[split], epoch, shard_index)


def decode_footer(b: bytes | memoryview, path: str) -> Footer:
    """Decodes the footer from the last 32 bytes of ``b`` (the whole file)."""
    if len(b) < HEADER_BYTES + FOOTER_BYTES:
        raise ShardError(f"{path}: footer: file is {len(b)} bytes, too short to hold header and footer (truncated?)")
    index_offset, chunk_count, index_crc, sample_count, _reserved, magic = _FOOTER.unpack_from(b, len(b) - FOOTER_BYTES)
    if magic != END_MAGIC:
        raise ShardError(f"{path}: footer: bad end magic (file truncated or not a MixShard file)")
    return Footer(index_offset, chunk_count, index_crc, sample_count)


def decode_index(b: bytes | memoryview, header: Header, footer: Footer, path: str) -> np.ndarray:
    """Checks the footer against the header and the file size, then decodes and
    checks the index: its CRC, and that chunks are contiguous, in bounds, hold
    consecutive samples of ``samples_per_chunk`` (the last may hold fewer) and
    declare the raw size their sample count implies. Returns an ``INDEX_DTYPE`` array."""
    if footer.chunk_count != header.chunk_count or footer.sample_count != header.sample_count:
        raise ShardError(f"{path}: footer: chunk/sample counts ({footer.chunk_count}/{footer.sample_count}) disagree "
                         f"with the header ({header.chunk_count}/{header.sample_count})")
    n = header.chunk_count
    size = len(b)
    if footer.index_offset < HEADER_BYTES or footer.index_offset + INDEX_ENTRY_BYTES * n + FOOTER_BYTES != size:
        raise ShardError(f"{path}: footer: file size {size} != indexOffset {footer.index_offset} + 32·{n} + 32 "
                         "(truncated or padded)")
    io = footer.index_offset
    raw_index = bytes(b[io:io + INDEX_ENTRY_BYTES * n])
    crc = zlib.crc32(raw_index)
    if crc != footer.index_crc:
        raise ShardError(f"{path}: index: CRC mismatch (stored {hex32(footer.index_crc)}, computed {hex32(crc)})")
    index = np.frombuffer(raw_index, dtype=INDEX_DTYPE)
    next_offset, next_sample = HEADER_BYTES, 0
    # Plain ints: numpy scalars would wrap silently on adversarial values.
    for i, e in enumerate(index.tolist()):
        offset, stored, raw, first, count, _crc, _reserved = e
        expected = min(header.samples_per_chunk, header.sample_count - next_sample)
        if offset != next_offset or offset + stored > io:
            raise ShardError(f"{path}: chunk {i}: bounds [{offset}, +{stored}) outside the data region or not contiguous")
        if first != next_sample or count != expected or expected <= 0:
            raise ShardError(f"{path}: chunk {i}: holds samples {first}..<{first + count}, "
                             f"expected {next_sample}..<{next_sample + expected}")
        if raw != header.raw_bytes(count):
            raise ShardError(f"{path}: chunk {i}: rawBytes {raw} does not match {count} samples")
        if header.codec == "none" and stored != raw:
            raise ShardError(f"{path}: chunk {i}: stored {stored} bytes but codec none needs {raw}")
        next_offset, next_sample = offset + stored, next_sample + count
    if next_offset != io or next_sample != header.sample_count:
        raise ShardError(f"{path}: index: chunks cover {next_sample} samples ending at byte {next_offset}, "
                         f"expected {header.sample_count} ending at {io}")
    return index


def shard_file_name(shard: int) -> str:
    """``shard-NNNNN.mxs``: the shard index, zero-padded to at least 5 digits."""
    return f"shard-{shard:05d}.mxs"


def epoch_directory(epoch: int) -> str:
    """``epoch-NNN``: the epoch, zero-padded to at least 3 digits."""
    return f"epoch-{epoch:03d}"
