"""What a reader hands to a network, decided in one place: element type, memory
layout and normalisation of a batch of uint8 images.

- ``dtype``: ``"uint8"`` (the stored bytes), ``"float32"``, ``"float16"``,
  ``"bfloat16"`` (torch only; numpy has no such type).
- ``layout``: ``"NCHW"`` (as stored), ``"NHWC"`` (channels last in shape and
  memory), ``"channels_last"`` (torch: shape N×C×H×W, memory N×H×W×C, what
  ``x.contiguous(memory_format=torch.channels_last)`` gives; numpy: as NHWC).
- ``normalize``: floats are ``(x/255 − mean)/std`` per channel, computed in
  float32 operation by operation (mixtrain's ``PixelNormalizer``, torchvision's
  ``ToTensor`` + ``Normalize``), then rounded to ``dtype``; without it,
  ``x/255``. ``uint8`` is never normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .normalize import Normalizer

DTYPES = ("uint8", "float32", "float16", "bfloat16")
LAYOUTS = ("NCHW", "NHWC", "channels_last")


def dtype_name(dtype) -> str:
    """``dtype`` (a name, a numpy dtype or a torch dtype) as one of :data:`DTYPES`."""
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.replace("torch.", "")
    aliases = {"float": "float32", "half": "float16", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
    name = aliases.get(name, name)
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
    return name


@dataclass(frozen=True)
class OutputSpec:
    """How batches leave a reader: see the module's documentation."""

    dtype: str = "float32"
    layout: str = "NCHW"
    normalize: bool = True
    #: Per-channel statistics, in units of ``x/255`` (what ``normalize`` uses; exposed so
    #: that normalisation can run on the device instead).
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype))
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)} (got {self.layout!r})")
        if self.dtype == "uint8" and self.normalize:
            object.__setattr__(self, "normalize", False)
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean and std need one value per channel (got {len(self.mean)} and {len(self.std)})")

    @property
    def is_float(self) -> bool:
        return self.dtype != "uint8"

    def normalizer(self) -> Normalizer:
        """The float32 lookup tables of this spec (``x/255`` alone without ``normalize``)."""
        channels = len(self.mean) or 1
        if self.normalize:
            return Normalizer(self.mean, self.std)
        return Normalizer((0.0,) * channels, (1.0,) * channels)


def make_spec(dtype="float32", layout: str = "NCHW", normalize: bool = True,
              mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None) -> OutputSpec:
    """An :class:`OutputSpec` (``mean`` and ``std`` given, already resolved by the caller)."""
    return OutputSpec(dtype_name(dtype), layout, bool(normalize), tuple(float(m) for m in (mean or ())),
                      tuple(float(s) for s in (std or ())))


class Converter:
    """Applies an :class:`OutputSpec` to numpy batches (``N × C × H × W`` uint8)."""

    def __init__(self, spec: OutputSpec):
        self.spec = spec
        self._norm: Optional[Normalizer] = None
        self._tables: dict[str, np.ndarray] = {}

    def table(self, dtype: str = "float32") -> np.ndarray:
        """``C × 256`` lookup table: ``table[c, b]`` is byte ``b`` of channel ``c`` converted."""
        t = self._tables.get(dtype)
        if t is None:
            if self._norm is None:
                self._norm = self.spec.normalizer()
            t = self._norm.table if dtype == "float32" else self._norm.table.astype(dtype)
            self._tables[dtype] = t
        return t

    def numpy(self, images: np.ndarray, float_dtype: Optional[str] = None) -> np.ndarray:
        """The batch as the spec says; ``float_dtype`` overrides the float type (``"float32"`` to get
        float32 before a conversion numpy cannot do, e.g. to bfloat16). NHWC and channels_last give
        an ``N × H × W × C`` array."""
        spec = self.spec
        nhwc = spec.layout != "NCHW"
        if images.ndim != 4:
            raise ValueError(f"expected N×C×H×W images, got shape {images.shape}")
        if not spec.is_float:
            return np.ascontiguousarray(images.transpose(0, 2, 3, 1)) if nhwc else images
        dtype = float_dtype or spec.dtype
        if dtype == "bfloat16":
            raise ValueError("numpy has no bfloat16: use mixshards.torch, or dtype float32")
        table = self.table(dtype)
        if images.shape[1] != len(table):
            raise ValueError(f"expected N×{len(table)}×H×W images, got shape {images.shape}")
        n, c, h, w = images.shape
        out = np.empty((n, h, w, c) if nhwc else images.shape, dtype)
        for ch in range(c):
            if nhwc:
                out[..., ch] = table[ch][images[:, ch]]
            else:
                np.take(table[ch], images[:, ch], out=out[:, ch], mode="clip")
        return out
