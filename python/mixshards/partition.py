"""How an epoch's batches are dealt to ranks (and DataLoader workers)."""

from __future__ import annotations


def batch_count(samples: int, batch_size: int, drop_last: bool = False) -> int:
    """Batches of a sequence of ``samples`` (the last one partial unless ``drop_last``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1 (got {batch_size})")
    return samples // batch_size if drop_last else -(-samples // batch_size)


def split_range(total: int, part: int, parts: int) -> range:
    """Part ``part`` of ``parts`` near-equal contiguous parts of ``range(total)``;
    sizes differ by at most one and the parts tile ``range(total)`` in order."""
    if parts < 1 or not 0 <= part < parts:
        raise ValueError(f"part must be from 0 to parts - 1 (got part {part} of {parts})")
    return range(part * total // parts, (part + 1) * total // parts)


def rank_batch_range(samples: int, batch_size: int, rank: int, world_size: int, drop_last: bool = False) -> range:
    """The epoch's batches (in reading order) that rank ``rank`` of ``world_size`` gets.

    The epoch is cut into batches of ``batch_size`` first, then the batches are
    dealt as contiguous runs, so counts differ by at most one across ranks and
    the ranks' batches are exactly a one-process run's batches. A rank's run
    is contiguous in chunk order, so it reads only its own chunks, sharing at
    most one chunk at each end with its neighbour.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be from 0 to world_size - 1 (got rank {rank}, world_size {world_size})")
    return split_range(batch_count(samples, batch_size, drop_last), rank, world_size)


def round_robin_skips(counts: list[int], consumed: int) -> list[int]:
    """How many of each worker's batches are among the first ``consumed`` a
    PyTorch DataLoader delivers, when it takes one batch from each worker in
    turn and drops workers that are done (``counts``: each worker's batches)."""
    skips = [0] * len(counts)
    q = 0
    while consumed > 0 and any(c > q for c in counts):
        for w, c in enumerate(counts):
            if c > q and consumed > 0:
                skips[w] += 1
                consumed -= 1
        q += 1
    return skips
