"""``mixshards.verify``: the checks of ``mixprep verify``, as a list of problems."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from . import layout, manifest as manifest_mod
from .errors import ShardError
from .shard import ShardFile

LAMBDA_BINS = 10


@dataclass
class Stats:
    """Mirror of Swift's ``ShardStats``: mixed count, λ histogram, label mass per class."""

    classes: int
    samples: int = 0
    mixed: int = 0
    lambda_histogram: list = field(default_factory=lambda: [0] * LAMBDA_BINS)
    label_mass: list = field(default_factory=list)

    def __post_init__(self):
        if not self.label_mass:
            self.label_mass = [0.0] * self.classes

    def add_shard(self, primary, partner, lam, labels: np.ndarray) -> None:
        """Adds one shard's samples, summing label mass in the same order as mixprep
        (in float64 over the shard's samples, then shard after shard), so the
        totals equal the manifest's exactly."""
        self.samples += len(labels)
        if primary is not None:
            mixed = (partner != primary) | (lam != np.float32(1))
            self.mixed += int(mixed.sum())
            bins = np.clip((lam[mixed].astype(np.float64) * LAMBDA_BINS).astype(np.int64), 0, LAMBDA_BINS - 1)
            for b, n in zip(*np.unique(bins, return_counts=True)):
                self.lambda_histogram[int(b)] += int(n)
        if len(labels):
            mass = np.cumsum(labels.astype(np.float64), axis=0)[-1]  # sequential, unlike np.sum
            for c in range(self.classes):
                self.label_mass[c] += float(mass[c])

    def matches(self, summary: dict) -> bool:
        return (summary.get("samples") == self.samples and summary.get("mixed") == self.mixed
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


def plan(train_count: int, test_count: int, epochs: int, samples_per_shard: int) -> list[Job]:
    """Every epoch's training shards, then the test shards (Swift's ``ShardPlan.jobs``)."""
    def sizes(n: int) -> list[int]:
        return [min(samples_per_shard, n - s) for s in range(0, n, samples_per_shard)]
    jobs = [Job(f"train/{layout.epoch_directory(e)}/{layout.shard_file_name(s)}", "train", e, s, c)
            for e in range(epochs) for s, c in enumerate(sizes(train_count))]
    jobs += [Job(f"test/{layout.shard_file_name(s)}", "test", 0, s, c) for s, c in enumerate(sizes(test_count))]
    return jobs


def verify(directory) -> list[str]:
    """Checks every shard against the manifest: presence, size, SHA-256,
    structure, every chunk's CRC and label sums, header fields against the
    pipeline, and the summary statistics. Returns one line per problem (empty
    when the directory is sound), the same checks as ``mixprep verify``."""
    directory = str(directory)
    try:
        m = manifest_mod.load(directory)
        p = m.pipeline["shards"]
        src = m.source
        jobs = plan(src["trainCount"], src["testCount"], len(m.train), p["samples_per_shard"])
        encoding = (p["codec"], p["filter"], p["samples_per_chunk"], p["provenance"])
    except ShardError as e:
        return [str(e)]
    except (KeyError, TypeError, ValueError) as e:
        return [f"{os.path.join(directory, manifest_mod.FILE_NAME)}: missing or bad pipeline/source key ({e})"]
    listed = [s for epoch in m.train for s in epoch] + list(m.test)
    if [s.file for s in listed] != [j.file for j in jobs]:
        return [f"{directory}/{manifest_mod.FILE_NAME}: its shard list does not match the pipeline's plan"]
    shape = (*m.shape, len(m.class_names))
    problems: list[str] = []
    stats = Stats(len(m.class_names))
    for job, entry in zip(jobs, listed):
        path = f"{directory}/{job.file}"
        try:
            digest, size = _check_shard(path, job, shape, encoding, stats)
        except ShardError as e:
            problems.append(str(e))
            continue
        if digest != entry.sha256:
            problems.append(f"{path}: SHA-256 {digest[:16]}… differs from the manifest's {entry.sha256[:16]}…")
        if size != entry.bytes:
            problems.append(f"{path}: {size} bytes, the manifest says {entry.bytes}")
    if not problems and not stats.matches(m.raw.get("summary") or {}):
        problems.append(f"{directory}/{manifest_mod.FILE_NAME}: summary statistics differ from the shards' contents")
    return problems


def _check_shard(path: str, job: Job, shape: tuple, encoding: tuple, stats: Stats) -> tuple[str, int]:
    """Reads every chunk and checks the header against the job; adds training shards to ``stats``."""
    with ShardFile(path) as shard:
        h = shard.header
        expected_epoch = layout.TEST_EPOCH if job.split == "test" else job.epoch
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
        if wrong:
            raise ShardError(f"{path}: header: does not match the pipeline: {', '.join(wrong)}")
        block = shard.read_all()
        digest = hashlib.sha256(shard.bytes).hexdigest()
        size = shard.size
    if job.split == "train":
        stats.add_shard(block.primary, block.partner, block.lam, block.labels)
    return digest, size
