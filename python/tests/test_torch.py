"""mixshards.torch (skipped without torch) and the numpy normaliser it uses."""

import itertools
import unittest
import warnings

import numpy as np

import mixshards
from mixshards.normalize import CIFAR10_MEAN, CIFAR10_STD, Normalizer, source_statistics
from mixshards.rng import initial_parameters

from . import support
from .test_rng import seed_cnn_tensors

try:
    import torch
    import torch.utils.data as tud
    from mixshards.output import make_spec
    from mixshards.torch import (STATE_FORMAT, DataLoader, MixShardDataset, MixShardMapDataset, SampleBatch, collate,
                                 init_like_mixtrain, to_input)
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

    def test_batches_are_the_numpy_readers(self):
        ep = mixshards.open(self.dir).epoch(0)
        norm = Normalizer(CIFAR10_MEAN, CIFAR10_STD)
        for window in (0, 1, 3):
            ds = MixShardDataset(self.dir, batch_size=64, seed=2, shuffle_window=window)
            got = drain(ds)
            self.assertEqual(len(got), len(ds))
            self.assertEqual([len(x) for x, _ in got], [64, 64, 64, 64, 44])
            for (x, y), (images, labels) in zip(got, ep.batches(64, seed=2, shuffle_window=window)):
                self.assertEqual((x.dtype, y.dtype), (torch.float32, torch.float32))
                np.testing.assert_array_equal(x.numpy(), norm(images))
                np.testing.assert_array_equal(y.numpy(), labels)

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
        norm = torch.from_numpy(Normalizer(CIFAR10_MEAN, CIFAR10_STD)(images))
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
        self.assertEqual((ds.mean, ds.std), (CIFAR10_MEAN, CIFAR10_STD))

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
        np.testing.assert_array_equal(x.numpy(), Normalizer(CIFAR10_MEAN, CIFAR10_STD)(ep[7].image[None])[0])
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
