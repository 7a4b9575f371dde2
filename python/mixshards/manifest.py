"""``manifest.json``: the table of contents of a complete shard directory.

The keys are specified by ``docs/manifest.schema.json``; this module checks
what a reader relies on (format and version, shape, class names, the shard
lists and their sample counts, the source copy, and for a directory made from
image files the file lists ``source.files``) and keeps the rest as parsed JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import fileio, layout, sourcefiles, wording
from .errors import ShardError

FILE_NAME = "manifest.json"
FORMAT_NAME = "MixShard"
#: The manifest versions this reader reads (those of the shards: v1 and v2).
FORMAT_VERSIONS = layout.READABLE_VERSIONS
#: The longest class name, in bytes of UTF-8 (Swift's ``MixCore.ClassNames.maxBytes``, mirrored).
MAX_CLASS_NAME_BYTES = 256
#: Source images of a split are numbered by u32 (provenance, shard sample counts).
MAX_COUNT = 0xFFFFFFFF
#: A larger manifest.json is refused before it is read: about 1.4 million shard entries (ImageNet in shards of
#: 1,000 samples over 30 epochs lists 38,000), and several times its size in memory once parsed.
MAX_MANIFEST_BYTES = 256 << 20


@dataclass(frozen=True)
class ShardEntry:
    """One shard file listed in the manifest."""

    #: Path relative to the shard directory.
    file: str
    samples: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class SourceFilesInfo:
    """``source.files`` of a directory made from image files: the file lists (entries
    like shard entries; ``samples`` counts data rows) and the decoding libraries."""

    #: ``source/train-files.csv``: ``trainCount`` rows.
    train: ShardEntry
    #: ``source/test-files.csv``: ``testCount`` rows.
    test: ShardEntry
    #: ``skipped-files.csv`` (``skippedFiles`` rows), when files were skipped.
    skipped: Optional[ShardEntry] = None
    #: Library name → version of the decoders and the resizer.
    libraries: dict = field(default_factory=dict)

    @property
    def entries(self) -> list[ShardEntry]:
        """Every list, in the order they are checked."""
        return [self.train, self.test] + ([self.skipped] if self.skipped else [])


@dataclass(frozen=True)
class Manifest:
    """A checked manifest. ``raw`` is the whole parsed JSON."""

    path: str
    raw: dict
    #: SHA-256 (hex) of the manifest bytes: identifies the exact shard set.
    sha256: str
    class_names: tuple[str, ...]
    #: ``(C, H, W)``.
    shape: tuple[int, int, int]
    #: Training shards per materialised epoch, in epoch-position order.
    train: tuple[tuple[ShardEntry, ...], ...]
    #: Test shards, in position order.
    test: tuple[ShardEntry, ...]
    #: ``formatVersion``: 1, 2 or 3.
    version: int = layout.VERSION
    #: v2: the source copy that reference samples point into (``source/train.mxs``), when there is one.
    source_copy: Optional[ShardEntry] = None
    #: Image files: the file lists (``source.files``); ``None`` for CIFAR records.
    source_files: Optional[SourceFilesInfo] = None
    #: ``source.channelStats`` as ``(mean, std)``, one float per channel: the training split's
    #: per-channel mean and population standard deviation of bytes/255, rounded to 4 decimals;
    #: ``None`` in a directory made before mixprep recorded them (see :mod:`mixshards.normalize`).
    channel_stats: Optional[tuple[tuple[float, ...], tuple[float, ...]]] = None

    @property
    def source(self) -> dict:
        return self.raw["source"]

    @property
    def pipeline(self) -> dict:
        return self.raw["pipeline"]

    @property
    def layout(self) -> Optional[str]:
        """Image files: how the folder was recognised (``source.layout``); ``None`` for CIFAR records."""
        return self.raw["source"].get("layout")

    @property
    def files(self) -> list[ShardEntry]:
        """Every shard file listed: the source copy, the training shards epoch by epoch, the test
        shards (not the file lists of :attr:`source_files`)."""
        return ([self.source_copy] if self.source_copy else []) + [s for e in self.train for s in e] + list(self.test)


def load(directory: str) -> Manifest:
    """Reads and checks ``DIRECTORY/manifest.json``; a missing one means an incomplete directory."""
    directory = str(directory)
    path = os.path.join(directory, FILE_NAME)
    if not os.path.isdir(directory):
        raise ShardError(f"{directory}: not a directory")
    if not os.path.exists(path):
        raise ShardError(f"{directory}: no {FILE_NAME}: not a shard directory, or an incomplete one "
                         "(finish it with `mixprep run` or `mixprep finalize`)")
    data = fileio.read_file(path, MAX_MANIFEST_BYTES, "manifest")
    too_deep = f"{path}: not valid JSON (arrays and objects nested deeper than {MAX_JSON_DEPTH} levels)"
    if json_depth(data) > MAX_JSON_DEPTH:
        raise ShardError(too_deep)
    try:
        raw = json.loads(data)
    except RecursionError:  # not reached after json_depth; kept in case a string confused it
        raise ShardError(too_deep) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ShardError(f"{path}: not valid JSON ({e})") from None
    return parse(raw, path, hashlib.sha256(data).hexdigest())


#: A manifest nests 6 levels deep (``source.files.train``, ``train[0].stats.lambdaHistogram``); deeper
#: JSON is refused before it is parsed (Python's parser raises RecursionError near 1,000).
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(data: bytes) -> int:
    """How deep arrays and objects nest in JSON text ``data`` (brackets inside strings ignored), in a few
    vectorised passes: the manifest of a large dataset is megabytes."""
    text = _JSON_STRING.sub(b'""', data)
    b = np.frombuffer(text, np.uint8)
    brackets = b[(b == ord("[")) | (b == ord("]")) | (b == ord("{")) | (b == ord("}"))]
    if not len(brackets):
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps, dtype=np.int64).max())


def parse(raw: Any, path: str, sha256: str = "") -> Manifest:
    """Checks a parsed manifest; errors name the file and the key."""
    def fail(what: str) -> ShardError:
        return ShardError(f"{path}: {what}")

    def get(obj: Any, key: str, kind, where: str):
        if not isinstance(obj, dict) or key not in obj:
            raise fail(f"missing key {where}{key}")
        v = obj[key]
        ok = isinstance(v, kind) and not (kind is int and isinstance(v, bool))
        if not ok:
            raise fail(f"{where}{key} has the wrong type ({type(v).__name__})")
        return v

    if not isinstance(raw, dict):
        raise fail("not a JSON object")
    fmt = get(raw, "format", str, "")
    version = get(raw, "formatVersion", int, "")
    if fmt != FORMAT_NAME or version not in FORMAT_VERSIONS:
        raise fail(f"format {fmt!r} version {version} is not supported "
                   f"(this reader reads {FORMAT_NAME} versions {wording.span(FORMAT_VERSIONS[0], FORMAT_VERSIONS[-1])})")
    source = get(raw, "source", dict, "")
    names = get(source, "classNames", list, "source.")
    if len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise fail("source.classNames must name at least 2 classes")
    for i, name in enumerate(names):
        try:
            n = len(name.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") is valid JSON, not text
            raise fail(f"source.classNames[{i}] is not valid Unicode text") from None
        # Swift's ClassNames.problem, word for word (a long name shown by its first 24 characters).
        if n == 0:
            raise fail(f"source.classNames[{i}] is empty; a class name is "
                       f"{wording.span(1, MAX_CLASS_NAME_BYTES)} bytes of UTF-8")
        if n > MAX_CLASS_NAME_BYTES:
            raise fail(f"source.classNames[{i}] {json.dumps(name[:24] + '…', ensure_ascii=False)} is {n:,} bytes long; "
                       f"a class name is {wording.span(1, MAX_CLASS_NAME_BYTES)} bytes of UTF-8")
    for key in ("name", "path", "fingerprint"):
        get(source, key, str, "source.")
    counts = {key: get(source, key, int, "source.") for key in ("trainCount", "testCount")}
    for key, n in counts.items():
        if not 0 <= n <= MAX_COUNT:
            raise fail(f"source.{key} {n:,} is out of range ({wording.span(0, MAX_COUNT)})")
    get(raw, "summary", dict, "")
    shape = tuple(get(source, k, int, "source.") for k in ("channels", "height", "width"))
    if not all(1 <= v <= 0xFFFF for v in shape):
        raise fail(f"source image shape {wording.image(*shape)} is out of range (each of channels, height "
                   f"and width {wording.span(1, 0xFFFF)})")
    get(raw, "pipeline", dict, "")

    def entry(s: Any, w: str) -> ShardEntry:
        e = ShardEntry(get(s, "file", str, w), get(s, "samples", int, w), get(s, "bytes", int, w),
                       get(s, "sha256", str, w))
        if e.samples < 1 or e.samples > MAX_COUNT or e.bytes < 0 or not _safe_relative(e.file):
            raise fail(f"{w}file {e.file!r} with {e.samples} samples and {e.bytes} bytes is not a valid shard entry")
        if not _SHA256.fullmatch(e.sha256):  # it is echoed in messages: never a newline in one
            raise fail(f"{w}sha256 {e.sha256[:80]!r} is not 64 lowercase hex digits")
        return e

    def entries(obj: Any, where: str) -> tuple[ShardEntry, ...]:
        shards = get(obj, "shards", list, where)
        if not shards:
            raise fail(f"{where}shards lists no shards")
        return tuple(entry(s, f"{where}shards[{i}].") for i, s in enumerate(shards))

    train_list = get(raw, "train", list, "")
    if not train_list:
        raise fail("lists no training epochs")
    train = []
    for e, epoch in enumerate(train_list):
        if get(epoch, "epoch", int, f"train[{e}].") != e:
            raise fail(f"train[{e}].epoch is {epoch['epoch']}, expected {e}")
        train.append(entries(epoch, f"train[{e}]."))
    test = entries(get(raw, "test", dict, ""), "test.")
    source_copy = None
    if "sourceCopy" in raw:
        if version < 2:
            raise fail("a version 1 manifest cannot list a sourceCopy")
        source_copy = entry(get(raw, "sourceCopy", dict, ""), "sourceCopy.")
    # Each file once (Swift's listingProblems): a shard listed twice would be read twice.
    seen = set()
    for s in ([source_copy] if source_copy else []) + [s for shards in train for s in shards] + list(test):
        if s.file in seen:
            raise fail(f"shard {s.file} is listed twice")
        seen.add(s.file)
    # Positions (DESIGN): shard s of a split holds positions s·S …, every shard full but the last, the split's
    # shards together its source count; so position k is found from the listed counts alone.
    for shards, where, key in [*((t, f"train[{e}].", "trainCount") for e, t in enumerate(train)),
                               (test, "test.", "testCount")]:
        total = sum(s.samples for s in shards)
        if total != counts[key]:
            raise fail(f"{where}shards hold {total:,} samples, source.{key} is {counts[key]:,}")
        full = shards[0].samples
        for i, s in enumerate(shards[1:-1], 1):
            if s.samples != full:
                raise fail(f"{where}shards[{i}] holds {s.samples:,} samples, not the {full:,} of shards[0]: "
                           "every shard but the last is full")
        if shards[-1].samples > full:
            raise fail(f"{where}shards[{len(shards) - 1}] holds {shards[-1].samples:,} samples, more than the "
                       f"{full:,} of shards[0]")
    if "layout" in source:
        get(source, "layout", str, "source.")
    source_files = None
    if "files" in source:
        files = get(source, "files", dict, "source.")
        counts = {"train": counts["trainCount"], "test": counts["testCount"]}
        if "skippedFiles" in source:
            counts["skipped"] = get(source, "skippedFiles", int, "source.")
        if ("skipped" in files) != ("skipped" in counts):
            raise fail("source.files.skipped and source.skippedFiles must be present together")
        lists = {}
        for key, name in (("train", sourcefiles.TRAIN_FILE), ("test", sourcefiles.TEST_FILE),
                          ("skipped", sourcefiles.SKIPPED_FILE)):
            if key not in counts:
                continue
            w = f"source.files.{key}."
            e = entry(get(files, key, dict, "source.files."), w)
            if e.file != name:
                raise fail(f"{w}file is {e.file!r}, expected {name!r}")
            if e.samples != counts[key]:
                what = {"train": "trainCount", "test": "testCount", "skipped": "skippedFiles"}[key]
                raise fail(f"{w}samples is {e.samples}, source.{what} is {counts[key]}")
            if e.bytes < 0 or not _SHA256.fullmatch(e.sha256):
                raise fail(f"{w}bytes {e.bytes} or sha256 {e.sha256!r} is not valid")
            lists[key] = e
        libraries = get(files, "libraries", dict, "source.files.")
        if not all(isinstance(v, str) for v in libraries.values()):
            raise fail("source.files.libraries must map library names to version strings")
        source_files = SourceFilesInfo(lists["train"], lists["test"], lists.get("skipped"), dict(libraries))
    elif "skippedFiles" in source:
        raise fail("source.skippedFiles without source.files")
    channel_stats = None
    if "channelStats" in source:
        stats = get(source, "channelStats", dict, "source.")
        figures = []
        for key, top in (("mean", 1), ("std", 0.5)):
            values = get(stats, key, list, "source.channelStats.")
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            if len(values) != shape[0] or not numbers or not all(0 <= v <= top for v in values):
                got = len(values) if len(values) != shape[0] else [float(v) for v in values] if numbers else values
                raise fail(f"source.channelStats.{key} must hold {shape[0]} number{'' if shape[0] == 1 else 's'} "
                           f"from 0 to {top}, one per channel (got {got})")
            figures.append(tuple(float(v) for v in values))
        channel_stats = (figures[0], figures[1])
    return Manifest(path, raw, sha256, tuple(names), shape, tuple(train), test, version, source_copy, source_files,
                    channel_stats)


_SHA256 = re.compile(r"[0-9a-f]{64}")


_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def _safe_relative(p: str) -> bool:
    """A relative path inside the directory, of safe names (Swift's ``FileIO.isSafeName`` for each
    component): ASCII letters, digits, ``.``, ``_`` and ``-``, not starting with ``.``; so no ``.``,
    ``..``, empty or hidden components, no absolute path, backslash or control character."""
    return all(_SAFE_NAME.fullmatch(part) for part in p.split("/"))
