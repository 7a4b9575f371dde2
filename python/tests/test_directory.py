"""Directories written by mixprep read back whole, sample by sample, against `mixprep inspect --dump`."""

import json
import subprocess
import sys
import unittest
import warnings

import numpy as np

import mixshards

from . import jsonschema_subset, support


class DirectoryTests(unittest.TestCase):
    def check_variant(self, name: str):
        root = support.shard_dir(name)
        d = root / "shards"
        ds = mixshards.open(d)
        manifest = json.loads((d / "manifest.json").read_text())
        self.assertEqual(ds.classes, tuple(manifest["source"]["classNames"]))
        self.assertEqual(ds.shape, (3, 32, 32))
        self.assertEqual(ds.epochs, len(manifest["train"]))
        self.assertEqual(manifest["formatVersion"], support.FORMAT_VERSIONS.get(name, mixshards.layout.VERSION))
        provenance = manifest["pipeline"]["shards"]["provenance"]
        splits = [(ds.epoch(e), manifest["train"][e]["shards"]) for e in range(ds.epochs)] + [(ds.test, manifest["test"]["shards"])]
        for ep, shards in splits:
            dumps = [support.read_dump(root / "dumps" / s["file"], s["samples"], ds.shape, len(ds.classes), provenance)
                     for s in shards]
            # Each shard read whole is the dump's bytes, provenance records included.
            for shard, s in zip(ep.shards, shards):
                block = shard.read_all()
                self.assertEqual(support.dump_bytes(block.images, block.labels, block.provenance),
                                 (root / "dumps" / s["file"]).read_bytes(), s["file"])
            images = np.concatenate([x[0] for x in dumps])
            labels = np.concatenate([x[1] for x in dumps])
            self.assertEqual(len(ep), len(images))
            for k in range(len(ep)):
                s = ep[k]
                self.assertEqual(s.position, k)
                np.testing.assert_array_equal(s.image, images[k])
                np.testing.assert_array_equal(s.label, labels[k])
            if provenance:
                prov = np.concatenate([x[2] for x in dumps])
                samples = [ep[k] for k in range(len(ep))]
                self.assertEqual([s.primary for s in samples], prov["primary"].tolist())
                self.assertEqual([s.partner for s in samples], prov["partner"].tolist())
                self.assertEqual([s.lam for s in samples], prov["lam"].astype(np.float64).tolist())
                self.assertEqual([s.kind for s in samples], [mixshards.layout.KINDS[k] for k in prov["kind"].tolist()])
                self.assertEqual([s.primary_transform for s in samples],
                                 [(int(r["primary_dx"]), int(r["primary_dy"]), bool(r["flags"] & 1)) for r in prov])
                self.assertEqual([s.partner_transform for s in samples],
                                 [(int(r["partner_dx"]), int(r["partner_dy"]), bool(r["flags"] & 2)) for r in prov])
                self.assertEqual([s.box for s in samples],
                                 [tuple(int(r[f]) for f in ("box_x0", "box_y0", "box_x1", "box_y1")) for r in prov])
                self.assertEqual([s.reference for s in samples], [bool(r["flags"] & 4) for r in prov])
            else:
                self.assertIsNone(ep[0].primary)
                self.assertIsNone(ep[0].kind)
            # The whole epoch through batches, in file order, is the same bytes.
            got = list(ep.batches(batch_size=100))
            np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), images)
            np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), labels)
        self.assertEqual(mixshards.verify(d), [])
        schema = json.loads(support.SCHEMA.read_text())
        self.assertEqual(jsonschema_subset.problems(manifest, schema), [])
        ds.close()

    def test_quickstart(self):
        self.check_variant("quickstart")

    def test_stored_unfiltered_without_provenance(self):
        self.check_variant("plain")

    def test_batch_mode_default_strategy(self):
        self.check_variant("batch")

    def test_batch_mode_written_as_v2(self):
        self.check_variant("batch-v2")

    def test_inspect_matches_mixprep(self):
        d = support.shard_dir("quickstart") / "shards"
        for shard in (d / "train" / "epoch-001" / "shard-00001.mxs", d / "test" / "shard-00000.mxs"):
            swift = support.run(support.mixprep(), "inspect", str(shard), "--samples")
            python = subprocess.run([sys.executable, "-m", "mixshards", "inspect", str(shard), "--samples"],
                                    capture_output=True, text=True, check=True).stdout
            self.assertEqual(python, swift)

    def test_verify_command(self):
        d = support.shard_dir("quickstart") / "shards"
        r = subprocess.run([sys.executable, "-m", "mixshards", "verify", str(d)], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = subprocess.run([sys.executable, "-m", "mixshards", "verify", str(support.scratch())], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no manifest.json", r.stderr)

    def test_epochs_beyond_the_materialised_cycle_with_a_warning(self):
        ds = mixshards.open(support.shard_dir("quickstart") / "shards")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ep = ds.epoch(3)
        self.assertEqual(len(caught), 1)
        self.assertIn("reuse the shards of epoch (e mod 2)", str(caught[0].message))
        np.testing.assert_array_equal(ep[17].image, ds.epoch(1)[17].image)
        self.assertNotEqual(ep.chunk_order(0), ds.epoch(1).chunk_order(0))
        self.assertEqual(ep.chunk_order(0), mixshards.rng.chunk_order(len(ep.chunks), 0, 3))

    def test_random_access_bounds(self):
        ep = mixshards.open(support.shard_dir("plain") / "shards").epoch(0)
        np.testing.assert_array_equal(ep[-1].image, ep[len(ep) - 1].image)
        with self.assertRaises(IndexError):
            ep[len(ep)]
        with self.assertRaises(TypeError):
            ep[1.5]
