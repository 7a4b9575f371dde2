#!/usr/bin/env bash
# The quick start: installs missing system packages, builds release, then on the
# embedded CIFAR-10 subset runs mixprep (shards), exports PNGs, and trains with
# mixtrain for a few epochs. Outputs go to out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
bin=$(swift build -c release --show-bin-path)
out=out/quickstart
rm -rf "$out"
"$bin/mixprep" run pipelines/quickstart.toml --out "$out/shards"
"$bin/mixprep" verify "$out/shards" | sed -n 1,3p
"$bin/mixprep" export "$out/shards" --count 32 --out "$out/export"
if [ -x "$bin/mixtrain" ] && "$bin/mixtrain" --help >/dev/null 2>&1; then
  "$bin/mixtrain" train "$out/shards" --out "$out/run"
fi
echo
echo "outputs:"
echo "  shards:        $out/shards (manifest.json, train/epoch-*/shard-*.mxs, test/)"
echo "  contact sheet: $out/export/contact-sheet.png (index: $out/export/index.md)"
[ -d "$out/run" ] && echo "  training run:  $out/run (report.md, metrics.csv, curves.svg, checkpoints)"
exit 0
