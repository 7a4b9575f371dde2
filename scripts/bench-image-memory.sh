#!/usr/bin/env bash
# Benchmark: mixprep's peak memory on photo-sized JPEGs (issue 17: memory bounded by
# the work in flight, not by the dataset).
#
#   bash scripts/bench-image-memory.sh [CIFAR_DIR] [WORK_DIR]
#     CIFAR_DIR  the official CIFAR-10 binary folder (default: ../shared/cifar10 from the repo root)
#     WORK_DIR   where the photos, pipeline and output go (default: /tmp/mixshards-bench-memory)
#
# Makes 2,200 training and 220 test JPEGs of 640x480 (CIFAR-10 images upscaled,
# scripts/bench/photos_640x480.py: 2.1 GiB decoded), then preps them to 32x32 with
# `resize = "shorter"` (one mixed epoch) at 1 and 2 threads under /usr/bin/time, and
# prints the peak resident memory of each run against the 400 MiB bound. A benchmark,
# never part of CI.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cifar=${1:-$repo/../shared/cifar10}
work=${2:-/tmp/mixshards-bench-memory}
mkdir -p "$work"
(cd "$repo" && swift build -c release --product mixprep >/dev/null)
python3 "$repo/scripts/bench/photos_640x480.py" "$cifar" "$work/photos640"
cat >"$work/photos-to-32.toml" <<TOML
name = "photos-to-32"
[dataset]
path = "$work/photos640"
size = 32
resize = "shorter"
[shards]
epochs = 1
TOML
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) threads"
echo "decoded size: $(python3 -c 'print(f"{2420 * 640 * 480 * 3 / 2**30:.2f}")') GiB (2,420 images of 640x480)"
for threads in 1 2; do
  rm -rf "$work/out"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$repo/.build/release/mixprep" run "$work/photos-to-32.toml" \
    --out "$work/out" --threads "$threads" --quiet
  read -r seconds kib <"$work/time.txt"
  mib=$((kib / 1024))
  verdict=$([ "$mib" -le 400 ] && echo "within" || echo "OVER")
  echo "threads $threads: $seconds s, peak RSS $mib MiB ($verdict the 400 MiB bound)"
done
