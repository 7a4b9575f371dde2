#!/usr/bin/env python3
"""Export one PyTorch training step of a small seed CNN, for mixtrain's one-step test.

What it makes
  Tests/NNTests/Fixtures/torch-one-step/   (about 0.5 MB; read by Tests/NNTests/TorchOneStepTests.swift)
  Tests/NNTests/Fixtures/torch-one-step-48x32/   the same step on non-square images, 48 wide and 32 high
                      (about 0.75 MB): image i is record i beside the left half of record (i + 1) mod 40,
                      normalised with the embedded data's own channel statistics (what mixprep records for it)
                      instead of CIFAR-10's; the fc1 input is then C*2*3, flattened as x.flatten(1) does
    fixture.json        shapes (height, width), settings, the normalisation figures, the parameter order
                        (name, shape, offset, fan_in) and the file list; torch and numpy versions; the loss
    images.u8           40 CIFAR-10 images, uint8 N x C x H x W (planar, as MixShard stores them):
                        records 0-39 of data/cifar10-mini/data_batch_1.bin; samples 0-19 are mixed
                        with partner (i + 20), x = round(lam*x_i + (1 - lam)*x_j), lam ~ Beta(0.2, 0.2)
    targets.f32         soft targets [40, 10] float32 (lam one-hot(y_i) + (1 - lam) one-hot(y_j))
    params0.f32         the initial parameters (PyTorch's default initialisation, torch.manual_seed(0)),
                        one flat buffer in mixtrain's layout (see below)
    logits.f32          logits [40, 10] of the initial network
    grads.f32           gradient of the loss, before the Adam step, same layout as params0
    params1.f32         the parameters after one Adam step, same layout
  All .f32 files are raw little-endian float32; the loss (float32) is in fixture.json.

  The network is DESIGN.md's seed CNN with widths [32, 32, 32, 32] and hidden 32 for 10 classes on
  3 x 32 x 32 input: conv0 (3 input channels) takes mixtrain's im2col path, convs 1-3 (32 input
  channels) its Winograd path. The input is x/255 normalised by the CIFAR-10 mean and std, in float32,
  computed as ((x.float() / 255) - mean) / std, which is bit for bit mixtrain's PixelNormalizer table
  (float32 division, subtraction, division). The loss is -sum(y * log_softmax(z)) averaged over the
  40 samples (so mixtrain splits the batch into micro-batches of 32 and 8); the optimiser is
  torch.optim.Adam(lr 1e-3, betas (0.9, 0.999), eps 1e-8), one step.

  Parameter layout: one flat float32 buffer in model.parameters() order (convs.i.weight
  [Cout, Cin, 3, 3], convs.i.bias, ..., fc1.weight [hidden, C*2*2], fc1.bias, fc2.weight, fc2.bias),
  each tensor row-major. That is mixtrain's SeedCNN layout exactly: it flattens the last pooled map
  [N, C, 2, 2] into fc1's input as x.flatten(1) does (index c*4 + h*2 + w), so no tensor needs
  converting; the script checks the layout it writes against its own names and shapes.

Why
  DESIGN.md's training contract says mixtrain computes what PyTorch computes. This fixture pins one
  step of it -- forward, soft-target cross-entropy, backward, Adam -- against PyTorch to float
  tolerance, as llm.c's test_gpt2 pins its step against the PyTorch model. PyTorch is the yardstick,
  not a dependency: only this script imports it, and the generated files are committed.

How to rerun (from the repository root; needs python3 with torch and numpy)
      python3 scripts/torch/make_one_step_fixture.py
  It rewrites the folder above and touches nothing else. It is deterministic: fixed seeds, one
  thread, torch.use_deterministic_algorithms(True), no timestamps. The same torch build on the same
  machine gives identical files; another torch version or CPU may change the last bits of the floats
  (the Swift test's tolerances are far wider than that). It also prints, for information, the largest
  differences between this float32 step and the same step in float64, a measure of float32 rounding
  on this network.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "NNTests", "Fixtures")
SOURCE = os.path.join(ROOT, "data", "cifar10-mini", "data_batch_1.bin")

WIDTHS, HIDDEN, CLASSES, CHANNELS, SIZE = [32, 32, 32, 32], 32, 10, 3, 32
BATCH, MIXED = 40, 20
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
TORCH_SEED, MIX_SEED = 0, 1
#: (folder, height, width, mean, std): CIFAR-10's figures for the square fixture; for the non-square
#: one, data/cifar10-mini's 2,000 training images' (its manifest's source.channelStats).
FIXTURES_MADE = [
    ("torch-one-step", 32, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    ("torch-one-step-48x32", 32, 48, (0.4930, 0.4850, 0.4495), (0.2461, 0.2433, 0.2625)),
]


class SeedCNN(nn.Module):
    """torch_reference.py's SeedCNN, widths and hidden size as parameters, any height and width
    that are multiples of 2^len(widths)."""

    def __init__(self, widths, hidden, classes, channels=3, height=32, width=32):
        super().__init__()
        chans = (channels,) + tuple(widths)
        self.convs = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1) for i in range(len(widths)))
        self.fc1 = nn.Linear(widths[-1] * (height >> len(widths)) * (width >> len(widths)), hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        for c in self.convs:
            x = F.max_pool2d(F.relu(c(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def soft_ce(logits, target):
    return -(target * F.log_softmax(logits, 1)).sum(1).mean()


def make_batch(width):
    """40 uint8 images (the first 20 mixed with partners 20-39) and their soft targets. Wider than
    32: record i beside the first (width - 32) columns of record (i + 1) mod 40."""
    raw = np.fromfile(SOURCE, dtype=np.uint8, count=BATCH * 3073).reshape(BATCH, 3073)
    images = raw[:, 1:].reshape(BATCH, CHANNELS, SIZE, SIZE).copy()
    if width > SIZE:
        images = np.concatenate([images, np.roll(images, -1, axis=0)[:, :, :, :width - SIZE]], axis=3).copy()
    labels = raw[:, 0].astype(np.int64)
    rng = np.random.default_rng(MIX_SEED)
    lam = rng.beta(0.2, 0.2, size=MIXED).astype(np.float32)
    targets = np.zeros((BATCH, CLASSES), np.float32)
    targets[np.arange(BATCH), labels] = 1
    mixed = images.copy()
    for i in range(MIXED):
        j = i + MIXED
        blend = lam[i] * images[i].astype(np.float32) + (1 - lam[i]) * images[j].astype(np.float32)
        mixed[i] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
        targets[i] = 0
        targets[i, labels[i]] += lam[i]
        targets[i, labels[j]] += 1 - lam[i]
    return mixed, targets


def normalise(images_u8, dtype, mean, std):
    x = torch.from_numpy(images_u8).to(dtype) / 255
    mean = torch.tensor(mean, dtype=torch.float32).to(dtype).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).to(dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def one_step(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS, foreach=False)
    opt.zero_grad()
    logits = model(x)
    loss = soft_ce(logits, y)
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).detach().clone()
    opt.step()
    params1 = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    return logits.detach(), loss.detach(), grads, params1


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def layout(model):
    """(name, shape, offset, fan_in) per tensor, in model.parameters() order = mixtrain's buffer order."""
    out, offset = [], 0
    modules = dict(model.named_modules())
    for name, p in model.named_parameters():
        owner = modules[name.rsplit(".", 1)[0]]
        fan_in = owner.weight[0].numel()
        out.append({"name": name, "shape": list(p.shape), "offset": offset, "fan_in": fan_in})
        offset += p.numel()
    expected = [n for i in range(len(WIDTHS)) for n in (f"convs.{i}.weight", f"convs.{i}.bias")]
    expected += ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [t["name"] for t in out] == expected, "parameter order differs from mixtrain's SeedCNN"
    return out, offset


def write_f32(out, name, t):
    a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
    a.tofile(os.path.join(out, name))
    return {"file": name, "shape": list(a.shape) if a.ndim > 1 else [a.size]}


def main():
    for folder, height, width, mean, std in FIXTURES_MADE:
        make_fixture(os.path.join(FIXTURES, folder), height, width, mean, std)
    return 0


def make_fixture(OUT, height, width, MEAN, STD):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    images, targets = make_batch(width)
    assert images.shape == (BATCH, CHANNELS, height, width)
    x = normalise(images, torch.float32, MEAN, STD)
    # The float32 normalisation equals the per-channel lookup table mixtrain builds (bit for bit).
    b = torch.arange(256, dtype=torch.float32) / 255
    for c in range(3):
        table = (b - torch.tensor(MEAN[c], dtype=torch.float32)) / torch.tensor(STD[c], dtype=torch.float32)
        assert torch.equal(x[:, c], table[torch.from_numpy(images[:, c]).long()])
    y = torch.from_numpy(targets)

    torch.manual_seed(TORCH_SEED)
    model = SeedCNN(WIDTHS, HIDDEN, CLASSES, CHANNELS, height, width)
    tensors, count = layout(model)
    params0 = flat(model)
    reference = SeedCNN(WIDTHS, HIDDEN, CLASSES, CHANNELS, height, width).double()
    reference.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    logits, loss, grads, params1 = one_step(model, x, y)

    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    images.tofile(os.path.join(OUT, "images.u8"))
    files = {
        "images": {"file": "images.u8", "shape": list(images.shape), "dtype": "uint8"},
        "targets": write_f32(OUT, "targets.f32", y),
        "params0": write_f32(OUT, "params0.f32", params0),
        "logits": write_f32(OUT, "logits.f32", logits),
        "grads": write_f32(OUT, "grads.f32", grads),
        "params1": write_f32(OUT, "params1.f32", params1),
    }
    meta = {
        "about": "one PyTorch training step of the seed CNN; see scripts/torch/make_one_step_fixture.py",
        "torch": torch.__version__, "numpy": np.__version__,
        "widths": WIDTHS, "hidden": HIDDEN, "classes": CLASSES, "channels": CHANNELS, "height": height, "width": width,
        "batch": BATCH, "mixed": MIXED, "torch_seed": TORCH_SEED, "mix_seed": MIX_SEED,
        "source": "data/cifar10-mini/data_batch_1.bin records 0-39"
                  + ("" if width == SIZE else f", each beside the first {width - SIZE} columns of the next (mod 40)"),
        "mean": list(MEAN), "std": list(STD),
        "loss": "soft-target cross-entropy, mean over the batch",
        "optimizer": {"name": "Adam", "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS},
        "loss_value": float(loss),
        "parameter_count": count, "parameters": tensors, "files": files,
    }
    with open(os.path.join(OUT, "fixture.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")

    # For information: the same step in float64 (how far float32 rounding moves each quantity).
    r_logits, r_loss, r_grads, r_params1 = one_step(reference, normalise(images, torch.float64, MEAN, STD), y.double())
    def worst(a, b):
        d = (a.double() - b).abs()
        return f"max abs {d.max().item():.3g}, max rel-to-tensor-max {(d.max() / b.abs().max()).item():.3g}"
    print(f"loss {loss.item():.7f} (float64 {r_loss.item():.7f})")
    print(f"logits float32 vs float64: {worst(logits, r_logits)}")
    for t in tensors:
        s = slice(t["offset"], t["offset"] + int(np.prod(t["shape"])))
        print(f"{t['name']:15s} grad {worst(grads[s], r_grads[s])}; params1 {worst(params1[s], r_params1[s])}")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    sys.exit(main())
