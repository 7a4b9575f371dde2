"""The rules for label rows and records (DESIGN.md), as the Swift tools apply them, word
for word: here, the label-row rule every reader checks (:func:`check_label_rows`).
"""

from __future__ import annotations

import numpy as np

from . import layout

_F1 = np.float32(1)


def float_text(v) -> str:
    """A float32 in the fewest significant digits (at most 9, ``%g``) that read back as
    the same value: ``0.3``, ``3e+38``, ``1e-05``, ``nan`` (Swift's ``Wording.float``)."""
    v = np.float32(v)
    if np.isnan(v):
        return "nan"
    for digits in range(1, 10):
        text = f"{float(v):.{digits}g}"
        if np.float32(text) == v:
            return text
    return f"{float(v):.9g}"


def check_label_rows(labels: np.ndarray, first: int, fail) -> None:
    """The rule every reader checks of a chunk's label rows (``n × K`` float32; sample
    ``j`` is position ``first + j``): each weight a number in [0, 1], each row summing to
    1 (±1e-4, summed in float32 left to right like the Swift reader). Raises ``fail(what)``
    naming the first sample that breaks it, and its first weight out of range."""
    with np.errstate(invalid="ignore"):
        out_of_range = ~((labels >= 0) & (labels <= 1))
    total = np.zeros(len(labels), dtype=np.float32)
    for j in range(labels.shape[1]):
        total += labels[:, j]
    with np.errstate(invalid="ignore"):
        bad_sum = ~(np.abs(total - _F1) <= np.float32(layout.LABEL_SUM_TOLERANCE))
    bad_range = out_of_range.any(axis=1)
    bad = bad_range | bad_sum
    if bad.any():
        s = int(np.argmax(bad))
        if bad_range[s]:
            c = int(np.argmax(out_of_range[s]))
            raise fail(f"sample {first + s}: label weight {float_text(labels[s, c])} of class {c} is not in [0, 1]")
        raise fail(f"sample {first + s}: label row sums to {float(total[s]):.7g}, not 1")
