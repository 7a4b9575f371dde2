"""The draws of issue 20's ``[augment]`` ops, bit for bit as ``mixprep`` draws them (DESIGN.md,
*The draws of an epoch, exactly*, steps 7–10; Swift ``Sources/Mixup/ResizedCrop.swift``,
``ColorJitter.swift``, ``PolicyAugment.swift``, ``RandomErasing.swift`` and
``AugmentConfig.ops``): the resized crop, policy and colour-jitter ops of the primary and the
partner at a position, its random erasing, and the random fill's bytes. Written from DESIGN.md.

An op is ``(op_id, magnitude)`` with the magnitude as a ``numpy.float32`` (ids:
:data:`mixshards.layout.POLICY_OPS`); a box is ``(top, left, height, width)``; an image's ops are
``ImageOps(crop, ops)``; an erasing is ``Erasing(fill, box)``, fill 0 (none), 1 (zeros) or 2 (random).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .rng import (STREAM_COLOR_JITTER, STREAM_ERASING, STREAM_ERASING_VALUES, STREAM_POLICY, STREAM_RESIZED_CROP,
                  CounterRNG)

BINS = 31
(IDENTITY, SHEAR_X, SHEAR_Y, TRANSLATE_X, TRANSLATE_Y, ROTATE, BRIGHTNESS, COLOR, CONTRAST, SHARPNESS, POSTERIZE,
 SOLARIZE, AUTO_CONTRAST, EQUALIZE, HUE, RESIZED_CROP) = range(16)


@dataclass(frozen=True)
class ImageOps:
    """One image's ops: the resized crop's box (or None), then its op slots in order."""
    crop: Optional[tuple[int, int, int, int]] = None
    ops: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Erasing:
    fill: int = 0
    box: tuple[int, int, int, int] = (0, 0, 0, 0)


NONE = ImageOps()
NO_ERASING = Erasing()


def _round_even(x: float) -> int:
    """Python's ``round``: to nearest, ties to even (torchvision's ``int(round(…))``)."""
    return int(round(x))


def linspace(a: float, b: float, i: int) -> np.float32:
    """torch's ``linspace(a, b, 31)[i]`` in binary32: step = (b − a) / 30, then a + step·i (i < 15)
    or b − step·(30 − i), each one fused multiply-add (emulated: the product is exact in binary64,
    and so is the sum for these tables)."""
    a32, b32 = np.float32(a), np.float32(b)
    step = (b32 - a32) / np.float32(BINS - 1)
    if i < BINS // 2:
        return np.float32(float(a32) + float(step) * i)
    return np.float32(float(b32) - float(step) * (BINS - 1 - i))


def _posterize(i: int, divisions: int) -> np.float32:
    return np.float32(8 - _round_even(i / ((BINS - 1) / divisions)))


def trivial_magnitude(op: int, i: int) -> tuple[np.float32, bool]:
    """TrivialAugmentWide's magnitude of ``op`` at bin i, and whether it is signed."""
    if op in (SHEAR_X, SHEAR_Y):
        return linspace(0, 0.99, i), True
    if op in (TRANSLATE_X, TRANSLATE_Y):
        return linspace(0, 32, i), True
    if op == ROTATE:
        return linspace(0, 135, i), True
    if op in (BRIGHTNESS, COLOR, CONTRAST, SHARPNESS):
        return linspace(0, 0.99, i), True
    if op == POSTERIZE:
        return _posterize(i, 6), False
    if op == SOLARIZE:
        return linspace(1, 0, i), False
    return np.float32(0), False


def rand_magnitude(op: int, i: int, height: int, width: int) -> tuple[np.float32, bool]:
    """RandAugment's magnitude of ``op`` at bin i for an image of ``height`` × ``width``, and whether it is signed."""
    if op in (SHEAR_X, SHEAR_Y):
        return linspace(0, 0.3, i), True
    if op == TRANSLATE_X:
        return linspace(0, float(np.float32(150.0 / 331.0 * width)), i), True
    if op == TRANSLATE_Y:
        return linspace(0, float(np.float32(150.0 / 331.0 * height)), i), True
    if op == ROTATE:
        return linspace(0, 30, i), True
    if op in (BRIGHTNESS, COLOR, CONTRAST, SHARPNESS):
        return linspace(0, 0.9, i), True
    if op == POSTERIZE:
        return _posterize(i, 4), False
    if op == SOLARIZE:
        return linspace(1, 0, i), False
    return np.float32(0), False


def _ten_attempts(rng: CounterRNG, area: int, scale, ratio) -> list[tuple[int, int]]:
    """torchvision's ten box attempts, shared by the resized crop and erasing: each draws a target area
    ``area·(lo + (hi − lo)·uniform())`` and an aspect ``exp(log lo + (log hi − log lo)·uniform())``, and gives the
    sides √(target·aspect) and √(target/aspect) rounded half to even. All ten are drawn whatever fits; which side
    is the width, and what fits, is the caller's."""
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    out = []
    for _ in range(10):
        target = float(area) * (scale[0] + (scale[1] - scale[0]) * rng.uniform())
        aspect = math.exp(lo + (hi - lo) * rng.uniform())
        out.append((_round_even(math.sqrt(target * aspect)), _round_even(math.sqrt(target / aspect))))
    return out


def resized_crop(rng: CounterRNG, height: int, width: int, scale, ratio) -> tuple[int, int, int, int]:
    """One image's ``random_resized_crop`` box: ten attempts of two ``uniform()`` (all drawn, the first
    that fits taken), then top = ``uniform_int(H − h + 1)``, left = ``uniform_int(W − w + 1)``; the
    centre fallback when none fits."""
    # The crop's aspect is w/h: the first side is the width.
    chosen = next(((h, w) for w, h in _ten_attempts(rng, height * width, scale, ratio)
                   if 0 < w <= width and 0 < h <= height), None)
    if chosen is None:
        in_ratio = width / height
        if in_ratio < ratio[0]:
            h, w = min(height, max(1, _round_even(width / ratio[0]))), width
        elif in_ratio > ratio[1]:
            h, w = height, min(width, max(1, _round_even(height * ratio[1])))
        else:
            h, w = height, width
    else:
        h, w = chosen
    top = rng.uniform_int(height - h + 1)
    left = rng.uniform_int(width - w + 1)
    if chosen is None:
        return ((height - h) // 2, (width - w) // 2, h, w)
    return (top, left, h, w)


def color_jitter(rng: CounterRNG, brightness: float, contrast: float, saturation: float, hue: float) -> list:
    """One image's colour-jitter ops in the drawn order: a Fisher–Yates shuffle of 0…3, then the four
    factors (always all seven draws); the components that are off left out."""
    order = [0, 1, 2, 3]
    for i in range(3, 0, -1):
        j = rng.uniform_int(i + 1)
        order[i], order[j] = order[j], order[i]

    def factor(lo, hi):
        return lo + (hi - lo) * rng.uniform()
    b = factor(max(0.0, 1 - brightness), 1 + brightness)
    c = factor(max(0.0, 1 - contrast), 1 + contrast)
    s = factor(max(0.0, 1 - saturation), 1 + saturation)
    h = factor(-hue, hue)
    ops = []
    for component in order:
        if component == 0 and brightness > 0:
            ops.append((BRIGHTNESS, np.float32(b - 1)))
        elif component == 1 and contrast > 0:
            ops.append((CONTRAST, np.float32(c - 1)))
        elif component == 2 and saturation > 0:
            ops.append((COLOR, np.float32(s - 1)))
        elif component == 3 and hue > 0:
            ops.append((HUE, np.float32(h)))
    return ops


def trivial(rng: CounterRNG) -> tuple[int, np.float32]:
    """TrivialAugmentWide's op: op = ``uniform_int(14)``, bin = ``uniform_int(31)``, coin = ``uniform_int(2)``."""
    op = rng.uniform_int(14)
    b = rng.uniform_int(BINS)
    coin = rng.uniform_int(2) == 1
    m, signed = trivial_magnitude(op, b)
    return op, (-m if signed and coin else m)


def rand(rng: CounterRNG, ops: int, magnitude: int, height: int, width: int) -> list:
    """RandAugment's N ops: per op, op = ``uniform_int(14)``, coin = ``uniform_int(2)``, bin M's magnitude."""
    out = []
    for _ in range(ops):
        op = rng.uniform_int(14)
        coin = rng.uniform_int(2) == 1
        m, signed = rand_magnitude(op, magnitude, height, width)
        out.append((op, -m if signed and coin else m))
    return out


def erasing(rng: CounterRNG, height: int, width: int, p: float, scale, ratio, random: bool) -> Erasing:
    """A sample's ``random_erasing``: u = ``uniform()``, ten attempts of two ``uniform()`` (the first with
    h < H and w < W taken), then top and left (bounds 1 when none is); erased when u < p and the box taken
    holds a pixel."""
    u = rng.uniform()
    # Erasing's aspect is h/w: the first side is the height.
    chosen = next(((h, w) for h, w in _ten_attempts(rng, height * width, scale, ratio) if h < height and w < width), None)
    h, w = chosen if chosen is not None else (height, width)
    top = rng.uniform_int(height - h + 1)
    left = rng.uniform_int(width - w + 1)
    if not u < p or chosen is None or h == 0 or w == 0:
        return NO_ERASING
    return Erasing(2 if random else 1, (top, left, h, w))


def erasing_fill(seed: int, epoch: int, k: int, channels: int, height: int, width: int) -> np.ndarray:
    """The random fill of an erased box of ``height`` × ``width`` at position k: ``uniform_int(256)``
    (the top 8 bits of ``next()``) per byte, plane by plane, row by row, from (seed, 12, epoch, k)."""
    rng = CounterRNG(seed, STREAM_ERASING_VALUES, epoch, k)
    return np.array([rng.next_u64() >> 56 for _ in range(channels * height * width)], np.uint8).reshape(channels, height, width)


def ops(augment: dict, seed: int, epoch: int, k: int, height: int, width: int) -> tuple[ImageOps, ImageOps, Erasing]:
    """The primary's and the partner's image ops and the erasing at position k of a pipeline whose
    ``[augment]`` (as the manifest records it) is ``augment``."""
    crops = [None, None]
    slots = [[], []]
    if augment.get("random_resized_crop"):
        c = augment["random_resized_crop"]
        rng = CounterRNG(seed, STREAM_RESIZED_CROP, epoch, k)
        crops = [resized_crop(rng, height, width, c["scale"], c["ratio"]) for _ in range(2)]
    if augment.get("trivial_augment"):
        rng = CounterRNG(seed, STREAM_POLICY, epoch, k)
        for i in range(2):
            slots[i].append(trivial(rng))
    elif augment.get("rand_augment"):
        r = augment["rand_augment"]
        rng = CounterRNG(seed, STREAM_POLICY, epoch, k)
        for i in range(2):
            slots[i] += rand(rng, r["ops"], r["magnitude"], height, width)
    j = augment.get("color_jitter")
    if j and any(j[key] > 0 for key in ("brightness", "contrast", "saturation", "hue")):
        rng = CounterRNG(seed, STREAM_COLOR_JITTER, epoch, k)
        for i in range(2):
            slots[i] += color_jitter(rng, j["brightness"], j["contrast"], j["saturation"], j["hue"])
    erased = NO_ERASING
    if augment.get("random_erasing"):
        e = augment["random_erasing"]
        erased = erasing(CounterRNG(seed, STREAM_ERASING, epoch, k), height, width, e["p"], e["scale"], e["ratio"],
                         e.get("random", False))
    return ImageOps(crops[0], tuple(slots[0])), ImageOps(crops[1], tuple(slots[1])), erased


def from_record(record) -> tuple[ImageOps, ImageOps, Erasing]:
    """The ops an :data:`mixshards.layout.OP_RECORD` stores, in this module's form."""
    def image(o) -> ImageOps:
        crop = (int(o["crop_top"]), int(o["crop_left"]), int(o["crop_height"]), int(o["crop_width"])) if o["flags"] & 1 else None
        n = int(o["count"])
        return ImageOps(crop, tuple((int(o["slots"]["id"][i]), np.float32(o["slots"]["magnitude"][i])) for i in range(n)))
    fill = int(record["erase_fill"])
    box = (int(record["erase_top"]), int(record["erase_left"]), int(record["erase_height"]), int(record["erase_width"]))
    return image(record["primary"]), image(record["partner"]), Erasing(fill, box) if fill else NO_ERASING
