"""The faster paths of the reader: libdeflate for zlib streams (zlib for the errors),
and the source copy held in memory (or inflated into a bounded cache); each gives exactly
the bytes of the plain path."""

import os
import unittest
import zlib
from unittest import mock

import numpy as np

import mixshards
from mixshards import inflate, layout

from . import support


class InflateTests(unittest.TestCase):
    def setUp(self):
        if not inflate.available():
            self.skipTest("libdeflate is not installed (apt-get install libdeflate0)")

    def test_the_bytes_of_zlib(self):
        rng = np.random.default_rng(1)
        for raw in (b"", b"a", bytes(100_000), rng.integers(0, 4, 300_000, dtype=np.uint8).tobytes()):
            for level in (1, 9):
                self.assertEqual(bytes(inflate.inflate_exact(zlib.compress(raw, level), len(raw))), raw)

    def test_anything_but_an_exact_stream_is_left_to_zlib(self):
        raw = bytes(range(256)) * 50
        stream = zlib.compress(raw)
        self.assertIsNone(inflate.inflate_exact(stream, len(raw) - 1))   # holds more
        self.assertIsNone(inflate.inflate_exact(stream, len(raw) + 1))   # holds less
        self.assertIsNone(inflate.inflate_exact(stream + b"\0", len(raw)))   # trailing bytes
        self.assertIsNone(inflate.inflate_exact(stream[:-5], len(raw)))  # truncated
        damaged = bytearray(stream)
        damaged[len(damaged) // 2] ^= 0xFF
        self.assertIsNone(inflate.inflate_exact(bytes(damaged), len(raw)))

    def test_directory_reads_the_same_without_it(self):
        d = support.shard_dir("batch") / "shards"
        with_it = np.concatenate([b for b, _ in mixshards.open(d).epoch(1).batches(100)])
        with mock.patch.object(inflate, "inflate_exact", return_value=None):
            without = np.concatenate([b for b, _ in mixshards.open(d).epoch(1).batches(100)])
        np.testing.assert_array_equal(with_it, without)


class HeldSourceTests(unittest.TestCase):
    """One bound (``source_cache_bytes``, ``MIXSHARDS_SOURCE_CACHE``) on a source copy's memory: a copy
    that fits is held whole, an uncompressed one read at once, a compressed one chunk by chunk as
    references need them; a larger one is read image by image (uncompressed) or through a cache of
    inflated chunks (compressed). Every way gives the same bytes."""

    def test_uncompressed_held_and_read_give_the_same_bytes(self):
        d = support.shard_dir("refs-cutmix") / "shards"
        held = mixshards.open(d)
        copy = held.source_copy
        self.assertFalse(copy.compressed)
        self.assertTrue(copy.held)
        self.assertIsNotNone(copy._whole)  # read when the directory's reader opened it
        self.assertEqual(copy._whole.nbytes, 300 * 3 * 32 * 32)
        plain = mixshards.open(d, source_cache_bytes=300 * 3 * 32 * 32 - 1)  # one byte short: read image by image
        self.assertFalse(plain.source_copy.held)
        with mock.patch.dict(os.environ, {"MIXSHARDS_SOURCE_CACHE": "1K"}):
            from_env = mixshards.open(d)
            self.assertFalse(from_env.source_copy.held)
        for e in range(held.epochs):
            a, b, c = held.epoch(e), plain.epoch(e), from_env.epoch(e)
            want = a.take(range(len(a)))[0]
            np.testing.assert_array_equal(b.take(range(len(b)))[0], want)
            np.testing.assert_array_equal(c.take(range(len(c)))[0], want)
        k = [0, 5, 299]
        np.testing.assert_array_equal(copy.images(k), plain.source_copy.images(k))
        self.assertIsNone(plain.source_copy._whole)
        self.assertEqual(copy.cache_statistics(), {"hits": 0, "inflated": 0, "evicted": 0, "resident_bytes": 0})

    def test_compressed_held_whole_fills_chunk_by_chunk(self):
        refs = support.shard_dir("refz3-cutmix") / "shards"   # 300 images, 3 a chunk: 100 chunks
        pixels = support.shard_dir("pixels-cutmix") / "shards"
        chunk_bytes = 3 * 3 * 32 * 32
        held = mixshards.open(refs)
        copy = held.source_copy
        self.assertTrue(copy.compressed and copy.held)
        self.assertEqual(copy.cache_statistics()["inflated"], 0)  # nothing inflated before a reference needs it
        lru = mixshards.open(refs, source_cache_bytes=5 * chunk_bytes)
        self.assertFalse(lru.source_copy.held)
        b = mixshards.open(pixels)
        for _ in range(2):  # a second pass inflates nothing more
            for e in range(held.epochs):
                want = b.epoch(e).take(range(len(b.epoch(e))))[0]
                np.testing.assert_array_equal(held.epoch(e).take(range(len(want)))[0], want)
                np.testing.assert_array_equal(lru.epoch(e).take(range(len(want)))[0], want)
        stats = copy.cache_statistics()
        self.assertLessEqual(stats["inflated"], 100)
        self.assertGreater(stats["inflated"], 0)
        self.assertEqual(stats["evicted"], 0)
        self.assertEqual(stats["resident_bytes"], stats["inflated"] * chunk_bytes)
        self.assertEqual(int(copy._ready.sum()), stats["inflated"])
        self.assertGreater(stats["hits"], 0)
        small = lru.source_copy.cache_statistics()
        self.assertGreater(small["evicted"], 0)
        self.assertLessEqual(small["resident_bytes"], 5 * chunk_bytes)
        # Every image of the copy, filled in place, is the copy's.
        with mixshards.SourceImages(str(refs / layout.SOURCE_FILE), cache_bytes=1) as one:
            np.testing.assert_array_equal(copy.images(range(300)), one.images(range(300)))
        self.assertTrue(copy._ready.all())
