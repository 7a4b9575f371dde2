"""uint8 pixels to the network's float input: ``x/255``, then per channel ``(x − mean) / std``.

The figures are the shard directory's own, as mixtrain uses them: its manifest's
``source.channelStats`` (the training split's per-channel mean and population standard
deviation of bytes/255, computed by mixprep and rounded to 4 decimals), a standard deviation
of 0 (a constant channel) read as 1, so the channel is only centred. A directory made before
mixprep recorded them falls back to the CIFAR-10 constants below, with a warning, as mixtrain
does.
"""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

#: The CIFAR-10 channel statistics (what mixprep records for CIFAR-10, rounded to 4 decimals):
#: what mixtrain normalised every dataset with before manifests recorded their own, so the fallback.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def legacy_statistics(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The fallback for a directory without figures: the CIFAR-10 statistics for 3 channels; for any
    other count, every plane the average of the three (in float32, as mixtrain computes it)."""
    if channels == 3:
        return CIFAR10_MEAN, CIFAR10_STD
    m = float((np.float32(CIFAR10_MEAN[0]) + np.float32(CIFAR10_MEAN[1]) + np.float32(CIFAR10_MEAN[2])) / np.float32(3))
    s = float((np.float32(CIFAR10_STD[0]) + np.float32(CIFAR10_STD[1]) + np.float32(CIFAR10_STD[2])) / np.float32(3))
    return (m,) * channels, (s,) * channels


def source_statistics(source: dict, channels: int, where: str = "manifest.json"
                      ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std for a manifest's ``source``: its ``channelStats`` (a std of 0 read as 1);
    without them (a directory made before mixprep recorded them), :func:`legacy_statistics`
    with a warning naming ``where`` (the manifest)."""
    stats = source.get("channelStats")
    if isinstance(stats, dict) and len(stats.get("mean", ())) == channels:
        return (tuple(float(m) for m in stats["mean"]),
                tuple(float(s) if s != 0 else 1.0 for s in stats["std"]))
    mean, std = legacy_statistics(channels)
    warnings.warn(f"{where} records no channel statistics (source.channelStats: it was made before mixprep recorded them); "
                  f"normalising with the CIFAR-10 constants, {describe(mean, std)}", stacklevel=3)
    return mean, std


def describe(mean: Sequence[float], std: Sequence[float]) -> str:
    """``mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)``: as mixtrain words them."""
    def figure(x: float) -> str:
        return f"{x:.4f}" if round(x * 10_000) / 10_000 == x else repr(float(x))
    return f"mean ({', '.join(map(figure, mean))}), std ({', '.join(map(figure, std))})"


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

    def __repr__(self) -> str:
        return f"<mixshards.Normalizer {describe(self.mean, self.std)}>"

    def __call__(self, images: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """``N × C × H × W`` uint8 → float32 of the same shape."""
        if images.ndim != 4 or images.shape[1] != len(self.table):
            raise ValueError(f"expected N×{len(self.table)}×H×W images, got shape {images.shape}")
        if out is None:
            out = np.empty(images.shape, np.float32)
        for c, table in enumerate(self.table):
            out[:, c] = table[images[:, c]]
        return out
