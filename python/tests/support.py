"""Shared test data: the repository's golden shards, and shard directories
written by the Swift ``mixprep`` once per test process (with a dump of every
shard from ``mixprep inspect --dump`` to compare against; the dump resolves
reference samples with the Swift reader), from CIFAR records or from the image
files of the Swift tests' fixture folders."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np

import mixshards

#: The repository (``MIXSHARDS_REPO`` when the tests run from a copy, against an installed package).
REPO = Path(os.environ.get("MIXSHARDS_REPO") or Path(__file__).resolve().parents[2])
#: The folder ``mixshards`` is imported from (the source tree's ``python/`` or an installed
#: package's site-packages): subprocesses the tests start import the same package.
PACKAGE_PARENT = Path(mixshards.__file__).resolve().parent.parent
GOLDEN = REPO / "Tests" / "ShardFormatTests" / "Golden"
SCHEMA = REPO / "docs" / "manifest.schema.json"
MINI = REPO / "data" / "cifar10-mini"
#: Image-file datasets in every layout mixprep recognises (folders, imagenet, csv, single, csv300).
LAYOUTS = REPO / "Tests" / "DatasetsTests" / "Fixtures" / "layouts"

# Variants beyond the quick start: every codec, filter and mixing mode, with and without provenance.
VARIANTS = {
    "quickstart": None,  # pipelines/quickstart.toml, 2 epochs
    "plain": """
        [mix]
        mode = "none"
        [shards]
        codec = "none"
        filter = "none"
        provenance = false
        samples_per_shard = 70
        samples_per_chunk = 16
        """,
    "batch": """
        [mix]
        mode = "batch"
        block = 16
        smoothing = 0.1
        [shards]
        epochs = 2
        level = 9
        strategy = "default"
        samples_per_shard = 120
        samples_per_chunk = 50
        """,
}

#: The mixing modes the reference tests cover.
REFERENCE_MODES = ("none", "sample", "batch", "cutmix")


def _augmented(mode: str, references: bool) -> str:
    """Crop (pad 4) and flip before mixing; unmixed samples stored as references or as pixels."""
    mix = f'mode = "{mode}"\np = 0.4\nalpha = 0.5\nblock = 16' if mode != "none" else 'mode = "none"'
    return f"""
        [augment]
        crop_pad = 4
        flip = true
        [mix]
        {mix}
        [shards]
        epochs = 2
        samples_per_shard = 120
        samples_per_chunk = 50
        references = {str(references).lower()}
        """


#: Variants written in another MixShard version than mixprep's default (``--format-version``).
FORMAT_VERSIONS = {"batch-v2": 2}
VARIANTS["batch-v2"] = VARIANTS["batch"]

for _mode in REFERENCE_MODES:
    VARIANTS[f"refs-{_mode}"] = _augmented(_mode, True)
    VARIANTS[f"pixels-{_mode}"] = _augmented(_mode, False)

#: MixShard v4 (op records): random erasing after cutmix, crop and flip, unmixed samples as references.
VARIANTS["erasing-cutmix"] = _augmented("cutmix", True).replace(
    "flip = true", 'flip = true\nrandom_erasing = {p = 0.5, value = "random"}')
VARIANTS["erasing-sample"] = _augmented("sample", False).replace(
    "flip = true", "flip = true\nrandom_erasing = {p = 0.5, scale = [0.1, 0.4], value = 0}")

#: Reference directories whose source copy is compressed (v3): variant → (mode, images per source chunk or None
#: for the default); each is compared with ``pixels-MODE``.
COMPRESSED_SOURCE = {"refz-sample": ("sample", None), "refz3-cutmix": ("cutmix", 3), "refz-none": ("none", None)}
for _name, (_mode, _per) in COMPRESSED_SOURCE.items():
    VARIANTS[_name] = _augmented(_mode, True) + 'source_codec = "zlib"\n' + (
        f"source_samples_per_chunk = {_per}\n" if _per else "")

#: Shard directories made from image files: fixture folder, [dataset] lines, whether
#: to skip bad files, [shards] lines. "folders-bad" is the folders fixture copied with
#: a truncated PNG added to train/cat and bytes that are no image to test/dog, run with --skip-bad.
IMAGE_VARIANTS = {
    "folders": ("folders", 'size = 16\nresize = "shorter"', False, ""),
    "folders-bad": ("folders", 'size = [12, 16]\nresize = "stretch"\nresample = "bilinear"', True, ""),
    "folders-plain": ("folders", "size = 8\nresize = \"stretch\"", False,
                      'provenance = false\ncodec = "none"\nfilter = "none"'),
    "single": ("single", 'size = 8\nresize = "shorter"\ncrop = "center"\nresample = "lanczos"\n'
                         'classes = ["cherry", "apple", "banana"]\ntest_fraction = 0.4\nsplit_seed = 7', False, ""),
    "csv": ("csv", "size = [8, 12]\nresize = \"stretch\"", False, ""),
}
#: What folders-bad adds: the two files skipped, (split, path relative to the dataset folder).
BAD_FILES = (("train", "train/cat/cat_000 broken, \"truncated\".png"), ("test", "test/dog/dog_100.png"))

_scratch = None
_made: dict[str, Path] = {}


def mixprep() -> str | None:
    """The built ``mixprep``: ``$MIXSHARDS_BIN/mixprep`` (set by scripts/test.sh), else ``.build/{debug,release}``."""
    candidates = [Path(os.environ["MIXSHARDS_BIN"]) / "mixprep"] if os.environ.get("MIXSHARDS_BIN") else []
    candidates += [REPO / ".build" / "debug" / "mixprep", REPO / ".build" / "release" / "mixprep"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    if os.environ.get("MIXSHARDS_BIN"):
        raise RuntimeError(f"MIXSHARDS_BIN is set but {candidates[0]} is not an executable")
    return None


def scratch() -> Path:
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="mixshards-py-tests-"))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def run(*args: str) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def shard_dir(name: str) -> Path:
    """A shard directory written by mixprep (made once), with ``dumps/`` of every shard."""
    if name in _made:
        return _made[name]
    exe = mixprep()
    if exe is None:
        raise unittest.SkipTest("mixprep is not built (run `swift build` or scripts/test.sh)")
    out = scratch() / name
    if VARIANTS[name] is None:
        run(exe, "run", str(REPO / "pipelines" / "quickstart.toml"), "--out", str(out / "shards"),
            "--epochs", "2", "--quiet")
    else:
        pipeline = scratch() / f"{name}.toml"
        pipeline.write_text(f'name = "{name}"\nseed = 5\n[dataset]\npath = "{MINI}"\n'
                            f'train_limit = 300\ntest_limit = 100\n' + "\n".join(
                                line.strip() for line in VARIANTS[name].splitlines()) + "\n")
        run(exe, "run", str(pipeline), "--out", str(out / "shards"), "--quiet",
            "--format-version", str(FORMAT_VERSIONS.get(name, 3)))
    _dump(exe, out)
    _made[name] = out
    return out


def _dump(exe: str, out: Path) -> None:
    for shard in sorted((out / "shards").rglob("*.mxs")):
        dump = out / "dumps" / shard.relative_to(out / "shards")
        dump.parent.mkdir(parents=True, exist_ok=True)
        run(exe, "inspect", str(shard), "--dump", str(dump))


def image_dir(name: str) -> Path:
    """A shard directory written by mixprep from image files (``IMAGE_VARIANTS``, made once),
    with ``dumps/`` of every shard; ``ROOT/dataset`` is the dataset folder when it is a copy.
    Mixing p 0.5 over 2 epochs, so that some samples are blends."""
    key = "image:" + name
    if key in _made:
        return _made[key]
    exe = mixprep()
    if exe is None:
        raise unittest.SkipTest("mixprep is not built (run `swift build` or scripts/test.sh)")
    fixture, lines, skip_bad, shards = IMAGE_VARIANTS[name]
    out = scratch() / key.replace(":", "-")
    dataset = LAYOUTS / fixture
    if skip_bad:
        dataset = out / "dataset"
        shutil.copytree(LAYOUTS / fixture, dataset)
        png = (dataset / "train" / "cat" / "cat_002.PNG").read_bytes()
        (dataset / BAD_FILES[0][1]).write_bytes(png[:60])       # the header and part of IHDR: truncated
        (dataset / BAD_FILES[1][1]).write_bytes(b"not an image at all")
    pipeline = scratch() / f"{key.replace(':', '-')}.toml"
    pipeline.write_text(f'name = "{name}"\nseed = 3\n[dataset]\npath = "{dataset}"\n{lines}\n'
                        '[mix]\nmode = "sample"\np = 0.5\nalpha = 1.0\n'
                        f'[shards]\nepochs = 2\nsamples_per_shard = 4\nsamples_per_chunk = 3\n{shards}\n')
    run(exe, "run", str(pipeline), "--out", str(out / "shards"), "--quiet", *(["--skip-bad"] if skip_bad else []))
    _dump(exe, out)
    _made[key] = out
    return out


def read_dump(path: Path, n: int, shape: tuple[int, int, int], classes: int, provenance: bool, version: int = 2):
    """``mixprep inspect --dump``: images (references resolved), then float32 labels,
    then the provenance records as the shard stores them (v1 12 bytes, v2 32)."""
    from mixshards import layout
    b = path.read_bytes()
    image_bytes = n * shape[0] * shape[1] * shape[2]
    images = np.frombuffer(b, np.uint8, image_bytes).reshape(n, *shape)
    labels = np.frombuffer(b, "<f4", n * classes, image_bytes).reshape(n, classes)
    at = image_bytes + 4 * n * classes
    prov = None
    if provenance:
        dtype = layout.PROVENANCE_V1 if version == 1 else layout.PROVENANCE_V2
        prov = np.frombuffer(b, dtype, n, at)
        at += dtype.itemsize * n
        at += layout.op_record_bytes(version) * n  # v4: the op records follow (read them with read_dump_ops)
    assert at == len(b), f"{path}: dump is {len(b)} bytes, expected {at}"
    return images, labels, prov


def dump_bytes(images: np.ndarray, labels: np.ndarray, provenance, version: int = 2) -> bytes:
    """What ``mixprep inspect --dump`` writes for these decoded samples."""
    from mixshards import layout
    out = images.tobytes() + labels.astype("<f4").tobytes()
    if provenance is not None:
        if version == 1:
            v1 = np.zeros(len(provenance), layout.PROVENANCE_V1)
            for name in ("primary", "partner", "lam"):
                v1[name] = provenance[name]
            out += v1.tobytes()
        else:
            out += provenance.tobytes()
    return out


def copy_dir(name: str, label: str, image: bool = False) -> Path:
    """A private copy of a variant's shard directory (``image``: of ``image_dir(name)``), to damage."""
    dest = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=scratch())) / "shards"
    shutil.copytree((image_dir(name) if image else shard_dir(name)) / "shards", dest)
    return dest


def patch_chunk(data: bytes, chunk: int, edit) -> bytes:
    """``data`` (a shard stored with codec none and filter none) with chunk ``chunk``'s
    payload passed through ``edit(bytearray)`` and its rawCRC and the index CRC fixed."""
    import struct
    import zlib
    b = bytearray(data)
    io = struct.unpack_from("<Q", b, len(b) - 32)[0]
    n = struct.unpack_from("<I", b, len(b) - 32 + 8)[0]
    entry = io + 32 * chunk
    offset, stored = struct.unpack_from("<QI", b, entry)
    payload = bytearray(b[offset:offset + stored])
    edit(payload)
    b[offset:offset + stored] = payload
    struct.pack_into("<I", b, entry + 24, zlib.crc32(bytes(payload)))
    struct.pack_into("<I", b, len(b) - 32 + 12, zlib.crc32(bytes(b[io:io + 32 * n])))
    return bytes(b)


def fix_header_crc(b: bytearray) -> None:
    import struct
    import zlib
    struct.pack_into("<I", b, 60, zlib.crc32(bytes(b[:60])))


def flip_chunk_byte(path: Path, chunk: int) -> None:
    """Flips one byte in the middle of chunk ``chunk``'s stored bytes."""
    from mixshards import ShardFile
    with ShardFile(str(path)) as s:
        offset, stored = int(s.index["offset"][chunk]), int(s.index["stored"][chunk])
    b = bytearray(path.read_bytes())
    b[offset + stored // 2] ^= 0x5A
    path.write_bytes(bytes(b))
