"""The manifest schema's validator reports what it should (manifests themselves are checked in test_directory)."""

import copy
import json
import unittest

from . import jsonschema_subset
from .support import SCHEMA

EXAMPLE_SHARD = {"file": "train/epoch-000/shard-00000.mxs", "samples": 3, "bytes": 200, "sha256": "ab" * 32}
STATS = {"samples": 3, "mixed": 1, "flipped": 2, "shifted": 1, "references": 2,
         "lambdaHistogram": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0], "labelMass": [1.5, 1.5]}
EXAMPLE = {
    "format": "MixShard", "formatVersion": 2, "tool": "mixshards 0.1.0", "seed": 0,
    "sourceCopy": dict(EXAMPLE_SHARD, file="source/train.mxs"),
    "pipeline": {"name": "x", "seed": 0, "dataset": {"path": "d", "train_limit": 0, "test_limit": 0},
                 "augment": {"crop_pad": 4, "flip": True},
                 "mix": {"mode": "sample", "p": 0.2, "alpha": 0.2, "block": 128, "smoothing": 0},
                 "shards": {"epochs": 1, "samples_per_shard": 5000, "samples_per_chunk": 256, "codec": "zlib",
                            "level": 1, "strategy": "rle", "filter": "delta", "provenance": True,
                            "references": True},
                 "train": {"epochs": 1, "batch": 128, "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                           "widths": [32, 64, 128, 256], "hidden": 256}},
    "source": {"name": "cifar10", "path": "d", "fingerprint": "cd" * 32, "classNames": ["a", "b"], "trainCount": 3,
               "testCount": 3, "channels": 3, "height": 32, "width": 32,
               "channelStats": {"mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616]}},
    "train": [{"epoch": 0, "shards": [EXAMPLE_SHARD], "stats": STATS}],
    "test": {"shards": [dict(EXAMPLE_SHARD, file="test/shard-00000.mxs")], "stats": STATS},
    "summary": STATS,
}


FILE_LIST = {"file": "source/train-files.csv", "samples": 3, "bytes": 300, "sha256": "ef" * 32}
#: A manifest of a directory made from image files, every optional key set.
IMAGE_FILES = copy.deepcopy(EXAMPLE)
IMAGE_FILES["pipeline"]["dataset"].update(size=[48, 64], resize="shorter", crop="center", resample="lanczos",
                                          classes=["b", "a"], test_fraction=0.25, split_seed=18446744073709551615,
                                          skip_bad=True)
IMAGE_FILES["source"].update(layout="one folder of classes", skippedFiles=2, files={
    "train": FILE_LIST, "test": dict(FILE_LIST, file="source/test-files.csv"),
    "skipped": dict(FILE_LIST, file="skipped-files.csv", samples=2),
    "libraries": {"libjpeg-turbo": "2.1.5", "libpng": "1.6.39", "libwebp": "1.2.4", "libswscale": "6.7.100"}})


class SchemaTests(unittest.TestCase):
    def setUp(self):
        self.schema = json.loads(SCHEMA.read_text())

    def assert_violations(self, example, cases):
        """Each (path, value, expected) case: ``example`` with the value at ``path`` has a problem
        containing ``expected``."""
        for path, value, expected in cases:
            m = copy.deepcopy(example)
            target = m
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            problems = jsonschema_subset.problems(m, self.schema)
            self.assertTrue(any(expected in p for p in problems), f"{expected!r} not in {problems}")

    def test_example_conforms(self):
        self.assertEqual(jsonschema_subset.problems(EXAMPLE, self.schema), [])
        # A v1 manifest: no augment, references, sourceCopy or v2 counts.
        v1 = copy.deepcopy(EXAMPLE)
        v1["formatVersion"] = 1
        del v1["sourceCopy"], v1["pipeline"]["augment"], v1["pipeline"]["shards"]["references"]
        for stats in (v1["summary"], v1["test"]["stats"], v1["train"][0]["stats"]):
            for key in ("flipped", "shifted", "references"):
                stats.pop(key, None)
        self.assertEqual(jsonschema_subset.problems(v1, self.schema), [])
        # A manifest made before mixprep recorded the channel statistics.
        old = copy.deepcopy(EXAMPLE)
        del old["source"]["channelStats"]
        self.assertEqual(jsonschema_subset.problems(old, self.schema), [])

    def test_violations(self):
        cases = [
            (("formatVersion",), 5, "$.formatVersion: 5 is not one of the allowed values"),
            (("sourceCopy", "file"), "source/test.mxs", "$.sourceCopy.file: must be 'source/train.mxs'"),
            (("pipeline", "augment", "crop_pad"), 1024, "$.pipeline.augment.crop_pad: 1024 violates maximum 1023"),
            (("pipeline", "augment", "flip"), 1, "$.pipeline.augment.flip: expected boolean"),
            (("pipeline", "shards", "references"), "auto", "$.pipeline.shards.references: expected boolean"),
            (("summary", "references"), -1, "$.summary.references: -1 violates minimum 0"),
            (("pipeline", "mix", "mode"), "mixup", "$.pipeline.mix.mode: 'mixup' is not one of"),
            (("pipeline", "shards", "provenance"), 1, "$.pipeline.shards.provenance: expected boolean"),
            (("pipeline", "mix", "p"), 1.5, "$.pipeline.mix.p: 1.5 violates maximum 1"),
            (("source", "fingerprint"), "xyz", "$.source.fingerprint: 'xyz' does not match"),
            (("test", "shards", 0, "file"), "../x.mxs", "$.test.shards[0].file"),
            (("summary", "lambdaHistogram"), [0] * 9, "$.summary.lambdaHistogram: 9 items"),
            (("source", "extra"), 1, "$.source: unexpected key extra"),
            (("source", "channelStats", "std"), [0.2, 0.6, 0.2], "$.source.channelStats.std[1]: 0.6 violates maximum 0.5"),
            (("source", "channelStats", "mean"), [0.2] * 5, "$.source.channelStats.mean: 5 items"),
            (("source", "channelStats", "scale"), [1], "$.source.channelStats: unexpected key scale"),
        ]
        self.assert_violations(EXAMPLE, cases)
        m = copy.deepcopy(EXAMPLE)
        del m["train"][0]["shards"][0]["sha256"]
        self.assertEqual(jsonschema_subset.problems(m, self.schema), ["$.train[0].shards[0]: missing required key sha256"])

    def test_image_files_example_conforms(self):
        self.assertEqual(jsonschema_subset.problems(IMAGE_FILES, self.schema), [])
        m = copy.deepcopy(IMAGE_FILES)
        m["pipeline"]["dataset"]["size"] = [32]
        del m["source"]["skippedFiles"], m["source"]["files"]["skipped"], m["pipeline"]["dataset"]["crop"]
        self.assertEqual(jsonschema_subset.problems(m, self.schema), [])

    def test_image_files_violations(self):
        cases = [
            (("pipeline", "dataset", "size"), [1, 2, 3], "$.pipeline.dataset.size: 3 items"),
            (("pipeline", "dataset", "size"), [], "$.pipeline.dataset.size: 0 items"),
            (("pipeline", "dataset", "size"), [1025], "$.pipeline.dataset.size[0]: 1025 violates maximum 1024"),
            (("pipeline", "dataset", "resize"), "fit", "$.pipeline.dataset.resize: 'fit' is not one of"),
            (("pipeline", "dataset", "crop"), "top", "$.pipeline.dataset.crop: 'top' is not one of"),
            (("pipeline", "dataset", "resample"), "nearest", "$.pipeline.dataset.resample: 'nearest' is not one of"),
            (("pipeline", "dataset", "classes"), [], "$.pipeline.dataset.classes: 0 items"),
            (("pipeline", "dataset", "classes"), ["a", ""], "$.pipeline.dataset.classes[1]: '' does not match"),
            (("pipeline", "dataset", "test_fraction"), 1, "$.pipeline.dataset.test_fraction: 1 violates exclusiveMaximum 1"),
            (("pipeline", "dataset", "test_fraction"), 0, "$.pipeline.dataset.test_fraction: 0 violates exclusiveMinimum 0"),
            (("pipeline", "dataset", "split_seed"), -1, "$.pipeline.dataset.split_seed: -1 violates minimum 0"),
            (("pipeline", "dataset", "skip_bad"), "yes", "$.pipeline.dataset.skip_bad: expected boolean"),
            (("pipeline", "dataset", "shuffle"), True, "$.pipeline.dataset: unexpected key shuffle"),
            (("source", "layout"), 1, "$.source.layout: expected string"),
            (("source", "skippedFiles"), 0, "$.source.skippedFiles: 0 violates minimum 1"),
            (("source", "files", "train", "file"), "source/test-files.csv", "$.source.files.train.file: must be 'source/train-files.csv'"),
            (("source", "files", "test", "file"), "test-files.csv", "$.source.files.test.file: must be 'source/test-files.csv'"),
            (("source", "files", "skipped", "file"), "source/skipped-files.csv", "$.source.files.skipped.file: must be"),
            (("source", "files", "train", "sha256"), "EF" * 32, "$.source.files.train.sha256: 'EFEF"),
            (("source", "files", "train", "samples"), 0, "$.source.files.train.samples: 0 violates minimum 1"),
            (("source", "files", "train", "rows"), 3, "$.source.files.train: unexpected key rows"),
            (("source", "files", "libraries", "libavif"), "1.0", "$.source.files.libraries: unexpected key libavif"),
            (("source", "files", "libraries", "libpng"), 1, "$.source.files.libraries.libpng: expected string"),
            (("source", "files", "extra"), {}, "$.source.files: unexpected key extra"),
        ]
        self.assert_violations(IMAGE_FILES, cases)
        for key in ("train", "test", "libraries"):
            m = copy.deepcopy(IMAGE_FILES)
            del m["source"]["files"][key]
            self.assertEqual(jsonschema_subset.problems(m, self.schema), [f"$.source.files: missing required key {key}"])

    def test_schema_uses_only_the_supported_keywords(self):
        for m in (EXAMPLE, IMAGE_FILES):
            self.assertNotIn("unsupported", " ".join(jsonschema_subset.problems(m, self.schema)))


class VersionTests(unittest.TestCase):
    def test_package_version_is_the_tools(self):
        """The Python package is released with the Swift tools: one version in pyproject, the package and Manifest.swift."""
        import re

        import mixshards
        from .support import REPO

        pyproject = (REPO / "python" / "pyproject.toml").read_text()
        swift = (REPO / "Sources" / "ShardStore" / "Manifest.swift").read_text()
        declared = re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1)
        tool = re.search(r'toolVersion = "mixshards ([^"]+)"', swift).group(1)
        self.assertEqual(mixshards.__version__, declared)
        self.assertEqual(declared, tool)
