"""Philox and mixtrain's chunk order, bit for bit (the same literals as the Swift tests)."""

import hashlib
import unittest

import numpy as np

from mixshards.rng import (STREAM_INITIALISE, STREAM_SHUFFLE, CounterRNG, chunk_order, initial_parameters,
                           philox4x32, uniform_doubles)


def seed_cnn_tensors(channels=3, size=32, classes=10, widths=(32, 64, 128, 256), hidden=256):
    """``(shape, fan_in)`` of DESIGN.md's seed CNN, in ``model.parameters()`` order."""
    tensors, c = [], channels
    for w in widths:
        tensors += [((w, c, 3, 3), 9 * c), ((w,), 9 * c)]
        c = w
    flat = c * (size // 16) ** 2
    return tensors + [((hidden, flat), flat), ((hidden,), flat), ((classes, hidden), hidden), ((classes,), hidden)]


class RNGTests(unittest.TestCase):
    def test_philox_known_answers(self):
        # Random123 kat_vectors, as in Tests/MixCoreTests/CounterRNGTests.swift.
        self.assertEqual(philox4x32((0, 0, 0, 0), (0, 0)), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8))
        self.assertEqual(philox4x32((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF)),
                         (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD))
        self.assertEqual(philox4x32((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0)),
                         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))

    def test_stream_layout(self):
        seed = 0x0123456789ABCDEF
        rng = CounterRNG(seed, 2, epoch=7, position=12345)
        for block in range(5):
            for word in philox4x32((block, 12345, 7, 2), (0x89ABCDEF, 0x01234567)):
                self.assertEqual(rng.next_u32(), word)
        a, b = CounterRNG(5, 99), CounterRNG(5, 99)
        self.assertEqual(a.next_u64(), b.next_u32() << 32 | b.next_u32())

    def test_uniform_int_is_in_range_and_rejects_the_biased_tail(self):
        rng = CounterRNG(1, STREAM_SHUFFLE)
        draws = [rng.uniform_int(3) for _ in range(3000)]
        self.assertEqual(set(draws), {0, 1, 2})
        big = (1 << 63) + 1  # the rejection threshold is almost 2^63: about half the draws are redrawn
        self.assertTrue(all(0 <= rng.uniform_int(big) < big for _ in range(200)))

    def test_uniform_doubles_are_the_scalar_draws(self):
        for seed, stream, epoch, position in [(0, STREAM_INITIALISE, 0, 0), (0x0123456789ABCDEF, 2, 7, 12345),
                                              ((1 << 64) - 1, STREAM_SHUFFLE, 0xFFFFFFFF, 3)]:
            rng = CounterRNG(seed, stream, epoch, position)
            want = [(rng.next_u64() >> 11) * 2.0 ** -53 for _ in range(11)]  # odd: half a block at the end
            got = uniform_doubles(seed, stream, epoch, position, 11)
            self.assertEqual(got.dtype, np.float64)
            self.assertEqual(got.tolist(), want)
        self.assertEqual(uniform_doubles(1, 5, 0, 0, 0).shape, (0,))

    # Pinned in Tests/NNTests/SeedCNNTests.swift (testInitialParametersArePinned) against SeedCNN.init.
    def test_initial_parameters_are_mixtrains(self):
        for seed, digest in [(0, "2bc2c1235473445fc74e3a37d26bb77e5a1afed7cbd9a14a1a12dc9714a862e7"),
                             (1, "25e4b499623b1023600e8fe8fd7669293f5f11b3f759acb0129757ac1c38a0e2")]:
            params = initial_parameters(seed, seed_cnn_tensors())
            self.assertEqual([p.shape for p in params][6:9], [(256, 128, 3, 3), (256,), (256, 1024)])
            flat = np.concatenate([p.ravel() for p in params]).astype("<f4")
            self.assertEqual(flat.size, 653_386)
            self.assertEqual(hashlib.sha256(flat.tobytes()).hexdigest(), digest, f"seed {seed}")
        with self.assertRaises(ValueError):
            initial_parameters(0, [((4,), 0)])

    # Pinned in Tests/TrainingTests/ChunkOrderPinTests.swift against ShardLoader.chunkOrder.
    def test_chunk_order_pins(self):
        self.assertEqual(chunk_order(10, 7, 0), [4, 5, 2, 1, 3, 7, 8, 6, 9, 0])
        self.assertEqual(chunk_order(10, 7, 1), [8, 6, 7, 4, 5, 9, 0, 3, 1, 2])
        self.assertEqual(chunk_order(10, 7, 7), [6, 3, 0, 5, 7, 8, 4, 9, 1, 2])
        self.assertEqual(chunk_order(10, (1 << 40) + 3, 0), [2, 8, 9, 6, 5, 3, 4, 1, 0, 7])
        pins = [(7, 0, [252, 175, 170, 135, 103, 239, 73, 14, 233, 65, 172, 47, 83, 299, 169, 214, 63, 198, 114, 251,
                        276, 242, 286, 287], 6_572_711),
                (0, 2, [237, 54, 272, 218, 111, 209, 250, 252, 185, 236, 86, 293, 163, 25, 166, 174, 51, 42, 121, 47,
                        53, 195, 243, 188], 6_634_417)]
        for seed, epoch, head, weighted in pins:
            order = chunk_order(300, seed, epoch)
            self.assertEqual(order[:24], head)
            self.assertEqual(sum(i * v for i, v in enumerate(order)), weighted)
            self.assertEqual(sorted(order), list(range(300)))

    def test_small_counts(self):
        self.assertEqual(chunk_order(0, 1, 0), [])
        self.assertEqual(chunk_order(1, 1, 0), [0])
