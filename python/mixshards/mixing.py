"""An epoch's mixing decisions, bit for bit as ``mixprep`` draws them (DESIGN.md,
*Mixing semantics* and *Random numbers*; Swift's ``EpochPlan`` and
``AugmentConfig.transforms``): the epoch's order, and for each position the
partner, λ, CutMix box and transforms its provenance record stores.

Every draw is a pure function of (seed, epoch, position), so a sample's record
can be regenerated alone:

>>> plan = MixPlan(seed=5, epoch=0, count=300, width=32, height=32, mode="cutmix", p=0.4, alpha=0.5,
...                crop_pad=4, flip=True)
>>> d = plan.decision(17)        # d.partner, d.lam (float32), d.box, d.kind, d.primary_transform, …
>>> plan = MixPlan.for_manifest(mixshards.open(directory).manifest, 0)   # a directory's epoch 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .rules import cutmix_lambda
from .rng import STREAM_AUGMENT, STREAM_BLOCK, STREAM_ORDER, STREAM_SAMPLE, STREAM_SPLIT, CounterRNG, fisher_yates
from .transform import IDENTITY as _IDENTITY, Transform

#: The provenance kinds (the record's byte 12).
KIND_COPY, KIND_BLEND, KIND_CUTMIX = 0, 1, 2


def permutation(count: int, seed: int, epoch: int) -> list[int]:
    """The epoch's order (``order[k]`` is position k's primary): a Fisher–Yates shuffle of
    ``range(count)`` drawn from the stream (seed, order, epoch, position 0)."""
    return fisher_yates(count, CounterRNG(seed, STREAM_ORDER, epoch))


def cutmix_box(lam: float, cx: int, cy: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The box ``(x0, y0, x1, y1)``, ``[x0, x1) × [y0, y1)``, of a CutMix draw: λ (the Beta draw,
    binary64) gives the side ratio r = √(1 − λ), the cut sides ``w = trunc(W·r)``, ``h = trunc(H·r)``;
    the box is the centre (cx, cy) ± the half sides ``w // 2``, ``h // 2``, clipped to the image.
    It is empty (area 0) exactly when a half side is 0."""
    ratio = math.sqrt(1 - lam)
    cut_w, cut_h = int(width * ratio), int(height * ratio)
    return (max(cx - cut_w // 2, 0), max(cy - cut_h // 2, 0), min(cx + cut_w // 2, width), min(cy + cut_h // 2, height))


def transforms(seed: int, epoch: int, k: int, crop_pad: int, flip: bool) -> tuple[Transform, Transform]:
    """The primary's and the partner's transforms at position k: six draws from the stream
    (seed, augment, epoch, k), ``dx, dy, coin`` for each, ``uniform_int(2N + 1) − N`` and
    ``uniform_int(2) == 1``, whatever is enabled; identity when neither crop nor flip is on."""
    if crop_pad == 0 and not flip:
        return _IDENTITY, _IDENTITY
    rng = CounterRNG(seed, STREAM_AUGMENT, epoch, k)
    span = 2 * crop_pad + 1

    def draw() -> Transform:
        dx = rng.uniform_int(span) - crop_pad
        dy = rng.uniform_int(span) - crop_pad
        coin = rng.uniform_int(2) == 1
        return Transform(dx, dy, flip and coin)
    primary = draw()
    return primary, draw()


@dataclass(frozen=True)
class Decision:
    """What happens at one position: the fields of its provenance record (the reference bit apart)."""
    primary: int
    partner: int
    lam: np.float32
    kind: int
    box: Optional[tuple[int, int, int, int]]
    primary_transform: Transform
    partner_transform: Transform


class MixPlan:
    """The decisions of one epoch of a pipeline: ``mode`` one of "sample", "batch", "cutmix", "none";
    ``p``, ``alpha``, ``block`` as in ``[mix]``; ``crop_pad`` and ``flip`` as in ``[augment]``;
    ``count`` training images of ``width`` × ``height``."""

    def __init__(self, seed: int, epoch: int, count: int, width: int, height: int, mode: str = "sample",
                 p: float = 0.2, alpha: float = 0.2, block: int = 128, crop_pad: int = 0, flip: bool = False):
        if mode not in ("sample", "batch", "cutmix", "none"):
            raise ValueError(f"unknown mix mode {mode!r}")
        self.seed, self.epoch, self.count, self.width, self.height = seed, epoch, count, width, height
        self.mode, self.p, self.alpha, self.block, self.crop_pad, self.flip = mode, p, alpha, block, crop_pad, flip
        self.order = permutation(count, seed, epoch)

    @classmethod
    def for_manifest(cls, manifest, epoch: int) -> "MixPlan":
        """The plan of materialised epoch ``epoch`` of a directory, from its manifest (a
        :class:`mixshards.manifest.Manifest`): its seed, the resolved pipeline's ``[mix]`` and
        ``[augment]``, the training split's size and the image size."""
        pipeline = manifest.pipeline
        mix, augment = pipeline["mix"], pipeline.get("augment") or {}
        _, height, width = manifest.shape
        return cls(seed=manifest.raw["seed"], epoch=epoch, count=manifest.source["trainCount"], width=width,
                   height=height, mode=mix["mode"], p=mix["p"], alpha=mix["alpha"], block=mix["block"],
                   crop_pad=augment.get("crop_pad", 0), flip=augment.get("flip", False))

    def decision(self, k: int) -> Decision:
        """Position k's decision: the mixing (stream sample, and block in batch mode), then the transforms."""
        primary = self.order[k]
        t_primary, t_partner = transforms(self.seed, self.epoch, k, self.crop_pad, self.flip)
        copy = Decision(primary, primary, np.float32(1), KIND_COPY, None, t_primary, t_primary)
        if self.mode == "none" or self.p == 0:
            return copy
        rng = CounterRNG(self.seed, STREAM_SAMPLE, self.epoch, k)
        if not rng.uniform() < self.p:
            return copy
        if self.mode == "sample":
            partner = rng.uniform_int(self.count)
            return Decision(primary, partner, np.float32(rng.beta(self.alpha, self.alpha)), KIND_BLEND, None,
                            t_primary, t_partner)
        if self.mode == "batch":
            b = k // self.block
            start = b * self.block
            block_rng = CounterRNG(self.seed, STREAM_BLOCK, self.epoch, b)
            lam = np.float32(block_rng.beta(self.alpha, self.alpha))
            perm = fisher_yates(min(self.block, self.count - start), block_rng)
            return Decision(primary, self.order[start + perm[k - start]], lam, KIND_BLEND, None, t_primary, t_partner)
        partner = rng.uniform_int(self.count)
        lam = rng.beta(self.alpha, self.alpha)
        cx = rng.uniform_int(self.width)
        cy = rng.uniform_int(self.height)
        x0, y0, x1, y1 = cutmix_box(lam, cx, cy, self.width, self.height)
        area = (x1 - x0) * (y1 - y0)
        if area == 0:  # a box without pixels: stored as a blend of λ = 1
            return Decision(primary, partner, np.float32(1), KIND_BLEND, None, t_primary, t_partner)
        lam = np.float32(cutmix_lambda(area, self.width, self.height))  # rule 11's λ, one binary32 division
        return Decision(primary, partner, lam, KIND_CUTMIX, (x0, y0, x1, y1), t_primary, t_partner)


def held_out(n: int, fraction: float, seed: int, c: int) -> list[int]:
    """Which of the n files of class c (numbered in listing order) ``dataset.test_fraction``
    holds out as test files, in listing order: the first ``min(n − 1, round(n·fraction))``
    (ties away from zero) of a Fisher–Yates shuffle of ``range(n)`` drawn from the stream
    (``split_seed``, split, epoch c, position 0); none of a class of fewer than two files."""
    if n < 2:
        return []
    x = n * fraction
    whole = math.floor(x)
    take = min(n - 1, int(whole) + (1 if x - whole >= 0.5 else 0))
    return sorted(fisher_yates(n, CounterRNG(seed, STREAM_SPLIT, c))[:take])
