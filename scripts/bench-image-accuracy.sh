#!/usr/bin/env bash
# Accuracy check: the seed CNN trained on CIFAR-10 read as JPEG files (96x96 JPEGs,
# quality 90, prepped back to 32x32) beside the same run on the CIFAR-10 binaries.
#
#   bash scripts/bench-image-accuracy.sh [CIFAR_DIR] [WORK_DIR] [EPOCHS]
#     defaults: ../shared/cifar10, /tmp/mixshards-bench-images, 10
#
# Both runs: crop (pad 4) + flip, no mixing, EPOCHS materialised and trained epochs,
# seed 0, batch 128, Adam 1e-3; they differ only in the source. The JPEG dataset is
# the one scripts/bench-image-folders.sh makes (scripts/bench/cifar_to_jpeg.py,
# made here if missing); the JPEG and resampling round trip (32 -> 96 bicubic,
# JPEG q90, 96 -> 32 bicubic with antialiasing) costs a little accuracy. Prints both
# final test accuracies. A benchmark, never part of CI.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cifar=${1:-$repo/../shared/cifar10}
work=${2:-/tmp/mixshards-bench-images}
epochs=${3:-10}
mkdir -p "$work"
(cd "$repo" && swift build -c release --product mixprep >/dev/null && swift build -c release --product mixtrain >/dev/null)
python3 "$repo/scripts/bench/cifar_to_jpeg.py" "$cifar" "$work/cifar10-jpeg96"
for source in binary jpeg; do
  if [ "$source" = binary ]; then data="$cifar"; size=""; else data="$work/cifar10-jpeg96"; size=$'size = 32\nresize = "shorter"'; fi
  cat >"$work/accuracy-$source.toml" <<TOML
name = "accuracy-$source"
seed = 0
[dataset]
path = "$data"
$size
[augment]
crop_pad = 4
flip = true
[mix]
mode = "none"
[shards]
epochs = $epochs
[train]
epochs = $epochs
TOML
  rm -rf "$work/accuracy-$source"
  "$repo/.build/release/mixprep" run "$work/accuracy-$source.toml" --out "$work/accuracy-$source/shards" --quiet
  "$repo/.build/release/mixtrain" train "$work/accuracy-$source/shards" --out "$work/accuracy-$source/run" --quiet
done
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
for source in binary jpeg; do
  echo "$source: $(grep -m1 -i 'final test accuracy' "$work/accuracy-$source/run/report.md" || tail -1 "$work/accuracy-$source/run/metrics.csv")"
done
