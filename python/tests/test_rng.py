"""Philox, its draws and mixtrain's chunk order, bit for bit (the same literals as the Swift tests),
and DESIGN.md's test vectors (*Random numbers*) computed from its definitions."""

import hashlib
import math
import unittest

import numpy as np

from mixshards.mixing import MixPlan, cutmix_box, held_out, permutation, transforms
from mixshards.rng import (STREAM_AUGMENT, STREAM_INITIALISE, STREAM_ORDER, STREAM_SAMPLE, STREAM_SHUFFLE, CounterRNG,
                           chunk_order, fisher_yates, initial_parameters, philox4x32, uniform_doubles)
from mixshards.transform import Transform


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


def f32_bits(x) -> int:
    return int(np.float32(x).view(np.uint32))


class RNGSpecVectorTests(unittest.TestCase):
    """DESIGN.md's table of test vectors; Tests/MixCoreTests/RNGSpecTests.swift and
    Tests/MixupTests/EpochPlanSpecTests.swift assert the same literals against the Swift code."""

    def test_philox_and_stream_words(self):
        self.assertEqual(philox4x32((0, 12345, 7, 2), (0x89ABCDEF, 0x01234567)),
                         (0xEA4CF32B, 0xBE2EBE2D, 0x2B1BE790, 0x540B1CF8))
        for key, want in [((0, STREAM_ORDER, 0, 0), [0x2DCE73E5, 0x1348E23F, 0xFCF8E0EC, 0xA287AADB, 0xE9535BE3, 0x510C4549]),
                          ((0x0123456789ABCDEF, STREAM_SAMPLE, 7, 12345),
                           [0xEA4CF32B, 0xBE2EBE2D, 0x2B1BE790, 0x540B1CF8, 0x3111CB3D, 0x714EF6CB]),
                          (((1 << 64) - 1, STREAM_AUGMENT, 1, 3),
                           [0x65A6F9EA, 0x56AEA2F2, 0xB23A56F9, 0x339C0D76, 0x2439FAA4, 0x773F2A57])]:
            rng = CounterRNG(*key)
            self.assertEqual([rng.next_u32() for _ in range(6)], want, str(key))

    def test_uniform_draws(self):
        rng = CounterRNG(5, STREAM_SAMPLE, 0, 0)
        self.assertEqual([rng.next_u64() for _ in range(3)], [0x3C755328B4AF4BBB, 0xFC5550628E0532AA, 0x6A96F002286681FB])
        rng = CounterRNG(5, STREAM_SAMPLE, 0, 0)
        self.assertEqual([rng.uniform() for _ in range(3)],
                         [float.fromhex(h) for h in ("0x1.e3aa9945a57a4p-3", "0x1.f8aaa0c51c0a6p-1", "0x1.aa5bc008a19a0p-2")])
        self.assertEqual(CounterRNG(5, STREAM_SAMPLE, 0, 0).uniform_positive(), float.fromhex("0x1.e3aa9945a57a8p-3"))

    def test_uniform_int_draws(self):
        rng = CounterRNG(1, STREAM_SHUFFLE, 0, 0)
        self.assertEqual([rng.uniform_int(10) for _ in range(8)], [3, 4, 1, 0, 5, 8, 7, 4])
        n = (1 << 62) + 1
        words = CounterRNG(1, STREAM_SHUFFLE, 0, 0)
        w = [words.next_u64() for _ in range(6)]
        self.assertEqual(((1 << 64) - n) % n, (1 << 62) - 3)
        self.assertEqual([(x * n) & ((1 << 64) - 1) < (1 << 62) - 3 for x in w], [False, True, False, False, False, False])
        rng = CounterRNG(1, STREAM_SHUFFLE, 0, 0)
        self.assertEqual([rng.uniform_int(n) for _ in range(4)],
                         [1437978128611062702, 909439505302237641, 153322029453538089, 2698271947996038615])
        self.assertEqual(rng.next_u64(), w[5], "five 64-bit words taken by four draws")
        self.assertEqual(w[5], 0xE00258B6C41A18CE)

    def test_normal_gamma_and_beta_draws(self):
        seed = 0x0123456789ABCDEF
        rng = CounterRNG(seed, STREAM_SAMPLE, 0, 0)
        self.assertEqual([rng.normal(), rng.normal()], [float.fromhex("-0x1.113be92a93e38p+0"),
                                                        float.fromhex("0x1.e4487feced07bp+0")])
        self.assertEqual(CounterRNG(seed, STREAM_SAMPLE, 0, 0).log_gamma(0.2), float.fromhex("-0x1.22d7b92fc95abp+4"))
        rng = CounterRNG(seed, STREAM_SAMPLE, 0, 0)
        self.assertEqual([rng.gamma(0.2), rng.gamma(3.0)], [float.fromhex("0x1.b61dc80dbfa9dp-27"),
                                                            float.fromhex("0x1.4ed764e846caap+2")])
        rng = CounterRNG(seed, STREAM_SAMPLE, 0, 0)
        betas = [rng.beta(0.2, 0.2) for _ in range(4)]
        self.assertEqual(betas, [float.fromhex(h) for h in ("0x1.820c804fd1d87p-16", "0x1.26a1f4b2947aap-3",
                                                            "0x1.fec7bdf491dd0p-1", "0x1.fbefba2006451p-1")])
        self.assertEqual([f32_bits(b) for b in betas], [0x37C10640, 0x3E1350FA, 0x3F7F63DF, 0x3F7DF7DD])
        with self.assertRaises(ValueError):
            CounterRNG(1, STREAM_SAMPLE).log_gamma(0)

    def cutmix_plan(self):
        return MixPlan(seed=5, epoch=0, count=300, width=32, height=32, mode="cutmix", p=0.4, alpha=0.5,
                         crop_pad=4, flip=True)

    def test_epoch_order_and_cutmix_boxes(self):
        plan = self.cutmix_plan()
        self.assertEqual(plan.order[:10], [248, 38, 263, 254, 41, 215, 64, 264, 55, 274])
        self.assertEqual(permutation(300, 5, 0), plan.order)
        # Position 0, step by step from DESIGN's definition.
        rng = CounterRNG(5, STREAM_SAMPLE, 0, 0)
        self.assertLess(rng.uniform(), 0.4)
        self.assertEqual(rng.uniform_int(300), 295)
        lam0 = rng.beta(0.5, 0.5)
        self.assertEqual(lam0, float.fromhex("0x1.e130c5d71cd97p-1"))
        cx, cy = rng.uniform_int(32), rng.uniform_int(32)
        self.assertEqual((cx, cy, int(32 * math.sqrt(1 - lam0))), (4, 27, 7))
        self.assertEqual(cutmix_box(lam0, cx, cy, 32, 32), (1, 24, 7, 30))
        d = plan.decision(0)
        self.assertEqual((d.primary, d.partner, d.kind, d.box, f32_bits(d.lam)), (248, 295, 2, (1, 24, 7, 30), 0x3F770000))
        self.assertEqual(float(d.lam), 988 / 1024)
        self.assertEqual((d.primary_transform, d.partner_transform), (Transform(0, 4, True), Transform(4, 3, True)))
        self.assertEqual(transforms(5, 0, 0, 4, True), (Transform(0, 4, True), Transform(4, 3, True)))
        # Position 1: a copy; 3: a box clipped at the left edge; 47: a cut side of 1, so no box.
        d = plan.decision(1)
        self.assertEqual((d.primary, d.partner, d.kind, d.box, float(d.lam)), (38, 38, 0, None, 1.0))
        self.assertEqual((d.primary_transform, d.partner_transform), (Transform(1, 0, False), Transform(1, 0, False)))
        d = plan.decision(3)
        self.assertEqual((d.primary, d.partner, d.kind, d.box, f32_bits(d.lam)), (254, 253, 2, (0, 11, 5, 19), 0x3F760000))
        self.assertEqual((d.primary_transform, d.partner_transform), (Transform(-2, 2, False), Transform(3, -1, False)))
        d = plan.decision(47)
        self.assertEqual((d.primary, d.partner, d.kind, d.box, f32_bits(d.lam)), (18, 138, 1, None, 0x3F800000))
        self.assertEqual((d.primary_transform, d.partner_transform), (Transform(-1, -1, True), Transform(-1, -2, True)))

    def test_sample_and_batch_decisions(self):
        d = MixPlan(seed=5, epoch=0, count=300, width=32, height=32, mode="sample", p=0.4, alpha=0.5,
                      crop_pad=4, flip=True).decision(0)
        self.assertEqual((d.primary, d.partner, d.kind, d.box, f32_bits(d.lam)), (248, 295, 1, None, 0x3F709863))
        batch = MixPlan(seed=5, epoch=0, count=300, width=32, height=32, mode="batch", p=0.2, alpha=0.2, block=16)
        d = batch.decision(4)
        self.assertEqual((d.primary, d.partner, d.kind, f32_bits(d.lam)), (41, 64, 1, 0x3F6920E6))
        self.assertEqual([k for k in range(16) if batch.decision(k).kind != 0], [4, 13, 14])
        block = CounterRNG(5, 3, 0, 0)
        self.assertEqual(block.beta(0.2, 0.2), float.fromhex("0x1.d241cbcf01364p-1"))
        self.assertEqual(fisher_yates(16, block)[:5], [9, 2, 10, 12, 6])  # the same stream, after λ

    def test_held_out_split(self):
        self.assertEqual([held_out(5, 0.4, 7, c) for c in range(3)], [[1, 4], [2, 4], [0, 3]])
        self.assertEqual(held_out(10, 0.25, 7, 0), [2, 3, 5])  # round(2.5) = 3: ties away from zero
        self.assertEqual((held_out(1, 0.5, 7, 0), held_out(2, 0.9, 7, 0)), ([], [0]))  # at most n − 1
