"""``mixshards.verify``: the checks of ``mixprep verify``, as a list of problems."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from typing import Optional

from . import layout, manifest as manifest_mod, rules, sourcefiles, wording
from .dataset import open_source_copy, read_listed
from .errors import ShardError
from .shard import Chunk, ShardFile, SourceImages

LAMBDA_BINS = 10
#: The largest ``augment.crop_pad`` the format records (shifts are int16; Swift's ``AugmentConfig.maxCropPad``).
MAX_CROP_PAD = 1023


@dataclass
class Stats:
    """Mirror of Swift's ``ShardStats``: mixed count, flipped, shifted and reference
    counts, λ histogram, label mass per class."""

    classes: int
    samples: int = 0
    mixed: int = 0
    flipped: int = 0
    shifted: int = 0
    references: int = 0
    lambda_histogram: list = field(default_factory=lambda: [0] * LAMBDA_BINS)
    label_mass: list = field(default_factory=list)

    def __post_init__(self):
        if not self.label_mass:
            self.label_mass = [0.0] * self.classes

    def add_shard(self, provenance: Optional[np.ndarray], labels: np.ndarray) -> None:
        """Adds one shard's samples (``provenance`` as ``layout.PROVENANCE_V2``
        records, or ``None``), summing label mass in the same order as mixprep
        (in float64 over the shard's samples, then shard after shard), so the
        totals equal the manifest's exactly."""
        self.samples += len(labels)
        if provenance is not None:
            flags = provenance["flags"]
            self.flipped += int(np.count_nonzero(flags & layout.FLIP_PRIMARY))
            self.shifted += int(np.count_nonzero((provenance["primary_dx"] != 0) | (provenance["primary_dy"] != 0)))
            self.references += int(np.count_nonzero(flags & layout.REFERENCE))
            mixed = provenance["kind"] != layout.KIND_COPY
            self.mixed += int(mixed.sum())
            lam = provenance["lam"]
            bins = np.clip((lam[mixed].astype(np.float64) * LAMBDA_BINS).astype(np.int64), 0, LAMBDA_BINS - 1)
            for b, n in zip(*np.unique(bins, return_counts=True)):
                self.lambda_histogram[int(b)] += int(n)
        if len(labels):
            mass = np.cumsum(labels.astype(np.float64), axis=0)[-1]  # sequential, unlike np.sum
            for c in range(self.classes):
                self.label_mass[c] += float(mass[c])

    def matches(self, summary: dict) -> bool:
        """Equal to a manifest's statistics (v1 manifests have no flipped, shifted or references counts: 0)."""
        return (summary.get("samples") == self.samples and summary.get("mixed") == self.mixed
                and all(summary.get(k, 0) == getattr(self, k) for k in ("flipped", "shifted", "references"))
                and summary.get("lambdaHistogram") == self.lambda_histogram
                and summary.get("labelMass") == self.label_mass)


@dataclass(frozen=True)
class Job:
    """One shard file the pipeline's plan calls for."""

    file: str
    split: str
    epoch: int
    shard_index: int
    count: int
    #: Position of its first sample in the epoch, the test split or the source.
    first: int = 0


def plan(train_count: int, test_count: int, epochs: int, samples_per_shard: int, source_copy: bool = False) -> list[Job]:
    """The source copy (when samples are stored as references), every epoch's
    training shards, then the test shards (Swift's ``ShardPlan.jobs``)."""
    def sizes(n: int) -> list[int]:
        return [min(samples_per_shard, n - s) for s in range(0, n, samples_per_shard)]
    jobs = [Job(layout.SOURCE_FILE, "source", 0, 0, train_count)] if source_copy else []
    jobs += [Job(f"train/{layout.epoch_directory(e)}/{layout.shard_file_name(s)}", "train", e, s, c, s * samples_per_shard)
             for e in range(epochs) for s, c in enumerate(sizes(train_count))]
    jobs += [Job(f"test/{layout.shard_file_name(s)}", "test", 0, s, c, s * samples_per_shard)
             for s, c in enumerate(sizes(test_count))]
    return jobs


def plan_file_count(train_count: int, test_count: int, epochs: int, samples_per_shard: int,
                    source_copy: bool = False) -> int:
    """How many files :func:`plan` lists, without listing them (Swift's ``ShardPlan.fileCount``)."""
    def shards(n: int) -> int:
        return -(-n // samples_per_shard)
    return shards(train_count) * epochs + shards(test_count) + (1 if source_copy else 0)


def uses_references(pipeline: dict) -> bool:
    """Whether the pipeline stores unmixed training samples as references to a source
    copy (Swift's ``Pipeline.usesReferences``): ``shards.references`` when set (and
    provenance is on), else on when the epochs hold at least two source copies'
    worth of unmixed samples."""
    shards, mix = pipeline["shards"], pipeline["mix"]
    provenance = _typed(shards["provenance"], bool, "shards.provenance")
    if shards.get("references") is not None:
        return _typed(shards["references"], bool, "shards.references") and provenance
    if not provenance:
        return False
    unmixed = 1.0 if mix["mode"] == "none" else 1.0 - float(mix["p"])
    return float(shards["epochs"]) * unmixed >= 2


def augment_of(pipeline: dict) -> tuple[int, bool]:
    """``(crop_pad, flip)`` of ``pipeline.augment`` (absent in v1 manifests: no augmentation)."""
    a = pipeline.get("augment", {"crop_pad": 0, "flip": False})
    if not isinstance(a, dict):
        raise TypeError("pipeline.augment is not an object")
    crop_pad = _typed(a["crop_pad"], int, "augment.crop_pad")
    if not 0 <= crop_pad <= MAX_CROP_PAD:
        raise ValueError(f"augment.crop_pad must be {wording.span(0, MAX_CROP_PAD)} (got {crop_pad})")
    return crop_pad, _typed(a["flip"], bool, "augment.flip")


def mix_of(pipeline: dict) -> dict:
    """``pipeline.mix``, its keys the checks read typed: ``mode`` a string, ``p`` and
    ``smoothing`` numbers from 0 to 1 (a crafted manifest otherwise ends in a traceback)."""
    mix = pipeline["mix"]
    if not isinstance(mix, dict):
        raise TypeError("pipeline.mix is not an object")
    _typed(mix["mode"], str, "mix.mode")
    for key in ("p", "smoothing"):
        if key not in mix and key == "smoothing":
            continue
        v = mix[key]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
            raise ValueError(f"mix.{key} must be a number from 0 to 1 (got {v!r:.40})")
    return mix


#: Images per chunk of a compressed source copy when ``shards.source_samples_per_chunk`` is
#: unset (Swift's ``Pipeline.sourceSamplesPerChunkDefault``).
SOURCE_SAMPLES_PER_CHUNK_DEFAULT = 1
#: Pixels a plane from which the source copy is compressed by default (64×64; Swift's
#: ``Pipeline.sourceCompressionMinimumPixels``).
SOURCE_COMPRESSION_MINIMUM_PIXELS = 4096


def source_codec_default(height: int, width: int) -> str:
    """The source copy's codec when ``shards.source_codec`` is unset: ``zlib`` for images of at
    least 64×64 pixels, else ``none`` (Swift's ``Pipeline.sourceCodecDefault``)."""
    return "zlib" if height * width >= SOURCE_COMPRESSION_MINIMUM_PIXELS else "none"


def source_encoding(shape: tuple, classes: int, shards: Optional[dict] = None, version: int = layout.VERSION) -> tuple:
    """The source copy's ``(codec, filter, samples per chunk, provenance)`` for images of
    ``shape`` ``(C, H, W)`` (Swift's ``Pipeline.sourceEncoding``): before v3 uncompressed and
    unfiltered, in chunks of as many images (and label records of ``version``, and label rows once
    expanded) as fit a quarter of the format's raw chunk limit;
    in v3 as ``shards.source_codec`` says (unset: :func:`source_codec_default`), compressed
    with the training shards' ``filter``, in chunks of ``shards.source_samples_per_chunk``
    (unset: the fitting number uncompressed, :data:`SOURCE_SAMPLES_PER_CHUNK_DEFAULT` compressed)."""
    c, h, w = shape
    label_bytes = layout.SPARSE_LABEL_BYTES if version >= 3 else 4 * classes
    quarter = layout.MAX_CHUNK_RAW_BYTES // 4
    fitting = max(1, min(layout.MAX_SAMPLES_PER_CHUNK, quarter // (c * h * w + label_bytes), quarter // (4 * classes)))
    if version < layout.COMPRESSED_SOURCE_VERSION:
        return ("none", "none", fitting, False)
    shards = shards or {}
    codec = shards.get("source_codec")
    codec = source_codec_default(h, w) if codec is None else codec
    if codec not in ("none", "zlib"):
        raise ValueError(f"shards.source_codec must be one of none, zlib (got {codec!r:.40})")
    per_chunk = shards.get("source_samples_per_chunk")
    if per_chunk is None:
        per_chunk = fitting if codec == "none" else SOURCE_SAMPLES_PER_CHUNK_DEFAULT
    _typed(per_chunk, int, "shards.source_samples_per_chunk")
    return (codec, "none" if codec == "none" else shards["filter"], per_chunk, False)


def _typed(v, kind, key: str):
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise TypeError(f"{key} has the wrong type ({type(v).__name__})")
    return v


def verify(directory, threads: Optional[int] = None) -> list[str]:
    """Checks every file against the manifest: presence, size, SHA-256,
    structure, every chunk's CRC and label rows, header fields against the
    pipeline, the summary statistics, and for v2 directories the source copy
    (listed when the pipeline stores references, checked first: every
    reference sample depends on it); every record against the pipeline and
    the source (:func:`mixshards.rules.record_problem`: positions, transforms
    ``pipeline.augment`` draws, kinds ``pipeline.mix`` makes, CutMix's λ) and
    every label row against its provenance and the source labels
    (:class:`mixshards.rules.LabelLedger`). A directory made from image files
    has its file lists checked too (see :func:`source_file_problems`), and its
    labels are those of the lists. Returns one line per problem (empty when the
    directory is sound), the checks of ``mixprep verify``.

    Shards are read by ``threads`` threads (default: the CPUs, at most 4; inflating and
    hashing release the GIL), their results taken in manifest order (the label
    ledger and the summary's sums depend on it). Reference samples are checked, not
    made: verify never looks at pixels (each shard's SHA-256 covers them, and the source
    copy is checked whole)."""
    directory = str(directory)
    manifest_path = os.path.join(directory, manifest_mod.FILE_NAME)
    try:
        m = manifest_mod.load(directory)
        pipeline = m.pipeline
        p = pipeline["shards"]
        src = m.source
        references = m.version >= 2 and uses_references(pipeline)
        augment = augment_of(pipeline) if m.version >= 2 else (0, False)
        mix = mix_of(pipeline)
        smoothing = float(mix.get("smoothing", 0))
        per_shard = _typed(p["samples_per_shard"], int, "shards.samples_per_shard")
        if per_shard < 1:
            raise ValueError(f"shards.samples_per_shard must be at least 1 (got {per_shard})")
        encoding = (p["codec"], p["filter"], p["samples_per_chunk"], p["provenance"])
        source_enc = source_encoding(m.shape, len(m.class_names), p, m.version) if references else None
    except ShardError as e:
        return [str(e)]
    except (KeyError, TypeError, ValueError) as e:
        return [f"{manifest_path}: missing or bad pipeline/source key ({e})"]
    problems, train_labels, test_labels = _source_files(m, directory)
    listed = m.files
    # The plan is built only when its size, computed first, matches the listing (the numbers are the manifest's).
    args = (src["trainCount"], src["testCount"], len(m.train), per_shard, references)
    jobs = plan(*args) if plan_file_count(*args) == len(listed) else []
    if len(jobs) != len(listed) or [s.file for s in listed] != [j.file for j in jobs]:
        return problems + [f"{directory}/{manifest_mod.FILE_NAME}: its shard list does not match the pipeline's plan"]
    shape = (*m.shape, len(m.class_names))
    try:
        source = open_source_copy(m, directory)
    except ShardError as e:
        return problems + [f"{e} (every reference sample depends on it)"]
    stats = Stats(len(m.class_names))
    checks = _SampleChecks(src["trainCount"], augment, mix, m.shape[2], m.shape[1], m.pipeline.get("augment") or {})
    ledger = rules.LabelLedger(src["trainCount"], src["testCount"], m.class_names, train_labels, test_labels)
    unresolved = None if source is None else _Unresolved.of(source)
    threads = max(1, threads or min(4, os.cpu_count() or 1))

    def check(job, path, enc):
        try:
            return _check_shard(path, job, shape, enc, unresolved, checks, smoothing, m.version), None
        except ShardError as e:
            return None, str(e)

    pool = ThreadPoolExecutor(threads)
    pending: deque = deque()
    todo = iter(zip(jobs, listed))
    try:
        while True:
            while len(pending) < 2 * threads:  # a few shards ahead, in manifest order
                nxt = next(todo, None)
                if nxt is None:
                    break
                job, entry = nxt
                path = f"{directory}/{job.file}"
                enc = source_enc if job.split == "source" else encoding
                pending.append((job, entry, path, enc, pool.submit(check, job, path, enc)))
            if not pending:
                break
            job, entry, path, enc, future = pending.popleft()
            result, problem = future.result()
            if problem is not None:
                problems.append(problem)
                continue
            digest, size, samples, readings, block = result
            if job.split == "train":
                stats.add_shard(block.provenance, block.labels)
            if digest != entry.sha256:
                problems.append(f"{path}: SHA-256 {digest[:16]}… differs from the manifest's {entry.sha256[:16]}…")
            if samples != entry.samples:
                problems.append(f"{path}: {samples} samples, the manifest says {entry.samples}")
            if size != entry.bytes:
                problems.append(f"{path}: {size} bytes, the manifest says {entry.bytes}")
            if readings is not None:
                problem = ledger.check(readings, job.split, smoothing if job.split == "train" else 0.0, enc[2], job.file)
                if problem is not None:
                    problems.append(f"{path}: {problem}")
    finally:
        pool.shutdown(cancel_futures=True)
        if source is not None:
            source.close()
    if not problems and not stats.matches(m.raw.get("summary") or {}):
        problems.append(f"{directory}/{manifest_mod.FILE_NAME}: summary statistics differ from the shards' contents")
    return problems


def labels_text(h: layout.Header) -> str:
    """How a shard stores its labels, as ``mixprep inspect`` words it: ``float32`` or ``sparse (smoothing 0.1)``."""
    return f"sparse (smoothing {rules.float_text(h.label_smoothing)})" if h.label_type == "sparse" else "float32"


def source_file_problems(m: manifest_mod.Manifest, directory: str) -> list[str]:
    """The file lists of a directory made from image files (none for CIFAR records):
    each present, of the manifest's size and SHA-256; then each parsed strictly (exact
    header, rows numbered 0, 1, …, labels in range named by their class, SHA-256 of 64
    hex digits), holding ``trainCount``, ``testCount`` and ``skippedFiles`` rows; and
    ``source.fingerprint`` recomputed from their rows and the class names (the rule of
    :func:`mixshards.sourcefiles.fingerprint`) equal to the manifest's."""
    return _source_files(m, directory)[0]


def _source_files(m: manifest_mod.Manifest, directory: str) -> tuple[list[str], Optional[list[int]], Optional[list[int]]]:
    """:func:`source_file_problems`, and when there are none, the labels the lists give
    the training and test images (``None`` without lists, or with problems)."""
    info = m.source_files
    if info is None:
        return [], None, None
    out: list[str] = []
    data = {}
    for entry in info.entries:
        data[entry.file], problems = read_listed(directory, entry)
        out += problems
    if out:
        return out, None, None
    try:
        train = sourcefiles.parse_files(data[info.train.file], f"{directory}/{info.train.file}", "train", m.class_names)
        test = sourcefiles.parse_files(data[info.test.file], f"{directory}/{info.test.file}", "test", m.class_names)
        skipped = (sourcefiles.parse_skipped(data[info.skipped.file], f"{directory}/{info.skipped.file}")
                   if info.skipped else ())
    except ShardError as e:
        return [str(e)], None, None
    src = m.source
    counts = (src.get("trainCount"), src.get("testCount"), src.get("skippedFiles", 0))
    if (len(train), len(test), len(skipped)) != counts:
        out.append(f"{directory}: the file lists hold {len(train)} train, {len(test)} test and {len(skipped)} skipped "
                   f"files; the manifest says {counts[0]}, {counts[1]} and {counts[2]}")
    got = sourcefiles.fingerprint(m.class_names, train, test, skipped)
    if got != src.get("fingerprint"):
        out.append(f"{directory}/{manifest_mod.FILE_NAME}: source.fingerprint {str(src.get('fingerprint'))[:16]}… "
                   f"is not the one of the file lists ({got[:16]}…)")
    if out:
        return out, None, None
    return [], list(train.labels), list(test.labels)


@dataclass(frozen=True)
class _SampleChecks:
    """What :func:`mixshards.rules.record_problem` needs of the manifest."""

    train_count: int
    augment: tuple[int, bool]
    mix: dict
    width: int
    height: int
    #: The pipeline's whole ``[augment]`` as the manifest records it (rule 13's v4 keys).
    policy: Optional[dict] = None


class _Unresolved(SourceImages):
    """The source copy as verify reads shards with it: every reference is checked (the index's
    count, the primary inside the source copy) but its pixels are not made."""

    @classmethod
    def of(cls, source: SourceImages) -> "_Unresolved":
        u = cls.__new__(cls)
        u.__dict__.update(source.__dict__)
        return u

    def transformed(self, indices, dx, dy, flip, out=None, positions=None):
        return out if out is not None else np.zeros((len(indices), *self.shape), np.uint8)

    def close(self) -> None:  # the source copy itself is closed by verify
        pass


def _records(shard: ShardFile):
    """Every chunk read and checked; their labels and provenance (not their images) as one block."""
    labels, provenance, ops = [], [], []
    for i in range(shard.chunk_count):
        c = shard.read_chunk(i)
        labels.append(c.labels)
        provenance.append(c.provenance)
        ops.append(c.ops)
    h = shard.header
    if not labels:
        return Chunk(0, None, np.zeros((0, h.class_count), np.float32),
                     np.zeros(0, layout.PROVENANCE_V2) if h.has_provenance else None)
    return Chunk(0, None, np.concatenate(labels), None if provenance[0] is None else np.concatenate(provenance),
                 ops=None if ops[0] is None else np.concatenate(ops))


def _check_shard(path: str, job: Job, shape: tuple, encoding: tuple, source: Optional[SourceImages],
                 checks: _SampleChecks, smoothing: float, version: int
                 ) -> tuple[str, int, int, Optional[rules.Readings], Chunk]:
    """Reads every chunk (references resolved from ``source``) and checks the header against the
    job — its version the manifest's ``version``, and in v3 sparse labels of the split's
    ``smoothing`` (0 for the test split and the source copy) — and every record against ``checks``
    (rule 8 among them: primaries and partners inside
    the source, worded as Swift's verify words it, so the reader's own range check is not asked
    for here). Returns (SHA-256, bytes, samples, the label readings of its samples: none without
    provenance, but for the source copy, whose sample k is source image k; the block of its labels
    and provenance, which the caller adds to the summary's sums in manifest order)."""
    with ShardFile(path, source if job.split == "train" else None) as shard:
        h = shard.header
        expected_epoch = job.epoch if job.split == "train" else layout.TEST_EPOCH
        wrong = []
        if h.split != job.split:
            wrong.append("split")
        if h.epoch != expected_epoch:
            wrong.append(f"epoch {h.epoch} (expected {expected_epoch})")
        if h.shard_index != job.shard_index:
            wrong.append(f"shardIndex {h.shard_index} (expected {job.shard_index})")
        if h.sample_count != job.count:
            wrong.append(f"sampleCount {h.sample_count} (expected {job.count})")
        if (*h.shape, h.class_count) != shape:
            wrong.append("sample shape")
        if (h.codec, h.image_filter, h.samples_per_chunk, h.has_provenance) != encoding:
            wrong.append("encoding")
        if h.version != version:
            wrong.append(f"version {h.version} (expected {version})")
        else:
            label_type = "sparse" if version >= 3 else "float32"
            epsilon = float(np.float32(smoothing)) if job.split == "train" and label_type == "sparse" else 0.0
            if h.label_type != label_type or np.float32(h.label_smoothing).view(np.uint32) != np.float32(epsilon).view(np.uint32):
                expected = f"sparse, smoothing {rules.float_text(epsilon)}" if label_type == "sparse" else "float32"
                wrong.append(f"labels {labels_text(h)} (expected {expected})")
        if wrong:
            raise ShardError(f"{path}: header: does not match the pipeline: {', '.join(wrong)}")
        if job.split == "source":
            SourceImages(path).close()  # the source copy's own checks
        block = _records(shard)
        digest = shard.sha256()
        size = shard.size
    readings = None
    if job.split == "source" or block.provenance is not None:
        if block.provenance is not None:
            bad = rules.record_problem(block.provenance, job.split, job.first, h.version, checks.train_count,
                                       checks.augment, checks.mix, checks.width, checks.height, block.ops, checks.policy)
            if bad is not None:
                s, problem = bad
                raise ShardError(f"{path}: chunk {s // h.samples_per_chunk}: sample {s}: {problem}")
        readings = rules.readings(block.labels, block.provenance, smoothing if job.split == "train" else 0.0)
    return digest, size, h.sample_count, readings, block
