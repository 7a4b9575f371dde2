"""Directories mixprep makes from image files: the file lists beside the shards, the samples'
files, the source fingerprint recomputed from the lists, and damage to the lists."""

import copy
import csv
import hashlib
import io
import json
import struct
import subprocess
import sys
import unittest
from pathlib import Path

import numpy as np

import mixshards
from mixshards import ShardError, sourcefiles

from . import jsonschema_subset, support

FOLDERS_TRAIN = ["train/cat/cat_001.jpg", "train/cat/cat_002.PNG", "train/cat/cat_003.webp", "train/dog/dog_001.JPEG",
                 "train/dog/dog_002.png", "train/dog/dog_003.jpg", "train/dog/more/dog_004.png"]
FOLDERS_TEST = ["test/cat/cat_101.jpg", "test/cat/cat_102.png", "test/dog/dog_101.webp", "test/dog/dog_102.JPEG"]
HEADER = "index,path,label,class,bytes,sha256,width,height"


def independent_fingerprint(directory: Path) -> str:
    """The fingerprint rule, written out again from the CSV text alone (no mixshards code)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    h = hashlib.sha256()

    def line(text: str) -> None:
        h.update((text + "\n").encode("utf-8"))

    def counted(text: str) -> str:
        return f"{len(text.encode('utf-8'))}:{text}"

    line("mixshards image files 1")
    for name in manifest["source"]["classNames"]:
        line("class\t" + counted(name))
    for split in ("train", "test"):
        with open(directory / "source" / f"{split}-files.csv", newline="", encoding="utf-8") as f:
            for row in list(csv.reader(f))[1:]:
                line(f"{split}\t{row[2]}\t{row[5]}\t" + counted(row[1]))
    if (directory / "skipped-files.csv").exists():
        with open(directory / "skipped-files.csv", newline="", encoding="utf-8") as f:
            for split, path, sha256, _ in list(csv.reader(f))[1:]:
                line(f"skipped\t{split}\t{sha256 or '-'}\t" + counted(path))
    return h.hexdigest()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def rewrite_list(d: Path, name: str, edit) -> None:
    """Passes the file list ``name`` (as text) through ``edit`` and lists its new size and
    SHA-256 in the manifest, so that only the row checks and the fingerprint can tell."""
    path = d / name
    text = edit(path.read_bytes().decode("utf-8"))
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # "\udcff" is the byte 0xFF: not UTF-8
    data = path.read_bytes()
    manifest = json.loads((d / "manifest.json").read_text())
    for entry in manifest["source"]["files"].values():
        if isinstance(entry, dict) and entry.get("file") == name:
            entry["bytes"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2))


def replace_row(k: int, edit):
    """An edit of a file list's text: data row ``k`` (a plain row, no quoted field) through ``edit(fields)``."""
    def run(text: str) -> str:
        lines = text.split("\n")
        lines[k + 1] = ",".join(edit(lines[k + 1].split(",")))
        return "\n".join(lines)
    return run


def swap_first_rows(text: str) -> str:
    """Rows 0 and 1 exchanged, renumbered: the same files in another order."""
    lines = text.split("\n")
    a, b = lines[1].split(","), lines[2].split(",")
    lines[1], lines[2] = ",".join(["0"] + b[1:]), ",".join(["1"] + a[1:])
    return "\n".join(lines)


class ImageFileDirectoryTests(unittest.TestCase):
    def open(self, name: str) -> mixshards.Dataset:
        ds = mixshards.open(support.image_dir(name) / "shards")
        self.addCleanup(ds.close)
        return ds

    def test_files_listed(self):
        ds = self.open("folders")
        m = ds.manifest.raw
        self.assertEqual(ds.layout, "class folders train/ + test/")
        self.assertTrue(ds.has_files)
        self.assertEqual(ds.classes, ("cat", "dog"))
        self.assertEqual(ds.files("train").paths, FOLDERS_TRAIN)
        self.assertEqual(ds.files().paths, FOLDERS_TRAIN)
        self.assertEqual([f.path for f in ds.files("test")], FOLDERS_TEST)
        self.assertEqual(ds.skipped_files(), ())
        self.assertEqual(ds.shape, (3, 16, 16))
        root = Path(m["source"]["path"])
        self.assertEqual(root, support.LAYOUTS / "folders")
        for split, n in (("train", m["source"]["trainCount"]), ("test", m["source"]["testCount"])):
            files = ds.files(split)
            self.assertEqual(len(files), n)
            self.assertIs(ds.files(split), files)  # read once
            for f in files:
                data = (root / f.path).read_bytes()
                self.assertIsInstance(f, sourcefiles.SourceFile)
                self.assertEqual((f.bytes, f.sha256), (len(data), hashlib.sha256(data).hexdigest()), f.path)
                self.assertEqual(f.class_name, f.path.split("/")[1])
                self.assertEqual(ds.classes[f.label], f.class_name)
                if data[:4] == b"\x89PNG":
                    self.assertEqual((f.width, f.height), png_size(data), f.path)
                else:
                    self.assertTrue(1 <= f.width <= 12 and 1 <= f.height <= 10, f)
        self.assertEqual(ds.files("train")[-1], ds.files("train")[6])
        self.assertEqual(ds.files("train")[1:3], [ds.files("train")[1], ds.files("train")[2]])
        self.assertEqual(ds.files("train"), list(ds.files("train")))
        with self.assertRaises(IndexError):
            ds.files("train")[7]
        with self.assertRaises(ValueError):
            ds.files("val")
        info = ds.manifest.source_files
        self.assertEqual([e.file for e in info.entries], ["source/train-files.csv", "source/test-files.csv"])
        self.assertEqual(set(info.libraries), {"libjpeg-turbo", "libpng", "libwebp", "libswscale"})
        header = (support.image_dir("folders") / "shards" / "source" / "train-files.csv").read_text().split("\n")[0]
        self.assertEqual(header, HEADER)

    def test_samples_know_their_files(self):
        """Each training sample's label is λ on its primary file's class and 1−λ on its
        partner's; test position k is test file k."""
        ds = self.open("folders")
        train, test = ds.files("train"), ds.files("test")
        mixed = 0
        for e in range(ds.epochs):
            ep = ds.epoch(e)
            self.assertIs(ep.files, train)
            for k in range(len(ep)):
                s = ep[k]
                self.assertEqual(s.primary_file, train[s.primary])
                self.assertEqual(s.partner_file, train[s.partner])
                self.assertEqual(s.primary_file.path, FOLDERS_TRAIN[s.primary])
                expected = np.zeros(len(ds.classes))
                expected[s.primary_file.label] += s.lam
                expected[s.partner_file.label] += 1 - s.lam
                np.testing.assert_allclose(s.label, expected, atol=1e-6, err_msg=f"epoch {e} sample {k}")
                mixed += s.kind != "copy"
        self.assertGreater(mixed, 0)
        for k in range(len(ds.test)):
            s = ds.test[k]
            self.assertEqual((s.primary, s.primary_file.path, s.partner_file.path), (k, FOLDERS_TEST[k], FOLDERS_TEST[k]))
            self.assertEqual(int(np.argmax(s.label)), s.primary_file.label)

    def test_samples_without_provenance(self):
        ds = self.open("folders-plain")
        s = ds.epoch(0)[2]
        self.assertIsNone(s.primary)
        self.assertIsNone(s.primary_file)
        self.assertIsNone(s.partner_file)
        for k in range(len(ds.test)):
            self.assertEqual(ds.test[k].primary_file.path, FOLDERS_TEST[k])  # the test split is in file order
        self.assertEqual(mixshards.verify(support.image_dir("folders-plain") / "shards"), [])

    def test_records_directories_have_no_files(self):
        ds = mixshards.open(support.shard_dir("quickstart") / "shards")
        self.addCleanup(ds.close)
        self.assertIsNone(ds.layout)
        self.assertFalse(ds.has_files)
        self.assertIsNone(ds.manifest.source_files)
        self.assertEqual(ds.skipped_files(), ())
        self.assertIsNone(ds.epoch(0).files)
        s = ds.epoch(0)[0]
        self.assertIsNotNone(s.primary)
        self.assertIsNone(s.primary_file)
        self.assertIsNone(ds.test[0].primary_file)
        with self.assertRaises(ShardError) as ctx:
            ds.files("train")
        self.assertIn("lists no source files", str(ctx.exception))

    def test_read_back_against_mixprep_dump(self):
        for name in ("folders", "folders-bad", "single"):
            root = support.image_dir(name)
            ds = self.open(name)
            m = ds.manifest.raw
            splits = [(ds.epoch(e), m["train"][e]["shards"]) for e in range(ds.epochs)] + [(ds.test, m["test"]["shards"])]
            for ep, shards in splits:
                dumps = [support.read_dump(root / "dumps" / s["file"], s["samples"], ds.shape, len(ds.classes), True)
                         for s in shards]
                images = np.concatenate([x[0] for x in dumps])
                labels = np.concatenate([x[1] for x in dumps])
                prov = np.concatenate([x[2] for x in dumps])
                for k in range(len(ep)):
                    np.testing.assert_array_equal(ep[k].image, images[k])
                    np.testing.assert_array_equal(ep[k].label, labels[k])
                    self.assertEqual(ep[k].primary, int(prov["primary"][k]))

    def test_fingerprint_recomputed(self):
        for name in support.IMAGE_VARIANTS:
            d = support.image_dir(name) / "shards"
            ds = self.open(name)
            stated = ds.manifest.source["fingerprint"]
            self.assertEqual(independent_fingerprint(d), stated, name)
            self.assertEqual(sourcefiles.fingerprint(ds.classes, ds.files("train"), ds.files("test"), ds.skipped_files()),
                             stated, name)
            self.assertEqual(mixshards.verify(d), [], name)

    def test_skipped_files(self):
        root = support.image_dir("folders-bad")
        d = root / "shards"
        ds = self.open("folders-bad")
        m = ds.manifest.raw
        self.assertEqual(m["source"]["skippedFiles"], 2)
        self.assertIs(m["pipeline"]["dataset"]["skip_bad"], True)
        self.assertEqual(m["source"]["files"]["skipped"]["file"], "skipped-files.csv")
        skipped = ds.skipped_files()
        self.assertEqual([(s.split, s.path) for s in skipped], list(support.BAD_FILES))
        for s in skipped:
            self.assertIsInstance(s, sourcefiles.SkippedFile)
            self.assertEqual(s.sha256, hashlib.sha256((root / "dataset" / s.path).read_bytes()).hexdigest())
            self.assertTrue(s.reason)
        self.assertIn("PNG", skipped[0].reason)
        # The files used are the fixture's; the skipped ones take no position.
        self.assertEqual(ds.files("train").paths, FOLDERS_TRAIN)
        self.assertEqual(ds.files("test").paths, FOLDERS_TEST)
        self.assertEqual((m["source"]["trainCount"], m["source"]["testCount"]), (7, 4))
        self.assertEqual(ds.shape, (3, 12, 16))
        # A quoted path (comma and quotes) is read back exactly.
        text = (d / "skipped-files.csv").read_text()
        self.assertTrue(text.startswith("split,path,sha256,reason\ntrain,\"train/cat/cat_000 broken, \"\"truncated\"\".png\","),
                        text)
        # The skipped files count in the fingerprint: without them it is another.
        self.assertNotEqual(sourcefiles.fingerprint(ds.classes, ds.files("train"), ds.files("test")),
                            m["source"]["fingerprint"])
        self.assertEqual(mixshards.verify(d), [])

    def test_every_new_pipeline_key(self):
        ds = self.open("single")
        m = ds.manifest.raw
        self.assertEqual(m["pipeline"]["dataset"]["classes"], ["cherry", "apple", "banana"])
        self.assertEqual(m["pipeline"]["dataset"]["test_fraction"], 0.4)
        self.assertEqual(m["pipeline"]["dataset"]["split_seed"], 7)
        self.assertEqual(ds.classes, ("cherry", "apple", "banana"))
        self.assertTrue(ds.layout.startswith("one folder of classes"), ds.layout)
        self.assertEqual(len(ds.files("train")) + len(ds.files("test")), 15)
        for f in [*ds.files("train"), *ds.files("test")]:
            self.assertEqual(f.path.split("/")[0], f.class_name)
        paths = ds.files("train").paths + ds.files("test").paths
        self.assertEqual(len(set(paths)), 15)
        # CSV lists: a class name holding a comma is quoted in the class column.
        csv_ds = self.open("csv")
        self.assertIn("plane, small", csv_ds.classes)
        self.assertTrue(csv_ds.layout.startswith("CSV lists train.csv + val.csv"), csv_ds.layout)
        self.assertIn(',"plane, small",', (support.image_dir("csv") / "shards" / "source" / "train-files.csv").read_text())

    def test_manifests_conform_to_the_schema(self):
        schema = json.loads(support.SCHEMA.read_text())
        for name in support.IMAGE_VARIANTS:
            manifest = json.loads((support.image_dir(name) / "shards" / "manifest.json").read_text())
            self.assertEqual(jsonschema_subset.problems(manifest, schema), [], name)
        manifest = json.loads((support.image_dir("folders-bad") / "shards" / "manifest.json").read_text())
        self.assertIn("skipped", manifest["source"]["files"])
        self.assertIn("layout", manifest["source"])

    def test_commands(self):
        d = support.image_dir("folders-bad") / "shards"
        r = subprocess.run([sys.executable, "-m", "mixshards", "verify", str(d)], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        shard = d / "train" / "epoch-001" / "shard-00000.mxs"
        swift = support.run(support.mixprep(), "inspect", str(shard), "--samples")
        python = subprocess.run([sys.executable, "-m", "mixshards", "inspect", str(shard), "--samples"],
                                capture_output=True, text=True, check=True).stdout
        self.assertEqual(python, swift)


class FileListDamageTests(unittest.TestCase):
    """Damage to the file lists: one line per problem naming the file (and the line)."""

    def damaged(self, name: str = "folders") -> Path:
        return support.copy_dir(name, "files", image=True)

    def test_tampered_row_is_caught_by_the_fingerprint_alone(self):
        """A row changed and its list's size and SHA-256 fixed in the manifest: the list
        reads as sound, and only the fingerprint recomputed from it tells."""
        edits = [
            ("path", replace_row(2, lambda f: f[:1] + ["train/cat/cat_009.webp"] + f[2:])),
            ("sha256", replace_row(0, lambda f: f[:5] + ["0" * 64] + f[6:])),
            ("order", swap_first_rows),
        ]
        for what, edit in edits:
            d = self.damaged()
            stated = json.loads((d / "manifest.json").read_text())["source"]["fingerprint"]
            rewrite_list(d, "source/train-files.csv", edit)
            ds = mixshards.open(d)
            self.assertEqual(len(ds.files("train")), 7, what)  # the rows themselves are well formed
            ds.close()
            got = independent_fingerprint(d)
            self.assertNotEqual(got, stated, what)
            problems = mixshards.verify(d)
            self.assertEqual(problems, [f"{d}/manifest.json: source.fingerprint {stated[:16]}… "
                                        f"is not the one of the file lists ({got[:16]}…)"], what)
            r = subprocess.run([sys.executable, "-m", "mixshards", "verify", str(d)], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1, what)
            self.assertIn("source.fingerprint", r.stderr)
            self.assertNotEqual(subprocess.run([support.mixprep(), "verify", str(d)], capture_output=True).returncode, 0,
                                f"mixprep verify passes a {what} edit")

    def test_tampered_skipped_row(self):
        d = self.damaged("folders-bad")
        rewrite_list(d, "skipped-files.csv", lambda t: t.replace("test,test/dog/dog_100.png,", "test,test/dog/dog_099.png,"))
        self.assertEqual(len(mixshards.verify(d)), 1)
        self.assertIn("source.fingerprint", mixshards.verify(d)[0])

    def test_changed_list_without_the_manifest(self):
        d = self.damaged()
        path = d / "source" / "test-files.csv"
        original = path.read_bytes()
        path.write_bytes(original + b"4,x.png,0,cat,1," + b"a" * 64 + b",1,1\n")
        problems = mixshards.verify(d)
        # A list of another size is neither read nor hashed (mixprep verify also says its SHA-256 differs).
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], rf"^{path}: \d+ bytes, the manifest says \d+$")
        ds = mixshards.open(d)
        with self.assertRaises(ShardError) as ctx:
            ds.files("test")
        self.assertEqual(str(ctx.exception), problems[0])
        ds.files("train")  # the other list is sound
        # The listed size, other bytes (the last row's height).
        path.write_bytes(original[:-2] + (b"9" if original[-2:-1] != b"9" else b"8") + b"\n")
        problems = mixshards.verify(d)
        self.assertRegex(problems[0], rf"^{path}: SHA-256 [0-9a-f]{{16}}… differs from the manifest's [0-9a-f]{{16}}…$")
        with self.assertRaises(ShardError) as ctx:
            mixshards.open(d).files("test")
        self.assertEqual(str(ctx.exception), problems[0])

    def test_missing_list(self):
        for name in ("source/train-files.csv", "skipped-files.csv"):
            d = self.damaged("folders-bad")
            (d / name).unlink()
            self.assertEqual(mixshards.verify(d), [f"{d}/{name}: missing (listed in manifest.json)"])
            ds = mixshards.open(d)
            with self.assertRaises(ShardError):
                ds.files("train") if name.startswith("source") else ds.skipped_files()

    def test_malformed_rows_name_the_file_and_line(self):
        cases = [
            (lambda t: t.replace("index,path,label,class", "index,path,label,klass", 1),
             f"line 1: the header is not {HEADER}"),
            (lambda t: t.replace(HEADER, HEADER + ",", 1), f"line 1: the header is not {HEADER}"),
            (replace_row(0, lambda f: ["1"] + f[1:]), "line 2: index '1', expected 0"),
            (replace_row(1, lambda f: ["01"] + f[1:]), "line 3: index '01', expected 1"),
            (replace_row(2, lambda f: f[:2] + ["2"] + f[3:]), "line 4: label '2' is not a class number from 0 to 1"),
            (replace_row(2, lambda f: f[:2] + ["-1"] + f[3:]), "line 4: label '-1' is not a class number from 0 to 1"),
            (replace_row(3, lambda f: f[:3] + ["cat"] + f[4:]), "line 5: class 'cat' is not the name of label 1 ('dog')"),
            (replace_row(0, lambda f: f[:5] + [f[5].upper()] + f[6:]), "is not 64 lowercase hex digits"),
            (replace_row(0, lambda f: f[:5] + [f[5][:63]] + f[6:]), "is not 64 lowercase hex digits"),
            (replace_row(0, lambda f: f[:4] + ["12.0"] + f[5:]), "line 2: bytes '12.0' is not a size"),
            (replace_row(4, lambda f: f[:6] + ["0"] + f[7:]), "line 6: width '0' is not a size of at least 1"),
            (replace_row(4, lambda f: f[:7] + [""]), "line 6: height '' is not a size of at least 1"),
            (replace_row(5, lambda f: f[:1] + ["/etc/passwd"] + f[2:]), "line 7: path '/etc/passwd' is not relative"),
            (replace_row(5, lambda f: f[:1] + [""] + f[2:]), "line 7: empty path"),
            (replace_row(6, lambda f: f[:7]), "line 8: 7 fields, the header has 8"),
            (lambda t: t + "\n", "line 9: 0 fields, the header has 8"),
            (replace_row(6, lambda f: f[:1] + ['"train/dog/x.png'] + f[2:]), "line 8: not valid CSV"),
            (lambda t: t.replace("train/cat", "train/c\udcffat", 1), "line 2: not UTF-8 text"),
        ]
        for edit, expected in cases:
            d = self.damaged()
            path = d / "source" / "train-files.csv"
            rewrite_list(d, "source/train-files.csv", edit)
            problems = mixshards.verify(d)
            self.assertEqual(len(problems), 1, (expected, problems))
            self.assertTrue(problems[0].startswith(f"{path}: "), problems[0])
            self.assertIn(expected, problems[0])
            self.assertNotIn("\n", problems[0])
            ds = mixshards.open(d)
            with self.assertRaises(ShardError) as ctx:
                ds.files("train")
            self.assertEqual(str(ctx.exception), problems[0])

    def test_extra_row(self):
        d = self.damaged()
        rewrite_list(d, "source/test-files.csv", lambda t: t + "4,x.png,0,cat,1," + "a" * 64 + ",1,1\n")
        problems = mixshards.verify(d)
        self.assertEqual(problems[0], f"{d}: the file lists hold 7 train, 5 test and 0 skipped files; "
                                      "the manifest says 7, 4 and 0")
        self.assertIn("source.fingerprint", problems[1])
        ds = mixshards.open(d)
        with self.assertRaises(ShardError) as ctx:
            ds.files("test")
        self.assertEqual(str(ctx.exception), f"{d}/source/test-files.csv: 5 rows, the manifest says 4")

    def test_bad_skipped_rows(self):
        cases = [
            (lambda t: t.replace("\ntest,", "\nval,", 1), "line 3: split 'val' is not train or test"),
            (lambda t: t.replace("split,path,sha256,reason", "split,path,sha,reason"),
             "line 1: the header is not split,path,sha256,reason"),
            (lambda t: t.replace(",4145f395", ",x145f395"), "line 3: sha256 'x145f395"),
        ]
        for edit, expected in cases:
            d = self.damaged("folders-bad")
            rewrite_list(d, "skipped-files.csv", edit)
            problems = mixshards.verify(d)
            self.assertEqual(len(problems), 1, problems)
            self.assertTrue(problems[0].startswith(f"{d}/skipped-files.csv: {expected}"), problems[0])

    def test_manifest_entries(self):
        """source.files is checked like the shard entries: exact names, rows equal to the counts."""
        base = json.loads((support.image_dir("folders-bad") / "shards" / "manifest.json").read_text())

        def problem(edit) -> str:
            m = copy.deepcopy(base)
            edit(m)
            with self.assertRaises(ShardError) as ctx:
                mixshards.manifest.parse(m, "M")
            return str(ctx.exception)

        files = lambda m: m["source"]["files"]  # noqa: E731
        self.assertEqual(problem(lambda m: files(m)["train"].update(samples=8)),
                         "M: source.files.train.samples is 8, source.trainCount is 7")
        self.assertEqual(problem(lambda m: files(m)["test"].update(file="source/train-files.csv")),
                         "M: source.files.test.file is 'source/train-files.csv', expected 'source/test-files.csv'")
        self.assertIn("is not a valid shard entry", problem(lambda m: files(m)["train"].update(file="../train-files.csv")))
        self.assertIn("is not a valid shard entry", problem(lambda m: files(m)["train"].update(file="/source/train-files.csv")))
        self.assertEqual(problem(lambda m: m["source"].update(skippedFiles=3)),
                         "M: source.files.skipped.samples is 2, source.skippedFiles is 3")
        self.assertEqual(problem(lambda m: m["source"].pop("skippedFiles")),
                         "M: source.files.skipped and source.skippedFiles must be present together")
        self.assertEqual(problem(lambda m: files(m).pop("skipped")),
                         "M: source.files.skipped and source.skippedFiles must be present together")
        self.assertEqual(problem(lambda m: m["source"].pop("files")), "M: source.skippedFiles without source.files")
        self.assertIn("sha256 'AB", problem(lambda m: files(m)["train"].update(sha256="AB" * 32)))
        self.assertEqual(problem(lambda m: files(m).pop("libraries")), "M: missing key source.files.libraries")
        self.assertEqual(problem(lambda m: files(m)["libraries"].update(libpng=1)),
                         "M: source.files.libraries must map library names to version strings")
        self.assertEqual(problem(lambda m: m["source"].update(layout=3)), "M: source.layout has the wrong type (int)")
        self.assertIsNotNone(mixshards.manifest.parse(base, "M").source_files.skipped)

    def test_csv_parser_alone(self):
        names = ("a", "b,\"c\"")
        text = (HEADER + "\n" + f'0,"x\r\ny, ""z"".png",1,"b,""c""",5,{"ab" * 32},3,4\n'
                + f"1,y.png,0,a,0,{'cd' * 32},1,1").encode()
        files = sourcefiles.parse_files(text, "L", "train", names)
        self.assertEqual(files[0], sourcefiles.SourceFile('x\r\ny, "z".png', 1, 'b,"c"', 5, "ab" * 32, 3, 4))
        self.assertEqual(files[1].path, "y.png")
        self.assertEqual(list(files.labels), [1, 0])
        self.assertEqual(repr(files), "<mixshards.SourceFiles train: 2 files>")
        with self.assertRaises(ShardError) as ctx:
            sourcefiles.parse_files(text + b"\n2,z.png,3,a,0," + b"e" * 64 + b",1,1\n", "L", "train", names)
        self.assertEqual(str(ctx.exception), "L: line 5: label '3' is not a class number from 0 to 1")
        with self.assertRaises(ShardError) as ctx:
            sourcefiles.parse_files(b"", "L", "train", names)
        self.assertIn("L: line 1: the header is not", str(ctx.exception))
        self.assertEqual(len(sourcefiles.parse_files((HEADER + "\n").encode(), "L", "test", names)), 0)
        skipped = sourcefiles.parse_skipped(b"split,path,sha256,reason\ntest,q.png,,cannot open\n", "S")
        self.assertEqual(skipped, (sourcefiles.SkippedFile("test", "q.png", None, "cannot open"),))
        # The fingerprint of a tiny source, written out by hand.
        expected = hashlib.sha256(("mixshards image files 1\nclass\t1:a\nclass\t5:b,\"c\"\n"
                                   f"train\t1\t{'ab' * 32}\t13:x\r\ny, \"z\".png\ntrain\t0\t{'cd' * 32}\t5:y.png\n"
                                   "skipped\ttest\t-\t5:q.png\n").encode()).hexdigest()
        empty = sourcefiles.parse_files((HEADER + "\n").encode(), "L", "test", names)
        self.assertEqual(sourcefiles.fingerprint(names, files, empty, skipped), expected)
        # Names are counted in UTF-8 bytes, not characters.
        one = sourcefiles.parse_files((HEADER + f"\n0,é.png,0,é,1,{'ab' * 32},1,1\n").encode(), "L", "train", ("é", "b"))
        self.assertEqual(sourcefiles.fingerprint(("é", "b"), one, empty),
                         hashlib.sha256(f"mixshards image files 1\nclass\t2:é\nclass\t1:b\ntrain\t0\t{'ab' * 32}\t6:é.png\n"
                                        .encode()).hexdigest())


if __name__ == "__main__":
    unittest.main()
