"""Shard directories over HTTP (nginx on loopback, and a server that drops connections
mid-file) and fsspec, read through the local cache: the same bytes as the local
directory, each file's SHA-256 checked before use, the size limit kept."""

import os
import tempfile
import unittest
from pathlib import Path

import numpy as np

import mixshards
from mixshards import remote
from mixshards.errors import ShardError

from . import support
from .servers import FlakyServer, Nginx

try:
    import torch
    from mixshards.torch import DataLoader, MixShardDataset
except ImportError:
    torch = None


def cache_dir() -> str:
    return tempfile.mkdtemp(prefix="cache-", dir=support.scratch())


def assert_same_epochs(test, a: mixshards.Dataset, b: mixshards.Dataset, **kw):
    for e in range(b.epochs):
        pairs = zip(a.epoch(e).batches(64, seed=1, **kw), b.epoch(e).batches(64, seed=1, **kw))
        n = 0
        for (ia, la), (ib, lb) in pairs:
            np.testing.assert_array_equal(ia, ib)
            np.testing.assert_array_equal(la, lb)
            n += 1
        test.assertEqual(n, -(-len(b.epoch(e)) // 64))
    ta, tb = a.test, b.test
    np.testing.assert_array_equal(ta.take(range(len(tb)))[0], tb.take(range(len(tb)))[0])


class NginxTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.shard_dir("refs-sample") / "shards"  # 2 epochs of 3 shards, references to the source copy
        cls.server = Nginx(cls.dir)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_reads_the_bytes_of_the_local_directory(self):
        cache = cache_dir()
        ds = mixshards.open(self.server.url, cache=cache)
        self.assertEqual(ds.url, self.server.url)
        self.assertTrue(ds.path.startswith(cache))
        local = mixshards.open(self.dir)
        assert_same_epochs(self, ds, local)
        self.assertEqual(ds.epoch(1)[17].primary, local.epoch(1)[17].primary)
        for entry in ds.manifest.files:  # every file read is in the cache, verified, byte for byte the server's
            self.assertEqual((Path(ds.path) / entry.file).read_bytes(), (self.dir / entry.file).read_bytes())
        again = mixshards.open(self.server.url + "/", cache=cache)  # the same mirror: nothing fetched again
        self.assertEqual(again.path, ds.path)

    def test_a_rank_fetches_only_what_it_reads(self):
        cache = cache_dir()
        ds = mixshards.open(self.server.url, cache=cache)
        ep = ds.epoch(1)
        list(ep.batches(50, rank=0, world_size=3))  # file order: the first 100 samples, in shard 0
        cached = {e.file for e in ds.manifest.files if (Path(ds.path) / e.file).exists()}
        self.assertEqual(cached, {"source/train.mxs", "train/epoch-001/shard-00000.mxs"})

    def test_a_shard_that_differs_from_the_manifest_is_refused_and_not_cached(self):
        served = support.copy_dir("refs-sample", "remote-bad")
        shard = served / "train" / "epoch-000" / "shard-00001.mxs"
        support.flip_chunk_byte(shard, 1)
        server = Nginx(served)
        try:
            ds = mixshards.open(server.url, cache=cache_dir())
            with self.assertRaises(ShardError) as ctx:
                list(ds.epoch(0).batches(50))
            message = str(ctx.exception)
            self.assertRegex(message, rf"^{server.url}/train/epoch-000/shard-00001\.mxs: SHA-256 [0-9a-f]{{16}}… "
                                      r"differs from the manifest's [0-9a-f]{16}… \(not cached\)$")
            self.assertFalse((Path(ds.path) / "train/epoch-000/shard-00001.mxs").exists())
        finally:
            server.stop()

    def test_the_cache_keeps_its_size_limit(self):
        sizes = {e.file: e.bytes for e in mixshards.open(self.dir).manifest.files}
        biggest_shard = max(v for k, v in sizes.items() if k.startswith("train/"))
        limit = sizes["source/train.mxs"] + 2 * biggest_shard
        ds = mixshards.open(self.server.url, cache=cache_dir(), cache_limit=limit)
        for e in range(ds.epochs):
            list(ds.epoch(e).batches(200, seed=2))
            store = ds._storage
            self.assertLessEqual(sum(size for _, size, *_ in store.cached_bytes()), limit)
        # The source copy is held while the dataset is open; the oldest shards went first.
        cached = {e.file for e in ds.manifest.files if (Path(ds.path) / e.file).exists()}
        self.assertIn("source/train.mxs", cached)
        self.assertFalse(any(f.startswith("train/epoch-000") for f in cached))
        # Evicted shards are fetched again when read again.
        assert_same_epochs(self, ds, mixshards.open(self.dir))

    def test_a_missing_directory_is_one_line(self):
        with self.assertRaisesRegex(ShardError, rf"^{self.server.url}/nothing/manifest\.json: HTTP 404 Not Found$"):
            mixshards.open(self.server.url + "/nothing", cache=cache_dir())

    @unittest.skipIf(torch is None, "torch is not installed")
    def test_dataloader_workers_share_the_cache(self):
        cache = cache_dir()
        url = MixShardDataset(self.server.url, batch_size=50, seed=4, shuffle_window=2, dtype="uint8", cache=cache)
        local = MixShardDataset(self.dir, batch_size=50, seed=4, shuffle_window=2, dtype="uint8")
        for e in (0, 1):
            url.set_epoch(e)
            local.set_epoch(e)
            got = [(x.clone(), y.clone()) for x, y in DataLoader(url, num_workers=2)]
            want = list(local)
            self.assertEqual(len(got), len(want))
            for (a, b), (c, d) in zip(got, want):
                self.assertTrue(torch.equal(a, c) and torch.equal(b, d))


class DroppedConnectionTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = support.shard_dir("refs-sample") / "shards"

    def test_a_connection_closed_mid_file_is_resumed_where_it_stopped(self):
        server = FlakyServer(self.dir, drops=2, cut=0.5)
        try:
            ds = mixshards.open(server.url, cache=cache_dir())
            assert_same_epochs(self, ds, mixshards.open(self.dir), shuffle_window=0)
            source = [(s, e) for p, s, e in server.requests if p == "/source/train.mxs"]
            # The first part was cut twice: each retry asks for the bytes after the ones received.
            size = os.path.getsize(self.dir / "source" / "train.mxs")
            first = min(size, remote.PART_BYTES)
            self.assertEqual(source[:3], [(0, first), (first // 2, first), (first // 2 + (first - first // 2) // 2, first)])
            self.assertTrue(all(v == 2 for v in server.dropped.values()))
        finally:
            server.stop()

    def test_a_server_that_sends_nothing_fails_after_the_retries(self):
        server = FlakyServer(self.dir, drops=1000, cut=0.0, after=100_000)
        try:
            ds = remote.open_remote(server.url, cache=cache_dir(), retries=3)
            with self.assertRaises(ShardError) as ctx:
                ds.source_copy
            self.assertRegex(str(ctx.exception), rf"^{server.url}/source/train\.mxs: download failed after 3 attempts "
                                                 r"without progress \(IncompleteRead.*\)$")
            self.assertNotIn("\n", str(ctx.exception))
            leftovers = [p for p in Path(ds.path).rglob("*") if p.name.endswith(".part")]
            self.assertEqual(leftovers, [])
        finally:
            server.stop()


class FsspecTests(unittest.TestCase):
    def test_memory_filesystem(self):
        try:
            import fsspec
        except ImportError:
            self.skipTest("fsspec is not installed")
        root = support.shard_dir("refs-sample") / "shards"
        fs = fsspec.filesystem("memory")
        for path in root.rglob("*"):
            if path.is_file():
                fs.pipe(f"/qs-remote/{path.relative_to(root)}", path.read_bytes())
        ds = mixshards.open("memory://qs-remote", cache=cache_dir())
        assert_same_epochs(self, ds, mixshards.open(root))


class URLTests(unittest.TestCase):
    def test_what_is_a_url(self):
        self.assertTrue(remote.is_url("https://example.org/dir"))
        self.assertTrue(remote.is_url("s3://bucket/dir"))
        self.assertFalse(remote.is_url("file:///data/dir"))
        self.assertFalse(remote.is_url("/data/dir"))
        self.assertFalse(remote.is_url("shards/a://b"))

    def test_an_unknown_scheme_is_one_line(self):
        with self.assertRaisesRegex(ShardError, r"^nosuch://x: "):
            mixshards.open("nosuch://x", cache=cache_dir())
