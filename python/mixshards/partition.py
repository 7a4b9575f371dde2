"""How an epoch's batches are dealt to ranks: contiguous runs, made equal by padding or dropping."""

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


#: How ranks are made to take equal numbers of batches, as DDP needs (``even=``):
#: ``"pad"`` gives the ranks that have one batch fewer a batch of repeated samples,
#: ``"drop"`` cuts every rank to the smallest count, ``False`` leaves counts
#: that differ by one. ``True`` is the old name of ``"drop"``.
EVEN_MODES = ("pad", "drop", False)


def even_mode(even) -> object:
    """``even`` as one of :data:`EVEN_MODES` (``True`` → ``"drop"``), or a ``ValueError``."""
    if even is True:
        return "drop"
    if even is None or even is False:
        return False
    if even in ("pad", "drop"):
        return even
    raise ValueError(f"even must be 'pad', 'drop' or False (got {even!r})")


def complement(total: int, excluded) -> list[tuple[int, int]]:
    """The ranges of ``range(total)`` outside the ``excluded`` ranges, in order (merged)."""
    out, at = [], 0
    for a, b in sorted((max(0, int(a)), min(total, int(b))) for a, b in excluded):
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < total:
        out.append((at, total))
    return out


def merge(ranges) -> list[tuple[int, int]]:
    """Sorted, merged ``[a, b)`` ranges (empty ones dropped)."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in ranges if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _through(available: list[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    """Indices ``[a, b)`` of the concatenation of ``available`` as ranges of the underlying numbers."""
    out, at = [], 0
    for lo, hi in available:
        n = hi - lo
        s, e = max(a - at, 0), min(b - at, n)
        if s < e:
            out.append((lo + s, lo + e))
        at += n
        if at >= b:
            break
    return out


class RankPart:
    """The samples one rank reads in an epoch, as ranges of global indices (see
    :mod:`mixshards.order`), in delivery order; its batches are consecutive
    ``batch_size`` samples of them.

    The epoch's samples (global indices ``0 … total-1``, less ``excluded``
    ones, which a resume at another world size or batch size has already
    delivered) are cut into batches, the last one partial unless ``drop_last``;
    the batches are dealt to ranks as contiguous runs (:func:`split_range`), so
    counts differ by at most one; then ``even`` makes them equal: ``"pad"``
    appends to each short rank one batch of samples repeated from the start of
    its own run (DistributedSampler also repeats samples; the last rank always
    holds the longest run, so only full batches are padded), ``"drop"`` cuts
    every rank to the smallest count.
    """

    def __init__(self, total: int, batch_size: int, rank: int, world_size: int, drop_last: bool = False,
                 even=False, excluded=()):
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1 (got {batch_size})")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be from 0 to world_size - 1 (got rank {rank}, world_size {world_size})")
        self.total, self.batch_size, self.rank, self.world_size = int(total), int(batch_size), int(rank), int(world_size)
        self.drop_last, self.even = bool(drop_last), even_mode(even)
        available = complement(self.total, excluded)
        n = sum(b - a for a, b in available)
        batches = batch_count(n, batch_size, drop_last)
        used = min(n, batches * batch_size)
        run = split_range(batches, rank, world_size)
        longest, shortest = -(-batches // world_size), batches // world_size
        count = {"pad": longest, "drop": shortest}.get(self.even, len(run))
        mine = min(count, len(run))
        ranges = _through(available, run.start * batch_size, min(run.start + mine, run.stop) * batch_size)
        padded = 0
        if count > len(run) and used > 0:  # one batch (or a few, when there are fewer batches than ranks)
            padded = (count - len(run)) * batch_size
            start = (run.start * batch_size) % used
            left = padded
            while left > 0:
                take = min(left, used - start)
                ranges += _through(available, start, start + take)
                left -= take
                start = 0
        elif count > len(run):
            count = len(run)
        #: ``(a, b)`` ranges of global indices, in delivery order (padding last).
        self.ranges: tuple[tuple[int, int], ...] = tuple(ranges)
        #: Samples delivered in the epoch (padding included).
        self.samples = sum(b - a for a, b in ranges)
        #: Batches delivered.
        self.batches = count
        #: Samples repeated to pad this rank (``even="pad"``).
        self.padded = padded
        #: Samples of the epoch no rank delivers (``drop_last`` and ``even="drop"``), over all ranks.
        cut = self.even == "drop" and batches % world_size != 0
        self.dropped = n - (shortest * world_size * batch_size if cut else used)
        #: Samples repeated over all ranks (``even="pad"``).
        self.padded_total = (longest * world_size - batches) * batch_size if self.even == "pad" and used else 0

    def batch_size_of(self, k: int) -> int:
        """Samples in this rank's batch ``k``."""
        return max(0, min(self.batch_size, self.samples - k * self.batch_size))

    def segments(self, a: int, b: int) -> list[tuple[int, int, int]]:
        """``(part offset, global start, length)`` pieces of this part's samples ``[a, b)``."""
        out, at = [], 0
        for lo, hi in self.ranges:
            n = hi - lo
            s, e = max(a - at, 0), min(b - at, n)
            if s < e:
                out.append((at + s, lo + s, e - s))
            at += n
            if at >= b:
                break
        return out

    def delivered(self, batches: int) -> list[tuple[int, int]]:
        """Global index ranges this rank has delivered after ``batches`` batches, padding excluded."""
        n = min(self.samples, batches * self.batch_size)
        unpadded = self.samples - self.padded
        return merge((g, g + m) for _, g, m in self.segments(0, min(n, unpadded)))

    def __repr__(self) -> str:
        return (f"RankPart(rank {self.rank} of {self.world_size}: {self.batches} batches of ≤ {self.batch_size}, "
                f"{self.samples} samples, {self.padded} padded)")
