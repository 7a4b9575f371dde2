"""mixshards.torch (skipped without torch) and the numpy normaliser it uses."""

import unittest

import numpy as np

import mixshards
from mixshards.normalize import CIFAR10_MEAN, CIFAR10_STD, Normalizer, source_statistics
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
        self.assertEqual(source_statistics({"name": "cifar10"}, 3), (CIFAR10_MEAN, CIFAR10_STD))
        with self.assertWarns(UserWarning):
            mean, std = source_statistics({"name": "faces"}, 1)
        self.assertAlmostEqual(mean[0], sum(CIFAR10_MEAN) / 3)


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
        norm = Normalizer(CIFAR10_MEAN, CIFAR10_STD)
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
        np.testing.assert_array_equal(x1.numpy(), Normalizer(CIFAR10_MEAN, CIFAR10_STD)(images))

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
