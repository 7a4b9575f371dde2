"""A 2-rank DDP run (gloo on loopback) stopped mid-epoch and resumed from rank 0's
checkpoint delivers, rank by rank, exactly the batches of an uninterrupted run
(skipped without torch)."""

import hashlib
import json
import os
import tempfile
import unittest

from . import support
from .servers import free_port

try:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
except ImportError:
    torch = None


def _run(rank: int, world: int, directory: str, port: int, workers: int, stop_after, resume, out: str,
         sparse: bool = False):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    from mixshards.torch import DataLoader, MixShardDataset, sparse_cross_entropy
    ds = MixShardDataset(directory, batch_size=32, seed=1, shuffle_window=2, dtype="uint8", sparse_labels=sparse)
    if resume:
        ds.load_state_dict(torch.load(resume))  # rank 0's state, on every rank
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3 * 32 * 32, 10))
    # Processes started by mp.spawn start their DataLoader workers by spawning too (a torch import each):
    # fork keeps the test fast.
    loader = DataLoader(ds, num_workers=workers, multiprocessing_context="fork" if workers else None)
    seen = []
    for epoch in range(ds.epoch, 2):
        ds.set_epoch(epoch)
        for x, y in loader:
            z = model(x.float().flatten(1) / 255)
            if sparse:
                loss = sparse_cross_entropy(z, *y, ds.smoothing)
                y = torch.cat([y[0].float(), y[1]], 1)
            else:
                loss = -(y * torch.log_softmax(z, 1)).sum(1).mean()
            loss.backward()  # gradients all-reduced: a rank short of a batch would hang here
            seen.append([epoch, hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()])
            if stop_after is not None and len(seen) == stop_after:
                if rank == 0:
                    torch.save(ds.state_dict(), os.path.join(out, "state.pt"))
                break
        else:
            continue
        break
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(seen, f)
    dist.destroy_process_group()


@unittest.skipIf(torch is None, "torch is not installed")
class DDPResumeTests(unittest.TestCase):
    def run_ranks(self, out, workers, stop_after=None, resume=None, variant="batch", sparse=False):
        directory = str(support.shard_dir(variant) / "shards")  # 300 samples: 10 batches of 32, 5 per rank
        mp.spawn(_run, args=(2, directory, free_port(), workers, stop_after, resume, out, sparse), nprocs=2, join=True)
        def load(r):
            with open(os.path.join(out, f"rank{r}.json")) as f:
                return json.load(f)
        return [load(r) for r in range(2)]

    def test_stopped_and_resumed_equals_uninterrupted(self):
        # "batch": dense rows expanded from v3 sparse records; "refz3-cutmix": references to a compressed
        # source copy, its labels in the sparse form.
        for variant, sparse in (("batch", False), ("refz3-cutmix", True)):
            with self.subTest(variant=variant):
                run = lambda out, workers, **kw: self.run_ranks(out, workers, variant=variant, sparse=sparse, **kw)  # noqa: E731
                whole = run(tempfile.mkdtemp(dir=support.scratch()), workers=0)
                self.assertEqual([len(r) for r in whole], [10, 10])
                first_dir = tempfile.mkdtemp(dir=support.scratch())
                first = run(first_dir, workers=2, stop_after=7)  # epoch 1, batch 2 of 5
                rest = run(tempfile.mkdtemp(dir=support.scratch()), workers=1, resume=os.path.join(first_dir, "state.pt"))
                for r in range(2):
                    self.assertEqual(first[r] + rest[r], whole[r], f"rank {r}")
                self.assertNotEqual(whole[0], whole[1])
