"""MixShard v2 directories with crop, flip and mixing: reference samples resolve
to exactly the bytes stored as pixels, for every mode, and every pixel
recomputes from the source copy and the provenance alone."""

import json
import unittest

import numpy as np

import mixshards
from mixshards import layout
from mixshards.transform import Transform, apply

from . import jsonschema_subset, support, test_directory

try:
    import torch
    from mixshards.torch import MixShardDataset
except ImportError:  # torch is not a dependency; CI has none
    torch = None


def without_reference_bit(provenance: np.ndarray) -> np.ndarray:
    p = provenance.copy()
    p["flags"] &= ~np.uint8(layout.REFERENCE)
    return p


class ReferenceDirectoryTests(unittest.TestCase):
    def pair(self, mode: str):
        refs = support.shard_dir(f"refs-{mode}") / "shards"
        pixels = support.shard_dir(f"pixels-{mode}") / "shards"
        return refs, pixels

    def test_samples_and_batches_are_byte_identical_with_references_on_and_off(self):
        for mode in support.REFERENCE_MODES:
            with self.subTest(mode=mode):
                refs, pixels = self.pair(mode)
                self.assertTrue((refs / layout.SOURCE_FILE).is_file())
                self.assertFalse((pixels / layout.SOURCE_FILE).exists())
                a, b = mixshards.open(refs), mixshards.open(pixels)
                self.assertIsNotNone(a.manifest.source_copy)
                self.assertIsNone(b.manifest.source_copy)
                summary = a.manifest.raw["summary"]
                self.assertEqual(summary["references"], summary["samples"] - summary["mixed"])
                self.assertGreater(summary["references"], 100)
                self.assertGreater(summary["flipped"], 100)
                self.assertGreater(summary["shifted"], 100)
                self.assertEqual(b.manifest.raw["summary"]["references"], 0)
                for name in ("samples", "mixed", "flipped", "shifted", "lambdaHistogram", "labelMass"):
                    self.assertEqual(summary[name], b.manifest.raw["summary"][name], name)
                for ea, eb in [(a.epoch(e), b.epoch(e)) for e in range(a.epochs)] + [(a.test, b.test)]:
                    self.assertEqual(len(ea), len(eb))
                    stored = 0
                    for sa, sb in zip(ea.shards, eb.shards):
                        ba, bb = sa.read_all(), sb.read_all()
                        np.testing.assert_array_equal(ba.images, bb.images)
                        np.testing.assert_array_equal(ba.labels, bb.labels)
                        np.testing.assert_array_equal(without_reference_bit(ba.provenance), bb.provenance)
                        self.assertFalse(bb.reference.any())
                        stored += int(sa.index["images"].sum())
                        if ea.name != "test":
                            self.assertLess(sa.size, sb.size, sa.path)
                    if ea.name == "test":
                        self.assertEqual(stored, len(ea))
                    elif mode == "none":
                        self.assertEqual(stored, 0)  # every training sample is a reference
                    for k in (0, 7, len(ea) - 1):
                        x, y = ea[k], eb[k]
                        np.testing.assert_array_equal(x.image, y.image)
                        np.testing.assert_array_equal(x.label, y.label)
                        self.assertEqual((x.primary, x.partner, x.lam, x.kind, x.primary_transform, x.partner_transform,
                                          x.box), (y.primary, y.partner, y.lam, y.kind, y.primary_transform,
                                                   y.partner_transform, y.box))
                        self.assertEqual(x.reference, ea.name != "test" and x.kind == "copy")
                    for seed in (None, 3):
                        for (ia, la), (ib, lb) in pairs(ea.batches(48, seed=seed), eb.batches(48, seed=seed)):
                            self.assertTrue(np.array_equal(ia, ib) and np.array_equal(la, lb), f"{ea.name} seed {seed}")
                    for rank in range(3):
                        for (ia, _), (ib, _) in pairs(ea.batches(32, rank, 3, seed=1), eb.batches(32, rank, 3, seed=1)):
                            np.testing.assert_array_equal(ia, ib)
                a.close()
                b.close()

    def test_mixprep_dumps_verify_and_schema(self):
        """Each directory against the Swift reader's dumps (references resolved by Swift), verify and the schema."""
        for mode in support.REFERENCE_MODES:
            for name in (f"refs-{mode}", f"pixels-{mode}"):
                with self.subTest(directory=name):
                    test_directory.DirectoryTests.check_variant(self, name)
            refs, _ = self.pair(mode)
            source = support.read_dump(support.shard_dir(f"refs-{mode}") / "dumps" / layout.SOURCE_FILE, 300,
                                       (3, 32, 32), 10, provenance=False)
            with mixshards.SourceImages(str(refs / layout.SOURCE_FILE)) as s:
                np.testing.assert_array_equal(np.stack([s.image(k) for k in range(len(s))]), source[0])

    def test_source_copy_is_the_source(self):
        """The source copy holds the first 300 CIFAR-10 training records as they are, with one-hot labels."""
        refs, _ = self.pair("sample")
        records = np.frombuffer((support.MINI / "data_batch_1.bin").read_bytes(), np.uint8).reshape(-1, 3073)[:300]
        with mixshards.ShardFile(str(refs / layout.SOURCE_FILE)) as f:
            h = f.header
            self.assertEqual((h.version, h.split, h.epoch, h.codec, h.image_filter, h.has_provenance),
                             (3, "source", layout.TEST_EPOCH, "none", "none", False))
            self.assertEqual((h.label_type, h.label_smoothing), ("sparse", 0.0))  # one-hot records {y, y, 1}
            block = f.read_all()
        np.testing.assert_array_equal(block.images.reshape(300, -1), records[:, 1:])
        np.testing.assert_array_equal(block.labels, np.eye(10, dtype=np.float32)[records[:, 0]])
        manifest = json.loads((refs / "manifest.json").read_text())
        self.assertEqual(manifest["sourceCopy"]["file"], layout.SOURCE_FILE)
        self.assertEqual(manifest["sourceCopy"]["samples"], 300)
        self.assertEqual(manifest["pipeline"]["augment"], {"crop_pad": 4, "flip": True})
        self.assertEqual(jsonschema_subset.problems(manifest, json.loads(support.SCHEMA.read_text())), [])

    def test_every_pixel_recomputes_from_the_source_copy_and_provenance(self):
        for mode in support.REFERENCE_MODES:
            refs, pixels = self.pair(mode)
            with self.subTest(mode=mode):
                ds = mixshards.open(refs)
                source = ds.source_copy
                kinds = set()
                for e in range(ds.epochs):
                    ep = mixshards.open(pixels).epoch(e)  # stored pixels, independent of the resolver
                    for k in range(len(ep)):
                        s = ep[k]
                        kinds.add(s.kind)
                        if mode == "cutmix" and s.kind == "blend":  # a box that came out empty: λ 1, no box
                            self.assertEqual((s.lam, s.box), (1.0, (0, 0, 0, 0)))
                        np.testing.assert_array_equal(s.image, recompute(source, s), f"epoch {e} position {k} {s}")
                        self.assertTrue(all(abs(d) <= 4 for d in (*s.primary_transform[:2], *s.partner_transform[:2])))
                expected = {"none": {"copy"}, "sample": {"copy", "blend"}, "batch": {"copy", "blend"},
                            "cutmix": {"copy", "cutmix"}}[mode]
                self.assertEqual(kinds - {"blend"} if mode == "cutmix" else kinds, expected)
                ds.close()

    @unittest.skipIf(torch is None, "torch is not installed")
    def test_torch_batches_are_identical(self):
        for mode in support.REFERENCE_MODES:
            refs, pixels = self.pair(mode)
            for epoch in (0, 1):
                a = MixShardDataset(refs, batch_size=40, seed=4)
                b = MixShardDataset(pixels, batch_size=40, seed=4)
                a.set_epoch(epoch)
                b.set_epoch(epoch)
                got = pairs(a, b)
                self.assertEqual(len(got), 8)
                for (xa, ya), (xb, yb) in got:
                    self.assertTrue(torch.equal(xa, xb) and torch.equal(ya, yb), f"{mode} epoch {epoch}")


class CompressedSourceTests(unittest.TestCase):
    """v3: the source copy compressed (zlib, delta filter) in chunks of one image (the default) or three;
    references resolve from it to exactly the bytes stored as pixels."""

    def test_samples_and_batches_are_byte_identical_to_pixels(self):
        for name, (mode, per) in support.COMPRESSED_SOURCE.items():
            with self.subTest(variant=name):
                refs = support.shard_dir(name) / "shards"
                pixels = support.shard_dir(f"pixels-{mode}") / "shards"
                with mixshards.ShardFile(str(refs / layout.SOURCE_FILE)) as f:
                    h = f.header
                    self.assertEqual((h.version, h.codec, h.image_filter, h.samples_per_chunk, h.has_provenance),
                                     (3, "zlib", "delta", per or 1, False))
                    chunks = f.chunk_count
                a, b = mixshards.open(refs), mixshards.open(pixels)
                self.assertTrue(a.source_copy.compressed)
                for ea, eb in [(a.epoch(e), b.epoch(e)) for e in range(a.epochs)] + [(a.test, b.test)]:
                    for sa, sb in zip(ea.shards, eb.shards):
                        ba, bb = sa.read_all(), sb.read_all()
                        np.testing.assert_array_equal(ba.images, bb.images)
                        np.testing.assert_array_equal(ba.labels, bb.labels)
                        np.testing.assert_array_equal(without_reference_bit(ba.provenance), bb.provenance)
                    for k in (0, 7, len(ea) - 1):
                        np.testing.assert_array_equal(ea[k].image, eb[k].image)
                    for (ia, la), (ib, lb) in pairs(ea.batches(48, seed=3), eb.batches(48, seed=3)):
                        self.assertTrue(np.array_equal(ia, ib) and np.array_equal(la, lb), f"{ea.name}")
                stats = a.source_copy.cache_statistics()
                self.assertLessEqual(stats["inflated"], chunks)  # 300 images fit the default cache: each inflated once
                self.assertEqual(stats["evicted"], 0)
                self.assertGreater(stats["hits"], 0)
                a.close()
                b.close()

    def test_mixprep_dumps_verify_and_schema(self):
        """Each directory against the Swift reader's dumps (references resolved by Swift), verify and the schema."""
        for name, (mode, _) in support.COMPRESSED_SOURCE.items():
            with self.subTest(directory=name):
                test_directory.DirectoryTests.check_variant(self, name)
                source = support.read_dump(support.shard_dir(name) / "dumps" / layout.SOURCE_FILE, 300, (3, 32, 32), 10,
                                           provenance=False)
                with mixshards.SourceImages(str(support.shard_dir(name) / "shards" / layout.SOURCE_FILE)) as s:
                    np.testing.assert_array_equal(s.images(range(300)), source[0])
                    np.testing.assert_array_equal(np.stack([s.image(k) for k in (299, 0, 150)]), source[0][[299, 0, 150]])

    def test_a_cache_smaller_than_the_copy(self):
        """A bound of three chunks: chunks are dropped and inflated again, memory stays within the bound,
        and every byte is the same."""
        refs = support.shard_dir("refz3-cutmix") / "shards"
        pixels = support.shard_dir("pixels-cutmix") / "shards"
        chunk_bytes = 3 * 3 * 32 * 32
        a = mixshards.open(refs, source_cache_bytes=3 * chunk_bytes)
        b = mixshards.open(pixels)
        for e in range(a.epochs):
            for (ia, _), (ib, _) in pairs(a.epoch(e).batches(40, seed=e), b.epoch(e).batches(40, seed=e)):
                np.testing.assert_array_equal(ia, ib)
        stats = a.source_copy.cache_statistics()
        self.assertGreater(stats["evicted"], 10)
        self.assertLessEqual(stats["resident_bytes"], 3 * chunk_bytes)
        self.assertEqual(stats["resident_bytes"], (stats["inflated"] - stats["evicted"]) * chunk_bytes)
        with mixshards.SourceImages(str(refs / layout.SOURCE_FILE), cache_bytes=1) as tiny:  # keeps the last chunk
            tiny.images([0, 1, 2])
            tiny.images([1])
            self.assertEqual(tiny.cache_statistics(), {"hits": 1, "inflated": 1, "evicted": 0, "resident_bytes": chunk_bytes})

    def test_source_encoding_mirrors_swift(self):
        """``verify.source_encoding`` is Swift's ``Pipeline.sourceEncoding``: uncompressed below 64×64 and
        before v3, compressed one image per chunk from 64×64, the keys winning when set."""
        from mixshards.verify import source_encoding
        shards = {"filter": "delta"}
        self.assertEqual(source_encoding((3, 32, 32), 10, shards), ("none", "none", (1 << 28) // 4 // (3072 + 12), False))  # v3: sparse records
        self.assertEqual(source_encoding((1, 64, 64), 10, shards), ("zlib", "delta", 1, False))
        self.assertEqual(source_encoding((3, 63, 64), 10, shards)[0], "none")
        self.assertEqual(source_encoding((3, 224, 224), 1000, shards, version=2), ("none", "none", 434, False))
        self.assertEqual(source_encoding((3, 32, 32), 10, {"filter": "none", "source_codec": "zlib"}), ("zlib", "none", 1, False))
        self.assertEqual(source_encoding((3, 128, 128), 10, {"filter": "delta", "source_codec": "none",
                                                               "source_samples_per_chunk": 9}), ("none", "none", 9, False))
        with self.assertRaises(ValueError):
            source_encoding((3, 32, 32), 10, {"filter": "delta", "source_codec": "zstd"})

    def test_unpacked_copy(self):
        """MIXSHARDS_UNPACKED_SOURCE: the first open makes the unpacked copy (byte for byte the file
        Swift's mixtrain makes), later opens map it; batches are the pixels'; a damaged chunk still
        reads right, inflated again, and the file is removed."""
        import os
        import subprocess
        import tempfile
        from mixshards.shard import unpacked_file_name, unpacked_source_directory
        self.assertIsNone(unpacked_source_directory({}))
        self.assertIsNone(unpacked_source_directory({"MIXSHARDS_UNPACKED_SOURCE": ""}))
        self.assertEqual(unpacked_source_directory({"MIXSHARDS_UNPACKED_SOURCE": "/scratch/u"}), "/scratch/u")
        mixtrain = os.path.join(os.path.dirname(support.mixprep()), "mixtrain")
        old = os.environ.get("MIXSHARDS_UNPACKED_SOURCE")
        try:
            for name, (mode, per) in support.COMPRESSED_SOURCE.items():
                with self.subTest(variant=name):
                    refs = support.shard_dir(name) / "shards"
                    pixels = mixshards.open(support.shard_dir(f"pixels-{mode}") / "shards")
                    where = tempfile.mkdtemp(dir=support.scratch())
                    os.environ["MIXSHARDS_UNPACKED_SOURCE"] = os.path.join(where, "py")
                    key = mixshards.open(refs).manifest.source_copy.sha256
                    file = os.path.join(where, "py", unpacked_file_name(key))
                    for made in (True, False):
                        a = mixshards.open(refs)
                        self.assertEqual(a.source_copy.unpacked, (file, made))
                        for e in range(a.epochs):
                            for (ia, la), (ib, lb) in pairs(a.epoch(e).batches(40, seed=e), pixels.epoch(e).batches(40, seed=e)):
                                self.assertTrue(np.array_equal(ia, ib) and np.array_equal(la, lb), name)
                        self.assertEqual(a.source_copy.cache_statistics()["inflated"], 0)
                        a.close()
                    if os.access(mixtrain, os.X_OK):
                        swift_dir = os.path.join(where, "swift")
                        r = subprocess.run([mixtrain, "bench-loader", str(refs)], capture_output=True, text=True,
                                           env={**os.environ, "MIXSHARDS_UNPACKED_SOURCE": swift_dir})
                        self.assertEqual(r.returncode, 0, r.stderr)
                        with open(file, "rb") as f, open(os.path.join(swift_dir, unpacked_file_name(key)), "rb") as g:
                            self.assertEqual(f.read(), g.read(), f"{name}: Swift's unpacked copy differs")
                    data = bytearray(open(file, "rb").read())
                    data[70] ^= 0x40  # a pixel of source image 0, in chunk 0
                    open(file, "wb").write(data)
                    a = mixshards.open(refs)
                    with mixshards.SourceImages(str(refs / layout.SOURCE_FILE)) as plain:
                        np.testing.assert_array_equal(a.source_copy.images(range(a.source_copy.count)),
                                                      plain.images(range(plain.count)))
                    self.assertEqual(a.source_copy.cache_statistics()["inflated"], 1)
                    self.assertFalse(os.path.exists(file))
                    a.close()
                    pixels.close()
        finally:
            if old is None:
                os.environ.pop("MIXSHARDS_UNPACKED_SOURCE", None)
            else:
                os.environ["MIXSHARDS_UNPACKED_SOURCE"] = old
        with self.assertRaises(mixshards.ShardError) as ctx:
            mixshards.SourceImages(str(support.shard_dir("refz3-cutmix") / "shards" / layout.SOURCE_FILE), unpacked=("/tmp", "../x"))
        self.assertTrue(str(ctx.exception).endswith(": cannot be unpacked under a key that is not a SHA-256 (64 lowercase hex digits)"))

    def test_cache_size_from_the_environment(self):
        from mixshards.shard import DEFAULT_SOURCE_CACHE_BYTES, source_cache_bytes
        self.assertEqual(source_cache_bytes({}), DEFAULT_SOURCE_CACHE_BYTES)
        self.assertEqual(DEFAULT_SOURCE_CACHE_BYTES, 1 << 30)
        for text, value in (("123", 123), ("512K", 512 << 10), ("8m", 8 << 20), ("1.5G", 3 << 29)):
            self.assertEqual(source_cache_bytes({"MIXSHARDS_SOURCE_CACHE": text}), value)
        for bad in ("", "G", "-1", "0", "1e9", "12 G", "inf", "nan", "8T", "1..2"):
            with self.assertRaises(mixshards.ShardError) as ctx:
                source_cache_bytes({"MIXSHARDS_SOURCE_CACHE": bad})
            self.assertEqual(str(ctx.exception), "MIXSHARDS_SOURCE_CACHE must be a size in bytes, optionally with K, M "
                                                 f"or G (got {bad!r})")


def pairs(a, b) -> list:
    """The items of two iterables side by side; they must have the same length."""
    def keep(v):  # batches may reuse buffers: keep copies
        return v.clone() if hasattr(v, "clone") else v.copy()
    a, b = [(keep(x), keep(y)) for x, y in a], [(keep(x), keep(y)) for x, y in b]
    assert len(a) == len(b), (len(a), len(b))
    return list(zip(a, b))


def recompute(source: mixshards.SourceImages, s: mixshards.Sample) -> np.ndarray:
    """A training sample's pixels from the source copy and its provenance alone (DESIGN.md's definitions)."""
    a = naive_transform(source.image(s.primary), s.primary_transform)
    if s.kind == "copy":
        return a
    b = naive_transform(source.image(s.partner), s.partner_transform)
    if s.kind == "cutmix":
        x0, y0, x1, y1 = s.box
        out = a.copy()
        out[:, y0:y1, x0:x1] = b[:, y0:y1, x0:x1]
        return out
    lam = np.float32(s.lam)
    if lam == 1 or (s.primary == s.partner and s.primary_transform == s.partner_transform):
        return a
    v = lam * a.astype(np.float32) + (np.float32(1) - lam) * b.astype(np.float32)  # binary32, each op rounded
    return np.floor(v.astype(np.float64) + 0.5).astype(np.uint8)  # ties away from zero (v ≥ 0)


def naive_transform(image: np.ndarray, t: Transform) -> np.ndarray:
    """The transform's definition, one output column at a time: out(c, y, x) = src(c, y + dy, x' + dx),
    x' = W − 1 − x when flipped, zero where the source position is outside the image."""
    c, h, w = image.shape
    out = np.zeros_like(image)
    rows = [(y, y + t.dy) for y in range(h) if 0 <= y + t.dy < h]
    if not rows:
        return out
    ys, sys_ = [y for y, _ in rows], [sy for _, sy in rows]
    for x in range(w):
        sx = (w - 1 - x if t.flip else x) + t.dx
        if 0 <= sx < w:
            out[:, ys, x] = image[:, sys_, sx]
    return out


class TransformTests(unittest.TestCase):
    def test_vectorised_transform_is_the_definition(self):
        rng = np.random.default_rng(7)
        images = rng.integers(0, 256, (20, 3, 6, 5), dtype=np.uint8)
        for _ in range(200):
            t = Transform(int(rng.integers(-4, 5)), int(rng.integers(-5, 6)), bool(rng.integers(2)))
            i = int(rng.integers(20))
            np.testing.assert_array_equal(apply(images[i], t), naive_transform(images[i], t), str(t))
        # Many at once, each with its own transform, written at scattered positions.
        from mixshards.transform import transform_many
        idx = rng.integers(0, 20, 64)
        dx, dy, flip = rng.integers(-4, 5, 64), rng.integers(-5, 6, 64), rng.integers(0, 2, 64).astype(bool)
        positions = rng.permutation(100)[:64]
        out = np.full((100, 3, 6, 5), 77, np.uint8)
        transform_many(images, idx, dx, dy, flip, out, positions)
        for j in range(64):
            np.testing.assert_array_equal(out[positions[j]],
                                          naive_transform(images[idx[j]], Transform(int(dx[j]), int(dy[j]), bool(flip[j]))))
        untouched = np.setdiff1d(np.arange(100), positions)
        self.assertTrue((out[untouched] == 77).all())

    def test_flip_of_a_row(self):
        image = np.arange(6, dtype=np.uint8).reshape(1, 1, 6)
        self.assertEqual(apply(image, Transform(0, 0, True)).ravel().tolist(), [5, 4, 3, 2, 1, 0])
        self.assertEqual(apply(image, Transform(2, 0, False)).ravel().tolist(), [2, 3, 4, 5, 0, 0])
        self.assertEqual(apply(image, Transform(2, 0, True)).ravel().tolist(), [0, 0, 5, 4, 3, 2])
        self.assertEqual(apply(image, Transform(0, 1, False)).ravel().tolist(), [0] * 6)
