"""Seeded mutation fuzzing of the Python reader (a tool, not a unit test, and not installed).

    python3 python/tests/fuzz_reader.py --seconds 600 --seed 1 --out /tmp/fuzz [--seed-dir DIR ...]
    python3 python/tests/fuzz_reader.py --seed 1 --out /tmp/fuzz --replay 1234      # one case, in this process

Seeds: small shard directories that ``mixprep`` makes here (v2 with references, crops and flips, zlib and
delta; uncompressed without provenance; cutmix stored as pixels; one made from image files, with file lists),
any ``--seed-dir`` (e.g. ``mixprep run pipelines/quickstart.toml --out DIR``), and the golden shards of
``Tests/ShardFormatTests/Golden`` as lone files. Without ``mixprep`` built, the golden shards only.

Each case copies one seed, mutates one of its files — the manifest (bytes, or a JSON value replaced, a key
removed, a list entry duplicated, dropped or swapped, deep nesting), a shard or the source copy (bits, bytes,
interesting integers in header, index and footer fields, truncation, insertion, deletion, splices; most with
the CRCs recomputed, and payload edits — labels, provenance records, pixels, counts — re-encoded into a
self-consistent file so they reach the checks behind the checksums), a file list, or the file's kind (a FIFO,
a directory, a link to /dev/zero, a sparse 4 GiB extension) — and runs, in a worker process under
``RLIMIT_AS`` (``--memory``, 1 GiB) and a per-case timeout (``--timeout``, 10 s): ``python -m mixshards
verify`` and ``inspect --samples`` (their ``main``, stdout and stderr captured), and ``mixshards.open`` with
every epoch, one cycled epoch and the test split read in batches and at a few positions (and the files
behind samples, where listed). Lone shards: ``ShardFile`` and ``SourceImages`` read whole, and ``inspect``.

A case is **ok** (everything read), a **named error** (refused: every error one line starting with a path in
the case's directory, the CLI exiting 1 with ``error: …`` lines), a **traceback** (any other exception, or a
CLI that printed something else), **hang** (over the timeout), **memory** (MemoryError, or the worker killed
by the limit), **crash** (the worker died by a signal) or **other** (a ShardError that names no file, or
verify passing a directory that the reader refuses). The same ``--seed`` gives the same cases. Failing
inputs are copied to ``OUT/failures/<class>-case<N>/`` with ``details.txt``; the summary table is printed at
the end (exit 1 when anything but ok and named errors was seen).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
import warnings
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = HERE.parent
REPO = PYTHON.parent
GOLDEN = REPO / "Tests" / "ShardFormatTests" / "Golden"
MINI = REPO / "data" / "cifar10-mini"
FOLDERS = REPO / "Tests" / "DatasetsTests" / "Fixtures" / "layouts" / "folders"
CLASSES = ("ok", "named error", "traceback", "hang", "memory", "crash", "other")

# ----------------------------------------------------------------------------------------------- seeds

SEED_PIPELINES = {
    "refs": """
        [dataset]
        path = "{mini}"
        train_limit = 60
        test_limit = 20
        [augment]
        crop_pad = 4
        flip = true
        [mix]
        mode = "sample"
        p = 0.4
        alpha = 0.5
        [shards]
        epochs = 2
        samples_per_shard = 40
        samples_per_chunk = 16
        references = true
        """,
    "plain": """
        [dataset]
        path = "{mini}"
        train_limit = 50
        test_limit = 20
        [mix]
        mode = "none"
        [shards]
        epochs = 1
        samples_per_shard = 30
        samples_per_chunk = 8
        codec = "none"
        filter = "none"
        provenance = false
        """,
    "cutmix": """
        [dataset]
        path = "{mini}"
        train_limit = 40
        test_limit = 10
        [augment]
        crop_pad = 2
        flip = true
        [mix]
        mode = "cutmix"
        p = 0.7
        alpha = 1.0
        [shards]
        epochs = 2
        samples_per_shard = 25
        samples_per_chunk = 10
        codec = "none"
        references = false
        """,
    "images": """
        [dataset]
        path = "{folders}"
        size = 8
        resize = "stretch"
        [mix]
        mode = "sample"
        p = 0.5
        alpha = 1.0
        [shards]
        epochs = 2
        samples_per_shard = 4
        samples_per_chunk = 3
        """,
}


def find_mixprep() -> str | None:
    candidates = [Path(os.environ["MIXSHARDS_BIN"]) / "mixprep"] if os.environ.get("MIXSHARDS_BIN") else []
    candidates += [REPO / ".build" / "release" / "mixprep", REPO / ".build" / "debug" / "mixprep"]
    return next((str(c) for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def make_seeds(out: Path, extra: list[str]) -> list[tuple[str, Path]]:
    """``[(kind, path)]``: ``("dir", shard directory)`` and ``("shard", golden file)``."""
    seeds: list[tuple[str, Path]] = []
    exe = find_mixprep()
    if exe is None:
        print("mixprep is not built: fuzzing the golden shards only (swift build for directories)", file=sys.stderr)
    else:
        for name, text in SEED_PIPELINES.items():
            d = out / "seeds" / name
            if not (d / "manifest.json").exists():
                d.parent.mkdir(parents=True, exist_ok=True)
                pipeline = out / "seeds" / f"{name}.toml"
                body = "\n".join(line.strip() for line in text.format(mini=MINI, folders=FOLDERS).splitlines())
                pipeline.write_text(f'name = "{name}"\nseed = 7\n{body}\n')
                r = subprocess.run([exe, "run", str(pipeline), "--out", str(d), "--quiet"], capture_output=True,
                                   text=True)
                if r.returncode != 0:
                    raise SystemExit(f"mixprep run {pipeline} failed: {r.stderr.strip()}")
                for junk in (".mixprep.lock", "prep.json"):
                    (d / junk).unlink(missing_ok=True)
            seeds.append(("dir", d))
    for d in extra:
        seeds.append(("dir", Path(d).resolve()))
    seeds += [("shard", p) for p in sorted(GOLDEN.glob("*.mxs"))]
    return seeds


# ----------------------------------------------------------------------------------------------- mutations

INTERESTING = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 1025, 4095, 4096,
               32767, 32768, 65535, 65536, 65537, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 63,
               2 ** 64 - 1]
FLOATS = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1.0, 0.5, 2.0, -1.0, 1.0001, 0.9999, 3.4e38, 1e-45,
          0.25]
HEADER_FIELDS = [(8, 2), (10, 2), (12, 4), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (34, 2), (36, 1),
                 (37, 1), (38, 1), (39, 1), (40, 1), (41, 1), (48, 4), (52, 4), (56, 4)]
INDEX_FIELDS = [(0, 8), (8, 4), (12, 4), (16, 4), (20, 4), (24, 4), (28, 4)]
FOOTER_FIELDS = [(0, 8), (8, 4), (12, 4), (16, 4), (20, 4)]


def put(b: bytearray, offset: int, width: int, value: int) -> None:
    if 0 <= offset and offset + width <= len(b):
        b[offset:offset + width] = (value % (1 << (8 * width))).to_bytes(width, "little")


def get(b: bytes, offset: int, width: int) -> int:
    return int.from_bytes(b[offset:offset + width], "little") if 0 <= offset and offset + width <= len(b) else 0


def interesting(rng: random.Random, width: int, old: int) -> int:
    """An interesting unsigned value of ``width`` bytes (or ``old`` nudged)."""
    if rng.random() < 0.3:
        v = old + rng.choice([-1, 1, -2, 2, 16, -16, 1 << 8 * width - 1])
    else:
        v = rng.choice(INTERESTING) if rng.random() < 0.8 else rng.getrandbits(8 * width)
    return v % (1 << 8 * width)


def mutate_bytes(b: bytearray, rng: random.Random, donors: list[bytes], stack: int = 3) -> None:
    """Generic mutations: bits, bytes, interesting integers, truncation, insertion, deletion, splices."""
    for _ in range(rng.randint(1, stack)):
        n = len(b)
        op = rng.randrange(9)
        if n == 0:
            op = 4
        if op == 0:
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(n)] = rng.choice([0, 0xFF, 0x7F, 0x80, 1, rng.randrange(256)])
        elif op == 2:
            width = rng.choice([2, 4, 8])
            at = rng.randrange(max(1, n - width + 1)) & ~(width - 1) if rng.random() < 0.7 else rng.randrange(n)
            put(b, at, width, interesting(rng, width, get(b, at, width)))
        elif op == 3:
            del b[rng.choice([rng.randrange(n), n - rng.randint(1, min(n, 64)), rng.randrange(min(n, 128))]):]
        elif op == 4:
            at = rng.randint(0, n)
            b[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        elif op == 5:
            a = rng.randrange(n)
            del b[a:a + rng.randint(1, 256)]
        elif op == 6:
            a = rng.randrange(n)
            piece = b[a:a + rng.randint(1, 512)]
            at = rng.randint(0, len(b))
            b[at:at] = piece
        elif op == 7 and donors:
            d = rng.choice(donors)
            if d:
                a = rng.randrange(len(d))
                piece = d[a:a + rng.randint(1, 256)]
                at = rng.randrange(n)
                b[at:at + len(piece)] = piece
        else:
            b += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 128)))


class Shard:
    """A shard file taken apart: header, chunks (stored bytes), index entries, for re-encoding."""

    def __init__(self, data: bytes):
        if len(data) < 96 or data[:8] != b"MIXSHRD1" or data[-8:] != b"MIXSHEND":
            raise ValueError("not a shard")
        self.header = bytearray(data[:64])
        io_, n = struct.unpack_from("<QI", data, len(data) - 32)
        if io_ + 32 * n + 32 != len(data):
            raise ValueError("inconsistent")
        self.entries = [list(struct.unpack_from("<QIIIIII", data, io_ + 32 * i)) for i in range(n)]
        self.chunks = [bytearray(data[e[0]:e[0] + e[1]]) for e in self.entries]
        self.footer_rest = data[-12:-8]  # reserved u32

    @property
    def codec(self) -> int:
        return self.header[38]

    @property
    def delta(self) -> bool:
        return self.header[39] == 1

    def shape(self) -> tuple[int, int, int]:
        c, h, w, k = struct.unpack_from("<4H", self.header, 28)
        return c, h, w

    def raw(self, i: int) -> bytearray | None:
        """Chunk i's payload before filter and compression (None when it does not decode)."""
        data = bytes(self.chunks[i])
        if self.codec == 1:
            try:
                data = zlib.decompress(data)
            except zlib.error:
                return None
        out = bytearray(data)
        if self.delta:
            c, h, w = self.shape()
            m = self.entries[i][6] if self.header[8] >= 2 else self.entries[i][4]
            region = min(len(out), m * c * h * w)
            for row in range(0, region - region % max(w, 1), max(w, 1)):
                for x in range(1, w):
                    out[row + x] = (out[row + x] + out[row + x - 1]) & 0xFF
        return out

    def set_raw(self, i: int, raw: bytearray) -> None:
        """Stores ``raw`` as chunk i: CRC, filter, compression and sizes made consistent."""
        e = self.entries[i]
        e[5] = zlib.crc32(bytes(raw))
        e[2] = len(raw)
        out = bytearray(raw)
        if self.delta:
            c, h, w = self.shape()
            m = e[6] if self.header[8] >= 2 else e[4]
            region = min(len(out), m * c * h * w)
            for row in range(0, region - region % max(w, 1), max(w, 1)):
                for x in range(w - 1, 0, -1):
                    out[row + x] = (raw[row + x] - raw[row + x - 1]) & 0xFF
        self.chunks[i] = bytearray(zlib.compress(bytes(out), 6)) if self.codec == 1 else out

    def encode(self, fix: bool = True) -> bytes:
        """The file; with ``fix``, offsets, sizes, first samples, the header's counts and every CRC made consistent."""
        if fix:
            first = 0
            for e in self.entries:
                e[3], first = first, first + e[4]
            put(self.header, 16, 4, first)
            put(self.header, 20, 4, len(self.entries))
        out = bytearray(self.header)
        for e, c in zip(self.entries, self.chunks):
            if fix:
                e[0], e[1] = len(out), len(c)
            out += c
        index = b"".join(struct.pack("<QIIIIII", *(v % (1 << (64 if j == 0 else 32)) for j, v in enumerate(e)))
                         for e in self.entries)
        io_ = len(out)
        out += index
        n = struct.unpack_from("<I", self.header, 20)[0] if not fix else len(self.entries)
        samples = struct.unpack_from("<I", self.header, 16)[0]
        out += struct.pack("<QIII", io_, n, zlib.crc32(index), samples) + self.footer_rest + b"MIXSHEND"
        if fix:
            put(out, 60, 4, zlib.crc32(bytes(out[:60])))
        return bytes(out)


def fix_checksums(b: bytearray) -> None:
    """Header CRC, and the index CRC where the footer's numbers place the index inside the file."""
    if len(b) >= 64:
        put(b, 60, 4, zlib.crc32(bytes(b[:60])))
    if len(b) >= 96:
        io_, n = struct.unpack_from("<QI", b, len(b) - 32)
        if 64 <= io_ and io_ + 32 * n <= len(b) - 32:
            put(b, len(b) - 20, 4, zlib.crc32(bytes(b[io_:io_ + 32 * n])))


def mutate_payload(s: Shard, rng: random.Random) -> None:
    """A payload-level edit of one chunk, re-encoded consistently: labels, provenance, pixels, counts."""
    if not s.chunks:
        return
    i = rng.randrange(len(s.chunks))
    raw = s.raw(i)
    if raw is None:
        return
    version = s.header[8]
    c, h, w = s.shape()
    k = struct.unpack_from("<H", s.header, 34)[0]
    n, m = s.entries[i][4], (s.entries[i][6] if version >= 2 else s.entries[i][4])
    images = max(0, m) * c * h * w
    sparse = s.header[37] == 2                                 # v3 sparse label records, 12 bytes a sample
    labels = images + (12 * n if sparse else 4 * n * k)
    record = 32 if version >= 2 else 12
    op = rng.randrange(8)
    if op == 0 and n and k and not sparse:                     # a label float
        at = images + 4 * rng.randrange(n * k)
        struct.pack_into("<f", raw, at, rng.choice(FLOATS)) if at + 4 <= len(raw) else None
    elif op == 0 and n and sparse and len(raw) >= labels:      # a sparse label record's class or weight
        r = images + 12 * rng.randrange(n)
        field = rng.randrange(3)
        if field == 2:
            struct.pack_into("<f", raw, r + 8, rng.choice(FLOATS))
        else:
            put(raw, r + 4 * field, 4, rng.choice([k, k - 1, k + 1, 0, interesting(rng, 4, get(raw, r + 4 * field, 4))]))
    elif op == 7:                                              # the v3 label smoothing (reserved before) or label type
        if rng.random() < 0.7:
            struct.pack_into("<f", s.header, 56, rng.choice(FLOATS + [0.1, 1e-8]))
        else:
            s.header[37] = rng.randrange(4)
    elif op == 1 and n and len(raw) >= labels + record * n:    # a provenance field
        r = labels + record * rng.randrange(n)
        fields = [(0, 4), (4, 4), (8, 4)] + ([(12, 1), (13, 1), (14, 2), (16, 2), (18, 2), (20, 2), (22, 2), (24, 2),
                                               (26, 2), (28, 2), (30, 2)] if version >= 2 else [])
        at, width = rng.choice(fields)
        if at == 8:
            struct.pack_into("<f", raw, r + 8, rng.choice(FLOATS))
        elif at == 13:
            raw[r + 13] ^= 1 << rng.randrange(8)
        else:
            put(raw, r + at, width, interesting(rng, width, get(raw, r + at, width)))
    elif op == 2 and min(images, len(raw)) > 0:                # pixels (harmless, but re-filtered)
        for _ in range(rng.randint(1, 16)):
            raw[rng.randrange(min(images, len(raw)))] = rng.randrange(256)
    elif op == 3:                                              # payload length
        if rng.random() < 0.5:
            del raw[rng.randrange(len(raw) + 1):]
        else:
            raw += bytes(rng.randint(1, 64))
    elif op == 4 and version >= 2 and n and len(raw) >= labels + 32 * n:   # a record made (or unmade) a reference
        r = labels + 32 * rng.randrange(n)
        raw[r + 13] ^= 4
        if rng.random() < 0.5:
            s.entries[i][6] += 1 if raw[r + 13] & 4 == 0 else -1
    elif op == 5:                                              # an index count, the payload left as is
        j = rng.choice([2, 3, 4, 6])
        s.entries[i][j] = interesting(rng, 4, s.entries[i][j])
        s.set_raw(i, raw)
        s.entries[i][2] = len(raw) if j != 2 else s.entries[i][2]
        return
    else:                                                      # chunks dropped or duplicated
        if rng.random() < 0.5 and len(s.chunks) > 1:
            j = rng.randrange(len(s.chunks))
            del s.chunks[j], s.entries[j]
        else:
            s.chunks.append(bytearray(s.chunks[i]))
            s.entries.append(list(s.entries[i]))
        return
    s.set_raw(i, raw)


def mutate_shard(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    b = bytearray(data)
    op = rng.randrange(20)
    if op < 5:
        mutate_bytes(b, rng, donors)
        if rng.random() < 0.85:
            fix_checksums(b)
    elif op < 10:
        for _ in range(rng.randint(1, 3)):
            where = rng.randrange(3)
            if where == 0 or len(b) < 96:
                at, width = rng.choice(HEADER_FIELDS)
            elif where == 1:
                io_, n = struct.unpack_from("<QI", b, len(b) - 32)
                if not (64 <= io_ and n and io_ + 32 * n <= len(b) - 32):
                    continue
                f, width = rng.choice(INDEX_FIELDS)
                at = io_ + 32 * rng.randrange(n) + f
            else:
                f, width = rng.choice(FOOTER_FIELDS)
                at = len(b) - 32 + f
            put(b, at, width, interesting(rng, width, get(b, at, width)))
        fix_checksums(b)
    elif op < 18:
        try:
            s = Shard(data)
        except (ValueError, struct.error):
            mutate_bytes(b, rng, donors)
            return bytes(b)
        try:
            for _ in range(rng.randint(1, 2)):
                mutate_payload(s, rng)
            b = bytearray(s.encode(fix=rng.random() < 0.9))
        except (ValueError, IndexError, struct.error, OverflowError):   # a count the edit made absurd
            mutate_bytes(b, rng, donors)
            return bytes(b)
        if rng.random() < 0.15:
            at, width = rng.choice(HEADER_FIELDS)
            put(b, at, width, interesting(rng, width, get(b, at, width)))
            fix_checksums(b)
    else:
        other = rng.choice(donors) if donors else data
        if len(b) >= 64 and len(other) >= 64:
            b[:64] = other[:64]
        mutate_bytes(b, rng, donors, stack=2)
        fix_checksums(b)
    return bytes(b)


DEEP = "[" * 100_000 + "]" * 100_000


def json_values(rng: random.Random, old):
    """An interesting replacement for a JSON value."""
    choices = [None, True, False, 0, -1, 1, 2, 2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 63, 10 ** 30, -(2 ** 63), 1.5,
               float("nan"), float("inf"), -0.0, 1e308, "", "x" * 300, "é" * 129, "\ud800", "../../etc/passwd",
               "/etc/passwd", "train/../train/epoch-000/shard-00000.mxs", "train/epoch-000/shard-00000.mxs",
               "source/train.mxs", "0" * 64, [], {}, [old], {"x": old}]
    if isinstance(old, bool):
        return not old if rng.random() < 0.5 else rng.choice(choices)
    if isinstance(old, int):
        return rng.choice([old + 1, old - 1, old * 2, old // 2, -old, old * 1_000_000, rng.choice(choices)])
    if isinstance(old, float):
        return rng.choice([old * 2, -old, old + 1e-7, rng.choice(choices)])
    if isinstance(old, str) and old and rng.random() < 0.4:
        i = rng.randrange(len(old))
        return old[:i] + rng.choice(["", "/", "..", "\x00", "\n", "é", "0", "9", "-", "."]) + old[i + 1:]
    return rng.choice(choices)


def mutate_json(data: bytes, rng: random.Random) -> bytes:
    try:
        m = json.loads(data)
    except ValueError:
        b = bytearray(data)
        mutate_bytes(b, rng, [])
        return bytes(b)
    for _ in range(rng.randint(1, 3)):
        # A random path to a value.
        parent, key, node = None, None, m
        depth = rng.randint(0, 6)
        for _ in range(depth):
            if isinstance(node, dict) and node:
                k = rng.choice(sorted(node))
            elif isinstance(node, list) and node:
                k = rng.randrange(len(node))
            else:
                break
            parent, key, node = node, k, node[k]
        op = rng.randrange(5) if rng.random() < 0.96 else 5      # 5: deep nesting, rarely (it masks the rest)
        if parent is None:
            if op == 0:
                m = json_values(rng, m)
            continue
        if op <= 2:
            parent[key] = json_values(rng, node)
        elif op == 3 and isinstance(parent, dict):
            del parent[key]
        elif op == 3:
            parent.insert(key, parent[key])                    # a list entry duplicated
        elif op == 4 and isinstance(parent, list) and len(parent) > 1:
            j = rng.randrange(len(parent))
            parent[key], parent[j] = parent[j], parent[key]
        elif op == 4 and isinstance(parent, list):
            parent.pop(key)
        elif op == 4:
            parent[key + "x"] = node                           # an unknown key beside a known one
        else:
            parent[key] = "__DEEP__"
    text = json.dumps(m, indent=2, sort_keys=True, allow_nan=True)
    return text.replace('"__DEEP__"', DEEP).encode("utf-8", "surrogatepass")


def mutate_csv(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    op = rng.randrange(4)
    if op == 0 and len(lines) > 2:
        i = rng.randrange(1, len(lines) - 1)
        lines.insert(i, lines[i])
    elif op == 1 and len(lines) > 2:
        i = rng.randrange(1, len(lines) - 1)
        fields = lines[i].split(b",")
        j = rng.randrange(len(fields))
        fields[j] = rng.choice([b"", b"-1", b"99999999999999999999", b'"x', b"../x", b"/abs", b"\xff\xfe", b"0" * 64,
                                fields[j] + b"0"])
        lines[i] = b",".join(fields)
    else:
        b = bytearray(data)
        mutate_bytes(b, rng, [])
        return bytes(b)
    return b"\n".join(lines)


def mutate_kind(path: Path, rng: random.Random) -> str:
    """Replaces (or extends) the file with something that is not what it should be."""
    op = rng.randrange(5)
    if op == 4:
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size + (4 << 30))          # sparse: 4 GiB more, no disk used
        return "sparse 4 GiB extension"
    path.unlink()
    if op == 0:
        os.mkfifo(path)
        return "FIFO"
    if op == 1:
        path.mkdir()
        return "directory"
    if op == 2:
        path.symlink_to("/dev/zero")
        return "link to /dev/zero"
    path.symlink_to(path.name)
    return "link to itself"


def make_case(rng: random.Random, seeds: list[tuple[str, Path]], case_dir: Path,
              donors: list[bytes]) -> tuple[str, str, Path]:
    """Writes case ``case_dir`` (a mutated copy of a seed); returns (target kind, description, path read)."""
    dirs = [s for s in seeds if s[0] == "dir"]
    lone = [s for s in seeds if s[0] == "shard"]
    kind, seed = rng.choice(dirs if dirs and (not lone or rng.random() < 0.75) else lone)
    shutil.rmtree(case_dir, ignore_errors=True)                # FIFOs and links are unlinked, never followed
    if kind == "shard":
        shard = case_dir / "train" / "epoch-000" / "shard-00000.mxs"
        shard.parent.mkdir(parents=True)
        shard.write_bytes(mutate_shard(seed.read_bytes(), rng, donors))
        return "golden shard", seed.name, shard
    shutil.copytree(seed, case_dir, symlinks=True)
    files = sorted(p.relative_to(case_dir).as_posix() for p in case_dir.rglob("*") if p.is_file())
    shards = [f for f in files if f.endswith(".mxs") and f != "source/train.mxs"]
    lists = [f for f in files if f.endswith(".csv")]
    r = rng.random()
    if r < 0.35:
        target, name = "manifest", "manifest.json"
    elif r < 0.45 and "source/train.mxs" in files:
        target, name = "source copy", "source/train.mxs"
    elif r < 0.52 and lists:
        target, name = "file list", rng.choice(lists)
    elif r < 0.56:
        target, name = "file kind", rng.choice(["manifest.json"] + files)
    else:
        target, name = "shard", rng.choice(shards)
    path = case_dir / name
    if target == "file kind":
        what = mutate_kind(path, rng)
    elif target == "manifest":
        data = path.read_bytes()
        if rng.random() < 0.7:
            path.write_bytes(mutate_json(data, rng))
        else:
            b = bytearray(data)
            mutate_bytes(b, rng, [])
            path.write_bytes(bytes(b))
        what = "mutated"
    elif target == "file list":
        path.write_bytes(mutate_csv(path.read_bytes(), rng))
        what = "mutated"
    else:
        path.write_bytes(mutate_shard(path.read_bytes(), rng, donors))
        what = "mutated"
    reads = path if target in ("shard", "source copy") else case_dir / (shards[0] if shards else "manifest.json")
    return target, f"{seed.name}: {name} {what}", reads


# ----------------------------------------------------------------------------------------------- the worker

def run_case(case_dir: str, shard: str, lone: bool) -> dict:
    """Reads a case with every reader path; returns {"class", "detail"}."""
    import numpy as np  # noqa: F401  (loaded before the case: not counted in its memory)

    import mixshards
    from mixshards import cli
    named, other = [], []

    def check_named(message: str, where: str) -> None:
        if "\n" in message or not message.startswith(case_dir):
            other.append(f"{where}: a message that is not one line naming a file in the case: {message!r}")
        else:
            named.append(f"{where}: {message}")

    def cli_run(argv: list[str]) -> int:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
        if rc not in (0, 1):
            raise RuntimeError(f"{' '.join(argv)}: exit {rc}, stderr {err.getvalue()!r}")
        lines = err.getvalue().splitlines()
        if rc == 1 and not lines:
            raise RuntimeError(f"{' '.join(argv)}: exit 1 without a message")
        for line in lines:
            if not line.startswith("error: "):
                raise RuntimeError(f"{' '.join(argv)}: stderr line {line!r}")
            check_named(line.removeprefix("error: "), argv[0])
        return rc

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if lone:
                try:
                    with mixshards.ShardFile(shard) as s:
                        s.read_all()
                except mixshards.ShardError as e:
                    check_named(str(e), "ShardFile")
                try:
                    with mixshards.SourceImages(shard) as s:
                        if len(s):
                            s.images(range(len(s)))
                            s.image(len(s) - 1)
                except mixshards.ShardError as e:
                    check_named(str(e), "SourceImages")
                cli_run(["inspect", shard, "--samples"])
            else:
                verified = cli_run(["verify", case_dir]) == 0
                cli_run(["inspect", shard, "--samples"])
                try:
                    ds = mixshards.open(case_dir, cache_chunks=2)
                    splits = [ds.epoch(e) for e in range(ds.epochs)] + [ds.epoch(ds.epochs), ds.test]
                    for ep in splits:
                        for _ in ep.batches(16, seed=3):
                            pass
                        for k in (0, len(ep) // 2, -1):
                            s = ep[k]
                            if ds.has_files:
                                s.primary_file, s.partner_file
                    if ds.has_files:
                        ds.skipped_files()
                    ds.close()
                    if not verified:
                        pass  # verify checks more than the reader (hashes, statistics, the plan)
                except mixshards.ShardError as e:
                    check_named(str(e), "open/iterate")
                    if verified:
                        other.append(f"verify passed, the reader refused: {e}")
    except MemoryError:
        return {"class": "memory", "detail": traceback.format_exc()}
    except Exception:  # noqa: BLE001 - a traceback is what we are looking for
        return {"class": "traceback", "detail": traceback.format_exc()}
    if other:
        return {"class": "other", "detail": "\n".join(other)}
    return {"class": "named error" if named else "ok", "detail": "\n".join(named)}


def worker(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    sys.path.insert(0, str(PYTHON))
    import mixshards  # noqa: F401
    for line in sys.stdin:
        job = json.loads(line)
        result = run_case(job["dir"], job["shard"], job["lone"])
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


class Worker:
    def __init__(self, memory: int, log: Path):
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.log = log
        with open(log, "ab") as err:   # a file, not a pipe: a chatty worker cannot block on a full pipe
            self.p = subprocess.Popen([sys.executable, __file__, "--worker", "--memory", str(memory)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, text=True,
                                      bufsize=1)

    def run(self, job: dict, timeout: float) -> dict:
        self.p.stdin.write(json.dumps(job) + "\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            self.kill()
            return {"class": "hang", "detail": f"no answer in {timeout} s"}
        line = self.p.stdout.readline()
        if line:
            return json.loads(line)
        code = self.p.wait()
        err = self.log.read_text(errors="replace")[-4000:]
        if code < 0:
            name = signal.Signals(-code).name
            klass = "memory" if -code == signal.SIGKILL else "crash"
            return {"class": klass, "detail": f"worker killed by {name}\n{err}"}
        return {"class": "memory" if "MemoryError" in err else "crash", "detail": f"worker exited {code}\n{err}"}

    def alive(self) -> bool:
        return self.p.poll() is None

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


# ----------------------------------------------------------------------------------------------- the supervisor

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/mixshards-fuzz")
    ap.add_argument("--seed-dir", action="append", default=[], help="another seed shard directory (repeatable)")
    ap.add_argument("--timeout", type=float, default=10, help="seconds a case may take")
    ap.add_argument("--memory", type=int, default=1 << 30, help="address-space limit of the worker, bytes")
    ap.add_argument("--cases", type=int, help="stop after this many cases")
    ap.add_argument("--replay", type=int, help="regenerate case N and run it in this process")
    ap.add_argument("--messages", type=int, default=0, metavar="N",
                    help="also print the N most frequent kinds of named error (which checks the cases reached)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.memory)
        return 0
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    seeds = make_seeds(out, args.seed_dir)
    donors = [p.read_bytes() for kind, p in seeds if kind == "shard"]
    work = out / "work"
    if args.replay is not None:
        rng = random.Random(f"{args.seed}/{args.replay}")
        target, what, shard = make_case(rng, seeds, work / "case", donors)
        print(f"case {args.replay}: {target}: {what}")
        sys.path.insert(0, str(PYTHON))
        result = run_case(str(work / "case"), str(shard), target == "golden shard")
        print(f"{result['class']}\n{result['detail']}")
        return 0
    counts: dict[str, dict[str, int]] = {}
    messages: dict[str, int] = {}
    log = out / "worker-stderr.log"
    w = Worker(args.memory, log)
    start, case = time.monotonic(), 0
    failures = out / "failures"
    while time.monotonic() - start < args.seconds and (args.cases is None or case < args.cases):
        rng = random.Random(f"{args.seed}/{case}")
        case_dir = work / "case"
        target, what, shard = make_case(rng, seeds, case_dir, donors)
        if not w.alive():
            w = Worker(args.memory, log)
        result = w.run({"dir": str(case_dir), "shard": str(shard), "lone": target == "golden shard"}, args.timeout)
        klass = result["class"]
        if klass == "named error":
            for line in result["detail"].splitlines():
                shape = re.sub(r"0x[0-9a-f]+", "0xH", line.replace(str(case_dir), "CASE"))
                shape = re.sub(r"\d+", "N", shape)
                messages[shape[:110]] = messages.get(shape[:110], 0) + 1
        row = counts.setdefault(target, dict.fromkeys(CLASSES, 0))
        row[klass] += 1
        if klass not in ("ok", "named error"):
            dest = failures / f"{klass.replace(' ', '-')}-case{case}"
            shutil.rmtree(dest, ignore_errors=True)
            try:   # links kept as links
                def skipped(d, names):   # FIFOs, and sparse giants (details.txt says what the case was)
                    def keep(p):
                        return os.path.islink(p) or os.path.isdir(p) or (os.path.isfile(p)
                                                                         and os.path.getsize(p) <= 64 << 20)
                    return [n for n in names if not keep(os.path.join(d, n))]
                shutil.copytree(case_dir, dest, symlinks=True, ignore=skipped)
            except (OSError, shutil.Error) as e:
                dest.mkdir(parents=True, exist_ok=True)
                print(f"case {case}: copying the input failed: {e}", file=sys.stderr)
            (dest / "details.txt").write_text(f"seed {args.seed} case {case}: {target}: {what}\n"
                                              f"replay: python3 {__file__} --seed {args.seed} --out {out} "
                                              f"--replay {case}\n\n{result['detail']}\n")
            print(f"case {case}: {klass}: {target}: {what} -> {dest}", file=sys.stderr)
            if klass in ("hang", "memory", "crash"):
                w.kill()
        case += 1
    w.kill()
    elapsed = time.monotonic() - start
    header = f"{'target':<14}{'cases':>7}" + "".join(f"{c:>13}" for c in CLASSES)
    print(f"seed {args.seed}, {case} cases in {elapsed:.0f} s, {len(seeds)} seeds "
          f"({sum(k == 'dir' for k, _ in seeds)} directories)")
    print(header)
    total = dict.fromkeys(CLASSES, 0)
    for target in sorted(counts):
        row = counts[target]
        for c in CLASSES:
            total[c] += row[c]
        print(f"{target:<14}{sum(row.values()):>7}" + "".join(f"{row[c]:>13}" for c in CLASSES))
    print(f"{'all':<14}{case:>7}" + "".join(f"{total[c]:>13}" for c in CLASSES))
    if args.messages:
        print(f"\n{len(messages)} kinds of named error (numbers as N); the {args.messages} most frequent:")
        for shape, n in sorted(messages.items(), key=lambda kv: -kv[1])[:args.messages]:
            print(f"{n:7d}  {shape}")
    return 0 if all(total[c] == 0 for c in CLASSES[2:]) else 1


if __name__ == "__main__":
    sys.exit(main())
