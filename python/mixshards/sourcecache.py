"""The source copy held in memory: reference samples then resolve by numpy
gathers from one array instead of a ``pread`` per run of nearby images.

A source copy of at most :data:`DEFAULT_LIMIT` bytes of images (CIFAR-10's is
154 MB; ``MIXSHARDS_SOURCE_IN_MEMORY`` sets the limit in bytes, 0 turns it
off) is read once, with the first training epoch, and kept for the life of the
dataset. Every reader process holds its own copy, except DataLoader workers
forked after the main process loaded it, which share its pages. It reads the
images through :meth:`mixshards.SourceImages.images`, so what it holds is what
the source copy yields, however that is stored.
"""

from __future__ import annotations

import os

import numpy as np

from .shard import SourceImages

#: Source copies up to 1 GiB of images are held in memory.
DEFAULT_LIMIT = 1 << 30


def limit() -> int:
    env = os.environ.get("MIXSHARDS_SOURCE_IN_MEMORY")
    return int(env) if env else DEFAULT_LIMIT


class HeldSourceImages(SourceImages):
    """A :class:`mixshards.SourceImages` whose images are read once and kept."""

    @classmethod
    def hold(cls, source: SourceImages) -> "HeldSourceImages":
        held = cls.__new__(cls)
        held.__dict__.update(source.__dict__)
        images = source.images(np.arange(source.count, dtype=np.int64))
        images.flags.writeable = False
        held._held = images
        return held

    def images(self, indices) -> np.ndarray:
        """Source images ``indices`` (in range) as one read-only ``n × C × H × W`` array."""
        out = self._held[np.asarray(indices, np.int64)]
        out.flags.writeable = False
        return out


def maybe_hold(source: SourceImages) -> SourceImages:
    """``source`` held in memory when its images fit the limit, else as it is."""
    if source is None or isinstance(source, HeldSourceImages):
        return source
    size = source.count * int(np.prod(source.shape))
    return HeldSourceImages.hold(source) if 0 < size <= limit() else source
