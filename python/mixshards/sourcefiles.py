"""The files behind a shard directory made from image files.

``mixprep`` writes, beside the shards, ``source/train-files.csv`` and
``source/test-files.csv`` (RFC 4180, header
``index,path,label,class,bytes,sha256,width,height``; row k is the file behind
source image k of the split: the image a provenance primary or partner index k
names, and test position k) and, when files were skipped as undecodable
(``dataset.skip_bad``), ``skipped-files.csv`` (header ``split,path,sha256,reason``,
sha256 empty when the file could not be read). Paths are relative to the
dataset's folder (``source.path``); width and height are the original's upright
size, before any resize. ``manifest.json`` lists them under ``source.files``.

This module parses them strictly (errors name the file and the line) and
recomputes ``source.fingerprint`` from them (Swift's ``SourceFingerprint``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from array import array
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Sequence, Union, overload

from .errors import ShardError

TRAIN_FILE = "source/train-files.csv"
TEST_FILE = "source/test-files.csv"
SKIPPED_FILE = "skipped-files.csv"
#: The file list of each split, by split name.
SPLIT_FILES = {"train": TRAIN_FILE, "test": TEST_FILE}
HEADER = ("index", "path", "label", "class", "bytes", "sha256", "width", "height")
SKIPPED_HEADER = ("split", "path", "sha256", "reason")
#: The first line of the text whose SHA-256 is the fingerprint of an image-file source.
FINGERPRINT_TAG = "mixshards image files 1"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NUMBER = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class SourceFile:
    """One original image file: row k of a split's file list."""

    #: Relative to the dataset's folder (``source.path`` of the manifest).
    path: str
    label: int
    #: ``classes[label]``.
    class_name: str
    #: Size of the file.
    bytes: int
    #: SHA-256 (hex) of the file's bytes.
    sha256: str
    #: Upright size of the original (EXIF orientation applied), before any resize.
    width: int
    height: int


@dataclass(frozen=True)
class SkippedFile:
    """A file skipped as undecodable (``dataset.skip_bad``): a row of ``skipped-files.csv``."""

    #: ``"train"`` or ``"test"``.
    split: str
    #: Relative to the dataset's folder.
    path: str
    #: SHA-256 (hex) of the file's bytes, or ``None`` when it could not be read.
    sha256: Optional[str]
    #: The decoder's reason.
    reason: str


class SourceFiles(Sequence[SourceFile]):
    """A split's file list: a read-only sequence of :class:`SourceFile`, position k
    being the file behind source image k of the split.

    Stored by column (an ImageNet training list is 1.28 M rows): ``files[k]`` builds
    the :class:`SourceFile`; :attr:`paths` and :attr:`labels` give whole columns.
    """

    def __init__(self, split: str, class_names: Sequence[str], paths: list[str], labels: array, sizes: array,
                 digests: bytes, widths: array, heights: array):
        #: ``"train"`` or ``"test"``.
        self.split = split
        self._classes = tuple(class_names)
        #: Every path, in position order.
        self.paths: list[str] = paths
        #: Every label, in position order (``array('i')``).
        self.labels = labels
        self._sizes, self._digests, self._widths, self._heights = sizes, digests, widths, heights

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, k: int) -> SourceFile: ...

    @overload
    def __getitem__(self, k: slice) -> list[SourceFile]: ...

    def __getitem__(self, k: Union[int, slice]):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if isinstance(k, bool) or not hasattr(k, "__index__"):
            raise TypeError("file list positions are integers")
        k = k.__index__()
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"position {k} out of range for the {n} {self.split} files")
        label = self.labels[k]
        return SourceFile(self.paths[k], label, self._classes[label], self._sizes[k],
                          self._digests[32 * k:32 * k + 32].hex(), self._widths[k], self._heights[k])

    def __iter__(self) -> Iterator[SourceFile]:
        return (self[k] for k in range(len(self)))

    def __eq__(self, other) -> bool:
        if isinstance(other, SourceFiles):
            return (self.split, self._classes, self.paths, self.labels, self._sizes, self._digests, self._widths,
                    self._heights) == (other.split, other._classes, other.paths, other.labels, other._sizes,
                                       other._digests, other._widths, other._heights)
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<mixshards.SourceFiles {self.split}: {len(self)} files>"

    def fingerprint_lines(self) -> Iterator[str]:
        """This list's lines of the fingerprint text: ``<split>\\t<label>\\t<sha256>\\t<n>:<path>``."""
        for k, path in enumerate(self.paths):
            yield f"{self.split}\t{self.labels[k]}\t{self._digests[32 * k:32 * k + 32].hex()}\t{_counted(path)}\n"


def _counted(text: str) -> str:
    return f"{len(text.encode('utf-8'))}:{text}"


def fingerprint(class_names: Sequence[str], train: SourceFiles, test: SourceFiles,
                skipped: Iterable[SkippedFile] = ()) -> str:
    """``source.fingerprint`` of an image-file source: SHA-256 (hex) of the UTF-8 text
    ``mixshards image files 1``, ``class\\t<n>:<name>`` per class in label order,
    ``<split>\\t<label>\\t<sha256>\\t<n>:<path>`` per file (train, then test, in position
    order), ``skipped\\t<split>\\t<sha256 or ->\\t<n>:<path>`` per skipped file, each line
    ending in LF; ``<n>`` is the UTF-8 byte count of the name or path that follows."""
    h = hashlib.sha256()
    h.update((FINGERPRINT_TAG + "\n").encode())
    for name in class_names:
        h.update(f"class\t{_counted(name)}\n".encode("utf-8"))
    for files in (train, test):
        batch: list[str] = []
        for line in files.fingerprint_lines():
            batch.append(line)
            if len(batch) == 4096:
                h.update("".join(batch).encode("utf-8"))
                batch.clear()
        h.update("".join(batch).encode("utf-8"))
    for s in skipped:
        h.update(f"skipped\t{s.split}\t{s.sha256 or '-'}\t{_counted(s.path)}\n".encode("utf-8"))
    return h.hexdigest()


def _rows(data: bytes, name: str, header: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of every data row of a file list, after its header (which must
    be ``header``), each with the header's number of fields; errors name ``name`` and the line."""
    # Decoded as it is read (a StringIO of the whole text would take 4 bytes a character).
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""), strict=True)
    line = 1
    try:
        first = next(reader, None)
        if first is None or tuple(first) != header:
            raise ShardError(f"{name}: line 1: the header is not {','.join(header)}")
        while True:
            line = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                return
            if len(fields) != len(header):
                raise ShardError(f"{name}: line {line}: {len(fields)} fields, the header has {len(header)}")
            yield line, fields
    except csv.Error as e:
        raise ShardError(f"{name}: line {line}: not valid CSV ({e})") from None
    except UnicodeDecodeError:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
        raise ShardError(f"{name}: line {line}: not UTF-8 text") from None


def _path_problem(path: str) -> Optional[str]:
    if not path:
        return "empty path"
    if path.startswith("/") or "\0" in path:
        return f"path {path!r} is not relative to the dataset's folder"
    return None


def parse_files(data: bytes, name: str, split: str, class_names: Sequence[str]) -> SourceFiles:
    """A split's file list (``source/train-files.csv`` or ``source/test-files.csv``), each
    row checked: its own index (0, 1, …), a relative path, a label below the number of
    classes whose name is in the ``class`` column, a decimal size, a 64-digit lowercase
    hex SHA-256, and a width and height ≥ 1. ``name`` names the file in errors."""
    paths: list[str] = []
    labels, sizes, widths, heights = array("i"), array("q"), array("q"), array("q")
    digests = bytearray()
    classes = len(class_names)
    for k, (line, f) in enumerate(_rows(data, name, HEADER)):
        # One match for the numeric columns; the slow path below says what is wrong.
        m = _NUMERIC_COLUMNS.fullmatch(f"{f[0]}\0{f[2]}\0{f[4]}\0{f[5]}\0{f[6]}\0{f[7]}")
        label = int(f[2]) if m else -1
        if (not m or f[0] != str(k) or label >= classes or f[3] != class_names[label] or not f[1]
                or f[1][0] == "/" or "\0" in f[1]):
            raise ShardError(f"{name}: line {line}: {_row_problem(k, f, class_names)}")
        paths.append(f[1])
        labels.append(label)
        sizes.append(int(f[4]))
        digests += bytes.fromhex(f[5])
        widths.append(int(f[6]))
        heights.append(int(f[7]))
    return SourceFiles(split, class_names, paths, labels, sizes, bytes(digests), widths, heights)


_NUMERIC_COLUMNS = re.compile(r"(?:0|[1-9][0-9]*)\0(?:0|[1-9][0-9]*)\0(?:0|[1-9][0-9]*)\0[0-9a-f]{64}\0[1-9][0-9]*\0[1-9][0-9]*")


def _row_problem(k: int, f: list[str], class_names: Sequence[str]) -> str:
    """What is wrong with row ``k`` (fields ``f``) of a file list."""
    if f[0] != str(k):
        return f"index {f[0]!r}, expected {k} (rows are numbered 0, 1, … in order)"
    problem = _path_problem(f[1])
    if problem:
        return problem
    classes = len(class_names)
    if not _NUMBER.fullmatch(f[2]) or int(f[2]) >= classes:
        return f"label {f[2]!r} is not a class number from 0 to {classes - 1:,}"
    label = int(f[2])
    if f[3] != class_names[label]:
        return f"class {f[3]!r} is not the name of label {label} ({class_names[label]!r})"
    if not _NUMBER.fullmatch(f[4]):
        return f"bytes {f[4]!r} is not a size"
    if not _SHA256.fullmatch(f[5]):
        return f"sha256 {f[5]!r} is not 64 lowercase hex digits"
    for key, v in (("width", f[6]), ("height", f[7])):
        if not _NUMBER.fullmatch(v) or v == "0":
            return f"{key} {v!r} is not a size of at least 1"
    return "not a row of a file list"  # not reached


def parse_skipped(data: bytes, name: str) -> tuple[SkippedFile, ...]:
    """``skipped-files.csv``, each row checked: split train or test, a relative path, an
    empty or 64-digit lowercase hex SHA-256."""
    out = []
    for line, (split, path, sha256, reason) in _rows(data, name, SKIPPED_HEADER):
        def bad(what: str) -> ShardError:
            return ShardError(f"{name}: line {line}: {what}")
        if split not in SPLIT_FILES:
            raise bad(f"split {split!r} is not train or test")
        problem = _path_problem(path)
        if problem:
            raise bad(problem)
        if sha256 and not _SHA256.fullmatch(sha256):
            raise bad(f"sha256 {sha256!r} is neither empty nor 64 lowercase hex digits")
        out.append(SkippedFile(split, path, sha256 or None, reason))
    return tuple(out)
