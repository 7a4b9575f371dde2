"""Every kind of damage the Swift reader tests is refused with one line naming the file and the chunk or field."""

import copy
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from pathlib import Path

import numpy as np

import mixshards
from mixshards import ShardError, ShardFile, layout

from . import support
from .support import GOLDEN, fix_header_crc, patch_chunk


class ShardDamageTests(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="damage-", dir=support.scratch()))
        self.zlib = (GOLDEN / "golden-zlib6-none.mxs").read_bytes()    # 2 zlib chunks
        self.plain = (GOLDEN / "golden-none-delta.mxs").read_bytes()   # 2 stored chunks, provenance

    def failure(self, data: bytes) -> str:
        """Writes ``data``, opens it and reads every chunk; returns the error message."""
        path = self.dir / "bad.mxs"
        path.write_bytes(bytes(data))
        with self.assertRaises(ShardError) as ctx:
            with ShardFile(str(path)) as s:
                s.read_all()
        msg = str(ctx.exception)
        self.assertTrue(msg.startswith(f"{path}: "), msg)
        self.assertNotIn("\n", msg)
        return msg

    def test_good_files_read(self):
        for data in (self.zlib, self.plain):
            (self.dir / "ok.mxs").write_bytes(data)
            with ShardFile(str(self.dir / "ok.mxs")) as s:
                self.assertEqual(len(s.read_all()), 3)

    def test_wrong_magic(self):
        b = bytearray(self.zlib)
        b[0] = ord("X")
        self.assertIn("header: bad magic", self.failure(b))

    def test_unknown_version_is_refused_by_number(self):
        for version in (0, 5):
            b = bytearray(self.zlib)
            b[8] = version
            self.assertIn(f"header: unsupported version {version} (this reader knows versions from 1 to 4)", self.failure(b))

    def swift_says(self, data: bytes) -> str:
        """What ``mixprep inspect`` says of ``data`` (the Swift reader's message, without the path)."""
        exe = support.mixprep()
        if exe is None:
            self.skipTest("mixprep is not built")
        path = self.dir / "bad.mxs"
        path.write_bytes(bytes(data))
        r = subprocess.run([exe, "inspect", str(path)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        return r.stderr.strip().removeprefix(f"error: {path}: ")

    def test_header_limits_are_worded_as_the_swift_reader_words_them(self):
        def header(**fields):
            b = bytearray(self.zlib)
            offsets = {"version": (8, "<H"), "per_chunk": (24, "<I"), "channels": (28, "<H"), "height": (30, "<H"),
                       "width": (32, "<H"), "classes": (34, "<H")}
            for name, value in fields.items():
                struct.pack_into(offsets[name][1], b, offsets[name][0], value)
            fix_header_crc(b)
            return b
        cases = [
            (header(channels=0xFFFF, height=0xFFFF, width=0xFFFF),
             "header: image shape 65,535×65,535 (width×height, 65535 channels) exceeds the format limits "
             "(at most 4 channels and sides of 1,024)"),
            (header(width=1025), "header: image shape 1,025×2 (width×height, 2 channels) exceeds the format limits "
                                 "(at most 4 channels and sides of 1,024)"),
            (header(channels=5), "header: image shape 3×2 (width×height, 5 channels) exceeds the format limits "
                                 "(at most 4 channels and sides of 1,024)"),
            (header(per_chunk=70_000), "header: samplesPerChunk 70000 exceeds the format limit 65536"),
            (header(version=5), "header: unsupported version 5 (this reader knows versions from 1 to 4)"),
        ]
        for data, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(self.failure(data), f"{self.dir / 'bad.mxs'}: {expected}")
                self.assertEqual(self.swift_says(data), expected)

    def test_chunk_holding_other_samples(self):
        b = bytearray(self.zlib)
        io = struct.unpack_from("<Q", b, len(b) - 32)[0]
        struct.pack_into("<I", b, io + 16, 1)               # chunk 0 firstSample
        struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 64])))
        expected = "chunk 0: holds samples 1 to 2, expected 0 to 1"
        self.assertEqual(self.failure(b), f"{self.dir / 'bad.mxs'}: {expected}")
        self.assertEqual(self.swift_says(b), expected)

    def test_indices_out_of_range(self):
        path = self.dir / "ok.mxs"
        path.write_bytes(self.zlib)
        with ShardFile(str(path)) as s, self.assertRaises(IndexError) as ctx:
            s.read_chunk(2)
        self.assertEqual(str(ctx.exception), f"{path}: chunk 2 out of range (from 0 to 1)")
        source = str(GOLDEN / "golden-v2-source.mxs")
        with mixshards.SourceImages(source) as s, self.assertRaises(IndexError) as ctx:
            s.image(4)
        self.assertEqual(str(ctx.exception), f"{source}: source image 4 out of range (from 0 to 3)")

    def test_header_crc(self):
        b = bytearray(self.zlib)
        b[16] ^= 1
        self.assertIn("header: CRC mismatch", self.failure(b))

    def test_reserved_float16_labels_are_refused(self):
        b = bytearray(self.zlib)
        b[37] = 1
        fix_header_crc(b)
        self.assertIn("header: unsupported labelType 1 (float16, reserved)", self.failure(b))

    def test_truncated_file(self):
        for cut in (1, 31, 40, len(self.zlib) - 64):
            msg = self.failure(self.zlib[:-cut])
            self.assertTrue("footer" in msg or "truncated" in msg, msg)
        self.assertIn("shorter than the 64-byte header", self.failure(self.zlib[:40]))
        self.assertIn("shorter than the 64-byte header", self.failure(b""))

    def test_flipped_chunk_byte_names_the_chunk(self):
        for data in (self.zlib, self.plain):
            (self.dir / "ok.mxs").write_bytes(data)
            with ShardFile(str(self.dir / "ok.mxs")) as s:
                index = s.index.copy()
            for chunk in (0, 1):
                b = bytearray(data)
                b[int(index["offset"][chunk]) + int(index["stored"][chunk]) // 2] ^= 0x10
                self.assertIn(f": chunk {chunk}: ", self.failure(b))

    def test_index_crc(self):
        b = bytearray(self.zlib)
        b[len(b) - 32 - 10] ^= 1
        self.assertIn("index: CRC mismatch", self.failure(b))

    def test_footer(self):
        b = bytearray(self.zlib)
        b[-1] ^= 1
        self.assertIn("footer: bad end magic", self.failure(b))
        b = bytearray(self.zlib)
        struct.pack_into("<I", b, len(b) - 32 + 8, 3)       # chunkCount
        self.assertIn("footer: chunk/sample counts (3/3) disagree with the header (2/3)", self.failure(b))
        b = bytearray(self.zlib)
        struct.pack_into("<Q", b, len(b) - 32, 70)          # indexOffset
        self.assertIn("footer: file size", self.failure(b))

    def test_index_entry_out_of_bounds(self):
        b = bytearray(self.zlib)
        io = struct.unpack_from("<Q", b, len(b) - 32)[0]
        struct.pack_into("<I", b, io + 32 + 8, 10_000)      # chunk 1 storedBytes
        struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 64])))
        self.assertIn("chunk 1: bounds", self.failure(b))

    def test_label_row_that_does_not_sum_to_one(self):
        # Stored chunk 1 holds sample 2: its label floats follow its 12 image bytes.
        b = bytearray(self.plain)
        io = struct.unpack_from("<Q", b, len(b) - 32)[0]
        start = struct.unpack_from("<Q", b, io + 32)[0]
        struct.pack_into("<f", b, start + 12, 0.01)
        raw = bytes(b[start:start + 36])
        unfiltered = bytearray(raw)
        for row in range(0, 12, 3):                           # undo the delta filter for the CRC
            for x in (1, 2):
                unfiltered[row + x] = (unfiltered[row + x] + unfiltered[row + x - 1]) % 256
        struct.pack_into("<I", b, io + 32 + 24, zlib.crc32(bytes(unfiltered)))
        struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 64])))
        self.assertIn("chunk 1: sample 2: label row sums to 1.01", self.failure(b))

    def test_missing_file(self):
        with self.assertRaises(ShardError) as ctx:
            ShardFile(str(self.dir / "nope.mxs"))
        self.assertIn("nope.mxs: cannot open", str(ctx.exception))


class DirectoryDamageTests(unittest.TestCase):
    """Damage to a directory mixprep wrote: the reader and verify name file and chunk or field."""

    def shard0(self, d: Path) -> Path:
        return d / "train" / "epoch-000" / "shard-00000.mxs"

    def test_flipped_chunk_byte(self):
        d = support.copy_dir("quickstart", "flip")
        support.flip_chunk_byte(self.shard0(d), 2)
        ds = mixshards.open(d)
        ep = ds.epoch(0)
        ep[0]  # chunk 0 is sound
        with self.assertRaises(ShardError) as ctx:
            ep[2 * 256 + 5]
        self.assertRegex(str(ctx.exception), rf"^{self.shard0(d)}: chunk 2: ")
        with self.assertRaises(ShardError):
            list(ep.batches(128, seed=0))
        problems = mixshards.verify(d)
        self.assertTrue(any(p.startswith(f"{self.shard0(d)}: chunk 2: ") for p in problems), problems)

    def test_truncated_shard(self):
        d = support.copy_dir("quickstart", "trunc")
        data = self.shard0(d).read_bytes()
        self.shard0(d).write_bytes(data[:-100])
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d).epoch(0)
        self.assertIn(f"{self.shard0(d)}: footer", str(ctx.exception))
        self.assertTrue(any(p.startswith(f"{self.shard0(d)}: footer") for p in mixshards.verify(d)))

    def test_wrong_hash_in_manifest(self):
        d = support.copy_dir("quickstart", "hash")
        m = (d / "manifest.json").read_text()
        entry = m.index('"file" : "train/epoch-001/shard-00001.mxs"')
        at = m.index('"sha256" : "', entry) + len('"sha256" : "')
        m = m[:at] + ("0" if m[at] != "0" else "1") + m[at + 1:]
        (d / "manifest.json").write_text(m)
        problems = mixshards.verify(d)
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], rf"^{d}/train/epoch-001/shard-00001.mxs: SHA-256 [0-9a-f]{{16}}… differs from the manifest's")

    def test_manifest_problems_name_the_file_and_key(self):
        d = support.copy_dir("quickstart", "manifest")
        text = (d / "manifest.json").read_text()
        cases = [
            (text.replace('"formatVersion" : 3', '"formatVersion" : 5'),
             "format 'MixShard' version 5 is not supported (this reader reads MixShard versions from 1 to 4)"),
            (text.replace('"format" : "MixShard"', '"format" : "WebDataset"'), "format 'WebDataset' version 3 is not supported"),
            (text.replace('"classNames"', '"names"'), "missing key source.classNames"),
            (text.replace('"file" : "test/shard-00000.mxs"', '"file" : "../test/shard-00000.mxs"'), "test.shards[0].file"),
            (text[:100], "not valid JSON"),
        ]
        for bad, expected in cases:
            (d / "manifest.json").write_text(bad)
            with self.assertRaises(ShardError) as ctx:
                mixshards.open(d)
            self.assertTrue(str(ctx.exception).startswith(f"{d}/manifest.json: "), str(ctx.exception))
            self.assertIn(expected, str(ctx.exception))
            self.assertTrue(mixshards.verify(d)[0].startswith(f"{d}/manifest.json: "))

    def test_channel_stats_problems_are_swifts_words(self):
        """``source.channelStats``: absent reads (a directory made before mixprep recorded them);
        figures that are not one number in range per channel are refused as Swift refuses them
        (Tests/PrepTests/ChannelStatsTests.swift, word for word)."""
        d = support.copy_dir("quickstart", "channelstats")
        good = json.loads((d / "manifest.json").read_text())
        self.assertEqual(mixshards.open(d).manifest.channel_stats, ((0.493, 0.485, 0.4495), (0.2461, 0.2433, 0.2625)))
        m = copy.deepcopy(good)
        del m["source"]["channelStats"]
        (d / "manifest.json").write_text(json.dumps(m))
        self.assertIsNone(mixshards.open(d).manifest.channel_stats)
        for stats, problem in [
            ({"mean": [0.5, 0.5], "std": [0.2, 0.2, 0.2]}, "source.channelStats.mean must hold 3 numbers from 0 to 1, one per channel (got 2)"),
            ({"mean": [0.5, 0.5, 1.5], "std": [0.2, 0.2, 0.2]},
             "source.channelStats.mean must hold 3 numbers from 0 to 1, one per channel (got [0.5, 0.5, 1.5])"),
            ({"mean": [0.5, 0.5, 0.5], "std": [0.2, -0.1, 0.2]},
             "source.channelStats.std must hold 3 numbers from 0 to 0.5, one per channel (got [0.2, -0.1, 0.2])"),
            ({"mean": [0.5, 0.5, 0.5]}, "missing key source.channelStats.std"),
        ]:
            m = copy.deepcopy(good)
            m["source"]["channelStats"] = stats
            (d / "manifest.json").write_text(json.dumps(m))
            with self.assertRaises(ShardError) as ctx:
                mixshards.open(d)
            self.assertEqual(str(ctx.exception), f"{d}/manifest.json: {problem}")

    def test_shape_and_augment_problems_are_worded_without_range_syntax(self):
        d = support.copy_dir("quickstart", "wording")
        good = (d / "manifest.json").read_text()
        m = json.loads(good)
        m["source"]["width"] = 0
        (d / "manifest.json").write_text(json.dumps(m))
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d)
        self.assertEqual(str(ctx.exception), f"{d}/manifest.json: source image shape 0×32 (width×height, 3 channels) "
                                             "is out of range (each of channels, height and width from 1 to 65,535)")
        m = json.loads(good)
        m["source"]["width"] = 16
        (d / "manifest.json").write_text(json.dumps(m))
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d).epoch(0)
        self.assertEqual(str(ctx.exception), f"{d}/train/epoch-000/shard-00000.mxs: image shape 32×32 (width×height, "
                                             "3 channels) differs from the manifest's 16×32 (width×height, 3 channels)")
        m = json.loads(good)
        m["pipeline"]["augment"]["crop_pad"] = 2000
        (d / "manifest.json").write_text(json.dumps(m))
        self.assertEqual(mixshards.verify(d), [f"{d}/manifest.json: missing or bad pipeline/source key "
                                               "(augment.crop_pad must be from 0 to 1,023 (got 2000))"])

    def test_not_a_shard_directory(self):
        for path, expected in ((support.scratch(), "no manifest.json"), (support.scratch() / "nowhere", "not a directory")):
            with self.assertRaises(ShardError) as ctx:
                mixshards.open(path)
            self.assertIn(expected, str(ctx.exception))

    def test_missing_and_misplaced_shards(self):
        d = support.copy_dir("quickstart", "missing")
        (d / "test" / "shard-00000.mxs").unlink()
        ds = mixshards.open(d)
        ds.epoch(0)
        with self.assertRaises(ShardError) as ctx:
            ds.test
        self.assertIn("test/shard-00000.mxs: missing (listed in manifest.json)", str(ctx.exception))
        self.assertTrue(any("test/shard-00000.mxs: cannot open" in p for p in mixshards.verify(d)))
        d = support.copy_dir("quickstart", "swapped")
        a, b = d / "train" / "epoch-000" / "shard-00000.mxs", d / "train" / "epoch-001" / "shard-00000.mxs"
        data = a.read_bytes()
        a.write_bytes(b.read_bytes())
        b.write_bytes(data)
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d).epoch(0)
        self.assertIn(f"{a}: header says split train epoch 1, the manifest lists it under train epoch 0", str(ctx.exception))
        self.assertIn(f"{a}: header: does not match the pipeline: epoch 1 (expected 0)", mixshards.verify(d))

    def test_layout_constants_match_the_specification(self):
        self.assertEqual((layout.HEADER_BYTES, layout.INDEX_ENTRY_BYTES, layout.FOOTER_BYTES), (64, 32, 32))
        self.assertEqual((layout.MAGIC, layout.END_MAGIC, layout.VERSION), (b"MIXSHRD1", b"MIXSHEND", 3))
        self.assertEqual((layout.provenance_bytes(1), layout.provenance_bytes(2), layout.provenance_bytes(3),
                          layout.READABLE_VERSIONS, layout.COMPRESSED_SOURCE_VERSION), (12, 32, 32, (1, 2, 3, 4), 3))
        self.assertEqual((layout.OPS_VERSION, layout.op_record_bytes(3), layout.op_record_bytes(4), layout.OP_RECORD.itemsize,
                          layout.MAX_OPS, len(layout.POLICY_OPS)), (4, 0, 176, 176, 8, 16))
        self.assertEqual((layout.SPARSE_LABEL_BYTES, layout.SPARSE_LABEL.itemsize, layout.LABEL_TYPES, layout.MAX_CLASSES),
                         (12, 12, {0: "float32", 2: "sparse"}, 65_535))
        self.assertEqual(layout.SOURCE_FILE, "source/train.mxs")


class V2DamageTests(unittest.TestCase):
    """MixShard v2: damaged records, headers and index entries, and references that cannot resolve."""

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="v2-damage-", dir=support.scratch()))
        self.augment = (GOLDEN / "golden-v2-augment.mxs").read_bytes()   # codec none, filter none, references
        self.source = mixshards.SourceImages(str(GOLDEN / "golden-v2-source.mxs"))
        self.addCleanup(self.source.close)

    def failure(self, data: bytes, source=True) -> str:
        path = self.dir / "bad.mxs"
        path.write_bytes(bytes(data))
        with self.assertRaises(ShardError) as ctx:
            with ShardFile(str(path), self.source if source else None) as s:
                s.read_all()
        msg = str(ctx.exception)
        self.assertTrue(msg.startswith(f"{path}: "), msg)
        self.assertNotIn("\n", msg)
        return msg.removeprefix(f"{path}: ")

    @staticmethod
    def record(chunk_payload: bytearray, sample: int) -> int:
        """Offset of a sample's record in a chunk of golden-v2-augment (1 stored image, 2 label rows)."""
        return 12 + 24 + 32 * sample

    def edit_record(self, chunk: int, sample: int, edit) -> bytes:
        return patch_chunk(self.augment, chunk, lambda p: edit(p, self.record(p, sample)))

    def test_good_file_reads(self):
        (self.dir / "ok.mxs").write_bytes(self.augment)
        with ShardFile(str(self.dir / "ok.mxs"), self.source) as s:
            self.assertEqual(len(s.read_all()), 4)
        # patch_chunk without an edit changes nothing.
        self.assertEqual(patch_chunk(self.augment, 1, lambda p: None), self.augment)

    def test_references_without_the_source_copy(self):
        self.assertEqual(self.failure(self.augment, source=False),
                         "chunk 0: 1 samples are references to the source copy; read the shard within its "
                         "shard directory (source/train.mxs)")

    def test_reference_to_a_source_image_out_of_range(self):
        def edit(p, r):
            struct.pack_into("<II", p, r, 4, 4)   # primary = partner = 4; the source copy holds 4 images
        self.assertEqual(self.failure(self.edit_record(1, 1, edit)),
                         "chunk 1: sample 3: references source image 4, the source copy holds 4")

    def test_bad_kind_and_flags_bytes(self):
        cases = [
            (0, 1, lambda p, r: p.__setitem__(r + 12, 3), "chunk 0: sample 1: provenance kind 3 is unknown"),
            (0, 1, lambda p, r: p.__setitem__(r + 13, 2 | 8),
             "chunk 0: sample 1: provenance has unknown flags 10 or non-zero reserved bytes"),
            (1, 0, lambda p, r: p.__setitem__(r + 15, 1),
             "chunk 1: sample 2: provenance has unknown flags 0 or non-zero reserved bytes"),
            # A blend marked as a reference.
            (0, 1, lambda p, r: p.__setitem__(r + 13, 2 | 4), "chunk 0: sample 1: provenance: only an unmixed sample can be a reference"),
            # A reference record turned into a blend (it keeps its box empty).
            (0, 0, lambda p, r: p.__setitem__(r + 12, 1), "chunk 0: sample 0: provenance: only an unmixed sample can be a reference"),
            # A copy whose partner transform differs from its primary's.
            (0, 0, lambda p, r: p.__setitem__(r + 13, 1 | 4),
             "chunk 0: sample 0: provenance: a copy must have partner = primary, lambda 1 and one transform"),
            (0, 1, lambda p, r: struct.pack_into("<h", p, r + 20, -3),
             "chunk 0: sample 1: provenance: shift (-3, 0) is not within the 3×2 image"),
            (0, 1, lambda p, r: struct.pack_into("<f", p, r + 8, 1.5), "chunk 0: sample 1: provenance: lambda 1.5 is not in [0, 1]"),
            (0, 1, lambda p, r: struct.pack_into("<f", p, r + 8, float("nan")),
             "chunk 0: sample 1: provenance: lambda nan is not in [0, 1]"),
            (0, 1, lambda p, r: struct.pack_into("<H", p, r + 28, 1), "chunk 0: sample 1: provenance: a blend has a cutmix box"),
            (1, 0, lambda p, r: struct.pack_into("<H", p, r + 28, 4),
             "chunk 1: sample 2: provenance: cutmix box [1, 4) × [0, 1) is not within the 3×2 image"),
        ]
        for chunk, sample, edit, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(self.failure(self.edit_record(chunk, sample, edit)), expected)
        # The Swift reader says the same of each chunk-0 case (mixprep inspect finds a source copy for a shard inside
        # a reference directory; its provenance is checked before references are resolved).
        d = support.copy_dir("refs-sample", "swift-records")
        path = d / "train" / "epoch-000" / "shard-00000.mxs"
        for chunk, sample, edit, expected in cases:
            if chunk != 0:
                continue
            path.write_bytes(self.edit_record(chunk, sample, edit))
            r = subprocess.run([support.mixprep(), "inspect", str(path), "--samples"], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr.strip()), (1, f"error: {path}: {expected}"))
            with self.assertRaises(ShardError) as ctx:
                with mixshards.open_shard(str(path)) as shard:
                    shard.read_chunk(0)
            self.assertEqual(str(ctx.exception), f"{path}: {expected}")

    def test_reference_count_disagrees_with_the_index(self):
        # Sample 2 (cutmix, stored) made a copy reference: 2 references, the index says 1.
        def edit(p, r):
            struct.pack_into("<IIfBB", p, r, 2, 2, 1.0, 0, 4)
            struct.pack_into("<4H", p, r + 24, 0, 0, 0, 0)
        self.assertEqual(self.failure(self.edit_record(1, 0, edit)), "chunk 1: 2 samples are references but the index says 1")

    def test_header_flags_split_and_index_images(self):
        plain = (GOLDEN / "golden-v2-none-delta.mxs").read_bytes()
        v1 = (GOLDEN / "golden-none-delta.mxs").read_bytes()
        b = bytearray(self.augment)
        struct.pack_into("<I", b, 12, 2)
        fix_header_crc(b)
        self.assertEqual(self.failure(b), "header: references flag without provenance")
        b = bytearray(v1)
        struct.pack_into("<I", b, 12, 3)
        fix_header_crc(b)
        self.assertEqual(self.failure(b), "header: unknown flags 0x00000003")
        b = bytearray(v1)
        b[40] = 2
        fix_header_crc(b)
        self.assertEqual(self.failure(b), "header: unknown split 2")
        b = bytearray(plain)
        struct.pack_into("<I", b, 24, 70_000)
        fix_header_crc(b)
        self.assertEqual(self.failure(b), "header: samplesPerChunk 70000 exceeds the format limit 65536")

        def index_edit(data: bytes, chunk: int, images: int) -> bytes:
            b = bytearray(data)
            io = struct.unpack_from("<Q", b, len(b) - 32)[0]
            struct.pack_into("<I", b, io + 32 * chunk + 28, images)
            struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 64])))
            return bytes(b)
        self.assertEqual(self.failure(index_edit(plain, 1, 0)),
                         "chunk 1: stores 0 images for 1 samples and the shard has no references")
        self.assertEqual(self.failure(index_edit(v1, 0, 2)), "chunk 0: stores 2 images for 2 samples (v1 reserved field not 0)")
        self.assertEqual(self.failure(index_edit(self.augment, 0, 3)), "chunk 0: stores 3 images for 2 samples")
        self.assertEqual(self.failure(index_edit(self.augment, 0, 2)),
                         "chunk 0: rawBytes 100 does not match 2 samples (2 with pixels) of 56 bytes")

    def test_source_copy_checks(self):
        for name in ("golden-v2-none-delta.mxs", "golden-v2-augment.mxs"):
            with self.assertRaises(ShardError) as ctx:
                mixshards.SourceImages(str(GOLDEN / name))
            self.assertEqual(str(ctx.exception), f"{GOLDEN / name}: header: not a source copy "
                                                 "(needs split source and no references)")
        # A v2 source copy must be uncompressed: the v3 compressed golden relabelled v2 is a shard, no source copy.
        b = bytearray((GOLDEN / "golden-v3-source-zlib.mxs").read_bytes())
        b[8] = 2
        fix_header_crc(b)
        path = self.dir / "v2-compressed-source.mxs"
        path.write_bytes(bytes(b))
        with ShardFile(str(path)) as f:
            self.assertEqual((f.header.version, f.header.codec), (2, "zlib"))
        with self.assertRaises(ShardError) as ctx:
            mixshards.SourceImages(str(path))
        self.assertEqual(str(ctx.exception), f"{path}: header: a version 2 source copy must be uncompressed and unfiltered "
                                             "(codec none, filter none); compressed source copies are version 3")
        b = bytearray((GOLDEN / "golden-v2-source.mxs").read_bytes())
        b[64 + 48 + 5] ^= 1   # chunk 1's images
        path = self.dir / "source.mxs"
        path.write_bytes(bytes(b))
        with self.assertRaises(ShardError) as ctx:
            mixshards.SourceImages(str(path))
        self.assertRegex(str(ctx.exception), rf"^{path}: chunk 1: rawCRC mismatch \(stored 0x[0-9a-f]{{8}}, computed")
        # A source copy of other images than the shard's.
        other = mixshards.SourceImages(str(support.shard_dir("refs-sample") / "shards" / layout.SOURCE_FILE))
        self.addCleanup(other.close)
        path = self.dir / "ok.mxs"
        path.write_bytes(self.augment)
        with ShardFile(str(path), other) as s, self.assertRaises(ShardError) as ctx:
            s.read_chunk(0)
        self.assertEqual(str(ctx.exception), f"{path}: chunk 0: the source copy's images (32×32 (width×height, 3 channels)) "
                                             "differ from the shard's (3×2 (width×height, 2 channels))")


class ReferenceDirectoryDamageTests(unittest.TestCase):
    """A directory whose unmixed samples are references: its source copy missing, damaged or unlisted."""

    source = layout.SOURCE_FILE
    shard = "train/epoch-000/shard-00000.mxs"

    def test_missing_source_copy(self):
        d = support.copy_dir("refs-sample", "nosource")
        (d / self.source).unlink()
        ds = mixshards.open(d)
        ds.test  # the test split needs no source copy
        with self.assertRaises(ShardError) as ctx:
            ds.epoch(0)
        self.assertEqual(str(ctx.exception), f"{d}/{self.source}: missing (listed in manifest.json)")
        self.assertEqual(mixshards.verify(d), [f"{d}/{self.source}: missing (listed in manifest.json) "
                                               "(every reference sample depends on it)"])

    def test_damaged_source_copy(self):
        d = support.copy_dir("refs-sample", "badsource")
        b = bytearray((d / self.source).read_bytes())
        b[200] ^= 0xFF
        (d / self.source).write_bytes(bytes(b))
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d).epoch(1)
        self.assertRegex(str(ctx.exception), rf"^{d}/{self.source}: chunk 0: rawCRC mismatch")
        problems = mixshards.verify(d)
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].endswith("(every reference sample depends on it)"), problems)

    def test_damaged_compressed_source_chunk(self):
        """A compressed copy's chunk is checked when a reference first needs it: the error names the source copy
        and the chunk; verify names it too, with the SHA-256 that no longer matches."""
        d = support.copy_dir("refz-sample", "badzsource")
        source = d / self.source
        with ShardFile(str(d / self.shard), mixshards.SourceImages(str(source))) as s:
            block = s.read_chunk(0)
        victim = int(block.primary[np.flatnonzero(block.reference)[0]])  # referenced by chunk 0 of shard 0 only
        support.flip_chunk_byte(source, victim)
        ds = mixshards.open(d)
        ep = ds.epoch(0)  # opening checks the structure only
        with self.assertRaises(ShardError) as ctx:
            ep.shards[0].read_chunk(0)
        self.assertRegex(str(ctx.exception), rf"^{source}: chunk {victim}: ")
        ep.shards[0].read_chunk(1)  # the other chunks still read
        problems = mixshards.verify(d)
        self.assertTrue(any(p.startswith(f"{source}: chunk {victim}: ") for p in problems), problems)

    def test_source_copy_of_another_size(self):
        d = support.copy_dir("refs-sample", "othersource")
        m = json.loads((d / "manifest.json").read_text())
        m["sourceCopy"]["samples"] = 299
        (d / "manifest.json").write_text(json.dumps(m))
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d).epoch(0)
        self.assertEqual(str(ctx.exception),
                         f"{d}/{self.source}: holds 300 images, the manifest says 299 (source: 300 training images)")

    def test_unlisted_source_copy(self):
        """A manifest without its sourceCopy: the reader fails at the first chunk with a reference, verify at the plan."""
        d = support.copy_dir("refs-sample", "unlisted")
        m = json.loads((d / "manifest.json").read_text())
        del m["sourceCopy"]
        (d / "manifest.json").write_text(json.dumps(m))
        ep = mixshards.open(d).epoch(0)
        with self.assertRaises(ShardError) as ctx:
            ep[0]
        self.assertRegex(str(ctx.exception), rf"^{d}/{self.shard}: chunk 0: \d+ samples are references to the source "
                                             r"copy; read the shard within its shard directory \(source/train.mxs\)$")
        self.assertEqual(mixshards.verify(d), [f"{d}/manifest.json: its shard list does not match the pipeline's plan"])
        m["formatVersion"] = 1
        m["sourceCopy"] = {"file": self.source, "samples": 300, "bytes": 1, "sha256": "00" * 32}
        (d / "manifest.json").write_text(json.dumps(m))
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d)
        self.assertEqual(str(ctx.exception), f"{d}/manifest.json: a version 1 manifest cannot list a sourceCopy")

    def test_wrong_source_copy_hash_and_augment(self):
        d = support.copy_dir("refs-sample", "hashsource")
        m = json.loads((d / "manifest.json").read_text())
        good = json.dumps(m)
        m["sourceCopy"]["sha256"] = "0" * 64
        (d / "manifest.json").write_text(json.dumps(m))
        problems = mixshards.verify(d)
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], rf"^{d}/{self.source}: SHA-256 [0-9a-f]{{16}}… differs from the manifest's 0000")
        # Transforms the pipeline's augment cannot draw (crop_pad 4 recorded as 2, flips off).
        for augment, expected in (({"crop_pad": 2, "flip": True}, "crop_pad 2, flip true"),
                                  ({"crop_pad": 4, "flip": False}, "crop_pad 4, flip false")):
            m = json.loads(good)
            m["pipeline"]["augment"] = augment
            (d / "manifest.json").write_text(json.dumps(m))
            problems = mixshards.verify(d)
            self.assertTrue(problems and all("are not drawn by the pipeline's augment" in p for p in problems), problems)
            self.assertIn(expected, problems[0])
        m = json.loads(good)
        m["summary"]["references"] += 1
        (d / "manifest.json").write_text(json.dumps(m))
        self.assertEqual(mixshards.verify(d), [f"{d}/manifest.json: summary statistics differ from the shards' contents"])
        m = json.loads(good)
        m["pipeline"]["shards"]["references"] = False
        (d / "manifest.json").write_text(json.dumps(m))
        self.assertEqual(mixshards.verify(d), [f"{d}/manifest.json: its shard list does not match the pipeline's plan"])


def run_python(code: str, *args: str, timeout: float = 20, memory: int | None = None) -> subprocess.CompletedProcess:
    """``python -c CODE ARGS`` with this checkout's package importable, under a timeout (and with ``memory``,
    an address-space limit in bytes): a hang or a blow-up fails the test instead of stalling the machine."""
    env = dict(os.environ, PYTHONPATH=str(support.PACKAGE_PARENT), OPENBLAS_NUM_THREADS="1")

    def limit():
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, preexec_fn=limit)


def run_cli(*args: str, timeout: float = 20, memory: int | None = None) -> subprocess.CompletedProcess:
    """``python -m mixshards ARGS``, under a timeout (and a memory limit)."""
    return run_python("import sys; from mixshards.cli import main; sys.exit(main())", *args, timeout=timeout,
                      memory=memory)


#: Reads what ``sys.argv[1]`` names in a child process: ``dir`` opens a directory and batches epoch 0 and the test
#: split, ``shard`` opens one shard file and reads every chunk, ``verify`` prints verify's problems; a ShardError is
#: printed as ``error: MESSAGE`` (exit 1), anything else ends in a traceback.
READER = """import sys, mixshards
what, path = sys.argv[1:3]
try:
    if what == "dir":
        ds = mixshards.open(path)
        for ep in (ds.epoch(0), ds.test):
            for images, labels in ep.batches(128, seed=0): pass
    elif what == "shard":
        with mixshards.ShardFile(path) as s: s.read_all()
    else:
        for p in mixshards.verify(path): print(p)
except mixshards.ShardError as e:
    print(f"error: {e}", file=sys.stderr); sys.exit(1)
"""


def run_reader(what: str, path, timeout: float = 20, memory: int | None = None) -> subprocess.CompletedProcess:
    return run_python(READER, what, str(path), timeout=timeout, memory=memory)


class HostileInputTests(unittest.TestCase):
    """Issue 22, item 4: what used to hang or end in a traceback is one line ``error: …`` naming the file."""

    shard = "train/epoch-000/shard-00000.mxs"

    def assert_one_line(self, r: subprocess.CompletedProcess, expected: str):
        self.assertEqual((r.returncode, r.stderr), (1, f"error: {expected}\n"), r.stdout)

    def assert_everywhere(self, d: Path, expected: str):
        """verify, inspect --samples (of a shard with references: it opens the manifest and the source copy)
        and iteration all fail with ``expected``."""
        r = run_cli("verify", str(d))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f"error: {expected}", r.stderr.splitlines()[0])
        self.assertNotIn("Traceback", r.stderr)
        self.assert_one_line(run_cli("inspect", str(d / self.shard), "--samples"), expected)
        self.assert_one_line(run_reader("dir", d), expected)

    def test_fifo_or_directory_where_a_file_belongs(self):
        for kind, make in (("a FIFO", os.mkfifo), ("a directory", os.mkdir)):
            for name in ("manifest.json", layout.SOURCE_FILE):
                with self.subTest(kind=kind, file=name):
                    d = support.copy_dir("refs-sample", "special")
                    (d / name).unlink()
                    make(d / name)
                    self.assert_everywhere(d, f"{d}/{name}: is {kind}, not a regular file")
            with self.subTest(kind=kind, file=self.shard):
                d = support.copy_dir("refs-sample", "special")
                (d / self.shard).unlink()
                make(d / self.shard)
                expected = f"{d}/{self.shard}: is {kind}, not a regular file"
                self.assertIn(expected, run_reader("verify", d).stdout.splitlines())
                self.assert_one_line(run_cli("inspect", str(d / self.shard)), expected)
                self.assert_one_line(run_reader("dir", d), expected)
                self.assert_one_line(run_reader("shard", d / self.shard), expected)

    def test_file_truncated_or_replaced_after_open(self):
        """Issue 22, item 7: shards are read with pread, not mapped, so a shard (or the source copy) truncated by
        another process while the reader holds it open is an error naming the file and the chunk, not SIGBUS."""
        d = support.copy_dir("refs-sample", "truncated")
        shard, source = d / self.shard, d / layout.SOURCE_FILE
        with ShardFile(str(shard)) as s:
            chunk_end = int(s.index["offset"][1] + s.index["stored"][1])
        code = """import os, sys, mixshards
ds = mixshards.open(sys.argv[1]); ep = ds.epoch(0)
ep[0]                                            # chunk 0 of shard 0: the shard and the source copy are open
os.truncate(sys.argv[2], int(sys.argv[3]))       # as another process would
try:
    ep[int(sys.argv[4])]
except mixshards.ShardError as e:
    print(f"error: {e}", file=sys.stderr); sys.exit(1)
"""
        r = run_python(code, str(d), str(shard), "4096", "60")    # chunk 1 holds samples 50-99
        self.assertEqual((r.returncode, r.stderr),
                         (1, f"error: {shard}: chunk 1: the file ends at byte 4096, the chunk needs {chunk_end}\n"))
        # The source copy truncated to its header: the next chunk's references cannot be read (when it is read
        # with pread, a copy larger than MIXSHARDS_SOURCE_CACHE; held in memory, it was read whole and checked before,
        # and still is).
        d = support.copy_dir("refs-sample", "truncated-source")
        source = d / layout.SOURCE_FILE
        r = run_python(code, str(d), str(source), "64", "60")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        d = support.copy_dir("refs-sample", "truncated-source-pread")
        source = d / layout.SOURCE_FILE
        pread = code.replace("import os, sys, mixshards", "import os, sys\nos.environ['MIXSHARDS_SOURCE_CACHE'] = '1'\nimport mixshards")
        r = run_python(pread, str(d), str(source), "64", "60")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, rf"^error: {source}: chunk 0: the file ends at byte 64, reading its images needs "
                                   r"\d+\n$")
        # A shard replaced (renamed over, as a rerun would) while open.
        d = support.copy_dir("refs-sample", "replaced")
        code = """import os, shutil, sys, mixshards
ds = mixshards.open(sys.argv[1]); ep = ds.epoch(0)
ep[0]
shutil.copy(sys.argv[2], sys.argv[2] + ".new"); os.replace(sys.argv[2] + ".new", sys.argv[2])
try:
    ep[60]
except mixshards.ShardError as e:
    print(f"error: {e}", file=sys.stderr); sys.exit(1)
"""
        self.assert_one_line(run_python(code, str(d), str(d / self.shard)),
                             f"{d / self.shard}: chunk 1: the file was replaced since it was opened")

    def manifest_case(self, label: str, edit) -> Path:
        """A copy of refs-sample whose manifest.json is ``edit(parsed manifest)`` (a dict to dump, or text)."""
        d = support.copy_dir("refs-sample", label)
        out = edit(json.loads((d / "manifest.json").read_text()))
        (d / "manifest.json").write_text(out if isinstance(out, str) else json.dumps(out))
        return d

    def test_manifest_nested_too_deep(self):
        def inside(m):
            text = json.dumps(m)
            return text.replace('"summary": ', '"deep": ' + "[" * 200_000 + "]" * 200_000 + ', "summary": ', 1)
        for label, edit in (("deep", lambda m: "[" * 200_000 + "]" * 200_000), ("deep-inside", inside)):
            with self.subTest(label):
                d = self.manifest_case(label, edit)
                self.assert_everywhere(d, f"{d}/manifest.json: not valid JSON (arrays and objects nested deeper than "
                                          "64 levels)")

    def test_manifest_fields_of_the_wrong_type(self):
        cases = [
            (lambda m: m.update(summary=5), "summary has the wrong type (int)"),
            (lambda m: m["source"].update(name=["cifar10"]), "source.name has the wrong type (list)"),
            (lambda m: m["source"].update(trainCount="300"), "source.trainCount has the wrong type (str)"),
            (lambda m: m["source"].update(trainCount=10 ** 10),
             "source.trainCount 10,000,000,000 is out of range (from 0 to 4,294,967,295)"),
            (lambda m: m["source"].pop("testCount"), "missing key source.testCount"),
            (lambda m: m["source"].update(fingerprint=None), "source.fingerprint has the wrong type (NoneType)"),
            (lambda m: m["source"]["classNames"].__setitem__(1, "\ud800"),
             "source.classNames[1] is not valid Unicode text"),
            # Found by fuzz_reader.py: a listed digest is echoed in messages, and this one held a newline.
            (lambda m: m["train"][0]["shards"][0].update(sha256="a3\n8be" + "0" * 58),
             "train[0].shards[0].sha256 'a3\\n8be" + "0" * 58 + "' is not 64 lowercase hex digits"),
        ]
        for edit, expected in cases:
            with self.subTest(expected):
                d = self.manifest_case("types", lambda m: (edit(m), m)[1])
                self.assert_everywhere(d, f"{d}/manifest.json: {expected}")

    def test_verify_types_the_mix_keys_it_reads(self):
        """Found by fuzz_reader.py after verify learned the [mix] rules: ``"mix": 5``, a missing ``p`` or a
        ``smoothing`` that is a string ended in tracebacks."""
        cases = [
            (lambda m: m["pipeline"].update(mix=5), "pipeline.mix is not an object"),
            (lambda m: m["pipeline"]["mix"].pop("p"), "'p'"),
            (lambda m: m["pipeline"]["mix"].update(smoothing="x"), "mix.smoothing must be a number from 0 to 1 (got 'x')"),
            (lambda m: m["pipeline"]["mix"].update(p=1.5), "mix.p must be a number from 0 to 1 (got 1.5)"),
            (lambda m: m["pipeline"]["mix"].update(mode=[]), "mix.mode has the wrong type (list)"),
        ]
        for edit, expected in cases:
            with self.subTest(expected):
                d = self.manifest_case("mix-types", lambda m: (edit(m), m)[1])
                self.assertEqual(mixshards.verify(d), [f"{d}/manifest.json: missing or bad pipeline/source key ({expected})"])

    def test_class_names_of_at_most_256_bytes(self):
        """The limit mixprep has on class names (Swift's MixCore.ClassNames), mirrored word for word: from 1 to 256
        bytes of UTF-8."""
        d = self.manifest_case("long-name", lambda m: m["source"]["classNames"].__setitem__(2, "é" * 128) or m)
        mixshards.open(d)  # 256 bytes: fine
        d = self.manifest_case("long-name", lambda m: m["source"]["classNames"].__setitem__(2, "é" * 128 + "s") or m)
        self.assert_everywhere(d, f"{d}/manifest.json: source.classNames[2] \"{'é' * 24}…\" is 257 bytes long; a class "
                                  "name is from 1 to 256 bytes of UTF-8")
        d = self.manifest_case("empty-name", lambda m: m["source"]["classNames"].__setitem__(0, "") or m)
        self.assert_everywhere(d, f"{d}/manifest.json: source.classNames[0] is empty; a class name is from 1 to 256 "
                                  "bytes of UTF-8")

    def test_shard_listing(self):
        """The listing rules of Swift's Manifest.listingProblems (each file once, paths of safe names) and the
        positions DESIGN gives (shard s of a split holds positions s·S …, every shard full but the last, the
        split's shards holding its source count): a duplicate used to yield epoch 0's samples twice."""
        def shards(m, e=0):
            return m["train"][e]["shards"]

        def swap(m):
            shards(m)[0], shards(m)[1] = shards(m)[1], shards(m)[0]
        first = "train/epoch-000/shard-00000.mxs"
        cases = [
            (lambda m: shards(m).__setitem__(1, dict(shards(m)[0])), f"shard {first} is listed twice"),
            (lambda m: shards(m, 1).__setitem__(0, dict(shards(m)[0])), f"shard {first} is listed twice"),
            (lambda m: shards(m)[0].update(file="train/./epoch-000/shard-00000.mxs"),
             "train[0].shards[0].file 'train/./epoch-000/shard-00000.mxs' with 120 samples and "),
            (lambda m: shards(m)[0].update(file="train//epoch-000/shard-00000.mxs"), "is not a valid shard entry"),
            (lambda m: shards(m)[0].update(bytes=-1), "with 120 samples and -1 bytes is not a valid shard entry"),
            (lambda m: m["source"].update(trainCount=10 ** 9),
             "train[0].shards hold 300 samples, source.trainCount is 1,000,000,000"),
            (lambda m: m["source"].update(testCount=99), "test.shards hold 100 samples, source.testCount is 99"),
            (lambda m: (shards(m)[1].update(samples=60), shards(m)[2].update(samples=120)),
             "train[0].shards[1] holds 60 samples, not the 120 of shards[0]: every shard but the last is full"),
            (lambda m: (shards(m)[0].update(samples=90), shards(m)[1].update(samples=90), shards(m)[2].update(samples=120)),
             "train[0].shards[2] holds 120 samples, more than the 90 of shards[0]"),
        ]
        for edit, expected in cases:
            with self.subTest(expected):
                d = self.manifest_case("listing", lambda m: (edit(m), m)[1])
                for r in (run_cli("inspect", str(d / self.shard), "--samples"), run_reader("dir", d)):
                    self.assertEqual(r.returncode, 1, r.stdout)
                    self.assertTrue(r.stderr.startswith(f"error: {d}/manifest.json: "), r.stderr)
                    self.assertIn(expected, r.stderr)
                    self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        # Shards listed out of order (two full ones swapped): the headers say which is which.
        d = self.manifest_case("swapped", lambda m: (swap(m), m)[1])
        self.assert_one_line(run_reader("dir", d), f"{d}/train/epoch-000/shard-00001.mxs: header says shardIndex 1, "
                                                   "the manifest lists it at position 0 of train epoch 0")
        self.assertIn(f"{d}/manifest.json: its shard list does not match the pipeline's plan",
                      run_reader("verify", d).stdout.splitlines())

    def test_verify_counts_the_plan_before_building_it(self):
        """trainCount 2³²−1 in one shard per epoch (consistent with the listing) and samples_per_shard 1: the plan
        would list 4·10⁹ files a epoch; verify compares its size with the listing first (mixprep's fileCount)."""
        def edit(m):
            m["source"]["trainCount"] = 2 ** 32 - 1
            for e in m["train"]:
                e["shards"] = e["shards"][:1]
                e["shards"][0]["samples"] = 2 ** 32 - 1
            m["pipeline"]["shards"]["samples_per_shard"] = 1
            return m
        d = self.manifest_case("huge-plan", edit)
        r = run_reader("verify", d, memory=1 << 30)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, f"{d}/manifest.json: its shard list does not match the pipeline's plan\n", ""))

    def test_v1_lambda_is_checked(self):
        """A v1 record's λ must lie in [0, 1], as the Swift reader checks (v1 has no kind or transforms to check)."""
        from mixshards.shard import undo_delta
        data = (GOLDEN / "golden-none-delta.mxs").read_bytes()   # v1, stored chunks, delta filter, provenance
        d = Path(tempfile.mkdtemp(prefix="v1-lambda-", dir=support.scratch()))
        for lam, shown in ((float("nan"), "nan"), (-0.5, "-0.5"), (1.25, "1.25")):
            b = bytearray(data)
            io = struct.unpack_from("<Q", b, len(b) - 32)[0]
            offset, stored = struct.unpack_from("<QI", b, io)
            images = 2 * 12                                         # chunk 0: 2 samples of 2×2×3 bytes
            struct.pack_into("<f", b, offset + images + 2 * 12 + 12 + 8, lam)   # sample 1's λ
            payload = bytes(b[offset:offset + stored])
            unfiltered = undo_delta(np.frombuffer(payload[:images], np.uint8).reshape(2, 2, 2, 3))
            struct.pack_into("<I", b, io + 24, zlib.crc32(payload[images:], zlib.crc32(unfiltered)))
            struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 64])))
            path = d / "v1.mxs"
            path.write_bytes(bytes(b))
            expected = f"{path}: chunk 0: sample 1: provenance: lambda {shown} is not in [0, 1]"
            with self.subTest(lam=shown):
                self.assert_one_line(run_cli("inspect", str(path), "--samples"), expected)
                if support.mixprep():
                    r = subprocess.run([support.mixprep(), "inspect", str(path), "--samples"], capture_output=True,
                                       text=True)
                    self.assertEqual((r.returncode, r.stderr), (1, f"error: {expected}\n"))

    def test_cli_errors_are_one_line(self):
        """``python -m mixshards`` turns a ShardError, OSError, ValueError or MemoryError into ``error: …`` and exit 1,
        and a reader that closes its end of the pipe (``| head``) into a quiet exit, never a traceback."""
        import contextlib
        import io
        from unittest import mock
        from mixshards import cli
        for error, expected in ((ShardError("x.mxs: chunk 3: bad"), "x.mxs: chunk 3: bad"),
                                (PermissionError(13, "Permission denied", "x.mxs"), "x.mxs: Permission denied"),
                                (ValueError("bad\nvalue"), "bad value"),
                                (MemoryError(), "out of memory")):
            with self.subTest(error=type(error).__name__):
                err = io.StringIO()
                with mock.patch.object(cli, "describe", side_effect=error), contextlib.redirect_stderr(err):
                    self.assertEqual(cli.main(["inspect", "x.mxs"]), 1)
                self.assertEqual(err.getvalue(), f"error: {expected}\n")
        env = dict(os.environ, PYTHONPATH=str(support.PACKAGE_PARENT))
        p = subprocess.Popen([sys.executable, "-m", "mixshards", "inspect", str(GOLDEN / "golden-none-delta.mxs")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        p.stdout.close()   # before the child has written: its write fails with EPIPE
        _, err = p.communicate(timeout=20)
        self.assertEqual((p.returncode, err), (1, b""))

    def test_huge_manifest_or_file_list_is_not_read_whole(self):
        """Found by fuzz_reader.py: manifest.json (or a file list) extended to 4 GiB (sparse) was read whole, a
        MemoryError under a 1 GiB limit. A manifest has a size limit; file lists are hashed in blocks, and kept only
        when they have the manifest's size."""
        d = support.copy_dir("refs-sample", "huge-manifest")
        size = (d / "manifest.json").stat().st_size + (4 << 30)
        os.truncate(d / "manifest.json", size)
        expected = f"{d}/manifest.json: is {size:,} bytes, more than a manifest may have (268,435,456)"
        self.assert_one_line(run_reader("dir", d, memory=1 << 30), expected)
        self.assert_one_line(run_cli("verify", str(d), memory=1 << 30), expected)
        d = support.copy_dir("folders", "huge-list", image=True)
        path = d / "source" / "train-files.csv"
        listed = path.stat().st_size
        os.truncate(path, listed + (4 << 30))
        r = run_reader("verify", d, memory=1 << 30)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.splitlines()[0], f"{path}: {listed + (4 << 30)} bytes, the manifest says {listed}")
        self.assert_one_line(run_python("import sys, mixshards\ntry:\n    mixshards.open(sys.argv[1]).files('train')\n"
                                        "except mixshards.ShardError as e:\n    print(f'error: {e}', file=sys.stderr); "
                                        "sys.exit(1)\n", str(d), memory=1 << 30),
                             f"{path}: {listed + (4 << 30)} bytes, the manifest says {listed}")

    def test_provenance_names_a_source_image_of_the_split(self):
        """Found by fuzz_reader.py: a partner beyond the training split (22 of 7 images) was read, and
        ``Sample.partner_file`` then raised IndexError. A directory's reader and verify check every primary and
        partner against the split's source count."""
        from .fuzz_reader import Shard
        d = support.copy_dir("folders", "partner", image=True)
        path = d / "train" / "epoch-000" / "shard-00000.mxs"
        s = Shard(path.read_bytes())
        raw = s.raw(0)
        c, h, w = s.shape()
        self.assertEqual(s.header[37], 2)                                            # v3: sparse label records
        labels = s.entries[0][6] * c * h * w
        record = labels + 12 * s.entries[0][4] + 32 * 1                              # sample 1
        struct.pack_into("<I", raw, record + 4, 22)                                   # its partner
        struct.pack_into("<BB", raw, record + 12, layout.KIND_BLEND, 0)               # a blend, not a reference
        struct.pack_into("<f", raw, record + 8, 0.5)
        struct.pack_into("<f", raw, labels + 12 * 1 + 8, 0.5)                         # its label record's weight too
        self.assertEqual(s.header[12] & 2, 0)                                        # no references to count
        s.set_raw(0, raw)
        path.write_bytes(s.encode())
        expected = f"{path}: chunk 0: sample 1: provenance: partner 22 is not a training image (the source has 7)"
        self.assert_one_line(run_reader("dir", d), expected)
        self.assertIn(expected, run_reader("verify", d).stdout.splitlines())
