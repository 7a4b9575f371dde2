#!/usr/bin/env bash
# Issue 19: python/examples/train_torch.py as a 2-rank DDP run (gloo, CPU) against mixtrain train on the
# same shards, final test accuracy averaged over seeds; the target is a gap within 1.5 points.
#
#   bash python/examples/compare_with_mixtrain.sh SHARD_DIR [EPOCHS=3] [SEEDS="0 1"] [OUT]
#
# SHARD_DIR: e.g. `mixprep run pipelines/cifar10-mixup.toml --epochs 3 --out SHARD_DIR`. Each mixtrain run
# uses 2 threads; each torch run 2 ranks of 1 thread and a global batch of the pipeline's (64 per rank).
# MIXTRAIN (default: the build's) and TORCHRUN (default: torchrun) name the programs.
set -euo pipefail
dir=${1:?usage: compare_with_mixtrain.sh SHARD_DIR [EPOCHS] [SEEDS] [OUT]}
epochs=${2:-3}
seeds=${3:-0 1}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${4:-$(mktemp -d)}
mkdir -p "$out"
mixtrain=${MIXTRAIN:-$repo/.build/release/mixtrain}
torchrun=${TORCHRUN:-torchrun}
last_acc() { tail -1 "$1" | cut -d, -f4; }
for seed in $seeds; do
  "$mixtrain" train "$dir" --epochs "$epochs" --seed "$seed" --threads 2 --out "$out/mixtrain-$seed" --quiet
  PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}" "$torchrun" --standalone --nproc_per_node 2 \
    "$here/train_torch.py" "$dir" --epochs "$epochs" --seed "$seed" --threads 1 --device cpu \
    --metrics "$out/torch-$seed.csv" > "$out/torch-$seed.log" 2>&1 || { cat "$out/torch-$seed.log" >&2; exit 1; }
  echo "seed $seed: mixtrain $(last_acc "$out/mixtrain-$seed/metrics.csv"), torch DDP 2 ranks $(last_acc "$out/torch-$seed.csv")"
done
python3 - "$out" "$seeds" <<'PY'
import sys
out, seeds = sys.argv[1], sys.argv[2].split()
def acc(path):
    return float(open(path).read().strip().splitlines()[-1].split(",")[3]) * 100
m = sum(acc(f"{out}/mixtrain-{s}/metrics.csv") for s in seeds) / len(seeds)
t = sum(acc(f"{out}/torch-{s}.csv") for s in seeds) / len(seeds)
print(f"mean test accuracy over {len(seeds)} seed(s): mixtrain {m:.2f}%, torch DDP {t:.2f}%, "
      f"difference {t - m:+.2f} points ({'within' if abs(t - m) <= 1.5 else 'NOT within'} 1.5)")
sys.exit(0 if abs(t - m) <= 1.5 else 1)
PY
