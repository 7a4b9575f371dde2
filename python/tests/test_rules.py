"""Issue 22, items 5 and 6: records and label rows the format's bytes allow but the pipeline
cannot have written. Each directory is forged as a careful forger would — one record or
label row edited in a shard stored without compression, its chunk CRC, the index CRC, and
the manifest's size, SHA-256 and statistics made to match — so only the rules of
``mixshards.rules`` can tell. Before them ``mixshards.verify`` (and ``mixprep verify``)
said nothing of the label and index cases; now both say the same line."""

import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib
from pathlib import Path

import numpy as np

import mixshards
from mixshards import ShardError, ShardFile, layout, rules
from mixshards.verify import Stats

from . import support
from .support import GOLDEN, MINI, patch_chunk

SHARD = "train/epoch-000/shard-00000.mxs"
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_labels(split: str = "train") -> np.ndarray:
    """The labels of the embedded CIFAR-10 records (the first byte of each 3073-byte record)."""
    files = ["data_batch_1.bin", "data_batch_2.bin"] if split == "train" else ["test_batch.bin"]
    return np.concatenate([np.frombuffer((MINI / f).read_bytes(), np.uint8).reshape(-1, 3073)[:, 0] for f in files])


def make(name: str, augment: str = "", mix: str = 'mode = "sample"\np = 0.5', references: bool = False, epochs: int = 1,
         dataset: str = "", version: int = 3) -> Path:
    """A directory of 300 CIFAR training and 100 test images, shards of 100 in chunks of 64, stored
    without compression or filter (so records and rows can be edited in place), in MixShard
    ``version`` (v2 stores dense rows, which the row-editing tests edit; v3 sparse records)."""
    exe = support.mixprep()
    if exe is None:
        raise unittest.SkipTest("mixprep is not built (run `swift build` or scripts/test.sh)")
    root = Path(tempfile.mkdtemp(prefix=f"rules-{name}-", dir=support.scratch()))
    data = dataset or f'path = "{MINI}"\ntrain_limit = 300\ntest_limit = 100'
    (root / "p.toml").write_text(f'name = "{name}"\nseed = 5\n[dataset]\n{data}\n[augment]\n{augment}\n[mix]\n{mix}\nalpha = 0.5\n'
                                 f'[shards]\nepochs = {epochs}\nsamples_per_shard = 100\nsamples_per_chunk = 64\ncodec = "none"\n'
                                 f'filter = "none"\nreferences = {str(references).lower()}\n')
    support.run(exe, "run", str(root / "p.toml"), "--out", str(root / "shards"), "--quiet", "--format-version", str(version))
    return root / "shards"


def chunk_labels(b, at: int, n: int, h: layout.Header) -> np.ndarray:
    """The ``n`` label rows at ``at``: dense as stored, or v3 sparse records expanded (unchecked)."""
    if h.label_type == "sparse":
        return layout.expand_sparse(np.frombuffer(b, layout.SPARSE_LABEL, n, at), h.class_count, h.label_smoothing)
    return np.frombuffer(b, "<f4", n * h.class_count, at).reshape(n, h.class_count).astype(np.float32)


def raw_block(path: Path):
    """Records (:data:`layout.PROVENANCE_V2`) and label rows of a shard stored without compression,
    read without any check (the forger's tools), with where each chunk's rows and records start."""
    b = path.read_bytes()
    h = layout.decode_header(b, str(path))
    io = struct.unpack_from("<Q", b, len(b) - 32)[0]
    labels, prov, where = [], [], []
    for c in range(h.chunk_count):
        offset, _stored, _raw, _first, n, _crc, m = struct.unpack_from("<QIIIIII", b, io + 32 * c)
        at = offset + m * h.image_bytes
        labels.append(chunk_labels(b, at, n, h))
        prov.append(np.frombuffer(b, layout.PROVENANCE_V2, n, at + n * h.label_bytes))
        where.append((c, at, n))
    return np.concatenate(prov), np.concatenate(labels).astype(np.float32), where


def forge(d: Path, sample: int, edit, file: str = SHARD, record=None) -> None:
    """``edit(row, record)`` of sample ``sample`` of ``file`` (a writable float32 row and a one-record
    array), then every CRC, size, hash and statistic made to agree. Rows are edited in v2 directories;
    a v3 shard stores a sparse label record, whose weight the forger keeps the record's λ (every reader
    requires it) and which ``record(one-record SPARSE_LABEL array)`` edits."""
    path = d / file
    b = bytearray(path.read_bytes())
    h = layout.decode_header(b, str(path))
    io = struct.unpack_from("<Q", b, len(b) - 32)[0]
    c = sample // h.samples_per_chunk
    offset, stored, _raw, first, n, _crc, m = struct.unpack_from("<QIIIIII", b, io + 32 * c)
    at, size = offset + m * h.image_bytes, n * h.label_bytes
    labels = chunk_labels(b, at, n, h).copy()
    before = labels.copy()
    prov = np.frombuffer(b, layout.PROVENANCE_V2, n, at + size).copy()
    j = sample - first
    edit(labels[j], prov[j:j + 1])
    if h.label_type == "sparse":
        assert np.array_equal(labels.view(np.uint32), before.view(np.uint32)), "a v3 label is a record: edit rows in v2"
        records = np.frombuffer(b, layout.SPARSE_LABEL, n, at).copy()
        records["weight"][j] = prov["lam"][j]
        if record is not None:
            record(records[j:j + 1])
        b[at:at + size] = records.tobytes()
    else:
        b[at:at + size] = labels.astype("<f4").tobytes()
    b[at + size:at + size + 32 * n] = prov.tobytes()
    struct.pack_into("<I", b, io + 32 * c + 24, zlib.crc32(bytes(b[offset:offset + stored])))
    struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 32 * h.chunk_count])))
    path.write_bytes(bytes(b))
    m_ = json.loads((d / "manifest.json").read_text())
    classes = len(m_["source"]["classNames"])
    summary = Stats(classes)

    def relist(entries, stats):
        for e in entries:
            data = (d / e["file"]).read_bytes()
            e["sha256"], e["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
            if stats is not None:
                p, rows, _ = raw_block(d / e["file"])
                stats.add_shard(p, rows)
                summary.add_shard(p, rows)
    for e in m_["train"]:
        st = Stats(classes)
        relist(e["shards"], st)
        if all(np.isfinite(st.label_mass)):
            e["stats"] = _stats_json(st)
    relist(m_["test"]["shards"], None)
    if all(np.isfinite(summary.label_mass)):
        m_["summary"] = _stats_json(summary)
    (d / "manifest.json").write_text(json.dumps(m_, indent=2, sort_keys=True))


def _stats_json(s: Stats) -> dict:
    return {"samples": s.samples, "mixed": s.mixed, "flipped": s.flipped, "shifted": s.shifted,
            "references": s.references, "lambdaHistogram": s.lambda_histogram, "labelMass": s.label_mass}


def first(d: Path, kind: int, file: str = SHARD) -> int:
    p, _, _ = raw_block(d / file)
    return int(np.flatnonzero(p["kind"] == kind)[0])


class RuleTests(unittest.TestCase):
    def assertVerify(self, d: Path, expected: list[str]) -> None:
        """``mixshards.verify`` finds exactly ``expected``, and ``mixprep verify`` says the same lines."""
        self.assertEqual(mixshards.verify(d), expected)
        r = subprocess.run([support.mixprep(), "verify", str(d)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual([line for line in r.stderr.splitlines() if line.startswith("error: ")],
                         [f"error: {e}" for e in expected])

    def copy(self, d: Path) -> Path:
        dest = Path(tempfile.mkdtemp(prefix="forged-", dir=support.scratch())) / "shards"
        shutil.copytree(d, dest)
        return dest

    def test_transforms_are_ones_the_pipelines_augment_draws(self):
        d = make("shift", augment="crop_pad = 4\nflip = true")
        s = first(d, layout.KIND_COPY)

        def shift(row, r):
            for f in ("primary_dx", "primary_dy", "partner_dx", "partner_dy"):
                r[f] = 31
        forge(d, s, shift)
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: provenance: transforms (31, 31) and (31, 31) "
                              "are not drawn by the pipeline's augment (crop_pad 4, flip true)"])
        d = make("flip", augment="crop_pad = 4\nflip = false")
        s = first(d, layout.KIND_COPY)
        forge(d, s, lambda row, r: r.__setitem__("flags", r["flags"] | layout.FLIP_PRIMARY | layout.FLIP_PARTNER))
        t = raw_block(d / SHARD)[0][s]
        dx, dy = int(t["primary_dx"]), int(t["primary_dy"])
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: provenance: transforms ({dx}, {dy}, flipped) and "
                              f"({dx}, {dy}, flipped) are not drawn by the pipeline's augment (crop_pad 4, flip false)"])

    def test_primary_and_partner_lie_inside_the_source(self):
        d = make("beyond")
        s = first(d, layout.KIND_BLEND)

        def beyond(row, r):
            r["primary"], r["partner"] = 5000, 6000
        forge(d, s, beyond)
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: provenance: primary 5000 is not a training image "
                              "(the source has 300)"])
        # Test position k holds test image k: sample 70 of test shard 0 is position 70.
        d = make("test")
        def image3(row, r):
            r["primary"], r["partner"] = 3, 3
        forge(d, 70, image3, file="test/shard-00000.mxs")
        self.assertVerify(d, [f"{d}/test/shard-00000.mxs: chunk 1: sample 70: provenance: test position 70 must hold test "
                              "image 70, unmixed and untransformed"])

    def test_cutmix_lambda_is_its_box_and_kinds_are_the_modes(self):
        d = make("full", mix='mode = "cutmix"\np = 0.5')
        s = first(d, layout.KIND_CUTMIX)

        def full(row, r):
            r["lam"] = 1
            r["box_x0"], r["box_y0"], r["box_x1"], r["box_y1"] = 0, 0, 32, 32
        forge(d, s, full)
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: provenance: cutmix box [0, 32) × [0, 32) leaves "
                              "lambda 0 of the primary, the record says 1"])
        # One ulp off the box's λ.
        d = make("ulp", mix='mode = "cutmix"\np = 0.5')
        s = first(d, layout.KIND_CUTMIX)
        r0 = raw_block(d / SHARD)[0][s]
        area = (int(r0["box_x1"]) - int(r0["box_x0"])) * (int(r0["box_y1"]) - int(r0["box_y0"]))
        kept = np.float32(1024 - area) / np.float32(1024)
        self.assertEqual(r0["lam"], kept)
        bumped = np.nextafter(kept, np.float32(2))
        forge(d, s, lambda row, r: r.__setitem__("lam", bumped))
        box = f"[{r0['box_x0']}, {r0['box_x1']}) × [{r0['box_y0']}, {r0['box_y1']})"
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: provenance: cutmix box {box} leaves lambda "
                              f"{rules.float_text(kept)} of the primary, the record says {rules.float_text(bumped)}"])
        # A blend in a directory whose pipeline mixes nothing.
        d = make("none", mix='mode = "sample"\np = 0.5')
        s = first(d, layout.KIND_BLEND)
        m = json.loads((d / "manifest.json").read_text())
        m["pipeline"]["mix"]["p"] = 0.0
        (d / "manifest.json").write_text(json.dumps(m))
        problems = mixshards.verify(d)
        self.assertIn(f"{d}/{SHARD}: chunk {s // 64}: sample {s}: provenance: a blend, but mix.p = 0 mixes no sample", problems)

    def test_every_reader_refuses_label_weights_outside_zero_to_one(self):
        for name, weights, expected in (("huge", [3e38, -3e38, 1], "label weight 3e+38 of class 0 is not in [0, 1]"),
                                        ("negative", [2, -1], "label weight 2 of class 0 is not in [0, 1]")):
            with self.subTest(name):
                d = make(name, version=2)
                s = first(d, layout.KIND_COPY)

                def edit(row, r):
                    row[:] = 0
                    row[:len(weights)] = weights
                forge(d, s, edit)
                message = f"{d}/{SHARD}: chunk {s // 64}: sample {s}: {expected}"
                self.assertVerify(d, [message])
                with self.assertRaises(ShardError) as ctx:
                    mixshards.open(d).epoch(0)[s]
                self.assertEqual(str(ctx.exception), message)
                r = subprocess.run([str(Path(support.mixprep()).parent / "mixtrain"), "train", str(d), "--out", str(d) + "-run",
                                    "--epochs", "1"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual([x for x in r.stderr.splitlines() if x.startswith("error")], [f"error: {message}"])

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

    def test_label_rows_follow_from_their_provenance(self):
        labels = cifar_labels()
        # With a source copy (references) the source labels are its rows'; a copy relabelled.
        d = make("copy", references=True, version=2)
        s = first(d, layout.KIND_COPY)
        primary = int(raw_block(d / SHARD)[0][s]["primary"])
        y = NAMES[labels[primary]]

        def relabel(row, r):
            row[:] = 0
            row[(labels[int(r["primary"][0])] + 1) % 10] = 1
        forge(d, s, relabel)
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: label row does not follow from its provenance: "
                              f"source image {primary} ({y}) with lambda 1 and smoothing 0 gives {y} 1 and 0 elsewhere "
                              f"(the row of source/train.mxs chunk 0 sample {primary} made source image {primary} {y})"])
        # Smoothing 0.1, one weight one ulp off: bit for bit.
        d = make("smooth", mix='mode = "sample"\np = 0.5\nsmoothing = 0.1', references=True, version=2)
        s = first(d, layout.KIND_COPY)
        primary = int(raw_block(d / SHARD)[0][s]["primary"])
        y = NAMES[labels[primary]]
        forge(d, s, lambda row, r: row.__setitem__(0, np.nextafter(row[0], np.float32(1))))
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: label row does not follow from its provenance: "
                              f"source image {primary} ({y}) with lambda 1 and smoothing 0.1 gives {y} 0.90999997 and 0.01 "
                              f"elsewhere (the row of source/train.mxs chunk 0 sample {primary} made source image {primary} {y})"])
        # Without a source copy the first row that determines an image's class gives it: epoch 1 contradicts epoch 0.
        d = make("derived", epochs=2, version=2)
        second = "train/epoch-001/shard-00000.mxs"
        s = first(d, layout.KIND_COPY, file=second)
        primary = int(raw_block(d / second)[0][s]["primary"])
        y = NAMES[labels[primary]]
        forge(d, s, relabel, file=second)
        problems = mixshards.verify(d)
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].startswith(
            f"{d}/{second}: chunk {s // 64}: sample {s}: label row does not follow from its provenance: source image {primary} "
            f"({y}) with lambda 1 and smoothing 0 gives {y} 1 and 0 elsewhere (the row of train/epoch-000/"), problems[0])
        self.assertTrue(problems[0].endswith(f" made source image {primary} {y})"), problems[0])
        r = subprocess.run([support.mixprep(), "verify", str(d)], capture_output=True, text=True)
        self.assertEqual([x for x in r.stderr.splitlines() if x.startswith("error: ")], [f"error: {problems[0]}"])

    def test_labels_of_image_files_are_the_file_lists(self):
        d = make("images", dataset=f'path = "{support.LAYOUTS / "folders"}"\nsize = 16\nresize = "shorter"',
                 mix='mode = "sample"\np = 0.5', version=2)
        ds = mixshards.open(d)
        y = json.loads((d / "manifest.json").read_text())["source"]["classNames"][ds.files("test")[0].label]

        def swap(row, r):
            row[:] = row[::-1].copy()
        forge(d, 0, swap, file="test/shard-00000.mxs")
        self.assertVerify(d, [f"{d}/test/shard-00000.mxs: chunk 0: sample 0: label row does not follow from its provenance: "
                              f"source image 0 ({y}) with lambda 1 and smoothing 0 gives {y} 1 and 0 elsewhere"])

    def test_sparse_records_follow_from_their_provenance(self):
        """MixShard v3: a sparse record stands for rule 12's row, so verify holds it to its provenance as it
        holds a dense row, in the same words (Swift's testSparseLabelRecordsFollowFromTheirProvenance)."""
        labels = cifar_labels()
        d = make("copy3", references=True)
        s = first(d, layout.KIND_COPY)
        primary = int(raw_block(d / SHARD)[0][s]["primary"])
        y = NAMES[labels[primary]]

        def next_class(r):
            r["class_a"] = (r["class_a"] + 1) % 10
            r["class_b"] = r["class_a"]
        forge(d, s, lambda row, r: None, record=next_class)
        self.assertVerify(d, [f"{d}/{SHARD}: chunk {s // 64}: sample {s}: label row does not follow from its provenance: "
                              f"source image {primary} ({y}) with lambda 1 and smoothing 0 gives {y} 1 and 0 elsewhere "
                              f"(the row of source/train.mxs chunk 0 sample {primary} made source image {primary} {y})"])
        # A shard whose ε is one ulp off the pipeline's: its header does not match.
        d = make("epsilon3", mix='mode = "sample"\np = 0.5\nsmoothing = 0.1')
        path = d / SHARD
        b = bytearray(path.read_bytes())
        struct.pack_into("<f", b, 56, np.nextafter(np.float32(0.1), np.float32(1)))
        support.fix_header_crc(b)
        path.write_bytes(bytes(b))
        forge(d, 0, lambda row, r: None)  # the manifest made to agree
        self.assertVerify(d, [f"{d}/{SHARD}: header: does not match the pipeline: labels sparse (smoothing 0.10000001) "
                              "(expected sparse, smoothing 0.1)"])
        # A v2 directory's shards are v2: a v3 shard among them is refused by version.
        d2, d3 = make("v2", version=2), make("v3")
        shutil.copy(d3 / SHARD, d2 / SHARD)
        forge(d2, 0, lambda row, r: None)
        self.assertVerify(d2, [f"{d2}/{SHARD}: header: does not match the pipeline: version 3 (expected 2)"])

    def test_label_weights_are_the_rows_mixprep_wrote(self):
        """Every training row of the batch variant (smoothing 0.1) and of cutmix with references equals
        ``label_weights`` of its record and the true CIFAR labels, bit for bit."""
        labels = cifar_labels()
        for name, smoothing in (("batch", 0.1), ("refs-cutmix", 0.0)):
            root = support.shard_dir(name) / "shards"
            copy = root / layout.SOURCE_FILE
            source = mixshards.SourceImages(str(copy)) if copy.exists() else None
            if source is not None:
                self.addCleanup(source.close)
            checked = 0
            for shard in sorted((root / "train").rglob("*.mxs")):
                with ShardFile(str(shard), source) as f:
                    block = f.read_all()
                p = block.provenance
                yp, yq = labels[p["primary"]], labels[p["partner"]]
                rest, wp, wq = rules.label_weights(p["lam"], yp == yq, 10, smoothing)
                want = np.full(block.labels.shape, rest, np.float32)
                rows = np.arange(len(p))
                want[rows, yq] = wq
                want[rows, yp] = wp
                np.testing.assert_array_equal(block.labels.view(np.uint32), want.view(np.uint32))
                checked += len(p)
            self.assertGreater(checked, 0, name)

    def test_float_text_is_swifts(self):
        cases = {0.3: "0.3", 3e38: "3e+38", -3e38: "-3e+38", 2.0: "2", 1e-5: "1e-05", 0.0001: "0.0001", 16777216.0: "16777216",
                 float("nan"): "nan", float("inf"): "inf", 0.91: "0.91", 0.5078125: "0.5078125", -0.0: "-0"}
        for v, text in cases.items():
            self.assertEqual(rules.float_text(np.float32(v)), text)
        self.assertEqual(rules.float_text(np.nextafter(np.float32(0.91), np.float32(0))), "0.90999997")
