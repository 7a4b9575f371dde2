"""MixShard v3's sparse labels in Python: every reader rule on the records and the header
(worded as the Swift reader words them), the sparse form through the batch API and PyTorch,
and v2 and v3 directories of one pipeline yielding the same rows."""

import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np

import mixshards
from mixshards import ShardError, ShardFile, SparseLabels, layout, rules

from . import support
from .fuzz_reader import Shard
from .support import GOLDEN, fix_header_crc


class SparseDamageTests(unittest.TestCase):
    """golden-v3-sparse-zlib6-delta: chunks of 2; records (2, 2, 1) copy, (0, 1, ¼) blend | (1, 1, 1) copy."""

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sparse-damage-", dir=support.scratch()))
        self.sparse = (GOLDEN / "golden-v3-sparse-zlib6-delta.mxs").read_bytes()

    def failure(self, data: bytes) -> str:
        """The Python reader's one line for ``data``, without the path — checked to be the Swift reader's
        (``mixprep inspect --samples``) when it is built."""
        path = self.dir / "bad.mxs"
        path.write_bytes(bytes(data))
        with self.assertRaises(ShardError) as ctx:
            with ShardFile(str(path)) as s:
                s.read_all().labels
        msg = str(ctx.exception)
        self.assertTrue(msg.startswith(f"{path}: "), msg)
        self.assertNotIn("\n", msg)
        exe = support.mixprep()
        if exe is not None:
            r = subprocess.run([exe, "inspect", str(path), "--samples"], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (1, f"error: {msg}\n"))
        return msg.removeprefix(f"{path}: ")

    def record(self, chunk: int, j: int, field: str, value) -> bytes:
        """The golden file with field ``field`` of record ``j`` of chunk ``chunk`` set, re-encoded with valid CRCs."""
        s = Shard(self.sparse)
        raw = s.raw(chunk)
        at = s.entries[chunk][6] * 12 + 12 * j + {"class_a": 0, "class_b": 4, "weight": 8}[field]
        struct.pack_into("<f" if field == "weight" else "<I", raw, at, value)
        s.set_raw(chunk, raw)
        return s.encode()

    def header(self, data: bytes, **fields) -> bytes:
        b = bytearray(data)
        for name, value in fields.items():
            at, fmt = {"label_type": (37, "<B"), "smoothing": (56, "<f"), "reserved": (56, "<I")}[name]
            struct.pack_into(fmt, b, at, value)
        fix_header_crc(b)
        return bytes(b)

    def test_the_golden_file_reads(self):
        (self.dir / "ok.mxs").write_bytes(self.record(0, 1, "weight", 0.25))
        with ShardFile(str(self.dir / "ok.mxs")) as s:
            self.assertEqual(s.read_all().sparse.classes.tolist(), [[2, 2], [0, 1], [1, 1]])

    def test_record_rules(self):
        cases = [
            (self.record(0, 1, "class_a", 3), "chunk 0: sample 1: sparse label classA 3 is not a class of the shard (it has 3)"),
            (self.record(0, 1, "class_b", 0xFFFFFFFF),
             "chunk 0: sample 1: sparse label classB 4294967295 is not a class of the shard (it has 3)"),
            (self.record(0, 1, "weight", float("nan")), "chunk 0: sample 1: sparse label weight nan is not in [0, 1]"),
            (self.record(0, 1, "weight", 1.5), "chunk 0: sample 1: sparse label weight 1.5 is not in [0, 1]"),
            (self.record(0, 1, "weight", -0.25), "chunk 0: sample 1: sparse label weight -0.25 is not in [0, 1]"),
            (self.record(0, 1, "weight", float("inf")), "chunk 0: sample 1: sparse label weight inf is not in [0, 1]"),
            (self.record(0, 1, "weight", 0.5), "chunk 0: sample 1: sparse label weight 0.5 differs from the provenance lambda 0.25"),
            (self.record(1, 0, "weight", float(np.nextafter(np.float32(1), np.float32(0)))),
             "chunk 1: sample 2: sparse label weight 0.99999994 differs from the provenance lambda 1"),
            (self.record(0, 0, "class_b", 1), "chunk 0: sample 0: sparse label of a copy names two classes (2 and 1)"),
        ]
        for data, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(self.failure(data), expected)

    def test_header_rules(self):
        dense3 = (GOLDEN / "golden-v3-dense-none.mxs").read_bytes()
        v2 = (GOLDEN / "golden-v2-zlib6-none.mxs").read_bytes()
        v1 = (GOLDEN / "golden-zlib6-none.mxs").read_bytes()
        cases = [
            (self.header(self.sparse, smoothing=float("nan")), "header: labelSmoothing nan is not a number from 0 to 1"),
            (self.header(self.sparse, smoothing=float("inf")), "header: labelSmoothing inf is not a number from 0 to 1"),
            (self.header(self.sparse, smoothing=-0.5), "header: labelSmoothing -0.5 is not a number from 0 to 1"),
            (self.header(self.sparse, smoothing=1.5), "header: labelSmoothing 1.5 is not a number from 0 to 1"),
            (self.header(self.sparse, smoothing=-0.0), "header: labelSmoothing -0 is not a number from 0 to 1"),
            (self.header(dense3, smoothing=0.1),
             "header: labelSmoothing 0.1 with dense labels (must be 0: dense rows hold their smoothing)"),
            (self.header(v2, label_type=2), "header: unsupported labelType 2 (sparse, MixShard v3 only; this file is v2)"),
            (self.header(v1, label_type=2), "header: unsupported labelType 2 (sparse, MixShard v3 only; this file is v1)"),
            (self.header(v2, reserved=1), "header: reserved bytes 56..<60 are not zero (v2)"),
            (self.header(v1, reserved=1 << 24), "header: reserved bytes 56..<60 are not zero (v1)"),
            (self.header(self.sparse, label_type=1), "header: unsupported labelType 1 (float16, reserved)"),
            (self.header(self.sparse, label_type=3), "header: unsupported labelType 3"),
        ]
        for data, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(self.failure(data), expected)
        # ε = 1 is a smoothing: every weight 1/K.
        (self.dir / "one.mxs").write_bytes(self.header(self.sparse, smoothing=1.0))
        with ShardFile(str(self.dir / "one.mxs")) as s:
            np.testing.assert_array_equal(s.read_all().labels, np.full((3, 3), np.float32(1) / np.float32(3)))

    def test_rows_expand_as_dense_chunks_expand(self):
        """A chunk cached whole yields the same rows whichever form is asked first, and the checks run
        when the rows are built (the sparse form alone builds none)."""
        with ShardFile(str(GOLDEN / "golden-v3-sparse-zlib6-delta.mxs")) as s:
            c = s.read_chunk(0)
            self.assertIsNone(c._labels)
            self.assertEqual(len(c.sparse), 2)
            np.testing.assert_array_equal(c.labels, c.sparse.dense())
            with self.assertRaises(ValueError):
                c.labels[0, 0] = 1


class ManyClassesTests(unittest.TestCase):
    def test_sum_tolerance_grows_with_the_class_count(self):
        """Rows rule 12 gives sum, in float32, to 1 ± (K + 4)·2⁻²⁴ at most: at 21,841 classes and ε = 0.1
        more than 1e-4 off. Every reader allows max(1e-4, (K + 4)·2⁻²⁴) (Swift's labelSumTolerance)."""
        self.assertEqual(layout.label_sum_tolerance(10), np.float32(1e-4))
        self.assertEqual(layout.label_sum_tolerance(65_535), np.float32(65_539) * np.float32(2.0 ** -24))
        rng = np.random.default_rng(5)
        worst = 0.0
        for k in (2, 3, 1000, 1024, 1674, 21_841, 65_535):
            for eps in (0.0, 1e-8, 0.01, 0.05, 0.1, 0.2, 0.5, 0.99, 1.0):
                n = 64
                records = np.zeros(n, layout.SPARSE_LABEL)
                records["class_a"] = rng.integers(0, k, n)
                records["class_b"] = np.where(np.arange(n) % 4 == 0, records["class_a"], rng.integers(0, k, n))
                records["weight"] = np.where(np.arange(n) % 4 == 0, 1, rng.random(n)).astype(np.float32)
                rows = layout.expand_sparse(records, k, np.float32(eps))
                rules.check_label_rows(rows, 0, lambda what: AssertionError(f"K {k} ε {eps}: {what}"))
                total = np.cumsum(rows, axis=1, dtype=np.float32)[:, -1]
                worst = max(worst, float(np.max(np.abs(total - np.float32(1)))))
        self.assertGreater(worst, 1e-4)  # the old tolerance would refuse true rows


class SparseDirectoryTests(unittest.TestCase):
    """The "batch" variant (ε 0.1) written as v3 and as v2 ("batch-v2")."""

    def test_v2_and_v3_yield_the_same_samples(self):
        d3, d2 = (mixshards.open(support.shard_dir(n) / "shards") for n in ("batch", "batch-v2"))
        self.assertEqual((d3.manifest.version, d2.manifest.version), (3, 2))
        for e in range(d3.epochs):
            a, b = d3.epoch(e), d2.epoch(e)
            self.assertEqual(a.shards[0].header.label_type, "sparse")
            self.assertEqual(b.shards[0].header.label_type, "float32")
            for (ia, la), (ib, lb) in zip(a.batches(64), b.batches(64)):
                np.testing.assert_array_equal(ia, ib)
                np.testing.assert_array_equal(la.view(np.uint32), lb.view(np.uint32))
            for sa, sb in zip(a.shards, b.shards):
                ba, bb = sa.read_all(), sb.read_all()
                np.testing.assert_array_equal(ba.provenance, bb.provenance)
        self.assertEqual(mixshards.verify(d2.path), [])

    def test_sparse_batches(self):
        ds = mixshards.open(support.shard_dir("batch") / "shards")
        ep = ds.epoch(1)
        self.assertEqual(ep.smoothing, np.float32(0.1))
        self.assertEqual(ds.test.smoothing, 0.0)
        dense = list(ep.batches(50, seed=3))
        sparse = list(ep.batches(50, seed=3, sparse=True))
        self.assertEqual(len(dense), len(sparse))
        for (x, y), (xs, ys) in zip(dense, sparse):
            self.assertIsInstance(ys, SparseLabels)
            np.testing.assert_array_equal(x, xs)
            self.assertEqual((ys.classes.shape, ys.classes.dtype, ys.weights.dtype), ((len(x), 2), np.int64, np.float32))
            np.testing.assert_array_equal(ys.dense().view(np.uint32), y.view(np.uint32))
            # The documented formula, in float64: dense = (1 − ε)·scatter(weights at classes) + ε/K.
            want = np.zeros((len(x), 10))
            np.add.at(want, (np.arange(len(x))[:, None], ys.classes), ys.weights.astype(np.float64))
            np.testing.assert_allclose(y, (1 - ys.smoothing) * want + ys.smoothing / 10, atol=1e-6)
            # The weights are λ and 1 − λ of the records.
            np.testing.assert_array_equal(ys.weights[:, 1], np.float32(1) - ys.weights[:, 0])
        # Ranks' parts in sparse form are the dense parts' samples.
        parts = [list(ep.batches(32, rank=r, world_size=3, seed=3, sparse=True)) for r in range(3)]
        classes = np.concatenate([b[1].classes for p in parts for b in p])
        np.testing.assert_array_equal(classes, np.concatenate([y.classes for _, y in sparse]))

    def test_sparse_form_in_shuffle_windows_ranks_and_random_access(self):
        """The sparse form follows the same order as the dense rows: shuffle windows, padded or cut
        ranks, a resume point, ``take``; the records travel packed 4 floats a sample and come back exact."""
        ep = mixshards.open(support.shard_dir("batch") / "shards").epoch(1)
        for window, (rank, world), even in ((0, (0, 1), False), (3, (1, 3), "pad"), (8, (2, 3), "drop")):
            args = dict(seed=5, shuffle_window=window, even=even)
            dense = list(ep.batches(32, rank, world, **args))
            sparse = list(ep.batches(32, rank, world, sparse=True, **args))
            positions = list(ep.batch_positions(32, rank, world, **args))
            self.assertEqual((len(sparse), len(positions)), (len(dense), len(dense)))
            for (x, y), (xs, ys), p in zip(dense, sparse, positions):
                np.testing.assert_array_equal(x, xs)
                self.assertEqual((ys.smoothing, ys.class_count), (ep.smoothing, 10))
                np.testing.assert_array_equal(ys.dense().view(np.uint32), y.view(np.uint32))
                images, taken = ep.take(p, sparse=True)
                np.testing.assert_array_equal(images, x)
                np.testing.assert_array_equal(taken.classes, ys.classes)
                np.testing.assert_array_equal(taken.weights, ys.weights)
        full = list(ep.batches(32, seed=5, sparse=True))
        for (_, a), (_, b) in zip(list(ep.batches(32, seed=5, sparse=True, start=4)), full[4:]):
            np.testing.assert_array_equal(a.classes, b.classes)
        many = SparseLabels(np.array([[65534, 0], [7, 7]]), np.array([[0.3, 0.7], [1.0, 0.0]], np.float32), 0.1, 65535)
        back = SparseLabels.unpack(many.packed(), 0.1, 65535)
        np.testing.assert_array_equal(back.classes, many.classes)
        np.testing.assert_array_equal(back.weights, many.weights)
        self.assertEqual(back.classes.dtype, np.int64)

    def test_dense_directories_have_no_sparse_form(self):
        ds = mixshards.open(support.shard_dir("batch-v2") / "shards")
        ep = ds.epoch(0)
        with self.assertRaises(ShardError):
            ep.take([0], sparse=True)
        with self.assertRaises(ShardError) as ctx:
            ep.batches(50, sparse=True)
        self.assertEqual(str(ctx.exception), f"{ep.shards[0].path}: stores dense label rows (MixShard v2, labelType float32), not "
                                             "the sparse form (MixShard v3, as mixprep writes it: rewrite the directory with "
                                             "mixprep run); read dense rows")
        self.assertIsNone(ep.shards[0].read_chunk(0).sparse)
