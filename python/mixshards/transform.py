"""The geometric transform of MixShard v2 provenance (mirrors ``Sources/MixCore/ImageTransform.swift``).

A transform ``(dx, dy, flip)`` of a ``C × H × W`` image: output pixel
``(c, y, x)`` is source pixel ``(c, y + dy, x' + dx)`` where ``x' = W − 1 − x``
when ``flip``, else ``x``; a source position outside the image gives 0. That
is a shift (zero fill) followed by a left–right mirror. "Pad by N, crop at
offset (ox, oy)" is ``dx = ox − N``, ``dy = oy − N``; the identity is
``(0, 0, False)``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np


class Transform(NamedTuple):
    """One image's transform, as recorded in provenance."""

    dx: int = 0
    dy: int = 0
    flip: bool = False

    @property
    def is_identity(self) -> bool:
        return self.dx == 0 and self.dy == 0 and not self.flip


IDENTITY = Transform()


def apply(image: np.ndarray, t: Transform) -> np.ndarray:
    """``t`` applied to one image (``… × H × W``); a new array."""
    return transform_many(image[None], [0], np.array([t.dx]), np.array([t.dy]), np.array([bool(t.flip)]))[0]


def transform_many(source: np.ndarray, indices: Sequence[int] | np.ndarray, dx, dy, flip,
                   out: np.ndarray | None = None, positions: np.ndarray | None = None) -> np.ndarray:
    """``out[positions[i]] = transform(dx[i], dy[i], flip[i]) of source[indices[i]]`` for every i.

    ``source`` is ``N × C × H × W`` (it may be a read-only memory map: only the
    pixels each output needs are read, each once). ``positions`` defaults to
    ``0, 1, …`` and ``out`` to a new array of ``len(indices)`` images.
    Vectorised with numpy slicing: one gather of the shifted window per distinct
    shift ``(dy, dx)`` (at most (2·pad+1)² of them), then one mirror of every
    flipped output. Shifts must satisfy ``|dx| < W`` and ``|dy| < H``
    (provenance checks guarantee it).
    """
    indices = np.asarray(indices, np.int64)
    r = len(indices)
    _, c, h, w = source.shape
    if out is None:
        out = np.empty((r, c, h, w), np.uint8)
    positions = np.arange(r) if positions is None else np.asarray(positions, np.int64)
    if r == 0:
        return out
    dx = np.asarray(dx, np.int64)
    dy = np.asarray(dy, np.int64)
    flip = np.asarray(flip, bool)
    if not (dx.any() or dy.any()):
        out[positions] = source[indices]
    else:
        out[positions] = 0
        key = (dy + h) * (2 * w + 1) + (dx + w)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        ends = np.r_[starts[1:], r]
        for a, b in zip(starts.tolist(), ends.tolist()):
            group = order[a:b]
            v, u = int(dy[group[0]]), int(dx[group[0]])
            y0, y1 = max(0, -v), min(h, h - v)
            x0, x1 = max(0, -u), min(w, w - u)
            if y0 < y1 and x0 < x1:
                out[positions[group], :, y0:y1, x0:x1] = source[indices[group], :, y0 + v:y1 + v, x0 + u:x1 + u]
    if flip.any():
        f = positions[flip]
        out[f] = out[f, :, :, ::-1]
    return out
