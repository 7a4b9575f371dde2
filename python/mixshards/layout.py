"""MixShard v3 and v4 (``.mxs``; v1 and v2 still read): the on-disk layout, defined in this one module.

Mirrors ``Sources/ShardFormat/MixShardLayout.swift`` (DESIGN.md is the
specification)::

    Header (64 B) | chunk 0 | … | chunk N-1 | index (N × 32 B) | footer (32 B)

All integers and floats are little-endian (floats IEEE-754). A chunk's payload,
before filter and compression, holds for its n samples: images ``m×C×H×W``
bytes (sample, plane, row) of the m samples whose pixels are stored (index
field ``imageCount``), labels — ``n × 12`` bytes of sparse records
(:data:`SPARSE_LABEL`, v3 ``labelType`` 2, expanded with the header's label
smoothing ε by :func:`expand_sparse`) or ``n×K`` float32 (``labelType`` 0:
v1, v2, and readable in v3) — and when header flag bit 0 is
set, provenance ``n × 32`` bytes (:data:`PROVENANCE_V2`; v1: ``n × 12``,
``{primary u32, partner u32, lambda f32}``, and m = n), then in v4 op records
``n × 176`` bytes (:data:`OP_RECORD`: the ``[augment]`` ops beyond crop and flip). A sample whose record
has the reference flag stores no pixels: it is its primary source image under
its transform, read from the directory's source copy (``source/train.mxs``, a
shard of split ``source``: uncompressed in v2, uncompressed or compressed in v3).
The image filter applies to the image bytes only; the whole payload is then one
zlib stream (RFC 1950), or stored as is with codec 0.

This module only decodes fixed-size structures; every function raises
:class:`ShardError` naming the file (and the field) on a bad value.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import wording
from .errors import ShardError

MAGIC = b"MIXSHRD1"
END_MAGIC = b"MIXSHEND"
#: The version mixprep writes.
VERSION = 3
#: The version written when a pipeline uses an ``[augment]`` op beyond crop and flip: v3 plus an
#: op record per sample (:data:`OP_RECORD`) after the provenance records.
OPS_VERSION = 4
#: The versions this reader reads.
READABLE_VERSIONS = (1, 2, 3, 4)
#: The first version whose source copy may be compressed and filtered (v2's is codec none, filter none).
COMPRESSED_SOURCE_VERSION = 3
HEADER_BYTES = 64
INDEX_ENTRY_BYTES = 32
FOOTER_BYTES = 32
#: ``epoch`` field of a test-split (and source) shard.
TEST_EPOCH = 0xFFFFFFFF
#: Header flag bit 0: the payload carries provenance.
FLAG_PROVENANCE = 1
#: Header flag bit 1 (v2): some samples are references to the source copy (needs bit 0).
FLAG_REFERENCES = 2
#: The source copy inside a shard directory (relative path).
SOURCE_FILE = "source/train.mxs"
#: Tolerance on a label row's sum, up to 1,673 classes (see :func:`label_sum_tolerance`).
LABEL_SUM_TOLERANCE = 1e-4

# Format limits (reader and writer policy, not part of the bytes): a header
# beyond them is refused before anything is allocated for a chunk.
MAX_SAMPLES_PER_CHUNK = 65_536
MAX_CHANNELS = 4
MAX_SIDE = 1024
#: What a header's u16 counts.
MAX_CLASSES = 65_535
#: A chunk's payload before compression (256 MiB), and the dense float32 rows its labels expand to (n·4·K).
MAX_CHUNK_RAW_BYTES = 1 << 28
#: Bytes of one sparse label record (v3).
SPARSE_LABEL_BYTES = 12


def label_sum_tolerance(classes: int) -> np.float32:
    """Tolerance on the float32 sum of a row of ``classes`` weights: 1e-4, or (K + 4)·2⁻²⁴
    when larger (K ≥ 1,674) — what summing a true row in float32 can be off by (Swift's
    ``MixShardLayout.labelSumTolerance(classCount:)``)."""
    return max(np.float32(LABEL_SUM_TOLERANCE), np.float32(classes + 4) * np.float32(2.0 ** -24))


def provenance_bytes(version: int) -> int:
    """Bytes of one provenance record in ``version``."""
    return 12 if version == 1 else 32


def op_record_bytes(version: int) -> int:
    """Bytes of one op record in ``version`` when the shard has provenance (v4: 176; else 0)."""
    return OP_RECORD_BYTES if version >= OPS_VERSION else 0


#: Op ids (``Sources/MixCore/ImageOps.swift`` ``PolicyOp``, shared with the AugmentOps kernels): 0–13
#: torchvision TrivialAugmentWide's ``_AUGMENTATION_SPACE`` in its order, 14 colour jitter's hue,
#: 15 the resized crop (recorded in its own fields, never in an op slot).
POLICY_OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
              "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize", "Hue", "ResizedCrop")
OP_IDENTITY, OP_RESIZED_CROP = 0, 15
#: Op slots per image in an op record.
MAX_OPS = 8
#: Image-op record flag: the resized crop's box is set.
OPS_RESIZED_CROP = 1
#: Erasing fill: 0 not erased, 1 zeros, 2 random bytes.
ERASE_NONE, ERASE_ZERO, ERASE_RANDOM = 0, 1, 2
_OP_SLOT = np.dtype([("id", "u1"), ("reserved", "u1", (3,)), ("magnitude", "<f4")])
#: One image's ops (80 bytes): op count, flags, the resized crop (top, left, height, width), then 8 slots.
IMAGE_OPS = np.dtype([("count", "u1"), ("flags", "u1"), ("reserved", "<u2"), ("crop_top", "<u2"), ("crop_left", "<u2"),
                      ("crop_height", "<u2"), ("crop_width", "<u2"), ("reserved2", "<u4"), ("slots", _OP_SLOT, (MAX_OPS,))])
#: One v4 op record (176 bytes): the primary's image ops, the partner's, and the erasing record.
OP_RECORD = np.dtype([("primary", IMAGE_OPS), ("partner", IMAGE_OPS), ("erase_fill", "u1"), ("erase_reserved", "u1", (3,)),
                      ("erase_top", "<u2"), ("erase_left", "<u2"), ("erase_height", "<u2"), ("erase_width", "<u2"),
                      ("erase_reserved2", "<u4")])
OP_RECORD_BYTES = 176


#: One v1 provenance record (12 bytes).
PROVENANCE_V1 = np.dtype([("primary", "<u4"), ("partner", "<u4"), ("lam", "<f4")])
#: One v2 provenance record (32 bytes), and the form in which the reader returns
#: provenance of either version (v1 records converted: kind inferred, copy when
#: partner = primary and λ = 1, else blend; no transforms, box or reference).
#: ``flags``: bit 0 primary flipped, bit 1 partner flipped, bit 2 reference;
#: ``box_*``: the CutMix box ``[x0, x1) × [y0, y1)`` (kind cutmix; else zero).
PROVENANCE_V2 = np.dtype([
    ("primary", "<u4"), ("partner", "<u4"), ("lam", "<f4"), ("kind", "u1"), ("flags", "u1"), ("reserved", "<u2"),
    ("primary_dx", "<i2"), ("primary_dy", "<i2"), ("partner_dx", "<i2"), ("partner_dy", "<i2"),
    ("box_x0", "<u2"), ("box_y0", "<u2"), ("box_x1", "<u2"), ("box_y1", "<u2"),
])
#: One v3 sparse label record (12 bytes): the primary's class, the partner's (= the
#: primary's when unmixed), and λ, the primary's weight.
SPARSE_LABEL = np.dtype([("class_a", "<u4"), ("class_b", "<u4"), ("weight", "<f4")])
#: Provenance ``kind``: how a sample's pixels were made from primary and partner.
KIND_COPY, KIND_BLEND, KIND_CUTMIX = 0, 1, 2
KINDS = {KIND_COPY: "copy", KIND_BLEND: "blend", KIND_CUTMIX: "cutmix"}
#: Provenance ``flags`` bits.
FLIP_PRIMARY, FLIP_PARTNER, REFERENCE = 1, 2, 4

PIXEL_TYPES = {0: "uint8"}
#: Dense float32 rows (0; v1, v2, readable in v3) or sparse records (2; v3 only); float16 (1) is
#: reserved and refused by readers.
LABEL_TYPES = {0: "float32", 2: "sparse"}
LABEL_TYPE_RESERVED = {1: "float16"}
CODECS = {0: "none", 1: "zlib"}
#: 1: within each row of each plane, byte[x] − byte[x−1] mod 256, first byte kept.
IMAGE_FILTERS = {0: "none", 1: "delta"}
#: 2 (v2 only): the source copy that reference samples point into.
SPLITS = {0: "train", 1: "test", 2: "source"}

# magic 8s, version H, headerBytes H, flags I, sampleCount I, chunkCount I,
# samplesPerChunk I, channels H, height H, width H, classCount H, pixelType B,
# labelType B, codec B, imageFilter B, split B, reserved 7x, epoch I,
# shardIndex I, labelSmoothing (v3; reserved before) as its bits I, headerCRC I
_HEADER = struct.Struct("<8sHHIIII4H5B7xIIII")
# indexOffset Q, chunkCount I, indexCRC I, sampleCount I, reserved I, magic 8s
_FOOTER = struct.Struct("<QIIII8s")
#: One index entry: offset u64, storedBytes, rawBytes, firstSample, sampleCount, rawCRC, imageCount (u32 each).
#: ``images`` (v2): samples of the chunk whose pixels are stored; v1 writes 0
#: there, and :func:`decode_index` returns the sample count for it.
INDEX_DTYPE = np.dtype([("offset", "<u8"), ("stored", "<u4"), ("raw", "<u4"), ("first", "<u4"),
                        ("count", "<u4"), ("crc", "<u4"), ("images", "<u4")])
HEADER_CRC_OFFSET = 60
assert _HEADER.size == HEADER_BYTES and _FOOTER.size == FOOTER_BYTES and INDEX_DTYPE.itemsize == INDEX_ENTRY_BYTES
assert PROVENANCE_V1.itemsize == 12 and PROVENANCE_V2.itemsize == 32 and SPARSE_LABEL.itemsize == SPARSE_LABEL_BYTES
assert IMAGE_OPS.itemsize == 80 and OP_RECORD.itemsize == OP_RECORD_BYTES


@dataclass(frozen=True)
class Header:
    """The 64-byte header, decoded and checked."""

    version: int
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
    #: ``"float32"`` (dense rows) or ``"sparse"`` (v3 records).
    label_type: str = "float32"
    #: v3 sparse labels: the label smoothing ε (a float32 value) the records expand with; 0 otherwise.
    label_smoothing: float = 0.0

    @property
    def has_provenance(self) -> bool:
        return bool(self.flags & FLAG_PROVENANCE)

    @property
    def has_references(self) -> bool:
        """Whether some samples are references to the source copy (v2)."""
        return bool(self.flags & FLAG_REFERENCES)

    @property
    def provenance_bytes(self) -> int:
        """Bytes of one provenance record (0 without provenance)."""
        return provenance_bytes(self.version) if self.has_provenance else 0

    @property
    def op_record_bytes(self) -> int:
        """Bytes of one op record (v4 with provenance; else 0)."""
        return op_record_bytes(self.version) if self.has_provenance else 0

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return (self.channels, self.height, self.width)

    @property
    def image_bytes(self) -> int:
        return self.channels * self.height * self.width

    @property
    def label_bytes(self) -> int:
        """Bytes of one sample's label: a sparse record (12) or a dense row (4·K)."""
        return SPARSE_LABEL_BYTES if self.label_type == "sparse" else 4 * self.class_count

    @property
    def sample_bytes(self) -> int:
        """Raw payload bytes of one sample with its pixels (image, label, provenance)."""
        return self.image_bytes + self.label_bytes + self.provenance_bytes + self.op_record_bytes

    def raw_bytes(self, n: int, images: int | None = None) -> int:
        """Payload bytes of ``n`` samples, ``images`` of which store pixels (default: all),
        before filter and compression."""
        m = n if images is None else images
        return m * self.image_bytes + n * (self.label_bytes + self.provenance_bytes + self.op_record_bytes)


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
     classes, pixel_type, label_type, codec, image_filter, split, epoch, shard_index, smoothing_bits,
     stored_crc) = _HEADER.unpack_from(b, 0)
    if magic != MAGIC:
        raise fail("bad magic (not a MixShard file)")
    if version not in READABLE_VERSIONS:
        raise fail(f"unsupported version {version} (this reader knows versions from {READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]})")
    computed = zlib.crc32(b[:HEADER_CRC_OFFSET])
    if stored_crc != computed:
        raise fail(f"CRC mismatch (stored {hex32(stored_crc)}, computed {hex32(computed)})")
    if header_bytes != HEADER_BYTES:
        raise fail(f"headerBytes is {header_bytes}, expected {HEADER_BYTES}")
    if pixel_type not in PIXEL_TYPES:
        raise fail(f"unknown pixelType {pixel_type}")
    if label_type not in LABEL_TYPES or (LABEL_TYPES[label_type] == "sparse" and version < 3):
        reserved = LABEL_TYPE_RESERVED.get(label_type)
        why = (f" ({reserved}, reserved)" if reserved else
               f" (sparse, MixShard v3 only; this file is v{version})" if label_type in LABEL_TYPES else "")
        raise fail(f"unsupported labelType {label_type}{why}")
    smoothing = np.frombuffer(struct.pack("<I", smoothing_bits), "<f4")[0]
    if version < 3:
        if smoothing_bits:
            raise fail(f"reserved bytes 56..<60 are not zero (v{version})")
    elif LABEL_TYPES[label_type] == "sparse":
        # Sign bit clear: −0 is not what a writer of ε ∈ [0, 1] writes.
        if not (0 <= smoothing <= 1) or smoothing_bits >> 31:
            raise fail(f"labelSmoothing {rules_float_text(smoothing)} is not a number from 0 to 1")
    elif smoothing_bits:
        raise fail(f"labelSmoothing {rules_float_text(smoothing)} with dense labels (must be 0: dense rows hold their smoothing)")
    if codec not in CODECS:
        raise fail(f"unknown codec {codec}")
    if image_filter not in IMAGE_FILTERS:
        raise fail(f"unknown imageFilter {image_filter}")
    if split not in SPLITS:
        raise fail(f"unknown split {split}")
    known = FLAG_PROVENANCE if version == 1 else FLAG_PROVENANCE | FLAG_REFERENCES
    if flags & ~known:
        raise fail(f"unknown flags {hex32(flags)}")
    if flags & FLAG_REFERENCES and not flags & FLAG_PROVENANCE:
        raise fail("references flag without provenance")
    if version == 1 and SPLITS[split] == "source":
        raise fail(f"unknown split {split}")
    if not (channels and height and width and classes):
        raise fail("zero image dimension or class count")
    if per_chunk == 0 and sample_count != 0:
        raise fail("samplesPerChunk is 0")
    if per_chunk > MAX_SAMPLES_PER_CHUNK:
        raise fail(f"samplesPerChunk {per_chunk} exceeds the format limit {MAX_SAMPLES_PER_CHUNK}")
    if channels > MAX_CHANNELS or height > MAX_SIDE or width > MAX_SIDE:
        raise fail(f"image shape {wording.image(channels, height, width)} exceeds the format limits "
                   f"(at most {MAX_CHANNELS} channels and sides of {wording.grouped(MAX_SIDE)})")
    if classes > MAX_CLASSES:
        raise fail(f"classCount {classes} exceeds the format limit {MAX_CLASSES}")
    h = Header(version, flags, sample_count, chunk_count, per_chunk, channels, height, width, classes,
               CODECS[codec], IMAGE_FILTERS[image_filter], SPLITS[split], epoch, shard_index,
               LABEL_TYPES[label_type], float(smoothing))
    per = min(per_chunk, sample_count)
    if h.raw_bytes(per) > MAX_CHUNK_RAW_BYTES:
        raise fail(f"chunks of {per} samples of {h.sample_bytes} bytes exceed the format's "
                   f"{MAX_CHUNK_RAW_BYTES >> 20} MiB per chunk")
    # Readers yield dense rows: what sparse records expand to is bounded too.
    if per * 4 * classes > MAX_CHUNK_RAW_BYTES:
        raise fail(f"chunks of {per} samples expand to label rows of {per * 4 * classes} bytes "
                   f"({wording.grouped(classes)} classes), beyond the format's {MAX_CHUNK_RAW_BYTES >> 20} MiB per chunk")
    return h


def decode_footer(read: Callable[[int, int], bytes], size: int, path: str) -> Footer:
    """Decodes the footer, the last 32 bytes of a file of ``size`` bytes; ``read(offset, n)``
    reads the file."""
    if size < HEADER_BYTES + FOOTER_BYTES:
        raise ShardError(f"{path}: footer: file is {size} bytes, too short to hold header and footer (truncated?)")
    index_offset, chunk_count, index_crc, sample_count, _reserved, magic = _FOOTER.unpack(read(size - FOOTER_BYTES,
                                                                                                  FOOTER_BYTES))
    if magic != END_MAGIC:
        raise ShardError(f"{path}: footer: bad end magic (file truncated or not a MixShard file)")
    return Footer(index_offset, chunk_count, index_crc, sample_count)


def decode_index(read: Callable[[int, int], bytes], size: int, header: Header, footer: Footer, path: str) -> np.ndarray:
    """Checks the footer against the header and the file size (``size``), then reads
    (``read(offset, n)``; only once the size is known to hold it) and decodes and
    checks the index: its CRC, and that chunks are contiguous, in bounds, hold
    consecutive samples of ``samples_per_chunk`` (the last may hold fewer),
    store pixels for all of them unless the shard has references, and declare
    the raw size their counts imply. Returns a writable ``INDEX_DTYPE`` array
    (``images`` filled in for v1)."""
    if footer.chunk_count != header.chunk_count or footer.sample_count != header.sample_count:
        raise ShardError(f"{path}: footer: chunk/sample counts ({footer.chunk_count}/{footer.sample_count}) disagree "
                         f"with the header ({header.chunk_count}/{header.sample_count})")
    n = header.chunk_count
    if footer.index_offset < HEADER_BYTES or footer.index_offset + INDEX_ENTRY_BYTES * n + FOOTER_BYTES != size:
        raise ShardError(f"{path}: footer: file size {size} != indexOffset {footer.index_offset} + 32·{n} + 32 "
                         "(truncated or padded)")
    io = footer.index_offset
    raw_index = read(io, INDEX_ENTRY_BYTES * n)
    crc = zlib.crc32(raw_index)
    if crc != footer.index_crc:
        raise ShardError(f"{path}: index: CRC mismatch (stored {hex32(footer.index_crc)}, computed {hex32(crc)})")
    index = np.frombuffer(raw_index, dtype=INDEX_DTYPE).copy()
    next_offset, next_sample = HEADER_BYTES, 0
    # Plain ints: numpy scalars would wrap silently on adversarial values.
    for i, e in enumerate(index.tolist()):
        offset, stored, raw, first, count, _crc, image_count = e
        expected = min(header.samples_per_chunk, header.sample_count - next_sample)
        if offset != next_offset or offset + stored > io:
            raise ShardError(f"{path}: chunk {i}: bounds [{offset}, +{stored}) outside the data region or not contiguous")
        if first != next_sample or count != expected or expected <= 0:
            raise ShardError(f"{path}: chunk {i}: holds samples {first} to {first + count - 1}, "
                             f"expected {next_sample} to {next_sample + expected - 1}")
        # v1: imageCount is reserved (0) and every sample stores pixels; v2: all of them unless references.
        images = (count if image_count == 0 else None) if header.version == 1 else image_count
        if images is None or images > count or (not header.has_references and images != count):
            why = (" (v1 reserved field not 0)" if header.version == 1 else
                   "" if header.has_references else " and the shard has no references")
            raise ShardError(f"{path}: chunk {i}: stores {image_count} images for {count} samples{why}")
        if raw != header.raw_bytes(count, images):
            raise ShardError(f"{path}: chunk {i}: rawBytes {raw} does not match {count} samples ({images} with pixels) "
                             f"of {header.sample_bytes} bytes")
        if header.codec == "none" and stored != raw:
            raise ShardError(f"{path}: chunk {i}: stored {stored} bytes but codec none needs {raw}")
        index["images"][i] = images
        next_offset, next_sample = offset + stored, next_sample + count
    if next_offset != io or next_sample != header.sample_count:
        raise ShardError(f"{path}: index: chunks cover {next_sample} samples ending at byte {next_offset}, "
                         f"expected {header.sample_count} ending at {io}")
    return index


def first_problem(checks, n: int):
    """The first of ``n`` samples that any of ``checks`` (pairs of a boolean mask and a
    function from a sample to its message) flags, with the message of the first check that
    flags it, as ``(sample, message)``; None when none does."""
    bad = np.zeros(n, bool)
    for mask, _ in checks:
        bad |= mask
    if not bad.any():
        return None
    j = int(np.argmax(bad))
    return j, next(message for mask, message in checks if mask[j])(j)


def decode_provenance(payload, offset: int, n: int, header: Header, first: int, fail) -> np.ndarray:
    """Decodes and checks the ``n`` provenance records at ``offset`` of a chunk's
    payload; returns them as a read-only :data:`PROVENANCE_V2` array (v1 records
    converted). ``fail(what)`` builds the error (it knows file and chunk); the
    message names the first bad sample (position ``first + j``) and its first
    problem, in the order ``Provenance.read`` checks them."""
    if header.version == 1:
        v1 = np.frombuffer(payload, PROVENANCE_V1, count=n, offset=offset)
        # v1 records carry no kind or transforms, but their λ is a weight all the same (statistics bin it).
        with np.errstate(invalid="ignore"):
            bad = ~((v1["lam"] >= 0) & (v1["lam"] <= 1))
        if bad.any():
            j = int(np.argmax(bad))
            raise fail(f"sample {first + j}: provenance: lambda {v1['lam'][j]} is not in [0, 1]")
        out = np.zeros(n, PROVENANCE_V2)
        for name in ("primary", "partner", "lam"):
            out[name] = v1[name]
        copy = (v1["primary"] == v1["partner"]) & (v1["lam"] == np.float32(1))
        out["kind"] = np.where(copy, KIND_COPY, KIND_BLEND)
        out.flags.writeable = False
        return out
    p = np.frombuffer(payload, PROVENANCE_V2, count=n, offset=offset).copy()
    p.flags.writeable = False
    h, w = header.height, header.width
    kind, flags, lam = p["kind"], p["flags"], p["lam"]
    pdx, pdy = p["primary_dx"].astype(np.int64), p["primary_dy"].astype(np.int64)
    qdx, qdy = p["partner_dx"].astype(np.int64), p["partner_dy"].astype(np.int64)
    x0, y0, x1, y1 = (p[f].astype(np.int64) for f in ("box_x0", "box_y0", "box_x1", "box_y1"))
    reference = (flags & REFERENCE) != 0
    same_transform = (pdx == qdx) & (pdy == qdy) & (((flags & FLIP_PRIMARY) != 0) == ((flags & FLIP_PARTNER) != 0))
    empty_box = (x0 == 0) & (y0 == 0) & (x1 == 0) & (y1 == 0)
    with np.errstate(invalid="ignore"):
        lam_bad = ~((lam >= 0) & (lam <= 1))
    checks = [
        (kind > KIND_CUTMIX, lambda j: f"provenance kind {kind[j]} is unknown"),
        (((flags & ~np.uint8(FLIP_PRIMARY | FLIP_PARTNER | REFERENCE)) != 0) | (p["reserved"] != 0),
         lambda j: f"provenance has unknown flags {flags[j]} or non-zero reserved bytes"),
        ((np.abs(pdx) >= w) | (np.abs(pdy) >= h),
         lambda j: f"provenance: shift ({pdx[j]}, {pdy[j]}) is not within the {w}×{h} image"),
        ((np.abs(qdx) >= w) | (np.abs(qdy) >= h),
         lambda j: f"provenance: shift ({qdx[j]}, {qdy[j]}) is not within the {w}×{h} image"),
        (lam_bad, lambda j: f"provenance: lambda {lam[j]} is not in [0, 1]"),
        ((kind == KIND_COPY) & ((p["partner"] != p["primary"]) | (lam != np.float32(1)) | ~same_transform),
         lambda j: "provenance: a copy must have partner = primary, lambda 1 and one transform"),
        ((kind == KIND_BLEND) & ~empty_box, lambda j: "provenance: a blend has a cutmix box"),
        ((kind == KIND_CUTMIX) & ~((x0 <= x1) & (x1 <= w) & (y0 <= y1) & (y1 <= h)),
         lambda j: f"provenance: cutmix box [{x0[j]}, {x1[j]}) × [{y0[j]}, {y1[j]}) is not within the {w}×{h} image"),
        (reference & (kind != KIND_COPY), lambda j: "provenance: only an unmixed sample can be a reference"),
        (reference & (not header.has_references),
         lambda j: "provenance: a reference in a shard without the references flag"),
    ]
    problem = first_problem(checks, n)
    if problem is not None:
        raise fail(f"sample {first + problem[0]}: {problem[1]}")
    return p


def decode_ops(payload, offset: int, n: int, header: Header, provenance: np.ndarray, first: int, fail) -> np.ndarray:
    """Decodes and checks (rule 7b) the ``n`` v4 op records at ``offset`` of a chunk's payload, after
    its provenance records; returns them as a read-only :data:`OP_RECORD` array. Messages and their
    order are ``Provenance.readOps``'s (``Sources/ShardFormat/OpRecord.swift``)."""
    r = np.frombuffer(payload, OP_RECORD, count=n, offset=offset).copy()
    r.flags.writeable = False
    h, w = header.height, header.width
    checks = []
    for which in ("primary", "partner"):
        o = r[which]
        count, flags = o["count"].astype(np.int64), o["flags"]
        top, left, ch, cw = (o[f].astype(np.int64) for f in ("crop_top", "crop_left", "crop_height", "crop_width"))
        flagged = (flags & OPS_RESIZED_CROP) != 0
        fits = (ch > 0) & (cw > 0) & (top + ch <= h) & (left + cw <= w)
        checks += [
            (count > MAX_OPS, lambda j, which=which, count=count: f"ops: the {which} records {count[j]} ops, at most {MAX_OPS}"),
            (((flags & ~np.uint8(OPS_RESIZED_CROP)) != 0) | (o["reserved"] != 0) | (o["reserved2"] != 0),
             lambda j, which=which, flags=flags: f"ops: the {which}'s record has unknown flags {flags[j]} or non-zero reserved bytes"),
            (flagged & ~fits,
             lambda j, which=which, t=top, l=left, a=ch, b=cw: f"ops: the {which}'s resized crop (top {t[j]}, left {l[j]}, "
                                                             f"{a[j]}×{b[j]}) is not a box within the {w}×{h} image"),
            (~flagged & ((top != 0) | (left != 0) | (ch != 0) | (cw != 0)),
             lambda j, which=which: f"ops: the {which} has a resized crop box but no resized-crop flag"),
        ]
        slots = o["slots"]
        for i in range(MAX_OPS):
            sid, mag = slots["id"][:, i], slots["magnitude"][:, i]
            reserved = slots["reserved"][:, i].any(axis=1)
            beyond = i >= count
            with np.errstate(invalid="ignore"):
                finite = np.isfinite(mag)
            checks += [
                (beyond & ((sid != 0) | reserved | (mag.view(np.uint32) != 0)),
                 lambda j, which=which, i=i, count=count: f"ops: the {which}'s op slot {i} is beyond its {count[j]} ops but not zero"),
                (~beyond & (sid >= OP_RESIZED_CROP),
                 lambda j, which=which, i=i, sid=sid: f"ops: the {which}'s op {i} has unknown id {sid[j]}"),
                (~beyond & reserved, lambda j, which=which, i=i: f"ops: the {which}'s op {i} has non-zero reserved bytes"),
                (~beyond & ~finite,
                 lambda j, which=which, i=i, sid=sid, mag=mag: f"ops: the {which}'s op {i} ({POLICY_OPS[sid[j]]}) has magnitude "
                                                               f"{'nan' if np.isnan(mag[j]) else ('inf' if mag[j] > 0 else '-inf')}"),
            ]
    fill = r["erase_fill"]
    et, el, eh, ew = (r[f].astype(np.int64) for f in ("erase_top", "erase_left", "erase_height", "erase_width"))
    box_zero = (et == 0) & (el == 0) & (eh == 0) & (ew == 0)
    efits = (eh > 0) & (ew > 0) & (et + eh <= h) & (el + ew <= w)
    kind, flags = provenance["kind"], provenance["flags"]
    raw = r.view(np.uint8).reshape(n, OP_RECORD_BYTES)
    same = (raw[:, :IMAGE_OPS.itemsize] == raw[:, IMAGE_OPS.itemsize:2 * IMAGE_OPS.itemsize]).all(axis=1)
    identity = np.ones(n, bool)
    o = r["primary"]
    for i in range(MAX_OPS):
        identity &= (i >= o["count"]) | (o["slots"]["id"][:, i] == OP_IDENTITY)
    identity &= (o["flags"] & OPS_RESIZED_CROP) == 0
    checks += [
        (r["erase_reserved"].any(axis=1) | (r["erase_reserved2"] != 0), lambda j: "ops: the erasing record has non-zero reserved bytes"),
        ((fill == ERASE_NONE) & ~box_zero, lambda j: "ops: an erasing box without a fill"),
        (fill > ERASE_RANDOM, lambda j: f"ops: erasing fill {fill[j]} is unknown"),
        ((fill != ERASE_NONE) & (fill <= ERASE_RANDOM) & ~efits,
         lambda j: f"ops: the erased box (top {et[j]}, left {el[j]}, {eh[j]}×{ew[j]}) is not a box within the {w}×{h} image"),
        ((kind == KIND_COPY) & ~same, lambda j: "ops: a copy must record the same ops for primary and partner"),
        (((flags & REFERENCE) != 0) & (~identity | (fill != ERASE_NONE)),
         lambda j: "ops: a reference has ops other than the identity (its pixels must be stored)"),
    ]
    problem = first_problem(checks, n)
    if problem is not None:
        raise fail(f"sample {first + problem[0]}: {problem[1]}")
    return r


def decode_sparse_labels(payload, offset: int, n: int, header: Header, provenance: Optional[np.ndarray], first: int,
                         fail) -> np.ndarray:
    """Decodes and checks the ``n`` sparse label records (v3) at ``offset`` of a chunk's
    payload (rule 7a: both classes below K, the weight a number in [0, 1], and with
    provenance — ``PROVENANCE_V2`` records — the weight equal to the record's λ bit for bit
    and one class for a copy); returns them as a read-only :data:`SPARSE_LABEL` array. The
    message names the first bad sample (position ``first + j``) and its first problem, in
    the order ``LabelRecord.problem`` checks them."""
    r = np.frombuffer(payload, SPARSE_LABEL, count=n, offset=offset).copy()
    r.flags.writeable = False
    k = header.class_count
    a, b, w = r["class_a"], r["class_b"], r["weight"]
    with np.errstate(invalid="ignore"):
        weight_bad = ~((w >= 0) & (w <= 1))
    checks = [
        (a >= k, lambda j: f"sparse label classA {a[j]} is not a class of the shard (it has {wording.grouped(k)})"),
        (b >= k, lambda j: f"sparse label classB {b[j]} is not a class of the shard (it has {wording.grouped(k)})"),
        (weight_bad, lambda j: f"sparse label weight {rules_float_text(w[j])} is not in [0, 1]"),
    ]
    if provenance is not None:
        lam = provenance["lam"]
        checks += [
            (w.view("<u4") != lam.view("<u4"),
             lambda j: f"sparse label weight {rules_float_text(w[j])} differs from the provenance lambda {rules_float_text(lam[j])}"),
            ((provenance["kind"] == KIND_COPY) & (a != b), lambda j: f"sparse label of a copy names two classes ({a[j]} and {b[j]})"),
        ]
    problem = first_problem(checks, n)
    if problem is not None:
        raise fail(f"sample {first + problem[0]}: {problem[1]}")
    return r


def expand_sparse(records: np.ndarray, classes: int, smoothing: float) -> np.ndarray:
    """The dense float32 rows (``n × K``) :data:`SPARSE_LABEL` records stand for under label
    smoothing ε: :func:`expand`."""
    return expand(records["class_a"], records["class_b"], records["weight"], classes, smoothing)


def expand(class_a, class_b, lam, classes: int, smoothing: float) -> np.ndarray:
    """The dense float32 rows (``n × K``) of primaries of class ``class_a``, partners of class
    ``class_b`` and weights λ on the primary under label smoothing ε (DESIGN.md, rule 12,
    operation by operation: :func:`mixshards.rules.label_weights`, Swift's ``LabelRow``):
    zeros, + λ at ``class_a``, + (1 − λ) at ``class_b`` (one weight when they are one class),
    then each weight w becomes (1 − ε)·w + ε/K. Classes must be below K."""
    from .rules import label_weights  # rules imports this module
    a, b = np.asarray(class_a, np.int64), np.asarray(class_b, np.int64)
    n = len(a)
    rest, primary, partner = label_weights(np.asarray(lam, np.float32), a == b, classes, smoothing)
    rows = np.full((n, classes), rest, np.float32)
    at = np.arange(n)
    rows[at, b] = partner
    rows[at, a] = primary
    return rows


def rules_float_text(v) -> str:
    """A float32 worded as Swift's ``Wording.float`` (:func:`mixshards.rules.float_text`)."""
    from .rules import float_text  # rules imports this module
    return float_text(v)


def source_copy_problem(h: Header) -> Optional[str]:
    """Why a file with header ``h`` cannot be a source copy — split source and no references
    are needed, and before v3 codec none and filter none —, ``None`` when it can be
    (``ShardHeader.sourceCopyProblem`` in Swift)."""
    if h.split != "source" or h.has_references:
        return "not a source copy (needs split source and no references)"
    if h.version < COMPRESSED_SOURCE_VERSION and (h.codec != "none" or h.image_filter != "none"):
        return (f"a version {h.version} source copy must be uncompressed and unfiltered (codec none, filter none); "
                f"compressed source copies are version {COMPRESSED_SOURCE_VERSION}")
    return None


def shard_file_name(shard: int) -> str:
    """``shard-NNNNN.mxs``: the shard index, zero-padded to at least 5 digits."""
    return f"shard-{shard:05d}.mxs"


def epoch_directory(epoch: int) -> str:
    """``epoch-NNN``: the epoch, zero-padded to at least 3 digits."""
    return f"epoch-{epoch:03d}"
