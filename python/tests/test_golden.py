"""The golden shards of Tests/ShardFormatTests (v1, v2 and v3) decode to the values the Swift golden tests write."""

import struct
import unittest
import zlib

import numpy as np

from mixshards import ShardError, ShardFile, SourceImages
from mixshards.cli import describe

from . import support
from .support import GOLDEN

# ShardFixtures.goldenBlock(): 3 samples of 2×2×3 bytes, 3 classes.
IMAGES = np.array(list(range(0, 240, 20)) + [7] * 12 + [255, 0, 255, 0, 1, 2, 3, 4, 250, 251, 9, 9],
                  np.uint8).reshape(3, 2, 2, 3)
LABELS = np.array([[1, 0, 0], [0, 0.25, 0.75], [0, 0, 1]], np.float32)
PRIMARY, PARTNER, LAM = [4, 0, 2], [4, 9, 2], np.array([1, 0.25, 1], np.float32)


class GoldenTests(unittest.TestCase):
    def test_none_delta_with_provenance(self):
        with ShardFile(str(GOLDEN / "golden-none-delta.mxs")) as s:
            h = s.header
            self.assertEqual((h.sample_count, h.chunk_count, h.samples_per_chunk), (3, 2, 2))
            self.assertEqual((h.shape, h.class_count), ((2, 2, 3), 3))
            self.assertEqual((h.codec, h.image_filter, h.split, h.epoch, h.shard_index), ("none", "delta", "train", 1, 2))
            self.assertTrue(h.has_provenance)
            self.assertEqual(s.index["offset"].tolist(), [64, 136])
            self.assertEqual(s.index["raw"].tolist(), [72, 36])
            self.assertEqual(s.index["first"].tolist(), [0, 2])
            # Stored chunk 0 is delta-filtered: 0,20,40 → 0,20,20.
            self.assertEqual(bytes(s.bytes[64:70]), bytes([0, 20, 20, 60, 20, 20]))
            block = s.read_all()
        np.testing.assert_array_equal(block.images, IMAGES)
        np.testing.assert_array_equal(block.labels, LABELS)
        self.assertEqual(block.primary.tolist(), PRIMARY)
        self.assertEqual(block.partner.tolist(), PARTNER)
        np.testing.assert_array_equal(block.lam, LAM)

    def test_zlib_without_filter_or_provenance(self):
        with ShardFile(str(GOLDEN / "golden-zlib6-none.mxs")) as s:
            self.assertEqual((s.header.codec, s.header.image_filter, s.header.has_provenance), ("zlib", "none", False))
            block = s.read_all()
            # rawCRC of chunk 1 is over sample 2's image and label, little-endian floats.
            raw = IMAGES[2].tobytes() + struct.pack("<3f", *LABELS[2])
            self.assertEqual(int(s.index["crc"][1]), zlib.crc32(raw))
        np.testing.assert_array_equal(block.images, IMAGES)
        np.testing.assert_array_equal(block.labels, LABELS)
        self.assertIsNone(block.primary)

    def test_chunks_are_read_only(self):
        with ShardFile(str(GOLDEN / "golden-none-delta.mxs")) as s:
            c = s.read_chunk(0)
            with self.assertRaises(ValueError):
                c.images[0, 0, 0, 0] = 1

    def test_inspect_text(self):
        text = describe(str(GOLDEN / "golden-none-delta.mxs"), samples=True)
        self.assertIn("MixShard v1, 268 bytes", text)
        self.assertIn("samples 3 in 2 chunks of ≤ 2", text)
        self.assertIn("chunk 0 sample 1: primary 0 partner 9 λ 0.2500 label [0.000 0.250 0.750]", text)
        self.assertIn("all 2 chunks decoded and checked", text)
        text = describe(str(GOLDEN / "golden-v2-none-delta.mxs"), samples=True)
        self.assertIn("chunk 0 sample 1: primary 0 partner 9 λ 0.2500 blend [0,0] partner [0,0] label [0.000 0.250 0.750]", text)
        self.assertIn("chunk 1 sample 2: primary 2 partner 2 λ 1.0000 copy [0,0] label [0.000 0.000 1.000]", text)
        text = describe(str(GOLDEN / "golden-v2-source.mxs"))
        self.assertIn("split source, epoch -, shard 2\n", text)
        self.assertIn("      0          64        48        48  1.000      0      2      2  d58dd0b3", text)


# ShardFixtures.goldenSourceImages() / goldenSourceBlock(): 4 images of 2×2×3, one-hot classes 0, 1, 2, 0.
SOURCE = np.array([(i * 37 + 11) % 256 for i in range(48)], np.uint8).reshape(4, 2, 2, 3)
SOURCE_LABELS = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]


def naive(image: np.ndarray, dx: int, dy: int, flip: bool) -> np.ndarray:
    """DESIGN.md's transform, pixel by pixel."""
    c, h, w = image.shape
    out = np.zeros_like(image)
    for ch in range(c):
        for y in range(h):
            for x in range(w):
                sx, sy = (w - 1 - x if flip else x) + dx, y + dy
                if 0 <= sx < w and 0 <= sy < h:
                    out[ch, y, x] = image[ch, sy, sx]
    return out


def augmented_block():
    """ShardFixtures.goldenAugmentedBlock(), recomputed here: a flipped and shifted copy
    (reference), a blend of two transformed images, a cutmix with its box, an identity copy (reference)."""
    s0 = naive(SOURCE[1], 1, 0, True)
    a, b = naive(SOURCE[0], -1, 1, False), naive(SOURCE[3], 0, 0, True)
    v = np.float32(0.25) * a.astype(np.float32) + np.float32(0.75) * b.astype(np.float32)
    s1 = np.floor(v.astype(np.float64) + 0.5).astype(np.uint8)
    s2 = SOURCE[2].copy()
    s2[:, 0:1, 1:3] = SOURCE[1][:, 0:1, 1:3]  # box [1, 3) × [0, 1) from the partner
    kept = np.float32(4) / np.float32(6)
    images = np.stack([s0, s1, s2, SOURCE[3]])
    labels = np.array([[0, 1, 0], [0.75, 0, 0.25], [0, np.float32(1) - kept, kept], [1, 0, 0]], np.float32)
    return images, labels, kept


class GoldenV3SourceTests(unittest.TestCase):
    """golden-v3-source-zlib.mxs: ShardFixtures.goldenSourceBlock() as a compressed source copy (zlib level 1,
    rle, delta filter, one image per chunk)."""

    def test_compressed_source_copy(self):
        path = str(GOLDEN / "golden-v3-source-zlib.mxs")
        with ShardFile(path) as s:
            h = s.header
            self.assertEqual((h.version, h.split, h.codec, h.image_filter, h.samples_per_chunk, h.chunk_count),
                             (3, "source", "zlib", "delta", 1, 4))
            block = s.read_all()
        np.testing.assert_array_equal(block.images, SOURCE)
        np.testing.assert_array_equal(block.labels, SOURCE_LABELS)
        with SourceImages(path) as src:
            self.assertTrue(src.compressed)
            np.testing.assert_array_equal(src.images([0, 1, 2, 3]), SOURCE)
            np.testing.assert_array_equal(src.image(2), SOURCE[2])
            self.assertEqual(src.cache_statistics(), {"hits": 1, "inflated": 4, "evicted": 0, "resident_bytes": 48})
            # The v2 reference shards resolve from it as from the uncompressed copy.
            images, labels, _ = augmented_block()
            for name in ("golden-v2-augment.mxs", "golden-v2-augment-zlib.mxs"):
                with ShardFile(str(GOLDEN / name), src) as s:
                    got = s.read_all()
                np.testing.assert_array_equal(got.images, images, name)
                np.testing.assert_array_equal(got.labels, labels, name)


class GoldenV2Tests(unittest.TestCase):
    def source(self) -> SourceImages:
        return SourceImages(str(GOLDEN / "golden-v2-source.mxs"))

    def test_v2_files_of_the_v1_block(self):
        for name, codec, image_filter, provenance in (("golden-v2-none-delta.mxs", "none", "delta", True),
                                                       ("golden-v2-zlib6-none.mxs", "zlib", "none", False)):
            with ShardFile(str(GOLDEN / name)) as s:
                h = s.header
                self.assertEqual((h.version, h.codec, h.image_filter, h.has_provenance, h.has_references),
                                 (2, codec, image_filter, provenance, False))
                self.assertEqual(s.index["images"].tolist(), [2, 1])
                block = s.read_all()
            np.testing.assert_array_equal(block.images, IMAGES)
            np.testing.assert_array_equal(block.labels, LABELS)
            if provenance:
                p = block.provenance
                self.assertEqual(p["primary"].tolist(), PRIMARY)
                self.assertEqual(p["partner"].tolist(), PARTNER)
                np.testing.assert_array_equal(p["lam"], LAM)
                self.assertEqual(p["kind"].tolist(), [0, 1, 0])
                self.assertEqual(p["flags"].tolist(), [0, 0, 0])
            else:
                self.assertIsNone(block.provenance)

    def test_v1_provenance_reads_as_v2_records(self):
        with ShardFile(str(GOLDEN / "golden-none-delta.mxs")) as s:
            self.assertEqual((s.header.version, s.index["images"].tolist()), (1, [2, 1]))  # reserved 0 means all
            p = s.read_all().provenance
        with ShardFile(str(GOLDEN / "golden-v2-none-delta.mxs")) as s:
            np.testing.assert_array_equal(p, s.read_all().provenance)

    def test_source_copy(self):
        with self.source() as src:
            self.assertEqual((len(src), src.shape), (4, (2, 2, 3)))
            np.testing.assert_array_equal(np.stack([src.image(k) for k in range(4)]), SOURCE)
            h = src.shard.header
            self.assertEqual((h.split, h.epoch, h.shard_index, h.codec, h.image_filter, h.flags),
                             ("source", 0xFFFFFFFF, 2, "none", "none", 0))
            block = src.shard.read_all()
            np.testing.assert_array_equal(block.labels, SOURCE_LABELS)
            with self.assertRaises(IndexError):
                src.image(4)

    def test_augment_with_references_resolved(self):
        images, labels, kept = augmented_block()
        for name in ("golden-v2-augment.mxs", "golden-v2-augment-zlib.mxs"):
            with self.source() as src, ShardFile(str(GOLDEN / name), src) as s:
                self.assertEqual((s.header.version, s.header.flags), (2, 3))
                self.assertEqual(s.index["images"].tolist(), [1, 1])
                self.assertEqual(s.index["raw"].tolist(), [12 + 24 + 64] * 2)
                block = s.read_all()
            np.testing.assert_array_equal(block.images, images, name)
            np.testing.assert_array_equal(block.labels, labels, name)
            p = block.provenance
            self.assertEqual(p["primary"].tolist(), [1, 0, 2, 3])
            self.assertEqual(p["partner"].tolist(), [1, 3, 1, 3])
            np.testing.assert_array_equal(p["lam"], np.array([1, 0.25, kept, 1], np.float32))
            self.assertEqual(p["kind"].tolist(), [0, 1, 2, 0])
            self.assertEqual(p["flags"].tolist(), [1 | 2 | 4, 2, 0, 4])  # a copy's partner transform is its primary's
            self.assertEqual(block.reference.tolist(), [True, False, False, True])
            self.assertEqual([p[f].tolist() for f in ("primary_dx", "primary_dy", "partner_dx", "partner_dy")],
                             [[1, -1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
            self.assertEqual([p[f].tolist() for f in ("box_x0", "box_y0", "box_x1", "box_y1")],
                             [[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 3, 0], [0, 0, 1, 0]])

    def test_augment_samples_expose_the_record(self):
        from mixshards.dataset import ChunkCache, Epoch
        with self.source() as src, ShardFile(str(GOLDEN / "golden-v2-augment.mxs"), src) as s:
            ep = Epoch("golden", 1, [s], ChunkCache(2))
            x = ep[0]
            self.assertEqual((x.primary, x.partner, x.lam, x.kind, x.primary_transform, x.partner_transform, x.box,
                              x.reference), (1, 1, 1.0, "copy", (1, 0, True), (1, 0, True), (0, 0, 0, 0), True))
            y = ep[2]
            self.assertEqual((y.kind, y.primary_transform, y.partner_transform, y.box, y.reference),
                             ("cutmix", (0, 0, False), (0, 0, False), (1, 0, 3, 1), False))
            self.assertEqual(ep[1].partner_transform, (0, 0, True))
            np.testing.assert_array_equal(np.concatenate([b for b, _ in ep.batches(3)]), augmented_block()[0])

    def test_augment_without_its_source_copy(self):
        path = GOLDEN / "golden-v2-augment.mxs"
        with ShardFile(str(path)) as s:
            with self.assertRaises(ShardError) as ctx:
                s.read_chunk(0)
        self.assertEqual(str(ctx.exception), f"{path}: chunk 0: 1 samples are references to the source copy; read "
                                             "the shard within its shard directory (source/train.mxs)")
        with self.assertRaises(ShardError) as ctx:
            describe(str(path), samples=True)
        self.assertIn("no shard directory (manifest.json) two levels up holds their source copy", str(ctx.exception))

    def test_every_golden_file_matches_the_mixprep_dump(self):
        exe = support.mixprep()
        if exe is None:
            self.skipTest("mixprep is not built")
        for name in ("golden-none-delta.mxs", "golden-zlib6-none.mxs", "golden-v2-none-delta.mxs",
                     "golden-v2-zlib6-none.mxs", "golden-v2-source.mxs", "golden-v3-sparse-zlib6-delta.mxs",
                     "golden-v3-dense-none.mxs"):
            dump = support.scratch() / f"{name}.dump"
            support.run(exe, "inspect", str(GOLDEN / name), "--dump", str(dump))
            with ShardFile(str(GOLDEN / name)) as s:
                block = s.read_all()
                version = s.header.version
            self.assertEqual(support.dump_bytes(block.images, block.labels, block.provenance, version),
                             dump.read_bytes(), name)
            swift = support.run(exe, "inspect", str(GOLDEN / name), "--samples")
            self.assertEqual(describe(str(GOLDEN / name), samples=True) + "\n", swift, name)


def rule12(a, b, lam, k: int, eps: float) -> np.ndarray:
    """DESIGN.md's rule 12 written out: zeros, + λ at a, + (1 − λ) at b, then (1 − ε)·w + ε/K, in float32."""
    row = np.zeros(k, np.float32)
    lam = np.float32(lam)
    row[a] += lam
    row[b] += np.float32(1) - lam
    if eps > 0:
        e = np.float32(eps)
        row = (np.float32(1) - e) * row + e / np.float32(k)
    return row.astype(np.float32)


class GoldenV3Tests(unittest.TestCase):
    """ShardFixtures.goldenSparseAugmentedBlock() and goldenSparseBlock(): sparse label records."""

    def test_sparse_augment_with_references(self):
        images, _, kept = augmented_block()
        records = [(1, 1, 1), (0, 2, 0.25), (2, 1, kept), (0, 0, 1)]
        with SourceImages(str(GOLDEN / "golden-v2-source.mxs")) as src, \
                ShardFile(str(GOLDEN / "golden-v3-sparse-augment.mxs"), src) as s:
            h = s.header
            self.assertEqual((h.version, h.flags, h.label_type, h.label_bytes), (3, 3, "sparse", 12))
            self.assertEqual(np.float32(h.label_smoothing), np.float32(0.1))
            self.assertEqual(s.index["raw"].tolist(), [12 + 2 * 12 + 2 * 32] * 2)
            raw = s.bytes
            # Chunk 0: the stored image of sample 1, then the records {classA u32, classB u32, weight f32}.
            self.assertEqual(struct.unpack_from("<IIfIIf", raw, 64 + 12), (1, 1, 1.0, 0, 2, 0.25))
            self.assertEqual(struct.unpack_from("<I", raw, 56)[0], 0x3DCCCCCD)  # ε = 0.1 as binary32
            block = s.read_all()
        np.testing.assert_array_equal(block.images, images)
        self.assertEqual(block.sparse.classes.tolist(), [[a, b] for a, b, _ in records])
        np.testing.assert_array_equal(block.sparse.weights[:, 0], np.array([w for _, _, w in records], np.float32))
        np.testing.assert_array_equal(block.sparse.weights[:, 1], np.float32(1) - np.array([w for _, _, w in records], np.float32))
        want = np.stack([rule12(a, b, w, 3, 0.1) for a, b, w in records])
        np.testing.assert_array_equal(block.labels.view(np.uint32), want.view(np.uint32))
        np.testing.assert_array_equal(block.sparse.dense().view(np.uint32), want.view(np.uint32))
        np.testing.assert_array_equal(block.lam, block.sparse.weights[:, 0])

    def test_sparse_zlib_delta_and_dense_v3(self):
        with ShardFile(str(GOLDEN / "golden-v3-sparse-zlib6-delta.mxs")) as s:
            self.assertEqual((s.header.version, s.header.label_type, s.header.label_smoothing, s.header.codec,
                              s.header.image_filter), (3, "sparse", 0.0, "zlib", "delta"))
            block = s.read_all()
        np.testing.assert_array_equal(block.images, IMAGES)
        records = [(2, 2, 1), (0, 1, 0.25), (1, 1, 1)]
        self.assertEqual(block.sparse.classes.tolist(), [[a, b] for a, b, _ in records])
        np.testing.assert_array_equal(block.labels, np.stack([rule12(a, b, w, 3, 0) for a, b, w in records]))
        with ShardFile(str(GOLDEN / "golden-v3-dense-none.mxs")) as s:
            self.assertEqual((s.header.version, s.header.label_type, s.header.split, s.header.has_provenance),
                             (3, "float32", "test", False))
            block = s.read_all()
        np.testing.assert_array_equal(block.images, IMAGES)
        np.testing.assert_array_equal(block.labels, LABELS)
        self.assertIsNone(block.sparse)

    def test_inspect_text_names_the_label_type(self):
        text = describe(str(GOLDEN / "golden-v3-sparse-zlib6-delta.mxs"), samples=True)
        self.assertIn("MixShard v3, ", text)
        self.assertIn(" 3 classes, labels sparse (smoothing 0), provenance yes", text)
        self.assertIn(" 3 classes, labels float32, provenance no", describe(str(GOLDEN / "golden-v3-dense-none.mxs")))


class GoldenV4Tests(unittest.TestCase):
    """ShardFixtures.goldenV4OpsBlock(): the v3 sparse augmented block with v4 op records."""

    def test_op_records(self):
        from mixshards import layout
        for name in ("golden-v4-ops.mxs", "golden-v4-ops-zlib6-delta.mxs"):
            with SourceImages(str(GOLDEN / "golden-v2-source.mxs")) as src, ShardFile(str(GOLDEN / name), src) as s:
                h = s.header
                self.assertEqual((h.version, h.flags, h.op_record_bytes), (4, 3, 176), name)
                self.assertEqual(s.index["raw"].tolist(), [12 + 2 * 12 + 2 * 32 + 2 * 176, 12 + 2 * 12 + 2 * 32 + 2 * 176])
                block = s.read_all()
            images, _, _ = augmented_block()
            np.testing.assert_array_equal(block.images, images)
            ops = block.ops
            self.assertEqual(ops.dtype, layout.OP_RECORD)
            # Sample 0: one identity op, the same for both images (a reference may record identities).
            self.assertEqual(ops["primary"]["count"].tolist(), [1, 3, 0, 0])
            self.assertEqual(ops["partner"]["count"].tolist(), [1, 1, 0, 0])
            p1 = ops["primary"][1]
            self.assertEqual(int(p1["flags"]), layout.OPS_RESIZED_CROP)
            self.assertEqual([int(p1[f]) for f in ("crop_top", "crop_left", "crop_height", "crop_width")], [0, 1, 2, 2])
            self.assertEqual([layout.POLICY_OPS[i] for i in p1["slots"]["id"][:3]], ["Rotate", "Brightness", "Hue"])
            np.testing.assert_array_equal(p1["slots"]["magnitude"][:3], np.array([-12.5, 0.25, -0.05], np.float32))
            self.assertEqual((layout.POLICY_OPS[ops["partner"][1]["slots"]["id"][0]], float(ops["partner"][1]["slots"]["magnitude"][0])),
                             ("Posterize", 6.0))
            self.assertEqual(ops["erase_fill"].tolist(), [0, layout.ERASE_ZERO, layout.ERASE_RANDOM, 0])
            self.assertEqual([int(ops[f][1]) for f in ("erase_top", "erase_left", "erase_height", "erase_width")], [1, 0, 1, 2])
            self.assertEqual([int(ops[f][2]) for f in ("erase_top", "erase_left", "erase_height", "erase_width")], [0, 1, 1, 1])

    def test_v3_has_no_op_records(self):
        with SourceImages(str(GOLDEN / "golden-v2-source.mxs")) as src, \
                ShardFile(str(GOLDEN / "golden-v3-sparse-augment.mxs"), src) as s:
            self.assertEqual(s.header.op_record_bytes, 0)
            self.assertIsNone(s.read_all().ops)

    def test_malformed_op_records_are_refused_as_swift_refuses_them(self):
        """The cases of Swift's OpRecordTests.testMalformedOpRecordsAreRefused, word for word."""
        import tempfile
        golden = (GOLDEN / "golden-v4-ops.mxs").read_bytes()
        ops0 = 164
        ops1 = ops0 + 176
        cases = [
            (ops1, [9], "sample 1: ops: the primary records 9 ops, at most 8"),
            (ops1 + 1, [3], "sample 1: ops: the primary's record has unknown flags 3 or non-zero reserved bytes"),
            (ops1 + 8, [3], "sample 1: ops: the primary's resized crop (top 0, left 1, 3×2) is not a box within the 3×2 image"),
            (ops1 + 16, [15], "sample 1: ops: the primary's op 0 has unknown id 15"),
            (ops1 + 25, [1], "sample 1: ops: the primary's op 1 has non-zero reserved bytes"),
            (ops1 + 20, [0, 0, 0xC0, 0x7F], "sample 1: ops: the primary's op 0 (Rotate) has magnitude nan"),
            (ops1 + 40, [6], "sample 1: ops: the primary's op slot 3 is beyond its 3 ops but not zero"),
            (ops1 + 161, [1], "sample 1: ops: the erasing record has non-zero reserved bytes"),
            (ops1 + 160, [3], "sample 1: ops: erasing fill 3 is unknown"),
            (ops1 + 168, [2], "sample 1: ops: the erased box (top 1, left 0, 2×2) is not a box within the 3×2 image"),
            (ops1 + 160, [0], "sample 1: ops: an erasing box without a fill"),
            (ops0 + 16, [5], "sample 0: ops: a copy must record the same ops for primary and partner"),
            (ops0 + 160, [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0],
             "sample 0: ops: a reference has ops other than the identity (its pixels must be stored)"),
        ]
        with tempfile.TemporaryDirectory() as d:
            path = f"{d}/bad.mxs"
            for offset, patch, expected in cases:
                b = bytearray(golden)
                b[offset:offset + len(patch)] = bytes(patch)
                index = len(b) - 96
                stored = struct.unpack_from("<I", b, index + 8)[0]
                struct.pack_into("<I", b, index + 24, zlib.crc32(bytes(b[64:64 + stored])))
                struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[index:index + 64])))
                with open(path, "wb") as f:
                    f.write(b)
                with SourceImages(str(GOLDEN / "golden-v2-source.mxs")) as src, ShardFile(path, src) as s:
                    with self.assertRaises(ShardError) as ctx:
                        s.read_all()
                self.assertEqual(str(ctx.exception), f"{path}: chunk 0: {expected}")

    def test_inspect_shows_the_ops_as_mixprep_does(self):
        """`inspect --samples` names each sample's ops as Swift's Provenance.opsSummary does (OpRecordTests)."""
        from mixshards.cli import describe_ops
        with SourceImages(str(GOLDEN / "golden-v2-source.mxs")) as src, ShardFile(str(GOLDEN / "golden-v4-ops.mxs"), src) as s:
            block = s.read_all()
        texts = [describe_ops(block.ops[k], int(block.provenance[k]["kind"])) for k in range(4)]
        self.assertEqual(texts, [" ops Identity(0)",
                                 " ops ResizedCrop(0,1,2×2) Rotate(-12.5) Brightness(0.25) Hue(-0.05) | Posterize(6); erase zero (1,0,1×2)",
                                 " ops - | -; erase random (0,1,1×1)", ""])
