#!/usr/bin/env bash
# Issue 19: a 2-rank DDP run (gloo on loopback) stopped mid-epoch and resumed from its checkpoint
# delivers, rank by rank and step by step, exactly the samples of an uninterrupted run.
#
#   bash python/examples/check_ddp_resume.sh SHARD_DIR [EPOCHS] [STOP_AFTER] [WORKERS_BEFORE] [WORKERS_AFTER]
#
# Runs python/examples/train_torch.py under torchrun three times (uninterrupted; stopped after
# STOP_AFTER steps; resumed, with another worker count), each recording a digest of every batch per
# rank, and compares the records. Exit 0 when they are equal.
set -euo pipefail
dir=${1:?usage: check_ddp_resume.sh SHARD_DIR [EPOCHS] [STOP_AFTER] [WORKERS_BEFORE] [WORKERS_AFTER]}
epochs=${2:-2}
stop=${3:-7}
before=${4:-2}
after=${5:-0}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # name, extra arguments
  local name=$1
  shift
  PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}" torchrun --standalone --nproc_per_node 2 "$here/train_torch.py" "$dir" \
    --epochs "$epochs" --threads 1 --device cpu --record "$out/$name" "$@" > "$out/$name.log" 2>&1 ||
    { cat "$out/$name.log" >&2; exit 1; }
}
run whole --workers "$before"
run part --workers "$before" --checkpoint "$out/ckpt.pt" --stop-after "$stop"
run part --workers "$after" --checkpoint "$out/ckpt.pt"
grep -h "resumed from\|stopped after" "$out/part.log" || true
status=0
for r in 0 1; do
  if cmp -s "$out/whole.rank$r" "$out/part.rank$r"; then
    echo "rank $r: $(wc -l < "$out/whole.rank$r") steps, stopped after $stop and resumed with $after workers: the same samples in the same order"
  else
    echo "rank $r: the resumed run differs from the uninterrupted one:" >&2
    diff "$out/whole.rank$r" "$out/part.rank$r" | head -5 >&2
    status=1
  fi
done
echo "last epoch, uninterrupted: $(grep -E '^ +[0-9]+ ' "$out/whole.log" | tail -1)"
echo "last epoch, resumed:       $(grep -E '^ +[0-9]+ ' "$out/part.log" | tail -1)"
exit $status
