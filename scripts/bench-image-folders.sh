#!/usr/bin/env bash
# Benchmark: mixprep reading JPEG class folders (with resizing) against a Pillow loop.
#
#   bash scripts/bench-image-folders.sh [CIFAR_DIR] [WORK_DIR]
#     CIFAR_DIR  the official CIFAR-10 binary folder (default: ../shared/cifar10 from the repo root)
#     WORK_DIR   where the dataset, pipelines and outputs go (default: /tmp/mixshards-bench-images)
#   environment: PAIRS (default 3) interleaved pairs per size; THREADS (default 2) mixprep's
#     --threads and the Pillow loop's --processes; MIXPREP=path uses that binary instead of
#     building release.
#
# What it does: builds release, turns CIFAR-10 into 96x96 JPEG class folders once
# (WORK_DIR/cifar10-jpeg96: 50,000 train + 10,000 test, quality 90, see
# scripts/bench/cifar_to_jpeg.py), then for output sizes 64 and 32 runs PAIRS
# interleaved pairs of
#   mixprep run  - the whole job: list, decode, resize (shorter side) + centre crop,
#                  mix one training epoch, compress and write shards, plus the test split;
#                  timed by /usr/bin/time (wall, peak RSS), its output folder deleted first
#   Pillow loop  - decode + resize + centre crop only, the same files, THREADS processes
#                  (scripts/bench/pillow_loop.py; its timing excludes interpreter start-up
#                  and listing the files)
# So the comparison favours Pillow: mixprep does strictly more work per image.
#
# Reading the output: two lines per pair, then per size the medians of images/s
# (mixprep: 60,000 / wall seconds; "own rate line" is mixprep's when it prints one,
# which --quiet suppresses), the ratio mixprep / Pillow (> 1: mixprep is faster), the
# same for images per CPU-second (user + sys of all processes, from /usr/bin/time;
# Pillow's includes its interpreter start-up and listing; steadier than wall time on
# a shared VM) and the peak RSS over the pairs (mixprep: the process; Pillow: the
# largest process and the sum over its processes). The page cache is warm (the
# dataset is 60,000 small files just read or written). Numbers need a quiet machine:
# the script warns when it sees builds, tests, trainings or fuzzers running or busy
# CPUs, and prints each run's "steal" (CPU time the hypervisor gave to other guests;
# a pair with seconds of it was slowed by neighbours: rerun rather than trust it).
# A benchmark, never part of CI.
set -euo pipefail

usage() {
  sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//'
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [ $# -gt 2 ]; then
  usage >&2
  exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cifar=${1:-$repo/../shared/cifar10}
work=${2:-/tmp/mixshards-bench-images}
pairs=${PAIRS:-3}
threads=${THREADS:-2}
images=60000 # 50,000 train + 10,000 test: mixprep decodes both splits
sizes=(64 32)

for v in pairs threads; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "error: ${v^^} must be a positive integer, not '${!v}'" >&2
    exit 2
  fi
done
if [ ! -f "$cifar/data_batch_1.bin" ] || [ ! -f "$cifar/test_batch.bin" ]; then
  echo "error: $cifar: not a CIFAR-10 binary folder (no data_batch_1.bin, test_batch.bin)" >&2
  exit 2
fi
if ! /usr/bin/time -f "%e" true 2>/dev/null; then
  echo "error: GNU time is needed at /usr/bin/time (apt-get install time)" >&2
  exit 2
fi
if ! python3 -c "import PIL, numpy" 2>/dev/null; then
  echo "error: python3 with Pillow and numpy is needed (pip install pillow numpy)" >&2
  exit 2
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
dataset=$work/cifar10-jpeg96
case "$dataset" in
  *'"'* | *\\*) echo "error: $dataset: a path with quotes or backslashes cannot go into TOML" >&2; exit 2 ;;
esac

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
setup="${cpu:-unknown CPU}, $(nproc) threads; mixprep --threads $threads vs Pillow $threads processes; $pairs pairs"
echo "machine: $setup"

# --- build -------------------------------------------------------------------
if [ -n "${MIXPREP:-}" ]; then
  mixprep=$MIXPREP
  echo "mixprep: $mixprep (MIXPREP set, not building)"
else
  (cd "$repo" && swift build -c release)
  mixprep=$(cd "$repo" && swift build -c release --show-bin-path)/mixprep
fi
if [ ! -x "$mixprep" ]; then
  echo "error: $mixprep: not an executable" >&2
  exit 2
fi

# --- dataset (once) ----------------------------------------------------------
start=$(date +%s.%N)
python3 "$repo/scripts/bench/cifar_to_jpeg.py" "$cifar" "$dataset" \
  --side 96 --quality 90 --processes "$threads"
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "dataset: $dataset ($(du -sh "$dataset" | cut -f1) on disk, $took s)"

# --- pipelines -----------------------------------------------------------------
for size in "${sizes[@]}"; do
  cat >"$work/jpeg96-to-$size.toml" <<EOF
name = "jpeg96-to-$size"
seed = 0

[dataset]
path = "$dataset"
size = $size
resize = "shorter"
crop = "center"

[mix]
mode = "sample"
p = 0.2
alpha = 0.2

[shards]
epochs = 1
EOF
done

# --- a quiet machine? ------------------------------------------------------------
busy=()
for name in swift-build swift-test swift-frontend swiftc mixprep mixtrain mixfuzz; do
  while IFS= read -r proc; do busy+=("$proc"); done < <(pgrep -l -x "$name" || true)
done
if [ ${#busy[@]} -gt 0 ]; then
  echo "warning: other heavy processes are running; the numbers will be off:" >&2
  printf '  %s\n' "${busy[@]}" >&2
fi
# CPU busy over one second, all cores together (from /proc/stat: user..steal vs idle+iowait).
read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
sleep 1
read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ </proc/stat
idle=$(((b4 + b5) - (a4 + a5)))
total=$(((b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8) - (a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8)))
if [ "$total" -gt 0 ] && [ $((100 * (total - idle) / total)) -ge 10 ]; then
  echo "warning: the CPUs were $((100 * (total - idle) / total))% busy over the last second before timing" >&2
fi

# --- timing --------------------------------------------------------------------
median() { # of the numbers on stdin
  sort -g | awk '{ v[NR] = $1 }
    END { printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
maximum() { # of the numbers on stdin
  sort -g | tail -1
}
# CPU time the hypervisor gave to other guests (steal, all CPUs, in ticks): on a shared
# VM, a pair with much steal is slowed by neighbours, not by the program.
hz=$(getconf CLK_TCK)
steal() { awk '/^cpu / { print $9 }' /proc/stat; }
seconds() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }'; }
per_cpu_second() { # images user_seconds sys_seconds
  awk -v n="$1" -v u="$2" -v s="$3" 'BEGIN { c = u + s; printf "%.0f", (c > 0) ? n / c : 0 }'
}
ratio() { # a b: a / b with two decimals
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'
}
logs=$work/logs
mkdir -p "$logs"
summary=()
for size in "${sizes[@]}"; do
  pipe=$work/jpeg96-to-$size.toml
  out=$work/out-$size
  echo
  echo "== size $size ($pipe): $pairs interleaved pairs =="
  m_rate=() m_cpu=() m_rss=() p_rate=() p_cpu=() p_rss=() p_sum=()
  for ((i = 1; i <= pairs; i++)); do
    # mixprep: the whole run, into a fresh output folder.
    rm -rf "$out"
    steal0=$(steal)
    mlog=$logs/mixprep-$size-$i.log
    if ! /usr/bin/time -f "%e %M %U %S" -o "$logs/mixprep-$size-$i.time" \
      "$mixprep" run "$pipe" --out "$out" --quiet --threads "$threads" >"$mlog" 2>&1; then
      echo "error: mixprep run failed (size $size, pair $i); its output ($mlog) ends:" >&2
      tail -5 "$mlog" | sed 's/^/  /' >&2
      exit 1
    fi
    read -r wall kib user sys <"$logs/mixprep-$size-$i.time"
    steal1=$(steal)
    rate=$(awk -v n="$images" -v s="$wall" 'BEGIN { printf "%.0f", n / s }')
    cpu_s=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
    per_cpu=$(per_cpu_second "$images" "$user" "$sys")
    rss=$((kib / 1024))
    own=$(sed -n 's/.*rate: \([0-9]*\) images\/s.*/\1/p' "$mlog" | tail -1)
    echo "pair $i  mixprep $wall s = $rate images/s (own rate line: ${own:-none}), CPU $cpu_s s" \
      "= $per_cpu images/CPU-s, peak RSS $rss MiB, steal $(seconds $((steal1 - steal0))) s"
    m_rate+=("$rate") m_cpu+=("$per_cpu") m_rss+=("$rss")

    # Pillow: decode + resize + crop only.
    plog=$logs/pillow-$size-$i.log
    if ! /usr/bin/time -f "%U %S" -o "$logs/pillow-$size-$i.time" \
      python3 "$repo/scripts/bench/pillow_loop.py" "$dataset" --size "$size" --processes "$threads" \
      >"$plog" 2>&1; then
      echo "error: the Pillow loop failed (size $size, pair $i); its output ($plog) ends:" >&2
      tail -5 "$plog" | sed 's/^/  /' >&2
      exit 1
    fi
    steal2=$(steal)
    read -r user sys <"$logs/pillow-$size-$i.time"
    # "pillow: N images in T s = R images/s (P processes), peak RSS X MiB (largest process),
    #  Y MiB (sum over processes)": N, T, R, X, Y are words 2, 5, 8, 14 and 18.
    pn="" pt="" pr="" px="" py=""
    read -r pn pt pr px py < <(awk '/^pillow: / { print $2, $5, $8, $14, $18 }' "$plog") || true
    if [ -z "$py" ]; then
      echo "error: no result line in $plog" >&2
      exit 1
    fi
    if [ "$pn" -ne "$images" ]; then
      echo "warning: the Pillow loop read $pn images, not $images" >&2
    fi
    cpu_s=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
    per_cpu=$(per_cpu_second "$pn" "$user" "$sys")
    echo "        pillow  $pt s = $pr images/s, CPU $cpu_s s = $per_cpu images/CPU-s," \
      "peak RSS $px MiB (largest process) / $py MiB (sum), steal $(seconds $((steal2 - steal1))) s"
    p_rate+=("$pr") p_cpu+=("$per_cpu") p_rss+=("$px") p_sum+=("$py")
  done
  mr=$(printf '%s\n' "${m_rate[@]}" | median)
  pr=$(printf '%s\n' "${p_rate[@]}" | median)
  mc=$(printf '%s\n' "${m_cpu[@]}" | median)
  pc=$(printf '%s\n' "${p_cpu[@]}" | median)
  line="size $size: mixprep $mr images/s, pillow $pr images/s (medians), mixprep / pillow ="
  line+=" $(ratio "$mr" "$pr");"
  line+=" per CPU-second $mc vs $pc = $(ratio "$mc" "$pc");"
  line+=" peak RSS mixprep $(printf '%s\n' "${m_rss[@]}" | maximum) MiB,"
  line+=" pillow $(printf '%s\n' "${p_rss[@]}" | maximum) MiB (largest process)"
  line+=" / $(printf '%s\n' "${p_sum[@]}" | maximum) MiB (sum)"
  echo "$line"
  summary+=("$line")
done

echo
echo "summary ($setup):"
printf '  %s\n' "${summary[@]}"
