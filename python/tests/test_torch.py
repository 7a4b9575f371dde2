"""mixshards.torch (skipped without torch) and the numpy normaliser it uses."""

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
    from mixshards.torch import DataLoader, MixShardDataset, init_like_mixtrain, sparse_cross_entropy
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
class TorchDatasetTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.shard_dir("batch") / "shards"  # 300 samples, chunks of 50, 2 epochs

    def drain(self, it):
        return [(x.clone(), y.clone()) for x, y in it]

    def test_sparse_labels_and_their_loss(self):
        """sparse_labels=True: (classes, weights) N×2 per batch and the epoch's ε; sparse_cross_entropy on them is
        the soft-target cross-entropy on the dense rows (to float rounding), also through worker processes."""
        dense = self.drain(MixShardDataset(self.dir, batch_size=64, seed=2))
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
        workers = [(c.clone(), w.clone()) for _, (c, w) in DataLoader(ds, num_workers=2)]
        self.assertEqual(sorted(c[:, 0].sum().item() for c, _ in workers), sorted(c[:, 0].sum().item() for _, (c, _w) in got))

    def test_normalised_batches_and_soft_labels(self):
        ds = MixShardDataset(self.dir, batch_size=64, seed=2)
        ep = mixshards.open(self.dir).epoch(0)
        got = self.drain(ds)
        self.assertEqual(len(got), len(ds))
        self.assertEqual([len(x) for x, _ in got], [64, 64, 64, 64, 44])
        own = mixshards.open(self.dir)
        self.assertEqual((ds.mean, ds.std), (own.mean, own.std))
        self.assertEqual(ds.mean, own.manifest.channel_stats[0])
        self.assertNotEqual(ds.mean, CIFAR10_MEAN)
        norm = Normalizer(ds.mean, ds.std)
        for (x, y), (images, labels) in zip(got, ep.batches(64, seed=2)):
            self.assertEqual((x.dtype, y.dtype), (torch.float32, torch.float32))
            np.testing.assert_array_equal(x.numpy(), norm(images))
            np.testing.assert_array_equal(y.numpy(), labels)

    def test_set_epoch_changes_shards_and_order(self):
        ds = MixShardDataset(self.dir, batch_size=300, seed=2)
        ds.set_epoch(1)
        (x1, _), = self.drain(ds)
        ep1 = mixshards.open(self.dir).epoch(1)
        images, _ = next(ep1.batches(300, seed=2))
        np.testing.assert_array_equal(x1.numpy(), mixshards.open(self.dir).normalizer()(images))
        # Explicit figures win.
        mine = MixShardDataset(self.dir, batch_size=300, seed=2, mean=CIFAR10_MEAN, std=CIFAR10_STD)
        self.assertEqual((mine.mean, mine.std), (CIFAR10_MEAN, CIFAR10_STD))

    def test_ranks_are_even_disjoint_and_complete(self):
        ep = mixshards.open(self.dir).epoch(0)
        for world in (1, 2, 3, 4):
            lengths = [len(MixShardDataset(self.dir, batch_size=32, rank=r, world_size=world)) for r in range(world)]
            self.assertEqual(len(set(lengths)), 1, lengths)
            uneven = [len(MixShardDataset(self.dir, batch_size=32, rank=r, world_size=world, even=False))
                      for r in range(world)]
            self.assertEqual(uneven, ep.batch_counts(32, world))
            self.assertEqual(sum(uneven), 10)

    def test_resume_mid_epoch(self):
        for workers in (0, 2):
            ds = MixShardDataset(self.dir, batch_size=32, seed=1)
            ds.set_epoch(1)
            loader = DataLoader(ds, num_workers=workers)
            full = self.drain(loader)
            self.assertEqual(ds.state_dict(), {"epoch": 1, "batches": 10})
            ds.set_epoch(1)
            first = []
            for i, (x, y) in enumerate(loader):
                first.append((x.clone(), y.clone()))
                if i == 3:
                    break
            state = ds.state_dict()
            self.assertEqual(state, {"epoch": 1, "batches": 4})
            again = MixShardDataset(self.dir, batch_size=32, seed=1)
            again.load_state_dict(state)
            rest = self.drain(DataLoader(again, num_workers=workers))
            self.assertEqual(again.state_dict(), {"epoch": 1, "batches": 10})
            self.assertEqual(len(first) + len(rest), len(full))
            for (a, b), (c, d) in zip(first + rest, full):
                self.assertTrue(torch.equal(a, c) and torch.equal(b, d), workers)

    def test_workers_deliver_every_batch_once(self):
        ds = MixShardDataset(self.dir, batch_size=16, seed=0)
        single = self.drain(DataLoader(ds, num_workers=0))
        multi = self.drain(DataLoader(ds, num_workers=2))
        key = lambda batch: batch[1].numpy().tobytes() + batch[0].numpy().tobytes()
        self.assertEqual(sorted(map(key, single)), sorted(map(key, multi)))

    def test_persistent_workers_are_refused(self):
        with self.assertRaises(ValueError):
            DataLoader(MixShardDataset(self.dir), num_workers=1, persistent_workers=True)


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
