"""mixshards.torch (skipped without torch) and the numpy normaliser it uses."""

import itertools
import json
import unittest
import warnings

import numpy as np

import mixshards

from mixshards.normalize import CIFAR10_MEAN, CIFAR10_STD, Normalizer, describe, legacy_statistics, source_statistics
from mixshards.rng import initial_parameters

from . import support
from .test_rng import seed_cnn_tensors

try:
    import torch
    import torch.utils.data as tud
    from mixshards.output import make_spec
    from mixshards.torch import (STATE_FORMAT, DataLoader, MixShardDataset, MixShardMapDataset, SampleBatch, collate,
                                 init_like_mixtrain, sparse_cross_entropy, to_input)
except ImportError:  # torch is not a dependency; CI has none
    torch = None


class NormalizerTests(unittest.TestCase):
    def test_float32_arithmetic_of_the_contract(self):
        n = Normalizer(CIFAR10_MEAN, CIFAR10_STD)
        self.assertEqual(n.table.dtype, np.float32)
        self.assertEqual(n.table[0, 0], np.float32(-np.float32(0.4914) / np.float32(0.2470)))
        self.assertAlmostEqual(float(n.table[2, 255]), (1 - 0.4465) / 0.2616, places=5)
        images = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
        out = n(images)
        self.assertEqual(out[1, 2, 1, 0], n.table[2, images[1, 2, 1, 0]])
        with self.assertRaises(ValueError):
            n(images[:, :2])

    def test_source_statistics(self):
        """The manifest's figures (a std of 0, a constant channel, read as 1); without them the
        CIFAR-10 constants with a warning, whatever the source, as mixtrain does."""
        source = {"name": "faces", "channelStats": {"mean": [0.493, 0.485, 0.4495], "std": [0.2461, 0, 0.2625]}}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assertEqual(source_statistics(source, 3), ((0.493, 0.485, 0.4495), (0.2461, 1.0, 0.2625)))
        for name in ("cifar10", "faces"):
            with self.assertWarnsRegex(UserWarning, r"^m\.json records no channel statistics \(source\.channelStats: it was made "
                                       r"before mixprep recorded them\); normalising with the CIFAR-10 constants, "
                                       r"mean \(0\.4914, 0\.4822, 0\.4465\), std \(0\.2470, 0\.2435, 0\.2616\)$"):
                self.assertEqual(source_statistics({"name": name}, 3, "m.json"), (CIFAR10_MEAN, CIFAR10_STD))
        with self.assertWarns(UserWarning):
            mean, std = source_statistics({"name": "faces"}, 1)
        self.assertEqual((mean, std), legacy_statistics(1))
        self.assertAlmostEqual(mean[0], sum(CIFAR10_MEAN) / 3, places=6)
        # mixtrain's float32 average, bit for bit (Swift: PixelNormalizer.legacy).
        self.assertEqual(np.float32(mean[0]), (np.float32(0.4914) + np.float32(0.4822) + np.float32(0.4465)) / np.float32(3))
        self.assertEqual(describe((0.5, 0.25), (1.0, 0.2470)), "mean (0.5000, 0.2500), std (1.0000, 0.2470)")


class DirectoryStatisticsTests(unittest.TestCase):
    """``Dataset.mean``/``std``: the directory's own figures, or the fallback with one warning."""

    def test_the_directorys_figures(self):
        ds = mixshards.open(support.shard_dir("quickstart") / "shards")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assertEqual((ds.mean, ds.std), ((0.493, 0.485, 0.4495), (0.2461, 0.2433, 0.2625)))  # data/cifar10-mini's 2,000
        self.assertEqual(ds.manifest.channel_stats, (ds.mean, ds.std))
        images, _ = next(ds.epoch(0).batches(8, seed=0))
        np.testing.assert_array_equal(ds.normalizer()(images), Normalizer(ds.mean, ds.std)(images))
        self.assertEqual(ds.normalizer()(images)[0, 1, 0, 0],
                         (np.float32(images[0, 1, 0, 0]) / np.float32(255) - np.float32(0.485)) / np.float32(0.2433))

    def test_a_directory_without_figures_falls_back_saying_so_once(self):
        d = support.copy_dir("quickstart", "nofigures")
        m = json.loads((d / "manifest.json").read_text())
        del m["source"]["channelStats"]
        (d / "manifest.json").write_text(json.dumps(m))
        ds = mixshards.open(d)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.assertEqual((ds.mean, ds.std), (CIFAR10_MEAN, CIFAR10_STD))
            self.assertEqual(ds.normalizer().mean, CIFAR10_MEAN)
        self.assertEqual(len(caught), 1, [str(w.message) for w in caught])
        self.assertIn(f"{d}/manifest.json records no channel statistics", str(caught[0].message))


class NonSquareTests(unittest.TestCase):
    """A directory of 32×16 (width×height) images made from image files: the figures mixprep
    records are numpy's over the training images as read (unmixed, unaugmented: epoch 0 holds
    each once), and the PyTorch side takes non-square batches."""

    @classmethod
    def setUpClass(cls):
        exe = support.mixprep()
        if exe is None:
            raise unittest.SkipTest("mixprep is not built")
        cls.dir = support.scratch() / "wide" / "shards"
        if not cls.dir.exists():
            pipeline = support.scratch() / "wide.toml"
            pipeline.write_text(f'name = "wide"\nseed = 1\n[dataset]\npath = "{support.LAYOUTS / "folders"}"\n'
                                'size = [16, 32]\nresize = "stretch"\n[mix]\nmode = "none"\n[augment]\ncrop_pad = 0\nflip = false\n'
                                '[shards]\nepochs = 1\nsamples_per_shard = 5\nsamples_per_chunk = 2\n')
            support.run(exe, "run", str(pipeline), "--out", str(cls.dir), "--quiet")

    def test_figures_are_numpys_over_the_training_images(self):
        ds = mixshards.open(self.dir)
        self.assertEqual(ds.shape, (3, 16, 32))
        ep = ds.epoch(0)
        x = np.stack([ep[k].image for k in range(len(ep))]).astype(np.float64) / 255
        self.assertEqual(len(x), ds.manifest.source["trainCount"])
        for c in range(3):
            self.assertEqual(ds.mean[c], round(float(x[:, c].mean()), 4))
            self.assertEqual(ds.std[c] if ds.std[c] != 1.0 else 0.0, round(float(x[:, c].std()), 4))

    @unittest.skipIf(torch is None, "torch is not installed")
    def test_torch_batches_and_the_examples_network(self):
        import importlib.util
        ds = MixShardDataset(self.dir, batch_size=4, seed=0)
        own = mixshards.open(self.dir)
        self.assertEqual((ds.mean, ds.std), (own.mean, own.std))
        x, y = next(iter(ds))
        self.assertEqual(tuple(x.shape), (4, 3, 16, 32))
        spec = importlib.util.spec_from_file_location("train_torch", support.REPO / "python" / "examples" / "train_torch.py")
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)
        model = example.SeedCNN(3, 16, 32, len(own.classes), widths=(4, 4, 4, 4), hidden=8)
        self.assertEqual(model.head[1].in_features, 4 * 1 * 2)  # widths[-1] · (16/16) · (32/16)
        init_like_mixtrain(model, 0)
        loss = example.soft_cross_entropy(model(x), y)
        loss.backward()
        self.assertTrue(torch.isfinite(loss))
        with self.assertRaisesRegex(ValueError, r"images are 40×16; the CNN needs a height and a width that are multiples of 16"):
            example.SeedCNN(3, 16, 40, 2)

    @unittest.skipIf(torch is None, "torch is not installed")
    def test_the_example_preloaded_trains_on_the_same_batches(self):
        """train_torch.py --preload (the yardstick of whole-epoch speed) reads the same batches before the clock:
        the same losses and accuracy to the bit; and it refuses what it cannot time."""
        import os
        import subprocess
        import sys
        script = support.REPO / "python" / "examples" / "train_torch.py"
        env = dict(os.environ, PYTHONPATH=str(support.REPO / "python"))

        def train(*extra: str) -> list[list[str]]:
            out = support.scratch() / f"metrics{len(extra)}.csv"
            subprocess.run([sys.executable, str(script), str(self.dir), "--epochs", "2", "--threads", "1", "--device", "cpu",
                            "--init", "mixtrain", "--metrics", str(out), *extra], check=True, env=env, capture_output=True)
            rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
            return [r[:4] for r in rows]  # epoch, train_loss, test_loss, test_acc (not the times)

        plain = train()
        self.assertEqual([r[0] for r in plain], ["1", "2"])
        self.assertEqual(train("--preload"), plain)
        refused = subprocess.run([sys.executable, str(script), str(self.dir), "--preload", "--stop-after", "1"],
                                 env=env, capture_output=True, text=True)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("--preload times whole epochs of one process", refused.stderr)


def drain(it):
    return [(x.clone(), y.clone()) for x, y in it]


def same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(a, b))


@unittest.skipIf(torch is None, "torch is not installed")
class TorchDatasetTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.shard_dir("batch") / "shards"  # 300 samples, chunks of 50, 2 epochs

    def dataset(self, **kw):
        args = dict(batch_size=32, seed=1, shuffle_window=2, dtype="uint8")
        args.update(kw)
        return MixShardDataset(self.dir, **args)

    def test_sparse_labels_and_their_loss(self):
        """sparse_labels=True: (classes, weights) N×2 per batch and the epoch's ε; sparse_cross_entropy on them is
        the soft-target cross-entropy on the dense rows (to float rounding), also through worker processes."""
        dense = drain(MixShardDataset(self.dir, batch_size=64, seed=2))
        ds = MixShardDataset(self.dir, batch_size=64, seed=2, sparse_labels=True)
        self.assertAlmostEqual(ds.smoothing, 0.1, places=7)
        got = [(x.clone(), (c.clone(), w.clone())) for x, (c, w) in ds]
        self.assertEqual(len(got), len(dense))
        g = torch.Generator().manual_seed(0)
        for (x, y), (xs, (classes, weights)) in zip(dense, got):
            self.assertTrue(torch.equal(x, xs))
            self.assertEqual((classes.dtype, weights.dtype, tuple(classes.shape)), (torch.int64, torch.float32, (len(x), 2)))
            logits = torch.randn(len(x), 10, generator=g, dtype=torch.float64)
            want = -(y.double() * torch.log_softmax(logits, 1)).sum(1).mean()
            self.assertAlmostEqual(float(sparse_cross_entropy(logits, classes, weights, ds.smoothing)), float(want), places=6)
        # Through worker processes (which ship the records packed, 4 floats a sample): the same batches, in order.
        for workers in (1, 2):
            again = [(x.clone(), (c.clone(), w.clone())) for x, (c, w) in DataLoader(ds, num_workers=workers)]
            self.assertEqual(len(again), len(got))
            for (x, (c, w)), (xs, (cs, ws)) in zip(again, got):
                self.assertTrue(torch.equal(x, xs) and torch.equal(c, cs) and torch.equal(w, ws), workers)

    def test_batches_are_the_numpy_readers(self):
        ep = mixshards.open(self.dir).epoch(0)
        own = mixshards.open(self.dir)
        norm = Normalizer(own.mean, own.std)
        for window in (0, 1, 3):
            ds = MixShardDataset(self.dir, batch_size=64, seed=2, shuffle_window=window)
            self.assertEqual((ds.mean, ds.std), (own.mean, own.std))
            got = drain(ds)
            self.assertEqual(len(got), len(ds))
            self.assertEqual([len(x) for x, _ in got], [64, 64, 64, 64, 44])
            for (x, y), (images, labels) in zip(got, ep.batches(64, seed=2, shuffle_window=window)):
                self.assertEqual((x.dtype, y.dtype), (torch.float32, torch.float32))
                np.testing.assert_array_equal(x.numpy(), norm(images))
                np.testing.assert_array_equal(y.numpy(), labels)

    def test_the_directorys_own_figures(self):
        # The directory's channelStats, not CIFAR-10's, unless figures are given.
        own = mixshards.open(self.dir)
        ds = MixShardDataset(self.dir, batch_size=300, seed=2)
        self.assertEqual(ds.mean, own.manifest.channel_stats[0])
        self.assertNotEqual(ds.mean, CIFAR10_MEAN)
        self.assertEqual((ds.spec.mean, ds.spec.std), (own.mean, own.std))
        ds.set_epoch(1)
        (x1, _), = drain(ds)
        images, _ = next(own.epoch(1).batches(300, seed=2))
        np.testing.assert_array_equal(x1.numpy(), own.normalizer()(images))
        # Explicit figures win.
        mine = MixShardDataset(self.dir, batch_size=300, seed=2, mean=CIFAR10_MEAN, std=CIFAR10_STD)
        self.assertEqual((mine.mean, mine.std), (CIFAR10_MEAN, CIFAR10_STD))

    def test_shuffle_window_zero_is_mixtrains_order(self):
        # DESIGN's contract: seed S with shuffle_window=0 gives mixtrain's batches (its chunk order, samples in order).
        ep = mixshards.open(self.dir).epoch(1)
        ds = self.dataset(batch_size=50, seed=9, shuffle_window=0)
        ds.set_epoch(1)
        got = np.concatenate([x.numpy() for x, _ in ds])
        want = np.concatenate([ep.read_chunk(c).images for c in mixshards.rng.chunk_order(len(ep.chunks), 9, 1)])
        np.testing.assert_array_equal(got, want)

    def test_output_options(self):
        ep = mixshards.open(self.dir).epoch(0)
        images, _ = next(ep.batches(32, seed=1, shuffle_window=2))
        own = mixshards.open(self.dir)
        norm = torch.from_numpy(own.normalizer()(images))
        cases = {("float32", "NCHW"): norm, ("float16", "NCHW"): norm.half(), ("bfloat16", "NCHW"): norm.bfloat16(),
                 ("float32", "NHWC"): norm.permute(0, 2, 3, 1), ("uint8", "NCHW"): torch.from_numpy(images)}
        for (dtype, layout), want in cases.items():
            x, _ = next(iter(self.dataset(dtype=dtype, layout=layout)))
            self.assertEqual(x.dtype, want.dtype)
            self.assertTrue(torch.equal(x, want), (dtype, layout))
        x, _ = next(iter(self.dataset(dtype="float32", layout="channels_last")))
        self.assertEqual(tuple(x.shape), tuple(norm.shape))
        self.assertTrue(x.is_contiguous(memory_format=torch.channels_last))
        self.assertTrue(torch.equal(x, norm))
        x, _ = next(iter(self.dataset(dtype="float32", normalize=False)))
        self.assertTrue(torch.equal(x, torch.from_numpy(images).float() / 255))
        ds = self.dataset()
        self.assertEqual((ds.mean, ds.std), (own.mean, own.std))
        # uint8 batches normalised on the device (arithmetic there) with the directory's figures.
        on_device = to_input(torch.from_numpy(images), make_spec("float32", "NCHW", True, ds.mean, ds.std), _arithmetic=True)
        self.assertTrue(torch.equal(on_device, norm))

    def test_device_arithmetic_equals_the_tables(self):
        # Off the CPU the conversion is arithmetic on the device; here it runs on the CPU, bit for bit.
        x = torch.arange(256, dtype=torch.uint8).repeat(2, 3, 4, 1)
        for dtype in ("float32", "float16", "bfloat16"):
            for normalize in (True, False):
                spec = make_spec(dtype, "NCHW", normalize, CIFAR10_MEAN, CIFAR10_STD)
                self.assertTrue(torch.equal(to_input(x, spec), to_input(x, spec, _arithmetic=True)), (dtype, normalize))

    def test_order_does_not_depend_on_workers(self):
        ref = drain(self.dataset())
        for workers in (1, 2):
            with self.subTest(workers=workers):
                self.assertTrue(same(drain(DataLoader(self.dataset(), num_workers=workers)), ref))
        # A plain DataLoader's workers each build every n-th batch: the same order, but nothing counts them.
        ds = self.dataset()
        self.assertTrue(same(drain(tud.DataLoader(ds, batch_size=None, num_workers=2)), ref))
        with self.assertRaisesRegex(RuntimeError, "only mixshards.torch.DataLoader counts them"):
            ds.state_dict()

    def test_resume_after_every_batch_with_any_workers(self):
        # Issue 19: stopped after n = 0 … all batches with 0, 1 or 2 workers, resumed with 0, 1 or 2 workers:
        # exactly the remaining batches, in the same order.
        # The whole matrix for one process; for rank 1 of 3 (3 batches and one padded), the corners.
        for rank, world, saved, resumed in ((0, 1, (0, 1, 2), (0, 1, 2)), (1, 3, (0, 2), (0, 2))):
            ref = drain(self.dataset(rank=rank, world_size=world))
            total = len(ref)
            self.assertGreater(total, 3)
            for saved_with in saved:
                ds = self.dataset(rank=rank, world_size=world)
                states = [ds.state_dict()]
                for x, y in DataLoader(ds, num_workers=saved_with):
                    states.append(ds.state_dict())
                self.assertEqual([s["batches"] for s in states], list(range(total + 1)))
                for n, resumed_with in itertools.product(range(total + 1), resumed):
                    again = self.dataset(rank=rank, world_size=world)
                    again.load_state_dict(states[n])
                    again.set_epoch(0)  # the README's loop calls it: it keeps the loaded position
                    rest = drain(DataLoader(again, num_workers=resumed_with))
                    self.assertTrue(same(rest, ref[n:]), (rank, world, saved_with, n, resumed_with))
                    self.assertEqual(again.state_dict()["batches"], total)

    def test_state_records_what_the_order_depends_on(self):
        ds = self.dataset(rank=1, world_size=2)
        it = iter(DataLoader(ds, num_workers=0))
        next(it)
        next(it)
        s = ds.state_dict()
        self.assertEqual({k: s[k] for k in ("format", "split", "epoch", "batches", "samples", "seed", "shuffle_window",
                                            "batch_size", "world_size", "rank", "workers", "even", "drop_last",
                                            "epoch_samples", "excluded")},
                         {"format": STATE_FORMAT, "split": "train", "epoch": 0, "batches": 2, "samples": 64, "seed": 1,
                          "shuffle_window": 2, "batch_size": 32, "world_size": 2, "rank": 1, "workers": 0,
                          "even": "pad", "drop_last": False, "epoch_samples": 300, "excluded": []})
        self.assertEqual(s["manifest_sha256"], mixshards.open(self.dir).manifest.sha256)

    def test_resumes_that_cannot_be_honoured_are_one_line_errors(self):
        ds = self.dataset(world_size=2, rank=0)
        it = iter(DataLoader(ds))
        for _ in range(2):
            next(it)
        state = ds.state_dict()
        cases = {"world_size 2, this dataset has 4": self.dataset(world_size=4, rank=0),
                 "batch_size 32, this dataset has 16": self.dataset(world_size=2, rank=0, batch_size=16),
                 "seed 1, this dataset has 2": self.dataset(world_size=2, rank=0, seed=2),
                 "shuffle_window 2, this dataset has 3": self.dataset(world_size=2, rank=0, shuffle_window=3),
                 "even 'pad', this dataset has 'drop'": self.dataset(world_size=2, rank=0, even="drop")}
        for message, other in cases.items():
            with self.assertRaises(ValueError) as ctx:
                other.load_state_dict(state)
            self.assertIn(message, str(ctx.exception))
            self.assertNotIn("\n", str(ctx.exception))
        with self.assertRaisesRegex(ValueError, r"\{'epoch', 'batches'\}, mixshards 0\.4\) does not record"):
            self.dataset().load_state_dict({"epoch": 1, "batches": 100})
        other = MixShardDataset(support.shard_dir("quickstart") / "shards", batch_size=32, seed=1, shuffle_window=2)
        with self.assertRaisesRegex(ValueError, "another shard directory"):
            other.load_state_dict(state)

    def test_nearest_delivers_the_remaining_samples_once(self):
        ep = mixshards.open(self.dir).epoch(0)
        labels = {ep[k].label.tobytes() + ep[k].image.tobytes(): k for k in range(len(ep))}
        self.assertEqual(len(labels), len(ep))

        def positions(batches):
            return [labels[y[i].numpy().tobytes() + x[i].numpy().tobytes()] for x, y in batches for i in range(len(x))]
        first = []
        states = []
        for r in range(2):  # two ranks in step, 3 batches each
            ds = self.dataset(world_size=2, rank=r, even=False)
            it = iter(DataLoader(ds))
            first += positions([next(it) for _ in range(3)])
            states.append(ds.state_dict())
        rest = []
        for r in range(3):  # resumed on 3 ranks with batches of 20, from rank 0's state
            again = self.dataset(world_size=3, rank=r, batch_size=20, even=False)
            again.load_state_dict(states[0], nearest=True)
            rest += positions(drain(DataLoader(again, num_workers=1)))
            state = again.state_dict()
            self.assertTrue(state["excluded"])
        self.assertEqual(sorted(first + rest), list(range(len(ep))))

    def test_set_epoch_keeps_a_loaded_position(self):
        ds = self.dataset()
        ds.set_epoch(1)
        it = iter(DataLoader(ds))
        for _ in range(4):
            next(it)
        state = ds.state_dict()
        again = self.dataset()
        again.load_state_dict(state)
        self.assertEqual(again.epoch, 1)
        again.set_epoch(1)
        self.assertEqual(len(drain(DataLoader(again))), len(ds) - 4)
        again.set_epoch(1)  # a new pass of the same epoch starts at its first batch
        self.assertEqual(len(drain(DataLoader(again))), len(ds))
        late = self.dataset()
        late.load_state_dict(state)
        with self.assertRaisesRegex(ValueError, r"set_epoch\(0\): a loaded state resumes epoch 1 after 4 of 10 batches"):
            late.set_epoch(0)
        late.load_state_dict(None)
        late.set_epoch(0)
        # A state saved at the end of an epoch resumes nothing there, and lets the next epoch start.
        done = self.dataset()
        drain(DataLoader(done))
        end = self.dataset()
        end.load_state_dict(done.state_dict())
        end.set_epoch(1)
        self.assertEqual(len(drain(DataLoader(end))), len(ds))

    def test_even_pads_and_reports(self):
        lengths = [len(self.dataset(batch_size=32, rank=r, world_size=3)) for r in range(3)]
        self.assertEqual(lengths, [4, 4, 4])  # 10 batches: 3, 3, 4, and one padded batch for ranks 0 and 1
        self.assertEqual(self.dataset(world_size=3).padded_samples, 64)
        self.assertEqual([len(self.dataset(rank=r, world_size=3, even="drop")) for r in range(3)], [3, 3, 3])
        self.assertEqual(self.dataset(world_size=3, even="drop").dropped_samples, 300 - 9 * 32)
        self.assertEqual([len(self.dataset(rank=r, world_size=3, even=False)) for r in range(3)], [3, 3, 4])
        test = MixShardDataset(self.dir, split="test", batch_size=32, world_size=3)
        self.assertEqual(test.even, False)  # evaluation sums, it needs no equal counts

    def test_dataloader_batch_size_and_persistent_workers(self):
        ds = self.dataset(batch_size=None)
        self.assertEqual(ds.batch_size, 128)  # the pipeline's train.batch
        loader = DataLoader(ds, batch_size=64)
        self.assertEqual([len(x) for x, _ in loader], [64, 64, 64, 64, 44])
        with self.assertRaisesRegex(ValueError, "batch_size 16 differs from the dataset's 32"):
            DataLoader(self.dataset(), batch_size=16)
        with self.assertRaisesRegex(ValueError, "shuffle does not apply to MixShardDataset"):
            DataLoader(self.dataset(), shuffle=True)
        ds = self.dataset()
        loader = DataLoader(ds, num_workers=2, persistent_workers=True)
        for epoch in (0, 1, 0):
            ds.set_epoch(epoch)
            want = drain(self.dataset_at(epoch))
            self.assertTrue(same(drain(loader), want), epoch)
        ds.set_epoch(1)
        it = iter(loader)
        for _ in range(3):
            next(it)
        state = ds.state_dict()
        del it
        resumed = self.dataset()
        resumed.load_state_dict(state)
        self.assertTrue(same(drain(DataLoader(resumed, num_workers=2, persistent_workers=True)),
                             drain(self.dataset_at(1))[3:]))

    def dataset_at(self, epoch):
        ds = self.dataset()
        ds.set_epoch(epoch)
        return ds

    def test_cycling_warns_once_in_the_main_process(self):
        ds = self.dataset()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in (2, 3, 4):
                ds.set_epoch(epoch)
                drain(DataLoader(ds, num_workers=2))
        cycling = [w for w in caught if "materialised" in str(w.message)]
        self.assertEqual(len(cycling), 1)


@unittest.skipIf(torch is None, "torch is not installed")
class MapStyleTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.shard_dir("batch") / "shards"

    def test_samples_by_position(self):
        ds = MixShardMapDataset(self.dir, epoch=1)
        ep = mixshards.open(self.dir).epoch(1)
        self.assertEqual(len(ds), 300)
        x, y = ds[7]
        np.testing.assert_array_equal(x.numpy(), mixshards.open(self.dir).normalizer()(ep[7].image[None])[0])
        np.testing.assert_array_equal(y.numpy(), ep[7].label)
        self.assertEqual(len(ds[0:3]), 3)
        batch = ds.__getitems__([3, 1, 3])
        self.assertIsInstance(batch, SampleBatch)
        images, labels = collate(batch)
        self.assertEqual(tuple(images.shape), (3, 3, 32, 32))
        self.assertTrue(torch.equal(images[0], images[2]))
        stacked = tud.default_collate(batch)  # a plain collate gets a list of samples: the same tensors
        self.assertTrue(torch.equal(stacked[0], images) and torch.equal(stacked[1], labels))

    def test_distributed_sampler_persistent_workers_and_epochs(self):
        ds = MixShardMapDataset(self.dir, dtype="uint8")
        samplers = [tud.DistributedSampler(ds, num_replicas=2, rank=r, shuffle=True, seed=3) for r in range(2)]
        loaders = [DataLoader(ds, batch_size=40, sampler=s, num_workers=2, persistent_workers=True) for s in samplers]
        for epoch in (0, 1):
            for loader in loaders:
                loader.set_epoch(epoch)  # the sampler's and the dataset's
            ep = mixshards.open(self.dir).epoch(epoch)
            seen = []
            for loader, sampler in zip(loaders, samplers):
                order = list(sampler)
                got = torch.cat([x for x, _ in loader])
                self.assertEqual(got.dtype, torch.uint8)
                np.testing.assert_array_equal(got.numpy(), ep.take(order)[0])
                seen += order
            self.assertEqual(sorted(seen), list(range(300)))

    def test_plain_dataloader_with_default_collate(self):
        ds = MixShardMapDataset(self.dir, layout="NHWC")
        loader = tud.DataLoader(ds, batch_size=50, shuffle=False, num_workers=0)
        x, y = next(iter(loader))
        self.assertEqual(tuple(x.shape), (50, 32, 32, 3))
        ep = mixshards.open(self.dir).epoch(0)
        np.testing.assert_array_equal(y.numpy(), ep.take(range(50))[1])

    def test_sparse_labels_by_position(self):
        ds = MixShardMapDataset(self.dir, epoch=1, dtype="uint8", sparse_labels=True)
        ep = mixshards.open(self.dir).epoch(1)
        self.assertAlmostEqual(ds.smoothing, 0.1, places=7)
        x, (classes, weights) = ds[7]
        self.assertEqual((tuple(classes.shape), classes.dtype, weights.dtype), ((2,), torch.int64, torch.float32))
        np.testing.assert_array_equal(x.numpy(), ep[7].image)
        _, want = ep.take([7], sparse=True)
        np.testing.assert_array_equal(classes.numpy(), want.classes[0])
        np.testing.assert_array_equal(weights.numpy(), want.weights[0])
        sampler = tud.DistributedSampler(ds, num_replicas=2, rank=1, shuffle=True, seed=3)
        loader = DataLoader(ds, batch_size=40, sampler=sampler, num_workers=2)
        loader.set_epoch(1)
        order = list(sampler)
        got = [(x, c, w) for x, (c, w) in loader]
        _, want = ep.take(order, sparse=True)
        np.testing.assert_array_equal(torch.cat([c for _, c, _ in got]).numpy(), want.classes)
        np.testing.assert_array_equal(torch.cat([w for _, _, w in got]).numpy(), want.weights)
        np.testing.assert_array_equal(torch.cat([x for x, _, _ in got]).numpy(), ep.take(order)[0])
        # A plain DataLoader and default_collate: the pair stacked.
        x, (c, w) = next(iter(tud.DataLoader(ds, batch_size=5)))
        np.testing.assert_array_equal(c.numpy(), ep.take(range(5), sparse=True)[1].classes)
        with self.assertRaises(mixshards.ShardError):
            MixShardMapDataset(support.shard_dir("batch-v2") / "shards", sparse_labels=True)[0]


@unittest.skipIf(torch is None, "torch is not installed")
class CompressedSourceTests(unittest.TestCase):
    """The torch paths over a v3 directory whose unmixed samples are references to a compressed source
    copy (sparse labels, chunks of the copy inflated as references need them): worker independence,
    resume with any worker count, the sparse form, and the same samples as the directory stored as pixels."""

    @classmethod
    def setUpClass(cls):
        cls.refs = support.shard_dir("refz3-cutmix") / "shards"
        cls.pixels = support.shard_dir("pixels-cutmix") / "shards"

    def dataset(self, directory=None, **kw):
        args = dict(batch_size=32, seed=3, shuffle_window=2, dtype="uint8")
        args.update(kw)
        return MixShardDataset(directory or self.refs, **args)

    def test_the_samples_of_the_pixels(self):
        self.assertTrue(mixshards.open(self.refs).source_copy.compressed)
        for epoch in (0, 1):
            want = self.dataset(self.pixels)
            want.set_epoch(epoch)
            want = drain(want)
            for workers in (0, 2):
                ds = self.dataset()
                ds.set_epoch(epoch)
                self.assertTrue(same(drain(DataLoader(ds, num_workers=workers)), want), (epoch, workers))
        # A source copy bound smaller than the copy (inflated chunks evicted and inflated again): the same.
        small = self.dataset(source_cache_bytes=4 * 3 * 3 * 32 * 32)
        self.assertFalse(small._dataset().source_copy.held)
        self.assertTrue(same(drain(DataLoader(small, num_workers=1)), drain(self.dataset(self.pixels))))

    def test_resume_with_any_workers_sparse(self):
        ref = [(x, (c, w)) for x, (c, w) in self.dataset(sparse_labels=True, rank=1, world_size=2)]
        total = len(ref)
        self.assertGreater(total, 2)
        for saved_with in (0, 2):
            ds = self.dataset(sparse_labels=True, rank=1, world_size=2)
            states = [ds.state_dict()]
            for _ in DataLoader(ds, num_workers=saved_with):
                states.append(ds.state_dict())
            self.assertEqual([s["batches"] for s in states], list(range(total + 1)))
            for n, resumed_with in itertools.product(range(total + 1), (0, 1, 2)):
                again = self.dataset(sparse_labels=True, rank=1, world_size=2)
                again.load_state_dict(states[n])
                again.set_epoch(0)
                rest = [(x, (c, w)) for x, (c, w) in DataLoader(again, num_workers=resumed_with)]
                self.assertEqual(len(rest), total - n)
                for (x, (c, w)), (u, (cu, wu)) in zip(rest, ref[n:]):
                    self.assertTrue(torch.equal(x, u) and torch.equal(c, cu) and torch.equal(w, wu),
                                    (saved_with, n, resumed_with))


@unittest.skipIf(torch is None, "torch is not installed")
class InitLikeMixtrainTests(unittest.TestCase):
    def test_the_seed_cnn_gets_mixtrains_parameters(self):
        layers, c = [], 3
        for w in (32, 64, 128, 256):
            layers += [torch.nn.Conv2d(c, w, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
            c = w
        model = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(1024, 256), torch.nn.ReLU(),
                                    torch.nn.Linear(256, 10))
        init_like_mixtrain(model, 1)
        want = initial_parameters(1, seed_cnn_tensors())
        got = [p.detach().numpy() for p in model.parameters()]
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            self.assertTrue(np.array_equal(g, w))

    def test_other_layers_are_refused(self):
        with self.assertRaisesRegex(ValueError, r"1\.weight is not the weight or bias of a Conv2d or Linear"):
            init_like_mixtrain(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)), 0)
