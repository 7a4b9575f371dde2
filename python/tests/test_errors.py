"""Every kind of damage the Swift reader tests is refused with one line naming the file and the chunk or field."""

import struct
import tempfile
import unittest
import zlib
from pathlib import Path

import mixshards
from mixshards import ShardError, ShardFile, layout

from . import support
from .support import GOLDEN


def fix_header_crc(b: bytearray) -> None:
    struct.pack_into("<I", b, 60, zlib.crc32(bytes(b[:60])))


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
        b = bytearray(self.zlib)
        b[8] = 2
        self.assertIn("header: unsupported version 2 (this reader knows 1)", self.failure(b))

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
            (text.replace('"formatVersion" : 1', '"formatVersion" : 2'), "format 'MixShard' version 2 is not supported"),
            (text.replace('"format" : "MixShard"', '"format" : "WebDataset"'), "format 'WebDataset' version 1 is not supported"),
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
        self.assertEqual((layout.MAGIC, layout.END_MAGIC, layout.VERSION), (b"MIXSHRD1", b"MIXSHEND", 1))
