#!/usr/bin/env bash
# Copies an experiment's report into a folder that can be committed: report.md,
# summary.json, the figures, the contact sheets and each run's report.md,
# metrics.csv, curves.svg and trial.json, so every link in report.md resolves.
# No shards, no checkpoints.
#
#   bash scripts/publish-experiment.sh experiments/article docs/results/article
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 EXPERIMENT_DIR DEST_DIR" >&2
  exit 2
fi
src=$1 dest=$2
if [ ! -f "$src/report.md" ] || [ ! -f "$src/summary.json" ]; then
  echo "error: $src: no report.md and summary.json (run mixtrain experiment first)" >&2
  exit 1
fi
mkdir -p "$dest"
cp "$src/report.md" "$src/summary.json" "$src/accuracy.svg" "$src/confusion.png" "$dest/"
if [ -d "$src/samples" ]; then
  rm -rf "$dest/samples"
  cp -r "$src/samples" "$dest/samples"
fi
for run in "$src"/runs/*/; do
  name=$(basename "$run")
  mkdir -p "$dest/runs/$name"
  for f in report.md metrics.csv curves.svg trial.json; do
    if [ -f "$run/$f" ]; then cp "$run/$f" "$dest/runs/$name/"; fi
  done
done
echo "published $src to $dest ($(du -sh "$dest" | cut -f1))"
