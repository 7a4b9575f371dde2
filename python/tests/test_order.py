"""The reading order (numpy, no torch): the seeded shuffle within windows of chunks,
rank parts with padding, workers' pieces, random access, output conversion."""

import itertools
import unittest

import numpy as np

import mixshards
from mixshards.mapstyle import ByteCache, RandomAccess
from mixshards.normalize import CIFAR10_MEAN, CIFAR10_STD, Normalizer
from mixshards.order import EpochOrder
from mixshards.output import Converter, make_spec
from mixshards.partition import RankPart, complement, merge
from mixshards.rng import STREAM_SHUFFLE, chunk_order, uniform_doubles
from mixshards.stream import WindowReader, batches, strided_batches

from . import support


class EpochOrderArithmeticTests(unittest.TestCase):
    sizes = [50, 50, 50, 50, 50, 20, 50, 30]  # file order; positions 0 … 349

    def test_window_zero_is_mixtrains_chunk_order(self):
        o = EpochOrder(self.sizes, 7, 3, shuffle_window=0)
        first = np.cumsum([0] + self.sizes[:-1])
        expected = np.concatenate([np.arange(first[c], first[c] + self.sizes[c]) for c in chunk_order(8, 7, 3)])
        np.testing.assert_array_equal(o.positions(0, len(o)), expected)
        self.assertEqual(o.windows, 8)

    def test_no_seed_is_file_order(self):
        o = EpochOrder(self.sizes, None, 3, shuffle_window=4)
        np.testing.assert_array_equal(o.positions(0, 350), np.arange(350))
        self.assertFalse(o.shuffled)

    def test_windows_permute_their_own_chunks(self):
        o = EpochOrder(self.sizes, 7, 3, shuffle_window=3)
        self.assertEqual(o.windows, 3)
        first = np.cumsum([0] + self.sizes[:-1])
        for j in range(o.windows):
            a, b = int(o.starts[j]), int(o.starts[j + 1])
            got = o.positions(a, b)
            mine = np.concatenate([np.arange(first[c], first[c] + self.sizes[c]) for c in o.window_chunks(j)])
            self.assertEqual(sorted(got.tolist()), sorted(mine.tolist()))
            # The rule: window j's samples in chunk order, permuted by the stable argsort of the draws.
            keys = uniform_doubles(7, STREAM_SHUFFLE, 3, 1 + j, b - a)
            np.testing.assert_array_equal(got, mine[np.argsort(keys, kind="stable")])
        everything = o.positions(0, 350)
        self.assertEqual(sorted(everything.tolist()), list(range(350)))
        # Any sub-range is the same slice of the whole order.
        for a, b in ((0, 1), (10, 170), (149, 151), (300, 350), (5, 5)):
            np.testing.assert_array_equal(o.positions(a, b), everything[a:b])

    def test_pinned_order(self):
        # Changing the shuffle changes every Python reader's batches: this pins it.
        o = EpochOrder([4, 4, 4], 1, 0, shuffle_window=2)
        self.assertEqual(o.positions(0, 12).tolist(), [5, 6, 9, 7, 10, 8, 11, 4, 3, 0, 1, 2])

    def test_seed_and_epoch_key_the_shuffle(self):
        a = EpochOrder(self.sizes, 7, 3, 2).positions(0, 350)
        self.assertFalse(np.array_equal(a, EpochOrder(self.sizes, 8, 3, 2).positions(0, 350)))
        self.assertFalse(np.array_equal(a, EpochOrder(self.sizes, 7, 4, 2).positions(0, 350)))
        np.testing.assert_array_equal(a, EpochOrder(self.sizes, 7, 3, 2).positions(0, 350))

    def test_bad_window(self):
        for bad in (-1, 1.5, True, "8"):
            with self.assertRaisesRegex(ValueError, "shuffle_window must be a whole number of chunks"):
                EpochOrder(self.sizes, 1, 0, bad)


class RankPartTests(unittest.TestCase):
    def test_cifar_at_eight_ranks(self):
        # Issue 19: 50,000 samples, batch 128, 8 ranks: dropping loses 848 samples, padding repeats 128.
        drop = [RankPart(50000, 128, r, 8, even="drop") for r in range(8)]
        pad = [RankPart(50000, 128, r, 8, even="pad") for r in range(8)]
        plain = [RankPart(50000, 128, r, 8) for r in range(8)]
        self.assertEqual([p.batches for p in drop], [48] * 8)
        self.assertEqual([p.batches for p in pad], [49] * 8)
        self.assertEqual([p.batches for p in plain], [48] + [49] * 7)
        self.assertEqual(drop[0].dropped, 848)
        self.assertEqual(pad[0].padded_total, 128)
        self.assertEqual(pad[0].padded, 128)
        self.assertEqual(pad[0].ranges, ((0, 6144), (0, 128)))  # rank 0 repeats its own first batch
        self.assertEqual(sum(p.padded for p in pad), 128)
        self.assertEqual(RankPart(50000, 128, 0, 8, even=True).batches, 48)  # True: the old name of "drop"

    def test_every_sample_once_plus_padding(self):
        for total, batch, world, drop_last, even in itertools.product((0, 1, 7, 100, 129), (1, 4, 32), range(1, 6),
                                                                      (False, True), ("pad", "drop", False)):
            parts = [RankPart(total, batch, r, world, drop_last, even) for r in range(world)]
            counts = [p.batches for p in parts]
            if even:
                self.assertEqual(len(set(counts)), 1, (total, batch, world, drop_last, even))
            self.assertLessEqual(max(counts) - min(counts), 1)
            seen = np.zeros(total, np.int64)
            for p in parts:
                unpadded = p.samples - p.padded
                for _, g, n in p.segments(0, unpadded):
                    seen[g:g + n] += 1
                for _, g, n in p.segments(unpadded, p.samples):
                    self.assertTrue(0 <= g and g + n <= total)
                self.assertTrue(all(p.batch_size_of(k) == batch for k in range(p.batches - 1)))
            self.assertTrue((seen <= 1).all())
            self.assertEqual(int(seen.sum()) + parts[0].dropped, total, (total, batch, world, drop_last, even))
            if even == "pad":
                self.assertEqual(sum(p.padded for p in parts), parts[0].padded_total)

    def test_excluded_samples_are_skipped(self):
        done = merge([(0, 10), (50, 60)])
        self.assertEqual(complement(100, done), [(10, 50), (60, 100)])
        parts = [RankPart(100, 8, r, 3, even=False, excluded=done) for r in range(3)]
        got = sorted(g + i for p in parts for _, g, n in p.segments(0, p.samples) for i in range(n))
        self.assertEqual(got, list(range(10, 50)) + list(range(60, 100)))
        self.assertEqual(parts[0].delivered(2), [(10, 26)])


class DirectoryOrderTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ds = mixshards.open(support.shard_dir("plain") / "shards")  # 300 samples, chunks of 16, shards of 70

    def test_batches_hold_the_samples_of_their_positions(self):
        ep = self.ds.epoch(2, warn=False)
        for window, (rank, world), even in itertools.product((0, 1, 3, 8), ((0, 1), (1, 3), (2, 3)),
                                                              ("pad", False)):
            args = dict(seed=4, shuffle_window=window, even=even)
            for (images, labels), positions in zip(ep.batches(37, rank, world, **args),
                                                   ep.batch_positions(37, rank, world, **args)):
                want_images, want_labels = ep.take(positions)
                np.testing.assert_array_equal(images, want_images)
                np.testing.assert_array_equal(labels, want_labels)
                np.testing.assert_array_equal(images[0], ep[int(positions[0])].image)

    def test_every_position_once_over_ranks(self):
        ep = self.ds.epoch(0)
        for window, world in itertools.product((1, 2, 5), (1, 2, 4)):
            parts = [np.concatenate(list(ep.batch_positions(32, r, world, seed=1, shuffle_window=window)))
                     for r in range(world)]
            flat = np.concatenate(parts)
            self.assertEqual(sorted(flat.tolist()), list(range(len(ep))))
            whole = np.concatenate(list(ep.batch_positions(32, seed=1, shuffle_window=window)))
            np.testing.assert_array_equal(flat, whole)  # ranks' batches are one process's, dealt in order

    def test_start_skips_batches(self):
        ep = self.ds.epoch(0)
        full = list(ep.batches(40, seed=2, shuffle_window=3))
        rest = list(ep.batches(40, seed=2, shuffle_window=3, start=3))
        self.assertEqual(len(rest), len(full) - 3)
        for (a, _), (b, _) in zip(rest, full[3:]):
            np.testing.assert_array_equal(a, b)

    def test_workers_slices_are_the_batches(self):
        ep = self.ds.epoch(0)
        for workers, start, window in itertools.product((1, 2, 3, 5), (0, 1, 4), (1, 2)):
            plan = ep.plan(24, 1, 2, seed=6, shuffle_window=window, even="pad")
            want = np.concatenate([b for b, _ in batches(plan, start)])
            shares = [plan.worker_slices(start, w, workers) for w in range(workers)]
            # Taken one from each worker in turn (a DataLoader's order), the slices come in order…
            turns = [s for group in itertools.zip_longest(*shares) for s in group if s is not None]
            self.assertEqual([i for i, *_ in turns], list(range(len(turns))))
            # …and hold the rest of the part, from the resume point, exactly once.
            self.assertEqual([at for _, at, _, _ in turns],
                             list(np.cumsum([0] + [n for *_, n in turns[:-1]]) + start * 24))
            reader = WindowReader(plan.epoch, plan.order)
            np.testing.assert_array_equal(np.concatenate([reader.take(g, n)[0] for _, _, g, n in turns]), want)
            # Each slice lies in one window; a worker reads whole windows, so two share only the cut ones.
            windows = [{plan.order.window_of(g) for _, _, g, _ in share} for share in shares]
            for _, _, g, n in turns:
                self.assertEqual(plan.order.window_of(g), plan.order.window_of(g + n - 1))
            if workers > 1:
                self.assertLess(len(windows[0] & windows[1]), 3)
            strided = [b for w in range(workers) for b in strided_batches(plan, start, w, workers)]
            self.assertEqual(sum(len(b) for b, _ in strided), len(want))

    def test_slices_and_sequences_of_positions(self):
        ep = self.ds.epoch(0)
        three = ep[0:3]
        self.assertEqual([s.position for s in three], [0, 1, 2])
        self.assertEqual([s.position for s in ep[-2:]], [298, 299])
        self.assertEqual([s.position for s in ep[[5, -1, 5]]], [5, 299, 5])
        self.assertEqual([s.position for s in ep[np.array([7, 8])]], [7, 8])
        self.assertEqual(ep[10:4], [])
        with self.assertRaisesRegex(TypeError, "positions are integers, slices or sequences"):
            ep["3"]
        with self.assertRaisesRegex(IndexError, "position 300 out of range for epoch 0 of 300 samples"):
            ep[[1, 300]]
        images, labels = ep.take([3, 2, 3, -1])
        np.testing.assert_array_equal(images[0], ep[3].image)
        np.testing.assert_array_equal(images[2], ep[3].image)
        np.testing.assert_array_equal(labels[3], ep[299].label)
        with self.assertRaisesRegex(IndexError, "position -301 out of range"):
            ep.take([-301])

    def test_byte_cache_keeps_its_limit(self):
        ep = self.ds.epoch(0)
        access = RandomAccess(self.ds, "train", 0, cache_bytes=3 * 16 * (3 * 32 * 32 + 40) + 100)
        rng = np.random.default_rng(0)
        for _ in range(20):
            k = rng.integers(0, 300, 10)
            images, _ = access.take(k)
            np.testing.assert_array_equal(images, ep.take(k)[0])
            self.assertLessEqual(access.cache.bytes, access.cache.limit)
            self.assertLessEqual(len(access.cache), 5)  # 3 full chunks, or fewer with the short last ones
        whole = RandomAccess(self.ds, "train", 0)
        for k in rng.permutation(300):
            whole.take([k])
        self.assertEqual(whole.cache.misses, len(ep.chunks))  # each chunk inflated once
        self.assertEqual(whole.cache.hits, 300 - len(ep.chunks))
        ds = mixshards.open(support.shard_dir("plain") / "shards", cache_bytes=1 << 30)  # ep[k] through it
        e = ds.epoch(0)
        for k in rng.permutation(300):
            self.assertEqual(e[int(k)].position, k)
        self.assertEqual((ds._cache.misses, ds._cache.hits), (len(ep.chunks), 300 - len(ep.chunks)))
        tiny = ByteCache(10)
        si, ci = ep.chunks[0]
        tiny.get(ep.shards[si], ci)
        self.assertEqual((len(tiny), tiny.bytes), (0, 0))  # larger than the limit: read, not kept

    def test_cycling_warns_once_and_not_when_told(self):
        ds = mixshards.open(support.shard_dir("plain") / "shards")  # one materialised epoch
        with self.assertWarnsRegex(UserWarning, "epoch 3 is beyond the 1 materialised"):
            ds.epoch(3)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds.epoch(4)
            mixshards.open(support.shard_dir("plain") / "shards").epoch(5, warn=False)


class OutputTests(unittest.TestCase):
    images = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(2, 3, 4, 5) * 2

    def test_float32_is_the_normaliser(self):
        conv = Converter(make_spec("float32", "NCHW", True, CIFAR10_MEAN, CIFAR10_STD))
        np.testing.assert_array_equal(conv.numpy(self.images), Normalizer(CIFAR10_MEAN, CIFAR10_STD)(self.images))

    def test_layouts_and_types(self):
        norm = Normalizer(CIFAR10_MEAN, CIFAR10_STD)(self.images)
        nhwc = Converter(make_spec("float32", "NHWC", True, CIFAR10_MEAN, CIFAR10_STD)).numpy(self.images)
        self.assertEqual(nhwc.shape, (2, 4, 5, 3))
        np.testing.assert_array_equal(nhwc, norm.transpose(0, 2, 3, 1))
        half = Converter(make_spec("float16", "NCHW", True, CIFAR10_MEAN, CIFAR10_STD)).numpy(self.images)
        self.assertEqual(half.dtype, np.float16)
        np.testing.assert_array_equal(half, norm.astype(np.float16))
        raw = Converter(make_spec("uint8", "NHWC", True, CIFAR10_MEAN, CIFAR10_STD)).numpy(self.images)
        np.testing.assert_array_equal(raw, self.images.transpose(0, 2, 3, 1))
        scaled = Converter(make_spec("float32", "NCHW", False, CIFAR10_MEAN, CIFAR10_STD)).numpy(self.images)
        np.testing.assert_array_equal(scaled, self.images.astype(np.float32) / np.float32(255))
        with self.assertRaisesRegex(ValueError, "numpy has no bfloat16"):
            Converter(make_spec("bfloat16", "NCHW", True, CIFAR10_MEAN, CIFAR10_STD)).numpy(self.images)
        with self.assertRaisesRegex(ValueError, "dtype must be one of uint8, float32, float16, bfloat16"):
            make_spec("int8")
        with self.assertRaisesRegex(ValueError, "layout must be one of NCHW, NHWC, channels_last"):
            make_spec("uint8", "CHW")
