"""The seed CNN of DESIGN.md's training contract, in PyTorch, trained from a shard
directory (local or a URL) through ``mixshards.torch``, alone or under DDP, resumable
at any batch.

    python python/examples/train_torch.py SHARD_DIR [--epochs N] [--seed S] [--workers W] [--device auto|cpu|cuda]
    torchrun --nproc_per_node 2 python/examples/train_torch.py SHARD_DIR --checkpoint run/ckpt.pt

Four 3×3 convolutions (padding 1; 3→32→64→128→256), each ReLU + 2×2 max-pool,
fc 256·(H/16)·(W/16)→256 (1024 for CIFAR's 32×32; any height and width that are multiples
of 16, square or not), ReLU, fc 256→classes; PyTorch's default initialisation
(``--init mixtrain``: the exact parameters ``mixtrain train --seed`` starts from); soft-target
cross-entropy; Adam. Batch size, learning rate, Adam settings, widths and hidden
size come from the manifest's pipeline ``[train]`` section, like mixtrain; its batch is the
global one (each of W ranks takes batch/W). The inputs are normalised with the directory's
own per-channel figures (``source.channelStats``), like mixtrain.

- **DDP** under ``torchrun`` (gloo on the CPU, NCCL on CUDA): every rank reads its own part
  of each epoch (``even="pad"``: equal batch counts), the training loss printed is the
  mean over all ranks' samples, and evaluation is split across the ranks and summed.
- **Checkpoints** (``--checkpoint PATH``): model, optimiser, the data position
  (``MixShardDataset.state_dict()``) and the epoch's running sums, written by rank 0
  (atomically) every ``--checkpoint-every`` steps and after every epoch, and resumed
  from on start when the file exists: the run continues at the next batch, with any
  number of workers. ``--stop-after N`` stops after N steps (to try it).
- **Devices** (``--device``, default cuda when available): batches leave the DataLoader
  workers as uint8 and are normalised on the device (with the directory's figures); on CUDA
  with automatic mixed precision (float16 autocast and a gradient scaler; ``--no-amp`` turns it off).
- ``--preload`` reads the test split once, and each epoch's batches before that epoch's clock
  starts, into memory (normalised, on the device): train_s and eval_s then time the network
  alone. It is the yardstick for mixtrain's whole-epoch speed (docs/results/benchmarks.md).
- ``--record FILE`` appends one line per step and rank (epoch, step, SHA-256 of the
  batch) to ``FILE.rankR``: two runs that deliver the same samples have the same lines.

Prints per epoch: training loss, test loss and accuracy, time; ``--metrics CSV`` writes
them as mixtrain's ``metrics.csv`` does (``epoch,train_loss,test_loss,test_acc,…``).
"""

import argparse
import contextlib
import hashlib
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


def soft_cross_entropy(logits, targets, reduction: str = "mean"):
    """−Σ y·log softmax(z), averaged (or summed) over the batch."""
    per_sample = -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1)
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


def all_sum(values, device, distributed: bool) -> list[float]:
    """``values`` summed over all ranks (float64)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if distributed:
        dist.all_reduce(t)
    return t.tolist()


@torch.no_grad()
def evaluate(model, loader, device, distributed: bool, amp: bool):
    """Test loss and accuracy over the whole test split, each rank evaluating its own part."""
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        with autocast(device, amp):
            z = model(x)
        loss += soft_cross_entropy(z, y, "sum").item()
        correct += (z.argmax(1) == y.argmax(1)).sum().item()
        n += len(x)
    model.train()
    loss, correct, n = all_sum([loss, correct, n], device, distributed)
    return loss / n, correct / n


def autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def save_atomically(obj, path: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description="Train the seed CNN in PyTorch from a MixShard directory.")
    p.add_argument("directory", help="shard directory, or its URL (https://…, s3://… with fsspec)")
    p.add_argument("--epochs", type=int, help="default: the pipeline's train.epochs")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (mixtrain's default is 2)")
    p.add_argument("--seed", type=int, help="initialisation and reading order (default: the pipeline's seed)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--shuffle-window", type=int, default=8,
                   help="chunks whose samples are shuffled together (0: mixtrain's order)")
    p.add_argument("--init", choices=["torch", "mixtrain"], default="torch",
                   help="torch: PyTorch's default initialisation after torch.manual_seed(seed); "
                        "mixtrain: the exact parameters mixtrain train --seed starts from")
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1, …")
    p.add_argument("--no-amp", action="store_true", help="no automatic mixed precision on CUDA")
    p.add_argument("--channels-last", action="store_true", help="channels_last batches and model")
    p.add_argument("--checkpoint", help="checkpoint file: resumed from when it exists, written by rank 0")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also write it every N steps")
    p.add_argument("--stop-after", type=int, help="stop after N steps of this run (with --checkpoint: resumable)")
    p.add_argument("--record", help="append each step's batch digest to FILE.rankR")
    p.add_argument("--metrics", help="write per-epoch metrics here (rank 0), as mixtrain's metrics.csv")
    p.add_argument("--cache", help="local cache folder for a remote directory")
    p.add_argument("--preload", action="store_true",
                   help="read the test split once, and each epoch's batches before that epoch's clock starts, into "
                        "memory: train_s and eval_s then time the network alone (no reading, decoding or normalising)")
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if distributed:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    amp = device.type == "cuda" and not args.no_amp
    torch.set_num_threads(args.threads)

    ds = mixshards.open(args.directory, cache=args.cache)
    train_cfg = ds.manifest.pipeline["train"]
    seed = ds.manifest.pipeline["seed"] if args.seed is None else args.seed
    epochs = args.epochs or train_cfg["epochs"]
    torch.manual_seed(seed)
    layout = "channels_last" if args.channels_last else "NCHW"

    # The pipeline's batch is the global one, as in mixtrain: each of W ranks takes 1/W of it (DDP averages
    # the ranks' gradients), so one step sees the same number of samples however many ranks run.
    # mixtrain's training recipe (DESIGN.md, "The training recipe") is not reproduced here: refuse rather than
    # silently train constant-rate Adam on a pipeline that asks for a schedule, weight decay or an EMA.
    recipe = sorted(k for k in ("lr_schedule", "warmup_epochs", "min_lr", "step_epochs", "step_gamma", "weight_decay", "ema")
                    if k in train_cfg)
    if recipe:
        p.error(f"the pipeline's [train] sets {', '.join(recipe)}; this example trains only the default recipe "
                "(constant-rate Adam, no EMA)")
    if args.preload and (distributed or args.checkpoint or args.stop_after is not None or args.record):
        p.error("--preload times whole epochs of one process: not with torchrun, --checkpoint, --stop-after or --record")
    if train_cfg["batch"] % world:
        p.error(f"the pipeline's batch {train_cfg['batch']} does not split over {world} ranks")
    train = MixShardDataset(args.directory, batch_size=train_cfg["batch"] // world, seed=seed,
                            shuffle_window=args.shuffle_window, layout=layout, cache=args.cache)
    test = MixShardDataset(args.directory, split="test", batch_size=256, layout=layout, cache=args.cache)
    extra = dict(pin_memory=device.type == "cuda")
    train_loader = DataLoader(train, num_workers=args.workers, device=device, **extra)
    test_loader = DataLoader(test, num_workers=args.workers, device=device, **extra)

    channels, height, width = ds.shape
    model = SeedCNN(channels, height, width, len(ds.classes), train_cfg["widths"], train_cfg["hidden"])
    if args.init == "mixtrain":
        init_like_mixtrain(model, seed)
    model = model.to(device, memory_format=torch.channels_last if args.channels_last else torch.contiguous_format)
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg["lr"], betas=(train_cfg["beta1"], train_cfg["beta2"]),
                           eps=train_cfg["eps"])
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    sums = [0.0, 0.0]  # this epoch's training loss sum and sample count, over all ranks
    if args.checkpoint and os.path.exists(args.checkpoint):
        ckpt = torch.load(args.checkpoint, map_location=device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt["scaler"])
        train.load_state_dict(ckpt["data"])  # rank 0's position: every rank is at the same step
        sums = ckpt["sums"]
        if rank == 0:
            s = ckpt["data"]
            print(f"resumed from {args.checkpoint}: epoch {s['epoch'] + 1}, after {s['batches']} batches "
                  f"({s['samples']} samples) of each rank's part", flush=True)
    net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None) \
        if distributed else model

    def checkpoint():
        if args.checkpoint and rank == 0:
            save_atomically({"model": model.state_dict(), "optimizer": opt.state_dict(),
                             "scaler": scaler.state_dict(), "data": train.state_dict(), "sums": sums},
                            args.checkpoint)

    record = open(f"{args.record}.rank{rank}", "a") if args.record else None
    if rank == 0:
        print(f"{args.directory}: {ds.epochs} materialised epoch(s), {len(ds.epoch(0, warn=False))} train / "
              f"{len(ds.test)} test, batch {train.batch_size} × {world} rank(s), lr {train_cfg['lr']}, {epochs} epochs, "
              f"{world} rank(s), {args.workers} worker(s) each, device {device}{' with AMP' if amp else ''}, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.init} initialisation, "
              f"{train.padded_samples} samples padded per epoch", flush=True)
        print(f"{width}×{height} images, inputs normalised with {describe(train.mean, train.std)}", flush=True)
        print("epoch  train_loss  test_loss  test_acc  train_s  eval_s", flush=True)
    rows = []
    steps = 0
    first = train.epoch
    if train.state_dict()["batches"] >= len(train):  # a checkpoint taken after the last epoch's last batch
        first += 1
    # --preload: the whole test split now, each epoch's batches before its clock starts (normalised, on the device).
    test_batches = list(test_loader) if args.preload else test_loader
    for epoch in range(first, epochs):
        train.set_epoch(epoch)  # keeps a resumed position
        batches = list(train_loader) if args.preload else train_loader
        start = time.perf_counter()
        for x, y in batches:
            with autocast(device, amp):
                loss = soft_cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total, n = all_sum([loss.item() * len(x), len(x)], device, distributed)
            sums = [sums[0] + total, sums[1] + n]
            steps += 1
            if record:
                digest = hashlib.sha256(x.float().cpu().numpy().tobytes() + y.cpu().numpy().tobytes()).hexdigest()
                record.write(f"{epoch} {train.state_dict()['batches']} {digest}\n")
            if args.checkpoint_every and steps % args.checkpoint_every == 0:
                checkpoint()
            if args.stop_after is not None and steps >= args.stop_after:
                checkpoint()
                if rank == 0:
                    print(f"stopped after {steps} steps, at epoch {epoch + 1} batch {train.state_dict()['batches']}",
                          flush=True)
                if record:
                    record.close()
                if distributed:
                    dist.destroy_process_group()
                return
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        test_loss, acc = evaluate(net, test_batches, device, distributed, amp)
        train_loss = sums[0] / max(sums[1], 1)
        if rank == 0:
            eval_s = time.perf_counter() - start
            print(f"{epoch + 1:5d}  {train_loss:10.4f}  {test_loss:9.4f}  {100 * acc:7.2f}%  {train_s:7.1f}  "
                  f"{eval_s:6.1f}", flush=True)
            rows.append(f"{epoch + 1},{train_loss:.6f},{test_loss:.6f},{acc:.6f},"
                        f"{sums[1] / max(train_s, 1e-9):.1f},{train_s + eval_s:.3f},{args.threads},torch,{opt.param_groups[0]['lr']:.6g}")
        sums = [0.0, 0.0]
        if epoch + 1 < epochs:
            train.set_epoch(epoch + 1)  # the checkpoint then resumes at the next epoch's first batch
        checkpoint()
    if args.metrics and rank == 0:
        with open(args.metrics, "w") as f:
            f.write("epoch,train_loss,test_loss,test_acc,images_per_s,seconds,threads,blas_kernel,lr\n")
            f.write("".join(r + "\n" for r in rows))
    if record:
        record.close()
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
