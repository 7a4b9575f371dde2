"""uint8 pixels to the network's float input: ``x/255``, then per channel ``(x − mean) / std``."""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

#: The CIFAR-10 channel statistics of the training contract (DESIGN.md).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
#: Statistics of the sources ``mixprep`` reads, by the manifest's ``source.name``.
KNOWN_SOURCES = {"cifar10": (CIFAR10_MEAN, CIFAR10_STD)}


def source_statistics(source: dict, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std for the manifest's source; for an unknown source, mixtrain's
    fallback (the CIFAR-10 statistics, averaged over channels unless there are 3),
    with a warning to pass your own."""
    known = KNOWN_SOURCES.get(source.get("name"))
    if known and len(known[0]) == channels:
        return known
    warnings.warn(f"no known statistics for source {source.get('name')!r} with {channels} channels; "
                  "using mixtrain's defaults (pass mean= and std= for your data)", stacklevel=3)
    if channels == 3:
        return CIFAR10_MEAN, CIFAR10_STD
    m, s = sum(CIFAR10_MEAN) / 3, sum(CIFAR10_STD) / 3
    return (m,) * channels, (s,) * channels


class Normalizer:
    """Per-channel lookup tables computed in float32 exactly as mixtrain's
    ``PixelNormalizer`` (and torchvision's ``ToTensor`` + ``Normalize``)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        if len(mean) != len(std) or not len(mean):
            raise ValueError(f"mean and std need one value per channel (got {len(mean)} and {len(std)})")
        if any(not s > 0 for s in std):
            raise ValueError(f"std must be positive (got {tuple(std)})")
        b = np.arange(256, dtype=np.float32) / np.float32(255)
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        #: ``channels × 256`` float32: ``table[c, b]`` is byte ``b`` of channel ``c``, normalised.
        self.table = np.stack([(b - np.float32(m)) / np.float32(s) for m, s in zip(self.mean, self.std)])

    def __call__(self, images: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """``N × C × H × W`` uint8 → float32 of the same shape."""
        if images.ndim != 4 or images.shape[1] != len(self.table):
            raise ValueError(f"expected N×{len(self.table)}×H×W images, got shape {images.shape}")
        if out is None:
            out = np.empty(images.shape, np.float32)
        for c, table in enumerate(self.table):
            out[:, c] = table[images[:, c]]
        return out
