"""The rules for records and label rows (DESIGN.md, "Rules for records and labels"),
as the Swift tools apply them: the label-row rule every reader checks
(:func:`check_label_rows`), and what ``verify`` checks beyond it — records against
the pipeline and the source (:func:`record_problem`), label rows against their
provenance and the source labels (:func:`readings`, :class:`LabelLedger`). Messages
are word for word those of ``mixprep verify``.

The label row of a sample is a pure function of its record's λ, its two source
images' classes and the split's label smoothing: :func:`label_weights` computes it
in float32, operation by operation, exactly as ``Mixer.labelWeights`` (the writer's
formula) does, so rows compare bit for bit.
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from . import layout, wording

_F0, _F1 = np.float32(0), np.float32(1)


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
    1 (± :func:`mixshards.layout.label_sum_tolerance`, 1e-4 up to 1,673 classes, summed in
    float32 left to right like the Swift reader). Raises ``fail(what)`` naming the first
    sample that breaks it, and its first weight out of range."""
    with np.errstate(invalid="ignore"):
        out_of_range = ~((labels >= 0) & (labels <= 1))
    total = np.zeros(len(labels), dtype=np.float32)
    for j in range(labels.shape[1]):
        total += labels[:, j]
    with np.errstate(invalid="ignore"):
        bad_sum = ~(np.abs(total - _F1) <= layout.label_sum_tolerance(labels.shape[1]))
    bad_range = out_of_range.any(axis=1)
    bad = bad_range | bad_sum
    if bad.any():
        s = int(np.argmax(bad))
        if bad_range[s]:
            c = int(np.argmax(out_of_range[s]))
            raise fail(f"sample {first + s}: label weight {float_text(labels[s, c])} of class {c} is not in [0, 1]")
        raise fail(f"sample {first + s}: label row sums to {float(total[s]):.7g}, not 1")


def label_weights(lam, same, classes: int, smoothing: float):
    """``(rest, primary, partner)`` float32 weights of label rows of weight ``lam`` on
    the primary (arrays broadcast): every class neither image has, the primary's class,
    the partner's (``same``: both are one class, whose one weight is ``primary``). As
    ``Mixer.labelWeights``: zeros, λ added at the primary's class, 1−λ at the
    partner's, then with ε = float32(smoothing) > 0 each weight w becomes
    ``(1−ε)·w + ε/K``, each operation rounded to float32."""
    lam = np.asarray(lam, np.float32)
    primary = _F0 + lam
    partner = _F0 + (_F1 - lam)
    same = np.asarray(same, bool)
    primary = np.where(same, primary + (_F1 - lam), primary).astype(np.float32)
    partner = np.where(same, primary, partner).astype(np.float32)
    rest = _F0
    if smoothing > 0:
        eps = np.float32(smoothing)
        add = eps / np.float32(classes)
        keep = _F1 - eps
        rest = keep * rest + add
        primary = keep * primary + add
        partner = keep * partner + add
    return np.float32(rest), primary.astype(np.float32), partner.astype(np.float32)


def cutmix_lambda(area, width: int, height: int):
    """CutMix's λ for a box of ``area`` pixels: ``(W·H − area) / (W·H)``, one float32
    division (Swift's ``EpochPlan.cutmixLambda``)."""
    return (np.asarray(width * height - np.asarray(area, np.int64), np.float32) / np.float32(width * height)).astype(np.float32)


def _transform_text(dx, dy, flipped) -> str:
    return f"({int(dx)}, {int(dy)}{', flipped' if flipped else ''})"


@functools.lru_cache(maxsize=None)
def _policy_magnitude_bits(trivial: bool, op: int, magnitude: int, height: int, width: int) -> frozenset:
    """The binary32 bit patterns of every magnitude ``op`` can record under TrivialAugmentWide (its 31 bins) or
    RandAugment (``magnitude``'s bin), both signs of a signed one; none for an id above 13. Rule 13 asks this
    of every op of every sample, so it is computed once per op."""
    from . import policy
    if op > 13:
        return frozenset()
    bins = ([policy.trivial_magnitude(op, i) for i in range(policy.BINS)] if trivial
            else [policy.rand_magnitude(op, magnitude, height, width)])
    bits = set()
    for b, signed in bins:
        bits.add(int(np.float32(b).view(np.uint32)))
        if signed:
            bits.add(int(np.float32(-b).view(np.uint32)))
    return frozenset(bits)


def ops_problem(record, policy_augment: dict, width: int, height: int) -> Optional[str]:
    """Rule 13 (v4) for one :data:`layout.OP_RECORD`: the ops are ones ``[augment]`` draws (Swift's
    ``RecordRules.opsProblem``, word for word)."""
    from . import policy
    primary, partner, erasing = policy.from_record(record)
    a = policy_augment
    crop_on = bool(a.get("random_resized_crop"))
    trivial = bool(a.get("trivial_augment"))
    ra = a.get("rand_augment")
    for role, ops in (("primary", primary), ("partner", partner)):
        if (ops.crop is not None) != crop_on:
            return (f"provenance: the {role} {'has no' if ops.crop is None else 'has a'} resized crop, but "
                    f"augment.random_resized_crop is {'on' if crop_on else 'off'}")
        rest = list(ops.ops)
        count = 1 if trivial else (ra["ops"] if ra else 0)
        if len(rest) < count:
            return f"provenance: the {role} records {len(rest)} ops, the pipeline's policy draws {count}"
        for op, m in rest[:count]:
            allowed = _policy_magnitude_bits(trivial, op, ra["magnitude"] if ra else 0, height, width)
            if int(np.float32(m).view(np.uint32)) not in allowed:
                return (f"provenance: the {role}'s op {layout.POLICY_OPS[op]} of magnitude {float_text(np.float32(m))} is not one "
                        + ("augment.trivial_augment" if trivial else "augment.rand_augment") + " draws")
        rest = rest[count:]
        j = a.get("color_jitter") or {"brightness": 0, "contrast": 0, "saturation": 0, "hue": 0}
        ranges = [(policy.BRIGHTNESS, j["brightness"], max(0.0, 1 - j["brightness"]) - 1, j["brightness"]),
                  (policy.CONTRAST, j["contrast"], max(0.0, 1 - j["contrast"]) - 1, j["contrast"]),
                  (policy.COLOR, j["saturation"], max(0.0, 1 - j["saturation"]) - 1, j["saturation"]),
                  (policy.HUE, j["hue"], -j["hue"], j["hue"])]
        enabled = [r for r in ranges if r[1] > 0]
        ids = [op for op, _ in rest]
        if len(rest) != len(enabled) or set(ids) != {r[0] for r in enabled}:
            return (f"provenance: the {role}'s colour-jitter ops [{', '.join(layout.POLICY_OPS[i] for i in ids)}] are not the "
                    f"enabled components of augment.color_jitter [{', '.join(layout.POLICY_OPS[r[0]] for r in enabled)}], once each")
        for op, m in rest:
            r = next(r for r in enabled if r[0] == op)
            if not (np.float32(r[2]) <= np.float32(m) <= np.float32(r[3])):
                return (f"provenance: the {role}'s colour-jitter {layout.POLICY_OPS[op]} of magnitude {float_text(np.float32(m))} "
                        f"is not in [{float_text(np.float32(r[2]))}, {float_text(np.float32(r[3]))}]")
    if erasing.fill:
        e = a.get("random_erasing")
        if not e:
            return "provenance: an erased box, but augment.random_erasing is off"
        if (erasing.fill == layout.ERASE_RANDOM) != bool(e.get("random")):
            value = '"random"' if e.get("random") else "0"
            fills = "random bytes" if erasing.fill == layout.ERASE_RANDOM else "zeros"
            return f"provenance: an erased box filled with {fills}, but augment.random_erasing.value is {value}"
        if not (erasing.box[2] < height and erasing.box[3] < width):
            return f"provenance: an erased box of {erasing.box[2]}×{erasing.box[3]} is not smaller than the image"
    return None


def record_problem(p: np.ndarray, split: str, first_position: int, version: int, train_count: int,
                   augment: tuple[int, bool], mix: dict, width: int, height: int, ops: Optional[np.ndarray] = None,
                   policy_augment: Optional[dict] = None) -> Optional[tuple[int, str]]:
    """The first record of a shard of ``split`` (``p``: :data:`layout.PROVENANCE_V2`
    records, sample ``j`` at position ``first_position + j`` of the split) that breaks the
    rules ``verify`` adds to the reader's, as ``(sample, problem)``; ``None`` when all keep
    them. Training records: primary and partner below ``train_count``, transforms that
    ``augment`` = ``(crop_pad, flip)`` draws, and (v2) kinds that ``mix`` makes and a
    cutmix λ that is its box's; test records: test image k at position k, unmixed and
    untransformed (Swift's ``RecordRules``)."""
    n = len(p)
    if n == 0:
        return None
    kind, flags, lam = p["kind"], p["flags"], p["lam"]
    primary, partner = p["primary"].astype(np.int64), p["partner"].astype(np.int64)
    pdx, pdy, qdx, qdy = (p[f].astype(np.int64) for f in ("primary_dx", "primary_dy", "partner_dx", "partner_dy"))
    pflip, qflip = (flags & layout.FLIP_PRIMARY) != 0, (flags & layout.FLIP_PARTNER) != 0
    position = first_position + np.arange(n)
    checks = []
    has_ops = np.zeros(n, bool)
    if ops is not None:
        has_ops = ((ops["primary"]["count"] != 0) | (ops["primary"]["flags"] != 0) | (ops["partner"]["count"] != 0)
                   | (ops["partner"]["flags"] != 0) | (ops["erase_fill"] != 0))
    if split == "test":
        untransformed = (pdx == 0) & (pdy == 0) & ~pflip
        checks.append(((kind != layout.KIND_COPY) | (primary != position) | ~untransformed | ((flags & layout.REFERENCE) != 0)
                       | has_ops,
                       lambda j: f"provenance: test position {position[j]} must hold test image {position[j]}, "
                                 "unmixed and untransformed"))
    else:
        source = f"(the source has {wording.grouped(train_count)})"
        checks.append((primary >= train_count, lambda j: f"provenance: primary {primary[j]} is not a training image {source}"))
        checks.append((partner >= train_count, lambda j: f"provenance: partner {partner[j]} is not a training image {source}"))
        pad, flip = augment
        drawn = (np.abs(pdx) <= pad) & (np.abs(pdy) <= pad) & (np.abs(qdx) <= pad) & (np.abs(qdy) <= pad)
        if not flip:
            drawn &= ~pflip & ~qflip
        checks.append((~drawn, lambda j: f"provenance: transforms {_transform_text(pdx[j], pdy[j], pflip[j])} and "
                                         f"{_transform_text(qdx[j], qdy[j], qflip[j])} are not drawn by the pipeline's "
                                         f"augment (crop_pad {pad}, flip {str(flip).lower()})"))
        if ops is not None:
            messages = [ops_problem(ops[j], policy_augment or {}, width, height) for j in range(n)]
            checks.append((np.array([m is not None for m in messages], bool), lambda j: messages[j]))
        if version >= 2:
            mode, mixing = mix["mode"], kind != layout.KIND_COPY
            name = lambda j: layout.KINDS[int(kind[j])]  # noqa: E731
            checks.append((mixing & (mode == "none"), lambda j: f"provenance: a {name(j)}, but mix.mode \"none\" mixes no sample"))
            checks.append((mixing & (float(mix["p"]) == 0), lambda j: f"provenance: a {name(j)}, but mix.p = 0 mixes no sample"))
            checks.append(((kind == layout.KIND_CUTMIX) & (mode != "cutmix"),
                           lambda j: f"provenance: a cutmix, but mix.mode \"{mode}\" blends"))
            checks.append(((kind == layout.KIND_BLEND) & (mode == "cutmix") & (lam != _F1),
                           lambda j: f"provenance: a blend of lambda {float_text(lam[j])}, but mix.mode \"cutmix\" blends "
                                     "only with lambda 1 (a box without pixels)"))
            x0, y0, x1, y1 = (p[f].astype(np.int64) for f in ("box_x0", "box_y0", "box_x1", "box_y1"))
            box = lambda j: f"cutmix box [{x0[j]}, {x1[j]}) × [{y0[j]}, {y1[j]})"  # noqa: E731
            cutmix = kind == layout.KIND_CUTMIX
            empty = (x0 >= x1) | (y0 >= y1)
            checks.append((cutmix & empty, lambda j: f"provenance: {box(j)} is empty"))
            want = cutmix_lambda(np.where(empty, 0, (x1 - x0) * (y1 - y0)), width, height)
            checks.append((cutmix & ~empty & (lam.view(np.uint32) != want.view(np.uint32)),
                           lambda j: f"provenance: {box(j)} leaves lambda {float_text(want[j])} of the primary, "
                                     f"the record says {float_text(lam[j])}"))
    return layout.first_problem(checks, n)


class Readings:
    """What each label row of a shard says about the classes of its sample's two source
    images (Swift's ``LabelReading``): ``a``, ``b``, the first two classes whose weight
    differs from that of a class without mass (−1: fewer); ``fits``, which pairs of
    classes (the primary's, the partner's) give the row bit for bit — with two such
    classes, bit 0 (a, b) and bit 1 (b, a); with one, bit 0 (a, a), bit 1 (a, any other
    class), bit 2 (any other class, a); 0 when none does."""

    def __init__(self, labels: np.ndarray, primary, partner, lam, smoothing: float):
        n, k = labels.shape
        self.primary = np.asarray(primary, np.int64)
        self.partner = np.asarray(partner, np.int64)
        self.lam = np.asarray(lam, np.float32)
        rest, two_p, two_q = label_weights(self.lam, False, k, smoothing)
        _, one, _ = label_weights(self.lam, True, k, smoothing)
        bits = np.ascontiguousarray(labels, np.float32).view(np.uint32)
        rest_bits = np.float32(rest).view(np.uint32)
        elevated = bits != rest_bits
        count = elevated.sum(axis=1)
        rows = np.arange(n)
        a = np.where(count >= 1, elevated.argmax(axis=1), -1)
        second = elevated.copy()
        second[rows, np.maximum(a, 0)] = False
        b = np.where(count >= 2, second.argmax(axis=1), -1)
        va, vb = bits[rows, np.maximum(a, 0)], bits[rows, np.maximum(b, 0)]
        tp, tq, o = two_p.view(np.uint32), two_q.view(np.uint32), one.view(np.uint32)
        distinct = self.primary != self.partner
        fits = np.zeros(n, np.uint8)
        pair = (count == 2) & distinct
        fits |= np.where(pair & (va == tp) & (vb == tq), 1, 0).astype(np.uint8)
        fits |= np.where(pair & (va == tq) & (vb == tp), 2, 0).astype(np.uint8)
        single = count == 1
        fits |= np.where(single & (va == o), 1, 0).astype(np.uint8)
        if k >= 2:
            fits |= np.where(single & distinct & (va == tp) & (tq == rest_bits), 2, 0).astype(np.uint8)
            fits |= np.where(single & distinct & (va == tq) & (tp == rest_bits), 4, 0).astype(np.uint8)
        self.a, self.b, self.fits = a.astype(np.int64), b.astype(np.int64), fits

    def __len__(self) -> int:
        return len(self.fits)


def readings(labels: np.ndarray, provenance: Optional[np.ndarray], smoothing: float) -> Readings:
    """The :class:`Readings` of a shard's rows: with its records, or (``provenance`` None:
    a source copy) sample k being source image k, unmixed."""
    if provenance is None:
        k = np.arange(len(labels))
        return Readings(labels, k, k, np.ones(len(labels), np.float32), smoothing)
    return Readings(labels, provenance["primary"], provenance["partner"], provenance["lam"], smoothing)


class LabelLedger:
    """The source labels as ``verify`` knows them, checked and learned shard by shard in
    manifest order (Swift's ``LabelLedger``): each label row must be the one
    :func:`label_weights` gives for its record's λ, the split's smoothing and its source
    images' classes. Classes the file lists give are known from the start; the others are
    learned from the rows — a class a row determines (every pair of classes that gives it
    and agrees with what is known names it) becomes that image's class."""

    def __init__(self, train_count: int, test_count: int, class_names, train=None, test=None):
        self.class_names = list(class_names)
        self._labels = {
            "train": np.full(train_count, -1, np.int64) if train is None else np.asarray(train, np.int64).copy(),
            "test": np.full(test_count, -1, np.int64) if test is None else np.asarray(test, np.int64).copy(),
        }
        # Where each learned class comes from: (shard + 1, sample), shard indexing self._shards; 0: the file lists or none.
        self._from = {s: np.zeros((len(y), 2), np.int64) for s, y in self._labels.items()}
        self._shards: list[tuple[str, int]] = []

    def check(self, r: Readings, split: str, smoothing: float, per_chunk: int, file: str) -> Optional[str]:
        """Checks the readings of ``file``, a shard of ``split``, in sample order, learning the
        classes they determine; stops at the first row that does not follow and returns its
        problem (``chunk c: sample s: …``), or ``None``."""
        self._shards.append((file, per_chunk))
        shard = len(self._shards)
        key = "test" if split == "test" else "train"
        y, origin = self._labels[key], self._from[key]
        p, q, a, b, fits = r.primary, r.partner, r.a, r.b, r.fits
        # Samples whose two classes are known when the shard starts: checked at once (nothing to learn).
        yp, yq = y[p], y[q]
        known = (yp >= 0) & (yq >= 0)
        two = b >= 0
        one = ~two & (a >= 0)
        ok = (two & ((((fits & 1) != 0) & (a == yp) & (b == yq)) | (((fits & 2) != 0) & (b == yp) & (a == yq))))
        ok |= one & ((((fits & 1) != 0) & (a == yp) & (a == yq)) | (((fits & 2) != 0) & (a == yp) & (yq != a))
                     | (((fits & 4) != 0) & (yp != a) & (a == yq)))
        failing = np.flatnonzero(known & ~ok)
        stop = int(failing[0]) if len(failing) else len(r)
        for s in np.flatnonzero(~known).tolist():
            if s >= stop:
                break
            if not self._step(r, s, y, origin, shard):
                stop = s
                break
        if stop == len(r):
            return None
        s = stop
        return (f"chunk {s // per_chunk}: sample {s}: "
                + self._problem(r, s, int(y[p[s]]), int(y[q[s]]), smoothing, origin[p[s]], origin[q[s]]))

    @staticmethod
    def _step(r: Readings, s: int, y: np.ndarray, origin: np.ndarray, shard: int) -> bool:
        """One sample, as Swift's loop takes it: False when no pair of classes fits."""
        p, q = int(r.primary[s]), int(r.partner[s])
        a, b, fits = int(r.a[s]), int(r.b[s]), int(r.fits[s])
        yp, yq = int(y[p]), int(y[q])
        pairs = []
        if b >= 0:
            if fits & 1 and yp in (-1, a) and yq in (-1, b):
                pairs.append((a, b))
            if fits & 2 and yp in (-1, b) and yq in (-1, a):
                pairs.append((b, a))
        elif a >= 0:
            if fits & 1 and yp in (-1, a) and yq in (-1, a):
                pairs.append((a, a))
            if fits & 2 and yp in (-1, a) and yq != a:
                pairs.append((a, None))
            if fits & 4 and yp != a and yq in (-1, a):
                pairs.append((None, a))
        if not pairs:
            return False
        for image, side in ((p, 0), (q, 1)):
            classes = {pair[side] for pair in pairs}
            if len(classes) == 1 and None not in classes and y[image] < 0:
                y[image] = classes.pop()
                origin[image] = (shard, s)
        return True

    def _problem(self, r: Readings, s: int, yp: int, yq: int, smoothing: float, from_p, from_q) -> str:
        names = self.class_names
        lam = r.lam[s]
        p, q = int(r.primary[s]), int(r.partner[s])
        head = "label row does not follow from its provenance: "
        how = f"lambda {float_text(lam)} and smoothing {float_text(np.float32(smoothing))}"

        def image(i: int, c: int) -> str:
            return f"{i}" if c < 0 else f"{i} ({names[c]})"
        one = p == q
        images = f"source image {image(p, yp)}" if one else f"source images {image(p, yp)} and {image(q, yq)}"
        learned = []
        for i, c, f in ([(p, yp, from_p)] if one else [(p, yp, from_p), (q, yq, from_q)]):
            if c >= 0 and f[0] != 0:
                file, per_chunk = self._shards[int(f[0]) - 1]
                learned.append(f"the row of {file} chunk {int(f[1]) // per_chunk} sample {int(f[1])} "
                               f"made source image {i} {names[c]}")
        origin = f" ({'; '.join(learned)})" if learned else ""
        if yp < 0 or yq < 0:
            return head + f"no class{'' if one else 'es'} of {images} give{'s' if one else ''} it with {how}" + origin
        rest, wp, wq = label_weights(lam, yp == yq, len(names), smoothing)
        row = (f"{names[yp]} {float_text(wp)}" if yp == yq
               else f"{names[yp]} {float_text(wp)}, {names[yq]} {float_text(wq)}")
        return head + f"{images} with {how} give{'s' if one else ''} {row} and {float_text(rest)} elsewhere" + origin
