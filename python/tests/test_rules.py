"""Issue 22, item 6: label rows the format's bytes allow but that are no distribution — a
weight outside 0 to 1, though the row sums to 1 — are refused by every reader."""

import struct
import tempfile
import unittest
from pathlib import Path

import numpy as np

import mixshards
from mixshards import ShardError, ShardFile, rules

from . import support
from .support import GOLDEN, patch_chunk


class ReaderLabelRuleTests(unittest.TestCase):
    def test_reader_label_rule_on_a_golden_shard(self):
        """Chunk 0 of golden-v2-augment: one stored image of 12 bytes, then two rows of 3 classes."""
        source = mixshards.SourceImages(str(GOLDEN / "golden-v2-source.mxs"))
        self.addCleanup(source.close)
        path = Path(tempfile.mkdtemp(dir=support.scratch())) / "bad.mxs"
        for weights, expected in (([0.5, np.nan, 0.5], "label weight nan of class 1 is not in [0, 1]"),
                                  ([0.5, 0.5000001, -1e-7], "label weight -1e-07 of class 2 is not in [0, 1]"),
                                  ([np.inf, 0, 0], "label weight inf of class 0 is not in [0, 1]")):
            path.write_bytes(patch_chunk((GOLDEN / "golden-v2-augment.mxs").read_bytes(), 0,
                                         lambda p: struct.pack_into("<3f", p, 12 + 12, *weights)))
            with self.assertRaises(ShardError) as ctx:
                with ShardFile(str(path), source) as s:
                    s.read_all()
            self.assertEqual(str(ctx.exception), f"{path}: chunk 0: sample 1: {expected}")

    def test_float_text_is_swifts(self):
        cases = {0.3: "0.3", 3e38: "3e+38", -3e38: "-3e+38", 2.0: "2", 1e-5: "1e-05", 0.0001: "0.0001", 16777216.0: "16777216",
                 float("nan"): "nan", float("inf"): "inf", 0.91: "0.91", 0.5078125: "0.5078125", -0.0: "-0"}
        for v, text in cases.items():
            self.assertEqual(rules.float_text(np.float32(v)), text)
        self.assertEqual(rules.float_text(np.nextafter(np.float32(0.91), np.float32(0))), "0.90999997")
