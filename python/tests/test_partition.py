"""Rank parts: disjoint, together complete, batch counts within one."""

import itertools
import unittest

import numpy as np

import mixshards
from mixshards.partition import batch_count, rank_batch_range, split_range

from . import support


class PartitionArithmeticTests(unittest.TestCase):
    def test_rank_ranges_tile_the_batches(self):
        for samples, batch, world, drop in itertools.product((0, 1, 5, 127, 128, 129, 1000, 50000), (1, 7, 128, 300),
                                                            range(1, 6), (False, True)):
            ranges = [rank_batch_range(samples, batch, r, world, drop) for r in range(world)]
            self.assertEqual([b for r in ranges for b in r], list(range(batch_count(samples, batch, drop))))
            counts = [len(r) for r in ranges]
            self.assertLessEqual(max(counts) - min(counts), 1)

    def test_bad_arguments(self):
        for args in ((10, 0, 0, 1), (10, 4, 2, 2), (10, 4, -1, 2), (10, 4, 0, 0)):
            with self.assertRaises(ValueError):
                rank_batch_range(*args)
        with self.assertRaises(ValueError) as ctx:
            rank_batch_range(10, 4, 2, 2)
        self.assertEqual(str(ctx.exception), "rank must be from 0 to world_size - 1 (got rank 2, world_size 2)")
        with self.assertRaises(ValueError) as ctx:
            split_range(10, 3, 3)
        self.assertEqual(str(ctx.exception), "part must be from 0 to parts - 1 (got part 3 of 3)")

    def test_split_range(self):
        self.assertEqual(split_range(10, 2, 3), range(6, 10))


class EpochPartitionTests(unittest.TestCase):
    """On real shards: every position exactly once for world sizes 1–5."""

    @classmethod
    def setUpClass(cls):
        cls.ds = mixshards.open(support.shard_dir("plain") / "shards")  # 300 samples, chunks of 16, shards of 70

    def test_every_position_exactly_once(self):
        ep = self.ds.epoch(0)
        n = len(ep)
        for seed, batch, world in itertools.product((None, 0, 11), (1, 7, 16, 128), range(1, 6)):
            parts = [list(ep.batch_positions(batch, r, world, seed)) for r in range(world)]
            flat = np.concatenate([b for p in parts for b in p])
            self.assertEqual(sorted(flat.tolist()), list(range(n)), (seed, batch, world))
            counts = [len(p) for p in parts]
            self.assertEqual(counts, ep.batch_counts(batch, world))
            self.assertLessEqual(max(counts) - min(counts), 1)
            # The ranks' batches are a one-process run's batches, dealt in order.
            single = np.concatenate(list(ep.batch_positions(batch, 0, 1, seed)))
            np.testing.assert_array_equal(flat, single)
            for p in parts:
                self.assertTrue(all(len(b) == batch for b in p[:-1]))

    def test_drop_last_gives_full_batches(self):
        ep = self.ds.epoch(0)
        for world in range(1, 6):
            parts = [list(ep.batch_positions(128, r, world, 3, drop_last=True)) for r in range(world)]
            self.assertEqual(sum(len(p) for p in parts), 2)
            self.assertTrue(all(len(b) == 128 for p in parts for b in p))

    def test_batches_hold_the_samples_at_their_positions(self):
        ep = self.ds.epoch(0)
        for world, rank in ((1, 0), (3, 1), (5, 4)):
            pairs = zip(ep.batches(37, rank, world, seed=4), ep.batch_positions(37, rank, world, seed=4))
            for (images, labels), positions in pairs:
                np.testing.assert_array_equal(images, np.stack([ep[int(k)].image for k in positions]))
                np.testing.assert_array_equal(labels, np.stack([ep[int(k)].label for k in positions]))

    def test_seed_orders_chunks_like_mixtrain(self):
        ep = self.ds.epoch(0)
        order = mixshards.rng.chunk_order(len(ep.chunks), 9, 0)
        positions = np.concatenate(list(ep.batch_positions(50, seed=9, shuffle_window=0)))
        expected = []
        for cid in order:
            si, ci = ep.chunks[cid]
            start = sum(s.sample_count for s in ep.shards[:si]) + 16 * ci
            expected += range(start, start + len(ep.shards[si].read_chunk(ci)))
        self.assertEqual(positions.tolist(), expected)
