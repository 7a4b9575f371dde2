"""Labels in sparse form: what each dense row is made of (MixShard v3).

A v3 shard stores, per sample, the primary's class, the partner's class and λ, and once
per shard the label smoothing ε. Every soft label mixprep writes is a function of those
(DESIGN.md, rule 12), so for many classes (ImageNet-21k) a batch can carry two classes and
two weights per sample instead of K floats::

    dense[i] = (1 − ε) · scatter_add(zeros(K), classes[i], weights[i]) + ε / K

— the soft-target cross-entropy then needs only the two classes' log-probabilities and the
mean log-probability: ``−(1 − ε)·Σ_t weights[i, t]·log p[classes[i, t]] − ε·mean(log p)``.
:meth:`SparseLabels.dense` computes the rows bit for bit as the readers yield them (each
operation rounded to float32 in rule 12's order), which the formula above only states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import layout


#: Columns of :meth:`SparseLabels.packed`.
PACKED_COLUMNS = 4


@dataclass(frozen=True)
class SparseLabels:
    """The labels of ``n`` samples in sparse form. Arrays are read-only."""

    #: ``n × 2`` int64: the primary's class, then the partner's (the primary's when unmixed).
    classes: np.ndarray
    #: ``n × 2`` float32: λ (the primary's weight), then 1 − λ (rounded to float32).
    weights: np.ndarray
    #: The label smoothing ε (a float32 value; 0 for the test split and the source copy).
    smoothing: float
    #: K, the number of classes.
    class_count: int

    @staticmethod
    def from_records(records: np.ndarray, class_count: int, smoothing: float) -> "SparseLabels":
        """From :data:`mixshards.layout.SPARSE_LABEL` records (checked by the reader)."""
        classes = np.stack([records["class_a"], records["class_b"]], axis=1).astype(np.int64)
        lam = records["weight"].astype(np.float32)
        weights = np.stack([lam, (np.float32(1) - lam).astype(np.float32)], axis=1)
        classes.flags.writeable = False
        weights.flags.writeable = False
        return SparseLabels(classes, weights, float(smoothing), int(class_count))

    @staticmethod
    def concatenate(parts: list["SparseLabels"], class_count: int, smoothing: float) -> "SparseLabels":
        """The samples of ``parts`` (of one shard: one ε and K) in order."""
        if not parts:
            return SparseLabels(np.zeros((0, 2), np.int64), np.zeros((0, 2), np.float32), float(smoothing), int(class_count))
        classes = np.concatenate([p.classes for p in parts])
        weights = np.concatenate([p.weights for p in parts])
        classes.flags.writeable = False
        weights.flags.writeable = False
        return SparseLabels(classes, weights, parts[0].smoothing, parts[0].class_count)

    def __len__(self) -> int:
        return len(self.classes)

    def __getitem__(self, s) -> "SparseLabels":
        """The samples ``s`` (a slice or an index array) as sparse labels of their own."""
        if isinstance(s, (int, np.integer)):
            s = slice(int(s), int(s) + 1) if s != -1 else slice(-1, None)
        return SparseLabels(self.classes[s], self.weights[s], self.smoothing, self.class_count)

    def packed(self) -> np.ndarray:
        """The labels as one ``n × 4`` float32 array, columns ``(class a, class b, weight a, weight b)``:
        the form the readers move sparse labels in (shuffle windows, DataLoader workers), one array
        like dense rows. Classes (at most 65,535) are exact in float32; :meth:`unpack` inverts it."""
        out = np.empty((len(self), PACKED_COLUMNS), np.float32)
        out[:, :2] = self.classes
        out[:, 2:] = self.weights
        return out

    @staticmethod
    def unpack(packed: np.ndarray, smoothing: float, class_count: int) -> "SparseLabels":
        """The sparse labels of a :meth:`packed` array (read-only arrays of their own)."""
        classes = packed[:, :2].astype(np.int64)
        weights = np.array(packed[:, 2:], np.float32, order="C")
        classes.flags.writeable = False
        weights.flags.writeable = False
        return SparseLabels(classes, weights, float(smoothing), int(class_count))

    def dense(self) -> np.ndarray:
        """The ``n × K`` float32 rows, bit for bit those the readers yield (rule 12, operation
        by operation: :func:`mixshards.layout.expand_sparse`)."""
        rows = layout.expand(self.classes[:, 0], self.classes[:, 1], self.weights[:, 0], self.class_count, self.smoothing)
        rows.flags.writeable = False
        return rows
