#!/usr/bin/env bash
# Benchmark: mixprep and the loader at scale (issue 18): 200,000 training images of
# 128x128 in 1,000 classes, 5 epochs of crop + flip + mixup p 0.2.
#
#   bash scripts/bench-scale.sh [CIFAR_DIR] [WORK_DIR] [TRAIN_IMAGES]
#     CIFAR_DIR     the official CIFAR-10 binary folder (default: ../shared/cifar10 from the repo root)
#     WORK_DIR      where the JPEGs, pipeline and shards go (default: /tmp/mixshards-bench-scale);
#                   needs about 1.5 GB for the JPEGs and 15 GB for the shards
#     TRAIN_IMAGES  default 200000 (a smaller figure makes a quick trial run)
#
# The dataset is JPEG files (scripts/bench/scale_dataset.py: CIFAR-10 upscaled with grain,
# quality 90, 1.4 GB), so the prep figure includes decoding them. Prints one markdown
# table: prep wall time, samples/s, peak RSS (/usr/bin/time), bytes on disk per epoch,
# for the source copy and the test split, label bytes per sample, and
# `mixtrain bench-loader` images/s over one epoch. A benchmark, never part of CI; run it
# on a quiet machine.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cifar=${1:-$repo/../shared/cifar10}
work=${2:-/tmp/mixshards-bench-scale}
train=${3:-200000}
epochs=5
mkdir -p "$work"
(cd "$repo" && swift build -c release --product mixprep >/dev/null && swift build -c release --product mixtrain >/dev/null)
data="$work/jpeg-$train"
python3 "$repo/scripts/bench/scale_dataset.py" "$cifar" "$data" --train "$train" --test 10000 >/dev/null
cat >"$work/scale.toml" <<TOML
name = "scale-128"
seed = 0
[dataset]
path = "$data"
size = 128
[augment]
crop_pad = 16
flip = true
[mix]
mode = "sample"
p = 0.2
alpha = 0.2
[shards]
epochs = $epochs
samples_per_shard = 10000
TOML
out="$work/shards"
rm -rf "$out"
cpu="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) threads"
/usr/bin/time -f "%e %M" -o "$work/time.txt" "$repo/.build/release/mixprep" run "$work/scale.toml" --out "$out" >"$work/prep.log" 2>&1
read -r seconds kib <"$work/time.txt"
bytes() { du -sb "$@" | awk '{s += $1} END {printf "%.0f\n", s}'; }  # %.0f: mawk's %d stops at 2^31 - 1
epoch_bytes=$(( $(bytes "$out"/train/epoch-*) / epochs ))
source_bytes=$( [ -e "$out/source/train.mxs" ] && bytes "$out/source" || echo 0)
test_bytes=$(bytes "$out/test")
loader=$("$repo/.build/release/mixtrain" bench-loader "$out" --epochs 1 2>/dev/null | tail -1 | awk '{print $1}')
# A compressed source copy (the default at 128x128) read through its unpacked copy: the first
# open makes it (its open seconds reported), the second maps it (its images/s reported).
unpacked_open=0; unpacked_loader=$loader
if "$repo/.build/release/mixtrain" bench-loader "$out" --epochs 1 2>/dev/null | grep -q "source copy: compressed"; then
  rm -rf "$work/unpacked"
  unpacked_open=$(MIXSHARDS_UNPACKED_SOURCE="$work/unpacked" "$repo/.build/release/mixtrain" bench-loader "$out" --epochs 1 2>/dev/null \
    | sed -n 's/.*opening the directory took \([0-9.]*\) s$/\1/p')
  unpacked_loader=$(MIXSHARDS_UNPACKED_SOURCE="$work/unpacked" "$repo/.build/release/mixtrain" bench-loader "$out" --epochs 1 2>/dev/null \
    | tail -1 | awk '{print $1}')
  rm -rf "$work/unpacked"
fi
# Label bytes per sample from chunk 0's raw size: raw − images·C·H·W − samples·32 (provenance).
label_bytes=$("$repo/.build/release/mixprep" inspect "$out/train/epoch-000/shard-00000.mxs" 2>/dev/null \
  | awk '$1 == "0" && NF == 9 {print int(($4 - $8 * 3 * 128 * 128 - $7 * 32) / $7)}')
# The two phases' seconds from mixprep's last progress lines: decoding, then the shards.
decode_s=$(sed -n 's/^decode: .*(100%).*, \([0-9.]*\) s$/\1/p' "$work/prep.log" | tail -1)
shards_s=$(sed -n 's/^mixprep: .*(100%).*, \([0-9.]*\) s$/\1/p' "$work/prep.log" | tail -1)
python3 - "$cpu" "$train" "$epochs" "$seconds" "$kib" "$epoch_bytes" "$source_bytes" "$test_bytes" "$loader" "${label_bytes:-?}" \
  "${decode_s:-0}" "${shards_s:-0}" "${unpacked_loader:-0}" "${unpacked_open:-0}" <<'PY'
import sys
cpu, train, epochs, seconds, kib, epoch, source, test, loader, label, decode_s, shards_s, unpacked, unpacked_open = sys.argv[1:]
train, epochs, seconds, kib = int(train), int(epochs), float(seconds), int(kib)
epoch, source, test = int(epoch), int(source), int(test)
gb = lambda b: f"{b / 1e9:.2f} GB"
print(f"cpu: {cpu}")
print(f"prep phases: decoding {float(decode_s):.1f} s ({(train + 10000) / max(float(decode_s), 1e-9):,.0f} files/s), "
      f"shards {float(shards_s):.1f} s ({(train * (epochs + 1) + 10000) / max(float(shards_s), 1e-9):,.0f} samples/s, "
      "source copy and test split included)")
print("| images | epochs | prep wall | samples/s | peak RSS | disk per epoch | source copy | test split | label bytes/sample "
      "| loader images/s (copy inflated in memory / through its unpacked copy) |")
print("|---|---|---|---|---|---|---|---|---|---|")
print(f"| {train:,} × 128×128, 1,000 classes | {epochs} | {seconds:.0f} s | {train * epochs / seconds:,.0f} "
      f"| {kib / 1024:,.0f} MiB | {gb(epoch)} ({epoch / train:,.0f} B/sample) | {gb(source)} | {gb(test)} | {label} "
      f"| {float(loader):,.0f} / {float(unpacked):,.0f} |")
if float(unpacked_open) > 0:
    print(f"making the unpacked copy: the first open took {float(unpacked_open):.1f} s")
PY
