"""The project's random numbers, bit for bit: Philox4x32-10 counter-based
streams and the draws made from them (DESIGN.md, *Random numbers*) — mixtrain's
chunk order (``ShardLoader.chunkOrder``), its initial parameters
(``SeedCNN.init``), and the uniform, bounded-integer, normal, Gamma and Beta
draws that ``mixprep``'s epoch plans are made of (:mod:`mixshards.mixing`).

Mirrors ``Sources/MixCore/CounterRNG.swift`` and ``CounterRNG+Distributions.swift``:
word n of the stream keyed by ``(seed, stream, epoch, position)`` is word
``n % 4`` of ``Philox(counter=(n // 4, position, epoch, stream), key=(seed low,
seed high))``. The Gamma and Beta draws use the C library's ``log``, ``exp``
and ``cos`` through :mod:`math` (which calls them for finite arguments), as the
Swift code does, each operation in binary64 without fused multiply-add.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
#: ``RNGStream.order``: an epoch's permutation of the training set.
STREAM_ORDER = 1
#: ``RNGStream.sample``: per-position mixing decisions (p, partner, λ, cutmix box).
STREAM_SAMPLE = 2
#: ``RNGStream.block``: per-block decisions of batch mixing (λ, partner permutation).
STREAM_BLOCK = 3
#: ``RNGStream.shuffle``: loader chunk order.
STREAM_SHUFFLE = 4
#: ``RNGStream.initialise``: network initialisation.
STREAM_INITIALISE = 5
#: ``RNGStream.augment``: per-position crop offsets and flips.
STREAM_AUGMENT = 6
#: ``RNGStream.split``: the held-out test split of one folder of classes.
STREAM_SPLIT = 7
#: Per-position ``random_resized_crop`` boxes: the primary's, then the partner's (v4).
STREAM_RESIZED_CROP = 8
#: Per-position ``color_jitter`` orders and factors: the primary's, then the partner's (v4).
STREAM_COLOR_JITTER = 9
#: Per-position ``trivial_augment`` / ``rand_augment`` ops: the primary's, then the partner's (v4).
STREAM_POLICY = 10
#: Per-position ``random_erasing`` decision and box (v4).
STREAM_ERASING = 11
#: Per-position ``random_erasing`` fill bytes with ``value = "random"`` (v4).
STREAM_ERASING_VALUES = 12


def philox4x32(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]:
    """Philox4x32 with 10 rounds (Salmon et al., SC'11)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & _M32, p1 & _M32, ((p0 >> 32) ^ c3 ^ k1) & _M32, p0 & _M32
        k0 = (k0 + 0x9E3779B9) & _M32
        k1 = (k1 + 0xBB67AE85) & _M32
    return c0, c1, c2, c3


class CounterRNG:
    """The stream keyed by ``(seed, stream, epoch, position)`` and the draws made from it,
    each consuming words exactly as Swift's ``CounterRNG`` does."""

    def __init__(self, seed: int, stream: int, epoch: int = 0, position: int = 0):
        seed &= _M64
        self._key = (seed & _M32, seed >> 32)
        self._fixed = (position & _M32, epoch & _M32, stream & _M32)
        self._block = 0
        self._buffer: tuple[int, ...] = ()
        self._used = 4

    def next_u32(self) -> int:
        if self._used == 4:
            self._buffer = philox4x32((self._block, *self._fixed), self._key)
            self._block = (self._block + 1) & _M32
            self._used = 0
        self._used += 1
        return self._buffer[self._used - 1]

    def next_u64(self) -> int:
        hi = self.next_u32()
        return (hi << 32) | self.next_u32()

    def uniform_int(self, n: int) -> int:
        """A uniform integer in ``range(n)``: Lemire's multiply-shift with rejection."""
        if n <= 0:
            raise ValueError("uniform_int needs n > 0")
        product = self.next_u64() * n
        if product & _M64 < n:
            threshold = ((1 << 64) - n) % n
            while product & _M64 < threshold:
                product = self.next_u64() * n
        return product >> 64

    def uniform(self) -> float:
        """A uniform float in [0, 1): the high 53 bits of :meth:`next_u64` times 2^-53."""
        return (self.next_u64() >> 11) * 2.0 ** -53

    def uniform_positive(self) -> float:
        """A uniform float in (0, 1]: (the high 53 bits of :meth:`next_u64` + 1) times 2^-53."""
        return ((self.next_u64() >> 11) + 1) * 2.0 ** -53

    def normal(self) -> float:
        """A standard normal draw: Box–Muller's cosine half, ``√(−2·log u1)·cos(2π·u2)`` with
        u1 = :meth:`uniform_positive` drawn first, then u2 = :meth:`uniform`."""
        u1 = self.uniform_positive()
        u2 = self.uniform()
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)

    def log_gamma(self, a: float) -> float:
        """log of a Gamma(a, 1) draw: Marsaglia & Tsang for a ≥ 1; for a < 1 the draw for
        a + 1 first, plus ``log(uniform_positive()) / a``."""
        if not a > 0:
            raise ValueError("Gamma shape must be > 0")
        if a < 1:
            boosted = self.log_gamma(a + 1)
            return boosted + math.log(self.uniform_positive()) / a
        d = a - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            while True:
                x = self.normal()
                v = 1 + c * x
                if not v <= 0:
                    break
            v = v * v * v
            u = self.uniform_positive()
            x2 = x * x
            if u < 1 - 0.0331 * x2 * x2:
                return math.log(d * v)
            if math.log(u) < 0.5 * x2 + d * (1 - v + math.log(v)):
                return math.log(d * v)

    def gamma(self, a: float) -> float:
        """A Gamma(a, 1) draw, ``exp(log_gamma(a))``."""
        return math.exp(self.log_gamma(a))

    def beta(self, a: float, b: float) -> float:
        """A Beta(a, b) draw: lx = log_gamma(a), then ly = log_gamma(b), then ``1 / (1 + exp(ly − lx))``."""
        lx = self.log_gamma(a)
        ly = self.log_gamma(b)
        return 1 / (1 + math.exp(ly - lx))


def fisher_yates(n: int, rng: CounterRNG) -> list[int]:
    """``list(range(n))`` shuffled as every shuffle of the project is: for i = n − 1 down to 1,
    swap i with ``rng.uniform_int(i + 1)``."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.uniform_int(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def chunk_order(count: int, seed: int, epoch: int) -> list[int]:
    """The order in which mixtrain visits an epoch's ``count`` chunks (numbered
    in shard-then-chunk order): a Fisher–Yates shuffle keyed by (seed, epoch)."""
    return fisher_yates(count, CounterRNG(seed, STREAM_SHUFFLE, epoch))


def uniform_doubles(seed: int, stream: int, epoch: int, position: int, count: int) -> np.ndarray:
    """The first ``count`` draws of ``CounterRNG(seed, stream, epoch, position).uniform()``
    (53 random bits of ``next()``, in [0, 1)) as float64, computed a whole array at a time."""
    if not 0 <= count <= 1 << 33:
        raise ValueError(f"uniform_doubles: count {count} is outside 0 … 2^33")
    m32 = np.uint64(_M32)
    blocks = (count + 1) // 2  # one Philox block is four words, two draws
    c0 = np.arange(blocks, dtype=np.uint64)
    c1 = np.full(blocks, position & _M32, dtype=np.uint64)
    c2 = np.full(blocks, epoch & _M32, dtype=np.uint64)
    c3 = np.full(blocks, stream & _M32, dtype=np.uint64)
    seed &= _M64
    k0, k1 = seed & _M32, seed >> 32
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = (((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0)) & m32, p1 & m32,
                          ((p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1)) & m32, p0 & m32)
        k0 = (k0 + 0x9E3779B9) & _M32
        k1 = (k1 + 0xBB67AE85) & _M32
    words = np.stack([c0, c1, c2, c3], axis=1).reshape(-1)
    draws = (words[0::2] << np.uint64(32)) | words[1::2]
    return (draws[:count] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def initial_parameters(seed: int, tensors: Iterable[tuple[Sequence[int], int]]) -> list[np.ndarray]:
    """mixtrain's initial parameters for ``seed``, bit for bit (``SeedCNN.init``): tensor i of
    ``tensors`` (``(shape, fan_in)`` pairs in the network's parameter order, which is PyTorch's
    ``model.parameters()`` order) is float32 of ``(2u − 1)/√fan_in`` for the draws u of the stream
    ``(seed, initialise, epoch 0, position i)``: U(−1/√fan_in, 1/√fan_in), PyTorch's default
    distribution for conv and linear weights and biases, from mixtrain's generator."""
    out = []
    for i, (shape, fan_in) in enumerate(tensors):
        if fan_in < 1:
            raise ValueError(f"initial_parameters: tensor {i} has fan-in {fan_in}")
        count = math.prod(shape)
        bound = 1 / math.sqrt(fan_in)
        u = uniform_doubles(seed, STREAM_INITIALISE, 0, i, count)
        out.append(((2 * u - 1) * bound).astype(np.float32).reshape(tuple(shape)))
    return out
