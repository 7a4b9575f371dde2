#!/usr/bin/env python3
"""Regenerate the policy-op fixtures: torchvision v2's output for every op of
AugmentOps (Sources/AugmentOps) at several magnitudes.

What it makes (Tests/AugmentOpsTests/Fixtures/policy-ops/)
  inputs.bin    the source images, raw PLANAR uint8 (C x H x W), one after another:
                  0, 1  CIFAR-10 training images 0 and 7 of data/cifar10-mini (3 x 32 x 32)
                  2     a non-square 3 x 24 x 40 cut from images 3 and 4 side by side
                  3     a grey 1 x 32 x 32 (image 1 through torchvision's rgb_to_grayscale)
                  4     a small 3 x 5 x 7 cut from image 2 (edges, sharpness' border)
  outputs.bin.gz  torchvision's output of every case, one after another, same layout, gzipped
  index.json    {"torch", "torchvision", "inputs": [{offset, shape}], "cases": [...],
                 "tables": {...}}; a case is {kind, input, offset, shape, ...}:
                  kind "policy": op (PolicyOp id), name, magnitude — the float the
                    policies pass to TrivialAugmentWide._apply_image_or_video_transform
                    (the same method RandAugment uses), called on the image as here;
                  kind "jitter": brightness / contrast / saturation / hue (or null) and
                    order, applied as v2.ColorJitter.transform applies them;
                  kind "resized_crop": top, left, height, width, size = [h, w]:
                    F.resized_crop(..., BILINEAR, antialias=True) as RandomResizedCrop;
                  kind "erase": top, left, height, width, values (C or C x h x w bytes):
                    F.erase as RandomErasing applies it.
                "tables": the magnitudes of TrivialAugmentWide's and RandAugment's
                _AUGMENTATION_SPACE (31 bins) for 32 x 32 and 24 x 40 images.

Why
  AugmentOps pins every op to torchvision v2's semantics (DESIGN.md, "Policy ops"); its
  tests compare each op's output with these files. torchvision and torch are yardsticks,
  not dependencies: nothing in the product or CI imports them. They are needed ONLY to
  rerun this script; the generated files are committed.

How to rerun (from the repository root; torch and a matching torchvision, numpy):
      python3 scripts/make_policy_fixtures.py
  It rewrites the folder above and nothing else. Made with torch 2.15.0 and torchvision
  0.29.2 (installed with `pip install --no-deps --target DIR torchvision==0.29.2` and
  PYTHONPATH=DIR; no torchvision was built for 2.15 yet, and the v2 functional ops used
  here are Python on torch's own kernels).
"""
import gzip
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "AugmentOpsTests", "Fixtures", "policy-ops")
NAMES = ["Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
         "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize"]


def cifar(k):
    with open(os.path.join(ROOT, "data", "cifar10-mini", "data_batch_1.bin"), "rb") as f:
        f.seek(k * 3073 + 1)
        return torch.from_numpy(np.frombuffer(f.read(3072), dtype=np.uint8).reshape(3, 32, 32).copy())


def inputs():
    a, b, c, d, e = cifar(0), cifar(7), cifar(2), cifar(3), cifar(4)
    wide = torch.cat([d, e], dim=2)[:, 4:28, 10:50].contiguous()
    grey = F.rgb_to_grayscale(b)
    small = c[:, 10:15, 12:19].contiguous()
    return [a, b, wide, grey, small]


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    images = inputs()
    ta, ra = v2.TrivialAugmentWide(), v2.RandAugment()
    bins = 31

    def table(space, h, w):
        out = {}
        for name, (fn, signed) in space._AUGMENTATION_SPACE.items():
            m = fn(bins, h, w)
            out[name] = None if m is None else [float(x) for x in m]
        return out

    tables = {f"{kind}_{h}x{w}": table(space, h, w)
              for kind, space in (("trivial_augment_wide", ta), ("rand_augment", ra)) for (h, w) in ((32, 32), (24, 40))}

    # Magnitudes per op: TrivialAugmentWide's bins 30 and 15 of both signs and bin 1,
    # RandAugment's default M = 9 (both signs), plus special values.
    def magnitudes(name, h, w):
        ta_m = tables[f"trivial_augment_wide_32x32"][name] if name in tables["trivial_augment_wide_32x32"] else None
        ra_m = table(ra, h, w)[name]
        if name in ("Identity", "AutoContrast", "Equalize"):
            return [0.0]
        if name == "Posterize":
            return [float(b) for b in (0, 1, 2, 4, 7, 8)]
        if name == "Solarize":
            return [ta_m[i] for i in (0, 5, 15, 25, 30)]
        out = []
        for i in (30, 15):
            out += [ta_m[i], -ta_m[i]]
        out += [ta_m[1], ra_m[9], -ra_m[9]]
        if name == "Rotate":
            out += [90.0, 180.0, -90.0, 45.0]
        if name in ("ShearX", "ShearY"):
            out += [0.0]
        if name.startswith("Translate"):
            out += [0.0, 0.7, -1.9, 100.0]
        return out

    cases, blobs, offset = [], [], 0

    def add(case, result, index):
        nonlocal offset
        result = result.contiguous()
        assert result.dtype == torch.uint8
        case.update(input=index, offset=offset, shape=list(result.shape))
        raw = result.numpy().tobytes()
        blobs.append(raw)
        offset += len(raw)
        cases.append(case)

    for index, img in enumerate(images):
        h, w = img.shape[-2:]
        for op, name in enumerate(NAMES):
            for m in magnitudes(name, h, w):
                out = ta._apply_image_or_video_transform(img, name, m, interpolation=ta.interpolation, fill=ta._fill)
                add({"kind": "policy", "op": op, "name": name, "magnitude": m}, out, index)
        for hue in (-0.5, -0.3, -0.1, 0.02, 0.25, 0.5):
            add({"kind": "policy", "op": 14, "name": "Hue", "magnitude": hue}, F.adjust_hue(img, hue), index)

        jitter = v2.ColorJitter()
        g = torch.Generator().manual_seed(index)
        for k in range(4):
            f = torch.rand(4, generator=g).tolist()
            params = dict(fn_idx=torch.randperm(4, generator=g),
                          brightness_factor=0.6 + 0.8 * f[0], contrast_factor=0.6 + 0.8 * f[1],
                          saturation_factor=0.6 + 0.8 * f[2], hue_factor=None if k == 3 else -0.1 + 0.2 * f[3])
            if k == 2:
                params["contrast_factor"] = None
            out = jitter.transform(img, params)
            add({"kind": "jitter", "brightness": params["brightness_factor"], "contrast": params["contrast_factor"],
                 "saturation": params["saturation_factor"], "hue": params["hue_factor"],
                 "order": params["fn_idx"].tolist()}, out, index)

        # Resized crops: boxes as RandomResizedCrop draws them (inside the image), resized
        # to the image's size, plus a non-square target and a shrink.
        boxes = [(0, 0, h, w, [h, w])]
        if h >= 5 and w >= 7:
            boxes += [(1, 2, max(1, h // 2), max(1, w // 3), [h, w]), (h // 4, w // 5, h - h // 4, w // 2, [h, w]),
                      (0, w - 3, 3, 3, [h, w]), (2, 1, h - 3, w - 2, [24, 40]), (0, 0, h, w, [max(1, h // 2), max(1, w * 3 // 4)])]
        for top, left, bh, bw, size in boxes:
            out = F.resized_crop(img, top, left, bh, bw, size, interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
            add({"kind": "resized_crop", "top": top, "left": left, "height": bh, "width": bw, "size": size}, out, index)

        # Erasing (random_erasing's kernel): a constant per channel and per-pixel bytes.
        g = torch.Generator().manual_seed(100 + index)
        c = img.shape[0]
        for top, left, bh, bw, per_pixel in [(0, 0, 1, 1, False), (1, 2, h // 2, w // 3, False), (h // 3, w // 4, h // 2, w // 2, True)]:
            v = torch.randint(0, 256, (c, bh, bw) if per_pixel else (c, 1, 1), generator=g, dtype=torch.uint8)
            add({"kind": "erase", "top": top, "left": left, "height": bh, "width": bw, "values": v.flatten().tolist()},
                F.erase(img, top, left, bh, bw, v), index)

    with open(os.path.join(OUT, "inputs.bin"), "wb") as f:
        offsets, o = [], 0
        for img in images:
            raw = img.contiguous().numpy().tobytes()
            offsets.append({"offset": o, "shape": list(img.shape)})
            o += len(raw)
            f.write(raw)
    with open(os.path.join(OUT, "outputs.bin.gz"), "wb") as f:
        f.write(gzip.compress(b"".join(blobs), compresslevel=9, mtime=0))
    index = {"torch": torch.__version__, "torchvision": torchvision.__version__, "inputs": offsets,
             "cases": cases, "tables": tables}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases, {offset} output bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
