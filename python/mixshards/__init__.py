"""mixshards: read MixShard directories written by ``mixprep`` from Python.

>>> import mixshards
>>> ds = mixshards.open("out/quickstart/shards")
>>> ep = ds.epoch(0)
>>> for images, labels in ep.batches(batch_size=128, seed=0): ...

See the README for the API and ``mixshards.torch`` for PyTorch.
"""

from __future__ import annotations

from .dataset import Dataset, Epoch, Sample, open_shard
from .errors import ShardError
from .labels import SparseLabels
from .shard import Chunk, ShardFile, SourceImages
from .sourcefiles import SkippedFile, SourceFile, SourceFiles
from .transform import Transform
from .verify import verify

__all__ = ["open", "open_shard", "verify", "Dataset", "Epoch", "Sample", "ShardError", "ShardFile", "SourceImages",
           "Chunk", "SparseLabels", "Transform", "SourceFile", "SourceFiles", "SkippedFile"]
__version__ = "0.4.0"  # the repository's release: equal to mixshards' tool version (Sources/ShardStore/Manifest.swift)


def open(directory, cache_chunks: int = 8, source_cache_bytes=None) -> Dataset:  # noqa: A001 - the issue's API name
    """Opens a complete shard directory (reads and checks ``manifest.json``).

    ``cache_chunks`` inflated chunks are kept for random access (LRU); a compressed
    source copy keeps at most ``source_cache_bytes`` of inflated chunks (``None``: 1 GiB,
    or ``MIXSHARDS_SOURCE_CACHE``). Raises :class:`ShardError` for a directory that is
    not a shard directory.
    """
    return Dataset(directory, cache_chunks=cache_chunks, source_cache_bytes=source_cache_bytes)
