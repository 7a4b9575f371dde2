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


def open(directory, cache_chunks: int = 8, cache=None, cache_limit=None,  # noqa: A001 - the issue's API name
         cache_bytes=None, source_cache_bytes=None) -> Dataset:
    """Opens a complete shard directory (reads and checks ``manifest.json``).

    ``directory`` is a local path, or the URL of a shard directory: ``https://`` and
    ``http://`` (read with the standard library), or any URL fsspec reads (``s3://``,
    ``gs://``, … when fsspec and its backend are installed). A remote directory's manifest
    is fetched, and each file it lists is fetched by byte ranges when first needed, its
    SHA-256 checked against the manifest before use, and kept in the local folder
    ``cache`` (default ``~/.cache/mixshards``) holding at most ``cache_limit`` bytes
    (default 16 GiB; least recently used files go first); see :mod:`mixshards.remote`.

    ``cache_chunks`` inflated chunks are kept for random access (LRU); with ``cache_bytes``,
    as many as fit in that many bytes instead (``cache_bytes=1 << 30`` holds a CIFAR-10 epoch,
    157 MB, so ``ep[k]`` in shuffled order inflates each chunk once).

    ``source_cache_bytes`` bounds the memory the source copy's images take (``None``: 1 GiB,
    or ``MIXSHARDS_SOURCE_CACHE``): a copy that fits is held whole (a compressed one filled
    chunk by chunk as references need them, each chunk's CRC checked as it is inflated), a
    larger compressed one keeps at most that many bytes of inflated chunks, a larger
    uncompressed one is read image by image (see :class:`SourceImages`).
    Raises :class:`ShardError` for a directory that is not a shard directory.
    """
    from . import remote
    if remote.is_url(directory):
        return remote.open_remote(str(directory), cache=cache, cache_limit=cache_limit, cache_chunks=cache_chunks,
                                  cache_bytes=cache_bytes, source_cache_bytes=source_cache_bytes)
    return Dataset(directory, cache_chunks=cache_chunks, cache_bytes=cache_bytes, source_cache_bytes=source_cache_bytes)
