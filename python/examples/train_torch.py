"""The seed CNN of DESIGN.md's training contract, in PyTorch, trained from a
shard directory through ``mixshards.torch``: the same bytes, chunk order and
settings as ``mixtrain train``, to compare the two trainers.

    python python/examples/train_torch.py SHARD_DIR [--epochs N] [--threads T] [--seed S] [--workers W] [--init torch|mixtrain]

Four 3×3 convolutions (padding 1; 3→32→64→128→256), each ReLU + 2×2 max-pool,
fc 256·(H/16)·(W/16)→256 (1024 for CIFAR's 32×32; any height and width that are multiples
of 16, square or not), ReLU, fc 256→classes; PyTorch's default initialisation (with
``--init mixtrain``, the exact parameters ``mixtrain train`` starts from for the
seed); soft-target cross-entropy; Adam. Batch size, learning rate, Adam settings, widths and
hidden size come from the manifest's pipeline ``[train]`` section, and the
inputs are normalised with the directory's own per-channel figures
(``source.channelStats``), like mixtrain. Prints per epoch: training loss, test loss and accuracy, and time.
Under ``torchrun`` it trains with DistributedDataParallel (gloo), each rank
reading its own part of every epoch.
"""

import argparse
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

import mixshards
from mixshards.normalize import describe
from mixshards.torch import DataLoader, MixShardDataset, init_like_mixtrain


class SeedCNN(nn.Module):
    def __init__(self, channels: int, height: int, width: int, classes: int, widths=(32, 64, 128, 256), hidden: int = 256):
        super().__init__()
        scale = 2 ** len(widths)  # each block halves both sides
        if height % scale or width % scale:
            raise ValueError(f"images are {width}×{height}; the CNN needs a height and a width that are multiples of {scale}")
        layers, c = [], channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * (height // scale) * (width // scale), hidden), nn.ReLU(),
                                  nn.Linear(hidden, classes))

    def forward(self, x):
        return self.head(self.features(x))


def soft_cross_entropy(logits, targets):
    """−Σ y·log softmax(z), averaged over the batch."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        z = model(x)
        loss += soft_cross_entropy(z, y).item() * len(x)
        correct += (z.argmax(1) == y.argmax(1)).sum().item()
        n += len(x)
    model.train()
    return loss / n, correct / n


def main():
    p = argparse.ArgumentParser(description="Train the seed CNN in PyTorch from a MixShard directory.")
    p.add_argument("directory")
    p.add_argument("--epochs", type=int, help="default: the pipeline's train.epochs")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (mixtrain's default is 2)")
    p.add_argument("--seed", type=int, help="initialisation and chunk order (default: the pipeline's seed)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--init", choices=["torch", "mixtrain"], default="torch",
                   help="torch: PyTorch's default initialisation after torch.manual_seed(seed); "
                        "mixtrain: the exact parameters mixtrain train --seed starts from")
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    torch.set_num_threads(args.threads)
    ds = mixshards.open(args.directory)
    train_cfg = ds.manifest.pipeline["train"]
    seed = ds.manifest.pipeline["seed"] if args.seed is None else args.seed
    epochs = args.epochs or train_cfg["epochs"]
    torch.manual_seed(seed)

    train = MixShardDataset(args.directory, batch_size=train_cfg["batch"], seed=seed)
    test = MixShardDataset(args.directory, split="test", batch_size=256, rank=0, world_size=1)
    train_loader = DataLoader(train, num_workers=args.workers)
    test_loader = DataLoader(test, num_workers=args.workers)
    channels, height, width = ds.shape
    model = SeedCNN(channels, height, width, len(ds.classes), train_cfg["widths"], train_cfg["hidden"])
    if args.init == "mixtrain":
        init_like_mixtrain(model, seed)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg["lr"], betas=(train_cfg["beta1"], train_cfg["beta2"]),
                           eps=train_cfg["eps"])
    if rank == 0:
        print(f"{args.directory}: {ds.epochs} materialised epoch(s), {len(ds.epoch(0))} train / {len(ds.test)} test, "
              f"batch {train_cfg['batch']}, lr {train_cfg['lr']}, {epochs} epochs, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads, {args.init} initialisation")
        print(f"{width}×{height} images, inputs normalised with {describe(train.mean, train.std)}")
        print("epoch  train_loss  test_loss  test_acc  train_s  eval_s")
    for epoch in range(epochs):
        train.set_epoch(epoch)
        start, total, n = time.perf_counter(), 0.0, 0
        for x, y in train_loader:
            loss = soft_cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
            n += len(x)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        test_loss, acc = evaluate(model, test_loader)
        if rank == 0:
            print(f"{epoch + 1:5d}  {total / n:10.4f}  {test_loss:9.4f}  {100 * acc:7.2f}%  {train_s:7.1f}  "
                  f"{time.perf_counter() - start:6.1f}", flush=True)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
