"""Issue 20's ``[augment]`` draws (:mod:`mixshards.policy`) against DESIGN.md's vectors (which Swift's
PolicyDrawTests pins too), the magnitude bins against torch.linspace (when torch is installed), and
v4 directories written by mixprep: every op record regenerated from the seed, the pipeline and the
position alone, and every erased pixel from its fill's definition."""

import struct
import unittest

import numpy as np

import mixshards
from mixshards import layout, policy
from mixshards.mixing import MixPlan

from . import support
from . import test_mixing

ALL = {"crop_pad": 4, "flip": True, "random_resized_crop": {"scale": [0.08, 1.0], "ratio": [3 / 4, 4 / 3]},
       "color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}, "trivial_augment": True,
       "random_erasing": {"p": 0.5, "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "random": True}}

# Tests/MixupTests/PolicyDrawTests.swift, `expected` (DESIGN.md's table).
EXPECTED = [
    "0: crop 0 14 18 17, Rotate 41100000, Brightness 3ec9d160, Color bd534884, Hue 3db422a3, Contrast 3e71fe42 | crop 0 3 32 25, ShearY bf7d70a4, Color 3d61105f, Contrast bc86f7a2, Brightness 3d87bb1f, Hue bdb645b6 | none",
    "1: crop 2 1 29 30, Sharpness bf74fdf4, Contrast bd9146af, Color be19beff, Brightness 3e4e9704, Hue 3ca82d14 | crop 1 15 15 17, Equalize 0, Brightness 3e8f4bb6, Hue 3d9d0efa, Contrast 3db39c8e, Color 3eaa5258 | none",
    "47: crop 7 15 15 15, Contrast bf4ac083, Brightness 3e89def6, Contrast bd969310, Hue bd5b7adb, Color 3ec50e8a | crop 4 4 21 28, TranslateY c12aaaab, Color 3da78c2d, Contrast 3e9016d7, Hue 3d54bd7d, Brightness 3e318d9b | none",
    "ra 0: crop 0 14 18 17, Rotate 41100000, Brightness 3e8a3d70, Brightness 3ec9d160, Color bd534884, Hue 3db422a3, Contrast 3e71fe42 | crop 0 3 32 25, Equalize 0, ShearY bdb851ec, Color 3d61105f, Contrast bc86f7a2, Brightness 3d87bb1f, Hue bdb645b6",
    "erasing 0-7: none; none; none; none; none; random 4 8 21 14; random 6 15 14 16; random 0 14 17 11",
]


def bits(x) -> str:
    return format(struct.unpack("<I", struct.pack("<f", float(np.float32(x))))[0], "x")


def text(o: policy.ImageOps) -> str:
    parts = [f"crop {' '.join(map(str, o.crop))}"] if o.crop else []
    parts += [f"{layout.POLICY_OPS[op]} {bits(m)}" for op, m in o.ops]
    return ", ".join(parts)


def etext(e: policy.Erasing) -> str:
    return "none" if not e.fill else f"{'zero' if e.fill == 1 else 'random'} {' '.join(map(str, e.box))}"


class VectorTests(unittest.TestCase):
    def test_design_vectors(self):
        out = []
        for k in (0, 1, 47):
            p, q, e = policy.ops(ALL, 5, 0, k, 32, 32)
            out.append(f"{k}: {text(p)} | {text(q)} | {etext(e)}")
        ra = dict(ALL, rand_augment={"ops": 2, "magnitude": 9})
        del ra["trivial_augment"]
        p, q, _ = policy.ops(ra, 5, 0, 0, 32, 32)
        out.append(f"ra 0: {text(p)} | {text(q)}")
        out.append("erasing 0-7: " + "; ".join(etext(policy.ops(ALL, 5, 0, k, 32, 32)[2]) for k in range(8)))
        self.assertEqual(out, EXPECTED)

    def test_posterize_bins(self):
        self.assertEqual([int(policy.trivial_magnitude(policy.POSTERIZE, i)[0]) for i in range(31)],
                         [8, 8, 8, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2])

    def test_bins_are_torch_linspace(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed")
        tables = [(0, 0.99), (0, 32.0), (0, 135.0), (1.0, 0.0), (0, 0.3), (0, 0.9)]
        tables += [(0, float(np.float32(150 / 331 * s))) for s in (32, 33, 64, 224)]
        for a, b in tables:
            want = torch.linspace(a, b, 31).numpy()
            got = np.array([policy.linspace(a, b, i) for i in range(31)], np.float32)
            np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), f"linspace({a}, {b}, 31)")
        posterize = (8 - (torch.arange(31) / ((31 - 1) / 4)).round().int()).tolist()
        self.assertEqual([int(policy.rand_magnitude(policy.POSTERIZE, i, 32, 32)[0]) for i in range(31)], posterize)


class V4DirectoryTests(unittest.TestCase):
    def test_every_op_record_and_erased_pixel_regenerates(self):
        for name, random in (("erasing-cutmix", True), ("erasing-sample", False)):
            with self.subTest(name):
                root = support.shard_dir(name) / "shards"
                test_mixing.RegeneratedProvenanceTests.check(self, root)
                ds = mixshards.open(root)
                self.assertEqual(ds.manifest.raw["formatVersion"], 4)
                augment = ds.manifest.pipeline["augment"]
                _, h, w = ds.manifest.shape
                erased = 0
                for e in range(ds.epochs):
                    k = 0
                    for shard in ds.epoch(e).shards:
                        block = shard.read_all()
                        for s in range(len(block.images)):
                            stored = policy.from_record(block.ops[s])
                            want = policy.ops(augment, ds.manifest.raw["seed"], e, k + s, h, w)
                            plan = MixPlan.for_manifest(ds.manifest, e)
                            if plan.decision(k + s).kind == 0:  # a copy records the primary's ops for both
                                want = (want[0], want[0], want[2])
                            self.assertEqual(stored, want, f"{name} epoch {e} position {k + s}")
                            fill, (top, left, bh, bw) = stored[2].fill, stored[2].box
                            if fill:
                                erased += 1
                                self.assertEqual(fill, 2 if random else 1)
                                box = block.images[s, :, top:top + bh, left:left + bw]
                                expect = (policy.erasing_fill(ds.manifest.raw["seed"], e, k + s, 3, bh, bw) if random
                                          else np.zeros_like(box))
                                np.testing.assert_array_equal(box, expect)
                        k += len(block.images)
                self.assertGreater(erased, 200)
                self.assertEqual(mixshards.verify(root), [])


if __name__ == "__main__":
    unittest.main()


def _record(ops, crop=None, erasing=(0, (0, 0, 0, 0))) -> np.ndarray:
    r = np.zeros(1, layout.OP_RECORD)
    for which in ("primary", "partner"):
        o = r[which]
        o["count"] = len(ops)
        if crop:
            o["flags"] = layout.OPS_RESIZED_CROP
            o["crop_top"], o["crop_left"], o["crop_height"], o["crop_width"] = crop
        for i, (op, m) in enumerate(ops):
            o["slots"]["id"][0, i] = op
            o["slots"]["magnitude"][0, i] = m
    r["erase_fill"] = erasing[0]
    r["erase_top"], r["erase_left"], r["erase_height"], r["erase_width"] = erasing[1]
    return r[0]


class OpRuleTests(unittest.TestCase):
    """Rule 13: Swift's OpRuleTests, the same cases and messages."""

    def test_ops_the_augment_does_not_draw_are_violations(self):
        from mixshards import rules
        trivial = {"crop_pad": 0, "flip": False, "trivial_augment": True}
        jitter = {"crop_pad": 0, "flip": False, "color_jitter": {"brightness": 0.4, "contrast": 0, "saturation": 0, "hue": 0.1}}
        zero = {"crop_pad": 0, "flip": False, "random_erasing": {"p": 0.5, "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "random": False}}
        box = (1, 2, 10, 12)
        cases = [
            (trivial, _record([(policy.ROTATE, -policy.trivial_magnitude(policy.ROTATE, 4)[0])]), None),
            (trivial, _record([(policy.ROTATE, 7)]),
             "provenance: the primary's op Rotate of magnitude 7 is not one augment.trivial_augment draws"),
            (trivial, _record([(policy.POSTERIZE, -6)]),
             "provenance: the primary's op Posterize of magnitude -6 is not one augment.trivial_augment draws"),
            (trivial, _record([]), "provenance: the primary records 0 ops, the pipeline's policy draws 1"),
            (trivial, _record([(policy.IDENTITY, 0)], crop=box),
             "provenance: the primary has a resized crop, but augment.random_resized_crop is off"),
            (jitter, _record([(policy.HUE, 0.05), (policy.BRIGHTNESS, -0.25)]), None),
            (jitter, _record([(policy.BRIGHTNESS, 0.5), (policy.HUE, 0.05)]),
             "provenance: the primary's colour-jitter Brightness of magnitude 0.5 is not in [-0.4, 0.4]"),
            (jitter, _record([(policy.BRIGHTNESS, 0.1)]),
             "provenance: the primary's colour-jitter ops [Brightness] are not the enabled components of "
             "augment.color_jitter [Brightness, Hue], once each"),
            ({"crop_pad": 0, "flip": False}, _record([], erasing=(1, box)),
             "provenance: an erased box, but augment.random_erasing is off"),
            (zero, _record([], erasing=(2, box)),
             "provenance: an erased box filled with random bytes, but augment.random_erasing.value is 0"),
            (zero, _record([], erasing=(1, (0, 0, 32, 4))), "provenance: an erased box of 32×4 is not smaller than the image"),
        ]
        for augment, record, expected in cases:
            self.assertEqual(rules.ops_problem(record, augment, 32, 32), expected)
