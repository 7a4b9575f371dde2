"""The faster paths of the reader: libdeflate for zlib streams (zlib for the errors),
and the source copy held in memory; each gives exactly the bytes of the plain path."""

import os
import unittest
import zlib
from unittest import mock

import numpy as np

import mixshards
from mixshards import inflate, sourcecache

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
    def test_held_and_read_give_the_same_bytes(self):
        d = support.shard_dir("refs-cutmix") / "shards"
        held = mixshards.open(d)
        self.assertIsInstance(held.source_copy, sourcecache.HeldSourceImages)
        with mock.patch.dict(os.environ, {"MIXSHARDS_SOURCE_IN_MEMORY": "0"}):
            plain = mixshards.open(d)
            self.assertNotIsInstance(plain.source_copy, sourcecache.HeldSourceImages)
        for e in range(held.epochs):
            a, b = held.epoch(e), plain.epoch(e)
            np.testing.assert_array_equal(a.take(range(len(a)))[0], b.take(range(len(b)))[0])
        k = [5, 0, 5, 299]
        np.testing.assert_array_equal(held.source_copy.images(k), plain.source_copy.images(sorted(set(k)))[[1, 0, 1, 2]])
