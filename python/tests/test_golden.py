"""The golden shards of Tests/ShardFormatTests decode to the values the Swift golden tests write."""

import struct
import unittest
import zlib

import numpy as np

from mixshards import ShardFile
from mixshards.cli import describe

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
        self.assertIn("samples 3 in 2 chunks of ≤ 2", text)
        self.assertIn("chunk 0 sample 1: primary 0 partner 9 λ 0.2500 label [0.000 0.250 0.750]", text)
        self.assertIn("all 2 chunks decoded and checked", text)
